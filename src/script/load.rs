//! Finding and reading script files. Reading is the only file access of the
//! core; a file that cannot be read becomes a diagnostic, never an abort, so
//! one bad file does not hide the problems of the others.

use crate::diagnostics::{Code, Diagnostic, FileId, SourceFile, Sources, Span};
use std::path::{Path, PathBuf};

/// Files larger than this are refused unread: no troubleshooting script is
/// anywhere near it, and it keeps a stray log file from eating memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Script,
    /// A `*.test.yaml` file (contract section 6).
    Test,
    /// A canned reply: a YAML file in a folder named `replies` (contract
    /// section 10), never a script.
    Reply,
}

/// The name of the folder canned replies are kept in, beside the scripts.
pub const REPLIES_FOLDER: &str = "replies";

pub fn kind_of(path: &Path) -> Option<FileKind> {
    let name = path.file_name()?.to_str()?;
    let yaml = name.ends_with(".yaml") || name.ends_with(".yml");
    if yaml && is_in_replies(path) {
        Some(FileKind::Reply)
    } else if name.ends_with(".test.yaml") {
        Some(FileKind::Test)
    } else if name.ends_with(".yaml") || name.ends_with(".yml") {
        Some(FileKind::Script)
    } else {
        None
    }
}

/// Is the file directly in a folder named `replies`? Only the folder the
/// file stands in counts: a scripts folder that happens to sit somewhere
/// under a `replies` folder still holds scripts.
pub fn is_in_replies(path: &Path) -> bool {
    path.parent()
        .and_then(|d| d.file_name())
        .is_some_and(|d| d == REPLIES_FOLDER)
}

/// A path given on the command line that does not exist: the run cannot go
/// on as asked (exit code 2), unlike a broken file inside a folder.
#[derive(Debug, thiserror::Error)]
#[error("no such file or folder: {}", .0.display())]
pub struct MissingPath(pub PathBuf);

/// Collects the `.yaml`/`.yml` files under `paths` (files given directly are
/// taken whatever their extension), sorted so every run reads them in the
/// same order. Hidden folders and `target/` are skipped.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, MissingPath> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|_| MissingPath(p.clone()))?;
        if meta.is_dir() {
            walk(p, &mut out);
        } else {
            out.push(p.clone());
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            // An unreadable folder: report it as a file that cannot be read.
            out.push(d);
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if !name.starts_with('.') && name != "target" {
                    todo.push(path);
                }
            } else if kind_of(&path).is_some() {
                out.push(path);
            }
        }
    }
}

/// Reads one file into `sources`. On failure the file is still added so the
/// diagnostic has a file to point at (with the text, when there is one).
pub fn read(path: &Path, sources: &mut Sources) -> (FileId, Result<(), Diagnostic>) {
    let display = path.display().to_string();
    let bytes = match read_bytes(path) {
        Ok(b) => b,
        Err(message) => {
            let id = sources.add(SourceFile::new(display, ""));
            return (
                id,
                Err(Diagnostic::new(Code::Fp001, id, Span::FILE, message)),
            );
        }
    };
    // Where the text stops being UTF-8, should it (kept before `decode`
    // takes the bytes, so the file is read once).
    let raw = match std::str::from_utf8(&bytes) {
        Ok(_) => None,
        Err(e) => Some((bytes.clone(), e.valid_up_to())),
    };
    match decode(bytes) {
        Ok(text) => (sources.add(SourceFile::new(display, text)), Ok(())),
        Err(message) => {
            // Point at the first invalid byte, in a lossy copy of the text.
            let (raw, valid) = raw.unwrap_or_default();
            let prefix = String::from_utf8_lossy(&raw[..valid.min(raw.len())]);
            let line = prefix.matches('\n').count() as u32 + 1;
            let column = prefix
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count())
                .unwrap_or(0) as u32
                + 1;
            let at = crate::diagnostics::Pos {
                line,
                column,
                index: prefix.chars().count() as u32,
            };
            let id = sources.add(SourceFile::new(
                display,
                String::from_utf8_lossy(&raw).into_owned(),
            ));
            let d = Diagnostic::new(Code::Fp001, id, Span { start: at, end: at }, message)
                .with_label("not UTF-8");
            (id, Err(d))
        }
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(path).map_err(|e| format!("cannot read this file: {}", io_reason(&e)))?;
    if meta.is_dir() {
        return Err("cannot read this folder".into());
    }
    // A FIFO would block forever and a device never end: scripts are files.
    if !meta.is_file() {
        return Err(
            "this is not a regular file (a pipe, socket or device); scripts are plain files".into(),
        );
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_big(meta.len()));
    }
    let file = std::fs::File::open(path)
        .map_err(|e| format!("cannot read this file: {}", io_reason(&e)))?;
    // The size can change between the check and the read: read no more than the limit.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_FILE_BYTES + 1),
        &mut bytes,
    )
    .map_err(|e| format!("cannot read this file: {}", io_reason(&e)))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_big(bytes.len() as u64));
    }
    Ok(bytes)
}

fn too_big(len: u64) -> String {
    format!(
        "this file is {} MiB; script files are limited to {} MiB",
        len / (1024 * 1024),
        MAX_FILE_BYTES / (1024 * 1024)
    )
}

/// UTF-8 text from bytes, with a byte-order mark removed.
pub fn decode(bytes: Vec<u8>) -> Result<String, String> {
    match String::from_utf8(bytes) {
        Ok(mut s) => {
            if s.starts_with('\u{feff}') {
                s.drain(..3);
            }
            Ok(s)
        }
        Err(e) => Err(format!(
            "this file is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        )),
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}
