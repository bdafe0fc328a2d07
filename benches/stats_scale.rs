//! Analytics at scale (issue 15).
//!
//! Targets (2 cores): with 1,000,000 sessions of about 7 steps and 100,000
//! cases in the store, the figures for everything (`fixpath stats`) answer
//! in under 1 s and the queue's first page in under 50 ms, on SQLite and on
//! PostgreSQL.
//!
//! 1. Builds the database through the real store API, as a server would
//!    have written it: `Library::open` on `scripts/` stores the script
//!    versions; each session is walked with the engine (a random root
//!    script, channel `customer` or `agent`, language; a random own answer,
//!    a value matching an input's pattern, now and then a step back), 5 to
//!    180 s between steps, the starts in order over `--days` days before
//!    [`END`] (ids made as the server makes them: time first). The
//!    library's scripts are short (about 4 answers to an end): a person
//!    goes back one answer at 40% of the steps (`--back`), which makes the
//!    walks about 7 steps (saved moves) and 5.7 trail entries long. A walk
//!    stops after 14 to 20 steps, 6% of them after 1 to 5 (left active:
//!    the idle sweep abandons them); the engine ends the others.
//!    Escalations (the person asks, at a pace that makes `--cases` cases)
//!    get a case with due times (4 h to a response, 3 days to a
//!    resolution), as `POST /sessions` would store them. Sessions go in
//!    through `create_session`, `--in-flight` at once, so the store's
//!    group commit batches them. Then `--worked` cases are worked by staff
//!    through `change_escalation` (a reply, a recorded breach when it came
//!    late, most resolved, a few reopened and resolved again), some
//!    sessions and cases are rated, and `gather::abandon_idle` +
//!    `gather::catch_up` fold every ended session into the rollups (timed:
//!    sessions folded per second).
//! 2. Measures, `--runs` times each (min / median / max): `stats_data` for
//!    everything, `gather` for everything (the sweep, the catch-up, the read
//!    and `report::build`: what `fixpath stats` runs), `stats_data` for one
//!    script and for one month, and the queue's first page as the web queue
//!    (`/queue`: unresolved, due first, 50; as an admin and as a tier-2
//!    specialist) and `GET /api/v1/escalations` (every status, oldest first,
//!    100) ask the store for it. Prints a verdict table against the targets.
//!
//! Run: `cargo bench --bench stats_scale` (options after `--`, e.g.
//! `-- --sessions 200000 --cases 20000`; `-- --db postgres://postgres@127.0.0.1:5432/fixpath_scale?sslmode=disable`
//! on an empty PostgreSQL database; `-- --db /tmp/scale.db --keep`, then
//! `-- --db /tmp/scale.db --reuse` measures again without building).
//! Results: `benches/RESULTS-stats.md`.
//!
//! Run as a test (`cargo test --benches`, no `--bench` argument) it builds
//! 2,000 sessions and 200 cases in a temporary SQLite file and checks that
//! the figures add up to what it stored.
// A test or benchmark fails loudly by design; it reads the wall clock freely.
#![allow(clippy::unwrap_used, unreachable_pub, clippy::disallowed_methods)]

use clap::Parser;
use fixpath::case::feedback::{Feedback, FeedbackKind};
use fixpath::case::{Act, Actor, Breach, Case, Due, DueTimes};
use fixpath::engine::{self, Channel, Reply, Session, StartOptions, Status};
use fixpath::escalation::Record;
use fixpath::library::Library;
use fixpath::program::Program;
use fixpath::stats::gather::{self, Programs};
use fixpath::stats::{Outcome, StatsData, StatsFilter};
use fixpath::store::postgres::PgStore;
use fixpath::store::sqlite::SqliteStore;
use fixpath::store::{
    Changed, Escalation, EscalationChange, EscalationFilter, EscalationStatus, NewCase, Sort,
    Store, StoreError, StoredSession,
};
use mimalloc::MiMalloc;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::task::JoinSet;

#[global_allocator]
static GLOBAL: MiMalloc = MiMalloc;

/// The history ends here (fixed, so a database kept and measured again
/// reads the same month); the sweep runs at this time.
const END: OffsetDateTime = datetime!(2026-12-01 00:00 UTC);
/// The server's default idle limit.
const IDLE: time::Duration = time::Duration::minutes(30);
const TARGET_STATS: Duration = Duration::from_secs(1);
const TARGET_QUEUE: Duration = Duration::from_millis(50);
/// The web queue's page (src/http/web/queue) and the API's default limit.
const QUEUE_PAGE: u32 = 50;
const API_PAGE: u32 = 100;

