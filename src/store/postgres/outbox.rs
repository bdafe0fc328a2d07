//! The webhook outbox: leased with `FOR UPDATE SKIP LOCKED`.

use super::PgStore;
use crate::store::codec::{self, DbTime, OutboxRow, db};
use crate::store::layer::Outbox;
use crate::store::{OutboxMessage, Result};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Outbox for PgStore {
    async fn lease_outbox(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        // SKIP LOCKED: a relay leasing at the same moment holds its rows'
        // locks until it commits, and this one passes them by; a lease it
        // committed before is seen when the row is locked (READ COMMITTED
        // re-checks the condition), so no message is leased twice.
        let rows = sqlx::query_as::<_, OutboxRow<i32, OffsetDateTime>>(
            "UPDATE outbox SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE delivered_at IS NULL AND next_attempt_at <= $3 \
                   AND (lease_until IS NULL OR lease_until <= $3) \
                 ORDER BY next_attempt_at, arrival LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING id, event_type, payload, attempts, next_attempt_at, delivered_to",
        )
        .bind(owner)
        .bind(OffsetDateTime::to_db(until))
        .bind(OffsetDateTime::to_db(now))
        .bind(codec::clamp_limit(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        codec::leased(rows)
    }

    async fn outbox_delivered(&self, id: &str, owner: &str, now: OffsetDateTime) -> Result<()> {
        // Only while `owner` still holds the lease: a relay whose lease ran
        // out and was taken over must not speak for the new holder.
        sqlx::query(
            "UPDATE outbox SET delivered_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE id = $2 AND lease_owner = $3 AND delivered_at IS NULL",
        )
        .bind(OffsetDateTime::to_db(now))
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
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
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, delivered_to = $2, \
                 last_error = $3, lease_owner = NULL, lease_until = NULL \
             WHERE id = $4 AND lease_owner = $5 AND delivered_at IS NULL",
        )
        .bind(OffsetDateTime::to_db(at))
        .bind(codec::encode("delivered_to", &delivered_to)?)
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn outbox_pending(&self) -> Result<u64> {
        let n =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        codec::small_int("outbox count", n)
    }
}
