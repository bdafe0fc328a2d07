//! `fixpath serve` and `fixpath user add`, end to end: the real binary on
//! port 0 with a temporary copy of the example scripts and a temporary
//! database; the port is read from the `listening on` log line. Every child
//! is killed when its handle drops, whatever the test did.

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_fixpath");
/// How long a server may take to start, a reload to show, a stop to finish.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Helpers

/// A folder removed on drop.
pub(crate) struct TempDir(PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "fixpath-serve-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    /// A folder with a copy of the repository's scripts in `scripts/`.
    pub(crate) fn with_scripts(name: &str) -> TempDir {
        let t = TempDir::new(name);
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
        let dst = t.scripts();
        std::fs::create_dir_all(&dst).unwrap();
        for e in std::fs::read_dir(src).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
            }
        }
        t
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    pub(crate) fn scripts(&self) -> PathBuf {
        self.0.join("scripts")
    }

    pub(crate) fn db(&self) -> String {
        self.0.join("fixpath.db").to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary, run in `dir`, with none of the caller's fixpath settings.
pub(crate) fn fixpath(dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).env("NO_COLOR", "1").env(
        "FIXPATH_LOG",
        "info,fixpath=debug,sqlx=warn,tower_http=warn",
    );
    for var in [
        "FIXPATH_SCRIPTS",
        "FIXPATH_DB",
        "FIXPATH_DB_POOL",
        "FIXPATH_LISTEN",
        "FIXPATH_WEBHOOKS",
        "FIXPATH_WEBHOOK_SECRET",
        "FIXPATH_CONFIG",
        "FIXPATH_LOG_FORMAT",
        "RUST_LOG",
    ] {
        c.env_remove(var);
    }
    c
}

/// A running server. Killed on drop.
pub(crate) struct Server {
    child: Option<Child>,
    pub(crate) base: String,
    log: Arc<Mutex<String>>,
}

impl Server {
    /// `fixpath serve` on port 0 with the folder's scripts and database, plus
    /// `args`; waits for `listening on`.
    pub(crate) fn start(dir: &TempDir, args: &[&str]) -> Server {
        let mut cmd = fixpath(dir.path());
        cmd.arg("serve")
            .args(["--listen", "127.0.0.1:0", "--scripts"])
            .arg(dir.scripts())
            .args(["--db", &dir.db()])
            .args(args);
        Server::spawn(cmd)
    }

