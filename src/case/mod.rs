//! The case (contract section 10): an escalation that both sides follow until
//! it is closed. The record of section 8 plus its working state: status,
//! holder, messages to and from the customer, the history, service levels.
//!
//! Domain code only: no HTTP, no SQL. [`apply`] holds every rule of who may
//! do what to a case and what it comes to; the store writes what it returns
//! and the surfaces word its refusals.

pub mod calendar;
pub mod feedback;
pub mod mail;
pub mod reference;
mod rules;
pub mod sla;
#[cfg(test)]
mod tests;

pub use rules::{Act, Actor, Applied, MAX_CUSTOMER_MESSAGES, Refusal, Rules, apply};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// When a case is due: the first staff reply the customer can see
/// (`response`) and its resolution. `None`: no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Due {
    #[serde(with = "time::serde::rfc3339::option")]
    pub response: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolution: Option<OffsetDateTime>,
}

/// What sets a case's due times: the `[sla]` configuration
/// (`case::sla`), or nothing.
pub trait DueTimes: Send + Sync + std::fmt::Debug {
    /// The due times of a case that arrives at `tier` (and `queue`) at `from`.
    fn due(&self, tier: u8, queue: Option<&str>, from: OffsetDateTime) -> Due;
}

/// No service levels configured: nothing is ever due.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTargets;

impl DueTimes for NoTargets {
    fn due(&self, _tier: u8, _queue: Option<&str>, _from: OffsetDateTime) -> Due {
        Due::default()
    }
}

/// Which due time passed unanswered: the first response's, or the
/// resolution's (the names of a case's `breached` list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Breach {
    Response,
    Resolution,
}

impl Breach {
    pub const ALL: [Breach; 2] = [Breach::Response, Breach::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            Breach::Response => "response",
            Breach::Resolution => "resolution",
        }
    }

    pub fn parse(s: &str) -> Option<Breach> {
        Breach::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nobody holds it.
    Open,
    /// A specialist holds it.
    Claimed,
    /// Waiting on the customer (a specialist still holds it).
    Waiting,
    Resolved,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Open,
        Status::Claimed,
        Status::Waiting,
        Status::Resolved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Claimed => "claimed",
            Status::Waiting => "waiting",
            Status::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Who said it: the customer, or staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Party {
    Customer,
    Staff,
}

/// What the customer and staff said to each other (notes stay internal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `m1`, `m2`, …: unique within the case, in order.
    pub id: String,
    pub from: Party,
    /// `customer`, or the staff member's name.
    pub author: String,
    pub text: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// The kinds of the case's history (contract section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventType {
    Created,
    Claimed,
    TakenOver,
    Note,
    Reply,
    CustomerMessage,
    Waiting,
    Resolved,
    Reopened,
    Escalated,
    Breached,
    Erased,
}

/// One change in the case's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: EventType,
    /// `customer`, `system`, or the staff member's name.
    pub by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Made in a connected ticketing system: `connector#transaction`
    /// (section 12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

/// A linked ticket in another system (section 12).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct External {
    pub system: String,
    pub id: String,
    pub url: String,
}

/// The working state of a case: the fields section 10 adds to the record
/// of section 8, under their contract names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    /// The code the customer was shown, e.g. `AUK2-GPA2`.
    pub reference: String,
    pub status: Status,
    /// Who holds it now; after resolving, who held it last (a customer
    /// message that reopens it gives it back to them).
    pub claimed_by: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub claimed_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub first_response_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub resolved_by: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// The text the customer sees once it is resolved.
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub due: Due,
    /// `response` and/or `resolution`: the due times that passed first.
    #[serde(default)]
    pub breached: Vec<String>,
    #[serde(default)]
    pub messages: Vec<Message>,
    #[serde(default)]
    pub events: Vec<Event>,
    /// The readable ticket (`escalation.txt`) in the case's language, as
    /// of the last change.
    #[serde(default)]
    pub ticket_text: String,
    /// The customer's address, when they gave one (staff only).
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub external: Vec<External>,
}

impl Case {
    /// A case just escalated by `by` at `at`: open, with its `created` event.
    pub fn new(
        reference: String,
        email: Option<String>,
        due: Due,
        by: &str,
        at: OffsetDateTime,
    ) -> Case {
        Case {
            reference,
            status: Status::Open,
            claimed_by: None,
            claimed_at: None,
            first_response_at: None,
            resolved_by: None,
            resolved_at: None,
            resolution: None,
            due,
            breached: Vec::new(),
            messages: Vec::new(),
            events: vec![Event {
                kind: EventType::Created,
                by: by.to_owned(),
                at,
                detail: None,
                via: None,
            }],
            ticket_text: String::new(),
            email,
            external: Vec::new(),
        }
    }

