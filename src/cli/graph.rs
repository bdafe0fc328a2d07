//! `fixpath graph SCRIPT-OR-ID --format dot|mermaid|svg`, and with
//! `--stats` the SVG annotated with the figures of the sessions in the
//! server's database (contract section 11), as the authors' page draws it.

use super::exit;
use super::formats::GraphArg;
use crate::compiler;
use crate::diagnostics::render;
use crate::http::web::author::graph_words;
use crate::http::web::figures::overlay;
use crate::program::export::{self, heat::Annotation};
use crate::server::config::{ConfigFile, DEFAULT_SESSION_IDLE, resolve_db};
use crate::stats::gather::{Programs, gather};
use crate::stats::{StatsFilter, Versions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
// `--version` names a script version here (with --stats), not the
// program's: `fixpath --version` still prints that.
#[command(disable_version_flag = true)]
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
    /// Draw the figures of the script's sessions over the picture (SVG only): each node
    /// shaded by the share of its sessions that escalated or were abandoned there, each
    /// edge as wide as its traffic
    #[arg(long)]
    pub stats: bool,
    /// With --stats: the server's database, an SQLite path (.db, .sqlite, .sqlite3) or URL, or a
    /// postgres:// URL [default: fixpath-data/fixpath.db]
    #[arg(long, env = "FIXPATH_DB", value_name = "URL", hide_env_values = true)]
    pub db: Option<String>,
    /// With --stats: the server's TOML config file, for its `db` and `session_idle`
    #[arg(long, env = "FIXPATH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// With --stats: the script version counted (its hash, or a unique prefix; `all` for
    /// every version together) [default: the version of the script as it is now]
    #[arg(long, value_name = "V", requires = "stats")]
    pub version: Option<String>,
    /// With --stats: the first day counted (UTC, YYYY-MM-DD)
    #[arg(long, value_name = "DATE", requires = "stats", value_parser = parse_day)]
    pub since: Option<time::Date>,
    /// With --stats: the last day counted (UTC, YYYY-MM-DD)
    #[arg(long, value_name = "DATE", requires = "stats", value_parser = parse_day)]
    pub until: Option<time::Date>,
}

/// A day as `YYYY-MM-DD`.
pub(super) fn parse_day(s: &str) -> Result<time::Date, String> {
    time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("`{s}` is not a day; write it as YYYY-MM-DD, e.g. 2026-12-01"))
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
    err: &mut dyn std::io::Write,
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
    if !args.stats {
        let text = export::export(&comp.program, ix, lang, args.format.into());
        out.write_all(text.as_bytes())?;
        return Ok(exit::OK);
    }
    if args.format != GraphArg::Svg {
        writeln!(
            err,
            "error: --stats draws figures on the SVG picture only\n  hint: add `--format svg`"
        )?;
        return Ok(exit::USAGE);
    }
    let file = match args.config.as_deref().map(ConfigFile::load).transpose() {
        Ok(f) => f,
        Err(p) => {
            writeln!(err, "error: {p}")?;
            return Ok(exit::USAGE);
        }
    };
    let db = match resolve_db(args.db.as_deref(), file.as_ref()) {
        Ok(d) => d,
        Err(p) => {
            writeln!(err, "error: {p}")?;
            return Ok(exit::USAGE);
        }
    };
    if super::no_database(&db, err)? {
        return Ok(exit::USAGE);
    }
    if let (Some(a), Some(b)) = (args.since, args.until)
        && b < a
    {
        writeln!(err, "error: --until {b} is before --since {a}")?;
        return Ok(exit::USAGE);
    }
    let idle = file
        .as_ref()
        .and_then(|f| f.settings.session_idle)
        .filter(|m| (1..=1440).contains(m))
        .map_or(DEFAULT_SESSION_IDLE, |m| {
            std::time::Duration::from_secs(u64::from(m) * 60)
        });
    let filter = StatsFilter {
        script: Some(id.clone()),
        versions: match args.version.as_deref() {
            Some("all") => Versions::Together,
            Some(v) => Versions::Only(v.to_owned()),
            None => Versions::Only(script.version.clone()),
        },
        since: args.since,
        until: args.until,
        channel: None,
    };
    let title = comp
        .program
        .templates
        .source(script.title, lang)
        .into_owned();
    let titles = BTreeMap::from([(id.clone(), title)]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let got = runtime.block_on(async {
        let store = crate::server::open_store(&db).await?;
        let now = crate::clock::Clock::system().now();
        let idle = time::Duration::try_from(idle).unwrap_or(time::Duration::MINUTE * 30);
        let report = gather(
            &*store,
            &Programs::new(),
            &filter,
            Some((now, idle)),
            &titles,
            None,
        )
        .await;
        store.close().await;
        Ok::<_, crate::server::ServeError>(report)
    });
    let report = match got {
        Ok(Ok(r)) => r,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(exit::PROBLEMS);
        }
        Ok(Err(e)) => {
            writeln!(err, "error: could not read the figures from {db}: {e}")?;
            return Ok(exit::PROBLEMS);
        }
    };
    let words = graph_words(script.languages.get(lang).map_or("en", String::as_str));
    let annotation = match report.scripts.iter().find(|s| s.id == id) {
        Some(s) => overlay(s, words),
        None => {
            writeln!(
                err,
                "note: no sessions of `{id}` counted for this version and period; the picture has no figures"
            )?;
            Annotation {
                words,
                ..Annotation::default()
            }
        }
    };
    let text = export::export_annotated(&comp.program, ix, lang, &annotation);
    out.write_all(text.as_bytes())?;
    Ok(exit::OK)
}
