//! The embedded SQLite store: the default, one file, no server to run.
//!
//! Two pools on one file. Every write goes through a pool of exactly one
//! connection: SQLite lets one writer in at a time anyway, and queueing the
//! writers in the pool (instead of in SQLite's busy handler) keeps them free
//! of lock contention. Reads use a pool of several connections; in WAL mode
//! they never wait for the writer.
//!
//! Answers are the hot path, so `save_step` is group-committed: a writer task
//! saves the steps that queued up while the previous transaction ran in one
//! transaction, each step still all-or-nothing and answered only once
//! committed (see `write_steps`). The usual step is one statement in that
//! transaction (the compare-and-set and its trail rows together). WAL
//! checkpoints, the only moments that wait for the disk, run from a
//! background task, off the writer's path (see `checkpoints`).
//!
//! Writes that read before they write run in `BEGIN IMMEDIATE` transactions:
//! a deferred transaction that later upgrades to a write can fail with
//! `SQLITE_BUSY` when another process (`fixpath user add` next to a running
//! server) wrote in between, and the busy timeout does not help there.
//!
//! Times are stored as INTEGER milliseconds since the Unix epoch (UTC): what
//! a column gives back is the time saved, to the millisecond. The JSON
//! documents (state, trail entries, records) keep the engine's RFC 3339
//! times exactly.

use super::{
    Changed, Escalation, EscalationChange, EscalationFilter, EscalationStatus, NewUser,
    OutboxMessage, Result, Role, Saved, ScriptVersion, StepWrite, Store, StoreError, StoredSession,
    User, event_payload,
};
use crate::engine::{Channel, Ending, Frame, Pin, Session, Status, TrailEntry, Vars};
use crate::escalation::Record;
use async_trait::async_trait;
use serde::Serialize;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// The migrations, embedded. `sqlx::migrate!` needs sqlx's `macros` feature,
/// which the crate does not enable; this list does the same job (the same
/// versions and checksums), and a unit test below fails when a file in
/// `migrations/sqlite/` is missing from it.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "token expiry",
        include_str!("../../migrations/sqlite/0002_token_expiry.sql"),
    ),
    (
        3,
        "signin failures",
        include_str!("../../migrations/sqlite/0003_signin_failures.sql"),
    ),
];

/// Readers in the pool; reads run in parallel in WAL mode.
const READERS: u32 = 8;
/// Default and largest page of a listing.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// Rows per multi-row INSERT of trail entries (4 parameters each).
const TRAIL_CHUNK: usize = 200;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: all writes.
    writer: SqlitePool,
    /// Reads. For an in-memory database this is the writer pool itself.
    reader: SqlitePool,
    /// Steps to the task that saves them (see [`write_steps`]).
    steps: mpsc::Sender<(StepJob, StepReply)>,
}

impl SqliteStore {
    /// Hands a job to the writer task and waits for its commit.
    async fn write_job(&self, job: StepJob) -> Result<Saved> {
        let (reply, answer) = oneshot::channel();
        self.steps
            .send((job, reply))
            .await
            .map_err(|_| StoreError::Database("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Database("the writer has stopped".into()))?
    }

    /// Opens (creating it and its folder if missing) the database at
    /// `sqlite://PATH`, `sqlite:PATH` or a plain `PATH`. `sqlite::memory:`
    /// works too (one connection, gone when the store is dropped), for
    /// throwaway use. Call [`Store::migrate`] before use.
    ///
    /// Starts the writer and checkpoint tasks on the current tokio runtime;
    /// they stop when the last clone of the store is dropped.
    pub async fn open(url_or_path: &str) -> Result<SqliteStore> {
        let opts = if url_or_path.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url_or_path).map_err(db)?
        } else {
            // A plain path is taken literally (no `?` parameters, no
            // percent-decoding).
            SqliteConnectOptions::new().filename(url_or_path)
        };
        let in_memory = opts
            .get_filename()
            .to_string_lossy()
            .starts_with("file:sqlx-in-memory")
            || url_or_path.contains(":memory:")
            || url_or_path.contains("mode=memory");
        if !in_memory
            && let Some(dir) = opts.get_filename().parent()
            && !dir.as_os_str().is_empty()
        {
            tokio::fs::create_dir_all(dir).await.map_err(|e| {
                StoreError::Database(format!("could not create {}: {e}", dir.display()))
            })?;
        }
        let opts = opts
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // In WAL mode, NORMAL syncs at checkpoints only: a committed step
            // survives the process crashing (it is in the WAL, in the OS's
            // cache); an OS crash or power loss may lose the last commits,
            // never corrupt the file. FULL would fsync every commit, and the
            // throughput target would be the disk's.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            // After a checkpoint, the WAL file is truncated back to 64 MiB.
            .pragma("journal_size_limit", "67108864")
            .foreign_keys(true);

        if in_memory {
            // Every connection would see its own empty database (or fight
            // over a shared cache's table locks): one connection, kept open.
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .test_before_acquire(false)
                .connect_with(opts)
                .await
                .map_err(db)?;
            return Ok(SqliteStore::with_pools(pool.clone(), pool));
        }

        // The writer connects first: it creates the file and turns WAL on.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            // A local file does not go stale; pinging it before every use
            // would add a round trip to every step.
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            // Checkpoints are the background task's (see `checkpoints`);
            // this is only a backstop should it fall behind.
            .connect_with(opts.clone().pragma("wal_autocheckpoint", BACKSTOP_PAGES))
            .await
            .map_err(db)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .test_before_acquire(false)
            .connect_with(opts.pragma("query_only", "ON"))
            .await
            .map_err(db)?;
        let store = SqliteStore::with_pools(writer, reader);
        tokio::spawn(checkpoints(store.reader.clone(), store.steps.downgrade()));
        Ok(store)
    }

