//! Script versions and sessions.

use super::{PgStore, SESSION_COLUMNS, writer};
use crate::engine::Pin;
use crate::store::codec::{self, Job, StartJob, StepJob, db};
use crate::store::shared::Statements;
use crate::store::{NewCase, Sessions};
use crate::store::{Result, Saved, ScriptVersion, StepWrite, StoreError, StoredSession};
use async_trait::async_trait;
use std::collections::HashMap;
use time::OffsetDateTime;

#[async_trait]
impl Sessions for PgStore {
    async fn put_script_version(&self, v: &ScriptVersion) -> Result<()> {
        Statements(&self.pool)
            .put_script_version::<OffsetDateTime>(v)
            .await
    }

    async fn versions_of(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Vec<(String, time::OffsetDateTime)>> {
        Statements(&self.pool)
            .versions_of::<OffsetDateTime>(id, limit)
            .await
    }

    async fn script_versions(&self, pins: &[Pin]) -> Result<Vec<ScriptVersion>> {
        let ids: Vec<&str> = pins.iter().map(|p| p.id.as_str()).collect();
        let versions: Vec<&str> = pins.iter().map(|p| p.version.as_str()).collect();
        let rows = sqlx::query_as::<_, (String, String, String, String, OffsetDateTime)>(
            "SELECT v.id, v.version, v.path, v.source, v.created_at FROM script_versions v \
             JOIN unnest($1::text[], $2::text[]) AS p(id, version) \
               ON v.id = p.id AND v.version = p.version",
        )
        .bind(&ids)
        .bind(&versions)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let found = rows
            .into_iter()
            .map(|(id, version, path, source, created_at)| ScriptVersion {
                id,
                version,
                path,
                source,
                created_at,
            })
            .collect();
        // In the order asked for, each once (a pin asked twice joins twice).
        Ok(codec::in_pin_order(found, pins))
    }

    async fn create_session(&self, s: &StoredSession, escalation: Option<&NewCase>) -> Result<()> {
        let job = StartJob::new(s, escalation)?;
        if job.escalation.is_some() {
            // Rare (a script that hands over at once), and it needs a
            // transaction of its own.
            return writer::create_alone(&self.pool, &job).await;
        }
        match self.write(Job::Start(job)).await? {
            Saved::Ok => Ok(()),
            other => Err(StoreError::database(format!(
                "session {}: a start came back as {other:?}",
                s.id
            ))),
        }
    }

    async fn session(&self, id: &str) -> Result<Option<StoredSession>> {
        Statements(&self.pool)
            .session::<OffsetDateTime>(SESSION_COLUMNS, id)
            .await
    }

    async fn sessions_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<StoredSession>> {
        Statements(&self.pool)
            .sessions_by_reference::<OffsetDateTime>(SESSION_COLUMNS, "arrival", reference, limit)
            .await
    }

    async fn session_references(&self, ids: &[String]) -> Result<HashMap<String, String>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rows = sqlx::query_as::<_, (String, String)>(
            "SELECT id, reference FROM sessions WHERE reference IS NOT NULL AND id = ANY($1)",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().collect())
    }

    async fn save_step(&self, w: &StepWrite<'_>) -> Result<Saved> {
        let job = StepJob::new(w)?;
        if !job.retracted.is_empty() || job.escalation.is_some() {
            // Rare (a step back, an escalation), and it needs a transaction
            // of its own.
            return writer::step_alone(&self.pool, &job).await;
        }
        self.write(Job::Step(job)).await
    }

    async fn session_link_valid(&self, session_id: &str, token_hash: &str) -> Result<bool> {
        Statements(&self.pool)
            .session_link_valid(session_id, token_hash)
            .await
    }

    async fn add_session_link(
        &self,
        session_id: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        Statements(&self.pool)
            .add_session_link::<OffsetDateTime>(session_id, token_hash, now)
            .await
    }

    async fn add_feedback(&self, f: &crate::case::feedback::Feedback) -> Result<bool> {
        Statements(&self.pool)
            .add_feedback::<OffsetDateTime>(f)
            .await
    }

    async fn feedback_kinds(
        &self,
        session_id: &str,
    ) -> Result<Vec<crate::case::feedback::FeedbackKind>> {
        Statements(&self.pool).feedback_kinds(session_id).await
    }
}
