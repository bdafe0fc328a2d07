//! `fixpath export`, `import` and `migrate` (contract section 13) on a
//! history built through the server's API with a fixed clock: sessions of
//! the example library in five languages (sub-flows, typed inputs,
//! answers taken back), cases in every status with notes, messages and
//! events, ratings, staff with passwords, tokens, a web sign-in, a
//! disabled user, wrong passwords, a customer link, a ticket link, the
//! outbox, and the rollups the figures read.
//!
//! The round trips go from one backend to the other and back: the export
//! of the copy is byte for byte the export of the original.

use crate::common;

use common::TestApp;
use common::pg::TestDb;
use fixpath::clock::Clock;
use fixpath::stats::gather::{self, Programs};
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{Role, Schema, Store, TicketLink};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

/// The five languages of the example library.
const LANGUAGES: [&str; 5] = ["en", "nl", "de", "et", "ru"];
const SCRIPTS: [&str; 5] = [
    "router-no-internet",
    "password-reset",
    "phone-email-sync",
    "tv-no-signal",
    "laptop-no-boot",
];

/// A test's own folder for its databases and files, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let mut b = [0u8; 6];
        getrandom::fill(&mut b).unwrap();
        let dir = std::env::temp_dir().join(format!(
            "fixpath-transfer-{test}-{}-{}",
            std::process::id(),
            b.iter().map(|x| format!("{x:02x}")).collect::<String>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str, ext: &str) -> PathBuf {
        self.0.join(format!("{name}.{ext}"))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The command line, run off the test's runtime (it starts its own).
async fn cli(args: Vec<String>) -> (u8, String, String) {
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        let mut err = Vec::new();
        let mut all = vec!["fixpath".to_owned()];
        all.extend(args);
        let code = fixpath::cli::run(all, &mut out, &mut err);
        (
            code,
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        )
    })
    .await
    .unwrap()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| (*s).to_owned()).collect()
}

/// `fixpath export --with-secrets` of `db`, as text.
async fn export(db: &str, extra: &[&str]) -> String {
    let mut a = args(&["export", "--db", db]);
    a.extend(args(extra));
    let (code, out, err) = cli(a).await;
    assert_eq!(code, 0, "{err}");
    out
}

async fn import(db: &str, file: &Path) -> (u8, String, String) {
    cli(args(&["import", "--db", db, file.to_str().unwrap()])).await
}

