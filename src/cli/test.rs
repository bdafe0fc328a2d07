//! `fixpath test [PATH...] [--coverage]`: runs the `*.test.yaml` files found
//! among PATHs against the scripts found there and beside any file named on
//! its own. The last line is always `N passed, N failed`.

use super::exit;
use crate::diagnostics::render;
use crate::scenario;
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Script and test files or folders (default: scripts/)
    pub paths: Vec<PathBuf>,
    /// List every answer that no case exercises, of the scripts named (files, or found in
    /// folders) and those the tests named run; any such answer fails the run
    #[arg(long)]
    pub coverage: bool,
}

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let Some(loaded) = super::compile_with_context(args.paths, err)? else {
        return Ok(exit::USAGE);
    };
    let comp = &loaded.comp;
    // Only the test files asked for run; a test file named on its own finds
    // its script among the files beside it.
    let test_files: Vec<_> = comp
        .test_files
        .iter()
        .copied()
        .filter(|&f| loaded.is_asked(f))
        .collect();
    let mut tested: Vec<String> = Vec::new();
    for &file in &test_files {
        let text = comp.sources.get(file).map(|f| &*f.text).unwrap_or("");
        if let Ok(tf) = scenario::parse_test_file(text) {
            tested.push(tf.script);
        }
    }
    // The errors of the files asked for, and those beside them when a tested
    // script did not compile (they say why).
    let untested = tested.iter().any(|id| comp.program.get(id).is_none());
    let errors: Vec<_> = comp
        .diagnostics
        .iter()
        .filter(|d| d.is_error() && (untested || loaded.is_asked(d.file)))
        .cloned()
        .collect();
    if !errors.is_empty() {
        writeln!(err, "{}", render::human(&errors, &comp.sources, false))?;
        writeln!(err, "some scripts do not compile; their cases fail")?;
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut chosen: HashSet<(String, String, String)> = HashSet::new();
    for &file in &test_files {
        let path = comp.sources.path(file).to_owned();
        let text = comp
            .sources
            .get(file)
            .map(|f| f.text.clone())
            .unwrap_or_default();
        let tf = match scenario::parse_test_file(&text) {
            Ok(tf) => tf,
            Err(e) => {
                writeln!(out, "FAILED {path}: this test file cannot be read: {e}")?;
                failed += 1;
                continue;
            }
        };
        if comp.program.get(&tf.script).is_none() {
            let why = if comp.diagnostics.iter().any(|d| d.is_error()) {
                "is not loaded or does not compile"
            } else {
                "is not loaded"
            };
            writeln!(
                out,
                "FAILED {path}: script `{}` {why}; {} case(s) not run",
                tf.script,
                tf.cases.len()
            )?;
            failed += tf.cases.len().max(1);
            continue;
        }
        writeln!(out, "{path} ({} cases)", tf.cases.len())?;
        for case in &tf.cases {
            let r = scenario::run_case(&comp.program, &tf.script, case);
            chosen.extend(r.chosen.iter().cloned());
            if r.passed() {
                passed += 1;
                writeln!(out, "  ok     {}", r.name)?;
            } else {
                failed += 1;
                writeln!(out, "  FAILED {}", r.name)?;
                for f in &r.failures {
                    writeln!(out, "         {f}")?;
                }
            }
            for n in &r.notes {
                writeln!(out, "         note: {n}")?;
            }
        }
    }
    let mut uncovered_count = 0;
    if args.coverage {
        // The scripts asked for: those in the files named, and those the
        // tests named exercise. A sub-flow they `use` counts when named too.
        let asked: HashSet<&str> = comp
            .program
            .scripts
            .iter()
            .filter(|s| {
                tested.contains(&s.id)
                    || comp
                        .sources
                        .iter()
                        .any(|(f, src)| loaded.is_asked(f) && src.path == s.path)
            })
            .map(|s| s.id.as_str())
            .collect();
        let mut missing = scenario::uncovered(&comp.program, &chosen);
        missing.retain(|m| asked.contains(m.script.as_str()));
        uncovered_count = missing.len();
        if missing.is_empty() {
            writeln!(
                out,
                "coverage: every answer of every script tested is exercised"
            )?;
        } else {
            writeln!(
                out,
                "coverage: {} answer(s) no case exercises:",
                missing.len()
            )?;
            for m in &missing {
                writeln!(
                    out,
                    "  {}: {} > {} > {}",
                    m.path, m.script, m.node, m.answer
                )?;
            }
        }
    }
    writeln!(out, "{passed} passed, {failed} failed")?;
    let asked_errors = errors.iter().any(|d| loaded.is_asked(d.file));
    Ok(if failed > 0 || uncovered_count > 0 || asked_errors {
        exit::PROBLEMS
    } else {
        exit::OK
    })
}
