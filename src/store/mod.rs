//! Storage behind one trait, so SQLite (the embedded default) and PostgreSQL
//! (scale-out) are interchangeable. The store knows the core's types and
//! nothing of HTTP.
//!
//! Concurrency is the database's job: a step is saved only if the session's
//! `seq` is still the one the caller read (compare-and-set), a claim only if
//! the escalation is still open, an outbox message is leased to one relay at
//! a time. Every change to an escalation writes its outbox message in the
//! same transaction, so no event is lost between the two.

mod cases;
mod codec;
mod erase;
mod error;
pub use erase::{Erasure, Retention, Swept};
pub use error::{Cause, Result, StoreError};
mod figures;
mod links;
mod names;
mod page;
pub mod postgres;
mod shared;
pub mod sqlite;
pub mod transfer;

pub use names::{NameProblem, UserName};
pub use page::Cursor;
pub use transfer::Transfer;

use crate::case::feedback::{Feedback, FeedbackKind};
use crate::case::{Act, Actor, Breach, Case, DueTimes, Refusal};
use crate::engine::{Pin, Session, TrailEntry};
use crate::escalation::Record;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// The source of one script version, kept for as long as any session pinned
/// it, so an old trail always reads against the text it was asked with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScriptVersion {
    pub id: String,
    pub version: String,
    pub path: String,
    pub source: String,
    pub created_at: OffsetDateTime,
}

/// A session as stored: the engine's state plus who may open it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSession {
    pub id: String,
    /// SHA-256 (hex) of the customer's capability token; the token itself is
    /// never stored.
    pub token_hash: String,
    /// The staff user who started it, if any.
    pub owner: Option<String>,
    /// A reference the agent gave (ticket number, caller's name), searchable.
    pub reference: Option<String>,
    pub state: Session,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// What one step changed, saved atomically.
#[derive(Debug, Clone)]
pub struct StepWrite<'a> {
    pub session_id: &'a str,
    /// The `seq` the caller read; the write fails with [`Saved::Conflict`]
    /// when the stored session has moved on.
    pub expected_seq: u32,
    /// The state after the step (its trail included).
    pub state: &'a Session,
    /// Trail entries added by this step (a suffix of `state.trail`).
    pub new_entries: &'a [TrailEntry],
    /// `seq`s of trail entries this step marked retracted.
    pub retracted: &'a [u32],
    /// Set when the step escalated the session.
    pub escalation: Option<&'a NewCase>,
    pub now: OffsetDateTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    Ok,
    /// The session's `seq` was not the expected one: a stale or repeated step.
    Conflict,
    NotFound,
}

/// A case's status (contract section 10), under its old name.
pub use crate::case::Status as EscalationStatus;

/// An escalation in the queue: the frozen record (section 8) and its working
/// state as a case (section 10), as one JSON object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    #[serde(flatten)]
    pub record: Record,
    #[serde(flatten)]
    pub case: Case,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// A listing's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Oldest first: they have waited longest.
    #[default]
    Created,
    /// The next due time first (overdue ones are the earliest); cases
    /// without one last, oldest first.
    Due,
}

#[derive(Debug, Clone, Default)]
pub struct EscalationFilter {
    pub tier: Option<u8>,
    pub queue: Option<String>,
    /// `None`: every status.
    pub status: Option<EscalationStatus>,
    /// Only cases still to do (every status but `resolved`): the queue
    /// page's default, paged like any other filter.
    pub unresolved: bool,
    /// Only cases of this tier or lower (a specialist's own tier); `None`:
    /// every tier (an admin).
    pub max_tier: Option<u8>,
    pub sort: Sort,
    /// Where the page starts: after this case (see [`Cursor`]).
    pub after: Option<Cursor>,
    /// 0: the default page (100); at most 1,000.
    pub limit: u32,
}

/// A page of a listing, and the cursor of the next page (`None`: the last).
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Escalation>,
    pub next: Option<Cursor>,
}

