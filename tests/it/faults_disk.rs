//! Faults under load (issue 18): the disk under the database fills up.
//! Four writers start, answer and escalate sessions until it is full.
//! Every request must then be answered at once with a clean refusal (503
//! `unavailable` in JSON with `Retry-After`: the server's trouble, not the
//! client's, and it passes), never a hang, a panic or a body that is not
//! JSON. Nothing acknowledged may be lost. When the disk is made bigger,
//! the same server process must take writes again without a restart; after
//! a restart everything acknowledged is still there.
//!
//! - **SQLite:** the database and its WAL live in a tmpfs given a few MiB
//!   more than the migrated database takes; at the end `PRAGMA
//!   integrity_check` must say ok.
//! - **PostgreSQL** (a server of the test's own, `common::pgcluster`): the
//!   database is created in a tablespace on such a tmpfs, so its tables and
//!   indexes run out of room (SQLSTATE 53100) while PostgreSQL itself keeps
//!   running. Its WAL stays on the server's own disk: a full WAL disk stops
//!   PostgreSQL altogether, which is the crash `faults.rs` makes.
//!
//! Mounting needs root (CAP_SYS_ADMIN). Without it the test says so and
//! passes, unless `FIXPATH_REQUIRE_TMPFS=1` (as in CI) makes that a failure.

