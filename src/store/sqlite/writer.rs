//! The step writer: group-committed starts and steps on the one writer
//! connection, and the WAL checkpoints kept off its path.

use super::Tx;
use crate::store::cases::{self, NewEscalation};
use crate::store::codec::{
    Entries, Job, Reply, StartJob, StepJob, db, duplicate_or_db, retractions_missing,
    trail_seq_taken, unique_violation,
};
use crate::store::{Result, Saved, StoreError};
use sqlx::sqlite::SqlitePool;
use std::time::Duration;
use tokio::sync::mpsc;

/// Writes waiting for the writer at most; more wait in their callers.
pub(super) const STEP_QUEUE: usize = 1024;
/// Writes committed together at most.
const MAX_BATCH: usize = 128;
/// Rows per multi-row INSERT of trail entries (4 parameters each).
const TRAIL_CHUNK: usize = 200;

pub(super) type StepQueue = mpsc::Sender<(Job<i64>, Reply)>;

/// Group commit: the writes that arrive while a transaction runs are saved
/// together in the next one. A commit costs the same for one step or a
/// hundred, and a step is a handful of statements, so under load most of a
/// step's cost (the transaction, the hand-offs between threads) is shared.
/// Each write is still all-or-nothing and answered only once committed: a
/// write that fails rolls its batch back, and the batch is then saved one
/// write per transaction, so the others are not held back by it. When the
/// transaction itself fails (the file is locked by another process past the
/// busy timeout, the disk is full), every write in it gets that error.
/// New sessions go through the batches too, so a start costs no transaction
/// of its own.
pub(super) async fn write_steps(pool: SqlitePool, mut rx: mpsc::Receiver<(Job<i64>, Reply)>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs: Vec<&Job<i64>> = batch.iter().map(|(j, _)| j).collect();
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
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

enum BatchError {
    /// A write failed; the others may well be saved without it.
    Step(StoreError),
    /// The transaction failed to begin or to commit.
    Whole(StoreError),
}

async fn save_batch(
    pool: &SqlitePool,
    jobs: &[&Job<i64>],
) -> std::result::Result<Vec<Saved>, BatchError> {
    let whole = |e| BatchError::Whole(db(e));
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.map_err(whole)?;
    let mut saved = Vec::with_capacity(jobs.len());
    for job in jobs {
        let one = match job {
            Job::Start(s) => save_start(&mut tx, s).await,
            Job::Step(s) => save_step(&mut tx, s).await,
        };
        saved.push(one.map_err(BatchError::Step)?);
    }
    tx.commit().await.map_err(whole)?;
    Ok(saved)
}

async fn save_start(tx: &mut Tx, s: &StartJob<i64>) -> Result<Saved> {
    sqlx::query(
        "INSERT INTO sessions (id, token_hash, owner, reference, script, status, seq, state, created_at, updated_at, \
             version, channel, outcome, ended_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULLIF(?6, 'active'), \
             CASE WHEN ?6 <> 'active' THEN ?10 END)",
    )
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
    .bind(&s.version)
    .bind(s.channel)
    .execute(&mut **tx)
    .await
    .map_err(|e| duplicate_or_db(e, || format!("session `{}`", s.id)))?;
    insert_trail(tx, &s.id, &s.entries).await?;
    if let Some(e) = &s.escalation {
        insert_escalation(tx, e).await?;
    }
    Ok(Saved::Ok)
}

async fn save_step(tx: &mut Tx, w: &StepJob<i64>) -> Result<Saved> {
    // One round trip to the connection for the usual step: the
    // compare-and-set (only from the seq the caller read) and, only if it
    // moved the session (`changes() = 1`), the new trail entries.
    let n = if w.entries.len() <= TRAIL_CHUNK {
        w.entries.len()
    } else {
        0
    };
    // A session's outcome is how it first ended (the migration says why):
    // set with the step that ends it, in the same statement. A step that
    // leaves the session active does not name those columns at all: SQLite
    // rewrites the entries of every index whose columns or condition an
    // UPDATE assigns (`sessions_open`, `sessions_unrolled`), even to the
    // same value, and most steps end nothing (measured: a quarter of the
    // writer's time per answer).
    let ends = w.status != "active";
    let mut sql = String::from(if ends {
        "UPDATE sessions SET state = ?, seq = ?, status = ?, updated_at = ?, \
             outcome = COALESCE(outcome, ?), \
             ended_at = CASE WHEN outcome IS NULL THEN ? ELSE ended_at END \
         WHERE id = ? AND seq = ?"
    } else {
        "UPDATE sessions SET state = ?, seq = ?, status = ?, updated_at = ? \
         WHERE id = ? AND seq = ?"
    });
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
        .bind(w.now);
    if ends {
        q = q.bind(w.status).bind(w.now);
    }
    q = q.bind(w.session_id.as_str()).bind(w.expected_seq);
    for i in 0..n {
        let (seq, json, retracted) = w.entries.row(i);
        q = q
            .bind(w.session_id.as_str())
            .bind(seq)
            .bind(json)
            .bind(retracted);
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
        return Err(StoreError::database(format!(
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
            "UPDATE trail_entries SET retracted = 1, retraction = ? WHERE session_id = ? AND seq IN (",
        );
        for i in 0..w.retracted.len() {
            sql.push_str(if i == 0 { "?" } else { ", ?" });
        }
        sql.push(')');
        let mut q = sqlx::query(&sql)
            .bind(w.retraction.as_deref())
            .bind(w.session_id.as_str());
        for &seq in &w.retracted {
            q = q.bind(seq);
        }
        let marked = q.execute(&mut **tx).await.map_err(db)?.rows_affected();
        if marked != w.retracted.len() as u64 {
            return Err(retractions_missing(&w.session_id, &w.retracted));
        }
    }
    if let Some(e) = &w.escalation {
        insert_escalation(tx, e).await?;
    }
    Ok(Saved::Ok)
}

async fn insert_trail(tx: &mut Tx, session_id: &str, entries: &Entries) -> Result<()> {
    let rows: Vec<usize> = (0..entries.len()).collect();
    for chunk in rows.chunks(TRAIL_CHUNK) {
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
        for &i in chunk {
            let (seq, json, retracted) = entries.row(i);
            q = q.bind(session_id).bind(seq).bind(json).bind(retracted);
        }
        q.execute(&mut **tx)
            .await
            .map_err(|e| trail_error(e, session_id))?;
    }
    Ok(())
}

fn trail_error(e: sqlx::Error, session_id: &str) -> StoreError {
    if unique_violation(&e).is_some() {
        trail_seq_taken(session_id)
    } else {
        db(e)
    }
}

async fn insert_escalation(tx: &mut Tx, e: &NewEscalation<i64>) -> Result<()> {
    cases::insert_case::<sqlx::Sqlite, i64>(&mut **tx, e).await
}

// ---------------------------------------------------------------- checkpoints

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// The writer checkpoints by itself only past this many WAL pages (~200 MB):
/// under continuous writes the WAL rarely resets, and a checkpoint on the
/// writer stalls every queued step for its fsyncs (measured: p99 62 ms at
/// 10,000 pages, 18 ms at 50,000 with the 250 ms background checkpoint).
pub(super) const BACKSTOP_PAGES: &str = "50000";

/// Copies the WAL back into the database file, off the writer's path.
///
/// With `synchronous=NORMAL` a commit never waits for the disk; a checkpoint
/// does (it syncs the WAL and the database file). SQLite runs one by itself
/// in the connection whose commit grew the WAL past a threshold, so that
/// commit, and under group commit every step in its batch, would wait out
/// the fsyncs: measured here, up to 1.5 s when the disk is busy. A PASSIVE
/// checkpoint from a reader connection waits for nobody and nobody waits for
/// it; the writer goes on appending meanwhile.
pub(super) async fn checkpoints(reader: SqlitePool, alive: mpsc::WeakSender<(Job<i64>, Reply)>) {
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
