//! The SQL of section 11's figures, written once for both backends (see
//! `shared`): the idle sweep, the rollup job's reads and writes, and the
//! reads a report is computed from. Times are the backend's `T`; the
//! rollups key days as `YYYY-MM-DD` text on both, which sorts as dates do.
//!
//! Every read here goes through an index: the idle sweep and the active
//! count through `sessions_open` (sessions without an outcome), the rollup
//! job through `sessions_unrolled`, the figures through the rollup tables
//! (a row per script, version, channel, day and value, not per session)
//! and, for cases and ratings, one pass over the cases and ratings joined
//! to their sessions by primary key.

use super::codec::{DbTime, SessionRow, db, session_from_row};
use super::shared::Statements;
use super::{Abandoned, Result, StoreError};
use crate::stats::fold::{ALL_DAYS, Ended, Key, Rollup};
use crate::stats::{CaseData, GroupData, NodeData, Outcome, StatsData, StatsFilter, Versions};
use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Rows per multi-row upsert (at most 8 parameters each).
const UPSERT_CHUNK: usize = 100;

/// A value bound to a filter's placeholder.
enum Param {
    Text(String),
    Time(OffsetDateTime),
}

/// `WHERE` clauses and their parameters, numbered from `$1`.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<Param>,
}

impl Where {
    fn push(&mut self, clause: impl Fn(&str) -> String, p: Param) {
        self.params.push(p);
        let n = format!("${}", self.params.len());
        self.clauses.push(clause(&n));
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    /// The filter on a rollup table (`day` text) or, with `start` (the
    /// column of the session's start time), on sessions, cases or ratings.
    fn of(f: &StatsFilter, prefix: &str, start: Option<&str>) -> Where {
        let mut w = Where::default();
        if let Some(s) = &f.script {
            w.push(|n| format!("{prefix}script = {n}"), Param::Text(s.clone()));
        }
        if let Versions::Only(v) = &f.versions {
            // A version or a prefix of one; the length is ours, not the
            // caller's text.
            let len = v.chars().count();
            w.push(
                |n| format!("substr({prefix}version, 1, {len}) = {n}"),
                Param::Text(v.clone()),
            );
        }
        if let Some(c) = &f.channel {
            w.push(|n| format!("{prefix}channel = {n}"), Param::Text(c.clone()));
        }
        if let Some(start) = start {
            if let Some(d) = f.since {
                w.push(
                    |n| format!("{prefix}{start} >= {n}"),
                    Param::Time(d.midnight().assume_utc()),
                );
            }
            if let Some(d) = f.until.and_then(|d| d.next_day()) {
                w.push(
                    |n| format!("{prefix}{start} < {n}"),
                    Param::Time(d.midnight().assume_utc()),
                );
            }
        } else if f.since.is_none() && f.until.is_none() {
            w.push(
                |n| format!("{prefix}day = {n}"),
                Param::Text(ALL_DAYS.to_owned()),
            );
        } else {
            // The day rows only: `ALL_DAYS` sorts before every date.
            let since = f.since.map_or_else(|| "0".to_owned(), |d| d.to_string());
            w.push(|n| format!("{prefix}day >= {n}"), Param::Text(since));
            if let Some(d) = f.until {
                w.push(
                    |n| format!("{prefix}day <= {n}"),
                    Param::Text(d.to_string()),
                );
            }
        }
        w
    }
}

/// Binds a [`Where`]'s parameters in order.
fn bind_all<'q, DB, T, O>(
    mut q: sqlx::query::QueryAs<'q, DB, O, DB::Arguments<'q>>,
    params: &'q [Param],
) -> sqlx::query::QueryAs<'q, DB, O, DB::Arguments<'q>>
where
    DB: Database,
    T: DbTime + for<'e> Encode<'e, DB> + Type<DB> + Send + 'q,
    for<'e> &'e str: Encode<'e, DB> + Type<DB>,
{
    for p in params {
        q = match p {
            Param::Text(s) => q.bind(s.as_str()),
            Param::Time(t) => q.bind(T::to_db(*t)),
        };
    }
    q
}

