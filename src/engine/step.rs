//! The transitions: start, view, answer, back, escalate now. Automatic nodes
//! (branch, use, return, resolve, escalate) run until the next shown node or
//! an end; every unresolved ending escalates (contract section 3).

use super::labels::{self, ACTOR_SYSTEM, ID_DONE, ID_ESCALATE, ID_NONE, Reason};
use super::shared::Shown;
use super::trail::{self, Head};
use super::{
    Advance, AnswerRef, Channel, Ending, Entered, Frame, InputSpec, Pin, Reply, Session,
    StartOptions, Status, Step, TrailEntry, VarSet, Vars,
};
use crate::program::templates::Reads;
use crate::program::{
    Literal, Node, NodeKind, Outcome, Program, Script, ScriptIdx, SetValue, Text, TextId, TextPiece,
};
use crate::script::ast::InputType;
use petgraph::stable_graph::NodeIndex;
use serde_json::Value as Json;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::Arc;
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
    };
    let mut adv = Advance::default();
    let mut pins = Pinned::default();
    for &ix in &seen {
        pins.push(program.script(ix));
    }
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
    let script = pins.get(frame.pin);
    let node = script.node(NodeIndex::new(frame.node as usize));
    let input = match &node.kind {
        NodeKind::Ask { .. } | NodeKind::Say { .. } => None,
        NodeKind::Input {
            kind,
            pattern,
            required,
            hint,
            invalid,
            ..
        } => {
            // Like the other texts, one that fails to render is shown empty
            // (entering the node has already escalated for it).
            let r = Renderer::new(program, s, script);
            let text = |t: &Option<TextId>| t.map(|t| r.text(t).unwrap_or_default());
            Some(InputSpec {
                kind: input_kind(*kind),
                pattern: pattern.as_ref().map(|p| p.as_str().to_owned()),
                required: *required,
                hint: text(hint),
                invalid: text(invalid),
            })
        }
        _ => return Ok(None),
    };
    let customer = s.channel == Channel::Customer;
    let depth = s.frames.len();
    let own;
    let shown = match shared_shown(program, s, script, node, depth) {
        Some(shared) => shared,
        None => {
            own = shown(program, s, script, node, customer, depth);
            &own
        }
    };
    Ok(Some(Step {
        seq: s.seq,
        node: shown.name.clone(),
        kind: shown_kind(&node.kind),
        // A text that fails to render is shown empty rather than hiding the
        // step; answering escalates with the failure (see `enter`).
        text: shown.text.clone(),
        say: shown.say.clone(),
        help: shown.help.clone(),
        answers: shown.answers.clone(),
        input,
        // From the end: the last entry is almost always the person's own.
        can_go_back: s
            .trail
            .iter()
            .rev()
            .any(|e| !e.retracted() && e.actor() != "system"),
    }))
}

/// What the program keeps of a node that shows only literals: the same for
/// every session in this language, channel (customer or staff) and depth
/// (plain or qualified name). `None` for a node with a template, or a
/// sub-flow that does not speak the session's language (it shows its first
/// while the engine's own words follow the session).
fn shared_shown<'p>(
    program: &Program,
    s: &Session,
    script: &Script,
    node: &'p Node,
    depth: usize,
) -> Option<&'p Shown> {
    let l = script.language_index(&s.language)?;
    if !node.shows_only_literals(&program.templates) {
        return None;
    }
    let customer = s.channel == Channel::Customer;
    let langs = script.languages.len();
    let slot = (2 * l + usize::from(customer)) * 2 + usize::from(depth > 1);
    node.views
        .get_or_make_ref(4 * langs, slot, || {
            let mut shared = shown(program, s, script, node, customer, depth);
            // One head per authored answer (per `done` of an instruction).
            let answers = match &node.kind {
                NodeKind::Ask { answers, .. } => answers.len(),
                _ => 1,
            };
            shared.heads = (0..answers).map(|_| std::sync::OnceLock::new()).collect();
            Some(Arc::new(shared))
        })
        .map(|a| &**a)
}

