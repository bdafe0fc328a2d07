//! The soak's measurements (per window and kind of request, and the
//! server's memory samples) and the report printed from them.

use crate::Args;
use crate::loadgen::{cpu_seconds, percentile};
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Start,
    Answer,
    Back,
    Escalate,
    Queue,
    Claim,
    Case,
    Reply,
    Message,
    Session,
    Resolve,
    Further,
    Metrics,
}

const KINDS: usize = 13;

impl Kind {
    const ALL: [Kind; KINDS] = [
        Kind::Start,
        Kind::Answer,
        Kind::Back,
        Kind::Escalate,
        Kind::Queue,
        Kind::Claim,
        Kind::Case,
        Kind::Reply,
        Kind::Message,
        Kind::Session,
        Kind::Resolve,
        Kind::Further,
        Kind::Metrics,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::Start => "start",
            Kind::Answer => "answer",
            Kind::Back => "back",
            Kind::Escalate => "escalate",
            Kind::Queue => "queue",
            Kind::Claim => "claim",
            Kind::Case => "case",
            Kind::Reply => "reply",
            Kind::Message => "message",
            Kind::Session => "session",
            Kind::Resolve => "resolve",
            Kind::Further => "further",
            Kind::Metrics => "metrics",
        }
    }

    /// The request, for the mix table.
    fn request(self) -> &'static str {
        match self {
            Kind::Start => "customer: POST /api/v1/sessions",
            Kind::Answer => "customer: POST …/sessions/{id}/answer",
            Kind::Back => "customer: POST …/sessions/{id}/back",
            Kind::Escalate => "customer: POST …/sessions/{id}/escalate",
            Kind::Queue => "specialist: GET /api/v1/escalations?status=open&limit=25",
            Kind::Claim => "specialist: POST …/escalations/{id}/claim",
            Kind::Case => "specialist: GET …/escalations/{id}",
            Kind::Reply => "specialist: POST …/escalations/{id}/reply",
            Kind::Message => "customer: POST …/sessions/{id}/message",
            Kind::Session => "customer: GET …/sessions/{id}",
            Kind::Resolve => "specialist: POST …/escalations/{id}/resolve",
            Kind::Further => "specialist: POST …/escalations/{id}/escalate",
            Kind::Metrics => "monitoring: GET /metrics (with --scrape)",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One kind of request in one window.
#[derive(Debug, Default, Clone)]
struct Cell {
    /// Latencies of the wanted answers, µs.
    us: Vec<u32>,
    /// Refusals that are a normal outcome (a claim that lost a race).
    expected: u64,
    errors: u64,
}

impl Cell {
    fn add(&mut self, o: &Cell) {
        self.us.extend_from_slice(&o.us);
        self.expected += o.expected;
        self.errors += o.errors;
    }

    fn requests(&self) -> u64 {
        self.us.len() as u64 + self.expected + self.errors
    }

    /// Sorts, then (p50, p99, max) in ms.
    fn percentiles(&mut self) -> (f64, f64, f64) {
        self.us.sort_unstable();
        (
            percentile(&self.us, 50.0),
            percentile(&self.us, 99.0),
            percentile(&self.us, 100.0),
        )
    }
}

type Row = [Cell; KINDS];

/// Every request's outcome, by window (`every` long, from `start`).
pub struct Recorder {
    start: Instant,
    every: Duration,
    rows: Mutex<Vec<Row>>,
    first_errors: Mutex<Vec<String>>,
}

impl Recorder {
    pub fn new(start: Instant, every: Duration, windows: usize) -> Recorder {
        Recorder {
            start,
            every,
            rows: Mutex::new(vec![Row::default(); windows]),
            first_errors: Mutex::new(Vec::new()),
        }
    }

    fn cell<R>(&self, kind: Kind, at: Instant, f: impl FnOnce(&mut Cell) -> R) -> R {
        let mut rows = self.rows.lock().unwrap();
        let w = (at.saturating_duration_since(self.start).as_secs_f64() / self.every.as_secs_f64())
            as usize;
        // A request in flight at the end counts in the last window.
        let last = rows.len() - 1;
        f(&mut rows[w.min(last)][kind.index()])
    }

    pub fn ok(&self, kind: Kind, at: Instant, us: u32) {
        self.cell(kind, at, |c| c.us.push(us));
    }

    pub fn expected(&self, kind: Kind, at: Instant, _us: u32) {
        self.cell(kind, at, |c| c.expected += 1);
    }

    pub fn error(&self, kind: Kind, at: Instant, us: u32, what: String) {
        self.cell(kind, at, |c| c.errors += 1);
        let mut first = self.first_errors.lock().unwrap();
        if first.len() < 10 {
            let t = at.saturating_duration_since(self.start).as_secs_f64();
            let what: String = what.chars().take(300).collect();
            first.push(format!(
                "{t:.1} s {} ({} ms): {what}",
                kind.name(),
                us / 1000
            ));
        }
    }
}

/// The server process and its database at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Seconds since the start.
    pub t: f64,
    pub rss_kib: Option<u64>,
    pub hwm_kib: Option<u64>,
    pub threads: Option<u64>,
    pub fds: Option<usize>,
    pub cpu_s: Option<f64>,
    /// db.sqlite with its -wal and -shm, or the PostgreSQL database's size.
    pub db_bytes: u64,
    /// Cases escalated and not yet resolved.
    pub open_cases: u64,
}

