//! The PostgreSQL store: several `fixpath serve` instances share one
//! database, and the database alone decides every race between them.
//!
//! - A step is a compare-and-set on the session's `seq`: `UPDATE … WHERE
//!   id = $1 AND seq = $2`. Under READ COMMITTED a concurrent writer's
//!   committed update is re-checked against that condition, so of two
//!   instances saving the same step exactly one wins, the other sees
//!   [`Saved::Conflict`].
//! - The usual step is ONE statement: the compare-and-set, its trail rows,
//!   and the escalation with its outbox message are data-modifying CTEs
//!   that all depend on the update having matched. A statement is atomic on
//!   its own, so the step costs one round trip and one commit, no
//!   `BEGIN`/`COMMIT`. Only a step that retracts entries runs in an explicit
//!   transaction: it must fail whole when an entry is missing, which the
//!   statement can only report, not undo.
//! - A claim locks the escalation row (`SELECT … FOR UPDATE`) before it
//!   decides, and writes conditionally on the status it read.
//! - The outbox is leased with `FOR UPDATE SKIP LOCKED`: relays of several
//!   instances lease at once and never get the same message.
//!
//! Commits are durable (`synchronous_commit` is left as the server has it,
//! `on` by default): PostgreSQL groups concurrent commits into one WAL flush
//! by itself, so there is no group-commit queue here as in SQLite.
//!
//! Times are `timestamptz` truncated to whole milliseconds, exactly what the
//! SQLite store keeps, so both read back the same values. The JSON documents
//! are `text`, kept byte for byte (a webhook body is signed as stored).
//!
//! Migrations run on a connection of their own under sqlx's advisory lock
//! (`pg_advisory_lock`, keyed by the database's name): two instances started
//! at once apply them one after the other, and the lock goes with the
//! connection even when a migration fails.

use super::sqlite::{
    EscalationView, clamp_limit, decode, encode, message_id, small_int, state_json, status_str,
};
use super::{
    Changed, Escalation, EscalationChange, EscalationFilter, EscalationStatus, NewUser,
    OutboxMessage, Result, Role, Saved, ScriptVersion, StepWrite, Store, StoreError, StoredSession,
    User, apply_change, change_event, event_payload,
};
use crate::engine::{Pin, Session, TrailEntry};
use crate::escalation::Record;
use async_trait::async_trait;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{ConnectOptions, Postgres, Row};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;

/// The migrations, embedded like SQLite's (no `sqlx::migrate!`: the crate
/// does not enable sqlx's macros). A unit test below fails when a file in
/// `migrations/postgres/` is missing from this list.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "token expiry",
        include_str!("../../migrations/postgres/0002_token_expiry.sql"),
    ),
];

/// The default pool size: enough connections for two cores to keep the
/// database busy while some wait for their commit's WAL flush, few enough
/// that several instances stay far below PostgreSQL's `max_connections`
/// (100 by default).
pub const DEFAULT_POOL: u32 = 16;
/// How long a request waits for a free connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// To open the migrations' own connection.
    options: PgConnectOptions,
}

impl PgStore {
    /// Connects to `postgres://…` (or `postgresql://…`) with a pool of at
    /// most `pool_size` connections (at least 1). Call [`Store::migrate`]
    /// before use.
    pub async fn open(url: &str, pool_size: u32) -> Result<PgStore> {
        // sqlx's message may quote the URL, password included: not passed on.
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::Database("the PostgreSQL URL is not valid".into()))?
            .application_name("fixpath")
            // A query log line per statement at INFO would drown the
            // server's own log; slow ones still show.
            .log_statements(tracing::log::LevelFilter::Debug)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A ping before every use would double the round trips of the
            // hot path; a connection the server dropped fails one query and
            // is then replaced by the pool.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(db)?;
        Ok(PgStore { pool, options })
    }

    /// Closes the pool, waiting for its connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

// ---------------------------------------------------------------- conversions

fn db(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
            StoreError::Corrupt(e.to_string())
        }
        e => StoreError::Database(e.to_string()),
    }
}

/// The name of the unique constraint `e` violated, if that is what it is.
fn unique_violation(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Some(d.constraint().unwrap_or("")),
        _ => None,
    }
}

