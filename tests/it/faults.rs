//! Faults under load (issue 18), while four writers start sessions and
//! answer them as fast as the server takes them:
//!
//! - the server is killed with SIGKILL; after a restart on the same
//!   database every write it acknowledged (a 201 for a start, a 200 for an
//!   answer) is found, on SQLite and on PostgreSQL;
//! - PostgreSQL crashes and comes back (a server of the test's own, see
//!   `common::pgcluster`); the same fixpath process answers 503
//!   `unavailable` meanwhile, takes writes again once it is back, and every
//!   acknowledged write is found.
//!
//! Each run prints its acknowledged / found / lost counts, and appends them
//! to the file `FIXPATH_FAULTS_OUT` names (CI prints it at the end).

use crate::common::pg::TestDb;
use crate::common::pgcluster::Cluster;
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

/// The fault tests' configuration: no rate limit on the load's starts.
pub(crate) fn config(dir: &TempDir) {
    std::fs::write(
        dir.path().join("fixpath.toml"),
        "[limits]\nsessions_per_minute = 100000\n",
    )
    .unwrap();
}

/// `fixpath serve` on `db`, with [`config`]'s file.
pub(crate) fn serve(dir: &TempDir, db: &str) -> Server {
    let mut cmd = fixpath(dir.path());
    cmd.arg("serve")
        .args(["--listen", "127.0.0.1:0", "--scripts"])
        .arg(dir.scripts())
        .args(["--db", db, "--config", "fixpath.toml"]);
    Server::spawn(cmd)
}

/// One fault's counts as a line of the results file `FIXPATH_FAULTS_OUT`
/// names (if it is set), and on stderr.
pub(crate) fn record_fault(line: &str) {
    eprintln!("faults: {line}");
    if let Some(path) = std::env::var_os("FIXPATH_FAULTS_OUT") {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap_or_else(|e| panic!("FIXPATH_FAULTS_OUT {}: {e}", path.display()));
        writeln!(f, "{line}").unwrap();
    }
}

/// A request that was not acknowledged: its status and error code (or "no
/// answer"), and how long the answer took.
type Refusal = (String, Duration);

/// What a writer does when a request is not acknowledged: stop (the server
/// is gone), or note the answer it got and start over with a new session
/// (the server is up but its database is not).
#[derive(Clone)]
enum OnFailure {
    Stop,
    Note(Arc<Mutex<Vec<Refusal>>>),
}

impl OnFailure {
    /// Whether to go on after `got` (`None`: no answer at all), sent at
    /// `sent`.
    fn go_on(&self, got: &Option<(u16, Json)>, sent: Instant) -> bool {
        match self {
            OnFailure::Stop => false,
            OnFailure::Note(seen) => {
                let what = match got {
                    Some((status, body)) => format!("{status} {}", body["error"]["code"]),
                    None => "no answer".to_owned(),
                };
                seen.lock().unwrap().push((what, sent.elapsed()));
                std::thread::sleep(Duration::from_millis(50));
                true
            }
        }
    }
}

