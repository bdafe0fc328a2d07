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
//! - Under load, steps and starts are group-committed by a writer task: the
//!   ones that arrive while a statement runs are saved by the next, one
//!   statement over arrays, each write still all-or-nothing and each caller
//!   told its own result (see `write_batches`).
//! - A claim locks the escalation row (`SELECT … FOR UPDATE`) before it
//!   decides, and writes conditionally on the status it read.
//! - The outbox is leased with `FOR UPDATE SKIP LOCKED`: relays of several
//!   instances lease at once and never get the same message.
//!
//! Commits are durable (`synchronous_commit` is left as the server has it,
//! `on` by default). PostgreSQL groups concurrent commits into one WAL flush
//! by itself; the writer's batches save what that cannot: the per-statement
//! cost of parsing, executing, committing and waking each backend.
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
use serde::Serialize;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{ConnectOptions, Postgres, Row};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

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
    (
        3,
        "signin failures",
        include_str!("../../migrations/postgres/0003_signin_failures.sql"),
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
    /// The writer's own connection, for its batches.
    batches: PgPool,
    /// To open the migrations' own connection.
    options: PgConnectOptions,
    /// Starts and steps to the task that saves them (see [`write_batches`]).
    writes: mpsc::Sender<(Job, Reply)>,
    counters: Arc<Counters>,
}

impl PgStore {
    /// Connects to `postgres://…` (or `postgresql://…`) with at most
    /// `pool_size` connections (at least 2: one is the writer's). Call [`Store::migrate`]
    /// before use.
    ///
    /// Starts the writer task on the current tokio runtime; it stops when
    /// the last clone of the store is dropped.
    pub async fn open(url: &str, pool_size: u32) -> Result<PgStore> {
        // sqlx's message may quote the URL, password included: not passed on.
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::Database("the PostgreSQL URL is not valid".into()))?
            .application_name("fixpath")
            // A query log line per statement at INFO would drown the
            // server's own log; slow ones still show.
            .log_statements(tracing::log::LevelFilter::Debug)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(1));
        // One of the connections is the writer's own (see `batches`).
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(2) - 1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // A ping before every use would double the round trips of the
            // hot path; a connection the server dropped fails one query and
            // is then replaced by the pool.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(db)?;
        // The writer's batches are planned for their own arrays every time
        // (`force_custom_plan`), never from a cached generic plan: a generic
        // plan cannot see how long the arrays are, and one made while
        // `sessions` was still small (a new database) hash-joins a
        // sequential scan of the whole table, and keeps doing so as it grows
        // (measured: every batch read all of it). The setting is for this
        // connection only: the other statements look rows up by key, and
        // their generic plans are right and cheaper.
        let batches = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .connect_with(
                options
                    .clone()
                    .options([("plan_cache_mode", "force_custom_plan")]),
            )
            .await
            .map_err(db)?;
        let (writes, rx) = mpsc::channel(WRITE_QUEUE);
        let counters = Arc::new(Counters::default());
        tokio::spawn(write_batches(
            pool.clone(),
            batches.clone(),
            rx,
            counters.clone(),
        ));
        Ok(PgStore {
            pool,
            batches,
            options,
            writes,
            counters,
        })
    }

    /// Hands a write to the writer task and waits for its commit.
    async fn write(&self, job: Job) -> Result<Saved> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send((job, reply))
            .await
            .map_err(|_| StoreError::Database("the writer has stopped".into()))?;
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        answer
            .await
            .map_err(|_| StoreError::Database("the writer has stopped".into()))?
    }

    /// What the writer has done since the store was opened.
    pub fn writer_stats(&self) -> WriterStats {
        let c = &self.counters;
        WriterStats {
            submitted: c.submitted.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            batched: c.batched.load(Ordering::Relaxed),
            largest: c.largest.load(Ordering::Relaxed),
            retried: c.retried.load(Ordering::Relaxed),
        }
    }

    /// Closes the pool, waiting for its connections to finish.
    pub async fn close(&self) {
        self.batches.close().await;
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
        data: &impl Serialize,
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

// ---------------------------------------------------------------- the writer

/// Writes waiting for the writer at most; more wait in their callers.
const WRITE_QUEUE: usize = 1024;
/// Writes saved by one statement at most.
const MAX_BATCH: usize = 128;

/// A session start, encoded (off the writer, in the caller's task).
struct StartJob {
    id: String,
    token_hash: String,
    owner: Option<String>,
    reference: Option<String>,
    script: String,
    status: &'static str,
    seq: i64,
    state: String,
    created_at: OffsetDateTime,
    updated_at: OffsetDateTime,
    entries: Entries,
    escalation: Option<NewEscalation>,
}

impl StartJob {
    fn new(s: &StoredSession, escalation: Option<&Record>) -> Result<StartJob> {
        Ok(StartJob {
            id: s.id.clone(),
            token_hash: s.token_hash.clone(),
            owner: s.owner.clone(),
            reference: s.reference.clone(),
            script: s.state.script.clone(),
            status: status_str(s.state.status),
            seq: i64::from(s.state.seq),
            state: state_json(&s.state)?,
            created_at: to_ms(s.created_at),
            updated_at: to_ms(s.updated_at),
            entries: Entries::new(&s.state.trail)?,
            escalation: escalation
                .map(|r| NewEscalation::new(r, s.updated_at))
                .transpose()?,
        })
    }
}

/// A step, encoded.
struct StepJob {
    session_id: String,
    expected_seq: i64,
    state: String,
    seq: i64,
    status: &'static str,
    now: OffsetDateTime,
    entries: Entries,
    /// Sorted, no duplicates.
    retracted: Vec<i64>,
    escalation: Option<NewEscalation>,
}

impl StepJob {
    fn new(w: &StepWrite<'_>) -> Result<StepJob> {
        let mut retracted: Vec<i64> = w.retracted.iter().map(|&s| i64::from(s)).collect();
        retracted.sort_unstable();
        retracted.dedup();
        Ok(StepJob {
            session_id: w.session_id.to_owned(),
            expected_seq: i64::from(w.expected_seq),
            state: state_json(w.state)?,
            seq: i64::from(w.state.seq),
            status: status_str(w.state.status),
            now: to_ms(w.now),
            entries: Entries::new(w.new_entries)?,
            retracted,
            escalation: w
                .escalation
                .map(|r| NewEscalation::new(r, w.now))
                .transpose()?,
        })
    }
}

/// One write for the writer task.
enum Job {
    Start(StartJob),
    Step(StepJob),
}

impl Job {
    fn session_id(&self) -> &str {
        match self {
            Job::Start(s) => &s.id,
            Job::Step(s) => &s.session_id,
        }
    }
}

type Reply = oneshot::Sender<Result<Saved>>;

/// What the writer did, for tests and for tuning (counts since the store
/// was opened).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Writes handed to the writer (counted once in its queue).
    pub submitted: u64,
    /// Statements that saved more than one write.
    pub batches: u64,
    /// Writes those statements carried.
    pub batched: u64,
    /// The most writes one statement carried.
    pub largest: u64,
    /// Batches the database refused, whose writes were then saved one by one.
    pub retried: u64,
}

