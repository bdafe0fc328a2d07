//! Soak: a long run of a realistic mix against `fixpath serve`, watching
//! the server's memory and the latency over time (issue 18).
//!
//! Run: `cargo bench --bench soak` (10 minutes; `-- --duration 60` or
//! `FIXPATH_SOAK_SECS=60` for a short one; `-- --help` lists the options).
//! Results: `benches/RESULTS-soak.md`.
//!
//! It starts the server itself (the `load` bench's [`loadgen::Server`]:
//! release build, SQLite in a temp dir unless `--db`), makes `--specialists` tier-4 users
//! with `fixpath user add`, and runs two kinds of virtual users on one
//! current-thread client runtime:
//!
//! - **customers** (`--customers`, default 32) start a session on a random
//!   script and walk it: mostly answers (as `load` gives them), sometimes
//!   `back` (`--back-rate` per step, at most 3 a session), and in
//!   `--escalate-rate` of the sessions an escalation at a random step (with
//!   an e-mail address half the time). Sessions also end in escalations of
//!   their own. A customer waits `--think-ms` (0 to twice that, at random)
//!   before each request, so the load is steady rather than flat out.
//! - **specialists** read the queue's first page of open cases, pick one
//!   (specialist i the i-th, when there are that many), claim it, read it, reply asking the customer (`wait`), write the
//!   customer's answer with the session's own token (as the customer
//!   would), reread it as the customer, reply again, and resolve it, or in
//!   `--further-rate` of the cases below tier 4, escalate it further instead
//!   (it comes back to the queue a tier higher).
//!
//! Every `--sample-every` seconds (10) it reads the server's VmRSS, threads
//! and open files from `/proc`, its CPU time and the database's size; every
//! request's latency is kept per kind and per window. At the end it prints
//! per-window and per-minute tables, the per-kind figures, the RSS slope
//! (least squares over the samples after `--warmup`, KiB/min) and p99 of the
//! first against the last minute. It exits 1 on any error: a non-2xx that is
//! not an expected outcome (a claim that lost a race to another specialist
//! is expected: 409 `claimed_by_other` or `escalation_resolved`), a
//! transport error, or a body that does not parse.
//!
//! PostgreSQL: `-- --db postgres://USER@HOST/DATABASE` runs the server on
//! that database (an empty one: `createdb fixpath_soak`); the database's
//! size is then read with `psql`.
//!
//! Run as a test (`cargo test --benches`, no `--bench`): a 6-second smoke
//! run with a few users.
#![allow(clippy::unwrap_used, unreachable_pub, clippy::disallowed_methods)]

mod loadgen;
#[path = "soak/report.rs"]
mod report;