impl Sample {
    pub fn read(pid: u32, db: &Db, start: Instant, open_cases: u64) -> Sample {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| -> Option<u64> {
            let line = status.lines().find(|l| l.starts_with(name))?;
            line[name.len()..].split_whitespace().next()?.parse().ok()
        };
        let db_bytes = db.bytes();
        Sample {
            t: start.elapsed().as_secs_f64(),
            rss_kib: field("VmRSS:"),
            hwm_kib: field("VmHWM:"),
            threads: field("Threads:"),
            fds: std::fs::read_dir(format!("/proc/{pid}/fd"))
                .ok()
                .map(Iterator::count),
            cpu_s: cpu_seconds(pid),
            db_bytes,
            open_cases,
        }
    }
}

/// The server's database, for its size.
#[derive(Debug, Clone)]
pub enum Db {
    /// db.sqlite in the server's folder.
    Sqlite(PathBuf),
    /// A postgres:// URL, its size read with `psql` (0 when that fails).
    Postgres(String),
}

impl Db {
    /// What `fixpath user add --db` takes.
    pub fn arg(&self) -> &OsStr {
        match self {
            Db::Sqlite(path) => path.as_os_str(),
            Db::Postgres(url) => OsStr::new(url),
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Db::Sqlite(path) => ["", "-wal", "-shm"]
                .iter()
                .filter_map(|s| {
                    let mut p = path.as_os_str().to_owned();
                    p.push(s);
                    std::fs::metadata(p).ok().map(|m| m.len())
                })
                .sum(),
            Db::Postgres(url) => Command::new("psql")
                .args([url.as_str(), "-Atqc"])
                .arg("SELECT pg_database_size(current_database())")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0),
        }
    }
}

/// Least-squares slope of y over x, and how many points it used.
fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 3 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "?".into(), |v| v.to_string())
}

/// Merges rows `from..to` into one (all kinds kept apart).
fn merge(rows: &[Row]) -> Row {
    let mut out = Row::default();
    for r in rows {
        for (o, c) in out.iter_mut().zip(r) {
            o.add(c);
        }
    }
    out
}

/// Every kind of a row as one cell.
fn all(row: &Row) -> Cell {
    let mut out = Cell::default();
    for c in row {
        out.add(c);
    }
    out
}

