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

mod analytics;
mod escalations;
mod links;
mod outbox;
mod retention;
mod sessions;
mod transfer;
mod users;
mod writer;

use super::Schema;
use super::cases::NewEscalation;
use super::codec::{self, Job, Migrations, db, unique_violation};
use super::{Result, Saved, StoreError};
use async_trait::async_trait;
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};
pub use writer::WriterStats;
use writer::{Counters, WRITE_QUEUE};

/// The migrations, embedded (see `codec::Migrations`).
pub(super) const MIGRATIONS: Migrations = &[
    (
        1,
        "init",
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "token expiry",
        include_str!("../../../migrations/postgres/0002_token_expiry.sql"),
    ),
    (
        3,
        "signin failures",
        include_str!("../../../migrations/postgres/0003_signin_failures.sql"),
    ),
    (
        4,
        "cases",
        include_str!("../../../migrations/postgres/0004_cases.sql"),
    ),
    (
        5,
        "feedback",
        include_str!("../../../migrations/postgres/0005_feedback.sql"),
    ),
    (
        6,
        "outcomes",
        include_str!("../../../migrations/postgres/0006_outcomes.sql"),
    ),
    (
        7,
        "ticket links",
        include_str!("../../../migrations/postgres/0007_ticket_links.sql"),
    ),
    (
        8,
        "user disabled",
        include_str!("../../../migrations/postgres/0008_user_disabled.sql"),
    ),
    (
        9,
        "retention",
        include_str!("../../../migrations/postgres/0009_retention.sql"),
    ),
    (
        10,
        "index costs",
        include_str!("../../../migrations/postgres/0010_index_costs.sql"),
    ),
];

/// The default pool size: enough connections for two cores to keep the
/// database busy while some wait for their commit's WAL flush, few enough
/// that several instances stay far below PostgreSQL's `max_connections`
/// (100 by default).
pub const DEFAULT_POOL: u32 = 16;
/// How long a request waits for a free connection before it fails. While
/// PostgreSQL is out of reach the pool keeps trying to connect for this
/// long, so a restart shorter than this costs the requests meanwhile
/// latency, not errors; a longer outage is a 503 `unavailable` after it
/// (a request that reads and then writes may wait twice). Longer would
/// keep people staring at a page that is going to fail; a pool exhausted
/// for this long is an overload to shed anyway.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The writer's own connection, for its batches.
    batches: PgPool,
    /// To open the migrations' own connection.
    options: PgConnectOptions,
    /// Starts and steps to the task that saves them (see `writer::write_batches`).
    writes: mpsc::Sender<(Job<OffsetDateTime>, codec::Reply)>,
    counters: Arc<Counters>,
}

impl PgStore {
    /// Connects to `postgres://…` (or `postgresql://…`) with at most
    /// `pool_size` connections (at least 2: one is the writer's). Call
    /// [`Store::migrate`](super::Store::migrate)
    /// before use.
    ///
    /// Starts the writer task on the current tokio runtime; it stops when
    /// the last clone of the store is dropped.
    pub async fn open(url: &str, pool_size: u32) -> Result<PgStore> {
        // sqlx's message may quote the URL, password included: not passed on.
        let options = PgConnectOptions::from_str(url)
            .map_err(|_| StoreError::database("the PostgreSQL URL is not valid"))?
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
        tokio::spawn(writer::write_batches(
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
    async fn write(&self, job: Job<OffsetDateTime>) -> Result<Saved> {
        let (reply, answer) = oneshot::channel();
        self.writes
            .send((job, reply))
            .await
            .map_err(codec::writer_stopped)?;
        self.counters.submitted.fetch_add(1, Ordering::Relaxed);
        answer.await.map_err(codec::writer_stopped)?
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

/// A failed step or start: a trail seq used twice is the caller's bug (a
/// database error, as in SQLite), a session or escalation id used twice a
/// duplicate.
fn write_error(
    e: sqlx::Error,
    session_id: &str,
    escalation: Option<&NewEscalation<OffsetDateTime>>,
) -> StoreError {
    match unique_violation(&e) {
        Some("trail_entries_pkey") => codec::trail_seq_taken(session_id),
        Some("sessions_pkey") => StoreError::Duplicate(format!("session `{session_id}`")),
        Some("escalations_pkey") => StoreError::Duplicate(format!(
            "escalation `{}`",
            escalation.map_or("?", |e| e.id.as_str())
        )),
        Some(_) => StoreError::Duplicate(format!("a row of session `{session_id}`")),
        None => db(e),
    }
}

/// The columns a session is read with; the trail comes as one JSON array of
/// `[retracted, entry, retraction]` triples, built in the same statement so
/// the session row and its trail are one consistent snapshot.
const SESSION_COLUMNS: &str = "s.id, s.token_hash, s.owner, s.reference, s.state, s.created_at, s.updated_at, \
     (SELECT '[' || string_agg('[' || t.retracted::int || ',' || t.entry || ',' || coalesce(t.retraction, 'null') || ']', ',' ORDER BY t.seq) || ']' \
      FROM trail_entries t WHERE t.session_id = s.id)";

impl PgStore {
    /// Migrates only up to `version`: for tests that write rows in an
    /// older schema's shape and then migrate them.
    #[doc(hidden)]
    pub async fn migrate_to(&self, version: i64) -> Result<()> {
        let n = MIGRATIONS.iter().take_while(|m| m.0 <= version).count();
        self.run_migrations(&MIGRATIONS[..n]).await
    }

    async fn run_migrations(&self, list: Migrations) -> Result<()> {
        let migrator = codec::migrator(list).await?;
        // A connection of its own, closed after: the advisory lock sqlx
        // takes around the migrations is a session lock, and must not stay
        // with a pooled connection should a migration fail half-way.
        // (A pool of one: sqlx's `run` takes a pool, not a bare connection.)
        let own = PgPoolOptions::new()
            .max_connections(1)
            .connect_with(self.options.clone())
            .await
            .map_err(codec::migration_error)?;
        let res = migrator.run(&own).await.map_err(codec::migration_error);
        own.close().await;
        res
    }
}

#[async_trait]
impl Schema for PgStore {
    async fn migrate(&self) -> Result<()> {
        self.run_migrations(MIGRATIONS).await
    }
}
