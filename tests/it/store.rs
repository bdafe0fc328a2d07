//! The store's story, written against `&dyn Store` so every backend runs the
//! same suites: SQLite (a temp file each, never `sqlite::memory:`) always,
//! PostgreSQL (a database each, see `common::pg`) when a server is
//! reachable. Each suite expects an empty database of its own.
//!
//! Times are whole milliseconds: that is what every backend keeps exactly.

use crate::common;

use common::pg::TestDb;
use fixpath::case::{Act, Actor, Case, Due, EventType, External, Refusal};
use fixpath::compiler::compile_texts;
use fixpath::engine::{self, Channel, Reply, Session, StartOptions, Status, TrailEntry};
use fixpath::escalation::{Note, Record};
use fixpath::program::Program;
use fixpath::server::config::Database;
use fixpath::server::{OpenStore, open_store};
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{
    Changed, Cursor, Escalation, EscalationChange, EscalationFilter, EscalationStatus, MailLink,
    NewCase, NewUser, OutboxChannel, OutboxMessage, Result as StoreResult, Role, Saved,
    ScriptVersion, Sort, StepWrite, Store, StoreError, StoredSession, TicketLink, User,
};
// The parts' methods, for the concrete stores (on `dyn Store` they come with it).
use fixpath::store::{Escalations, Outbox, Schema, Sessions};
use serde_json::Value as Json;
use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

// ---------------------------------------------------------------- fixtures

const PRINTER: &str = r#"
id: printer
title: Printer does not print
escalation: { queue: printers }
vars: { attempts: 0, model: unknown }
nodes:
  power:
    ask: Is the printer switched on?
    answers:
      - Yes: paper
      - No: { escalate: Printer does not power on }
  paper:
    ask: Is there paper in the tray?
    answers:
      - label: Yes
        set: { attempts: "{{ attempts + 1 }}" }
        goto: model
      - No: { resolve: Paper added }
  model:
    input: What model is on the label?
    into: model
    next: spooler
  spooler:
    ask: Does the print queue on the {{ model }} show an error?
    answers:
      - label: Yes
        escalate: { tier: 2, reason: "Print queue error on {{ model }}" }
      - No: { resolve: Printing again }
"#;

const HANDOVER: &str = r#"
id: handover
title: Straight to a person
nodes:
  desk:
    escalate: { tier: 2, queue: desk, reason: This always goes to a person }
"#;

fn program() -> (Program, Vec<(String, String)>) {
    let files = vec![
        ("scripts/printer.yaml".to_string(), PRINTER.to_string()),
        ("scripts/handover.yaml".to_string(), HANDOVER.to_string()),
    ];
    let comp = compile_texts(files.clone());
    let errors: Vec<_> = comp.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert!(errors.is_empty(), "{errors:#?}");
    (comp.program, files)
}

fn t(secs: i64) -> OffsetDateTime {
    datetime!(2026-03-02 09:00:00 UTC) + Duration::seconds(secs)
}

fn start(p: &Program, script: &str, channel: Channel, now: OffsetDateTime) -> Session {
    engine::start(p, StartOptions::new(script, channel), now)
        .expect("starts")
        .0
}

fn stored(id: &str, s: &Session, reference: Option<&str>, now: OffsetDateTime) -> StoredSession {
    StoredSession {
        id: id.into(),
        token_hash: format!("hash-of-{id}"),
        owner: Some("al".into()),
        reference: reference.map(Into::into),
        state: s.clone(),
        created_at: now,
        updated_at: now,
    }
}

/// What a step changed: the entries it added and the ones it retracted.
fn diff(before: &Session, after: &Session) -> (Vec<TrailEntry>, Vec<u32>) {
    let n = before.trail.len();
    let new = after.trail[n..].to_vec();
    let retracted = after.trail[..n]
        .iter()
        .zip(&before.trail)
        .filter(|(a, b)| a.retracted() && !b.retracted())
        .map(|(a, _)| a.seq())
        .collect();
    (new, retracted)
}

/// Applies one move to `s` and saves it as a caller would; the record when
/// the move escalated.
async fn step(
    store: &dyn Store,
    p: &Program,
    id: &str,
    s: &mut Session,
    now: OffsetDateTime,
    f: impl FnOnce(&Program, &mut Session),
) -> (Saved, Option<Record>) {
    let before = s.clone();
    f(p, s);
    let (new, retracted) = diff(&before, s);
    let record = if before.status == Status::Active && s.status == Status::Escalated {
        Record::from_session(p, s, &format!("esc-{id}"), id, now)
    } else {
        None
    };
    let case = record.clone().map(|r| case_of(r, now));
    let saved = store
        .save_step(&StepWrite {
            session_id: id,
            expected_seq: before.seq,
            state: s,
            new_entries: &new,
            retracted: &retracted,
            escalation: case.as_ref(),
            now,
        })
        .await
        .expect("saves");
    (saved, record)
}

fn reply(a: &str, now: OffsetDateTime) -> impl FnOnce(&Program, &mut Session) {
    let a = a.to_owned();
    move |p, s| {
        engine::answer(p, s, Reply::Answer(a), "al", now).expect("answer accepted");
    }
}

fn value(v: &str, now: OffsetDateTime) -> impl FnOnce(&Program, &mut Session) {
    let v = v.to_owned();
    move |p, s| {
        engine::answer(p, s, Reply::Value(v), "al", now).expect("value accepted");
    }
}

fn note(author: &str, text: &str, at: OffsetDateTime) -> Note {
    Note {
        author: author.into(),
        text: text.into(),
        at,
    }
}

fn user(name: &str, role: Role, tier: u8) -> User {
    User {
        name: name.into(),
        role,
        tier,
    }
}

/// The case of a record just frozen: open, reference `R-` and its id.
fn case_of(record: Record, now: OffsetDateTime) -> NewCase {
    let reference = format!("R-{}", record.id);
    NewCase {
        escalation: Escalation {
            record,
            case: Case::new(reference, None, Due::default(), "customer", now),
            updated_at: now,
        },
        mail: None,
        mirror: false,
    }
}

fn staff_actor(name: &str, tier: u8) -> Actor {
    Actor::Staff {
        name: name.into(),
        tier,
        admin: false,
    }
}

/// `act` by specialist `name` of tier `tier` (no service levels, no mail).
fn by(name: &str, tier: u8, act: Act) -> EscalationChange {
    EscalationChange::new(staff_actor(name, tier), act)
}

fn claim(name: &str, tier: u8) -> EscalationChange {
    by(name, tier, Act::Claim { take_over: false })
}

fn ok(c: Changed) -> Escalation {
    match c {
        Changed::Ok(e) => e,
        other => panic!("expected the change to be made, got {other:?}"),
    }
}

fn refused(c: Changed) -> Escalation {
    match c {
        Changed::Refused(e, _) => e,
        other => panic!("expected the change to be refused, got {other:?}"),
    }
}

fn payload(m: &OutboxMessage) -> Json {
    serde_json::from_str(&m.payload).expect("payload is JSON")
}

async fn lease_all(store: &dyn Store, owner: &str, now: OffsetDateTime) -> Vec<OutboxMessage> {
    store
        .lease_outbox(owner, now, now + Duration::seconds(30), 1000)
        .await
        .expect("leases")
}

// ---------------------------------------------------------------- the suites

