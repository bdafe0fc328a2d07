//! Outcomes and the rollups of section 11: the shared SQL of
//! `store::figures`, with PostgreSQL's `timestamptz`.

use super::{PgStore, SESSION_COLUMNS};
use crate::stats::fold::{Ended, Rollup};
use crate::stats::{StatsData, StatsFilter};
use crate::store::codec::db;
use crate::store::figures;
use crate::store::shared::Statements;
use crate::store::{Abandoned, Analytics, Result};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Whole seconds between two `timestamptz` columns.
fn seconds(a: &str, b: &str) -> String {
    format!("CAST(floor(extract(epoch FROM ({b}) - ({a}))) AS BIGINT)")
}

#[async_trait]
impl Analytics for PgStore {
    async fn abandon_idle(
        &self,
        now: OffsetDateTime,
        idle: time::Duration,
        limit: u32,
    ) -> Result<Vec<Abandoned>> {
        Statements(&self.pool)
            .abandon_idle::<OffsetDateTime>(now, idle, limit)
            .await
    }

    async fn unrolled(&self, limit: u32) -> Result<Vec<Ended>> {
        Statements(&self.pool)
            .unrolled::<OffsetDateTime>(SESSION_COLUMNS, limit)
            .await
    }

    async fn add_rollup(&self, ids: &[String], rollup: &Rollup) -> Result<bool> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        if !figures::add_rollup::<sqlx::Postgres>(&mut tx, ids, rollup).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn stats_data(&self, filter: &StatsFilter) -> Result<StatsData> {
        Statements(&self.pool)
            .stats_data::<OffsetDateTime>(filter, seconds)
            .await
    }
}
