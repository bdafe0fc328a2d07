//! What both backends share: how the core's types become columns and come
//! back, the migrator, the encoded writes, the error mapping. The backends
//! hold only their SQL and how they run it.
//!
//! Row mapping is generic over the time type a backend keeps ([`DbTime`]):
//! SQLite stores INTEGER milliseconds, PostgreSQL `timestamptz` truncated to
//! the millisecond, so both read back the same values.

use super::cases::NewEscalation;
use super::{
    NewCase, OutboxMessage, Result, Role, StepWrite, StoreError, StoredSession, User, event_payload,
};
use crate::engine::{Channel, Ending, Frame, Pin, Session, Status, TrailEntry, Vars};
use serde::Serialize;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};
use std::borrow::Cow;
use time::OffsetDateTime;

/// Default and largest page of a listing.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

// ---------------------------------------------------------------- errors

/// A driver error: a value that does not decode is corrupt data; a
/// database that cannot take requests just now (see [`unavailable`]) is
/// unavailable; anything else the database's failure. The driver's error is
/// kept as the source.
pub(super) fn db(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::corrupt_from(e),
        e if unavailable(&e) => StoreError::unavailable_from(e),
        e => StoreError::database_from(e),
    }
}

/// Whether `e` says the database is out of reach or out of room rather than
/// that the statement was wrong: the connection broke or was refused, the
/// pool found no connection in time, PostgreSQL is shutting down or
/// starting (SQLSTATE class 08, 57P01–57P03) or out of disk or memory
/// (53xxx), SQLite's file is full, locked past the busy timeout, or could
/// not be read or written (`SQLITE_FULL`, `SQLITE_BUSY`, `SQLITE_IOERR`,
/// `SQLITE_CANTOPEN`).
fn unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => {
            let code = d.code().unwrap_or_default();
            if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // The primary result code is the low byte of the extended
                // one sqlx reports.
                let primary = code.parse::<i32>().map_or(-1, |c| c & 0xff);
                matches!(primary, 5 | 10 | 13 | 14)
            } else {
                code.starts_with("08") || code.starts_with("53") || code.starts_with("57P")
            }
        }
        _ => false,
    }
}

/// The name of the unique constraint `e` violated (`""` where the database
/// does not say), if that is what it is.
pub(super) fn unique_violation(e: &sqlx::Error) -> Option<&str> {
    match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Some(d.constraint().unwrap_or("")),
        _ => None,
    }
}

/// A unique-key violation as [`StoreError::Duplicate`] naming `what`; any
/// other error as [`db`] maps it.
pub(super) fn duplicate_or_db(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if unique_violation(&e).is_some() {
        StoreError::Duplicate(what())
    } else {
        db(e)
    }
}

/// A trail seq used twice: the caller's bug, a database error.
pub(super) fn trail_seq_taken(session_id: &str) -> StoreError {
    StoreError::database(format!(
        "session {session_id} already has a trail entry with one of these seqs"
    ))
}

/// Retractions that miss the trail: the step fails whole rather than save a
/// trail that does not match the state.
pub(super) fn retractions_missing(session_id: &str, retracted: &[i64]) -> StoreError {
    StoreError::database(format!(
        "session {session_id}: retracted entries {retracted:?} are not all in the trail"
    ))
}

pub(super) fn writer_stopped<T>(_: T) -> StoreError {
    StoreError::database("the writer has stopped")
}

pub(super) fn no_user(name: &str) -> StoreError {
    StoreError::NotFound(format!("user `{name}`"))
}

// ---------------------------------------------------------------- values

/// A time as a backend keeps it.
pub(super) trait DbTime: Sized + Copy {
    fn to_db(t: OffsetDateTime) -> Self;
    /// `what` names the value in the error, should it not be a time.
    fn to_time(self, what: &dyn Fn() -> String) -> Result<OffsetDateTime>;
}

/// SQLite: milliseconds since the Unix epoch.
impl DbTime for i64 {
    fn to_db(t: OffsetDateTime) -> i64 {
        // Within OffsetDateTime's range (±9999 years) this fits an i64.
        t.unix_timestamp_nanos().div_euclid(1_000_000) as i64
    }

    fn to_time(self, what: &dyn Fn() -> String) -> Result<OffsetDateTime> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(self) * 1_000_000)
            .map_err(|_| StoreError::corrupt(format!("{}: {self} is not a time", what())))
    }
}

