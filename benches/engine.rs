//! Engine throughput and session size.
//!
//! Targets (2 cores, release): at least 1,000,000 steps/s on a 100k-node
//! script; under 4 KiB per session excluding trail text.
//!
//! 1. `steps/*`: random walks, rendering included. A *step* is one
//!    `engine::view` (renders the step) plus one `engine::answer`: a random
//!    answer id of the script (the built-in `_none`/`_escalate` are not
//!    picked), `done` for an instruction, a value that passes the input's
//!    type and pattern. When a session ends a new one is started; the
//!    `start` calls are *inside* the timing but are not counted as steps
//!    (`start/*` times them alone; the figures printed before the run give
//!    the mean walk length). `steps-only/*` runs the same walks but times
//!    only the view + answer calls (no start, no drop of ended sessions).
//!    - `steps/library`: the example scripts in `scripts/`; each session a
//!      random root script (not a sub-flow), channel and language.
//!    - `steps/gen-100k`: a generated layered DAG of 100k nodes (ask nodes
//!      with 2–4 answers, some say/input/branch nodes, a few templated texts
//!      and `set` values), 109 layers deep, ending in resolve/escalate.
//! 2. `session/*`: a session with a 50-entry trail on the generated script:
//!    its JSON size and an in-memory heap estimate are printed before the
//!    run (see [`heap`]); cloning, serializing and deserializing it are timed.
//!
//! Run: `cargo bench --bench engine`.
// A test or benchmark fails loudly by design; its shared helper modules are
// `pub` for the files that include them; it reads the wall clock freely.
#![allow(clippy::unwrap_used, unreachable_pub, clippy::disallowed_methods)]

mod common;

use criterion::{Criterion, Throughput, criterion_group};
use fixpath::compiler::{self, Compilation};
use fixpath::engine::{self, Channel, Reply, Session, StartOptions, Status, Text, TrailEntry};
use fixpath::program::{NodeKind, Outcome, Program};
use mimalloc::MiMalloc;
use petgraph::stable_graph::NodeIndex;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashMap;
use std::fmt::Write;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const SEED: u64 = 0x5EED_F1C5;

// ---------------------------------------------------------------------------
// Counting allocations (only while `COUNTING` is on: the pre-runs).

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
/// Bytes allocated minus bytes freed while counting.
static LIVE: AtomicI64 = AtomicI64::new(0);

