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
const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);
/// The idle limit the sweep runs with.
const IDLE: Duration = Duration::minutes(30);

async fn app(store: Arc<dyn Store>) -> TestApp {
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
struct Walk<'a> {
    app: &'a TestApp,
    id: String,
    token: String,
    seq: u64,
}

impl<'a> Walk<'a> {
    /// Starts `script` at `at` on `channel`; an agent's session needs
    /// their token.
    async fn start(
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

    async fn post(&mut self, at: OffsetDateTime, what: &str, mut body: Json) -> Json {
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
    async fn rate(&self, at: OffsetDateTime, score: u8) {
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

    async fn answer(&mut self, at: OffsetDateTime, answer: &str) -> Json {
        self.post(at, "answer", json!({"answer": answer})).await
    }
}

fn s(n: i64) -> Duration {
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
async fn history(app: &TestApp) {
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
