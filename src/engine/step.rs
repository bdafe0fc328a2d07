//! The transitions: start, view, answer, back, escalate now. Automatic nodes
//! (branch, use, return, resolve, escalate) run until the next shown node or
//! an end; every unresolved ending escalates (contract section 3).

use super::labels;
use super::{
    Advance, AnswerRef, Channel, Ending, Frame, InputSpec, Pin, Reply, Session, StartOptions,
    Status, Step, TrailEntry,
};
use crate::program::{
    Literal, NodeKind, Outcome, Program, Script, ScriptIdx, SetValue, TextId, TextPiece,
};
use crate::script::ast::InputType;
use petgraph::stable_graph::NodeIndex;
use serde_json::Value as Json;
use std::cell::OnceCell;
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
    let mut pins = vec![Pin {
        id: root.id.clone(),
        version: root.version.clone(),
    }];
    let mut todo = vec![root_ix];
    let mut seen = vec![root_ix];
    while let Some(ix) = todo.pop() {
        for &script in &program.script(ix).uses {
            if (script.0 as usize) < program.scripts.len() && !seen.contains(&script) {
                seen.push(script);
                todo.push(script);
                let s = program.script(script);
                pins.push(Pin {
                    id: s.id.clone(),
                    version: s.version.clone(),
                });
            }
        }
    }
    let mut vars: BTreeMap<String, Json> = root
        .vars
        .iter()
        .map(|(k, v)| (k.clone(), literal_json(v)))
        .collect();
    vars.extend(opts.vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut s = Session {
        script: root.id.clone(),
        pins,
        channel: opts.channel,
        language,
        tier: opts.tier.unwrap_or(root.tier).clamp(1, 4),
        params: opts.params,
        initial_vars: opts.vars,
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
    };
    let mut adv = Advance::default();
    let pins = seen.iter().map(|&ix| program.script(ix)).collect();
    let mut m = Machine {
        program,
        pins,
        s: &mut s,
        now,
        record: true,
    };
    m.enter(&mut adv);
    Ok((s, adv))
}

