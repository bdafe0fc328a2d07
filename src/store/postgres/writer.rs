//! The writer: group-committed starts and steps, one statement per batch,
//! and the single-write statements of a lone write.

use super::write_error;
use crate::store::cases::{self, NewEscalation};
use crate::store::codec::{Entries, Job, Reply, StartJob, StepJob, db, retractions_missing};
use crate::store::{Result, Saved, StoreError};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use time::OffsetDateTime;
use tokio::sync::mpsc;

/// The time PostgreSQL keeps.
type T = OffsetDateTime;

// ---------------------------------------------------------------- the writer

/// Writes waiting for the writer at most; more wait in their callers.
pub(super) const WRITE_QUEUE: usize = 1024;
/// Writes saved by one statement at most.
const MAX_BATCH: usize = 128;

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
pub(super) struct Counters {
    pub(super) submitted: AtomicU64,
    pub(super) batches: AtomicU64,
    pub(super) batched: AtomicU64,
    pub(super) largest: AtomicU64,
    pub(super) retried: AtomicU64,
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
pub(super) async fn write_batches(
    pool: PgPool,
    batches: PgPool,
    mut rx: mpsc::Receiver<(Job<T>, Reply)>,
    counters: Arc<Counters>,
) {
    let mut held: Vec<(Job<T>, Reply)> = Vec::new();
    loop {
        let mut batch: Vec<(Job<T>, Reply)> = Vec::with_capacity(MAX_BATCH);
        let mut ids: HashSet<String> = HashSet::new();
        let mut later: Vec<(Job<T>, Reply)> = Vec::new();
        let mut take = |job: (Job<T>, Reply), batch: &mut Vec<(Job<T>, Reply)>| {
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
    mut batch: Vec<(Job<T>, Reply)>,
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
    let jobs: Vec<&Job<T>> = batch.iter().map(|(j, _)| j).collect();
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
                let _ = reply.send(Err(e.clone()));
            }
        }
    }
}

/// Saves many writes (each of a different session) as one statement: the
/// steps' compare-and-sets (`UPDATE … FROM unnest(…)`), the new sessions,
/// and the trail rows of those that were saved. The last SELECT reports
/// each step: updated, or why not. (Writes that escalate never come here:
/// they are rare and go alone, in a transaction; see `save_step`.)
const BATCH_SQL: &str = "\
WITH st AS (
    SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[])
        AS st(id, expected, state, seq, status, now)),
up AS (
    UPDATE sessions s SET state = st.state, seq = st.seq, status = st.status, updated_at = st.now,
        outcome = COALESCE(s.outcome, NULLIF(st.status, 'active')),
        ended_at = CASE WHEN s.outcome IS NULL AND st.status <> 'active' THEN st.now ELSE s.ended_at END
    FROM st WHERE s.id = st.id AND s.seq = st.expected
    RETURNING s.id),
new AS (
    INSERT INTO sessions (id, token_hash, owner, reference, script, status, seq, state, created_at, updated_at,
                          version, channel, outcome, ended_at)
    SELECT n.*, NULLIF(n.status, 'active'), CASE WHEN n.status <> 'active' THEN n.updated_at END
    FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                $13::bigint[], $14::text[], $15::timestamptz[], $16::timestamptz[], $21::text[], $22::text[])
        AS n(id, token_hash, owner, reference, script, status, seq, state, created_at, updated_at, version, channel)
    RETURNING id),
saved AS (SELECT id FROM up UNION ALL SELECT id FROM new),
ins AS (
    INSERT INTO trail_entries (session_id, seq, entry, retracted)
    SELECT t.session_id, t.seq, t.entry, t.retracted
    FROM unnest($17::text[], $18::bigint[], $19::text[], $20::boolean[]) AS t(session_id, seq, entry, retracted)
    WHERE t.session_id IN (SELECT id FROM saved)
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
    new_version: Vec<&'a str>,
    new_channel: Vec<&'a str>,
    t_session: Vec<&'a str>,
    t_seq: Vec<i64>,
    t_entry: Vec<&'a str>,
    t_retracted: Vec<bool>,
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
}

