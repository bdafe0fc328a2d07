//! The metrics recorder's memory stays bounded when nobody reads
//! `/metrics` (found by the soak bench, `benches/RESULTS-soak.md`): every
//! request records a latency sample, which the recorder keeps until an
//! upkeep folds it into the histogram's buckets.
//!
//! Measured in a fresh process (this test binary run again on the child
//! test alone), so that no other test's memory is counted.

use std::process::Command;
use std::time::Duration;

const CHILD_ENV: &str = "FIXPATH_METRICS_MEMORY_CHILD";
/// Samples recorded by the child: 6,000,000 × 24 bytes (a value and an
/// `Instant`) is 137 MiB if none were folded; 96 MiB was measured so.
const BATCHES: u64 = 600;
const BATCH: u64 = 10_000;
/// The pause after each batch: the recording lasts about 6 s, several
/// upkeeps ([`fixpath::server::ops::UPKEEP_EVERY`]).
const PAUSE: Duration = Duration::from_millis(10);

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The child: records the samples on the server's own recorder (with no
/// `/metrics` read) and prints how much the process grew at its peak.
#[test]
fn metrics_memory_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        // Runs only as the child of the test below.
        return;
    }
    let _handle = fixpath::server::ops::metrics_handle();
    let h = metrics::histogram!(
        "fixpath_http_request_duration_seconds",
        "route" => "/probe",
        "method" => "GET",
        "status" => "200",
    );
    let before = rss_kib();
    let mut peak = before;
    for _ in 0..BATCHES {
        for i in 0..BATCH {
            h.record(i as f64 * 1e-6);
        }
        std::thread::sleep(PAUSE);
        peak = peak.max(rss_kib());
    }
    println!("PROBE grew_kib={}", peak - before);
}

#[test]
fn histogram_samples_are_folded_without_a_scrape() {
    if !std::path::Path::new("/proc/self/status").exists() {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: the metrics memory probe: /proc/self/status is not available"
        );
        return;
    }
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            "--exact",
            "metrics_memory::metrics_memory_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .expect("run the child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let grew: u64 = stdout
        .lines()
        .find_map(|l| l.split("PROBE grew_kib=").nth(1))
        .and_then(|v| v.trim().parse().ok())
        .expect("the child's report");
    let kept_all = BATCHES * BATCH * 24 / 1024;
    eprintln!(
        "metrics memory: {} samples grew the process by {} MiB at its peak (all kept: {} MiB)",
        BATCHES * BATCH,
        grew / 1024,
        kept_all / 1024
    );
    // Folded every second, about a second's samples are held at once (12
    // MiB was measured); kept until a scrape, all of them (96 MiB).
    assert!(
        grew < kept_all / 2,
        "recording {} samples with no scrape grew the process by {} MiB: they are kept, not \
         folded into the buckets",
        BATCHES * BATCH,
        grew / 1024
    );
}