#[derive(Debug, Parser)]
#[command(
    name = "stats_scale",
    about = "Builds a large history through the store and times the figures and the queue"
)]
struct Args {
    /// The database: a SQLite file or a postgres:// URL (an empty database) [default: a
    /// temporary SQLite file]
    #[arg(long, value_name = "PATH|postgres://…")]
    db: Option<String>,
    /// Sessions to store
    #[arg(long, default_value_t = 1_000_000)]
    sessions: u64,
    /// Cases to create (escalated sessions get one until there are this many)
    #[arg(long, default_value_t = 100_000)]
    cases: u64,
    /// Days the sessions' starts are spread over (ending at 2026-12-01)
    #[arg(long, default_value_t = 90)]
    days: u32,
    /// Cases worked by staff (replied; most resolved)
    #[arg(long, default_value_t = 20_000)]
    worked: u64,
    /// Share of resolved sessions (and resolved cases) rated
    #[arg(long, default_value_t = 0.05)]
    rated: f64,
    /// Chance per step that the person goes back one answer (the library's
    /// scripts are short: going back makes the walks about 7 steps long)
    #[arg(long, default_value_t = 0.4)]
    back: f64,
    /// Writes in flight at once
    #[arg(long, default_value_t = 256)]
    in_flight: usize,
    /// Timed runs of each measurement
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// PostgreSQL pool size
    #[arg(long, default_value_t = 16)]
    pool: u32,
    /// Keep the database (a temporary SQLite file is removed otherwise)
    #[arg(long)]
    keep: bool,
    /// Measure a database a run with --keep built, without building
    #[arg(long, requires = "db")]
    reuse: bool,
    /// Seed of the walks
    #[arg(long, default_value_t = 0x5CA1E)]
    seed: u64,
    /// Passed by `cargo bench`; without it the run is a small smoke test
    #[arg(long, hide = true)]
    bench: bool,
    /// Anything else cargo or the test harness passes (filters) is ignored
    #[arg(hide = true, trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<String>,
}

// ---------------------------------------------------------------------------
// The history.

/// Due times without calendars: 4 h to a first response, 3 days to a
/// resolution, from the case's arrival.
#[derive(Debug)]
struct Flat;

impl DueTimes for Flat {
    fn due(&self, _tier: u8, _queue: Option<&str>, from: OffsetDateTime) -> Due {
        Due {
            response: Some(from + time::Duration::hours(4)),
            resolution: Some(from + time::Duration::days(3)),
        }
    }
}

/// Values tried, in order, for an input node (as benches/engine.rs); the
/// first the engine accepts is remembered per node.
const VALUES: &[&str] = &[
    "3",
    "AB12CD34",
    "AB12345678",
    "+31612345678",
    "ann@example.com",
];

/// A case to work later: its id and when it was created.
struct Planned {
    id: String,
    session: String,
    at: OffsetDateTime,
}

/// What the build stored, to check the figures against.
#[derive(Debug, Default)]
struct Made {
    sessions: u64,
    steps: u64,
    entries: u64,
    resolved: u64,
    escalated: u64,
    cases: u64,
    uncased: u64,
    left_active: u64,
    resolved_cases: u64,
    reopened: u64,
    breached: u64,
    ratings: u64,
}

struct Walker<'p> {
    program: &'p Program,
    roots: Vec<(String, Vec<String>)>,
    rng: SmallRng,
    values: HashMap<(u32, u32), usize>,
    days: u32,
    /// The chance per step of going back one answer.
    back: f64,
}

impl<'p> Walker<'p> {
    fn new(program: &'p Program, seed: u64, days: u32, back: f64) -> Self {
        Walker {
            program,
            roots: roots(program),
            rng: SmallRng::seed_from_u64(seed),
            values: HashMap::new(),
            days,
            back,
        }
    }

