//! Retention and erasure (contract section 13), on SQLite and, when a
//! server is reachable, PostgreSQL: on the figures' hand-built history plus
//! one case with an address, a note and a rated comment, the sweep removes
//! exactly the personal data of what ended (and was resolved) before the
//! cut-off — found nowhere in any table afterwards — keeps what is still
//! being worked on, and leaves every figure as it was.

use crate::common;
use crate::figures::{T0, Walk, app, history, s};

use common::TestApp;
use common::pg::TestDb;
use fixpath::clock::Clock;
use fixpath::server::retention;
use fixpath::stats::StatsFilter;
use fixpath::stats::gather::{self, Programs};
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{Erasure, Role, Swept};
use serde_json::{Value as Json, json};
use sqlx::{Column, Row};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

/// Where a test's database is, to read every table of it raw.
enum Raw {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Raw {
    /// Every text value of every row of every table, one string per row.
    async fn rows(&self) -> Vec<String> {
        let mut out = Vec::new();
        match self {
            Raw::Sqlite(path) => {
                let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
                    .await
                    .unwrap();
                let tables: Vec<(String,)> =
                    sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
                        .fetch_all(&pool)
                        .await
                        .unwrap();
                for (t,) in tables {
                    for row in sqlx::query(&format!("SELECT * FROM \"{t}\""))
                        .fetch_all(&pool)
                        .await
                        .unwrap()
                    {
                        let mut line = format!("{t}:");
                        for c in row.columns() {
                            if let Ok(Some(v)) = row.try_get::<Option<String>, _>(c.ordinal()) {
                                line.push(' ');
                                line.push_str(&v);
                            }
                        }
                        out.push(line);
                    }
                }
                pool.close().await;
            }
            Raw::Postgres(url) => {
                let pool = sqlx::PgPool::connect(url).await.unwrap();
                let tables: Vec<(String,)> = sqlx::query_as(
                    "SELECT table_name::text FROM information_schema.tables \
                     WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
                )
                .fetch_all(&pool)
                .await
                .unwrap();
                for (t,) in tables {
                    let rows: Vec<(String,)> =
                        sqlx::query_as(&format!("SELECT t::text FROM \"{t}\" t"))
                            .fetch_all(&pool)
                            .await
                            .unwrap();
                    out.extend(rows.into_iter().map(|(r,)| format!("{t}: {r}")));
                }
                pool.close().await;
            }
        }
        out
    }
}

/// Each scenario once per backend, with the raw view of its database.
macro_rules! on_both_backends {
    ($($name:ident($app:ident, $raw:ident) $body:block)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let path = temp_db(stringify!($name));
                let store = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
                let $app = app(store).await;
                let $raw = Raw::Sqlite(path);
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = TestDb::create(stringify!($name)).await else {
                    return;
                };
                let store = Arc::new(PgStore::open(&db.url, 8).await.unwrap());
                let $app = app(store).await;
                let $raw = Raw::Postgres(db.url.clone());
                $body
                drop($app);
                drop(db);
            }
        }
    )*};
}

