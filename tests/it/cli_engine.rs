//! `fixpath run` driven through stdin, and `fixpath test` on passing and
//! failing test files, as an author sees them.

use std::io::Write;
use std::process::{Command, Stdio};

fn fixpath(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .args(args)
        .env("NO_COLOR", "1")
        .env("USER", "sam")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("fixpath runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("fixpath finishes");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Times and versions change from run to run; nothing else may.
fn redact(s: &str) -> String {
    let re = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z").unwrap();
    let s = re.replace_all(s, "[time]");
    let re = regex::Regex::new(r"version [0-9a-f]{16}").unwrap();
    let s = re.replace_all(&s, "version [version]");
    // The heading names the version in the session's language.
    let re = regex::Regex::new(r"(?m)^(== .*, \S+) [0-9a-f]{16}\) ==$").unwrap();
    re.replace_all(&s, "$1 [version]) ==").into_owned()
}

const DIR: &str = "tests/fixtures/scenario/pass";

#[test]
fn run_walks_a_script_from_piped_answers_to_an_escalation_record() {
    // Yes (by number), Red (by label), a refused serial, then a good one,
    // Enter for the instruction, `b` back, then `e` with a note.
    let input = "1\nRed\nabc\nAB12CD34\n\nb\ne\nstill no internet\n";
    let (code, out, err) = fixpath(
        &["run", "router", "--scripts", DIR, "--param", "customer=Ann"],
        input,
    );
    assert_eq!(code, 0, "{err}");
    insta::assert_snapshot!("run_escalation", redact(&out));
}

#[test]
fn run_as_a_customer_hides_help_and_can_resolve() {
    let (code, out, _) = fixpath(
        &[
            "run",
            "tests/fixtures/scenario/pass/router.yaml",
            "--channel",
            "customer",
        ],
        "1\n2\n",
    );
    assert_eq!(code, 0);
    assert!(!out.contains("help:"), "{out}");
    assert!(out.contains("Talk to a person"));
    assert!(
        out.trim_end().ends_with("RESOLVED: Connection restored"),
        "{out}"
    );
}

#[test]
fn run_fails_when_the_input_ends_first_and_on_unknown_scripts() {
    let (code, _, err) = fixpath(&["run", "router", "--scripts", DIR], "1\n");
    assert_eq!(code, 1);
    assert!(
        err.contains("the input ended before the session did (at `lights`)"),
        "{err}"
    );
    let (code, _, err) = fixpath(&["run", "routr", "--scripts", DIR], "");
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `router`?"), "{err}");
}

#[test]
fn test_reports_passing_cases_and_coverage() {
    let (code, out, err) = fixpath(&["test", DIR, "--coverage"], "");
    assert_eq!(code, 0, "{out}{err}");
    insta::assert_snapshot!("test_pass", out);
    assert!(out.ends_with("6 passed, 0 failed\n"));
}

#[test]
fn test_reports_each_failure_with_its_step_and_what_was_expected() {
    let (code, out, _) = fixpath(&["test", "tests/fixtures/scenario/fail", "--coverage"], "");
    assert_eq!(code, 1);
    insta::assert_snapshot!("test_fail", out);
    assert_eq!(out.lines().last(), Some("1 passed, 5 failed"));
}

#[test]
fn run_speaks_the_session_language_in_its_own_words_too() {
    // Yes, a code, Enter for the instruction: every kind of prompt the
    // terminal writes, in each language of the product.
    let mut all = String::new();
    for lang in ["en", "nl", "de", "et", "ru"] {
        let (code, out, err) = fixpath(
            &[
                "run",
                "tests/fixtures/cli/terminal/kiosk.yaml",
                "--language",
                lang,
            ],
            "1\nA123\n\n",
        );
        assert_eq!(code, 0, "{lang}: {err}");
        all.push_str(&format!("--- {lang}\n{}\n", redact(&out)));
    }
    insta::assert_snapshot!("run_languages", all);
}

/// Runs `fixpath run FILE` with no answers; returns its exit code, its
/// output, how long it took and its peak resident memory in KiB.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // wait4 for the child's peak memory (rusage)
fn run_measured(file: &std::path::Path) -> (i32, String, std::time::Duration, i64) {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let started = std::time::Instant::now();
    // Reaped by `wait4` below, which also reports the peak memory.
    #[allow(clippy::zombie_processes)]
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .arg("run")
        .arg(file)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("fixpath runs");
    let mut out = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read stdout");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the child is ours and not waited for yet; both pointers are
    // to live locals.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let took = started.elapsed();
    let code = std::process::ExitStatus::from_raw(status)
        .code()
        .unwrap_or(-1);
    (code, out, took, usage.ru_maxrss)
}

#[cfg(target_os = "linux")]
#[test]
fn run_escalates_a_text_over_the_render_bounds_fast_and_small() {
    let dir = std::env::temp_dir().join(format!("fixpath-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let script = |id: &str, ask: &str| {
        let path = dir.join(format!("{id}.yaml"));
        std::fs::write(
            &path,
            format!("id: {id}\ntitle: T\nnodes:\n  a:\n    ask: \"{ask}\"\n    answers:\n      - Yes: {{ resolve: done }}\n"),
        )
        .expect("write script");
        path
    };
    // The template of issue 12 (57 s and 15.6 GB before), and a plain
    // question for the memory a run takes anyway.
    let hostile = script(
        "hostile",
        "{% for c in 'x'*20000 %}{{ 'y'*1000000 }}{% endfor %}",
    );
    let plain = script("plain", "Is it on?");
    let (_, _, _, base_kib) = run_measured(&plain);
    let (code, out, took, peak_kib) = run_measured(&hostile);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("This step could not be shown"), "{out}");
    assert!(took < std::time::Duration::from_secs(1), "took {took:?}");
    let extra_mib = (peak_kib - base_kib) / 1024;
    assert!(extra_mib < 50, "{extra_mib} MiB more than a plain run");
    eprintln!("hostile run: {took:?}, peak {peak_kib} KiB (plain run {base_kib} KiB)");
}
