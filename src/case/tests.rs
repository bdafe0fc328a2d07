//! The rules of section 10, one by one.

use super::*;
use crate::escalation::{Record, ScriptRef};
use std::collections::BTreeMap;
use time::macros::datetime;

fn t(mins: i64) -> OffsetDateTime {
    datetime!(2026-03-02 09:00 UTC) + time::Duration::minutes(mins)
}

fn record(tier: u8) -> Record {
    Record {
        id: "esc_1".into(),
        session: "ses_1".into(),
        script: ScriptRef {
            id: "wifi".into(),
            version: "v1".into(),
            title: "Wi-Fi".into(),
        },
        tier,
        queue: Some("network".into()),
        reason: "Red light".into(),
        node: "lights".into(),
        channel: crate::engine::Channel::Customer,
        language: "en".into(),
        params: BTreeMap::new(),
        vars: BTreeMap::new(),
        customer_vars: Vec::new(),
        trail: Vec::new(),
        notes: Vec::new(),
        created_at: t(0),
    }
}

fn staff(name: &str, tier: u8) -> Actor {
    Actor::Staff {
        name: name.into(),
        tier,
        admin: false,
    }
}

fn admin(name: &str) -> Actor {
    Actor::Staff {
        name: name.into(),
        tier: 1,
        admin: true,
    }
}

/// Due in an hour (response) and a day (resolution) from arrival.
#[derive(Debug)]
struct Hourly;

impl DueTimes for Hourly {
    fn due(&self, tier: u8, _queue: Option<&str>, from: OffsetDateTime) -> Due {
        Due {
            response: Some(from + time::Duration::hours(i64::from(tier))),
            resolution: Some(from + time::Duration::days(1)),
        }
    }
}

#[derive(Clone)]
struct World {
    record: Record,
    case: Case,
    now: OffsetDateTime,
}

impl World {
    fn new(tier: u8) -> World {
        World {
            record: record(tier),
            case: Case::new("AUK2-GPA2".into(), None, Due::default(), "customer", t(0)),
            now: t(1),
        }
    }

    fn act(&mut self, actor: &Actor, act: Act) -> Result<Option<Applied>, Refusal> {
        self.now += time::Duration::minutes(1);
        let rules = Rules {
            now: self.now,
            reopen_within: time::Duration::days(7),
            due_times: &Hourly,
        };
        apply(&mut self.record, &mut self.case, actor, &act, &rules)
    }

    fn ok(&mut self, actor: &Actor, act: Act) -> Applied {
        self.act(actor, act)
            .expect("allowed")
            .expect("something changed")
    }

    fn kinds(&self) -> Vec<EventType> {
        self.case.events.iter().map(|e| e.kind).collect()
    }
}

fn reply(text: &str, wait: bool) -> Act {
    Act::Reply {
        text: text.into(),
        wait,
    }
}

fn says(text: &str) -> Act {
    Act::CustomerMessage { text: text.into() }
}

fn resolve(text: &str) -> Act {
    Act::Resolve {
        resolution: text.into(),
        note: None,
    }
}

#[test]
fn a_new_case_is_open_with_its_created_event() {
    let w = World::new(2);
    assert_eq!(w.case.status, Status::Open);
    assert_eq!(w.kinds(), [EventType::Created]);
    assert_eq!(w.case.events[0].by, "customer");
}

#[test]
fn the_first_claim_wins_and_a_take_over_is_recorded() {
    let mut w = World::new(2);
    let a = w.ok(&staff("sam", 2), Act::Claim { take_over: false });
    assert_eq!(a.webhook, "escalation.claimed");
    assert_eq!(w.case.status, Status::Claimed);
    assert_eq!(w.case.claimed_by.as_deref(), Some("sam"));
    assert_eq!(w.case.claimed_at, Some(t(2)));
    // Claiming what one holds changes nothing.
    assert_eq!(
        w.act(&staff("sam", 2), Act::Claim { take_over: false }),
        Ok(None)
    );
    assert_eq!(
        w.act(&staff("kim", 2), Act::Claim { take_over: false }),
        Err(Refusal::ClaimedByOther {
            holder: "sam".into()
        })
    );
    let a = w.ok(&staff("kim", 2), Act::Claim { take_over: true });
    assert_eq!(a.webhook, "escalation.taken_over");
    assert_eq!(w.case.claimed_by.as_deref(), Some("kim"));
    assert_eq!(w.case.claimed_at, Some(t(5)));
    let last = w.case.events.last().unwrap();
    assert_eq!(
        (last.kind, last.by.as_str(), last.detail.as_deref()),
        (EventType::TakenOver, "kim", Some("from sam"))
    );
}

