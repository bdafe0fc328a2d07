//! Every lint code, shown on a fixture: what an author sees when a script
//! has that problem.
//!
//! Each entry of `tests/fixtures/lint/` is a file or a folder named after the
//! code it demonstrates (`FP005.yaml`, `FP005-else.yaml`, `FP004-script/`;
//! `FP002-reply/` holds canned replies in its `replies/`).
//! A fixture file opens with its expectation:
//!
//! ```yaml
//! # expect: FP005 at 12:15
//! # also: FP105          (optional: other codes the fixture cannot avoid)
//! ```
//!
//! The test compiles the fixture (a folder as one run, like `fixpath lint
//! DIR`), asserts that the code is reported at exactly that line and column
//! of that file and that no other code is, and snapshots the human output
//! (no colour) and the JSON output. Paths are relative to the crate root, as
//! an author running `fixpath lint tests/fixtures/lint/FP005.yaml` sees them.
//!
//! A fixture that shows a bug in the compiler is listed in [`KNOWN_BUGS`]:
//! the snapshot test skips it (we never accept a snapshot of wrong
//! behaviour) and an ignored test below states the right expectation.

use fixpath::compiler::{Compilation, compile_paths};
use fixpath::diagnostics::{Code, render};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const FIXTURES: &str = "tests/fixtures/lint";

/// Fixtures whose output is wrong today; each has an ignored test below.
const KNOWN_BUGS: &[&str] = &[];

/// One `# expect:` line: the code, and where, in which file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Expect {
    file: String,
    code: String,
    line: u32,
    column: u32,
}

/// What a fixture declares in its header comments.
#[derive(Debug, Default)]
struct Header {
    expects: Vec<Expect>,
    also: BTreeSet<String>,
}

/// A path as the author sees it: relative to the crate root, `/`-separated.
fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.to_string_lossy().replace('\\', "/")
}

/// The code a fixture demonstrates, from its name: `FP004-script` -> `FP004`.
fn code_of(name: &str) -> Option<Code> {
    let prefix = name.split(['-', '.']).next()?;
    Code::parse(prefix).filter(|c| c.as_str() == prefix)
}

