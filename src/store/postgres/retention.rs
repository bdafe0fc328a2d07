//! Retention and erasure: the shared SQL of `store::erase`, one
//! transaction per session.

use super::{PgStore, SESSION_COLUMNS};
use crate::store::codec::db;
use crate::store::erase;
use crate::store::{Erasure, Result, Retention};
use async_trait::async_trait;
use sqlx::Postgres;
use time::OffsetDateTime;

#[async_trait]
impl Retention for PgStore {
    async fn sessions_due(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<String>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        erase::due_sessions::<Postgres, OffsetDateTime>(&mut conn, before, limit).await
    }

    async fn session_of(&self, reference: &str) -> Result<Option<String>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        erase::session_of_reference::<Postgres>(&mut conn, reference).await
    }

    async fn erase_session(
        &self,
        id: &str,
        by: &str,
        now: OffsetDateTime,
        outbox: bool,
    ) -> Result<Erasure> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let done =
            erase::erase_session::<Postgres, OffsetDateTime>(&mut tx, SESSION_COLUMNS, id, by, now)
                .await?;
        if matches!(done, Erasure::Erased { .. }) {
            if outbox {
                erase::purge_outbox_of::<Postgres>(&mut tx, id).await?;
            }
            tx.commit().await.map_err(db)?;
        } else {
            tx.rollback().await.map_err(db)?;
        }
        Ok(done)
    }

    async fn purge_outbox(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        let gone = erase::purge_outbox::<Postgres, OffsetDateTime>(&mut tx, before, limit).await?;
        tx.commit().await.map_err(db)?;
        Ok(gone)
    }
}
