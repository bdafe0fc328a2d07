//! How the process takes memory from the system.
//!
//! The binary's allocator is mimalloc (declared in `main.rs`, and in the
//! benchmarks that measure it): the compiler allocates per node and per id,
//! and glibc's malloc was a fifth of a big compile.
//!
//! mimalloc is built with `override`, so it is also the `malloc` of the C
//! code linked in, SQLite above all. On glibc's malloc, each SQLite
//! connection's thread had an arena of its own: under the soak the
//! writer's grew from 14.5 to 22.8 MiB in 26 minutes, and when the pool
//! replaced its reader connections (every 30 minutes) their new arenas came
//! on top of the old ones, while SQLite's own count of its live heap stayed
//! at 8 MiB: memory freed but not given back (benches/RESULTS-soak.md).
//!
//! mimalloc asks for transparent huge pages on its large regions. Every
//! command turns them off:
//!
//! - With the kernel's usual `defrag = madvise`, a fault in such a region
//!   may compact memory first, synchronously: a one-shot compile of 100,000
//!   nodes took anywhere from 0.64 s to 1.64 s, by luck, and 0.75-0.80 s
//!   every time without huge pages.
//! - In a long-running server, the kernel's `khugepaged` folds any 2 MiB
//!   range with a page in use into a whole huge page, and mimalloc's
//!   returning of free pages splits them again: under the soak the server's
//!   memory rose 19 MiB in two minutes as its huge pages went from 22 to 58
//!   MiB. Steps on a big program run about a tenth faster with huge pages
//!   (fewer TLB misses; benches/RESULTS-engine.md), but a request's time is
//!   the database's: the `load` bench's answers/s did not change
//!   (benches/RESULTS-soak.md).

/// Turns transparent huge pages off for this process (Linux; elsewhere
/// nothing to do). It applies to the page faults that follow.
#[allow(unsafe_code)]
pub fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory
    // of ours; a kernel without it returns an error, which changes nothing.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