fn temp_db(name: &str) -> std::path::PathBuf {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    std::env::temp_dir().join(format!(
        "fixpath-retention-{name}-{}-{}.db",
        std::process::id(),
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}

/// What the customer and staff of S9 wrote or typed: none of it may be
/// left anywhere once S9 is erased.
const S9_PERSONAL: [&str; 6] = [
    "ZZ99YY88",
    "kim@example.com",
    "Kim lives at Elm Street 5",
    "Called Kim at home",
    "Swapped Kim's router",
    "Kim says thanks",
];
/// What S2 typed and was told (the figures' history).
const S2_PERSONAL: [&str; 4] = [
    "AB12CD34",
    "Please try another cable.",
    "It drops again.",
    "A new router.",
];
/// S3's case is still open: what it holds stays.
const S3_NOTE: &str = "Kept while the case is open";

/// The figures' history, then S9 (resolved case with an address, notes and
/// a rated comment) and a note on S3's open case; everything folded.
/// Returns S9's session and case, and S3's case.
async fn more_history(app: &TestApp) -> (Walk<'_>, String, String) {
    history(app).await;
    let kai = app.user("kai", Role::Specialist, 2).await;
    let mut s9 = Walk::start(app, T0 + s(5000), "wifi", None).await;
    s9.answer(T0 + s(5010), "yes").await;
    s9.post(T0 + s(5020), "answer", json!({"value": "ZZ99YY88"}))
        .await;
    let r = s9
        .post(
            T0 + s(5030),
            "escalate",
            json!({"email": "kim@example.com", "note": "Kim lives at Elm Street 5"}),
        )
        .await;
    let case = r["escalation"]["id"].as_str().expect("a case").to_owned();
    let staff = |at: OffsetDateTime, what: &'static str, id: String, body: Json| {
        let kai = kai.clone();
        async move {
            app.state.clock.set(at);
            app.post(
                &format!("/api/v1/escalations/{id}/{what}"),
                Some(&kai),
                &body,
            )
            .await
            .assert_ok(200);
        }
    };
    staff(T0 + s(5100), "claim", case.clone(), json!({})).await;
    staff(
        T0 + s(5110),
        "note",
        case.clone(),
        json!({"text": "Called Kim at home"}),
    )
    .await;
    staff(
        T0 + s(5200),
        "resolve",
        case.clone(),
        json!({"resolution": "Swapped Kim's router"}),
    )
    .await;
    app.state.clock.set(T0 + s(5300));
    app.post(
        &format!("/api/v1/sessions/{}/feedback", s9.id),
        Some(&s9.token),
        &json!({"score": 4, "comment": "Kim says thanks"}),
    )
    .await
    .assert_ok(201);

    // S3's case (still open): the one case of the history under tier 2
    // that escalated at `serial`.
    let page = app
        .get("/api/v1/escalations?status=all&limit=50", Some(&kai))
        .await;
    let open = page.assert_ok(200)["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["status"] == "open" && e["node"] == "serial")
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .expect("S3's open case");
    staff(T0 + s(5400), "note", open.clone(), json!({"text": S3_NOTE})).await;

    assert_eq!(
        gather::catch_up(&*app.store, &Programs::new())
            .await
            .unwrap(),
        1,
        "S9 is folded before anything is erased"
    );
    (s9, case, open)
}

async fn figures(app: &TestApp) -> String {
    format!(
        "{:#?}",
        app.store.stats_data(&StatsFilter::default()).await.unwrap()
    )
}

on_both_backends! {
    the_sweep_removes_personal_data_and_keeps_the_figures(app, raw) {
        let (s9, case, open) = more_history(&app).await;
        let before = figures(&app).await;
        let kai = app.user("kai2", Role::Specialist, 2).await;
        let path = |e: &Json| -> Vec<(Json, Json, Json, Json)> {
            e["trail"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| (t["node"].clone(), t["answer"]["id"].clone(), t["at"].clone(), t["retracted"].clone()))
                .collect()
        };
        let path_before = path(
            app.get(&format!("/api/v1/escalations/{case}"), Some(&kai)).await.assert_ok(200),
        );
        let rows = raw.rows().await.join("\n");
        for needle in S9_PERSONAL.iter().chain(&S2_PERSONAL) {
            assert!(rows.contains(needle), "`{needle}` is stored before the sweep");
        }

        // Nothing is due while the history is younger than the cut-off.
        let now = T0 + Duration::days(200);
        assert_eq!(
            app.store.erase_due(T0 - Duration::days(2), now, 100).await.unwrap(),
            Swept::default()
        );

        // 180 days: S1, S2, S4 (abandoned), S5, S8 and S9 ended before the
        // cut-off, S2's and S9's cases were resolved before it. S3's and
        // S7's cases are open, S6 is still active: kept.
        let swept = retention::sweep(&*app.store, &Clock::fixed(now), Duration::days(180))
            .await
            .unwrap();
        assert_eq!((swept.sessions, swept.cases), (6, 2), "{swept:?}");
        // Once only.
        assert_eq!(
            app.store.erase_due(now - Duration::days(180), now, 100).await.unwrap(),
            Swept::default()
        );

        let rows = raw.rows().await;
        for needle in S9_PERSONAL.iter().chain(&S2_PERSONAL) {
            let left: Vec<&String> = rows.iter().filter(|r| r.contains(needle)).collect();
            assert!(left.is_empty(), "`{needle}` is still stored: {left:#?}");
        }
        assert!(rows.iter().any(|r| r.contains(S3_NOTE)), "the open case keeps its note");
        assert_eq!(figures(&app).await, before, "erasure changes no figure");

        // What is left of S9, through the API: the path and the times, no
        // values, texts, address, messages' texts or notes' texts.
        let e = app.get(&format!("/api/v1/escalations/{case}"), Some(&kai)).await;
        let e = e.assert_ok(200);
        assert_eq!(e["status"], "resolved");
        assert_eq!(e["params"], json!({}));
        assert_eq!(e["vars"], json!({}));
        assert_eq!(e["reason"], "");
        assert_eq!(e["email"], Json::Null);
        assert_eq!(e["ticket_text"], "");
        assert_eq!(e["resolution"], "");
        assert!(e["notes"].as_array().unwrap().iter().all(|n| n["text"] == ""), "{e:#}");
        assert!(e["messages"].as_array().unwrap().iter().all(|m| m["text"] == ""), "{e:#}");
        assert_eq!(path(e), path_before, "the path stays: nodes, answers, times");
        assert!(path_before.len() >= 2, "{path_before:?}");
        assert!(e["trail"].as_array().unwrap().iter().all(|t| t["text"] == "" && t.get("value").is_none()));
        let last = e["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!((last["type"].as_str(), last["by"].as_str()), (Some("erased"), Some("system")));
        assert_eq!(last["at"], json!("2026-09-18T09:00:00Z"));

        // The customer's link says what happened, in their language; the
        // case takes nothing more.
        let r = app.get(&format!("/api/v1/sessions/{}", s9.id), Some(&s9.token)).await;
        assert!(!r.assert_ok(200).to_string().contains("ZZ99YY88"));
        app.post(
            &format!("/api/v1/sessions/{}/message", s9.id),
            Some(&s9.token),
            &json!({"text": "Hello again"}),
        )
        .await
        .assert_error(409, "case_erased");
        app.post(&format!("/api/v1/escalations/{case}/note"), Some(&kai), &json!({"text": "x"}))
            .await
            .assert_error(409, "case_erased");

        // S3's open case: untouched, and erasing it on request is refused
        // until it is resolved.
        let reference = app.get(&format!("/api/v1/escalations/{open}"), Some(&kai)).await
            .assert_ok(200)["reference"].as_str().unwrap().to_owned();
        assert_eq!(
            app.store.erase_reference(&reference, "system", now).await.unwrap(),
            Erasure::Unresolved { reference: reference.clone() }
        );
        assert_eq!(
            app.store.erase_reference("ZZZZ-ZZZZ", "system", now).await.unwrap(),
            Erasure::NotFound
        );
        let s9_reference = e["reference"].as_str().unwrap().to_lowercase().replace('-', "");
        assert_eq!(
            app.store.erase_reference(&s9_reference, "system", now).await.unwrap(),
            Erasure::Already,
            "a reference is found without its dash and in lower case"
        );
    }
}

/// Runs the command line in-process, off the test's runtime (the command
/// makes its own).
async fn cli(args: Vec<String>) -> (u8, String, String) {
    tokio::task::spawn_blocking(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let args = std::iter::once("fixpath".to_owned()).chain(args);
        let code = fixpath::cli::run(args, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixpath_erase_removes_one_resolved_case_now_and_refuses_an_open_one() {
    let path = temp_db("cli");
    let store = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
    let app = app(store).await;
    let raw = Raw::Sqlite(path.clone());
    let (_, case, open) = more_history(&app).await;
    let kai = app.user("kai2", Role::Specialist, 2).await;
    let reference = |id: String| {
        let kai = kai.clone();
        let app = &app;
        async move {
            app.get(&format!("/api/v1/escalations/{id}"), Some(&kai))
                .await
                .assert_ok(200)["reference"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let (s9, s3) = (reference(case).await, reference(open).await);
    let before = figures(&app).await;
    let db = path.to_str().unwrap().to_owned();
    let erase = |r: &str| cli(vec!["erase".into(), r.into(), "--db".into(), db.clone()]);

    let (code, out, err) = erase(&s3).await;
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(
        err,
        format!(
            "error: case {s3} is not resolved yet; nothing was removed. Resolve it (the queue, or \
             the API's resolve), then erase it\n"
        )
    );
    assert!(raw.rows().await.join("\n").contains(S3_NOTE));

    let (code, out, err) = erase(&s9.to_lowercase()).await;
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        format!(
            "erased: the personal data of case {} and its session (1 case in all); its counts \
             stay in the figures\n",
            s9.to_lowercase()
        )
    );
    let rows = raw.rows().await;
    for needle in S9_PERSONAL {
        let left: Vec<&String> = rows.iter().filter(|r| r.contains(needle)).collect();
        assert!(left.is_empty(), "`{needle}` is still stored: {left:#?}");
    }
    // Only S9: S2's case is older, but nobody asked.
    assert!(rows.iter().any(|r| r.contains("AB12CD34")));
    assert_eq!(figures(&app).await, before);

    let (code, out, _) = erase(&s9).await;
    assert_eq!(
        (code, out),
        (0, format!("case {s9} was erased before; nothing to do\n"))
    );
    let (code, _, err) = erase("QQQQ-QQQQ").await;
    assert_eq!(
        (code, err),
        (
            1,
            "error: there is no case with the reference QQQQ-QQQQ\n".to_owned()
        )
    );
    let (code, _, err) = erase(&"X".repeat(200)).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.starts_with("error: `XXXX"), "{err}");
}
