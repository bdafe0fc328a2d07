//! The webhook outbox end to end: events written with the changes they
//! announce, delivered by the relay to a receiver that fails at first, signed
//! per Standard Webhooks, retried, and never lost or doubled on the
//! receiver's side (it de-duplicates by `webhook-id`).

use crate::common::logs;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use fixpath::case::{Act, Actor, Case, Due};
use fixpath::delivery::{RelayConfig, deliver, run_relay, sign};
use fixpath::engine::{self, Channel, StartOptions};
use fixpath::escalation::Record;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{Escalation, EscalationChange, NewCase, Store, StoredSession};
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
    if ty == "escalation.note_added" {
        // The change, not the record: a record grows with every note.
        let data = &event["data"];
        assert!(
            data.get("trail").is_none() && data.get("notes").is_none(),
            "{body}"
        );
        assert_eq!(data["id"], "esc_1", "{body}");
        assert_eq!(data["session"], "ses_1", "{body}");
        assert_eq!(data["note"]["text"], "called back", "{body}");
        assert_eq!(data["note"]["author"], "sam", "{body}");
        assert_eq!(data["status"], "claimed", "{body}");
    } else {
        assert!(
            event["data"]["trail"].is_array(),
            "the other events carry the record with its trail: {body}"
        );
    }
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
    let case = NewCase {
        escalation: Escalation {
            record,
            case: Case::new("AUK2-GPA2".into(), None, Due::default(), "customer", now),
            updated_at: now,
        },
        mail: None,
        mirror: false,
    };
    store.create_session(&stored, Some(&case)).await.unwrap();
    let sam = || Actor::Staff {
        name: "sam".into(),
        tier: 2,
        admin: false,
    };
    for act in [
        Act::Claim { take_over: false },
        Act::Note {
            text: "called back".into(),
        },
        Act::Resolve {
            resolution: "replaced the router".into(),
            note: None,
        },
    ] {
        store
            .change_escalation("esc_1", &EscalationChange::new(sam(), act), now)
            .await
            .unwrap();
    }
    "esc_1".into()
}

fn fast(cfg: &mut RelayConfig) {
    cfg.base_delay = Duration::from_millis(20);
    cfg.max_delay = Duration::from_millis(200);
    cfg.poll = Duration::from_millis(20);
}

/// A webhook relay on `store`, running until `stopped` turns true.
fn start_relay(
    store: &Arc<dyn Store>,
    cfg: RelayConfig,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run_relay(
        store.clone(),
        cfg,
        Arc::new(tokio::sync::Notify::new()),
        stopped,
    ))
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
    let relay = start_relay(&store, cfg, stopped);
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
        relays.push(start_relay(&store, cfg, stopped.clone()));
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

/// A receiver that takes every post after `delay` and counts each
/// `webhook-id` it took.
async fn counting_receiver(delay: Duration) -> (String, Arc<Mutex<HashMap<String, usize>>>) {
    let got = Arc::new(Mutex::new(HashMap::new()));
    let app =
        axum::Router::new()
            .route(
                "/hook",
                post(
                    move |State(got): State<Arc<Mutex<HashMap<String, usize>>>>,
                          headers: HeaderMap| async move {
                        tokio::time::sleep(delay).await;
                        let id = headers
                            .get("webhook-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_owned();
                        *got.lock().unwrap().entry(id).or_insert(0) += 1;
                        StatusCode::NO_CONTENT
                    },
                ),
            )
            .with_state(got.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// A receiver that takes connections and never answers; counts them.
async fn silent_receiver() -> (String, Arc<Mutex<usize>>) {
    let accepted = Arc::new(Mutex::new(0usize));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let n = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            *n.lock().unwrap() += 1;
            held.push(socket);
        }
    });
    (url, accepted)
}

