//! What a step shows: rendered for the session, or shared by the engine's
//! per-node cache when every text is a literal.

use super::super::labels::{self, ID_DONE, ID_ESCALATE, ID_NONE};
use super::super::shared::{NodeViews, Shown};
use super::render::Renderer;
use super::{StepError, check_pins, node_name};
use crate::engine::{AnswerRef, Channel, InputSpec, Session, Status, Step};
use crate::program::{InputType, Node, NodeKind, Program, Script, ScriptIdx, Text, TextId};
use petgraph::stable_graph::NodeIndex;
use std::sync::Arc;

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
    let at = (pins.entry(frame.pin).0, frame.node);
    let shown = match shared_shown(program, s, at, script, node, depth) {
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

/// What the engine keeps of a node that shows only literals: the same for
/// every session in this language, channel (customer or staff) and depth
/// (plain or qualified name). `None` for a node with a template, or a
/// sub-flow that does not speak the session's language (it shows its first
/// while the engine's own words follow the session).
pub(super) fn shared_shown<'p>(
    program: &'p Program,
    s: &Session,
    at: (ScriptIdx, u32),
    script: &Script,
    node: &Node,
    depth: usize,
) -> Option<&'p Shown> {
    let l = script.language_index(&s.language)?;
    if !node.shows_only_literals(&program.templates) {
        return None;
    }
    let customer = s.channel == Channel::Customer;
    let langs = script.languages.len();
    let slot = (2 * l + usize::from(customer)) * 2 + usize::from(depth > 1);
    NodeViews::of(program)?
        .node(at.0, at.1)?
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
