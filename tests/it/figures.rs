//! The figures of section 11 on a small history built through the API with
//! a fixed clock, on SQLite and, when a server is reachable, PostgreSQL:
//! every session's times, answers and ending are chosen here, and the right
//! figures are worked out by hand in the comments beside each assertion.

use crate::common;

use common::TestApp;
use common::pg::TestDb;
use fixpath::clock::Clock;
use fixpath::stats::gather::{self, Programs};
use fixpath::stats::{GroupData, Outcome, StatsData, StatsFilter};
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{Role, Store};
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

/// The history's day; one session starts the day before.
pub(crate) const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);
/// The idle limit the sweep runs with.
pub(crate) const IDLE: Duration = Duration::minutes(30);

pub(crate) async fn app(store: Arc<dyn Store>) -> TestApp {
    TestApp::start_on(store, |state| state.clock = Clock::fixed(T0)).await
}

async fn sqlite(name: &str) -> Arc<dyn Store> {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    let path = std::env::temp_dir().join(format!(
        "fixpath-figures-{name}-{}-{}.db",
        std::process::id(),
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ));
    Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap())
}

async fn postgres(db: &TestDb) -> Arc<dyn Store> {
    Arc::new(PgStore::open(&db.url, 8).await.unwrap())
}

/// Each scenario once per backend: `NAME::sqlite` always, `NAME::postgres`
/// when PostgreSQL is reachable.
macro_rules! on_both_backends {
    ($($name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $app = app(super::sqlite(stringify!($name)).await).await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = TestDb::create(stringify!($name)).await else {
                    return;
                };
                let $app = app(super::postgres(&db).await).await;
                $body
                drop($app);
                drop(db);
            }
        }
    )*};
}

/// A session being walked: its id, its token, the `seq` to send next.
pub(crate) struct Walk<'a> {
    app: &'a TestApp,
    pub(crate) id: String,
    pub(crate) token: String,
    seq: u64,
}

impl<'a> Walk<'a> {
    /// Starts `script` at `at` on `channel`; an agent's session needs
    /// their token.
    pub(crate) async fn start(
        app: &'a TestApp,
        at: OffsetDateTime,
        script: &str,
        staff: Option<&str>,
    ) -> Walk<'a> {
        app.state.clock.set(at);
        let channel = if staff.is_some() { "agent" } else { "customer" };
        let (id, token, body) = app
            .start_session(staff, &json!({"script": script, "channel": channel}))
            .await;
        let seq = body["step"]["seq"].as_u64().unwrap_or(1);
        Walk {
            app,
            id,
            token: staff.map_or(token, str::to_owned),
            seq,
        }
    }

    pub(crate) async fn post(&mut self, at: OffsetDateTime, what: &str, mut body: Json) -> Json {
        self.app.state.clock.set(at);
        body["seq"] = json!(self.seq);
        let r = self
            .app
            .post(
                &format!("/api/v1/sessions/{}/{what}", self.id),
                Some(&self.token),
                &body,
            )
            .await;
        let body = r.assert_ok(200).clone();
        if let Some(seq) = body["step"]["seq"].as_u64() {
            self.seq = seq;
        }
        body
    }

    /// Rates the session (no `seq`: a rating is not a step).
    pub(crate) async fn rate(&self, at: OffsetDateTime, score: u8) {
        self.app.state.clock.set(at);
        self.app
            .post(
                &format!("/api/v1/sessions/{}/feedback", self.id),
                Some(&self.token),
                &json!({ "score": score }),
            )
            .await
            .assert_ok(201);
    }

    pub(crate) async fn answer(&mut self, at: OffsetDateTime, answer: &str) -> Json {
        self.post(at, "answer", json!({"answer": answer})).await
    }
}

pub(crate) fn s(n: i64) -> Duration {
    Duration::seconds(n)
}

