//! The escalation queue.

use super::PgStore;
use crate::store::Escalations;
use crate::store::codec::{self, DbTime, ESCALATION_COLUMNS, EscalationRow, db};
use crate::store::shared::Statements;
use crate::store::{Changed, Escalation, EscalationChange, EscalationFilter, Result};
use async_trait::async_trait;
use sqlx::Postgres;
use time::OffsetDateTime;

#[async_trait]
impl Escalations for PgStore {
    async fn escalations(&self, f: &EscalationFilter) -> Result<Vec<Escalation>> {
        // `arrival` breaks ties in arrival order.
        codec::escalations_query::<Postgres>(f, "arrival")
            .build_query_as::<EscalationRow<OffsetDateTime>>()
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(codec::escalation_from_row)
            .collect()
    }

    async fn escalation(&self, id: &str) -> Result<Option<Escalation>> {
        Statements(&self.pool)
            .escalation::<OffsetDateTime>(id)
            .await
    }

    /// The rules are `store::apply_change`'s. The row is locked while they
    /// are applied, so of two instances claiming at once the second reads
    /// the first one's claim and is refused.
    async fn change_escalation(
        &self,
        id: &str,
        change: &EscalationChange,
        now: OffsetDateTime,
    ) -> Result<Changed> {
        let now = OffsetDateTime::to_db(now);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = $1 FOR UPDATE");
        let row = sqlx::query_as::<_, EscalationRow<OffsetDateTime>>(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let (current, next, message) = match codec::plan_change::<OffsetDateTime>(row, change, now)?
        {
            Ok(planned) => planned,
            Err(answer) => {
                tx.rollback().await.map_err(db)?;
                return Ok(answer);
            }
        };
        // The update (conditional on the status read, right on its own even
        // without the lock) and its message in one statement.
        let updated = sqlx::query_scalar::<_, i64>(
            "WITH up AS (UPDATE escalations SET tier = $1, queue = $2, status = $3, claimed_by = $4, \
                 record = $5, updated_at = $6 WHERE id = $7 AND status = $8 RETURNING 1), \
             msg AS (INSERT INTO outbox (id, event_type, payload, next_attempt_at, created_at) \
                 SELECT $9, $10, $11, $6, $6 FROM up RETURNING 1) \
             SELECT count(*) FROM up",
        )
        .bind(i16::from(next.record.tier))
        .bind(&next.record.queue)
        .bind(next.status.as_str())
        .bind(&next.claimed_by)
        .bind(codec::encode("escalation record", &next.record)?)
        .bind(now)
        .bind(id)
        .bind(current.status.as_str())
        .bind(message.id.as_str())
        .bind(message.event_type)
        .bind(message.payload.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        if updated != 1 {
            tx.rollback().await.map_err(db)?;
            return Ok(Changed::Refused(current));
        }
        tx.commit().await.map_err(db)?;
        Ok(Changed::Ok(next))
    }
}
