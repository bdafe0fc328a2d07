//! Outcomes and analytics (contract section 11): how sessions end, and the
//! figures a helpdesk is run by, per script (and per version when asked).
//!
//! The pipeline: the store keeps daily rollups of ended sessions (folded
//! once, off the answer path, by [`fold`]) and hands back raw figures as
//! [`StatsData`]: histograms and counts per script, version and channel.
//! [`report`] turns them into the [`Report`] of section 11 (rates,
//! medians, p90); the CLI, the API and the authors' page all print that one
//! report. Nothing here knows HTTP or SQL.

pub mod fold;
pub mod gather;
pub mod hist;
pub mod report;

pub use hist::Histogram;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a session ended (section 11); `active` is not an outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Resolved,
    Escalated,
    Abandoned,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [Outcome::Resolved, Outcome::Escalated, Outcome::Abandoned];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::Escalated => "escalated",
            Outcome::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Which versions a report separates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Versions {
    /// One entry per script, every version together (`version`: null).
    #[default]
    Together,
    /// Only this version (the content hash, or a unique prefix of it).
    Only(String),
    /// One entry per script and version.
    Each,
}

/// What a report covers: the filters of `fixpath stats` and
/// `GET /api/v1/stats`. Every figure counts the sessions that *started*
/// in `since..=until` (UTC days), and their cases and ratings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StatsFilter {
    pub script: Option<String>,
    pub versions: Versions,
    /// First day counted (UTC), inclusive.
    pub since: Option<time::Date>,
    /// Last day counted (UTC), inclusive.
    pub until: Option<time::Date>,
    /// `customer` or `agent`; `None`: every channel.
    pub channel: Option<String>,
}

/// The raw figures of one script, version and channel, as the store keeps
/// them: what [`report::build`] merges and computes from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GroupData {
    pub script: String,
    pub version: String,
    /// `customer`, `agent` or `api` (the engine's channel).
    pub channel: String,
    /// Ended sessions by outcome: time from start to outcome, in seconds.
    pub outcomes: BTreeMap<Outcome, Histogram>,
    /// Sessions without an outcome yet.
    pub active: u64,
    pub cases: CaseData,
    /// Ratings by score: `csat[0]` counts the 1s, `csat[4]` the 5s.
    pub csat: [u64; 5],
    /// By node id (`NODE`, or `SCRIPT/NODE` inside a sub-flow).
    pub nodes: BTreeMap<String, NodeData>,
}

/// The cases of a group's sessions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CaseData {
    pub count: u64,
    /// Resolved now.
    pub resolved: u64,
    /// Reopened at least once.
    pub reopened: u64,
    /// Seconds from the case's creation to its first staff reply.
    pub first_response: Histogram,
    /// Seconds from the case's creation to its resolution (resolved ones).
    pub resolution: Histogram,
    pub breached_response: u64,
    pub breached_resolution: u64,
}

/// One node's figures.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeData {
    /// Entries at the node, retracted ones included.
    pub entered: u64,
    /// Sessions that ended abandoned while at the node.
    pub abandoned: u64,
    /// Sessions that ended escalated while at the node.
    pub escalated: u64,
    /// How often each answer id was given at the node.
    pub answers: BTreeMap<String, u64>,
    /// Seconds from arriving at the node to answering it.
    pub dwell: Histogram,
}

/// What the store hands back for a filter.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StatsData {
    pub groups: Vec<GroupData>,
}

// ---- The report (section 11's JSON, field for field) ----

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The filter's first day, or null.
    pub since: Option<String>,
    pub until: Option<String>,
    pub scripts: Vec<ScriptStats>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptStats {
    pub id: String,
    /// Null when the entry counts every version together.
    pub version: Option<String>,
    pub title: String,
    pub sessions: SessionCounts,
    pub rates: Rates,
    pub time_to_outcome_s: Spread,
    pub cases: CaseStats,
    pub csat: Csat,
    pub nodes: Vec<NodeStats>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionCounts {
    pub started: u64,
    pub resolved: u64,
    pub escalated: u64,
    pub abandoned: u64,
    pub active: u64,
}

/// Shares between 0 and 1; null when the divisor is 0.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Rates {
    pub deflection: Option<f64>,
    pub escalation: Option<f64>,
    pub abandonment: Option<f64>,
    pub fcr: Option<f64>,
}

/// Seconds; null without any value.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Spread {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CaseStats {
    pub count: u64,
    pub resolved: u64,
    pub reopened: u64,
    pub median_first_response_s: Option<f64>,
    pub median_resolution_s: Option<f64>,
    pub breached_response: u64,
    pub breached_resolution: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Csat {
    pub count: u64,
    pub average: Option<f64>,
    pub distribution: [u64; 5],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStats {
    pub node: String,
    pub entered: u64,
    pub answers: BTreeMap<String, u64>,
    pub abandoned: u64,
    pub escalated: u64,
    pub median_dwell_s: Option<f64>,
}