use clap::Parser;
use loadgen::{
    Failure, Inputs, LOAD_CONFIG, REQUEST_TIMEOUT, ScriptSummary, Server, ServerOpts, SessionBody,
    answer_for, check_patterns, fixpath_bin, get, machine_note, micros, post,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use report::{Db, Kind, Recorder, Sample};
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(
    name = "soak",
    about = "A long run of a realistic mix against fixpath serve: memory and latency over time"
)]
pub struct Args {
    /// Seconds to run
    #[arg(long, env = "FIXPATH_SOAK_SECS", default_value_t = 600.0)]
    pub duration: f64,
    /// Seconds between samples of the server's memory (and the windows of the tables)
    #[arg(long, default_value_t = 10.0)]
    pub sample_every: f64,
    /// Seconds at the start left out of the RSS slope (caches filling, the database growing
    /// its first pages)
    #[arg(long, default_value_t = 60.0)]
    pub warmup: f64,
    /// Customers walking sessions at once
    #[arg(long, default_value_t = 32)]
    pub customers: usize,
    /// Specialists working the queue at once (each its own user and token); enough to keep up
    /// with the escalations, so that open cases do not pile up
    #[arg(long, default_value_t = 8)]
    pub specialists: usize,
    /// A customer's mean pause before each request, ms (0 to twice this, at random)
    #[arg(long, default_value_t = 40)]
    pub think_ms: u64,
    /// Chance per step that a customer goes back one answer (when there is one)
    #[arg(long, default_value_t = 0.1)]
    pub back_rate: f64,
    /// Chance per session that the customer escalates at a random step
    #[arg(long, default_value_t = 0.15)]
    pub escalate_rate: f64,
    /// Chance per case below tier 4 that the specialist escalates it further
    #[arg(long, default_value_t = 0.1)]
    pub further_rate: f64,
    /// Read `/metrics` every this many seconds, as a Prometheus would [default: never]
    #[arg(long, value_name = "SECS")]
    pub scrape: Option<f64>,
    /// The fixpath binary to start [default: the one cargo built for this bench]
    #[arg(long, value_name = "PATH")]
    pub fixpath: Option<PathBuf>,
    /// The scripts folder
    #[arg(long, value_name = "DIR")]
    pub scripts: Option<PathBuf>,
    /// A postgres:// URL of an empty database (`createdb fixpath_soak`) [default: SQLite in the
    /// temporary folder]; its size is read with `psql`
    #[arg(long, value_name = "URL")]
    pub db: Option<String>,
    /// Where the temporary database folder goes [default: the system's temp dir]
    #[arg(long, value_name = "DIR")]
    pub tmp: Option<PathBuf>,
    /// The spawned server's log filter (FIXPATH_LOG)
    #[arg(long, default_value = "info,sqlx=warn")]
    pub server_log: String,
    /// Keep the temporary database folder after the run
    #[arg(long)]
    pub keep_db: bool,
    /// Write `windows.csv` (per window and kind) and `samples.csv` (the memory samples) here
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,
    /// Seed of the users' random choices (user i gets seed + i)
    #[arg(long, default_value_t = 0x50A4)]
    pub seed: u64,
    /// Passed by `cargo bench`; without it the run is a short smoke test
    #[arg(long, hide = true)]
    pub bench: bool,
    /// Anything else cargo or the test harness passes (filters) is ignored
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub rest: Vec<String>,
}

