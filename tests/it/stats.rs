//! The figures of contract section 11 on both surfaces: `GET /api/v1/stats`
//! (who may read it, what it refuses, how it turns a crowd away) and
//! `fixpath stats` (its refusals, exit 2). The tests marked `ignore` read
//! real figures: they wait for the store's side of the analytics
//! (`stats_data`, `unrolled`, `add_rollup`, `abandon_idle`), which answers
//! "not built yet" until it lands.

use crate::common::pg::TestDb;
use crate::common::{SCRIPTS, TestApp};
use fixpath::http::HttpConfig;
use fixpath::http::limits::{Guards, ReportGate};
use fixpath::store::postgres::PgStore;
use fixpath::store::{Role, Store};
use serde_json::{Value as Json, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

/// Runs the binary with `args`; `(exit code, stdout, stderr)`. The
/// variables the command reads are cleared, so only the flags count.
fn stats_cli(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .arg("stats")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .env_remove("FIXPATH_DB")
        .env_remove("FIXPATH_SCRIPTS")
        .env_remove("FIXPATH_CONFIG")
        .env_remove("FIXPATH_SESSION_IDLE")
        .stdin(Stdio::null())
        .output()
        .expect("the fixpath binary runs");
    (
        out.status.code().expect("an exit code, not a signal"),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

/// `--db` and `--scripts` of a test app's own database and scripts.
fn app_args(app: &TestApp) -> [String; 4] {
    [
        "--db".into(),
        app.dir().join("fixpath.db").display().to_string(),
        "--scripts".into(),
        app.dir().join("scripts").display().to_string(),
    ]
}

// ---------------------------------------------------------------------------
// The API.

#[tokio::test]
async fn the_figures_are_for_authors_and_admins() {
    let app = TestApp::start().await;
    app.get("/api/v1/stats", None)
        .await
        .assert_error(401, "unauthorized");
    app.get("/api/v1/stats", Some("fps_not-a-real-token"))
        .await
        .assert_error(401, "unauthorized");
    let (_, customer, _) = app
        .start_session(None, &json!({"script": "wifi", "channel": "customer"}))
        .await;
    app.get("/api/v1/stats", Some(&customer))
        .await
        .assert_error(403, "forbidden");
    for (name, role, tier) in [("ann", Role::Agent, 1), ("sam", Role::Specialist, 2)] {
        let token = app.user(name, role, tier).await;
        let m = app
            .get("/api/v1/stats?since=not-a-date", Some(&token))
            .await
            .assert_error(403, "forbidden")
            .to_owned();
        // Refused for the role, before the filters are read.
        assert!(m.contains("authors and admins"), "{m}");
    }
    // Authors and admins get past the role: their bad filter is what is
    // refused.
    for (name, role) in [("ada", Role::Author), ("root", Role::Admin)] {
        let token = app.user(name, role, 1).await;
        app.get("/api/v1/stats?since=not-a-date", Some(&token))
            .await
            .assert_error(422, "invalid_filter");
    }
}

#[tokio::test]
async fn bad_filters_are_422_and_say_what_to_write() {
    let app = TestApp::start().await;
    let token = app.user("ada", Role::Author, 1).await;
    for (query, says) in [
        ("since=31/01/2026", "YYYY-MM-DD"),
        ("until=2026-02-30", "`until` is `2026-02-30`"),
        ("since=2026-03-02&until=2026-03-01", "is after `until`"),
        ("channel=api", "customer or agent"),
        ("version=zz", "hex digits"),
        ("each_version=maybe", "true or false"),
        ("version=ab&each_version=true", "do not go together"),
    ] {
        let r = app
            .get(&format!("/api/v1/stats?{query}"), Some(&token))
            .await;
        let m = r.assert_error(422, "invalid_filter");
        assert!(m.contains(says), "{query}: {m}");
    }
    // A parameter the call does not know is a query it cannot read.
    app.get("/api/v1/stats?scirpt=wifi", Some(&token))
        .await
        .assert_error(400, "invalid_query");
}

#[tokio::test]
async fn a_crowd_of_reports_is_turned_away_with_retry_after() {
    let app = TestApp::start_with_setup(HttpConfig::default(), SCRIPTS, |state| {
        // One report at a time and none waiting, so the test need not
        // start a crowd to fill the defaults.
        state.guards = Arc::new(Guards {
            reports: ReportGate::new(1, 0),
            ..Guards::default()
        });
    })
    .await;
    let token = app.user("ada", Role::Author, 1).await;
    let _running = app.state.guards.reports.acquire().await.unwrap();
    let res = app
        .client
        .get(app.url("/api/v1/stats"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 429);
    assert_eq!(res.headers()["retry-after"], "5");
    let body: Json = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
}

// ---------------------------------------------------------------------------
// The command line.

#[test]
fn cli_refusals_exit_2() {
    let dir = std::env::temp_dir().join(format!("fixpath-stats-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (args, says) in [
        (
            &["--since", "31/01/2026"][..],
            "error: `since` is `31/01/2026`, not a date; write it as YYYY-MM-DD",
        ),
        (
            &["--since", "2026-03-02", "--until", "2026-03-01"],
            "error: `since` (2026-03-02) is after `until` (2026-03-01)",
        ),
        (
            &["--channel", "api"],
            "invalid value 'api' for '--channel <CHANNEL>'",
        ),
        (&["--version", "zz"], "error: `version` is `zz`"),
        (
            &["--version", "ab", "--each-version"],
            "cannot be used with '--each-version'",
        ),
        (&["--format", "xml"], "invalid value 'xml' for '--format"),
        (&["--idle", "0"], "0 minutes is not a usable idle time"),
    ] {
        let (code, out, err) = stats_cli(&dir, args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(out.is_empty(), "{args:?}: {out}");
    }
    // No database where it is looked for: said so, and none is created.
    let (code, _, err) = stats_cli(&dir, &["--db", "missing.db"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("there is no database at `missing.db`"),
        "{err}"
    );
    assert!(!dir.join("missing.db").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// Figures: waiting for the store.

#[tokio::test]
async fn an_empty_store_has_no_scripts_on_both_surfaces() {
    let app = TestApp::start().await;
    let empty = json!({"since": null, "until": null, "scripts": []});
    for (name, role) in [("ada", Role::Author), ("root", Role::Admin)] {
        let token = app.user(name, role, 1).await;
        let body = app.get("/api/v1/stats", Some(&token)).await;
        assert_eq!(body.assert_ok(200), &empty);
    }
    let token = app.user("eve", Role::Author, 1).await;
    let r = app
        .get(
            "/api/v1/stats?since=2026-01-01&until=2026-01-31&each_version=true",
            Some(&token),
        )
        .await;
    assert_eq!(
        r.assert_ok(200),
        &json!({"since": "2026-01-01", "until": "2026-01-31", "scripts": []})
    );

    let args = app_args(&app);
    let mut json_args: Vec<&str> = args.iter().map(String::as_str).collect();
    json_args.extend(["--format", "json"]);
    let (code, out, err) = stats_cli(app.dir(), &json_args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Json>(&out).unwrap(), empty);

    let mut table_args: Vec<&str> = args.iter().map(String::as_str).collect();
    table_args.extend(["--until", "2026-02-01"]);
    let (code, out, _) = stats_cli(app.dir(), &table_args);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "sessions started: until 2026-02-01\nno sessions in this period\n"
    );

    let mut csv_args: Vec<&str> = args.iter().map(String::as_str).collect();
    csv_args.extend(["--format", "csv", "--nodes"]);
    let (code, out, _) = stats_cli(app.dir(), &csv_args);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "script,version,node,entered,abandoned,escalated,median_dwell_s,answers\n"
    );
}

/// A resolved, an escalated and an active session, then the same figures
/// from the API and from `fixpath stats --db DB`.
async fn both_surfaces_agree(app: &TestApp, db: &str) {
    // Resolved: the router was not plugged in.
    let start = json!({"script": "wifi", "channel": "customer"});
    let (id, token, _) = app.start_session(None, &start).await;
    app.post(
        &format!("/api/v1/sessions/{id}/answer"),
        Some(&token),
        &json!({"seq": 1, "answer": "No"}),
    )
    .await
    .assert_ok(200);
    // Escalated at once.
    app.start_session(None, &json!({"script": "instant", "channel": "customer"}))
        .await;
    // Still going.
    app.start_session(None, &start).await;

    let author = app.user("ada", Role::Author, 1).await;
    let api = app
        .get("/api/v1/stats?each_version=true", Some(&author))
        .await
        .assert_ok(200)
        .clone();
    let scripts_dir = app.dir().join("scripts").display().to_string();
    let (code, out, err) = stats_cli(
        app.dir(),
        &[
            "--db",
            db,
            "--scripts",
            &scripts_dir,
            "--format",
            "json",
            "--each-version",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let cli: Json = serde_json::from_str(&out).unwrap();
    assert_eq!(api, cli);

    let scripts = api["scripts"].as_array().unwrap();
    let ids: Vec<&str> = scripts.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["instant", "wifi"]);
    let wifi = &scripts[1];
    assert_eq!(wifi["title"], "Wi-Fi keeps dropping");
    assert!(wifi["version"].is_string());
    assert_eq!(
        wifi["sessions"],
        json!({"started": 2, "resolved": 1, "escalated": 0, "abandoned": 0, "active": 1})
    );
    assert_eq!(wifi["rates"]["deflection"], 1.0);
    assert_eq!(wifi["rates"]["fcr"], 1.0);
    let instant = &scripts[0];
    assert_eq!(instant["sessions"]["escalated"], 1);
    assert_eq!(instant["rates"]["escalation"], 1.0);
    assert_eq!(instant["rates"]["fcr"], 0.0);
    assert_eq!(instant["cases"]["count"], 1);
}

#[tokio::test]
async fn the_api_and_the_command_line_agree_on_sqlite() {
    let app = TestApp::start().await;
    let db = app.dir().join("fixpath.db").display().to_string();
    both_surfaces_agree(&app, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_and_the_command_line_agree_on_postgres() {
    let Some(db) = TestDb::create("the_api_and_the_command_line_agree_on_postgres").await else {
        return;
    };
    let store = Arc::new(PgStore::open(&db.url, 8).await.unwrap()) as Arc<dyn Store>;
    let app = TestApp::start_on(store, |_| {}).await;
    both_surfaces_agree(&app, &db.url).await;
    drop(app);
    drop(db);
}
