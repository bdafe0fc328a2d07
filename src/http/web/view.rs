//! What the customer's, the agent's and the specialist's pages show alike:
//! a trail as the templates read it, a validation problem on a field, a
//! step's answers split into the script's own and the two fixed ones.

use crate::engine::{ANSWER_ESCALATE, ANSWER_NONE, AnswerRef, Step, Text, TrailEntry};
use serde::Serialize;
use time::OffsetDateTime;

pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A trail entry as the pages show it (every field present, for the
/// templates' strict undefined).
#[derive(Serialize)]
pub struct TrailView {
    pub seq: u32,
    pub node: Text,
    pub kind: Text,
    /// How the session ended (`resolve` / `escalate`, by `system`): the
    /// customer's pages show it as the outcome, not as a question.
    pub outcome: bool,
    pub text: Text,
    pub say: Option<Text>,
    pub answer: Option<Text>,
    pub value: Option<Text>,
    pub note: Option<Text>,
    pub actor: Text,
    pub at: String,
    pub at_short: String,
    pub retracted: bool,
    pub set: Vec<(String, String)>,
}

pub fn trail_view(trail: &[TrailEntry]) -> Vec<TrailView> {
    trail
        .iter()
        .map(|e| {
            let at = e.at();
            TrailView {
                seq: e.seq(),
                node: e.node().clone(),
                kind: e.kind().clone(),
                outcome: e.actor() == "system"
                    && matches!(e.kind().as_str(), "resolve" | "escalate"),
                text: e.text().clone(),
                say: e.say().cloned(),
                answer: e.answer().map(|a| a.label.clone()),
                value: e.value().map(Text::from),
                note: e.note().cloned(),
                actor: e.actor().clone(),
                at: rfc3339(at),
                at_short: format!("{:02}:{:02}", at.hour(), at.minute()),
                retracted: e.retracted(),
                set: e
                    .set()
                    .iter()
                    .map(|(k, v)| (k.to_string(), super::json_text(v)))
                    .collect(),
            }
        })
        .collect()
}

/// A validation problem, pointing at its field.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct FieldError {
    pub field: &'static str,
    pub text: String,
}

/// Splits the step's answers: the script's own, "None of these", and
/// "Talk to a person" (the last two always drawn in the same place).
pub fn split_answers(step: &Step) -> (Vec<AnswerRef>, Option<AnswerRef>, Option<AnswerRef>) {
    let mut own = Vec::new();
    let (mut none, mut talk) = (None, None);
    for a in step.answers.iter() {
        match a.id.as_str() {
            ANSWER_NONE => none = Some(a.clone()),
            ANSWER_ESCALATE => talk = Some(a.clone()),
            _ => own.push(a.clone()),
        }
    }
    (own, none, talk)
}

/// The author's `invalid` text of an input step, if it says anything.
pub fn own_invalid(step: &Step) -> Option<String> {
    step.input
        .as_ref()
        .and_then(|i| i.invalid.as_deref())
        .filter(|t| !t.trim().is_empty())
        .map(str::to_owned)
}