// SAFETY: forwards every call to mimalloc (the binary's allocator) unchanged.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            ALLOC_BYTES.fetch_add(layout.size() as u64, Ordering::Relaxed);
            LIVE.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is the allocator's.
        unsafe { MiMalloc.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE.fetch_sub(layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            ALLOC_BYTES.fetch_add(new_size as u64, Ordering::Relaxed);
            LIVE.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.load(Ordering::Relaxed)
}
/// Steps per timed iteration.
const BATCH: u64 = 1_000;

// ---------------------------------------------------------------------------
// The generated script: a layered DAG.

/// Nodes per full layer.
const WIDTH: usize = 1_000;

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Layer widths: 1, 2, 4, ... up to [`WIDTH`], then full layers, so that
/// the total is at least `nodes`; the last layer holds the terminals.
fn widths(nodes: usize) -> Vec<usize> {
    let mut w = vec![1usize];
    let mut total = 1;
    while total < nodes {
        let next = (w.last().unwrap() * 2).min(WIDTH);
        w.push(next);
        total += next;
    }
    w
}

const LABELS: &[&str] = &["Yes", "No", "Not sure", "Sometimes"];
const THINGS: &[&str] = &["router", "modem", "printer", "laptop", "access point"];
const PARTS: &[&str] = &["power", "status", "internet", "wifi", "dsl"];

/// A layered DAG of about `nodes` nodes (deterministic). Every node is
/// reachable: in widening layers answer 0 of column `k` goes to column `k`
/// and answer 1 to column `k + width`; in full layers answer 0 (or `next`,
/// or `else`) goes to column `k`. Other edges go to a random column of the
/// next layer. About 4% of ask nodes in full layers end one answer with an
/// inline resolve/escalate, so a walk ends early with ~1% chance per step.
fn layered(id: &str, nodes: usize, seed: u64) -> (String, usize) {
    let w = widths(nodes);
    let depth = w.len();
    let name = |l: usize, k: usize| format!("n{l}-{k}");
    let mut out = String::with_capacity(nodes * 220);
    let _ = writeln!(
        out,
        "id: {id}\ntitle: Generated layered flow ({nodes} nodes)\ntier: 1\n\
         escalation: {{ tier: 2, queue: network }}\nmax_visits: 3\ntags: [generated]\n\
         vars:\n  device: router\n  attempts: 0\n  light: unknown\nstart: n0-0\nnodes:"
    );
    let mut count = 0;
    for l in 0..depth {
        for k in 0..w[l] {
            count += 1;
            let h = mix(seed ^ ((l as u64) << 32 | k as u64));
            let _ = writeln!(out, "  {}:", name(l, k));
            if l == depth - 1 {
                let thing = THINGS[(h % 5) as usize];
                if k % 2 == 0 {
                    let _ = writeln!(out, "    resolve: The {thing} works again ({l}.{k})");
                } else {
                    let _ = writeln!(
                        out,
                        "    escalate: {{ queue: hardware, reason: \"The {thing} still fails ({l}.{k}, {{{{ light }}}} light)\" }}"
                    );
                }
                continue;
            }
            let next_w = w[l + 1];
            let widening = next_w > w[l];
            let rnd = |salt: u64| (mix(h ^ salt) % next_w as u64) as usize;
            let second = if widening && k + w[l] < next_w {
                k + w[l]
            } else {
                rnd(7)
            };
            let roll = h % 100;
            let kind = if l == 0 || (widening && roll >= 8) {
                "ask"
            } else {
                match roll {
                    0..=7 => "branch",
                    8..=15 => "say",
                    16..=20 if !widening => "input",
                    _ => "ask",
                }
            };
            let thing = THINGS[(h / 7 % 5) as usize];
            let part = PARTS[(h / 41 % 5) as usize];
            let templated = (h / 313) % 100 < 5;
            let thing = if templated { "{{ device }}" } else { thing };
            match kind {
                "branch" => {
                    let cond = [
                        "attempts > 2",
                        "light == \"red\"",
                        "attempts >= 1 and light == \"off\"",
                    ][(h / 11 % 3) as usize];
                    let _ = writeln!(
                        out,
                        "    branch:\n      - if: {cond}\n        goto: {}\n      - else: {}",
                        name(l + 1, second),
                        name(l + 1, k)
                    );
                }
                "say" => {
                    let _ = writeln!(
                        out,
                        "    say: Unplug the {thing}, wait 30 seconds and plug it back in (step {l}.{k}).\n    next: {}",
                        name(l + 1, k)
                    );
                }
                "input" => {
                    let _ = writeln!(
                        out,
                        "    input: What is the serial number on the label of the {thing} (step {l}.{k})?\n    into: serial\n    pattern: \"^[A-Z0-9]{{8}}$\"\n    next: {}",
                        name(l + 1, k)
                    );
                }
                _ => {
                    let _ = writeln!(
                        out,
                        "    ask: Is the {part} light on the front of the {thing} lit at step {l}.{k}?"
                    );
                    if (h / 97) % 100 < 10 {
                        let _ = writeln!(
                            out,
                            "    help: \"Agents: note the lights of step {l}.{k}.\""
                        );
                    }
                    let n = 2 + (h / 1009 % 3) as usize;
                    let terminal = !widening && l > 0 && (h / 4099) % 100 < 4;
                    out.push_str("    answers:\n");
                    for (j, label) in LABELS.iter().take(n).enumerate() {
                        let hj = mix(h ^ (100 + j as u64));
                        if terminal && j == n - 1 {
                            if hj.is_multiple_of(2) {
                                let _ = writeln!(
                                    out,
                                    "      - label: {label}\n        resolve: Solved by answer {j} at step {l}.{k}"
                                );
                            } else {
                                let _ = writeln!(
                                    out,
                                    "      - {label}: {{ escalate: \"Customer answered {label} at step {l}.{k}\" }}"
                                );
                            }
                            continue;
                        }
                        let target = match j {
                            0 => k,
                            1 => second,
                            _ => rnd(10 + j as u64),
                        };
                        match hj % 100 {
                            0..=9 => {
                                let _ = writeln!(
                                    out,
                                    "      - label: {label}\n        set: {{ light: red, attempts: \"{{{{ attempts + 1 }}}}\" }}\n        goto: {}",
                                    name(l + 1, target)
                                );
                            }
                            10..=19 => {
                                let _ = writeln!(
                                    out,
                                    "      - label: {label}\n        set: {{ light: off }}\n        goto: {}",
                                    name(l + 1, target)
                                );
                            }
                            _ => {
                                let _ = writeln!(out, "      - {label}: {}", name(l + 1, target));
                            }
                        }
                    }
                }
            }
        }
    }
    (out, count)
}

// ---------------------------------------------------------------------------
// Compiling the inputs.

fn library() -> Compilation {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let c = compiler::compile_paths(&[dir]).expect("scripts/ exists");
    common::require_clean("library", &c);
    c
}

fn generated(nodes: usize) -> Compilation {
    let (text, count) = layered("gen-layered", nodes, SEED);
    let t = Instant::now();
    let c = compiler::compile_texts([("gen-layered.yaml", text)]);
    eprintln!(
        "[gen] {count} nodes, {} layers, compiled in {:.2?}",
        widths(nodes).len(),
        t.elapsed()
    );
    common::require_clean("gen", &c);
    c
}

// ---------------------------------------------------------------------------
// The random walker.

/// Values tried, in order, for an input node; the first the engine accepts
/// is remembered per node.
const VALUES: &[&str] = &[
    "3",
    "AB12CD34",
    "AB12345678",
    "+31612345678",
    "ann@example.com",
];

struct Walker<'p> {
    program: &'p Program,
    /// Root scripts to start: (id, languages).
    roots: Vec<(String, Vec<String>)>,
    rng: SmallRng,
    session: Option<Session>,
    now: OffsetDateTime,
    /// (script index, node index) -> index into [`VALUES`].
    values: HashMap<(u32, u32), usize>,
    steps: u64,
    sessions: u64,
    resolved: u64,
    /// Allocations in `start`, `view` and `answer` (while counting).
    alloc_start: u64,
    alloc_view: u64,
    alloc_answer: u64,
}

