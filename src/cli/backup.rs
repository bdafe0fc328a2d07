//! `fixpath backup --db sqlite://… OUT` (contract section 13): a consistent
//! copy of an SQLite database while the server keeps writing to it.
//!
//! SQLite's `VACUUM INTO` copies inside one read transaction: in WAL mode
//! the server's writer goes on meanwhile, and the copy holds every commit
//! made before the copy began, none half. The copy is then opened and
//! checked (`PRAGMA integrity_check`) before the command says it is done.

use super::exit;
use crate::server::config::Database;
use clap::Parser;
use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;
use std::path::PathBuf;

#[derive(Debug, Parser)]
pub struct Args {
    /// The server's SQLite database: a path (.db, .sqlite, .sqlite3) or sqlite:// URL
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
    pub config: Option<PathBuf>,
    /// Where the copy goes: a new file (an existing one is never overwritten)
    #[arg(value_name = "OUT")]
    pub out: PathBuf,
}

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let usage = |err: &mut dyn std::io::Write, m: &dyn std::fmt::Display| {
        writeln!(err, "error: {m}").map(|()| exit::USAGE)
    };
    let Some(db) = super::existing_db(args.db.as_deref(), args.config.as_deref(), err)? else {
        return Ok(exit::USAGE);
    };
    let source = match db {
        Database::Sqlite {
            file: Some(path), ..
        } => path,
        Database::Sqlite { file: None, .. } => {
            return Ok(usage(err, &"an in-memory database has nothing to back up")?);
        }
        Database::Postgres { .. } => {
            return Ok(usage(
                err,
                &"fixpath backup copies SQLite databases; back PostgreSQL up with its own tools \
                  (pg_dump, or a base backup), as docs/deployment.md says",
            )?);
        }
    };
    if args.out.exists() {
        return Ok(usage(
            err,
            &format!(
                "`{}` exists already; a backup never overwrites a file: name a new one",
                args.out.display()
            ),
        )?);
    }
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Ok(usage(
            err,
            &format!(
                "there is no folder `{}` to write the copy into",
                dir.display()
            ),
        )?);
    }
    let Some(target) = args.out.to_str() else {
        return Ok(usage(err, &"the copy's path is not valid UTF-8")?);
    };

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let checked = runtime.block_on(async {
        let mut from = SqliteConnectOptions::new()
            .filename(&source)
            .read_only(true)
            .busy_timeout(std::time::Duration::from_secs(30))
            .connect()
            .await?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut from)
            .await?;
        drop(from);
        let mut copy = SqliteConnectOptions::new()
            .filename(target)
            .read_only(true)
            .connect()
            .await?;
        let rows: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
            .fetch_all(&mut copy)
            .await?;
        let (sessions,): (i64,) = sqlx::query_as("SELECT count(*) FROM sessions")
            .fetch_one(&mut copy)
            .await?;
        let (cases,): (i64,) = sqlx::query_as("SELECT count(*) FROM escalations")
            .fetch_one(&mut copy)
            .await?;
        anyhow::Ok((rows, sessions, cases))
    });
    let (rows, sessions, cases) = match checked {
        Ok(c) => c,
        Err(e) => {
            writeln!(err, "error: the backup failed: {e:#}")?;
            let _ = std::fs::remove_file(&args.out);
            return Ok(exit::PROBLEMS);
        }
    };
    if rows.len() != 1 || rows[0].0 != "ok" {
        writeln!(
            err,
            "error: the copy at `{}` does not pass SQLite's integrity check:",
            args.out.display()
        )?;
        for (r,) in rows.iter().take(20) {
            writeln!(err, "  {r}")?;
        }
        return Ok(exit::PROBLEMS);
    }
    let bytes = std::fs::metadata(&args.out).map(|m| m.len()).unwrap_or(0);
    writeln!(
        out,
        "backed up {} to {}: {sessions} sessions, {cases} cases, {bytes} bytes; integrity check ok",
        source.display(),
        args.out.display()
    )?;
    Ok(exit::OK)
}
