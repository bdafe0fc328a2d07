//! The webhook outbox: leased with `FOR UPDATE SKIP LOCKED`.

use super::PgStore;
use crate::store::Outbox;
use crate::store::codec::{self, DbTime, OutboxRow, db};
use crate::store::shared::Statements;
use crate::store::{OutboxChannel, OutboxMessage, Result};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Outbox for PgStore {
    async fn enqueue_outbox(
        &self,
        event_type: &str,
        payload: &str,
        now: OffsetDateTime,
    ) -> Result<String> {
        Statements(&self.pool)
            .enqueue_outbox::<OffsetDateTime>(event_type, payload, now)
            .await
    }

    async fn lease_outbox_of(
        &self,
        channel: Option<OutboxChannel>,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        // SKIP LOCKED: a relay leasing at the same moment holds its rows'
        // locks until it commits, and this one passes them by; a lease it
        // committed before is seen when the row is locked (READ COMMITTED
        // re-checks the condition), so no message is leased twice.
        let sql = format!(
            "UPDATE outbox SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE delivered_at IS NULL AND next_attempt_at <= $3 \
                   AND (lease_until IS NULL OR lease_until <= $3){} \
                 ORDER BY next_attempt_at, arrival LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING id, event_type, payload, attempts, next_attempt_at, delivered_to",
            codec::channel_filter(channel)
        );
        let rows = sqlx::query_as::<_, OutboxRow<i32, OffsetDateTime>>(&sql)
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
        Statements(&self.pool)
            .outbox_delivered::<OffsetDateTime>(id, owner, now)
            .await
    }

    async fn outbox_retry_at(
        &self,
        id: &str,
        owner: &str,
        at: OffsetDateTime,
        delivered_to: &[String],
        error: &str,
    ) -> Result<()> {
        Statements(&self.pool)
            .outbox_retry_at::<OffsetDateTime>(id, owner, at, delivered_to, error)
            .await
    }

    async fn outbox_settle(
        &self,
        id: &str,
        owner: &str,
        now: OffsetDateTime,
        delivered_to: &[String],
        error: Option<&str>,
    ) -> Result<()> {
        Statements(&self.pool)
            .outbox_settle::<OffsetDateTime>(id, owner, now, delivered_to, error)
            .await
    }

    async fn outbox_give_up_channel(
        &self,
        channel: OutboxChannel,
        now: OffsetDateTime,
        error: &str,
    ) -> Result<u64> {
        Statements(&self.pool)
            .outbox_give_up_channel::<OffsetDateTime>(channel, now, error)
            .await
    }

    async fn outbox_pending(&self) -> Result<u64> {
        Statements(&self.pool).outbox_pending().await
    }
}