/// Where the mails of a change link to: the server's public address, and a
/// link token freshly minted for it (its hash is stored with the mail, in
/// the same transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailLink {
    /// e.g. `https://help.example.com` (no trailing slash).
    pub base_url: String,
    pub token: String,
    pub token_hash: String,
}

/// A case being created with its session's step: the escalation, and the
/// link of its `mail.received` when mail is on (sent only when the case
/// has an address).
#[derive(Debug, Clone)]
pub struct NewCase {
    pub escalation: Escalation,
    pub mail: Option<MailLink>,
    /// Ticketing connectors are configured: the case's events go to them
    /// too (a `sync.` outbox message each).
    pub mirror: bool,
}

/// A change to a case: who does what, with the settings the rules need.
#[derive(Debug, Clone)]
pub struct EscalationChange {
    pub actor: Actor,
    pub act: Act,
    pub reopen_within: time::Duration,
    pub due_times: std::sync::Arc<dyn DueTimes>,
    /// `Some` when mail is on: the mail the change sends (if any, and if
    /// the case has an address) links with it.
    pub mail: Option<MailLink>,
    /// Ticketing connectors are configured: the change goes to them too.
    pub mirror: bool,
    /// The change came from a connected system: the events it appends say
    /// so (`connector#transaction`), so the connector does not send them
    /// back, and the same transaction is never taken twice.
    pub via: Option<String>,
}

impl EscalationChange {
    /// `act` by `actor`, reopening within 7 days, no service levels, no
    /// mail, no connectors.
    pub fn new(actor: Actor, act: Act) -> EscalationChange {
        EscalationChange {
            actor,
            act,
            reopen_within: DEFAULT_REOPEN_WITHIN,
            due_times: std::sync::Arc::new(crate::case::NoTargets),
            mail: None,
            mirror: false,
            via: None,
        }
    }
}

/// How long after resolving a customer message reopens a case, unless
/// configured (contract section 10).
pub const DEFAULT_REOPEN_WITHIN: time::Duration = time::Duration::days(7);

#[derive(Debug, Clone, PartialEq)]
pub enum Changed {
    Ok(Escalation),
    /// Allowed, with nothing to change (claiming what one holds): nothing
    /// was written.
    Unchanged(Escalation),
    /// Refused by the rules; the escalation as it stands.
    Refused(Escalation, Refusal),
    NotFound,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Agent,
    Specialist,
    Author,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Specialist => "specialist",
            Role::Author => "author",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "agent" => Some(Role::Agent),
            "specialist" => Some(Role::Specialist),
            "author" => Some(Role::Author),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    /// The tier a specialist works at (1–4).
    pub tier: u8,
}

/// A user as `fixpath user list` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct UserSummary {
    pub user: User,
    /// A password is set: the user can sign in to the web pages.
    pub password: bool,
    /// API tokens and web sign-ins not expired.
    pub tokens: u64,
    /// Disabled: nothing of theirs opens anything until enabled.
    pub disabled: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub user: User,
    /// Argon2 PHC string; `None`: API token only, no web sign-in.
    pub password_hash: Option<String>,
    /// SHA-256 (hex) of the API token.
    pub token_hash: String,
}

/// A message waiting in the outbox: a webhook event, or a mail to a
/// customer (an `event_type` starting with [`crate::case::mail::EVENT_PREFIX`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The `webhook-id`, or what a mail's `Message-ID` is made of: the
    /// same on every retry.
    pub id: String,
    /// e.g. `escalation.created`, `mail.received`.
    pub event_type: String,
    /// The JSON body, exactly as signed and sent (a mail: its job).
    pub payload: String,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    /// Endpoints that already answered 2xx: a retry goes only to the others
    /// (a mail: `smtp` once the server took it).
    pub delivered_to: Vec<String>,
}

/// The way out of the outbox a message takes, by its event type. Each
/// relay leases only its own channel's messages: a mail never reaches a
/// webhook endpoint, a webhook event never an SMTP server, and a channel
/// that is not configured leaves the other's messages alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxChannel {
    Webhooks,
    Mail,
    /// The ticketing connectors' events (`sync.escalation.…`).
    Tickets,
}

