//! HTTP load: full customer sessions against `fixpath serve`.
//!
//! Target (issue 4, 2 cores, SQLite): at least 5,000 durable answers per
//! second at 64 concurrent sessions, with p99 answer latency under 20 ms.
//! On PostgreSQL (issue 6, one or two instances): at least 3,000 with p99
//! under 30 ms.
//!
//! PostgreSQL: `-- --db postgres://USER@HOST/DATABASE` starts the server(s)
//! on that database (an empty one: `createdb fixpath_load`), and
//! `--instances 2` starts two servers on it and splits the users between
//! them (user i drives instance i mod N), as a load balancer would.
//!
//! Run: `cargo bench --bench load` (options after `--`, e.g.
//! `cargo bench --bench load -- --users 64 --duration 20 --client-threads 1`;
//! `-- --help` lists them). Results and analysis: `benches/RESULTS-load.md`.
//!
//! What it does:
//!
//! 1. Starts the server itself: `target/release/fixpath serve --listen
//!    127.0.0.1:0 --db TEMP/db.sqlite --scripts scripts` (cargo builds the
//!    binary in the `bench` profile, i.e. release, before the run), reads
//!    `listening on http://ADDR` from its stderr, and at the end stops it
//!    with SIGTERM and removes the temporary folder. With `--url
//!    http://127.0.0.1:PORT` it drives a server that is already running
//!    instead (loopback addresses only).
//! 2. Checks the input values it will send: every `pattern:` of the scripts
//!    folder gets generated values that must match it (see [`ValueGen`]).
//! 3. Runs `--users` virtual users (default 64) on one client runtime
//!    (`--client-threads`, default 1 = tokio's current-thread runtime, so the
//!    server gets most of the CPU). Each user loops: start a `customer`
//!    session on a random script of `GET /api/v1/scripts`, answer every step
//!    until the session ends (a random answer id, never `_none`/`_escalate`
//!    unless `--builtin-rate` says so; `done` for an instruction; for an
//!    input a value of its type that matches its pattern), then start the
//!    next. A request that fails ends that session (counted by status).
//! 4. Counts only what completes inside the measured window (`--duration`,
//!    default 20 s, after `--warmup`, default 3 s). Every HTTP 200 answer is
//!    one durable answer: the server saves the step before it responds.
//!    Latencies are kept per request (µs) and sorted at the end.
//!
//! 5. Prints a summary table: answers/s, sessions/s, answer latency
//!    p50/p90/p99/p99.9/max, start latency, errors by request and status,
//!    and the CPU the server and the load generator used in the window
//!    (from `/proc`, so the shared 2 cores can be accounted for).
//!    `--timeline` adds one row per second; `--samples FILE` writes every
//!    answer's completion time and latency as CSV; `--keep-db` keeps the
//!    database, whose `SELECT sum(seq - 1) FROM sessions` must equal the
//!    "all requests" answer count (every 200 was stored).
//!
//! Bounded: each request times out after 10 s, users stop at the end of the
//! window, and a watchdog abandons the run 15 s after it.
//!
//! Run as a test (`cargo test --benches`, no `--bench` argument) it does a
//! 2-second smoke run with 8 users instead.
// A test or benchmark fails loudly by design; its shared helper modules are
// `pub` for the files that include them; it reads the wall clock freely.
#![allow(clippy::unwrap_used, unreachable_pub, clippy::disallowed_methods)]

mod loadgen;