#[test]
fn the_tier_rule_hides_higher_cases_except_from_admins() {
    let mut w = World::new(3);
    let before = (w.record.clone(), w.case.clone());
    assert_eq!(
        w.act(&staff("sam", 2), Act::Claim { take_over: false }),
        Err(Refusal::OutOfTier { tier: 3 })
    );
    assert_eq!(
        w.act(&staff("sam", 2), Act::Note { text: "x".into() }),
        Err(Refusal::OutOfTier { tier: 3 })
    );
    assert_eq!(
        (w.record.clone(), w.case.clone()),
        before,
        "nothing changed"
    );
    w.ok(&staff("kim", 3), Act::Claim { take_over: false });
    w.ok(&admin("root"), Act::Claim { take_over: true });
    assert_eq!(w.case.claimed_by.as_deref(), Some("root"));
}

#[test]
fn acting_on_an_open_case_claims_it_and_on_a_held_one_is_refused() {
    let mut w = World::new(2);
    let a = w.ok(&staff("sam", 2), reply("Is the cable in?", false));
    assert_eq!(a.webhook, "escalation.replied");
    assert_eq!(a.mail, Some(mail::MailKind::Reply));
    assert_eq!(a.mail_text.as_deref(), Some("Is the cable in?"));
    assert_eq!(w.case.claimed_by.as_deref(), Some("sam"));
    assert_eq!(
        w.kinds(),
        [EventType::Created, EventType::Claimed, EventType::Reply]
    );
    let held = Err(Refusal::ClaimedByOther {
        holder: "sam".into(),
    });
    assert_eq!(w.act(&staff("kim", 2), reply("x", false)), held);
    assert_eq!(w.act(&staff("kim", 2), resolve("x")), held);
    assert_eq!(
        w.act(
            &staff("kim", 2),
            Act::EscalateFurther {
                tier: 3,
                queue: None,
                note: "x".into()
            }
        ),
        held
    );
    // A note is not acting on the case: anyone who sees it may add one.
    w.ok(
        &staff("kim", 2),
        Act::Note {
            text: "seen it".into(),
        },
    );
    assert_eq!(w.record.notes.last().unwrap().author, "kim");
    assert_eq!(w.case.claimed_by.as_deref(), Some("sam"));
}

#[test]
fn replies_set_the_first_response_and_waiting() {
    let mut w = World::new(2);
    w.ok(&staff("sam", 2), Act::Claim { take_over: false });
    assert_eq!(w.case.first_response_at, None, "a claim is no response");
    w.ok(
        &staff("sam", 2),
        Act::Note {
            text: "internal".into(),
        },
    );
    assert_eq!(w.case.first_response_at, None, "nor is a note");
    w.ok(&staff("sam", 2), reply("Which model?", true));
    assert_eq!(w.case.status, Status::Waiting);
    assert_eq!(w.case.first_response_at, Some(t(4)));
    let m = &w.case.messages[0];
    assert_eq!(
        (m.id.as_str(), m.from, m.author.as_str(), m.text.as_str()),
        ("m1", Party::Staff, "sam", "Which model?")
    );
    assert_eq!(w.kinds().last(), Some(&EventType::Waiting));
    // The customer answers: back to the holder.
    let a = w.ok(&Actor::Customer, says("An X200"));
    assert_eq!(a.webhook, "escalation.customer_message");
    assert_eq!(a.mail, None);
    assert_eq!(w.case.status, Status::Claimed);
    assert_eq!(w.case.messages[1].from, Party::Customer);
    assert_eq!(w.case.messages[1].id, "m2");
    // A second reply keeps the first response time.
    w.ok(&staff("sam", 2), reply("Thanks", false));
    assert_eq!(w.case.first_response_at, Some(t(4)));
    assert_eq!(w.case.status, Status::Claimed);
}

