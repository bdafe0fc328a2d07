//! The transitions: start, view, answer, back, escalate now. Automatic nodes
//! (branch, use, return, resolve, escalate) run until the next shown node or
//! an end; every unresolved ending escalates (contract section 3).
//!
//! The public moves live here; the machine that makes them in `machine`,
//! what a step shows in `view`, texts rendered for a session in `render`,
//! and the checking of input values in `input`.

mod input;
mod machine;
mod render;
mod view;

pub use input::MAX_VALUE_CHARS;
pub use view::view;

use super::labels::{ANSWER_ESCALATE, ANSWER_NONE};
use super::{Advance, Frame, Pin, Reply, Session, StartOptions, Status, Vars};
use crate::program::{Literal, Node, Program, Script, ScriptIdx, Text};
use machine::Machine;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// A move the engine refused; the session is unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepError {
    #[error("no script `{0}` is loaded")]
    UnknownScript(String),
    #[error("script `{script}` has no `{language}` texts; it speaks {available}")]
    UnknownLanguage {
        script: String,
        language: String,
        available: String,
    },
    #[error("the session has already ended ({0})")]
    Ended(&'static str),
    #[error("`{given}` is not an answer to this step; the answers are: {answers}")]
    UnknownAnswer { given: String, answers: String },
    #[error("this step asks for a value, not one of a list of answers")]
    ExpectedValue,
    #[error("this step is a question: pick one of its answers")]
    ExpectedAnswer,
    #[error("{0}")]
    InvalidValue(String),
    #[error("there is no earlier answer to go back to")]
    NothingToGoBack,
    #[error(
        "the session runs version {pinned} of script `{script}`, but the program holds {found}; load the pinned version"
    )]
    VersionMismatch {
        script: String,
        pinned: String,
        found: String,
    },
}

/// Starts a session and runs it to its first shown step (or its end).
pub fn start(
    program: &Program,
    opts: StartOptions,
    now: OffsetDateTime,
) -> Result<(Session, Advance), StepError> {
    let Some((root_ix, root)) = program.get(&opts.script) else {
        return Err(StepError::UnknownScript(opts.script));
    };
    let language = match opts.language {
        Some(l) if root.language_index(&l).is_some() => l,
        Some(l) => {
            return Err(StepError::UnknownLanguage {
                script: root.id.clone(),
                language: l,
                available: root.languages.join(", "),
            });
        }
        None => root.languages[0].clone(),
    };
    // Pin the root and every sub-flow it can reach, in a stable order.
    let pin = |s: &Script| {
        let (id, version) = s.pin_texts();
        Pin {
            id: id.clone(),
            version: version.clone(),
        }
    };
    let mut pins = vec![pin(root)];
    let mut todo = vec![root_ix];
    let mut seen = vec![root_ix];
    while let Some(ix) = todo.pop() {
        for &script in &program.script(ix).uses {
            if (script.0 as usize) < program.scripts.len() && !seen.contains(&script) {
                seen.push(script);
                todo.push(script);
                pins.push(pin(program.script(script)));
            }
        }
    }
    let mut vars: BTreeMap<String, Json> = root
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), literal_json(v)))
        .collect();
    vars.extend(opts.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    let vars = Vars::from(vars);
    let mut s = Session {
        script: root.id.clone(),
        pins,
        channel: opts.channel,
        language,
        tier: opts.tier.unwrap_or(root.tier).clamp(1, 4),
        params: Vars::from(opts.params),
        initial_vars: Vars::from(opts.vars),
        vars,
        frames: vec![Frame {
            pin: 0,
            node: root.start.index() as u32,
        }],
        visits: Vec::new(),
        seq: 1,
        status: Status::Active,
        ending: None,
        trail: Vec::new(),
        started_at: now,
        erased_at: None,
    };
    let mut adv = Advance::default();
    let mut pins = Pinned::default();
    for &ix in &seen {
        pins.push(ix, program.script(ix));
    }
    let mut m = Machine {
        program,
        pins,
        s: &mut s,
        now,
    };
    m.enter(&mut adv);
    Ok((s, adv))
}

