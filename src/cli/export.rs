//! `fixpath export --db URL [--since DATE] [--until DATE] [--what
//! sessions|cases|feedback|users|all] [--format jsonl|csv] [--out FILE]
//! [--with-secrets]` (contract section 13): the data as JSON Lines (the
//! format of `crate::transfer`, which `fixpath import` reads back), or one
//! kind as CSV.
//!
//! It streams: the store's rows are read one at a time (see
//! `store::transfer`) on a thread of their own and handed here in chunks
//! through a bounded channel, so memory does not grow with the data. With
//! `--out`, the file appears only once the export is complete (it is
//! written beside it and renamed), so a failed export never leaves a file
//! that looks whole.

use super::exit;
use crate::store::transfer::Sink;
use crate::store::{Result as StoreResult, StoreError};
use crate::transfer::{self, Header, Kind, Range, Row, Value, What};
use async_trait::async_trait;
use clap::Parser;
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use time::{Date, OffsetDateTime};

#[derive(Debug, Parser)]
#[command(after_help = "\
Dates are UTC days, both included, and select sessions by when they started, with their trail, \
cases and ratings (script versions and users are exported whole). An export of everything \
without dates also holds the webhook outbox and the statistics rollups: all a server needs to go \
on. Password hashes, API tokens and web sign-ins are left out unless --with-secrets.")]
pub struct Args {
    #[command(flatten)]
    pub store: super::DbArgs,
    /// Only sessions started on or after this day (UTC), YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Only sessions started on or before this day (UTC), YYYY-MM-DD
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// What to export
    #[arg(long, value_enum, default_value = "all")]
    pub what: What,
    /// JSON Lines (what `fixpath import` reads), or CSV of one kind (sessions, cases, feedback or
    /// users: one row per session, case, rating or user; JSON documents as their text; `'` before
    /// a text a spreadsheet would run as a formula)
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// Write here instead of to standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Include password hashes, API tokens and web sign-ins (keep such a file as safe as the
    /// database)
    #[arg(long)]
    pub with_secrets: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Jsonl,
    Csv,
}

/// Bytes handed over at a time: big enough that the channel costs
/// nothing, small enough that memory does not notice.
const CHUNK: usize = 64 * 1024;
/// Chunks in flight at most.
const CHUNKS: usize = 16;

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let usage = |err: &mut dyn std::io::Write, m: &dyn std::fmt::Display| {
        writeln!(err, "error: {m}").map(|()| exit::USAGE)
    };
    let range = match dates(args.since.as_deref(), args.until.as_deref()) {
        Ok(r) => r,
        Err(m) => return Ok(usage(err, &m)?),
    };
    let kinds: Vec<&'static Kind> = match args.format {
        Format::Jsonl => transfer::kinds_of(args.what, &range, args.with_secrets),
        Format::Csv => match transfer::csv_kind(args.what) {
            Some(k) => vec![k],
            None => {
                return Ok(usage(
                    err,
                    &"--format csv writes one kind: name it with --what sessions, cases, feedback \
                      or users (--format jsonl exports everything)",
                )?);
            }
        },
    };
    if let Some(dir) = args
        .out
        .as_ref()
        .and_then(|o| o.parent())
        .filter(|d| !d.as_os_str().is_empty())
        && !dir.is_dir()
    {
        return Ok(usage(
            err,
            &format!("there is no folder `{}` to write into", dir.display()),
        )?);
    }
    let Some(db) = args.store.existing(err)? else {
        return Ok(exit::USAGE);
    };

    let header = (args.format == Format::Jsonl).then(|| {
        transfer::render_header(Header {
            rollups: kinds.iter().any(|k| transfer::is_rollup(k)),
        })
    });
    let (tx, rx) = sync_channel::<Vec<u8>>(CHUNKS);
    let format = args.format;
    let secrets = args.with_secrets;
    let reader = std::thread::spawn(
        move || -> anyhow::Result<Result<Vec<(&'static str, u64)>, String>> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            Ok(runtime.block_on(async move {
                let store = match crate::server::open_store(&db).await {
                    Ok(s) => s,
                    Err(e) => return Err(e.to_string()),
                };
                let mut sink = Lines::new(tx, format, secrets, header);
                let read = store.read_rows(&kinds, &range, &mut sink).await;
                let done = match read {
                    Ok(()) => sink.finish().map_err(|e| e.to_string()),
                    Err(e) => Err(e.to_string()),
                };
                store.close().await;
                done
            }))
        },
    );

    let written = match &args.out {
        Some(path) => {
            let partial = partial_path(path);
            let file = std::fs::File::create(&partial)
                .map_err(|e| anyhow::anyhow!("could not create `{}`: {e}", partial.display()))?;
            let mut w = std::io::BufWriter::new(file);
            let res = drain(rx, &mut w).and_then(|()| w.flush().map_err(Into::into));
            (res, Some(partial))
        }
        None => (
            drain(rx, out).and_then(|()| out.flush().map_err(Into::into)),
            None,
        ),
    };
    let read = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the export's reader stopped"))?;
    let (write_res, partial) = written;
    // A write that failed is the cause: the reader only heard that the
    // output closed.
    let counts = match (write_res, read) {
        (Ok(()), Ok(Ok(counts))) => counts,
        (Err(e), _) | (Ok(()), Err(e)) => {
            remove(partial.as_deref());
            writeln!(err, "error: the export failed: {e:#}")?;
            return Ok(exit::PROBLEMS);
        }
        (Ok(()), Ok(Err(e))) => {
            remove(partial.as_deref());
            writeln!(err, "error: the export failed: {e}")?;
            return Ok(exit::PROBLEMS);
        }
    };
    if let (Some(path), Some(partial)) = (&args.out, partial) {
        std::fs::rename(&partial, path)?;
        let summary = counts
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        writeln!(out, "exported to {}: {summary}", path.display())?;
    }
    Ok(exit::OK)
}

