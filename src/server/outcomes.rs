//! The outcome job (contract section 11): sessions still active past the
//! idle limit are abandoned, and every ended session is folded once into
//! the daily rollups the figures are read from, off the answer path.
//!
//! Safe with several instances on one database: the sweep abandons a
//! session only while it has no outcome, and a batch folds only if none of
//! its sessions was folded meanwhile (see `Analytics`). `fixpath stats` and
//! the API catch up the same way before they read, so a figure never waits
//! for this job; it keeps the catching-up short.

use crate::clock::Clock;
use crate::stats::gather::{self, Programs};
use crate::store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the job runs.
pub const EVERY: Duration = Duration::from_secs(60);

/// One round at the clock's now: abandons, then folds. Returns how many
/// sessions it abandoned and folded.
pub async fn round(
    store: &dyn Store,
    programs: &Programs,
    clock: &Clock,
    idle: time::Duration,
) -> Result<(u64, u64), StoreError> {
    let abandoned = gather::abandon_idle(store, clock.now(), idle).await?;
    let folded = gather::catch_up(store, programs).await?;
    Ok((abandoned.len() as u64, folded))
}

/// Starts the job; it stops when `stop` turns true.
pub fn spawn(
    store: Arc<dyn Store>,
    programs: Arc<Programs>,
    clock: Clock,
    idle: time::Duration,
    stop: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    super::periodic::every(EVERY, stop, move || {
        let (store, programs, clock) = (store.clone(), programs.clone(), clock.clone());
        async move {
            match round(&*store, &programs, &clock, idle).await {
                Ok((abandoned, folded)) if abandoned + folded > 0 => {
                    tracing::debug!(abandoned, folded, "outcomes brought up to date");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not bring the outcomes up to date; will try again");
                }
            }
        }
    })
}