impl<'p> Walker<'p> {
    fn new(program: &'p Program, seed: u64) -> Self {
        let roots = program
            .scripts
            .iter()
            .filter(|s| !s.is_subflow())
            .map(|s| (s.id.clone(), s.languages.clone()))
            .collect();
        Walker {
            program,
            roots,
            rng: SmallRng::seed_from_u64(seed),
            session: None,
            now: OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000),
            values: HashMap::new(),
            steps: 0,
            sessions: 0,
            resolved: 0,
            alloc_start: 0,
            alloc_view: 0,
            alloc_answer: 0,
        }
    }

    fn start(&mut self) -> Session {
        let (script, langs) = &self.roots[self.rng.gen_range(0..self.roots.len())];
        let channel = [Channel::Agent, Channel::Customer, Channel::Api][self.rng.gen_range(0..3)];
        let mut opts = StartOptions::new(script.clone(), channel);
        opts.language = Some(langs[self.rng.gen_range(0..langs.len())].clone());
        opts.params
            .insert("customer".into(), Json::String("Ann de Vries".into()));
        opts.params
            .insert("ticket".into(), Json::String("INC0012345".into()));
        let a = allocs();
        let (s, _) = engine::start(self.program, opts, self.now).expect("starts");
        self.alloc_start += allocs() - a;
        self.sessions += 1;
        s
    }

    /// Runs `n` steps (view + answer), starting sessions as they end.
    fn run(&mut self, n: u64) {
        self.walk(n, None);
    }

    /// [`run`](Self::run), under another name for profilers: the counting
    /// run repeats the timed run's walk, so `--toggle-collect` on this
    /// function sees steps on nodes already visited (shared heads made).
    #[inline(never)]
    fn run_again(&mut self, n: u64) {
        self.walk(n, None);
    }

    /// Like [`run`](Self::run); returns the time spent in the steps alone:
    /// starting a session and dropping an ended one are not timed.
    fn run_steps_only(&mut self, n: u64) -> Duration {
        let mut spent = Duration::ZERO;
        self.walk(n, Some(&mut spent));
        spent
    }

    fn walk(&mut self, n: u64, mut spent: Option<&mut Duration>) {
        let mut done = 0;
        while done < n {
            let mut s = match self.session.take() {
                Some(s) => s,
                None => self.start(),
            };
            let t = spent.is_some().then(Instant::now);
            while done < n && s.status == Status::Active {
                self.step(&mut s);
                done += 1;
            }
            if let (Some(t), Some(spent)) = (t, spent.as_deref_mut()) {
                *spent += t.elapsed();
            }
            if s.status == Status::Active {
                self.session = Some(s);
            } else if s.status == Status::Resolved {
                self.resolved += 1;
            }
        }
        self.steps += done;
    }

    fn step(&mut self, s: &mut Session) {
        let actor = if s.channel == Channel::Customer {
            "customer"
        } else {
            "agent-ann"
        };
        let a = allocs();
        let view = engine::view(self.program, s)
            .expect("views")
            .expect("an active session shows a step");
        let b = allocs();
        self.alloc_view += b - a;
        self.now += time::Duration::seconds(7);
        if view.input.is_some() {
            let f = *s.frames.last().expect("active");
            let (ix, _) = self
                .program
                .get(&s.pins[f.pin as usize].id)
                .expect("pinned");
            let key = (ix.0, f.node);
            let first = self.values.get(&key).copied().unwrap_or(0);
            for (i, v) in VALUES.iter().enumerate().skip(first) {
                match engine::answer(self.program, s, Reply::Value((*v).into()), actor, self.now) {
                    Ok(_) => {
                        self.alloc_answer += allocs() - b;
                        self.values.insert(key, i);
                        black_box(view);
                        return;
                    }
                    Err(engine::StepError::InvalidValue(_)) => continue,
                    Err(e) => panic!("input at {}: {e}", view.node),
                }
            }
            panic!("no candidate value passes the input at {}", view.node);
        }
        // A random own answer (`_none`/`_escalate` are never picked), read
        // in place: the walker clones no `Text` of the step.
        let own = view.answers.iter().filter(|a| !a.id.starts_with('_'));
        let k = self.rng.gen_range(0..own.clone().count());
        let pick = own.clone().nth(k).map(|a| a.id.as_str()).unwrap_or("done");
        // The API takes the answer as an owned `String`, as a caller parsing
        // a request has it; that copy is the caller's, before the count.
        let reply = Reply::Answer(pick.to_owned());
        black_box(&view);
        let b = allocs();
        engine::answer(self.program, s, reply, actor, self.now).expect("answers");
        self.alloc_answer += allocs() - b;
    }
}