/// The current step, rendered in the session's language; `None` once ended.
pub fn view(program: &Program, s: &Session) -> Result<Option<Step>, StepError> {
    if s.status != Status::Active {
        return Ok(None);
    }
    let pins = check_pins(program, s)?;
    let Some(&frame) = s.frames.last() else {
        return Ok(None);
    };
    let script = pins[frame.pin as usize];
    let node = script.node(NodeIndex::new(frame.node as usize));
    let r = Renderer::new(program, s, script);
    let lang = s.language.as_str();
    let mut answers = Vec::new();
    let (text, say, input) = match &node.kind {
        NodeKind::Ask {
            text,
            say,
            answers: list,
        } => {
            for a in list {
                answers.push(AnswerRef {
                    id: a.id.clone(),
                    label: r.text(a.label).unwrap_or_default(),
                });
            }
            if script.offer_none {
                answers.push(AnswerRef {
                    id: "_none".into(),
                    label: labels::none_of_these(lang).into(),
                });
            }
            (
                r.text(*text),
                say.map(|t| r.text(t).unwrap_or_default()),
                None,
            )
        }
        NodeKind::Say { text, .. } => {
            answers.push(AnswerRef {
                id: "done".into(),
                label: labels::done(lang).into(),
            });
            (r.text(*text), None, None)
        }
        NodeKind::Input {
            text,
            kind,
            pattern,
            required,
            ..
        } => (
            r.text(*text),
            None,
            Some(InputSpec {
                kind: kind.as_str().into(),
                pattern: pattern.as_ref().map(|p| p.as_str().to_owned()),
                required: *required,
            }),
        ),
        _ => return Ok(None),
    };
    let escalate_label = if s.channel == Channel::Customer {
        labels::talk_to_person(lang)
    } else {
        labels::escalate_now(lang)
    };
    answers.push(AnswerRef {
        id: "_escalate".into(),
        label: escalate_label.into(),
    });
    let help = if s.channel.is_staff() {
        node.help.map(|h| r.text(h).unwrap_or_default())
    } else {
        None
    };
    Ok(Some(Step {
        seq: s.seq,
        node: node_name(&pins, s, frame),
        kind: node.kind.name().into(),
        // A text that fails to render is shown as its source rather than
        // hiding the step; answering escalates with the failure (see below).
        text: text.unwrap_or_else(|_| String::new()),
        say,
        help,
        answers,
        input,
        can_go_back: s.trail.iter().any(|e| !e.retracted && e.actor != "system"),
    }))
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
        .rposition(|e| !e.retracted && e.actor != "system")
    else {
        return Err(StepError::NothingToGoBack);
    };
    let mut replayed = replay_without(program, s, Some(i))?;
    replayed.trail = std::mem::take(&mut s.trail);
    replayed.trail[i].retracted = true;
    replayed.seq = s.seq + 1;
    let _ = (actor, now);
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
        params: s.params.clone(),
        vars: s.initial_vars.clone(),
        tier: Some(s.tier),
    };
    let (mut r, _) = start(program, opts, s.started_at)?;
    r.trail.clear();
    let pins = check_pins(program, &r)?;
    for (i, e) in s.trail.iter().enumerate() {
        if e.retracted || e.actor == "system" || Some(i) == skip {
            continue;
        }
        let reply = match (&e.answer, &e.value) {
            (Some(a), _) => Reply::Answer(a.id.clone()),
            (None, Some(v)) => Reply::Value(v.clone()),
            (None, None) => continue,
        };
        let mut m = Machine {
            program,
            pins: pins.clone(),
            s: &mut r,
            now: e.at,
            record: false,
        };
        if reply == Reply::Answer("_escalate".into()) {
            m.escalate_by_person(e.note.clone(), &e.actor)?;
        } else {
            m.reply(reply, &e.actor)?;
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
fn check_pins<'p>(program: &'p Program, s: &Session) -> Result<Vec<&'p Script>, StepError> {
    let mut out = Vec::with_capacity(s.pins.len());
    for p in &s.pins {
        match program.get(&p.id) {
            Some((_, sc)) if sc.version == p.version => out.push(sc),
            Some((_, sc)) => {
                return Err(StepError::VersionMismatch {
                    script: p.id.clone(),
                    pinned: p.version.clone(),
                    found: sc.version.clone(),
                });
            }
            None => return Err(StepError::UnknownScript(p.id.clone())),
        }
    }
    Ok(out)
}

/// `NODE` at the top level, `SCRIPT/NODE` inside a sub-flow.
fn node_name(pins: &[&Script], s: &Session, f: Frame) -> String {
    let script = pins[f.pin as usize];
    let id = &script.node(NodeIndex::new(f.node as usize)).id;
    if s.frames.len() <= 1 {
        id.clone()
    } else {
        format!("{}/{}", script.id, id)
    }
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

/// Renders texts for one step; the template context is built only when a
/// text actually needs it (most texts are literals).
struct Renderer<'a> {
    program: &'a Program,
    s: &'a Session,
    lang: usize,
    ctx: OnceCell<minijinja::Value>,
}

#[derive(serde::Serialize)]
struct Ctx<'a> {
    #[serde(flatten)]
    vars: &'a BTreeMap<String, Json>,
    channel: &'a str,
    language: &'a str,
    tier: u8,
    params: &'a BTreeMap<String, Json>,
}

impl<'a> Renderer<'a> {
    fn new(program: &'a Program, s: &'a Session, script: &Script) -> Self {
        let lang = script.language_index(&s.language).unwrap_or(0);
        Renderer {
            program,
            s,
            lang,
            ctx: OnceCell::new(),
        }
    }

