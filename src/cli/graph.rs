//! `fixpath graph SCRIPT-OR-ID --format dot|mermaid|svg`.

use super::exit;
use super::formats::GraphArg;
use crate::compiler;
use crate::diagnostics::render;
use crate::program::export;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A script file, or the id of a script in --scripts
    pub script: String,
    /// Output format
    #[arg(long, value_enum, default_value = "dot")]
    pub format: GraphArg,
    /// Where to find scripts by id, and the sub-flows a script uses
    #[arg(long, env = "FIXPATH_SCRIPTS", default_value = "scripts")]
    pub scripts: PathBuf,
    /// Language of the labels (default: the script's first)
    #[arg(long)]
    pub language: Option<String>,
}

/// Resolves SCRIPT-OR-ID (contract section 7): a file, compiled with its
/// siblings so `use` resolves, or an id found in the scripts folder.
pub(super) fn load(
    script: &str,
    scripts: &Path,
) -> anyhow::Result<(compiler::Compilation, String)> {
    let p = Path::new(script);
    if p.is_file() {
        // The file first, so a sibling with the same id is the duplicate.
        let mut quiet = Vec::new();
        let Some(loaded) = super::compile_with_context(vec![p.to_path_buf()], &mut quiet)? else {
            anyhow::bail!(
                "{}",
                String::from_utf8_lossy(&quiet)
                    .trim_start_matches("error: ")
                    .trim_end()
            );
        };
        let comp = loaded.comp;
        let path = comp.sources.path(crate::diagnostics::FileId(0)).to_owned();
        let id = comp
            .program
            .scripts
            .iter()
            .find(|s| s.path == path)
            .map(|s| s.id.clone());
        match id {
            Some(id) => Ok((comp, id)),
            None => Err(problems(&comp, &format!("{script} does not compile"))),
        }
    } else {
        let comp = compiler::compile_paths(&[scripts.to_path_buf()])?;
        if comp.program.get(script).is_some() {
            Ok((comp, script.to_owned()))
        } else {
            let ids: Vec<&str> = comp.program.scripts.iter().map(|s| s.id.as_str()).collect();
            let hint = crate::diagnostics::did_you_mean(script, ids.iter().copied())
                .map(|h| format!("; did you mean `{h}`?"))
                .unwrap_or_default();
            Err(anyhow::anyhow!(
                "no file `{script}` and no script with that id in {}{hint}",
                scripts.display()
            ))
        }
    }
}

fn problems(comp: &compiler::Compilation, what: &str) -> anyhow::Error {
    let errs: Vec<_> = comp
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .cloned()
        .collect();
    anyhow::anyhow!(
        "{what}; fix these first:\n{}",
        render::human(&errs, &comp.sources, false)
    )
}

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    _err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let (comp, id) = load(&args.script, &args.scripts)?;
    let Some((ix, script)) = comp.program.get(&id) else {
        return Err(problems(&comp, &format!("script `{id}` does not compile")));
    };
    let lang = match &args.language {
        Some(l) => script.language_index(l).ok_or_else(|| {
            anyhow::anyhow!(
                "script `{id}` has no `{l}` texts; it speaks {}",
                script.languages.join(", ")
            )
        })?,
        None => 0,
    };
    let text = export::export(&comp.program, ix, lang, args.format.into());
    out.write_all(text.as_bytes())?;
    Ok(exit::OK)
}