#[derive(Debug, Default)]
struct Counters {
    submitted: AtomicU64,
    batches: AtomicU64,
    batched: AtomicU64,
    largest: AtomicU64,
    retried: AtomicU64,
}

/// Group commit in the application: the writes (starts and steps) that
/// arrive while a statement is in flight are saved by the next one, a
/// single statement over arrays (see [`BATCH_SQL`]). PostgreSQL groups the
/// WAL flushes of concurrent commits by itself, but every statement still
/// costs a round trip, a parse/bind/execute, its own commit record and a
/// backend wake-up on each side: under load those dominate a step's cost,
/// and here they are paid once per batch.
///
/// A batch never holds two writes of one session: the second waits for the
/// next batch, so each is still a compare-and-set against the state the
/// one before it left, and "exactly one wins" holds as for single writes
/// (and across instances, by the row lock and READ COMMITTED's re-check).
///
/// A batch of one runs the single-write statement. A batch the database
/// refuses (a write breaking a constraint, a deadlock against another
/// instance's batch) is retried write by write, so every caller gets its
/// own result and no write fails for another's fault. Any other failure
/// (the connection, the pool) is the same for every write in the batch and
/// is handed to each.
async fn write_batches(
    pool: PgPool,
    batches: PgPool,
    mut rx: mpsc::Receiver<(Job, Reply)>,
    counters: Arc<Counters>,
) {
    let mut held: Vec<(Job, Reply)> = Vec::new();
    loop {
        let mut batch: Vec<(Job, Reply)> = Vec::with_capacity(MAX_BATCH);
        let mut ids: HashSet<String> = HashSet::new();
        let mut later: Vec<(Job, Reply)> = Vec::new();
        let mut take = |job: (Job, Reply), batch: &mut Vec<(Job, Reply)>| {
            if batch.len() < MAX_BATCH && ids.insert(job.0.session_id().to_owned()) {
                batch.push(job);
            } else {
                later.push(job);
            }
        };
        // Writes held back from the last batch go first, in their order.
        for job in held.drain(..) {
            take(job, &mut batch);
        }
        if batch.is_empty() {
            match rx.recv().await {
                Some(job) => take(job, &mut batch),
                None => break,
            }
        }
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => take(job, &mut batch),
                Err(_) => break,
            }
        }
        held = later;
        run_batch(&pool, &batches, batch, &counters).await;
    }
}

