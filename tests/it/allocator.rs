//! How the server takes memory (`fixpath::memory`), as a long run needs it:
//!
//! - its C code allocates through mimalloc, as its Rust code does: `fixpath
//!   serve` has no glibc malloc arena after SQLite has worked on several
//!   threads. Found by the soak bench (`benches/RESULTS-soak.md`): on
//!   glibc's malloc, each SQLite connection's thread got an arena of its
//!   own, which kept memory SQLite had freed, while SQLite's own count of
//!   its live heap stayed flat. mimalloc's `override` feature makes it the
//!   process's `malloc`.
//! - it runs without transparent huge pages, whose folding and splitting
//!   made its memory swing under the soak.
//!
//! glibc makes each arena past the first by reserving 64 MiB at a 64 MiB
//! boundary and opening it for use from the bottom: in `/proc/PID/maps` a
//! read-write anonymous mapping at a 64 MiB boundary, followed by an
//! inaccessible one up to the next boundary. mimalloc reserves 1 GiB arenas
//! and thread stacks put their guard page below, so neither looks like
//! that. Linux only: elsewhere the test says so and passes.

use crate::serve::{Http, Server, TempDir};
use serde_json::json;

const ARENA: u64 = 64 << 20;

/// The lines of a `/proc/PID/maps` text: start, end, permissions, and
/// whether the mapping is anonymous (no file, no `[name]`).
fn parse_maps(text: &str) -> Vec<(u64, u64, String, bool)> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (range, perms) = (f.next()?, f.next()?);
            let anonymous = f.nth(3).is_none();
            let (a, b) = range.split_once('-')?;
            let start = u64::from_str_radix(a, 16).ok()?;
            let end = u64::from_str_radix(b, 16).ok()?;
            Some((start, end, perms.to_owned(), anonymous))
        })
        .collect()
}

/// The glibc malloc arenas among the mappings, as "start-end" lines.
fn glibc_arenas(maps: &[(u64, u64, String, bool)]) -> Vec<String> {
    maps.windows(2)
        .filter(|w| {
            let ((start, end, perms, anon), (next_start, next_end, next_perms, next_anon)) =
                (&w[0], &w[1]);
            *anon
                && *next_anon
                && start % ARENA == 0
                && perms.starts_with("rw")
                && next_perms.starts_with("---")
                && next_start == end
                && *next_end == start + ARENA
        })
        .map(|w| format!("{:x}-{:x} {}", w[0].0, w[0].1, w[0].2))
        .collect()
}

#[test]
fn the_server_allocates_through_mimalloc_alone_and_without_huge_pages() {
    if !cfg!(target_os = "linux") {
        eprintln!("SKIPPED: the allocator test reads /proc/PID/maps (Linux only)");
        return;
    }
    let dir = TempDir::with_scripts("allocator");
    let server = Server::start(&dir, &[]);
    let http = Http::new();
    // Writes on the writer's thread, reads on the readers', a few at once
    // (24 starts: within the anonymous burst of 30).
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let http = Http::new();
                for _ in 0..6 {
                    let (status, s) = http.post(
                        &server.url("/api/v1/sessions"),
                        None,
                        json!({"script": "router-no-internet", "channel": "customer"}),
                    );
                    assert_eq!(status, 201, "{s}");
                    let (id, token) = (s["id"].as_str().unwrap(), s["token"].as_str().unwrap());
                    let (status, s) = http.post(
                        &server.url(&format!("/api/v1/sessions/{id}/answer")),
                        Some(token),
                        json!({"answer": "all-devices", "seq": s["step"]["seq"]}),
                    );
                    assert_eq!(status, 200, "{s}");
                    let (status, _) =
                        http.get(&server.url(&format!("/api/v1/sessions/{id}")), Some(token));
                    assert_eq!(status, 200);
                }
            });
        }
    });
    let (status, _) = http.get(&server.url("/api/v1/scripts"), None);
    assert_eq!(status, 200);

    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap_or_default();
    match status.lines().find(|l| l.starts_with("THP_enabled:")) {
        Some(thp) => assert_eq!(
            thp.split_whitespace().nth(1),
            Some("0"),
            "the server runs with transparent huge pages: {thp}"
        ),
        None => eprintln!(
            "SKIPPED (in part): this kernel's /proc/PID/status has no THP_enabled line \
             (Linux 6.x has); the huge-pages half of the allocator test did not run"
        ),
    }
    let maps = parse_maps(
        &std::fs::read_to_string(format!("/proc/{}/maps", server.pid())).unwrap_or_default(),
    );
    assert!(!maps.is_empty(), "cannot read the server's /proc/PID/maps");
    let arenas = glibc_arenas(&maps);
    assert!(
        arenas.is_empty(),
        "the server has glibc malloc arenas, so some of its code allocates \
         beside mimalloc:\n{}",
        arenas.join("\n")
    );
}

#[test]
fn the_arena_pattern_is_found_in_a_real_maps_file() {
    // From the soak's server before the fix (`/proc/PID/maps`, cut): two
    // arenas, a thread stack (guard below) and mimalloc's 1 GiB arena.
    let maps = "\
7fc174000000-7fc17427e000 rw-p 00000000 00:00 0 
7fc17427e000-7fc178000000 ---p 00000000 00:00 0 
7fc178000000-7fc178287000 rw-p 00000000 00:00 0 
7fc178287000-7fc17c000000 ---p 00000000 00:00 0 
7fc1a4000000-7fc1a4001000 ---p 00000000 00:00 0 
7fc1a4001000-7fc1a4801000 rw-p 00000000 00:00 0 
7fc200000000-7fc240000000 rw-p 00000000 00:00 0 
7fc240000000-7fc240021000 r--p 00000000 fe:01 123 /usr/lib/x86_64-linux-gnu/libc.so.6
";
    let parsed = parse_maps(maps);
    assert_eq!(
        glibc_arenas(&parsed),
        [
            "7fc174000000-7fc17427e000 rw-p",
            "7fc178000000-7fc178287000 rw-p"
        ]
    );
}
