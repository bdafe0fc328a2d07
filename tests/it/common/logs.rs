//! Log lines of one test, collected on its own thread.
//!
//! tracing caches each callsite's interest for the whole process. While
//! only one dispatcher is alive, tracing-core (0.1.36) computes that
//! interest from the default of whichever thread reaches the callsite
//! first: another test's thread, without a subscriber, then caches "nobody
//! listens" for ours too and our lines never arrive. With a second
//! dispatcher alive for the whole run, tracing asks every live dispatcher
//! instead, ours included.

use std::sync::{Arc, Mutex, OnceLock};
use tracing::Dispatch;
use tracing::subscriber::{DefaultGuard, NoSubscriber};

/// What was logged on this thread while the guard lived.
#[derive(Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Collects every line logged on this thread, at every level, as plain
/// text, until the guard drops. Current-thread tests only: lines logged on
/// other threads are not collected.
pub fn collect() -> (Logs, DefaultGuard) {
    static SECOND: OnceLock<Dispatch> = OnceLock::new();
    SECOND.get_or_init(|| Dispatch::new(NoSubscriber::default()));
    let logs = Logs::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer({
            let l = logs.clone();
            move || l.clone()
        })
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    (logs, guard)
}