use clap::Parser;
use loadgen::{
    Failure, Inputs, LOAD_CONFIG, REQUEST_TIMEOUT, ScriptSummary, Server, ServerOpts, SessionBody,
    answer_for, check_patterns, cpu_seconds, is_postgres, load_average, loopback_url, machine_note,
    micros, percentile, post, redact,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const WATCHDOG_SLACK: Duration = Duration::from_secs(15);
const TARGET_ANSWERS_PER_S: f64 = 5000.0;
const TARGET_P99_MS: f64 = 20.0;
/// PostgreSQL's target (issue 6): durable commits over the network stack.
const PG_TARGET_ANSWERS_PER_S: f64 = 3000.0;
const PG_TARGET_P99_MS: f64 = 30.0;

#[derive(Debug, Parser)]
#[command(
    name = "load",
    about = "Drives full customer sessions over HTTP against fixpath serve"
)]
struct Args {
    /// Concurrent virtual users (one session each at a time)
    #[arg(long, default_value_t = 64)]
    users: usize,
    /// Measured seconds (after the warm-up)
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Warm-up seconds (load runs, nothing is counted)
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    /// Client runtime threads: 1 = tokio current_thread; N > 1 = multi-thread with N workers
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Drive a running server at this loopback URL instead of starting one
    #[arg(long, value_name = "http://127.0.0.1:PORT")]
    url: Option<String>,
    /// With --url: the server's process id, to report its CPU use
    #[arg(long, value_name = "PID", requires = "url")]
    server_pid: Option<u32>,
    /// The fixpath binary to start [default: the one cargo built for this bench]
    #[arg(long, value_name = "PATH")]
    fixpath: Option<PathBuf>,
    /// The scripts folder (served, and scanned for input patterns)
    #[arg(long, value_name = "DIR")]
    scripts: Option<PathBuf>,
    /// The spawned servers' database: a postgres:// URL (an empty database) [default: SQLite
    /// in a temp dir]
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Servers to start on that database (more than 1 needs --db postgres://…); the users are
    /// split between them
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// Where the temporary database folder goes [default: the system's temp dir]
    #[arg(long, value_name = "DIR")]
    tmp: Option<PathBuf>,
    /// The spawned server's log filter (FIXPATH_LOG)
    #[arg(long, default_value = "info,sqlx=warn")]
    server_log: String,
    /// Keep the temporary database folder after the run
    #[arg(long)]
    keep_db: bool,
    /// Also print answers, p50, p99 and max latency for every second of the window
    #[arg(long)]
    timeline: bool,
    /// Write every measured answer as CSV `end_ms,latency_us` to this file
    #[arg(long, value_name = "FILE")]
    samples: Option<PathBuf>,
    /// Chance (0..1) that a question is answered `_none` or `_escalate`
    #[arg(long, default_value_t = 0.0)]
    builtin_rate: f64,
    /// Seed of the users' random choices (user i gets seed + i)
    #[arg(long, default_value_t = 0x10AD)]
    seed: u64,
    /// Passed by `cargo bench`; without it the run is a short smoke test
    #[arg(long, hide = true)]
    bench: bool,
    /// Anything else cargo or the test harness passes (filters) is ignored
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

// ---------------------------------------------------------------------------
// Measurement.

/// What one virtual user saw inside the measured window.
#[derive(Default)]
struct Stats {
    /// Latencies of the 200 answers, µs.
    answer_us: Vec<u32>,
    /// For `--timeline` and `--samples`: (ms into the window when it
    /// completed, latency µs).
    answer_at: Vec<(u32, u32)>,
    /// Latencies of the 201 starts, µs.
    start_us: Vec<u32>,
    resolved: u64,
    escalated: u64,
    /// Every 200 answer and 201 start, warm-up and stragglers included (to
    /// check against the database after a `--keep-db` run).
    all_answers: u64,
    all_starts: u64,
    /// Answers that were input values, and those of them checked by a pattern.
    inputs: u64,
    patterned: u64,
    /// `answer 409`, `start 500`, `answer io` …
    errors: BTreeMap<String, u64>,
    /// Any error at all, warm-up included (for the first messages).
    first_errors: Vec<String>,
}

impl Stats {
    fn merge(&mut self, o: Stats) {
        self.answer_us.extend(o.answer_us);
        self.answer_at.extend(o.answer_at);
        self.start_us.extend(o.start_us);
        self.resolved += o.resolved;
        self.all_answers += o.all_answers;
        self.all_starts += o.all_starts;
        self.inputs += o.inputs;
        self.patterned += o.patterned;
        self.escalated += o.escalated;
        for (k, v) in o.errors {
            *self.errors.entry(k).or_default() += v;
        }
        for e in o.first_errors {
            if self.first_errors.len() < 5 {
                self.first_errors.push(e);
            }
        }
    }
}

#[derive(Clone, Copy)]
struct Window {
    from: Instant,
    to: Instant,
}

impl Window {
    fn contains(&self, t: Instant) -> bool {
        t >= self.from && t <= self.to
    }
}

// ---------------------------------------------------------------------------
// One virtual user.

struct Shared {
    client: reqwest::Client,
    /// One per instance; user i drives `bases[i % len]`.
    bases: Vec<String>,
    scripts: Vec<String>,
    window: Window,
    builtin_rate: f64,
    timeline: bool,
    /// Sessions started by all users so far (201s, warm-up included).
    sessions_started: AtomicU64,
}

async fn virtual_user(shared: Arc<Shared>, user: usize, seed: u64) -> Stats {
    let base = shared.bases[user % shared.bases.len()].as_str();
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut inputs = Inputs::default();
    let mut stats = Stats::default();
    let w = shared.window;
    let fail = |stats: &mut Stats, what: &str, f: Failure, at: Instant| {
        let (key, msg) = match f {
            Failure::Status(s, body) => (format!("{what} {s}"), format!("{what} {s}: {body}")),
            Failure::Io(e) => (format!("{what} io"), format!("{what}: {e}")),
        };
        if w.contains(at) {
            *stats.errors.entry(key).or_default() += 1;
        }
        if stats.first_errors.len() < 3 {
            stats.first_errors.push(msg);
        }
    };
    'sessions: while Instant::now() < w.to {
        let script = &shared.scripts[rng.gen_range(0..shared.scripts.len())];
        let body = serde_json::json!({ "script": script, "channel": "customer" });
        let t0 = Instant::now();
        let url = format!("{base}/api/v1/sessions");
        let started: Result<SessionBody, _> = post(&shared.client, &url, None, &body, 201).await;
        let t1 = Instant::now();
        let mut session = match started {
            Ok(s) => s,
            Err(f) => {
                fail(&mut stats, "start", f, t1);
                // Do not spin on a server that refuses everything.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.sessions_started.fetch_add(1, Ordering::Relaxed);
        stats.all_starts += 1;
        if w.contains(t1) {
            stats.start_us.push(micros(t1 - t0));
        }
        let (Some(id), Some(token)) = (session.id.take(), session.token.take()) else {
            fail(
                &mut stats,
                "start",
                Failure::Io("no id or token".into()),
                t1,
            );
            continue;
        };
        let url = format!("{base}/api/v1/sessions/{id}/answer");
        loop {
            let step = match (session.status.as_str(), session.step.take()) {
                ("active", Some(step)) => step,
                (status, _) => {
                    if w.contains(Instant::now()) {
                        match status {
                            "resolved" => stats.resolved += 1,
                            _ => stats.escalated += 1,
                        }
                    }
                    continue 'sessions;
                }
            };
            if Instant::now() >= w.to {
                break 'sessions;
            }
            let body = answer_for(&step, &mut rng, &mut inputs, shared.builtin_rate);
            let t0 = Instant::now();
            let res: Result<SessionBody, _> =
                post(&shared.client, &url, Some(&token), &body, 200).await;
            let t1 = Instant::now();
            match res {
                Ok(next) => {
                    stats.all_answers += 1;
                    if w.contains(t1) {
                        stats.answer_us.push(micros(t1 - t0));
                        if shared.timeline {
                            let ms = (t1 - w.from).as_millis() as u32;
                            stats.answer_at.push((ms, micros(t1 - t0)));
                        }
                        if let Some(spec) = &step.input {
                            stats.inputs += 1;
                            stats.patterned += u64::from(spec.pattern.is_some());
                        }
                    }
                    session = next;
                }
                Err(f) => {
                    fail(&mut stats, "answer", f, t1);
                    continue 'sessions;
                }
            }
        }
    }
    stats
}

fn shared_bases(bases: &[String]) -> String {
    bases.join(" + ")
}

// ---------------------------------------------------------------------------

fn main() {
    let mut args = Args::parse();
    // `cargo bench --bench load FILTER` puts `--bench` after the filter.
    args.bench |= args.rest.iter().any(|a| a == "--bench");
    if !args.bench {
        // `cargo test --benches`: a smoke run, not a measurement.
        args.users = args.users.min(8);
        args.duration = args.duration.min(2.0);
        args.warmup = 0.0;
    }
    if !(0.0..=1.0).contains(&args.builtin_rate) || args.users == 0 || args.duration <= 0.0 {
        eprintln!("load: --builtin-rate is 0..1, --users and --duration are positive");
        std::process::exit(2);
    }
    let shared_db = args.db.as_deref().is_some_and(is_postgres);
    if args.instances == 0 || (args.instances > 1 && (!shared_db || args.url.is_some())) {
        eprintln!(
            "load: --instances is at least 1; more than 1 needs --db postgres://… (one \
             database the instances share) and no --url"
        );
        std::process::exit(2);
    }
    match run(&args) {
        // A missed target is a result (printed), not a failure. The smoke
        // run fails the tests on errors, or when nothing was answered.
        Ok(outcome) if args.bench || (outcome.errors == 0 && outcome.answers > 0) => {}
        Ok(_) => {
            eprintln!("load: the smoke run had errors or no answers");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("load: {e}");
            std::process::exit(1);
        }
    }
}

/// The gist of a run.
struct Outcome {
    answers: usize,
    errors: u64,
}

/// Runs the whole thing and prints the summary.
fn run(args: &Args) -> Result<Outcome, String> {
    let scripts_dir = args
        .scripts
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts"));
    let checked =
        check_patterns(&scripts_dir).map_err(|e| format!("input values would not pass:\n{e}"))?;
    let machine = machine_note();

    let mut servers = Vec::new();
    let bases = match &args.url {
        Some(url) => vec![loopback_url(url)?],
        None => {
            let mut bases = Vec::new();
            // One after the other: the first migrates, the others find the
            // schema made (they would wait on its lock anyway).
            for _ in 0..args.instances {
                let opts = ServerOpts {
                    fixpath: args.fixpath.as_deref(),
                    tmp: args.tmp.as_deref(),
                    db: args.db.as_deref(),
                    log: &args.server_log,
                    keep_db: args.keep_db,
                    config: LOAD_CONFIG,
                };
                match Server::start(&opts, &scripts_dir) {
                    Ok((s, base)) => {
                        servers.push(s);
                        bases.push(base);
                    }
                    Err(e) => {
                        for s in servers {
                            s.stop();
                        }
                        return Err(e);
                    }
                }
            }
            bases
        }
    };
    let server_pids: Vec<u32> = if servers.is_empty() {
        args.server_pid.into_iter().collect()
    } else {
        servers.iter().map(Server::pid).collect()
    };

    let runtime = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()
    }
    .map_err(|e| format!("cannot build the client runtime: {e}"))?;

    let outcome = runtime.block_on(drive(args, &bases, &server_pids));
    drop(runtime);
    let stopped: Vec<String> = servers.into_iter().map(Server::stop).collect();
    let report = outcome?;

    let client_desc = if args.client_threads <= 1 {
        "tokio current_thread (1 thread)".to_owned()
    } else {
        format!("tokio multi_thread ({} workers)", args.client_threads)
    };
    let server_desc = match &args.url {
        Some(url) => format!("already running at {url}"),
        None => format!(
            "spawned {} × {} serve, {}; {}",
            stopped.len(),
            args.fixpath.as_ref().map_or_else(
                || env!("CARGO_BIN_EXE_fixpath").to_owned(),
                |p| p.display().to_string()
            ),
            match &args.db {
                Some(url) => format!("database {}", redact(url)),
                None => "SQLite in a temp dir".to_owned(),
            },
            stopped.join("; ")
        ),
    };
    Ok(report.print(args, &machine, &client_desc, &server_desc, checked))
}

struct Report {
    stats: Stats,
    seconds: f64,
    sessions_started: u64,
    server_cpu: Option<f64>,
    client_cpu: Option<f64>,
    load_after: String,
}

async fn drive(args: &Args, bases: &[String], server_pids: &[u32]) -> Result<Report, String> {
    let base = bases[0].as_str();
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.users.max(1))
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let res = client
        .get(format!("{base}/api/v1/scripts"))
        .send()
        .await
        .map_err(|e| format!("GET /api/v1/scripts: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("GET /api/v1/scripts: {}", res.status()));
    }
    let list: Vec<ScriptSummary> = res
        .json()
        .await
        .map_err(|e| format!("GET /api/v1/scripts: {e}"))?;
    let scripts: Vec<String> = list.into_iter().map(|s| s.id).collect();
    if scripts.is_empty() {
        return Err("the server lists no customer-facing scripts".into());
    }
    eprintln!(
        "load: {} users on {} scripts, {} s warm-up + {} s measured, against {}",
        args.users,
        scripts.len(),
        args.warmup,
        args.duration,
        shared_bases(bases)
    );

    let now = Instant::now();
    let from = now + Duration::from_secs_f64(args.warmup);
    let to = from + Duration::from_secs_f64(args.duration);
    let shared = Arc::new(Shared {
        client,
        bases: bases.to_vec(),
        scripts,
        window: Window { from, to },
        builtin_rate: args.builtin_rate,
        timeline: args.timeline || args.samples.is_some(),
        sessions_started: AtomicU64::new(0),
    });
    let users: Vec<_> = (0..args.users)
        .map(|i| {
            tokio::spawn(virtual_user(
                shared.clone(),
                i,
                args.seed.wrapping_add(i as u64),
            ))
        })
        .collect();

    // CPU use over the measured window.
    tokio::time::sleep_until(from.into()).await;
    let started_at_from = shared.sessions_started.load(Ordering::Relaxed);
    let me = std::process::id();
    let servers_cpu = || -> Option<f64> {
        if server_pids.is_empty() {
            return None;
        }
        server_pids.iter().map(|&p| cpu_seconds(p)).sum()
    };
    let cpu0 = (servers_cpu(), cpu_seconds(me));
    let t0 = Instant::now();
    tokio::time::sleep_until(to.into()).await;
    let cpu1 = (servers_cpu(), cpu_seconds(me));
    let cpu_window = t0.elapsed().as_secs_f64();
    let started_at_to = shared.sessions_started.load(Ordering::Relaxed);
    let load_after = load_average();

    let mut stats = Stats::default();
    let all = futures_join(users);
    match tokio::time::timeout(WATCHDOG_SLACK, all).await {
        Ok(results) => {
            for r in results {
                stats.merge(r.map_err(|e| format!("a virtual user failed: {e}"))?);
            }
        }
        Err(_) => return Err("virtual users still running 15 s after the end; gave up".into()),
    }
    let per_s = |a: Option<f64>, b: Option<f64>| Some((b? - a?) / cpu_window);
    Ok(Report {
        stats,
        seconds: args.duration,
        sessions_started: started_at_to - started_at_from,
        server_cpu: per_s(cpu0.0, cpu1.0),
        client_cpu: per_s(cpu0.1, cpu1.1),
        load_after,
    })
}

/// Awaits every handle (no `futures` crate needed).
async fn futures_join(
    handles: Vec<tokio::task::JoinHandle<Stats>>,
) -> Vec<Result<Stats, tokio::task::JoinError>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await);
    }
    out
}

