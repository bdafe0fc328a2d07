//! The retention sweep (contract section 13): with `retain` set, personal
//! data of sessions that ended, and of cases resolved, longer ago than that
//! is removed, what the figures count kept (`Store::erase_due`).
//!
//! Safe with several instances on one database: every erasure is written
//! only if the session (and each case) is still as it was read and not yet
//! erased, so two sweeps never both erase one, and a staff change landing
//! in between wins (the next round tries again).

use crate::clock::Clock;
use crate::store::{Store, StoreError, Swept};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the sweep runs (and once at start).
pub const EVERY: Duration = Duration::from_secs(3600);
/// Sessions erased per transaction round.
const BATCH: u32 = 200;

/// Erases everything due at the clock's now, round after round until a
/// round finds nothing more to do.
pub async fn sweep(
    store: &dyn Store,
    clock: &Clock,
    retain: time::Duration,
) -> Result<Swept, StoreError> {
    let mut all = Swept::default();
    loop {
        let now = clock.now();
        let got = store.erase_due(now - retain, now, BATCH).await?;
        all.sessions += got.sessions;
        all.cases += got.cases;
        all.messages += got.messages;
        metrics::counter!("fixpath_erased_total", "what" => "sessions").increment(got.sessions);
        metrics::counter!("fixpath_erased_total", "what" => "cases").increment(got.cases);
        if got.sessions < u64::from(BATCH) && got.messages < u64::from(BATCH) {
            return Ok(all);
        }
    }
}

/// Starts the sweep; it stops when `stop` turns true.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Clock,
    retain: time::Duration,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    super::periodic::every(EVERY, stop, move || {
        let (store, clock) = (store.clone(), clock.clone());
        async move {
            match sweep(&*store, &clock, retain).await {
                Ok(s) if s.sessions + s.cases + s.messages > 0 => tracing::info!(
                    sessions = s.sessions,
                    cases = s.cases,
                    outbox_messages = s.messages,
                    "personal data past the retention time removed"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not remove personal data past the retention time; will try again"
                ),
            }
        }
    })
}
