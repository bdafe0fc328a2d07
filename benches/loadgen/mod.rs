//! What the HTTP load generators (`load`, `soak`) share: the API's shapes
//! as far as they need them, the requests, the answers they give, and the
//! server they start and watch.
// Each bench uses a part of this module.
#![allow(dead_code)]

mod values;

pub use values::{Inputs, check_patterns};

use rand::Rng;
use rand::rngs::SmallRng;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const SERVER_START_TIMEOUT: Duration = Duration::from_secs(60);
const SERVER_STOP_TIMEOUT: Duration = Duration::from_secs(15);

// ---------------------------------------------------------------------------
// The API's shapes, as far as the load needs them.

#[derive(Debug, Deserialize)]
pub struct ScriptSummary {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct SessionBody {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    pub status: String,
    #[serde(default)]
    pub step: Option<StepBody>,
    /// Once the session escalated: the case's id (`esc_…`).
    #[serde(default)]
    pub escalation: Option<EscalationRef>,
}

#[derive(Debug, Deserialize)]
pub struct EscalationRef {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct StepBody {
    pub seq: u32,
    pub kind: String,
    #[serde(default)]
    pub answers: Vec<AnswerRef>,
    #[serde(default)]
    pub input: Option<InputSpec>,
}

#[derive(Debug, Deserialize)]
pub struct AnswerRef {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub struct InputSpec {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default = "yes")]
    pub required: bool,
}

fn yes() -> bool {
    true
}

/// Micro-seconds, saturated to u32 (71 minutes).
pub fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}

pub fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

/// Why a request did not give what was wanted.
pub enum Failure {
    Status(u16, String),
    Io(String),
}

/// POSTs `body` (with a bearer `token`), wants status `want` and a JSON
/// body of type `T`.
pub async fn post<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    token: Option<&str>,
    body: &serde_json::Value,
    want: u16,
) -> Result<T, Failure> {
    let mut req = client.post(url).json(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    finish(req, want).await
}

/// GETs `url` (with a bearer `token`), wants 200 and a JSON body of type `T`.
pub async fn get<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    token: Option<&str>,
) -> Result<T, Failure> {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    finish(req, 200).await
}

async fn finish<T: DeserializeOwned>(
    req: reqwest::RequestBuilder,
    want: u16,
) -> Result<T, Failure> {
    let res = req.send().await.map_err(|e| Failure::Io(e.to_string()))?;
    let status = res.status().as_u16();
    let bytes = res.bytes().await.map_err(|e| Failure::Io(e.to_string()))?;
    if status != want {
        return Err(Failure::Status(
            status,
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned(),
        ));
    }
    serde_json::from_slice(&bytes).map_err(|e| Failure::Io(format!("bad JSON: {e}")))
}

/// The body answering `step`: `{seq, value}` for an input, else `{seq, answer}`.
pub fn answer_for(
    step: &StepBody,
    rng: &mut SmallRng,
    inputs: &mut Inputs,
    builtin_rate: f64,
) -> serde_json::Value {
    let builtin: Vec<&str> = step
        .answers
        .iter()
        .map(|a| a.id.as_str())
        .filter(|id| id.starts_with('_'))
        .collect();
    if builtin_rate > 0.0 && !builtin.is_empty() && rng.gen_bool(builtin_rate.min(1.0)) {
        let id = builtin[rng.gen_range(0..builtin.len())];
        return serde_json::json!({ "seq": step.seq, "answer": id });
    }
    if let Some(spec) = &step.input {
        let value = inputs.value(spec, rng);
        return serde_json::json!({ "seq": step.seq, "value": value });
    }
    let own: Vec<&str> = step
        .answers
        .iter()
        .map(|a| a.id.as_str())
        .filter(|id| !id.starts_with('_'))
        .collect();
    let id = if own.is_empty() {
        if step.kind == "say" { "done" } else { "_none" }
    } else {
        own[rng.gen_range(0..own.len())]
    };
    serde_json::json!({ "seq": step.seq, "answer": id })
}

/// How to start a server: the binary, where its database goes, its
/// configuration file's text.
pub struct ServerOpts<'a> {
    /// The fixpath binary [default: the one cargo built for the bench].
    pub fixpath: Option<&'a Path>,
    /// Where the temporary folder goes [default: the system's temp dir].
    pub tmp: Option<&'a Path>,
    /// A postgres:// URL [default: SQLite in the temporary folder].
    pub db: Option<&'a str>,
    /// FIXPATH_LOG.
    pub log: &'a str,
    /// Keep the temporary folder after the stop.
    pub keep_db: bool,
    /// The `--config` file's text.
    pub config: &'a str,
}