/// PostgreSQL: `timestamptz`, floored to the millisecond.
impl DbTime for OffsetDateTime {
    fn to_db(t: OffsetDateTime) -> OffsetDateTime {
        // Flooring the sub-second part only: always a valid time.
        t.replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
            .unwrap_or(t)
    }

    fn to_time(self, _: &dyn Fn() -> String) -> Result<OffsetDateTime> {
        Ok(self)
    }
}

/// `t` as it reads back from a store keeping times as `T`.
pub(super) fn as_stored<T: DbTime>(t: OffsetDateTime) -> Result<OffsetDateTime> {
    T::to_db(t).to_time(&|| "now".into())
}

pub(super) fn encode(what: &str, v: &impl Serialize) -> Result<String> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::database_with(format!("could not encode {what}"), e))
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(what: &str, s: &str) -> Result<T> {
    serde_json::from_str(s).map_err(|e| StoreError::corrupt_with(what.to_owned(), e))
}

pub(super) fn small_int<T: TryFrom<i64>>(what: &str, v: impl Into<i64>) -> Result<T> {
    let v = v.into();
    T::try_from(v).map_err(|_| StoreError::corrupt(format!("{what}: {v} is out of range")))
}

/// A stored count, saturating rather than failing: a count is never read
/// back as more than it can say.
pub(super) fn count(v: impl Into<i64>) -> u32 {
    u32::try_from(v.into()).unwrap_or(u32::MAX)
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
        .map_err(|e| StoreError::database_with("no randomness for a message id".into(), e))?;
    let mut s = String::with_capacity(36);
    s.push_str("msg_");
    for x in b {
        s.push_str(&format!("{x:02x}"));
    }
    Ok(s)
}

pub(super) fn clamp_limit(limit: u32) -> i64 {
    i64::from(if limit == 0 {
        DEFAULT_LIMIT
    } else {
        limit.min(MAX_LIMIT)
    })
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
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    erased_at: Option<OffsetDateTime>,
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
        erased_at,
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
            erased_at: *erased_at,
        },
    )
}

// ---------------------------------------------------------------- reading rows

/// A session row: its columns, then the trail as one JSON array of
/// `[retracted, entry, retraction]` triples (see each backend's
/// `SESSION_COLUMNS`; `retraction` is `{by, at}` or null).
pub(super) type SessionRow<T> = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    T,
    T,
    Option<String>,
);

pub(super) fn session_from_row<T: DbTime>(row: SessionRow<T>) -> Result<StoredSession> {
    let (id, token_hash, owner, reference, state, created_at, updated_at, trail) = row;
    let mut state: Session = decode(&format!("state of session {id}"), &state)?;
    if let Some(trail) = trail {
        let entries: Vec<(u8, TrailEntry, Option<Retraction>)> =
            decode(&format!("trail of session {id}"), &trail)?;
        state.trail = entries
            .into_iter()
            .map(|(retracted, mut e, retraction)| {
                match retraction {
                    Some(r) if retracted != 0 => e.retract(r.by.into(), r.at),
                    _ => e.set_retracted(retracted != 0),
                }
                e
            })
            .collect();
        state.trail.shrink_to_fit();
    }
    Ok(StoredSession {
        created_at: created_at.to_time(&|| format!("created_at of session {id}"))?,
        updated_at: updated_at.to_time(&|| format!("updated_at of session {id}"))?,
        id,
        token_hash,
        owner,
        reference,
        state,
    })
}

/// Who took a trail entry back and when: the `retraction` column of
/// `trail_entries` (the entry's own JSON is as first written).
#[derive(Debug, Serialize, serde::Deserialize)]
pub(super) struct Retraction {
    by: String,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
}

pub(super) fn user_from_row(name: String, role: String, tier: impl Into<i64>) -> Result<User> {
    let role = Role::parse(&role)
        .ok_or_else(|| StoreError::corrupt(format!("user {name}: unknown role `{role}`")))?;
    let tier = small_int(&format!("tier of user {name}"), tier)?;
    Ok(User { name, role, tier })
}

pub(super) type OutboxRow<I, T> = (String, String, String, I, T, String);

pub(super) fn message_from_row<I: Into<i64>, T: DbTime>(
    row: OutboxRow<I, T>,
) -> Result<OutboxMessage> {
    let (id, event_type, payload, attempts, next_attempt_at, delivered_to) = row;
    Ok(OutboxMessage {
        attempts: small_int(&format!("attempts of message {id}"), attempts)?,
        next_attempt_at: next_attempt_at.to_time(&|| format!("next_attempt_at of message {id}"))?,
        delivered_to: decode(&format!("delivered_to of message {id}"), &delivered_to)?,
        id,
        event_type,
        payload,
    })
}