    fn with_pools(writer: SqlitePool, reader: SqlitePool) -> SqliteStore {
        let (steps, rx) = mpsc::channel(STEP_QUEUE);
        // Ends when the last clone of the store is dropped.
        tokio::spawn(write_steps(writer.clone(), rx));
        SqliteStore {
            writer,
            reader,
            steps,
        }
    }

    /// Closes both pools, waiting for their connections to finish.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)
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

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(super) fn ms(t: OffsetDateTime) -> i64 {
    // Within OffsetDateTime's range (±9999 years) this fits an i64.
    t.unix_timestamp_nanos().div_euclid(1_000_000) as i64
}

fn from_ms(v: i64, what: &str) -> Result<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(v) * 1_000_000)
        .map_err(|_| StoreError::Corrupt(format!("{what}: {v} is not a time")))
}

pub(super) fn encode(what: &str, v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Database(format!("could not encode {what}: {e}")))
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

pub(super) fn small_int<T: TryFrom<i64>>(what: &str, v: i64) -> Result<T> {
    T::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what}: {v} is out of range")))
}

pub(super) fn status_str(s: Status) -> &'static str {
    match s {
        Status::Active => "active",
        Status::Resolved => "resolved",
        Status::Escalated => "escalated",
    }
}

/// A fresh `webhook-id`: `msg_` and 16 random bytes in hex.
pub(super) fn message_id() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Database(format!("no randomness for a message id: {e}")))?;
    let mut s = String::with_capacity(36);
    s.push_str("msg_");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    Ok(s)
}

pub(super) fn clamp_limit(limit: u32) -> u32 {
    if limit == 0 {
        DEFAULT_LIMIT
    } else {
        limit.min(MAX_LIMIT)
    }
}

/// The session's state as stored: everything but the trail, which lives in
/// `trail_entries`. Serializes exactly like [`Session`] with an empty trail,
/// so the row reads back as a `Session` directly.
#[derive(Serialize)]
struct StateHead<'a> {
    script: &'a str,
    pins: &'a [Pin],
    channel: Channel,
    language: &'a str,
    tier: u8,
    params: &'a Vars,
    initial_vars: &'a Vars,
    vars: &'a Vars,
    frames: &'a [Frame],
    visits: &'a [(u16, u32, u16)],
    seq: u32,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    ending: Option<&'a Ending>,
    trail: [u8; 0],
    #[serde(with = "time::serde::rfc3339")]
    started_at: OffsetDateTime,
}

pub(super) fn state_json(s: &Session) -> Result<String> {
    // No `..`: a field added to Session fails to compile here until the
    // stored state knows about it.
    let Session {
        script,
        pins,
        channel,
        language,
        tier,
        params,
        initial_vars,
        vars,
        frames,
        visits,
        seq,
        status,
        ending,
        trail: _,
        started_at,
    } = s;
    encode(
        "session state",
        &StateHead {
            script,
            pins,
            channel: *channel,
            language,
            tier: *tier,
            params,
            initial_vars,
            vars,
            frames,
            visits,
            seq: *seq,
            status: *status,
            ending: ending.as_deref(),
            trail: [],
            started_at: *started_at,
        },
    )
}

/// An escalation as sent in webhooks: the record flattened, with its working
/// state; serializes exactly like [`Escalation`] without cloning the record.
#[derive(Serialize)]
pub(super) struct EscalationView<'a> {
    #[serde(flatten)]
    pub(super) record: &'a Record,
    pub(super) status: EscalationStatus,
    pub(super) claimed_by: Option<&'a str>,
    #[serde(with = "time::serde::rfc3339")]
    pub(super) updated_at: OffsetDateTime,
}