/// What a shown node shows, rendered for this session: the texts and the
/// answers (the built-in ones included).
fn shown(
    program: &Program,
    s: &Session,
    script: &Script,
    node: &Node,
    customer: bool,
    depth: usize,
) -> Shown {
    let r = Renderer::new(program, s, script);
    let lang = labels::index(&s.language);
    let mut answers = Vec::new();
    let (text, say) = match &node.kind {
        NodeKind::Ask {
            text,
            say,
            answers: list,
        } => {
            answers.reserve_exact(list.len() + 2);
            for a in list {
                answers.push(AnswerRef {
                    id: a.id_text().clone(),
                    label: r.text(a.label).unwrap_or_default(),
                });
            }
            if script.offer_none {
                answers.push(AnswerRef {
                    id: ID_NONE,
                    label: labels::none_of_these(lang),
                });
            }
            (r.text(*text), say.map(|t| r.text(t).unwrap_or_default()))
        }
        NodeKind::Say { text, .. } => {
            answers.push(AnswerRef {
                id: ID_DONE,
                label: labels::done(lang),
            });
            (r.text(*text), None)
        }
        NodeKind::Input { text, .. } => (r.text(*text), None),
        _ => (Ok(Text::default()), None),
    };
    answers.push(AnswerRef {
        id: ID_ESCALATE,
        label: if customer {
            labels::talk_to_person(lang)
        } else {
            labels::escalate_now(lang)
        },
    });
    Shown {
        name: node_name(script, node, depth),
        heads: Box::default(),
        text: text.unwrap_or_default(),
        say,
        help: if customer {
            None
        } else {
            node.help.map(|h| r.text(h).unwrap_or_default())
        },
        answers: answers.into(),
    }
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
    replayed.trail[i].set_retracted(true);
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
        params: s.params.to_map(),
        vars: s.initial_vars.to_map(),
        tier: Some(s.tier),
    };
    let (mut r, _) = start(program, opts, s.started_at)?;
    r.trail.clear();
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
            record: false,
        };
        let note = e.note().map(|n| n.as_str().to_owned());
        if is_escalate(&reply) {
            m.escalate_by_person(note, e.actor())?;
        } else if matches!(&reply, Reply::Answer(a) if a == "_none") && note.is_some() {
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
            Some((_, sc)) if sc.version == p.version => out.push(sc),
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
    few: [Option<&'p Script>; 4],
    more: Vec<&'p Script>,
}

impl<'p> Pinned<'p> {
    fn push(&mut self, script: &'p Script) {
        match self.few.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(script),
            None => self.more.push(script),
        }
    }

    /// The script of pin `pin`; every frame's pin is one the session made.
    fn get(&self, pin: u16) -> &'p Script {
        let i = pin as usize;
        match self.few.get(i) {
            Some(s) => s.expect("a frame's pin is one of the session's pins"),
            None => self.more[i - self.few.len()],
        }
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

/// The kind of a shown node, as written in steps and trails.
fn shown_kind(k: &NodeKind) -> Text {
    match k {
        NodeKind::Say { .. } => labels::KIND_SAY,
        NodeKind::Input { .. } => labels::KIND_INPUT,
        _ => labels::KIND_ASK,
    }
}

fn input_kind(k: InputType) -> Text {
    match k {
        InputType::Text => labels::INPUT_TEXT,
        InputType::Number => labels::INPUT_NUMBER,
        InputType::Email => labels::INPUT_EMAIL,
        InputType::Phone => labels::INPUT_PHONE,
    }
}

fn is_escalate(reply: &Reply) -> bool {
    matches!(reply, Reply::Answer(a) if a == "_escalate")
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

/// Renders texts for one step. Literals need no context at all; a template
/// or expression gets a context of just the names it reads (see
/// [`Reads`]), so a step never converts every variable and parameter.
struct Renderer<'a> {
    program: &'a Program,
    s: &'a Session,
    lang: usize,
    ctx: OnceCell<minijinja::Value>,
}

#[derive(serde::Serialize)]
struct Ctx<'a> {
    #[serde(flatten)]
    vars: &'a Vars,
    channel: &'a str,
    language: &'a str,
    tier: u8,
    params: &'a Vars,
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

    /// The text in the session's language: a literal is shared with the
    /// program (no copy); a template is rendered.
    fn text(&self, id: TextId) -> Result<Text, minijinja::Error> {
        let pieces = self.program.templates.pieces(id);
        if let Some(TextPiece::Literal(l)) = pieces.get(self.lang).or_else(|| pieces.first()) {
            return Ok(l.clone());
        }
        let ctx = self.scope(self.program.templates.text_reads(id, self.lang));
        self.program
            .templates
            .render(id, self.lang, &ctx)
            .map(|c| Text::from(&*c))
    }

    /// The text in the session's language if it is a literal (shared with
    /// the program); `None` for a template.
    fn literal(&self, id: TextId) -> Option<Text> {
        let pieces = self.program.templates.pieces(id);
        match pieces.get(self.lang).or_else(|| pieces.first()) {
            Some(TextPiece::Literal(l)) => Some(l.clone()),
            _ => None,
        }
    }

    /// The text in the session's language, borrowed where it is a literal
    /// (for values that are parsed, not kept).
    fn render(&self, id: TextId) -> Result<Cow<'a, str>, minijinja::Error> {
        let program: &'a Program = self.program;
        let pieces = program.templates.pieces(id);
        if let Some(TextPiece::Literal(l)) = pieces.get(self.lang).or_else(|| pieces.first()) {
            return Ok(Cow::Borrowed(l.as_str()));
        }
        let ctx = self.scope(program.templates.text_reads(id, self.lang));
        program.templates.render(id, self.lang, &ctx)
    }

    /// The context for one render: the names it reads, or everything.
    fn scope(&self, reads: Reads<'_>) -> minijinja::Value {
        match reads {
            Reads::All => self.ctx().clone(),
            Reads::Names(names) => minijinja::Value::from_iter(names.iter().filter_map(|k| {
                let v = self.lookup(k.as_str()?)?;
                Some((k.clone(), v))
            })),
        }
    }

    /// One name of the context, as the whole context would have it: the
    /// built-ins win over variables of the same name.
    fn lookup(&self, name: &str) -> Option<minijinja::Value> {
        use minijinja::Value;
        Some(match name {
            "channel" => Value::from(self.s.channel.as_str()),
            "language" => Value::from(self.s.language.as_str()),
            "tier" => Value::from(self.s.tier),
            "params" => Value::from_serialize(&self.s.params),
            _ => match self.s.vars.get(name)? {
                Json::Null => Value::from(()),
                Json::Bool(b) => Value::from(*b),
                Json::String(s) => Value::from(s.as_str()),
                // As serde would hand the number over: unsigned first.
                Json::Number(n) => match (n.as_u64(), n.as_i64()) {
                    (Some(u), _) => Value::from(u),
                    (None, Some(i)) => Value::from(i),
                    _ => Value::from(n.as_f64().unwrap_or(f64::NAN)),
                },
                other => Value::from_serialize(other),
            },
        })
    }

    /// The whole template context: the variables and the built-ins (for
    /// templates with statements), built at most once per step.
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
            Some(TextPiece::Template(_)) => self.render(id).map(drop),
            _ => Ok(()),
        }
    }

    fn eval(&self, e: crate::program::ExprId) -> Result<bool, minijinja::Error> {
        let ctx = self.scope(self.program.templates.expr_reads(e));
        self.program.templates.eval(e, &ctx)
    }
}