async fn run_batch(
    pool: &PgPool,
    batches: &PgPool,
    mut batch: Vec<(Job, Reply)>,
    counters: &Counters,
) {
    if batch.len() == 1 {
        if let Some((job, reply)) = batch.pop() {
            let _ = reply.send(save_alone(pool, &job).await);
        }
        return;
    }
    let n = batch.len() as u64;
    counters.batches.fetch_add(1, Ordering::Relaxed);
    counters.batched.fetch_add(n, Ordering::Relaxed);
    counters.largest.fetch_max(n, Ordering::Relaxed);
    let jobs: Vec<&Job> = batch.iter().map(|(j, _)| j).collect();
    match save_batch(batches, &jobs).await {
        Ok(saved) => {
            for ((_, reply), s) in batch.into_iter().zip(saved) {
                let _ = reply.send(Ok(s));
            }
        }
        Err(sqlx::Error::Database(e)) => {
            // Some write broke a rule, or the batch lost a deadlock: nothing
            // of it was saved. Each write again on its own, at once.
            tracing::debug!(error = %e, writes = n, "a batch of writes was refused; saving them one by one");
            counters.retried.fetch_add(1, Ordering::Relaxed);
            let mut alone = tokio::task::JoinSet::new();
            for (job, reply) in batch {
                let pool = pool.clone();
                alone.spawn(async move {
                    let _ = reply.send(save_alone(&pool, &job).await);
                });
            }
            while alone.join_next().await.is_some() {}
        }
        Err(e) => {
            let e = db(e);
            for (_, reply) in batch {
                let _ = reply.send(Err(copy_error(&e)));
            }
        }
    }
}

fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Database(m) => StoreError::Database(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Duplicate(m) => StoreError::Duplicate(m.clone()),
    }
}

/// Saves many writes (each of a different session) as one statement: the
/// steps' compare-and-sets (`UPDATE … FROM unnest(…)`), the new sessions,
/// and the trail rows, escalations and outbox messages of those that were
/// saved. The last SELECT reports each step: updated, or why not.
const BATCH_SQL: &str = "\
WITH st AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[])
        AS st(id, expected, state, seq, status, now)),
up AS (
    UPDATE sessions s SET state = st.state, seq = st.seq, status = st.status, updated_at = st.now
    FROM st WHERE s.id = st.id AND s.seq = st.expected
    RETURNING s.id),
new AS (
    INSERT INTO sessions (id, token_hash, owner, reference, script, status, seq, state, created_at, updated_at)
    SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                         $13::bigint[], $14::text[], $15::timestamptz[], $16::timestamptz[])
    RETURNING id),
saved AS (SELECT id FROM up UNION ALL SELECT id FROM new),
ins AS (
    INSERT INTO trail_entries (session_id, seq, entry, retracted)
    SELECT t.session_id, t.seq, t.entry, t.retracted
    FROM unnest($17::text[], $18::bigint[], $19::text[], $20::boolean[]) AS t(session_id, seq, entry, retracted)
    WHERE t.session_id IN (SELECT id FROM saved)
    RETURNING 1),
ev AS (
    SELECT * FROM unnest($21::text[], $22::text[], $23::text[], $24::smallint[], $25::text[], $26::text[],
                         $27::timestamptz[], $28::timestamptz[], $29::text[], $30::text[], $31::text[])
        AS ev(gate, id, session_id, tier, queue, record, created_at, now, message, event_type, payload)
    WHERE ev.gate IN (SELECT id FROM saved)),
