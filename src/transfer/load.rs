//! Loading rows into a store, for `fixpath import` and `fixpath migrate`:
//! in batches of one kind, each row whose key is there already skipped, all
//! in one transaction (an import that fails leaves nothing behind).
//!
//! The rollups are the one place where rows are not independent: a
//! session folded into them (`rolled` = 1) must not be folded again, and
//! one that is not in them must be. So the file's rollups are taken only
//! when they can be taken whole — the file has them (an export of
//! everything without dates) and the store has neither sessions nor
//! rollups yet — and its sessions keep their `rolled` then. Otherwise
//! the rollups are skipped and every session added comes in unfolded, for
//! the server's rollup job to count once.

use super::{Header, Kind, Row, Value, is_rollup, kind_named};
use crate::store::transfer::{BATCH, Load};
use crate::store::{Store, StoreError};

/// Rows added and skipped, per kind, in the order first met.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loaded {
    pub kinds: Vec<(&'static str, u64, u64)>,
}

impl Loaded {
    fn count(&mut self, kind: &'static str, added: u64, skipped: u64) {
        match self.kinds.iter_mut().find(|(k, _, _)| *k == kind) {
            Some((_, a, s)) => {
                *a += added;
                *s += skipped;
            }
            None => self.kinds.push((kind, added, skipped)),
        }
    }

    pub fn added(&self) -> u64 {
        self.kinds.iter().map(|(_, a, _)| a).sum()
    }

    pub fn skipped(&self) -> u64 {
        self.kinds.iter().map(|(_, _, s)| s).sum()
    }
}

/// A batch that could not be written: the lines it came from (for an
/// import; `None` in a migration) and why.
#[derive(Debug, thiserror::Error)]
#[error("{}{source}", where_(*.lines, kind))]
pub struct LoadError {
    pub lines: Option<(u64, u64)>,
    pub kind: &'static str,
    #[source]
    pub source: StoreError,
}

fn where_(lines: Option<(u64, u64)>, kind: &str) -> String {
    match lines {
        Some((a, b)) if a == b => format!("line {a} ({kind}): "),
        Some((a, b)) => format!("lines {a} to {b} ({kind} rows): "),
        None => format!("{kind} rows: "),
    }
}

pub struct Loader {
    load: Box<dyn Load>,
    keep_rolled: bool,
    kind: Option<&'static Kind>,
    batch: Vec<Row>,
    lines: Option<(u64, u64)>,
    loaded: Loaded,
}

impl Loader {
    /// Begins a load into `store` of rows from a file with `header`.
    pub async fn begin(store: &dyn Store, header: Header) -> Result<Loader, StoreError> {
        let mut load = store.load().await?;
        let mut keep_rolled = header.rollups;
        if keep_rolled {
            for name in [
                "session",
                "stats_outcome",
                "stats_node",
                "stats_answer",
                "stats_dwell",
            ] {
                if let Some(k) = kind_named(name)
                    && load.any(k).await?
                {
                    keep_rolled = false;
                }
            }
        }
        Ok(Loader {
            load,
            keep_rolled,
            kind: None,
            batch: Vec::with_capacity(BATCH),
            lines: None,
            loaded: Loaded::default(),
        })
    }

    /// Whether the kind's table has a row (a migration's target must be
    /// empty).
    pub async fn any(&mut self, kind: &'static Kind) -> Result<bool, StoreError> {
        self.load.any(kind).await
    }

    /// Adds a row (read from `line`, if from a file).
    pub async fn push(
        &mut self,
        kind: &'static Kind,
        mut row: Row,
        line: Option<u64>,
    ) -> Result<(), LoadError> {
        if self.kind != Some(kind) || self.batch.len() >= BATCH {
            self.flush().await?;
        }
        if is_rollup(kind) && !self.keep_rolled {
            self.loaded.count(kind.name, 0, 1);
            return Ok(());
        }
        if kind.name == "session"
            && !self.keep_rolled
            && let Some(i) = kind.field("rolled")
        {
            row[i] = Value::Int(0);
        }
        self.kind = Some(kind);
        self.batch.push(row);
        if let Some(n) = line {
            self.lines = Some(self.lines.map_or((n, n), |(a, _)| (a, n)));
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), LoadError> {
        let Some(kind) = self.kind else {
            return Ok(());
        };
        if self.batch.is_empty() {
            return Ok(());
        }
        let added = self
            .load
            .insert(kind, &self.batch)
            .await
            .map_err(|source| LoadError {
                lines: self.lines,
                kind: kind.name,
                source,
            })?;
        let n = self.batch.len() as u64;
        self.loaded.count(kind.name, added, n.saturating_sub(added));
        self.batch.clear();
        self.lines = None;
        Ok(())
    }

    /// Writes what is left and commits.
    pub async fn finish(mut self) -> Result<Loaded, LoadError> {
        self.flush().await?;
        let kind = self.kind.map_or("row", |k| k.name);
        self.load.commit().await.map_err(|source| LoadError {
            lines: None,
            kind,
            source,
        })?;
        Ok(self.loaded)
    }
}
