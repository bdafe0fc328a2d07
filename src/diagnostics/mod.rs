//! Diagnostics: what the compiler tells an author about a script.
//!
//! A [`Diagnostic`] carries a stable [`Code`] (contract section 5), a message,
//! and the exact place in the file: the compiler builds diagnostics from the
//! spanned YAML reader, so every key and value has its own line and column. The
//! renderers in [`render`] turn a list of diagnostics into the human
//! (rustc-style), JSON, SARIF and GitHub-annotation outputs.

pub mod codes;
pub mod render;
mod sources;

pub use codes::{Code, Severity};
pub use sources::{FileId, SourceFile, Sources};

use serde::Serialize;

/// A position in a source file. `line` and `column` are 1-based; `column`
/// counts characters (not bytes), as editors do. `index` is the character
/// offset from the start of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Pos {
    pub line: u32,
    pub column: u32,
    #[serde(skip)]
    pub index: u32,
}

/// A region of a source file, from `start` (inclusive) to `end` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    /// A span that covers the whole first character of the file: used only for
    /// problems that belong to a file rather than to a place in it.
    pub const FILE: Span = Span {
        start: Pos {
            line: 1,
            column: 1,
            index: 0,
        },
        end: Pos {
            line: 1,
            column: 1,
            index: 0,
        },
    };
}

/// One problem found in a script.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub code: Code,
    pub severity: Severity,
    pub message: String,
    pub file: FileId,
    pub span: Span,
    /// A label shown under the caret in human output.
    pub label: Option<String>,
    /// Advice, each shown as `help: ...`: the "did you mean" suggestions and how to fix it.
    pub hints: Vec<String>,
    /// Further places that explain the problem (the first definition of a duplicate, say).
    pub related: Vec<(FileId, Span, String)>,
}

impl Diagnostic {
    pub fn new(code: Code, file: FileId, span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: code.severity(),
            message: message.into(),
            file,
            span,
            label: None,
            hints: Vec::new(),
            related: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn with_hint_opt(mut self, hint: Option<String>) -> Self {
        if let Some(h) = hint {
            self.hints.push(h);
        }
        self
    }

    pub fn with_related(self, span: Span, message: impl Into<String>) -> Self {
        let file = self.file;
        self.with_related_in(file, span, message)
    }

    /// A related place in another file (the first definition of a script id, say).
    pub fn with_related_in(mut self, file: FileId, span: Span, message: impl Into<String>) -> Self {
        self.related.push((file, span, message.into()));
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics the way authors read them: by file, then position, then code.
pub fn sort(diags: &mut [Diagnostic], sources: &Sources) {
    diags.sort_by(|a, b| {
        let pa = sources.get(a.file).map(|f| f.path.as_str()).unwrap_or("");
        let pb = sources.get(b.file).map(|f| f.path.as_str()).unwrap_or("");
        (pa, a.span.start, a.code).cmp(&(pb, b.span.start, b.code))
    });
}

/// "did you mean": the closest candidate to `wanted`, if one is close enough
/// to be a plausible typo.
pub fn did_you_mean<'a, I>(wanted: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(wanted, c);
        if score >= 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn did_you_mean_finds_typos_and_ignores_strangers() {
        let keys = ["answers", "ask", "say", "help"];
        assert_eq!(did_you_mean("answer", keys), Some("answers"));
        assert_eq!(did_you_mean("hlep", keys), Some("help"));
        assert_eq!(did_you_mean("colour", keys), None);
    }
}
