//! `fixpath lint [PATH...] [--format ...] [--deny-warnings]`, and
//! `fixpath lint --explain CODE`. A file named on its own is checked with the
//! scripts beside it loaded, as `run` and `graph` load them, and only its own
//! problems are reported.

use super::exit;
use crate::diagnostics::{Code, render};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Script files or folders (default: scripts/); a file is checked with the scripts beside
    /// it loaded, so its `use` resolves, and only its own problems are reported
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: super::formats::LintFormat,
    /// Fail (exit 1) on warnings too
    #[arg(long)]
    pub deny_warnings: bool,
    /// Explain a lint code (what it checks, why, how to fix it) and exit
    #[arg(long, value_name = "CODE")]
    pub explain: Option<String>,
}

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    if let Some(code) = &args.explain {
        return Ok(match Code::parse(code) {
            Some(c) => {
                writeln!(
                    out,
                    "{} ({}): {}\n\n{}",
                    c,
                    c.severity(),
                    c.summary(),
                    c.explanation().trim_end()
                )?;
                exit::OK
            }
            None => {
                let all: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
                writeln!(
                    err,
                    "error: unknown lint code `{code}`; the codes are {}",
                    all.join(", ")
                )?;
                exit::USAGE
            }
        });
    }
    let Some(loaded) = super::compile_with_context(args.paths, err)? else {
        return Ok(exit::USAGE);
    };
    // The files beside a file named on its own are read so that its `use`
    // resolves; their own problems show when their folder is linted.
    let diagnostics: Vec<_> = loaded
        .comp
        .diagnostics
        .iter()
        .filter(|d| loaded.is_asked(d.file))
        .cloned()
        .collect();
    let text = render::render(
        args.format.into(),
        &diagnostics,
        &loaded.comp.sources,
        super::use_color(),
    );
    out.write_all(text.as_bytes())?;
    if args.format == super::formats::LintFormat::Human {
        writeln!(err, "{}", render::summary(&diagnostics, loaded.asked()))?;
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let failed = errors > 0 || (args.deny_warnings && warnings > 0);
    Ok(if failed { exit::PROBLEMS } else { exit::OK })
}
