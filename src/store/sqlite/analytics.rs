//! Outcomes and the rollups of section 11: the shared SQL of
//! `store::figures`, with SQLite's times (milliseconds) and its one writer.

use super::{SESSION_COLUMNS, SqliteStore};
use crate::stats::fold::{Ended, Rollup};
use crate::stats::{StatsData, StatsFilter};
use crate::store::codec::db;
use crate::store::figures;
use crate::store::shared::Statements;
use crate::store::{Abandoned, Analytics, Result};
use async_trait::async_trait;
use time::OffsetDateTime;

/// Whole seconds between two millisecond columns.
fn seconds(a: &str, b: &str) -> String {
    format!("(({b}) - ({a})) / 1000")
}

#[async_trait]
impl Analytics for SqliteStore {
    async fn abandon_idle(
        &self,
        now: OffsetDateTime,
        idle: time::Duration,
        limit: u32,
    ) -> Result<Vec<Abandoned>> {
        Statements(&self.writer)
            .abandon_idle::<i64>(now, idle, limit)
            .await
    }

    async fn unrolled(&self, limit: u32) -> Result<Vec<Ended>> {
        Statements(&self.reader)
            .unrolled::<i64>(SESSION_COLUMNS, limit)
            .await
    }

    async fn add_rollup(&self, ids: &[String], rollup: &Rollup) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        if !figures::add_rollup::<sqlx::Sqlite>(&mut tx, ids, rollup).await? {
            tx.rollback().await.map_err(db)?;
            return Ok(false);
        }
        tx.commit().await.map_err(db)?;
        Ok(true)
    }

    async fn stats_data(&self, filter: &StatsFilter) -> Result<StatsData> {
        Statements(&self.reader)
            .stats_data::<i64>(filter, seconds)
            .await
    }
}