fn main() {
    let mut args = Args::parse();
    args.bench |= args.rest.iter().any(|a| a == "--bench");
    if !args.bench {
        // `cargo test --benches`: a smoke run, not a measurement.
        args.duration = args.duration.min(6.0);
        args.sample_every = 2.0;
        args.warmup = 2.0;
        args.customers = args.customers.min(4);
        args.specialists = args.specialists.min(2);
    }
    let rates = [args.back_rate, args.escalate_rate, args.further_rate];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r))
        || args.customers == 0
        || args.specialists == 0
        || args.sample_every <= 0.0
        || args.duration < args.sample_every
    {
        eprintln!(
            "soak: the rates are 0..1, --customers and --specialists at least 1, \
             --duration at least --sample-every (> 0)"
        );
        std::process::exit(2);
    }
    match run(&args) {
        Ok(0) => {}
        Ok(errors) => {
            eprintln!("soak: {errors} errors (see above)");
            std::process::exit(1);
        }
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs it all and prints the report; the number of errors.
fn run(args: &Args) -> Result<u64, String> {
    let scripts_dir = args
        .scripts
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts"));
    check_patterns(&scripts_dir).map_err(|e| format!("input values would not pass:\n{e}"))?;
    let machine = machine_note();
    let opts = ServerOpts {
        fixpath: args.fixpath.as_deref(),
        tmp: args.tmp.as_deref(),
        db: args.db.as_deref(),
        log: &args.server_log,
        keep_db: args.keep_db,
        config: LOAD_CONFIG,
    };
    let (server, base) = Server::start(&opts, &scripts_dir)?;
    let db = args
        .db
        .clone()
        .map_or_else(|| Db::Sqlite(server.dir().join("db.sqlite")), Db::Postgres);
    let outcome = specialist_tokens(args, &db).and_then(|tokens| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot build the client runtime: {e}"))?;
        runtime.block_on(drive(args, &base, tokens, server.pid(), &db))
    });
    let stopped = server.stop();
    let (recorder, samples) = outcome?;
    let errors = report::print(args, &machine, &stopped, &recorder, &samples);
    if let Some(dir) = &args.csv {
        report::write_csv(dir, &recorder, &samples)
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    Ok(errors)
}

/// One specialist user per worker, tier 4 (every case), by `fixpath user
/// add` on the server's database; their API tokens.
fn specialist_tokens(args: &Args, db: &Db) -> Result<Vec<String>, String> {
    let bin = fixpath_bin(args.fixpath.as_deref());
    (0..args.specialists)
        .map(|i| {
            let out = Command::new(&bin)
                .args(["user", "add", &format!("soak-{i}"), "--role", "specialist"])
                .args(["--tier", "4", "--db"])
                .arg(db.arg())
                .env_remove("FIXPATH_CONFIG")
                .env_remove("FIXPATH_DB")
                .output()
                .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
            let stdout = String::from_utf8_lossy(&out.stdout);
            match stdout.lines().last() {
                Some(token) if out.status.success() && !token.trim().is_empty() => {
                    Ok(token.trim().to_owned())
                }
                _ => Err(format!(
                    "fixpath user add: {}\n{stdout}{}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                )),
            }
        })
        .collect()
}

/// A page of the queue, as far as the specialists need it.
#[derive(Debug, Deserialize)]
struct Page {
    items: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    id: String,
    tier: u8,
}

/// What every virtual user shares.
struct Shared {
    client: reqwest::Client,
    base: String,
    scripts: Vec<String>,
    end: Instant,
    recorder: Recorder,
    /// The customers' side of every unresolved case they escalated: the
    /// escalation id → (session id, session token), so that a specialist
    /// can write the customer's answer as the customer.
    customers: Mutex<HashMap<String, (String, String)>>,
    /// Sessions that ended escalated, and cases resolved.
    escalated: AtomicU64,
    resolved: AtomicU64,
}

impl Shared {
    fn running(&self) -> bool {
        Instant::now() < self.end
    }

    /// Times one request and records it under `kind`.
    async fn timed<T>(
        &self,
        kind: Kind,
        req: impl std::future::Future<Output = Result<T, Failure>>,
    ) -> Option<T> {
        let t0 = Instant::now();
        let res = req.await;
        let t1 = Instant::now();
        let us = micros(t1 - t0);
        match res {
            Ok(v) => {
                self.recorder.ok(kind, t1, us);
                Some(v)
            }
            Err(Failure::Status(409, body))
                if kind == Kind::Claim
                    && (body.contains("claimed_by_other")
                        || body.contains("escalation_resolved")) =>
            {
                // Two specialists picked the same case off the page.
                self.recorder.expected(kind, t1, us);
                None
            }
            Err(f) => {
                let what = match f {
                    Failure::Status(s, body) => format!("{s}: {body}"),
                    Failure::Io(e) => e,
                };
                self.recorder.error(kind, t1, us, what);
                None
            }
        }
    }
}

type Drive = (Recorder, Vec<Sample>);

async fn drive(
    args: &Args,
    base: &str,
    tokens: Vec<String>,
    pid: u32,
    db: &Db,
) -> Result<Drive, String> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(args.customers + args.specialists)
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let list: Vec<ScriptSummary> = get(&client, &format!("{base}/api/v1/scripts"), None)
        .await
        .map_err(|_| "GET /api/v1/scripts failed".to_owned())?;
    let scripts: Vec<String> = list.into_iter().map(|s| s.id).collect();
    if scripts.is_empty() {
        return Err("the server lists no customer-facing scripts".into());
    }
    eprintln!(
        "soak: {} customers and {} specialists on {} scripts for {} s against {base}",
        args.customers,
        args.specialists,
        scripts.len(),
        args.duration
    );
    // Whole windows: the run ends with the last sample.
    let windows = ((args.duration / args.sample_every).round() as usize).max(1);
    let every = Duration::from_secs_f64(args.sample_every);
    let start = Instant::now();
    let shared = Arc::new(Shared {
        client,
        base: base.to_owned(),
        scripts,
        end: start + every * windows as u32,
        recorder: Recorder::new(start, every, windows),
        customers: Mutex::new(HashMap::new()),
        escalated: AtomicU64::new(0),
        resolved: AtomicU64::new(0),
    });
    let mut users = Vec::new();
    for i in 0..args.customers {
        let seed = args.seed.wrapping_add(i as u64);
        users.push(tokio::spawn(customer(shared.clone(), args.into(), seed)));
    }
    for (i, token) in tokens.into_iter().enumerate() {
        let seed = args.seed.wrapping_add((args.customers + i) as u64);
        users.push(tokio::spawn(specialist(
            shared.clone(),
            i,
            token,
            args.further_rate,
            seed,
        )));
    }

    if let Some(secs) = args.scrape.filter(|s| *s > 0.0) {
        users.push(tokio::spawn(scraper(shared.clone(), secs)));
    }

    // The samples, on the same runtime: a read of /proc every `every`.
    let mut samples = Vec::new();
    let mut tick = tokio::time::interval_at(start.into(), every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    for _ in 0..=windows {
        tick.tick().await;
        let (e, r) = (&shared.escalated, &shared.resolved);
        let open = e
            .load(Ordering::Relaxed)
            .saturating_sub(r.load(Ordering::Relaxed));
        // Off the runtime: a PostgreSQL size is a `psql` run.
        let db = db.clone();
        let sample = tokio::task::spawn_blocking(move || Sample::read(pid, &db, start, open));
        samples.push(sample.await.map_err(|e| format!("a sample failed: {e}"))?);
    }
    for u in users {
        // Users stop at `end`; a request in flight then ends within its timeout.
        tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(5), u)
            .await
            .map_err(|_| "a virtual user was still running after the end".to_owned())?
            .map_err(|e| format!("a virtual user failed: {e}"))?;
    }
    let shared = Arc::try_unwrap(shared).map_err(|_| "users still hold the state".to_owned())?;
    Ok((shared.recorder, samples))
}

/// A monitoring system reading `/metrics` every `secs`.
async fn scraper(shared: Arc<Shared>, secs: f64) {
    let url = format!("{}/metrics", shared.base);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(secs));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while shared.running() {
        tick.tick().await;
        let page = async {
            let res = shared.client.get(&url).send().await;
            let res = res.map_err(|e| Failure::Io(e.to_string()))?;
            match res.status().as_u16() {
                200 => res.text().await.map_err(|e| Failure::Io(e.to_string())),
                s => Err(Failure::Status(s, String::new())),
            }
        };
        shared.timed(Kind::Metrics, page).await;
    }
}

/// A customer's part of the arguments.
#[derive(Clone, Copy)]
struct Habits {
    think_ms: u64,
    back_rate: f64,
    escalate_rate: f64,
}

impl From<&Args> for Habits {
    fn from(a: &Args) -> Habits {
        Habits {
            think_ms: a.think_ms,
            back_rate: a.back_rate,
            escalate_rate: a.escalate_rate,
        }
    }
}

async fn think(rng: &mut SmallRng, mean_ms: u64) {
    if mean_ms > 0 {
        let ms = rng.gen_range(0..=2 * mean_ms);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

/// One customer: sessions one after the other until the end.
async fn customer(shared: Arc<Shared>, habits: Habits, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut inputs = Inputs::default();
    let base = shared.base.clone();
    let mut n = 0u64;
    'sessions: while shared.running() {
        think(&mut rng, habits.think_ms).await;
        let script = &shared.scripts[rng.gen_range(0..shared.scripts.len())];
        let body = serde_json::json!({ "script": script, "channel": "customer" });
        let url = format!("{base}/api/v1/sessions");
        let Some(mut session) = shared
            .timed(
                Kind::Start,
                post::<SessionBody>(&shared.client, &url, None, &body, 201),
            )
            .await
        else {
            // Do not spin on a server that refuses everything.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        n += 1;
        let (Some(id), Some(token)) = (session.id.take(), session.token.take()) else {
            let at = Instant::now();
            shared
                .recorder
                .error(Kind::Start, at, 0, "no id or token".into());
            continue;
        };
        let escalate_at = rng
            .gen_bool(habits.escalate_rate)
            .then(|| rng.gen_range(0..4u32));
        let (mut answered, mut backs) = (0u32, 0u32);
        loop {
            let Some(step) = session.step.take().filter(|_| session.status == "active") else {
                if let Some(esc) = session.escalation.take() {
                    shared.escalated.fetch_add(1, Ordering::Relaxed);
                    let mut open = shared.customers.lock().unwrap();
                    open.insert(esc.id, (id, token));
                }
                continue 'sessions;
            };
            if !shared.running() {
                break 'sessions;
            }
            think(&mut rng, habits.think_ms).await;
            let (kind, path, body) = if escalate_at.is_some_and(|at| answered >= at) {
                let mut body = serde_json::json!({ "seq": step.seq, "note": "soak: stuck here" });
                if rng.gen_bool(0.5) {
                    body["email"] = format!("soak{seed}.{n}@example.com").into();
                }
                (Kind::Escalate, "escalate", body)
            } else if answered > 0 && backs < 3 && rng.gen_bool(habits.back_rate) {
                let body = serde_json::json!({ "seq": step.seq });
                (Kind::Back, "back", body)
            } else {
                let body = answer_for(&step, &mut rng, &mut inputs, 0.0);
                (Kind::Answer, "answer", body)
            };
            let url = format!("{base}/api/v1/sessions/{id}/{path}");
            let res = post::<SessionBody>(&shared.client, &url, Some(&token), &body, 200);
            match shared.timed(kind, res).await {
                Some(next) => session = next,
                None => continue 'sessions,
            }
            match kind {
                Kind::Back => {
                    answered -= 1;
                    backs += 1;
                }
                Kind::Answer => answered += 1,
                _ => {}
            }
        }
    }
}

/// One specialist: the queue's first page, then one case from it to the end.
async fn specialist(shared: Arc<Shared>, me: usize, token: String, further_rate: f64, seed: u64) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let base = shared.base.clone();
    let auth = Some(token.as_str());
    let c = &shared.client;
    let page_url = format!("{base}/api/v1/escalations?status=open&limit=25");
    while shared.running() {
        let Some(page) = shared
            .timed(Kind::Queue, get::<Page>(c, &page_url, auth))
            .await
        else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if page.items.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        // Each takes its own place on the page (the oldest first), so two
        // go for the same case only when there are fewer cases than them.
        let case = &page.items[me % page.items.len()];
        let esc = format!("{base}/api/v1/escalations/{}", case.id);
        let none = serde_json::json!({});
        let claim = post::<serde_json::Value>(c, format!("{esc}/claim"), auth, &none, 200);
        if shared.timed(Kind::Claim, claim).await.is_none() {
            continue;
        }
        let steps = async {
            shared
                .timed(Kind::Case, get::<serde_json::Value>(c, &esc, auth))
                .await?;
            let ask = serde_json::json!({ "text": "Which model is it?", "wait": true });
            let reply = post::<serde_json::Value>(c, format!("{esc}/reply"), auth, &ask, 200);
            shared.timed(Kind::Reply, reply).await?;
            let customer = shared.customers.lock().unwrap().get(&case.id).cloned();
            if let Some((session, ctoken)) = customer {
                let url = format!("{base}/api/v1/sessions/{session}");
                let text = serde_json::json!({ "text": "The X-200, bought last year." });
                let msg = post::<serde_json::Value>(
                    c,
                    format!("{url}/message"),
                    Some(&ctoken),
                    &text,
                    200,
                );
                shared.timed(Kind::Message, msg).await?;
                let read = get::<serde_json::Value>(c, &url, Some(&ctoken));
                shared.timed(Kind::Session, read).await?;
            }
            let tell = serde_json::json!({ "text": "Thanks: a firmware update fixes that." });
            let reply = post::<serde_json::Value>(c, format!("{esc}/reply"), auth, &tell, 200);
            shared.timed(Kind::Reply, reply).await?;
            if case.tier < 4 && rng.gen_bool(further_rate) {
                let up = serde_json::json!({ "note": "soak: needs the next tier" });
                let res = post::<serde_json::Value>(c, format!("{esc}/escalate"), auth, &up, 200);
                shared.timed(Kind::Further, res).await?;
            } else {
                let done = serde_json::json!({ "resolution": "Updated the firmware." });
                let res = post::<serde_json::Value>(c, format!("{esc}/resolve"), auth, &done, 200);
                shared.timed(Kind::Resolve, res).await?;
                shared.resolved.fetch_add(1, Ordering::Relaxed);
                shared.customers.lock().unwrap().remove(&case.id);
            }
            Some(())
        };
        steps.await;
    }
}
