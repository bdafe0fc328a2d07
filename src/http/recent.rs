//! The sessions this instance stepped last, so the next answer to one of
//! them skips the database read (on PostgreSQL half the statements of an
//! answer).
//!
//! Never trusted on its own. An entry is used only when the caller's `seq`
//! is the entry's, and the save that follows is still the store's
//! compare-and-set on `seq`: a session another instance moved on in the
//! meantime is refused (409) exactly as without the cache, and a caller
//! whose `seq` is newer than the entry reads the database. Reads that show a
//! session (GET, the pages) always go to the database.

use crate::store::StoredSession;
use lru::LruCache;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// How many sessions are kept (a few MiB: a session with a short trail is
/// a few KiB).
pub const CAPACITY: usize = 2048;

pub struct Recent {
    inner: Mutex<LruCache<String, Arc<StoredSession>>>,
}

impl Default for Recent {
    fn default() -> Self {
        Recent::new(CAPACITY)
    }
}

impl Recent {
    pub fn new(capacity: usize) -> Recent {
        let cap = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        Recent {
            inner: Mutex::new(LruCache::new(cap)),
        }
    }

    /// The session as this instance last saved it, if that is at `seq`.
    pub fn get(&self, id: &str, seq: u32) -> Option<Arc<StoredSession>> {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.get(id).filter(|s| s.state.seq == seq).cloned()
    }

    pub fn put(&self, s: Arc<StoredSession>) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.put(s.id.clone(), s);
    }

    pub fn forget(&self, id: &str) {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.pop(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Channel, Session, Status};
    use time::OffsetDateTime;

    fn session(id: &str, seq: u32) -> Arc<StoredSession> {
        let now = OffsetDateTime::UNIX_EPOCH;
        Arc::new(StoredSession {
            id: id.into(),
            token_hash: "h".into(),
            owner: None,
            reference: None,
            state: Session {
                script: "s".into(),
                pins: Vec::new(),
                channel: Channel::Customer,
                language: "en".into(),
                tier: 1,
                params: Default::default(),
                initial_vars: Default::default(),
                vars: Default::default(),
                frames: Vec::new(),
                visits: Vec::new(),
                seq,
                status: Status::Active,
                ending: None,
                trail: Vec::new(),
                started_at: now,
            },
            created_at: now,
            updated_at: now,
        })
    }

    #[test]
    fn an_entry_serves_only_the_step_it_is_at() {
        let r = Recent::new(2);
        r.put(session("a", 3));
        assert!(r.get("a", 3).is_some());
        assert!(r.get("a", 4).is_none(), "a newer seq reads the database");
        assert!(r.get("a", 2).is_none());
        r.forget("a");
        assert!(r.get("a", 3).is_none());
    }

    #[test]
    fn it_keeps_only_the_most_recent() {
        let r = Recent::new(2);
        r.put(session("a", 1));
        r.put(session("b", 1));
        r.put(session("c", 1));
        assert!(r.get("a", 1).is_none());
        assert!(r.get("c", 1).is_some());
    }
}
