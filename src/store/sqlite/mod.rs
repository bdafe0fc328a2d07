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
use super::codec::{self, Job, Migrations, db};
use super::{Result, Saved, StoreError};
use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::str::FromStr;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use writer::{STEP_QUEUE, StepQueue};

/// The migrations, embedded (see `codec::Migrations`).
pub(super) const MIGRATIONS: Migrations = &[
    (
        1,
        "init",
        include_str!("../../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "token expiry",
        include_str!("../../../migrations/sqlite/0002_token_expiry.sql"),
    ),
    (
        3,
        "signin failures",
        include_str!("../../../migrations/sqlite/0003_signin_failures.sql"),
    ),
    (
        4,
        "cases",
        include_str!("../../../migrations/sqlite/0004_cases.sql"),
    ),
    (
        5,
        "feedback",
        include_str!("../../../migrations/sqlite/0005_feedback.sql"),
    ),
    (
        6,
        "outcomes",
        include_str!("../../../migrations/sqlite/0006_outcomes.sql"),
    ),
    (
        7,
        "ticket links",
        include_str!("../../../migrations/sqlite/0007_ticket_links.sql"),
    ),
    (
        8,
        "user disabled",
        include_str!("../../../migrations/sqlite/0008_user_disabled.sql"),
    ),
    (
        9,
        "retention",
        include_str!("../../../migrations/sqlite/0009_retention.sql"),
    ),
    (
        10,
        "index costs",
        include_str!("../../../migrations/sqlite/0010_index_costs.sql"),
    ),
];

/// Readers in the pool; reads run in parallel in WAL mode.
const READERS: u32 = 8;

type Tx = Transaction<'static, Sqlite>;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: all writes.
    writer: SqlitePool,
    /// Reads. For an in-memory database this is the writer pool itself.
    reader: SqlitePool,
    /// Starts and steps to the task that saves them (see `writer::write_steps`).
    steps: StepQueue,
}

/// Whether the writer connection may go back to the pool: no transaction
/// left open on it, as sqlx counts them.
///
/// A COMMIT (or a statement) that fails with `SQLITE_FULL` or an I/O error
/// makes SQLite roll the transaction back by itself. sqlx still counts it
/// open; the ROLLBACK it then sends fails ("no transaction is active") and
/// the count stays, so every later `BEGIN IMMEDIATE` on the connection is
/// refused ("attempted to call begin_with at non-zero transaction depth"):
/// the one writer would stay broken after the disk had room again, until a
/// restart. Such a connection is closed instead, and the pool opens a fresh
/// one. A failed transaction whose rollback is still queued is closed too
/// (rare, and closing rolls it back); a committed one always counts zero.
fn settled(conn: &mut sqlx::SqliteConnection) -> bool {
    use sqlx::{Database, TransactionManager};
    <Sqlite as Database>::TransactionManager::get_transaction_depth(conn) == 0
}

impl SqliteStore {
    /// Hands a write to the writer task and waits for its commit.
    async fn write_job(&self, job: Job<i64>) -> Result<Saved> {
        let (reply, answer) = oneshot::channel();
        self.steps
            .send((job, reply))
            .await
            .map_err(codec::writer_stopped)?;
        answer.await.map_err(codec::writer_stopped)?
    }

