//! The webhook outbox: leased to one relay at a time.

use super::SqliteStore;
use crate::store::codec::{self, DbTime, OutboxRow, db};
use crate::store::layer::Outbox;
use crate::store::{OutboxMessage, Result};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Outbox for SqliteStore {
    async fn lease_outbox(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        // One statement on the single writer connection, inside IMMEDIATE
        // (another process may run a relay too): two relays never lease the
        // same message.
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query_as::<_, OutboxRow<i64, i64>>(
            "UPDATE outbox SET lease_owner = ?1, lease_until = ?2 \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE delivered_at IS NULL AND next_attempt_at <= ?3 \
                   AND (lease_until IS NULL OR lease_until <= ?3) \
                 ORDER BY next_attempt_at, rowid LIMIT ?4) \
             RETURNING id, event_type, payload, attempts, next_attempt_at, delivered_to",
        )
        .bind(owner)
        .bind(i64::to_db(until))
        .bind(i64::to_db(now))
        .bind(codec::clamp_limit(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        codec::leased(rows)
    }

    async fn outbox_delivered(&self, id: &str, owner: &str, now: OffsetDateTime) -> Result<()> {
        // Only while `owner` still holds the lease: a relay whose lease ran
        // out and was taken over must not speak for the new holder.
        sqlx::query(
            "UPDATE outbox SET delivered_at = ?, lease_owner = NULL, lease_until = NULL \
             WHERE id = ? AND lease_owner = ? AND delivered_at IS NULL",
        )
        .bind(i64::to_db(now))
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn outbox_retry_at(
        &self,
        id: &str,
        owner: &str,
        at: OffsetDateTime,
        delivered_to: &[String],
        error: &str,
    ) -> Result<()> {
        // Only while `owner` still holds the lease (see `outbox_delivered`).
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, delivered_to = ?, \
                 last_error = ?, lease_owner = NULL, lease_until = NULL \
             WHERE id = ? AND lease_owner = ? AND delivered_at IS NULL",
        )
        .bind(i64::to_db(at))
        .bind(codec::encode("delivered_to", &delivered_to)?)
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn outbox_pending(&self) -> Result<u64> {
        let n =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                .fetch_one(&self.reader)
                .await
                .map_err(db)?;
        codec::small_int("outbox count", n)
    }
}
