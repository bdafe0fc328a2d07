//! How the process takes memory from the system.
//!
//! The binary's allocator is mimalloc (declared in `main.rs`, and in the
//! benchmarks that measure it): the compiler allocates per node and per id,
//! and glibc's malloc was a fifth of a big compile.
//!
//! mimalloc is built with `override`, so it is also the `malloc` of the C
//! code linked in, SQLite above all. On glibc's malloc, each SQLite
//! connection's thread had an arena of its own, and under a steady load the
//! writer's grew by about 0.85 MiB a minute for as long as the server ran,
//! while SQLite's own count of its live heap stayed at 8 MiB: memory freed
//! but never given back (benches/RESULTS-soak.md).
//!
//! mimalloc asks for transparent huge pages on its large regions. With the
//! kernel's usual `defrag = madvise`, a fault in such a region may compact
//! memory first, synchronously: a one-shot compile of 100,000 nodes took
//! anywhere from 0.64 s to 1.64 s, by luck, and 0.75-0.80 s every time
//! without huge pages. So the one-shot commands (`lint`, `test`, `graph`,
//! `run`, ...) turn them off. `serve` keeps them: its memory is faulted in
//! while it compiles at start-up and then reused, and steps on a big
//! program run about a tenth faster with huge pages (fewer TLB misses; see
//! benches/RESULTS-engine.md).

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