    fn text(&self, id: TextId) -> Result<String, minijinja::Error> {
        let pieces = self.program.templates.pieces(id);
        if let Some(TextPiece::Literal(l)) = pieces.get(self.lang).or_else(|| pieces.first()) {
            return Ok(l.to_string());
        }
        let ctx = self.ctx();
        self.program
            .templates
            .render(id, self.lang, ctx)
            .map(|c| c.into_owned())
    }

    /// The template context: the variables and the built-ins, built once per step.
    fn ctx(&self) -> &minijinja::Value {
        self.ctx.get_or_init(|| {
            minijinja::Value::from_serialize(Ctx {
                vars: &self.s.vars,
                channel: self.s.channel.as_str(),
                language: &self.s.language,
                tier: self.s.tier,
                params: &self.s.params,
            })
        })
    }

    /// Does the text render? Literals need no work at all.
    fn check(&self, id: TextId) -> Result<(), minijinja::Error> {
        let pieces = self.program.templates.pieces(id);
        match pieces.get(self.lang).or_else(|| pieces.first()) {
            Some(TextPiece::Template(_)) => self.text(id).map(drop),
            _ => Ok(()),
        }
    }

    fn eval(&self, e: crate::program::ExprId) -> Result<bool, minijinja::Error> {
        let ctx = self.ctx();
        self.program.templates.eval(e, ctx)
    }
}

struct Machine<'a> {
    program: &'a Program,
    /// The session's pinned scripts, by pin index.
    pins: Vec<&'a Script>,
    s: &'a mut Session,
    now: OffsetDateTime,
    /// Write trail entries (false while replaying).
    record: bool,
}

impl<'a> Machine<'a> {
    /// A machine for one move of an active session, its pins checked.
    fn for_step(
        program: &'a Program,
        s: &'a mut Session,
        now: OffsetDateTime,
    ) -> Result<Self, StepError> {
        ensure_active(s)?;
        let pins = check_pins(program, s)?;
        Ok(Machine {
            program,
            pins,
            s,
            now,
            record: true,
        })
    }

    fn frame(&self) -> Frame {
        *self.s.frames.last().expect("an active session has a frame")
    }