    fn hex(&mut self) -> String {
        format!("{:032x}", self.rng.r#gen::<u128>())
    }

    /// One session, walked from a random start; `escalate` is the chance
    /// per step that the person asks for someone.
    /// A session id as the server makes them (`auth::random_id`): the
    /// start's milliseconds, then random bytes, so ids follow time.
    fn id(&mut self, start: OffsetDateTime) -> String {
        let ms = (start.unix_timestamp_nanos() / 1_000_000) as u64;
        let rand = self.rng.r#gen::<u128>() & ((1u128 << 80) - 1);
        format!("ses_{:012x}{rand:020x}", ms & 0xFFFF_FFFF_FFFF)
    }

    /// The start of session `i` of `n`: in order over the days (a server
    /// writes its history in time order), a little scattered.
    fn start_of(&mut self, i: u64, n: u64) -> OffsetDateTime {
        let span = i64::from(self.days) * 86_400 * 1000;
        let at = span * i as i64 / n.max(1) as i64;
        let jitter = self.rng.gen_range(0..(span / n.max(1) as i64).max(1));
        END - time::Duration::milliseconds(span) + time::Duration::milliseconds(at + jitter)
    }

    fn walk(
        &mut self,
        start: OffsetDateTime,
        escalate: f64,
    ) -> (Session, OffsetDateTime, OffsetDateTime, u64) {
        let (script, langs) = &self.roots[self.rng.gen_range(0..self.roots.len())];
        let channel = if self.rng.gen_bool(0.65) {
            Channel::Customer
        } else {
            Channel::Agent
        };
        let mut opts = StartOptions::new(script.clone(), channel);
        opts.language = Some(langs[self.rng.gen_range(0..langs.len())].clone());
        opts.params
            .insert("customer".into(), Json::String("Ann de Vries".into()));
        opts.params
            .insert("ticket".into(), Json::String("INC0012345".into()));
        let (mut s, _) = engine::start(self.program, opts, start).expect("starts");
        let actor = if channel == Channel::Customer {
            "customer"
        } else {
            "agent-ann"
        };
        // Most walks end on their own; the rest stop here, still active.
        let stop = if self.rng.gen_bool(0.06) {
            self.rng.gen_range(1..=5)
        } else {
            self.rng.gen_range(14..=20)
        };
        let mut now = start;
        let mut steps = 0;
        while s.status == Status::Active && steps < stop {
            now += time::Duration::seconds(self.rng.gen_range(5..=180));
            steps += 1;
            if self.rng.gen_bool(escalate) {
                engine::escalate_now(self.program, &mut s, None, actor, now).expect("escalates");
            } else if steps > 1 && self.rng.gen_bool(self.back) {
                // Nothing to go back to is fine: the step is then an answer.
                if engine::back(self.program, &mut s, actor, now).is_err() {
                    self.answer(&mut s, actor, now);
                }
            } else {
                self.answer(&mut s, actor, now);
            }
        }
        (s, start, now, steps)
    }

    fn answer(&mut self, s: &mut Session, actor: &str, now: OffsetDateTime) {
        let view = engine::view(self.program, s)
            .expect("views")
            .expect("an active session shows a step");
        if view.input.is_some() {
            let f = *s.frames.last().expect("active");
            let (ix, _) = self
                .program
                .get(&s.pins[f.pin as usize].id)
                .expect("pinned");
            let key = (ix.0, f.node);
            let first = self.values.get(&key).copied().unwrap_or(0);
            for (i, v) in VALUES.iter().enumerate().skip(first) {
                match engine::answer(self.program, s, Reply::Value((*v).into()), actor, now) {
                    Ok(_) => {
                        self.values.insert(key, i);
                        return;
                    }
                    Err(engine::StepError::InvalidValue(_)) => continue,
                    Err(e) => panic!("input at {}: {e}", view.node),
                }
            }
            panic!("no candidate value passes the input at {}", view.node);
        }
        let own = view.answers.iter().filter(|a| !a.id.starts_with('_'));
        let k = self.rng.gen_range(0..own.clone().count().max(1));
        let pick = own.clone().nth(k).map_or("done", |a| a.id.as_str());
        engine::answer(self.program, s, Reply::Answer(pick.to_owned()), actor, now)
            .expect("answers");
    }
}

/// Root scripts (not sub-flows) and their languages, in the program's order.
fn roots(program: &Program) -> Vec<(String, Vec<String>)> {
    program
        .scripts
        .iter()
        .filter(|s| !s.is_subflow())
        .map(|s| (s.id.clone(), s.languages.clone()))
        .collect()
}

fn titles(program: &Program) -> BTreeMap<String, String> {
    program
        .scripts
        .iter()
        .map(|s| {
            (
                s.id.clone(),
                program.templates.source(s.title, 0).into_owned(),
            )
        })
        .collect()
}

/// The case of an escalated session, as `POST /api/v1/sessions` makes it.
fn case_of(program: &Program, s: &Session, id: &str, at: OffsetDateTime) -> NewCase {
    let esc = format!("esc_{}", id.trim_start_matches("ses_"));
    let mut record = Record::from_session(program, s, &esc, id, at).expect("escalated");
    if s.channel == Channel::Customer {
        record.customer_vars = s.initial_vars.to_map().into_keys().collect();
    }
    let due = Flat.due(record.tier, record.queue.as_deref(), at);
    let reference = fixpath::case::reference::new_reference().expect("random");
    let by = if s.channel == Channel::Customer {
        "customer"
    } else {
        "agent-ann"
    };
    NewCase {
        escalation: Escalation {
            record,
            case: Case::new(reference, None, due, by, at),
            updated_at: at,
        },
        mail: None,
        mirror: false,
    }
}

/// Waits until fewer than `max` writes are in flight; a failed write ends
/// the run.
async fn drain(set: &mut JoinSet<Result<(), StoreError>>, max: usize) {
    while set.len() > max {
        if let Some(r) = set.join_next().await {
            r.expect("task").expect("write");
        }
    }
}

fn rate(n: u64, d: Duration) -> String {
    format!("{n} in {d:.1?} ({:.0}/s)", n as f64 / d.as_secs_f64())
}

/// Stores the sessions (and their cases); returns the cases to work and
/// the sessions to rate.
async fn store_sessions(
    store: &Arc<dyn Store>,
    program: &Program,
    args: &Args,
    made: &mut Made,
) -> (Vec<Planned>, Vec<(String, OffsetDateTime)>) {
    let mut w = Walker::new(program, args.seed, args.days, args.back);
    let mut set = JoinSet::new();
    let mut planned = Vec::new();
    let mut rate_later = Vec::new();
    let t = Instant::now();
    let mut shown = Instant::now();
    for i in 0..args.sessions {
        // The person asks for someone at a pace that makes `--cases` cases.
        let due_cases = args.cases * (i + 1) / args.sessions.max(1);
        let budget = made.cases < args.cases;
        let ahead = made.cases >= due_cases;
        let escalate = if ahead { 0.0 } else { 0.12 };
        let at = w.start_of(i, args.sessions);
        let (mut s, mut start, mut end, mut steps) = w.walk(at, escalate);
        // A script's own escalation ahead of the pace: walk again (a few
        // times), so that the cases spread over the days as the sessions
        // do, and escalated sessions have their case.
        let mut tries = 0;
        while ahead && s.status == Status::Escalated && tries < 20 {
            (s, start, end, steps) = w.walk(at, 0.0);
            tries += 1;
        }
        let id = w.id(start);
        let case = match s.status {
            Status::Escalated if budget => Some(case_of(program, &s, &id, end)),
            _ => None,
        };
        match s.status {
            Status::Active => made.left_active += 1,
            Status::Resolved => {
                made.resolved += 1;
                if w.rng.gen_bool(args.rated) {
                    rate_later.push((id.clone(), end + time::Duration::seconds(30)));
                }
            }
            Status::Escalated => {
                made.escalated += 1;
                if let Some(c) = &case {
                    made.cases += 1;
                    if w.rng
                        .gen_bool((args.worked as f64 / args.cases.max(1) as f64).min(1.0))
                    {
                        planned.push(Planned {
                            id: c.escalation.record.id.clone(),
                            session: id.clone(),
                            at: end,
                        });
                    }
                } else {
                    made.uncased += 1;
                }
            }
        }
        made.sessions += 1;
        made.steps += steps;
        made.entries += s.trail.len() as u64;
        let stored = StoredSession {
            id,
            token_hash: format!("{}{}", w.hex(), w.hex()),
            owner: (s.channel == Channel::Agent).then(|| "agent-ann".to_owned()),
            reference: None,
            state: s,
            created_at: start,
            updated_at: end,
        };
        let store = store.clone();
        set.spawn(async move { store.create_session(&stored, case.as_ref()).await });
        drain(&mut set, args.in_flight).await;
        if shown.elapsed() > Duration::from_secs(15) {
            shown = Instant::now();
            eprintln!("  … {}", rate(i + 1, t.elapsed()));
        }
    }
    drain(&mut set, 0).await;
    let el = t.elapsed();
    eprintln!(
        "[build] sessions: {} ({} steps, {:.1} per session, {:.1} trail entries; {} resolved, {} escalated ({} without a case: the budget was spent), {} left active)",
        rate(made.sessions, el),
        made.steps,
        made.steps as f64 / made.sessions.max(1) as f64,
        made.entries as f64 / made.sessions.max(1) as f64,
        made.resolved,
        made.escalated,
        made.uncased,
        made.left_active
    );
    (planned, rate_later)
}

/// Works the planned cases: a reply (a breach recorded first when it is
/// late), then mostly a resolution, a few reopened by the customer and
/// resolved again; some resolved cases rated. Acts after [`END`] are left
/// out (the case stays where it was).
async fn work_cases(
    store: &Arc<dyn Store>,
    planned: Vec<Planned>,
    args: &Args,
    made: &mut Made,
) -> Vec<(String, OffsetDateTime)> {
    let mut rng = SmallRng::seed_from_u64(args.seed ^ 0xCA5E);
    let staff = Actor::Staff {
        name: "sam".into(),
        tier: 4,
        admin: false,
    };
    let change = |act: Act| {
        let mut c = EscalationChange::new(staff.clone(), act);
        c.due_times = Arc::new(Flat);
        c
    };
    let breach = |kind| {
        let mut c = EscalationChange::new(Actor::System, Act::Breach { kind });
        c.due_times = Arc::new(Flat);
        c
    };
    let mut set = JoinSet::new();
    let mut rate_later = Vec::new();
    let mut acts = 0u64;
    let t = Instant::now();
    for p in planned {
        let mut plan: Vec<(OffsetDateTime, EscalationChange)> = Vec::new();
        let reply_at = p.at + time::Duration::seconds(rng.gen_range(120..=6 * 3600));
        if reply_at > p.at + time::Duration::hours(4) {
            let late = p.at + time::Duration::hours(4) + time::Duration::minutes(1);
            plan.push((late, breach(Breach::Response)));
        }
        let text = "Could you restart it once more and tell us what the light does?";
        plan.push((
            reply_at,
            change(Act::Reply {
                text: text.into(),
                wait: false,
            }),
        ));
        if rng.gen_bool(0.8) {
            let resolve = |at| {
                (
                    at,
                    change(Act::Resolve {
                        resolution: "Replaced the adapter.".into(),
                        note: None,
                    }),
                )
            };
            let mut at = reply_at + time::Duration::seconds(rng.gen_range(600..=2 * 86_400));
            plan.push(resolve(at));
            if rng.gen_bool(0.05) {
                at += time::Duration::hours(2);
                let mut c = EscalationChange::new(
                    Actor::Customer,
                    Act::CustomerMessage {
                        text: "It is broken again.".into(),
                    },
                );
                c.due_times = Arc::new(Flat);
                plan.push((at, c));
                at += time::Duration::hours(3);
                plan.push(resolve(at));
            }
            if at <= END && rng.gen_bool(args.rated) {
                rate_later.push((p.session.clone(), at + time::Duration::minutes(10)));
            }
        }
        // What happens after the history's end has not happened.
        plan.retain(|(at, _)| *at <= END);
        acts += plan.len() as u64;
        let did = |f: &dyn Fn(&Act) -> bool| plan.iter().any(|(_, c)| f(&c.act));
        made.breached += u64::from(did(&|a| matches!(a, Act::Breach { .. })));
        made.reopened += u64::from(did(&|a| matches!(a, Act::CustomerMessage { .. })));
        made.resolved_cases += u64::from(
            plan.last()
                .is_some_and(|(_, c)| matches!(c.act, Act::Resolve { .. })),
        );
        let store = store.clone();
        set.spawn(async move {
            for (at, c) in plan {
                match store.change_escalation(&p.id, &c, at).await? {
                    Changed::Ok(_) => {}
                    other => panic!("case {}: {other:?}", p.id),
                }
            }
            Ok(())
        });
        drain(&mut set, args.in_flight).await;
    }
    drain(&mut set, 0).await;
    eprintln!(
        "[build] cases worked: {} acts: {}",
        rate(acts, t.elapsed()),
        acts
    );
    rate_later
}

async fn rate_sessions(
    store: &Arc<dyn Store>,
    ratings: Vec<(String, OffsetDateTime, FeedbackKind)>,
    args: &Args,
    made: &mut Made,
) {
    let mut rng = SmallRng::seed_from_u64(args.seed ^ 0xFEED);
    let mut set = JoinSet::new();
    let t = Instant::now();
    let n = ratings.len() as u64;
    for (session_id, at, kind) in ratings {
        let score = [1, 2, 3, 4, 4, 5, 5, 5][rng.gen_range(0..8)];
        let f = Feedback {
            session_id,
            kind,
            score,
            comment: None,
            at,
        };
        let store = store.clone();
        set.spawn(async move {
            assert!(store.add_feedback(&f).await?, "rated once");
            Ok(())
        });
        drain(&mut set, args.in_flight).await;
    }
    drain(&mut set, 0).await;
    made.ratings = n;
    eprintln!("[build] ratings: {}", rate(n, t.elapsed()));
}

async fn build(store: &Arc<dyn Store>, program: &Program, args: &Args) -> Made {
    let mut made = Made::default();
    let (planned, mut rated) = store_sessions(store, program, args, &mut made).await;
    let case_ratings = work_cases(store, planned, args, &mut made).await;
    let mut ratings: Vec<_> = rated
        .drain(..)
        .map(|(s, at)| (s, at, FeedbackKind::SelfService))
        .collect();
    ratings.extend(
        case_ratings
            .into_iter()
            .map(|(s, at)| (s, at, FeedbackKind::Case)),
    );
    rate_sessions(store, ratings, args, &mut made).await;

    let t = Instant::now();
    let abandoned = gather::abandon_idle(&**store, END, IDLE).await.unwrap();
    eprintln!(
        "[build] idle sweep: {}",
        rate(abandoned.len() as u64, t.elapsed())
    );
    let t = Instant::now();
    let folded = gather::catch_up(&**store, &Programs::new()).await.unwrap();
    eprintln!(
        "[build] fold (catch_up): {} sessions folded",
        rate(folded, t.elapsed())
    );
    made
}

// ---------------------------------------------------------------------------
// Measuring.

struct Timed {
    what: &'static str,
    target: Duration,
    times: Vec<Duration>,
    detail: String,
}

impl Timed {
    fn median(&self) -> Duration {
        let mut t = self.times.clone();
        t.sort();
        t[t.len() / 2]
    }
}

async fn time_it<F, Fut, T>(
    what: &'static str,
    target: Duration,
    runs: usize,
    mut f: F,
    describe: impl Fn(&T) -> String,
) -> (Timed, T)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let v = f().await;
        times.push(t.elapsed());
        last = Some(v);
    }
    let last = last.unwrap();
    let timed = Timed {
        what,
        target,
        times,
        detail: describe(&last),
    };
    eprintln!(
        "[measure] {what}: first {:.1?}, min {:.1?}, median {:.1?}, max {:.1?} ({})",
        timed.times[0],
        timed.times.iter().min().unwrap(),
        timed.median(),
        timed.times.iter().max().unwrap(),
        timed.detail
    );
    (timed, last)
}

