//! The webhook outbox: leased to one relay at a time.

use super::SqliteStore;
use crate::store::Outbox;
use crate::store::codec::{self, DbTime, OutboxRow, db};
use crate::store::shared::Statements;
use crate::store::{OutboxChannel, OutboxMessage, Result};
use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
impl Outbox for SqliteStore {
    async fn enqueue_outbox(
        &self,
        event_type: &str,
        payload: &str,
        now: OffsetDateTime,
    ) -> Result<String> {
        Statements(&self.writer)
            .enqueue_outbox::<i64>(event_type, payload, now)
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
        // One statement on the single writer connection, inside IMMEDIATE
        // (another process may run a relay too): two relays never lease the
        // same message.
        let mut tx = self.begin_write().await?;
        let sql = format!(
            "UPDATE outbox SET lease_owner = ?1, lease_until = ?2 \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE delivered_at IS NULL AND next_attempt_at <= ?3 \
                   AND (lease_until IS NULL OR lease_until <= ?3){} \
                 ORDER BY next_attempt_at, rowid LIMIT ?4) \
             RETURNING id, event_type, payload, attempts, next_attempt_at, delivered_to",
            codec::channel_filter(channel)
        );
        let rows = sqlx::query_as::<_, OutboxRow<i64, i64>>(&sql)
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
        Statements(&self.writer)
            .outbox_delivered::<i64>(id, owner, now)
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
        Statements(&self.writer)
            .outbox_retry_at::<i64>(id, owner, at, delivered_to, error)
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
        Statements(&self.writer)
            .outbox_settle::<i64>(id, owner, now, delivered_to, error)
            .await
    }

    async fn outbox_give_up_channel(
        &self,
        channel: OutboxChannel,
        now: OffsetDateTime,
        error: &str,
    ) -> Result<u64> {
        Statements(&self.writer)
            .outbox_give_up_channel::<i64>(channel, now, error)
            .await
    }

    async fn outbox_pending(&self) -> Result<u64> {
        Statements(&self.reader).outbox_pending().await
    }
}