// ---------------------------------------------------------------- reading rows

/// The columns a session is read with; the trail comes as one JSON array of
/// `[retracted, entry]` pairs, built in the same statement so the session row
/// and its trail are one consistent snapshot.
const SESSION_COLUMNS: &str = "s.id, s.token_hash, s.owner, s.reference, s.state, s.created_at, s.updated_at, \
     (SELECT '[' || group_concat('[' || t.retracted || ',' || t.entry || ']', ',' ORDER BY t.seq) || ']' \
      FROM trail_entries t WHERE t.session_id = s.id)";

type SessionRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    i64,
    i64,
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
        created_at: from_ms(created_at, &format!("created_at of session {id}"))?,
        updated_at: from_ms(updated_at, &format!("updated_at of session {id}"))?,
        id,
        token_hash,
        owner,
        reference,
        state,
    })
}

const ESCALATION_COLUMNS: &str = "id, status, claimed_by, record, updated_at";

type EscalationRow = (String, String, Option<String>, String, i64);

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
        updated_at: from_ms(updated_at, &format!("updated_at of escalation {id}"))?,
    })
}

fn user_from_row(name: String, role: String, tier: i64) -> Result<User> {
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::Corrupt(format!("user {name}: unknown role `{role}`")))?;
    let tier = small_int(&format!("tier of user {name}"), tier)?;
    Ok(User { name, role, tier })
}

// ---------------------------------------------------------------- writing in a transaction

/// A trail entry, encoded.
struct EntryRow {
    seq: i64,
    json: String,
    retracted: bool,
}

fn entry_rows(entries: &[TrailEntry]) -> Result<Vec<EntryRow>> {
    entries
        .iter()
        .map(|e| {
            Ok(EntryRow {
                seq: i64::from(e.seq()),
                json: encode("trail entry", e)?,
                retracted: e.retracted(),
            })
        })
        .collect()
}

/// An outbox message, encoded.
struct NewMessage {
    id: String,
    event_type: &'static str,
    payload: String,
    at: i64,
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
            at: ms(now),
        })
    }
}

/// A new escalation and its `escalation.created` message, encoded.
struct NewEscalation {
    id: String,
    session: String,
    tier: i64,
    queue: Option<String>,
    record: String,
    created_at: i64,
    updated_at: i64,
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
            tier: i64::from(record.tier),
            queue: record.queue.clone(),
            record: encode("escalation record", record)?,
            created_at: ms(record.created_at),
            updated_at: ms(now),
            message: NewMessage::new("escalation.created", &view, now)?,
        })
    }
}

async fn insert_trail(
    tx: &mut Transaction<'static, Sqlite>,
    session_id: &str,
    entries: &[EntryRow],
) -> Result<()> {
    for chunk in entries.chunks(TRAIL_CHUNK) {
        let mut sql =
            String::from("INSERT INTO trail_entries (session_id, seq, entry, retracted) VALUES ");
        for i in 0..chunk.len() {
            sql.push_str(if i == 0 {
                "(?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?)"
            });
        }
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(session_id)
                .bind(e.seq)
                .bind(e.json.as_str())
                .bind(e.retracted);
        }
        q.execute(&mut **tx)
            .await
            .map_err(|e| trail_error(e, session_id))?;
    }
    Ok(())
}

/// A unique-key violation as [`StoreError::Duplicate`] naming `what`; any
/// other error as a database error.
fn duplicate_or_db(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Duplicate(what())
    } else {
        db(e)
    }
}

fn trail_error(e: sqlx::Error, session_id: &str) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::Database(format!(
            "session {session_id} already has a trail entry with one of these seqs"
        ))
    } else {
        db(e)
    }
}

async fn insert_escalation(tx: &mut Transaction<'static, Sqlite>, e: &NewEscalation) -> Result<()> {
    sqlx::query(
        "INSERT INTO escalations (id, session_id, tier, queue, status, claimed_by, record, created_at, updated_at) \
         VALUES (?, ?, ?, ?, 'open', NULL, ?, ?, ?)",
    )
    .bind(&e.id)
    .bind(&e.session)
    .bind(e.tier)
    .bind(&e.queue)
    .bind(e.record.as_str())
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(&mut **tx)
    .await
    .map_err(|err| duplicate_or_db(err, || format!("escalation `{}`", e.id)))?;
    insert_message(tx, &e.message).await
}

