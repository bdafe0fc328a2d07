//! Retention and erasure: the shared SQL of `store::erase`, one
//! transaction per session.

use super::{PgStore, SESSION_COLUMNS};
use crate::store::codec::db;
use crate::store::erase;
use crate::store::{Erasure, Result, Retention, Swept};
use async_trait::async_trait;
use sqlx::Postgres;
use time::OffsetDateTime;

#[async_trait]
impl Retention for PgStore {
    async fn erase_due(
        &self,
        before: OffsetDateTime,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Swept> {
        let ids = {
            let mut conn = self.pool.acquire().await.map_err(db)?;
            erase::due_sessions::<Postgres, OffsetDateTime>(&mut conn, before, limit).await?
        };
        let mut swept = Swept::default();
        for id in ids {
            if let Erasure::Erased { cases } = self.erase_one(&id, "system", now, false).await? {
                swept.sessions += 1;
                swept.cases += u64::from(cases);
            }
        }
        let mut tx = self.pool.begin().await.map_err(db)?;
        swept.messages =
            erase::purge_outbox::<Postgres, OffsetDateTime>(&mut tx, before, limit).await?;
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
            let mut conn = self.pool.acquire().await.map_err(db)?;
            erase::session_of_reference::<Postgres>(&mut conn, reference).await?
        };
        match session {
            Some(id) => self.erase_one(&id, by, now, true).await,
            None => Ok(Erasure::NotFound),
        }
    }
}

impl PgStore {
    /// Erases one session in a transaction of its own, with its outbox
    /// messages when `outbox`; rolled back unless it was erased.
    async fn erase_one(
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
}