/// The history (times from [`T0`]; every session on `wifi` unless said):
///
/// | session | channel  | walk                                                   | ends                 |
/// |---------|----------|--------------------------------------------------------|----------------------|
/// | S1      | customer | power `no` at 10 s                                     | resolved, 10 s; rated 5 |
/// | S2      | customer | `yes` 20 s, serial 50 s, unplug `done` 55 s, `red` 70 s | escalated, 70 s     |
/// | S3      | customer | `yes` 10 s, back 20 s, `yes` 30 s, asks a person 40 s   | escalated at serial, 40 s |
/// | S4      | customer | `yes` 10 s, then nothing                               | abandoned at serial, 10 s |
/// | S5      | agent    | `no` at 40 s                                           | resolved, 40 s       |
/// | S6      | customer | starts at 3000 s                                       | still active         |
/// | S7      | customer | `instant`: escalates at its start                      | escalated, 0 s       |
/// | S8      | customer | the day before: `no` at 5 s                            | resolved, 5 s; rated 4 |
///
/// S2's case (created at 70 s): claimed at 100 s, first reply at 670 s
/// (600 s), resolved at 4270 s, reopened by the customer at 4330 s,
/// resolved again at 4870 s (4800 s after it was created); rated 2.
/// S3's and S7's cases stay open. The sweep runs at 3600 s.
pub(crate) async fn history(app: &TestApp) {
    let sam = app.user("sam", Role::Specialist, 2).await;
    let ann = app.user("ann", Role::Agent, 1).await;

    let mut s1 = Walk::start(app, T0, "wifi", None).await;
    s1.answer(T0 + s(10), "no").await;
    s1.rate(T0 + s(11), 5).await;

    let mut s2 = Walk::start(app, T0, "wifi", None).await;
    s2.answer(T0 + s(20), "yes").await;
    s2.post(T0 + s(50), "answer", json!({"value": "AB12CD34"}))
        .await;
    s2.answer(T0 + s(55), "done").await;
    let r = s2.answer(T0 + s(70), "red").await;
    let case = r["escalation"]["id"].as_str().expect("a case").to_owned();

    let mut s3 = Walk::start(app, T0, "wifi", None).await;
    s3.answer(T0 + s(10), "yes").await;
    s3.post(T0 + s(20), "back", json!({})).await;
    s3.answer(T0 + s(30), "yes").await;
    s3.post(T0 + s(40), "escalate", json!({})).await;

    let mut s4 = Walk::start(app, T0, "wifi", None).await;
    s4.answer(T0 + s(10), "yes").await;

    let mut s5 = Walk::start(app, T0, "wifi", Some(&ann)).await;
    s5.answer(T0 + s(40), "no").await;

    Walk::start(app, T0 + s(3000), "wifi", None).await;
    Walk::start(app, T0, "instant", None).await;

    let mut s8 = Walk::start(app, T0 - Duration::days(1), "wifi", None).await;
    s8.answer(T0 - Duration::days(1) + s(5), "no").await;
    s8.rate(T0 - Duration::days(1) + s(6), 4).await;

    // S2's case.
    let staff = |at: OffsetDateTime, what: &'static str, body: Json| {
        let case = case.clone();
        let sam = sam.clone();
        async move {
            app.state.clock.set(at);
            app.post(
                &format!("/api/v1/escalations/{case}/{what}"),
                Some(&sam),
                &body,
            )
            .await
            .assert_ok(200);
        }
    };
    staff(T0 + s(100), "claim", json!({})).await;
    staff(
        T0 + s(670),
        "reply",
        json!({"text": "Please try another cable."}),
    )
    .await;
    staff(
        T0 + s(4270),
        "resolve",
        json!({"resolution": "A new cable."}),
    )
    .await;
    app.state.clock.set(T0 + s(4330));
    app.post(
        &format!("/api/v1/sessions/{}/message", s2.id),
        Some(&s2.token),
        &json!({"text": "It drops again."}),
    )
    .await
    .assert_ok(200);
    staff(
        T0 + s(4870),
        "resolve",
        json!({"resolution": "A new router."}),
    )
    .await;
    s2.rate(T0 + s(4900), 2).await;

    // The sweep: S4 idle since 10 s, S6 started 600 s ago.
    let programs = Programs::new();
    let now = T0 + s(3600);
    let abandoned = gather::abandon_idle(&*app.store, now, IDLE).await.unwrap();
    assert_eq!(abandoned.len(), 1, "{abandoned:?}");
    assert_eq!(abandoned[0].id, s4.id);
    assert_eq!(
        (abandoned[0].script.as_str(), abandoned[0].channel.as_str()),
        ("wifi", "customer")
    );
    // A second sweep finds nothing more.
    assert!(
        gather::abandon_idle(&*app.store, now, IDLE)
            .await
            .unwrap()
            .is_empty()
    );
    let folded = gather::catch_up(&*app.store, &programs).await.unwrap();
    assert_eq!(folded, 7, "every ended session is folded once");
    assert_eq!(gather::catch_up(&*app.store, &programs).await.unwrap(), 0);
}