/// One row per second of the window: answers, p50, p99, max (ms).
fn print_timeline(at: &[(u32, u32)]) {
    println!();
    println!("| second | answers | p50 ms | p99 ms | max ms |");
    println!("|---|---|---|---|---|");
    for chunk in at.chunk_by(|a, b| a.0 / 1000 == b.0 / 1000) {
        let mut v: Vec<u32> = chunk.iter().map(|&(_, us)| us).collect();
        v.sort_unstable();
        println!(
            "| {} | {} | {:.2} | {:.2} | {:.2} |",
            chunk[0].0 / 1000,
            v.len(),
            percentile(&v, 50.0),
            percentile(&v, 99.0),
            percentile(&v, 100.0)
        );
    }
}

impl Report {
    /// Prints the summary.
    fn print(
        mut self,
        args: &Args,
        machine: &str,
        client: &str,
        server: &str,
        patterns: usize,
    ) -> Outcome {
        let s = &mut self.stats;
        s.answer_us.sort_unstable();
        s.start_us.sort_unstable();
        let answers = s.answer_us.len() as f64;
        let rate = answers / self.seconds;
        let ended = s.resolved + s.escalated;
        let errors: u64 = s.errors.values().sum();
        let p = |v: &[u32], q: f64| percentile(v, q);
        let p99 = p(&s.answer_us, 99.0);
        let (target_rate, target_p99) = if args.db.as_deref().is_some_and(is_postgres) {
            (PG_TARGET_ANSWERS_PER_S, PG_TARGET_P99_MS)
        } else {
            (TARGET_ANSWERS_PER_S, TARGET_P99_MS)
        };
        let met = rate >= target_rate && p99 < target_p99 && errors == 0;
        let cores =
            |c: Option<f64>| c.map_or_else(|| "n/a".to_owned(), |c| format!("{c:.2} cores"));

        println!();
        println!(
            "fixpath HTTP load ({})",
            if args.bench { "bench" } else { "smoke test" }
        );
        println!("  machine: {machine}; after the run: {}", self.load_after);
        println!(
            "  client:  {client}, {} virtual users, reqwest keep-alive",
            args.users
        );
        println!("  server:  {server}");
        println!(
            "  window:  {} s measured after {} s warm-up; {patterns} input patterns checked",
            args.duration, args.warmup
        );
        println!();
        println!("| metric | value |");
        println!("|---|---|");
        println!("| durable answers (HTTP 200) | {} |", s.answer_us.len());
        println!("| **answers/s** | **{rate:.0}** |");
        println!(
            "| sessions started/s | {:.0} |",
            self.sessions_started as f64 / self.seconds
        );
        println!(
            "| sessions ended/s (resolved / escalated) | {:.0} ({} / {}) |",
            ended as f64 / self.seconds,
            s.resolved,
            s.escalated
        );
        if ended > 0 {
            println!(
                "| answers per ended session | {:.2} |",
                answers / ended as f64
            );
        }
        println!(
            "| input answers (of them checked by a pattern) | {} ({}) |",
            s.inputs, s.patterned
        );
        println!(
            "| answer latency p50 / p90 / p99 / p99.9 / max | {:.2} / {:.2} / **{:.2}** / {:.2} / {:.2} ms |",
            p(&s.answer_us, 50.0),
            p(&s.answer_us, 90.0),
            p99,
            p(&s.answer_us, 99.9),
            p(&s.answer_us, 100.0)
        );
        println!(
            "| start latency p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
            p(&s.start_us, 50.0),
            p(&s.start_us, 99.0),
            p(&s.start_us, 100.0)
        );
        let errs = if s.errors.is_empty() {
            "none".to_owned()
        } else {
            s.errors
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("| errors (in window) | {errs} |");
        println!(
            "| all requests, warm-up included | {} starts (201), {} answers (200) |",
            s.all_starts, s.all_answers
        );
        println!(
            "| server CPU (all instances) | {} |",
            cores(self.server_cpu)
        );
        println!("| load generator CPU | {} |", cores(self.client_cpu));
        println!(
            "| target: >= {target_rate:.0} answers/s, p99 < {target_p99:.0} ms, no errors | {} |",
            match (args.bench, met) {
                (false, _) => "n/a (smoke test)",
                (true, true) => "MET",
                (true, false) => "MISSED",
            }
        );
        s.answer_at.sort_unstable();
        if let Some(path) = &args.samples {
            let mut csv = String::from("end_ms,latency_us\n");
            for (ms, us) in &s.answer_at {
                csv.push_str(&format!("{ms},{us}\n"));
            }
            if let Err(e) = std::fs::write(path, csv) {
                eprintln!("load: cannot write {}: {e}", path.display());
            }
        }
        if args.timeline {
            print_timeline(&s.answer_at);
        }
        if !s.first_errors.is_empty() {
            println!();
            println!("first errors:");
            for e in &s.first_errors {
                println!("  {e}");
            }
        }
        println!();
        Outcome {
            answers: s.answer_us.len(),
            errors,
        }
    }
}
