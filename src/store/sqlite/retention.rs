//! Retention and erasure: the shared SQL of `store::erase`, one
//! transaction per session.

use super::{SESSION_COLUMNS, SqliteStore};
use crate::store::codec::db;
use crate::store::erase;
use crate::store::{Erasure, Result, Retention};
use async_trait::async_trait;
use sqlx::Sqlite;
use time::OffsetDateTime;

#[async_trait]
impl Retention for SqliteStore {
    async fn sessions_due(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<String>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        erase::due_sessions::<Sqlite, i64>(&mut conn, before, limit).await
    }

    async fn session_of(&self, reference: &str) -> Result<Option<String>> {
        let mut conn = self.reader.acquire().await.map_err(db)?;
        erase::session_of_reference::<Sqlite>(&mut conn, reference).await
    }

    async fn erase_session(
        &self,
        id: &str,
        by: &str,
        now: OffsetDateTime,
        outbox: bool,
    ) -> Result<Erasure> {
        let mut tx = self.begin_write().await?;
        let done =
            erase::erase_session::<Sqlite, i64>(&mut tx, SESSION_COLUMNS, id, by, now).await?;
        if matches!(done, Erasure::Erased { .. }) {
            if outbox {
                erase::purge_outbox_of::<Sqlite>(&mut tx, id).await?;
            }
            tx.commit().await.map_err(db)?;
        } else {
            tx.rollback().await.map_err(db)?;
        }
        Ok(done)
    }

    async fn purge_outbox(&self, before: OffsetDateTime, limit: u32) -> Result<u64> {
        let mut tx = self.begin_write().await?;
        let gone = erase::purge_outbox::<Sqlite, i64>(&mut tx, before, limit).await?;
        tx.commit().await.map_err(db)?;
        Ok(gone)
    }
}
