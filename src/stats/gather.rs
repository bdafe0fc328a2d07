//! One report, fresh: what the CLI, the API and the authors' page all call.

use super::fold::Rollup;
use super::{Report, StatsFilter, report};
use crate::engine::{Pin, Session};
use crate::program::Program;
use crate::store::{Store, StoreError};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use time::OffsetDateTime;

/// Sessions folded per round trip while catching up.
const ROLL_BATCH: u32 = 500;
/// How long a request (the API, the authors' page) folds before it reads.
pub const REQUEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);
/// Compiled programs kept for naming abandoned sessions' nodes.
const PROGRAMS_KEPT: usize = 16;

/// Brings the outcomes up to date, then reads the report: sessions idle
/// past `idle` at `now` are abandoned (when `idle` is given), every ended
/// session not yet counted is folded into the rollups, and the figures for
/// `filter` are read and computed.
///
/// `budget` bounds the folding: a request cannot wait for a backlog of
/// sessions (after an upgrade, a million); it folds for that long and
/// reads, and the outcome job folds the rest in the background. `None`
/// folds everything first (the command line, which may take its time).
pub async fn gather(
    store: &dyn Store,
    programs: &Programs,
    filter: &StatsFilter,
    idle: Option<(OffsetDateTime, time::Duration)>,
    titles: &BTreeMap<String, String>,
    budget: Option<std::time::Duration>,
) -> Result<Report, StoreError> {
    if let Some((now, idle)) = idle {
        abandon_idle(store, now, idle).await?;
    }
    match budget {
        None => {
            catch_up(store, programs).await?;
        }
        Some(budget) => {
            // Whatever is folded when the time is up stays folded (a batch
            // cut short is rolled back whole with its transaction).
            if let Ok(Err(e)) = tokio::time::timeout(budget, catch_up(store, programs)).await {
                return Err(e);
            }
        }
    }
    let data = store.stats_data(filter).await?;
    Ok(report::build(&data, filter, titles))
}

/// Abandons every session idle past `idle`, counting each in
/// `fixpath_sessions_ended_total`; returns them.
pub async fn abandon_idle(
    store: &dyn Store,
    now: OffsetDateTime,
    idle: time::Duration,
) -> Result<Vec<crate::store::Abandoned>, StoreError> {
    let mut all = Vec::new();
    loop {
        let got = store.abandon_idle(now, idle, ROLL_BATCH).await?;
        let more = got.len() as u32 >= ROLL_BATCH;
        // Counted here, by whoever swept (the outcome job, a report).
        for a in &got {
            metrics::counter!(
                "fixpath_sessions_ended_total",
                "script" => a.script.clone(),
                "channel" => a.channel.clone(),
                "outcome" => "abandoned"
            )
            .increment(1);
        }
        all.extend(got);
        if !more {
            return Ok(all);
        }
    }
}

/// Folds every ended session not yet counted into the rollups; returns how
/// many this call folded.
pub async fn catch_up(store: &dyn Store, programs: &Programs) -> Result<u64, StoreError> {
    let mut folded = 0;
    loop {
        let ended = store.unrolled(ROLL_BATCH).await?;
        if ended.is_empty() {
            return Ok(folded);
        }
        let mut rollup = Rollup::default();
        for e in &ended {
            let at = match e.outcome {
                super::Outcome::Abandoned => programs.node_at(store, &e.session).await,
                _ => None,
            };
            rollup.add(e, at.as_deref());
        }
        let ids: Vec<String> = ended.iter().map(|e| e.id.clone()).collect();
        if store.add_rollup(&ids, &rollup).await? {
            folded += ids.len() as u64;
        }
        if (ended.len() as u32) < ROLL_BATCH {
            return Ok(folded);
        }
    }
}

/// The compiled script versions sessions are pinned to, from the store, to
/// name the node an abandoned session waited at. A few are kept.
#[derive(Default)]
pub struct Programs {
    kept: Mutex<HashMap<Vec<Pin>, Arc<Program>>>,
}

impl Programs {
    pub fn new() -> Programs {
        Programs::default()
    }

    async fn node_at(&self, store: &dyn Store, s: &Session) -> Option<String> {
        let program = self.program(store, &s.pins).await?;
        crate::engine::current_node(&program, s).map(|t| t.to_string())
    }

    async fn program(&self, store: &dyn Store, pins: &[Pin]) -> Option<Arc<Program>> {
        let key = pins.to_vec();
        if let Some(p) = self
            .kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return Some(p.clone());
        }
        let versions = store.script_versions(pins).await.ok()?;
        let program = Arc::new(
            crate::compiler::compile_texts(versions.into_iter().map(|v| (v.path, v.source)))
                .program,
        );
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= PROGRAMS_KEPT {
            kept.clear();
        }
        kept.insert(key, program.clone());
        Some(program)
    }
}
