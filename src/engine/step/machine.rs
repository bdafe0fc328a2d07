//! The machine that makes one move of a session: enters nodes, applies
//! replies, and ends the session.

use super::super::labels::{
    self, ACTOR_SYSTEM, ANSWER_DONE, ANSWER_ESCALATE, ANSWER_NONE, ID_DONE, ID_ESCALATE, ID_NONE,
    Reason,
};
use super::super::shared::Shown;
use super::super::trail::{self, Head};
use super::input::{coerce, validate};
use super::render::Renderer;
use super::view::{shared_shown, view};
use super::{Pinned, StepError, check_pins, ensure_active, is_escalate, literal_json, node_name};
use crate::engine::{
    Advance, AnswerRef, Channel, Ending, Entered, Frame, Reply, Session, Status, TrailEntry, VarSet,
};
use crate::program::{NodeKind, Outcome, Program, Script, ScriptIdx, SetValue, Text, TextId};
use petgraph::stable_graph::NodeIndex;
use std::sync::Arc;
use time::OffsetDateTime;

pub(super) struct Machine<'a> {
    pub(super) program: &'a Program,
    /// The session's pinned scripts, by pin index.
    pub(super) pins: Pinned<'a>,
    pub(super) s: &'a mut Session,
    pub(super) now: OffsetDateTime,
}