/// Leased messages, due first (RETURNING gives them in no particular order).
pub(super) fn leased<I: Into<i64>, T: DbTime>(
    rows: Vec<OutboxRow<I, T>>,
) -> Result<Vec<OutboxMessage>> {
    let mut out = rows
        .into_iter()
        .map(message_from_row)
        .collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|m| m.next_attempt_at);
    Ok(out)
}

/// The extra condition of a lease of one channel's messages (none for all).
pub(super) fn channel_filter(channel: Option<super::OutboxChannel>) -> String {
    channel
        .map(|c| format!(" AND {}", c.condition()))
        .unwrap_or_default()
}

/// Found script versions in the order of the pins asked for, each once.
pub(super) fn in_pin_order(
    mut out: Vec<super::ScriptVersion>,
    pins: &[Pin],
) -> Vec<super::ScriptVersion> {
    out.sort_by_key(|v| {
        pins.iter()
            .position(|p| p.id == v.id && p.version == v.version)
    });
    out.dedup_by(|a, b| a.id == b.id && a.version == b.version);
    out
}

// ---------------------------------------------------------------- encoded writes

/// Trail entries, encoded as three columns (PostgreSQL binds them as the
/// arrays `unnest` takes, SQLite row by row).
pub(super) struct Entries {
    pub(super) seqs: Vec<i64>,
    pub(super) json: Vec<String>,
    pub(super) retracted: Vec<bool>,
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

    pub(super) fn len(&self) -> usize {
        self.seqs.len()
    }

    /// Entry `i` as `(seq, json, retracted)`.
    pub(super) fn row(&self, i: usize) -> (i64, &str, bool) {
        (self.seqs[i], &self.json[i], self.retracted[i])
    }
}

/// An outbox message, encoded.
pub(super) struct NewMessage<T> {
    pub(super) id: String,
    pub(super) event_type: std::borrow::Cow<'static, str>,
    pub(super) payload: String,
    pub(super) at: T,
}

impl<T: DbTime> NewMessage<T> {
    /// A message whose payload is `payload` as it is (a mail job).
    pub(super) fn raw(
        event_type: impl Into<std::borrow::Cow<'static, str>>,
        payload: String,
        now: OffsetDateTime,
    ) -> Result<NewMessage<T>> {
        Ok(NewMessage {
            id: message_id()?,
            event_type: event_type.into(),
            payload,
            at: T::to_db(now),
        })
    }

    pub(super) fn new(
        event_type: &'static str,
        data: &impl Serialize,
        now: OffsetDateTime,
    ) -> Result<NewMessage<T>> {
        Ok(NewMessage {
            id: message_id()?,
            event_type: event_type.into(),
            payload: event_payload(event_type, now, data),
            at: T::to_db(now),
        })
    }
}

/// A session start, encoded (in the caller's task, off the writer).
pub(super) struct StartJob<T> {
    pub(super) id: String,
    pub(super) token_hash: String,
    pub(super) owner: Option<String>,
    pub(super) reference: Option<String>,
    pub(super) script: String,
    /// The root script's version, and the channel: what the figures group by.
    pub(super) version: String,
    pub(super) channel: &'static str,
    pub(super) status: &'static str,
    pub(super) seq: i64,
    pub(super) state: String,
    pub(super) created_at: T,
    pub(super) updated_at: T,
    pub(super) entries: Entries,
    pub(super) escalation: Option<NewEscalation<T>>,
}

impl<T: DbTime> StartJob<T> {
    pub(super) fn new(s: &StoredSession, escalation: Option<&NewCase>) -> Result<StartJob<T>> {
        Ok(StartJob {
            id: s.id.clone(),
            token_hash: s.token_hash.clone(),
            owner: s.owner.clone(),
            reference: s.reference.clone(),
            script: s.state.script.clone(),
            version: s
                .state
                .pins
                .first()
                .map(|p| p.version.to_string())
                .unwrap_or_default(),
            channel: s.state.channel.as_str(),
            status: status_str(s.state.status),
            seq: i64::from(s.state.seq),
            state: state_json(&s.state)?,
            created_at: T::to_db(s.created_at),
            updated_at: T::to_db(s.updated_at),
            entries: Entries::new(&s.state.trail)?,
            escalation: escalation
                .map(|r| NewEscalation::new(r, s.updated_at))
                .transpose()?,
        })
    }
}

