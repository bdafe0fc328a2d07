//! What every fuzz target shares (issue 18): the proptest configuration.
//!
//! A run is reproducible by default: the seed is fixed, so `cargo test`
//! tries the same cases every time and stays within its time budget. Two
//! environment variables turn a target into a long fuzz run (docs/fuzzing.md):
//! `FIXPATH_FUZZ_CASES` (how many cases each target tries) and
//! `PROPTEST_RNG_SEED` (another seed; proptest reads it itself). A failing
//! case is written by proptest beside the target's file
//! (`tests/it/fuzz_*.proptest-regressions`) and tried first on every later
//! run: commit that file with the fix.

use proptest::test_runner::{Config, RngSeed};

/// The seed of a default run; any fixed number would do.
const SEED: u64 = 0x00F1_C5ED_F022;

/// The configuration of a target that tries `default_cases` cases unless
/// `FIXPATH_FUZZ_CASES` says otherwise.
pub fn config(default_cases: u32) -> Config {
    let cases = std::env::var("FIXPATH_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default_cases);
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
/// of what a default run covers do not apply to a short one.
pub fn cases_overridden() -> bool {
    std::env::var_os("FIXPATH_FUZZ_CASES").is_some()
}

/// How long one case may take before it counts as a hang. Generous: a
/// debug build on a shared two-core machine is slow, and a real hang or an
/// unbounded loop takes far longer than this.
pub const CASE_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);