impl<'a> Machine<'a> {
    /// A machine for one move of an active session, its pins checked.
    pub(super) fn for_step(
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

    /// Appends an entry with this head. A replay writes them too (and
    /// drops them at its end): the reasons the engine writes quote the
    /// last step shown, which only the trail knows.
    fn push_trail(&mut self, head: impl Into<Arc<Head>>, actor: &str) {
        let seq = self.s.trail.len() as u32 + 1;
        let e = TrailEntry::new(head.into(), seq, self.actor(actor), self.now);
        trail::push(&mut self.s.trail, e);
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
    pub(super) fn enter(&mut self, adv: &mut Advance) {
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
            if u32::from(self.count_visit(f)) > max {
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

    /// Counts an entry into the node of frame `f` where the loop guard
    /// counts it; the number of entries so far (1 where it does not).
    fn count_visit(&mut self, f: Frame) -> u16 {
        if !self
            .script(f.pin)
            .loop_guarded(NodeIndex::new(f.node as usize))
        {
            return 1;
        }
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
                // A reason that renders to nothing (a loop over an empty
                // list, a variable never set) would hand the specialist a
                // blank line: the engine's own words say where it stopped.
                Ok(r) if r.trim().is_empty() => self.reason(Reason::Escalated),
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
    pub(super) fn none_fits(
        &mut self,
        note: Option<String>,
        actor: &str,
    ) -> Result<Advance, StepError> {
        let f = self.frame();
        let script = self.script(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        let (NodeKind::Ask { text, say, .. }, true) = (&node.kind, script.offer_none) else {
            return Err(StepError::UnknownAnswer {
                given: ANSWER_NONE.into(),
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

    pub(super) fn escalate_by_person(
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

    /// Applies the person's reply to the current step: an answer at a
    /// question or instruction, a value at an input node.
    pub(super) fn reply(&mut self, reply: Reply, actor: &str) -> Result<Advance, StepError> {
        if is_escalate(&reply) {
            return self.escalate_by_person(None, actor);
        }
        let f = self.frame();
        let node = self.script(f.pin).node(NodeIndex::new(f.node as usize));
        match (&node.kind, reply) {
            (NodeKind::Ask { .. }, Reply::Answer(given)) => self.reply_ask(f, given, actor),
            (NodeKind::Say { .. }, Reply::Answer(given)) => self.reply_say(f, &given, actor),
            (NodeKind::Input { .. }, Reply::Value(raw)) => self.reply_input(f, &raw, actor),
            (NodeKind::Input { .. }, Reply::Answer(_)) => Err(StepError::ExpectedValue),
            _ => Err(StepError::ExpectedAnswer),
        }
    }

    /// An answer to a question, by id or label: recorded with what it
    /// sets, then followed.
    fn reply_ask(&mut self, f: Frame, given: String, actor: &str) -> Result<Advance, StepError> {
        let program = self.program;
        let script = self.pins.get(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        let NodeKind::Ask { answers, .. } = &node.kind else {
            return Err(StepError::ExpectedAnswer);
        };
        // What the person was shown, if the engine keeps it: its answer
        // ids were just read, so matching against them touches no cold
        // memory, and it holds the answers' shared heads.
        let at = (self.pins.entry(f.pin).0, f.node);
        let shown = shared_shown(program, self.s, at, script, node, self.s.frames.len());
        if given == ANSWER_NONE && script.offer_none {
            return self.none_fits(None, actor);
        }
        let r = Renderer::new(program, self.s, script);
        let k = find_answer(&r, program, script, answers, shown, given)?;
        let (head, failure) = self.answer_head(&r, f, shown, k);
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
        let mut adv = Advance::default();
        match failure {
            Some(err) => self.fail(self.name(f), &err),
            None => self.follow(f, &answers[k].outcome, &mut adv),
        }
        Ok(adv)
    }

    /// The trail head of answer `k` at the question of frame `f`: the
    /// engine's shared one when it shows and sets only literals, else one
    /// of its own, with the first `set` template that failed to render.
    fn answer_head(
        &self,
        r: &Renderer<'_>,
        f: Frame,
        shown: Option<&Shown>,
        k: usize,
    ) -> (Arc<Head>, Option<minijinja::Error>) {
        let script = self.script(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        let NodeKind::Ask { text, say, answers } = &node.kind else {
            unreachable!("answer_head is called at a question");
        };
        // The node's name, only where a head is written: the usual answer
        // shares a head and needs none.
        let name = || self.name(f);
        let a = &answers[k];
        // The usual answer shows only literals and sets only literals: its
        // head is the engine's, made once.
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
        if let Some(h) = shared {
            return (h, None);
        }
        // `set`: literals as written; templates rendered against the
        // variables as they were before this answer.
        let mut failure = None;
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
        let mut head = Head::new(name(), labels::KIND_ASK, r.text(*text).unwrap_or_default());
        head.set_say(say.map(|t| r.text(t).unwrap_or_default()));
        head.answer = Some(AnswerRef {
            id: a.id_text().clone(),
            label: r.text(a.label).unwrap_or_default(),
        });
        head.set = VarSet::new(set);
        (Arc::new(head), failure)
    }

    /// Follows an answer's outcome from the question of frame `f`.
    fn follow(&mut self, f: Frame, outcome: &Outcome, adv: &mut Advance) {
        let program = self.program;
        let script = self.pins.get(f.pin);
        let r = Renderer::new(program, self.s, script);
        match outcome {
            Outcome::Goto(t) => {
                drop(r);
                self.goto(*t);
                self.enter(adv);
            }
            Outcome::Resolve(t) => match r.text(*t) {
                Ok(text) => self.end_resolved(self.name(f), text),
                Err(e) => self.fail(self.name(f), &e),
            },
            Outcome::Escalate(e) => {
                drop(r);
                self.escalate_with(self.name(f), e, script, Vec::new());
            }
            Outcome::Return(summary) => {
                // Like a `return` node: back to the caller's `next`.
                if self.s.frames.len() <= 1 {
                    let text = r.text(*summary).unwrap_or_default();
                    let reason = self.reason(Reason::ReturnedAlone { summary: &text });
                    self.end_escalated(self.name(f), reason, None, None, Vec::new());
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
                        self.goto(*next);
                        self.enter(adv);
                    }
                }
            }
        }
    }

    /// `done` (or its label, or nothing) at an instruction.
    fn reply_say(&mut self, f: Frame, given: &str, actor: &str) -> Result<Advance, StepError> {
        let program = self.program;
        let script = self.pins.get(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        let NodeKind::Say { text, next } = &node.kind else {
            return Err(StepError::ExpectedAnswer);
        };
        let at = (self.pins.entry(f.pin).0, f.node);
        let shown = shared_shown(program, self.s, at, script, node, self.s.frames.len());
        let lang = labels::index(&self.s.language);
        let ok = [ANSWER_DONE, ""].contains(&given.trim())
            || given.trim().eq_ignore_ascii_case(&labels::done(lang));
        if !ok {
            return Err(StepError::UnknownAnswer {
                given: given.to_owned(),
                answers: format!("{ANSWER_DONE}, {ANSWER_ESCALATE}"),
            });
        }
        let make = |text: Text| {
            let mut head = Head::new(self.name(f), labels::KIND_SAY, text);
            head.answer = Some(AnswerRef {
                id: ID_DONE,
                label: labels::done(lang),
            });
            head
        };
        let r = Renderer::new(program, self.s, script);
        let head = match self.shared_head(shown, 0, || r.literal(*text).map(make)) {
            Some(h) => h,
            None => Arc::new(make(r.text(*text).unwrap_or_default())),
        };
        drop(r);
        self.push_trail(head, actor);
        self.s.seq += 1;
        let mut adv = Advance::default();
        self.goto(*next);
        self.enter(&mut adv);
        Ok(adv)
    }

    /// A value at an input node: checked, stored in its variable, recorded.
    fn reply_input(&mut self, f: Frame, raw: &str, actor: &str) -> Result<Advance, StepError> {
        let script = self.pins.get(f.pin);
        let node = script.node(NodeIndex::new(f.node as usize));
        let NodeKind::Input {
            text,
            into,
            next,
            kind,
            pattern,
            required,
            ..
        } = &node.kind
        else {
            return Err(StepError::ExpectedValue);
        };
        let value = raw.trim().to_owned();
        let stored = validate(&value, *kind, pattern.as_ref(), *required)?;
        let text = Renderer::new(self.program, self.s, script)
            .text(*text)
            .unwrap_or_default();
        let mut head = Head::new(self.name(f), labels::KIND_INPUT, text);
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
        let mut adv = Advance::default();
        self.goto(*next);
        self.enter(&mut adv);
        Ok(adv)
    }
}

/// The answer the person means at a question: by id (as shown), else by
/// label in the session's language or the script's first; an unknown
/// answer is refused with the list of those there are.
fn find_answer(
    r: &Renderer<'_>,
    program: &Program,
    script: &Script,
    answers: &[crate::program::Answer],
    shown: Option<&Shown>,
    given: String,
) -> Result<usize, StepError> {
    let want = given.trim();
    let found = match &shown {
        Some(sh) => sh.answers[..answers.len().min(sh.answers.len())]
            .iter()
            .position(|a| a.id == want),
        None => answers.iter().position(|a| a.id == want),
    };
    let found = found.or_else(|| {
        let default_lang = 0;
        answers.iter().position(|a| {
            r.text(a.label).is_ok_and(|l| {
                l.trim().eq_ignore_ascii_case(want)
                    || l.trim().to_lowercase() == want.to_lowercase()
            }) || program
                .templates
                .source(a.label, default_lang)
                .trim()
                .to_lowercase()
                == want.to_lowercase()
        })
    });
    found.ok_or_else(|| {
        let mut list: Vec<String> = answers
            .iter()
            .map(|a| format!("{} ({})", r.text(a.label).unwrap_or_default(), a.id))
            .collect();
        if script.offer_none {
            list.push(ANSWER_NONE.into());
        }
        list.push(ANSWER_ESCALATE.into());
        StepError::UnknownAnswer {
            given,
            answers: list.join(", "),
        }
    })
}
