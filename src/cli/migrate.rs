//! `fixpath migrate --from URL --to URL` (contract section 13): copies
//! every table the server keeps from one database into another (SQLite to
//! PostgreSQL and back), then reads both again and compares, per table,
//! the rows and a SHA-256 of their export lines. Any difference fails the
//! command.
//!
//! The target must be empty (freshly created: the migrations run when it
//! is opened); a database with rows in it is refused before anything is
//! written. The copy is one transaction on the target.

use super::exit;
use crate::server::config::Database;
use crate::store::transfer::Sink;
use crate::store::{Result as StoreResult, Store, StoreError};
use crate::transfer::load::{Loaded, Loader};
use crate::transfer::{self, Compared, Digest, Digester, Header, KINDS, Kind, Range, Row};
use async_trait::async_trait;
use clap::Parser;

#[derive(Debug, Parser)]
#[command(after_help = "\
Stop the server before migrating: what it writes after the copy began is not copied. Then \
point the server at the new database. The target must be empty: a new SQLite file, or a new \
PostgreSQL database (CREATE DATABASE fixpath).")]
pub struct Args {
    /// The database to copy: an SQLite path (.db, .sqlite, .sqlite3) or URL, or a postgres:// URL
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The empty database to copy into (an SQLite file is created)
    #[arg(long, value_name = "URL")]
    pub to: String,
}

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let parse = |s: &str, err: &mut dyn std::io::Write| match Database::parse(s) {
        Ok(d) => Ok(Some(d)),
        Err(p) => writeln!(err, "error: {p}").map(|()| None),
    };
    let (Some(from), Some(to)) = (parse(&args.from, err)?, parse(&args.to, err)?) else {
        return Ok(exit::USAGE);
    };
    if super::no_database(&from, err)? {
        return Ok(exit::USAGE);
    }
    if from.to_string() == to.to_string() {
        writeln!(
            err,
            "error: --from and --to name the same database ({from}); name a new, empty one with --to"
        )?;
        return Ok(exit::USAGE);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let done = runtime.block_on(async {
        let source = crate::server::open_store(&from)
            .await
            .map_err(|e| Failed::Open(e.to_string()))?;
        let target = match crate::server::open_store(&to).await {
            Ok(t) => t,
            Err(e) => {
                source.close().await;
                return Err(Failed::Open(e.to_string()));
            }
        };
        let res = migrate(&*source.store(), &*target.store()).await;
        source.close().await;
        target.close().await;
        res
    });
    match done {
        Ok((loaded, compared)) => {
            writeln!(
                out,
                "copied {from} to {to}: {} rows in {} tables",
                loaded.added(),
                KINDS.len()
            )?;
            let same = report(&compared, out)?;
            if same {
                writeln!(
                    out,
                    "every table has the same rows and content hash on both databases"
                )?;
                Ok(exit::OK)
            } else {
                writeln!(
                    err,
                    "error: the copy differs from the source (see DIFFERS above); do not use {to}"
                )?;
                Ok(exit::PROBLEMS)
            }
        }
        Err(Failed::Open(e)) => {
            writeln!(err, "error: {e}")?;
            Ok(exit::USAGE)
        }
        Err(Failed::NotEmpty(tables)) => {
            writeln!(
                err,
                "error: {to} is not empty ({} hold rows); migrate copies into an empty database only\n  \
                 hint: create a new one (a new SQLite file, or CREATE DATABASE on PostgreSQL) and name it with --to",
                tables.join(", ")
            )?;
            Ok(exit::USAGE)
        }
        Err(Failed::Copy(e)) => {
            writeln!(
                err,
                "error: the copy failed, nothing was written to {to}: {e}"
            )?;
            Ok(exit::PROBLEMS)
        }
    }
}

enum Failed {
    Open(String),
    NotEmpty(Vec<&'static str>),
    Copy(String),
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Failed {
        Failed::Copy(e.to_string())
    }
}

async fn migrate(
    source: &dyn Store,
    target: &dyn Store,
) -> Result<(Loaded, Vec<Compared>), Failed> {
    // Everything, rollups and `rolled` kept: the target is empty.
    let mut loader = Loader::begin(target, Header { rollups: true }).await?;
    let mut full = Vec::new();
    for k in KINDS {
        if loader.any(k).await? {
            full.push(k.table);
        }
    }
    if !full.is_empty() {
        return Err(Failed::NotEmpty(full));
    }
    let kinds: Vec<&'static Kind> = KINDS.iter().collect();
    let mut copy = Copy {
        loader,
        error: None,
    };
    let read = source.read_rows(&kinds, &Range::default(), &mut copy).await;
    if let Some(e) = copy.error {
        return Err(Failed::Copy(e));
    }
    read?;
    let loaded = copy
        .loader
        .finish()
        .await
        .map_err(|e| Failed::Copy(e.to_string()))?;
    let from = digest(source, &kinds).await?;
    let to = digest(target, &kinds).await?;
    Ok((loaded, transfer::compare(&from, &to)))
}

/// Counts and content hashes of every kind of `store`.
pub(crate) async fn digest(store: &dyn Store, kinds: &[&'static Kind]) -> StoreResult<Digest> {
    let mut d = Digests(Digester::default());
    store.read_rows(kinds, &Range::default(), &mut d).await?;
    Ok(d.0.finish())
}

struct Digests(Digester);

#[async_trait]
impl Sink for Digests {
    async fn kind(&mut self, kind: &'static Kind) -> StoreResult<()> {
        self.0.start(kind);
        Ok(())
    }

    async fn row(&mut self, kind: &'static Kind, row: Row) -> StoreResult<()> {
        self.0.add(kind, &row);
        Ok(())
    }
}

/// The source's rows into the target's transaction.
struct Copy {
    loader: Loader,
    /// The target's failure (the source read only hears that it stopped).
    error: Option<String>,
}

#[async_trait]
impl Sink for Copy {
    async fn kind(&mut self, _: &'static Kind) -> StoreResult<()> {
        Ok(())
    }

    async fn row(&mut self, kind: &'static Kind, row: Row) -> StoreResult<()> {
        if let Err(e) = self.loader.push(kind, row, None).await {
            self.error = Some(e.to_string());
            return Err(StoreError::database("the target refused a row"));
        }
        Ok(())
    }
}

/// Prints the comparison; whether every kind is the same.
pub(crate) fn report(compared: &[Compared], out: &mut dyn std::io::Write) -> std::io::Result<bool> {
    writeln!(
        out,
        "  {:<16} {:>10} {:>10}  {:<16}  sha-256 target",
        "table", "source", "target", "sha-256 source"
    )?;
    let short = |h: &str| h.get(..16).unwrap_or(h).to_owned();
    for c in compared {
        writeln!(
            out,
            "  {:<16} {:>10} {:>10}  {:<16}  {:<16}  {}",
            transfer::kind_named(c.kind).map_or(c.kind, |k| k.table),
            c.from.0,
            c.to.0,
            short(&c.from.1),
            short(&c.to.1),
            if c.same() { "same" } else { "DIFFERS" }
        )?;
    }
    Ok(compared.iter().all(Compared::same))
}
