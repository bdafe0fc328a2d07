//! Turning diagnostics into what people and tools read: rustc-style text
//! with an excerpt and a caret, JSON, SARIF 2.1.0 and GitHub workflow
//! annotations. Every span already carries its line and column (the YAML
//! reader works them out as it reads); the renderers only print them, and
//! the human format reads the source again for its excerpt.

mod github;
mod human;
mod json;
mod sarif;

pub use github::github;
pub use human::{human, summary};
pub use json::{json, to_value as json_value};
pub use sarif::sarif;

use super::{Diagnostic, Sources};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// rustc-style text with source excerpts
    Human,
    /// one JSON array of {file, line, column, severity, code, message, ...}
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards
    Sarif,
    /// GitHub Actions workflow commands (annotations on the pull request)
    Github,
}

/// Renders `diags` in `format`; `color` applies to human output only.
pub fn render(format: Format, diags: &[Diagnostic], sources: &Sources, color: bool) -> String {
    match format {
        Format::Human => human(diags, sources, color),
        Format::Json => json(diags, sources),
        Format::Sarif => sarif(diags, sources),
        Format::Github => github(diags, sources),
    }
}
