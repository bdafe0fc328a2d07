//! A real Request Tracker 5 for the connector's tests: Debian's
//! `request-tracker5` as `.ci/rt-install` sets it up (SQLite, users `root`
//! and `alice` with password `password`, a golden copy of the fresh DB).
//!
//! [`Rt::start`] restores the golden DB and serves RT on a free loopback
//! port; dropping the handle stops it. Every test that uses RT shares the one
//! DB file, so a handle also holds a process-wide and a cross-process lock:
//! RT tests run one at a time, each on an empty RT (ticket ids from 1).
//!
//! Without RT the tests skip with a `SKIPPED:` line, unless
//! `FIXPATH_REQUIRE_RT=1` (as in CI) makes that a failure.

use base64::Engine as _;
use serde_json::Value as Json;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

pub const SERVER: &str = "/usr/share/request-tracker5/libexec/rt-server";
pub const DB: &str = "/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb";
pub const GOLDEN: &str = "/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb.golden";
/// Beside the DB it guards, so that every clone and target folder on the
/// machine (whatever their TMPDIR) meets the same lock.
const LOCK: &str = "/var/lib/dbconfig-common/sqlite3/request-tracker5/rtdb.fixpath-lock";
/// Both users' password (`.ci/rt-install`).
pub const PASSWORD: &str = "password";
/// How long a lock file may be held before it counts as left behind by a
/// run that died without cleaning up.
const STALE_LOCK: Duration = Duration::from_secs(10 * 60);
/// From launch to the first REST 2 answer takes about 2 s.
const START_PATIENCE: Duration = Duration::from_secs(60);
/// After the server is gone its port must close (no orphaned worker left).
const STOP_PATIENCE: Duration = Duration::from_secs(30);
const USER_AGENT: &str = "fixpath-tests";
/// REST 2 caps a page at 100 items.
const PER_PAGE: usize = 100;

fn required() -> bool {
    std::env::var("FIXPATH_REQUIRE_RT").is_ok_and(|v| v.trim() == "1")
}

/// Whether RT can run here; without it, a skip (or a failure in CI).
pub fn rt_available() -> bool {
    let missing = if !Path::new(SERVER).exists() {
        Some(format!("{SERVER} is missing"))
    } else if !Path::new(GOLDEN).exists() {
        Some(format!("the golden DB {GOLDEN} is missing"))
    } else if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() != 0) {
        // `runuser` and restoring the root:www-data DB both need root.
        Some("the tests do not run as root (runuser and the DB restore need it)".to_owned())
    } else {
        None
    };
    let Some(why) = missing else {
        return true;
    };
    if required() {
        panic!(
            "Request Tracker 5 is not available and FIXPATH_REQUIRE_RT=1: {why}; \
             install it with .ci/rt-install"
        );
    }
    // Straight to the process's stderr: the test harness captures
    // `eprintln!` of passing tests, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: Request Tracker 5 is not available ({why}); install it with \
         .ci/rt-install (FIXPATH_REQUIRE_RT=1 makes this a failure)"
    );
    false
}

// ------------------------------------------------------------------ locks

/// The process-wide half of the lock. A flag under a mutex rather than a
/// `MutexGuard` kept in [`Rt`]: a guard would make `Rt` `!Send` (no
/// `tokio::spawn` with it) and poison the mutex for every later test when
/// one test panics.
static BUSY: Mutex<bool> = Mutex::new(false);
static FREED: Condvar = Condvar::new();

struct ProcessLock;

impl ProcessLock {
    fn take() -> ProcessLock {
        let mut busy = BUSY.lock().unwrap_or_else(PoisonError::into_inner);
        while *busy {
            busy = FREED.wait(busy).unwrap_or_else(PoisonError::into_inner);
        }
        *busy = true;
        ProcessLock
    }
}

impl Drop for ProcessLock {
    fn drop(&mut self) {
        *BUSY.lock().unwrap_or_else(PoisonError::into_inner) = false;
        FREED.notify_one();
    }
}