    /// Opens (creating it and its folder if missing) the database at
    /// `sqlite://PATH`, `sqlite:PATH` or a plain `PATH`. `sqlite::memory:`
    /// works too (one connection, gone when the store is dropped), for
    /// throwaway use. Call [`Store::migrate`](super::Store::migrate) before use.
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
                StoreError::database_with(format!("could not create {}", dir.display()), e)
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
            .after_release(|conn, _| Box::pin(async move { Ok(settled(conn)) }))
            // Checkpoints are the background task's (see `checkpoints`);
            // this is only a backstop should it fall behind.
            .connect_with(
                opts.clone()
                    .pragma("wal_autocheckpoint", writer::BACKSTOP_PAGES),
            )
            .await
            .map_err(db)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .test_before_acquire(false)
            .connect_with(opts.pragma("query_only", "ON"))
            .await
            .map_err(db)?;
        let store = SqliteStore::with_pools(writer, reader);
        tokio::spawn(writer::checkpoints(
            store.reader.clone(),
            store.steps.downgrade(),
        ));
        Ok(store)
    }

    fn with_pools(writer: SqlitePool, reader: SqlitePool) -> SqliteStore {
        let (steps, rx) = mpsc::channel(STEP_QUEUE);
        // Ends when the last clone of the store is dropped.
        tokio::spawn(writer::write_steps(writer.clone(), rx));
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

    async fn begin_write(&self) -> Result<Tx> {
        self.writer.begin_with("BEGIN IMMEDIATE").await.map_err(db)
    }
}

/// The columns a session is read with; the trail comes as one JSON array of
/// `[retracted, entry, retraction]` triples, built in the same statement so
/// the session row and its trail are one consistent snapshot.
const SESSION_COLUMNS: &str = "s.id, s.token_hash, s.owner, s.reference, s.state, s.created_at, s.updated_at, \
     (SELECT '[' || group_concat('[' || t.retracted || ',' || t.entry || ',' || coalesce(t.retraction, 'null') || ']', ',' ORDER BY t.seq) || ']' \
      FROM trail_entries t WHERE t.session_id = s.id)";

impl SqliteStore {
    /// Migrates only up to `version`: for tests that write rows in an
    /// older schema's shape and then migrate them.
    #[doc(hidden)]
    pub async fn migrate_to(&self, version: i64) -> Result<()> {
        let n = MIGRATIONS.iter().take_while(|m| m.0 <= version).count();
        let migrator = codec::migrator(&MIGRATIONS[..n]).await?;
        migrator
            .run(&self.writer)
            .await
            .map_err(codec::migration_error)
    }
}

#[async_trait]
impl Schema for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        let migrator = codec::migrator(MIGRATIONS).await?;
        migrator
            .run(&self.writer)
            .await
            .map_err(codec::migration_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewUser, Role, User, Users};

    fn new_user(i: usize) -> NewUser {
        NewUser {
            user: User {
                name: format!("user{i}"),
                role: Role::Agent,
                tier: 1,
            },
            // Long, so every user takes pages of its own.
            password_hash: Some("x".repeat(6000)),
            token_hash: format!("{i:064}"),
        }
    }

    /// A write refused for a full database leaves the one writer usable:
    /// once there is room again, the next write goes through without a
    /// restart (see [`settled`]). `max_page_count` stands in for the disk
    /// (`tests/it/faults_disk.rs` fills a real one).
    #[tokio::test]
    async fn the_writer_takes_writes_again_once_a_full_database_has_room() {
        let dir = std::env::temp_dir().join(format!("fixpath-full-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open(&dir.join("full.db").to_string_lossy())
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
            .fetch_one(&store.writer)
            .await
            .unwrap();
        sqlx::query(&format!("PRAGMA max_page_count = {}", pages + 8))
            .execute(&store.writer)
            .await
            .unwrap();
        let mut saved = 0;
        let refused = loop {
            match store.create_user(&new_user(saved)).await {
                Ok(()) => saved += 1,
                Err(e) => break e,
            }
            assert!(saved < 100, "the page limit never bit");
        };
        assert!(
            matches!(refused, StoreError::Unavailable { .. }),
            "{refused:?}"
        );
        // Room again (a connection that was replaced has it already).
        sqlx::query("PRAGMA max_page_count = 1073741823")
            .execute(&store.writer)
            .await
            .unwrap();
        store.create_user(&new_user(saved)).await.unwrap();
        let now = time::OffsetDateTime::UNIX_EPOCH;
        assert_eq!(store.list_users(now).await.unwrap().len(), saved + 1);
        store.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}
