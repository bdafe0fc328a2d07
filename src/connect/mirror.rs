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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Due, NoTargets, Rules, apply};
    use crate::escalation::{Note, ScriptRef};
    use std::collections::BTreeMap;
    use time::OffsetDateTime;
    use time::macros::datetime;

    fn t(mins: i64) -> OffsetDateTime {
        datetime!(2026-03-02 09:00 UTC) + time::Duration::minutes(mins)
    }

    /// A case escalated with a note of its own (the customer's), so note
    /// numbering cannot start at the first note.
    fn world() -> (Record, Case) {
        let record = Record {
            id: "esc_1".into(),
            session: "ses_1".into(),
            script: ScriptRef {
                id: "wifi".into(),
                version: "v1".into(),
                title: "Wi-Fi".into(),
            },
            tier: 2,
            queue: Some("network".into()),
            reason: "Red light".into(),
            node: "lights".into(),
            channel: crate::engine::Channel::Customer,
            language: "en".into(),
            params: BTreeMap::new(),
            vars: BTreeMap::new(),
            customer_vars: Vec::new(),
            trail: Vec::new(),
            notes: vec![Note {
                author: "customer".into(),
                text: "Nothing helped.".into(),
                at: t(0),
            }],
            created_at: t(0),
        };
        let case = Case::new(
            "AUK2-GPA2".into(),
            Some("ann@example.com".into()),
            Due::default(),
            "customer",
            t(0),
        );
        (record, case)
    }

    fn act(w: &mut (Record, Case), actor: Actor, a: Act, mins: i64) {
        let rules = Rules {
            now: t(mins),
            reopen_within: time::Duration::days(7),
            due_times: &NoTargets,
        };
        apply(&mut w.0, &mut w.1, &actor, &a, &rules)
            .expect("allowed")
            .expect("a change");
    }

    fn mia() -> Actor {
        Actor::Staff {
            name: "mia".into(),
            tier: 4,
            admin: false,
        }
    }

    #[test]
    fn every_event_after_the_sent_ones_becomes_its_calls_in_order() {
        let mut w = world();
        act(
            &mut w,
            mia(),
            Act::Note {
                text: "Checked the line.".into(),
            },
            1,
        );
        act(
            &mut w,
            mia(),
            Act::Reply {
                text: "Try the blue cable.".into(),
                wait: true,
            },
            2,
        );
        act(
            &mut w,
            Actor::Customer,
            Act::CustomerMessage {
                text: "Still red.".into(),
            },
            3,
        );
        act(
            &mut w,
            mia(),
            Act::EscalateFurther {
                tier: 3,
                queue: Some("fiber".into()),
                note: "Line fault?".into(),
            },
            4,
        );
        act(
            &mut w,
            Actor::External {
                name: "alice".into(),
            },
            Act::Resolve {
                resolution: "Fixed the line.".into(),
                note: None,
            },
            5,
        );
        let (record, case) = &w;
        let all = pushes(record, case, 1, "rt");
        let calls: Vec<Push> = all.iter().flat_map(|(_, c)| c.clone()).collect();
        assert_eq!(
            calls,
            vec![
                Push::Comment {
                    subject: "Note from mia (fixpath)".into(),
                    text: "Checked the line.".into()
                },
                Push::Correspond {
                    subject: "Reply from mia (fixpath)".into(),
                    text: "Try the blue cable.".into()
                },
                Push::Comment {
                    subject: "Message from the customer (fixpath)".into(),
                    text: "Still red.".into()
                },
                Push::Comment {
                    subject: "Escalated by mia to tier 3, queue fiber (fixpath)".into(),
                    text: "Line fault?".into()
                },
                Push::Move {
                    queue: Some("fiber".into())
                },
                Push::Comment {
                    subject: "Resolved by alice (fixpath)".into(),
                    text: "Fixed the line.".into()
                },
                Push::Status("resolved"),
            ]
        );
        // Each step says how many events are covered once it is done.
        assert_eq!(all.last().map(|(n, _)| *n), Some(case.events.len()));
        // From the middle: only what is after.
        let rest = pushes(record, case, case.events.len() - 1, "rt");
        assert_eq!(rest.len(), 1);
    }

    #[test]
    fn what_came_from_the_connectors_own_system_is_not_sent_back() {
        let mut w = world();
        act(
            &mut w,
            Actor::External {
                name: "alice".into(),
            },
            Act::Note {
                text: "From RT".into(),
            },
            1,
        );
        w.1.events[1].via = Some("rt#41".into());
        act(
            &mut w,
            mia(),
            Act::Note {
                text: "From fixpath".into(),
            },
            2,
        );
        let (record, case) = &w;
        let for_rt = pushes(record, case, 1, "rt");
        assert_eq!(for_rt[0], (2, vec![]));
        assert_eq!(
            for_rt[1].1,
            vec![Push::Comment {
                subject: "Note from mia (fixpath)".into(),
                text: "From fixpath".into()
            }]
        );
        // Another connector (named differently) gets both.
        let other = pushes(record, case, 1, "rt-eu");
        assert_eq!(other.iter().filter(|(_, c)| !c.is_empty()).count(), 2);
    }

    fn txn(kind: &str, creator: &str, new_value: Option<&str>) -> Transaction {
        Transaction {
            id: 7,
            kind: kind.into(),
            creator: creator.into(),
            new_value: new_value.map(Into::into),
        }
    }

    #[test]
    fn ticket_transactions_become_acts_on_the_case() {
        let (_, case) = world();
        let alice = Actor::External {
            name: "alice".into(),
        };
        assert_eq!(
            act_of(
                &txn("Correspond", "alice", None),
                Some("Try this.\n"),
                &case,
                "-"
            ),
            Some((
                alice.clone(),
                Act::Reply {
                    text: "Try this.".into(),
                    wait: false
                }
            ))
        );
        // The requestor writing to RT is the customer writing.
        assert_eq!(
            act_of(
                &txn("Correspond", "Ann@Example.com", None),
                Some("Thanks"),
                &case,
                "-"
            ),
            Some((
                Actor::Customer,
                Act::CustomerMessage {
                    text: "Thanks".into()
                }
            ))
        );
        assert_eq!(
            act_of(&txn("Comment", "alice", None), Some("internal"), &case, "-"),
            Some((
                alice.clone(),
                Act::Note {
                    text: "internal".into()
                }
            ))
        );
        // Resolved before anyone wrote to the customer: the fallback text.
        assert_eq!(
            act_of(
                &txn("Status", "alice", Some("resolved")),
                None,
                &case,
                "Resolved by support."
            ),
            Some((
                alice,
                Act::Resolve {
                    resolution: "Resolved by support.".into(),
                    note: None
                }
            ))
        );
        assert_eq!(
            act_of(&txn("Status", "alice", Some("open")), None, &case, "-"),
            None
        );
        assert_eq!(
            act_of(&txn("Comment", "alice", None), Some("  \n"), &case, "-"),
            None
        );
        assert_eq!(
            act_of(&txn("EmailRecord", "alice", None), None, &case, "-"),
            None
        );
    }
}