esc AS (
    INSERT INTO escalations (id, session_id, tier, queue, status, claimed_by, record, created_at, updated_at)
    SELECT id, session_id, tier, queue, 'open', NULL, record, created_at, now FROM ev
    RETURNING 1),
msg AS (
    INSERT INTO outbox (id, event_type, payload, next_attempt_at, created_at)
    SELECT message, event_type, payload, now, now FROM ev
    RETURNING 1)
SELECT st.id, up.id IS NOT NULL,
       up.id IS NOT NULL OR EXISTS (SELECT 1 FROM sessions x WHERE x.id = st.id)
FROM st LEFT JOIN up ON up.id = st.id";

/// The batch's columns, one array per parameter of [`BATCH_SQL`].
#[derive(Default)]
struct Columns<'a> {
    st_id: Vec<&'a str>,
    st_expected: Vec<i64>,
    st_state: Vec<&'a str>,
    st_seq: Vec<i64>,
    st_status: Vec<&'a str>,
    st_now: Vec<OffsetDateTime>,
    new_id: Vec<&'a str>,
    new_token: Vec<&'a str>,
    new_owner: Vec<Option<&'a str>>,
    new_reference: Vec<Option<&'a str>>,
    new_script: Vec<&'a str>,
    new_status: Vec<&'a str>,
    new_seq: Vec<i64>,
    new_state: Vec<&'a str>,
    new_created: Vec<OffsetDateTime>,
    new_updated: Vec<OffsetDateTime>,
    t_session: Vec<&'a str>,
    t_seq: Vec<i64>,
    t_entry: Vec<&'a str>,
    t_retracted: Vec<bool>,
    ev_gate: Vec<&'a str>,
    ev_id: Vec<&'a str>,
    ev_session: Vec<&'a str>,
    ev_tier: Vec<i16>,
    ev_queue: Vec<Option<&'a str>>,
    ev_record: Vec<&'a str>,
    ev_created: Vec<OffsetDateTime>,
    ev_now: Vec<OffsetDateTime>,
    ev_message: Vec<&'a str>,
    ev_type: Vec<&'a str>,
    ev_payload: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn trail(&mut self, session: &'a str, e: &'a Entries) {
        for i in 0..e.seqs.len() {
            self.t_session.push(session);
            self.t_seq.push(e.seqs[i]);
            self.t_entry.push(&e.json[i]);
            self.t_retracted.push(e.retracted[i]);
        }
    }

    fn escalation(&mut self, gate: &'a str, e: &'a NewEscalation, now: OffsetDateTime) {
        self.ev_gate.push(gate);
        self.ev_id.push(&e.id);
        self.ev_session.push(&e.session);
        self.ev_tier.push(e.tier);
        self.ev_queue.push(e.queue.as_deref());
        self.ev_record.push(&e.record);
        self.ev_created.push(e.created_at);
        self.ev_now.push(now);
        self.ev_message.push(&e.message.id);
        self.ev_type.push(e.message.event_type);
        self.ev_payload.push(&e.message.payload);
    }
}

