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
use std::sync::{Arc, Mutex};

/// How many sessions are kept at most.
pub const CAPACITY: usize = 2048;
/// How many bytes they may take together, by [`size_of`]'s estimate. A
/// session is what its customer made it (params, input values, a long
/// trail), so a count alone does not bound the memory: 2,048 sessions of
/// 60 KB would hold 120 MB for as long as the process runs.
pub const BUDGET: usize = 16 * 1024 * 1024;
/// Bytes of an entry besides its state: the map's node, the key, the ids.
const OVERHEAD: usize = 256;

pub struct Recent {
    inner: Mutex<Inner>,
    capacity: usize,
    budget: usize,
}

struct Inner {
    map: LruCache<String, (Arc<StoredSession>, usize)>,
    bytes: usize,
}

impl Default for Recent {
    fn default() -> Self {
        Recent::new(CAPACITY)
    }
}

/// An estimate of the memory one entry holds: its state's JSON length
/// (counted, not built) plus a fixed overhead. The JSON is close to what the
/// heap holds for the strings and maps that make a session large.
pub fn size_of(s: &StoredSession) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // A state that does not serialize is not cached (see `put`).
    if serde_json::to_writer(&mut c, &s.state).is_err() {
        return usize::MAX;
    }
    c.0 + s.id.len() * 2 + s.token_hash.len() + OVERHEAD
}

impl Recent {
    pub fn new(capacity: usize) -> Recent {
        Recent::with_budget(capacity, BUDGET)
    }

    pub fn with_budget(capacity: usize, budget: usize) -> Recent {
        Recent {
            inner: Mutex::new(Inner {
                map: LruCache::unbounded(),
                bytes: 0,
            }),
            capacity: capacity.max(1),
            budget,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The session as this instance last saved it, if that is at `seq`.
    pub fn get(&self, id: &str, seq: u32) -> Option<Arc<StoredSession>> {
        let mut inner = self.lock();
        inner
            .map
            .get(id)
            .filter(|(s, _)| s.state.seq == seq)
            .map(|(s, _)| s.clone())
    }

    /// Keeps `s`, evicting the least recently used sessions until both the
    /// count and the byte budget hold. A session larger than a quarter of
    /// the budget is not kept at all (its next answer reads the database).
    pub fn put(&self, s: Arc<StoredSession>) {
        let size = size_of(&s);
        let mut inner = self.lock();
        if let Some((_, old)) = inner.map.pop(&s.id) {
            inner.bytes -= old;
        }
        if size > self.budget / 4 {
            return;
        }
        inner.map.put(s.id.clone(), (s, size));
        inner.bytes += size;
        while inner.bytes > self.budget || inner.map.len() > self.capacity {
            match inner.map.pop_lru() {
                Some((_, (_, n))) => inner.bytes -= n,
                None => break,
            }
        }
    }

    pub fn forget(&self, id: &str) {
        let mut inner = self.lock();
        if let Some((_, n)) = inner.map.pop(id) {
            inner.bytes -= n;
        }
    }

    /// The estimated bytes held, and the number of sessions.
    pub fn usage(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.bytes, inner.map.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Channel, Session, Status};
    use time::OffsetDateTime;

    fn session(id: &str, seq: u32) -> Arc<StoredSession> {
        big_session(id, seq, Default::default())
    }

    fn big_session(id: &str, seq: u32, params: crate::engine::Vars) -> Arc<StoredSession> {
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
                params,
                initial_vars: Default::default(),
                vars: Default::default(),
                frames: Vec::new(),
                visits: Vec::new(),
                seq,
                status: Status::Active,
                ending: None,
                trail: Vec::new(),
                started_at: now,
                erased_at: None,
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

    #[test]
    fn big_sessions_stay_within_the_byte_budget() {
        // What an attacker did before the caps: 3,000 starts, each with
        // 60 KB of params.
        let r = Recent::default();
        let blob = serde_json::Value::String("x".repeat(60 * 1024));
        for i in 0..3000 {
            let params: std::collections::BTreeMap<String, serde_json::Value> =
                [("blob".to_owned(), blob.clone())].into();
            r.put(big_session(&format!("ses_{i}"), 1, params.into()));
            assert!(r.usage().0 <= BUDGET, "over budget after {i} sessions");
        }
        let (bytes, n) = r.usage();
        assert!(
            bytes > BUDGET / 2,
            "the budget is used, not wasted: {bytes}"
        );
        assert!(n < 300, "{n} sessions of 60 KB kept");
        assert!(r.get("ses_2999", 1).is_some(), "the newest is kept");
        assert!(r.get("ses_0", 1).is_none(), "the oldest went");
    }

    #[test]
    fn forgetting_and_replacing_give_the_bytes_back() {
        let r = Recent::new(10);
        r.put(session("a", 1));
        let one = r.usage().0;
        r.put(session("a", 2));
        assert_eq!(r.usage(), (one, 1));
        r.forget("a");
        assert_eq!(r.usage(), (0, 0));
    }

    #[test]
    fn a_session_too_big_for_the_cache_is_not_kept() {
        let r = Recent::with_budget(10, 64 * 1024);
        let blob = serde_json::Value::String("x".repeat(20 * 1024));
        let params: std::collections::BTreeMap<String, serde_json::Value> =
            [("blob".to_owned(), blob)].into();
        r.put(big_session("a", 1, params.into()));
        assert!(r.get("a", 1).is_none());
        assert_eq!(r.usage(), (0, 0));
    }
}
