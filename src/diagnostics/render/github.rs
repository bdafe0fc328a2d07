//! `--format github`: GitHub Actions workflow commands, which show each
//! problem as an annotation on the pull request's diff.

use crate::diagnostics::{Diagnostic, Severity, Sources};
use std::fmt::Write;

pub fn github(diags: &[Diagnostic], sources: &Sources) -> String {
    let mut out = String::new();
    for d in diags {
        let kind = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut message = d.message.to_string();
        for h in &d.hints {
            message.push_str("\nhelp: ");
            message.push_str(h);
        }
        let _ = writeln!(
            out,
            "::{kind} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            property(sources.path(d.file)),
            d.span.start.line,
            d.span.start.column,
            d.span.end.line.max(d.span.start.line),
            d.span.end.column.max(d.span.start.column),
            property(&format!("{} {}", d.code, d.code.summary())),
            data(&message)
        );
    }
    out
}

/// Escaping of a command's message, per the workflow-command rules.
fn data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a command's properties, which also reserve `:` and `,`.
fn property(s: &str) -> String {
    data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workflow_command_escaping() {
        assert_eq!(data("50%\nnext"), "50%25%0Anext");
        assert_eq!(property("a:b,c"), "a%3Ab%2Cc");
    }
}
