//! What goes over to a ticketing system and what comes back, as plain data:
//! the case's events after the ones already sent become calls
//! ([`pushes`]); a ticket's transactions become acts on the case
//! ([`act_of`]). No HTTP here: [`super::rt`] makes the calls.

use crate::case::{Act, Actor, Case, EventType, Party};
use crate::escalation::Record;

/// One call to the ticketing system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Push {
    /// An internal comment.
    Comment { subject: String, text: String },
    /// Correspondence: what the customer is told.
    Correspond { subject: String, text: String },
    /// Into another queue (the mapped queue of the case's queue).
    Move { queue: Option<String> },
    /// `resolved`, `open`.
    Status(&'static str),
}

/// The calls for event `i` of the case onwards, each with the number of
/// events covered once it is done. Events made in this connector's own
/// system (`via` `connector#…`) are passed over: they came from there.
pub fn pushes(
    record: &Record,
    case: &Case,
    from: usize,
    connector: &str,
) -> Vec<(usize, Vec<Push>)> {
    let own = format!("{connector}#");
    // Notes are taken from the end: the record may start with notes of its
    // own (the escalation's), and every later note comes with an event.
    let consumers = case
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventType::Note | EventType::Escalated))
        .count();
    let first_note = record.notes.len().checked_sub(consumers);
    let mut note_k = 0usize;
    let mut message_k = 0usize;
    let mut out = Vec::new();
    for (i, ev) in case.events.iter().enumerate() {
        let note = match ev.kind {
            EventType::Note | EventType::Escalated => {
                note_k += 1;
                first_note.and_then(|f| record.notes.get(f + note_k - 1))
            }
            _ => None,
        };
        let message = match ev.kind {
            EventType::Reply | EventType::CustomerMessage => {
                message_k += 1;
                case.messages.get(message_k - 1)
            }
            _ => None,
        };
        if i < from {
            continue;
        }
        if ev.via.as_deref().is_some_and(|v| v.starts_with(&own)) {
            out.push((i + 1, Vec::new()));
            continue;
        }
        let calls = match ev.kind {
            EventType::Note => note
                .map(|n| Push::Comment {
                    subject: format!("Note from {} (fixpath)", n.author),
                    text: n.text.clone(),
                })
                .into_iter()
                .collect(),
            EventType::Reply => message
                .filter(|m| m.from == Party::Staff)
                .map(|m| Push::Correspond {
                    subject: format!("Reply from {} (fixpath)", m.author),
                    text: m.text.clone(),
                })
                .into_iter()
                .collect(),
            EventType::CustomerMessage => message
                .filter(|m| m.from == Party::Customer)
                .map(|m| Push::Comment {
                    subject: "Message from the customer (fixpath)".to_owned(),
                    text: m.text.clone(),
                })
                .into_iter()
                .collect(),
            EventType::Escalated => {
                let mut v: Vec<Push> = note
                    .map(|n| Push::Comment {
                        subject: format!(
                            "Escalated by {} to {} (fixpath)",
                            n.author,
                            ev.detail.as_deref().unwrap_or("a higher tier")
                        ),
                        text: n.text.clone(),
                    })
                    .into_iter()
                    .collect();
                v.push(Push::Move {
                    queue: record.queue.clone(),
                });
                v
            }
            EventType::Resolved => {
                let mut v = Vec::new();
                if let Some(r) = case.resolution.as_ref().filter(|r| !r.trim().is_empty()) {
                    v.push(Push::Comment {
                        subject: format!("Resolved by {} (fixpath)", ev.by),
                        text: r.clone(),
                    });
                }
                v.push(Push::Status("resolved"));
                v
            }
            EventType::Reopened => vec![Push::Status("open")],
            EventType::Created
            | EventType::Claimed
            | EventType::TakenOver
            | EventType::Waiting
            | EventType::Breached
            | EventType::Erased => Vec::new(),
        };
        out.push((i + 1, calls));
    }
    out
}

/// A transaction of a linked ticket, as far as it matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub id: i64,
    /// `Correspond`, `Comment`, `Status`, `Create`, …
    pub kind: String,
    /// The user name of who made it.
    pub creator: String,
    /// For a `Status` transaction: the new status.
    pub new_value: Option<String>,
}

impl Transaction {
    /// Whether its text matters (a comment or correspondence).
    pub fn has_text(&self) -> bool {
        matches!(self.kind.as_str(), "Correspond" | "Comment")
    }
}

/// What a transaction made by someone else than the connector comes to on
/// the case; `None`: nothing (a field change, an e-mail record, …).
/// `text` is its message (for comments and correspondence); a
/// correspondence from the customer's own address is the customer's.
/// `resolved` is what the customer reads when the ticket is resolved there
/// before anyone wrote to them.
pub fn act_of(
    t: &Transaction,
    text: Option<&str>,
    case: &Case,
    resolved: &str,
) -> Option<(Actor, Act)> {
    let staff = || Actor::External {
        name: t.creator.clone(),
    };
    let text = text.map(str::trim_end).filter(|x| !x.trim().is_empty());
    match t.kind.as_str() {
        "Correspond" => {
            let text = text?.to_owned();
            let from_customer = case
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(&t.creator));
            if from_customer {
                Some((Actor::Customer, Act::CustomerMessage { text }))
            } else {
                Some((staff(), Act::Reply { text, wait: false }))
            }
        }
        "Comment" => Some((
            staff(),
            Act::Note {
                text: text?.to_owned(),
            },
        )),
        "Status" if t.new_value.as_deref() == Some("resolved") => {
            // The customer is shown the last thing staff told them; the
            // ticketing system's resolution has no text of its own.
            let resolution = case
                .messages
                .iter()
                .rev()
                .find(|m| m.from == Party::Staff)
                .map_or_else(|| resolved.to_owned(), |m| m.text.clone());
            Some((
                staff(),
                Act::Resolve {
                    resolution,
                    note: None,
                },
            ))
        }
        _ => None,
    }
}
