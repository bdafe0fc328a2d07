//! Receivers that misbehave on purpose, for the fault tests (issue 18): a
//! small HTTP/1.1 or SMTP server on a std thread per connection whose
//! [`Mode`] says whether it answers well, slowly (after [`SLOW`]) or with
//! garbage, switchable while it runs. A unit of misbehaviour, not a server:
//! just enough of each protocol for the server's own clients (reqwest,
//! lettre), and it notes what it took so a test can count deliveries.

use serde_json::Value as Json;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a slow receiver sits on a request before it answers: far past
/// every relay's timeout (10 s).
pub const SLOW: Duration = Duration::from_secs(30);

/// How a fake receiver behaves; it can be switched while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Healthy = 0,
    /// Takes the connection and the request, then answers only after
    /// [`SLOW`] (or at once when switched to healthy meanwhile).
    Slow = 1,
    /// Answers random bytes (HTTP) or a nonsense greeting (SMTP), then hangs up.
    Garbage = 2,
}

impl Mode {
    fn of(v: u8) -> Mode {
        match v {
            1 => Mode::Slow,
            2 => Mode::Garbage,
            _ => Mode::Healthy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http,
    Smtp,
}

/// What the fake's threads share.
#[derive(Default)]
struct Shared {
    mode: AtomicU8,
    stop: AtomicBool,
    /// What was taken (answered 2xx, or 250 after DATA), one key per
    /// message: the `webhook-id`, the connector's `idempotency-key`, an RT
    /// ticket's subject, a mail's `Message-ID`.
    took: Mutex<HashSet<String>>,
    /// Requests (HTTP) or connections (SMTP) seen, however they ended.
    seen: AtomicU64,
    /// For the garbage.
    seed: AtomicU64,
}

impl Shared {
    fn mode(&self) -> Mode {
        Mode::of(self.mode.load(Ordering::Relaxed))
    }

    /// How to answer now: a slow fake waits first, for [`SLOW`] or until it
    /// is switched or stopped. `None`: stopped.
    fn behave(&self) -> Option<Mode> {
        let start = Instant::now();
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            match self.mode() {
                Mode::Slow if start.elapsed() < SLOW => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Mode::Slow => return Some(Mode::Healthy),
                m => return Some(m),
            }
        }
    }

    /// Bytes no protocol reads: never starting like `HTTP/` or a reply code.
    fn garbage(&self) -> Vec<u8> {
        let mut x = self
            .seed
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            | 1;
        let n = 64 + (x % 448) as usize;
        let mut out = Vec::with_capacity(n + 2);
        out.extend_from_slice(b"\x00\xff?");
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push(x as u8);
        }
        out.extend_from_slice(b"\r\n");
        out
    }
}

/// A receiver on 127.0.0.1 that behaves as its [`Mode`] says. Stopped on drop.
pub struct Fake {
    pub port: u16,
    shared: Arc<Shared>,
}

