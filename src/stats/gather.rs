//! One report, fresh: what the CLI, the API and the authors' page all call.

use super::{Report, StatsFilter, report};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Sessions folded per round trip while catching up.
const ROLL_BATCH: u32 = 1_000;

/// Brings the outcomes up to date, then reads the report: sessions idle
/// past `idle` at `now` are abandoned (when `idle` is given), every ended
/// session not yet counted is folded into the rollups, and the figures for
/// `filter` are read and computed.
pub async fn gather(
    store: &dyn Store,
    filter: &StatsFilter,
    idle: Option<(OffsetDateTime, time::Duration)>,
    titles: &BTreeMap<String, String>,
) -> Result<Report, StoreError> {
    if let Some((now, idle)) = idle {
        while store.abandon_idle(now, idle, ROLL_BATCH).await?.len() as u32 >= ROLL_BATCH {}
    }
    while store.roll_up(ROLL_BATCH).await? >= u64::from(ROLL_BATCH) {}
    let data = store.stats_data(filter).await?;
    Ok(report::build(&data, filter, titles))
}