    fn script(&self, pin: u16) -> &'a Script {
        self.pins[pin as usize]
    }

    fn name(&self, f: Frame) -> String {
        node_name(&self.pins, self.s, f)
    }

    fn push_trail(&mut self, mut e: TrailEntry) {
        if self.record {
            e.seq = self.s.trail.len() as u32 + 1;
            self.s.trail.push(e);
        }
    }

    fn entry(&self, node: String, kind: &str, text: String, actor: &str) -> TrailEntry {
        TrailEntry {
            seq: 0,
            node,
            kind: kind.into(),
            text,
            say: None,
            answer: None,
            value: None,
            set: BTreeMap::new(),
            actor: actor.into(),
            at: self.now,
            retracted: false,
            note: None,
        }
    }

    /// Enters the current frame's node and runs automatic nodes until a
    /// shown node or an end.
    fn enter(&mut self, adv: &mut Advance) {
        // Each automatic node is entered at most `max_visits + 1` times before
        // the loop guard ends the session, so this loop terminates.
        loop {
            let f = self.frame();
            let name = self.name(f);
            adv.entered.push(name.clone());
            let max = self.script(f.pin).max_visits;
            let count = match self
                .s
                .visits
                .iter_mut()
                .find(|(p, n, _)| *p == f.pin && *n == f.node)
            {
                Some(v) => {
                    v.2 = v.2.saturating_add(1);
                    v.2
                }
                None => {
                    self.s.visits.push((f.pin, f.node, 1));
                    1
                }
            };
            if u32::from(count) > max {
                let reason = format!("loop guard: `{name}` was entered more than {max} times");
                self.end_escalated(name, reason, None, None, Vec::new());
                return;
            }
            let program = self.program;
            let script = self.pins[f.pin as usize];
            let node = script.node(NodeIndex::new(f.node as usize));
            match &node.kind {
                NodeKind::Ask { .. } | NodeKind::Say { .. } | NodeKind::Input { .. } => {
                    // A shown node whose text cannot render would strand the
                    // person: escalate instead.
                    if let Err(e) = self.render_check(f) {
                        self.fail(name, &e);
                    }
                    return;
                }
                NodeKind::Branch { arms, otherwise } => {
                    let r = Renderer::new(program, self.s, script);
                    let mut target = *otherwise;
                    let mut failure = None;
                    for (e, goto) in arms {
                        match r.eval(*e) {
                            Ok(true) => {
                                target = *goto;
                                break;
                            }
                            Ok(false) => {}
                            Err(err) => {
                                failure = Some(err);
                                break;
                            }
                        }
                    }
                    if let Some(err) = failure {
                        self.fail(name, &err);
                        return;
                    }
                    self.goto(target);
                }
                NodeKind::Use { script: sub, .. } => {
                    let Some(pin) = self.pin_of(*sub) else {
                        let reason =
                            format!("runtime failure: the sub-flow of `{name}` is not loaded");
                        self.end_escalated(name, reason, None, None, Vec::new());
                        return;
                    };
                    let sub_script = program.script(*sub);
                    for (k, v) in &sub_script.vars {
                        self.s
                            .vars
                            .entry(k.clone())
                            .or_insert_with(|| literal_json(v));
                    }
                    self.s.frames.push(Frame {
                        pin,
                        node: sub_script.start.index() as u32,
                    });
                }
                NodeKind::Return(summary) => {
                    if self.s.frames.len() <= 1 {
                        let text = Renderer::new(program, self.s, script)
                            .text(*summary)
                            .unwrap_or_default();
                        let reason = format!(
                            "the sub-flow `{}` returned ({text}) with no script to return to",
                            script.id
                        );
                        self.end_escalated(name, reason, None, None, Vec::new());
                        return;
                    }
                    self.s.frames.pop();
                    let caller = self.frame();
                    let cs = self.script(caller.pin);
                    match &cs.node(NodeIndex::new(caller.node as usize)).kind {
                        NodeKind::Use { next, .. } => {
                            let next = *next;
                            self.goto(next);
                        }
                        _ => unreachable!("a frame below another is always at a `use` node"),
                    }
                }
                NodeKind::Resolve(text) => {
                    match Renderer::new(program, self.s, script).text(*text) {
                        Ok(t) => self.end_resolved(name, t),
                        Err(e) => self.fail(name, &e),
                    }
                    return;
                }
                NodeKind::Escalate(e) => {
                    self.escalate_with(name, e, script, Vec::new());
                    return;
                }
            }
        }
    }

    fn render_check(&self, f: Frame) -> Result<(), minijinja::Error> {
        let script = self.script(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        let r = Renderer::new(self.program, self.s, script);
        match &node.kind {
            NodeKind::Ask { text, say, answers } => {
                r.check(*text)?;
                if let Some(s) = say {
                    r.check(*s)?;
                }
                for a in answers {
                    r.check(a.label)?;
                }
            }
            NodeKind::Say { text, .. } | NodeKind::Input { text, .. } => r.check(*text)?,
            _ => {}
        }
        Ok(())
    }

    fn pin_of(&self, ix: ScriptIdx) -> Option<u16> {
        let id = &self.program.scripts.get(ix.0 as usize)?.id;
        self.s
            .pins
            .iter()
            .position(|p| &p.id == id)
            .map(|p| p as u16)
    }

    fn goto(&mut self, target: NodeIndex) {
        if let Some(f) = self.s.frames.last_mut() {
            f.node = target.index() as u32;
        }
    }

    fn fail(&mut self, node: String, err: &minijinja::Error) {
        let reason = format!("runtime failure at `{node}`: {err}");
        self.end_escalated(node, reason, None, None, Vec::new());
    }

    fn escalate_with(
        &mut self,
        node: String,
        e: &crate::program::Escalation,
        script: &Script,
        notes: Vec<String>,
    ) {
        let reason = match e.reason {
            Some(t) => match Renderer::new(self.program, self.s, script).text(t) {
                Ok(r) => r,
                Err(err) => format!("runtime failure at `{node}`: {err}"),
            },
            None => format!("escalated at `{node}`"),
        };
        let tier = e.tier.or(script.escalation_tier);
        let queue = e.queue.clone().or_else(|| script.escalation_queue.clone());
        self.end_escalated(node, reason, tier, queue, notes);
    }

    fn end_resolved(&mut self, node: String, text: String) {
        let e = self.entry(node.clone(), "resolve", text.clone(), "system");
        self.push_trail(e);
        self.s.status = Status::Resolved;
        self.s.ending = Some(Ending::Resolved { node, text });
        self.s.frames.clear();
    }

    /// Ends the session escalated. `tier`: the node's or script's explicit
    /// tier; otherwise the session's tier plus one; capped at 4.
    fn end_escalated(
        &mut self,
        node: String,
        reason: String,
        tier: Option<u8>,
        queue: Option<String>,
        notes: Vec<String>,
    ) {
        // Script defaults: the innermost script that sets one, so a sub-flow
        // without its own defaults escalates to its caller's queue.
        let (mut tier, mut queue) = (tier, queue);
        for f in self.s.frames.iter().rev() {
            let sc = self.pins[f.pin as usize];
            tier = tier.or(sc.escalation_tier);
            queue = queue.or_else(|| sc.escalation_queue.clone());
        }
        let tier = tier.unwrap_or(self.s.tier.saturating_add(1)).clamp(1, 4);
        let e = self.entry(node.clone(), "escalate", reason.clone(), "system");
        self.push_trail(e);
        self.s.status = Status::Escalated;
        self.s.ending = Some(Ending::Escalated {
            node,
            reason,
            tier,
            queue,
            notes,
        });
        self.s.frames.clear();
    }

    fn escalate_by_person(
        &mut self,
        note: Option<String>,
        actor: &str,
    ) -> Result<Advance, StepError> {
        let f = self.frame();
        let name = self.name(f);
        let lang = self.s.language.clone();
        let label = if self.s.channel == Channel::Customer {
            labels::talk_to_person(&lang)
        } else {
            labels::escalate_now(&lang)
        };
        let shown = view(self.program, self.s)?
            .map(|v| (v.kind, v.text))
            .unwrap_or_default();
        let mut e = self.entry(name.clone(), &shown.0, shown.1, actor);
        e.answer = Some(AnswerRef {
            id: "_escalate".into(),
            label: label.into(),
        });
        e.note = note.clone().filter(|n| !n.trim().is_empty());
        self.push_trail(e);
        self.s.seq += 1;
        let who = if self.s.channel == Channel::Customer {
            "the customer"
        } else {
            actor
        };
        let reason = format!("{who} asked for a person at `{name}`");
        let notes = note.filter(|n| !n.trim().is_empty()).into_iter().collect();
        self.end_escalated(name, reason, None, None, notes);
        Ok(Advance::default())
    }

    fn reply(&mut self, reply: Reply, actor: &str) -> Result<Advance, StepError> {
        if reply == Reply::Answer("_escalate".into()) {
            return self.escalate_by_person(None, actor);
        }
        let f = self.frame();
        let name = self.name(f);
        let program = self.program;
        let script = self.pins[f.pin as usize];
        let node = script.node(NodeIndex::new(f.node as usize));
        let r = Renderer::new(program, self.s, script);
        let mut adv = Advance::default();
        match &node.kind {
            NodeKind::Ask { text, say, answers } => {
                let Reply::Answer(given) = reply else {
                    return Err(StepError::ExpectedAnswer);
                };
                let lang = self.s.language.clone();
                let text = r.text(*text).unwrap_or_default();
                let say = say.map(|t| r.text(t).unwrap_or_default());
                if given == "_none" && script.offer_none {
                    let mut e = self.entry(name.clone(), "ask", text, actor);
                    e.say = say;
                    e.answer = Some(AnswerRef {
                        id: "_none".into(),
                        label: labels::none_of_these(&lang).into(),
                    });
                    self.push_trail(e);
                    self.s.seq += 1;
                    let reason = format!("none of the answers fit at `{name}`");
                    self.end_escalated(name, reason, None, None, Vec::new());
                    return Ok(adv);
                }
                let want = given.trim();
                let mut found = answers.iter().position(|a| a.id == want);
                if found.is_none() {
                    let default_lang = 0;
                    found = answers.iter().position(|a| {
                        r.text(a.label).is_ok_and(|l| {
                            l.trim().eq_ignore_ascii_case(want)
                                || l.trim().to_lowercase() == want.to_lowercase()
                        }) || program
                            .templates
                            .source(a.label, default_lang)
                            .trim()
                            .to_lowercase()
                            == want.to_lowercase()
                    });
                }
                let Some(k) = found else {
                    let mut list: Vec<String> = answers
                        .iter()
                        .map(|a| format!("{} ({})", r.text(a.label).unwrap_or_default(), a.id))
                        .collect();
                    if script.offer_none {
                        list.push("_none".into());
                    }
                    list.push("_escalate".into());
                    return Err(StepError::UnknownAnswer {
                        given,
                        answers: list.join(", "),
                    });
                };
                let a = &answers[k];
                let label = r.text(a.label).unwrap_or_default();
                // `set`: literals as written; templates rendered against the
                // variables as they were before this answer.
                let mut set = BTreeMap::new();
                let mut failure = None;
                for (var, v) in &a.set {
                    let value = match v {
                        SetValue::Literal(l) => literal_json(l),
                        SetValue::Template(t) => match r.text(*t) {
                            Ok(s) => coerce(&s),
                            Err(e) => {
                                failure = Some(e);
                                break;
                            }
                        },
                    };
                    set.insert(var.clone(), value);
                }
                drop(r);
                let mut e = self.entry(name.clone(), "ask", text, actor);
                e.say = say;
                e.answer = Some(AnswerRef {
                    id: a.id.clone(),
                    label,
                });
                e.set = set.clone();
                self.push_trail(e);
                self.s.seq += 1;
                if let Some(err) = failure {
                    self.fail(name, &err);
                    return Ok(adv);
                }
                self.s.vars.extend(set);
                let r = Renderer::new(program, self.s, script);
                match &a.outcome {
                    Outcome::Goto(t) => {
                        self.goto(*t);
                        self.enter(&mut adv);
                    }
                    Outcome::Resolve(t) => match r.text(*t) {
                        Ok(text) => self.end_resolved(name, text),
                        Err(e) => self.fail(name, &e),
                    },
                    Outcome::Escalate(e) => self.escalate_with(name, e, script, Vec::new()),
                    Outcome::Return(_) => {
                        // Like a `return` node: back to the caller's `next`.
                        if self.s.frames.len() <= 1 {
                            let reason = format!(
                                "the sub-flow `{}` returned with no script to return to",
                                script.id
                            );
                            self.end_escalated(name, reason, None, None, Vec::new());
                        } else {
                            self.s.frames.pop();
                            let caller = self.frame();
                            if let NodeKind::Use { next, .. } = &self
                                .script(caller.pin)
                                .node(NodeIndex::new(caller.node as usize))
                                .kind
                            {
                                let next = *next;
                                self.goto(next);
                                self.enter(&mut adv);
                            }
                        }
                    }
                }
            }
            NodeKind::Say { text, next } => {
                let Reply::Answer(given) = &reply else {
                    return Err(StepError::ExpectedAnswer);
                };
                let lang = self.s.language.clone();
                let ok = ["done", ""].contains(&given.trim())
                    || given.trim().eq_ignore_ascii_case(labels::done(&lang));
                if !ok {
                    return Err(StepError::UnknownAnswer {
                        given: given.clone(),
                        answers: "done, _escalate".into(),
                    });
                }
                let text = r.text(*text).unwrap_or_default();
                let mut e = self.entry(name, "say", text, actor);
                e.answer = Some(AnswerRef {
                    id: "done".into(),
                    label: labels::done(&lang).into(),
                });
                self.push_trail(e);
                self.s.seq += 1;
                self.goto(*next);
                self.enter(&mut adv);
            }
            NodeKind::Input {
                text,
                into,
                next,
                kind,
                pattern,
                required,
            } => {
                let Reply::Value(raw) = reply else {
                    return Err(StepError::ExpectedValue);
                };
                let value = raw.trim().to_owned();
                let stored = validate(&value, *kind, pattern.as_ref(), *required)?;
                let text = r.text(*text).unwrap_or_default();
                let mut e = self.entry(name, "input", text, actor);
                e.value = Some(value);
                e.set.insert(into.clone(), stored.clone());
                self.push_trail(e);
                self.s.seq += 1;
                self.s.vars.insert(into.clone(), stored);
                self.goto(*next);
                self.enter(&mut adv);
            }
            _ => return Err(StepError::ExpectedAnswer),
        }
        Ok(adv)
    }
}

