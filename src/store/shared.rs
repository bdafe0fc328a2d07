//! The statements both backends run alike, written once. SQLite takes
//! PostgreSQL's `$N` parameters too, so the SQL text is the same; values are
//! bound and read in each backend's own types (its time `T`, its integers).

use super::cases::{self, ESCALATION_COLUMNS, EscalationRow};
use super::codec::{self, DbTime, SessionRow, db, small_int};
use super::{Escalation, Result, ScriptVersion, StoreError, StoredSession, User};
use crate::case::Breach;
use crate::case::feedback::{Feedback, FeedbackKind};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Pool, Type};

/// A backend's pool, for the statements it runs like the other backend.
pub(super) struct Statements<'p, DB: Database>(pub(super) &'p Pool<DB>);

impl<DB> Statements<'_, DB>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> (i64,): FromRow<'r, DB::Row>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    pub(super) async fn put_script_version<T>(&self, v: &ScriptVersion) -> Result<()>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        sqlx::query::<DB>(
            "INSERT INTO script_versions (id, version, path, source, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id, version) DO NOTHING",
        )
        .bind(v.id.as_str())
        .bind(v.version.as_str())
        .bind(v.path.as_str())
        .bind(v.source.as_str())
        .bind(T::to_db(v.created_at))
        .execute(self.0)
        .await
        .map_err(db)?;
        Ok(())
    }

    pub(super) async fn versions_of<T>(
        &self,
        id: &str,
        limit: u32,
    ) -> Result<Vec<(String, time::OffsetDateTime)>>
    where
        T: DbTime + Send + Unpin,
        for<'r> (String, T): FromRow<'r, DB::Row>,
    {
        let rows = sqlx::query_as::<DB, (String, T)>(
            "SELECT version, created_at FROM script_versions WHERE id = $1 \
             ORDER BY created_at DESC, version LIMIT $2",
        )
        .bind(id)
        .bind(codec::clamp_limit(limit))
        .fetch_all(self.0)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(v, at)| {
                let at = at.to_time(&|| format!("created_at of version {v} of `{id}`"))?;
                Ok((v, at))
            })
            .collect()
    }

    /// One session; `columns` are the backend's `SESSION_COLUMNS`.
    pub(super) async fn session<T>(&self, columns: &str, id: &str) -> Result<Option<StoredSession>>
    where
        T: DbTime,
        SessionRow<T>: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        let sql = format!("SELECT {columns} FROM sessions s WHERE s.id = $1");
        sqlx::query_as::<DB, SessionRow<T>>(&sql)
            .bind(id)
            .fetch_optional(self.0)
            .await
            .map_err(db)?
            .map(codec::session_from_row)
            .transpose()
    }

    /// Newest first (an agent taking over a call wants the latest one);
    /// `arrival` is the backend's column for ties.
    pub(super) async fn sessions_by_reference<T>(
        &self,
        columns: &str,
        arrival: &str,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<StoredSession>>
    where
        T: DbTime,
        SessionRow<T>: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        let sql = format!(
            "SELECT {columns} FROM sessions s WHERE s.reference = $1 \
             ORDER BY s.created_at DESC, s.{arrival} DESC LIMIT $2"
        );
        sqlx::query_as::<DB, SessionRow<T>>(&sql)
            .bind(reference)
            .bind(codec::clamp_limit(limit))
            .fetch_all(self.0)
            .await
            .map_err(db)?
            .into_iter()
            .map(codec::session_from_row)
            .collect()
    }

    pub(super) async fn escalation<T>(&self, id: &str) -> Result<Option<Escalation>>
    where
        T: DbTime,
        EscalationRow<T>: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        let sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = $1");
        sqlx::query_as::<DB, EscalationRow<T>>(&sql)
            .bind(id)
            .fetch_optional(self.0)
            .await
            .map_err(db)?
            .map(cases::escalation_from_row)
            .transpose()
    }

    /// The newest case whose normalised reference is this one's.
    pub(super) async fn escalation_by_reference<T>(
        &self,
        reference: &str,
    ) -> Result<Option<Escalation>>
    where
        T: DbTime,
        EscalationRow<T>: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        let wanted = crate::case::reference::normalise(reference);
        if wanted.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "SELECT {ESCALATION_COLUMNS} FROM escalations WHERE reference_norm = $1 \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        sqlx::query_as::<DB, EscalationRow<T>>(&sql)
            .bind(wanted.as_str())
            .fetch_optional(self.0)
            .await
            .map_err(db)?
            .map(cases::escalation_from_row)
            .transpose()
    }

    pub(super) async fn session_link_valid(
        &self,
        session_id: &str,
        token_hash: &str,
    ) -> Result<bool>
    where
        for<'r> (String,): FromRow<'r, DB::Row>,
    {
        let found = sqlx::query_as::<DB, (String,)>(
            "SELECT session_id FROM session_links WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(self.0)
        .await
        .map_err(db)?;
        Ok(found.is_some_and(|(s,)| s == session_id))
    }

    /// One statement: the session's row is read and the link written
    /// together (a session removed in between fails the foreign key).
    pub(super) async fn add_session_link<T>(
        &self,
        session_id: &str,
        token_hash: &str,
        now: time::OffsetDateTime,
    ) -> Result<()>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
        for<'r> (String,): FromRow<'r, DB::Row>,
    {
        sqlx::query_as::<DB, (String,)>(
            "INSERT INTO session_links (token_hash, session_id, created_at) \
             SELECT $1, id, $2 FROM sessions WHERE id = $3 RETURNING session_id",
        )
        .bind(token_hash)
        .bind(T::to_db(now))
        .bind(session_id)
        .fetch_optional(self.0)
        .await
        .map_err(|e| codec::duplicate_or_db(e, || "link token".into()))?
        .map(drop)
        .ok_or_else(|| StoreError::NotFound(format!("session `{session_id}`")))
    }

    /// One statement: the session's row is read and the rating written
    /// together; the primary key (session, kind) turns a second rating of
    /// the kind into no row.
    pub(super) async fn add_feedback<T>(&self, f: &Feedback) -> Result<bool>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
        for<'r> (String,): FromRow<'r, DB::Row>,
        for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    {
        let exists = sqlx::query_as::<DB, (String,)>("SELECT id FROM sessions WHERE id = $1")
            .bind(f.session_id.as_str())
            .fetch_optional(self.0)
            .await
            .map_err(db)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("session `{}`", f.session_id)));
        }
        let written = sqlx::query_as::<DB, (String,)>(
            "INSERT INTO feedback (session_id, kind, score, comment, created_at, \
                 script, version, channel, started_at) \
             SELECT id, $2, $3, $4, $5, script, version, channel, created_at \
             FROM sessions WHERE id = $1 \
             ON CONFLICT (session_id, kind) DO NOTHING RETURNING session_id",
        )
        .bind(f.session_id.as_str())
        .bind(f.kind.as_str())
        .bind(i64::from(f.score))
        .bind(f.comment.as_deref())
        .bind(T::to_db(f.at))
        .fetch_optional(self.0)
        .await
        .map_err(db)?;
        Ok(written.is_some())
    }

    pub(super) async fn feedback_kinds(&self, session_id: &str) -> Result<Vec<FeedbackKind>>
    where
        for<'r> (String,): FromRow<'r, DB::Row>,
    {
        let rows = sqlx::query_as::<DB, (String,)>(
            "SELECT kind FROM feedback WHERE session_id = $1 ORDER BY kind",
        )
        .bind(session_id)
        .fetch_all(self.0)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(k,)| {
                FeedbackKind::parse(&k)
                    .ok_or_else(|| StoreError::corrupt(format!("feedback kind `{k}`")))
            })
            .collect()
    }

    /// `I` is the backend's type of the tier column.
    pub(super) async fn user_by_token<T, I>(
        &self,
        token_hash: &str,
        now: time::OffsetDateTime,
    ) -> Result<Option<User>>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
        I: Into<i64>,
        (String, String, I): for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        sqlx::query_as::<DB, (String, String, I)>(
            "SELECT u.name, u.role, u.tier FROM tokens t JOIN users u ON u.name = t.user_name \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2) \
               AND u.disabled = 0",
        )
        .bind(token_hash)
        .bind(T::to_db(now))
        .fetch_optional(self.0)
        .await
        .map_err(db)?
        .map(|(name, role, tier)| codec::user_from_row(name, role, tier))
        .transpose()
    }

    pub(super) async fn user_by_name<I>(&self, name: &str) -> Result<Option<(User, Option<String>)>>
    where
        I: Into<i64>,
        (String, String, I, Option<String>): for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        sqlx::query_as::<DB, (String, String, I, Option<String>)>(
            "SELECT name, role, tier, password_hash FROM users WHERE name = $1 AND disabled = 0",
        )
        .bind(name)
        .fetch_optional(self.0)
        .await
        .map_err(db)?
        .map(|(name, role, tier, hash)| Ok((codec::user_from_row(name, role, tier)?, hash)))
        .transpose()
    }

    /// Whether the user exists (and is now disabled or enabled).
    pub(super) async fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
        let found = sqlx::query_as::<DB, (String,)>(
            "UPDATE users SET disabled = $1 WHERE name = $2 RETURNING name",
        )
        .bind(i64::from(disabled))
        .bind(name)
        .fetch_optional(self.0)
        .await
        .map_err(db)?;
        Ok(found.is_some())
    }

    /// In one transaction: the password set, and the web sign-ins (the
    /// tokens that expire) deleted, when the user exists.
    pub(super) async fn set_password(&self, name: &str, password_hash: &str) -> Result<bool> {
        let mut tx = self.0.begin().await.map_err(db)?;
        let found = sqlx::query_as::<DB, (String,)>(
            "UPDATE users SET password_hash = $1 WHERE name = $2 RETURNING name",
        )
        .bind(password_hash)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db)?;
        if found.is_some() {
            sqlx::query::<DB>("DELETE FROM tokens WHERE user_name = $1 AND expires_at IS NOT NULL")
                .bind(name)
                .execute(&mut *tx)
                .await
                .map_err(db)?;
        }
        tx.commit().await.map_err(db)?;
        Ok(found.is_some())
    }

    pub(super) async fn revoke_tokens(&self, name: &str) -> Result<u64> {
        let gone = sqlx::query_as::<DB, (String,)>(
            "DELETE FROM tokens WHERE user_name = $1 RETURNING token_hash",
        )
        .bind(name)
        .fetch_all(self.0)
        .await
        .map_err(db)?;
        Ok(gone.len() as u64)
    }

    pub(super) async fn list_users<T>(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Vec<super::UserSummary>>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
        (String, String, i64, i64, i64, i64): for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        let rows = sqlx::query_as::<DB, (String, String, i64, i64, i64, i64)>(
            "SELECT u.name, u.role, CAST(u.tier AS BIGINT), \
                 CAST(CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT), \
                 (SELECT count(*) FROM tokens t \
                  WHERE t.user_name = u.name AND (t.expires_at IS NULL OR t.expires_at > $1)), \
                 CAST(u.disabled AS BIGINT) \
             FROM users u ORDER BY u.name",
        )
        .bind(T::to_db(now))
        .fetch_all(self.0)
        .await
        .map_err(db)?;
        rows.into_iter()
            .map(|(name, role, tier, password, tokens, disabled)| {
                Ok(super::UserSummary {
                    user: codec::user_from_row(name, role, tier)?,
                    password: password != 0,
                    tokens: u64::try_from(tokens).unwrap_or(0),
                    disabled: disabled != 0,
                })
            })
            .collect()
    }

    /// `I` is the backend's type of the count column.
    pub(super) async fn signin_failures<T, I>(
        &self,
        key: &str,
    ) -> Result<Option<(u32, time::OffsetDateTime)>>
    where
        T: DbTime,
        I: Into<i64>,
        (I, T): for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        let row = sqlx::query_as::<DB, (I, T)>(
            "SELECT failures, since FROM signin_failures WHERE name = $1",
        )
        .bind(key)
        .fetch_optional(self.0)
        .await
        .map_err(db)?;
        row.map(|(n, since)| {
            Ok((
                codec::count(n),
                since.to_time(&|| "sign-in failures".into())?,
            ))
        })
        .transpose()
    }

    /// Only while `owner` still holds the lease: a relay whose lease ran out
    /// and was taken over must not speak for the new holder.
    pub(super) async fn outbox_delivered<T>(
        &self,
        id: &str,
        owner: &str,
        now: time::OffsetDateTime,
    ) -> Result<()>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        sqlx::query::<DB>(
            "UPDATE outbox SET delivered_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE id = $2 AND lease_owner = $3 AND delivered_at IS NULL",
        )
        .bind(T::to_db(now))
        .bind(id)
        .bind(owner)
        .execute(self.0)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Only while `owner` still holds the lease (see `outbox_delivered`).
    pub(super) async fn outbox_retry_at<T>(
        &self,
        id: &str,
        owner: &str,
        at: time::OffsetDateTime,
        delivered_to: &[String],
        error: &str,
    ) -> Result<()>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        let delivered_to = codec::encode("delivered_to", &delivered_to)?;
        sqlx::query::<DB>(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, delivered_to = $2, \
                 last_error = $3, lease_owner = NULL, lease_until = NULL \
             WHERE id = $4 AND lease_owner = $5 AND delivered_at IS NULL",
        )
        .bind(T::to_db(at))
        .bind(delivered_to.as_str())
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(self.0)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// A new message, due at `now`.
    pub(super) async fn enqueue_outbox<T>(
        &self,
        event_type: &str,
        payload: &str,
        now: time::OffsetDateTime,
    ) -> Result<String>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        let id = codec::message_id()?;
        sqlx::query::<DB>(
            "INSERT INTO outbox (id, event_type, payload, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_str())
        .bind(event_type)
        .bind(payload)
        .bind(T::to_db(now))
        .bind(T::to_db(now))
        .execute(self.0)
        .await
        .map_err(db)?;
        Ok(id)
    }

    /// Only while `owner` still holds the lease (see `outbox_delivered`).
    pub(super) async fn outbox_settle<T>(
        &self,
        id: &str,
        owner: &str,
        now: time::OffsetDateTime,
        delivered_to: &[String],
        error: Option<&str>,
    ) -> Result<()>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
        for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    {
        let delivered_to = codec::encode("delivered_to", &delivered_to)?;
        sqlx::query::<DB>(
            "UPDATE outbox SET delivered_at = $1, delivered_to = $2, \
                 last_error = coalesce($3, last_error), lease_owner = NULL, lease_until = NULL \
             WHERE id = $4 AND lease_owner = $5 AND delivered_at IS NULL",
        )
        .bind(T::to_db(now))
        .bind(delivered_to.as_str())
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(self.0)
        .await
        .map_err(db)?;
        Ok(())
    }

    /// Leases are cleared too: a relay that holds one finds the message
    /// settled when it reports back, and its report changes nothing.
    pub(super) async fn outbox_give_up_channel<T>(
        &self,
        channel: super::OutboxChannel,
        now: time::OffsetDateTime,
        error: &str,
    ) -> Result<u64>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
        for<'r> (String,): FromRow<'r, DB::Row>,
    {
        let sql = format!(
            "UPDATE outbox SET delivered_at = $1, last_error = $2, \
                 lease_owner = NULL, lease_until = NULL \
             WHERE delivered_at IS NULL AND {} RETURNING id",
            channel.condition()
        );
        let done = sqlx::query_as::<DB, (String,)>(&sql)
            .bind(T::to_db(now))
            .bind(error)
            .fetch_all(self.0)
            .await
            .map_err(db)?;
        Ok(done.len() as u64)
    }

    pub(super) async fn outbox_pending(&self) -> Result<u64> {
        let (n,) =
            sqlx::query_as::<DB, (i64,)>("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                .fetch_one(self.0)
                .await
                .map_err(db)?;
        small_int("outbox count", n)
    }

    /// One statement: the user's row is read and the token written together
    /// (a user removed in between fails the foreign key).
    pub(super) async fn add_token<T>(
        &self,
        name: &str,
        token_hash: &str,
        expires_at: Option<time::OffsetDateTime>,
    ) -> Result<()>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
        for<'q> Option<T>: Encode<'q, DB> + Type<DB>,
        for<'r> (String,): FromRow<'r, DB::Row>,
    {
        sqlx::query_as::<DB, (String,)>(
            "INSERT INTO tokens (token_hash, user_name, expires_at) \
             SELECT $1, name, $2 FROM users WHERE name = $3 RETURNING user_name",
        )
        .bind(token_hash)
        .bind(expires_at.map(T::to_db))
        .bind(name)
        .fetch_optional(self.0)
        .await
        .map_err(|e| codec::duplicate_or_db(e, || "token".into()))?
        .map(drop)
        .ok_or_else(|| codec::no_user(name))
    }

    /// Tokens expired at `now` are forgotten.
    pub(super) async fn sweep_tokens<T>(&self, now: time::OffsetDateTime) -> Result<()>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        sqlx::query::<DB>("DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= $1")
            .bind(T::to_db(now))
            .execute(self.0)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// Cases whose `kind` due time passed before `now` unrecorded, earliest
    /// first: a range of that column's partial index (the column holds
    /// only the due times the timer still waits for; see `CaseColumns`).
    pub(super) async fn breaches_due<T>(
        &self,
        now: time::OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(String, Breach)>>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        let mut found = Vec::new();
        for kind in Breach::ALL {
            let sql = match kind {
                Breach::Response => {
                    "SELECT id FROM escalations WHERE due_response < $1 \
                     ORDER BY due_response LIMIT $2"
                }
                Breach::Resolution => {
                    "SELECT id FROM escalations WHERE due_resolution < $1 \
                     ORDER BY due_resolution LIMIT $2"
                }
            };
            let ids = sqlx::query_as::<DB, (String,)>(sql)
                .bind(T::to_db(now))
                .bind(i64::from(limit))
                .fetch_all(self.0)
                .await
                .map_err(db)?;
            found.extend(ids.into_iter().map(|(id,)| (id, kind)));
        }
        Ok(found)
    }

    /// The earliest due time the breach timer still waits for: the least
    /// of each column, read from the end of its index.
    pub(super) async fn next_breach_due<T>(&self) -> Result<Option<time::OffsetDateTime>>
    where
        T: DbTime,
        for<'r> (Option<T>, Option<T>): FromRow<'r, DB::Row> + Send + Unpin,
    {
        let (response, resolution) = sqlx::query_as::<DB, (Option<T>, Option<T>)>(
            "SELECT (SELECT min(due_response) FROM escalations), \
                    (SELECT min(due_resolution) FROM escalations)",
        )
        .fetch_one(self.0)
        .await
        .map_err(db)?;
        let mut next: Option<time::OffsetDateTime> = None;
        for t in [response, resolution].into_iter().flatten() {
            let t = t.to_time(&|| "a due time".to_owned())?;
            next = Some(next.map_or(t, |n| n.min(t)));
        }
        Ok(next)
    }

    /// Cases past a due time still pending at `now` (breached or about to
    /// be): a range of the queue's index `escalations_due_order`, whose
    /// first key is `(due_next IS NULL)` (written out so both planners see
    /// it).
    pub(super) async fn overdue_cases<T>(&self, now: time::OffsetDateTime) -> Result<u64>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
    {
        let (n,) = sqlx::query_as::<DB, (i64,)>(
            "SELECT count(*) FROM escalations WHERE (due_next IS NULL) = FALSE AND due_next < $1",
        )
        .bind(T::to_db(now))
        .fetch_one(self.0)
        .await
        .map_err(db)?;
        small_int("overdue cases", n)
    }

    /// A statement of one text parameter whose answer is only that it ran.
    pub(super) async fn run(&self, sql: &'static str, v: &str) -> Result<()> {
        sqlx::query::<DB>(sql)
            .bind(v)
            .execute(self.0)
            .await
            .map_err(db)?;
        Ok(())
    }
}