fn hist(pairs: &[(i64, u64)]) -> fixpath::stats::Histogram {
    let mut h = fixpath::stats::Histogram::default();
    for &(v, n) in pairs {
        h.add(v, n);
    }
    h
}

fn groups(data: &StatsData) -> BTreeMap<(String, String), &GroupData> {
    data.groups
        .iter()
        .map(|g| ((g.script.clone(), g.channel.clone()), g))
        .collect()
}

on_both_backends! {
    the_store_keeps_the_raw_figures(app) {
        history(&app).await;
        let all = app.store.stats_data(&StatsFilter::default()).await.unwrap();
        let version = app.state.library.current().get("wifi").unwrap().1.version.clone();
        for g in &all.groups {
            if g.script == "wifi" {
                assert_eq!(g.version, version, "grouped by the pinned version");
            }
        }
        let by = groups(&all);
        // wifi, customer: two days' sessions in one group (days are summed).
        let wc = by[&("wifi".into(), "customer".into())];
        assert_eq!(wc.outcomes[&Outcome::Resolved], hist(&[(5, 1), (10, 1)]));
        assert_eq!(wc.outcomes[&Outcome::Escalated], hist(&[(40, 1), (70, 1)]));
        assert_eq!(wc.outcomes[&Outcome::Abandoned], hist(&[(10, 1)]));
        assert_eq!(wc.active, 1, "S6");

        // power: S1 no, S2 yes, S3 yes (taken back) and yes, S4 yes, S8 no.
        // Dwell: 10, 20, 10, 10 (from the back at 20 s to 30 s), 10, 5.
        let power = &wc.nodes["power"];
        assert_eq!(power.entered, 6);
        assert_eq!(power.answers, BTreeMap::from([("no".into(), 2), ("yes".into(), 4)]));
        assert_eq!(power.dwell, hist(&[(5, 1), (10, 4), (20, 1)]));
        assert_eq!((power.escalated, power.abandoned), (0, 0));
        // serial: S2 typed a value (30 s), S3 asked for a person there
        // (the engine's `_escalate` answer, 10 s), S4 waited there until
        // abandoned.
        let serial = &wc.nodes["serial"];
        assert_eq!(
            (serial.entered, serial.escalated, serial.abandoned),
            (3, 1, 1)
        );
        assert_eq!(serial.answers, BTreeMap::from([("_escalate".into(), 1)]));
        assert_eq!(serial.dwell, hist(&[(10, 1), (30, 1)]));
        // The sub-flow's nodes, and where S2 escalated.
        let unplug = &wc.nodes["power-cycle/unplug"];
        assert_eq!((unplug.entered, unplug.dwell.clone()), (1, hist(&[(5, 1)])));
        assert_eq!(wc.nodes["power-cycle/done"].entered, 1, "the return, a node of its own");
        let lights = &wc.nodes["lights"];
        assert_eq!(
            (lights.entered, lights.escalated, lights.answers.get("red").copied()),
            (1, 1, Some(1)),
            "the escalation on the answer is not a second entry"
        );

        // Cases: S2's (reopened, resolved again) and S3's (open).
        assert_eq!(wc.cases.count, 2);
        assert_eq!(wc.cases.resolved, 1);
        assert_eq!(wc.cases.reopened, 1);
        assert_eq!(wc.cases.first_response, hist(&[(600, 1)]));
        assert_eq!(wc.cases.resolution, hist(&[(4800, 1)]), "from creation to the last resolution");
        assert_eq!(wc.csat, [0, 1, 0, 1, 1], "S2's case 2, S8 4, S1 5");

        let wa = by[&("wifi".into(), "agent".into())];
        assert_eq!(wa.outcomes[&Outcome::Resolved], hist(&[(40, 1)]));
        assert_eq!(wa.outcomes.len(), 1);

        let instant = by[&("instant".into(), "customer".into())];
        assert_eq!(instant.outcomes[&Outcome::Escalated], hist(&[(0, 1)]));
        assert_eq!(instant.nodes["handover"].entered, 1);
        assert_eq!(instant.nodes["handover"].escalated, 1);
        assert_eq!(instant.cases.count, 1);
        assert_eq!(instant.cases.first_response.count(), 0);

        // Filters: one day; one channel; a version prefix; a script.
        let day = app
            .store
            .stats_data(&StatsFilter {
                since: Some(date!(2026 - 03 - 02)),
                until: Some(date!(2026 - 03 - 02)),
                ..StatsFilter::default()
            })
            .await
            .unwrap();
        let wc = groups(&day)[&("wifi".into(), "customer".into())];
        assert_eq!(wc.outcomes[&Outcome::Resolved], hist(&[(10, 1)]), "S8 started the day before");
        assert_eq!(wc.csat, [0, 1, 0, 0, 1]);
        assert_eq!(wc.nodes["power"].entered, 5);
        let before = app
            .store
            .stats_data(&StatsFilter {
                until: Some(date!(2026 - 03 - 01)),
                ..StatsFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(before.groups.len(), 1, "{before:?}");
        assert_eq!(before.groups[0].active, 0);
        assert_eq!(before.groups[0].cases.count, 0);

        let agents = app
            .store
            .stats_data(&StatsFilter {
                channel: Some("agent".into()),
                ..StatsFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(agents.groups.len(), 1);
        assert_eq!(agents.groups[0].channel, "agent");

        let prefix = app
            .store
            .stats_data(&StatsFilter {
                script: Some("wifi".into()),
                versions: fixpath::stats::Versions::Only(version[..6].to_owned()),
                ..StatsFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(prefix.groups.len(), 2, "wifi's customer and agent groups");
        let none = app
            .store
            .stats_data(&StatsFilter {
                versions: fixpath::stats::Versions::Only("zz%".into()),
                ..StatsFilter::default()
            })
            .await
            .unwrap();
        assert!(none.groups.is_empty(), "{none:?}");
    }
}

on_both_backends! {
    two_rollup_jobs_at_once_count_each_session_once(app) {
        // An agent's sessions: anonymous starts are rate limited.
        let ann = app.user("ann", Role::Agent, 1).await;
        for i in 0..40 {
            let mut w = Walk::start(&app, T0 + s(i), "wifi", Some(&ann)).await;
            w.answer(T0 + s(i + 7), "no").await;
        }
        let (a, b) = (Programs::new(), Programs::new());
        let (x, y) = tokio::join!(
            gather::catch_up(&*app.store, &a),
            gather::catch_up(&*app.store, &b)
        );
        let (x, y) = (x.unwrap(), y.unwrap());
        // Whatever the interleaving, the batches that lost the race wrote
        // nothing; a last catch-up folds what they left.
        let z = gather::catch_up(&*app.store, &a).await.unwrap();
        assert_eq!(x + y + z, 40, "{x} + {y} + {z}");
        let data = app.store.stats_data(&StatsFilter::default()).await.unwrap();
        let g = &data.groups[0];
        assert_eq!(g.outcomes[&Outcome::Resolved], hist(&[(7, 40)]));
        assert_eq!(g.nodes["power"].entered, 40);
    }
}

/// `fixpath stats ARGS` on the test app's scripts: exit code, stdout, stderr.
fn stats_cli(app: &TestApp, db: &str, args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .arg("stats")
        .args(["--db", db, "--scripts"])
        .arg(app.dir().join("scripts"))
        .args(args)
        .env_remove("FIXPATH_DB")
        .env_remove("FIXPATH_SCRIPTS")
        .env_remove("FIXPATH_CONFIG")
        .env_remove("FIXPATH_SESSION_IDLE")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the fixpath binary runs");
    (
        out.status.code().expect("an exit code"),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Section 11's report of [`history`], worked out by hand, from the API;
/// then the command line, which reads the real clock (months after the
/// history) and so abandons S6 as the server would, and agrees with the
/// API afterwards.
async fn the_report(app: &TestApp, db: &str) {
    history(app).await;
    let ada = app.user("ada", Role::Author, 1).await;
    // Read at the sweep's time: S6 started 600 s before, not idle yet.
    app.state.clock.set(T0 + s(3600));
    let report = app
        .get("/api/v1/stats", Some(&ada))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(
        (report["since"].clone(), report["until"].clone()),
        (Json::Null, Json::Null)
    );
    let ids: Vec<&str> = report["scripts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["instant", "wifi"]);
    let wifi = &report["scripts"][1];
    assert_eq!(wifi["title"], "Wi-Fi keeps dropping");
    assert_eq!(wifi["version"], Json::Null, "every version together");
    // Started 7: S1–S6 and S8; ended 6.
    assert_eq!(
        wifi["sessions"],
        json!({"started": 7, "resolved": 3, "escalated": 2, "abandoned": 1, "active": 1})
    );
    // deflection: customers only, S1 and S8 resolved of S1–S4 and S8
    // ended: 2/5. escalation 2/6, abandonment 1/6. fcr: resolved of
    // resolved + escalated, S5 (an agent) included: 3/5.
    assert_eq!(
        wifi["rates"],
        json!({"deflection": 0.4, "escalation": 2.0 / 6.0, "abandonment": 1.0 / 6.0, "fcr": 0.6})
    );
    // 5, 10, 10, 40, 40, 70: the median is the mean of 10 and 40; the p90
    // is the value of rank ceil(0.9 × 6) = 6.
    assert_eq!(
        wifi["time_to_outcome_s"],
        json!({"median": 25.0, "p90": 70.0})
    );
    assert_eq!(
        wifi["cases"],
        json!({"count": 2, "resolved": 1, "reopened": 1, "median_first_response_s": 600.0,
               "median_resolution_s": 4800.0, "breached_response": 0, "breached_resolution": 0})
    );
    // 5 (S1), 4 (S8), 2 (S2's case).
    assert_eq!(
        wifi["csat"],
        json!({"count": 3, "average": 11.0 / 3.0, "distribution": [0, 1, 0, 1, 1]})
    );
    // By node id. power: S1–S5 and S8, S3 twice; dwell 5, 10 ×4, 20, 40
    // (S5): median 10. serial: dwell 10 and 30: median 20.
    assert_eq!(
        wifi["nodes"],
        json!([
            {"node": "lights", "entered": 1, "answers": {"red": 1}, "abandoned": 0,
             "escalated": 1, "median_dwell_s": 15.0},
            {"node": "power", "entered": 7, "answers": {"no": 3, "yes": 4}, "abandoned": 0,
             "escalated": 0, "median_dwell_s": 10.0},
            {"node": "power-cycle/done", "entered": 1, "answers": {}, "abandoned": 0,
             "escalated": 0, "median_dwell_s": null},
            {"node": "power-cycle/unplug", "entered": 1, "answers": {"done": 1}, "abandoned": 0,
             "escalated": 0, "median_dwell_s": 5.0},
            {"node": "serial", "entered": 3, "answers": {"_escalate": 1}, "abandoned": 1,
             "escalated": 1, "median_dwell_s": 20.0},
        ])
    );
    // instant: one customer session, escalated at its start: no divisor is
    // zero but nothing is resolved; its case has no times yet.
    let instant = &report["scripts"][0];
    assert_eq!(
        instant["rates"],
        json!({"deflection": 0.0, "escalation": 1.0, "abandonment": 0.0, "fcr": 0.0})
    );
    assert_eq!(
        instant["time_to_outcome_s"],
        json!({"median": 0.0, "p90": 0.0})
    );
    assert_eq!(instant["cases"]["median_first_response_s"], Json::Null);
    assert_eq!(
        instant["csat"],
        json!({"count": 0, "average": null, "distribution": [0, 0, 0, 0, 0]})
    );

    // From 2026-03-02: without S8. Customers 1 resolved of 4 ended;
    // times 10, 10, 40, 40, 70: median 40, p90 rank ceil(4.5) = 5.
    let day = app
        .get("/api/v1/stats?script=wifi&since=2026-03-02", Some(&ada))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(day["since"], "2026-03-02");
    let w = &day["scripts"][0];
    assert_eq!(day["scripts"].as_array().unwrap().len(), 1);
    assert_eq!(w["sessions"]["started"], 6);
    assert_eq!(
        w["rates"],
        json!({"deflection": 0.25, "escalation": 0.4, "abandonment": 0.2, "fcr": 0.5})
    );
    assert_eq!(w["time_to_outcome_s"], json!({"median": 40.0, "p90": 70.0}));
    assert_eq!(w["csat"]["distribution"], json!([0, 1, 0, 0, 1]));
    assert_eq!(w["nodes"][1]["answers"], json!({"no": 2, "yes": 4}));
    // Agents only: S5; deflection has no customer to count.
    let agents = app
        .get("/api/v1/stats?channel=agent", Some(&ada))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(agents["scripts"][0]["rates"]["deflection"], Json::Null);
    assert_eq!(agents["scripts"][0]["rates"]["fcr"], 1.0);

    // The command line, months later: S6 has sat idle since its start, at
    // the first node. Abandoned with 0 s: times 0, 5, 10, 10, 40, 40, 70.
    let (code, out, err) = stats_cli(app, db, &["--format", "json", "--script", "wifi"]);
    assert_eq!(code, 0, "{err}");
    let cli: Json = serde_json::from_str(&out).unwrap();
    let api = app
        .get("/api/v1/stats?script=wifi", Some(&ada))
        .await
        .assert_ok(200)
        .clone();
    assert_eq!(cli, api, "the command line and the API agree");
    let w = &cli["scripts"][0];
    assert_eq!(
        w["sessions"],
        json!({"started": 7, "resolved": 3, "escalated": 2, "abandoned": 2, "active": 0})
    );
    assert_eq!(w["time_to_outcome_s"], json!({"median": 10.0, "p90": 70.0}));
    assert_eq!(w["nodes"][1]["entered"], 8);
    assert_eq!(w["nodes"][1]["abandoned"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_on_sqlite() {
    let dir = std::env::temp_dir().join(format!(
        "fixpath-figures-report-{}-{:x}",
        std::process::id(),
        T0.unix_timestamp()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("fixpath.db").display().to_string();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).await.unwrap());
    let app = app(store).await;
    the_report(&app, &db).await;
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_on_postgres() {
    let Some(db) = TestDb::create("the_report_on_postgres").await else {
        return;
    };
    let app = app(postgres(&db).await).await;
    the_report(&app, &db.url).await;
    drop(app);
    drop(db);
}

/// The idle sweep and the rollup job find their sessions through their
/// partial indexes, not by reading every session, the queue's first page
/// is read in its order, not sorted, and the overdue count and a month's
/// case figures read a range of an index (SQLite's plan).
#[tokio::test]
async fn the_sweep_and_the_rollup_job_read_indexes_not_every_session() {
    let dir = std::env::temp_dir().join(format!(
        "fixpath-figures-plan-{}-{:x}",
        std::process::id(),
        T0.unix_timestamp() ^ 0x5eed
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("fixpath.db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(db.to_str().unwrap()).await.unwrap());
    store.migrate().await.unwrap();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    for (what, sql, index) in [
        (
            "the idle sweep",
            "SELECT id FROM sessions WHERE outcome IS NULL AND created_at < 1 AND updated_at < 1 \
             ORDER BY created_at LIMIT 10",
            "sessions_open",
        ),
        (
            "the rollup job",
            "SELECT id FROM sessions s WHERE s.outcome IS NOT NULL AND s.rolled = 0 \
             ORDER BY s.ended_at LIMIT 10",
            "sessions_unrolled",
        ),
        (
            "the queue's first page",
            "SELECT id FROM escalations WHERE 1 = 1 AND status <> 'resolved' \
             ORDER BY (due_next IS NULL), due_next, created_at, id LIMIT 101",
            "escalations_due_order",
        ),
        (
            "the overdue count",
            "SELECT count(*) FROM escalations WHERE (due_next IS NULL) = FALSE AND due_next < 1",
            "escalations_due_order (<expr>=? AND due_next<?)",
        ),
        (
            "the case figures of a month",
            "SELECT e.script || '', COUNT(*) FROM escalations e \
             WHERE e.script = 'wifi' AND e.started_at >= 1 AND e.started_at < 2 GROUP BY 1",
            "COVERING INDEX escalations_started (started_at>? AND started_at<?)",
        ),
        (
            "the active count",
            "SELECT s.script || '', COALESCE(s.version, ''), COALESCE(s.channel, ''), COUNT(*) \
             FROM sessions s WHERE s.outcome IS NULL GROUP BY 1, 2, 3",
            "sessions_open",
        ),
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {sql}"))
                .fetch_all(&pool)
                .await
                .unwrap();
        let plan: Vec<&str> = plan.iter().map(|r| r.3.as_str()).collect();
        assert!(
            plan.iter().any(|p| p.contains(index))
                && !plan.iter().any(|p| *p == "SCAN sessions" || *p == "SCAN s"),
            "{what}: {plan:?}"
        );
    }
    pool.close().await;
    let _ = std::fs::remove_dir_all(&dir);
}
