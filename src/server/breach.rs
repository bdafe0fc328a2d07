//! The breach timer (contract section 10, "Service levels"): when a case's
//! response or resolution due time passes unanswered, the case gets one
//! `breached` event, the name in its `breached` list and one
//! `escalation.breached` outbox event.
//!
//! Exactly once per due time, also with several instances on one database:
//! the timer only finds candidates (through the due columns' indexes); each
//! is recorded as an act of the rules ([`Act::Breach`] by [`Actor::System`])
//! under the row's lock, and the rules record a due time only while it is
//! not in `breached` yet. Of two timers racing, the second reads the first
//! one's write and has nothing to do. Escalating further clears `breached`
//! and sets new due times, which can breach again.
//!
//! The timer sleeps until the next due time, at most [`MAX_SLEEP`] (another
//! instance may have created an earlier one), and reads the time from the
//! server's [`Clock`]: a test's fixed clock wakes it when moved.

use crate::case::{Act, Actor, Breach};
use crate::clock::Clock;
use crate::store::{Changed, EscalationChange, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

/// The longest the timer sleeps: how late a due time set by another
/// instance can be noticed.
pub const MAX_SLEEP: Duration = Duration::from_secs(30);
/// How long to wait after the database failed, or when a due time is
/// reached but not yet passed.
const RETRY: Duration = Duration::from_secs(1);
/// Cases of each kind recorded per round; more go in the next, at once.
const BATCH: u32 = 100;

/// What one round recorded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Swept {
    /// `(case id, kind)` this round recorded (not those another instance
    /// recorded first).
    pub recorded: Vec<(String, Breach)>,
    /// A kind filled its batch: there may be more at once.
    pub more: bool,
}

/// One round at `now`: every due time passed unrecorded is recorded.
pub async fn sweep(store: &dyn Store, now: OffsetDateTime) -> Result<Swept, StoreError> {
    let found = store.breaches_due(now, BATCH).await?;
    let mut swept = Swept {
        more: Breach::ALL
            .iter()
            .any(|k| found.iter().filter(|(_, x)| x == k).count() >= BATCH as usize),
        ..Swept::default()
    };
    for (id, kind) in found {
        let change = EscalationChange::new(Actor::System, Act::Breach { kind });
        match store.change_escalation(&id, &change, now).await {
            Ok(Changed::Ok(_)) => {
                metrics::counter!("fixpath_cases_breached_total", "kind" => kind.as_str())
                    .increment(1);
                tracing::info!(escalation = %id, kind = kind.as_str(), "a due time passed unanswered");
                swept.recorded.push((id, kind));
            }
            // Another instance recorded it, or the case changed since it
            // was found (answered, resolved, gone).
            Ok(Changed::Unchanged(_) | Changed::NotFound) => {}
            Ok(Changed::Refused(_, why)) => {
                tracing::error!(escalation = %id, ?why, "the rules refused to record a breach");
            }
            // One case the store cannot write must not hold up the others.
            Err(e) => {
                tracing::warn!(escalation = %id, error = %e, "could not record a breach");
            }
        }
    }
    Ok(swept)
}

/// The running timer: its task, and the time it last checked up to (tests
/// wait on it instead of sleeping).
#[derive(Debug)]
pub struct Timer {
    pub task: tokio::task::JoinHandle<()>,
    pub checked: watch::Receiver<Option<OffsetDateTime>>,
}

/// Starts the timer; it stops when `stop` turns true. `outbox` wakes the
/// relays when a breach was recorded.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Clock,
    outbox: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> Timer {
    let (checked_tx, checked) = watch::channel(None);
    let task = tokio::spawn(run(store, clock, outbox, stop, checked_tx));
    Timer { task, checked }
}

async fn run(
    store: Arc<dyn Store>,
    clock: Clock,
    outbox: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
    checked: watch::Sender<Option<OffsetDateTime>>,
) {
    let mut moves = clock.moves();
    loop {
        // Seen before the time is read: a move after this wakes the sleep.
        if let Some(m) = &mut moves {
            m.borrow_and_update();
        }
        let now = clock.now();
        let wait = match round(&*store, now, &outbox).await {
            Ok(wait) => {
                checked.send_replace(Some(now));
                wait
            }
            Err(e) => {
                tracing::warn!(error = %e, "the breach timer could not read the due times");
                RETRY
            }
        };
        let moved = async {
            match &mut moves {
                Some(m) => {
                    if m.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = moved => {}
            _ = stop.wait_for(|s| *s) => break,
        }
    }
}

/// A round, and how long to sleep after it.
async fn round(
    store: &dyn Store,
    now: OffsetDateTime,
    outbox: &Notify,
) -> Result<Duration, StoreError> {
    let swept = sweep(store, now).await?;
    if !swept.recorded.is_empty() {
        outbox.notify_one();
    }
    if swept.more {
        return Ok(Duration::ZERO);
    }
    Ok(match store.next_breach_due().await? {
        // A millisecond past it: a due time breaches once passed.
        Some(next) if next > now => Duration::try_from(next - now)
            .map_or(MAX_SLEEP, |d| d + Duration::from_millis(1))
            .min(MAX_SLEEP),
        // Reached, not passed; or left by a case that could not be written.
        Some(_) => RETRY,
        None => MAX_SLEEP,
    })
}