/// A group of the figures by its script, version and channel.
fn group(
    groups: &mut BTreeMap<(String, String, String), GroupData>,
    script: String,
    version: String,
    channel: String,
) -> &mut GroupData {
    groups
        .entry((script.clone(), version.clone(), channel.clone()))
        .or_insert_with(|| GroupData {
            script,
            version,
            channel,
            ..GroupData::default()
        })
}

fn count(what: &str, n: i64) -> Result<u64> {
    u64::try_from(n).map_err(|_| StoreError::corrupt(format!("{what}: {n} is not a count")))
}

/// A backend's SQL for whole seconds from `a` to `b` (two time columns).
pub(super) type Seconds = fn(&str, &str) -> String;

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
    pub(super) async fn abandon_idle<T>(
        &self,
        now: OffsetDateTime,
        idle: time::Duration,
        limit: u32,
    ) -> Result<Vec<Abandoned>>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send,
        for<'r> (String, String, String): FromRow<'r, DB::Row>,
    {
        // A session updated after `cut` is not idle, and neither is one
        // created after it (it was updated since): the open sessions'
        // index, oldest first, finds the idle ones. The outer `outcome IS
        // NULL` makes a second instance's sweep of the same rows a no-op.
        let cut = T::to_db(now - idle);
        let rows = sqlx::query_as::<DB, (String, String, String)>(
            "UPDATE sessions SET outcome = 'abandoned', ended_at = updated_at \
             WHERE id IN (SELECT id FROM sessions \
                          WHERE outcome IS NULL AND created_at < $1 AND updated_at < $1 \
                          ORDER BY created_at LIMIT $2) \
               AND outcome IS NULL \
             RETURNING id, script, COALESCE(channel, '')",
        )
        .bind(cut)
        .bind(i64::from(limit.max(1)))
        .fetch_all(self.0)
        .await
        .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|(id, script, channel)| Abandoned {
                id,
                script,
                channel,
            })
            .collect())
    }

    /// `columns` are the backend's `SESSION_COLUMNS`.
    pub(super) async fn unrolled<T>(&self, columns: &str, limit: u32) -> Result<Vec<Ended>>
    where
        T: DbTime,
        UnrolledRow<T>: for<'r> FromRow<'r, DB::Row> + Send + Unpin,
    {
        let sql = format!(
            "SELECT {columns}, s.outcome, s.ended_at FROM sessions s \
             WHERE s.outcome IS NOT NULL AND s.rolled = 0 ORDER BY s.ended_at LIMIT $1"
        );
        let rows = sqlx::query_as::<DB, UnrolledRow<T>>(&sql)
            .bind(i64::from(limit.max(1)))
            .fetch_all(self.0)
            .await
            .map_err(db)?;
        rows.into_iter().map(ended_from_row).collect()
    }

    pub(super) async fn stats_data<T>(&self, f: &StatsFilter, seconds: Seconds) -> Result<StatsData>
    where
        T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send + Sync,
        for<'r> (String, String, String, String, i64, i64): FromRow<'r, DB::Row>,
        for<'r> (String, String, String, String, i64, i64, i64): FromRow<'r, DB::Row>,
        for<'r> (String, String, String, String, String, i64): FromRow<'r, DB::Row>,
        for<'r> (String, String, String, i64): FromRow<'r, DB::Row>,
        for<'r> (String, String, String, i64, i64): FromRow<'r, DB::Row>,
        for<'r> CaseRow: FromRow<'r, DB::Row>,
    {
        let mut groups = BTreeMap::new();
        let roll = Where::of(f, "", None);
        let w = roll.sql();

        let sql = format!(
            "SELECT script, version, channel, outcome, seconds, CAST(SUM(sessions) AS BIGINT) \
             FROM stats_outcomes{w} GROUP BY script, version, channel, outcome, seconds"
        );
        let q = sqlx::query_as::<DB, (String, String, String, String, i64, i64)>(&sql);
        for (s, v, c, outcome, secs, n) in bind_all::<DB, T, _>(q, &roll.params)
            .fetch_all(self.0)
            .await
            .map_err(db)?
        {
            let outcome = Outcome::parse(&outcome)
                .ok_or_else(|| StoreError::corrupt(format!("rollup outcome `{outcome}`")))?;
            let n = count("rollup sessions", n)?;
            group(&mut groups, s, v, c)
                .outcomes
                .entry(outcome)
                .or_default()
                .add(secs, n);
        }

        let sql = format!(
            "SELECT script, version, channel, node, CAST(SUM(entered) AS BIGINT), \
                    CAST(SUM(abandoned) AS BIGINT), CAST(SUM(escalated) AS BIGINT) \
             FROM stats_nodes{w} GROUP BY script, version, channel, node"
        );
        let q = sqlx::query_as::<DB, (String, String, String, String, i64, i64, i64)>(&sql);
        for (s, v, c, node, entered, abandoned, escalated) in bind_all::<DB, T, _>(q, &roll.params)
            .fetch_all(self.0)
            .await
            .map_err(db)?
        {
            let d = node_of(&mut groups, s, v, c, node);
            d.entered += count("rollup entered", entered)?;
            d.abandoned += count("rollup abandoned", abandoned)?;
            d.escalated += count("rollup escalated", escalated)?;
        }

        let sql = format!(
            "SELECT script, version, channel, node, answer, CAST(SUM(n) AS BIGINT) \
             FROM stats_answers{w} GROUP BY script, version, channel, node, answer"
        );
        let q = sqlx::query_as::<DB, (String, String, String, String, String, i64)>(&sql);
        for (s, v, c, node, answer, n) in bind_all::<DB, T, _>(q, &roll.params)
            .fetch_all(self.0)
            .await
            .map_err(db)?
        {
            *node_of(&mut groups, s, v, c, node)
                .answers
                .entry(answer)
                .or_default() += count("rollup answers", n)?;
        }

        let sql = format!(
            "SELECT script, version, channel, node, seconds, CAST(SUM(n) AS BIGINT) \
             FROM stats_dwell{w} GROUP BY script, version, channel, node, seconds"
        );
        let q = sqlx::query_as::<DB, (String, String, String, String, i64, i64)>(&sql);
        for (s, v, c, node, secs, n) in bind_all::<DB, T, _>(q, &roll.params)
            .fetch_all(self.0)
            .await
            .map_err(db)?
        {
            let n = count("rollup dwell", n)?;
            node_of(&mut groups, s, v, c, node).dwell.add(secs, n);
        }

        // What is not rolled up: sessions without an outcome, and the
        // cases and ratings of the sessions that started in the range (by
        // the session's script, version, channel and start they carry).
        let live = Where::of(f, "s.", Some("created_at"));
        let lw = live.sql();
        let open = if lw.is_empty() {
            " WHERE s.outcome IS NULL".to_owned()
        } else {
            format!("{lw} AND s.outcome IS NULL")
        };
        // Grouped by expressions, not columns: with `GROUP BY s.script`
        // SQLite walks the whole `sessions_started` index to skip a sort;
        // the open sessions' index reads only the active ones.
        let sql = format!(
            "SELECT s.script || '', COALESCE(s.version, ''), COALESCE(s.channel, ''), COUNT(*) \
             FROM sessions s{open} GROUP BY 1, 2, 3"
        );
        let q = sqlx::query_as::<DB, (String, String, String, i64)>(&sql);
        for (s, v, c, n) in bind_all::<DB, T, _>(q, &live.params)
            .fetch_all(self.0)
            .await
            .map_err(db)?
        {
            group(&mut groups, s, v, c).active += count("active sessions", n)?;
        }

        let first = seconds("e.created_at", "e.first_response_at");
        let resolution = seconds("e.created_at", "e.resolved_at");
        let cases = Where::of(f, "e.", Some("started_at"));
        let cw = cases.sql();
        let sql = format!(
            "SELECT e.script || '', COALESCE(e.version, ''), COALESCE(e.channel, ''), \
                    CASE WHEN e.status = 'resolved' THEN 1 ELSE 0 END, \
                    CAST(e.reopened AS BIGINT), CAST(e.breached_response AS BIGINT), \
                    CAST(e.breached_resolution AS BIGINT), \
                    CASE WHEN e.first_response_at IS NULL THEN -1 ELSE {first} END, \
                    CASE WHEN e.resolved_at IS NULL THEN -1 ELSE {resolution} END, COUNT(*) \
             FROM escalations e{cw} \
             GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9"
        );
        let q = sqlx::query_as::<DB, CaseRow>(&sql);
        for (s, v, c, resolved, reopened, br, brr, first, res, n) in
            bind_all::<DB, T, _>(q, &cases.params)
                .fetch_all(self.0)
                .await
                .map_err(db)?
        {
            let n = count("cases", n)?;
            let cases: &mut CaseData = &mut group(&mut groups, s, v, c).cases;
            cases.count += n;
            let flag = |x: i64| if x != 0 { n } else { 0 };
            cases.resolved += flag(i64::from(resolved));
            cases.reopened += flag(reopened);
            cases.breached_response += flag(br);
            cases.breached_resolution += flag(brr);
            if first >= 0 {
                cases.first_response.add(first, n);
            }
            if res >= 0 {
                cases.resolution.add(res, n);
            }
        }

        let ratings = Where::of(f, "f.", Some("started_at"));
        let fw = ratings.sql();
        let sql = format!(
            "SELECT f.script || '', COALESCE(f.version, ''), COALESCE(f.channel, ''), \
                    CAST(f.score AS BIGINT), COUNT(*) \
             FROM feedback f{fw} GROUP BY 1, 2, 3, 4"
        );
        let q = sqlx::query_as::<DB, (String, String, String, i64, i64)>(&sql);
        for (s, v, c, score, n) in bind_all::<DB, T, _>(q, &ratings.params)
            .fetch_all(self.0)
            .await
            .map_err(db)?
        {
            let slot = usize::try_from(score - 1)
                .ok()
                .filter(|i| *i < 5)
                .ok_or_else(|| StoreError::corrupt(format!("feedback score {score}")))?;
            group(&mut groups, s, v, c).csat[slot] += count("ratings", n)?;
        }

        Ok(StatsData {
            groups: groups.into_values().collect(),
        })
    }
}

