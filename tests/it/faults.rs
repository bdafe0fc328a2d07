//! Faults under load (issue 18): the server is killed with SIGKILL while
//! four writers start sessions and answer them as fast as it takes them;
//! after a restart on the same database every write it acknowledged (a
//! 201 for a start, a 200 for an answer) is found, on SQLite and on
//! PostgreSQL. Each run prints its acknowledged / found / lost counts.

use crate::common::pg::TestDb;
use crate::serve::{Http, Server, TempDir, fixpath};
use serde_json::{Value as Json, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writers at once.
const WRITERS: usize = 4;
/// Acknowledged answers before the kill.
const BEFORE_KILL: usize = 300;

/// What the writers were told was saved: per session its token and the
/// `seq` of the last step acknowledged.
type Acknowledged = Arc<Mutex<HashMap<String, (String, u64)>>>;

fn config(dir: &TempDir) {
    std::fs::write(
        dir.path().join("fixpath.toml"),
        "[limits]\nsessions_per_minute = 100000\n",
    )
    .unwrap();
}

fn serve(dir: &TempDir, db: &str) -> Server {
    let mut cmd = fixpath(dir.path());
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0", "--scripts"])
        .arg(dir.scripts())
        .args(["--db", db, "--config", "fixpath.toml"]);
    Server::spawn(cmd)
}

/// One writer: sessions started and answered (the first answer offered,
/// or a typed value the script's pattern takes) until a request fails.
fn writer(base: String, acked: Acknowledged, answers: Arc<Mutex<usize>>, stop: Arc<AtomicBool>) {
    let http = Http::new();
    while !stop.load(Ordering::Relaxed) {
        let Some((201, s)) = http.try_post(
            &format!("{base}/api/v1/sessions"),
            None,
            json!({"script": "router-no-internet", "channel": "customer"}),
        ) else {
            return;
        };
        let id = s["id"].as_str().unwrap().to_owned();
        let token = s["token"].as_str().unwrap().to_owned();
        let mut step = s["step"].clone();
        acked
            .lock()
            .unwrap()
            .insert(id.clone(), (token.clone(), step["seq"].as_u64().unwrap()));
        while let Some(seq) = step.get("seq").and_then(Json::as_u64) {
            let body = match step["answers"].as_array().and_then(|a| a.first()) {
                Some(a) => json!({"seq": seq, "answer": a["id"]}),
                None => json!({"seq": seq, "answer": "_escalate"}),
            };
            let Some((200, r)) = http.try_post(
                &format!("{base}/api/v1/sessions/{id}/answer"),
                Some(&token),
                body,
            ) else {
                return;
            };
            *answers.lock().unwrap() += 1;
            let after = r["step"]["seq"].as_u64().unwrap_or(seq + 1);
            acked
                .lock()
                .unwrap()
                .insert(id.clone(), (token.clone(), after));
            if r["status"] != "active" {
                break;
            }
            step = r["step"].clone();
        }
    }
}

/// Load, SIGKILL, restart, then every acknowledged write looked for.
fn kill_under_load(dir: &TempDir, db: &str, name: &str) {
    config(dir);
    let server = serve(dir, db);
    let acked: Acknowledged = Arc::default();
    let answers = Arc::new(Mutex::new(0usize));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (base, acked, answers, stop) = (
                server.base.clone(),
                acked.clone(),
                answers.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || writer(base, acked, answers, stop))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while *answers.lock().unwrap() < BEFORE_KILL {
        assert!(Instant::now() < deadline, "the load did not get going");
        std::thread::sleep(Duration::from_millis(10));
    }
    // SIGKILL in the middle of the writes: no shutdown, no flush.
    drop(server);
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    let answered = *answers.lock().unwrap();

    let server = serve(dir, db);
    let http = Http::new();
    let mut lost = Vec::new();
    for (id, (token, seq)) in &acked {
        let (status, s) = http.get(&server.url(&format!("/api/v1/sessions/{id}")), Some(token));
        // An ended session is past every step it had; an active one is
        // at the step after the last acknowledged answer, or later.
        let ended = s["status"].as_str().is_some_and(|st| st != "active");
        let stored = s["step"]["seq"].as_u64().unwrap_or(0);
        if status != 200 || !(ended || stored >= *seq) {
            lost.push(format!(
                "{id}: acknowledged seq {seq}, found {status} {} seq {stored}",
                s["status"]
            ));
        }
    }
    eprintln!(
        "faults: kill -9 under load on {name}: {} sessions and {answered} answers acknowledged, \
         {} sessions found whole, {} lost",
        acked.len(),
        acked.len() - lost.len(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "acknowledged and lost:\n{}",
        lost.join("\n")
    );
    let (_, log) = server.stop();
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn a_kill_under_load_loses_nothing_acknowledged_on_sqlite() {
    let dir = TempDir::with_scripts("faults-kill-sqlite");
    kill_under_load(&dir, &dir.db(), "SQLite");
}

#[test]
fn a_kill_under_load_loses_nothing_acknowledged_on_postgres() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(db) = rt.block_on(TestDb::create("faults_kill")) else {
        return;
    };
    let dir = TempDir::with_scripts("faults-kill-pg");
    kill_under_load(&dir, &db.url, "PostgreSQL");
    rt.block_on(async move { drop(db) });
}
