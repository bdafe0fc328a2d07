//! Sign-in attempts are limited per user name: after [`MAX_FAILURES`] wrong
//! passwords within [`WINDOW`], that name cannot sign in until the window
//! has passed, whatever password comes next. A guesser gets a few tries an
//! hour instead of thousands; the real user waits a quarter of an hour at
//! worst. The count lives in the database (`Store::count_signin_failure`),
//! so every instance behind a load balancer sees the same one.

use crate::store::{Result, Store};
use time::{Duration, OffsetDateTime};

pub const MAX_FAILURES: u32 = 5;
pub const WINDOW: Duration = Duration::minutes(15);

/// The name as counted: trimmed, lower case, at most 200 characters (no
/// user has a longer one; a guesser cannot grow the table by sending more).
fn key(name: &str) -> String {
    name.trim().to_lowercase().chars().take(200).collect()
}

/// `Err(wait)` while `name` is locked out.
pub async fn check(
    store: &dyn Store,
    name: &str,
    now: OffsetDateTime,
) -> Result<std::result::Result<(), Duration>> {
    Ok(match store.signin_failures(&key(name)).await? {
        Some((n, since)) if n >= MAX_FAILURES && now - since < WINDOW => {
            Err(WINDOW - (now - since))
        }
        _ => Ok(()),
    })
}

/// Counts a wrong password.
pub async fn fail(store: &dyn Store, name: &str, now: OffsetDateTime) -> Result<()> {
    store
        .count_signin_failure(&key(name), now, WINDOW)
        .await
        .map(drop)
}

/// A good sign-in clears the count.
pub async fn succeed(store: &dyn Store, name: &str) -> Result<()> {
    store.clear_signin_failures(&key(name)).await
}