/// A group of cases alike: script, version, channel, resolved (0/1),
/// reopened, breached response, breached resolution, seconds to the first
/// response and to the resolution (-1: none), how many.
pub(super) type CaseRow = (String, String, String, i32, i64, i64, i64, i64, i64, i64);

fn node_of(
    groups: &mut BTreeMap<(String, String, String), GroupData>,
    s: String,
    v: String,
    c: String,
    node: String,
) -> &mut NodeData {
    group(groups, s, v, c).nodes.entry(node).or_default()
}

/// A session row (see `SessionRow`) and its outcome and end.
pub(super) type UnrolledRow<T> = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    T,
    T,
    Option<String>,
    String,
    Option<T>,
);

fn ended_from_row<T: DbTime>(row: UnrolledRow<T>) -> Result<Ended> {
    let (id, token, owner, reference, state, created, updated, trail, outcome, ended_at) = row;
    let outcome = Outcome::parse(&outcome)
        .ok_or_else(|| StoreError::corrupt(format!("outcome `{outcome}` of session {id}")))?;
    let ended_at = match ended_at {
        Some(t) => Some(t.to_time(&|| format!("ended_at of session {id}"))?),
        None => None,
    };
    let row: SessionRow<T> = (id, token, owner, reference, state, created, updated, trail);
    let s = session_from_row(row)?;
    Ok(Ended {
        ended_at: ended_at.unwrap_or(s.updated_at),
        created_at: s.created_at,
        id: s.id,
        session: s.state,
        outcome,
    })
}

