//! rustc-style output, drawn by codespan-reporting.

use crate::diagnostics::{Diagnostic, Severity, Sources, Span};
use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label, Severity as CsSeverity};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor::Buffer};
use std::ops::Range;
use std::sync::Arc;

pub fn human(diags: &[Diagnostic], sources: &Sources, color: bool) -> String {
    let mut files: SimpleFiles<String, Arc<str>> = SimpleFiles::new();
    for (_, f) in sources.iter() {
        // codespan breaks lines at `\n` only; a lone `\r` (old Mac files) is a
        // line break too. Same length, so every byte offset still holds.
        let text: Arc<str> = if f.text.contains('\r') {
            f.text
                .replace("\r\n", "\u{1}\n")
                .replace('\r', "\n")
                .replace('\u{1}', "\r")
                .into()
        } else {
            f.text.clone()
        };
        files.add(f.path.clone(), text);
    }
    // rustc's look: `-->` before the location, `|` and `^` for the excerpt.
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut buf = if color {
        Buffer::ansi()
    } else {
        Buffer::no_color()
    };
    for d in diags {
        let range = |f: crate::diagnostics::FileId, s: Span| -> Range<usize> {
            let Some(src) = sources.get(f) else {
                return 0..0;
            };
            let a = src.byte_offset(s.start.line, s.start.column);
            let mut b = src.byte_offset(s.end.line, s.end.column);
            // Point at one whole character at least; never run across the line end
            // for multi-line values, so the caret stays on the offending line.
            if s.end.line != s.start.line || b <= a {
                let line_end = src.text[a..]
                    .find(['\n', '\r'])
                    .map(|i| a + i)
                    .unwrap_or(src.text.len());
                b = src.text[a..line_end]
                    .chars()
                    .next()
                    .map(|c| a + c.len_utf8())
                    .unwrap_or(a);
                if s.end.line != s.start.line {
                    b = line_end.max(b);
                }
            }
            a..b
        };
        let mut primary = Label::primary(d.file.0 as usize, range(d.file, d.span));
        if let Some(l) = &d.label {
            primary = primary.with_message(l.clone());
        }
        let mut labels = vec![primary];
        for (f, s, m) in &d.related {
            labels.push(Label::secondary(f.0 as usize, range(*f, *s)).with_message(m.clone()));
        }
        let sev = match d.severity {
            Severity::Error => CsSeverity::Error,
            Severity::Warning => CsSeverity::Warning,
        };
        let cs = CsDiagnostic::new(sev)
            .with_code(d.code.as_str())
            .with_message(d.message.clone())
            .with_labels(labels)
            .with_notes(d.hints.iter().map(|h| format!("help: {h}")).collect());
        if sources.get(d.file).is_some_and(|f| !f.text.is_empty()) {
            let _ = term::emit_to_write_style(&mut buf, &config, &files, &cs);
        } else {
            // No text to excerpt (an unreadable file): the header and the path.
            let _ = std::io::Write::write_fmt(
                &mut buf,
                format_args!(
                    "{}[{}]: {}\n  --> {}\n",
                    d.severity,
                    d.code,
                    d.message,
                    sources.path(d.file)
                ),
            );
            for h in &d.hints {
                let _ = std::io::Write::write_fmt(&mut buf, format_args!("  = help: {h}\n"));
            }
            let _ = std::io::Write::write_all(&mut buf, b"\n");
        }
    }
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}

/// The closing line of a lint run, as rustc and cargo print it.
pub fn summary(diags: &[Diagnostic], files: usize) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let warnings = diags.len() - errors;
    let plural = |n: usize, w: &str| {
        if n == 1 {
            format!("{n} {w}")
        } else {
            format!("{n} {w}s")
        }
    };
    if diags.is_empty() {
        format!("checked {}: no problems found", plural(files, "file"))
    } else {
        format!(
            "checked {}: {}, {}",
            plural(files, "file"),
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}
