//! What every benchmark shares.

use fixpath::compiler::Compilation;
use std::collections::BTreeMap;

/// Prints what a benchmark input compiled to, and fails the run when it
/// has errors: a script with errors is not lowered, so its graph lints (or
/// its sessions) would not run at all and the figures would mean nothing.
pub fn require_clean(what: &str, c: &Compilation) {
    let mut by_code: BTreeMap<String, usize> = BTreeMap::new();
    for d in &c.diagnostics {
        *by_code.entry(format!("{:?}", d.code)).or_default() += 1;
    }
    eprintln!(
        "[{what}] {} scripts lowered, {} errors, {} warnings {by_code:?}",
        c.program.scripts.len(),
        c.errors(),
        c.warnings()
    );
    if c.errors() > 0 {
        for d in c.diagnostics.iter().filter(|d| d.is_error()).take(10) {
            eprintln!(
                "  {}:{}:{} {:?} {}",
                c.sources.path(d.file),
                d.span.start.line,
                d.span.start.column,
                d.code,
                d.message
            );
        }
        panic!("[{what}] the benchmark input must compile without errors");
    }
}
