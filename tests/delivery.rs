//! The webhook outbox end to end: events written with the changes they
//! announce, delivered by the relay to a receiver that fails at first, signed
//! per Standard Webhooks, retried, and never lost or doubled on the
//! receiver's side (it de-duplicates by `webhook-id`).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use fixpath::delivery::{RelayConfig, run_relay, sign};
use fixpath::engine::{self, Channel, StartOptions};
use fixpath::escalation::{Note, Record};
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{EscalationChange, Store, StoredSession};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

#[derive(Default)]
struct Receiver {
    /// Requests to refuse before accepting.
    fail_first: usize,
    seen: usize,
    /// webhook-id -> (times received, event type)
    got: HashMap<String, (usize, String)>,
    bad_signatures: usize,
}

const SECRET: &[u8] = b"a shared secret of the receiver";

async fn hook(
    State(r): State<Arc<Mutex<Receiver>>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let mut r = r.lock().unwrap();
    r.seen += 1;
    if r.seen <= r.fail_first {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (id, ts, sig) = (
        h("webhook-id"),
        h("webhook-timestamp"),
        h("webhook-signature"),
    );
    let ts: i64 = ts.parse().unwrap_or(0);
    if sign(SECRET, &id, ts, &body) != sig {
        r.bad_signatures += 1;
    }
    let event: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let ty = event["type"].as_str().unwrap_or("").to_owned();
    assert!(
        event["data"]["trail"].is_array(),
        "every event carries the record with its trail: {body}"
    );
    r.got.entry(id).or_insert((0, ty)).0 += 1;
    StatusCode::NO_CONTENT
}

async fn receiver(fail_first: usize) -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver {
        fail_first,
        ..Receiver::default()
    }));
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

async fn store() -> (Arc<dyn Store>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "fixpath-delivery-{}-{}",
        std::process::id(),
        rand_suffix()
    ));
    let path = dir.join("db.sqlite");
    let s: Arc<dyn Store> = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
    s.migrate().await.unwrap();
    (s, dir)
}

fn rand_suffix() -> u64 {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    u64::from_le_bytes(b)
}

/// Escalates a session and works the escalation: four events in the outbox.
async fn four_events(store: &dyn Store) -> String {
    let comp = fixpath::compiler::compile_texts([(
        "s.yaml",
        "id: s\ntitle: S\nnodes:\n  a:\n    ask: Works?\n    answers:\n      - Yes: { resolve: ok }\n      - No: { escalate: broken }\n",
    )]);
    let now = OffsetDateTime::now_utc();
    let (mut s, _) = engine::start(
        &comp.program,
        StartOptions::new("s", Channel::Customer),
        now,
    )
    .unwrap();
    engine::answer(
        &comp.program,
        &mut s,
        engine::Reply::Answer("No".into()),
        "customer",
        now,
    )
    .unwrap();
    let record = Record::from_session(&comp.program, &s, "esc_1", "ses_1", now).unwrap();
    let stored = StoredSession {
        id: "ses_1".into(),
        token_hash: "x".into(),
        owner: None,
        reference: None,
        state: s,
        created_at: now,
        updated_at: now,
    };
    store.create_session(&stored, Some(&record)).await.unwrap();
    let note = |t: &str| Note {
        author: "sam".into(),
        text: t.into(),
        at: now,
    };
    store
        .change_escalation("esc_1", &EscalationChange::Claim { by: "sam".into() }, now)
        .await
        .unwrap();
    store
        .change_escalation("esc_1", &EscalationChange::Note(note("called back")), now)
        .await
        .unwrap();
    store
        .change_escalation(
            "esc_1",
            &EscalationChange::Resolve(note("replaced the router")),
            now,
        )
        .await
        .unwrap();
    "esc_1".into()
}

fn fast(cfg: &mut RelayConfig) {
    cfg.base_delay = Duration::from_millis(20);
    cfg.max_delay = Duration::from_millis(200);
    cfg.poll = Duration::from_millis(20);
}

async fn until_delivered(store: &dyn Store) {
    for _ in 0..500 {
        if store.outbox_pending().await.unwrap() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the outbox did not drain in 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_outage_loses_nothing_and_retries_carry_the_same_id() {
    let (store, dir) = store().await;
    four_events(&*store).await;
    // The receiver refuses the first five requests (an outage).
    let (url, rx) = receiver(5).await;
    let mut cfg = RelayConfig::new(vec![url], Some(SECRET.to_vec()));
    fast(&mut cfg);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relay = tokio::spawn(run_relay(
        store.clone(),
        cfg,
        Arc::new(tokio::sync::Notify::new()),
        stopped,
    ));
    until_delivered(&*store).await;
    stop.send(true).unwrap();
    relay.await.unwrap();
    let r = rx.lock().unwrap();
    let mut types: Vec<&str> = r.got.values().map(|(_, t)| t.as_str()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "escalation.claimed",
            "escalation.created",
            "escalation.note_added",
            "escalation.resolved"
        ]
    );
    assert!(
        r.got.values().all(|(n, _)| *n == 1),
        "after the outage each id arrived once: {:?}",
        r.got
    );
    assert_eq!(r.bad_signatures, 0);
    assert!(r.seen >= 9, "the refused requests were retried");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_delivery_is_retried_after_the_lease_and_two_relays_never_share_a_message() {
    let (store, dir) = store().await;
    four_events(&*store).await;
    // A relay that leased everything and died: its lease must run out first.
    let now = OffsetDateTime::now_utc();
    let leased = store
        .lease_outbox("crashed", now, now + Duration::from_millis(300), 100)
        .await
        .unwrap();
    assert_eq!(leased.len(), 4);
    let (url, rx) = receiver(0).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut relays = Vec::new();
    for _ in 0..2 {
        let mut cfg = RelayConfig::new(vec![url.clone()], Some(SECRET.to_vec()));
        fast(&mut cfg);
        relays.push(tokio::spawn(run_relay(
            store.clone(),
            cfg,
            Arc::new(tokio::sync::Notify::new()),
            stopped.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        rx.lock().unwrap().got.is_empty(),
        "nothing is sent while another relay holds the lease"
    );
    until_delivered(&*store).await;
    stop.send(true).unwrap();
    for r in relays {
        r.await.unwrap();
    }
    let r = rx.lock().unwrap();
    assert_eq!(r.got.len(), 4);
    assert!(
        r.got.values().all(|(n, _)| *n == 1),
        "two relays, each message once: {:?}",
        r.got
    );
    let _ = std::fs::remove_dir_all(dir);
}
