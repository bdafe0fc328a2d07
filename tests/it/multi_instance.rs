//! Two fixpath instances on one PostgreSQL database, in one process: each
//! with its own pool, library, HTTP listener (127.0.0.1:0) and webhook
//! relay, as two `fixpath serve` behind a load balancer without sticky
//! sessions would be.
//!
//! - Many sessions run at once, each request going to the other instance
//!   than the one before.
//! - One answer of every session is sent to both instances at once: exactly
//!   one 200, the other 409, one trail entry.
//! - Every escalation is claimed on both instances at once: one winner.
//! - Every trail is complete at the end.
//! - Both relays drain one outbox into one receiver (which refuses its
//!   first requests, so retries move between instances): no `webhook-id`
//!   is lost; duplicates (at least once) are counted.
//! - Script versions are keyed by content hash: instance B serves an edited
//!   `wifi.yaml`, yet a session started on A keeps A's text when B answers
//!   it, and the other way round.
//!
//! Skipped with a notice when PostgreSQL is unreachable, failed instead with
//! `FIXPATH_REQUIRE_PG=1` (see `common::pg`).

use crate::common;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::pg::TestDb;
use fixpath::delivery::{RelayConfig, run_relay, sign};
use fixpath::http::auth::{STAFF_PREFIX, mint_token};
use fixpath::http::{AppState, HttpConfig, router};
use fixpath::library::Library;
use fixpath::server::config::Database;
use fixpath::server::{OpenStore, open_store};
use fixpath::store::{NewUser, Role, User};
use serde_json::{Value as Json, json};
use sqlx::Connection;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Sessions run at once.
const SESSIONS: usize = 40;
const SECRET: &[u8] = b"the receiver's secret";
/// The question B asks in its edited `wifi.yaml` (A asks the original).
const EDITED_LIGHTS: &str = "Which light blinks now on router {{ serial }}?";

// ---------------------------------------------------------------- the receiver

#[derive(Default)]
struct Receiver {
    /// Requests to refuse (503) before accepting.
    refuse: usize,
    seen: usize,
    /// webhook-id -> times accepted.
    got: HashMap<String, usize>,
    bad_signatures: usize,
}

async fn hook(
    State(r): State<Arc<Mutex<Receiver>>>,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    let mut r = r.lock().unwrap();
    r.seen += 1;
    if r.seen <= r.refuse {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (id, ts) = (h("webhook-id"), h("webhook-timestamp"));
    if sign(SECRET, &id, ts.parse().unwrap_or(0), &body) != h("webhook-signature") {
        r.bad_signatures += 1;
    }
    *r.got.entry(id).or_default() += 1;
    StatusCode::NO_CONTENT
}

async fn receiver(refuse: usize) -> (String, Arc<Mutex<Receiver>>) {
    let state = Arc::new(Mutex::new(Receiver {
        refuse,
        ..Receiver::default()
    }));
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, state)
}

// ---------------------------------------------------------------- an instance

struct Instance {
    base: String,
    store: OpenStore,
    library: Arc<Library>,
    stop: watch::Sender<bool>,
    relay: tokio::task::JoinHandle<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Instance {
    async fn start(url: &str, scripts: &Path, hook: &str) -> Instance {
        let store = open_store(&Database::Postgres {
            url: url.to_owned(),
            pool: 8,
        })
        .await
        .expect("the instance opens the database");
        let library = Arc::new(
            Library::open(scripts.to_path_buf(), &*store)
                .await
                .expect("the scripts compile"),
        );
        let notify = Arc::new(Notify::new());
        let state = AppState {
            store: store.store(),
            library: library.clone(),
            config: Arc::new(HttpConfig::default()),
            guards: Default::default(),
            metrics: None,
            outbox_notify: notify.clone(),
            recent: Default::default(),
            clock: Default::default(),
            cases: Default::default(),
            programs: Default::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state);
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the server runs");
        });
        // Quick retries, so the test need not wait out production delays.
        let mut relay = RelayConfig::new(vec![hook.to_owned()], Some(SECRET.to_vec()));
        relay.base_delay = Duration::from_millis(50);
        relay.max_delay = Duration::from_millis(400);
        relay.poll = Duration::from_millis(100);
        let (stop, stop_rx) = watch::channel(false);
        let relay = tokio::spawn(run_relay(store.store(), relay, notify, stop_rx));
        Instance {
            base,
            store,
            library,
            stop,
            relay,
            server,
        }
    }

    async fn shut_down(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.relay).await;
        self.server.abort();
        self.store.close().await;
    }
}

/// Status and JSON body of a POST.
async fn post(
    client: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: &Json,
) -> (u16, Json) {
    let mut req = client.post(format!("{base}{path}")).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.expect("answered");
    let status = res.status().as_u16();
    let text = res.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Json::Null))
}