struct Machine<'a> {
    program: &'a Program,
    /// The session's pinned scripts, by pin index.
    pins: Pinned<'a>,
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
        self.pins.get(pin)
    }

    fn name(&self, f: Frame) -> Text {
        let script = self.script(f.pin);
        node_name(
            script,
            script.node(NodeIndex::new(f.node as usize)),
            self.s.frames.len(),
        )
    }

    /// `actor` as a [`Text`]: the previous entry's when it is the same
    /// person (nearly always), so recording an answer does not copy it.
    fn actor(&self, actor: &str) -> Text {
        if actor == "system" {
            return ACTOR_SYSTEM;
        }
        match self.s.trail.iter().rev().find(|e| e.actor() != "system") {
            Some(e) if e.actor() == actor => e.actor().clone(),
            _ => Text::from(actor),
        }
    }

    /// Appends an entry with this head (nothing while replaying).
    fn push_trail(&mut self, head: impl Into<Arc<Head>>, actor: &str) {
        if self.record {
            let seq = self.s.trail.len() as u32 + 1;
            let e = TrailEntry::new(head.into(), seq, self.actor(actor), self.now);
            trail::push(&mut self.s.trail, e);
        }
    }

    /// The program's shared head for answer `slot` of the current node (0
    /// for an instruction's `done`), when the step has nothing of its own:
    /// `make` returns `None` for a step that renders a template, and then
    /// the caller makes a head of its own.
    fn shared_head(
        &self,
        shown: Option<&Shown>,
        slot: usize,
        make: impl FnOnce() -> Option<Head>,
    ) -> Option<Arc<Head>> {
        let cell = shown?.heads.get(slot)?;
        if let Some(h) = cell.get() {
            return Some(h.clone());
        }
        let head = Arc::new(make()?);
        Some(cell.get_or_init(|| head).clone())
    }

    /// Enters the current frame's node and runs automatic nodes until a
    /// shown node or an end.
    fn enter(&mut self, adv: &mut Advance) {
        // Each automatic node is entered at most `max_visits + 1` times before
        // the loop guard ends the session, so this loop terminates.
        loop {
            let f = self.frame();
            adv.path.push(Entered {
                pin: f.pin,
                node: f.node,
                nested: self.s.frames.len() > 1,
            });
            let max = self.script(f.pin).max_visits;
            let guarded = self
                .script(f.pin)
                .loop_guarded(NodeIndex::new(f.node as usize));
            let count = if !guarded {
                1
            } else {
                match self
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
                }
            };
            if u32::from(count) > max {
                // The name is written only where something ends or fails.
                let name = self.name(f);
                let reason = self.reason(Reason::Loop { max });
                self.end_escalated(name, reason, None, None, Vec::new());
                return;
            }
            let program = self.program;
            let script = self.pins.get(f.pin);
            let node = script.node(NodeIndex::new(f.node as usize));
            match &node.kind {
                NodeKind::Ask { .. } | NodeKind::Say { .. } | NodeKind::Input { .. } => {
                    // A shown node whose text cannot render would strand the
                    // person: escalate instead.
                    if let Err(e) = self.render_check(f) {
                        self.fail(self.name(f), &e);
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
                        self.fail(self.name(f), &err);
                        return;
                    }
                    self.goto(target);
                }
                NodeKind::Use { script: sub, .. } => {
                    let Some(pin) = self.pin_of(*sub) else {
                        let name = self.name(f);
                        let reason = self.reason(Reason::Failure {
                            detail: "the sub-flow is not loaded",
                        });
                        self.end_escalated(name, reason, None, None, Vec::new());
                        return;
                    };
                    let sub_script = program.script(*sub);
                    for (k, v) in &sub_script.vars {
                        self.s.vars.insert_default(k, || literal_json(v));
                    }
                    self.s.frames.push(Frame {
                        pin,
                        node: sub_script.start.index() as u32,
                    });
                }
                NodeKind::Return(summary) => {
                    if self.s.frames.len() <= 1 {
                        let name = self.name(f);
                        let text = Renderer::new(program, self.s, script)
                            .text(*summary)
                            .unwrap_or_default();
                        let reason = self.reason(Reason::ReturnedAlone { summary: &text });
                        self.end_escalated(name, reason, None, None, Vec::new());
                        return;
                    }
                    self.returned(f, script, *summary);
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
                        Ok(t) => self.end_resolved(self.name(f), t),
                        Err(e) => self.fail(self.name(f), &e),
                    }
                    return;
                }
                NodeKind::Escalate(e) => {
                    self.escalate_with(self.name(f), e, script, Vec::new());
                    return;
                }
            }
        }
    }

    fn render_check(&self, f: Frame) -> Result<(), minijinja::Error> {
        let script = self.script(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        if node.shows_only_literals(&self.program.templates) {
            return Ok(());
        }
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
            NodeKind::Say { text, .. } => r.check(*text)?,
            NodeKind::Input {
                text,
                hint,
                invalid,
                ..
            } => {
                r.check(*text)?;
                for t in [hint, invalid].into_iter().flatten() {
                    r.check(*t)?;
                }
            }
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

    fn fail(&mut self, node: Text, err: &minijinja::Error) {
        let reason = match crate::program::bounds::exceeded(err) {
            Some(bound) => {
                // The person reads that the step could not be shown; the
                // operator learns which bound, where.
                tracing::warn!(
                    script = %self.s.script,
                    node = %node,
                    %bound,
                    "a text exceeded the render bounds; the session escalated"
                );
                labels::text_not_shown(labels::index(&self.s.language))
                    .as_str()
                    .to_owned()
            }
            None => {
                let detail = err.to_string();
                self.reason(Reason::Failure { detail: &detail })
            }
        };
        self.end_escalated(node, reason, None, None, Vec::new());
    }

    /// The question (or instruction) the person saw last, as shown: what
    /// a reason quotes. `None` before the first step.
    fn last_shown(&self) -> Option<&Text> {
        self.s
            .trail
            .iter()
            .rev()
            .find(|e| !e.retracted() && matches!(e.kind().as_str(), "ask" | "say" | "input"))
            .map(|e| e.text())
    }

    /// A reason of the engine's own, quoting what the person saw last.
    fn reason(&self, r: Reason<'_>) -> String {
        let lang = labels::index(&self.s.language);
        r.text(lang, self.last_shown().map(Text::as_str))
    }

    /// Records a sub-flow's `return` summary as the entry that closes it
    /// (so it reaches the ticket text), before its frame is left. A
    /// summary that fails to render is recorded empty: the person has
    /// moved on, and the sub-flow did finish.
    fn returned(&mut self, f: Frame, script: &Script, summary: TextId) {
        if !self.record {
            return;
        }
        let text = Renderer::new(self.program, self.s, script)
            .text(summary)
            .unwrap_or_default();
        let name = self.name(f);
        self.push_trail(Head::new(name, labels::KIND_RETURN, text), "system");
    }

    fn escalate_with(
        &mut self,
        node: Text,
        e: &crate::program::Escalation,
        script: &Script,
        notes: Vec<String>,
    ) {
        let reason = match e.reason {
            Some(t) => match Renderer::new(self.program, self.s, script).text(t) {
                Ok(r) => r.as_str().to_owned(),
                Err(err) => {
                    let detail = err.to_string();
                    self.reason(Reason::Failure { detail: &detail })
                }
            },
            None => self.reason(Reason::Escalated),
        };
        let tier = e.tier.or(script.escalation_tier);
        let queue = e.queue.clone().or_else(|| script.escalation_queue.clone());
        self.end_escalated(node, reason, tier, queue, notes);
    }

    fn end_resolved(&mut self, node: Text, text: Text) {
        self.s.ending = Some(Box::new(Ending::Resolved {
            node: node.as_str().to_owned(),
            text: text.as_str().to_owned(),
        }));
        self.push_trail(Head::new(node, labels::KIND_RESOLVE, text), "system");
        self.s.status = Status::Resolved;
        self.s.frames.clear();
    }

    /// Ends the session escalated. `tier`: the node's or script's explicit
    /// tier; otherwise the session's tier plus one; capped at 4.
    fn end_escalated(
        &mut self,
        node: Text,
        reason: String,
        tier: Option<u8>,
        queue: Option<String>,
        notes: Vec<String>,
    ) {
        // Script defaults: the innermost script that sets one, so a sub-flow
        // without its own defaults escalates to its caller's queue.
        let (mut tier, mut queue) = (tier, queue);
        for f in self.s.frames.iter().rev() {
            let sc = self.pins.get(f.pin);
            tier = tier.or(sc.escalation_tier);
            queue = queue.or_else(|| sc.escalation_queue.clone());
        }
        let tier = tier.unwrap_or(self.s.tier.saturating_add(1)).clamp(1, 4);
        let head = Head::new(node.clone(), labels::KIND_ESCALATE, Text::from(&reason));
        self.push_trail(head, "system");
        self.s.status = Status::Escalated;
        self.s.ending = Some(Box::new(Ending::Escalated {
            node: node.as_str().to_owned(),
            reason,
            tier,
            queue,
            notes,
        }));
        self.s.frames.clear();
    }

    /// "None of these" at the current question: recorded as the answer
    /// (with the person's note, if any), then escalated with a reason that
    /// quotes the question.
    fn none_fits(&mut self, note: Option<String>, actor: &str) -> Result<Advance, StepError> {
        let f = self.frame();
        let script = self.script(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        let (NodeKind::Ask { text, say, .. }, true) = (&node.kind, script.offer_none) else {
            return Err(StepError::UnknownAnswer {
                given: "_none".into(),
                answers: "those on the page (this step does not offer \"None of these\")".into(),
            });
        };
        let lang = labels::index(&self.s.language);
        let r = Renderer::new(self.program, self.s, script);
        let mut head = Head::new(
            self.name(f),
            labels::KIND_ASK,
            r.text(*text).unwrap_or_default(),
        );
        head.set_say(say.map(|t| r.text(t).unwrap_or_default()));
        drop(r);
        head.answer = Some(AnswerRef {
            id: ID_NONE,
            label: labels::none_of_these(lang),
        });
        let note = note.filter(|n| !n.trim().is_empty());
        head.set_note(note.as_deref().map(Text::from));
        let reason = Reason::NoneFits.text(lang, Some(head.text.as_str()));
        self.push_trail(head, actor);
        self.s.seq += 1;
        let notes = note.into_iter().collect();
        self.end_escalated(self.name(f), reason, None, None, notes);
        Ok(Advance::default())
    }

    fn escalate_by_person(
        &mut self,
        note: Option<String>,
        actor: &str,
    ) -> Result<Advance, StepError> {
        let f = self.frame();
        let name = self.name(f);
        let lang = labels::index(&self.s.language);
        let label = if self.s.channel == Channel::Customer {
            labels::talk_to_person(lang)
        } else {
            labels::escalate_now(lang)
        };
        let shown = view(self.program, self.s)?
            .map(|v| (v.kind, v.text))
            .unwrap_or_default();
        let reason = if self.s.channel == Channel::Customer {
            Reason::CustomerAsked
        } else {
            Reason::AgentEscalated(actor)
        }
        .text(lang, Some(shown.1.as_str()));
        let mut head = Head::new(name.clone(), shown.0, shown.1);
        head.answer = Some(AnswerRef {
            id: ID_ESCALATE,
            label,
        });
        head.set_note(
            note.as_deref()
                .filter(|n| !n.trim().is_empty())
                .map(Text::from),
        );
        self.push_trail(head, actor);
        self.s.seq += 1;
        let notes = note.filter(|n| !n.trim().is_empty()).into_iter().collect();
        self.end_escalated(name, reason, None, None, notes);
        Ok(Advance::default())
    }

    fn reply(&mut self, reply: Reply, actor: &str) -> Result<Advance, StepError> {
        if is_escalate(&reply) {
            return self.escalate_by_person(None, actor);
        }
        let f = self.frame();
        let program = self.program;
        let script = self.pins.get(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        // The node's name, only where a head or a reason is written: the
        // usual answer shares a head and needs none.
        let depth = self.s.frames.len();
        let name = || node_name(script, node, depth);
        // What the person was shown, if the program keeps it: its answer
        // ids were just read, so matching against them touches no cold
        // memory, and it holds the answers' shared heads.
        let shown = shared_shown(program, self.s, script, node, depth);
        let r = Renderer::new(program, self.s, script);
        let mut adv = Advance::default();
        match &node.kind {
            NodeKind::Ask { text, say, answers } => {
                let Reply::Answer(given) = reply else {
                    return Err(StepError::ExpectedAnswer);
                };
                if given == "_none" && script.offer_none {
                    drop(r);
                    return self.none_fits(None, actor);
                }
                let want = given.trim();
                let mut found = match &shown {
                    Some(sh) => sh.answers[..answers.len().min(sh.answers.len())]
                        .iter()
                        .position(|a| a.id == want),
                    None => answers.iter().position(|a| a.id == want),
                };
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
                // The usual answer shows only literals and sets only
                // literals: its head is the program's, made once.
                let shared = self.shared_head(shown, k, || {
                    let mut set = Vec::with_capacity(a.set.len());
                    for (var, v) in &a.set {
                        match v {
                            SetValue::Literal(l) => set.push((var.clone(), literal_json(l))),
                            SetValue::Template(_) => return None,
                        }
                    }
                    let mut head = Head::new(name(), labels::KIND_ASK, r.literal(*text)?);
                    head.set_say(match say {
                        Some(t) => Some(r.literal(*t)?),
                        None => None,
                    });
                    head.answer = Some(AnswerRef {
                        id: a.id_text().clone(),
                        label: r.literal(a.label)?,
                    });
                    head.set = VarSet::new(set);
                    Some(head)
                });
                let mut failure = None;
                let head = match shared {
                    Some(h) => h,
                    None => {
                        // `set`: literals as written; templates rendered
                        // against the variables as they were before this
                        // answer.
                        let mut set = Vec::new();
                        for (var, v) in &a.set {
                            let value = match v {
                                SetValue::Literal(l) => literal_json(l),
                                SetValue::Template(t) => match r.render(*t) {
                                    Ok(s) => coerce(&s),
                                    Err(e) => {
                                        failure = Some(e);
                                        break;
                                    }
                                },
                            };
                            set.push((var.clone(), value));
                        }
                        let mut head =
                            Head::new(name(), labels::KIND_ASK, r.text(*text).unwrap_or_default());
                        head.set_say(say.map(|t| r.text(t).unwrap_or_default()));
                        head.answer = Some(AnswerRef {
                            id: a.id_text().clone(),
                            label: r.text(a.label).unwrap_or_default(),
                        });
                        head.set = VarSet::new(set);
                        Arc::new(head)
                    }
                };
                drop(r);
                if failure.is_none() {
                    // Updates in place: no new key unless the variable is new.
                    for (var, value) in head.set.iter() {
                        match self.s.vars.get_mut(var.as_str()) {
                            Some(slot) => *slot = value.clone(),
                            None => {
                                self.s.vars.insert(var.clone(), value.clone());
                            }
                        }
                    }
                }
                self.push_trail(head, actor);
                self.s.seq += 1;
                if let Some(err) = failure {
                    self.fail(name(), &err);
                    return Ok(adv);
                }
                let r = Renderer::new(program, self.s, script);
                match &a.outcome {
                    Outcome::Goto(t) => {
                        self.goto(*t);
                        self.enter(&mut adv);
                    }
                    Outcome::Resolve(t) => match r.text(*t) {
                        Ok(text) => self.end_resolved(name(), text),
                        Err(e) => self.fail(name(), &e),
                    },
                    Outcome::Escalate(e) => self.escalate_with(name(), e, script, Vec::new()),
                    Outcome::Return(summary) => {
                        // Like a `return` node: back to the caller's `next`.
                        if self.s.frames.len() <= 1 {
                            let text = r.text(*summary).unwrap_or_default();
                            let reason = self.reason(Reason::ReturnedAlone { summary: &text });
                            self.end_escalated(name(), reason, None, None, Vec::new());
                        } else {
                            drop(r);
                            self.returned(f, script, *summary);
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
                let lang = labels::index(&self.s.language);
                let ok = ["done", ""].contains(&given.trim())
                    || given.trim().eq_ignore_ascii_case(&labels::done(lang));
                if !ok {
                    return Err(StepError::UnknownAnswer {
                        given: given.clone(),
                        answers: "done, _escalate".into(),
                    });
                }
                let make = |text: Text| {
                    let mut head = Head::new(name(), labels::KIND_SAY, text);
                    head.answer = Some(AnswerRef {
                        id: ID_DONE,
                        label: labels::done(lang),
                    });
                    head
                };
                let head = match self.shared_head(shown, 0, || r.literal(*text).map(make)) {
                    Some(h) => h,
                    None => Arc::new(make(r.text(*text).unwrap_or_default())),
                };
                drop(r);
                self.push_trail(head, actor);
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
                ..
            } => {
                let Reply::Value(raw) = reply else {
                    return Err(StepError::ExpectedValue);
                };
                let value = raw.trim().to_owned();
                let stored = validate(&value, *kind, pattern.as_ref(), *required)?;
                let mut head = Head::new(
                    name(),
                    labels::KIND_INPUT,
                    r.text(*text).unwrap_or_default(),
                );
                drop(r);
                head.set = VarSet::new(vec![(into.clone(), stored.clone())]);
                head.set_value(Some(value));
                self.push_trail(head, actor);
                self.s.seq += 1;
                match self.s.vars.get_mut(into.as_str()) {
                    Some(slot) => *slot = stored,
                    None => {
                        self.s.vars.insert(into.clone(), stored);
                    }
                }
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
