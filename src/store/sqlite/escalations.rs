//! The escalation queue.

use super::{SqliteStore, writer};
use crate::store::Escalations;
use crate::store::codec::{self, ESCALATION_COLUMNS, EscalationRow, db};
use crate::store::shared::Statements;
use crate::store::{Changed, Escalation, EscalationChange, EscalationFilter, Result};
use async_trait::async_trait;
use sqlx::Sqlite;
use time::OffsetDateTime;

#[async_trait]
impl Escalations for SqliteStore {
    async fn escalations(&self, f: &EscalationFilter) -> Result<Vec<Escalation>> {
        // rowid breaks ties in arrival order.
        codec::escalations_query::<Sqlite>(f, "rowid")
            .build_query_as::<EscalationRow<i64>>()
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .into_iter()
            .map(codec::escalation_from_row)
            .collect()
    }

    async fn escalation(&self, id: &str) -> Result<Option<Escalation>> {
        Statements(&self.reader).escalation::<i64>(id).await
    }

    /// The rules are `store::apply_change`'s.
    async fn change_escalation(
        &self,
        id: &str,
        change: &EscalationChange,
        now: OffsetDateTime,
    ) -> Result<Changed> {
        let mut tx = self.begin_write().await?;
        let sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = ?");
        let row = sqlx::query_as::<_, EscalationRow<i64>>(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
        let (current, mut next, message) = match codec::plan_change::<i64>(row, change, now)? {
            Ok(planned) => planned,
            Err(answer) => {
                tx.rollback().await.map_err(db)?;
                return Ok(answer);
            }
        };
        // Conditional on the status read: under IMMEDIATE nothing can change
        // it in between, but the statement stays right on its own.
        let updated = sqlx::query(
            "UPDATE escalations SET tier = ?, queue = ?, status = ?, claimed_by = ?, record = ?, updated_at = ? \
             WHERE id = ? AND status = ?",
        )
        .bind(i64::from(next.record.tier))
        .bind(&next.record.queue)
        .bind(next.status.as_str())
        .bind(&next.claimed_by)
        .bind(codec::encode("escalation record", &next.record)?)
        .bind(message.at)
        .bind(id)
        .bind(current.status.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await.map_err(db)?;
            return Ok(Changed::Refused(current));
        }
        writer::insert_message(&mut tx, &message).await?;
        tx.commit().await.map_err(db)?;
        // What a later read returns: times to the millisecond.
        next.updated_at = codec::as_stored::<i64>(now)?;
        Ok(Changed::Ok(next))
    }
}
