//! `--format json`: one array of `{file, line, column, severity, code,
//! message}` (contract section 7), plus the end of the span, the hints and the
//! related places for tools that can use them.

use crate::diagnostics::{Diagnostic, Sources};
use serde_json::{Value, json};

pub fn to_value(d: &Diagnostic, sources: &Sources) -> Value {
    json!({
        "file": sources.path(d.file),
        "line": d.span.start.line,
        "column": d.span.start.column,
        "end_line": d.span.end.line.max(d.span.start.line),
        "end_column": if d.span.end.line < d.span.start.line { d.span.start.column } else { d.span.end.column },
        "severity": d.severity,
        "code": d.code,
        "message": d.message,
        "hints": d.hints,
        "related": d.related.iter().map(|(f, s, m)| json!({"file": sources.path(*f), "line": s.start.line, "column": s.start.column, "message": m})).collect::<Vec<_>>(),
    })
}

pub fn json(diags: &[Diagnostic], sources: &Sources) -> String {
    let all: Vec<Value> = diags.iter().map(|d| to_value(d, sources)).collect();
    let mut s = serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into());
    s.push('\n');
    s
}
