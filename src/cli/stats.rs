//! `fixpath stats [--db URL] [--script ID] [--version V] [--each-version]
//! [--since DATE] [--until DATE] [--channel customer|agent]
//! [--format table|json|csv] [--nodes]` (contract section 11): the same
//! report as `GET /api/v1/stats`, brought up to date first (idle sessions
//! abandoned, ended ones folded into the rollups), then printed.
//!
//! Titles come from the scripts folder (`--scripts`, as `serve` reads it):
//! the store keeps script versions by the sessions that pinned them, not a
//! list of titles, and a script no longer in the folder shows its id.

use super::exit;
use crate::server::config::{ConfigFile, DEFAULT_SCRIPTS, DEFAULT_SESSION_IDLE, resolve_db};
use crate::stats::filter::FilterText;
use crate::stats::gather::{Programs, gather};
use crate::stats::{StatsFilter, table};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
// `--version` names a script version here (contract section 11), not the
// program's: `fixpath --version` still prints that.
#[command(disable_version_flag = true)]
#[command(after_help = "\
Counts the sessions that started in the period (UTC days), with their cases and ratings. \
Sessions idle past --idle are marked abandoned first, as the server would. Rates are shares of \
ended sessions (resolved + escalated + abandoned); deflection counts the customer channel only.")]
pub struct Args {
    /// Only this script
    #[arg(long, value_name = "ID")]
    pub script: Option<String>,
    /// Only this script version: its 16 hex digits, or the first few
    #[arg(long, value_name = "V", conflicts_with = "each_version")]
    pub version: Option<String>,
    /// One row per script version instead of every version together
    #[arg(long)]
    pub each_version: bool,
    /// The first day counted (UTC), YYYY-MM-DD [default: the first session]
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// The last day counted (UTC), YYYY-MM-DD [default: today]
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// Only sessions of this channel [default: every channel]
    #[arg(long, value_enum)]
    pub channel: Option<ChannelArg>,
    /// How to print the report: aligned tables, the JSON of the API, or CSV
    #[arg(long, value_enum, default_value = "table")]
    pub format: StatsFormat,
    /// Per node: with --format csv, one row per node instead of per script; with --format table,
    /// the node table of every script (shown anyway with --script)
    #[arg(long)]
    pub nodes: bool,
    /// Minutes a session may sit idle before it counts as abandoned, 1 to 1440 [default: the
    /// server's session_idle, 30]
    #[arg(
        long,
        env = "FIXPATH_SESSION_IDLE",
        value_name = "MINUTES",
        hide_env_values = true
    )]
    pub idle: Option<u32>,
    /// The scripts folder, for the titles [default: scripts]
    #[arg(long, env = "FIXPATH_SCRIPTS", value_name = "DIR")]
    pub scripts: Option<PathBuf>,
    /// The server's database: an SQLite path (.db, .sqlite, .sqlite3) or URL, or a postgres:// URL
    /// [default: fixpath-data/fixpath.db]
    #[arg(long, env = "FIXPATH_DB", value_name = "URL", hide_env_values = true)]
    pub db: Option<String>,
    /// The server's TOML config file, for its `db`, `scripts` and `session_idle`
    #[arg(
        long,
        env = "FIXPATH_CONFIG",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ChannelArg {
    /// Sessions customers run themselves (the wizard, or the API with channel customer)
    Customer,
    /// Sessions agents run (the console, or the API with channel agent)
    Agent,
}

impl ChannelArg {
    fn as_str(self) -> &'static str {
        match self {
            ChannelArg::Customer => "customer",
            ChannelArg::Agent => "agent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StatsFormat {
    Table,
    Json,
    Csv,
}

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let usage = |err: &mut dyn std::io::Write, m: &dyn std::fmt::Display| {
        writeln!(err, "error: {m}").map(|()| exit::USAGE)
    };
    let filter = match StatsFilter::parse(&FilterText {
        script: args.script.as_deref(),
        version: args.version.as_deref(),
        each_version: args.each_version,
        since: args.since.as_deref(),
        until: args.until.as_deref(),
        channel: args.channel.map(ChannelArg::as_str),
    }) {
        Ok(f) => f,
        Err(e) => return Ok(usage(err, &e)?),
    };
    let file = match args.config.as_deref().map(ConfigFile::load).transpose() {
        Ok(f) => f,
        Err(p) => return Ok(usage(err, &p)?),
    };
    let settings = file.as_ref().map(|f| &f.settings);
    let idle = match args.idle.or(settings.and_then(|s| s.session_idle)) {
        None => DEFAULT_SESSION_IDLE,
        Some(n @ 1..=1440) => std::time::Duration::from_secs(u64::from(n) * 60),
        Some(n) => {
            return Ok(usage(
                err,
                &format!("{n} minutes is not a usable idle time; give 1 to 1440 minutes (a day)"),
            )?);
        }
    };
    let idle = time::Duration::try_from(idle)?;
    let db = match resolve_db(args.db.as_deref(), file.as_ref()) {
        Ok(d) => d,
        Err(p) => return Ok(usage(err, &p)?),
    };
    if super::no_database(&db, err)? {
        return Ok(exit::USAGE);
    }
    let scripts = args
        .scripts
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(|| settings.and_then(|s| s.scripts.clone()))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SCRIPTS));
    let titles = titles(&scripts);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let now = crate::clock::Clock::system().now();
    let report = runtime.block_on(async {
        let store = crate::server::open_store(&db).await?;
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
    let report = match report {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => {
            writeln!(err, "error: could not read the figures: {e}")?;
            return Ok(exit::PROBLEMS);
        }
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(exit::PROBLEMS);
        }
    };
    match args.format {
        StatsFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, &report)?;
            writeln!(out)?;
        }
        StatsFormat::Csv if args.nodes => table::nodes_csv(&report, out)?,
        StatsFormat::Csv => table::scripts_csv(&report, out)?,
        StatsFormat::Table => {
            let nodes = args.nodes || filter.script.is_some();
            out.write_all(table::table(&report, nodes).as_bytes())?;
        }
    }
    Ok(exit::OK)
}

/// The scripts' titles from the folder; none when it does not load (the
/// report then shows ids, which is no reason to refuse it).
fn titles(scripts: &Path) -> BTreeMap<String, String> {
    match crate::compiler::compile_paths(&[scripts.to_path_buf()]) {
        Ok(comp) => crate::stats::report::titles(&comp.program),
        Err(_) => BTreeMap::new(),
    }
}