/// A unique-key violation as [`StoreError::Duplicate`] naming `what`; any
/// other error as a database error (SQLite's helper, the same mapping).
fn duplicate_or_db(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if unique_violation(&e).is_some() {
        StoreError::Duplicate(what())
    } else {
        db(e)
    }
}

/// A failed step or start: a trail seq used twice is the caller's bug (a
/// database error, as in SQLite), a session or escalation id used twice a
/// duplicate.
fn write_error(e: sqlx::Error, session_id: &str, escalation: Option<&NewEscalation>) -> StoreError {
    match unique_violation(&e) {
        Some("trail_entries_pkey") => StoreError::Database(format!(
            "session {session_id} already has a trail entry with one of these seqs"
        )),
        Some("sessions_pkey") => StoreError::Duplicate(format!("session `{session_id}`")),
        Some("escalations_pkey") => StoreError::Duplicate(format!(
            "escalation `{}`",
            escalation.map_or("?", |e| e.id.as_str())
        )),
        Some(_) => StoreError::Duplicate(format!("a row of session `{session_id}`")),
        None => db(e),
    }
}

/// A time as both stores keep it: whole milliseconds.
fn to_ms(t: OffsetDateTime) -> OffsetDateTime {
    // Flooring the sub-second part only: always a valid time.
    t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t)
}

fn user_from_row(name: String, role: String, tier: i16) -> Result<User> {
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::Corrupt(format!("user {name}: unknown role `{role}`")))?;
    let tier = small_int(&format!("tier of user {name}"), i64::from(tier))?;
    Ok(User { name, role, tier })
}

// ---------------------------------------------------------------- reading rows

/// The columns a session is read with; the trail comes as one JSON array of
/// `[retracted, entry]` pairs, built in the same statement so the session row
/// and its trail are one consistent snapshot.
const SESSION_COLUMNS: &str = "s.id, s.token_hash, s.owner, s.reference, s.state, s.created_at, s.updated_at, \
     (SELECT '[' || string_agg('[' || t.retracted::int || ',' || t.entry || ']', ',' ORDER BY t.seq) || ']' \
      FROM trail_entries t WHERE t.session_id = s.id)";

type SessionRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    OffsetDateTime,
    OffsetDateTime,
    Option<String>,
);

fn session_from_row(row: SessionRow) -> Result<StoredSession> {
    let (id, token_hash, owner, reference, state, created_at, updated_at, trail) = row;
    let mut state: Session = decode(&format!("state of session {id}"), &state)?;
    if let Some(trail) = trail {
        let entries: Vec<(u8, TrailEntry)> = decode(&format!("trail of session {id}"), &trail)?;
        state.trail = entries
            .into_iter()
            .map(|(retracted, mut e)| {
                e.set_retracted(retracted != 0);
                e
            })
            .collect();
        state.trail.shrink_to_fit();
    }
    Ok(StoredSession {
        id,
        token_hash,
        owner,
        reference,
        state,
        created_at,
        updated_at,
    })
}

const ESCALATION_COLUMNS: &str = "id, status, claimed_by, record, updated_at";

type EscalationRow = (String, String, Option<String>, String, OffsetDateTime);

fn escalation_from_row(row: EscalationRow) -> Result<Escalation> {
    let (id, status, claimed_by, record, updated_at) = row;
    let status = EscalationStatus::parse(&status).ok_or_else(|| {
        StoreError::Corrupt(format!("escalation {id}: unknown status `{status}`"))
    })?;
    let record: Record = decode(&format!("record of escalation {id}"), &record)?;
    if record.id != id {
        return Err(StoreError::Corrupt(format!(
            "escalation {id} holds the record of `{}`",
            record.id
        )));
    }
    Ok(Escalation {
        record,
        status,
        claimed_by,
        updated_at,
    })
}

type OutboxRow = (String, String, String, i32, OffsetDateTime, String);

fn message_from_row(row: OutboxRow) -> Result<OutboxMessage> {
    let (id, event_type, payload, attempts, next_attempt_at, delivered_to) = row;
    Ok(OutboxMessage {
        attempts: small_int(&format!("attempts of message {id}"), i64::from(attempts))?,
        next_attempt_at,
        delivered_to: decode(&format!("delivered_to of message {id}"), &delivered_to)?,
        id,
        event_type,
        payload,
    })
}