fn walk_stats(what: &str, program: &Program, steps: u64) {
    let mut w = Walker::new(program, SEED ^ 1);
    let t = Instant::now();
    w.run(steps);
    let el = t.elapsed();
    eprintln!(
        "[{what}] pre-run: {} steps in {} sessions ({:.1} steps/session, {:.0}% resolved), {:.0} steps/s incl. starts",
        w.steps,
        w.sessions,
        w.steps as f64 / w.sessions as f64,
        100.0 * w.resolved as f64 / w.sessions.max(1) as f64,
        w.steps as f64 / el.as_secs_f64()
    );
    // Once more, counting allocations (same seed: the same walk, now on
    // nodes the first run visited: the steady state).
    let mut w = Walker::new(program, SEED ^ 1);
    let bytes = ALLOC_BYTES.load(Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    w.run_again(steps);
    COUNTING.store(false, Ordering::Relaxed);
    let bytes = ALLOC_BYTES.load(Ordering::Relaxed) - bytes;
    let n = w.steps as f64;
    eprintln!(
        "[{what}] allocations: {:.1} per step in view + {:.1} in answer; {:.1} per start; {:.0} bytes allocated per step (starts included)",
        w.alloc_view as f64 / n,
        w.alloc_answer as f64 / n,
        w.alloc_start as f64 / w.sessions as f64,
        bytes as f64 / n
    );
}

/// The walks and starts of one input.
fn bench_walks(c: &mut Criterion, name: &str, program: &Program) {
    walk_stats(name, program, 100_000);

    let mut g = c.benchmark_group("steps");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(30);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    let mut w = Walker::new(program, SEED);
    g.bench_function(name, |b| b.iter(|| w.run(BATCH)));
    g.finish();

    // The same walk, timing only view + answer (no start, no drop).
    let mut g = c.benchmark_group("steps-only");
    g.throughput(Throughput::Elements(BATCH));
    g.sample_size(30);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    let mut w = Walker::new(program, SEED);
    g.bench_function(name, |b| {
        b.iter_custom(|iters| (0..iters).map(|_| w.run_steps_only(BATCH)).sum())
    });
    g.finish();

    // Both cores: one walker per core on the one shared program, as the
    // server steps different sessions at once. Throughput is all steps of
    // both threads over the wall time until both are done.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get().min(2));
    let mut g = c.benchmark_group(format!("steps-{threads}-threads"));
    g.throughput(Throughput::Elements(BATCH * threads as u64));
    g.sample_size(30);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));
    let mut walkers: Vec<Walker> = (0..threads)
        .map(|i| Walker::new(program, SEED ^ (0x100 + i as u64)))
        .collect();
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            std::thread::scope(|scope| {
                for w in walkers.iter_mut() {
                    scope.spawn(move || w.run(iters * BATCH));
                }
            });
            t.elapsed()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("start");
    g.sample_size(30);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    let mut w = Walker::new(program, SEED);
    g.bench_function(name, |b| b.iter(|| black_box(w.start())));
    g.finish();
}

