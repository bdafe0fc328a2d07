//! The command line: one file per subcommand. `run` parses the arguments and
//! returns the process exit code; `main` does nothing else.

mod backup;
mod erase;
mod export;
mod formats;
mod graph;
mod import;
mod lint;
mod migrate;
mod run;
mod schema;
mod serve;
mod stats;
mod test;
mod user;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Troubleshooting decision trees for helpdesks.
#[derive(Debug, Parser)]
#[command(name = "fixpath", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check scripts and report every problem, rustc-style
    Lint(lint::Args),
    /// Print a script's compiled graph as DOT, Mermaid or SVG
    Graph(graph::Args),
    /// Run the script tests (`*.test.yaml`)
    Test(test::Args),
    /// Step through a script in the terminal
    Run(run::Args),
    /// Print the JSON Schema of the script format, for editors
    Schema(schema::Args),
    /// Run the server: the API, health and metrics, webhooks, hot reload
    Serve(serve::Args),
    /// Manage staff users
    User(user::Args),
    /// Report outcomes per script: sessions, rates, times, cases, satisfaction, nodes
    Stats(stats::Args),
    /// Copy the SQLite database while the server runs, and check the copy
    Backup(backup::Args),
    /// Remove the personal data of one case and its session now
    Erase(erase::Args),
    /// Write the data out as JSON Lines (or one kind as CSV), streaming
    Export(export::Args),
    /// Load an export; rows already there are skipped
    Import(import::Args),
    /// Copy one database into another (SQLite and PostgreSQL), then compare them
    Migrate(migrate::Args),
}

/// Runs `act` on the store of `db` on a runtime of its own, then closes
/// the store; `None` when the store could not be opened (said on `err`).
/// `act`'s own result is the caller's to word.
pub(crate) fn on_store<T, F, Fut>(
    db: &crate::server::config::Database,
    err: &mut dyn std::io::Write,
    act: F,
) -> anyhow::Result<Option<T>>
where
    F: FnOnce(std::sync::Arc<dyn crate::store::Store>) -> Fut,
    Fut: std::future::Future<Output = T>,
{
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let done = runtime.block_on(async {
        let store = crate::server::open_store(db).await?;
        let res = act(store.store()).await;
        store.close().await;
        Ok::<_, crate::server::ServeError>(res)
    });
    match done {
        Ok(res) => Ok(Some(res)),
        Err(e) => {
            writeln!(err, "error: {e}")?;
            Ok(None)
        }
    }
}

/// The `--db` and `--config` of every command that works on the server's
/// data.
#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// The server's database: an SQLite path (.db, .sqlite, .sqlite3) or URL, or a postgres:// URL
    /// [default: fixpath-data/fixpath.db]
    #[arg(long, env = "FIXPATH_DB", value_name = "URL", hide_env_values = true)]
    pub db: Option<String>,
    /// The server's TOML config file, for its `db`
    #[arg(
        long,
        env = "FIXPATH_CONFIG",
        value_name = "FILE",
        hide_env_values = true
    )]
    pub config: Option<std::path::PathBuf>,
}

impl DbArgs {
    /// The database these name, when it exists (see [`existing_db`]).
    pub(crate) fn existing(
        &self,
        err: &mut dyn std::io::Write,
    ) -> anyhow::Result<Option<crate::server::config::Database>> {
        existing_db(self.db.as_deref(), self.config.as_deref(), err)
    }
}

/// Whether `db` names an SQLite file that is not there (said on `err`):
/// a command that reads or changes the server's data refuses it rather
/// than leave an empty database behind a typo.
pub(crate) fn no_database(
    db: &crate::server::config::Database,
    err: &mut dyn std::io::Write,
) -> std::io::Result<bool> {
    if let crate::server::config::Database::Sqlite {
        file: Some(path), ..
    } = db
        && !path.is_file()
    {
        writeln!(
            err,
            "error: there is no database at `{}`\n  hint: name the server's with --db or FIXPATH_DB",
            path.display()
        )?;
        return Ok(true);
    }
    Ok(false)
}

