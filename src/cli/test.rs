//! `fixpath test [PATH...] [--coverage]`: runs the `*.test.yaml` files found
//! among PATHs against the scripts found there. The last line is always
//! `N passed, N failed`.

use super::exit;
use crate::diagnostics::render;
use crate::scenario;
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Script and test files or folders (default: scripts/)
    pub paths: Vec<PathBuf>,
    /// List every answer of every script that no case exercises; any such
    /// answer fails the run
    #[arg(long)]
    pub coverage: bool,
}

pub fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let Some(comp) = super::compile_or_report(args.paths, err)? else {
        return Ok(exit::USAGE);
    };
    let errors: Vec<_> = comp
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    if !errors.is_empty() {
        writeln!(err, "{}", render::human(&errors, &comp.sources, false))?;
        writeln!(err, "some scripts do not compile; their cases fail")?;
    }
    let (mut passed, mut failed) = (0usize, 0usize);
    let mut chosen: HashSet<(String, String, String)> = HashSet::new();
    for &file in &comp.test_files {
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
        let missing = scenario::uncovered(&comp.program, &chosen);
        uncovered_count = missing.len();
        if missing.is_empty() {
            writeln!(out, "coverage: every answer of every script is exercised")?;
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
    Ok(if failed > 0 || uncovered_count > 0 || !errors.is_empty() {
        exit::PROBLEMS
    } else {
        exit::OK
    })
}