fn describe_data(d: &Result<StatsData, StoreError>) -> String {
    let d = d.as_ref().unwrap();
    let sessions: u64 = d
        .groups
        .iter()
        .map(|g| g.outcomes.values().map(|h| h.count()).sum::<u64>() + g.active)
        .sum();
    let nodes: usize = d.groups.iter().map(|g| g.nodes.len()).sum();
    format!(
        "{} groups, {sessions} sessions, {} cases, {nodes} node rows",
        d.groups.len(),
        d.groups.iter().map(|g| g.cases.count).sum::<u64>()
    )
}

async fn measure(
    store: &Arc<dyn Store>,
    program: &Program,
    args: &Args,
) -> (Vec<Timed>, StatsData, Vec<Escalation>) {
    let runs = args.runs;
    let everything = StatsFilter::default();
    let (a, all) = time_it(
        "stats_data, everything",
        TARGET_STATS,
        runs,
        || store.stats_data(&everything),
        describe_data,
    )
    .await;
    let programs = Programs::new();
    let titles = titles(program);
    let (b, _) = time_it(
        "gather (fixpath stats), everything",
        TARGET_STATS,
        runs,
        || {
            gather::gather(
                &**store,
                &programs,
                &everything,
                Some((END, IDLE)),
                &titles,
                None,
            )
        },
        |r| {
            format!(
                "{} scripts in the report",
                r.as_ref().unwrap().scripts.len()
            )
        },
    )
    .await;
    let one = StatsFilter {
        script: roots(program).first().map(|r| r.0.clone()),
        ..StatsFilter::default()
    };
    let (c, _) = time_it(
        "stats_data, one script",
        TARGET_STATS,
        runs,
        || store.stats_data(&one),
        describe_data,
    )
    .await;
    let month = StatsFilter {
        since: Some((END - time::Duration::days(30)).date()),
        until: Some((END - time::Duration::days(1)).date()),
        ..StatsFilter::default()
    };
    let (d, _) = time_it(
        "stats_data, one month",
        TARGET_STATS,
        runs,
        || store.stats_data(&month),
        describe_data,
    )
    .await;
    // What /queue asks for its first page (admin: every tier; a specialist
    // of tier 2: `max_tier`), and GET /api/v1/escalations without filters.
    let web = EscalationFilter {
        unresolved: true,
        sort: Sort::Due,
        limit: QUEUE_PAGE,
        ..EscalationFilter::default()
    };
    let page = |items: &Result<fixpath::store::Page, StoreError>| {
        let p = items.as_ref().unwrap();
        format!("{} items, next page: {}", p.items.len(), p.next.is_some())
    };
    let (e, first) = time_it(
        "queue first page, /queue (admin)",
        TARGET_QUEUE,
        runs,
        || store.escalations(&web),
        page,
    )
    .await;
    let tier1 = EscalationFilter {
        max_tier: Some(2),
        ..web.clone()
    };
    let (f, _) = time_it(
        "queue first page, /queue (tier 2)",
        TARGET_QUEUE,
        runs,
        || store.escalations(&tier1),
        page,
    )
    .await;
    let api = EscalationFilter {
        limit: API_PAGE,
        ..EscalationFilter::default()
    };
    let (g, _) = time_it(
        "queue first page, GET /api/v1/escalations",
        TARGET_QUEUE,
        runs,
        || store.escalations(&api),
        page,
    )
    .await;
    (
        vec![a, b, c, d, e, f, g],
        all.unwrap(),
        first.unwrap().items,
    )
}

