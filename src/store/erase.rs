//! Retention and erasure (contract section 13), the same SQL on both
//! backends: which sessions are due, and the erasure of one session with
//! its cases and ratings inside the caller's transaction.
//!
//! A session whose case is not resolved is left alone: a case being worked
//! on needs what the customer said.
//!
//! What is removed is decided by the domain (`Session::erase_personal`,
//! `Record::erase_personal`, `Case::erase_personal`); here it is read,
//! handed over and written back, each write conditional on what was read,
//! so two instances sweeping at once, or a staff change landing in between,
//! never lose a write: the loser writes nothing and the sweep tries again
//! next round. The columns the figures read (outcomes, times, statuses,
//! scores, rollups) are not touched, so `stats` does not change.

use super::Result;
use super::cases::{ESCALATION_COLUMNS, EscalationRow, escalation_from_row};
use super::codec::{DbTime, SessionRow, db, encode, session_from_row, state_json};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};
use time::OffsetDateTime;

/// What erasing one session's personal data came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erasure {
    /// Erased, with this many of its cases.
    Erased {
        cases: u32,
    },
    /// It was erased before.
    Already,
    /// A case of the session is not resolved: it is still being worked
    /// on, so nothing was erased.
    Unresolved {
        reference: String,
    },
    NotFound,
    /// Someone else wrote to it while it was being erased: nothing was
    /// written; the next sweep tries again.
    Changed,
}

/// What a retention sweep removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Swept {
    pub sessions: u64,
    pub cases: u64,
    /// Outbox messages deleted.
    pub messages: u64,
}

