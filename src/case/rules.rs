//! Every rule of contract section 10 in one function, [`apply`]: who may act
//! on a case (the tier rule, the holder rule), what each act changes
//! (status, holder, times, messages, notes), the event it appends, the
//! webhook event it announces and the mail it sends.

use super::mail::MailKind;
use super::{Breach, Case, DueTimes, Event, EventType, Message, Party, Status};
use crate::escalation::{Note, Record};
use time::OffsetDateTime;

/// Messages a customer may leave on one case: every message is kept in the
/// case and sent with it, so a stranger cannot grow it without end.
pub const MAX_CUSTOMER_MESSAGES: usize = 200;

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A specialist (or an admin: every tier).
    Staff { name: String, tier: u8, admin: bool },
    /// The session's customer (by its token).
    Customer,
    /// The server itself: its breach timer.
    System,
    /// Someone in a connected ticketing system (section 12), by their name
    /// there: they work the case in that system, so fixpath's holder rule
    /// (who claimed it here) does not stop them, and they claim nothing.
    External { name: String },
}

impl Actor {
    pub fn name(&self) -> &str {
        match self {
            Actor::Staff { name, .. } => name,
            Actor::Customer => "customer",
            Actor::System => "system",
            Actor::External { name } => name,
        }
    }

    /// The tier rule: a specialist of tier N sees and acts on cases of tier
    /// at most N; an admin on all.
    pub fn may_see(&self, tier: u8) -> bool {
        match self {
            Actor::Staff { admin: true, .. } => true,
            Actor::Staff { tier: own, .. } => tier <= *own,
            Actor::Customer | Actor::System | Actor::External { .. } => true,
        }
    }
}

/// What is done to a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// Take it: an open case for the actor; a case someone else holds only
    /// with `take_over`.
    Claim { take_over: bool },
    /// An internal note (section 8's `notes`); taken in every state and
    /// from anyone who may see the case, and claims nothing.
    Note { text: String },
    /// A message to the customer; `wait` sets `waiting`.
    Reply { text: String, wait: bool },
    /// The customer writes.
    CustomerMessage { text: String },
    /// `resolution` is what the customer sees; `note` stays internal.
    Resolve {
        resolution: String,
        note: Option<String>,
    },
    /// To a higher tier (at most 4): open again there, holder cleared,
    /// due times afresh.
    EscalateFurther {
        tier: u8,
        queue: Option<String>,
        note: String,
    },
    /// A due time passed unanswered (the server's timer): recorded once
    /// per due time; nothing to do when it has not passed (any more) or
    /// was recorded already.
    Breach { kind: Breach },
}

/// What the rules need beyond the case: the time, and the settings.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    pub now: OffsetDateTime,
    /// A customer message this long after resolving reopens the case; later
    /// ones are refused.
    pub reopen_within: time::Duration,
    pub due_times: &'a dyn DueTimes,
}

/// Why an act was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The case is above the actor's tier: for them it is not there.
    OutOfTier { tier: u8 },
    /// Someone else holds it (reply, resolve, escalate; a claim without
    /// `take_over`).
    ClaimedByOther { holder: String },
    /// Resolved already: only notes, and a customer's message within
    /// `reopen_within`, are taken.
    Resolved,
    /// The customer writes on a case resolved longer ago than
    /// `reopen_within`.
    Closed,
    /// Not a tier above the case's, or above 4.
    InvalidTier { tier: u8, from: u8 },
    /// The customer has written [`MAX_CUSTOMER_MESSAGES`] already.
    TooManyMessages,
    /// A customer may only write messages.
    StaffOnly,
    /// Only the server records breaches, and it does nothing else.
    SystemOnly,
    /// Its personal data was erased: it takes no more changes.
    Erased,
}

/// What an act came to, for the store to write and announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The webhook event: `escalation.claimed`, `escalation.replied`, …
    pub webhook: &'static str,
    /// The mail the customer gets (when they gave an address and mail is
    /// on).
    pub mail: Option<MailKind>,
    /// The mail's text: the reply, or the resolution.
    pub mail_text: Option<String>,
}

