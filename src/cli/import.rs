//! `fixpath import --db URL FILE` (contract section 13): loads what
//! `fixpath export` wrote. A row whose key is there already is skipped, so
//! importing twice adds nothing the second time; the whole file goes in
//! one transaction, so a bad line leaves the database as it was, and the
//! error names the line. Lines are read one at a time, each at most
//! [`MAX_LINE`](crate::transfer::MAX_LINE) long.

use super::exit;
use crate::transfer::load::{LoadError, Loaded, Loader};
use crate::transfer::{LineError, MAX_LINE, ParsedLine, parse_line};
use clap::Parser;
use std::io::BufRead;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(after_help = "\
Rows already in the database (the same key) are skipped, so an import can be run twice. The \
statistics rollups in the file are taken only into a database without sessions; otherwise the \
sessions added are counted by the server's rollup job. Cases and ratings need their sessions: in \
the file or in the database. The whole file is one transaction: nothing is kept when a line \
fails. On SQLite, stop the server first: the import holds the write lock while it runs.")]
pub struct Args {
    #[command(flatten)]
    pub store: super::DbArgs,
    /// The export to load (JSON Lines, as `fixpath export` writes it)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Why a file does not import.
#[derive(Debug, thiserror::Error)]
enum ImportError {
    #[error("line {line}: {error}")]
    Line { line: u64, error: LineError },
    #[error("line {line} is longer than {max} bytes, the most an import reads")]
    TooLong { line: u64, max: usize },
    #[error("line {line} is not UTF-8")]
    NotUtf8 { line: u64 },
    #[error("the file is empty: not a fixpath export")]
    Empty,
    #[error("could not read the file: {0}")]
    Read(#[from] std::io::Error),
    #[error("{0}")]
    Load(#[from] LoadError),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

pub(super) fn run(
    args: Args,
    out: &mut dyn std::io::Write,
    err: &mut dyn std::io::Write,
) -> anyhow::Result<u8> {
    let file = match std::fs::File::open(&args.file) {
        Ok(f) => f,
        Err(e) => {
            writeln!(err, "error: cannot read `{}`: {e}", args.file.display())?;
            return Ok(exit::USAGE);
        }
    };
    let Some(db) = args.store.existing(err)? else {
        return Ok(exit::USAGE);
    };
    let mut lines = std::io::BufReader::with_capacity(256 * 1024, file);
    let Some(done) = super::on_store(&db, err, |store| async move {
        import(&*store, &mut lines).await
    })?
    else {
        return Ok(exit::USAGE);
    };
    match done {
        Ok(loaded) => {
            report(&loaded, &args.file, out)?;
            Ok(exit::OK)
        }
        Err(e) => {
            writeln!(
                err,
                "error: {}: {e}\n  nothing was imported",
                args.file.display()
            )?;
            if e.to_string().to_lowercase().contains("foreign key") {
                writeln!(
                    err,
                    "  hint: a row refers to one that is neither in the file nor in the database \
                     (a case's or rating's session, a token's user): export with --what all, or \
                     import the sessions first"
                )?;
            }
            Ok(exit::PROBLEMS)
        }
    }
}

fn report(
    loaded: &Loaded,
    file: &std::path::Path,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    writeln!(
        out,
        "imported {}: {} rows added, {} skipped (already there)",
        file.display(),
        loaded.added(),
        loaded.skipped()
    )?;
    for (kind, added, skipped) in &loaded.kinds {
        writeln!(out, "  {kind:<16} {added:>10} added {skipped:>10} skipped")?;
    }
    Ok(())
}

/// Reads the next line into `buf` (without its newline); `false` at the
/// end. A line longer than `max` bytes is an error, read no further.
fn next_line(
    r: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    line: u64,
    max: usize,
) -> Result<bool, ImportError> {
    buf.clear();
    let n = std::io::Read::take(&mut *r, max as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
    } else if buf.len() > max {
        return Err(ImportError::TooLong { line, max });
    }
    Ok(true)
}

async fn import(
    store: &dyn crate::store::Store,
    r: &mut (dyn BufRead + Send),
) -> Result<Loaded, ImportError> {
    let mut buf = Vec::new();
    let mut line = 1;
    if !next_line(r, &mut buf, line, MAX_LINE)? {
        return Err(ImportError::Empty);
    }
    let header = match std::str::from_utf8(&buf).map(parse_line) {
        Ok(Ok(ParsedLine::Header(h))) => h,
        Ok(Err(e @ LineError::Format(_))) => return Err(ImportError::Line { line, error: e }),
        _ => {
            return Err(ImportError::Line {
                line,
                error: LineError::NoHeader,
            });
        }
    };
    let mut loader = Loader::begin(store, header).await?;
    loop {
        line += 1;
        if !next_line(r, &mut buf, line, MAX_LINE)? {
            break;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = std::str::from_utf8(&buf).map_err(|_| ImportError::NotUtf8 { line })?;
        match parse_line(text) {
            Ok(ParsedLine::Row(kind, row)) => loader.push(kind, row, Some(line)).await?,
            Ok(ParsedLine::Header(_)) => {
                return Err(ImportError::Line {
                    line,
                    error: LineError::SecondHeader,
                });
            }
            Err(error) => return Err(ImportError::Line { line, error }),
        }
    }
    Ok(loader.finish().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_read_to_their_limit_and_no_further() {
        let text = b"12345\r\n1234567\nlast";
        let mut r = &text[..];
        let mut buf = Vec::new();
        assert!(next_line(&mut r, &mut buf, 1, 6).unwrap());
        assert_eq!(buf, b"12345");
        let e = next_line(&mut r, &mut buf, 2, 6).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2 is longer than 6 bytes, the most an import reads"
        );
        let mut r = &b"1234567\nlast"[..];
        assert!(next_line(&mut r, &mut buf, 1, 7).unwrap());
        assert_eq!(buf, b"1234567");
        assert!(next_line(&mut r, &mut buf, 2, 7).unwrap());
        assert_eq!(buf, b"last");
        assert!(!next_line(&mut r, &mut buf, 3, 7).unwrap());
    }
}