use crate::common::pgcluster::{self, Cluster};
use crate::common::{one_fault_at_a_time, sqlite_rows};
use crate::faults::{config, record_fault, serve};
use crate::serve::{Server, TempDir};
use serde_json::{Value as Json, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Writers at once.
const WRITERS: usize = 4;
/// Room left on the tmpfs once the database is migrated.
const HEADROOM_KIB: u64 = 4096;
/// The tmpfs before and after: room for everything.
const ROOMY_KIB: u64 = 64 * 1024;
/// Refusals to see before the disk counts as full.
const REFUSALS: usize = 40;
/// Answers to see acknowledged after the tmpfs grew.
const AFTER_GROWTH: usize = 100;
/// How long filling the disk, or recovering, may take.
const PATIENCE: Duration = Duration::from_secs(30);
/// No request may take this long, full disk or not.
const HUNG: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- tmpfs

/// A tmpfs mounted on a folder; unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts one of `kib` KiB on `dir`, or says why it could not.
    fn mount(dir: &Path, kib: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("`mount` did not run: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "`mount -t tmpfs` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, kib: u64) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={kib}k")])
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "remounting with {kib} KiB: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The bytes its files take (what tmpfs counts against its size).
    fn used(&self) -> u64 {
        fn walk(dir: &Path) -> u64 {
            use std::os::unix::fs::MetadataExt;
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let m = e.metadata().unwrap();
                    m.blocks() * 512 + if m.is_dir() { walk(&e.path()) } else { 0 }
                })
                .sum()
        }
        walk(&self.0)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still held (a server that outlived a failed test): detach it,
            // it goes once the last user does.
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// The tmpfs, or `None` after saying why the test cannot run here.
fn tmpfs(dir: &Path, kib: u64) -> Option<Tmpfs> {
    match Tmpfs::mount(dir, kib) {
        Ok(t) => Some(t),
        Err(why) if std::env::var("FIXPATH_REQUIRE_TMPFS").is_ok_and(|v| v == "1") => {
            panic!("{why}, and FIXPATH_REQUIRE_TMPFS=1: run the tests as root (CAP_SYS_ADMIN)")
        }
        Err(why) => {
            eprintln!(
                "SKIPPED: the disk-full fault needs a tmpfs: {why} (run as root); \
                 FIXPATH_REQUIRE_TMPFS=1 makes this a failure"
            );
            None
        }
    }
}

// ---------------------------------------------------------------- client

/// What came back for one request.
struct Reply {
    status: u16,
    body: String,
    json: Json,
    retry_after: Option<String>,
    took: Duration,
}

/// A blocking client that keeps the raw body (a refusal must be JSON).
struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Client {
    fn new() -> Client {
        Client {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            // Longer than `HUNG`, so a hung request is measured, not cut.
            http: reqwest::Client::builder()
                .timeout(HUNG * 3)
                .build()
                .unwrap(),
        }
    }

    /// `None` body: a GET. `Err`: no answer at all.
    fn call(&self, url: &str, token: Option<&str>, body: Option<Json>) -> Result<Reply, String> {
        let mut req = match &body {
            Some(b) => self.http.post(url).json(b),
            None => self.http.get(url),
        };
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let t = Instant::now();
        self.rt.block_on(async {
            let r = req.send().await.map_err(|e| format!("no answer: {e}"))?;
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = r.text().await.map_err(|e| format!("no body: {e}"))?;
            Ok(Reply {
                status,
                json: serde_json::from_str(&body).unwrap_or(Json::Null),
                body,
                retry_after,
                took: t.elapsed(),
            })
        })
    }
}

// ---------------------------------------------------------------- writers

/// A session as acknowledged: its token, the `seq` it was acknowledged at,
/// and whether its escalation was.
#[derive(Clone)]
struct Acked {
    token: String,
    seq: u64,
    escalated: bool,
}

#[derive(Default)]
struct Tally {
    acked: HashMap<String, Acked>,
    answers: usize,
    /// Answers acknowledged once the disk had grown.
    answers_after: usize,
    /// Refusals by status, code and whether `Retry-After` came with them.
    refusals: BTreeMap<(u16, String, bool), usize>,
    /// Answers that were neither an acknowledgement nor a clean refusal.
    unclean: Vec<String>,
    /// Refused writes that were saved anyway.
    refused_yet_saved: Vec<String>,
    slowest: Duration,
}

impl Tally {
    fn refused(&self) -> usize {
        self.refusals.values().sum()
    }
}

type Shared = Arc<Mutex<Tally>>;

enum Outcome {
    Done(Json),
    /// A clean refusal, or an answer that was not one (in the tally).
    Refused,
    /// 409: the `seq` moved on.
    Conflict,
}

/// One request, tallied: a 2xx is done; a 5xx with a JSON error `code` is a
/// clean refusal; anything else is noted as unclean.
fn send(
    c: &Client,
    tally: &Shared,
    what: &str,
    url: &str,
    token: Option<&str>,
    body: Json,
) -> Outcome {
    let reply = c.call(url, token, Some(body));
    let mut t = tally.lock().unwrap();
    let r = match reply {
        Ok(r) => r,
        Err(e) => {
            t.unclean.push(format!("{what}: {e}"));
            return Outcome::Refused;
        }
    };
    t.slowest = t.slowest.max(r.took);
    if r.took > HUNG {
        t.unclean.push(format!("{what}: took {:?}", r.took));
    }
    match r.status {
        200 | 201 => Outcome::Done(r.json),
        409 => Outcome::Conflict,
        s if s >= 500 => {
            match r.json["error"]["code"].as_str() {
                Some(code) => {
                    *t.refusals
                        .entry((s, code.to_owned(), r.retry_after.is_some()))
                        .or_default() += 1;
                }
                None => t
                    .unclean
                    .push(format!("{what}: {s} without a JSON error: {:?}", r.body)),
            }
            Outcome::Refused
        }
        s => {
            t.unclean.push(format!("{what}: {s} {}", r.body));
            Outcome::Refused
        }
    }
}

/// One writer: sessions started, answered twice and escalated, each
/// refused request tried again (as a client would) until `stop`.
fn writer(base: String, tally: Shared, grown: Arc<AtomicBool>, stop: Arc<AtomicBool>) {
    let c = Client::new();
    let pause = || std::thread::sleep(Duration::from_millis(20));
    while !stop.load(Ordering::Relaxed) {
        let s = match send(
            &c,
            &tally,
            "start",
            &format!("{base}/api/v1/sessions"),
            None,
            json!({"script": "router-no-internet", "channel": "customer"}),
        ) {
            Outcome::Done(s) => s,
            _ => {
                pause();
                continue;
            }
        };
        let id = s["id"].as_str().unwrap().to_owned();
        let token = s["token"].as_str().unwrap().to_owned();
        let mut seq = s["step"]["seq"].as_u64().unwrap();
        tally.lock().unwrap().acked.insert(
            id.clone(),
            Acked {
                token: token.clone(),
                seq,
                escalated: false,
            },
        );
        let moves = [
            ("answer", json!({"answer": "all-devices"})),
            ("answer", json!({"answer": "no"})),
            (
                "escalate",
                json!({"note": "Nothing helped.", "email": "ann@example.com"}),
            ),
        ];
        'session: for (what, mv) in moves {
            let url = format!("{base}/api/v1/sessions/{id}/{what}");
            let mut body = mv.clone();
            body["seq"] = json!(seq);
            let mut refused = false;
            loop {
                match send(&c, &tally, what, &url, Some(&token), body.clone()) {
                    Outcome::Done(r) => {
                        let mut t = tally.lock().unwrap();
                        let a = t.acked.get_mut(&id).unwrap();
                        seq = r["step"]["seq"].as_u64().unwrap_or(seq + 1);
                        a.seq = seq;
                        a.escalated = r["status"] == "escalated";
                        if what == "answer" {
                            t.answers += 1;
                            if grown.load(Ordering::Relaxed) {
                                t.answers_after += 1;
                            }
                        }
                        break;
                    }
                    Outcome::Conflict if refused => {
                        // Told it failed, yet the session moved on.
                        tally
                            .lock()
                            .unwrap()
                            .refused_yet_saved
                            .push(format!("{id}: {what} at seq {seq}"));
                        break 'session;
                    }
                    Outcome::Conflict => {
                        tally
                            .lock()
                            .unwrap()
                            .unclean
                            .push(format!("{id}: {what} at seq {seq}: 409"));
                        break 'session;
                    }
                    Outcome::Refused => {
                        refused = true;
                        if stop.load(Ordering::Relaxed) {
                            break 'session;
                        }
                        pause();
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------- checks

/// The acknowledged sessions that are not there as acknowledged.
fn lost(server: &Server, acked: &HashMap<String, Acked>) -> Vec<String> {
    let c = Client::new();
    let mut lost = Vec::new();
    for (id, a) in acked {
        let r = c
            .call(
                &server.url(&format!("/api/v1/sessions/{id}")),
                Some(&a.token),
                None,
            )
            .unwrap();
        let s = &r.json;
        let ended = s["status"].as_str().is_some_and(|st| st != "active");
        let stored = s["step"]["seq"].as_u64().unwrap_or(0);
        let whole = r.status == 200
            && (ended || stored >= a.seq)
            && (!a.escalated || s["case"]["reference"].is_string());
        if !whole {
            lost.push(format!(
                "{id}: acknowledged seq {} (escalated: {}), found {} {}",
                a.seq, a.escalated, r.status, r.body
            ));
        }
    }
    lost
}

fn integrity(db: &str) -> String {
    let rows: Vec<(String,)> = sqlite_rows(db, "PRAGMA integrity_check");
    rows.into_iter().map(|r| r.0).collect::<Vec<_>>().join("\n")
}

fn wait(what: &str, server: &Server, tally: &Shared, mut done: impl FnMut(&Tally) -> bool) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let state = {
            let t = tally.lock().unwrap();
            if done(&t) {
                return;
            }
            format!(
                "{} answers acknowledged, refusals {:?}, unclean {:?}",
                t.answers,
                t.refusals,
                t.unclean.iter().take(5).collect::<Vec<_>>()
            )
        };
        // Not under the lock: the writers go on to the end.
        assert!(
            Instant::now() < deadline,
            "{what} did not happen in time: {state}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------- targets

/// Where the database lives in one run: a tmpfs, under SQLite's file or
/// PostgreSQL's tablespace.
struct Target {
    /// For the results line: "SQLite" or "PostgreSQL".
    name: &'static str,
    db: String,
    disk: Option<Tmpfs>,
    cluster: Option<Cluster>,
    /// What the server's log says when a write found no room.
    full_says: &'static str,
}

impl Target {
    fn sqlite(dir: &TempDir) -> Option<Target> {
        let disk = tmpfs(&dir.path().join("data"), ROOMY_KIB)?;
        Some(Target {
            name: "SQLite",
            db: disk.0.join("fixpath.db").to_string_lossy().into_owned(),
            disk: Some(disk),
            cluster: None,
            full_says: "database or disk is full",
        })
    }

    /// A server of the test's own, with the database `fixpath` in a
    /// tablespace on the tmpfs.
    fn postgres() -> Option<Target> {
        let cluster = Cluster::start("faults-disk")?;
        let disk = tmpfs(&cluster.dir().join("tablespace"), ROOMY_KIB)?;
        pgcluster::give_to_postgres(&disk.0);
        cluster.sql(&format!(
            "CREATE TABLESPACE small LOCATION '{}'",
            disk.0.display()
        ));
        cluster.sql("CREATE DATABASE fixpath TABLESPACE small");
        Some(Target {
            name: "PostgreSQL",
            db: cluster.url_of("fixpath"),
            disk: Some(disk),
            cluster: Some(cluster),
            full_says: "No space left on device",
        })
    }

    fn disk(&self) -> &Tmpfs {
        self.disk.as_ref().unwrap()
    }

    /// What is wrong with the database's own files, if anything: SQLite's
    /// `integrity_check`; a PostgreSQL that panicked.
    fn damage(&self) -> Option<String> {
        match &self.cluster {
            None => Some(integrity(&self.db)).filter(|i| i != "ok"),
            Some(c) => {
                let log = c.log();
                log.contains("PANIC").then_some(log)
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        // PostgreSQL first: a tmpfs in use cannot be unmounted. Its folder
        // holds the mount point, so it goes once that is unmounted.
        let folder = self.cluster.as_ref().map(|c| c.dir().to_path_buf());
        drop(self.cluster.take());
        drop(self.disk.take());
        if let Some(folder) = folder {
            let _ = std::fs::remove_dir_all(folder);
        }
    }
}

#[test]
fn a_full_disk_refuses_writes_cleanly_loses_nothing_and_recovers_without_a_restart() {
    let _alone = one_fault_at_a_time();
    let dir = TempDir::with_scripts("faults-disk");
    if let Some(target) = Target::sqlite(&dir) {
        full_disk(&dir, &target);
    }
}

#[test]
fn a_full_disk_under_postgres_refuses_writes_cleanly_loses_nothing_and_recovers() {
    let _alone = one_fault_at_a_time();
    let dir = TempDir::with_scripts("faults-disk-pg");
    if let Some(target) = Target::postgres() {
        full_disk(&dir, &target);
    }
}

fn full_disk(dir: &TempDir, target: &Target) {
    let (db, disk) = (target.db.as_str(), target.disk());
    config(dir);
    let server = serve(dir, db);
    // The migrated database, and a little room beside it.
    let migrated = disk.used();
    disk.resize(migrated / 1024 + HEADROOM_KIB);

    let tally: Shared = Arc::default();
    let grown = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|_| {
            let (base, tally, grown, stop) = (
                server.base.clone(),
                tally.clone(),
                grown.clone(),
                stop.clone(),
            );
            std::thread::spawn(move || writer(base, tally, grown, stop))
        })
        .collect();

    wait("the disk filling up", &server, &tally, |t| {
        t.refused() >= REFUSALS
    });
    // Full for a while: every writer keeps being refused, none waits.
    std::thread::sleep(Duration::from_secs(1));
    let (answers_full, refused_full) = {
        let t = tally.lock().unwrap();
        (t.answers, t.refused())
    };
    let full_at = disk.used();

    disk.resize(ROOMY_KIB);
    grown.store(true, Ordering::Relaxed);
    let grew = Instant::now();
    wait("writes after the disk grew", &server, &tally, |t| {
        t.answers_after >= AFTER_GROWTH
    });
    let recovered_in = grew.elapsed();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    let t = tally.lock().unwrap();

    let lost_live = lost(&server, &t.acked);
    let (_, log) = server.stop();
    let server = serve(dir, db);
    let lost_after_restart = lost(&server, &t.acked);
    let (_, log_after) = server.stop();
    let damage = target.damage();

    record_fault(&format!(
        "disk full under {}: {} sessions and {} answers acknowledged ({} answers \
         before the disk grew, {} after), {} requests refused while full ({:?}); {} sessions \
         found whole on the same server and {} after a restart, {} lost; writes again {} ms \
         after the disk grew, without a restart; slowest request {} ms",
        target.name,
        t.acked.len(),
        t.answers,
        answers_full,
        t.answers_after,
        t.refused(),
        t.refusals,
        t.acked.len() - lost_live.len(),
        t.acked.len() - lost_after_restart.len(),
        lost_live.len().max(lost_after_restart.len()),
        recovered_in.as_millis(),
        t.slowest.as_millis(),
    ));
    eprintln!(
        "faults: disk full: migrated database {migrated} bytes, {full_at} bytes used when full, \
         {refused_full} refusals by then"
    );
    assert!(
        t.unclean.is_empty(),
        "requests neither acknowledged nor cleanly refused:\n{}",
        t.unclean.join("\n")
    );
    assert!(
        t.refused_yet_saved.is_empty(),
        "refused, yet saved:\n{}",
        t.refused_yet_saved.join("\n")
    );
    let wrong: Vec<_> = t
        .refusals
        .keys()
        .filter(|(s, code, retry)| !(*s == 503 && code == "unavailable" && *retry))
        .collect();
    assert!(
        wrong.is_empty(),
        "refusals other than 503 `unavailable` with Retry-After: {:?}",
        t.refusals
    );
    assert!(
        lost_live.is_empty() && lost_after_restart.is_empty(),
        "acknowledged and lost:\n{}\nafter the restart:\n{}",
        lost_live.join("\n"),
        lost_after_restart.join("\n")
    );
    assert_eq!(damage, None, "the database's own files are damaged");
    for l in [&log, &log_after] {
        assert!(!l.contains("panicked"), "{l}");
    }
    assert!(
        log.contains(target.full_says),
        "the log does not say why writes were refused:\n{log}"
    );
}
