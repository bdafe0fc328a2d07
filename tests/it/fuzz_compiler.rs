//! Fuzzing the script compiler (issue 18): the scripts of `scripts/` and
//! the YAML files of `tests/fixtures/`, mutated (bytes flipped, ranges cut,
//! copied and swapped, YAML syntax inserted, lines indented, pieces of other
//! files spliced in, cut short), and plain random bytes, go through the
//! loader's decoding, the compiler (beside the sub-flow the examples use),
//! every diagnostics renderer, and the test-file parser.
//!
//! What must hold: no panic; every case answers within
//! [`fuzz::CASE_BUDGET`]; every diagnostic points into its file (1-based
//! line and column within it) and says something; a file with errors is
//! not in the program (but for a trap, FP012, found on the program), and a
//! run without errors has it.
//!
//! `robustness::fuzz_decode_compile_export_render` does the same with its
//! own generator over the graph exporters too; this target adds the
//! fixtures as seeds, shrinking of a failing case to a small one, and the
//! test-file parser. Default: a fixed seed and few cases; run long with
//! `FIXPATH_FUZZ_CASES` and `PROPTEST_RNG_SEED` (docs/fuzzing.md).

use crate::common::fuzz;
use fixpath::compiler::{Compilation, compile_texts};
use fixpath::diagnostics::Code;
use fixpath::diagnostics::render::{self, Format};
use fixpath::scenario::parse_test_file;
use fixpath::script::load;
use proptest::prelude::*;
use proptest::sample::Index;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

/// The seeds: every YAML file of `scripts/` and `tests/fixtures/`, by path
/// relative to the repository, in a stable order.
fn seeds() -> &'static [(String, Vec<u8>)] {
    static SEEDS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in ["scripts", "tests/fixtures"] {
            collect(&root.join(dir), &mut files);
        }
        files.sort();
        let seeds: Vec<_> = files
            .into_iter()
            .filter_map(|p| {
                let bytes = std::fs::read(&p).ok()?;
                let name = p.strip_prefix(root).ok()?.to_string_lossy().into_owned();
                Some((name, bytes))
            })
            .collect();
        assert!(seeds.len() > 50, "the seeds are missing: {}", seeds.len());
        seeds
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")) {
            out.push(p);
        }
    }
}

/// The sub-flow the example scripts `use`, compiled beside every case so a
/// mutated example can still reach the program.
fn power_cycle() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/power-cycle.yaml"),
        )
        .expect("scripts/power-cycle.yaml")
    })
}

/// Bits of YAML (and of templates) that make the parser take odd turns.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "!!str ",
    "!!map ",
    "? ",
    "\t",
    "|",
    "|-",
    ">",
    "#",
    "'",
    "\"",
    "\\",
    "%YAML 1.2\n",
    "---\n",
    "...\n",
    "\n",
    "\r\n",
    "\r",
    "  ",
    "~",
    "null",
    "{{",
    "}}",
    "{{ x }}",
    "{% for i in range(9) %}",
    "{% endfor %}",
    "\u{feff}",
    "\0",
    "é",
    "ж",
    "😀",
    "<<: *a\n",
    "goto: ",
    "next: ",
    "use: ",
    "answers:\n",
    "ask: ",
    "escalate: ",
    "resolve: ",
    "branch:\n",
    "- if: ",
    "else: ",
    "input: ",
    "id: ",
    "nodes:\n",
    "languages: [en, et]\n",
    "vars: ",
    "set: ",
    "pattern: \"(\"\n",
];

/// One edit of a seed; positions are taken modulo the length at the time.
#[derive(Debug, Clone)]
enum Edit {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Delete(Index, u16),
    Duplicate(Index, u16, Index),
    Swap(Index, Index, u16),
    Insert(Index, Index),
    Truncate(Index),
    Indent(Index, bool),
    Splice(Index, Index, u16, Index),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Edit::FlipBit(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::SetByte(i, b)),
        2 => (any::<Index>(), 1u16..200).prop_map(|(i, n)| Edit::Delete(i, n)),
        1 => (any::<Index>(), 1u16..300, any::<Index>()).prop_map(|(i, n, at)| Edit::Duplicate(i, n, at)),
        1 => (any::<Index>(), any::<Index>(), 1u16..200).prop_map(|(a, b, n)| Edit::Swap(a, b, n)),
        4 => (any::<Index>(), any::<Index>()).prop_map(|(i, t)| Edit::Insert(i, t)),
        1 => any::<Index>().prop_map(Edit::Truncate),
        2 => (any::<Index>(), any::<bool>()).prop_map(|(i, d)| Edit::Indent(i, d)),
        1 => (any::<Index>(), any::<Index>(), 1u16..400, any::<Index>())
            .prop_map(|(f, s, n, at)| Edit::Splice(f, s, n, at)),
    ]
}

fn range(b: &[u8], at: &Index, n: u16) -> (usize, usize) {
    if b.is_empty() {
        return (0, 0);
    }
    let s = at.index(b.len());
    (s, (s + n as usize).min(b.len()))
}

