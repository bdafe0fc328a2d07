//! The escalation record (contract section 8): what tier 2 receives, in the
//! queue, the API and every webhook. Frozen from a session when it escalates,
//! so later edits to the script or the session never change what was sent.

use crate::engine::{Ending, Session, TrailEntry};
use crate::program::Program;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use time::OffsetDateTime;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptRef {
    pub id: String,
    pub version: String,
    pub title: String,
}

/// A note on an escalation: the person's own words when they asked for help,
/// and every specialist's note after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub author: String,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub session: String,
    pub script: ScriptRef,
    pub tier: u8,
    pub queue: Option<String>,
    pub reason: String,
    pub node: String,
    pub channel: crate::engine::Channel,
    pub language: String,
    pub params: BTreeMap<String, Json>,
    pub vars: BTreeMap<String, Json>,
    /// The names in `vars` whose starting value the customer gave (through
    /// the API, on a session no staff member started): values nobody
    /// checked. Absent when there are none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub customer_vars: Vec<String>,
    pub trail: Vec<TrailEntry>,
    pub notes: Vec<Note>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

impl Record {
    /// Removes the personal data the record froze (contract section 13):
    /// parameters, variables, the trail's texts and values, the reason's
    /// text (it may be templated), the notes' texts.
    pub fn erase_personal(&mut self) {
        self.params.clear();
        self.vars.clear();
        self.customer_vars.clear();
        self.reason.clear();
        for e in &mut self.trail {
            e.erase_personal();
        }
        for n in &mut self.notes {
            n.text.clear();
        }
    }

    /// Freezes an escalated session into a record. `None` when the session
    /// did not escalate.
    pub fn from_session(
        program: &Program,
        s: &Session,
        id: &str,
        session_id: &str,
        now: OffsetDateTime,
    ) -> Option<Record> {
        let Some(Ending::Escalated {
            node,
            reason,
            tier,
            queue,
            notes,
        }) = s.ending.as_deref()
        else {
            return None;
        };
        let (title, version) = match program.get(&s.script) {
            Some((_, sc)) => {
                let lang = sc.language_index(&s.language).unwrap_or(0);
                (
                    program.templates.source(sc.title, lang).into_owned(),
                    sc.version.clone(),
                )
            }
            None => (
                s.script.clone(),
                s.pins
                    .first()
                    .map(|p| p.version.to_string())
                    .unwrap_or_default(),
            ),
        };
        // The person's own note: from the trail entry where they asked for help.
        let author = s
            .trail
            .iter()
            .rev()
            .find(|e| e.note().is_some())
            .map(|e| e.actor().to_string())
            .unwrap_or_default();
        let notes = notes
            .iter()
            .map(|t| Note {
                author: author.clone(),
                text: t.clone(),
                at: now,
            })
            .collect();
        Some(Record {
            id: id.to_owned(),
            session: session_id.to_owned(),
            script: ScriptRef {
                id: s.script.clone(),
                version,
                title,
            },
            tier: *tier,
            queue: queue.clone(),
            reason: reason.clone(),
            node: node.clone(),
            channel: s.channel,
            language: s.language.clone(),
            params: s.params.to_map(),
            vars: s.vars.to_map(),
            customer_vars: Vec::new(),
            trail: s.trail.clone(),
            notes,
            created_at: now,
        })
    }

    /// The record as people read it in a ticket (`templates/escalation.txt.j2`),
    /// worded in the record's language (English where the product does not
    /// speak it).
    pub fn to_text(&self) -> Result<String, minijinja::Error> {
        let t = crate::http::web::i18n::catalogue_value(&self.language);
        crate::render::render(
            "escalation.txt.j2",
            minijinja::context! { r => self, t => t },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ticket text speaks the case's language.
    #[test]
    fn the_ticket_text_is_in_the_records_language() {
        let mut r = Record {
            id: "esc_1".into(),
            session: "ses_1".into(),
            script: ScriptRef {
                id: "printer".into(),
                version: "v1".into(),
                title: "Drucker druckt nicht".into(),
            },
            tier: 2,
            queue: Some("print".into()),
            reason: "Rotes Licht".into(),
            node: "light".into(),
            channel: crate::engine::Channel::Customer,
            language: "de".into(),
            params: BTreeMap::new(),
            vars: BTreeMap::new(),
            customer_vars: Vec::new(),
            trail: Vec::new(),
            notes: vec![Note {
                author: "sam".into(),
                text: "Toner getauscht".into(),
                at: OffsetDateTime::UNIX_EPOCH,
            }],
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let de = r.to_text().unwrap();
        assert!(
            de.starts_with("ESKALATION esc_1 - Stufe 2, Warteschlange print"),
            "{de}"
        );
        assert!(de.contains("Grund:    Rotes Licht"), "{de}");
        assert!(de.contains("Notizen"), "{de}");
        assert!(!de.contains("Reason") && !de.contains("Notes"), "{de}");
        r.language = "xx".into();
        assert!(
            r.to_text()
                .unwrap()
                .starts_with("ESCALATION esc_1 - tier 2")
        );
    }
}