/// The event type of a connectors' message starts with this (five
/// characters, like `mail.`).
pub const SYNC_PREFIX: &str = "sync.";

impl OutboxChannel {
    pub fn of(event_type: &str) -> OutboxChannel {
        if event_type.starts_with(crate::case::mail::EVENT_PREFIX) {
            OutboxChannel::Mail
        } else if event_type.starts_with(SYNC_PREFIX) {
            OutboxChannel::Tickets
        } else {
            OutboxChannel::Webhooks
        }
    }

    /// The SQL condition on `event_type` (the same text on both backends;
    /// `substr` compares exactly where `LIKE` would fold case in SQLite).
    pub(crate) fn condition(self) -> &'static str {
        match self {
            OutboxChannel::Mail => "substr(event_type, 1, 5) = 'mail.'",
            OutboxChannel::Tickets => "substr(event_type, 1, 5) = 'sync.'",
            OutboxChannel::Webhooks => "substr(event_type, 1, 5) NOT IN ('mail.', 'sync.')",
        }
    }
}

/// Everything the server keeps. A backend implements the parts, each in a
/// file of its own holding only its SQL, and is a store. On `dyn Store` (and
/// `S: Store`) the parts' methods need no import; on a concrete store, import
/// the parts used.
pub trait Store:
    Schema + Sessions + Escalations + Users + Outbox + Analytics + Tickets + Retention + Transfer
{
}

impl<T> Store for T where
    T: Schema
        + Sessions
        + Escalations
        + Users
        + Outbox
        + Analytics
        + Tickets
        + Retention
        + Transfer
{
}

/// The schema.
#[async_trait]
pub trait Schema: Send + Sync + 'static {
    /// Creates the schema or brings it up to date.
    async fn migrate(&self) -> Result<()>;
}