/// One statement for `jobs` (each of a different session, none with
/// retractions): what each was, in their order.
async fn save_batch(
    pool: &PgPool,
    jobs: &[&Job<T>],
) -> std::result::Result<Vec<Saved>, sqlx::Error> {
    if jobs.iter().any(|j| match j {
        Job::Start(s) => s.escalation.is_some(),
        Job::Step(s) => s.escalation.is_some() || !s.retracted.is_empty(),
    }) {
        // `save_step` and `create_session` send these alone; said, not
        // assumed.
        return Err(sqlx::Error::Protocol(
            "a write that escalates or retracts reached a batch".into(),
        ));
    }
    let mut c = Columns::default();
    // Steps in the order of their session ids: two instances' batches then
    // lock the sessions they share in the same order, and do not deadlock.
    let mut steps: Vec<&StepJob<T>> = Vec::new();
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
                c.new_version.push(&s.version);
                c.new_channel.push(s.channel);
                c.trail(&s.id, &s.entries);
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
        .bind(&c.new_version)
        .bind(&c.new_channel)
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

/// One write, one statement (the path of a lone write, and of a refused
/// batch's writes); a write that escalates or retracts, a transaction.
pub(super) async fn save_alone(pool: &PgPool, job: &Job<T>) -> Result<Saved> {
    match job {
        Job::Start(s) => create_alone(pool, s).await.map(|()| Saved::Ok),
        Job::Step(s) => step_alone(pool, s).await,
    }
}

/// A session start alone: the session and its trail in one statement; with
/// its escalation (the case, its messages, its link token) in one
/// transaction.
pub(super) async fn create_alone(pool: &PgPool, s: &StartJob<T>) -> Result<()> {
    let sql = "WITH s AS (INSERT INTO sessions \
             (id, token_hash, owner, reference, script, status, seq, state, created_at, updated_at, \
              version, channel, outcome, ended_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $14, $15, NULLIF($6, 'active'), \
                     CASE WHEN $6 <> 'active' THEN $10 END) RETURNING id), \
         ins AS (INSERT INTO trail_entries (session_id, seq, entry, retracted) \
             SELECT s.id, x.seq, x.entry, x.retracted FROM s, \
             unnest($11::bigint[], $12::text[], $13::boolean[]) AS x(seq, entry, retracted) \
             RETURNING 1) \
         SELECT count(*) FROM s";
    let q = sqlx::query(sql)
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
        .bind(&s.entries.retracted)
        .bind(&s.version)
        .bind(s.channel);
    let err = |e| write_error(e, &s.id, s.escalation.as_ref());
    let Some(e) = &s.escalation else {
        q.fetch_one(pool).await.map_err(err)?;
        return Ok(());
    };
    let mut tx = pool.begin().await.map_err(db)?;
    q.fetch_one(&mut *tx).await.map_err(err)?;
    insert_escalation(&mut tx, e).await?;
    tx.commit().await.map_err(db)
}

async fn insert_escalation(
    tx: &mut sqlx::Transaction<'static, Postgres>,
    e: &NewEscalation<T>,
) -> Result<()> {
    cases::insert_case::<Postgres, T>(&mut **tx, e).await
}

/// A step alone: one statement, or a transaction when it retracts entries
/// or escalates.
pub(super) async fn step_alone(pool: &PgPool, w: &StepJob<T>) -> Result<Saved> {
    // The compare-and-set gates everything else: every other CTE writes
    // only if `up` returned the row. The last SELECT says what happened:
    // rows updated, entries marked retracted, and whether the session
    // exists at all (for NotFound against Conflict).
    let mut sql = String::from(
        "WITH up AS (UPDATE sessions SET state = $3, seq = $4, status = $5, updated_at = $6, \
                 outcome = COALESCE(outcome, NULLIF($5, 'active')), \
                 ended_at = CASE WHEN outcome IS NULL AND $5 <> 'active' THEN $6 ELSE ended_at END \
             WHERE id = $1 AND seq = $2 RETURNING id), \
         ins AS (INSERT INTO trail_entries (session_id, seq, entry, retracted) \
             SELECT up.id, x.seq, x.entry, x.retracted FROM up, \
             unnest($7::bigint[], $8::text[], $9::boolean[]) AS x(seq, entry, retracted) \
             RETURNING 1)",
    );
    let marked = if w.retracted.is_empty() {
        "0::bigint"
    } else {
        sql.push_str(
            ", ret AS (UPDATE trail_entries SET retracted = true, retraction = $11 \
                 WHERE session_id = $1 AND seq = ANY($10::bigint[]) \
                   AND EXISTS (SELECT 1 FROM up) RETURNING 1)",
        );
        "(SELECT count(*) FROM ret)"
    };
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
        q = q.bind(&w.retracted).bind(w.retraction.as_deref());
    }
    let err = |e| write_error(e, &w.session_id, w.escalation.as_ref());

    let counts = |row: PgRow| -> Result<(i64, i64, bool)> {
        Ok((
            row.try_get(0).map_err(db)?,
            row.try_get(1).map_err(db)?,
            row.try_get(2).map_err(db)?,
        ))
    };
    let (updated, exists) = if w.retracted.is_empty() && w.escalation.is_none() {
        // The usual step: one statement, atomic by itself.
        let (updated, _, exists) = counts(q.fetch_one(pool).await.map_err(err)?)?;
        (updated, exists)
    } else {
        // Retractions must all hit entries the trail has, or the step
        // fails whole; an escalation is written with the step or not at
        // all: only a transaction can take the statement back.
        let mut tx = pool.begin().await.map_err(db)?;
        let (updated, marked, exists) = counts(q.fetch_one(&mut *tx).await.map_err(err)?)?;
        if updated == 1 && marked != w.retracted.len() as i64 {
            tx.rollback().await.map_err(db)?;
            // A caller's bug: the step fails whole rather than save a
            // trail that does not match the state.
            return Err(retractions_missing(&w.session_id, &w.retracted));
        }
        if updated == 1
            && let Some(e) = &w.escalation
        {
            insert_escalation(&mut tx, e).await?;
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
            return Err(StoreError::database(format!(
                "session {}: saving a step changed {n} sessions",
                w.session_id
            )));
        }
    })
}
