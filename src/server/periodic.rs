//! The background jobs' schedule: a round now, then one every period, until
//! the server stops.

use std::future::Future;
use std::time::Duration;
use tokio::sync::watch;

/// Runs `round` at once and then every `period` until `stop` turns true. A
/// round that runs longer than the period delays the next one instead of
/// making rounds pile up; a stop waits for the round in progress.
pub(crate) fn every<F, Fut>(
    period: Duration,
    mut stop: watch::Receiver<bool>,
    mut round: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            round().await;
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// A job that counts its rounds.
    fn counting(
        period: Duration,
        stopped: watch::Receiver<bool>,
    ) -> (Arc<AtomicU32>, tokio::task::JoinHandle<()>) {
        let rounds = Arc::new(AtomicU32::new(0));
        let r = rounds.clone();
        let job = every(period, stopped, move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
            }
        });
        (rounds, job)
    }

    async fn rounds_reach(rounds: &AtomicU32, n: u32) -> bool {
        for _ in 0..500 {
            if rounds.load(Ordering::SeqCst) >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        false
    }

    #[tokio::test]
    async fn the_first_round_runs_at_once_and_a_stop_ends_the_job() {
        let (stop, stopped) = watch::channel(false);
        let (rounds, job) = counting(Duration::from_secs(3600), stopped);
        assert!(
            rounds_reach(&rounds, 1).await,
            "no round without waiting an hour"
        );
        stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), job)
            .await
            .expect("the job stops when told")
            .unwrap();
        assert_eq!(rounds.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn rounds_repeat_every_period() {
        let (stop, stopped) = watch::channel(false);
        let (rounds, job) = counting(Duration::from_millis(10), stopped);
        assert!(rounds_reach(&rounds, 3).await, "three rounds in 5 s");
        stop.send(true).unwrap();
        job.await.unwrap();
    }
}