/// The server's database from `--db` and `--config`, when it exists: a
/// command that reads or changes the server's data must not leave an empty
/// database behind a typo. `None` once the reason was written to `err`.
pub(crate) fn existing_db(
    db: Option<&str>,
    config: Option<&std::path::Path>,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<Option<crate::server::config::Database>> {
    use crate::server::config::{ConfigFile, resolve_db};
    let file = match config.map(ConfigFile::load).transpose() {
        Ok(f) => f,
        Err(p) => {
            writeln!(err, "error: {p}")?;
            return Ok(None);
        }
    };
    let db = match resolve_db(db, file.as_ref()) {
        Ok(d) => d,
        Err(p) => {
            writeln!(err, "error: {p}")?;
            return Ok(None);
        }
    };
    if no_database(&db, err)? {
        return Ok(None);
    }
    Ok(Some(db))
}

/// Exit codes of the contract (section 7).
pub mod exit {
    pub const OK: u8 = 0;
    /// Problems found (lint errors, failing tests).
    pub const PROBLEMS: u8 = 1;
    /// The command could not run as asked (no such path, bad flags).
    pub const USAGE: u8 = 2;
}

/// Parses `args` and runs the command, writing to the given streams.
pub fn run<I, T>(args: I, out: &mut dyn std::io::Write, err: &mut dyn std::io::Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                err.write_all(text.as_bytes())
            } else {
                out.write_all(text.as_bytes())
            };
            return code;
        }
    };
    // Without huge pages a one-shot command's time is predictable, and a
    // server's memory follows what it uses (see `crate::memory`).
    crate::memory::no_huge_pages();
    let res = match cli.command {
        Command::Lint(a) => lint::run(a, out, err),
        Command::Graph(a) => graph::run(a, out, err),
        Command::Schema(a) => schema::run(a, out),
        Command::Test(a) => test::run(a, out, err),
        Command::Run(a) => {
            use std::io::IsTerminal;
            let stdin = std::io::stdin();
            let echo = !stdin.is_terminal();
            run::run(a, &mut stdin.lock(), echo, out, err)
        }
        Command::Serve(a) => serve::run(a, err),
        Command::Stats(a) => stats::run(a, out, err),
        Command::Backup(a) => backup::run(a, out, err),
        Command::Erase(a) => erase::run(a, out, err),
        Command::Export(a) => export::run(a, out, err),
        Command::Import(a) => import::run(a, out, err),
        Command::Migrate(a) => migrate::run(a, out, err),
        Command::User(a) => {
            use std::io::IsTerminal;
            let stdin = std::io::stdin();
            let terminal = stdin.is_terminal();
            user::run(a, &mut stdin.lock(), terminal, out, err)
        }
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "error: {e:#}");
            exit::USAGE
        }
    }
}

/// What a command was asked to check, compiled with the files around it.
pub struct Loaded {
    pub comp: crate::compiler::Compilation,
    /// The files named, or found in the folders named, come first in
    /// `comp.sources`: ids below this number are theirs.
    asked: usize,
}

impl Loaded {
    /// Whether `file` was asked for (rather than read beside one).
    pub fn is_asked(&self, file: crate::diagnostics::FileId) -> bool {
        (file.0 as usize) < self.asked
    }

    /// How many files were asked for.
    pub fn asked(&self) -> usize {
        self.asked
    }
}

/// Compiles PATHs (default `scripts/`) and, for each file named on its own,
/// the scripts and tests beside it (recursively, as a folder is read), so
/// that `use` resolves and a test finds its script; for a reply (a file in
/// `replies/`), the scripts folder around that `replies/`, whose languages
/// the reply must speak. Those are context only:
/// the asked files come first, so a sibling with the same script id as one
/// of them is the duplicate. A path that does not exist is reported on `err`
/// and gives `None` (the command exits 2).
pub fn compile_with_context(
    paths: Vec<PathBuf>,
    err: &mut dyn std::io::Write,
) -> std::io::Result<Option<Loaded>> {
    let paths = if paths.is_empty() {
        vec![default_scripts()]
    } else {
        paths
    };
    let asked = match crate::script::load::discover(&paths) {
        Ok(f) => f,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(None);
        }
    };
    let mut folders: Vec<PathBuf> = paths
        .iter()
        .filter(|p| p.is_file())
        .map(|p| {
            // A reply's library is the scripts folder its `replies/` is in:
            // their languages are the reply's.
            let up = if crate::script::load::is_in_replies(p) {
                p.parent().and_then(|d| d.parent())
            } else {
                p.parent()
            };
            match up {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            }
        })
        .collect();
    folders.sort();
    folders.dedup();
    let seen: std::collections::HashSet<PathBuf> = asked
        .iter()
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
        .collect();
    // The folders exist: their files were just found in them.
    let beside = crate::script::load::discover(&folders).unwrap_or_default();
    let mut files = asked.clone();
    files.extend(
        beside
            .into_iter()
            .filter(|p| !seen.contains(&std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))),
    );
    Ok(Some(Loaded {
        comp: crate::compiler::compile_files(&files),
        asked: asked.len(),
    }))
}

/// The default script folder of every command.
pub fn default_scripts() -> PathBuf {
    PathBuf::from("scripts")
}

/// Whether to colour output written to stderr/stdout: a terminal, and
/// `NO_COLOR` unset.
pub fn use_color() -> bool {
    use std::io::IsTerminal;
    std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}