/// The history on `app` (its clock is set as it goes); sam's API token.
async fn history(app: &TestApp) -> String {
    let sam = app.user("sam", Role::Specialist, 2).await;
    app.user("ann", Role::Agent, 1).await;
    common::staff(app, "alice", Role::Admin, "correct horse battery").await;
    common::staff(app, "olga", Role::Author, "Пароль-для-теста").await;
    app.user("gone", Role::Agent, 1).await;
    assert!(app.store.set_disabled("gone", true).await.unwrap());
    app.store
        .add_expiring_token(
            "alice",
            "f".repeat(64).as_str(),
            T0 + Duration::hours(8),
            T0,
        )
        .await
        .unwrap();
    app.store
        .count_signin_failure("bob", T0, Duration::minutes(15))
        .await
        .unwrap();

    let mut cases = Vec::new();
    for i in 0..15usize {
        let at = T0 + Duration::minutes(i as i64) - Duration::days((i % 3) as i64);
        app.state.clock.set(at);
        let language = LANGUAGES[i % 5];
        let script = SCRIPTS[(i / 5 + i) % 5];
        let (id, token, body) = app
            .start_session(
                None,
                &json!({"script": script, "channel": "customer", "language": language}),
            )
            .await;
        let mut seq = body["step"]["seq"].clone();
        let mut step = body["step"].clone();
        let mut t = at;
        // Walk: an answer (a different one per session), a value for an
        // input, back once in every third session.
        for n in 0..(2 + i % 4) {
            if step.is_null() {
                break;
            }
            t += Duration::seconds(7 + n as i64);
            app.state.clock.set(t);
            let path = if n == 2 && i % 3 == 0 && step["can_go_back"] == true {
                ("back", json!({"seq": seq}))
            } else if let Some(answers) = step["answers"].as_array().filter(|a| !a.is_empty()) {
                // The script's own answers, not `_none` or `_escalate`.
                let own: Vec<&Json> = answers
                    .iter()
                    .filter(|a| !a["id"].as_str().unwrap_or("_").starts_with('_'))
                    .collect();
                let a = own
                    .get((i + n) % own.len().max(1))
                    .copied()
                    .unwrap_or(&answers[0]);
                ("answer", json!({"seq": seq, "answer": a["id"]}))
            } else if let Some(kind) = step["input"]["type"].as_str() {
                let value = match kind {
                    "number" => json!(3),
                    "email" => json!("kunde@example.com"),
                    "phone" => json!("+372 5555 1234"),
                    _ => json!("Über ёлку, ½"),
                };
                ("answer", json!({"seq": seq, "value": value}))
            } else {
                break;
            };
            let r = app
                .post(
                    &format!("/api/v1/sessions/{id}/{}", path.0),
                    Some(&token),
                    &path.1,
                )
                .await;
            if r.status.as_u16() != 200 {
                break;
            }
            step = r.body["step"].clone();
            seq = step["seq"].clone();
        }
        // Every other session still going asks for a person; the rest
        // are left (abandoned by the sweep below, or still active).
        let s = app
            .get(&format!("/api/v1/sessions/{id}"), Some(&token))
            .await;
        let status = s.body["status"].as_str().unwrap_or("").to_owned();
        if status == "active" && i % 2 == 0 {
            t += Duration::seconds(30);
            app.state.clock.set(t);
            let r = app
                .post(
                    &format!("/api/v1/sessions/{id}/escalate"),
                    Some(&token),
                    &json!({"seq": seq, "note": format!("Anruf {i}: «kein Netz»"), "email": "kunde@example.com"}),
                )
                .await;
            let body = r.assert_ok(200);
            cases.push((
                body["escalation"]["id"].as_str().unwrap().to_owned(),
                id.clone(),
                token.clone(),
                t,
            ));
        } else if status == "escalated" {
            cases.push((
                s.body["escalation"]["id"].as_str().unwrap().to_owned(),
                id.clone(),
                token.clone(),
                t,
            ));
        } else if status == "resolved" {
            app.state.clock.set(t + Duration::seconds(5));
            app.post(
                &format!("/api/v1/sessions/{id}/feedback"),
                Some(&token),
                &json!({"score": 1 + i % 5, "comment": "Спасибо, all good"}),
            )
            .await
            .assert_ok(201);
        }
        if i == 1 {
            app.store
                .add_session_link(&id, &"a".repeat(64), at)
                .await
                .unwrap();
        }
    }
    assert!(cases.len() >= 4, "{} cases", cases.len());

    // The cases: one left open, one claimed, one waiting on the customer,
    // one resolved, reopened by the customer and resolved again, rated.
    let staff = |case: &str, at: OffsetDateTime, what: &str, body: Json| {
        let (case, what, sam) = (case.to_owned(), what.to_owned(), sam.clone());
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
    let (claimed, waiting, resolved) = (&cases[1], &cases[2], &cases[3]);
    let later = T0 + Duration::hours(1);
    staff(&claimed.0, later, "claim", json!({})).await;
    staff(
        &claimed.0,
        later + Duration::seconds(1),
        "note",
        json!({"text": "Line test booked"}),
    )
    .await;
    staff(&waiting.0, later, "claim", json!({})).await;
    staff(
        &waiting.0,
        later + Duration::seconds(2),
        "reply",
        json!({"text": "Könnten Sie den Router neu starten?", "wait": true}),
    )
    .await;
    staff(&resolved.0, later, "claim", json!({})).await;
    staff(
        &resolved.0,
        later + Duration::seconds(3),
        "resolve",
        json!({"resolution": "Новый кабель"}),
    )
    .await;
    app.state.clock.set(later + Duration::seconds(60));
    app.post(
        &format!("/api/v1/sessions/{}/message", resolved.1),
        Some(&resolved.2),
        &json!({"text": "Es geht wieder nicht."}),
    )
    .await
    .assert_ok(200);
    staff(
        &resolved.0,
        later + Duration::seconds(120),
        "resolve",
        json!({"resolution": "Ein neuer Router"}),
    )
    .await;
    app.state.clock.set(later + Duration::seconds(200));
    app.post(
        &format!("/api/v1/sessions/{}/feedback", resolved.1),
        Some(&resolved.2),
        &json!({"score": 4, "comment": "=HYPERLINK(\"http://evil.example\")"}),
    )
    .await
    .assert_ok(201);
    let mut link = TicketLink::new(&resolved.0, "rt");
    link.external_id = Some("4711".into());
    link.url = Some("https://rt.example.com/Ticket/Display.html?id=4711".into());
    link.pushed = 3;
    link.seen = 12;
    app.store.save_ticket_link(&link, later).await.unwrap();

    // The sweep and the rollups, as the server runs them.
    let now = T0 + Duration::hours(2);
    gather::abandon_idle(&*app.store, now, Duration::minutes(30))
        .await
        .unwrap();
    let folded = gather::catch_up(&*app.store, &Programs::new())
        .await
        .unwrap();
    assert!(folded > 0);
    sam
}

/// Kinds with their line counts, from an export.
fn kinds(export: &str) -> std::collections::BTreeMap<String, usize> {
    let mut m = std::collections::BTreeMap::new();
    for l in export.lines() {
        let v: Json = serde_json::from_str(l).unwrap();
        *m.entry(v["kind"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    m
}

/// Asserts the history is all there in an export.
fn assert_complete(export: &str) {
    let k = kinds(export);
    for kind in [
        "fixpath-export",
        "script_version",
        "session",
        "trail_entry",
        "session_link",
        "case",
        "ticket_link",
        "feedback",
        "user",
        "token",
        "signin_failure",
        "outbox",
        "stats_outcome",
        "stats_node",
        "stats_answer",
        "stats_dwell",
    ] {
        assert!(k.get(kind).copied().unwrap_or(0) > 0, "no {kind}: {k:?}");
    }
    assert_eq!(k["session"], 15);
    for status in ["open", "claimed", "waiting", "resolved"] {
        assert!(
            export.lines().any(|l| l.starts_with("{\"kind\":\"case\"")
                && l.contains(&format!("\"status\":\"{status}\""))),
            "no case {status}"
        );
    }
    for lang in LANGUAGES {
        assert!(
            export.contains(&format!("\\\"language\\\":\\\"{lang}\\\"")),
            "no session in {lang}"
        );
    }
    assert!(
        export.contains("\"retracted\":true"),
        "no answer taken back"
    );
    assert!(export.contains("\"password_hash\":\"$argon2"));
    assert!(export.contains("\"disabled\":1"));
}

async fn sqlite_app(scratch: &Scratch, name: &str) -> (TestApp, String) {
    let path = scratch.path(name, "db");
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path.to_str().unwrap()).await.unwrap());
    let app = TestApp::start_on_examples(store, |s| s.clock = Clock::fixed(T0)).await;
    (app, path.to_str().unwrap().to_owned())
}

async fn pg_app(db: &TestDb) -> TestApp {
    let store: Arc<dyn Store> = Arc::new(PgStore::open(&db.url, 4).await.unwrap());
    TestApp::start_on_examples(store, |s| s.clock = Clock::fixed(T0)).await
}

/// Export `from`, import into the empty `to`, export `to`: the same bytes;
/// a second import adds nothing.
async fn round_trip(scratch: &Scratch, from: &str, to: &str) {
    let first = export(from, &["--with-secrets"]).await;
    assert_complete(&first);
    let file = scratch.path("round", "jsonl");
    std::fs::write(&file, &first).unwrap();

    let (code, out, err) = import(to, &file).await;
    assert_eq!(code, 0, "{err}");
    let lines = first.lines().count() as u64 - 1;
    assert!(
        out.starts_with(&format!(
            "imported {}: {lines} rows added, 0 skipped",
            file.display()
        )),
        "{out}"
    );
    let second = export(to, &["--with-secrets"]).await;
    assert!(
        second == first,
        "the exports differ:\n{}",
        first_difference(&first, &second)
    );

    // Again: every row is there already.
    let (code, out, err) = import(to, &file).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with(&format!(
            "imported {}: 0 rows added, {lines} skipped",
            file.display()
        )),
        "{out}"
    );
    assert!(export(to, &["--with-secrets"]).await == first);
    let _ = std::fs::remove_file(&file);
}

fn first_difference(a: &str, b: &str) -> String {
    for (n, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            return format!("line {}:\n< {x}\n> {y}", n + 1);
        }
    }
    format!("{} lines against {}", a.lines().count(), b.lines().count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_byte_for_byte() {
    let scratch = Scratch::new("sqlite");
    let Some(pg) = TestDb::create("transfer_round_trip").await else {
        return;
    };
    let (app, file) = sqlite_app(&scratch, "round").await;
    let sam = history(&app).await;
    round_trip(&scratch, &file, &pg.url).await;

    // The server goes on on the copy: a specialist's token opens the case
    // and the queue (tokens came with --with-secrets).
    let copy = pg_app(&pg).await;
    let queue = copy.get("/api/v1/escalations", Some(&sam)).await;
    assert!(
        !queue.assert_ok(200)["items"].as_array().unwrap().is_empty(),
        "{}",
        queue.text
    );
    drop(copy);

    // And back into a new SQLite file.
    let back = scratch.path("back", "db");
    let back = back.to_str().unwrap();
    drop(SqliteStore::open(back).await.unwrap());
    round_trip(&scratch, &pg.url, back).await;
    assert!(export(back, &["--with-secrets"]).await == export(&file, &["--with-secrets"]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_to_sqlite_byte_for_byte() {
    let scratch = Scratch::new("postgres");
    let Some(pg) = TestDb::create("transfer_pg_first").await else {
        return;
    };
    let app = pg_app(&pg).await;
    let _ = history(&app).await;
    let to = scratch.path("from-pg", "db");
    let to = to.to_str().unwrap();
    drop(SqliteStore::open(to).await.unwrap());
    round_trip(&scratch, &pg.url, to).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_sqlite_to_postgres_and_back_compares_every_table() {
    let scratch = Scratch::new("migrate");
    let Some(pg) = TestDb::create("transfer_migrate").await else {
        return;
    };
    let (app, file) = sqlite_app(&scratch, "migrate").await;
    history(&app).await;
    let original = export(&file, &["--with-secrets"]).await;

    let (code, out, err) = cli(args(&["migrate", "--from", &file, "--to", &pg.url])).await;
    assert_eq!(code, 0, "{out}{err}");
    // One line per table, each the same on both sides.
    for table in [
        "script_versions",
        "sessions",
        "trail_entries",
        "session_links",
        "escalations",
        "ticket_links",
        "feedback",
        "users",
        "tokens",
        "signin_failures",
        "outbox",
        "stats_outcomes",
        "stats_nodes",
        "stats_answers",
        "stats_dwell",
    ] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{table} ")))
            .unwrap_or_else(|| panic!("no {table} in\n{out}"));
        assert!(line.ends_with("same"), "{line}");
    }
    assert!(!out.contains("DIFFERS"), "{out}");
    assert!(out.contains("every table has the same rows and content hash"));

    let back = scratch.path("migrated-back", "db");
    let back = back.to_str().unwrap();
    let (code, out, err) = cli(args(&["migrate", "--from", &pg.url, "--to", back])).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(export(back, &["--with-secrets"]).await == original);

    // A target with rows is refused, and nothing is written to it.
    let before = export(&pg.url, &["--with-secrets"]).await;
    let (code, out, err) = cli(args(&["migrate", "--from", &file, "--to", &pg.url])).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("is not empty (") && err.contains("sessions"),
        "{err}"
    );
    assert!(out.is_empty(), "{out}");
    assert!(export(&pg.url, &["--with-secrets"]).await == before);
    // So is a copy onto itself.
    let (code, _, err) = cli(args(&["migrate", "--from", &file, "--to", &file])).await;
    assert_eq!(code, 2);
    assert!(err.contains("the same database"), "{err}");
}

/// A new SQLite file with the schema and nothing else.
async fn empty_sqlite(scratch: &Scratch, name: &str) -> String {
    let path = scratch.path(name, "db");
    let s = SqliteStore::open(path.to_str().unwrap()).await.unwrap();
    s.migrate().await.unwrap();
    s.close().await;
    path.to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_line_is_named_and_nothing_is_imported() {
    let scratch = Scratch::new("bad-lines");
    let (app, file) = sqlite_app(&scratch, "bad-lines").await;
    history(&app).await;
    let good = export(&file, &[]).await;
    let target = empty_sqlite(&scratch, "bad-lines-target").await;
    let empty = export(&target, &[]).await;
    assert_eq!(empty.lines().count(), 1, "{empty}");

    let write = |name: &str, text: String| {
        let p = scratch.path(name, "jsonl");
        std::fs::write(&p, text).unwrap();
        p
    };
    // A row of the wrong shape after valid ones, on line 7.
    let mut lines: Vec<&str> = good.lines().take(6).collect();
    lines.push(r#"{"kind":"session","id":1}"#);
    let bad = write("bad", lines.join("\n"));
    let (code, _, err) = import(&target, &bad).await;
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 7: `id` of a session should be a string")
            && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(export(&target, &[]).await, empty);

    // A case whose session is in neither the file nor the database.
    let case = good
        .lines()
        .find(|l| l.starts_with(r#"{"kind":"case""#))
        .unwrap();
    let orphan = write(
        "orphan",
        format!("{}\n{case}\n", good.lines().next().unwrap()),
    );
    let (code, _, err) = import(&target, &orphan).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("line 2 (case): "), "{err}");
    assert!(err.to_lowercase().contains("foreign key"), "{err}");
    assert!(err.contains("hint: a row refers to one"), "{err}");

    // Not an export at all; a file that is not there.
    let (code, _, err) = import(&target, &write("text", "hello\n".into())).await;
    assert_eq!(code, 1);
    assert!(err.contains("line 1: not a fixpath export"), "{err}");
    let (code, _, err) = import(&target, Path::new("/nonexistent/export.jsonl")).await;
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
    assert_eq!(export(&target, &[]).await, empty);

    // The good file goes in (without secrets: users without passwords or
    // tokens, who cannot sign in until given them).
    let ok = write("good", good.clone());
    let (code, out, err) = import(&target, &ok).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("  user "), "{out}");
    assert!(export(&target, &[]).await == good);
    let with = export(&target, &["--with-secrets"]).await;
    assert!(!with.contains("password_hash\":\"") && !with.contains("\"kind\":\"token\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_csv_and_secrets() {
    let scratch = Scratch::new("dates");
    let (app, file) = sqlite_app(&scratch, "dates").await;
    history(&app).await;

    // The history's day: sessions 0, 3, 6, 9, 12 started on it.
    let day = export(&file, &["--since", "2026-03-02", "--until", "2026-03-02"]).await;
    let k = kinds(&day);
    assert_eq!(k["session"], 5, "{k:?}");
    assert!(day.starts_with(r#"{"kind":"fixpath-export","format":1,"rollups":false}"#));
    for left_out in ["outbox", "stats_outcome", "token", "signin_failure"] {
        assert!(!k.contains_key(left_out), "{left_out}: {k:?}");
    }
    let sessions: Vec<String> = day
        .lines()
        .filter(|l| l.starts_with(r#"{"kind":"session""#))
        .map(|l| {
            serde_json::from_str::<Json>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    for l in day
        .lines()
        .filter(|l| l.starts_with(r#"{"kind":"trail_entry""#) || l.starts_with(r#"{"kind":"case""#))
    {
        let v: Json = serde_json::from_str(l).unwrap();
        assert!(sessions.iter().any(|s| v["session_id"] == **s), "{l}");
    }
    // Imported without the rollups, the sessions are counted again by the
    // new database's rollup job.
    let target = empty_sqlite(&scratch, "dates-target").await;
    let p = scratch.path("day", "jsonl");
    std::fs::write(&p, &day).unwrap();
    assert_eq!(import(&target, &p).await.0, 0);
    let again = export(&target, &[]).await;
    assert!(again.contains("\"rolled\":0") && !again.contains("\"rolled\":1"));
    assert!(day.contains("\"rolled\":1"));

    // CSV: one kind, a header and a row per session.
    let csv_text = export(&file, &["--what", "sessions", "--format", "csv"]).await;
    let mut r = csv::Reader::from_reader(csv_text.as_bytes());
    let headers: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&headers[..3], ["id", "token_hash", "owner"]);
    assert_eq!(r.records().count(), 15);
    let users = export(&file, &["--what", "users", "--format", "csv"]).await;
    assert!(users.starts_with("name,role,tier,disabled\n"), "{users}");
    let users = export(
        &file,
        &["--what", "users", "--format", "csv", "--with-secrets"],
    )
    .await;
    assert!(
        users.starts_with("name,role,tier,password_hash,disabled\n"),
        "{users}"
    );

    // Refusals.
    for (a, says) in [
        (vec!["--format", "csv"], "--format csv writes one kind"),
        (vec!["--since", "02/03/2026"], "is not a date"),
        (
            vec!["--since", "2026-03-03", "--until", "2026-03-02"],
            "is after --until",
        ),
    ] {
        let mut all = args(&["export", "--db", &file]);
        all.extend(args(&a));
        let (code, out, err) = cli(all).await;
        assert_eq!(code, 2, "{a:?}");
        assert!(err.contains(says) && out.is_empty(), "{err}");
    }

    // --out: the file, and a summary.
    let out_file = scratch.path("out", "jsonl");
    let (code, out, err) = cli(args(&[
        "export",
        "--db",
        &file,
        "--out",
        out_file.to_str().unwrap(),
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("exported to ") && out.contains("15 session"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(&out_file).unwrap(),
        export(&file, &[]).await
    );
}

/// The export's kinds are the schema's tables, field for column: a
/// migration that adds a table or a column must add it to
/// `transfer::KINDS` too, or export, import and migrate would leave it out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_table_and_column_of_the_schema_is_a_kind_and_field() {
    use std::collections::BTreeMap;
    let kinds: BTreeMap<String, Vec<String>> = fixpath::transfer::KINDS
        .iter()
        .map(|k| {
            let mut cols: Vec<String> = k.fields.iter().map(|f| f.column.to_owned()).collect();
            cols.sort();
            (k.table.to_owned(), cols)
        })
        .collect();

    let scratch = Scratch::new("schema");
    let file = empty_sqlite(&scratch, "schema").await;
    let mut conn =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{file}"))
            .await
            .unwrap();
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut sqlite = BTreeMap::new();
    for (t,) in tables {
        let mut cols: Vec<(String,)> =
            sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .fetch_all(&mut conn)
                .await
                .unwrap();
        cols.sort();
        sqlite.insert(t, cols.into_iter().map(|(c,)| c).collect::<Vec<_>>());
    }
    assert_eq!(sqlite, kinds, "SQLite's schema against transfer::KINDS");

    let Some(pg) = TestDb::create("transfer_schema").await else {
        return;
    };
    let store = PgStore::open(&pg.url, 2).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&pg.url)
        .await
        .unwrap();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '\\_sqlx%' \
         AND column_name <> 'arrival' ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut postgres: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (t, c) in rows {
        postgres.entry(t).or_default().push(c);
    }
    assert_eq!(
        postgres, kinds,
        "PostgreSQL's schema against transfer::KINDS"
    );
}