/// Script versions and sessions.
#[async_trait]
pub trait Sessions: Send + Sync + 'static {
    /// Records a script version; a version already stored is left as it is.
    async fn put_script_version(&self, v: &ScriptVersion) -> Result<()>;
    /// The stored sources of the given pins (those it has), in their order.
    async fn script_versions(&self, pins: &[Pin]) -> Result<Vec<ScriptVersion>>;
    /// Every stored version of script `id`, newest first, with when it was
    /// first stored (the authors' version picker); at most `limit`.
    async fn versions_of(&self, id: &str, limit: u32) -> Result<Vec<(String, OffsetDateTime)>>;

    /// Stores a new session (and its escalation, if it escalated at once).
    async fn create_session(&self, s: &StoredSession, escalation: Option<&NewCase>) -> Result<()>;
    async fn session(&self, id: &str) -> Result<Option<StoredSession>>;
    /// Sessions whose reference matches (for an agent taking over a call).
    async fn sessions_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> Result<Vec<StoredSession>>;
    /// The references of these sessions (those that have one), by session
    /// id: one query for a page of escalations.
    async fn session_references(
        &self,
        ids: &[String],
    ) -> Result<std::collections::HashMap<String, String>>;
    /// Saves one step atomically: state, new trail entries, retractions, and
    /// the escalation with its `escalation.created` outbox message (and its
    /// `mail.received` with the link token, when it has an address and mail
    /// is on).
    async fn save_step(&self, w: &StepWrite<'_>) -> Result<Saved>;

    /// Whether `token_hash` is one of the session's link tokens (handed out
    /// in a mail or by `/status`), which open it like its own token.
    async fn session_link_valid(&self, session_id: &str, token_hash: &str) -> Result<bool>;
    /// Adds a link token to a session; [`StoreError::NotFound`] for an
    /// unknown session.
    async fn add_session_link(
        &self,
        session_id: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<()>;

    /// Stores a rating (contract section 11); `false` when the session
    /// has one of that kind already (nothing is written).
    /// [`StoreError::NotFound`] for an unknown session.
    async fn add_feedback(&self, f: &Feedback) -> Result<bool>;
    /// The kinds of rating the session has been given.
    async fn feedback_kinds(&self, session_id: &str) -> Result<Vec<FeedbackKind>>;
}

/// The escalation queue.
#[async_trait]
pub trait Escalations: Send + Sync + 'static {
    /// A page of the queue (see [`EscalationFilter`]).
    async fn escalations(&self, f: &EscalationFilter) -> Result<Page>;
    async fn escalation(&self, id: &str) -> Result<Option<Escalation>>;
    /// The newest case with this reference, compared as
    /// [`case::reference::normalise`](crate::case::reference::normalise)
    /// makes it (any case, no dash).
    async fn escalation_by_reference(&self, reference: &str) -> Result<Option<Escalation>>;
    /// Applies a change by the rules of [`case::apply`](crate::case::apply)
    /// and queues its webhook event (and its mail, with its link token) in
    /// one transaction.
    async fn change_escalation(
        &self,
        id: &str,
        change: &EscalationChange,
        now: OffsetDateTime,
    ) -> Result<Changed>;

    /// The breach timer's work at `now`: `(id, kind)` of cases whose `kind`
    /// due time passed unrecorded, at most `limit` of each kind, earliest
    /// first; found through the due columns' indexes, not by reading every
    /// case. Recording one is a [`change_escalation`](Self::change_escalation)
    /// with [`Act::Breach`] by [`Actor::System`]: under the row's lock, so
    /// of two timers racing one records it and the other finds it done.
    async fn breaches_due(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<(String, Breach)>>;
    /// The earliest due time the breach timer still waits for.
    async fn next_breach_due(&self) -> Result<Option<OffsetDateTime>>;
    /// Unresolved cases past a due time at `now` (for `/metrics`).
    async fn overdue_cases(&self, now: OffsetDateTime) -> Result<u64>;
}

/// Users, their tokens, and the count of wrong passwords.
#[async_trait]
pub trait Users: Send + Sync + 'static {
    async fn create_user(&self, u: &NewUser) -> Result<()>;
    /// The user a token belongs to, unless the token has expired at `now`.
    async fn user_by_token(&self, token_hash: &str, now: OffsetDateTime) -> Result<Option<User>>;
    /// The user and their password hash, for signing in to the web pages;
    /// `None` for a disabled user too.
    async fn user_by_name(&self, name: &str) -> Result<Option<(User, Option<String>)>>;
    /// Every user by name, with whether they can sign in to the web pages
    /// and how many of their tokens still open something at `now`.
    async fn list_users(&self, now: OffsetDateTime) -> Result<Vec<UserSummary>>;
    /// Adds an API token; [`StoreError::NotFound`] for an unknown user.
    async fn add_token(&self, name: &str, token_hash: &str) -> Result<()>;
    /// Deletes every token of the user, API tokens and web sign-ins alike:
    /// each request reads its token from the store, so they stop opening
    /// anything at once, on every instance. How many there were.
    async fn revoke_tokens(&self, name: &str) -> Result<u64>;
    /// Disables or enables the user; `false` when there is no such user.
    /// A disabled user's tokens and sign-ins are kept but open nothing, and
    /// [`Users::user_by_name`] does not find them (no sign-in).
    async fn set_disabled(&self, name: &str, disabled: bool) -> Result<bool>;
    /// Sets the user's password hash and ends their web sign-ins (their
    /// API tokens stay); `false` when there is no such user.
    async fn set_password(&self, name: &str, password_hash: &str) -> Result<bool>;
    /// Adds a token that stops opening anything at `expires_at` (a web
    /// sign-in); tokens expired at `now` are deleted on the way.
    /// [`StoreError::NotFound`] for an unknown user.
    async fn add_expiring_token(
        &self,
        name: &str,
        token_hash: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// Forgets a token (a web sign-out); an unknown token is not an error.
    async fn revoke_token(&self, token_hash: &str) -> Result<()>;

    /// Counts a wrong password for the sign-in name `key` at `now`; returns
    /// the count and when it began. A failure `window` or more after the
    /// count began starts a new one. Every instance on the database shares
    /// the count, so a guesser gains nothing by spreading tries over them.
    async fn count_signin_failure(
        &self,
        key: &str,
        now: OffsetDateTime,
        window: time::Duration,
    ) -> Result<(u32, OffsetDateTime)>;
    /// The count of wrong passwords for `key` and when it began, if any.
    async fn signin_failures(&self, key: &str) -> Result<Option<(u32, OffsetDateTime)>>;
    /// Clears the count (a good sign-in).
    async fn clear_signin_failures(&self, key: &str) -> Result<()>;
}

/// A session that ended without a step: abandoned by the idle sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned {
    pub id: String,
    pub script: String,
    pub channel: String,
}

