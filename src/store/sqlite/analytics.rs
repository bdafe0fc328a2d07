//! Outcomes and the rollups of section 11 (slice: store).

use super::SqliteStore;
use crate::stats::fold::{Ended, Rollup};
use crate::stats::{StatsData, StatsFilter};
use crate::store::{Abandoned, Analytics, Result, StoreError};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Analytics for SqliteStore {
    async fn abandon_idle(
        &self,
        _now: OffsetDateTime,
        _idle: time::Duration,
        _limit: u32,
    ) -> Result<Vec<Abandoned>> {
        Err(StoreError::database("abandon_idle: not built yet"))
    }

    async fn unrolled(&self, _limit: u32) -> Result<Vec<Ended>> {
        Err(StoreError::database("unrolled: not built yet"))
    }

    async fn add_rollup(&self, _ids: &[String], _rollup: &Rollup) -> Result<bool> {
        Err(StoreError::database("add_rollup: not built yet"))
    }

    async fn stats_data(&self, _filter: &StatsFilter) -> Result<StatsData> {
        Err(StoreError::database("stats_data: not built yet"))
    }
}