/// One writer: sessions started and answered (the first answer offered,
/// or a typed value the script's pattern takes) until told to stop, or
/// until a request fails and `on_failure` says to stop.
fn writer(
    base: String,
    acked: Acknowledged,
    answers: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
    on_failure: OnFailure,
) {
    let http = Http::new();
    'sessions: while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        let s = match http.try_post(
            &format!("{base}/api/v1/sessions"),
            None,
            json!({"script": "router-no-internet", "channel": "customer"}),
        ) {
            Some((201, s)) => s,
            other if on_failure.go_on(&other, sent) => continue,
            _ => return,
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
            let sent = Instant::now();
            let r = match http.try_post(
                &format!("{base}/api/v1/sessions/{id}/answer"),
                Some(&token),
                body,
            ) {
                Some((200, r)) => r,
                other if on_failure.go_on(&other, sent) => continue 'sessions,
                _ => return,
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

/// The writers at work on one server.
struct Load {
    acked: Acknowledged,
    answers: Arc<Mutex<usize>>,
    stop: Arc<AtomicBool>,
    writers: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(server: &Server, on_failure: OnFailure) -> Load {
        let acked: Acknowledged = Arc::default();
        let answers = Arc::new(Mutex::new(0usize));
        let stop = Arc::new(AtomicBool::new(false));
        let writers = (0..WRITERS)
            .map(|_| {
                let (base, acked, answers, stop, on_failure) = (
                    server.base.clone(),
                    acked.clone(),
                    answers.clone(),
                    stop.clone(),
                    on_failure.clone(),
                );
                std::thread::spawn(move || writer(base, acked, answers, stop, on_failure))
            })
            .collect();
        Load {
            acked,
            answers,
            stop,
            writers,
        }
    }

    fn answered(&self) -> usize {
        *self.answers.lock().unwrap()
    }

    /// Waits until `n` answers in all were acknowledged.
    fn wait_for(&self, n: usize, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.answered() < n {
            assert!(
                Instant::now() < deadline,
                "{what}: {} answers",
                self.answered()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the writers: what they were told was saved, and how many
    /// answers.
    fn finish(self) -> (HashMap<String, (String, u64)>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.writers {
            w.join().unwrap();
        }
        let acked = self.acked.lock().unwrap().clone();
        let answered = *self.answers.lock().unwrap();
        (acked, answered)
    }
}

/// Every acknowledged write looked for through `server`: the sessions not
/// found whole, each with what was expected and what was found.
fn lost(server: &Server, acked: &HashMap<String, (String, u64)>) -> Vec<String> {
    let http = Http::new();
    let mut lost = Vec::new();
    for (id, (token, seq)) in acked {
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
    lost
}

/// Load, SIGKILL, restart, then every acknowledged write looked for.
fn kill_under_load(dir: &TempDir, db: &str, name: &str) {
    config(dir);
    let server = serve(dir, db);
    let load = Load::start(&server, OnFailure::Stop);
    load.wait_for(BEFORE_KILL, "the load did not get going");
    // SIGKILL in the middle of the writes: no shutdown, no flush.
    drop(server);
    let (acked, answered) = load.finish();

    let server = serve(dir, db);
    let lost = lost(&server, &acked);
    record_fault(&format!(
        "kill -9 under load on {name}: {} sessions and {answered} answers acknowledged, \
         {} sessions found whole, {} lost",
        acked.len(),
        acked.len() - lost.len(),
        lost.len()
    ));
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
    let _alone = crate::common::one_fault_at_a_time();
    let dir = TempDir::with_scripts("faults-kill-sqlite");
    kill_under_load(&dir, &dir.db(), "SQLite");
}

#[test]
fn a_kill_under_load_loses_nothing_acknowledged_on_postgres() {
    let _alone = crate::common::one_fault_at_a_time();
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

/// PostgreSQL crashes under load and is started again after a while; the
/// fixpath server is not restarted. Meanwhile every request is refused with
/// 503 `unavailable`, at once or after the store's wait for a connection
/// (5 s; a read and a write may each wait), never with a 500, a dropped
/// connection or a request left hanging; once PostgreSQL is back the same
/// process takes writes again, and every write it acknowledged, before or
/// after, is found.
#[test]
fn postgres_crashing_under_load_loses_nothing_and_the_server_recovers_by_itself() {
    let _alone = crate::common::one_fault_at_a_time();
    let Some(pg) = Cluster::start("restart") else {
        return;
    };
    let dir = TempDir::with_scripts("faults-pg-restart");
    config(&dir);
    let server = serve(&dir, &pg.url());
    let refusals = Arc::new(Mutex::new(Vec::<Refusal>::new()));
    let load = Load::start(&server, OnFailure::Note(refusals.clone()));
    load.wait_for(BEFORE_KILL, "the load did not get going");

    pg.crash();
    let down = Instant::now();
    // Until every writer has met the outage at least once.
    while refusals.lock().unwrap().len() < WRITERS {
        assert!(
            down.elapsed() < Duration::from_secs(60),
            "no refusals while PostgreSQL was down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // Down for longer than the store waits for a connection (5 s), as a
    // slow restart or a failover would be.
    std::thread::sleep(Duration::from_secs(8));
    let answered_down = load.answered();
    pg.up();
    let outage = down.elapsed();
    let back = Instant::now();

    // The same process, not restarted, takes writes again.
    load.wait_for(
        answered_down + 1,
        "the server did not take writes again after PostgreSQL came back",
    );
    let recovered = back.elapsed();
    load.wait_for(
        answered_down + BEFORE_KILL,
        "the load did not pick up again",
    );
    let (acked, answered) = load.finish();
    let refusals = refusals.lock().unwrap().clone();
    let slowest = refusals.iter().map(|(_, t)| *t).max().unwrap_or_default();
    let mut waits: Vec<f64> = refusals.iter().map(|(_, t)| t.as_secs_f64()).collect();
    waits.sort_by(f64::total_cmp);
    eprintln!("refusal waits (s): {waits:.2?}");
    let lost = lost(&server, &acked);
    record_fault(&format!(
        "PostgreSQL crashed under load for {:.1} s, fixpath not restarted: {} sessions and \
         {answered} answers acknowledged, {} sessions found whole, {} lost; {} requests refused \
         meanwhile ({}), the slowest refusal in {:.1} s; writes taken again {:.1} s after \
         PostgreSQL was back",
        outage.as_secs_f64(),
        acked.len(),
        acked.len() - lost.len(),
        lost.len(),
        refusals.len(),
        tally(&refusals),
        slowest.as_secs_f64(),
        recovered.as_secs_f64(),
    ));
    assert!(
        lost.is_empty(),
        "acknowledged and lost:\n{}",
        lost.join("\n")
    );
    assert!(
        refusals.iter().all(|(r, _)| r == "503 \"unavailable\""),
        "refused other than with 503 unavailable: {}\nPostgreSQL's log:\n{}",
        tally(&refusals),
        pg.log()
    );
    // Two of the store's waits for a connection (5 s each) bound a
    // refusal; the margin is for a loaded machine.
    assert!(
        slowest < Duration::from_secs(15),
        "a request waited {slowest:?} for a database that was down"
    );
    let (_, log) = server.stop();
    assert!(
        log.contains("the database is unavailable"),
        "the outage is not in the log:\n{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

/// `["503 x", "503 x", "500 y"]` as `2 × 503 x, 1 × 500 y`.
fn tally(seen: &[Refusal]) -> String {
    let mut counts: Vec<(String, usize)> = Vec::new();
    for (s, _) in seen {
        match counts.iter_mut().find(|(k, _)| k == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((s.clone(), 1)),
        }
    }
    counts
        .iter()
        .map(|(k, n)| format!("{n} × {k}"))
        .collect::<Vec<_>>()
        .join(", ")
}
