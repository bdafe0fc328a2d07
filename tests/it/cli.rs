//! The `fixpath` binary as authors and CI run it: exit codes (contract
//! section 7), the machine formats (JSON, SARIF 2.1.0, GitHub annotations),
//! `--explain`, `schema`, and the help texts.

use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Command, Stdio};

const CLEAN: &str = "tests/fixtures/clean";
const GRAPH: &str = "tests/fixtures/graph";
const LINT: &str = "tests/fixtures/lint";
/// Errors only (one FP005).
const WITH_ERROR: &str = "tests/fixtures/lint/FP005.yaml";
/// Warnings only (one FP101).
const WITH_WARNING: &str = "tests/fixtures/lint/FP101.yaml";

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs the real binary from the crate root, detached from any terminal and
/// with a fixed width, so help texts and colours do not depend on who runs
/// the tests.
fn fixpath(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("COLUMNS", "100")
        .env("NO_COLOR", "1")
        .env_remove("FIXPATH_SCRIPTS")
        .stdin(Stdio::null())
        .output()
        .expect("the fixpath binary runs");
    Output {
        code: out.status.code().expect("an exit code, not a signal"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// A folder of its own under the system's temporary folder, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("fixpath-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        TempDir(dir)
    }

    /// Copies a file of the crate into the folder, under the same name.
    fn copy(&self, from: &str) -> &TempDir {
        let from = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(from);
        let name = from.file_name().expect("a file name");
        std::fs::copy(&from, self.0.join(name)).expect("the fixture copies");
        self
    }

    fn write(&self, name: &str, text: &str) -> &TempDir {
        std::fs::write(self.0.join(name), text).expect("the file is written");
        self
    }

    fn join(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

// ----------------------------------------------------------------- exit codes

#[test]
fn clean_folders_exit_0_and_print_nothing_but_the_summary() {
    let out = fixpath(&["lint", CLEAN, GRAPH]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "checked 5 files: no problems found\n");
}

#[test]
fn errors_exit_1() {
    let out = fixpath(&["lint", WITH_ERROR]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("error[FP005]"), "{}", out.stdout);
    assert_eq!(out.stderr, "checked 1 file: 1 error, 0 warnings\n");
}

#[test]
fn errors_exit_1_in_every_format() {
    for format in ["human", "json", "sarif", "github"] {
        let out = fixpath(&["lint", WITH_ERROR, "--format", format]);
        assert_eq!(
            out.code, 1,
            "--format {format}: {}{}",
            out.stdout, out.stderr
        );
    }
}

#[test]
fn warnings_alone_exit_0() {
    let out = fixpath(&["lint", WITH_WARNING]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("warning[FP101]"), "{}", out.stdout);
    assert_eq!(out.stderr, "checked 1 file: 0 errors, 1 warning\n");
}

#[test]
fn warnings_exit_1_with_deny_warnings() {
    let out = fixpath(&["lint", WITH_WARNING, "--deny-warnings"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let out = fixpath(&["lint", "--deny-warnings", "--format", "json", WITH_WARNING]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
}

#[test]
fn deny_warnings_on_a_clean_folder_exits_0() {
    let out = fixpath(&["lint", CLEAN, "--deny-warnings"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn a_missing_path_exits_2() {
    let out = fixpath(&["lint", "tests/fixtures/no-such-folder"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("tests/fixtures/no-such-folder"),
        "the error names the path: {}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
}

#[test]
fn a_missing_path_among_good_ones_exits_2() {
    let out = fixpath(&["lint", CLEAN, "tests/fixtures/no-such-file.yaml"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["lint", "--format", "xml", CLEAN][..],
        &["lint", "--no-such-flag", CLEAN],
        &["lint", "--format"],
        &["graph"],
        &[
            "graph",
            "tests/fixtures/graph/router-no-internet.yaml",
            "--format",
            "png",
        ],
        &["no-such-command"],
        &[],
    ] {
        let out = fixpath(args);
        assert_eq!(
            out.code, 2,
            "fixpath {args:?}: {}{}",
            out.stdout, out.stderr
        );
        assert!(
            !out.stderr.is_empty(),
            "fixpath {args:?} says what is wrong on stderr"
        );
    }
}

#[test]
fn a_wrong_format_name_lists_the_right_ones() {
    let out = fixpath(&["lint", "--format", "xml", CLEAN]);
    for f in ["human", "json", "sarif", "github"] {
        assert!(
            out.stderr.contains(f),
            "the error lists `{f}`: {}",
            out.stderr
        );
    }
}

// --------------------------------------------------------------------- JSON

#[test]
fn json_is_one_array_of_diagnostics() {
    let out = fixpath(&["lint", LINT, "--format", "json"]);
    assert_eq!(out.code, 1);
    let all = json(&out.stdout);
    let items = all.as_array().expect("one JSON array");
    assert!(
        items.len() > 40,
        "the lint fixtures hold many problems, got {}",
        items.len()
    );
    let codes: BTreeSet<&str> = items.iter().filter_map(|d| d["code"].as_str()).collect();
    for d in items {
        assert!(
            d["file"]
                .as_str()
                .is_some_and(|f| f.starts_with("tests/fixtures/lint/")),
            "file: {d}"
        );
        assert!(d["line"].as_u64().is_some_and(|l| l >= 1), "line: {d}");
        assert!(d["column"].as_u64().is_some_and(|c| c >= 1), "column: {d}");
        assert!(
            matches!(d["severity"].as_str(), Some("error" | "warning")),
            "severity: {d}"
        );
        let code = d["code"].as_str().expect("code");
        assert!(
            code.len() == 5
                && code.starts_with("FP")
                && code[2..].bytes().all(|b| b.is_ascii_digit()),
            "code: {d}"
        );
        assert!(
            d["message"].as_str().is_some_and(|m| !m.is_empty()),
            "message: {d}"
        );
        let warning = code.starts_with("FP1");
        assert_eq!(
            d["severity"] == "warning",
            warning,
            "severity matches the code: {d}"
        );
    }
    assert!(
        codes.len() >= 10,
        "many codes appear across the fixtures: {codes:?}"
    );
    assert_eq!(out.stderr, "", "no summary line in JSON mode");
}

#[test]
fn json_of_a_clean_folder_is_an_empty_array() {
    let out = fixpath(&["lint", CLEAN, "--format", "json"]);
    assert_eq!(out.code, 0);
    assert_eq!(json(&out.stdout), Value::Array(vec![]));
}

// -------------------------------------------------------------------- SARIF

#[test]
fn sarif_has_the_2_1_0_shape() {
    let out = fixpath(&["lint", LINT, "--format", "sarif"]);
    assert_eq!(out.code, 1);
    let doc = json(&out.stdout);
    assert_eq!(doc["version"], "2.1.0");
    assert!(
        doc["$schema"].as_str().is_some_and(|s| s.contains("sarif")),
        "$schema: {}",
        doc["$schema"]
    );
    let runs = doc["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "fixpath");
    let rules = driver["rules"]
        .as_array()
        .expect("runs[0].tool.driver.rules");
    let rule_ids: Vec<&str> = rules
        .iter()
        .map(|r| r["id"].as_str().expect("a rule id"))
        .collect();
    assert_eq!(
        rule_ids.len(),
        fixpath::diagnostics::Code::ALL.len(),
        "one rule per lint code: {rule_ids:?}"
    );
    for r in rules {
        assert!(
            r["shortDescription"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "rule: {r}"
        );
        assert!(
            r["help"]["text"]
                .as_str()
                .is_some_and(|t| t.contains("How to fix")),
            "rule: {r}"
        );
        assert!(
            matches!(
                r["defaultConfiguration"]["level"].as_str(),
                Some("error" | "warning")
            ),
            "rule: {r}"
        );
    }
    let results = runs[0]["results"].as_array().expect("results");
    assert!(results.len() > 40);
    for res in results {
        let id = res["ruleId"].as_str().expect("ruleId");
        assert!(rule_ids.contains(&id), "ruleId {id} is a rule");
        if let Some(ix) = res["ruleIndex"].as_u64() {
            assert_eq!(rule_ids[ix as usize], id, "ruleIndex points at the rule");
        }
        assert!(
            matches!(res["level"].as_str(), Some("error" | "warning")),
            "level: {res}"
        );
        assert!(
            res["message"]["text"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "message: {res}"
        );
        let loc = &res["locations"][0]["physicalLocation"];
        let uri = loc["artifactLocation"]["uri"]
            .as_str()
            .expect("artifactLocation.uri");
        assert!(
            uri.starts_with("tests/fixtures/lint/"),
            "a relative uri: {uri}"
        );
        let region = &loc["region"];
        let (sl, sc) = (
            region["startLine"].as_u64().expect("startLine"),
            region["startColumn"].as_u64().expect("startColumn"),
        );
        assert!(sl >= 1 && sc >= 1, "region: {region}");
        if let (Some(el), Some(ec)) = (region["endLine"].as_u64(), region["endColumn"].as_u64()) {
            assert!(
                el > sl || (el == sl && ec > sc),
                "a region ends after it starts: {region}"
            );
        }
    }
}

#[test]
fn sarif_of_one_fixture() {
    let out = fixpath(&["lint", WITH_ERROR, "--format", "sarif"]);
    assert_eq!(out.code, 1);
    // The tool's own version changes with every release; nothing else is redacted.
    // (The SARIF version, 2.1.0, is never the crate's: a filter on the
    // crate's version string is safe.)
    let version = regex::escape(&format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")));
    insta::with_settings!({ filters => vec![(version.as_str(), "\"version\": \"[fixpath version]\"")] }, {
        insta::assert_snapshot!("sarif_fp005", out.stdout);
    });
}

// ------------------------------------------------------------------- GitHub

#[test]
fn github_annotations_one_per_diagnostic() {
    let out = fixpath(&["lint", LINT, "--format", "github"]);
    assert_eq!(out.code, 1);
    let count = json(&fixpath(&["lint", LINT, "--format", "json"]).stdout)
        .as_array()
        .expect("array")
        .len();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        count,
        "one workflow command per diagnostic (messages are escaped onto one line)"
    );
    for l in &lines {
        assert!(
            l.starts_with("::error file=") || l.starts_with("::warning file="),
            "{l}"
        );
        assert!(l.contains(",line=") && l.contains(",col="), "{l}");
        assert!(l.contains(",title=FP"), "{l}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("::warning file=")),
        "the fixtures hold warnings too"
    );
}

#[test]
fn github_of_one_fixture() {
    let out = fixpath(&["lint", WITH_ERROR, "--format", "github"]);
    assert_eq!(out.code, 1);
    insta::assert_snapshot!("github_fp005", out.stdout);
}

// ------------------------------------------------------------------ explain

#[test]
fn explain_prints_what_why_and_how_to_fix() {
    let out = fixpath(&["lint", "--explain", "FP012"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("FP012"), "{}", out.stdout);
    for section in ["## What it checks", "## Why", "## How to fix"] {
        assert!(
            out.stdout.contains(section),
            "missing {section}:\n{}",
            out.stdout
        );
    }
    assert_eq!(
        fixpath(&["lint", "--explain", "fp012"]).stdout,
        out.stdout,
        "codes are case-insensitive"
    );
}

#[test]
fn explain_works_for_every_code() {
    for n in (1..=13).chain(101..=105) {
        let code = format!("FP{n:03}");
        let out = fixpath(&["lint", "--explain", &code]);
        assert_eq!(out.code, 0, "{code}: {}", out.stderr);
        assert!(
            out.stdout.contains("## How to fix"),
            "{code}:\n{}",
            out.stdout
        );
    }
}

#[test]
fn explain_of_an_unknown_code_exits_2() {
    let out = fixpath(&["lint", "--explain", "FP999"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stdout, "");
    assert!(out.stderr.contains("FP999"), "{}", out.stderr);
    assert!(
        out.stderr.contains("FP001"),
        "lists the known codes: {}",
        out.stderr
    );
}

// ------------------------------------------------------------------- schema

#[test]
fn schema_is_json_schema() {
    let out = fixpath(&["schema"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let s = json(&out.stdout);
    assert!(
        s["$schema"]
            .as_str()
            .is_some_and(|u| u.contains("json-schema.org")),
        "$schema: {}",
        s["$schema"]
    );
    let test = fixpath(&["schema", "--test"]);
    assert_eq!(test.code, 0, "{}", test.stderr);
    let t = json(&test.stdout);
    assert!(t["$schema"].is_string());
    assert_ne!(s, t, "the test-file schema differs from the script schema");
}

// --------------------------------------------------------------------- help

#[test]
fn help_texts() {
    for (name, args) in [
        ("help", &["--help"][..]),
        ("lint_help", &["lint", "--help"]),
        ("graph_help", &["graph", "--help"]),
        ("stats_help", &["stats", "--help"]),
    ] {
        let out = fixpath(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "");
        insta::assert_snapshot!(name, out.stdout);
    }
}

#[test]
fn version() {
    let out = fixpath(&["--version"]);
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stdout,
        format!("fixpath {}\n", env!("CARGO_PKG_VERSION"))
    );
}

// ------------------------------------------------- a file and the files beside it

const PASS: &str = "tests/fixtures/scenario/pass";

/// The scenario fixtures (a router script that `use`s power-cycle, and its
/// tests), a script no test exercises, and a broken one.
fn folder_with_neighbours(name: &str) -> TempDir {
    let dir = TempDir::new(name);
    dir.copy(&format!("{PASS}/router.yaml"))
        .copy(&format!("{PASS}/power-cycle.yaml"))
        .copy(&format!("{PASS}/router.test.yaml"))
        .write(
            "untested.yaml",
            "id: untested\ntitle: Nobody tests this\nnodes:\n  q:\n    ask: Which?\n    answers:\n      - A: { resolve: Done }\n      - B: { escalate: Not done }\n",
        )
        .write("broken.yaml", "id: broken\ntitle: Broken\nnodes:\n  a:\n    ask: What?\n    answers:\n      - X: nowhere\n");
    dir
}

#[test]
fn lint_of_one_file_loads_the_files_beside_it_and_reports_only_its_own() {
    let dir = folder_with_neighbours("lint-one");
    // router `use`s power-cycle, which is only beside it; broken.yaml's
    // error is not router's.
    let out = fixpath(&["lint", &dir.join("router.yaml")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, "checked 1 file: no problems found\n");
    // The folder itself has the broken file's error.
    let out = fixpath(&["lint", &dir.0.display().to_string()]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("broken.yaml"), "{}", out.stdout);
    // Named on its own, the broken file is reported in every format.
    let out = fixpath(&["lint", &dir.join("broken.yaml"), "--format", "json"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let files: BTreeSet<String> = json(&out.stdout)
        .as_array()
        .expect("an array")
        .iter()
        .map(|d| d["file"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(files, BTreeSet::from([dir.join("broken.yaml")]));
}

#[test]
fn a_file_named_wins_over_a_sibling_with_the_same_id() {
    // The lint fixtures share ids; FP101.yaml is checked as itself.
    let out = fixpath(&["lint", WITH_WARNING, "--format", "json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let codes: Vec<String> = json(&out.stdout)
        .as_array()
        .expect("an array")
        .iter()
        .map(|d| d["code"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(codes, ["FP101"]);
}

#[test]
fn test_of_one_test_file_loads_its_script_and_runs_only_that_file() {
    let dir = folder_with_neighbours("test-one");
    dir.write(
        "untested.test.yaml",
        "script: untested\ncases:\n  - name: always fails\n    answers: [A]\n    expect: { outcome: escalated }\n",
    );
    let out = fixpath(&["test", &dir.join("router.test.yaml")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.ends_with("6 passed, 0 failed\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("untested"), "{}", out.stdout);
    assert!(!out.stderr.contains("broken"), "{}", out.stderr);
}

#[test]
fn coverage_counts_the_scripts_asked_for() {
    let dir = folder_with_neighbours("coverage");
    // The test file alone: its script is covered, the untested one beside it
    // does not count.
    let out = fixpath(&["test", "--coverage", &dir.join("router.test.yaml")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("coverage: every answer of every script tested is exercised"),
        "{}",
        out.stdout
    );
    // Named as well, its answers are missing.
    let out = fixpath(&[
        "test",
        "--coverage",
        &dir.join("router.test.yaml"),
        &dir.join("untested.yaml"),
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("coverage: 2 answer(s) no case exercises:"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("untested > q > a"), "{}", out.stdout);
    assert!(!out.stdout.contains("router >"), "{}", out.stdout);
}

// ------------------------------------------------------ serve: before it starts

/// `fixpath ARGS` run in `dir` with none of the server's variables set; a
/// server that starts after all is killed after 30 s (and the test fails).
fn fixpath_in(dir: &TempDir, args: &[&str]) -> (Output, std::time::Duration) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_fixpath"));
    cmd.args(args)
        .current_dir(&dir.0)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "FIXPATH_SCRIPTS",
        "FIXPATH_DB",
        "FIXPATH_DB_POOL",
        "FIXPATH_LISTEN",
        "FIXPATH_WEBHOOKS",
        "FIXPATH_WEBHOOK_SECRET",
        "FIXPATH_CONFIG",
        "FIXPATH_LOG_FORMAT",
    ] {
        cmd.env_remove(var);
    }
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().expect("the fixpath binary runs");
    while child
        .try_wait()
        .expect("the child can be waited for")
        .is_none()
    {
        if started.elapsed() > std::time::Duration::from_secs(30) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("the output is read");
    (
        Output {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        started.elapsed(),
    )
}

fn scripts_dir() -> String {
    format!("{}/tests/fixtures/clean", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn serve_refuses_a_db_that_is_not_a_database_and_creates_nothing() {
    let dir = TempDir::new("db-nonsense");
    let scripts = scripts_dir();
    for args in [
        vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--scripts",
            &scripts,
            "--db",
            "nonsense",
        ],
        vec!["user", "add", "ann", "--role", "agent", "--db", "nonsense"],
    ] {
        let (out, _) = fixpath_in(&dir, &args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(
                "`nonsense` is not a database: an SQLite file path ends in .db, .sqlite or .sqlite3"
            ),
            "{}",
            out.stderr
        );
        assert!(!dir.0.join("nonsense").exists(), "{args:?} created a file");
    }
}

#[test]
fn serve_checks_the_scripts_folder_before_it_creates_a_database() {
    let dir = TempDir::new("scripts-first");
    dir.write("broken.yaml", "id: broken\ntitle: Broken\nnodes:\n  a:\n    ask: What?\n    answers:\n      - X: nowhere\n");
    std::fs::create_dir_all(dir.0.join("empty")).expect("a folder");
    let cases: [(&str, i32, &str); 3] = [
        ("missing", 2, "no such file or folder: missing"),
        (
            "empty",
            2,
            "`empty` holds no scripts (*.yaml or *.yml files)",
        ),
        (
            ".",
            1,
            "the scripts in `.` have errors; the server did not start",
        ),
    ];
    for (scripts, code, says) in cases {
        let (out, _) = fixpath_in(
            &dir,
            &["serve", "--listen", "127.0.0.1:0", "--scripts", scripts],
        );
        assert_eq!(out.code, code, "--scripts {scripts}: {}", out.stderr);
        assert!(
            out.stderr.contains(says),
            "--scripts {scripts}: {}",
            out.stderr
        );
        assert!(
            !dir.0.join("fixpath-data").exists(),
            "--scripts {scripts} created the default database"
        );
    }
}

#[test]
fn an_unreachable_postgresql_is_reported_at_once_as_what_it_is() {
    let dir = TempDir::new("pg-unreachable");
    let scripts = scripts_dir();
    // Nothing listens on port 1.
    let url = "postgres://fixpath@127.0.0.1:1/fixpath";
    for args in [
        vec![
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--scripts",
            &scripts,
            "--db",
            url,
        ],
        vec!["user", "add", "ann", "--role", "agent", "--db", url],
    ] {
        let (out, took) = fixpath_in(&dir, &args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr
                .contains("cannot reach PostgreSQL at 127.0.0.1:1: connection refused"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            took < std::time::Duration::from_secs(5),
            "{args:?} took {took:?}"
        );
    }
}

// ------------------------------------------------- a password typed on a terminal

/// `user add --password-stdin` on a pseudo-terminal: the prompts show, the
/// password typed does not (the terminal's echo is off while it is read).
#[cfg(target_os = "linux")]
#[test]
#[allow(unsafe_code)]
fn password_stdin_on_a_terminal_prompts_without_echo() {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    let dir = TempDir::new("password-tty");
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the two ints.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "a pseudo-terminal opens");
    // SAFETY: both descriptors are fresh and owned here alone.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let db = dir.join("users.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixpath"))
        .args([
            "user",
            "add",
            "ann",
            "--role",
            "agent",
            "--password-stdin",
            "--db",
            &db,
        ])
        .env("NO_COLOR", "1")
        .stdin(Stdio::from(slave.try_clone().expect("dup")))
        .stdout(Stdio::from(slave.try_clone().expect("dup")))
        .stderr(Stdio::from(slave))
        .spawn()
        .expect("the fixpath binary runs");
    let mut writer = std::fs::File::from(master.try_clone().expect("dup"));
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let mut reader = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child has closed the terminal.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = String::new();
    let wait_for = |needle: &str, seen: &mut String| {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !seen.contains(needle) {
            let left = until.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
                Err(_) => panic!("no `{needle}` on the terminal:\n{seen}"),
            }
        }
    };
    wait_for("(not shown): ", &mut seen);
    writer.write_all(b"correct-horse\n").expect("typed");
    wait_for("again: ", &mut seen);
    writer.write_all(b"correct-horse\n").expect("typed");
    wait_for("API token", &mut seen);
    let status = child.wait().expect("fixpath ends");
    while let Ok(bytes) = rx.recv_timeout(std::time::Duration::from_millis(500)) {
        seen.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(status.success(), "{seen}");
    assert!(seen.contains("Password for `ann` (not shown): "), "{seen}");
    assert!(seen.contains("with a password for the web pages"), "{seen}");
    assert!(
        !seen.contains("correct-horse"),
        "the password showed:\n{seen}"
    );
}
