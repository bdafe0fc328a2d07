//! The case (contract section 10): an escalation that both sides follow until
//! it is closed. The record of section 8 plus its working state: status,
//! holder, messages to and from the customer, the history, service levels.
//!
//! Domain code only: no HTTP, no SQL.

pub mod calendar;
pub mod mail;
pub mod sla;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// When a case is due: the first staff reply the customer can see
/// (`response`) and its resolution. `None`: no target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Due {
    #[serde(with = "time::serde::rfc3339::option")]
    pub response: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub resolution: Option<OffsetDateTime>,
}

/// What sets a case's due times: the `[sla]` configuration
/// (`case::sla`), or nothing.
pub trait DueTimes: Send + Sync + std::fmt::Debug {
    /// The due times of a case that arrives at `tier` (and `queue`) at `from`.
    fn due(&self, tier: u8, queue: Option<&str>, from: OffsetDateTime) -> Due;
}

/// No service levels configured: nothing is ever due.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoTargets;

impl DueTimes for NoTargets {
    fn due(&self, _tier: u8, _queue: Option<&str>, _from: OffsetDateTime) -> Due {
        Due::default()
    }
}
