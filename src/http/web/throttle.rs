//! Sign-in attempts are limited per user name: after [`MAX_FAILURES`]
//! attempts without a right password within [`WINDOW`], that name cannot
//! sign in until the window has passed, whatever password comes next. A
//! guesser gets a few tries an hour instead of thousands; the real user
//! waits a quarter of an hour at worst. The count lives in the database (`Store::count_signin_failure`),
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

/// Counts an attempt for `name` before its password is checked; `Err(wait)`
/// when it is past the limit and must not be checked at all. Counting first
/// makes the limit hold under parallel tries: the store's upsert is atomic,
/// so of N attempts at once only the first [`MAX_FAILURES`] get a number
/// within the limit, and a right password sent after them is refused like
/// the rest. A right password within the limit clears the count
/// ([`succeed`]).
pub async fn reserve(
    store: &dyn Store,
    name: &str,
    now: OffsetDateTime,
) -> Result<std::result::Result<(), Duration>> {
    let (n, since) = store.count_signin_failure(&key(name), now, WINDOW).await?;
    Ok(if n > MAX_FAILURES {
        Err(WINDOW - (now - since))
    } else {
        Ok(())
    })
}

/// A good sign-in clears the count.
pub async fn succeed(store: &dyn Store, name: &str) -> Result<()> {
    store.clear_signin_failures(&key(name)).await
}