async fn webhook_events(store: &dyn Store, n: usize) {
    let now = OffsetDateTime::now_utc();
    for i in 0..n {
        store
            .enqueue_outbox(
                "escalation.created",
                &format!(r#"{{"type":"escalation.created","data":{{"n":{i}}}}}"#),
                now,
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_starts_no_post_that_could_outlast_its_lease_so_two_relays_send_each_once() {
    let (store, dir) = store().await;
    // 80 posts of 25 ms each take 2 s, longer than the 1.2 s lease of the
    // one relay that leases them all: the other relay takes over what is
    // left when the lease runs out.
    webhook_events(&*store, 80).await;
    let (url, got) = counting_receiver(Duration::from_millis(25)).await;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut relays = Vec::new();
    for _ in 0..2 {
        let mut cfg = RelayConfig::new(vec![url.clone()], None);
        fast(&mut cfg);
        cfg.timeout = Duration::from_millis(500);
        cfg.lease = Duration::from_millis(1200);
        cfg.batch = 100;
        relays.push(start_relay(&store, cfg, stopped.clone()));
    }
    until_delivered(&*store).await;
    stop.send(true).unwrap();
    for r in relays {
        r.await.unwrap();
    }
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 80);
    let twice: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "sent more than once: {twice:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_costs_one_timeout_per_batch_and_keeps_its_messages() {
    let (store, dir) = store().await;
    webhook_events(&*store, 10).await;
    let (silent, accepted) = silent_receiver().await;
    let (good, got) = counting_receiver(Duration::ZERO).await;
    let mut cfg = RelayConfig::new(vec![silent, good], None);
    fast(&mut cfg);
    // Retries wait long enough that this test sees the first batch only.
    cfg.base_delay = Duration::from_secs(30);
    cfg.timeout = Duration::from_millis(300);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let relay = start_relay(&store, cfg, stopped);
    // Every message reaches the receiver that answers; ten timeouts in a
    // row would take 3 s before the last one did.
    for _ in 0..500 {
        if got.lock().unwrap().len() == 10 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        got.lock().unwrap().len(),
        10,
        "the answering receiver got all"
    );
    assert_eq!(
        *accepted.lock().unwrap(),
        1,
        "the silent receiver was tried once in the batch"
    );
    stop.send(true).unwrap();
    relay.await.unwrap();
    // Kept for the silent one, to be retried.
    assert_eq!(store.outbox_pending().await.unwrap(), 10);
    let _ = std::fs::remove_dir_all(dir);
}

/// A receiver that sends every post on elsewhere (307) and counts what
/// arrives there: a relay that followed the redirect would show up.
async fn redirecting_receiver() -> (std::net::SocketAddr, Arc<Mutex<usize>>) {
    let followed = Arc::new(Mutex::new(0usize));
    let app = axum::Router::new()
        .route(
            "/hook",
            post(|| async { (StatusCode::TEMPORARY_REDIRECT, [("location", "/elsewhere")]) }),
        )
        .route(
            "/elsewhere",
            post(|State(n): State<Arc<Mutex<usize>>>| async move {
                *n.lock().unwrap() += 1;
                StatusCode::NO_CONTENT
            }),
        )
        .with_state(followed.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, followed)
}

const CREDENTIALS: [&str; 3] = ["hookuser", "s3cretpass", "t0psecret"];

fn assert_no_credentials(what: &str, text: &str) {
    for c in CREDENTIALS {
        assert!(!text.contains(c), "{what} shows `{c}`: {text}");
    }
}

// Current-thread: the relay's log lines are written on this thread, where
// the collecting subscriber is set.
#[tokio::test]
async fn a_redirect_is_a_failure_and_url_credentials_are_never_written_down() {
    let (store, dir) = store().await;
    four_events(&*store).await;
    let (addr, followed) = redirecting_receiver().await;
    let url = format!("http://hookuser:s3cretpass@{addr}/hook?token=t0psecret");
    // And one that is not there at all: the error of the connection.
    let gone = "http://hookuser:s3cretpass@127.0.0.1:9/hook".to_owned();
    let cfg = RelayConfig::new(vec![url, gone], Some(SECRET.to_vec()));
    let client = fixpath::delivery::client(&cfg).unwrap();
    let (logs, _guard) = logs::collect();

    let now = OffsetDateTime::now_utc();
    let msgs = store
        .lease_outbox(&cfg.owner, now, now + Duration::from_secs(60), 10)
        .await
        .unwrap();
    assert_eq!(msgs.len(), 4);
    for m in msgs {
        deliver(&*store, &client, &cfg, m).await;
    }
    assert_eq!(*followed.lock().unwrap(), 0, "the redirect was followed");
    assert_eq!(
        store.outbox_pending().await.unwrap(),
        4,
        "a 307 delivers nothing"
    );

    let db = dir.join("db.sqlite");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite:{}", db.display()))
        .await
        .unwrap();
    let rows: Vec<(Option<String>, String, i64)> =
        sqlx::query_as("SELECT last_error, delivered_to, attempts FROM outbox")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 4);
    for (error, delivered_to, attempts) in rows {
        let error = error.unwrap_or_default();
        assert_eq!(attempts, 1);
        assert!(
            error.contains("127.0.0.1:9"),
            "the failing endpoint is named: {error}"
        );
        assert_no_credentials("last_error", &error);
        assert_no_credentials("delivered_to", &delivered_to);
    }
    let logs = logs.text();
    assert!(logs.contains("webhook delivery failed"), "{logs}");
    assert_no_credentials("the log", &logs);

    // The redirect's own report, from the endpoint that answers.
    let mut only_redirect = RelayConfig::new(
        vec![format!(
            "http://hookuser:s3cretpass@{addr}/hook?token=t0psecret"
        )],
        None,
    );
    only_redirect.owner = "again".into();
    let now = now + Duration::from_secs(24 * 3600);
    let msgs = store
        .lease_outbox("again", now, now + Duration::from_secs(60), 1)
        .await
        .unwrap();
    assert_eq!(msgs.len(), 1);
    deliver(&*store, &client, &only_redirect, msgs[0].clone()).await;
    let (error,): (String,) = sqlx::query_as("SELECT last_error FROM outbox WHERE id = ?")
        .bind(&msgs[0].id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        error.contains("307") && error.contains("redirects are not followed"),
        "{error}"
    );
    assert!(error.contains("http://***@127.0.0.1"), "{error}");
    assert_no_credentials("last_error", &error);
    pool.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