/// Prints the report; the number of errors.
pub fn print(args: &Args, machine: &str, server: &str, rec: &Recorder, samples: &[Sample]) -> u64 {
    let rows = rec.rows.lock().unwrap().clone();
    let every = rec.every.as_secs_f64();
    let mut total = merge(&rows);
    let errors: u64 = total.iter().map(|c| c.errors).sum();
    let requests: u64 = total.iter().map(Cell::requests).sum();

    println!();
    println!(
        "fixpath soak ({})",
        if args.bench { "bench" } else { "smoke test" }
    );
    println!("  machine: {machine}");
    println!(
        "  client:  tokio current_thread, {} customers (think 0-{} ms before each request, back \
         {} a step, escalate in {} of sessions) and {} specialists (tier 4; escalate further {} \
         of cases below tier 4); reqwest keep-alive",
        args.customers,
        2 * args.think_ms,
        args.back_rate,
        args.escalate_rate,
        args.specialists,
        args.further_rate
    );
    let db = args.db.as_deref().map_or_else(
        || "SQLite in a temp dir".to_owned(),
        |url| format!("--db {url}"),
    );
    println!(
        "  server:  {} serve, {db}, log `{}`; {server}",
        crate::loadgen::fixpath_bin(args.fixpath.as_deref()).display(),
        args.server_log
    );
    println!(
        "  run:     {} s, {} windows of {every} s; RSS slope after {} s",
        rows.len() as f64 * every,
        rows.len(),
        args.warmup
    );

    println!();
    println!("| kind | request | count | share | expected | errors | p50 ms | p99 ms | max ms |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for k in Kind::ALL {
        let c = &mut total[k.index()];
        if c.requests() == 0 {
            // `metrics` without --scrape; `further` with --further-rate 0.
            continue;
        }
        let (p50, p99, max) = c.percentiles();
        println!(
            "| {} | {} | {} | {:.1} % | {} | {} | {p50:.2} | {p99:.2} | {max:.2} |",
            k.name(),
            k.request(),
            c.requests(),
            100.0 * c.requests() as f64 / requests.max(1) as f64,
            c.expected,
            c.errors
        );
    }
    let mut everything = all(&total);
    let (p50, p99, max) = everything.percentiles();
    println!(
        "| **all** | | **{requests}** | | {} | **{errors}** | {p50:.2} | {p99:.2} | {max:.2} |",
        everything.expected
    );

    // Per window: the sample at its end.
    println!();
    println!(
        "| t s | requests | req/s | errors | p50 ms | p99 ms | answer p99 | queue p99 | RSS MiB | \
         threads | fds | server CPU | DB MiB | open cases |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (i, row) in rows.iter().enumerate() {
        let mut a = all(row);
        let (p50, p99, _) = a.percentiles();
        let ap99 = row[Kind::Answer.index()].clone().percentiles().1;
        let qp99 = row[Kind::Queue.index()].clone().percentiles().1;
        let (s0, s1) = (samples.get(i), samples.get(i + 1));
        let cpu = match (s0.and_then(|s| s.cpu_s), s1.and_then(|s| s.cpu_s)) {
            (Some(a), Some(b)) => format!("{:.2}", (b - a) / every),
            _ => "?".into(),
        };
        println!(
            "| {:.0} | {} | {:.0} | {} | {p50:.2} | {p99:.2} | {ap99:.2} | {qp99:.2} | {} | {} | {} \
             | {cpu} | {} | {} |",
            (i + 1) as f64 * every,
            a.requests(),
            a.requests() as f64 / every,
            a.errors,
            mib(s1.and_then(|s| s.rss_kib)),
            opt(s1.and_then(|s| s.threads)),
            opt(s1.and_then(|s| s.fds)),
            s1.map_or_else(
                || "?".into(),
                |s| format!("{:.1}", s.db_bytes as f64 / 1048576.0)
            ),
            opt(s1.map(|s| s.open_cases)),
        );
    }

    // Per minute (or per window, on a run under two minutes).
    let per = ((60.0 / every).round() as usize).max(1);
    let (group, unit) = if rows.len() >= 2 * per {
        (per, "minute")
    } else {
        (1, "window")
    };
    let groups: Vec<Row> = rows.chunks(group).map(merge).collect();
    let shown = [
        Kind::Start,
        Kind::Answer,
        Kind::Back,
        Kind::Escalate,
        Kind::Queue,
        Kind::Claim,
        Kind::Reply,
        Kind::Resolve,
    ];
    println!();
    let mut head = format!("| {unit} | requests | req/s | errors | p50 ms | p99 ms |");
    let mut rule = String::from("|---:|---:|---:|---:|---:|---:|");
    for k in shown {
        let _ = write!(head, " {} p99 |", k.name());
        rule.push_str("---:|");
    }
    println!("{head} RSS MiB | DB MiB |");
    println!("{rule}---:|---:|");
    for (g, row) in groups.iter().enumerate() {
        let mut a = all(row);
        let (p50, p99, _) = a.percentiles();
        let mut line = format!(
            "| {} | {} | {:.0} | {} | {p50:.2} | {p99:.2} |",
            g + 1,
            a.requests(),
            a.requests() as f64 / (group as f64 * every),
            a.errors
        );
        for k in shown {
            let _ = write!(line, " {:.2} |", row[k.index()].clone().percentiles().1);
        }
        let end = samples.get(((g + 1) * group).min(samples.len().saturating_sub(1)));
        println!(
            "{line} {} | {} |",
            mib(end.and_then(|s| s.rss_kib)),
            end.map_or_else(
                || "?".into(),
                |s| format!("{:.1}", s.db_bytes as f64 / 1048576.0)
            )
        );
    }

    // Memory.
    let after: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.t >= args.warmup - 0.5)
        .filter_map(|s| Some((s.t / 60.0, s.rss_kib? as f64)))
        .collect();
    let half = after.len() / 2;
    let show = |s: Option<f64>| s.map_or_else(|| "n/a".into(), |s| format!("{s:+.1} KiB/min"));
    let fit = slope(&after);
    println!();
    println!(
        "RSS: {} MiB at the start, {} MiB after the warm-up, {} MiB at the end, {} MiB peak \
         (VmHWM)",
        mib(samples.first().and_then(|s| s.rss_kib)),
        mib(after.first().map(|p| p.1 as u64)),
        mib(samples.last().and_then(|s| s.rss_kib)),
        mib(samples.last().and_then(|s| s.hwm_kib)),
    );
    println!(
        "RSS slope after {} s (least squares over {} samples): **{}** ({}/h); first half {}, \
         second half {}",
        args.warmup,
        after.len(),
        show(fit),
        fit.map_or_else(
            || "n/a".into(),
            |s| format!("{:+.1} MiB", s * 60.0 / 1024.0)
        ),
        show(slope(&after[..half])),
        show(slope(&after[half..])),
    );

    // Latency: the first against the last group.
    if let (Some(first), Some(last)) = (groups.first(), groups.last()) {
        println!();
        println!("| p99 ms | first {unit} | last {unit} | last / first |");
        println!("|---|---:|---:|---:|");
        let line = |name: &str, mut a: Cell, mut b: Cell| {
            let (x, y) = (a.percentiles().1, b.percentiles().1);
            println!("| {name} | {x:.2} | {y:.2} | {:.2} |", y / x);
        };
        line("all", all(first), all(last));
        for k in Kind::ALL {
            let (a, b) = (&first[k.index()], &last[k.index()]);
            if !a.us.is_empty() && !b.us.is_empty() {
                line(k.name(), a.clone(), b.clone());
            }
        }
    }

    let first = rec.first_errors.lock().unwrap();
    if !first.is_empty() {
        println!();
        println!("first errors:");
        for e in first.iter() {
            println!("  {e}");
        }
    }
    println!();
    errors
}

