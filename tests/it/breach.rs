//! The breach timer (contract section 10, "Service levels") through the
//! server, on a fixed clock the tests move (no sleeps: a test waits until
//! the timer has checked up to the clock's time): a due time breaches once
//! it passed and not before, a reply or a resolution in time prevents it,
//! two instances' timers racing on one database record each breach once
//! (PostgreSQL and SQLite), and the contract's Friday example through a
//! `[sla]` configuration file.

use crate::common;

use common::TestApp;
use common::pg::TestDb;
use fixpath::clock::Clock;
use fixpath::http::CaseSettings;
use fixpath::server::breach::{self, Timer};
use fixpath::server::config::{ConfigFile, ServerConfig, Settings};
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{Role, Store};
use serde_json::{Value as Json, json};
use std::path::Path;
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::watch;

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

/// Tier 2 (the Wi-Fi script's escalations): a response within an hour, a
/// resolution within a day; tier 3: a resolution within two days;
/// wall-clock time.
const HOURLY: &str = r#"
[sla.tier2]
response = "1h"
resolution = "1d"

[sla.tier3]
resolution = "2d"
"#;

/// The contract's example (section 10).
const CONTRACT: &str = r#"
reopen_within = "7d"

[sla.tier2]
response = "4h"
resolution = "3d"
calendar = "Mon-Fri 08:00-17:00"
timezone = "Europe/Tallinn"

[sla.tier2.queues.printing]
response = "1h"
"#;

/// The case settings of a configuration file with this text.
fn settings(dir: &Path, text: &str) -> CaseSettings {
    let path = dir.join("fixpath.toml");
    std::fs::write(&path, text).unwrap();
    let file = ConfigFile::load(&path).expect("the configuration file reads");
    let config = ServerConfig::resolve(Settings::default(), Some(&file)).expect("it is valid");
    CaseSettings {
        reopen_within: config.sla.reopen_within(),
        due_times: Arc::new(config.sla),
        ..CaseSettings::default()
    }
}

/// An app over `store` on `clock`, with `[sla]` from `sla`, and its timer.
struct Served {
    app: TestApp,
    timer: Timer,
    _stop: watch::Sender<bool>,
}

async fn serve(store: Arc<dyn Store>, clock: &Clock, sla: &str) -> Served {
    let dir = tempdir();
    let cases = Arc::new(settings(&dir, sla));
    let _ = std::fs::remove_dir_all(&dir);
    let app = TestApp::start_on(store, |state| {
        state.clock = clock.clone();
        state.cases = cases;
        state.metrics = Some(fixpath::server::ops::metrics_handle());
    })
    .await;
    let (stop, stop_rx) = watch::channel(false);
    let timer = breach::spawn(
        app.store.clone(),
        app.state.clock.clone(),
        app.state.outbox_notify.clone(),
        stop_rx,
    );
    Served {
        app,
        timer,
        _stop: stop,
    }
}