/// Where a case stands in one connected ticketing system (section 12).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketLink {
    pub escalation: String,
    /// The connector's name (its `system` in the case's `external`).
    pub connector: String,
    /// The ticket, once found or made.
    pub external_id: Option<String>,
    pub url: Option<String>,
    /// The ticketing system's user the connector acts as: what it did
    /// itself is not read back.
    pub creator: Option<String>,
    /// How many of the case's events went over (or were passed over).
    pub pushed: u32,
    /// The last of the ticket's transactions read back.
    pub seen: i64,
    /// Read back while the case is not resolved.
    pub open: bool,
}

impl TicketLink {
    /// A case not yet in `connector`'s system.
    pub fn new(escalation: &str, connector: &str) -> TicketLink {
        TicketLink {
            escalation: escalation.to_owned(),
            connector: connector.to_owned(),
            external_id: None,
            url: None,
            creator: None,
            pushed: 0,
            seen: 0,
            open: true,
        }
    }
}

/// The ticketing connectors' bookkeeping.
#[async_trait]
pub trait Tickets: Send + Sync + 'static {
    async fn ticket_link(&self, escalation: &str, connector: &str) -> Result<Option<TicketLink>>;
    /// Creates or updates the link (its poll lease stays).
    async fn save_ticket_link(&self, link: &TicketLink, now: OffsetDateTime) -> Result<()>;
    /// Open linked tickets of `connector` due for a read, leased to `owner`
    /// until `until`, when they fall due again.
    async fn lease_ticket_links(
        &self,
        connector: &str,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<TicketLink>>;
    /// Adds (or replaces, per system) a linked ticket in the case's
    /// `external`.
    async fn link_external(&self, escalation: &str, ext: &crate::case::External) -> Result<()>;
}

/// Outcomes and the rollups the figures of section 11 are read from.
#[async_trait]
pub trait Analytics: Send + Sync + 'static {
    /// Gives every session still without an outcome and untouched since
    /// before `now - idle` the outcome `abandoned` (`ended_at`: its last
    /// move), at most `limit` per call, oldest first; found through the
    /// open sessions' index, not by reading every session. Safe with
    /// several instances: a session is abandoned once.
    async fn abandon_idle(
        &self,
        now: OffsetDateTime,
        idle: time::Duration,
        limit: u32,
    ) -> Result<Vec<Abandoned>>;
    /// Up to `limit` ended sessions not yet folded into the rollups, oldest
    /// end first, with their trails.
    async fn unrolled(&self, limit: u32) -> Result<Vec<crate::stats::fold::Ended>>;
    /// Adds `rollup` (the fold of the sessions `ids`) to the rollup tables
    /// and marks those sessions folded, in one transaction. Returns false,
    /// writing nothing, when another instance folded any of them first: a
    /// session is counted once.
    async fn add_rollup(&self, ids: &[String], rollup: &crate::stats::fold::Rollup)
    -> Result<bool>;
    /// The raw figures for `filter`: the rollups, the sessions still
    /// active, the cases and the ratings. Sessions ended but not yet
    /// folded are not in the rollups: callers roll up first.
    async fn stats_data(
        &self,
        filter: &crate::stats::StatsFilter,
    ) -> Result<crate::stats::StatsData>;
}