fn verdict(rows: &[Timed], backend: &str, args: &Args) {
    eprintln!(
        "\n{backend}, {} sessions / {} cases asked, {} runs each:",
        args.sessions, args.cases, args.runs
    );
    eprintln!(
        "| {:<42} | {:>9} | {:>9} | {:>9} | {:>7} | verdict |",
        "what", "min", "median", "max", "target"
    );
    eprintln!(
        "|{:-<44}|{:-<11}|{:-<11}|{:-<11}|{:-<9}|---------|",
        "", "", "", "", ""
    );
    for r in rows {
        let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1e3);
        eprintln!(
            "| {:<42} | {:>9} | {:>9} | {:>9} | {:>7} | {} |",
            r.what,
            ms(*r.times.iter().min().unwrap()),
            ms(r.median()),
            ms(*r.times.iter().max().unwrap()),
            format!("{:?}", r.target),
            if r.median() < r.target {
                "met    "
            } else {
                "MISSED "
            }
        );
    }
}

/// The smoke run's checks: the figures count what was stored.
fn check(made: &Made, data: &StatsData, queue: &[Escalation]) {
    let sum =
        |f: &dyn Fn(&fixpath::stats::GroupData) -> u64| data.groups.iter().map(f).sum::<u64>();
    let ended = sum(&|g| g.outcomes.values().map(|h| h.count()).sum());
    let active = sum(&|g| g.active);
    assert_eq!(ended + active, made.sessions, "every session counted once");
    assert!(
        active < made.left_active.max(1) + 1,
        "the sweep abandoned the idle ones"
    );
    assert_eq!(sum(&|g| g.cases.count), made.cases, "every case counted");
    assert_eq!(
        sum(&|g| g.cases.resolved),
        made.resolved_cases,
        "resolved cases"
    );
    assert_eq!(sum(&|g| g.cases.reopened), made.reopened, "reopened cases");
    assert_eq!(
        sum(&|g| g.cases.breached_response),
        made.breached,
        "breaches"
    );
    assert_eq!(sum(&|g| g.csat.iter().sum()), made.ratings, "ratings");
    let ended_as = |o: Outcome| sum(&|g| g.outcomes.get(&o).map_or(0, |h| h.count()));
    assert_eq!(
        ended_as(Outcome::Resolved),
        made.resolved,
        "resolved sessions"
    );
    assert_eq!(
        ended_as(Outcome::Escalated),
        made.escalated,
        "escalated sessions"
    );
    assert_eq!(
        ended_as(Outcome::Abandoned) + active,
        made.left_active,
        "the walks left active are abandoned or still active"
    );
    let at_nodes =
        |f: &dyn Fn(&fixpath::stats::NodeData) -> u64| sum(&|g| g.nodes.values().map(f).sum());
    assert_eq!(
        at_nodes(&|n| n.escalated),
        made.escalated,
        "escalated at a node"
    );
    assert_eq!(
        at_nodes(&|n| n.abandoned),
        ended_as(Outcome::Abandoned),
        "abandoned at a node"
    );
    assert!(at_nodes(&|n| n.entered) >= made.sessions, "nodes entered");
    assert!(queue.len() <= QUEUE_PAGE as usize);
    assert!(
        queue
            .iter()
            .all(|e| e.case.status != EscalationStatus::Resolved)
    );
    let due: Vec<_> = queue.iter().map(|e| e.case.next_due()).collect();
    assert!(due.windows(2).all(|w| w[0] <= w[1]), "due first");
    eprintln!("[check] the figures add up: {made:?}");
}