/// The example library first: the 100k-node compile leaves a large,
/// fragmented heap behind, which slows every later allocation (see
/// RESULTS-engine.md).
fn bench_library(c: &mut Criterion) {
    let lib = library();
    bench_walks(c, "library", &lib.program);
}

fn bench_generated(c: &mut Criterion) {
    let generated = generated(100_000);
    bench_walks(c, "gen-100k", &generated.program);
    bench_session(c, &generated.program);
}

// ---------------------------------------------------------------------------
// Session size.

/// A session on `program`'s script with `entries` trail entries: random
/// answers that continue (no inline resolve/escalate), agent channel.
fn long_session(program: &Program, entries: usize) -> Session {
    let script = &program.scripts[0];
    let mut rng = SmallRng::seed_from_u64(SEED ^ 2);
    let mut now = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let mut opts = StartOptions::new(script.id.clone(), Channel::Agent);
    opts.params
        .insert("customer".into(), Json::String("Ann de Vries".into()));
    opts.params
        .insert("ticket".into(), Json::String("INC0012345".into()));
    let (mut s, _) = engine::start(program, opts, now).expect("starts");
    while s.trail.len() < entries {
        assert_eq!(s.status, Status::Active, "the script is long enough");
        let f = *s.frames.last().expect("active");
        now += time::Duration::seconds(9);
        let reply = match &script.node(NodeIndex::new(f.node as usize)).kind {
            NodeKind::Ask { answers, .. } => {
                let go: Vec<&str> = answers
                    .iter()
                    .filter(|a| matches!(a.outcome, Outcome::Goto(_)))
                    .map(|a| a.id.as_str())
                    .collect();
                Reply::Answer(go[rng.gen_range(0..go.len())].into())
            }
            NodeKind::Say { .. } => Reply::Answer("done".into()),
            NodeKind::Input { .. } => Reply::Value("AB12CD34".into()),
            k => panic!("not a shown node: {}", k.name()),
        };
        engine::answer(program, &mut s, reply, "agent-ann", now).expect("answers");
    }
    s
}

/// Heap bytes of a JSON value (its own allocations, not its inline size).
fn json_heap(v: &Json) -> usize {
    match v {
        Json::String(s) => s.capacity(),
        Json::Array(a) => a.capacity() * size_of::<Json>() + a.iter().map(json_heap).sum::<usize>(),
        Json::Object(m) => {
            btree_nodes::<String, Json>(m.len())
                + m.iter()
                    .map(|(k, v)| k.capacity() + json_heap(v))
                    .sum::<usize>()
        }
        _ => 0,
    }
}

/// Bytes of the nodes of a `BTreeMap<K, V>` with `len` entries. Exact up to
/// 11 entries (one leaf: parent pointer, index and length, 11 keys, 11
/// values); beyond, an estimate with leaves 2/3 full.
fn btree_nodes<K, V>(len: usize) -> usize {
    let leaf = (8 + 2 + 2 + 11 * size_of::<K>() + 11 * size_of::<V>()).next_multiple_of(8);
    let internal = leaf + 12 * 8;
    match len {
        0 => 0,
        1..=11 => leaf,
        n => {
            let leaves = n.div_ceil(8);
            leaves * leaf + leaves.div_ceil(8) * internal
        }
    }
}

fn vars_heap(m: &engine::Vars) -> usize {
    m.buffer_bytes()
        + m.iter()
            .map(|(k, v)| {
                // A name the program wrote is shared with it.
                let own = k.strong_count() == Some(1);
                usize::from(own) * (Text::HEADER + k.len()) + json_heap(v)
            })
            .sum::<usize>()
}

fn opt_cap(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::capacity)
}