fn apply(b: &mut Vec<u8>, e: &Edit) {
    let pos = |b: &Vec<u8>, i: &Index| i.index(b.len() + 1);
    match e {
        Edit::FlipBit(i, bit) if !b.is_empty() => {
            let i = i.index(b.len());
            b[i] ^= 1 << bit;
        }
        Edit::SetByte(i, v) if !b.is_empty() => {
            let i = i.index(b.len());
            b[i] = *v;
        }
        Edit::Delete(i, n) => {
            let (s, e) = range(b, i, *n);
            b.drain(s..e);
        }
        Edit::Duplicate(i, n, at) => {
            let (s, e) = range(b, i, *n);
            let chunk = b[s..e].to_vec();
            let at = pos(b, at);
            b.splice(at..at, chunk);
        }
        Edit::Swap(x, y, n) => {
            let (s1, e1) = range(b, x, *n);
            let (s2, e2) = range(b, y, *n);
            if e1 <= s2 {
                let mut out = b[..s1].to_vec();
                out.extend_from_slice(&b[s2..e2]);
                out.extend_from_slice(&b[e1..s2]);
                out.extend_from_slice(&b[s1..e1]);
                out.extend_from_slice(&b[e2..]);
                *b = out;
            }
        }
        Edit::Insert(i, t) => {
            let at = pos(b, i);
            let tok = TOKENS[t.index(TOKENS.len())].as_bytes();
            b.splice(at..at, tok.iter().copied());
        }
        Edit::Truncate(i) => {
            let at = pos(b, i);
            b.truncate(at);
        }
        Edit::Indent(i, dedent) => {
            let at = pos(b, i);
            let line = b[..at]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(0, |i| i + 1);
            if *dedent {
                let spaces = b[line..].iter().take_while(|&&c| c == b' ').count();
                b.drain(line..line + spaces.min(2));
            } else {
                b.splice(line..line, *b"  ");
            }
        }
        Edit::Splice(f, s, n, at) => {
            let other = &seeds()[f.index(seeds().len())].1;
            let (s, e) = range(other, s, *n);
            let at = pos(b, at);
            b.splice(at..at, other[s..e].iter().copied());
        }
        // A flip or a set on an empty file.
        _ => b.push(b'\n'),
    }
}

/// A case: a mutated seed, or random bytes, and the name it is given (a
/// script, or a test file).
#[derive(Debug, Clone)]
enum Input {
    Mutated(Index, Vec<Edit>),
    Random(Vec<u8>),
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (any::<Index>(), prop::collection::vec(edit(), 1..6))
            .prop_map(|(seed, edits)| Input::Mutated(seed, edits)),
        1 => prop::collection::vec(any::<u8>(), 0..600).prop_map(Input::Random),
        1 => prop::collection::vec(prop::sample::select(TOKENS), 0..80)
            .prop_map(|t| Input::Random(t.concat().into_bytes())),
    ]
}

/// The bytes of a case and whether they are a test file's.
fn bytes_of(input: &Input) -> (Vec<u8>, bool) {
    match input {
        Input::Mutated(seed, edits) => {
            let (name, bytes) = &seeds()[seed.index(seeds().len())];
            let mut b = bytes.clone();
            for e in edits {
                apply(&mut b, e);
            }
            (b, name.ends_with(".test.yaml"))
        }
        Input::Random(b) => (b.clone(), false),
    }
}

fn check(comp: &Compilation, case: &str) -> Result<(), TestCaseError> {
    for d in &comp.diagnostics {
        let path = comp.sources.path(d.file);
        prop_assert!(
            !d.message.trim().is_empty(),
            "{} without words",
            d.code.as_str()
        );
        let text = comp
            .sources
            .get(d.file)
            .map(|f| f.text.clone())
            .unwrap_or_default();
        let lines = text.split(['\n', '\r']).count().max(1) as u32 + 1;
        for p in [d.span.start, d.span.end] {
            prop_assert!(
                p.line >= 1 && p.line <= lines && p.column >= 1,
                "{} at {}:{} is outside {path} ({lines} lines): {}",
                d.code.as_str(),
                p.line,
                p.column,
                d.message
            );
        }
    }
    for f in [Format::Human, Format::Json, Format::Sarif, Format::Github] {
        let out = render::render(f, &comp.diagnostics, &comp.sources, f == Format::Human);
        prop_assert!(comp.diagnostics.is_empty() || !out.is_empty());
    }
    // The trap lint (FP012) is an error found on the compiled program, so
    // a script with a trap is in the program; the library refuses any run
    // with an error, so it is never served.
    let errors = comp
        .diagnostics
        .iter()
        .any(|d| d.is_error() && d.code != Code::Fp012 && comp.sources.path(d.file) == case);
    let compiled = comp.program.scripts.iter().any(|s| s.path == case);
    prop_assert!(!(errors && compiled), "a script with errors was compiled");
    prop_assert!(
        comp.errors() > 0 || compiled,
        "a run without errors left the script out"
    );
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::config(256))]

    #[test]
    fn compile_mutated_seeds_and_random_bytes(input in input()) {
        let started = Instant::now();
        let _watch = fuzz::watch(&input);
        let (bytes, is_test) = bytes_of(&input);
        let text = match load::decode(bytes.clone()) {
            Ok(t) => t,
            Err(msg) => {
                prop_assert!(msg.contains("UTF-8"), "decode error without a reason: {msg}");
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        if is_test {
            // A test file: parsed on its own (an error is a message, not a
            // panic), and compiled among scripts as a test file.
            if let Err(e) = parse_test_file(&text) {
                prop_assert!(!e.trim().is_empty());
            }
            let comp = compile_texts([
                ("fuzz/case.test.yaml".to_string(), text),
                ("fuzz/power-cycle.yaml".to_string(), power_cycle().to_string()),
            ]);
            prop_assert_eq!(comp.test_files.len(), 1);
        } else {
            let comp = compile_texts([
                ("fuzz/case.yaml".to_string(), text),
                ("fuzz/power-cycle.yaml".to_string(), power_cycle().to_string()),
            ]);
            check(&comp, "fuzz/case.yaml")?;
        }
        prop_assert!(
            started.elapsed() < fuzz::CASE_BUDGET,
            "the case took {:?}",
            started.elapsed()
        );
    }
}