async fn insert_message(tx: &mut Transaction<'static, Sqlite>, m: &NewMessage) -> Result<()> {
    sqlx::query(
        "INSERT INTO outbox (id, event_type, payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(m.id.as_str())
    .bind(m.event_type)
    .bind(m.payload.as_str())
    .bind(m.at)
    .bind(m.at)
    .execute(&mut **tx)
    .await
    .map_err(db)?;
    Ok(())
}

// ---------------------------------------------------------------- the step writer

/// Steps waiting for the writer at most; more wait in `save_step`.
const STEP_QUEUE: usize = 1024;
/// Steps committed together at most.
const MAX_BATCH: usize = 128;

/// One step, encoded, for the writer task.
struct StepJob {
    session_id: String,
    expected_seq: i64,
    seq: i64,
    status: &'static str,
    state: String,
    entries: Vec<EntryRow>,
    /// Sorted, no duplicates.
    retracted: Vec<i64>,
    escalation: Option<NewEscalation>,
    now: i64,
    /// Set for a new session: the row is inserted, not compare-and-set. New
    /// sessions go through the writer's batches too, so a start costs no
    /// transaction of its own.
    create: Option<NewSession>,
}

struct NewSession {
    token_hash: String,
    owner: Option<String>,
    reference: Option<String>,
    script: String,
    created_at: i64,
}

type StepReply = oneshot::Sender<Result<Saved>>;

/// Group commit: the steps that arrive while a transaction runs are saved
/// together in the next one. A commit costs the same for one step or a
/// hundred, and a step is a handful of statements, so under load most of a
/// step's cost (the transaction, the hand-offs between threads) is shared.
/// Each step is still all-or-nothing and answered only once committed: a
/// step that fails rolls its batch back, and the batch is then saved one
/// step per transaction, so the others are not held back by it. When the
/// transaction itself fails (the file is locked by another process past the
/// busy timeout, the disk is full), every step in it gets that error.
async fn write_steps(pool: SqlitePool, mut rx: mpsc::Receiver<(StepJob, StepReply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs: Vec<&StepJob> = batch.iter().map(|(j, _)| j).collect();
        match save_batch(&pool, &jobs).await {
            Ok(saved) => {
                for ((_, reply), s) in batch.drain(..).zip(saved) {
                    let _ = reply.send(Ok(s));
                }
            }
            Err(BatchError::Step(_)) if batch.len() > 1 => {
                for (job, reply) in batch.drain(..) {
                    let r = match save_batch(&pool, &[&job]).await {
                        Ok(s) => Ok(s[0]),
                        Err(BatchError::Step(e) | BatchError::Whole(e)) => Err(e),
                    };
                    let _ = reply.send(r);
                }
            }
            Err(BatchError::Step(e) | BatchError::Whole(e)) => {
                for (_, reply) in batch.drain(..) {
                    let _ = reply.send(Err(copy_error(&e)));
                }
            }
        }
    }
}

enum BatchError {
    /// A step failed; the others may well be saved without it.
    Step(StoreError),
    /// The transaction failed to begin or to commit.
    Whole(StoreError),
}

fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::Database(m) => StoreError::Database(m.clone()),
        StoreError::Corrupt(m) => StoreError::Corrupt(m.clone()),
        StoreError::Duplicate(m) => StoreError::Duplicate(m.clone()),
    }
}

async fn save_batch(
    pool: &SqlitePool,
    jobs: &[&StepJob],
) -> std::result::Result<Vec<Saved>, BatchError> {
    let whole = |e| BatchError::Whole(db(e));
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(whole)?;
    let mut saved = Vec::with_capacity(jobs.len());
    for job in jobs {
        saved.push(save_one(&mut tx, job).await.map_err(BatchError::Step)?);
    }
    tx.commit().await.map_err(whole)?;
    Ok(saved)
}

