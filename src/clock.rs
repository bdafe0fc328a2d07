//! The server's clock: the system's, or a fixed one a test sets and moves.
//! Handlers read the time from here (through `AppState`), so a test can
//! see what a case looks like a week later without waiting a week.

use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::watch;

#[derive(Debug, Clone, Default)]
pub struct Clock {
    /// `None`: the system clock. A fixed clock is a watch channel, so a
    /// task that sleeps until a time (the breach timer) wakes when a test
    /// moves the clock instead of waiting out its sleep.
    fixed: Option<Arc<watch::Sender<OffsetDateTime>>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that stands at `at` until set or moved.
    pub fn fixed(at: OffsetDateTime) -> Clock {
        Clock {
            fixed: Some(Arc::new(watch::Sender::new(at))),
        }
    }

    // The one place the wall clock is read for the server's logic.
    #[allow(clippy::disallowed_methods)]
    pub fn now(&self) -> OffsetDateTime {
        match &self.fixed {
            None => OffsetDateTime::now_utc(),
            Some(t) => *t.borrow(),
        }
    }

    /// Sets a fixed clock (every clone of it); the system clock cannot be
    /// set and ignores this.
    pub fn set(&self, at: OffsetDateTime) {
        if let Some(t) = &self.fixed {
            t.send_replace(at);
        }
    }

    /// Moves a fixed clock on by `by`.
    pub fn advance(&self, by: time::Duration) {
        if let Some(t) = &self.fixed {
            t.send_modify(|t| *t += by);
        }
    }

    /// Tells of every move of a fixed clock; `None` for the system clock
    /// (it moves by itself: sleep instead).
    pub fn moves(&self) -> Option<watch::Receiver<OffsetDateTime>> {
        self.fixed.as_ref().map(|t| t.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::disallowed_methods)] // compares with the wall clock
    fn a_fixed_clock_stands_until_moved_and_its_clones_follow() {
        let at = time::macros::datetime!(2026-03-02 09:00 UTC);
        let c = Clock::fixed(at);
        let other = c.clone();
        assert_eq!(c.now(), at);
        other.advance(time::Duration::days(8));
        assert_eq!(c.now(), at + time::Duration::days(8));
        c.set(at);
        assert_eq!(other.now(), at);
        let sys = Clock::system();
        sys.set(at);
        assert!((sys.now() - OffsetDateTime::now_utc()).abs() < time::Duration::minutes(1));
    }
}