/// One statement for `jobs` (each of a different session, none with
/// retractions): what each was, in their order.
async fn save_batch(pool: &PgPool, jobs: &[&Job]) -> std::result::Result<Vec<Saved>, sqlx::Error> {
    let mut c = Columns::default();
    // Steps in the order of their session ids: two instances' batches then
    // lock the sessions they share in the same order, and do not deadlock.
    let mut steps: Vec<&StepJob> = Vec::new();
    for job in jobs {
        match job {
            Job::Start(s) => {
                c.new_id.push(&s.id);
                c.new_token.push(&s.token_hash);
                c.new_owner.push(s.owner.as_deref());
                c.new_reference.push(s.reference.as_deref());
                c.new_script.push(&s.script);
                c.new_status.push(s.status);
                c.new_seq.push(s.seq);
                c.new_state.push(&s.state);
                c.new_created.push(s.created_at);
                c.new_updated.push(s.updated_at);
                c.trail(&s.id, &s.entries);
                if let Some(e) = &s.escalation {
                    c.escalation(&s.id, e, s.updated_at);
                }
            }
            Job::Step(s) => steps.push(s),
        }
    }
    steps.sort_unstable_by(|a, b| a.session_id.cmp(&b.session_id));
    for s in &steps {
        c.st_id.push(&s.session_id);
        c.st_expected.push(s.expected_seq);
        c.st_state.push(&s.state);
        c.st_seq.push(s.seq);
        c.st_status.push(s.status);
        c.st_now.push(s.now);
        c.trail(&s.session_id, &s.entries);
        if let Some(e) = &s.escalation {
            c.escalation(&s.session_id, e, s.now);
        }
    }
    // On the writer's connection, which plans it afresh every time.
    let rows = sqlx::query_as::<_, (String, bool, bool)>(BATCH_SQL)
        .bind(&c.st_id)
        .bind(&c.st_expected)
        .bind(&c.st_state)
        .bind(&c.st_seq)
        .bind(&c.st_status)
        .bind(&c.st_now)
        .bind(&c.new_id)
        .bind(&c.new_token)
        .bind(&c.new_owner)
        .bind(&c.new_reference)
        .bind(&c.new_script)
        .bind(&c.new_status)
        .bind(&c.new_seq)
        .bind(&c.new_state)
        .bind(&c.new_created)
        .bind(&c.new_updated)
        .bind(&c.t_session)
        .bind(&c.t_seq)
        .bind(&c.t_entry)
        .bind(&c.t_retracted)
        .bind(&c.ev_gate)
        .bind(&c.ev_id)
        .bind(&c.ev_session)
        .bind(&c.ev_tier)
        .bind(&c.ev_queue)
        .bind(&c.ev_record)
        .bind(&c.ev_created)
        .bind(&c.ev_now)
        .bind(&c.ev_message)
        .bind(&c.ev_type)
        .bind(&c.ev_payload)
        .fetch_all(pool)
        .await?;
    let mut by_id: HashMap<String, Saved> = HashMap::with_capacity(rows.len());
    for (id, updated, exists) in rows {
        let saved = match (updated, exists) {
            (true, _) => Saved::Ok,
            (false, true) => Saved::Conflict,
            (false, false) => Saved::NotFound,
        };
        by_id.insert(id, saved);
    }
    jobs.iter()
        .map(|job| match job {
            // The statement succeeded: every new session is in.
            Job::Start(_) => Ok(Saved::Ok),
            Job::Step(s) => by_id.get(&s.session_id).copied().ok_or_else(|| {
                sqlx::Error::Protocol(format!(
                    "the batch did not report the step of session {}",
                    s.session_id
                ))
            }),
        })
        .collect()
}

/// One write, one statement (the path of a lone write, of a step that
/// retracts entries, and of a refused batch's writes).
async fn save_alone(pool: &PgPool, job: &Job) -> Result<Saved> {
    match job {
        Job::Start(s) => create_alone(pool, s).await.map(|()| Saved::Ok),
        Job::Step(s) => step_alone(pool, s).await,
    }
}

/// A session start alone: the session, its trail and its escalation in one
/// statement, committed together or not at all.
async fn create_alone(pool: &PgPool, s: &StartJob) -> Result<()> {
    let mut sql = String::from(
        "WITH s AS (INSERT INTO sessions \
             (id, token_hash, owner, reference, script, status, seq, state, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id), \
         ins AS (INSERT INTO trail_entries (session_id, seq, entry, retracted) \
             SELECT s.id, x.seq, x.entry, x.retracted FROM s, \
             unnest($11::bigint[], $12::text[], $13::boolean[]) AS x(seq, entry, retracted) \
             RETURNING 1)",
    );
    if s.escalation.is_some() {
        sql.push_str(&escalation_ctes("s", 14, "$10"));
    }
    sql.push_str(" SELECT count(*) FROM s");
    let mut q = sqlx::query(&sql)
        .bind(&s.id)
        .bind(&s.token_hash)
        .bind(&s.owner)
        .bind(&s.reference)
        .bind(&s.script)
        .bind(s.status)
        .bind(s.seq)
        .bind(s.state.as_str())
        .bind(s.created_at)
        .bind(s.updated_at)
        .bind(&s.entries.seqs)
        .bind(&s.entries.json)
        .bind(&s.entries.retracted);
    if let Some(e) = &s.escalation {
        q = bind_escalation(q, e);
    }
    q.fetch_one(pool)
        .await
        .map_err(|e| write_error(e, &s.id, s.escalation.as_ref()))?;
    Ok(())
}

