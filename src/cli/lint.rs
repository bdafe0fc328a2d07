//! `fixpath lint [PATH...] [--format ...] [--deny-warnings]`, and
//! `fixpath lint --explain CODE`.

use super::exit;
use crate::diagnostics::{Code, render};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Script files or folders (default: scripts/)
    pub paths: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    pub format: render::Format,
    /// Fail (exit 1) on warnings too
    #[arg(long)]
    pub deny_warnings: bool,
    /// Explain a lint code (what it checks, why, how to fix it) and exit
    #[arg(long, value_name = "CODE")]
    pub explain: Option<String>,
}

pub fn run(
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
    let Some(comp) = super::compile_or_report(args.paths, err)? else {
        return Ok(exit::USAGE);
    };
    let files = comp.sources.len();
    let text = render::render(
        args.format,
        &comp.diagnostics,
        &comp.sources,
        super::use_color(),
    );
    out.write_all(text.as_bytes())?;
    if args.format == render::Format::Human {
        writeln!(err, "{}", render::summary(&comp.diagnostics, files))?;
    }
    let failed = comp.errors() > 0 || (args.deny_warnings && comp.warnings() > 0);
    Ok(if failed { exit::PROBLEMS } else { exit::OK })
}