/// Retention and erasure (contract section 13): personal data removed,
/// what the figures count kept. A backend gives the four steps below (the
/// SQL of this module, in its own transactions); the sweep and the erasure
/// on request are made of them once, here.
#[async_trait::async_trait]
pub trait Retention: Send + Sync + 'static {
    /// The ids of sessions due for erasure at `before` (see
    /// [`due_sessions`]), oldest first, at most `limit`.
    async fn sessions_due(&self, before: OffsetDateTime, limit: u32) -> Result<Vec<String>>;
    /// The session of the case with this reference, if any.
    async fn session_of(&self, reference: &str) -> Result<Option<String>>;
    /// Erases session `id` and its cases in a transaction of its own, with
    /// their outbox messages when `outbox`; nothing is kept unless it comes
    /// to [`Erasure::Erased`].
    async fn erase_session(
        &self,
        id: &str,
        by: &str,
        now: OffsetDateTime,
        outbox: bool,
    ) -> Result<Erasure>;
    /// Deletes up to `limit` outbox messages made before `before`.
    async fn purge_outbox(&self, before: OffsetDateTime, limit: u32) -> Result<u64>;

    /// Erases up to `limit` sessions (with their cases) due at `before`:
    /// ended before it, folded into the figures, every case of theirs
    /// resolved before it; and deletes outbox messages made before it. A
    /// case's `erased` event is by `system`.
    async fn erase_due(
        &self,
        before: OffsetDateTime,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Swept> {
        let mut swept = Swept::default();
        for id in self.sessions_due(before, limit).await? {
            if let Erasure::Erased { cases } = self.erase_session(&id, "system", now, false).await?
            {
                swept.sessions += 1;
                swept.cases += u64::from(cases);
            }
        }
        swept.messages = self.purge_outbox(before, limit).await?;
        Ok(swept)
    }

    /// Erases the case with this reference, and its session, now, whatever
    /// their age, once every case of the session is resolved; with their
    /// outbox messages (the sweep deletes those by age instead).
    async fn erase_reference(
        &self,
        reference: &str,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<Erasure> {
        match self.session_of(reference).await? {
            Some(id) => self.erase_session(&id, by, now, true).await,
            None => Ok(Erasure::NotFound),
        }
    }
}

/// The ids of sessions whose personal data is due for erasure at `before`:
/// ended before it and folded into the figures, with every case of theirs
/// resolved before it. Oldest first, at most `limit`.
pub(super) async fn due_sessions<DB, T>(
    conn: &mut DB::Connection,
    before: OffsetDateTime,
    limit: u32,
) -> Result<Vec<String>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    T: DbTime + Send + Sync + for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    // `sessions_unerased` (created_at, only the sessions not erased yet)
    // bounds the walk: an ended session started before it ended.
    let rows = sqlx::query_as::<DB, (String,)>(
        "SELECT s.id FROM sessions s \
         WHERE s.erased_at IS NULL AND s.created_at < $1 \
           AND s.outcome IS NOT NULL AND s.rolled = 1 AND s.ended_at < $1 \
           AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.session_id = s.id \
               AND (e.status <> 'resolved' OR e.resolved_at IS NULL OR e.resolved_at >= $1)) \
         ORDER BY s.created_at LIMIT $2",
    )
    .bind(T::to_db(before))
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The session of the case with this reference (normalised: no dash,
/// upper case), if any.
pub(super) async fn session_of_reference<DB>(
    conn: &mut DB::Connection,
    reference: &str,
) -> Result<Option<String>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    let norm = crate::case::reference::normalise(reference);
    let row = sqlx::query_as::<DB, (String,)>(
        "SELECT session_id FROM escalations WHERE reference_norm = $1 ORDER BY created_at LIMIT 1",
    )
    .bind(norm.as_str())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    Ok(row.map(|(id,)| id))
}

/// Erases session `id`, its cases (with an `erased` event by `by`) and its
/// ratings' comments, inside the caller's transaction. `columns` are the
/// backend's `SESSION_COLUMNS`. [`Erasure::Changed`]: something was
/// written by someone else since it was read; the caller rolls back.
pub(super) async fn erase_session<DB, T>(
    conn: &mut DB::Connection,
    columns: &str,
    id: &str,
    by: &str,
    now: OffsetDateTime,
) -> Result<Erasure>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    T: DbTime + Send + Sync + for<'q> Encode<'q, DB> + Type<DB>,
    SessionRow<T>: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    EscalationRow<T>: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    // The cases first: one still being worked on keeps the session too.
    let sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE session_id = $1");
    let rows = sqlx::query_as::<DB, EscalationRow<T>>(&sql)
        .bind(id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db)?;
    let mut cases = Vec::with_capacity(rows.len());
    for row in rows {
        let read_at = row.4;
        let e = escalation_from_row(row)?;
        if e.case.status != crate::case::Status::Resolved && !e.case.erased() {
            return Ok(Erasure::Unresolved {
                reference: e.case.reference,
            });
        }
        cases.push((read_at, e));
    }

    let sql = format!("SELECT {columns} FROM sessions s WHERE s.id = $1");
    let Some(row) = sqlx::query_as::<DB, SessionRow<T>>(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?
    else {
        return Ok(Erasure::NotFound);
    };
    let mut stored = session_from_row(row)?;
    if stored.state.erased_at.is_some() {
        return Ok(Erasure::Already);
    }
    let seq = i64::from(stored.state.seq);
    stored.state.erase_personal(now);
    let state = state_json(&stored.state)?;
    let at = T::to_db(now);
    let done = sqlx::query_as::<DB, (String,)>(
        "UPDATE sessions SET state = $1, reference = NULL, erased_at = $2 \
         WHERE id = $3 AND seq = $4 AND erased_at IS NULL RETURNING id",
    )
    .bind(state.as_str())
    .bind(at)
    .bind(id)
    .bind(seq)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db)?;
    if done.is_none() {
        return Ok(Erasure::Changed);
    }
    for e in &stored.state.trail {
        let json = encode("trail entry", e)?;
        sqlx::query::<DB>("UPDATE trail_entries SET entry = $1 WHERE session_id = $2 AND seq = $3")
            .bind(json.as_str())
            .bind(id)
            .bind(i64::from(e.seq()))
            .execute(&mut *conn)
            .await
            .map_err(db)?;
    }
    sqlx::query::<DB>("UPDATE feedback SET comment = NULL WHERE session_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db)?;

    let mut erased = 0;
    for (read_at, mut e) in cases {
        if e.case.erased() {
            continue;
        }
        e.record.erase_personal();
        e.case.erase_personal(by, now);
        let written = sqlx::query_as::<DB, (String,)>(
            "UPDATE escalations SET record = $1, case_doc = $2, email = NULL, erased_at = $3, \
                 due_response = NULL, due_resolution = NULL, due_next = NULL \
             WHERE id = $4 AND updated_at = $5 AND erased_at IS NULL RETURNING id",
        )
        .bind(encode("escalation record", &e.record)?.as_str())
        .bind(encode("case", &e.case)?.as_str())
        .bind(at)
        .bind(e.record.id.as_str())
        .bind(read_at)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
        if written.is_none() {
            return Ok(Erasure::Changed);
        }
        erased += 1;
    }
    Ok(Erasure::Erased { cases: erased })
}

/// Deletes the outbox messages of session `id` and its cases (webhook,
/// mail and connector messages: their payloads carry the record, the
/// address, the texts), delivered or not. They are named by the session's
/// id or its cases' (the same random part). Reads every payload: for one
/// erasure on request; the sweep deletes by age instead.
pub(super) async fn purge_outbox_of<DB>(conn: &mut DB::Connection, id: &str) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    let key = id.strip_prefix("ses_").unwrap_or(id);
    let pattern = format!(
        "%{}%",
        key.replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    sqlx::query::<DB>("DELETE FROM outbox WHERE payload LIKE $1 ESCAPE '\\'")
        .bind(pattern.as_str())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(())
}

/// Deletes up to `limit` outbox messages created before `before`,
/// delivered or not: their payloads carry records and addresses, and a
/// message nobody could take for that long will not be taken.
pub(super) async fn purge_outbox<DB, T>(
    conn: &mut DB::Connection,
    before: OffsetDateTime,
    limit: u32,
) -> Result<u64>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    T: DbTime + Send + Sync + for<'q> Encode<'q, DB> + Type<DB>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    let gone = sqlx::query_as::<DB, (String,)>(
        "DELETE FROM outbox WHERE id IN \
             (SELECT id FROM outbox WHERE created_at < $1 ORDER BY created_at LIMIT $2) \
         RETURNING id",
    )
    .bind(T::to_db(before))
    .bind(i64::from(limit.max(1)))
    .fetch_all(&mut *conn)
    .await
    .map_err(db)?;
    Ok(gone.len() as u64)
}