/// Applies `act` by `actor` to the case (`record` and its working state
/// `case`), changing both, or refuses it and changes nothing. `Ok(None)`:
/// allowed but nothing to change (claiming what one holds already). Every
/// change appends at least one event.
pub fn apply(
    record: &mut Record,
    case: &mut Case,
    actor: &Actor,
    act: &Act,
    rules: &Rules<'_>,
) -> Result<Option<Applied>, Refusal> {
    if !actor.may_see(record.tier) {
        return Err(Refusal::OutOfTier { tier: record.tier });
    }
    if *actor == Actor::Customer && !matches!(act, Act::CustomerMessage { .. }) {
        return Err(Refusal::StaffOnly);
    }
    if (*actor == Actor::System) != matches!(act, Act::Breach { .. }) {
        return Err(Refusal::SystemOnly);
    }
    // Work on copies: a refusal half-way changes nothing.
    let mut r = record.clone();
    let mut c = case.clone();
    let applied = act_on(&mut r, &mut c, actor, act, rules)?;
    if applied.is_some() {
        *record = r;
        *case = c;
    }
    Ok(applied)
}

fn act_on(
    record: &mut Record,
    case: &mut Case,
    actor: &Actor,
    act: &Act,
    rules: &Rules<'_>,
) -> Result<Option<Applied>, Refusal> {
    let now = rules.now;
    let me = actor.name().to_owned();
    let event = |kind, detail: Option<String>| Event {
        kind,
        by: me.clone(),
        at: now,
        detail,
        via: None,
    };
    let applied = |webhook, mail, mail_text| {
        Ok(Some(Applied {
            webhook,
            mail,
            mail_text,
        }))
    };
    // What a case holds after erasure is its history; nothing is added to
    // it, so nothing personal comes back.
    if case.erased() {
        return Err(Refusal::Erased);
    }
    match act {
        Act::Claim { take_over } => {
            not_resolved(case)?;
            match case.claimed_by.clone() {
                Some(holder) if holder == me && case.status != Status::Open => Ok(None),
                Some(holder) if case.status != Status::Open => {
                    if !take_over {
                        return Err(Refusal::ClaimedByOther { holder });
                    }
                    case.claimed_by = Some(me.clone());
                    case.claimed_at = Some(now);
                    case.events
                        .push(event(EventType::TakenOver, Some(format!("from {holder}"))));
                    applied("escalation.taken_over", None, None)
                }
                _ => {
                    claim(case, &me, now);
                    applied("escalation.claimed", None, None)
                }
            }
        }
        Act::Note { text } => {
            record.notes.push(Note {
                author: me.clone(),
                text: text.clone(),
                at: now,
            });
            case.events.push(event(EventType::Note, None));
            applied("escalation.note_added", None, None)
        }
        Act::Reply { text, wait } => {
            not_resolved(case)?;
            hold(case, actor, now)?;
            add_message(case, Party::Staff, &me, text, now);
            case.first_response_at.get_or_insert(now);
            case.events.push(event(EventType::Reply, None));
            if *wait {
                case.status = Status::Waiting;
                case.events.push(event(EventType::Waiting, None));
            } else if case.claimed_by.is_some() {
                case.status = Status::Claimed;
            }
            applied(
                "escalation.replied",
                Some(MailKind::Reply),
                Some(text.clone()),
            )
        }
        Act::CustomerMessage { text } => {
            let written = case
                .messages
                .iter()
                .filter(|m| m.from == Party::Customer)
                .count();
            if written >= MAX_CUSTOMER_MESSAGES {
                return Err(Refusal::TooManyMessages);
            }
            let reopen = match (case.status, case.resolved_at) {
                (Status::Resolved, Some(at)) if now - at <= rules.reopen_within => true,
                (Status::Resolved, _) => return Err(Refusal::Closed),
                _ => false,
            };
            add_message(case, Party::Customer, &me, text, now);
            case.events.push(event(EventType::CustomerMessage, None));
            // Back to whoever held it: the customer answered (waiting), or
            // came back after the resolution (reopened).
            let back = if case.claimed_by.is_some() {
                Status::Claimed
            } else {
                Status::Open
            };
            if reopen {
                case.status = back;
                case.resolved_by = None;
                case.resolved_at = None;
                case.resolution = None;
                case.events.push(event(EventType::Reopened, None));
                return applied("escalation.reopened", None, None);
            }
            if case.status == Status::Waiting {
                case.status = back;
            }
            applied("escalation.customer_message", None, None)
        }
        Act::Resolve { resolution, note } => {
            not_resolved(case)?;
            hold(case, actor, now)?;
            if let Some(n) = note {
                record.notes.push(Note {
                    author: me.clone(),
                    text: n.clone(),
                    at: now,
                });
                case.events.push(event(EventType::Note, None));
            }
            case.status = Status::Resolved;
            case.resolved_by = Some(me.clone());
            case.resolved_at = Some(now);
            case.resolution = Some(resolution.clone());
            // The customer sees the resolution: a response, if the first.
            case.first_response_at.get_or_insert(now);
            case.events.push(event(EventType::Resolved, None));
            applied(
                "escalation.resolved",
                Some(MailKind::Resolved),
                Some(resolution.clone()),
            )
        }
        Act::EscalateFurther { tier, queue, note } => {
            not_resolved(case)?;
            if let Some(holder) = &case.claimed_by
                && *holder != me
                && case.status != Status::Open
                && !matches!(actor, Actor::External { .. })
            {
                return Err(Refusal::ClaimedByOther {
                    holder: holder.clone(),
                });
            }
            if *tier <= record.tier || *tier > 4 {
                return Err(Refusal::InvalidTier {
                    tier: *tier,
                    from: record.tier,
                });
            }
            record.tier = *tier;
            if let Some(q) = queue {
                record.queue = Some(q.clone());
            }
            record.notes.push(Note {
                author: me.clone(),
                text: note.clone(),
                at: now,
            });
            case.status = Status::Open;
            case.claimed_by = None;
            case.claimed_at = None;
            case.due = rules.due_times.due(*tier, record.queue.as_deref(), now);
            case.breached.clear();
            let detail = match &record.queue {
                Some(q) => format!("tier {tier}, queue {q}"),
                None => format!("tier {tier}"),
            };
            case.events.push(event(EventType::Escalated, Some(detail)));
            applied("escalation.escalated", None, None)
        }
        Act::Breach { kind } => {
            // "Passed": strictly after the due time.
            match case.unbreached_due(*kind) {
                Some(due) if now > due => {
                    case.breached.push(kind.as_str().to_owned());
                    case.events
                        .push(event(EventType::Breached, Some(kind.as_str().to_owned())));
                    applied("escalation.breached", None, None)
                }
                _ => Ok(None),
            }
        }
    }
}