// ---------------------------------------------------------------- writing

/// Trail entries, encoded as the three arrays `unnest` takes: one statement
/// text whatever their number, so one cached prepared statement.
struct Entries {
    seqs: Vec<i64>,
    json: Vec<String>,
    retracted: Vec<bool>,
}

impl Entries {
    fn new(entries: &[TrailEntry]) -> Result<Entries> {
        let mut out = Entries {
            seqs: Vec::with_capacity(entries.len()),
            json: Vec::with_capacity(entries.len()),
            retracted: Vec::with_capacity(entries.len()),
        };
        for e in entries {
            out.seqs.push(i64::from(e.seq()));
            out.json.push(encode("trail entry", e)?);
            out.retracted.push(e.retracted());
        }
        Ok(out)
    }
}

/// An outbox message, encoded.
struct NewMessage {
    id: String,
    event_type: &'static str,
    payload: String,
}

impl NewMessage {
    fn new(
        event_type: &'static str,
        data: &EscalationView<'_>,
        now: OffsetDateTime,
    ) -> Result<NewMessage> {
        Ok(NewMessage {
            id: message_id()?,
            event_type,
            payload: event_payload(event_type, now, data),
        })
    }
}

/// A new escalation and its `escalation.created` message, encoded.
struct NewEscalation {
    id: String,
    session: String,
    tier: i16,
    queue: Option<String>,
    record: String,
    created_at: OffsetDateTime,
    message: NewMessage,
}

impl NewEscalation {
    fn new(record: &Record, now: OffsetDateTime) -> Result<NewEscalation> {
        let view = EscalationView {
            record,
            status: EscalationStatus::Open,
            claimed_by: None,
            updated_at: now,
        };
        Ok(NewEscalation {
            id: record.id.clone(),
            session: record.session.clone(),
            tier: i16::from(record.tier),
            queue: record.queue.clone(),
            record: encode("escalation record", record)?,
            created_at: to_ms(record.created_at),
            message: NewMessage::new("escalation.created", &view, now)?,
        })
    }
}

type PgQuery<'q> = Query<'q, Postgres, PgArguments>;

/// The CTEs that insert an escalation and its message, each row only if the
/// CTE `gate` gave one (the session was written). Parameters `$first` to
/// `$first + 8`, bound by [`bind_escalation`]; `now` names the parameter
/// holding the step's time.
fn escalation_ctes(gate: &str, first: usize, now: &str) -> String {
    let p = |i: usize| format!("${}", first + i);
    format!(
        ", esc AS (INSERT INTO escalations \
             (id, session_id, tier, queue, status, claimed_by, record, created_at, updated_at) \
             SELECT {}, {}, {}, {}, 'open', NULL, {}, {}, {now} FROM {gate} RETURNING 1), \
         msg AS (INSERT INTO outbox (id, event_type, payload, next_attempt_at, created_at) \
             SELECT {}, {}, {}, {now}, {now} FROM {gate} RETURNING 1)",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8),
    )
}

fn bind_escalation<'q>(q: PgQuery<'q>, e: &'q NewEscalation) -> PgQuery<'q> {
    q.bind(e.id.as_str())
        .bind(e.session.as_str())
        .bind(e.tier)
        .bind(e.queue.as_deref())
        .bind(e.record.as_str())
        .bind(e.created_at)
        .bind(e.message.id.as_str())
        .bind(e.message.event_type)
        .bind(e.message.payload.as_str())
}

// ---------------------------------------------------------------- migrations

