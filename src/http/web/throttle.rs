//! Sign-in attempts are limited per user name: after [`MAX_FAILURES`] wrong
//! passwords within [`WINDOW`], that name cannot sign in until the window
//! has passed, whatever password comes next. A guesser gets a few tries an
//! hour instead of thousands; the real user waits a quarter of an hour at
//! worst. The count lives in this instance's memory: behind a load balancer
//! with N instances a guesser gets at most N times as many tries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Names tracked at most; expired entries are dropped first.
const CAPACITY: usize = 10_000;

#[derive(Default)]
pub struct Throttle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Throttle {
    fn key(name: &str) -> String {
        name.trim().to_lowercase()
    }

    /// `Err(wait)` while `name` is locked out.
    pub fn check(&self, name: &str, now: Instant) -> Result<(), Duration> {
        let map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&Self::key(name)) {
            Some(&(n, since)) if n >= MAX_FAILURES && now.duration_since(since) < WINDOW => {
                Err(WINDOW - now.duration_since(since))
            }
            _ => Ok(()),
        }
    }

    /// Counts a wrong password.
    pub fn fail(&self, name: &str, now: Instant) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= CAPACITY {
            map.retain(|_, (_, since)| now.duration_since(*since) < WINDOW);
        }
        if map.len() >= CAPACITY {
            return;
        }
        let entry = map.entry(Self::key(name)).or_insert((0, now));
        if now.duration_since(entry.1) >= WINDOW {
            *entry = (0, now);
        }
        entry.0 += 1;
    }

    /// A good sign-in clears the count.
    pub fn succeed(&self, name: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&Self::key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_locked_after_too_many_failures_until_the_window_passes() {
        let t = Throttle::default();
        let start = Instant::now();
        for _ in 0..MAX_FAILURES {
            assert!(t.check("Ann", start).is_ok());
            t.fail("ann ", start);
        }
        let wait = t.check("ANN", start).unwrap_err();
        assert_eq!(wait, WINDOW);
        assert!(
            t.check("bob", start).is_ok(),
            "other names are not affected"
        );
        assert!(t.check("ann", start + WINDOW).is_ok());
    }

    #[test]
    fn a_good_sign_in_clears_the_count() {
        let t = Throttle::default();
        let now = Instant::now();
        for _ in 0..MAX_FAILURES - 1 {
            t.fail("ann", now);
        }
        t.succeed("ann");
        t.fail("ann", now);
        assert!(t.check("ann", now).is_ok());
    }
}
