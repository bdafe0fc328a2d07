//! The escalation queue.

use super::PgStore;
use crate::case::Breach;
use crate::store::Escalations;
use crate::store::cases::{self, ESCALATION_COLUMNS, EscalationRow};
use crate::store::codec::{DbTime, db};
use crate::store::shared::Statements;
use crate::store::{Changed, Escalation, EscalationChange, EscalationFilter, Page, Result};
use async_trait::async_trait;
use sqlx::Postgres;
use time::OffsetDateTime;

#[async_trait]
impl Escalations for PgStore {
    async fn escalations(&self, f: &EscalationFilter) -> Result<Page> {
        let limit = cases::page_limit(f);
        let rows = cases::escalations_query::<Postgres, OffsetDateTime>(f, limit)
            .build_query_as::<EscalationRow<OffsetDateTime>>()
            .fetch_all(&self.pool)
            .await
            .map_err(db)?;
        cases::page_of(rows, f, limit)
    }

    async fn escalation(&self, id: &str) -> Result<Option<Escalation>> {
        Statements(&self.pool)
            .escalation::<OffsetDateTime>(id)
            .await
    }

    async fn escalation_by_reference(&self, reference: &str) -> Result<Option<Escalation>> {
        Statements(&self.pool)
            .escalation_by_reference::<OffsetDateTime>(reference)
            .await
    }

    /// The rules are `case::apply`'s. The row is locked while they are
    /// applied, so of two instances claiming at once the second reads the
    /// first one's claim and is refused.
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
        let (current, next, update) = match cases::plan_change::<OffsetDateTime>(row, change, now)?
        {
            Ok(planned) => planned,
            Err(answer) => {
                tx.rollback().await.map_err(db)?;
                return Ok(answer);
            }
        };
        if !cases::update_case::<Postgres, OffsetDateTime>(&mut *tx, &update).await? {
            tx.rollback().await.map_err(db)?;
            return Err(cases::changed_underneath(&current));
        }
        tx.commit().await.map_err(db)?;
        Ok(Changed::Ok(next))
    }

    async fn breaches_due(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<(String, Breach)>> {
        Statements(&self.pool)
            .breaches_due::<OffsetDateTime>(now, limit)
            .await
    }

    async fn next_breach_due(&self) -> Result<Option<OffsetDateTime>> {
        Statements(&self.pool)
            .next_breach_due::<OffsetDateTime>()
            .await
    }

    async fn overdue_cases(&self, now: OffsetDateTime) -> Result<u64> {
        Statements(&self.pool)
            .overdue_cases::<OffsetDateTime>(now)
            .await
    }
}