/// The UTC days as a range of start times: `since` from its midnight,
/// `until` to the next one.
pub(super) fn dates(since: Option<&str>, until: Option<&str>) -> Result<Range, String> {
    let day = |flag: &str, s: &str| {
        let fmt = time::macros::format_description!("[year]-[month]-[day]");
        Date::parse(s.trim(), &fmt)
            .map_err(|_| format!("--{flag} `{s}` is not a date: write YYYY-MM-DD, e.g. 2026-03-01"))
    };
    let since = since.map(|s| day("since", s)).transpose()?;
    let until = until.map(|s| day("until", s)).transpose()?;
    if let (Some(a), Some(b)) = (since, until)
        && a > b
    {
        return Err(format!(
            "--since ({a}) is after --until ({b}); no day is in between"
        ));
    }
    Ok(Range {
        since: since.map(|d| d.midnight().assume_utc()),
        until: until.map(|d| {
            d.next_day().map_or(
                OffsetDateTime::new_utc(Date::MAX, time::Time::MIDNIGHT),
                |n| n.midnight().assume_utc(),
            )
        }),
    })
}

fn partial_path(path: &std::path::Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

fn remove(path: Option<&std::path::Path>) {
    if let Some(p) = path {
        let _ = std::fs::remove_file(p);
    }
}

/// Writes the chunks as they come. On a write error the receiver is
/// dropped, which stops the reader at its next chunk.
fn drain(rx: Receiver<Vec<u8>>, w: &mut dyn Write) -> anyhow::Result<()> {
    for chunk in rx {
        w.write_all(&chunk)?;
    }
    Ok(())
}

/// Rows to lines (JSON Lines or CSV), in chunks down the channel.
struct Lines {
    tx: SyncSender<Vec<u8>>,
    format: Format,
    secrets: bool,
    buf: Vec<u8>,
    counts: Vec<(&'static str, u64)>,
    csv_header: bool,
}

impl Lines {
    fn new(
        tx: SyncSender<Vec<u8>>,
        format: Format,
        secrets: bool,
        header: Option<String>,
    ) -> Lines {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        if let Some(h) = header {
            buf.extend_from_slice(h.as_bytes());
            buf.push(b'\n');
        }
        Lines {
            tx,
            format,
            secrets,
            buf,
            counts: Vec::new(),
            csv_header: false,
        }
    }

    fn send(&mut self) -> StoreResult<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096));
        self.tx
            .send(chunk)
            .map_err(|_| StoreError::database("the export's output closed"))
    }

    fn finish(mut self) -> StoreResult<Vec<(&'static str, u64)>> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        Ok(self.counts)
    }

    fn csv_record(&mut self, fields: impl IntoIterator<Item = String>) -> StoreResult<()> {
        let mut w = csv::Writer::from_writer(&mut self.buf);
        w.write_record(fields)
            .and_then(|()| w.flush().map_err(Into::into))
            .map_err(|e| StoreError::database(format!("could not write CSV: {e}")))
    }
}

#[async_trait]
impl Sink for Lines {
    async fn kind(&mut self, kind: &'static Kind) -> StoreResult<()> {
        self.counts.push((kind.name, 0));
        if self.format == Format::Csv && !self.csv_header {
            self.csv_header = true;
            let names: Vec<String> = kind
                .fields
                .iter()
                .filter(|f| self.secrets || !f.secret)
                .map(|f| f.name.to_owned())
                .collect();
            self.csv_record(names)?;
        }
        Ok(())
    }

    async fn row(&mut self, kind: &'static Kind, row: Row) -> StoreResult<()> {
        if let Some((_, n)) = self.counts.last_mut() {
            *n += 1;
        }
        match self.format {
            Format::Jsonl => {
                self.buf
                    .extend_from_slice(transfer::render_row(kind, &row, self.secrets).as_bytes());
                self.buf.push(b'\n');
            }
            Format::Csv => {
                let secrets = self.secrets;
                let cells: Vec<String> = kind
                    .fields
                    .iter()
                    .zip(row)
                    .filter(|(f, _)| secrets || !f.secret)
                    .map(|(_, v)| match v {
                        Value::Null => String::new(),
                        Value::Text(t) => crate::stats::table::cell(&t),
                        Value::Int(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Time(t) => transfer::format_time(t),
                    })
                    .collect();
                self.csv_record(cells)?;
            }
        }
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(())
    }
}