/// Adds `rollup` (the fold of `ids`) on `conn`, inside the caller's
/// transaction: `false`, with nothing to commit, when any of `ids` was
/// folded already (another instance got there first).
pub(super) async fn add_rollup<DB>(
    conn: &mut DB::Connection,
    ids: &[String],
    rollup: &Rollup,
) -> Result<bool>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> (String,): FromRow<'r, DB::Row>,
{
    for chunk in ids.chunks(500) {
        let mut sql = String::from("UPDATE sessions SET rolled = 1 WHERE rolled = 0 AND id IN (");
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", i + 1));
        }
        sql.push_str(") RETURNING id");
        let mut q = sqlx::query_as::<DB, (String,)>(&sql);
        for id in chunk {
            q = q.bind(id.as_str());
        }
        let marked = q.fetch_all(&mut *conn).await.map_err(db)?;
        if marked.len() != chunk.len() {
            return Ok(false);
        }
    }
    let outcomes: Vec<_> = rollup.outcomes.iter().collect();
    for chunk in outcomes.chunks(UPSERT_CHUNK) {
        let rows = chunk
            .iter()
            .map(|((k, o, secs), n)| row(k, vec![V::T(o.as_str()), V::I(*secs), V::I(as_i64(**n))]))
            .collect::<Vec<_>>();
        upsert::<DB>(
            conn,
            "stats_outcomes (script, version, channel, day, outcome, seconds, sessions)",
            "(script, version, channel, day, outcome, seconds)",
            "sessions = stats_outcomes.sessions + excluded.sessions",
            &rows,
        )
        .await?;
    }
    let nodes: Vec<_> = rollup.nodes.iter().collect();
    for chunk in nodes.chunks(UPSERT_CHUNK) {
        let rows = chunk
            .iter()
            .map(|((k, node), c)| {
                row(
                    k,
                    vec![
                        V::T(node),
                        V::I(as_i64(c.entered)),
                        V::I(as_i64(c.abandoned)),
                        V::I(as_i64(c.escalated)),
                    ],
                )
            })
            .collect::<Vec<_>>();
        upsert::<DB>(
            conn,
            "stats_nodes (script, version, channel, day, node, entered, abandoned, escalated)",
            "(script, version, channel, day, node)",
            "entered = stats_nodes.entered + excluded.entered, \
             abandoned = stats_nodes.abandoned + excluded.abandoned, \
             escalated = stats_nodes.escalated + excluded.escalated",
            &rows,
        )
        .await?;
    }
    let answers: Vec<_> = rollup.answers.iter().collect();
    for chunk in answers.chunks(UPSERT_CHUNK) {
        let rows = chunk
            .iter()
            .map(|((k, node, answer), n)| row(k, vec![V::T(node), V::T(answer), V::I(as_i64(**n))]))
            .collect::<Vec<_>>();
        upsert::<DB>(
            conn,
            "stats_answers (script, version, channel, day, node, answer, n)",
            "(script, version, channel, day, node, answer)",
            "n = stats_answers.n + excluded.n",
            &rows,
        )
        .await?;
    }
    let dwell: Vec<_> = rollup.dwell.iter().collect();
    for chunk in dwell.chunks(UPSERT_CHUNK) {
        let rows = chunk
            .iter()
            .map(|((k, node, secs), n)| row(k, vec![V::T(node), V::I(*secs), V::I(as_i64(**n))]))
            .collect::<Vec<_>>();
        upsert::<DB>(
            conn,
            "stats_dwell (script, version, channel, day, node, seconds, n)",
            "(script, version, channel, day, node, seconds)",
            "n = stats_dwell.n + excluded.n",
            &rows,
        )
        .await?;
    }
    Ok(true)
}

fn as_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One value of an upserted row.
enum V<'a> {
    T(&'a str),
    I(i64),
}

fn row<'a>(k: &'a Key, rest: Vec<V<'a>>) -> Vec<V<'a>> {
    let mut r = vec![
        V::T(&k.script),
        V::T(&k.version),
        V::T(&k.channel),
        V::T(&k.day),
    ];
    r.extend(rest);
    r
}

async fn upsert<DB>(
    conn: &mut DB::Connection,
    table: &str,
    key: &str,
    add: &str,
    rows: &[Vec<V<'_>>],
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    if rows.is_empty() {
        return Ok(());
    }
    let mut sql = format!("INSERT INTO {table} VALUES ");
    let mut n = 0;
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for j in 0..r.len() {
            n += 1;
            if j > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${n}"));
        }
        sql.push(')');
    }
    sql.push_str(&format!(" ON CONFLICT {key} DO UPDATE SET {add}"));
    let mut q = sqlx::query::<DB>(&sql);
    for r in rows {
        for v in r {
            q = match v {
                V::T(s) => q.bind(*s),
                V::I(i) => q.bind(*i),
            };
        }
    }
    q.execute(&mut *conn).await.map_err(db)?;
    Ok(())
}