/// The whole way of a session and its escalation through the store.
pub async fn story(store: &dyn Store) {
    let (p, files) = program();

    // Users and tokens.
    store
        .create_user(&NewUser {
            user: user("sam", Role::Specialist, 2),
            password_hash: None,
            token_hash: "h-sam".into(),
        })
        .await
        .unwrap();
    store
        .create_user(&NewUser {
            user: user("al", Role::Agent, 1),
            password_hash: Some("$argon2id$v=19$fake".into()),
            token_hash: "h-al".into(),
        })
        .await
        .unwrap();
    let dup = store
        .create_user(&NewUser {
            user: user("sam", Role::Admin, 4),
            password_hash: None,
            token_hash: "h-other".into(),
        })
        .await;
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    let dup_token = store
        .create_user(&NewUser {
            user: user("kim", Role::Specialist, 3),
            password_hash: None,
            token_hash: "h-sam".into(),
        })
        .await;
    assert!(
        matches!(dup_token, Err(StoreError::Duplicate(_))),
        "{dup_token:?}"
    );
    assert_eq!(
        store.user_by_name("kim").await.unwrap(),
        None,
        "a refused user leaves nothing behind"
    );
    store
        .create_user(&NewUser {
            user: user("kim", Role::Specialist, 3),
            password_hash: None,
            token_hash: "h-kim".into(),
        })
        .await
        .unwrap();
    // The store reads no clock: every check of a token is at the caller's `now`.
    let now = t(0);
    assert_eq!(
        store.user_by_token("h-sam", now).await.unwrap(),
        Some(user("sam", Role::Specialist, 2))
    );
    assert_eq!(store.user_by_token("h-nobody", now).await.unwrap(), None);
    store.add_token("sam", "h-sam-2").await.unwrap();
    assert_eq!(
        store.user_by_token("h-sam-2", now).await.unwrap(),
        Some(user("sam", Role::Specialist, 2))
    );
    // A token for a user who does not exist: not found, not a database error.
    let missing = store.add_token("nobody", "h-x").await;
    assert!(
        matches!(&missing, Err(StoreError::NotFound(what)) if what == "user `nobody`"),
        "{missing:?}"
    );
    // A revoked token (a web sign-out) opens nothing; the user's others do.
    store.revoke_token("h-sam-2").await.unwrap();
    assert_eq!(store.user_by_token("h-sam-2", now).await.unwrap(), None);
    assert!(store.user_by_token("h-sam", now).await.unwrap().is_some());
    store.revoke_token("h-never-was").await.unwrap();
    // A web sign-in's token opens nothing once it has expired: until the
    // last millisecond before `expires_at`, and from then on not at all.
    store
        .add_expiring_token("sam", "h-sam-web", t(3600), now)
        .await
        .unwrap();
    assert!(
        store
            .user_by_token("h-sam-web", now)
            .await
            .unwrap()
            .is_some()
    );
    let just_before = t(3600) - time::Duration::milliseconds(1);
    assert!(
        store
            .user_by_token("h-sam-web", just_before)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store.user_by_token("h-sam-web", t(3600)).await.unwrap(),
        None
    );
    store
        .add_expiring_token("sam", "h-sam-old", now - time::Duration::seconds(1), now)
        .await
        .unwrap();
    assert_eq!(store.user_by_token("h-sam-old", now).await.unwrap(), None);
    // Adding a token later sweeps the ones expired by then, at its `now`.
    store
        .add_expiring_token("sam", "h-sam-later", t(7200), t(3600))
        .await
        .unwrap();
    assert_eq!(
        store.user_by_token("h-sam-web", just_before).await.unwrap(),
        None,
        "swept at the adding call's now"
    );
    let missing = store
        .add_expiring_token("nobody", "h-y", t(3600), now)
        .await;
    assert!(
        matches!(&missing, Err(StoreError::NotFound(what)) if what == "user `nobody`"),
        "{missing:?}"
    );
    assert!(matches!(
        store.add_token("kim", "h-sam").await,
        Err(StoreError::Duplicate(_))
    ));
    assert_eq!(
        store.user_by_name("al").await.unwrap(),
        Some((
            user("al", Role::Agent, 1),
            Some("$argon2id$v=19$fake".into())
        ))
    );
    assert_eq!(store.user_by_name("nobody").await.unwrap(), None);

    // Script versions: stored once, found by pin.
    for sc in &p.scripts {
        let source = files
            .iter()
            .find(|(path, _)| *path == sc.path)
            .map(|(_, text)| text.clone())
            .unwrap();
        let v = ScriptVersion {
            id: sc.id.clone(),
            version: sc.version.clone(),
            path: sc.path.clone(),
            source,
            created_at: t(0),
        };
        store.put_script_version(&v).await.unwrap();
        // A version already stored is left as it is.
        store
            .put_script_version(&ScriptVersion {
                source: "changed".into(),
                ..v
            })
            .await
            .unwrap();
    }

    // A session, step by step.
    let mut s = start(&p, "printer", Channel::Agent, t(1));
    store
        .create_session(&stored("s1", &s, Some("T-100"), t(1)), None)
        .await
        .unwrap();
    let versions = store.script_versions(&s.pins).await.unwrap();
    assert_eq!(versions.len(), s.pins.len());
    assert_eq!(versions[0].id, "printer");
    assert_eq!(versions[0].source, PRINTER);
    assert_eq!(versions[0].created_at, t(0));
    assert!(
        store
            .script_versions(&[engine::Pin {
                id: "printer".into(),
                version: "no-such-version".into()
            }])
            .await
            .unwrap()
            .is_empty()
    );

    let loaded = store.session("s1").await.unwrap().expect("stored");
    assert_eq!(loaded, stored("s1", &s, Some("T-100"), t(1)));
    assert_eq!(store.session("nope").await.unwrap(), None);

    let (saved, _) = step(store, &p, "s1", &mut s, t(2), reply("Yes", t(2))).await;
    assert_eq!(saved, Saved::Ok);
    let after_first = s.clone();

    // A stale save (the seq the caller read has moved on) changes nothing;
    // a repeated one (a double click) neither, and adds no trail rows.
    let mut stale = start(&p, "printer", Channel::Agent, t(1));
    let (saved, _) = step(store, &p, "s1", &mut stale, t(3), reply("No", t(3))).await;
    assert_eq!(saved, Saved::Conflict);
    let mut again = start(&p, "printer", Channel::Agent, t(1));
    let (saved, _) = step(store, &p, "s1", &mut again, t(3), reply("Yes", t(3))).await;
    assert_eq!(saved, Saved::Conflict);
    let loaded = store.session("s1").await.unwrap().unwrap();
    assert_eq!(loaded.state, after_first);
    assert_eq!(loaded.updated_at, t(2));
    let mut ghost = start(&p, "printer", Channel::Agent, t(1));
    let (saved, _) = step(store, &p, "ghost", &mut ghost, t(3), reply("Yes", t(3))).await;
    assert_eq!(saved, Saved::NotFound);

    // On, back, on again, an input, and the escalation.
    assert_eq!(
        step(store, &p, "s1", &mut s, t(4), reply("Yes", t(4)))
            .await
            .0,
        Saved::Ok
    );
    assert_eq!(
        step(store, &p, "s1", &mut s, t(5), |p, s| {
            engine::back(p, s, "al", t(5)).expect("goes back")
        })
        .await
        .0,
        Saved::Ok
    );
    assert!(s.trail.iter().any(|e| e.retracted()), "back retracts");
    assert_eq!(
        store.session("s1").await.unwrap().unwrap().state,
        s,
        "the retraction is stored"
    );
    // Who took it back and when, too (`retracted_by`, `retracted_at`).
    let loaded = store.session("s1").await.unwrap().unwrap();
    let taken_back = loaded.state.trail.iter().find(|e| e.retracted()).unwrap();
    assert_eq!(
        taken_back.retraction().map(|(by, at)| (by.to_string(), at)),
        Some(("al".to_owned(), t(5)))
    );
    assert_eq!(
        step(store, &p, "s1", &mut s, t(6), reply("Yes", t(6)))
            .await
            .0,
        Saved::Ok
    );
    assert_eq!(
        step(store, &p, "s1", &mut s, t(7), value("LaserJet 4", t(7)))
            .await
            .0,
        Saved::Ok
    );
    let (saved, record) = step(store, &p, "s1", &mut s, t(8), reply("Yes", t(8))).await;
    assert_eq!(saved, Saved::Ok);
    assert_eq!(s.status, Status::Escalated);
    let record = record.expect("escalated");
    assert_eq!(record.reason, "Print queue error on LaserJet 4");
    assert_eq!(record.queue.as_deref(), Some("printers"));

    // The reloaded session is exactly the one in memory.
    let loaded = store.session("s1").await.unwrap().unwrap();
    assert_eq!(loaded.state, s);
    assert_eq!(loaded.updated_at, t(8));
    assert_eq!(loaded.created_at, t(1));
    assert_eq!(loaded.reference.as_deref(), Some("T-100"));
    assert_eq!(loaded.owner.as_deref(), Some("al"));
    assert_eq!(loaded.token_hash, "hash-of-s1");
    // An ended session takes no more steps.
    let mut late = s.clone();
    late.seq += 1;
    let saved = store
        .save_step(&StepWrite {
            session_id: "s1",
            expected_seq: s.seq - 1,
            state: &late,
            new_entries: &[],
            retracted: &[],
            escalation: None,
            now: t(9),
        })
        .await
        .unwrap();
    assert_eq!(saved, Saved::Conflict);

    // A customer asks for a person, with a note.
    let mut c = start(&p, "printer", Channel::Customer, t(10));
    store
        .create_session(&stored("s2", &c, Some("T-100"), t(10)), None)
        .await
        .unwrap();
    let (saved, record2) = step(store, &p, "s2", &mut c, t(11), |p, s| {
        engine::escalate_now(p, s, Some("It smells of smoke".into()), "customer", t(11))
            .expect("escalates");
    })
    .await;
    assert_eq!(saved, Saved::Ok);
    let record2 = record2.expect("escalated");
    assert_eq!(record2.notes.len(), 1);
    assert_eq!(store.session("s2").await.unwrap().unwrap().state, c);

    // A session that escalates at once is stored with its escalation.
    let h = start(&p, "handover", Channel::Api, t(12));
    assert_eq!(h.status, Status::Escalated);
    let record3 = Record::from_session(&p, &h, "esc-s3", "s3", t(12)).unwrap();
    store
        .create_session(
            &stored("s3", &h, None, t(12)),
            Some(&case_of(record3.clone(), t(12))),
        )
        .await
        .unwrap();
    assert_eq!(store.session("s3").await.unwrap().unwrap().state, h);
    let dup = store
        .create_session(&stored("s3", &h, None, t(12)), None)
        .await;
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");

    // Sessions by reference, newest first.
    let by_ref = store.sessions_by_reference("T-100", 0).await.unwrap();
    assert_eq!(
        by_ref.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["s2", "s1"]
    );
    assert_eq!(by_ref[1].state, s);
    assert_eq!(
        store.sessions_by_reference("T-100", 1).await.unwrap().len(),
        1
    );
    assert!(
        store
            .sessions_by_reference("T-999", 0)
            .await
            .unwrap()
            .is_empty()
    );

    // References of many sessions at once: those without one are left out.
    let refs = store
        .session_references(&["s1".into(), "s2".into(), "s3".into(), "nope".into()])
        .await
        .unwrap();
    assert_eq!(
        refs,
        std::collections::HashMap::from([
            ("s1".to_owned(), "T-100".to_owned()),
            ("s2".to_owned(), "T-100".to_owned()),
        ])
    );
    assert!(store.session_references(&[]).await.unwrap().is_empty());

    // The queue, oldest first, with filters.
    let all = store
        .escalations(&EscalationFilter::default())
        .await
        .unwrap();
    assert_eq!(all.next, None);
    let all = all.items;
    assert_eq!(
        all.iter().map(|e| e.record.id.as_str()).collect::<Vec<_>>(),
        ["esc-s1", "esc-s2", "esc-s3"]
    );
    assert_eq!(all[0].record, record);
    assert_eq!(all[0].case.status, EscalationStatus::Open);
    assert_eq!(all[0].case.claimed_by, None);
    assert_eq!(all[0].case.reference, "R-esc-s1");
    assert_eq!(all[0].updated_at, t(8));
    assert!(
        all[0]
            .case
            .ticket_text
            .contains("Print queue error on LaserJet 4"),
        "{}",
        all[0].case.ticket_text
    );
    let desk = store
        .escalations(&EscalationFilter {
            queue: Some("desk".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(desk.len(), 1);
    assert_eq!(desk[0].record, record3);
    let limited = store
        .escalations(&EscalationFilter {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(limited.items.len(), 2);
    // The next page starts after the last of the first.
    let rest = store
        .escalations(&EscalationFilter {
            limit: 2,
            after: limited.next.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        rest.items
            .iter()
            .map(|e| e.record.id.as_str())
            .collect::<Vec<_>>(),
        ["esc-s3"]
    );
    assert_eq!(rest.next, None);
    // A case by its reference: any case, no dash.
    let found = store.escalation_by_reference("r esc s2").await.unwrap();
    assert_eq!(found.map(|e| e.record.id), Some("esc-s2".to_owned()));
    assert_eq!(store.escalation_by_reference("R-NONE").await.unwrap(), None);
    assert_eq!(store.escalation_by_reference(" - ").await.unwrap(), None);

    // Every escalation wrote its `escalation.created` message.
    assert_eq!(store.outbox_pending().await.unwrap(), 3);
    let msgs = lease_all(store, "relay", t(20)).await;
    assert_eq!(msgs.len(), 3);
    assert!(msgs.iter().all(|m| m.event_type == "escalation.created"));
    assert!(
        msgs.iter()
            .all(|m| m.id.starts_with("msg_") && m.attempts == 0)
    );
    let created = msgs
        .iter()
        .map(payload)
        .find(|j| j["data"]["id"] == "esc-s1")
        .expect("a message for esc-s1");
    assert_eq!(created["type"], "escalation.created");
    assert_eq!(created["timestamp"], "2026-03-02T09:00:08Z");
    assert_eq!(created["data"]["status"], "open");
    assert_eq!(created["data"]["session"], "s1");
    assert_eq!(created["data"]["reference"], "R-esc-s1");
    assert_eq!(created["data"]["reason"], "Print queue error on LaserJet 4");
    assert_eq!(
        created["data"]["trail"].as_array().map(Vec::len),
        Some(s.trail.len())
    );
    for m in &msgs {
        store.outbox_delivered(&m.id, "relay", t(21)).await.unwrap();
    }
    assert_eq!(store.outbox_pending().await.unwrap(), 0);

    // Working the queue: sam (tier 2), kim (tier 3).
    let e = ok(store
        .change_escalation("esc-s1", &claim("sam", 2), t(30))
        .await
        .unwrap());
    assert_eq!(e.case.status, EscalationStatus::Claimed);
    assert_eq!(e.case.claimed_by.as_deref(), Some("sam"));
    assert_eq!(e.case.claimed_at, Some(t(30)));
    assert_eq!(e.updated_at, t(30));
    let r = store
        .change_escalation("esc-s1", &claim("kim", 3), t(31))
        .await
        .unwrap();
    assert_eq!(
        r,
        Changed::Refused(
            e.clone(),
            Refusal::ClaimedByOther {
                holder: "sam".into()
            }
        ),
        "a refused claim changes nothing"
    );
    let e = ok(store
        .change_escalation(
            "esc-s1",
            &by(
                "sam",
                2,
                Act::Note {
                    text: "Spooler restarted, no luck".into(),
                },
            ),
            t(32),
        )
        .await
        .unwrap());
    assert_eq!(e.case.status, EscalationStatus::Claimed);
    assert_eq!(e.record.notes.len(), 1);
    let further = |name: &str, tier_of: u8, tier: u8, queue: Option<&str>, text: &str| {
        by(
            name,
            tier_of,
            Act::EscalateFurther {
                tier,
                queue: queue.map(Into::into),
                note: text.into(),
            },
        )
    };
    for tier in [1, 2, 5] {
        let r = refused(
            store
                .change_escalation("esc-s1", &further("sam", 2, tier, None, "up"), t(33))
                .await
                .unwrap(),
        );
        assert_eq!(r, e, "tier {tier} is refused");
    }
    let e = ok(store
        .change_escalation(
            "esc-s1",
            &further(
                "sam",
                2,
                3,
                Some("hardware"),
                "Fuser fault, needs an engineer",
            ),
            t(34),
        )
        .await
        .unwrap());
    assert_eq!(e.case.status, EscalationStatus::Open);
    assert_eq!(e.case.claimed_by, None);
    assert_eq!(e.record.tier, 3);
    assert_eq!(e.record.queue.as_deref(), Some("hardware"));
    assert_eq!(e.record.trail, record.trail, "the trail is kept");
    assert_eq!(e.record.notes.len(), 2);
    assert_eq!(
        store
            .escalations(&EscalationFilter {
                tier: Some(3),
                queue: Some("hardware".into()),
                status: Some(EscalationStatus::Open),
                ..Default::default()
            })
            .await
            .unwrap()
            .items,
        std::slice::from_ref(&e)
    );
    let printers = store
        .escalations(&EscalationFilter {
            tier: Some(2),
            queue: Some("printers".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(
        printers
            .iter()
            .map(|e| e.record.id.as_str())
            .collect::<Vec<_>>(),
        ["esc-s2"],
        "esc-s1 has left the tier-2 printers queue"
    );
    // The tier rule: sam no longer sees it, in the listing or to act on.
    let seen = store
        .escalations(&EscalationFilter {
            max_tier: Some(2),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert!(seen.iter().all(|x| x.record.id != "esc-s1"), "{seen:?}");
    assert_eq!(seen.len(), 2);
    let r = store
        .change_escalation("esc-s1", &claim("sam", 2), t(35))
        .await
        .unwrap();
    assert_eq!(
        r,
        Changed::Refused(e.clone(), Refusal::OutOfTier { tier: 3 })
    );
    ok(store
        .change_escalation("esc-s1", &claim("kim", 3), t(35))
        .await
        .unwrap());
    let e = ok(store
        .change_escalation(
            "esc-s1",
            &by(
                "kim",
                3,
                Act::Resolve {
                    resolution: "Fuser replaced".into(),
                    note: Some("Part from stock".into()),
                },
            ),
            t(36),
        )
        .await
        .unwrap());
    assert_eq!(e.case.status, EscalationStatus::Resolved);
    assert_eq!(e.case.claimed_by.as_deref(), Some("kim"));
    assert_eq!(e.case.resolved_by.as_deref(), Some("kim"));
    assert_eq!(e.case.resolved_at, Some(t(36)));
    assert_eq!(e.case.resolution.as_deref(), Some("Fuser replaced"));
    assert_eq!(e.record.notes.len(), 3);

    // Resolved: only notes (and the customer's messages) are taken.
    for act in [
        Act::Claim { take_over: true },
        Act::Resolve {
            resolution: "again".into(),
            note: None,
        },
        Act::EscalateFurther {
            tier: 4,
            queue: None,
            note: "up".into(),
        },
        Act::Reply {
            text: "hello?".into(),
            wait: false,
        },
    ] {
        let r = store
            .change_escalation("esc-s1", &by("kim", 3, act), t(37))
            .await
            .unwrap();
        assert_eq!(r, Changed::Refused(e.clone(), Refusal::Resolved));
    }
    let e = ok(store
        .change_escalation(
            "esc-s1",
            &by(
                "kim",
                3,
                Act::Note {
                    text: "Customer confirmed".into(),
                },
            ),
            t(38),
        )
        .await
        .unwrap());
    assert_eq!(e.case.status, EscalationStatus::Resolved);
    assert_eq!(e.record.notes.len(), 4);
    assert_eq!(store.escalation("esc-s1").await.unwrap(), Some(e.clone()));
    assert_eq!(store.escalation("esc-none").await.unwrap(), None);
    assert_eq!(
        store
            .change_escalation("esc-none", &claim("sam", 2), t(39))
            .await
            .unwrap(),
        Changed::NotFound
    );
    // Claiming what one holds changes nothing, and writes nothing.
    ok(store
        .change_escalation("esc-s2", &claim("sam", 2), t(39))
        .await
        .unwrap());
    let again = store
        .change_escalation("esc-s2", &claim("sam", 2), t(39))
        .await
        .unwrap();
    assert!(matches!(again, Changed::Unchanged(_)), "{again:?}");
    // A customer writes on a case; a reply from its holder; waiting.
    let customer = EscalationChange::new(
        Actor::Customer,
        Act::CustomerMessage {
            text: "Any news?".into(),
        },
    );
    let m = ok(store
        .change_escalation("esc-s2", &customer, t(40))
        .await
        .unwrap());
    assert_eq!(m.case.messages.len(), 1);
    let m = ok(store
        .change_escalation(
            "esc-s2",
            &by(
                "sam",
                2,
                Act::Reply {
                    text: "Tomorrow".into(),
                    wait: true,
                },
            ),
            t(41),
        )
        .await
        .unwrap());
    assert_eq!(m.case.status, EscalationStatus::Waiting);
    assert_eq!(m.case.first_response_at, Some(t(41)));
    assert_eq!(
        store.escalation("esc-s2").await.unwrap().unwrap(),
        m,
        "the case reads back as written"
    );
    let waiting = store
        .escalations(&EscalationFilter {
            status: Some(EscalationStatus::Waiting),
            ..Default::default()
        })
        .await
        .unwrap()
        .items;
    assert_eq!(waiting, std::slice::from_ref(&m));
    assert_eq!(
        m.case.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [
            EventType::Created,
            EventType::Claimed,
            EventType::CustomerMessage,
            EventType::Reply,
            EventType::Waiting
        ]
    );

    // Each change wrote its message, in order, with the record as it became.
    let msgs = lease_all(store, "relay", t(42)).await;
    assert_eq!(
        msgs.iter()
            .map(|m| m.event_type.as_str())
            .collect::<Vec<_>>(),
        [
            "escalation.claimed",
            "escalation.note_added",
            "escalation.escalated",
            "escalation.claimed",
            "escalation.resolved",
            "escalation.note_added",
            "escalation.claimed",
            "escalation.customer_message",
            "escalation.replied",
        ]
    );
    let escalated = payload(&msgs[2]);
    assert_eq!(escalated["type"], "escalation.escalated");
    assert_eq!(escalated["data"]["id"], "esc-s1");
    assert_eq!(escalated["data"]["tier"], 3);
    assert_eq!(escalated["data"]["queue"], "hardware");
    assert_eq!(escalated["data"]["status"], "open");
    assert_eq!(escalated["data"]["notes"].as_array().map(Vec::len), Some(2));
    let resolved = payload(&msgs[4]);
    assert_eq!(resolved["data"]["status"], "resolved");
    assert_eq!(resolved["data"]["claimed_by"], "kim");
    assert_eq!(resolved["data"]["resolved_by"], "kim");
    assert_eq!(resolved["data"]["resolution"], "Fuser replaced");
    // A note's event carries the note and the ids, not the record that
    // grows with every note.
    let noted = payload(&msgs[5]);
    assert_eq!(noted["type"], "escalation.note_added");
    assert_eq!(noted["data"]["id"], "esc-s1");
    assert_eq!(noted["data"]["status"], "resolved");
    assert_eq!(noted["data"]["note"]["author"], e.record.notes[3].author);
    assert_eq!(noted["data"]["note"]["text"], e.record.notes[3].text);
    assert!(noted["data"].get("notes").is_none(), "{noted}");
    assert!(noted["data"].get("trail").is_none(), "{noted}");
    // So does a message's: the message, not every one before it.
    let replied = payload(&msgs[8]);
    assert_eq!(replied["data"]["message"]["text"], "Tomorrow");
    assert_eq!(replied["data"]["status"], "waiting");
    assert_eq!(replied["data"]["reference"], "R-esc-s2");
    assert!(replied["data"].get("messages").is_none(), "{replied}");
    let ids: std::collections::HashSet<_> = msgs.iter().map(|m| m.id.clone()).collect();
    assert_eq!(ids.len(), msgs.len(), "message ids are unique");
}

// ---------------------------------------------------------------- cases

/// A case of the handover script for session `id`, created at `at` with
/// these due times (and, given an address and a link, its mail).
async fn case_with(
    store: &dyn Store,
    id: &str,
    at: OffsetDateTime,
    due: Due,
    email: Option<&str>,
    mail: Option<MailLink>,
) -> Escalation {
    let (p, _) = program();
    let h = start(&p, "handover", Channel::Api, at);
    let record = Record::from_session(&p, &h, &format!("esc-{id}"), id, at).unwrap();
    let mut case = case_of(record, at);
    case.escalation.case.due = due;
    case.escalation.case.email = email.map(Into::into);
    case.mail = mail;
    store
        .create_session(&stored(id, &h, None, at), Some(&case))
        .await
        .unwrap();
    store
        .escalation(&format!("esc-{id}"))
        .await
        .unwrap()
        .expect("stored")
}

fn due(response: Option<i64>) -> Due {
    Due {
        response: response.map(t),
        resolution: response.map(|r| t(r + 3600)),
    }
}

async fn ids_of(store: &dyn Store, f: &EscalationFilter) -> (Vec<String>, Option<Cursor>) {
    let page = store.escalations(f).await.unwrap();
    (
        page.items.into_iter().map(|e| e.record.id).collect(),
        page.next,
    )
}

/// The queue by due time (overdue and earliest first, none last) and by
/// arrival, a page at a time: a case added between two pages never moves
/// one that was listed into the next, or out of it.
pub async fn cases_sorted_and_paged(store: &dyn Store) {
    case_with(store, "a", t(1), due(Some(100)), None, None).await;
    case_with(store, "b", t(2), due(Some(50)), None, None).await;
    case_with(store, "c", t(3), due(None), None, None).await;
    case_with(store, "d", t(4), due(Some(200)), None, None).await;
    case_with(store, "e", t(5), due(None), None, None).await;
    let by_due = |after: Option<Cursor>, limit: u32| EscalationFilter {
        sort: Sort::Due,
        after,
        limit,
        ..Default::default()
    };
    let (all, next) = ids_of(store, &by_due(None, 0)).await;
    assert_eq!(all, ["esc-b", "esc-a", "esc-d", "esc-c", "esc-e"]);
    assert_eq!(next, None);
    let (first, next) = ids_of(store, &by_due(None, 2)).await;
    assert_eq!(first, ["esc-b", "esc-a"]);
    // Arrivals in between: one due before the page's end, one after it,
    // one without a due time.
    case_with(store, "f", t(6), due(Some(10)), None, None).await;
    case_with(store, "g", t(7), due(Some(150)), None, None).await;
    case_with(store, "h", t(8), due(None), None, None).await;
    let (second, next) = ids_of(store, &by_due(next, 2)).await;
    assert_eq!(second, ["esc-g", "esc-d"]);
    let (third, next) = ids_of(store, &by_due(next, 2)).await;
    assert_eq!(third, ["esc-c", "esc-e"]);
    let (fourth, next) = ids_of(store, &by_due(next, 2)).await;
    assert_eq!(fourth, ["esc-h"]);
    assert_eq!(next, None);
    // A responded case is due by its resolution.
    let responded = store
        .change_escalation(
            "esc-f",
            &by(
                "sam",
                2,
                Act::Reply {
                    text: "On it".into(),
                    wait: false,
                },
            ),
            t(9),
        )
        .await
        .unwrap();
    assert_eq!(ok(responded).case.next_due(), Some(t(3610)));
    let (all, _) = ids_of(store, &by_due(None, 0)).await;
    assert_eq!(
        all,
        [
            "esc-b", "esc-a", "esc-g", "esc-d", "esc-f", "esc-c", "esc-e", "esc-h"
        ]
    );
    // By arrival, with the same guarantee.
    let by_created = |after: Option<Cursor>| EscalationFilter {
        after,
        limit: 3,
        ..Default::default()
    };
    let (first, next) = ids_of(store, &by_created(None)).await;
    assert_eq!(first, ["esc-a", "esc-b", "esc-c"]);
    case_with(store, "i", t(0), due(None), None, None).await;
    let (second, next) = ids_of(store, &by_created(next)).await;
    assert_eq!(second, ["esc-d", "esc-e", "esc-f"]);
    let (third, next) = ids_of(store, &by_created(next)).await;
    assert_eq!(third, ["esc-g", "esc-h"]);
    assert_eq!(next, None);
    // Filters and the cursor together.
    let (waiting, _) = ids_of(
        store,
        &EscalationFilter {
            status: Some(EscalationStatus::Claimed),
            sort: Sort::Due,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(waiting, ["esc-f"]);
}

/// A case with an address mails its customer when mail is on: the mail
/// job in the outbox with the change, its link token stored with it, and
/// the token opens the session.
pub async fn cases_mail_with_their_links(store: &dyn Store) {
    let link = |n: u8| MailLink {
        base_url: "https://help.example.com/".into(),
        token: format!("fpc_link{n}"),
        token_hash: format!("h-link{n}"),
    };
    let e = case_with(
        store,
        "m1",
        t(1),
        Due::default(),
        Some("ann@example.com"),
        Some(link(1)),
    )
    .await;
    assert_eq!(e.case.email.as_deref(), Some("ann@example.com"));
    // Without an address, or with mail off, no mail.
    case_with(store, "m2", t(2), Due::default(), None, Some(link(2))).await;
    case_with(
        store,
        "m3",
        t(3),
        Due::default(),
        Some("bo@example.com"),
        None,
    )
    .await;
    let msgs = lease_all(store, "relay", t(4)).await;
    let mails: Vec<&OutboxMessage> = msgs
        .iter()
        .filter(|m| m.event_type.starts_with("mail."))
        .collect();
    assert_eq!(mails.len(), 1, "{msgs:?}");
    assert_eq!(mails[0].event_type, "mail.received");
    let job: fixpath::case::mail::MailJob = serde_json::from_str(&mails[0].payload).unwrap();
    assert_eq!(job.kind, fixpath::case::mail::MailKind::Received);
    assert_eq!(job.to, "ann@example.com");
    assert_eq!(job.reference, "R-esc-m1");
    assert_eq!(job.link, "https://help.example.com/s/m1?t=fpc_link1");
    assert_eq!(job.script_title, "Straight to a person");
    assert!(store.session_link_valid("m1", "h-link1").await.unwrap());
    assert!(!store.session_link_valid("m2", "h-link1").await.unwrap());
    assert!(!store.session_link_valid("m2", "h-link2").await.unwrap());
    for m in &msgs {
        store.outbox_delivered(&m.id, "relay", t(4)).await.unwrap();
    }
    // A reply and the resolution mail too; a note does not.
    let with_mail = |act: Act, n: u8| {
        let mut c = by("sam", 2, act);
        c.mail = Some(link(n));
        c
    };
    for (n, act) in [
        (
            3,
            Act::Reply {
                text: "Try now".into(),
                wait: true,
            },
        ),
        (4, Act::Note { text: "x".into() }),
        (
            5,
            Act::Resolve {
                resolution: "Fixed".into(),
                note: None,
            },
        ),
    ] {
        // One after the other: the outbox is leased in time order.
        ok(store
            .change_escalation("esc-m1", &with_mail(act, n), t(i64::from(n)))
            .await
            .unwrap());
    }
    let msgs = lease_all(store, "relay", t(6)).await;
    let mails: Vec<(String, fixpath::case::mail::MailJob)> = msgs
        .iter()
        .filter(|m| m.event_type.starts_with("mail."))
        .map(|m| {
            (
                m.event_type.clone(),
                serde_json::from_str(&m.payload).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        mails
            .iter()
            .map(|(t, j)| (t.as_str(), j.text.as_deref()))
            .collect::<Vec<_>>(),
        [
            ("mail.reply", Some("Try now")),
            ("mail.resolved", Some("Fixed"))
        ]
    );
    assert!(store.session_link_valid("m1", "h-link3").await.unwrap());
    assert!(!store.session_link_valid("m1", "h-link4").await.unwrap());
    // Links for `/status`, added on their own.
    store
        .add_session_link("m2", "h-status", t(7))
        .await
        .unwrap();
    assert!(store.session_link_valid("m2", "h-status").await.unwrap());
    let missing = store.add_session_link("nope", "h-x", t(7)).await;
    assert!(
        matches!(missing, Err(StoreError::NotFound(_))),
        "{missing:?}"
    );
}

/// Rows written before cases (schema version 3) read back as cases after
/// the migration: the session's reference (or one made from the id), the
/// status and holder of the old columns, the resolver from the last note,
/// a history that starts with `created`; and they take changes.
async fn cases_stored_before_read_back(db: &Backend) {
    let (p, _) = program();
    let store = db.open_at(3).await;
    let h = start(&p, "handover", Channel::Api, t(0));
    let old = "esc_0123456789abcdef0123456789abcdef";
    for (session, reference) in [
        ("old1", Some("k7qf-2m9d")),
        ("old2", None),
        ("old3", Some("T-9")),
    ] {
        // In that schema's shape: the columns of then, the state whole.
        let state = serde_json::to_string(&h).unwrap().replace('\'', "''");
        db.execute(&format!(
            "INSERT INTO sessions (id, token_hash, owner, reference, script, status, seq, state, \
                 created_at, updated_at) \
             VALUES ('{session}', 'hash-of-{session}', 'al', {}, 'handover', 'escalated', {}, \
                 '{state}', {}, {})",
            reference.map_or("NULL".to_owned(), |r| format!("'{r}'")),
            h.seq,
            db.time(t(0)),
            db.time(t(0)),
        ))
        .await;
    }
    let mut resolved = Record::from_session(&p, &h, "esc-old3", "old3", t(0)).unwrap();
    resolved
        .notes
        .push(note("kim", "Replaced the modem", t(30)));
    let rows = [
        (
            "esc-old1",
            "old1",
            "open",
            None,
            Record::from_session(&p, &h, "esc-old1", "old1", t(0)).unwrap(),
        ),
        (
            old,
            "old2",
            "claimed",
            Some("sam"),
            Record::from_session(&p, &h, old, "old2", t(0)).unwrap(),
        ),
        ("esc-old3", "old3", "resolved", Some("sam"), resolved),
    ];
    for (id, session, status, holder, record) in &rows {
        let json = serde_json::to_string(record).unwrap().replace('\'', "''");
        db.execute(&format!(
            "INSERT INTO escalations (id, session_id, tier, queue, status, claimed_by, record, \
                 created_at, updated_at) \
             VALUES ('{id}', '{session}', 2, 'desk', '{status}', {}, '{json}', {}, {})",
            holder.map_or("NULL".to_owned(), |h| format!("'{h}'")),
            db.time(t(0)),
            db.time(t(40)),
        ))
        .await;
    }
    store.migrate().await.expect("migrates the old rows");

    // The sessions of then have their outcome, version and channel now.
    let ended = store.unrolled(10).await.unwrap();
    assert_eq!(ended.len(), 3);
    for e in &ended {
        assert_eq!(e.outcome, fixpath::stats::Outcome::Escalated);
        assert_eq!(e.ended_at, t(0));
        assert_eq!(e.session.pins[0].version, h.pins[0].version);
    }

    let e1 = store.escalation("esc-old1").await.unwrap().unwrap();
    assert_eq!(e1.record, rows[0].4);
    assert_eq!(e1.case.reference, "k7qf-2m9d");
    assert_eq!(e1.case.status, EscalationStatus::Open);
    assert_eq!(
        e1.case
            .events
            .iter()
            .map(|e| (e.kind, e.at))
            .collect::<Vec<_>>(),
        [(EventType::Created, t(0))]
    );
    assert!(e1.case.messages.is_empty() && e1.case.external.is_empty());
    assert_eq!(e1.case.due, Due::default());
    assert!(e1.case.ticket_text.contains("This always goes to a person"));
    // Lookups by reference, as a customer types it.
    let found = store.escalation_by_reference("K7QF2M9D").await.unwrap();
    assert_eq!(found.map(|e| e.record.id), Some("esc-old1".to_owned()));

    let e2 = store.escalation(old).await.unwrap().unwrap();
    assert_eq!(e2.case.reference, "89AB-CDEF", "made from the id's end");
    assert_eq!(e2.case.status, EscalationStatus::Claimed);
    assert_eq!(e2.case.claimed_by.as_deref(), Some("sam"));
    assert_eq!(e2.case.claimed_at, Some(t(40)));
    let found = store.escalation_by_reference("89abcdef").await.unwrap();
    assert_eq!(found.map(|e| e.record.id), Some(old.to_owned()));

    let e3 = store.escalation("esc-old3").await.unwrap().unwrap();
    assert_eq!(e3.case.status, EscalationStatus::Resolved);
    assert_eq!(e3.case.claimed_by.as_deref(), Some("sam"));
    assert_eq!(
        e3.case.resolved_by.as_deref(),
        Some("kim"),
        "the resolver, not the holder"
    );
    assert_eq!(e3.case.resolved_at, Some(t(30)));
    assert_eq!(e3.case.resolution.as_deref(), Some("Replaced the modem"));
    assert_eq!(
        e3.case.events.iter().map(|e| e.kind).collect::<Vec<_>>(),
        [EventType::Created, EventType::Claimed, EventType::Resolved]
    );

    // An old case takes changes, `waiting` included (the new CHECK).
    let e = ok(store
        .change_escalation(
            old,
            &by(
                "sam",
                2,
                Act::Reply {
                    text: "Which model?".into(),
                    wait: true,
                },
            ),
            t(50),
        )
        .await
        .unwrap());
    assert_eq!(e.case.status, EscalationStatus::Waiting);
    assert_eq!(store.escalation(old).await.unwrap().unwrap(), e);
    // Created at the same time: by id.
    let (all, _) = ids_of(&*store, &EscalationFilter::default()).await;
    assert_eq!(all, ["esc-old1", "esc-old3", old]);
    store.close().await;
}

/// Many specialists claim one escalation at once: exactly one wins.
pub async fn concurrent_claims(store: Arc<dyn Store>) {
    let (p, _) = program();
    let h = start(&p, "handover", Channel::Api, t(0));
    let record = Record::from_session(&p, &h, "esc-race", "race", t(0)).unwrap();
    store
        .create_session(
            &stored("race", &h, None, t(0)),
            Some(&case_of(record, t(0))),
        )
        .await
        .unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..32 {
        let store = store.clone();
        tasks.spawn(async move {
            let by = format!("specialist-{i}");
            let c = store
                .change_escalation("esc-race", &claim(&by, 2), t(1))
                .await
                .unwrap();
            (by, c)
        });
    }
    let mut winners = Vec::new();
    while let Some(r) = tasks.join_next().await {
        let (by, c) = r.unwrap();
        match c {
            Changed::Ok(e) => {
                assert_eq!(e.case.claimed_by.as_deref(), Some(by.as_str()));
                winners.push(by);
            }
            Changed::Refused(e, why) => {
                assert_eq!(e.case.status, EscalationStatus::Claimed);
                assert!(matches!(why, Refusal::ClaimedByOther { .. }), "{why:?}");
            }
            other => panic!("a claim is made or refused: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let e = store.escalation("esc-race").await.unwrap().unwrap();
    assert_eq!(e.case.claimed_by.as_ref(), winners.first());
    let msgs = lease_all(&*store, "relay", t(2)).await;
    assert_eq!(
        msgs.iter()
            .filter(|m| m.event_type == "escalation.claimed")
            .count(),
        1,
        "one claim, one message"
    );
}

/// The same step saved many times at once (a double click, many times
/// over): one save, one set of trail rows.
pub async fn concurrent_steps(store: Arc<dyn Store>) {
    let (p, _) = program();
    let s0 = start(&p, "printer", Channel::Agent, t(0));
    store
        .create_session(&stored("click", &s0, None, t(0)), None)
        .await
        .unwrap();
    let mut s1 = s0.clone();
    engine::answer(&p, &mut s1, Reply::Answer("Yes".into()), "al", t(1)).unwrap();
    let (new, _) = diff(&s0, &s1);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let store = store.clone();
        let s1 = s1.clone();
        let new = new.clone();
        let expected = s0.seq;
        tasks.spawn(async move {
            store
                .save_step(&StepWrite {
                    session_id: "click",
                    expected_seq: expected,
                    state: &s1,
                    new_entries: &new,
                    retracted: &[],
                    escalation: None,
                    now: t(1),
                })
                .await
                .unwrap()
        });
    }
    let mut saved = Vec::new();
    while let Some(r) = tasks.join_next().await {
        saved.push(r.unwrap());
    }
    assert_eq!(saved.iter().filter(|s| **s == Saved::Ok).count(), 1);
    assert_eq!(saved.iter().filter(|s| **s == Saved::Conflict).count(), 15);
    assert_eq!(store.session("click").await.unwrap().unwrap().state, s1);
}

/// A step the store refuses (here: it retracts an entry the trail does not
/// have, or adds one seq twice) fails whole and alone: the steps saved at
/// the same moment are saved, its session is as it was.
pub async fn failing_step_fails_alone(store: Arc<dyn Store>) {
    let (p, _) = program();
    let s0 = start(&p, "printer", Channel::Agent, t(0));
    let mut s1 = s0.clone();
    engine::answer(&p, &mut s1, Reply::Answer("Yes".into()), "al", t(1)).unwrap();
    let (new, _) = diff(&s0, &s1);
    assert!(!new.is_empty());
    for i in 0..12 {
        store
            .create_session(&stored(&format!("f{i}"), &s0, None, t(0)), None)
            .await
            .unwrap();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let store = store.clone();
        let s1 = s1.clone();
        let mut new = new.clone();
        let expected = s0.seq;
        tasks.spawn(async move {
            let retracted: Vec<u32> = if i == 3 { vec![99] } else { vec![] };
            if i == 7 {
                new.push(new[0].clone());
            }
            let r = store
                .save_step(&StepWrite {
                    session_id: &format!("f{i}"),
                    expected_seq: expected,
                    state: &s1,
                    new_entries: &new,
                    retracted: &retracted,
                    escalation: None,
                    now: t(1),
                })
                .await;
            (i, r)
        });
    }
    while let Some(r) = tasks.join_next().await {
        let (i, r) = r.unwrap();
        let loaded = store.session(&format!("f{i}")).await.unwrap().unwrap();
        if i == 3 || i == 7 {
            assert!(r.is_err(), "f{i}: {r:?}");
            assert_eq!(loaded.state, s0, "f{i} is as it was");
            assert_eq!(loaded.updated_at, t(0));
        } else {
            assert_eq!(r.unwrap(), Saved::Ok, "f{i}");
            assert_eq!(loaded.state, s1, "f{i}");
        }
    }
}

/// Channels: a relay leases only its own channel's messages (a mail never
/// reaches a webhook relay, nor an event the mail relay); only the holder
/// settles a message, delivered or given up; a channel turned off is given
/// up whole, leases and all, and the other channel's messages stay.
pub async fn outbox_channels(store: &dyn Store) {
    use fixpath::store::OutboxChannel::{Mail, Webhooks};
    let now = t(0);
    let hook = store
        .enqueue_outbox("escalation.created", "{}", now)
        .await
        .unwrap();
    // Starts like one, is none.
    let lookalike = store
        .enqueue_outbox("mailbox.full", "{}", now)
        .await
        .unwrap();
    let mut mails = Vec::new();
    for _ in 0..3 {
        mails.push(
            store
                .enqueue_outbox("mail.received", r#"{"to":"a@b.example"}"#, now)
                .await
                .unwrap(),
        );
    }
    assert_eq!(store.outbox_pending().await.unwrap(), 5);
    let until = now + Duration::seconds(30);
    let ids = |ms: Vec<OutboxMessage>| {
        let mut v: Vec<String> = ms.into_iter().map(|m| m.id).collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let m = store
        .lease_outbox_of(Some(Mail), "m", now, until, 10)
        .await
        .unwrap();
    assert_eq!(ids(m), sorted(mails.clone()));
    let w = store
        .lease_outbox_of(Some(Webhooks), "w", now, until, 10)
        .await
        .unwrap();
    assert_eq!(ids(w), sorted(vec![hook.clone(), lookalike.clone()]));
    assert!(
        store
            .lease_outbox("x", now, until, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let smtp = ["smtp".to_owned()];
    store
        .outbox_settle(&mails[0], "w", now, &smtp, None)
        .await
        .unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 5, "not the holder");
    store
        .outbox_settle(&mails[0], "m", now, &smtp, None)
        .await
        .unwrap();
    store
        .outbox_settle(&mails[1], "m", now, &[], Some("no such address"))
        .await
        .unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 3);

    assert_eq!(
        store
            .outbox_give_up_channel(Mail, now, "mail is off")
            .await
            .unwrap(),
        1,
        "the third mail, leased or not"
    );
    assert_eq!(
        store
            .outbox_give_up_channel(Mail, now, "mail is off")
            .await
            .unwrap(),
        0
    );
    // The holder's late report changes nothing.
    store
        .outbox_retry_at(&mails[2], "m", now, &[], "timed out")
        .await
        .unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 2);
    let later = until + Duration::seconds(1);
    assert!(
        store
            .lease_outbox_of(Some(Mail), "m2", later, later + Duration::seconds(30), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let rest = store
        .lease_outbox("all", later, later + Duration::seconds(30), 10)
        .await
        .unwrap();
    assert_eq!(ids(rest), sorted(vec![hook, lookalike]));
}

/// Leasing: two relays never hold the same message; a lease runs out;
/// only the holder may settle a message; delivered ones are never leased
/// again; a retry waits for its time and keeps the endpoints that took it.
pub async fn outbox_leasing(store: &dyn Store) {
    let (p, _) = program();
    for i in 0..10 {
        let id = format!("o{i}");
        let h = start(&p, "handover", Channel::Api, t(i));
        let r = Record::from_session(&p, &h, &format!("esc-{id}"), &id, t(i)).unwrap();
        store
            .create_session(&stored(&id, &h, None, t(i)), Some(&case_of(r, t(i))))
            .await
            .unwrap();
    }
    assert_eq!(store.outbox_pending().await.unwrap(), 10);
    let now = t(100);
    let until = now + Duration::seconds(30);
    // Nothing is due before it was written.
    assert!(
        store
            .lease_outbox("a", t(-1), until, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let (a, b) = tokio::join!(
        store.lease_outbox("a", now, until, 4),
        store.lease_outbox("b", now, until, 4)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!((a.len(), b.len()), (4, 4));
    let mut seen: Vec<&str> = a.iter().chain(&b).map(|m| m.id.as_str()).collect();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 8, "no message is leased twice");
    // Oldest first.
    assert!(
        a.windows(2)
            .all(|w| w[0].next_attempt_at <= w[1].next_attempt_at)
    );

    let c = store.lease_outbox("c", now, until, 10).await.unwrap();
    assert_eq!(c.len(), 2, "only the two unleased ones");
    assert!(
        store
            .lease_outbox("d", now + Duration::seconds(10), until, 10)
            .await
            .unwrap()
            .is_empty(),
        "every lease still runs"
    );

    // Settling a message takes its lease.
    store.outbox_delivered(&a[0].id, "b", now).await.unwrap();
    assert_eq!(
        store.outbox_pending().await.unwrap(),
        10,
        "not b's to settle"
    );
    store.outbox_delivered(&a[0].id, "a", now).await.unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 9);
    store.outbox_delivered(&a[0].id, "a", now).await.unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 9);

    // A retry: attempts + 1, the endpoints that took it, not before `at`.
    let endpoints = vec!["https://one.example/hook".to_string()];
    store
        .outbox_retry_at(
            &a[1].id,
            "b",
            now + Duration::seconds(5),
            &endpoints,
            "nope",
        )
        .await
        .unwrap();
    store
        .outbox_retry_at(
            &a[1].id,
            "a",
            now + Duration::seconds(60),
            &endpoints,
            "503",
        )
        .await
        .unwrap();

    // Leases run out: after them, what is left comes back, the delivered
    // message never, the retried one only at its time.
    let later = now + Duration::seconds(31);
    let back = store
        .lease_outbox("d", later, later + Duration::seconds(30), 100)
        .await
        .unwrap();
    assert_eq!(back.len(), 8);
    assert!(back.iter().all(|m| m.id != a[0].id && m.id != a[1].id));
    assert!(
        back.iter()
            .all(|m| m.attempts == 0 && m.delivered_to.is_empty())
    );
    // The old holder's lease is gone: its word no longer counts.
    store.outbox_delivered(&b[0].id, "b", later).await.unwrap();
    assert_eq!(store.outbox_pending().await.unwrap(), 9);

    let at = now + Duration::seconds(60);
    let retried = store
        .lease_outbox("e", at, at + Duration::seconds(30), 100)
        .await
        .unwrap();
    assert_eq!(retried.len(), 1);
    let m = &retried[0];
    assert_eq!(m.id, a[1].id);
    assert_eq!(m.attempts, 1);
    assert_eq!(m.next_attempt_at, at);
    assert_eq!(m.delivered_to, endpoints);
    assert_eq!(m.payload, a[1].payload, "the same body on every retry");

    for m in back.iter().chain(&retried) {
        let owner = if m.id == a[1].id { "e" } else { "d" };
        store.outbox_delivered(&m.id, owner, at).await.unwrap();
    }
    assert_eq!(store.outbox_pending().await.unwrap(), 0);
    let far = at + Duration::days(1);
    assert!(
        store
            .lease_outbox("f", far, far + Duration::seconds(30), 100)
            .await
            .unwrap()
            .is_empty()
    );
}

/// How the load runs: `tasks` concurrent tasks (people at a screen), each
/// taking `sessions` sessions in turn through `steps` answers.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    pub tasks: usize,
    pub sessions: usize,
    pub steps: u32,
    /// Read the session before every answer, as a request handler does.
    pub read_first: bool,
}

/// Saves answers under `load`: answers per second, and the process's CPU
/// time per answer in µs.
pub async fn throughput(store: Arc<dyn Store>, load: Load) -> (f64, f64) {
    let (p, _) = program();
    let s0 = start(&p, "printer", Channel::Agent, t(0));
    let mut s1 = s0.clone();
    engine::answer(&p, &mut s1, Reply::Answer("Yes".into()), "al", t(1)).unwrap();
    // An answer's entry, repeated: the engine's own scripts end too soon.
    let template = s1.trail[0].clone();
    let tag = if load.read_first { "rw" } else { "w" };
    for i in 0..load.tasks {
        for k in 0..load.sessions {
            store
                .create_session(
                    &stored(&format!("load-{tag}-{i}-{k}"), &s0, None, t(0)),
                    None,
                )
                .await
                .unwrap();
        }
    }
    let cpu = cpu_time();
    let started = std::time::Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..load.tasks {
        let store = store.clone();
        let s0 = s0.clone();
        let template = template.clone();
        set.spawn(async move {
            for k in 0..load.sessions {
                let id = format!("load-{tag}-{i}-{k}");
                let mut s = s0.clone();
                for n in 0..load.steps {
                    if load.read_first {
                        s = store.session(&id).await.unwrap().unwrap().state;
                    }
                    let expected = s.seq;
                    let mut e = template.clone();
                    e.set_seq(s.trail.len() as u32 + 1);
                    s.trail.push(e);
                    s.seq += 1;
                    let saved = store
                        .save_step(&StepWrite {
                            session_id: &id,
                            expected_seq: expected,
                            state: &s,
                            new_entries: &s.trail[s.trail.len() - 1..],
                            retracted: &[],
                            escalation: None,
                            now: t(i64::from(n)),
                        })
                        .await
                        .unwrap();
                    assert_eq!(saved, Saved::Ok);
                }
                assert_eq!(s.trail.len(), load.steps as usize);
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let secs = started.elapsed().as_secs_f64();
    let answers = (load.tasks * load.sessions) as f64 * f64::from(load.steps);
    (answers / secs, (cpu_time() - cpu) * 1e6 / answers)
}

// ---------------------------------------------------------------- the backends

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A folder of its own under the system's temp folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        TempDir(std::env::temp_dir().join(format!(
            "fixpath-store-{name}-{}-{n}-{nanos}",
            std::process::id()
        )))
    }

    fn db(&self) -> String {
        self.0.join("data").join("fixpath.db").display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An empty database of one test, on one backend; dropped with the test.
enum Backend {
    Sqlite(TempDir),
    Postgres(TestDb),
}

impl Backend {
    fn sqlite(test: &str) -> Backend {
        Backend::Sqlite(TempDir::new(test))
    }

    /// `None` when PostgreSQL is unreachable and not required (the helper
    /// has said so on stderr).
    async fn postgres(test: &str) -> Option<Backend> {
        TestDb::create(test).await.map(Backend::Postgres)
    }

    fn database(&self) -> Database {
        match self {
            Backend::Sqlite(dir) => Database::parse(&dir.db()).expect("a path"),
            Backend::Postgres(db) => Database::Postgres {
                url: db.url.clone(),
                pool: 8,
            },
        }
    }

    /// Opens the database (again: a restart, or a second instance) and
    /// migrates it, as the server does.
    async fn open(&self) -> OpenStore {
        open_store(&self.database())
            .await
            .expect("opens and migrates")
    }

    /// Opens the database migrated only up to `version` (an older schema).
    async fn open_at(&self, version: i64) -> OpenStore {
        match self.database() {
            Database::Sqlite { url, .. } => {
                let s = SqliteStore::open(&url).await.unwrap();
                s.migrate_to(version).await.unwrap();
                OpenStore::Sqlite(Arc::new(s))
            }
            Database::Postgres { url, pool } => {
                let s = PgStore::open(&url, pool).await.unwrap();
                s.migrate_to(version).await.unwrap();
                OpenStore::Postgres(Arc::new(s))
            }
        }
    }

    /// A time as an SQL literal of this backend.
    fn time(&self, at: OffsetDateTime) -> String {
        match self {
            Backend::Sqlite(_) => (at.unix_timestamp_nanos() / 1_000_000).to_string(),
            Backend::Postgres(_) => format!(
                "'{}'::timestamptz",
                at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap()
            ),
        }
    }

    /// Runs `sql` behind the stores' backs.
    async fn execute(&self, sql: &str) {
        match self {
            Backend::Sqlite(dir) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.db()))
                    .await
                    .unwrap();
                sqlx::query(sql).execute(&pool).await.unwrap();
                pool.close().await;
            }
            Backend::Postgres(db) => {
                let mut conn = PgConnection::connect(&db.url).await.unwrap();
                sqlx::query(sql).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
            }
        }
    }
}

/// Each suite once per backend: `NAME::sqlite` always, `NAME::postgres`
/// when PostgreSQL is reachable (see `common::pg`).
macro_rules! on_both_backends {
    ($($name:ident($db:ident) $body:block)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = Backend::sqlite(stringify!($name));
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($db) = Backend::postgres(stringify!($name)).await else {
                    return;
                };
                $body
            }
        }
    )*};
}

on_both_backends! {
    users_listed(db) {
        let store = db.open().await;
        super::users_listed(&*store).await;
        store.close().await;
    }

    ticket_links(db) {
        let store = db.open().await;
        super::ticket_links(&*store).await;
        store.close().await;
    }

    story(db) {
        let store = db.open().await;
        super::story(&*store).await;
        store.close().await;
    }

    cases_sorted_and_paged(db) {
        let store = db.open().await;
        super::cases_sorted_and_paged(&*store).await;
        store.close().await;
    }

    cases_mail_with_their_links(db) {
        let store = db.open().await;
        super::cases_mail_with_their_links(&*store).await;
        store.close().await;
    }

    cases_stored_before_read_back(db) {
        super::cases_stored_before_read_back(&db).await;
    }

    concurrent_claims(db) {
        let store = db.open().await;
        super::concurrent_claims(store.store()).await;
        store.close().await;
    }

    concurrent_steps(db) {
        let store = db.open().await;
        super::concurrent_steps(store.store()).await;
        store.close().await;
    }

    failing_step_fails_alone(db) {
        let store = db.open().await;
        super::failing_step_fails_alone(store.store()).await;
        store.close().await;
    }

    outbox_leasing(db) {
        let store = db.open().await;
        super::outbox_leasing(&*store).await;
        store.close().await;
    }

    outbox_channels(db) {
        let store = db.open().await;
        super::outbox_channels(&*store).await;
        store.close().await;
    }

    sign_in_failures_are_counted_across_instances(db) {
        // Two stores on one database, as two instances behind a balancer.
        let (a, b) = (db.open().await, db.open().await);
        let window = time::Duration::minutes(15);
        assert_eq!(a.signin_failures("ann").await.unwrap(), None);
        for n in 1..=3 {
            let (count, since) = a.count_signin_failure("ann", t(n), window).await.unwrap();
            assert_eq!((count, since), (n as u32, t(1)), "on the first instance");
        }
        for n in 4..=5 {
            let (count, _) = b.count_signin_failure("ann", t(n), window).await.unwrap();
            assert_eq!(count, n as u32, "the second instance counts on");
        }
        assert_eq!(a.signin_failures("ann").await.unwrap(), Some((5, t(1))));
        assert_eq!(b.signin_failures("bob").await.unwrap(), None, "per name");
        // A failure a window after the count began starts a new count, and
        // counts that ran out are forgotten on the way.
        b.count_signin_failure("bob", t(1), window).await.unwrap();
        let later = t(1) + window;
        assert_eq!(
            a.count_signin_failure("ann", later, window).await.unwrap(),
            (1, later)
        );
        assert_eq!(a.signin_failures("bob").await.unwrap(), None);
        // A good sign-in clears the count everywhere.
        b.clear_signin_failures("ann").await.unwrap();
        assert_eq!(a.signin_failures("ann").await.unwrap(), None);
        a.close().await;
        b.close().await;
    }

    parallel_sign_in_attempts_each_get_their_own_number(db) {
        // The lockout counts an attempt before checking its password: 40
        // attempts at once, over two instances, must number 1 to 40, so
        // exactly the first few are checked and the rest refused.
        let (a, b) = (db.open().await, db.open().await);
        let window = time::Duration::minutes(15);
        let (a, b) = (std::sync::Arc::new(a), std::sync::Arc::new(b));
        let mut tries = Vec::new();
        for n in 0..40 {
            let store = if n % 2 == 0 { a.clone() } else { b.clone() };
            tries.push(tokio::spawn(async move {
                store.count_signin_failure("eve", t(1), window).await.unwrap().0
            }));
        }
        let mut numbers = Vec::new();
        for t in tries {
            numbers.push(t.await.unwrap());
        }
        numbers.sort_unstable();
        assert_eq!(numbers, (1..=40).collect::<Vec<u32>>());
        for s in [a, b] {
            if let Ok(s) = std::sync::Arc::try_unwrap(s) {
                s.close().await;
            }
        }
    }

    everything_survives_reopening(db) {
        let (p, _) = program();
        let mut s = start(&p, "printer", Channel::Agent, t(0));
        let record;
        {
            let store = db.open().await;
            store
                .create_user(&NewUser {
                    user: user("sam", Role::Specialist, 2),
                    password_hash: Some("phc".into()),
                    token_hash: "h-sam".into(),
                })
                .await
                .unwrap();
            store
                .create_session(&stored("r1", &s, Some("T-7"), t(0)), None)
                .await
                .unwrap();
            step(&*store, &p, "r1", &mut s, t(1), reply("No", t(1))).await;
            record = Record::from_session(&p, &s, "esc-r1", "r1", t(1)).unwrap();
            ok(store
                .change_escalation("esc-r1", &claim("sam", 2), t(2))
                .await
                .unwrap());
            store.close().await;
        }
        // Opened and migrated again (a no-op).
        let store = db.open().await;
        assert_eq!(
            store.user_by_token("h-sam", t(3)).await.unwrap(),
            Some(user("sam", Role::Specialist, 2))
        );
        let loaded = store.session("r1").await.unwrap().unwrap();
        assert_eq!(loaded.state, s);
        assert_eq!(loaded.reference.as_deref(), Some("T-7"));
        let e = store.escalation("esc-r1").await.unwrap().unwrap();
        assert_eq!(e.record, record);
        assert_eq!(e.case.status, EscalationStatus::Claimed);
        assert_eq!(e.updated_at, t(2));
        assert_eq!(store.outbox_pending().await.unwrap(), 2);
        store.close().await;
    }

    corrupt_rows_are_reported_not_panicked_on(db) {
        let store = db.open().await;
        let (p, _) = program();
        let s = start(&p, "printer", Channel::Agent, t(0));
        store
            .create_session(&stored("bad", &s, None, t(0)), None)
            .await
            .unwrap();
        // Damage the row behind the store's back.
        db.execute("UPDATE sessions SET state = '{\"script\": 1}' WHERE id = 'bad'")
            .await;
        let r = store.session("bad").await;
        assert!(matches!(r, Err(StoreError::Corrupt { .. })), "{r:?}");
        // The cause is kept, and the error can be handed to several callers.
        let e = r.unwrap_err();
        assert!(std::error::Error::source(&e).is_some(), "{e:?}");
        assert_eq!(e.clone().to_string(), e.to_string());
        store.close().await;
    }

    throughput_smoke(db) {
        // Not asserted: a figure for the load target. The real one:
        // `cargo test --release --test store throughput -- --nocapture`.
        let store = db.open().await;
        let backend = match db {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        };
        let sessions = if cfg!(debug_assertions) { 1 } else { 10 };
        for read_first in [false, true] {
            let load = Load {
                tasks: 64,
                sessions,
                steps: 15,
                read_first,
            };
            let (rate, cpu_us) = throughput(store.store(), load).await;
            let answers = (load.tasks * load.sessions) as f64 * f64::from(load.steps);
            eprintln!(
                "{backend} {}: {rate:.0} answers/s, {cpu_us:.0} µs of this process's CPU each \
                 (64 concurrent sessions, {answers} answers{})",
                if read_first {
                    "session + save_step"
                } else {
                    "save_step"
                },
                if cfg!(debug_assertions) {
                    ", debug build"
                } else {
                    ""
                }
            );
        }
        store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_opens_urls_and_paths_creating_folders() {
    let dir = TempDir::new("open");
    let plain = dir.0.join("a").join("b").join("plain.db");
    let forms = [
        plain.display().to_string(),
        format!("sqlite://{}", dir.0.join("c").join("url.db").display()),
        format!("sqlite:{}", dir.0.join("d").join("short.db").display()),
    ];
    for form in &forms {
        let store = SqliteStore::open(form)
            .await
            .unwrap_or_else(|e| panic!("{form}: {e}"));
        store.migrate().await.unwrap();
        assert_eq!(store.outbox_pending().await.unwrap(), 0);
        store.close().await;
    }
    assert!(plain.exists());
    assert!(dir.0.join("c").join("url.db").exists());
    assert!(dir.0.join("d").join("short.db").exists());

    // In memory works too (one connection), for throwaway use.
    let mem = SqliteStore::open("sqlite::memory:").await.unwrap();
    mem.migrate().await.unwrap();
    story(&mem).await;
}

/// Instances started together migrate one after the other (sqlx's advisory
/// lock): none fails on a half-made schema, and the schema is made once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_instances_starting_together_migrate_once() {
    let Some(db) = Backend::postgres("migrate_together").await else {
        return;
    };
    let database = db.database();
    let opened = futures_join_all((0..4).map(|_| {
        let database = database.clone();
        async move { open_store(&database).await }
    }))
    .await;
    let stores: Vec<OpenStore> = opened
        .into_iter()
        .map(|r| r.expect("every instance starts"))
        .collect();
    // One row per embedded migration (`migrations/postgres/`), each once.
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    db.execute(&format!(
        "DO $$ BEGIN IF (SELECT count(*) FROM _sqlx_migrations) <> {migrations} THEN \
         RAISE EXCEPTION 'migrated more than once, or not all'; END IF; END $$"
    ))
    .await;
    for s in &stores {
        assert_eq!(s.outbox_pending().await.unwrap(), 0);
        s.close().await;
    }
}

/// The races of the suites, with the contenders on two pools (two
/// instances) instead of one: the database decides, not a process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_instances_race_on_one_database() {
    let Some(db) = Backend::postgres("two_instances").await else {
        return;
    };
    let (a, b) = (db.open().await, db.open().await);
    let (p, _) = program();
    let s0 = start(&p, "printer", Channel::Agent, t(0));
    a.create_session(&stored("both", &s0, None, t(0)), None)
        .await
        .unwrap();
    let mut s1 = s0.clone();
    engine::answer(&p, &mut s1, Reply::Answer("Yes".into()), "al", t(1)).unwrap();
    let (new, _) = diff(&s0, &s1);
    let h = start(&p, "handover", Channel::Api, t(0));
    let record = Record::from_session(&p, &h, "esc-both", "both-h", t(0)).unwrap();
    b.create_session(
        &stored("both-h", &h, None, t(0)),
        Some(&case_of(record, t(0))),
    )
    .await
    .unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let store = if i % 2 == 0 { a.store() } else { b.store() };
        let (s1, new) = (s1.clone(), new.clone());
        tasks.spawn(async move {
            let saved = store
                .save_step(&StepWrite {
                    session_id: "both",
                    expected_seq: s0_seq(),
                    state: &s1,
                    new_entries: &new,
                    retracted: &[],
                    escalation: None,
                    now: t(1),
                })
                .await
                .unwrap();
            let claimed = store
                .change_escalation("esc-both", &claim(&format!("specialist-{i}"), 2), t(2))
                .await
                .unwrap();
            (saved, matches!(claimed, Changed::Ok(_)))
        });
    }
    let mut saved = 0;
    let mut claims = 0;
    while let Some(r) = tasks.join_next().await {
        let (s, c) = r.unwrap();
        saved += usize::from(s == Saved::Ok);
        claims += usize::from(c);
    }
    assert_eq!((saved, claims), (1, 1), "one step saved, one claim won");
    let loaded = b.session("both").await.unwrap().unwrap();
    assert_eq!(loaded.state, s1);
    a.close().await;
    b.close().await;
}

// ---------------------------------------------------------------- PostgreSQL's writer

/// A PostgreSQL store whose writer is held up: a session row (`gate`) is
/// locked by a transaction of the test's own and a step of `gate` is
/// saved, so the writer waits in that statement and every write handed to
/// it meanwhile queues. [`HeldWriter::release`] lets it go on: the queued
/// writes are then batched together, deterministically.
struct HeldWriter {
    store: Arc<PgStore>,
    lock: PgConnection,
    gate: tokio::task::JoinHandle<Saved>,
    /// Writes the writer had taken before the test's own.
    before: u64,
}

impl HeldWriter {
    async fn new(db: &Backend, open: &OpenStore) -> HeldWriter {
        let OpenStore::Postgres(store) = open else {
            panic!("a PostgreSQL store");
        };
        let store = store.clone();
        let (p, _) = program();
        let s0 = start(&p, "printer", Channel::Agent, t(0));
        store
            .create_session(&stored("gate", &s0, None, t(0)), None)
            .await
            .unwrap();
        let Backend::Postgres(pg) = db else {
            panic!("a PostgreSQL database");
        };
        let mut lock = PgConnection::connect(&pg.url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut lock).await.unwrap();
        sqlx::query("SELECT 1 FROM sessions WHERE id = 'gate' FOR UPDATE")
            .execute(&mut lock)
            .await
            .unwrap();
        let mut s1 = s0.clone();
        engine::answer(&p, &mut s1, Reply::Answer("Yes".into()), "al", t(1)).unwrap();
        let (new, _) = diff(&s0, &s1);
        let gate = {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .save_step(&StepWrite {
                        session_id: "gate",
                        expected_seq: s0.seq,
                        state: &s1,
                        new_entries: &new,
                        retracted: &[],
                        escalation: None,
                        now: t(1),
                    })
                    .await
                    .unwrap()
            })
        };
        // The writer is in the gate's statement once PostgreSQL has it
        // waiting for the row lock. Other tests wait for locks in their own
        // databases meanwhile (a row lock's wait in `pg_locks` names no
        // database): only a session of this test's database that waits for
        // a lock is the gate's.
        let waiting = "SELECT count(*) FROM pg_stat_activity \
                       WHERE datname = current_database() AND wait_event_type = 'Lock'";
        for _ in 0..500 {
            let n: i64 = sqlx::query_scalar(waiting)
                .fetch_one(&mut lock)
                .await
                .unwrap();
            if n > 0 {
                let before = store.writer_stats().submitted;
                return HeldWriter {
                    store,
                    lock,
                    gate,
                    before,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the gate's step never waited for the lock");
    }

    /// Waits until `n` writes of the test's own are queued, then lets the
    /// writer go on.
    async fn release(mut self, n: u64) {
        for _ in 0..500 {
            if self.store.writer_stats().submitted >= self.before + n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(self.store.writer_stats().submitted, self.before + n);
        sqlx::query("COMMIT").execute(&mut self.lock).await.unwrap();
        assert_eq!(self.gate.await.unwrap(), Saved::Ok);
        self.lock.close().await.unwrap();
    }
}

/// One step of `id` from `from` (an answer to the printer's first
/// question), as a task; the state it saves comes back with the result.
fn spawn_step(
    store: &Arc<PgStore>,
    p: &Program,
    id: &str,
    from: &Session,
    answer: &str,
) -> tokio::task::JoinHandle<(StoreResult<Saved>, Session, Option<Record>)> {
    let mut after = from.clone();
    engine::answer(p, &mut after, Reply::Answer(answer.into()), "al", t(1)).unwrap();
    let record = (after.status == Status::Escalated)
        .then(|| Record::from_session(p, &after, &format!("esc-{id}"), id, t(1)))
        .flatten();
    spawn_write(store, id, from, after, record)
}

/// Saves `after` over `from` (its new trail entries, its escalation) as a
/// task.
fn spawn_write(
    store: &Arc<PgStore>,
    id: &str,
    from: &Session,
    after: Session,
    record: Option<Record>,
) -> tokio::task::JoinHandle<(StoreResult<Saved>, Session, Option<Record>)> {
    let (new, _) = diff(from, &after);
    let (store, id, expected) = (store.clone(), id.to_owned(), from.seq);
    tokio::spawn(async move {
        let r = store
            .save_step(&StepWrite {
                session_id: &id,
                expected_seq: expected,
                state: &after,
                new_entries: &new,
                retracted: &[],
                escalation: record.clone().map(|r| case_of(r, t(1))).as_ref(),
                now: t(1),
            })
            .await;
        (r, after, record)
    })
}

/// A PostgreSQL database with sessions `ids` started on the printer
/// script, and its writer held (see [`HeldWriter`]); `None` where
/// PostgreSQL is not reachable (the test skips).
struct Held {
    /// Held, not read: dropping it drops the test's database.
    _db: Backend,
    open: OpenStore,
    p: Program,
    s0: Session,
    held: HeldWriter,
    store: Arc<PgStore>,
}

async fn held_with_sessions(name: &str, ids: &[String]) -> Option<Held> {
    let db = Backend::postgres(name).await?;
    let open = db.open().await;
    let (p, _) = program();
    let s0 = start(&p, "printer", Channel::Agent, t(0));
    for id in ids {
        open.create_session(&stored(id, &s0, None, t(0)), None)
            .await
            .unwrap();
    }
    let held = HeldWriter::new(&db, &open).await;
    let store = held.store.clone();
    Some(Held {
        _db: db,
        open,
        p,
        s0,
        held,
        store,
    })
}

/// Steps and starts of different sessions that queue up together are
/// saved by one statement, every one of them, with their trail rows and
/// escalations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_queued_together_are_saved_in_one_batch() {
    let ids: Vec<String> = (0..12).map(|i| format!("b{i}")).collect();
    let Some(h) = held_with_sessions("batch_together", &ids).await else {
        return;
    };
    // The database (`h._db`) lives to the end of the test.
    let Held {
        open,
        p,
        s0,
        held,
        store,
        ..
    } = h;
    let steps: Vec<_> = (0..12)
        .map(|i| {
            // "No" escalates: every third step carries an escalation, and
            // goes alone (in a transaction of its own), not through the
            // batch.
            let answer = if i % 3 == 0 { "No" } else { "Yes" };
            spawn_step(&store, &p, &format!("b{i}"), &s0, answer)
        })
        .collect();
    let h = start(&p, "handover", Channel::Api, t(0));
    let starts: Vec<_> = (0..3)
        .map(|i| {
            let (store, h) = (store.clone(), h.clone());
            let id = format!("new{i}");
            let record = (i == 0)
                .then(|| Record::from_session(&p, &h, &format!("esc-{id}"), &id, t(0)))
                .flatten();
            tokio::spawn(async move {
                store
                    .create_session(
                        &stored(&id, &h, Some("T-1"), t(0)),
                        record.map(|r| case_of(r, t(0))).as_ref(),
                    )
                    .await
            })
        })
        .collect();
    held.release(10).await;

    for (i, task) in steps.into_iter().enumerate() {
        let (r, after, record) = task.await.unwrap();
        assert_eq!(r.unwrap(), Saved::Ok, "b{i}");
        let loaded = store.session(&format!("b{i}")).await.unwrap().unwrap();
        assert_eq!(loaded.state, after, "b{i}: state and trail");
        assert_eq!(loaded.updated_at, t(1));
        let esc = store.escalation(&format!("esc-b{i}")).await.unwrap();
        assert_eq!(esc.map(|e| e.record), record, "b{i}: its escalation");
    }
    for (i, task) in starts.into_iter().enumerate() {
        task.await.unwrap().unwrap();
        let loaded = store.session(&format!("new{i}")).await.unwrap().unwrap();
        assert_eq!(loaded.state, h, "new{i}");
        assert_eq!(loaded.reference.as_deref(), Some("T-1"));
    }
    assert!(store.escalation("esc-new0").await.unwrap().is_some());
    // Four step escalations and one at a start, each with its message.
    assert_eq!(store.outbox_pending().await.unwrap(), 5);
    let stats = store.writer_stats();
    assert_eq!(stats.largest, 10, "{stats:?}");
    assert_eq!(stats.retried, 0, "{stats:?}");
    open.close().await;
}

/// Two writes of one session from the same `seq`, queued together: never
/// in one statement, so the first wins and the second is a conflict, and
/// the state stored is the winner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_writes_of_one_session_in_a_queue_one_wins() {
    let ids = ["twice", "other1", "other2"].map(String::from);
    let Some(h) = held_with_sessions("batch_same_session", &ids).await else {
        return;
    };
    // The database (`h._db`) lives to the end of the test.
    let Held {
        open,
        p,
        s0,
        held,
        store,
        ..
    } = h;
    // An answer (a trail entry) and, from the same seq, a change of
    // language (no trail entry: nothing but the compare-and-set can tell
    // the two apart).
    let answer = spawn_step(&store, &p, "twice", &s0, "Yes");
    let o1 = spawn_step(&store, &p, "other1", &s0, "Yes");
    let mut spoken = s0.clone();
    spoken.language = "nl".into();
    spoken.seq += 1;
    let language = spawn_write(&store, "twice", &s0, spoken, None);
    let o2 = spawn_step(&store, &p, "other2", &s0, "Yes");
    held.release(4).await;

    for o in [o1, o2] {
        assert_eq!(o.await.unwrap().0.unwrap(), Saved::Ok);
    }
    let (a, a_state, _) = answer.await.unwrap();
    let (l, l_state, _) = language.await.unwrap();
    let (a, l) = (a.unwrap(), l.unwrap());
    let mut results = [a, l];
    results.sort_by_key(|s| *s == Saved::Conflict);
    assert_eq!(results, [Saved::Ok, Saved::Conflict], "one wins");
    let loaded = store.session("twice").await.unwrap().unwrap();
    assert_eq!(loaded.state, if a == Saved::Ok { a_state } else { l_state });
    let stats = store.writer_stats();
    assert!(stats.largest >= 2, "the writes were batched: {stats:?}");
    open.close().await;
}

/// A write the database refuses, queued with others: the batch is retried
/// write by write, so the others are saved and only it fails, with its own
/// error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_refused_write_in_a_batch_fails_alone() {
    let ids: Vec<String> = (0..9).map(|i| format!("r{i}")).collect();
    let Some(h) = held_with_sessions("batch_refused", &ids).await else {
        return;
    };
    // The database (`h._db`) lives to the end of the test.
    let Held {
        open,
        p,
        s0,
        held,
        store,
        ..
    } = h;
    let mut s1 = s0.clone();
    engine::answer(&p, &mut s1, Reply::Answer("Yes".into()), "al", t(1)).unwrap();
    let (new, _) = diff(&s0, &s1);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, s1) = (store.clone(), s1.clone());
            let mut new = new.clone();
            if i == 5 {
                // One trail seq twice: the primary key refuses the write.
                new.push(new[0].clone());
            }
            tokio::spawn(async move {
                store
                    .save_step(&StepWrite {
                        session_id: &format!("r{i}"),
                        expected_seq: s0_seq(),
                        state: &s1,
                        new_entries: &new,
                        retracted: &[],
                        escalation: None,
                        now: t(1),
                    })
                    .await
            })
        })
        .collect();
    // A start of a session that exists (and has no other write queued):
    // refused too, as a duplicate.
    let dup = {
        let store = store.clone();
        let s0 = s0.clone();
        tokio::spawn(async move {
            store
                .create_session(&stored("r8", &s0, None, t(0)), None)
                .await
        })
    };
    held.release(9).await;

    for (i, task) in tasks.into_iter().enumerate() {
        let r = task.await.unwrap();
        let loaded = store.session(&format!("r{i}")).await.unwrap().unwrap();
        if i == 5 {
            assert!(matches!(r, Err(StoreError::Database { .. })), "r5: {r:?}");
            assert_eq!(loaded.state, s0, "r5 is as it was");
        } else {
            assert_eq!(r.unwrap(), Saved::Ok, "r{i}");
            assert_eq!(loaded.state, s1, "r{i}");
        }
    }
    let dup = dup.await.unwrap();
    assert!(matches!(dup, Err(StoreError::Duplicate(_))), "{dup:?}");
    let stats = store.writer_stats();
    assert!(
        stats.retried >= 1,
        "the batch was refused and retried: {stats:?}"
    );
    assert_eq!(stats.largest, 9, "{stats:?}");
    open.close().await;
}

/// The `seq` the printer script starts at (what every racer read).
fn s0_seq() -> u32 {
    let (p, _) = program();
    start(&p, "printer", Channel::Agent, t(0)).seq
}

/// Awaits every future at once (no `futures` crate needed).
async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("the task ran"));
    }
    out
}

/// The process's user + system CPU seconds so far (Linux; 0 elsewhere): on a
/// busy machine CPU per answer says more than answers per second.
fn cpu_time() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the `(comm)`; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The connectors' bookkeeping (section 12): `sync.` messages only while
/// connectors are on, in their own channel; events from a connected system
/// marked; links saved, read and leased to one poller at a time; the
/// case's `external` list written without losing a change made meanwhile.
pub async fn ticket_links(store: &dyn Store) {
    let e = case_with(store, "k1", t(1), Due::default(), None, None).await;
    let id = e.record.id.clone();
    // Connectors off: no `sync.` message.
    store
        .change_escalation(&id, &by("mia", 4, Act::Note { text: "off".into() }), t(2))
        .await
        .unwrap();
    // On, and a change that came from RT transaction 41.
    let mut change = by(
        "mia",
        4,
        Act::Note {
            text: "from RT".into(),
        },
    );
    change.mirror = true;
    change.via = Some("rt#41".into());
    let Changed::Ok(after) = store.change_escalation(&id, &change, t(3)).await.unwrap() else {
        panic!("the note is taken");
    };
    let last = after.case.events.last().unwrap();
    assert_eq!(last.via.as_deref(), Some("rt#41"));
    assert!(
        after.case.events[..after.case.events.len() - 1]
            .iter()
            .all(|e| e.via.is_none())
    );
    let sync = store
        .lease_outbox_of(Some(OutboxChannel::Tickets), "tickets", t(4), t(5), 100)
        .await
        .unwrap();
    assert_eq!(sync.len(), 1, "{sync:?}");
    assert_eq!(sync[0].event_type, "sync.escalation.note_added");
    let payload: serde_json::Value = serde_json::from_str(&sync[0].payload).unwrap();
    assert_eq!(
        payload,
        serde_json::json!({"event": "escalation.note_added", "escalation": id})
    );
    // The webhook relay never sees it.
    let hooks = store
        .lease_outbox_of(Some(OutboxChannel::Webhooks), "hooks", t(4), t(5), 100)
        .await
        .unwrap();
    assert!(
        hooks.iter().all(|m| !m.event_type.starts_with("sync.")),
        "{hooks:?}"
    );

    // A link: none, then saved, then read back as saved.
    assert_eq!(store.ticket_link(&id, "rt").await.unwrap(), None);
    let mut link = TicketLink::new(&id, "rt");
    store.save_ticket_link(&link, t(4)).await.unwrap();
    // Not linked to a ticket yet: nothing to read back.
    assert!(
        store
            .lease_ticket_links("rt", "a", t(5), t(6), 10)
            .await
            .unwrap()
            .is_empty()
    );
    link.external_id = Some("17".into());
    link.url = Some("https://rt.example.com/Ticket/Display.html?id=17".into());
    link.creator = Some("fixpath".into());
    link.pushed = 3;
    link.seen = 120;
    store.save_ticket_link(&link, t(5)).await.unwrap();
    assert_eq!(
        store.ticket_link(&id, "rt").await.unwrap().as_ref(),
        Some(&link)
    );
    // Leased to one poller until the next poll; then to the next one.
    let a = store
        .lease_ticket_links("rt", "a", t(6), t(8), 10)
        .await
        .unwrap();
    assert_eq!(a, vec![link.clone()]);
    assert!(
        store
            .lease_ticket_links("rt", "b", t(7), t(9), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .lease_ticket_links("other", "b", t(9), t(10), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .lease_ticket_links("rt", "b", t(8), t(10), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    // A resolved case's ticket is not read back.
    link.open = false;
    store.save_ticket_link(&link, t(9)).await.unwrap();
    assert!(
        store
            .lease_ticket_links("rt", "c", t(20), t(21), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // `external`: added, replaced per system, and the case's own changes kept.
    let ext = |system: &str, n: &str| External {
        system: system.into(),
        id: n.into(),
        url: format!("https://{system}.example.com/{n}"),
    };
    store.link_external(&id, &ext("rt", "17")).await.unwrap();
    store
        .link_external(&id, &ext("zendesk", "4242"))
        .await
        .unwrap();
    store.link_external(&id, &ext("rt", "18")).await.unwrap();
    let now = store.escalation(&id).await.unwrap().unwrap();
    assert_eq!(
        now.case.external,
        vec![ext("zendesk", "4242"), ext("rt", "18")]
    );
    assert_eq!(
        now.record.notes.len(),
        after.record.notes.len(),
        "nothing else changed"
    );
    // Unknown cases: nothing to do, no error.
    store
        .link_external("esc-none", &ext("rt", "1"))
        .await
        .unwrap();
}

/// `list_users`: by name, with a password or not, and only the tokens that
/// still open something (an expired web sign-in is not counted).
pub async fn users_listed(store: &dyn Store) {
    assert!(store.list_users(t(0)).await.unwrap().is_empty());
    for (name, role, tier, password) in [
        ("zoe", Role::Specialist, 3, None),
        ("al", Role::Agent, 1, Some("$argon2id$v=19$fake".to_owned())),
    ] {
        store
            .create_user(&NewUser {
                user: user(name, role, tier),
                password_hash: password,
                token_hash: format!("h-{name}"),
            })
            .await
            .unwrap();
    }
    store.add_token("zoe", "h-zoe-2").await.unwrap();
    store
        .add_expiring_token("al", "h-al-web", t(10), t(0))
        .await
        .unwrap();
    let listed = store.list_users(t(5)).await.unwrap();
    let rows: Vec<(&str, Role, u8, bool, u64)> = listed
        .iter()
        .map(|u| {
            (
                u.user.name.as_str(),
                u.user.role,
                u.user.tier,
                u.password,
                u.tokens,
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("al", Role::Agent, 1, true, 2),
            ("zoe", Role::Specialist, 3, false, 2)
        ]
    );
    // Once the web sign-in has expired it is not counted.
    let later = store.list_users(t(11)).await.unwrap();
    assert_eq!(later[0].tokens, 1);
    // Revoking: every token of the user, none of the others.
    assert_eq!(store.revoke_tokens("zoe").await.unwrap(), 2);
    assert_eq!(store.user_by_token("h-zoe-2", t(5)).await.unwrap(), None);
    assert!(store.user_by_token("h-al", t(5)).await.unwrap().is_some());
    assert_eq!(store.revoke_tokens("zoe").await.unwrap(), 0);
    // Disabled: no token opens anything, no sign-in finds them; enabled
    // again, the same tokens work.
    assert!(store.set_disabled("al", true).await.unwrap());
    assert_eq!(store.user_by_token("h-al", t(5)).await.unwrap(), None);
    assert_eq!(store.user_by_name("al").await.unwrap(), None);
    let listed = store.list_users(t(5)).await.unwrap();
    assert!(listed[0].disabled && !listed[1].disabled);
    assert!(store.set_disabled("al", false).await.unwrap());
    assert!(store.user_by_token("h-al", t(5)).await.unwrap().is_some());
    assert!(store.user_by_name("al").await.unwrap().is_some());
    assert!(!store.set_disabled("nobody", true).await.unwrap());
    // A new password ends the web sign-ins, not the API tokens.
    store
        .add_expiring_token("al", "h-al-web2", t(60), t(5))
        .await
        .unwrap();
    assert!(
        store
            .set_password("al", "$argon2id$v=19$new")
            .await
            .unwrap()
    );
    let (_, hash) = store.user_by_name("al").await.unwrap().unwrap();
    assert_eq!(hash.as_deref(), Some("$argon2id$v=19$new"));
    assert_eq!(store.user_by_token("h-al-web2", t(6)).await.unwrap(), None);
    assert!(store.user_by_token("h-al", t(6)).await.unwrap().is_some());
    assert!(!store.set_password("nobody", "x").await.unwrap());
}