/// A rendered `set` value: a number or boolean where it parses as one.
fn coerce(s: &str) -> Json {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Json::from(i);
    }
    if let Ok(f) = t.parse::<f64>()
        && f.is_finite()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Json::Number(n);
    }
    match t {
        "true" | "True" => Json::Bool(true),
        "false" | "False" => Json::Bool(false),
        _ => Json::String(s.to_owned()),
    }
}

/// Checks an input value; a refusal says what is expected.
fn validate(
    value: &str,
    kind: InputType,
    pattern: Option<&regex::Regex>,
    required: bool,
) -> Result<Json, StepError> {
    if value.is_empty() {
        return if required {
            Err(StepError::InvalidValue("a value is required here".into()))
        } else {
            Ok(Json::String(String::new()))
        };
    }
    if value.chars().count() > 1000 {
        return Err(StepError::InvalidValue(
            "the value is too long (at most 1000 characters)".into(),
        ));
    }
    let stored = match kind {
        InputType::Text => Json::String(value.to_owned()),
        InputType::Number => {
            let normal = value.replace(',', ".");
            match normal.parse::<f64>() {
                Ok(f) if f.is_finite() => {
                    if let Ok(i) = normal.parse::<i64>() {
                        Json::from(i)
                    } else {
                        serde_json::Number::from_f64(f)
                            .map(Json::Number)
                            .unwrap_or(Json::Null)
                    }
                }
                _ => {
                    return Err(StepError::InvalidValue(format!(
                        "`{value}` is not a number"
                    )));
                }
            }
        }
        InputType::Email => {
            let ok = value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !value.chars().any(char::is_whitespace)
                    && !domain.contains('@')
            });
            if !ok {
                return Err(StepError::InvalidValue(format!(
                    "`{value}` is not an e-mail address like name@example.com"
                )));
            }
            Json::String(value.to_owned())
        }
        InputType::Phone => {
            let digits = value.chars().filter(char::is_ascii_digit).count();
            let ok = value
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()./".contains(c))
                && (5..=20).contains(&digits);
            if !ok {
                return Err(StepError::InvalidValue(format!(
                    "`{value}` is not a phone number"
                )));
            }
            Json::String(value.to_owned())
        }
    };
    if let Some(p) = pattern
        && !p.is_match(value)
    {
        return Err(StepError::InvalidValue(format!(
            "`{value}` does not have the expected form ({})",
            p.as_str()
        )));
    }
    Ok(stored)
}
