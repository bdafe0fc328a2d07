//! What every fuzz target shares (issue 18): the proptest configuration.
//!
//! A run is reproducible by default: the seed is fixed, so `cargo test`
//! tries the same cases every time and stays within its time budget. Two
//! environment variables turn a target into a long fuzz run (docs/fuzzing.md):
//! `FIXPATH_FUZZ_CASES` (how many cases each target tries) or
//! `FIXPATH_FUZZ_SCALE` (each target's default times this, as `.ci/run`
//! does), and `PROPTEST_RNG_SEED` (another seed; proptest reads it itself). A failing
//! case is written by proptest beside the target's file
//! (`tests/it/fuzz_*.proptest-regressions`) and tried first on every later
//! run: commit that file with the fix.

use proptest::test_runner::{Config, RngSeed};

/// The seed of a default run; any fixed number would do.
const SEED: u64 = 0x00F1_C5ED_F022;

/// The configuration of a target that tries `default_cases` cases unless
/// `FIXPATH_FUZZ_CASES` (that many) or `FIXPATH_FUZZ_SCALE` (that many
/// times the default) says otherwise.
pub fn config(default_cases: u32) -> Config {
    let number = |name| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u32>().ok())
    };
    let cases = number("FIXPATH_FUZZ_CASES").unwrap_or_else(|| {
        default_cases.saturating_mul(number("FIXPATH_FUZZ_SCALE").unwrap_or(1).max(1))
    });
    // `Config::default()` has read PROPTEST_RNG_SEED (and the other
    // PROPTEST_* variables) already; only an unset seed becomes ours.
    let mut c = Config {
        cases,
        // Shrinking a slow case can take long: a minute is enough to get
        // a readable one.
        max_shrink_time: 60_000,
        // A target that draws random programs skips those that do not
        // compile (about two in five): a long run must not stop on that.
        max_global_rejects: cases.saturating_mul(2).max(1024),
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(SEED);
    }
    c
}

/// Is this a run of the caller's own length (`FIXPATH_FUZZ_CASES`)? Checks
/// of what a default run covers do not apply to a short one. (A scaled run
/// is at least as long as the default one.)
pub fn cases_overridden() -> bool {
    std::env::var_os("FIXPATH_FUZZ_CASES").is_some()
}

/// How long one case (or one move of a session) may take. Generous: a
/// debug build in a `cargo test` that runs every test at once on a shared
/// two-core machine is slow, and a flaky bound would be worse than none; a
/// real blow-up (a render past its 250 ms deadline, an unbounded loop)
/// takes far longer, and a hang is the watchdog's ([`watch`]).
pub const CASE_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// How long a case may run before the watchdog calls it a hang.
pub const HANG_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A case being watched: see [`watch`].
pub struct Watch(u64);

struct Watched {
    next: u64,
    cases: std::collections::BTreeMap<u64, (std::time::Instant, String)>,
}

static WATCHED: std::sync::Mutex<Watched> = std::sync::Mutex::new(Watched {
    next: 0,
    cases: std::collections::BTreeMap::new(),
});

/// Watches a case until the returned guard is dropped. A case that runs
/// past [`HANG_LIMIT`] is a hang: the time checks after each move never
/// see it, and proptest cannot stop it, so the watchdog prints the case
/// and aborts the test binary (a long run found such a hang, see
/// docs/fuzzing.md).
pub fn watch(case: impl std::fmt::Debug) -> Watch {
    static DOG: std::sync::Once = std::sync::Once::new();
    DOG.call_once(|| {
        std::thread::spawn(|| {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                let w = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((_, (_, case))) =
                    w.cases.iter().find(|(_, (t, _))| t.elapsed() > HANG_LIMIT)
                {
                    eprintln!("fuzz: a case ran for more than {HANG_LIMIT:?} (a hang):\n{case}");
                    std::process::abort();
                }
            }
        });
    });
    let mut text = format!("{case:#?}");
    if text.len() > 20_000 {
        let mut cut = 20_000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n… (cut)");
    }
    let mut w = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    let id = w.next;
    w.next += 1;
    w.cases.insert(id, (std::time::Instant::now(), text));
    Watch(id)
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut w = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
        w.cases.remove(&self.0);
    }
}
