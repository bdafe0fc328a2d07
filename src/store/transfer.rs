//! Export, import and migrate (contract section 13), the same SQL on both
//! backends: every kind of [`crate::transfer::KINDS`] read in its order as
//! a stream, and written back with its key's conflicts skipped.
//!
//! Reading streams: one statement per kind whose rows are decoded and
//! handed on one at a time (PostgreSQL sends them as the client reads,
//! SQLite steps its cursor), so memory stays flat however big the table.
//! All kinds are read in one read transaction: the export is one snapshot,
//! even while the server writes.

use super::codec::{DbTime, db};
use super::{Result, StoreError};
use crate::transfer::{Dated, Kind, Range, Row, Ty, Value};
use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row as _, Type};

/// Where rows read go (a file, a digest, another database).
#[async_trait]
pub trait Sink: Send {
    /// `kind`'s rows begin; called for every kind asked for, empty or not.
    async fn kind(&mut self, kind: &'static Kind) -> Result<()>;
    async fn row(&mut self, kind: &'static Kind, row: Row) -> Result<()>;
}

/// Rows out and in.
#[async_trait]
pub trait Transfer: Send + Sync + 'static {
    /// Reads `kinds`, in this order, each in the export's order and
    /// limited to `range` (see [`Dated`]), in one read transaction.
    async fn read_rows(
        &self,
        kinds: &[&'static Kind],
        range: &Range,
        sink: &mut dyn Sink,
    ) -> Result<()>;
    /// A write transaction to load rows with; nothing is kept unless it is
    /// committed.
    async fn load(&self) -> Result<Box<dyn Load>>;
}

/// A write transaction loading rows.
#[async_trait]
pub trait Load: Send {
    /// Inserts rows of one kind (at most [`BATCH`]), skipping those whose
    /// key is there already; how many were added.
    async fn insert(&mut self, kind: &'static Kind, rows: &[Row]) -> Result<u64>;
    /// Whether the kind's table has a row.
    async fn any(&mut self, kind: &'static Kind) -> Result<bool>;
    async fn commit(self: Box<Self>) -> Result<()>;
}

/// Rows per INSERT: 200 rows of the widest kind (25 fields) are 5,000
/// parameters, under SQLite's limit (32,766) and PostgreSQL's (65,535).
pub const BATCH: usize = 200;

/// What differs between the backends' statements.
pub(super) struct Dialect {
    /// The column that orders rows by arrival (`rowid`, `arrival`).
    pub(super) arrival: &'static str,
    /// Appended to a text key in ORDER BY: byte order on both backends
    /// (PostgreSQL's default collation may be a language's).
    pub(super) collate: &'static str,
}

/// The SELECT of `kind` within `range` (parameters: since, then until, as
/// given).
fn select_sql(d: &Dialect, kind: &Kind, range: &Range) -> String {
    let columns: Vec<String> = kind
        .fields
        .iter()
        .map(|f| match f.ty {
            Ty::Text | Ty::Time => f.column.to_owned(),
            Ty::Int => format!("CAST({} AS BIGINT)", f.column),
            Ty::Bool => format!("CAST(CASE WHEN {} THEN 1 ELSE 0 END AS BIGINT)", f.column),
        })
        .collect();
    let mut started = Vec::new();
    let mut n = 0;
    if range.since.is_some() {
        n += 1;
        started.push(format!("created_at >= ${n}"));
    }
    if range.until.is_some() {
        n += 1;
        started.push(format!("created_at < ${n}"));
    }
    let started = started.join(" AND ");
    let filter = if range.is_all() {
        String::new()
    } else {
        match kind.dated {
            Dated::Start => format!(" WHERE {started}"),
            Dated::Session(col) => {
                format!(" WHERE {col} IN (SELECT id FROM sessions WHERE {started})")
            }
            Dated::Case(col) => format!(
                " WHERE {col} IN (SELECT id FROM escalations WHERE session_id IN \
                 (SELECT id FROM sessions WHERE {started}))"
            ),
            Dated::Every | Dated::Undated => String::new(),
        }
    };
    let order = if kind.arrival {
        d.arrival.to_owned()
    } else {
        kind.key
            .iter()
            .filter_map(|k| kind.field(k).map(|i| &kind.fields[i]))
            .map(|f| {
                if f.ty == Ty::Text {
                    format!("{}{}", f.column, d.collate)
                } else {
                    f.column.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "SELECT {} FROM {}{filter} ORDER BY {order}",
        columns.join(", "),
        kind.table
    )
}

/// Reads `kinds` on `conn` (inside the caller's read transaction).
pub(super) async fn read_rows<DB, T>(
    conn: &mut DB::Connection,
    d: &Dialect,
    kinds: &[&'static Kind],
    range: &Range,
    sink: &mut dyn Sink,
) -> Result<()>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    T: DbTime + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB> + Send + 'static,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    for &kind in kinds {
        sink.kind(kind).await?;
        let sql = select_sql(d, kind, range);
        let mut q = sqlx::query::<DB>(&sql);
        if !matches!(kind.dated, Dated::Every | Dated::Undated) {
            if let Some(t) = range.since {
                q = q.bind(T::to_db(t));
            }
            if let Some(t) = range.until {
                q = q.bind(T::to_db(t));
            }
        }
        let mut rows = q.fetch(&mut *conn);
        while let Some(r) = rows.try_next().await.map_err(db)? {
            let row = decode_row::<DB, T>(kind, &r)?;
            sink.row(kind, row).await?;
        }
    }
    Ok(())
}

fn decode_row<DB, T>(kind: &Kind, r: &DB::Row) -> Result<Row>
where
    DB: Database,
    T: DbTime + for<'r> Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    usize: ColumnIndex<DB::Row>,
{
    let mut row = Vec::with_capacity(kind.fields.len());
    for (i, f) in kind.fields.iter().enumerate() {
        let what = || format!("{} of a {}", f.name, kind.name);
        let v = match f.ty {
            Ty::Text => r
                .try_get::<Option<String>, _>(i)
                .map_err(db)?
                .map_or(Value::Null, Value::Text),
            Ty::Int => r
                .try_get::<Option<i64>, _>(i)
                .map_err(db)?
                .map_or(Value::Null, Value::Int),
            Ty::Bool => r
                .try_get::<Option<i64>, _>(i)
                .map_err(db)?
                .map_or(Value::Null, |n| Value::Bool(n != 0)),
            Ty::Time => match r.try_get::<Option<T>, _>(i).map_err(db)? {
                Some(t) => Value::Time(t.to_time(&what)?),
                None => Value::Null,
            },
        };
        if v == Value::Null && !f.null {
            return Err(StoreError::corrupt(format!("{} is NULL", what())));
        }
        row.push(v);
    }
    Ok(row)
}

/// Inserts `rows` of `kind` on `conn`, skipping rows already there; the
/// backend reads how many were added from the result.
pub(super) async fn insert_rows<DB, T>(
    conn: &mut DB::Connection,
    kind: &Kind,
    rows: &[Row],
) -> Result<Option<DB::QueryResult>>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    T: DbTime + for<'q> Encode<'q, DB> + Type<DB> + Send + 'static,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
    for<'q> Option<bool>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<T>: Encode<'q, DB> + Type<DB>,
{
    if rows.is_empty() {
        return Ok(None);
    }
    let width = kind.fields.len();
    let mut values = Vec::with_capacity(rows.len());
    for r in 0..rows.len() {
        let ps: Vec<String> = (1..=width).map(|c| format!("${}", r * width + c)).collect();
        values.push(format!("({})", ps.join(", ")));
    }
    let names: Vec<&str> = kind.fields.iter().map(|f| f.column).collect();
    let sql = format!(
        "INSERT INTO {} ({}) VALUES {} ON CONFLICT DO NOTHING",
        kind.table,
        names.join(", "),
        values.join(", ")
    );
    let mut q = sqlx::query::<DB>(&sql);
    for row in rows {
        if row.len() != width {
            return Err(StoreError::database(format!(
                "a {} row has {} values, not {width}",
                kind.name,
                row.len()
            )));
        }
        for (f, v) in kind.fields.iter().zip(row) {
            q = match (v, f.ty) {
                (Value::Text(s), _) => q.bind(s.as_str()),
                (Value::Int(n), _) => q.bind(*n),
                (Value::Bool(b), _) => q.bind(*b),
                (Value::Time(t), _) => q.bind(T::to_db(*t)),
                (Value::Null, Ty::Text) => q.bind(None::<&str>),
                (Value::Null, Ty::Int) => q.bind(None::<i64>),
                (Value::Null, Ty::Bool) => q.bind(None::<bool>),
                (Value::Null, Ty::Time) => q.bind(None::<T>),
            };
        }
    }
    q.execute(&mut *conn).await.map(Some).map_err(db)
}

/// Whether `kind`'s table has a row.
pub(super) async fn any<DB>(conn: &mut DB::Connection, kind: &Kind) -> Result<bool>
where
    DB: Database,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'r> (i64,): sqlx::FromRow<'r, DB::Row>,
{
    let sql = format!(
        "SELECT count(*) FROM (SELECT 1 FROM {} LIMIT 1) AS x",
        kind.table
    );
    let (n,): (i64,) = sqlx::query_as::<DB, (i64,)>(&sql)
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    Ok(n > 0)
}