/// The `.yaml`/`.yml` files of a fixture, sorted: a folder's own, and
/// its canned replies (in its `replies/`).
fn files_of(fixture: &Path) -> Vec<PathBuf> {
    if fixture.is_dir() {
        let yaml_in = |dir: &Path| -> Vec<PathBuf> {
            std::fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
                .map(|e| e.expect("a folder entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect()
        };
        let mut files = yaml_in(fixture);
        let replies = fixture.join("replies");
        if replies.is_dir() {
            files.extend(yaml_in(&replies));
        }
        files.sort();
        files
    } else {
        vec![fixture.to_path_buf()]
    }
}

/// Reads the header comments of every file of a fixture.
fn header(fixture: &Path) -> Header {
    let mut h = Header::default();
    for file in files_of(fixture) {
        // Lossy: one fixture is deliberately not UTF-8 (its header is ASCII).
        let bytes =
            std::fs::read(&file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let text = String::from_utf8_lossy(&bytes);
        for line in text.lines().take_while(|l| l.starts_with('#')) {
            if let Some(rest) = line.strip_prefix("# expect:") {
                let (code, at) = rest.trim().split_once(" at ").unwrap_or_else(|| {
                    panic!("{}: write `# expect: CODE at LINE:COL`", file.display())
                });
                let (l, c) = at.trim().split_once(':').expect("LINE:COL");
                h.expects.push(Expect {
                    file: relative(&file),
                    code: code.trim().to_owned(),
                    line: l.parse().expect("a line number"),
                    column: c.parse().expect("a column number"),
                });
            } else if let Some(rest) = line.strip_prefix("# also:") {
                h.also.extend(
                    rest.split(',')
                        .map(|c| c.trim().to_owned())
                        .filter(|c| !c.is_empty()),
                );
            }
        }
    }
    h
}

/// Compiles a fixture the way `fixpath lint PATH` does, with a relative path.
fn compile(fixture: &Path) -> Compilation {
    compile_paths(&[PathBuf::from(relative(fixture))]).expect("the fixture exists")
}

/// A one-line-per-diagnostic listing, for assertion messages.
fn listing(comp: &Compilation) -> String {
    comp.diagnostics
        .iter()
        .map(|d| {
            format!(
                "  {} {}:{}:{} {}",
                d.code,
                comp.sources.path(d.file),
                d.span.start.line,
                d.span.start.column,
                d.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Compiles a fixture and checks it against its header: its code at the
/// expected place, and no code it does not declare.
fn check(fixture: &Path) -> Compilation {
    let name = fixture
        .file_name()
        .expect("a name")
        .to_string_lossy()
        .into_owned();
    let code =
        code_of(&name).unwrap_or_else(|| panic!("fixture `{name}` is not named after a lint code"));
    let h = header(fixture);
    assert!(
        !h.expects.is_empty(),
        "fixture `{name}` has no `# expect: {code} at LINE:COL` line"
    );
    let comp = compile(fixture);
    for e in &h.expects {
        assert_eq!(
            e.code,
            code.as_str(),
            "fixture `{name}` expects {} but is named after {code}",
            e.code
        );
        let found = comp.diagnostics.iter().any(|d| {
            d.code.as_str() == e.code
                && comp.sources.path(d.file) == e.file
                && d.span.start.line == e.line
                && d.span.start.column == e.column
        });
        assert!(
            found,
            "fixture `{name}`: expected {} at {}:{}:{}, got:\n{}",
            e.code,
            e.file,
            e.line,
            e.column,
            listing(&comp)
        );
    }
    let allowed: BTreeSet<&str> = h
        .also
        .iter()
        .map(String::as_str)
        .chain([code.as_str()])
        .collect();
    let stray: Vec<&str> = comp
        .diagnostics
        .iter()
        .map(|d| d.code.as_str())
        .filter(|c| !allowed.contains(c))
        .collect();
    assert!(
        stray.is_empty(),
        "fixture `{name}` should report only {allowed:?}, but also reports {stray:?}:\n{}",
        listing(&comp)
    );
    comp
}

/// What `fixpath lint` prints for the fixture: the diagnostics on stdout and
/// the closing summary line on stderr.
fn human(comp: &Compilation) -> String {
    let mut s = render::human(&comp.diagnostics, &comp.sources, false);
    s.push_str(&render::summary(&comp.diagnostics, comp.sources.len()));
    s.push('\n');
    s
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(FIXTURES)
        .join(name)
}

#[test]
fn lint_fixtures() {
    insta::glob!("../fixtures", "lint/*", |path| {
        let name = path
            .file_name()
            .expect("a name")
            .to_string_lossy()
            .into_owned();
        if KNOWN_BUGS.contains(&name.as_str()) {
            return;
        }
        let comp = check(path);
        insta::assert_snapshot!("human", human(&comp));
        insta::assert_snapshot!("json", render::json(&comp.diagnostics, &comp.sources));
    });
}

#[test]
fn every_code_has_a_fixture() {
    let names: Vec<String> = std::fs::read_dir(fixture(""))
        .expect("the fixtures folder")
        .map(|e| {
            e.expect("a folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for name in &names {
        assert!(
            code_of(name).is_some(),
            "fixture `{name}` is not named after a lint code (FP001.yaml, FP004-script/, ...)"
        );
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !names.iter().any(|n| code_of(n) == Some(**c)))
        .map(|c| c.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "lint codes without a fixture in {FIXTURES}: {missing:?}"
    );
}

#[test]
fn known_bugs_are_fixtures() {
    for name in KNOWN_BUGS {
        assert!(
            fixture(name).exists(),
            "KNOWN_BUGS lists `{name}`, which is not a fixture"
        );
    }
}

#[test]
fn every_code_is_reported_by_its_own_fixture() {
    // The glob above shows each fixture; this sums up that, together, they
    // cover every code (fixtures of known bugs included).
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(fixture("")).expect("the fixtures folder") {
        let path = entry.expect("a folder entry").path();
        let comp = compile(&path);
        seen.extend(comp.diagnostics.iter().map(|d| d.code));
    }
    let missing: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| !seen.contains(*c))
        .map(|c| c.as_str())
        .collect();
    assert!(missing.is_empty(), "no fixture triggers {missing:?}");
}

// ---------------------------------------------------------------------------
// Known bugs. Each test states what an author should see; remove the
// `#[ignore]` and the fixture's entry in KNOWN_BUGS once it holds, then
// review and accept the new snapshots.

#[test]
fn fp001_not_utf8_points_at_the_invalid_byte() {
    check(&fixture("FP001-not-utf8.yaml"));
}

#[test]
fn fp001_tab_points_at_the_tab() {
    check(&fixture("FP001-tab.yaml"));
}

#[test]
fn fp001_unclosed_bracket_points_at_the_bracket() {
    check(&fixture("FP001-unclosed-bracket.yaml"));
}

#[test]
fn fp004_script_first_definition_is_in_the_other_file() {
    let comp = check(&fixture("FP004-script"));
    let first = "tests/fixtures/lint/FP004-script/printer.yaml";
    let human = render::human(&comp.diagnostics, &comp.sources, false);
    assert!(
        human.contains(&format!("{first}:1:5")),
        "the human output should show the first definition in {first}:\n{human}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&render::json(&comp.diagnostics, &comp.sources))
            .expect("JSON output parses");
    let related = &json[0]["related"][0];
    assert_eq!(
        related["file"], first,
        "a related place in another file should name that file: {json:#}"
    );
}

#[test]
fn human_output_reads_like_rustc() {
    let comp = check(&fixture("FP005.yaml"));
    let human = render::human(&comp.diagnostics, &comp.sources, false);
    assert!(human.starts_with("error[FP005]: "), "{human}");
    assert!(
        human.contains(" --> tests/fixtures/lint/FP005.yaml:12:15\n"),
        "{human}"
    );
}

#[test]
fn duplicate_script_still_reports_its_own_problems() {
    let comp = fixpath::compiler::compile_texts([
        (
            "scripts/printer.yaml",
            "id: printer-offline\ntitle: Printer\nnodes:\n  done:\n    resolve: Fixed\n",
        ),
        (
            "scripts/printer-copy.yaml",
            "id: printer-offline\ntitle: Printer (copy)\nnodes:\n  power:\n    ask: Is it on?\n    answers:\n      - Yes: ligths\n      - No: { escalate: \"Off ({{ devcie }})\" }\n",
        ),
    ]);
    let codes: Vec<&str> = comp.diagnostics.iter().map(|d| d.code.as_str()).collect();
    for code in ["FP004", "FP005", "FP009"] {
        assert!(
            codes.contains(&code),
            "expected {code} among {codes:?}:\n{}",
            listing(&comp)
        );
    }
}