/// A [`Text`] of a trail entry: (bytes outside the text, text bytes).
/// Constants cost nothing; a string only this entry holds (a rendered
/// template, a typed value) costs its allocation header plus its text;
/// one shared with the program or other entries (node names, literal
/// texts, answer ids, the actor) is counted as text only (an upper bound:
/// the program holds it whether or not the session exists).
fn text_heap(t: &Text) -> (usize, usize) {
    match t.strong_count() {
        None => (0, 0),
        Some(1) => (Text::HEADER, t.len()),
        Some(_) => (0, t.len()),
    }
}

/// Header and bytes of a string only this session holds; 0 when shared.
fn own_text(t: &Text) -> usize {
    match text_heap(t) {
        (0, _) => 0,
        (h, n) => h + n,
    }
}

fn opt_text_heap(t: Option<&Text>) -> (usize, usize) {
    t.map_or((0, 0), text_heap)
}

/// The in-memory size of a session, in parts.
#[derive(Debug, Default)]
struct Heap {
    /// `size_of::<Session>()`.
    inline: usize,
    /// Heap of everything but the trail: strings, pins, variable maps,
    /// frames, visits, ending.
    state: usize,
    /// The trail's buffer: `capacity * size_of::<TrailEntry>()`.
    trail_buffer: usize,
    /// The heads only this session's entries hold (an `Arc` block each:
    /// two counts and the `Head`), their `set` slices, and the headers of
    /// strings the entries alone hold. A head the program shares (the
    /// usual answer) is the program's, like its texts.
    trail_heads: usize,
    /// Entries whose head is shared with the program.
    shared_heads: usize,
    /// The entries' strings: node, kind, text, say, answer id and label,
    /// value, actor, note (the "trail text", excluded from the target).
    trail_text: usize,
    /// The part of `trail_text` in strings only this session holds (a
    /// rendered text, a typed value): what the allocator counts of it.
    own_text: usize,
}

fn heap(s: &Session) -> Heap {
    let mut h = Heap {
        inline: size_of::<Session>(),
        ..Heap::default()
    };
    h.state += s.script.capacity() + s.language.capacity();
    h.state += s.pins.capacity() * size_of::<engine::Pin>();
    h.state += s
        .pins
        .iter()
        // Shared with the program's script unless read back from JSON.
        .map(|p| own_text(&p.id) + own_text(&p.version))
        .sum::<usize>();
    h.state += vars_heap(&s.params) + vars_heap(&s.initial_vars) + vars_heap(&s.vars);
    h.state += s.frames.capacity() * size_of::<engine::Frame>();
    h.state += s.visits.capacity() * size_of::<(u16, u32, u16)>();
    if let Some(e) = s.ending.as_deref() {
        h.state += size_of::<engine::Ending>();
        h.state += match e {
            engine::Ending::Resolved { node, text } => node.capacity() + text.capacity(),
            engine::Ending::Escalated {
                node,
                reason,
                queue,
                notes,
                ..
            } => {
                node.capacity()
                    + reason.capacity()
                    + opt_cap(queue)
                    + notes.capacity() * size_of::<String>()
                    + notes.iter().map(String::capacity).sum::<usize>()
            }
        };
    }
    h.trail_buffer = s.trail.capacity() * size_of::<TrailEntry>();
    for e in &s.trail {
        let own = std::sync::Arc::strong_count(e.head()) == 1;
        if own {
            h.trail_heads += 2 * size_of::<usize>() + size_of::<engine::Head>();
            if !e.set().is_shared() {
                h.trail_heads += e.set().len() * size_of::<(Text, Json)>()
                    + e.set().iter().map(|(_, v)| json_heap(v)).sum::<usize>();
            }
        } else {
            h.shared_heads += 1;
        }
        let mut parts = vec![
            text_heap(e.node()),
            text_heap(e.kind()),
            text_heap(e.text()),
            opt_text_heap(e.say()),
            // A typed value is the `set`'s string (counted with the sets
            // above) or, for a number, a string of its own: text only here.
            (0, e.value().map_or(0, str::len)),
            text_heap(e.actor()),
            opt_text_heap(e.note()),
        ];
        if let Some(a) = e.answer() {
            parts.push(text_heap(&a.id));
            parts.push(text_heap(&a.label));
        }
        for (header, text) in parts {
            h.trail_text += text;
            if header > 0 {
                h.own_text += text;
            }
            // A shared head's strings are the program's.
            if own {
                h.trail_heads += header;
            }
        }
    }
    h
}