#[test]
fn a_customer_message_on_an_unclaimed_waiting_case_opens_it() {
    let mut w = World::new(2);
    w.ok(&staff("sam", 2), reply("Which model?", true));
    w.case.claimed_by = None;
    w.ok(&Actor::Customer, says("X200"));
    assert_eq!(w.case.status, Status::Open);
}

#[test]
fn resolving_records_who_when_and_what_the_customer_sees() {
    let mut w = World::new(2);
    w.ok(&staff("sam", 2), Act::Claim { take_over: false });
    w.ok(&staff("kim", 2), Act::Claim { take_over: true });
    let a = w.ok(
        &staff("kim", 2),
        Act::Resolve {
            resolution: "Replaced the cable".into(),
            note: Some("cable was chewed".into()),
        },
    );
    assert_eq!(a.webhook, "escalation.resolved");
    assert_eq!(a.mail, Some(mail::MailKind::Resolved));
    assert_eq!(w.case.status, Status::Resolved);
    assert_eq!(
        w.case.resolved_by.as_deref(),
        Some("kim"),
        "the resolver, not the first holder"
    );
    assert_eq!(w.case.resolved_at, Some(t(4)));
    assert_eq!(w.case.resolution.as_deref(), Some("Replaced the cable"));
    assert_eq!(w.case.first_response_at, Some(t(4)));
    assert_eq!(w.record.notes.last().unwrap().text, "cable was chewed");
    assert_eq!(
        &w.kinds()[3..],
        [EventType::Note, EventType::Resolved],
        "{:?}",
        w.kinds()
    );
    // Resolved: no more replies, claims, resolutions or escalations.
    for act in [
        reply("x", false),
        Act::Claim { take_over: true },
        resolve("again"),
        Act::EscalateFurther {
            tier: 3,
            queue: None,
            note: "x".into(),
        },
    ] {
        assert_eq!(w.act(&staff("kim", 2), act), Err(Refusal::Resolved));
    }
    // Notes after the fact are kept.
    w.ok(
        &staff("kim", 2),
        Act::Note {
            text: "follow-up".into(),
        },
    );
}

#[test]
fn a_customer_message_reopens_within_the_window_and_not_after() {
    let mut w = World::new(2);
    w.ok(&staff("sam", 2), resolve("Try again now"));
    let a = w.ok(&Actor::Customer, says("Still broken"));
    assert_eq!(a.webhook, "escalation.reopened");
    assert_eq!(w.case.status, Status::Claimed, "back to the last holder");
    assert_eq!(w.case.claimed_by.as_deref(), Some("sam"));
    assert_eq!(w.case.resolved_at, None);
    assert_eq!(w.case.resolution, None);
    assert_eq!(
        &w.kinds()[w.kinds().len() - 2..],
        [EventType::CustomerMessage, EventType::Reopened]
    );
    w.ok(&staff("sam", 2), resolve("Fixed for good"));
    w.now += time::Duration::days(7) + time::Duration::minutes(1);
    let before = w.case.clone();
    assert_eq!(w.act(&Actor::Customer, says("again")), Err(Refusal::Closed));
    assert_eq!(w.case, before);
}