    pub(crate) fn spawn(mut cmd: Command) -> Server {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the fixpath binary starts");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut server = Server {
            child: Some(child),
            base: String::new(),
            log,
        };
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(addr) = listening(&server.log()) {
                server.base = format!("http://{addr}");
                return server;
            }
            if let Some(status) = server.child.as_mut().unwrap().try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "the server exited ({status}) before listening:\n{}",
                    server.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no `listening on` line in time:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until the log contains `needle` `times` times.
    pub(crate) fn wait_for_log(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.log().matches(needle).count() < times {
            assert!(
                Instant::now() < deadline,
                "`{needle}` did not show up {times} time(s) in the log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then waits for the exit.
    pub(crate) fn stop(mut self) -> (ExitStatus, String) {
        let mut child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM failed");
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the server did not stop after SIGTERM:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The address of the first `listening on http://ADDR` line.
fn listening(log: &str) -> Option<String> {
    let i = log.find("listening on http://")? + "listening on http://".len();
    let rest = &log[i..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '[' | ']')))
        .unwrap_or(rest.len());
    let addr = &rest[..end];
    // The line must be complete (a port number follows the last colon).
    (addr.rsplit_once(':').is_some_and(|(_, p)| !p.is_empty()) && end < rest.len())
        .then(|| addr.to_owned())
}

/// A small blocking HTTP client over reqwest.
pub(crate) struct Http {
    rt: tokio::runtime::Runtime,
    pub(crate) client: reqwest::Client,
}

impl Http {
    pub(crate) fn new() -> Http {
        Http {
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(20))
                // A fresh connection each time: a kept one the server closed
                // while a test waited would fail the next request.
                .pool_max_idle_per_host(0)
                .build()
                .unwrap(),
        }
    }

    pub(crate) fn send(&self, req: reqwest::RequestBuilder) -> (u16, String) {
        self.rt.block_on(async {
            let r = req.send().await.expect("the server answers");
            let status = r.status().as_u16();
            (status, r.text().await.unwrap())
        })
    }

    /// A POST whose connection may fail (the server killed under it):
    /// `None` then, instead of a panic.
    pub(crate) fn try_post(
        &self,
        url: &str,
        token: Option<&str>,
        body: Value,
    ) -> Option<(u16, Value)> {
        let mut req = self.client.post(url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.rt.block_on(async {
            let r = req.send().await.ok()?;
            let status = r.status().as_u16();
            let text = r.text().await.ok()?;
            Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
        })
    }

    pub(crate) fn get_text(&self, url: &str, token: Option<&str>) -> (u16, String) {
        let mut req = self.client.get(url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        self.send(req)
    }

    pub(crate) fn get(&self, url: &str, token: Option<&str>) -> (u16, Value) {
        let (s, body) = self.get_text(url, token);
        (s, parse(&body))
    }

    pub(crate) fn post(&self, url: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = self.client.post(url).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let (s, body) = self.send(req);
        (s, parse(&body))
    }
}

pub(crate) fn parse(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_owned()))
}

/// Starts a customer session on `router-no-internet`; returns (id, token, body).
pub(crate) fn start_session(http: &Http, server: &Server) -> (String, String, Value) {
    let (status, body) = http.post(
        &server.url("/api/v1/sessions"),
        None,
        json!({"script": "router-no-internet", "channel": "customer", "params": {"customer": "Ann"}}),
    );
    assert_eq!(status, 201, "{body:#}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["token"].as_str().unwrap().to_owned(),
        body,
    )
}

/// Answers the current step (whose `seq` is `seq`) with `answer`.
pub(crate) fn answer(
    http: &Http,
    server: &Server,
    id: &str,
    token: &str,
    seq: &Value,
    answer: &str,
) -> Value {
    let (status, body) = http.post(
        &server.url(&format!("/api/v1/sessions/{id}/answer")),
        Some(token),
        json!({"seq": seq, "answer": answer}),
    );
    assert_eq!(status, 200, "answering `{answer}`: {body:#}");
    body
}

/// Runs `fixpath user add`; returns its output.
pub(crate) fn user_add(dir: &TempDir, args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = fixpath(dir.path())
        .args(["user", "add"])
        .args(args)
        .args(["--db", &dir.db()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// The token printed as the last line of a successful `user add`.
pub(crate) fn token_of(out: &Output) -> String {
    assert!(
        out.status.success(),
        "user add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    assert!(
        last.starts_with("fps_"),
        "the last line is not a token: {stdout}"
    );
    last
}

const OLD_QUESTION: &str = "Are all devices in your home without internet, or only one?";
const NEW_QUESTION: &str = "Is every device in your home offline, or just one?";

// ---------------------------------------------------------------------------
// Health and metrics

#[test]
fn healthz_and_metrics() {
    let dir = TempDir::with_scripts("health");
    let server = Server::start(&dir, &[]);
    let http = Http::new();

    let (status, body) = http.get(&server.url("/healthz"), None);
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));

    let (status, page) = http.get_text(&server.url("/metrics"), None);
    assert_eq!(status, 200);
    assert!(page.contains("fixpath_outbox_pending 0"), "{page}");
    assert!(page.contains("fixpath_scripts 11"), "{page}");
    assert!(page.contains("fixpath_library_published 1"), "{page}");
    assert!(!page.contains("fixpath_sessions_ended_total"), "{page}");
    // A session that ends is counted by script, channel and outcome.
    let (id, token, started) = start_session(&http, &server);
    let (status, body) = http.post(
        &server.url(&format!("/api/v1/sessions/{id}/escalate")),
        Some(&token),
        json!({"seq": started["step"]["seq"]}),
    );
    assert_eq!(status, 200, "{body:#}");
    let (_, page) = http.get_text(&server.url("/metrics"), None);
    assert!(
        page.lines()
            .any(|l| l.starts_with("fixpath_sessions_ended_total{")
                && l.contains(r#"script="router-no-internet""#)
                && l.contains(r#"channel="customer""#)
                && l.contains(r#"outcome="escalated""#)
                && l.ends_with(" 1")),
        "{page}"
    );
    // The health check above was timed under its route pattern.
    assert!(
        page.contains("fixpath_http_request_duration_seconds") && page.contains("/healthz"),
        "{page}"
    );

    let (status, log) = server.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(log.contains("stopped"), "{log}");
    // Said once, in one wording.
    assert_eq!(log.matches("no webhooks configured").count(), 1, "{log}");
    assert!(
        log.contains("no webhooks configured; escalation events wait in the outbox"),
        "{log}"
    );
}

// ---------------------------------------------------------------------------
// Restarts keep sessions

#[test]
fn a_session_survives_a_graceful_restart() {
    let dir = TempDir::with_scripts("restart");
    let http = Http::new();

    let server = Server::start(&dir, &[]);
    let (id, token, started) = start_session(&http, &server);
    assert_eq!(started["step"]["node"], "greet");
    let s = answer(
        &http,
        &server,
        &id,
        &token,
        &started["step"]["seq"],
        "all-devices",
    );
    assert_eq!(s["status"], "active", "{s:#}");
    assert_eq!(s["step"]["node"], "outage");
    let s = answer(&http, &server, &id, &token, &s["step"]["seq"], "no");
    assert_eq!(s["step"]["node"], "lights", "{s:#}");
    let seq = s["step"]["seq"].clone();

    let (status, log) = server.stop();
    assert_eq!(status.code(), Some(0), "not a graceful stop:\n{log}");
    assert!(log.contains("SIGTERM"), "{log}");

    let server = Server::start(&dir, &[]);
    let (status, s) = http.get(&server.url(&format!("/api/v1/sessions/{id}")), Some(&token));
    assert_eq!(status, 200, "{s:#}");
    assert_eq!(s["status"], "active");
    assert_eq!(s["step"]["node"], "lights");
    assert_eq!(s["step"]["seq"], seq);

    // The same seq again is still the current step; on to the end.
    let mut s = answer(&http, &server, &id, &token, &seq, "red");
    for a in ["yes", "yes", "yes"] {
        s = answer(&http, &server, &id, &token, &s["step"]["seq"], a);
    }
    assert_eq!(s["status"], "resolved", "{s:#}");

    let (_, s) = http.get(&server.url(&format!("/api/v1/sessions/{id}")), Some(&token));
    let answered: Vec<(String, String)> = s["trail"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["retracted"] != true)
        .filter_map(|e| {
            Some((
                e["node"].as_str()?.to_owned(),
                e["answer"]["id"].as_str()?.to_owned(),
            ))
        })
        .collect();
    let expected = [
        ("greet", "all-devices"),
        ("outage", "no"),
        ("lights", "red"),
        ("cables", "yes"),
        ("reseated", "yes"),
        ("browser-test", "yes"),
    ];
    assert_eq!(
        answered,
        expected
            .iter()
            .map(|(n, a)| (n.to_string(), a.to_string()))
            .collect::<Vec<_>>(),
        "{s:#}"
    );
    let (status, _) = server.stop();
    assert_eq!(status.code(), Some(0));
}

// ---------------------------------------------------------------------------
// Hot reload

#[test]
fn edits_are_published_and_broken_edits_refused() {
    let dir = TempDir::with_scripts("reload");
    let http = Http::new();
    let author = token_of(&user_add(&dir, &["writer", "--role", "author"], None));
    let server = Server::start(&dir, &[]);
    let file = dir.scripts().join("router-no-internet.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    assert!(original.contains(OLD_QUESTION));

    // A session under way before the edit.
    let (old_id, old_token, started) = start_session(&http, &server);
    assert_eq!(started["step"]["text"], OLD_QUESTION);

    // A good edit, saved the way editors do: truncate and write in pieces,
    // then a temporary file renamed over it.
    let edited = original.replace(OLD_QUESTION, NEW_QUESTION);
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&file).unwrap();
        let (a, b) = edited.split_at(edited.len() / 2);
        f.write_all(a.as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        f.write_all(b.as_bytes()).unwrap();
    }
    let tmp = dir.scripts().join(".router-no-internet.yaml.tmp");
    std::fs::write(&tmp, &edited).unwrap();
    std::fs::rename(&tmp, &file).unwrap();

    server.wait_for_log("scripts reloaded", 1);
    let (_, _, fresh) = start_session(&http, &server);
    assert_eq!(fresh["step"]["text"], NEW_QUESTION, "{}", server.log());
    // The old session keeps its pinned version.
    let (status, old) = http.get(
        &server.url(&format!("/api/v1/sessions/{old_id}")),
        Some(&old_token),
    );
    assert_eq!(status, 200);
    assert_eq!(old["step"]["text"], OLD_QUESTION, "{old:#}");
    let s = answer(
        &http,
        &server,
        &old_id,
        &old_token,
        &old["step"]["seq"],
        "all-devices",
    );
    assert_eq!(s["step"]["node"], "outage");

    // A broken edit: refused, the previous version stays.
    std::fs::write(&file, format!("{edited}\nnodes: [unclosed\n")).unwrap();
    server.wait_for_log("have errors and were not published", 1);
    assert!(server.log().contains("FP001"), "{}", server.log());
    let (_, _, after) = start_session(&http, &server);
    assert_eq!(after["step"]["text"], NEW_QUESTION);
    let (status, report) = http.get(&server.url("/api/v1/author/report"), Some(&author));
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(report["published"], false, "{report:#}");
    assert!(
        report["text"]
            .as_str()
            .unwrap_or_default()
            .contains("FP001"),
        "{report:#}"
    );
    let (_, page) = http.get_text(&server.url("/metrics"), None);
    assert!(page.contains("fixpath_library_published 0"), "{page}");

    // Fixed again: published.
    std::fs::write(&file, &original).unwrap();
    server.wait_for_log("scripts reloaded", 2);
    let (_, _, back) = start_session(&http, &server);
    assert_eq!(back["step"]["text"], OLD_QUESTION);

    let (status, _) = server.stop();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_burst_of_saves_ends_with_the_final_content() {
    let dir = TempDir::with_scripts("burst");
    let http = Http::new();
    let server = Server::start(&dir, &[]);
    let file = dir.scripts().join("router-no-internet.yaml");
    let original = std::fs::read_to_string(&file).unwrap();
    for i in 0..20 {
        let text = original.replace(OLD_QUESTION, &format!("Question number {i}?"));
        if i % 2 == 0 {
            std::fs::write(&file, text).unwrap();
        } else {
            let tmp = dir.scripts().join("router-no-internet.yaml~");
            std::fs::write(&tmp, text).unwrap();
            std::fs::rename(&tmp, &file).unwrap();
        }
        std::thread::sleep(Duration::from_millis(15));
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, _, s) = start_session(&http, &server);
        if s["step"]["text"] == "Question number 19?" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the last save was never published: {s:#}\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------
// Webhooks

/// One request a receiver got: lowercase header names, and the body.
pub(crate) type Received = (Vec<(String, String)>, String);

/// A webhook receiver on port 0 that answers 200 to everything.
pub(crate) fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    receiver_answering("")
}

/// [`receiver`], answering every request with `answer` (JSON); the request
/// line is kept as the header `:request`.
pub(crate) fn receiver_answering(answer: &'static str) -> (String, Arc<Mutex<Vec<Received>>>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { break };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let mut headers: Vec<(String, String)> = head
                .lines()
                .skip(1)
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                .collect();
            headers.push((
                ":request".to_owned(),
                head.lines().next().unwrap_or_default().to_owned(),
            ));
            let len: usize = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            while buf.len() < head_end + len {
                let n = conn.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buf[head_end..]).into_owned();
            sink.lock().unwrap().push((headers, body));
            let _ = conn.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                )
                .as_bytes(),
            );
        }
    });
    (url, got)
}

#[test]
fn escalations_are_sent_as_signed_webhooks() {
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let dir = TempDir::with_scripts("webhooks");
    let (url, got) = receiver();
    let http = Http::new();
    let server = Server::start(&dir, &["--webhook", &url, "--webhook-secret", SECRET]);

    let (id, token, started) = start_session(&http, &server);
    let s = answer(
        &http,
        &server,
        &id,
        &token,
        &started["step"]["seq"],
        "_escalate",
    );
    assert_eq!(s["status"], "escalated", "{s:#}");

    let deadline = Instant::now() + PATIENCE;
    let (headers, body) = loop {
        if let Some(r) = got.lock().unwrap().first().cloned() {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "no webhook arrived:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no `{name}` header: {headers:?}"))
    };
    let event: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(event["type"], "escalation.created", "{event:#}");
    assert_eq!(event["data"]["session"], id.as_str(), "{event:#}");
    let (msg_id, ts) = (header("webhook-id"), header("webhook-timestamp"));
    let key = fixpath::delivery::parse_secret(SECRET).unwrap();
    assert_eq!(
        header("webhook-signature"),
        fixpath::delivery::sign(&key, &msg_id, ts.parse().unwrap(), &body)
    );

    let deadline = Instant::now() + PATIENCE;
    loop {
        let (_, page) = http.get_text(&server.url("/metrics"), None);
        if page.contains("fixpath_outbox_pending 0") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox never emptied:\n{page}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, _) = server.stop();
    assert_eq!(status.code(), Some(0));
}

// ---------------------------------------------------------------------------
// Users

#[test]
fn user_add_prints_a_token_that_opens_the_queue() {
    let dir = TempDir::new("users");
    std::fs::create_dir_all(dir.scripts()).unwrap();
    for f in ["router-no-internet.yaml", "power-cycle.yaml"] {
        std::fs::copy(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts")
                .join(f),
            dir.scripts().join(f),
        )
        .unwrap();
    }

    let out = user_add(&dir, &["ann", "--role", "specialist"], None);
    let specialist = token_of(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("specialist `ann` (tier 2)"), "{stdout}");

    let dup = user_add(&dir, &["ann", "--role", "agent"], None);
    assert_eq!(dup.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&dup.stderr);
    assert!(stderr.contains("`ann` already exists"), "{stderr}");
    assert!(dup.stdout.is_empty());

    let agent = token_of(&user_add(
        &dir,
        &["bob", "--role", "agent", "--password-stdin"],
        Some("correct horse battery staple\n"),
    ));
    assert_ne!(agent, specialist);

    let bad = user_add(&dir, &["carl smith", "--role", "agent"], None);
    assert_eq!(bad.status.code(), Some(2));
    let bad = user_add(&dir, &["carl", "--role", "janitor"], None);
    assert_eq!(bad.status.code(), Some(2));
    let bad = user_add(&dir, &["carl", "--role", "specialist", "--tier", "9"], None);
    assert_eq!(bad.status.code(), Some(2));
    let bad = user_add(
        &dir,
        &["carl", "--role", "agent", "--password-stdin"],
        Some(""),
    );
    assert_eq!(bad.status.code(), Some(2));

    let server = Server::start(&dir, &[]);
    let http = Http::new();
    let url = server.url("/api/v1/escalations");
    assert_eq!(http.get(&url, Some(&specialist)).0, 200);
    assert_eq!(http.get(&url, Some(&agent)).0, 403);
    assert_eq!(http.get(&url, None).0, 401);
    assert_eq!(http.get(&url, Some("fps_not-a-token")).0, 401);
}

// ---------------------------------------------------------------------------
// Configuration

/// The `starting fixpath` line of a server started with `cmd`.
fn starting_line(cmd: Command) -> String {
    let server = Server::spawn(cmd);
    let log = server.log();
    log.lines()
        .find(|l| l.contains("starting fixpath"))
        .unwrap_or_else(|| panic!("no `starting fixpath` line:\n{log}"))
        .to_owned()
}

#[test]
fn flags_beat_environment_beat_file() {
    let dir = TempDir::with_scripts("precedence");
    let conf = dir.path().join("fixpath.toml");
    std::fs::write(
        &conf,
        "scripts = \"scripts\"\ndb = \"from-file.db\"\nlisten = \"127.0.0.1:0\"\nlog_format = \"json\"\n",
    )
    .unwrap();
    let base = || {
        let mut c = fixpath(dir.path());
        c.arg("serve").env("FIXPATH_CONFIG", &conf);
        c
    };

    // The file alone: its paths are read from its folder; JSON logs.
    let line = starting_line(base());
    let file_db = dir.path().join("from-file.db");
    assert!(line.contains(&*file_db.to_string_lossy()), "{line}");
    let parsed: Value = serde_json::from_str(&line).expect("a JSON log line");
    assert_eq!(parsed["level"], "INFO");

    // The environment beats the file.
    let env_db = dir.path().join("from-env.db");
    let mut c = base();
    c.env("FIXPATH_DB", &env_db);
    let line = starting_line(c);
    assert!(line.contains(&*env_db.to_string_lossy()), "{line}");

    // A flag beats both; --log-format beats the file's.
    let flag_db = dir.path().join("from-flag.db");
    let mut c = base();
    c.env("FIXPATH_DB", &env_db)
        .arg("--db")
        .arg(&flag_db)
        .args(["--log-format", "text"]);
    let line = starting_line(c);
    assert!(line.contains(&*flag_db.to_string_lossy()), "{line}");
    assert!(serde_json::from_str::<Value>(&line).is_err(), "{line}");
    assert!(line.contains(" INFO "), "{line}");

    // An invalid file value is overridden, not checked, when a flag is given.
    std::fs::write(&conf, "scripts = \"scripts\"\nlisten = \"nowhere\"\n").unwrap();
    let mut c = base();
    c.args(["--listen", "127.0.0.1:0", "--db"]).arg(&flag_db);
    starting_line(c);
}

/// Runs `fixpath serve` with `args` and `env`; expects it to refuse (exit
/// `code`) with `needle` in its stderr.
fn refuses(args: &[&str], env: &[(&str, &str)], code: i32, needle: &str) {
    let dir = TempDir::with_scripts("refuses");
    let mut cmd = fixpath(dir.path());
    cmd.arg("serve").env("FIXPATH_DB", dir.db()).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?} {env:?}: {stderr}");
    assert!(stderr.contains(needle), "{args:?} {env:?}: {stderr}");
}

#[test]
fn bad_settings_exit_2_with_a_clear_message() {
    refuses(
        &["--listen", "localhost"],
        &[],
        2,
        "--listen (or FIXPATH_LISTEN): `localhost` is not an address to listen on",
    );
    refuses(
        &[],
        &[("FIXPATH_LISTEN", "127.0.0.1:99999")],
        2,
        "`127.0.0.1:99999` is not an address",
    );
    refuses(
        &["--db", "postgres://fixpath:secret@db:no-port/fixpath"],
        &[],
        2,
        "`postgres://fixpath:***@db:no-port/fixpath` is not a valid PostgreSQL URL",
    );
    refuses(
        &["--db", "postgres://fixpath@db/fixpath", "--db-pool", "0"],
        &[],
        2,
        "--db-pool (or FIXPATH_DB_POOL): 0 is not a usable number",
    );
    refuses(
        &[
            "--webhook",
            "https://ok.example/hook",
            "--webhook",
            "ftp://files.example/",
        ],
        &[],
        2,
        "`ftp://files.example/` is not an http(s) URL",
    );
    refuses(
        &[],
        &[("FIXPATH_WEBHOOKS", "https://a.example/,not a url")],
        2,
        "`not a url` is not a URL",
    );
    refuses(
        &["--webhook-secret", "hunter2"],
        &[],
        2,
        "`whsec_` followed by base64",
    );
    refuses(
        &[],
        &[("FIXPATH_WEBHOOK_SECRET", "whsec_!!!")],
        2,
        "FIXPATH_WEBHOOK_SECRET",
    );
    refuses(&["--log-format", "xml"], &[], 2, "xml");
    refuses(
        &["--config", "/nonexistent/fixpath.toml"],
        &[],
        2,
        "cannot read the config file",
    );
    refuses(
        &["--scripts", "/nonexistent/scripts"],
        &[],
        2,
        "the scripts folder cannot be read",
    );
}

#[test]
fn a_bad_config_file_and_broken_scripts_are_refused() {
    let dir = TempDir::with_scripts("badfile");
    let conf = dir.path().join("fixpath.toml");
    std::fs::write(&conf, "listn = \"127.0.0.1:0\"\n").unwrap();
    let out = fixpath(dir.path())
        .args(["serve", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown field `listn`"), "{stderr}");

    std::fs::write(&conf, "webhooks = [\"gopher://x\"]\n").unwrap();
    let out = fixpath(dir.path())
        .args(["serve", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("`webhooks` in "), "{stderr}");

    // Scripts with errors: the author's diagnostics, exit 1.
    std::fs::write(dir.scripts().join("broken.yaml"), "id: [unclosed\n").unwrap();
    let out = fixpath(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--db", &dir.db()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error[FP001]"), "{stderr}");
    assert!(stderr.contains("broken.yaml"), "{stderr}");
    assert!(stderr.contains("the server did not start"), "{stderr}");
}

#[test]
fn user_list_shows_roles_tiers_sign_in_and_tokens() {
    let dir = TempDir::new("user-list");
    let list = || {
        fixpath(dir.path())
            .args(["user", "list", "--db", &dir.db()])
            .output()
            .unwrap()
    };
    // No database yet: refused, and none is made.
    let none = list();
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("there is no database"));
    assert!(!Path::new(&dir.db()).exists());

    let ann = user_add(&dir, &["ann", "--role", "specialist", "--tier", "3"], None);
    token_of(&ann);
    let ada = user_add(
        &dir,
        &["ada", "--role", "author", "--password-stdin"],
        Some("s3cret-pass-phrase\n"),
    );
    token_of(&ada);
    // Authors and admins work at no tier: none is shown.
    let stdout = String::from_utf8_lossy(&ada.stdout);
    assert!(
        stdout.contains("created author `ada`, with a password"),
        "{stdout}"
    );
    let boss = user_add(&dir, &["boss", "--role", "admin"], None);
    assert!(!String::from_utf8_lossy(&boss.stdout).contains("tier"));

    let out = list();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "NAME  ROLE        TIER  WEB SIGN-IN  TOKENS  STATE\n\
         ada   author      -     yes          1       active\n\
         ann   specialist  3     no           1       active\n\
         boss  admin       -     no           1       active\n"
    );
}

#[test]
fn user_token_and_revoke_take_effect_at_once_on_every_instance() {
    let dir = TempDir::with_scripts("user-revoke");
    let user = |args: &[&str]| {
        fixpath(dir.path())
            .arg("user")
            .args(args)
            .args(["--db", &dir.db()])
            .output()
            .unwrap()
    };
    let first = token_of(&user_add(&dir, &["boss", "--role", "admin"], None));
    let (a, b) = (Server::start(&dir, &[]), Server::start(&dir, &[]));
    let second = token_of(&user(&["token", "boss"]));
    assert_ne!(first, second);
    let http = Http::new();
    let queue_page = |server: &Server, token: &str| {
        http.send(
            http.client
                .get(server.url("/queue"))
                .header("cookie", format!("fp_staff={token}")),
        )
    };
    for server in [&a, &b] {
        for t in [&first, &second] {
            let (status, body) = http.get(&server.url("/api/v1/escalations"), Some(t));
            assert_eq!(status, 200, "{body:#}");
        }
        let (status, page) = queue_page(server, &first);
        assert_eq!(status, 200);
        assert!(
            page.contains("Signed in as <strong>boss</strong>"),
            "{page}"
        );
    }

    // Disabled: nothing of boss's opens anything, on either instance; the
    // tokens are kept, so enabling brings them back.
    let disabled = user(&["disable", "boss"]);
    assert_eq!(disabled.status.code(), Some(0));
    let listed = String::from_utf8(user(&["list"]).stdout).unwrap();
    assert!(listed.contains("2       disabled"), "{listed}");
    for server in [&a, &b] {
        let (status, _) = http.get(&server.url("/api/v1/escalations"), Some(&first));
        assert_eq!(status, 401);
        let (_, page) = queue_page(server, &second);
        assert!(!page.contains("Signed in as"), "{page}");
    }
    assert_eq!(user(&["enable", "boss"]).status.code(), Some(0));
    for server in [&a, &b] {
        let (status, _) = http.get(&server.url("/api/v1/escalations"), Some(&second));
        assert_eq!(status, 200);
    }

    let revoked = user(&["revoke", "boss"]);
    assert_eq!(revoked.status.code(), Some(0));
    let said = String::from_utf8_lossy(&revoked.stdout);
    assert!(said.contains("revoked 2 token(s)"), "{said}");
    // The very next request, on either instance: the API refuses both
    // tokens, and the web sign-in is gone (the sign-in form instead).
    for server in [&a, &b] {
        for t in [&first, &second] {
            let (status, body) = http.get(&server.url("/api/v1/escalations"), Some(t));
            assert_eq!(status, 401, "{body:#}");
        }
        let (_, page) = queue_page(server, &first);
        assert!(!page.contains("Signed in as"), "{page}");
        assert!(page.contains(r#"action="/signin""#), "{page}");
    }

    let unknown = user(&["revoke", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no user named `nobody`"));
    // A new password: read from stdin, refused for nobody, and an empty one
    // is refused before anything changes.
    let passwd = |name: &str, stdin: &str| {
        use std::io::Write;
        let mut child = fixpath(dir.path())
            .args([
                "user",
                "passwd",
                name,
                "--password-stdin",
                "--db",
                &dir.db(),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let set = passwd("boss", "a new long pass phrase\n");
    assert_eq!(
        set.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    let listed = String::from_utf8(user(&["list"]).stdout).unwrap();
    assert!(listed.contains("boss  admin       -     yes"), "{listed}");
    assert_eq!(passwd("boss", "\n").status.code(), Some(2));
    assert_eq!(
        passwd("nobody", "another pass phrase\n").status.code(),
        Some(1)
    );
    for cmd in ["disable", "enable"] {
        let unknown = user(&[cmd, "nobody"]);
        assert_eq!(unknown.status.code(), Some(1), "{cmd}");
    }
    let unknown = user(&["token", "nobody"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(unknown.stdout.is_empty());
}