/// Applies the person's reply to the current step.
pub fn answer(
    program: &Program,
    s: &mut Session,
    reply: Reply,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Advance, StepError> {
    Machine::for_step(program, s, now)?.reply(reply, actor)
}

/// Escalates now, at the person's request, with an optional note.
pub fn escalate_now(
    program: &Program,
    s: &mut Session,
    note: Option<String>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Advance, StepError> {
    Machine::for_step(program, s, now)?.escalate_by_person(note, actor)
}

/// "None of these" at the current question, with an optional note (the
/// wizard asks for one on its check-your-answers page first).
pub fn none_fits(
    program: &Program,
    s: &mut Session,
    note: Option<String>,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Advance, StepError> {
    Machine::for_step(program, s, now)?.none_fits(note, actor)
}

/// Goes back one answer: the last answer given is marked retracted (it stays
/// in the trail) and the session is rebuilt from the answers that remain.
pub fn back(
    program: &Program,
    s: &mut Session,
    actor: &str,
    now: OffsetDateTime,
) -> Result<(), StepError> {
    ensure_active(s)?;
    check_pins(program, s)?;
    let Some(i) = s
        .trail
        .iter()
        .rposition(|e| !e.retracted() && e.actor() != "system")
    else {
        return Err(StepError::NothingToGoBack);
    };
    let mut replayed = replay_without(program, s, Some(i))?;
    replayed.trail = std::mem::take(&mut s.trail);
    replayed.trail[i].retract(actor.into(), now);
    replayed.seq = s.seq + 1;
    *s = replayed;
    Ok(())
}

/// Rebuilds a session from its start options and the answers in its trail,
/// as a store does to check a session against its pinned program.
pub fn replay(program: &Program, s: &Session) -> Result<Session, StepError> {
    let mut r = replay_without(program, s, None)?;
    r.trail = s.trail.clone();
    r.seq = s.seq;
    Ok(r)
}

fn replay_without(
    program: &Program,
    s: &Session,
    skip: Option<usize>,
) -> Result<Session, StepError> {
    let opts = StartOptions {
        script: s.script.clone(),
        channel: s.channel,
        language: Some(s.language.clone()),
        params: s.params.to_map(),
        vars: s.initial_vars.to_map(),
        tier: Some(s.tier),
    };
    // The replay writes its own trail as it goes, as the live run did
    // (the engine's reasons quote it), and hands back the stored one.
    let (mut r, _) = start(program, opts, s.started_at)?;
    let pins = check_pins(program, &r)?;
    for (i, e) in s.trail.iter().enumerate() {
        if e.retracted() || e.actor() == "system" || Some(i) == skip {
            continue;
        }
        let reply = match (e.answer(), e.value()) {
            (Some(a), _) => Reply::Answer(a.id.as_str().to_owned()),
            (None, Some(v)) => Reply::Value(v.to_owned()),
            (None, None) => continue,
        };
        let mut m = Machine {
            program,
            pins: pins.clone(),
            s: &mut r,
            now: e.at(),
        };
        let note = e.note().map(|n| n.as_str().to_owned());
        if is_escalate(&reply) {
            m.escalate_by_person(note, e.actor())?;
        } else if matches!(&reply, Reply::Answer(a) if a == ANSWER_NONE) && note.is_some() {
            m.none_fits(note, e.actor())?;
        } else {
            m.reply(reply, e.actor())?;
        }
    }
    r.trail.clear();
    Ok(r)
}

fn ensure_active(s: &Session) -> Result<(), StepError> {
    match s.status {
        Status::Active => Ok(()),
        Status::Resolved => Err(StepError::Ended("resolved")),
        Status::Escalated => Err(StepError::Ended("escalated")),
    }
}

/// The session's pinned scripts, by pin index, checked against `program`:
/// one lookup per pin per call, and plain indexing from then on.
fn check_pins<'p>(program: &'p Program, s: &Session) -> Result<Pinned<'p>, StepError> {
    let mut out = Pinned::default();
    for p in &s.pins {
        match program.get(&p.id) {
            Some((ix, sc)) if sc.version == p.version => out.push(ix, sc),
            Some((_, sc)) => {
                return Err(StepError::VersionMismatch {
                    script: p.id.to_string(),
                    pinned: p.version.to_string(),
                    found: sc.version.clone(),
                });
            }
            None => return Err(StepError::UnknownScript(p.id.to_string())),
        }
    }
    Ok(out)
}

/// The scripts a session pinned, by pin index. Most sessions pin one to
/// three, so the first few live inline: looking them up allocates nothing.
#[derive(Clone, Default)]
struct Pinned<'p> {
    few: [Option<(ScriptIdx, &'p Script)>; 4],
    more: Vec<(ScriptIdx, &'p Script)>,
}

impl<'p> Pinned<'p> {
    fn push(&mut self, ix: ScriptIdx, script: &'p Script) {
        match self.few.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some((ix, script)),
            None => self.more.push((ix, script)),
        }
    }

    /// The script of pin `pin` and its index in the program; every frame's
    /// pin is one the session made.
    fn entry(&self, pin: u16) -> (ScriptIdx, &'p Script) {
        let i = pin as usize;
        match self.few.get(i) {
            Some(s) => s.expect("a frame's pin is one of the session's pins"),
            None => self.more[i - self.few.len()],
        }
    }

    /// The script of pin `pin`.
    fn get(&self, pin: u16) -> &'p Script {
        self.entry(pin).1
    }
}

/// `NODE` at the top level, `SCRIPT/NODE` inside a sub-flow (`depth`: the
/// number of frames); both shared with the program, not formatted per step.
fn node_name(script: &Script, node: &Node, depth: usize) -> Text {
    if depth <= 1 {
        node.name().clone()
    } else {
        node.qualified_name(&script.id).clone()
    }
}

fn is_escalate(reply: &Reply) -> bool {
    matches!(reply, Reply::Answer(a) if a == ANSWER_ESCALATE)
}

pub(crate) fn literal_json(l: &Literal) -> Json {
    match l {
        Literal::Null => Json::Null,
        Literal::Bool(b) => Json::Bool(*b),
        Literal::Int(i) => Json::from(*i),
        Literal::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Literal::Str(s) => Json::String(s.clone()),
    }
}

/// The name of the node an active session waits at (`SCRIPT/NODE` inside a
/// sub-flow), as its trail would name it; `None` once it ended, or when
/// `program` does not hold the versions it pinned. The figures use it for
/// the node a session was abandoned at: that node has no trail entry.
pub fn current_node(program: &Program, s: &Session) -> Option<Text> {
    let f = s.frames.last()?;
    let pin = s.pins.get(usize::from(f.pin))?;
    let (_, script) = program
        .get(&pin.id)
        .filter(|(_, sc)| sc.version == pin.version)?;
    let node = script
        .graph
        .node_weight(petgraph::stable_graph::NodeIndex::new(f.node as usize))?;
    Some(node_name(script, node, s.frames.len()))
}