#[test]
fn escalating_further_opens_it_at_the_new_tier_with_fresh_due_times() {
    let mut w = World::new(2);
    w.ok(&staff("sam", 2), reply("Looking", false));
    w.case.breached = vec!["response".into()];
    assert_eq!(
        w.act(
            &staff("sam", 2),
            Act::EscalateFurther {
                tier: 2,
                queue: None,
                note: "x".into()
            }
        ),
        Err(Refusal::InvalidTier { tier: 2, from: 2 })
    );
    assert_eq!(
        w.act(
            &staff("sam", 2),
            Act::EscalateFurther {
                tier: 5,
                queue: None,
                note: "x".into()
            }
        ),
        Err(Refusal::InvalidTier { tier: 5, from: 2 })
    );
    let a = w.ok(
        &staff("sam", 2),
        Act::EscalateFurther {
            tier: 3,
            queue: Some("field".into()),
            note: "Needs an engineer".into(),
        },
    );
    assert_eq!(a.webhook, "escalation.escalated");
    assert_eq!(w.record.tier, 3);
    assert_eq!(w.record.queue.as_deref(), Some("field"));
    assert_eq!(w.record.notes.last().unwrap().text, "Needs an engineer");
    assert_eq!(w.case.status, Status::Open);
    assert_eq!((w.case.claimed_by.clone(), w.case.claimed_at), (None, None));
    assert_eq!(w.case.due, Hourly.due(3, Some("field"), w.now));
    assert!(w.case.breached.is_empty());
    let last = w.case.events.last().unwrap();
    assert_eq!(last.detail.as_deref(), Some("tier 3, queue field"));
    // Now above sam's tier.
    assert_eq!(
        w.act(&staff("sam", 2), reply("x", false)),
        Err(Refusal::OutOfTier { tier: 3 })
    );
}

#[test]
fn a_customer_only_writes_messages_and_not_without_end() {
    let mut w = World::new(2);
    for act in [
        Act::Claim { take_over: false },
        Act::Note { text: "x".into() },
        reply("x", false),
        resolve("x"),
    ] {
        assert_eq!(w.act(&Actor::Customer, act), Err(Refusal::StaffOnly));
    }
    for i in 0..MAX_CUSTOMER_MESSAGES {
        w.ok(&Actor::Customer, says(&format!("{i}")));
    }
    assert_eq!(
        w.act(&Actor::Customer, says("one more")),
        Err(Refusal::TooManyMessages)
    );
}

#[test]
fn the_next_due_time_follows_the_case() {
    let mut w = World::new(2);
    w.case.due = Hourly.due(2, None, t(0));
    assert_eq!(w.case.next_due(), Some(t(120)));
    w.ok(&staff("sam", 2), reply("hi", false));
    assert_eq!(
        w.case.next_due(),
        Some(t(24 * 60)),
        "responded: the resolution's"
    );
    w.ok(&staff("sam", 2), resolve("done"));
    assert_eq!(w.case.next_due(), None);
}

#[test]
fn a_case_stored_before_reads_back_sensibly() {
    let mut r = record(2);
    r.notes.push(crate::escalation::Note {
        author: "kim".into(),
        text: "Replaced the modem".into(),
        at: t(30),
    });
    let c = Case::from_legacy(
        &r,
        "AUK2-GPA2".into(),
        Status::Resolved,
        Some("sam".into()),
        t(40),
    );
    assert_eq!(c.claimed_by.as_deref(), Some("sam"));
    assert_eq!(c.resolved_by.as_deref(), Some("kim"));
    assert_eq!(c.resolved_at, Some(t(30)));
    assert_eq!(c.resolution.as_deref(), Some("Replaced the modem"));
    assert_eq!(
        c.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventType::Created, EventType::Claimed, EventType::Resolved]
    );
    assert_eq!(c.events[0].at, t(0));
    let open = Case::from_legacy(&r, "X".into(), Status::Open, None, t(40));
    assert_eq!(open.events.len(), 1);
    assert!(open.messages.is_empty() && open.external.is_empty());
}

fn breach(kind: Breach) -> Act {
    Act::Breach { kind }
}