/// Bytes the allocator holds for a session built on a program whose shared
/// heads already exist (the second of two equal sessions): everything the
/// session owns, trail text included.
fn live_bytes(program: &Program, entries: usize) -> i64 {
    drop(long_session(program, entries));
    COUNTING.store(true, Ordering::Relaxed);
    let before = LIVE.load(Ordering::Relaxed);
    let s = long_session(program, entries);
    let after = LIVE.load(Ordering::Relaxed);
    COUNTING.store(false, Ordering::Relaxed);
    drop(s);
    after - before
}

fn bench_session(c: &mut Criterion, program: &Program) {
    let s = long_session(program, 50);
    let json = serde_json::to_vec(&s).expect("serializes");
    let h = heap(&s);
    let excl_text = h.inline + h.state + h.trail_buffer + h.trail_heads;
    let with_sets = s.trail.iter().filter(|e| !e.set().is_empty()).count();
    eprintln!(
        "[session] {} trail entries ({with_sets} with `set`), {} vars, {} visits, {} pins",
        s.trail.len(),
        s.vars.len(),
        s.visits.len(),
        s.pins.len()
    );
    eprintln!(
        "[session] size_of: Session {} B, TrailEntry {} B, Head {} B, Json {} B, Pin {} B, Ending {} B",
        size_of::<Session>(),
        size_of::<TrailEntry>(),
        size_of::<engine::Head>(),
        size_of::<Json>(),
        size_of::<engine::Pin>(),
        size_of::<Option<engine::Ending>>(),
    );
    eprintln!("[session] serde_json::to_vec: {} B", json.len());
    eprintln!(
        "[session] heap estimate: inline {} + state {} + trail buffer {} (cap {}) + own heads, sets and string headers {} ({} of {} heads shared with the program) = {} B excluding trail text; trail text {} B; total {} B",
        h.inline,
        h.state,
        h.trail_buffer,
        s.trail.capacity(),
        h.trail_heads,
        h.shared_heads,
        s.trail.len(),
        excl_text,
        h.trail_text,
        excl_text + h.trail_text
    );
    let live = live_bytes(program, 50);
    eprintln!(
        "[session] allocator: {live} B live on the heap for the session's own data, of which {} B trail text it alone holds; with {} B inline: {} B excluding trail text",
        h.own_text,
        size_of::<Session>(),
        live - h.own_text as i64 + size_of::<Session>() as i64
    );
    let back: Session = serde_json::from_slice(&json).expect("deserializes");
    let hb = heap(&back);
    eprintln!(
        "[session] read back from JSON (no shared heads): {} B excluding trail text",
        hb.inline + hb.state + hb.trail_buffer + hb.trail_heads
    );

    let mut g = c.benchmark_group("session");
    g.sample_size(50);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    g.bench_function("clone-50", |b| b.iter(|| black_box(s.clone())));
    g.bench_function("serialize-50", |b| {
        b.iter(|| black_box(serde_json::to_vec(&s).expect("serializes")))
    });
    g.bench_function("deserialize-50", |b| {
        b.iter(|| black_box(serde_json::from_slice::<Session>(&json).expect("deserializes")))
    });
    g.finish();
}

criterion_group!(benches, bench_library, bench_generated);

/// `criterion_main!`, plus a mode for profilers: with
/// `FIXPATH_ENGINE_PROFILE=library|gen-100k[:STEPS]` the binary only runs
/// that walk for STEPS steps (default 20,000) and exits, e.g.
/// `valgrind --tool=callgrind --toggle-collect='engine::Walker::run_again' target/release/deps/engine-* --bench`.
/// The walk runs twice (timed, then counting allocations, same seed);
/// toggling on `run_again` collects the second: STEPS steps on nodes the
/// first run visited. (`engine::Walker::walk` collects both, 2 x STEPS,
/// the first on cold nodes.)
fn main() {
    if let Ok(spec) = std::env::var("FIXPATH_ENGINE_PROFILE") {
        let (what, steps) = spec.split_once(':').unwrap_or((spec.as_str(), "20000"));
        let steps: u64 = steps.parse().expect("STEPS is a number");
        let c = match what {
            "library" => library(),
            "gen-100k" => generated(100_000),
            other => panic!("unknown walk `{other}`: library or gen-100k"),
        };
        walk_stats(what, &c.program, steps);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