impl Fake {
    pub fn start(protocol: Protocol, mode: Mode) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let shared = Arc::new(Shared::default());
        shared.mode.store(mode as u8, Ordering::Relaxed);
        shared.seed.store(u64::from(port), Ordering::Relaxed);
        let s = shared.clone();
        std::thread::spawn(move || {
            while !s.stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let s = s.clone();
                        std::thread::spawn(move || {
                            let _ = conn.set_nonblocking(false);
                            let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
                            let mut conn = Conn::new(conn, s.clone());
                            match protocol {
                                Protocol::Http => serve_http(&mut conn, &s),
                                Protocol::Smtp => serve_smtp(&mut conn, &s),
                            }
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Fake { port, shared }
    }

    pub fn switch(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::Relaxed);
    }

    pub fn took(&self) -> usize {
        self.shared.took.lock().unwrap().len()
    }

    pub fn seen(&self) -> u64 {
        self.shared.seen.load(Ordering::Relaxed)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// A port that refuses connections: bound, then let go.
pub fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A connection read line by line with short timeouts, so its thread sees
/// the fake stop.
struct Conn {
    r: BufReader<TcpStream>,
    shared: Arc<Shared>,
}

impl Conn {
    fn new(c: TcpStream, shared: Arc<Shared>) -> Conn {
        Conn {
            r: BufReader::new(c),
            shared,
        }
    }

    fn write(&mut self, b: &[u8]) -> bool {
        self.r.get_mut().write_all(b).is_ok()
    }

    /// Whether a read that failed with `e` is tried again: it timed out
    /// (the socket's read timeout lets a stop be noticed) and the receiver
    /// is not stopping.
    fn read_again(&self, e: &std::io::Error) -> bool {
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) && !self.shared.stop.load(Ordering::Relaxed)
    }

    /// One line with its CRLF; `None` at the end of the connection.
    fn line(&mut self) -> Option<String> {
        let mut buf = Vec::new();
        loop {
            match self.r.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) if buf.ends_with(b"\n") => {
                    return Some(String::from_utf8_lossy(&buf).into_owned());
                }
                Ok(_) => {}
                Err(e) if self.read_again(&e) => {}
                Err(_) => return None,
            }
        }
    }

    fn exact(&mut self, n: usize) -> Option<Vec<u8>> {
        let mut out = vec![0u8; n];
        let mut got = 0;
        while got < n {
            match self.r.read(&mut out[got..]) {
                Ok(0) => return None,
                Ok(k) => got += k,
                Err(e) if self.read_again(&e) => {}
                Err(_) => return None,
            }
        }
        Some(out)
    }
}

/// Every answer a healthy HTTP fake gives, good for every caller: a webhook
/// takes any 2xx; the HTTP connector reads `/ticket/id`; Request Tracker's
/// search finds no ticket (`items`), its create gives `id`, its ticket read
/// `Creator`, its history no page.
const HEALTHY_ANSWER: &str =
    r#"{"id": 1, "items": [], "pages": 1, "Creator": {"id": "fixpath"}, "ticket": {"id": 7}}"#;

/// HTTP/1.1 with keep-alive, `content-length` bodies only (what the
/// server's clients send).
fn serve_http(conn: &mut Conn, shared: &Shared) {
    loop {
        let Some(request_line) = conn.line() else {
            return;
        };
        let mut headers = BTreeMap::new();
        loop {
            let Some(l) = conn.line() else { return };
            let l = l.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
        let len = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let Some(body) = conn.exact(len) else { return };
        shared.seen.fetch_add(1, Ordering::Relaxed);
        match shared.behave() {
            None => return,
            Some(Mode::Garbage) => {
                conn.write(&shared.garbage());
                return;
            }
            Some(_) => {}
        }
        // The message this request delivers, if it is one.
        let key = if let Some(id) = headers.get("webhook-id") {
            Some(format!("webhook {id}"))
        } else if let Some(id) = headers.get("idempotency-key") {
            Some(format!("connector {id}"))
        } else if request_line.starts_with("POST ") && request_line.contains("/REST/2.0/ticket ") {
            serde_json::from_slice::<Json>(&body)
                .ok()
                .and_then(|b| b["Subject"].as_str().map(|s| format!("rt {s}")))
        } else {
            None
        };
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{HEALTHY_ANSWER}",
            HEALTHY_ANSWER.len()
        );
        if !conn.write(answer.as_bytes()) {
            return;
        }
        if let Some(k) = key {
            shared.took.lock().unwrap().insert(k);
        }
    }
}

/// Just enough SMTP for lettre: a greeting, 250 to everything, the mail
/// after DATA up to the lone dot.
fn serve_smtp(conn: &mut Conn, shared: &Shared) {
    shared.seen.fetch_add(1, Ordering::Relaxed);
    match shared.behave() {
        None => return,
        Some(Mode::Garbage) => {
            conn.write(&shared.garbage());
            std::thread::sleep(Duration::from_millis(50));
            return;
        }
        Some(_) => {}
    }
    if !conn.write(b"220 fake.example ESMTP\r\n") {
        return;
    }
    while let Some(line) = conn.line() {
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" | "HELO" => b"250-fake.example\r\n250 8BITMIME\r\n",
            "QUIT" => {
                conn.write(b"221 bye\r\n");
                return;
            }
            "DATA" => {
                if !conn.write(b"354 go on\r\n") {
                    return;
                }
                let mut id = None;
                loop {
                    let Some(l) = conn.line() else { return };
                    if l.trim_end() == "." {
                        break;
                    }
                    if let Some(v) = l
                        .split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("message-id"))
                    {
                        id = Some(v.1.trim().to_owned());
                    }
                }
                if !conn.write(b"250 queued\r\n") {
                    return;
                }
                if let Some(id) = id {
                    shared.took.lock().unwrap().insert(id);
                }
                continue;
            }
            _ => b"250 OK\r\n",
        };
        if !conn.write(reply) {
            return;
        }
    }
}