#[test]
fn a_due_time_breaches_once_after_it_passed_and_again_when_set_afresh() {
    let mut w = World::new(2);
    w.case.due = Hourly.due(2, None, t(0));
    // Each act comes a minute after `w.now`: this one at the due time itself.
    w.now = t(119);
    assert_eq!(w.act(&Actor::System, breach(Breach::Response)), Ok(None));
    assert_eq!(w.case.unbreached_due(Breach::Response), Some(t(120)));
    let a = w.ok(&Actor::System, breach(Breach::Response));
    assert_eq!(a.webhook, "escalation.breached");
    assert_eq!(w.case.breached, ["response"]);
    let last = w.case.events.last().unwrap();
    assert_eq!(
        (last.kind, last.by.as_str(), last.detail.as_deref()),
        (EventType::Breached, "system", Some("response"))
    );
    assert_eq!(w.case.unbreached_due(Breach::Response), None);
    // Exactly once: a second timer's try changes nothing.
    assert_eq!(w.act(&Actor::System, breach(Breach::Response)), Ok(None));
    assert_eq!(w.act(&Actor::System, breach(Breach::Resolution)), Ok(None));
    assert_eq!(w.kinds().len(), 2, "{:?}", w.kinds());
    // Escalated further: new due times, which can breach in their turn.
    w.ok(
        &admin("root"),
        Act::EscalateFurther {
            tier: 3,
            queue: None,
            note: "up".into(),
        },
    );
    assert!(w.case.breached.is_empty());
    w.now += time::Duration::hours(3);
    w.ok(&Actor::System, breach(Breach::Response));
    assert_eq!(w.case.breached, ["response"]);
    // Still the queue's order: a breached due time stays due.
    assert!(w.case.next_due().is_some());
}

#[test]
fn an_answer_or_a_resolution_in_time_prevents_the_breach() {
    let mut w = World::new(2);
    w.case.due = Hourly.due(2, None, t(0));
    w.ok(&staff("sam", 2), reply("Looking", false));
    w.now = t(3 * 60);
    assert_eq!(w.act(&Actor::System, breach(Breach::Response)), Ok(None));
    w.ok(&staff("sam", 2), resolve("Fixed"));
    w.now = t(3 * 24 * 60);
    assert_eq!(w.act(&Actor::System, breach(Breach::Resolution)), Ok(None));
    assert!(w.case.breached.is_empty());
}

#[test]
fn a_case_sent_further_owes_the_new_tier_its_own_first_reply() {
    let mut w = World::new(2);
    w.case.due = Hourly.due(2, None, t(0));
    w.ok(&staff("sam", 2), reply("Looking", false));
    let first = w.case.first_response_at;
    w.ok(
        &staff("sam", 2),
        Act::EscalateFurther {
            tier: 3,
            queue: None,
            note: "up".into(),
        },
    );
    // The tier-2 reply does not answer for tier 3.
    assert!(w.case.unbreached_due(Breach::Response).is_some());
    let mut late = World {
        now: w.now + time::Duration::hours(5),
        ..w.clone()
    };
    late.ok(&Actor::System, breach(Breach::Response));
    assert_eq!(late.case.breached, ["response"]);
    // A tier-3 reply in time does, and the case's first response stays
    // the very first.
    w.ok(&staff("kai", 3), reply("On it", false));
    assert_eq!(w.case.unbreached_due(Breach::Response), None);
    assert_eq!(w.case.first_response_at, first);
    w.now += time::Duration::hours(5);
    assert_eq!(w.act(&Actor::System, breach(Breach::Response)), Ok(None));
}

#[test]
fn only_the_server_records_breaches_and_it_does_nothing_else() {
    let mut w = World::new(2);
    w.case.due = Hourly.due(2, None, t(0));
    w.now = t(24 * 60 * 2);
    for actor in [staff("sam", 2), admin("root")] {
        assert_eq!(
            w.act(&actor, breach(Breach::Resolution)),
            Err(Refusal::SystemOnly)
        );
    }
    assert_eq!(
        w.act(&Actor::Customer, breach(Breach::Resolution)),
        Err(Refusal::StaffOnly)
    );
    assert_eq!(
        w.act(&Actor::System, Act::Note { text: "x".into() }),
        Err(Refusal::SystemOnly)
    );
    assert!(w.case.breached.is_empty());
}
