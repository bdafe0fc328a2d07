//! Script versions and sessions: reads on the reader pool, writes through
//! the writer task.

use super::{SESSION_COLUMNS, SqliteStore};
use crate::engine::Pin;
use crate::store::codec::{self, DbTime, Job, StartJob, StepJob, db};
use crate::store::shared::Statements;
use crate::store::{NewCase, Sessions};
use crate::store::{Result, Saved, ScriptVersion, StepWrite, StoredSession};
use async_trait::async_trait;
use std::collections::HashMap;

#[async_trait]
impl Sessions for SqliteStore {
    async fn put_script_version(&self, v: &ScriptVersion) -> Result<()> {
        Statements(&self.writer).put_script_version::<i64>(v).await
    }

    async fn versions_of(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Vec<(String, time::OffsetDateTime)>> {
        Statements(&self.reader).versions_of::<i64>(id, limit).await
    }

    async fn script_versions(&self, pins: &[Pin]) -> Result<Vec<ScriptVersion>> {
        let mut out = Vec::new();
        for chunk in pins.chunks(200) {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT id, version, path, source, created_at FROM script_versions WHERE (id, version) IN (VALUES ",
            );
            let mut values = q.separated(", ");
            for p in chunk {
                values
                    .push("(")
                    .push_bind_unseparated(p.id.as_str())
                    .push_unseparated(", ")
                    .push_bind_unseparated(p.version.as_str())
                    .push_unseparated(")");
            }
            q.push(")");
            let rows = q
                .build_query_as::<(String, String, String, String, i64)>()
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
            for (id, version, path, source, created_at) in rows {
                let created_at =
                    created_at.to_time(&|| format!("script version {id}@{version}"))?;
                out.push(ScriptVersion {
                    id,
                    version,
                    path,
                    source,
                    created_at,
                });
            }
        }
        Ok(codec::in_pin_order(out, pins))
    }

    async fn create_session(&self, s: &StoredSession, escalation: Option<&NewCase>) -> Result<()> {
        let job = StartJob::new(s, escalation)?;
        self.write_job(Job::Start(job)).await.map(drop)
    }

    async fn session(&self, id: &str) -> Result<Option<StoredSession>> {
        Statements(&self.reader)
            .session::<i64>(SESSION_COLUMNS, id)
            .await
    }

    async fn sessions_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<StoredSession>> {
        Statements(&self.reader)
            .sessions_by_reference::<i64>(SESSION_COLUMNS, "rowid", reference, limit)
            .await
    }

    async fn session_references(&self, ids: &[String]) -> Result<HashMap<String, String>> {
        let mut found = HashMap::new();
        // Well under SQLite's limit of bound parameters per statement.
        for chunk in ids.chunks(500) {
            let mut q = sqlx::QueryBuilder::new(
                "SELECT id, reference FROM sessions WHERE reference IS NOT NULL AND id IN (",
            );
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id.as_str());
            }
            q.push(")");
            let rows = q
                .build_query_as::<(String, String)>()
                .fetch_all(&self.reader)
                .await
                .map_err(db)?;
            found.extend(rows);
        }
        Ok(found)
    }

    async fn save_step(&self, w: &StepWrite<'_>) -> Result<Saved> {
        // Everything is encoded here, on the caller's task, in parallel; the
        // writer task only runs statements.
        let job = StepJob::new(w)?;
        self.write_job(Job::Step(job)).await
    }

    async fn session_link_valid(&self, session_id: &str, token_hash: &str) -> Result<bool> {
        Statements(&self.reader)
            .session_link_valid(session_id, token_hash)
            .await
    }

    async fn add_session_link(
        &self,
        session_id: &str,
        token_hash: &str,
        now: time::OffsetDateTime,
    ) -> Result<()> {
        Statements(&self.writer)
            .add_session_link::<i64>(session_id, token_hash, now)
            .await
    }

    async fn add_feedback(&self, f: &crate::case::feedback::Feedback) -> Result<bool> {
        Statements(&self.writer).add_feedback::<i64>(f).await
    }

    async fn feedback_kinds(
        &self,
        session_id: &str,
    ) -> Result<Vec<crate::case::feedback::FeedbackKind>> {
        Statements(&self.reader).feedback_kinds(session_id).await
    }
}