async fn save_one(tx: &mut Transaction<'static, Sqlite>, w: &StepJob) -> Result<Saved> {
    if let Some(c) = &w.create {
        sqlx::query(
            "INSERT INTO sessions (id, token_hash, owner, reference, script, status, seq, state, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&w.session_id)
        .bind(&c.token_hash)
        .bind(&c.owner)
        .bind(&c.reference)
        .bind(&c.script)
        .bind(w.status)
        .bind(w.seq)
        .bind(w.state.as_str())
        .bind(c.created_at)
        .bind(w.now)
        .execute(&mut **tx)
        .await
        .map_err(|e| duplicate_or_db(e, || format!("session `{}`", w.session_id)))?;
        insert_trail(tx, &w.session_id, &w.entries).await?;
        if let Some(e) = &w.escalation {
            insert_escalation(tx, e).await?;
        }
        return Ok(Saved::Ok);
    }
    // One round trip to the connection for the usual step: the
    // compare-and-set (only from the seq the caller read) and, only if it
    // moved the session (`changes() = 1`), the new trail entries.
    let n = if w.entries.len() <= TRAIL_CHUNK {
        w.entries.len()
    } else {
        0
    };
    let mut sql = String::from(
        "UPDATE sessions SET state = ?, seq = ?, status = ?, updated_at = ? WHERE id = ? AND seq = ?",
    );
    for i in 0..n {
        sql.push_str(if i == 0 {
            "; INSERT INTO trail_entries (session_id, seq, entry, retracted) \
             SELECT ?, ?, ?, ? WHERE changes() = 1"
        } else {
            " UNION ALL SELECT ?, ?, ?, ? WHERE changes() = 1"
        });
    }
    let mut q = sqlx::query(&sql)
        .bind(w.state.as_str())
        .bind(w.seq)
        .bind(w.status)
        .bind(w.now)
        .bind(w.session_id.as_str())
        .bind(w.expected_seq);
    for e in &w.entries[..n] {
        q = q
            .bind(w.session_id.as_str())
            .bind(e.seq)
            .bind(e.json.as_str())
            .bind(e.retracted);
    }
    let changed = q
        .execute(&mut **tx)
        .await
        .map_err(|e| trail_error(e, &w.session_id))?
        .rows_affected();
    if changed == 0 {
        // Nothing of this step was written; the batch goes on.
        let exists = sqlx::query_scalar::<_, i64>("SELECT 1 FROM sessions WHERE id = ?")
            .bind(w.session_id.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db)?
            .is_some();
        return Ok(if exists {
            Saved::Conflict
        } else {
            Saved::NotFound
        });
    }
    if changed != 1 + n as u64 {
        return Err(StoreError::Database(format!(
            "session {}: saving a step changed {changed} rows, not {}",
            w.session_id,
            1 + n
        )));
    }
    if n < w.entries.len() {
        insert_trail(tx, &w.session_id, &w.entries).await?;
    }
    if !w.retracted.is_empty() {
        let mut sql = String::from(
            "UPDATE trail_entries SET retracted = 1 WHERE session_id = ? AND seq IN (",
        );
        for i in 0..w.retracted.len() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
        }
        sql.push(')');
        let mut q = sqlx::query(&sql).bind(w.session_id.as_str());
        for &seq in &w.retracted {
            q = q.bind(seq);
        }
        let marked = q.execute(&mut **tx).await.map_err(db)?.rows_affected();
        if marked != w.retracted.len() as u64 {
            // A caller's bug: the step fails whole rather than save a trail
            // that does not match the state.
            return Err(StoreError::Database(format!(
                "session {}: retracted entries {:?} are not all in the trail",
                w.session_id, w.retracted
            )));
        }
    }
    if let Some(e) = &w.escalation {
        insert_escalation(tx, e).await?;
    }
    Ok(Saved::Ok)
}

// ---------------------------------------------------------------- checkpoints

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// The writer checkpoints by itself only past this many WAL pages (~200 MB):
/// under continuous writes the WAL rarely resets, and a checkpoint on the
/// writer stalls every queued step for its fsyncs (measured: p99 62 ms at
/// 10,000 pages, 18 ms at 50,000 with the 250 ms background checkpoint).
const BACKSTOP_PAGES: &str = "50000";