/// A step alone: one statement, or a transaction when it retracts entries.
async fn step_alone(pool: &PgPool, w: &StepJob) -> Result<Saved> {
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
    let marked = if w.retracted.is_empty() {
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
    if w.escalation.is_some() {
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
        .bind(w.session_id.as_str())
        .bind(w.expected_seq)
        .bind(w.state.as_str())
        .bind(w.seq)
        .bind(w.status)
        .bind(w.now)
        .bind(&w.entries.seqs)
        .bind(&w.entries.json)
        .bind(&w.entries.retracted);
    if !w.retracted.is_empty() {
        q = q.bind(&w.retracted);
    }
    if let Some(e) = &w.escalation {
        q = bind_escalation(q, e);
    }
    let err = |e| write_error(e, &w.session_id, w.escalation.as_ref());

    let counts = |row: PgRow| -> Result<(i64, i64, bool)> {
        Ok((
            row.try_get(0).map_err(db)?,
            row.try_get(1).map_err(db)?,
            row.try_get(2).map_err(db)?,
        ))
    };
    let (updated, exists) = if w.retracted.is_empty() {
        // The usual step: one statement, atomic by itself.
        let (updated, _, exists) = counts(q.fetch_one(pool).await.map_err(err)?)?;
        (updated, exists)
    } else {
        // Retractions must all hit entries the trail has, or the step
        // fails whole: only a transaction can take the statement back.
        let mut tx = pool.begin().await.map_err(db)?;
        let (updated, marked, exists) = counts(q.fetch_one(&mut *tx).await.map_err(err)?)?;
        if updated == 1 && marked != w.retracted.len() as i64 {
            tx.rollback().await.map_err(db)?;
            // A caller's bug: the step fails whole rather than save a
            // trail that does not match the state.
            return Err(StoreError::Database(format!(
                "session {}: retracted entries {:?} are not all in the trail",
                w.session_id, w.retracted
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
        let job = StartJob::new(s, escalation)?;
        match self.write(Job::Start(job)).await? {
            Saved::Ok => Ok(()),
            other => Err(StoreError::Database(format!(
                "session {}: a start came back as {other:?}",
                s.id
            ))),
        }
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

    async fn session_references(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, String>> {
        if ids.is_empty() {
            return Ok(Default::default());
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
        if !job.retracted.is_empty() {
            // Rare (a step back), and it needs a transaction of its own.
            return step_alone(&self.pool, &job).await;
        }
        self.write(Job::Step(job)).await
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

    /// The rules are `store::apply_change`'s. The row is locked while they
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
        let message = match change {
            EscalationChange::Note(n) => {
                NewMessage::new(change_event(change), &super::NoteAdded::new(&next, n), now)?
            }
            _ => NewMessage::new(change_event(change), &view, now)?,
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

    async fn count_signin_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(u32, OffsetDateTime)> {
        let stale = to_ms(now - window);
        // One statement: the upsert is atomic, so two instances counting
        // the same name at once both count. Counts that ran out go too.
        let (failures, since): (i32, OffsetDateTime) = sqlx::query_as(
            "WITH gone AS (DELETE FROM signin_failures WHERE since <= $3 AND name <> $1) \
             INSERT INTO signin_failures AS f (name, failures, since) VALUES ($1, 1, $2) \
             ON CONFLICT (name) DO UPDATE SET \
               failures = CASE WHEN f.since <= $3 THEN 1 ELSE f.failures + 1 END, \
               since = CASE WHEN f.since <= $3 THEN $2 ELSE f.since END \
             RETURNING failures, since",
        )
        .bind(key)
        .bind(to_ms(now))
        .bind(stale)
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok((u32::try_from(failures).unwrap_or(u32::MAX), since))
    }

    async fn signin_failures(&self, key: &str) -> Result<Option<(u32, OffsetDateTime)>> {
        let row: Option<(i32, OffsetDateTime)> =
            sqlx::query_as("SELECT failures, since FROM signin_failures WHERE name = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(db)?;
        Ok(row.map(|(n, since)| (u32::try_from(n).unwrap_or(u32::MAX), since)))
    }

    async fn clear_signin_failures(&self, key: &str) -> Result<()> {
        sqlx::query("DELETE FROM signin_failures WHERE name = $1")
            .bind(key)
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