    /// A case stored before cases had a working state of their own (only a
    /// status and a holder, beside the record): what can be known of it.
    /// Its history starts with `created` at the record's time; a claimed
    /// one was claimed by the holder at its last change; a resolved one was
    /// resolved by the author of its last note (resolving took a note,
    /// which was the resolution), then.
    pub fn from_legacy(
        record: &crate::escalation::Record,
        reference: String,
        status: Status,
        claimed_by: Option<String>,
        updated_at: OffsetDateTime,
    ) -> Case {
        let mut case = Case::new(reference, None, Due::default(), "system", record.created_at);
        case.status = status;
        case.claimed_by = claimed_by.clone();
        if let Some(holder) = &claimed_by {
            case.claimed_at = Some(updated_at);
            case.events.push(Event {
                kind: EventType::Claimed,
                by: holder.clone(),
                at: updated_at,
                detail: None,
                via: None,
            });
        }
        if status == Status::Resolved {
            let last = record.notes.last();
            let by = last
                .map(|n| n.author.clone())
                .or(claimed_by)
                .unwrap_or_else(|| "system".into());
            let at = last.map_or(updated_at, |n| n.at.max(record.created_at));
            case.resolved_by = Some(by.clone());
            case.resolved_at = Some(at);
            case.resolution = last.map(|n| n.text.clone());
            case.events.push(Event {
                kind: EventType::Resolved,
                by,
                at,
                detail: None,
                via: None,
            });
        }
        case
    }

    /// Removes the personal data of the case (contract section 13): what
    /// the customer and staff wrote to each other, the resolution's text,
    /// the ticket text (it quotes the trail and the parameters) and the
    /// customer's address; records an `erased` event by `by`. Who did what
    /// when stays, so the case's times and counts do not change.
    pub fn erase_personal(&mut self, by: &str, at: OffsetDateTime) {
        for m in &mut self.messages {
            m.text.clear();
        }
        if let Some(r) = &mut self.resolution {
            r.clear();
        }
        self.ticket_text.clear();
        self.email = None;
        self.events.push(Event {
            kind: EventType::Erased,
            by: by.to_owned(),
            at,
            detail: None,
            via: None,
        });
    }

    /// Whether its personal data was removed.
    pub fn erased(&self) -> bool {
        self.events.iter().any(|e| e.kind == EventType::Erased)
    }

    /// The next due time that still matters: the response's until the
    /// first response, the resolution's until resolved; the earlier of the
    /// two. `None` once resolved or without targets (the queue's `due`
    /// order puts those last).
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        let (response, resolution) = self.pending_due();
        match (response, resolution) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The due times still pending: the response's until the current
    /// tier's first reply to the customer, the resolution's until resolved.
    /// A case sent further has its due times computed afresh, and the new
    /// tier owes its own first reply: replies given before it was sent on
    /// do not count (`first_response_at` keeps the case's very first).
    pub fn pending_due(&self) -> (Option<OffsetDateTime>, Option<OffsetDateTime>) {
        if self.status == Status::Resolved {
            return (None, None);
        }
        let sent_on = self
            .events
            .iter()
            .rev()
            .find(|e| e.kind == EventType::Escalated)
            .map(|e| e.at);
        let answered = match sent_on {
            None => self.first_response_at.is_some(),
            Some(since) => self
                .messages
                .iter()
                .any(|m| m.from == Party::Staff && m.at >= since),
        };
        let response = self.due.response.filter(|_| !answered);
        (response, self.due.resolution)
    }

    /// The due time of `kind` while it is still pending and not yet
    /// breached: what the breach timer waits for. A breached one stays in
    /// `due` (and orders the queue) but is not waited for again; a due time
    /// computed afresh (escalating further clears `breached`) is.
    pub fn unbreached_due(&self, kind: Breach) -> Option<OffsetDateTime> {
        if self.breached.iter().any(|b| b == kind.as_str()) {
            return None;
        }
        let (response, resolution) = self.pending_due();
        match kind {
            Breach::Response => response,
            Breach::Resolution => resolution,
        }
    }
}