/// Copies the WAL back into the database file, off the writer's path.
///
/// With `synchronous=NORMAL` a commit never waits for the disk; a checkpoint
/// does (it syncs the WAL and the database file). SQLite runs one by itself
/// in the connection whose commit grew the WAL past a threshold, so that
/// commit, and under group commit every step in its batch, would wait out
/// the fsyncs: measured here, up to 1.5 s when the disk is busy. A PASSIVE
/// checkpoint from a reader connection waits for nobody and nobody waits for
/// it; the writer goes on appending meanwhile.
async fn checkpoints(reader: SqlitePool, alive: mpsc::WeakSender<(StepJob, StepReply)>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if alive.upgrade().is_none() || reader.is_closed() {
            break;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&reader)
            .await
        {
            tracing::warn!(error = %e, "the WAL checkpoint failed; will try again");
        }
    }
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
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        let migrator = Migrator::new(Embedded)
            .await
            .map_err(|e| StoreError::Database(format!("migrations: {e}")))?;
        migrator
            .run(&self.writer)
            .await
            .map_err(|e| StoreError::Database(format!("migrations: {e}")))
    }

    async fn put_script_version(&self, v: &ScriptVersion) -> Result<()> {
        sqlx::query(
            "INSERT INTO script_versions (id, version, path, source, created_at) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (id, version) DO NOTHING",
        )
        .bind(&v.id)
        .bind(&v.version)
        .bind(&v.path)
        .bind(&v.source)
        .bind(ms(v.created_at))
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn script_versions(&self, pins: &[Pin]) -> Result<Vec<ScriptVersion>> {
        let mut out = Vec::new();
        for chunk in pins.chunks(200) {
            let mut sql = String::from(
                "SELECT id, version, path, source, created_at FROM script_versions WHERE (id, version) IN (VALUES ",
            );
            for i in 0..chunk.len() {
                sql.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
            }
            sql.push(')');
            let mut q = sqlx::query_as::<_, (String, String, String, String, i64)>(&sql);
            for p in chunk {
                q = q.bind(p.id.as_str()).bind(p.version.as_str());
            }
            for (id, version, path, source, created_at) in
                q.fetch_all(&self.reader).await.map_err(db)?
            {
                let created_at = from_ms(created_at, &format!("script version {id}@{version}"))?;
                out.push(ScriptVersion {
                    id,
                    version,
                    path,
                    source,
                    created_at,
                });
            }
        }
        // In the order asked for.
        out.sort_by_key(|v| {
            pins.iter()
                .position(|p| p.id == v.id && p.version == v.version)
        });
        Ok(out)
    }

    async fn create_session(&self, s: &StoredSession, escalation: Option<&Record>) -> Result<()> {
        let job = StepJob {
            session_id: s.id.clone(),
            expected_seq: 0,
            seq: i64::from(s.state.seq),
            status: status_str(s.state.status),
            state: state_json(&s.state)?,
            entries: entry_rows(&s.state.trail)?,
            retracted: Vec::new(),
            escalation: escalation
                .map(|r| NewEscalation::new(r, s.updated_at))
                .transpose()?,
            now: ms(s.updated_at),
            create: Some(NewSession {
                token_hash: s.token_hash.clone(),
                owner: s.owner.clone(),
                reference: s.reference.clone(),
                script: s.state.script.clone(),
                created_at: ms(s.created_at),
            }),
        };
        self.write_job(job).await.map(drop)
    }

    async fn session(&self, id: &str) -> Result<Option<StoredSession>> {
        let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.id = ?");
        let row = sqlx::query_as::<_, SessionRow>(&sql)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?;
        row.map(session_from_row).transpose()
    }

    async fn sessions_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<StoredSession>> {
        // Newest first: an agent taking over a call wants the latest one.
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.reference = ? \
             ORDER BY s.created_at DESC, s.rowid DESC LIMIT ?"
        );
        sqlx::query_as::<_, SessionRow>(&sql)
            .bind(reference)
            .bind(i64::from(clamp_limit(limit)))
            .fetch_all(&self.reader)
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
        let mut found = std::collections::HashMap::new();
        // Well under SQLite's limit of bound parameters per statement.
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let sql = format!(
                "SELECT id, reference FROM sessions WHERE reference IS NOT NULL AND id IN ({marks})"
            );
            let mut q = sqlx::query_as::<_, (String, String)>(&sql);
            for id in chunk {
                q = q.bind(id);
            }
            found.extend(q.fetch_all(&self.reader).await.map_err(db)?);
        }
        Ok(found)
    }

    async fn save_step(&self, w: &StepWrite<'_>) -> Result<Saved> {
        // Everything is encoded here, on the caller's task, in parallel; the
        // writer task only runs statements.
        let mut retracted: Vec<i64> = w.retracted.iter().map(|&s| i64::from(s)).collect();
        retracted.sort_unstable();
        retracted.dedup();
        let job = StepJob {
            session_id: w.session_id.to_owned(),
            expected_seq: i64::from(w.expected_seq),
            seq: i64::from(w.state.seq),
            status: status_str(w.state.status),
            state: state_json(w.state)?,
            entries: entry_rows(w.new_entries)?,
            retracted,
            escalation: w
                .escalation
                .map(|r| NewEscalation::new(r, w.now))
                .transpose()?,
            now: ms(w.now),
            create: None,
        };
        self.write_job(job).await
    }

    async fn escalations(&self, f: &EscalationFilter) -> Result<Vec<Escalation>> {
        let mut sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE 1 = 1");
        if f.status.is_some() {
            sql.push_str(" AND status = ?");
        }
        if f.tier.is_some() {
            sql.push_str(" AND tier = ?");
        }
        if f.queue.is_some() {
            sql.push_str(" AND queue = ?");
        }
        // A queue is worked oldest first; rowid breaks ties in arrival order.
        sql.push_str(" ORDER BY created_at, rowid LIMIT ?");
        let mut q = sqlx::query_as::<_, EscalationRow>(&sql);
        if let Some(s) = f.status {
            q = q.bind(s.as_str());
        }
        if let Some(t) = f.tier {
            q = q.bind(i64::from(t));
        }
        if let Some(queue) = &f.queue {
            q = q.bind(queue);
        }
        q.bind(i64::from(clamp_limit(f.limit)))
            .fetch_all(&self.reader)
            .await
            .map_err(db)?
            .into_iter()
            .map(escalation_from_row)
            .collect()
    }

    async fn escalation(&self, id: &str) -> Result<Option<Escalation>> {
        let sql = format!("SELECT {ESCALATION_COLUMNS} FROM escalations WHERE id = ?");
        sqlx::query_as::<_, EscalationRow>(&sql)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .map_err(db)?
            .map(escalation_from_row)
            .transpose()
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
        let was = current.status;
        let Some(mut next) = super::apply_change(&current, change) else {
            tx.rollback().await.map_err(db)?;
            return Ok(Changed::Refused(current));
        };
        next.updated_at = now;
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
        .bind(encode("escalation record", &next.record)?)
        .bind(ms(now))
        .bind(id)
        .bind(was.as_str())
        .execute(&mut *tx)
        .await
        .map_err(db)?
        .rows_affected();
        if updated == 0 {
            tx.rollback().await.map_err(db)?;
            return Ok(Changed::Refused(current));
        }
        let event = super::change_event(change);
        let view = EscalationView {
            record: &next.record,
            status: next.status,
            claimed_by: next.claimed_by.as_deref(),
            updated_at: now,
        };
        let message = match change {
            EscalationChange::Note(n) => {
                NewMessage::new(event, &super::NoteAdded::new(&next, n), now)?
            }
            _ => NewMessage::new(event, &view, now)?,
        };
        insert_message(&mut tx, &message).await?;
        tx.commit().await.map_err(db)?;
        // What a later read returns: times to the millisecond.
        next.updated_at = from_ms(ms(now), "now")?;
        Ok(Changed::Ok(next))
    }

    async fn create_user(&self, u: &NewUser) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO users (name, role, tier, password_hash) VALUES (?, ?, ?, ?)")
            .bind(&u.user.name)
            .bind(u.user.role.as_str())
            .bind(i64::from(u.user.tier))
            .bind(&u.password_hash)
            .execute(&mut *tx)
            .await
            .map_err(|e| duplicate_or_db(e, || format!("user `{}`", u.user.name)))?;
        insert_token(&mut tx, &u.user.name, &u.token_hash).await?;
        tx.commit().await.map_err(db)
    }

    async fn user_by_token(&self, token_hash: &str) -> Result<Option<User>> {
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT u.name, u.role, u.tier FROM tokens t JOIN users u ON u.name = t.user_name \
             WHERE t.token_hash = ? AND (t.expires_at IS NULL OR t.expires_at > ?)",
        )
        .bind(token_hash)
        .bind(ms(OffsetDateTime::now_utc()))
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        .map(|(name, role, tier)| user_from_row(name, role, tier))
        .transpose()
    }

    async fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>> {
        sqlx::query_as::<_, (String, String, i64, Option<String>)>(
            "SELECT name, role, tier, password_hash FROM users WHERE name = ?",
        )
        .bind(name)
        .fetch_optional(&self.reader)
        .await
        .map_err(db)?
        .map(|(name, role, tier, hash)| Ok((user_from_row(name, role, tier)?, hash)))
        .transpose()
    }

    async fn add_token(&self, name: &str, token_hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let known = sqlx::query_scalar::<_, i64>("SELECT 1 FROM users WHERE name = ?")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?
            .is_some();
        if !known {
            tx.rollback().await.map_err(db)?;
            return Err(StoreError::Database(format!("no user `{name}`")));
        }
        insert_token(&mut tx, name, token_hash).await?;
        tx.commit().await.map_err(db)
    }

    async fn add_expiring_token(
        &self,
        name: &str,
        token_hash: &str,
        expires_at: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM tokens WHERE expires_at IS NOT NULL AND expires_at <= ?")
            .bind(ms(OffsetDateTime::now_utc()))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let added = sqlx::query(
            "INSERT INTO tokens (token_hash, user_name, expires_at) \
             SELECT ?, name, ? FROM users WHERE name = ?",
        )
        .bind(token_hash)
        .bind(ms(expires_at))
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(|e| duplicate_or_db(e, || "token".into()))?
        .rows_affected();
        if added == 0 {
            tx.rollback().await.map_err(db)?;
            return Err(StoreError::Database(format!("no user `{name}`")));
        }
        tx.commit().await.map_err(db)
    }

    async fn revoke_token(&self, token_hash: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM tokens WHERE token_hash = ?")
            .bind(token_hash)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn count_signin_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(u32, OffsetDateTime)> {
        let stale = ms(now - window);
        let mut tx = self.begin_write().await?;
        // Counts that ran out are forgotten: the table holds at most the
        // names that failed within one window.
        sqlx::query("DELETE FROM signin_failures WHERE since <= ? AND name <> ?")
            .bind(stale)
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        let (failures, since): (i64, i64) = sqlx::query_as(
            "INSERT INTO signin_failures (name, failures, since) VALUES (?1, 1, ?2) \
             ON CONFLICT (name) DO UPDATE SET \
               failures = CASE WHEN since <= ?3 THEN 1 ELSE failures + 1 END, \
               since = CASE WHEN since <= ?3 THEN ?2 ELSE since END \
             RETURNING failures, since",
        )
        .bind(key)
        .bind(ms(now))
        .bind(stale)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok((
            u32::try_from(failures).unwrap_or(u32::MAX),
            from_ms(since, "sign-in failures")?,
        ))
    }

    async fn signin_failures(&self, key: &str) -> Result<Option<(u32, OffsetDateTime)>> {
        let row: Option<(i64, i64)> =
            sqlx::query_as("SELECT failures, since FROM signin_failures WHERE name = ?")
                .bind(key)
                .fetch_optional(&self.reader)
                .await
                .map_err(db)?;
        row.map(|(n, since)| {
            Ok((
                u32::try_from(n).unwrap_or(u32::MAX),
                from_ms(since, "sign-in failures")?,
            ))
        })
        .transpose()
    }

    async fn clear_signin_failures(&self, key: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM signin_failures WHERE name = ?")
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        tx.commit().await.map_err(db)
    }

    async fn lease_outbox(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        // One statement on the single writer connection, inside IMMEDIATE
        // (another process may run a relay too): two relays never lease the
        // same message.
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query_as::<_, (String, String, String, i64, i64, String)>(
            "UPDATE outbox SET lease_owner = ?, lease_until = ? \
             WHERE id IN (SELECT id FROM outbox \
                 WHERE delivered_at IS NULL AND next_attempt_at <= ? \
                   AND (lease_until IS NULL OR lease_until <= ?) \
                 ORDER BY next_attempt_at, rowid LIMIT ?) \
             RETURNING id, event_type, payload, attempts, next_attempt_at, delivered_to",
        )
        .bind(owner)
        .bind(ms(until))
        .bind(ms(now))
        .bind(ms(now))
        .bind(i64::from(clamp_limit(limit)))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        let mut out = rows
            .into_iter()
            .map(
                |(id, event_type, payload, attempts, next_attempt_at, delivered_to)| {
                    Ok(OutboxMessage {
                        attempts: small_int(&format!("attempts of message {id}"), attempts)?,
                        next_attempt_at: from_ms(
                            next_attempt_at,
                            &format!("next_attempt_at of message {id}"),
                        )?,
                        delivered_to: decode(
                            &format!("delivered_to of message {id}"),
                            &delivered_to,
                        )?,
                        id,
                        event_type,
                        payload,
                    })
                },
            )
            .collect::<Result<Vec<_>>>()?;
        // RETURNING comes in no particular order; the relay gets them due first.
        out.sort_by_key(|m| m.next_attempt_at);
        Ok(out)
    }

    async fn outbox_delivered(&self, id: &str, owner: &str, now: OffsetDateTime) -> Result<()> {
        // Only while `owner` still holds the lease: a relay whose lease ran
        // out and was taken over must not speak for the new holder.
        sqlx::query(
            "UPDATE outbox SET delivered_at = ?, lease_owner = NULL, lease_until = NULL \
             WHERE id = ? AND lease_owner = ? AND delivered_at IS NULL",
        )
        .bind(ms(now))
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
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
            "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, delivered_to = ?, \
                 last_error = ?, lease_owner = NULL, lease_until = NULL \
             WHERE id = ? AND lease_owner = ? AND delivered_at IS NULL",
        )
        .bind(ms(at))
        .bind(encode("delivered_to", &delivered_to)?)
        .bind(error)
        .bind(id)
        .bind(owner)
        .execute(&self.writer)
        .await
        .map_err(db)?;
        Ok(())
    }

    async fn outbox_pending(&self) -> Result<u64> {
        let n =
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox WHERE delivered_at IS NULL")
                .fetch_one(&self.reader)
                .await
                .map_err(db)?;
        small_int("outbox count", n)
    }
}

async fn insert_token(
    tx: &mut Transaction<'static, Sqlite>,
    name: &str,
    token_hash: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO tokens (token_hash, user_name) VALUES (?, ?)")
        .bind(token_hash)
        .bind(name)
        .execute(&mut **tx)
        .await
        .map_err(|e| duplicate_or_db(e, || "token".into()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    #[test]
    fn every_migration_file_is_embedded() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite");
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
    fn message_ids_are_fresh() {
        let a = super::message_id().unwrap();
        let b = super::message_id().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
    }
}