/// `windows.csv` (one line per window and kind) and `samples.csv`.
pub fn write_csv(dir: &Path, rec: &Recorder, samples: &[Sample]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let every = rec.every.as_secs_f64();
    let mut w = String::from("t_end_s,kind,requests,expected,errors,p50_ms,p99_ms,max_ms\n");
    for (i, row) in rec.rows.lock().unwrap().iter().enumerate() {
        for k in Kind::ALL {
            let mut c = row[k.index()].clone();
            let (p50, p99, max) = c.percentiles();
            let _ = writeln!(
                w,
                "{},{},{},{},{},{p50:.3},{p99:.3},{max:.3}",
                (i + 1) as f64 * every,
                k.name(),
                c.requests(),
                c.expected,
                c.errors
            );
        }
    }
    std::fs::write(dir.join("windows.csv"), w)?;
    let mut s = String::from("t_s,rss_kib,hwm_kib,threads,fds,cpu_s,db_bytes,open_cases\n");
    for x in samples {
        let _ = writeln!(
            s,
            "{:.1},{},{},{},{},{},{},{}",
            x.t,
            opt(x.rss_kib),
            opt(x.hwm_kib),
            opt(x.threads),
            opt(x.fds),
            x.cpu_s.map_or_else(|| "?".into(), |c| format!("{c:.2}")),
            x.db_bytes,
            x.open_cases
        );
    }
    std::fs::write(dir.join("samples.csv"), s)
}