#[derive(Debug)]
struct Embedded;

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(
        self,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = std::result::Result<Vec<Migration>, sqlx::error::BoxDynError>,
                > + Send
                + 's,
        >,
    > {
        Box::pin(async {
            Ok(MIGRATIONS
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        Cow::Borrowed(description),
                        MigrationType::Simple,
                        Cow::Borrowed(sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

// ---------------------------------------------------------------- the trait

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<()> {
        let fail = |e: &dyn std::fmt::Display| StoreError::Database(format!("migrations: {e}"));
        let migrator = Migrator::new(Embedded).await.map_err(|e| fail(&e))?;
        // A connection of its own, closed after: the advisory lock sqlx
        // takes around the migrations is a session lock, and must not stay
        // with a pooled connection should a migration fail half-way.
        // (A pool of one: sqlx's `run` takes a pool, not a bare connection.)
        let own = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.options.clone())
            .await
            .map_err(|e| fail(&e))?;
        let res = migrator.run(&own).await.map_err(|e| fail(&e));
        own.close().await;
        res
    }

    async fn put_script_version(&self, v: &ScriptVersion) -> Result<()> {
        sqlx::query(
            "INSERT INTO script_versions (id, version, path, source, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id, version) DO NOTHING",
        )
        .bind(&v.id)
        .bind(&v.version)
        .bind(&v.path)
        .bind(&v.source)
        .bind(to_ms(v.created_at))
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
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
        let mut out: Vec<ScriptVersion> = rows
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
        out.sort_by_key(|v| {
            pins.iter()
                .position(|p| p.id == v.id && p.version == v.version)
        });
        out.dedup_by(|a, b| a.id == b.id && a.version == b.version);
        Ok(out)
    }

    async fn create_session(&self, s: &StoredSession, escalation: Option<&Record>) -> Result<()> {
        let state = state_json(&s.state)?;
        let entries = Entries::new(&s.state.trail)?;
        let escalation = escalation
            .map(|r| NewEscalation::new(r, s.updated_at))
            .transpose()?;
        // One statement: the session, its trail and its escalation commit
        // together or not at all.
        let mut sql = String::from(
            "WITH s AS (INSERT INTO sessions \
                 (id, token_hash, owner, reference, script, status, seq, state, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id), \
             ins AS (INSERT INTO trail_entries (session_id, seq, entry, retracted) \
                 SELECT s.id, x.seq, x.entry, x.retracted FROM s, \
                 unnest($11::bigint[], $12::text[], $13::boolean[]) AS x(seq, entry, retracted) \
                 RETURNING 1)",
        );
        if escalation.is_some() {
            sql.push_str(&escalation_ctes("s", 14, "$10"));
        }
        sql.push_str(" SELECT count(*) FROM s");
        let mut q = sqlx::query(&sql)
            .bind(&s.id)
            .bind(&s.token_hash)
            .bind(&s.owner)
            .bind(&s.reference)
            .bind(&s.state.script)
            .bind(status_str(s.state.status))
            .bind(i64::from(s.state.seq))
            .bind(state.as_str())
            .bind(to_ms(s.created_at))
            .bind(to_ms(s.updated_at))
            .bind(&entries.seqs)
            .bind(&entries.json)
            .bind(&entries.retracted);
        if let Some(e) = &escalation {
            q = bind_escalation(q, e);
        }
        q.fetch_one(&self.pool)
            .await
            .map_err(|e| write_error(e, &s.id, escalation.as_ref()))?;
        Ok(())
    }

    async fn session(&self, id: &str) -> Result<Option<StoredSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = $1");
        sqlx::query_as::<_, SessionRow>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(session_from_row)
            .transpose()
    }

    async fn sessions_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<StoredSession>> {
        // Newest first: an agent taking over a call wants the latest one.
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.reference = $1 \
             ORDER BY s.created_at DESC, s.arrival DESC LIMIT $2"
        );
        sqlx::query_as::<_, SessionRow>(&sql)
            .bind(reference)
            .bind(i64::from(clamp_limit(limit)))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(session_from_row)
            .collect()
    }

    async fn save_step(&self, w: &StepWrite<'_>) -> Result<Saved> {
        let state = state_json(w.state)?;
        let entries = Entries::new(w.new_entries)?;
        let mut retracted: Vec<i64> = w.retracted.iter().map(|&s| i64::from(s)).collect();
        retracted.sort_unstable();
        retracted.dedup();
        let escalation = w
            .escalation
            .map(|r| NewEscalation::new(r, w.now))
            .transpose()?;

        // The compare-and-set gates everything else: every other CTE writes
        // only if `up` returned the row. The last SELECT says what happened:
        // rows updated, entries marked retracted, and whether the session
        // exists at all (for NotFound against Conflict).
        let mut sql = String::from(
            "WITH up AS (UPDATE sessions SET state = $3, seq = $4, status = $5, updated_at = $6 \
                 WHERE id = $1 AND seq = $2 RETURNING id), \
             ins AS (INSERT INTO trail_entries (session_id, seq, entry, retracted) \
                 SELECT up.id, x.seq, x.entry, x.retracted FROM up, \
                 unnest($7::bigint[], $8::text[], $9::boolean[]) AS x(seq, entry, retracted) \
                 RETURNING 1)",
        );
        // Parameters from $10 on are there only when their CTE is.
        let mut next = 10;
        let marked = if retracted.is_empty() {
            "0::bigint"
        } else {
            sql.push_str(&format!(
                ", ret AS (UPDATE trail_entries SET retracted = true \
                     WHERE session_id = $1 AND seq = ANY(${next}::bigint[]) \
                       AND EXISTS (SELECT 1 FROM up) RETURNING 1)"
            ));
            next += 1;
            "(SELECT count(*) FROM ret)"
        };
        if escalation.is_some() {
            sql.push_str(&escalation_ctes("up", next, "$6"));
        }
        // Whether the session exists matters only when the update missed
        // (NotFound against Conflict): CASE does not look otherwise.
        sql.push_str(&format!(
            " SELECT (SELECT count(*) FROM up), {marked}, \
                 CASE WHEN EXISTS (SELECT 1 FROM up) THEN true \
                      ELSE EXISTS (SELECT 1 FROM sessions WHERE id = $1) END"
        ));
        let mut q = sqlx::query(&sql)
            .bind(w.session_id)
            .bind(i64::from(w.expected_seq))
            .bind(state.as_str())
            .bind(i64::from(w.state.seq))
            .bind(status_str(w.state.status))
            .bind(to_ms(w.now))
            .bind(&entries.seqs)
            .bind(&entries.json)
            .bind(&entries.retracted);
        if !retracted.is_empty() {
            q = q.bind(&retracted);
        }
        if let Some(e) = &escalation {
            q = bind_escalation(q, e);
        }
        let err = |e| write_error(e, w.session_id, escalation.as_ref());

        let counts = |row: PgRow| -> Result<(i64, i64, bool)> {
            Ok((
                row.try_get(0).map_err(db)?,
                row.try_get(1).map_err(db)?,
                row.try_get(2).map_err(db)?,
            ))
        };
        let (updated, exists) = if retracted.is_empty() {
            // The usual step: one statement, atomic by itself.
            let (updated, _, exists) = counts(q.fetch_one(&self.pool).await.map_err(err)?)?;
            (updated, exists)
        } else {
            // Retractions must all hit entries the trail has, or the step
            // fails whole: only a transaction can take the statement back.
            let mut tx = self.pool.begin().await.map_err(db)?;
            let (updated, marked, exists) = counts(q.fetch_one(&mut *tx).await.map_err(err)?)?;
            if updated == 1 && marked != retracted.len() as i64 {
                tx.rollback().await.map_err(db)?;
                // A caller's bug: the step fails whole rather than save a
                // trail that does not match the state.
                return Err(StoreError::Database(format!(
                    "session {}: retracted entries {:?} are not all in the trail",
                    w.session_id, retracted
                )));
            }
            tx.commit().await.map_err(db)?;
            (updated, exists)
        };
        Ok(match (updated, exists) {
            (1, _) => Saved::Ok,
            (0, true) => Saved::Conflict,
            (0, false) => Saved::NotFound,
            (n, _) => {
                // The primary key makes this impossible; said, not assumed.
                return Err(StoreError::Database(format!(
                    "session {}: saving a step changed {n} sessions",
                    w.session_id
                )));
            }
        })
    }

    async fn escalations(&self, f: &EscalationFilter) -> Result<Vec<Escalation>> {
        let mut sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE true");
        let mut n = 0;
        let mut param = || {
            n += 1;
            format!("${n}")
        };
        if f.status.is_some() {
            sql.push_str(&format!(" AND status = {}", param()));
        }
        if f.tier.is_some() {
            sql.push_str(&format!(" AND tier = {}", param()));
        }
        if f.queue.is_some() {
            sql.push_str(&format!(" AND queue = {}", param()));
        }
        // A queue is worked oldest first; arrival breaks ties.
        sql.push_str(&format!(" ORDER BY created_at, arrival LIMIT {}", param()));
        let mut q = sqlx::query_as::<_, EscalationRow>(&sql);
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(t) = f.tier {
            q = q.bind(i16::from(t));
        }
        if let Some(queue) = &f.queue {
            q = q.bind(queue);
        }
        q.bind(i64::from(clamp_limit(f.limit)))
            .fetch_all(&self.pool)
            .await
            .map_err(db)?
            .into_iter()
            .map(escalation_from_row)
            .collect()
    }

    async fn escalation(&self, id: &str) -> Result<Option<Escalation>> {
        let sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = $1");
        sqlx::query_as::<_, EscalationRow>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(db)?
            .map(escalation_from_row)
            .transpose()
    }

    /// The rules are [`super::apply_change`]'s. The row is locked while they
    /// are applied, so of two instances claiming at once the second reads
    /// the first one's claim and is refused.
    async fn change_escalation(
        &self,
        id: &str,
        change: &EscalationChange,
        now: OffsetDateTime,
    ) -> Result<Changed> {
        let now = to_ms(now);
        let mut tx = self.pool.begin().await.map_err(db)?;
        let sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = $1 FOR UPDATE");
        let Some(row) = sqlx::query_as::<_, EscalationRow>(&sql)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
        else {
            tx.rollback().await.map_err(db)?;
            return Ok(Changed::NotFound);
        };
        let current = escalation_from_row(row)?;
        let Some(mut next) = apply_change(&current, change) else {
            tx.rollback().await.map_err(db)?;
            return Ok(Changed::Refused(current));
        };
        next.updated_at = now;
        let view = EscalationView {
            record: &next.record,
            status: next.status,
            claimed_by: next.claimed_by.as_deref(),
            updated_at: now,
        };
        let message = NewMessage::new(change_event(change), &view, now)?;
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
        .bind(encode("escalation record", &next.record)?)
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

    async fn create_user(&self, u: &NewUser) -> Result<()> {
        let mut tx = self.pool.begin().await.map_err(db)?;
        sqlx::query("INSERT INTO users (name, role, tier, password_hash) VALUES ($1, $2, $3, $4)")
            .bind(&u.user.name)
            .bind(u.user.role.as_str())
            .bind(i16::from(u.user.tier))
            .bind(&u.password_hash)
            .execute(&mut *tx)
            .await
            .map_err(|e| duplicate_or_db(e, || format!("user `{}`", u.user.name)))?;
        sqlx::query("INSERT INTO tokens (token_hash, user_name) VALUES ($1, $2)")
            .bind(&u.token_hash)
            .bind(&u.user.name)
            .execute(&mut *tx)
            .await
            .map_err(|e| duplicate_or_db(e, || "token".into()))?;
        tx.commit().await.map_err(db)
    }

    async fn user_by_token(&self, token_hash: &str) -> Result<Option<User>> {
        sqlx::query_as::<_, (String, String, i16)>(
            "SELECT u.name, u.role, u.tier FROM tokens t JOIN users u ON u.name = t.user_name \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(OffsetDateTime::now_utc())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|(name, role, tier)| user_from_row(name, role, tier))
        .transpose()
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>> {
        sqlx::query_as::<_, (String, String, i16, Option<String>)>(
            "SELECT name, role, tier, password_hash FROM users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?
        .map(|(name, role, tier, hash)| Ok((user_from_row(name, role, tier)?, hash)))
        .transpose()
    }

    async fn add_token(&self, name: &str, token_hash: &str) -> Result<()> {
        // One statement: the user's row is read and the token written
        // together (a user removed in between fails the foreign key).
        let added = sqlx::query(
            "INSERT INTO tokens (token_hash, user_name) SELECT $1, name FROM users WHERE name = $2",
        )
        .bind(token_hash)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(|e| duplicate_or_db(e, || "token".into()))?
        .rows_affected();
        if added == 0 {
            return Err(StoreError::Database(format!("no user `{name}`")));
        }
        Ok(())
    }

    async fn add_expiring_token(
        &self,
        name: &str,
        token_hash: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query("DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= $1")
            .bind(OffsetDateTime::now_utc())
            .execute(&self.pool)
            .await
            .map_err(db)?;
        let added = sqlx::query(
            "INSERT INTO tokens (token_hash, user_name, expires_at) \
             SELECT $1, name, $2 FROM users WHERE name = $3",
        )
        .bind(token_hash)
        .bind(to_ms(expires_at))
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(|e| duplicate_or_db(e, || "token".into()))?
        .rows_affected();
        if added == 0 {
            return Err(StoreError::Database(format!("no user `{name}`")));
        }
        Ok(())
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM tokens WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn lease_outbox(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        // SKIP LOCKED: a relay leasing at the same moment holds its rows'
        // locks until it commits, and this one passes them by; a lease it
        // committed before is seen when the row is locked (READ COMMITTED
        // re-checks the condition), so no message is leased twice.
        let rows = sqlx::query_as::<_, OutboxRow>(
            "UPDATE outbox SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE delivered_at IS NULL AND next_attempt_at <= $3 \
                   AND (lease_until IS NULL OR lease_until <= $3) \
                 ORDER BY next_attempt_at, arrival LIMIT $4 \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING id, event_type, payload, attempts, next_attempt_at, delivered_to",
        )
        .bind(owner)
        .bind(to_ms(until))
        .bind(to_ms(now))
        .bind(i64::from(clamp_limit(limit)))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        let mut out = rows
            .into_iter()
            .map(message_from_row)
            .collect::<Result<Vec<_>>>()?;
        // RETURNING comes in no particular order; the relay gets them due first.
        out.sort_by_key(|m| m.next_attempt_at);
        Ok(out)
    }

    async fn outbox_delivered(&self, id: &str, owner: &str, now: OffsetDateTime) -> Result<()> {
        // Only while `owner` still holds the lease: a relay whose lease ran
        // out and was taken over must not speak for the new holder.
        sqlx::query(
            "UPDATE outbox SET delivered_at = $1, lease_owner = NULL, lease_until = NULL \
             WHERE id = $2 AND lease_owner = $3 AND delivered_at IS NULL",
        )
        .bind(to_ms(now))
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn outbox_retry_at(
        &self,
        id: &str,
        owner: &str,
        at: OffsetDateTime,
        delivered_to: &[String],
        error: &str,
    ) -> Result<()> {
        // Only while `owner` still holds the lease (see `outbox_delivered`).
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, delivered_to = $2, \
                 last_error = $3, lease_owner = NULL, lease_until = NULL \
             WHERE id = $4 AND lease_owner = $5 AND delivered_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(encode("delivered_to", &delivered_to)?)
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn outbox_pending(&self) -> Result<u64> {
        let n =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(db)?;
        small_int("outbox count", n)
    }
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn every_migration_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres");
        let mut files: Vec<(i64, String)> = std::fs::read_dir(dir)
            .expect("migrations folder")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .map(|n| {
                let (v, rest) = n.split_once('_').expect("VERSION_DESCRIPTION.sql");
                (
                    v.parse().expect("a numeric version"),
                    rest.trim_end_matches(".sql").replace('_', " "),
                )
            })
            .collect();
        files.sort();
        let embedded: Vec<(i64, String)> = MIGRATIONS
            .iter()
            .map(|&(v, d, _)| (v, d.to_owned()))
            .collect();
        assert_eq!(files, embedded, "list every migration file in MIGRATIONS");
    }

    #[test]
    fn times_are_kept_to_the_millisecond() {
        let t = time::macros::datetime!(2026-03-02 09:00:00.123_456_789 UTC);
        assert_eq!(
            super::to_ms(t),
            time::macros::datetime!(2026-03-02 09:00:00.123 UTC)
        );
        let before_epoch = time::macros::datetime!(1969-12-31 23:59:59.999_9 UTC);
        assert_eq!(
            super::to_ms(before_epoch),
            time::macros::datetime!(1969-12-31 23:59:59.999 UTC)
        );
    }
}
