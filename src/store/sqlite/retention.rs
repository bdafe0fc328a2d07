//! Retention and erasure: the shared SQL of `store::erase`, one
//! transaction per session.

use super::{SESSION_COLUMNS, SqliteStore};
use crate::store::codec::db;
use crate::store::erase;
use crate::store::{Erasure, Result, Retention, Swept};
use async_trait::async_trait;
use sqlx::Sqlite;
use time::OffsetDateTime;

#[async_trait]
impl Retention for SqliteStore {
    async fn erase_due(
        &self,
        before: OffsetDateTime,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Swept> {
        let ids = {
            let mut conn = self.reader.acquire().await.map_err(db)?;
            erase::due_sessions::<Sqlite, i64>(&mut conn, before, limit).await?
        };
        let mut swept = Swept::default();
        for id in ids {
            if let Erasure::Erased { cases } = self.erase_one(&id, "system", now, false).await? {
                swept.sessions += 1;
                swept.cases += u64::from(cases);
            }
        }
        let mut tx = self.begin_write().await?;
        swept.messages = erase::purge_outbox::<Sqlite, i64>(&mut tx, before, limit).await?;
        tx.commit().await.map_err(db)?;
        Ok(swept)
    }

    async fn erase_reference(
        &self,
        reference: &str,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<Erasure> {
        let session = {
            let mut conn = self.reader.acquire().await.map_err(db)?;
            erase::session_of_reference::<Sqlite>(&mut conn, reference).await?
        };
        match session {
            Some(id) => self.erase_one(&id, by, now, true).await,
            None => Ok(Erasure::NotFound),
        }
    }
}

impl SqliteStore {
    /// Erases one session in a transaction of its own, with its outbox
    /// messages when `outbox`; rolled back unless it was erased.
    async fn erase_one(
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
}