/// Every virtual user starts its sessions anonymously from this one
/// address: the server's per-address limit on anonymous starts (60 a
/// minute by default) is raised to its maximum for the run.
pub const LOAD_CONFIG: &str = "[limits]\nsessions_per_minute = 100000\n";

/// The fixpath binary: the one given, else the one cargo built for the bench.
pub fn fixpath_bin(given: Option<&Path>) -> PathBuf {
    given.map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_fixpath")),
        Path::to_path_buf,
    )
}

pub struct Server {
    child: Child,
    dir: PathBuf,
    keep: bool,
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    pub fn start(opts: &ServerOpts<'_>, scripts: &Path) -> Result<(Server, String), String> {
        let bin = fixpath_bin(opts.fixpath);
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = opts
            .tmp
            .map_or_else(std::env::temp_dir, Path::to_path_buf)
            .join(format!("fixpath-load-{}-{stamp}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let db = match opts.db {
            Some(url) => std::ffi::OsString::from(url),
            None => dir.join("db.sqlite").into_os_string(),
        };
        let config = dir.join("load.toml");
        std::fs::write(&config, opts.config).map_err(|e| format!("{}: {e}", config.display()))?;
        let mut cmd = Command::new(&bin);
        cmd.arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--db")
            .arg(&db)
            .arg("--scripts")
            .arg(scripts)
            .env("FIXPATH_LOG", opts.log)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for var in [
            "FIXPATH_CONFIG",
            "FIXPATH_WEBHOOKS",
            "FIXPATH_WEBHOOK_SECRET",
            "FIXPATH_LOG_FORMAT",
            "RUST_LOG",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        {
            let log = log.clone();
            // Drains the server's stderr for its whole life (a full pipe
            // would block it); keeps the last lines for error reports.
            std::thread::spawn(move || {
                let mut tx = Some(tx);
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(at) = line.find("listening on http://")
                        && let Some(t) = tx.take()
                    {
                        let addr = line[at + "listening on http://".len()..]
                            .split_whitespace()
                            .next()
                            .unwrap_or("")
                            .to_owned();
                        let _ = t.send(addr);
                    }
                    let mut l = log.lock().unwrap_or_else(|e| e.into_inner());
                    l.push(line);
                    if l.len() > 200 {
                        l.drain(..100);
                    }
                }
            });
        }
        let mut server = Server {
            child,
            dir,
            keep: opts.keep_db,
            log,
        };
        match rx.recv_timeout(SERVER_START_TIMEOUT) {
            Ok(addr) if !addr.is_empty() => Ok((server, format!("http://{addr}"))),
            _ => {
                let _ = server.child.kill();
                let _ = server.child.wait();
                Err(format!(
                    "the server did not say `listening on`; its log:\n{}",
                    server.log_tail()
                ))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The temporary folder (the SQLite database is `db.sqlite` in it).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn log_tail(&self) -> String {
        let l = self.log.lock().unwrap_or_else(|e| e.into_inner());
        l[l.len().saturating_sub(20)..].join("\n")
    }

    /// SIGTERM, then wait (a clean stop exits 0); SIGKILL if it hangs.
    pub fn stop(mut self) -> String {
        let pid = self.pid().to_string();
        let _ = Command::new("kill")
            .args(["-TERM", &pid])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + SERVER_STOP_TIMEOUT;
        let outcome = loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => break "stopped cleanly (exit 0)".into(),
                Ok(Some(status)) => break format!("stopped: {status}\n{}", self.log_tail()),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break "did not stop after SIGTERM; killed".into();
                }
            }
        };
        if self.keep {
            format!(
                "{outcome}; database kept: {}",
                self.dir.join("db.sqlite").display()
            )
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
            outcome
        }
    }
}

/// utime + stime of a process (all threads), seconds; Linux only.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // USER_HZ is 100 on every Linux this runs on.
    Some(ticks / 100.0)
}

pub fn loopback_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("--url must start with http://")?;
    let hostport = rest.split('/').next().unwrap_or("");
    let host = if let Some(h) = hostport.strip_prefix('[') {
        h.split(']').next().unwrap_or("")
    } else {
        hostport.rsplit_once(':').map_or(hostport, |(h, _)| h)
    };
    let ok = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !ok {
        return Err(format!(
            "--url must be a loopback address (127.0.0.1), not `{host}`"
        ));
    }
    Ok(format!("http://{hostport}"))
}

pub fn is_postgres(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((auth, host)) if auth.contains(':') => {
                let user = auth.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

pub fn machine_note() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPUs ({model}), load average {}", load_average())
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}