/// The cross-process half: a lock file made with `create_new`, holding the
/// owner's pid. (No `flock`: that needs `unsafe`, which the crate denies.)
struct FileLock;

impl FileLock {
    fn take() -> FileLock {
        let mut told = false;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(LOCK) {
                Ok(mut f) => {
                    f.write_all(std::process::id().to_string().as_bytes())
                        .expect("the RT lock file takes our pid");
                    return FileLock;
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                    if lock_is_stale() {
                        // Racy if two processes find the same stale lock at
                        // once; after a crashed run, that is good enough.
                        let _ = std::fs::remove_file(LOCK);
                        continue;
                    }
                    if !told {
                        let _ = writeln!(
                            std::io::stderr(),
                            "waiting for another test run's Request Tracker (lock {LOCK})"
                        );
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot create the RT lock file {LOCK}: {e}"),
            }
        }
    }
}

/// A lock whose owner is gone (a run killed before its drop ran), or one
/// older than [`STALE_LOCK`].
fn lock_is_stale() -> bool {
    let Ok(meta) = std::fs::metadata(LOCK) else {
        return false; // released meanwhile: just try again
    };
    let old = meta
        .modified()
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .is_some_and(|age| age > STALE_LOCK);
    let owner_gone = std::fs::read_to_string(LOCK)
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        // An empty file is a lock being written right now, not a dead one.
        .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists());
    old || owner_gone
}

impl Drop for FileLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(LOCK);
    }
}

// ----------------------------------------------------------------- server

/// A running RT on an empty DB; stopped on drop.
pub struct Rt {
    /// `http://127.0.0.1:PORT/rt`
    pub base: String,
    pub client: reqwest::Client,
    addr: SocketAddr,
    /// The `runuser` process; the server and its workers are below it.
    child: Child,
    /// The server's log, shown when a test panics.
    dir: PathBuf,
    // Released after `drop` has stopped the server (fields drop after it).
    _file_lock: FileLock,
    _process_lock: ProcessLock,
}

impl Rt {
    /// Takes the RT locks, restores the golden DB and starts RT on a free
    /// port; returns once REST 2 answers. Blocks (a few seconds, longer
    /// while another test holds RT).
    pub fn start() -> Rt {
        Rt::start_on(None)
    }

    /// [`Rt::start`] on `port` when given (a test that pointed fixpath at
    /// the port before RT was up).
    pub fn start_on(port: Option<u16>) -> Rt {
        let process_lock = ProcessLock::take();
        let file_lock = FileLock::take();
        restore_golden();
        let dir = log_dir();
        // A port picked free can be taken before the server binds it: then
        // the server exits at once and another port is tried.
        for attempt in 1..=3 {
            let port = port.unwrap_or_else(free_port);
            let log = dir.join(format!("rt-server-{attempt}.log"));
            let mut child = spawn(port, &log);
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match wait_ready(&mut child, addr, &log) {
                Ok(()) => {
                    return Rt {
                        base: format!("http://{addr}/rt"),
                        client: reqwest::Client::builder()
                            // Not "Mozilla…": RT answers browsers with a
                            // redirect to its login page. And not none: RT
                            // then logs a warning on every 401.
                            .user_agent(USER_AGENT)
                            .timeout(Duration::from_secs(60))
                            .build()
                            .expect("a reqwest client"),
                        addr,
                        child,
                        dir,
                        _file_lock: file_lock,
                        _process_lock: process_lock,
                    };
                }
                Err(Exited) if attempt < 3 => continue,
                Err(Exited) => panic!(
                    "rt-server exited at start three times; its last log ({}):\n{}",
                    log.display(),
                    read_log(&log)
                ),
            }
        }
        unreachable!("the loop returns or panics")
    }

    /// `{base}/REST/2.0/{path}`; `path` may carry a query.
    pub fn url(&self, path: &str) -> String {
        format!("{}/REST/2.0/{}", self.base, path.trim_start_matches('/'))
    }

