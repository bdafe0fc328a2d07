//! The escalation queue.

use super::SqliteStore;
use crate::case::Breach;
use crate::store::Escalations;
use crate::store::cases::{self, ESCALATION_COLUMNS, EscalationRow};
use crate::store::codec::{self, db};
use crate::store::shared::Statements;
use crate::store::{Changed, Escalation, EscalationChange, EscalationFilter, Page, Result};
use async_trait::async_trait;
use sqlx::Sqlite;
use time::OffsetDateTime;

#[async_trait]
impl Escalations for SqliteStore {
    async fn escalations(&self, f: &EscalationFilter) -> Result<Page> {
        let limit = cases::page_limit(f);
        let rows = cases::escalations_query::<Sqlite, i64>(f, limit)
            .build_query_as::<EscalationRow<i64>>()
            .fetch_all(&self.reader)
            .await
            .map_err(db)?;
        cases::page_of(rows, f, limit)
    }

    async fn escalation(&self, id: &str) -> Result<Option<Escalation>> {
        Statements(&self.reader).escalation::<i64>(id).await
    }

    async fn escalation_by_reference(&self, reference: &str) -> Result<Option<Escalation>> {
        Statements(&self.reader)
            .escalation_by_reference::<i64>(reference)
            .await
    }

    /// The rules are `case::apply`'s.
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
        let (current, mut next, update) = match cases::plan_change::<i64>(row, change, now)? {
            Ok(planned) => planned,
            Err(answer) => {
                tx.rollback().await.map_err(db)?;
                return Ok(answer);
            }
        };
        // Conditional on the status read: under IMMEDIATE nothing can change
        // it in between, but the statement stays right on its own.
        if !cases::update_case::<Sqlite, i64>(&mut *tx, &update).await? {
            tx.rollback().await.map_err(db)?;
            return Err(cases::changed_underneath(&current));
        }
        tx.commit().await.map_err(db)?;
        // What a later read returns: times to the millisecond.
        next.updated_at = codec::as_stored::<i64>(now)?;
        Ok(Changed::Ok(next))
    }

    async fn breaches_due(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<(String, Breach)>> {
        Statements(&self.reader)
            .breaches_due::<i64>(now, limit)
            .await
    }

    async fn next_breach_due(&self) -> Result<Option<OffsetDateTime>> {
        Statements(&self.reader).next_breach_due::<i64>().await
    }

    async fn overdue_cases(&self, now: OffsetDateTime) -> Result<u64> {
        Statements(&self.reader).overdue_cases::<i64>(now).await
    }
}
