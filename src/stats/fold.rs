//! Folding ended sessions into the daily rollups: once per session, off
//! the answer path (the rollup job and `fixpath stats` call it).
//!
//! What a session adds, by the UTC day it started, its script, version and
//! channel: one to its outcome's histogram at its time to outcome; per trail
//! entry (retracted ones included) one entry at the entry's node, one to the
//! answer given there and its dwell (from arriving at the node: the start,
//! the previous entry, or the moment that entry was taken back, to
//! answering it); and one `escalated` or `abandoned` at the node it ended
//! at. An abandoned session waits at a node
//! it never answered: that node has no entry, so it is named from the
//! session's pinned program and counted entered there too.

use super::Outcome;
use crate::engine::Session;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// What groups a rollup row: script, version, channel and the UTC day
/// (`YYYY-MM-DD`) the session started.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub script: String,
    pub version: String,
    pub channel: String,
    pub day: String,
}

/// A node's counters in one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeCounts {
    pub entered: u64,
    pub abandoned: u64,
    pub escalated: u64,
}

/// What a batch of ended sessions adds to the rollup tables: each map is one
/// table, each value what to add to its row (created when missing).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rollup {
    /// `(key, outcome, seconds)` → sessions.
    pub outcomes: BTreeMap<(Key, Outcome, i64), u64>,
    /// `(key, node)` → counters.
    pub nodes: BTreeMap<(Key, String), NodeCounts>,
    /// `(key, node, answer id)` → times given.
    pub answers: BTreeMap<(Key, String, String), u64>,
    /// `(key, node, seconds)` → answers that took that long.
    pub dwell: BTreeMap<(Key, String, i64), u64>,
}

/// An ended session as the rollup job reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    pub id: String,
    pub session: Session,
    pub outcome: Outcome,
    pub created_at: OffsetDateTime,
    pub ended_at: OffsetDateTime,
}

/// Whole seconds from `a` to `b`, never negative (clocks of two instances
/// may disagree by a little), kept to two significant digits (see
/// [`two_digits`]).
pub fn seconds(a: OffsetDateTime, b: OffsetDateTime) -> i64 {
    two_digits((b - a).whole_seconds().max(0))
}

/// `n` rounded down to two significant digits: exact below 100 s, then
/// 100, 110, …, 990, 1000, 1100, … (at most 10 % low, under 5 % on
/// average). A rollup row per distinct value, per node and day, is what
/// the figures read: exact seconds would make a row of nearly every value
/// and the reads as slow as scanning the sessions; two digits keep a few
/// hundred values at most per node, which is what a median of a human's
/// answer time can honestly claim anyway.
pub fn two_digits(n: i64) -> i64 {
    let mut unit = 1;
    while n / unit >= 100 {
        unit *= 10;
    }
    n / unit * unit
}

/// The `day` of the rollup rows that count every day: what a report
/// without a date filter reads, a few rows per node instead of one per day.
pub const ALL_DAYS: &str = "";

/// The UTC day of `t`, as the rollups key it.
pub fn day(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC).date().to_string()
}

impl Rollup {
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// Adds one ended session. `at_node` names the node it waited at when
    /// abandoned (see [`crate::engine::current_node`]); `None` when its
    /// script version is gone, and then no node is blamed.
    pub fn add(&mut self, e: &Ended, at_node: Option<&str>) {
        let day = day(e.created_at);
        self.add_at(e, at_node, day);
        self.add_at(e, at_node, ALL_DAYS.to_owned());
    }

    fn add_at(&mut self, e: &Ended, at_node: Option<&str>, day: String) {
        let s = &e.session;
        let key = Key {
            script: s.script.clone(),
            version: s
                .pins
                .first()
                .map(|p| p.version.to_string())
                .unwrap_or_default(),
            channel: s.channel.as_str().to_owned(),
            day,
        };
        *self
            .outcomes
            .entry((key.clone(), e.outcome, seconds(e.created_at, e.ended_at)))
            .or_default() += 1;
        let mut arrived = e.created_at;
        let mut previous: Option<&str> = None;
        for entry in &s.trail {
            let node = entry.node().as_str();
            let system = entry.actor() == "system";
            // A resolve or escalate on an answer is written as a system
            // entry at the same node: one entry there, not two. A system
            // entry at a node of its own (an automatic node) is an entry.
            if !system || previous != Some(node) {
                self.node(&key, node).entered += 1;
            }
            if let Some(a) = entry.answer() {
                *self
                    .answers
                    .entry((key.clone(), node.to_owned(), a.id.to_string()))
                    .or_default() += 1;
            }
            if !system {
                let took = seconds(arrived, entry.at());
                *self
                    .dwell
                    .entry((key.clone(), node.to_owned(), took))
                    .or_default() += 1;
            }
            // Taken back: the person was at this node again from then.
            arrived = entry.retraction().map_or(entry.at(), |(_, at)| at);
            previous = Some(node);
        }
        match e.outcome {
            Outcome::Resolved => {}
            Outcome::Escalated => {
                if let Some(crate::engine::Ending::Escalated { node, .. }) = s.ending.as_deref() {
                    self.node(&key, node).escalated += 1;
                }
            }
            Outcome::Abandoned => {
                if let Some(at) = at_node {
                    let n = self.node(&key, at);
                    n.entered += 1;
                    n.abandoned += 1;
                }
            }
        }
    }

    fn node(&mut self, key: &Key, node: &str) -> &mut NodeCounts {
        self.nodes
            .entry((key.clone(), node.to_owned()))
            .or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_two_significant_digits() {
        for (n, kept) in [
            (0, 0),
            (7, 7),
            (99, 99),
            (100, 100),
            (109, 100),
            (999, 990),
            (1_000, 1_000),
            (4_870, 4_800),
            (86_399, 86_000),
        ] {
            assert_eq!(two_digits(n), kept, "{n}");
        }
    }

    #[test]
    fn days_are_utc() {
        let t = time::macros::datetime!(2026-03-02 00:30 +02:00);
        assert_eq!(day(t), "2026-03-01");
    }
}