fn not_resolved(case: &Case) -> Result<(), Refusal> {
    if case.status == Status::Resolved {
        return Err(Refusal::Resolved);
    }
    Ok(())
}

fn claim(case: &mut Case, me: &str, now: OffsetDateTime) {
    case.status = Status::Claimed;
    case.claimed_by = Some(me.to_owned());
    case.claimed_at = Some(now);
    case.events.push(Event {
        kind: EventType::Claimed,
        by: me.to_owned(),
        at: now,
        detail: None,
        via: None,
    });
}

/// The holder rule: acting on an open case claims it for the actor; on a
/// case someone else holds, it is refused. Someone in a connected system
/// neither claims nor is refused (they hold the ticket there).
fn hold(case: &mut Case, actor: &Actor, now: OffsetDateTime) -> Result<(), Refusal> {
    let me = actor.name();
    if matches!(actor, Actor::External { .. }) {
        return Ok(());
    }
    match &case.claimed_by {
        _ if case.status == Status::Open => {
            claim(case, me, now);
            Ok(())
        }
        Some(holder) if holder != me => Err(Refusal::ClaimedByOther {
            holder: holder.clone(),
        }),
        _ => Ok(()),
    }
}

fn add_message(case: &mut Case, from: Party, author: &str, text: &str, at: OffsetDateTime) {
    let id = format!("m{}", case.messages.len() + 1);
    case.messages.push(Message {
        id,
        from,
        author: author.to_owned(),
        text: text.to_owned(),
        at,
    });
}