fn tempdir() -> std::path::PathBuf {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    let dir = std::env::temp_dir().join(format!(
        "fixpath-breach-{}-{}",
        std::process::id(),
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn sqlite_file() -> String {
    tempdir().join("fixpath.db").to_str().unwrap().to_owned()
}

impl Served {
    /// Waits until the timer has checked up to the clock's time now.
    async fn settle(&mut self) {
        let now = self.app.state.clock.now();
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            self.timer.checked.wait_for(|c| c.is_some_and(|c| c >= now)),
        )
        .await
        .expect("the timer checks within 20 s")
        .expect("the timer runs");
    }

    async fn case(&self, id: &str, token: &str) -> Json {
        self.app
            .get(&format!("/api/v1/escalations/{id}"), Some(token))
            .await
            .assert_ok(200)
            .clone()
    }

    /// The `escalation.breached` messages in the outbox, by case id.
    async fn breached_events(&self) -> Vec<(String, Json)> {
        let far = T0 + Duration::days(3650);
        let msgs = self
            .app
            .store
            .lease_outbox("test", far, far + Duration::minutes(1), 10_000)
            .await
            .unwrap();
        for m in &msgs {
            self.app
                .store
                .outbox_delivered(&m.id, "test", far)
                .await
                .unwrap();
        }
        msgs.into_iter()
            .filter(|m| m.event_type == "escalation.breached")
            .map(|m| {
                let body: Json = serde_json::from_str(&m.payload).unwrap();
                let data = body["data"].clone();
                (data["id"].as_str().unwrap().to_owned(), data)
            })
            .collect()
    }
}

/// The `/metrics` page of the app's state (the test app serves the API only).
async fn metrics_page(app: &TestApp) -> String {
    use tower::ServiceExt;
    let res = fixpath::server::ops::routes(app.state.clone())
        .oneshot(
            axum::http::Request::get("/metrics")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

/// A customer's Wi-Fi session escalated at once: the case's id.
async fn escalate(app: &TestApp) -> String {
    let (id, token, _) = app
        .start_session(None, &json!({"script": "wifi", "channel": "customer"}))
        .await;
    app.post(
        &format!("/api/v1/sessions/{id}/escalate"),
        Some(&token),
        &json!({"seq": 1}),
    )
    .await
    .assert_ok(200)["escalation"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn breached_events_of(case: &Json) -> Vec<String> {
    case["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "breached")
        .map(|e| {
            assert_eq!(e["by"], "system");
            e["detail"].as_str().unwrap().to_owned()
        })
        .collect()
}

/// Each scenario once per backend: `NAME::sqlite` always, `NAME::postgres`
/// when PostgreSQL is reachable.
macro_rules! on_both_backends {
    ($($name:ident($open:ident) $body:block)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let file = sqlite_file().await;
                let $open = || {
                    let file = file.clone();
                    async move {
                        Arc::new(SqliteStore::open(&file).await.unwrap()) as Arc<dyn Store>
                    }
                };
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = TestDb::create(stringify!($name)).await else {
                    return;
                };
                let url = db.url.clone();
                let $open = || {
                    let url = url.clone();
                    async move { Arc::new(PgStore::open(&url, 8).await.unwrap()) as Arc<dyn Store> }
                };
                $body
                drop(db);
            }
        }
    )*};
}

on_both_backends! {
    a_due_time_breaches_once_when_passed_unless_answered_in_time(open) {
        let clock = Clock::fixed(T0);
        let mut s = serve(open().await, &clock, HOURLY).await;
        let sam = s.app.user("sam", Role::Specialist, 2).await;
        let silent = escalate(&s.app).await;
        let answered = escalate(&s.app).await;
        let resolved = escalate(&s.app).await;
        let due = T0 + Duration::hours(1);
        assert_eq!(
            s.case(&silent, &sam).await["due"],
            json!({"response": "2026-03-02T10:00:00Z", "resolution": "2026-03-03T09:00:00Z"})
        );

        // A reply a minute before the due time; a resolution too.
        clock.set(due - Duration::minutes(1));
        s.app
            .post(&format!("/api/v1/escalations/{answered}/reply"), Some(&sam), &json!({"text": "On it"}))
            .await
            .assert_ok(200);
        s.app
            .post(&format!("/api/v1/escalations/{resolved}/resolve"), Some(&sam), &json!({"resolution": "Fixed"}))
            .await
            .assert_ok(200);

        // A second before: nothing.
        clock.set(due - Duration::seconds(1));
        s.settle().await;
        assert_eq!(s.case(&silent, &sam).await["breached"], json!([]));
        assert!(s.breached_events().await.is_empty());
        assert_eq!(s.app.store.overdue_cases(clock.now()).await.unwrap(), 0);

        // A second after: the silent case, once.
        clock.set(due + Duration::seconds(1));
        s.settle().await;
        let case = s.case(&silent, &sam).await;
        assert_eq!(case["breached"], json!(["response"]));
        assert_eq!(breached_events_of(&case), ["response"]);
        let events = s.breached_events().await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].0, silent);
        assert_eq!(events[0].1["breached"], json!(["response"]));
        assert_eq!(s.app.store.overdue_cases(clock.now()).await.unwrap(), 1);
        for other in [&answered, &resolved] {
            assert_eq!(s.case(other, &sam).await["breached"], json!([]));
        }

        // Later rounds add nothing.
        for _ in 0..3 {
            clock.advance(Duration::minutes(10));
            s.settle().await;
        }
        assert_eq!(breached_events_of(&s.case(&silent, &sam).await), ["response"]);
        assert!(s.breached_events().await.is_empty());

        // The resolution's due time: the answered case breaches it too (a
        // reply is no resolution), the resolved one does not.
        clock.set(T0 + Duration::days(1) + Duration::seconds(1));
        s.settle().await;
        let events = s.breached_events().await;
        let mut ids: Vec<&str> = events.iter().map(|(id, _)| id.as_str()).collect();
        ids.sort_unstable();
        let mut want = vec![silent.as_str(), answered.as_str()];
        want.sort_unstable();
        assert_eq!(ids, want);
        assert_eq!(
            breached_events_of(&s.case(&silent, &sam).await),
            ["response", "resolution"]
        );
        assert_eq!(s.case(&answered, &sam).await["breached"], json!(["resolution"]));
        assert_eq!(s.case(&resolved, &sam).await["breached"], json!([]));

        // Counted in /metrics.
        let metrics = metrics_page(&s.app).await;
        for line in [
            "fixpath_cases_breached_total{kind=\"response\"}",
            "fixpath_cases_breached_total{kind=\"resolution\"}",
            "fixpath_cases_overdue ",
        ] {
            assert!(metrics.contains(line), "{line} missing from:\n{metrics}");
        }

        // Escalated further: due afresh (tier 3: two days to resolve, no
        // response target), and it can breach again.
        s.app
            .post(&format!("/api/v1/escalations/{answered}/escalate"), Some(&sam), &json!({"tier": 3, "note": "Needs the field team"}))
            .await
            .assert_ok(200);
        let root = s.app.user("root", Role::Admin, 1).await;
        assert_eq!(s.case(&answered, &root).await["breached"], json!([]));
        clock.advance(Duration::days(2) - Duration::seconds(1));
        s.settle().await;
        assert_eq!(s.case(&answered, &root).await["breached"], json!([]));
        clock.advance(Duration::seconds(2));
        s.settle().await;
        let case = s.case(&answered, &root).await;
        assert_eq!(case["breached"], json!(["resolution"]), "{case:#}");
        assert_eq!(breached_events_of(&case), ["resolution", "resolution"]);
        let events = s.breached_events().await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0].0, answered);
    }

    two_timers_racing_record_each_breach_once(open) {
        // Two instances on one database and one clock: every move of the
        // clock wakes both timers at once.
        let clock = Clock::fixed(T0);
        let mut a = serve(open().await, &clock, HOURLY).await;
        let mut b = serve(open().await, &clock, HOURLY).await;
        const CASES: usize = 12;
        let mut ids = Vec::new();
        for i in 0..CASES {
            let app = if i % 2 == 0 { &a.app } else { &b.app };
            ids.push(escalate(app).await);
            clock.advance(Duration::minutes(1));
        }
        // Round i: case i's response due time passes (they are a minute apart).
        for (i, id) in ids.iter().enumerate() {
            clock.set(T0 + Duration::hours(1) + Duration::minutes(i as i64) + Duration::seconds(1));
            a.settle().await;
            b.settle().await;
            let events = a.breached_events().await;
            assert_eq!(events.len(), 1, "round {i}: {events:?}");
            assert_eq!(&events[0].0, id, "round {i}");
        }
        // Every resolution due time at once: each recorded once.
        clock.set(T0 + Duration::days(2));
        a.settle().await;
        b.settle().await;
        let events = b.breached_events().await;
        assert_eq!(events.len(), CASES, "{events:?}");
        let sam = a.app.user("sam", Role::Specialist, 2).await;
        for id in &ids {
            let case = b.case(id, &sam).await;
            assert_eq!(breached_events_of(&case), ["response", "resolution"], "{id}");
        }
    }
}