/// A step, encoded.
pub(super) struct StepJob<T> {
    pub(super) session_id: String,
    pub(super) expected_seq: i64,
    pub(super) state: String,
    pub(super) seq: i64,
    pub(super) status: &'static str,
    pub(super) now: T,
    pub(super) entries: Entries,
    /// Sorted, no duplicates.
    pub(super) retracted: Vec<i64>,
    /// Who retracted them and when (a step retracts as one person, at
    /// one time): the `retraction` column's JSON.
    pub(super) retraction: Option<String>,
    pub(super) escalation: Option<NewEscalation<T>>,
}

impl<T: DbTime> StepJob<T> {
    pub(super) fn new(w: &StepWrite<'_>) -> Result<StepJob<T>> {
        let mut retracted: Vec<i64> = w.retracted.iter().map(|&s| i64::from(s)).collect();
        retracted.sort_unstable();
        retracted.dedup();
        let retraction = w
            .retracted
            .iter()
            .find_map(|seq| w.state.trail.iter().find(|e| e.seq() == *seq))
            .and_then(|e| e.retraction())
            .map(|(by, at)| {
                encode(
                    "retraction",
                    &Retraction {
                        by: by.to_string(),
                        at,
                    },
                )
            })
            .transpose()?;
        Ok(StepJob {
            session_id: w.session_id.to_owned(),
            expected_seq: i64::from(w.expected_seq),
            state: state_json(w.state)?,
            seq: i64::from(w.state.seq),
            status: status_str(w.state.status),
            now: T::to_db(w.now),
            entries: Entries::new(w.new_entries)?,
            retracted,
            retraction,
            escalation: w
                .escalation
                .map(|r| NewEscalation::new(r, w.now))
                .transpose()?,
        })
    }
}

/// One write for a backend's writer task.
pub(super) enum Job<T> {
    Start(StartJob<T>),
    Step(StepJob<T>),
}

impl<T> Job<T> {
    pub(super) fn session_id(&self) -> &str {
        match self {
            Job::Start(s) => &s.id,
            Job::Step(s) => &s.session_id,
        }
    }
}

pub(super) type Reply = tokio::sync::oneshot::Sender<Result<super::Saved>>;

// ---------------------------------------------------------------- migrations

/// A backend's migrations, embedded: `(version, description, sql)`.
/// `sqlx::migrate!` needs sqlx's `macros` feature, which the crate does not
/// enable; this does the same job (the same versions and checksums), and
/// [`tests::every_migration_file_is_embedded`] fails when a file in
/// `migrations/` is missing from a list.
pub(super) type Migrations = &'static [(i64, &'static str, &'static str)];

#[derive(Debug)]
struct Embedded(Migrations);

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
        let list = self
            .0
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
            .collect();
        Box::pin(async { Ok(list) })
    }
}

pub(super) async fn migrator(list: Migrations) -> Result<Migrator> {
    Migrator::new(Embedded(list)).await.map_err(migration_error)
}

pub(super) fn migration_error(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::database_with("migrations".into(), e)
}

#[cfg(test)]
mod tests {
    use super::Migrations;

    fn files_and_list(folder: &str, list: Migrations) {
        let dir = format!("{}/migrations/{folder}", env!("CARGO_MANIFEST_DIR"));
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
        let embedded: Vec<(i64, String)> =
            list.iter().map(|&(v, d, _)| (v, d.to_owned())).collect();
        assert_eq!(
            files, embedded,
            "list every migration file in {folder}'s MIGRATIONS"
        );
    }

    #[test]
    fn every_migration_file_is_embedded() {
        files_and_list("sqlite", crate::store::sqlite::MIGRATIONS);
        files_and_list("postgres", crate::store::postgres::MIGRATIONS);
    }

    #[test]
    fn message_ids_are_fresh() {
        let a = super::message_id().unwrap();
        let b = super::message_id().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
    }

    #[test]
    fn times_are_kept_to_the_millisecond() {
        use super::DbTime;
        use time::macros::datetime;
        let t = datetime!(2026-03-02 09:00:00.123_456_789 UTC);
        let before_epoch = datetime!(1969-12-31 23:59:59.999_9 UTC);
        for (t, want) in [
            (t, datetime!(2026-03-02 09:00:00.123 UTC)),
            (before_epoch, datetime!(1969-12-31 23:59:59.999 UTC)),
        ] {
            assert_eq!(super::as_stored::<time::OffsetDateTime>(t).unwrap(), want);
            assert_eq!(super::as_stored::<i64>(t).unwrap(), want);
            assert_eq!(i64::to_db(t).to_time(&String::new).unwrap(), want);
        }
    }
}