// ---------------------------------------------------------------------------

enum Db {
    Sqlite(PathBuf),
    Postgres(String),
}

async fn open(db: &Db, pool: u32) -> Arc<dyn Store> {
    let store: Arc<dyn Store> = match db {
        Db::Sqlite(p) => Arc::new(SqliteStore::open(p.to_str().unwrap()).await.unwrap()),
        Db::Postgres(url) => Arc::new(PgStore::open(url, pool).await.unwrap()),
    };
    store.migrate().await.unwrap();
    store
}

fn remove_sqlite(p: &std::path::Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut f = p.as_os_str().to_owned();
        f.push(suffix);
        let _ = std::fs::remove_file(f);
    }
}

async fn run(args: Args) {
    let db = match &args.db {
        Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
            Db::Postgres(u.clone())
        }
        Some(p) => Db::Sqlite(PathBuf::from(p)),
        None => Db::Sqlite(
            std::env::temp_dir().join(format!("fixpath-stats-scale-{}.db", std::process::id())),
        ),
    };
    let backend = match &db {
        Db::Sqlite(p) => {
            if !args.reuse && p.exists() {
                panic!(
                    "{} exists: remove it, or measure it with --reuse",
                    p.display()
                );
            }
            format!("SQLite ({})", p.display())
        }
        Db::Postgres(_) => "PostgreSQL".to_owned(),
    };
    eprintln!(
        "stats_scale: {backend}, {} sessions, {} cases, {} days, {} in flight{}",
        args.sessions,
        args.cases,
        args.days,
        args.in_flight,
        if args.reuse { ", reused" } else { "" }
    );
    let store = open(&db, args.pool).await;
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let t = Instant::now();
    let library = Library::open(dir, &*store).await.unwrap();
    let program = library.current();
    eprintln!(
        "[build] library: {} scripts in {:.1?}",
        program.scripts.len(),
        t.elapsed()
    );

    let made = if args.reuse {
        None
    } else {
        if let Db::Postgres(_) = db {
            let d = store.stats_data(&StatsFilter::default()).await.unwrap();
            assert!(
                d.groups.is_empty(),
                "the PostgreSQL database has sessions: build on an empty one, or measure it with --reuse"
            );
        }
        let t = Instant::now();
        let made = build(&store, &program, &args).await;
        eprintln!("[build] total: {:.1?}", t.elapsed());
        Some(made)
    };
    let (rows, data, queue) = measure(&store, &program, &args).await;
    verdict(&rows, &backend, &args);
    if let Some(made) = &made
        && !args.bench
    {
        check(made, &data, &queue);
    }
    drop(store);
    if let Db::Sqlite(p) = &db {
        if args.keep || args.reuse {
            eprintln!("kept {}", p.display());
        } else {
            remove_sqlite(p);
        }
    }
}

fn main() {
    let mut args = Args::parse();
    // `cargo bench --bench stats_scale FILTER` puts `--bench` after the filter.
    args.bench |= args.rest.iter().any(|a| a == "--bench");
    if !args.bench {
        // `cargo test --benches`: a smoke run on a temporary file.
        args.sessions = args.sessions.min(2_000);
        args.cases = args.cases.min(200);
        args.worked = args.worked.min(100);
        args.rated = args.rated.max(0.2);
        args.runs = args.runs.min(2);
        args.db = None;
        args.reuse = false;
        args.keep = false;
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(args));
}