fn scripts_folder(root: &Path, name: &str, edit_lights: bool) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in common::SCRIPTS {
        let text = if edit_lights && *file == "wifi.yaml" {
            let edited = text.replace(
                "Which light is blinking on router {{ serial }}?",
                EDITED_LIGHTS,
            );
            assert_ne!(&edited, text, "the edit applies");
            edited
        } else {
            (*text).to_owned()
        };
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

/// What one session went through.
struct Run {
    id: String,
    /// The instance it started on (0 = A, 1 = B).
    started_on: usize,
    /// 200 answers, the duplicate counted once.
    answers: usize,
    escalation: Option<String>,
    /// The text of the `lights` question, as served.
    lights_text: String,
}

/// One customer session through wifi.yaml, each request on the other
/// instance; the serial number is sent to both at once.
async fn session(client: reqwest::Client, bases: [String; 2], i: usize) -> Run {
    let started_on = i % 2;
    let (status, body) = post(
        &client,
        &bases[started_on],
        "/api/v1/sessions",
        None,
        &json!({ "script": "wifi", "channel": "customer" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let token = body["token"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/sessions/{id}/answer");
    let mut run = Run {
        id,
        started_on,
        answers: 0,
        escalation: None,
        lights_text: String::new(),
    };
    let mut body = body;
    let mut k = started_on + 1;
    while body["status"] == "active" {
        let step = &body["step"];
        let seq = step["seq"].as_u64().unwrap();
        let node = step["node"].as_str().unwrap_or("");
        let answer = match (step["kind"].as_str().unwrap_or(""), node) {
            ("ask", "power") => json!({ "seq": seq, "answer": "yes" }),
            ("input", _) => json!({ "seq": seq, "value": "AB12CD34" }),
            ("say", _) => json!({ "seq": seq, "answer": "done" }),
            ("ask", "lights") => {
                run.lights_text = step["text"].as_str().unwrap_or("").to_owned();
                let pick = if i % 4 < 2 { "red" } else { "green" };
                json!({ "seq": seq, "answer": pick })
            }
            other => panic!("session {}: unexpected step {other:?}: {body}", run.id),
        };
        if node == "serial" {
            // A double submit landing on both instances at once.
            let (a, b) = tokio::join!(
                post(&client, &bases[0], &path, Some(&token), &answer),
                post(&client, &bases[1], &path, Some(&token), &answer),
            );
            let mut statuses = [a.0, b.0];
            statuses.sort_unstable();
            assert_eq!(
                statuses,
                [200, 409],
                "session {}: one duplicate wins: {} / {}",
                run.id,
                a.1,
                b.1
            );
            body = if a.0 == 200 { a.1 } else { b.1 };
        } else {
            let (status, next) = post(&client, &bases[k % 2], &path, Some(&token), &answer).await;
            assert_eq!(status, 200, "session {}: {next}", run.id);
            body = next;
        }
        run.answers += 1;
        k += 1;
    }
    if body["status"] == "escalated" {
        run.escalation = Some(body["escalation"]["id"].as_str().unwrap().to_owned());
    }
    run
}

async fn staff(store: &OpenStore, name: &str) -> String {
    let token = mint_token(STAFF_PREFIX).unwrap();
    store
        .create_user(&NewUser {
            user: User {
                name: name.into(),
                role: Role::Specialist,
                tier: 2,
            },
            password_hash: None,
            token_hash: token.hash,
        })
        .await
        .expect("user created");
    token.plain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_one_database() {
    let Some(db) = TestDb::create("multi_instance").await else {
        return;
    };
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).unwrap();
    let root = std::env::temp_dir().join(format!(
        "fixpath-multi-{}-{:016x}",
        std::process::id(),
        u64::from_le_bytes(b)
    ));
    let scripts_a = scripts_folder(&root, "a", false);
    let scripts_b = scripts_folder(&root, "b", true);
    let (hook, received) = receiver(3).await;
    // Started together: the migrations' advisory lock lets one migrate.
    let (a, b) = tokio::join!(
        Instance::start(&db.url, &scripts_a, &hook),
        Instance::start(&db.url, &scripts_b, &hook),
    );

    // Content-hash versions: the scripts both folders share have one
    // version on both instances; the edited one has two.
    let version = |i: &Instance, id: &str| {
        let p = i.library.current();
        p.scripts
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.version.clone())
            .unwrap()
    };
    assert_eq!(version(&a, "power-cycle"), version(&b, "power-cycle"));
    assert_eq!(version(&a, "instant"), version(&b, "instant"));
    assert_ne!(version(&a, "wifi"), version(&b, "wifi"));

    let sam = staff(&a.store, "sam").await;
    let kim = staff(&b.store, "kim").await;
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let bases = [a.base.clone(), b.base.clone()];

    // Many sessions at once, alternating between the instances.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..SESSIONS {
        tasks.spawn(session(client.clone(), bases.clone(), i));
    }
    let mut runs = Vec::new();
    while let Some(r) = tasks.join_next().await {
        runs.push(r.expect("a session ran"));
    }
    assert_eq!(runs.len(), SESSIONS);

    // A session replays on the other instance against the version it
    // pinned where it started.
    for r in &runs {
        let want = if r.started_on == 0 {
            "Which light is blinking on router AB12CD34?"
        } else {
            "Which light blinks now on router AB12CD34?"
        };
        assert_eq!(r.lights_text, want, "session {}", r.id);
    }

    // Every escalation claimed on both instances at once: one winner.
    let escalations: Vec<&str> = runs
        .iter()
        .filter_map(|r| r.escalation.as_deref())
        .collect();
    assert_eq!(escalations.len(), SESSIONS / 2);
    let mut claims = tokio::task::JoinSet::new();
    for esc in &escalations {
        let (client, bases) = (client.clone(), bases.clone());
        let (sam, kim, esc) = (sam.clone(), kim.clone(), esc.to_string());
        claims.spawn(async move {
            let path = format!("/api/v1/escalations/{esc}/claim");
            let empty = json!({});
            let (x, y) = tokio::join!(
                post(&client, &bases[0], &path, Some(&sam), &empty),
                post(&client, &bases[1], &path, Some(&kim), &empty),
            );
            let mut statuses = [x.0, y.0];
            statuses.sort_unstable();
            assert_eq!(statuses, [200, 409], "{esc}: {} / {}", x.1, y.1);
            let winner = if x.0 == 200 { "sam" } else { "kim" };
            (esc, winner)
        });
    }
    let mut winners = HashMap::new();
    while let Some(r) = claims.join_next().await {
        let (esc, winner) = r.expect("claims ran");
        winners.insert(esc, winner);
    }
    for (esc, winner) in &winners {
        let e = a.store.escalation(esc).await.unwrap().expect("stored");
        assert_eq!(e.case.claimed_by.as_deref(), Some(*winner), "{esc}");
    }

    // Every trail complete: the customer's entries are the answers that got
    // a 200, each once (the duplicate too), in order, seqs without gaps.
    for r in &runs {
        let s = b.store.session(&r.id).await.unwrap().expect("stored");
        let seqs: Vec<u32> = s.state.trail.iter().map(|e| e.seq()).collect();
        let want: Vec<u32> = (1..=seqs.len() as u32).collect();
        assert_eq!(seqs, want, "session {}", r.id);
        let answered: Vec<&str> = s
            .state
            .trail
            .iter()
            .filter(|e| e.actor() == "customer")
            .map(|e| e.node().as_str())
            .collect();
        assert_eq!(
            answered,
            ["power", "serial", "power-cycle/unplug", "lights"],
            "session {}",
            r.id
        );
        assert_eq!(answered.len(), r.answers, "session {}", r.id);
        assert!(s.state.trail.iter().all(|e| !e.retracted()));
        let want = if r.escalation.is_some() {
            "escalated"
        } else {
            "resolved"
        };
        assert_eq!(
            serde_json::to_value(s.state.status).unwrap(),
            want,
            "{}",
            r.id
        );
    }

    // Both relays drain the one outbox; nothing is lost.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while a.store.outbox_pending().await.unwrap() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the outbox is not drained after 60 s: {} pending",
            a.store.outbox_pending().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let written: HashSet<String> = sqlx::query_scalar::<_, String>("SELECT id FROM outbox")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    conn.close().await.unwrap();
    // Created and claimed, for every escalation.
    assert_eq!(written.len(), 2 * escalations.len());
    let (got, bad_signatures, refused) = {
        let r = received.lock().unwrap();
        (r.got.clone(), r.bad_signatures, r.refuse)
    };
    let lost: Vec<&String> = written.iter().filter(|id| !got.contains_key(*id)).collect();
    assert!(lost.is_empty(), "webhook-ids never delivered: {lost:?}");
    assert_eq!(bad_signatures, 0);
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    eprintln!(
        "multi-instance: {} sessions, {} webhook events delivered, {duplicates} duplicate \
         deliveries, {} refused requests retried",
        runs.len(),
        written.len(),
        refused
    );

    a.shut_down().await;
    b.shut_down().await;
    let _ = std::fs::remove_dir_all(&root);
}

/// Without PostgreSQL the test above passes without running: it must say
/// so where a person running `cargo test` sees it.
#[test]
fn a_skipped_postgresql_test_says_so() {
    let out = std::process::Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "multi_instance::two_instances_share_one_database",
            "--test-threads=1",
        ])
        // Nothing listens on port 1.
        .env(
            "FIXPATH_TEST_PG",
            "postgres://postgres@127.0.0.1:1/postgres",
        )
        .env_remove("FIXPATH_REQUIRE_PG")
        .output()
        .expect("the test binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("SKIPPED: the PostgreSQL run of `multi_instance`: PostgreSQL is unreachable"),
        "{stderr}"
    );
}