/// The contract's example through the server: a tier-2 case arriving on
/// Friday 16:30 in Tallinn is due for its response on Monday at 11:30
/// (half an hour on Friday, three and a half on Monday from 08:00), and
/// breaches then, not over the weekend.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn friday_afternoon_is_due_monday_morning_by_the_calendar() {
    let friday = datetime!(2025-01-10 16:30 +2);
    let clock = Clock::fixed(friday);
    let file = sqlite_file().await;
    let mut s = serve(
        Arc::new(SqliteStore::open(&file).await.unwrap()),
        &clock,
        CONTRACT,
    )
    .await;
    let sam = s.app.user("sam", Role::Specialist, 2).await;
    let id = escalate(&s.app).await;
    let case = s.case(&id, &sam).await;
    // Monday 11:30 in Tallinn; Wednesday 16:30 for the resolution.
    assert_eq!(
        case["due"],
        json!({"response": "2025-01-13T09:30:00Z", "resolution": "2025-01-15T14:30:00Z"})
    );
    // All weekend, and Monday to a second before: nothing.
    for at in [
        datetime!(2025-01-11 12:00 +2),
        datetime!(2025-01-12 23:00 +2),
        datetime!(2025-01-13 11:29:59 +2),
    ] {
        clock.set(at);
        s.settle().await;
        assert_eq!(s.case(&id, &sam).await["breached"], json!([]), "at {at}");
    }
    clock.set(datetime!(2025-01-13 11:30:01 +2));
    s.settle().await;
    assert_eq!(s.case(&id, &sam).await["breached"], json!(["response"]));
}