/// The outbox: webhook events and mails, each leased to one relay at a time.
///
/// A message is settled once `delivered_at` is set: delivered (its
/// `delivered_to` names who took it), or given up (`delivered_to` empty,
/// `last_error` says why); either way no relay looks at it again.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Queues a message, due at once; returns its id. Changes that announce
    /// themselves write their messages in their own transaction; this is for
    /// what stands alone (and for tests).
    async fn enqueue_outbox(
        &self,
        event_type: &str,
        payload: &str,
        now: OffsetDateTime,
    ) -> Result<String>;
    /// Leases up to `limit` due messages of every channel to `owner` until
    /// `until`; a message leased to someone else is skipped until its lease
    /// runs out.
    async fn lease_outbox(
        &self,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>> {
        self.lease_outbox_of(None, owner, now, until, limit).await
    }
    /// [`Outbox::lease_outbox`], of one channel's messages only (`None`: all).
    async fn lease_outbox_of(
        &self,
        channel: Option<OutboxChannel>,
        owner: &str,
        now: OffsetDateTime,
        until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxMessage>>;
    async fn outbox_delivered(&self, id: &str, owner: &str, now: OffsetDateTime) -> Result<()>;
    /// Settles a message for good while `owner` still holds its lease:
    /// delivered to `delivered_to`, or given up when that is empty, `error`
    /// saying why.
    async fn outbox_settle(
        &self,
        id: &str,
        owner: &str,
        now: OffsetDateTime,
        delivered_to: &[String],
        error: Option<&str>,
    ) -> Result<()>;
    /// Gives up every undelivered message of `channel`, leased or not (a
    /// channel turned off); returns how many.
    async fn outbox_give_up_channel(
        &self,
        channel: OutboxChannel,
        now: OffsetDateTime,
        error: &str,
    ) -> Result<u64>;
    /// Schedules the next attempt, remembering which endpoints already took it.
    async fn outbox_retry_at(
        &self,
        id: &str,
        owner: &str,
        at: OffsetDateTime,
        delivered_to: &[String],
        error: &str,
    ) -> Result<()>;
    /// Messages not yet delivered (for metrics and tests).
    async fn outbox_pending(&self) -> Result<u64>;
}

/// The body of a webhook event (Standard Webhooks): `{type, timestamp, data}`.
pub fn event_payload(event_type: &str, now: OffsetDateTime, data: &impl Serialize) -> String {
    let ts = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    serde_json::json!({ "type": event_type, "timestamp": ts, "data": data }).to_string()
}

/// The `data` of the events of changes a case takes without end (a note,
/// a message to or from the customer): the new note or message and what
/// identifies the case, not the record. A record carries every note and
/// message before: events that repeated it would grow with each one (80
/// notes, 195 MB of outbox). A receiver that wants the record reads it
/// from the API.
#[derive(Debug, Serialize)]
pub(crate) struct Compact<'a> {
    id: &'a str,
    session: &'a str,
    reference: &'a str,
    status: EscalationStatus,
    tier: u8,
    queue: Option<&'a str>,
    claimed_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<&'a crate::escalation::Note>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a crate::case::Message>,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
}

impl<'a> Compact<'a> {
    /// The event of `after`'s last note, or of its last message.
    pub(crate) fn new(after: &'a Escalation, note: bool) -> Self {
        Compact {
            id: &after.record.id,
            session: &after.record.session,
            reference: &after.case.reference,
            status: after.case.status,
            tier: after.record.tier,
            queue: after.record.queue.as_deref(),
            claimed_by: after.case.claimed_by.as_deref(),
            note: after.record.notes.last().filter(|_| note),
            message: after.case.messages.last().filter(|_| !note),
            updated_at: after.updated_at,
        }
    }
}
