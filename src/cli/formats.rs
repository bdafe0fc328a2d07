//! The command line's spelling of the formats it offers, mapped to the core
//! types that do the work: the core stays free of clap, and a core type can
//! grow a variant without it showing up on the command line by accident.

use crate::diagnostics::render;
use crate::program::export::GraphFormat;
use crate::server::LogFormat;

/// `fixpath lint --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LintFormat {
    /// rustc-style text with source excerpts
    Human,
    /// one JSON array of {file, line, column, severity, code, message, ...}
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards
    Sarif,
    /// GitHub Actions workflow commands (annotations on the pull request)
    Github,
}

impl From<LintFormat> for render::Format {
    fn from(f: LintFormat) -> Self {
        match f {
            LintFormat::Human => render::Format::Human,
            LintFormat::Json => render::Format::Json,
            LintFormat::Sarif => render::Format::Sarif,
            LintFormat::Github => render::Format::Github,
        }
    }
}

/// `fixpath graph --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphArg {
    /// Graphviz DOT
    Dot,
    /// Mermaid flowchart (renders in GitHub and GitLab Markdown)
    Mermaid,
    /// A standalone SVG picture, drawn without any external program
    Svg,
}

impl From<GraphArg> for GraphFormat {
    fn from(f: GraphArg) -> Self {
        match f {
            GraphArg::Dot => GraphFormat::Dot,
            GraphArg::Mermaid => GraphFormat::Mermaid,
            GraphArg::Svg => GraphFormat::Svg,
        }
    }
}

/// `fixpath serve --log-format` (and `FIXPATH_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogArg {
    /// One readable line per event
    Text,
    /// One JSON object per line, for log collectors
    Json,
}

impl From<LogArg> for LogFormat {
    fn from(f: LogArg) -> Self {
        match f {
            LogArg::Text => LogFormat::Text,
            LogArg::Json => LogFormat::Json,
        }
    }
}
