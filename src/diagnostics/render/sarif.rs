//! `--format sarif`: SARIF 2.1.0, the format code-scanning dashboards
//! (GitHub code scanning among them) read. Every rule is listed with its
//! explanation so the dashboard can show how to fix it.

use crate::diagnostics::{Code, Diagnostic, Severity, Sources};
use serde_json::json;

pub fn sarif(diags: &[Diagnostic], sources: &Sources) -> String {
    let rules: Vec<_> = Code::ALL
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "shortDescription": { "text": c.summary() },
                "fullDescription": { "text": c.summary() },
                "help": { "text": c.explanation(), "markdown": c.explanation() },
                "defaultConfiguration": { "level": level(c.severity()) },
            })
        })
        .collect();
    let results: Vec<_> = diags
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            for h in &d.hints {
                message.push_str("\nhelp: ");
                message.push_str(h);
            }
            json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": Code::ALL.iter().position(|c| *c == d.code).unwrap_or(0),
                "level": level(d.severity),
                "message": { "text": message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": uri(sources.path(d.file)) },
                        "region": {
                            "startLine": d.span.start.line,
                            "startColumn": d.span.start.column,
                            "endLine": d.span.end.line.max(d.span.start.line),
                            "endColumn": if d.span.end.line > d.span.start.line || d.span.end.column > d.span.start.column { d.span.end.column } else { d.span.start.column + 1 },
                        }
                    }
                }],
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "fixpath",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/fixpath/fixpath",
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

/// A relative URI for a path (forward slashes, no `./`).
fn uri(path: &str) -> String {
    path.trim_start_matches("./").replace('\\', "/")
}