    async fn send(&self, req: reqwest::RequestBuilder, what: &str) -> (u16, Json) {
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("RT does not answer {what}: {e}"));
        let status = res.status().as_u16();
        let text = res
            .text()
            .await
            .unwrap_or_else(|e| panic!("RT's answer to {what} has no body: {e}"));
        // A non-JSON body is kept as a string, so a failure shows it.
        let body = serde_json::from_str(&text).unwrap_or(Json::String(text));
        (status, body)
    }

    /// A GET as `user`, any status.
    pub async fn get_as(&self, user: &str, path: &str) -> (u16, Json) {
        let req = self
            .client
            .get(self.url(path))
            .basic_auth(user, Some(PASSWORD));
        self.send(req, &format!("GET {path}")).await
    }

    /// A GET as root that must succeed.
    pub async fn get(&self, path: &str) -> Json {
        let (status, body) = self.get_as("root", path).await;
        assert!(
            (200..300).contains(&status),
            "GET {path} as root: {status} {body}"
        );
        body
    }

    /// A POST of JSON as `user` (REST 2 insists on the JSON content type,
    /// which `.json` sets).
    pub async fn post(&self, user: &str, path: &str, body: Json) -> (u16, Json) {
        let req = self
            .client
            .post(self.url(path))
            .basic_auth(user, Some(PASSWORD))
            .json(&body);
        self.send(req, &format!("POST {path}")).await
    }

    /// A PUT of JSON as `user`.
    pub async fn put(&self, user: &str, path: &str, body: Json) -> (u16, Json) {
        let req = self
            .client
            .put(self.url(path))
            .basic_auth(user, Some(PASSWORD))
            .json(&body);
        self.send(req, &format!("PUT {path}")).await
    }

    /// Every item of a paged collection, as root.
    async fn all_pages(&self, path: &str, params: &[(&str, &str)]) -> Vec<Json> {
        let mut items = Vec::new();
        for page in 1.. {
            let mut url = reqwest::Url::parse(&self.url(path)).expect("an RT URL");
            url.query_pairs_mut()
                .extend_pairs(params)
                .append_pair("per_page", &PER_PAGE.to_string())
                .append_pair("page", &page.to_string());
            let req = self.client.get(url).basic_auth("root", Some(PASSWORD));
            let (status, body) = self.send(req, &format!("GET {path}")).await;
            assert_eq!(status, 200, "GET {path} page {page}: {body}");
            let batch = body["items"]
                .as_array()
                .unwrap_or_else(|| panic!("GET {path}: no items: {body}"));
            let n = batch.len();
            items.extend(batch.iter().cloned());
            let last = match body["pages"].as_u64() {
                Some(pages) => page >= pages,
                None => n < PER_PAGE,
            };
            if last || n == 0 {
                break;
            }
        }
        items
    }

    /// A ticket's transactions, oldest first, with `Type`, `Creator` (an
    /// object: `Creator["id"]` is the user name), `Created`, `Field`,
    /// `NewValue`.
    pub async fn history(&self, ticket: &str) -> Vec<Json> {
        self.all_pages(
            &format!("ticket/{ticket}/history"),
            &[("fields", "Type,Creator,Created,Field,NewValue")],
        )
        .await
    }

    /// The text a transaction carries: the exact bytes of its `text/plain`
    /// body part (the one without a file name).
    pub async fn transaction_text(&self, txn: &str) -> String {
        let parts = self
            .all_pages(
                &format!("transaction/{txn}/attachments"),
                &[("fields", "ContentType,Filename")],
            )
            .await;
        let part = parts
            .iter()
            .find(|p| {
                p["ContentType"] == "text/plain" && p["Filename"].as_str().is_none_or(str::is_empty)
            })
            .unwrap_or_else(|| panic!("transaction {txn} has no text/plain body: {parts:?}"));
        let bytes = self.attachment_bytes(&id_of(part)).await;
        String::from_utf8(bytes)
            .unwrap_or_else(|e| panic!("transaction {txn}'s text is not UTF-8: {e}"))
    }

    /// The bytes of the ticket's file `filename` (the latest, when there
    /// are several).
    pub async fn attachment_named(&self, ticket: &str, filename: &str) -> Vec<u8> {
        let files = self
            .all_pages(
                &format!("ticket/{ticket}/attachments"),
                &[("fields", "Filename")],
            )
            .await;
        let file = files
            .iter()
            .rfind(|f| f["Filename"] == filename)
            .unwrap_or_else(|| panic!("ticket {ticket} has no file {filename:?}: {files:?}"));
        self.attachment_bytes(&id_of(file)).await
    }

    /// Exact bytes through `/attachment/:id`, whose `Content` is base64;
    /// listings give it decoded as text, which garbles non-UTF-8 files.
    async fn attachment_bytes(&self, id: &str) -> Vec<u8> {
        let att = self.get(&format!("attachment/{id}")).await;
        let b64 = att["Content"]
            .as_str()
            .unwrap_or_else(|| panic!("attachment {id} has no Content: {att}"));
        // Perl's encode_base64 breaks lines every 76 characters.
        let b64: String = b64.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap_or_else(|e| panic!("attachment {id}'s Content is not base64: {e}"))
    }

    /// The tickets a TicketSQL query finds, with `id`, `Subject`, `Status`
    /// and `Queue` (an object: `Queue["id"]`).
    pub async fn tickets(&self, ticketsql: &str) -> Vec<Json> {
        self.all_pages(
            "tickets",
            &[("query", ticketsql), ("fields", "Subject,Status,Queue")],
        )
        .await
    }
}

/// An item's id as REST 2 lists it (a string; a number in some objects).
fn id_of(item: &Json) -> String {
    match &item["id"] {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        other => panic!("no id in {item} ({other})"),
    }
}

impl Drop for Rt {
    fn drop(&mut self) {
        stop(&mut self.child, self.addr);
        if std::thread::panicking() {
            // Keep the log for the failing test, and show its end.
            let _ = writeln!(
                std::io::stderr(),
                "rt-server's log ({}):\n{}",
                self.dir.display(),
                tail(&read_all_logs(&self.dir), 60)
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The golden DB over the live one (server stopped, lock held). `cp -p`
/// keeps root:www-data 0660, so the server (www-data) can write it.
fn restore_golden() {
    // A journal left by a killed server would be "rolled back" into the
    // fresh copy and corrupt it.
    for ext in ["-journal", "-wal", "-shm"] {
        match std::fs::remove_file(format!("{DB}{ext}")) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => panic!("cannot remove {DB}{ext}: {e}"),
        }
    }
    let status = Command::new("cp")
        .args(["-p", GOLDEN, DB])
        .status()
        .expect("cp runs");
    assert!(status.success(), "cp -p {GOLDEN} {DB} failed: {status}");
}

fn log_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "fixpath-rt-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).expect("a folder for rt-server's log");
    dir
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn spawn(port: u16, log: &Path) -> Child {
    let out = File::create(log).expect("rt-server's log file");
    let err = out.try_clone().expect("rt-server's log file, twice");
    let port = port.to_string();
    // As www-data, like the installed RT: as root it would leave root-owned
    // files in RT's cache. 2 workers: ~280 MB instead of ~1 GB for 10.
    Command::new("runuser")
        .args(["-u", "www-data", "--", SERVER])
        .args(["--host", "127.0.0.1", "--port", &port])
        .args(["--webpath", "/rt", "--max-workers", "2"])
        // The links RT puts in its answers (`_url`) follow this port.
        .env("RT_WEB_BASE_URL", format!("http://127.0.0.1:{port}"))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .expect("runuser starts rt-server")
}

/// The server exited before it answered.
struct Exited;

/// Waits until REST 2 answers at all (401 without credentials).
fn wait_ready(child: &mut Child, addr: SocketAddr, log: &Path) -> Result<(), Exited> {
    let deadline = Instant::now() + START_PATIENCE;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return Err(Exited);
        }
        if probe(addr) {
            return Ok(());
        }
        if Instant::now() > deadline {
            stop(child, addr);
            panic!(
                "rt-server did not answer on {addr} within {} s; its log ({}):\n{}",
                START_PATIENCE.as_secs(),
                log.display(),
                read_log(log)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One raw HTTP/1.0 GET of the queue list: reqwest's blocking client is not
/// built here, and `start` is not async.
fn probe(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!(
        "GET /rt/REST/2.0/queues/all HTTP/1.0\r\nHost: {addr}\r\nUser-Agent: {USER_AGENT}\r\n\r\n"
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}

/// SIGTERM to runuser, which passes it on to the server; then waits until
/// runuser has exited and the port is closed (no worker left behind).
fn stop(child: &mut Child, addr: SocketAddr) {
    if let Ok(None) = child.try_wait() {
        // `Child::kill` would send SIGKILL, which runuser cannot pass on:
        // the server would be orphaned, still using the DB.
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        if !sent {
            let _ = child.kill();
        }
        // runuser itself waits 2 s after passing the signal on.
        let _ = child.wait();
    }
    let deadline = Instant::now() + STOP_PATIENCE;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
        if Instant::now() > deadline {
            // Not a panic in a drop: the next start restores the DB anyway.
            let _ = writeln!(
                std::io::stderr(),
                "rt-server on {addr} still accepts connections {} s after it was stopped",
                STOP_PATIENCE.as_secs()
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("(unreadable: {e})"))
}

fn read_all_logs(dir: &Path) -> String {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    logs.sort();
    logs.iter().map(|p| read_log(p)).collect()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod smoke {
    use super::*;
    use serde_json::json;

    /// The harness itself: a fresh RT (ids from 1), alice's writes, and
    /// each read-back helper.
    #[tokio::test]
    async fn rt_harness_smoke() {
        if !rt_available() {
            return;
        }
        let started = Instant::now();
        let rt = Rt::start();
        let _ = writeln!(
            std::io::stderr(),
            "RT answered after {:?}",
            started.elapsed()
        );
        let file = b"{\"drops\":[\"\xc3\xbc\"]}\n";
        let (status, body) = rt
            .post(
                "alice",
                "ticket",
                json!({
                    "Queue": "General",
                    "Subject": "Smoke",
                    "Content": "First line\nsecond line\n",
                    "ContentType": "text/plain",
                    "Attachments": [{
                        "FileName": "diag.json",
                        "FileType": "application/json",
                        "FileContent": base64::engine::general_purpose::STANDARD.encode(file),
                    }],
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        // The golden DB was restored: the first ticket of every run is 1.
        assert_eq!(body["id"], "1", "{body}");

        let (status, body) = rt
            .post(
                "alice",
                "ticket/1/comment",
                json!({"Content": "Internal: ümlaut\n", "ContentType": "text/plain"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = rt
            .put("root", "ticket/1", json!({"Subject": "Smoke, renamed"}))
            .await;
        assert_eq!(status, 200, "{body}");

        let history = rt.history("1").await;
        let create = history
            .iter()
            .find(|t| t["Type"] == "Create")
            .expect("a Create transaction");
        assert_eq!(create["Creator"]["id"], "alice", "{history:?}");
        assert_eq!(
            rt.transaction_text(&id_of(create)).await,
            "First line\nsecond line\n"
        );
        let comment = history
            .iter()
            .rfind(|t| t["Type"] == "Comment")
            .expect("a Comment transaction");
        assert_eq!(
            rt.transaction_text(&id_of(comment)).await,
            "Internal: ümlaut\n"
        );
        assert!(
            history
                .iter()
                .any(|t| t["Field"] == "Subject" && t["NewValue"] == "Smoke, renamed"),
            "{history:?}"
        );
        assert_eq!(rt.attachment_named("1", "diag.json").await, file);

        let found = rt
            .tickets("Queue = 'General' AND Subject LIKE 'Smoke'")
            .await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0]["Status"], "new");
        assert_eq!(rt.get("ticket/1").await["Creator"]["id"], "alice");
    }
}
