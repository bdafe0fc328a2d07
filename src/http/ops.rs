//! The operations every surface shares. The JSON API, the customer wizard,
//! the agent console and the tier-2 queue are different views on the same
//! moves: start a session, step it (answer, back, escalate) with the `seq`
//! check, work an escalation. Each is written once, here, with the same
//! checks of who may do what; the surfaces only translate requests in and
//! results out (JSON, or a page).
//!
//! Failures are [`ApiError`]s: their status and code say what went wrong,
//! and each surface words them for its readers.

use super::AppState;
use super::auth::{self, Caller, constant_time_eq};
use super::caps;
use super::cases::{self, Contact};
use super::error::{ApiError, ApiResult};
use crate::engine::{self, Channel, Reply, Session, StartOptions, Status, Step, StepError};
use crate::escalation::Record;
use crate::program::{Program, Script};
use crate::store::{Escalation, NewCase, Saved, StepWrite, StoredSession};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::OffsetDateTime;

/// Customer-facing: a script a customer may start by themselves. That is a
/// tier-1 script (higher tiers are for specialists) that is not a sub-flow
/// (a sub-flow ends in `return` and only makes sense inside its caller).
pub fn customer_facing(s: &Script) -> bool {
    s.tier == 1 && !s.is_subflow()
}

/// Who reads or moves a session, once checked against it.
#[derive(Debug, Clone)]
pub struct Reader {
    /// `customer`, or the staff user's name: the trail's actor.
    pub actor: String,
    pub staff: bool,
}

/// One session escalates at most once, so its escalation takes the
/// session's own random part: whoever may read the session finds its
/// escalation without another index, and both ids stay unguessable.
pub fn escalation_id_for(session_id: &str) -> String {
    format!("esc_{}", session_id.trim_start_matches("ses_"))
}

/// `PREFIX` + 32 lowercase hex digits: anything else cannot exist.
pub fn well_formed_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub fn no_session(id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no session `{id}`"))
}

pub fn no_escalation(id: &str) -> ApiError {
    ApiError::NotFound(format!("there is no escalation `{id}`"))
}

pub fn random(prefix: &str) -> ApiResult<String> {
    auth::random_id(prefix).map_err(ApiError::internal)
}

/// `fixpath_escalations_total{tier, via}`: `via` is `session` (a session
/// ended escalated) or `specialist` (escalated further from the queue).
pub(crate) fn count_escalation(tier: u8, via: &'static str) {
    metrics::counter!("fixpath_escalations_total", "tier" => tier.to_string(), "via" => via)
        .increment(1);
}

/// `fixpath_sessions_ended_total{script, channel, outcome}` for a session
/// that a step (or its start) just ended; the idle sweep counts the
/// abandoned ones.
pub(crate) fn count_ended(s: &crate::engine::Session) {
    let outcome = match s.status {
        Status::Active => return,
        Status::Resolved => "resolved",
        Status::Escalated => "escalated",
    };
    metrics::counter!(
        "fixpath_sessions_ended_total",
        "script" => s.script.clone(),
        "channel" => s.channel.as_str(),
        "outcome" => outcome
    )
    .increment(1);
}

/// Loads a session and checks the caller may open it. Anonymous callers
/// are told to authenticate before anything is looked up; a customer token
/// of another session gets the same 404 as a session that does not exist.
pub async fn open_session(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<(StoredSession, Reader)> {
    if let Caller::Anonymous = caller {
        return Err(ApiError::Unauthorized(
            "a session opens with its token or a staff token (`Authorization: Bearer …`)".into(),
        ));
    }
    if !well_formed_id(id, "ses_") {
        return Err(no_session(id));
    }
    let Some(stored) = state.store.session(id).await? else {
        return Err(no_session(id));
    };
    let reader = match reader_for(caller, &stored) {
        Ok(r) => r,
        // A link token (from a mail, or `/status`) opens it as its own does.
        Err(e) => match caller {
            Caller::Customer { token_hash }
                if state.store.session_link_valid(id, token_hash).await? =>
            {
                Reader {
                    actor: "customer".into(),
                    staff: false,
                }
            }
            _ => return Err(e),
        },
    };
    Ok((stored, reader))
}

/// Who the caller is to this session by its own token or as staff; a link
/// token is checked by [`open_session`].
fn reader_for(caller: &Caller, stored: &StoredSession) -> ApiResult<Reader> {
    let id = stored.id.as_str();
    let reader = match caller {
        Caller::Staff(u) => Reader {
            actor: u.name.clone(),
            staff: true,
        },
        Caller::Customer { token_hash } if constant_time_eq(token_hash, &stored.token_hash) => {
            Reader {
                actor: "customer".into(),
                staff: false,
            }
        }
        _ => return Err(no_session(id)),
    };
    Ok(reader)
}

/// The session's current step as this reader may see it: `help` is for
/// staff only, whatever the session's channel.
pub fn step_for(program: &Program, s: &Session, reader_is_staff: bool) -> ApiResult<Option<Step>> {
    let mut step = engine::view(program, s)?;
    if !reader_is_staff && let Some(step) = step.as_mut() {
        step.help = None;
    }
    Ok(step)
}

/// How many engine moves run at once. A move renders script texts, and a
/// render may take up to its deadline (`program::bounds`): moves run on the
/// blocking pool, never on the async workers that answer everything else
/// (`/healthz` included), and this many at most, so a flood of costly
/// renders queues instead of taking every thread.
const ENGINE_SLOTS: usize = 8;

static ENGINE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(ENGINE_SLOTS);

/// Runs engine work (anything that renders script texts) off the async
/// workers; see [`ENGINE_SLOTS`].
pub async fn off_workers<T, F>(work: F) -> ApiResult<T>
where
    F: FnOnce() -> ApiResult<T> + Send + 'static,
    T: Send + 'static,
{
    let _slot = ENGINE.acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
}

/// The program a stored session runs (the versions it pinned).
pub async fn program_of(state: &AppState, s: &Session) -> ApiResult<Arc<Program>> {
    Ok(state.library.program_for(&s.pins, &*state.store).await?)
}

/// The current step of a stored session (none once it ended).
pub async fn current_step(state: &AppState, s: &Session, staff: bool) -> ApiResult<Option<Step>> {
    if s.status != Status::Active {
        return Ok(None);
    }
    let program = program_of(state, s).await?;
    let s = s.clone();
    off_workers(move || step_for(&program, &s, staff)).await
}

/// What starting a session needs.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub script: String,
    pub channel: Channel,
    pub language: Option<String>,
    pub params: BTreeMap<String, Json>,
    pub vars: BTreeMap<String, Json>,
    /// A ticket number or a caller's name, so an agent can find the session.
    pub reference: Option<String>,
}

/// A session just started: its id, the customer's token (handed out once),
/// the stored state and its first step.
pub struct Started {
    pub id: String,
    pub token: String,
    pub stored: StoredSession,
    pub step: Option<Step>,
}

/// Starts a session. Anonymous callers and customers may start only
/// customer-facing scripts on the `customer` channel; staff anything.
pub async fn start_session(
    state: &AppState,
    caller: &Caller,
    req: NewSession,
) -> ApiResult<Started> {
    let program = state.library.current();
    let staff = caller.staff().cloned();
    caps::check_start_maps(&req.params, &req.vars)?;
    let reference = req.reference.filter(|r| !r.trim().is_empty());
    if let Some(r) = &reference {
        caps::check_reference(r)?;
    }
    if staff.is_none() {
        if req.channel != Channel::Customer {
            return Err(ApiError::Forbidden(format!(
                "only staff may start a session on the `{}` channel; customers use `customer`",
                req.channel.as_str()
            )));
        }
        // Customers see only what the scripts list shows them.
        if !program
            .get(&req.script)
            .is_some_and(|(_, s)| customer_facing(s))
        {
            return Err(ApiError::NotFound(format!(
                "there is no script `{}`",
                req.script
            )));
        }
        check_customer_vars(&program, &req.script, &req.vars)?;
    }
    let now = state.clock.now();
    let opts = StartOptions {
        script: req.script.clone(),
        channel: req.channel,
        language: req.language,
        params: req.params,
        vars: req.vars,
        tier: None,
    };
    let for_staff = staff.is_some();
    let (session, step) = off_workers({
        let program = program.clone();
        move || {
            let (session, _) = engine::start(&program, opts, now).map_err(|e| match e {
                StepError::UnknownScript(id) => {
                    ApiError::NotFound(format!("there is no script `{id}`"))
                }
                other => other.into(),
            })?;
            let step = step_for(&program, &session, for_staff)?;
            Ok((session, step))
        }
    })
    .await?;
    let id = random("ses_")?;
    let token = auth::mint_token(auth::CUSTOMER_PREFIX).map_err(ApiError::internal)?;
    let owner = staff.as_ref().map(|u| u.name.clone());
    let actor = owner.clone().unwrap_or_else(|| "customer".into());
    let escalation = record_of(&program, &session, &id, owner.as_deref(), now)
        .map(|r| cases::new_case(state, r, reference.as_deref(), None, &actor, now))
        .transpose()?;
    let stored = StoredSession {
        id: id.clone(),
        token_hash: token.hash,
        owner,
        reference,
        state: session,
        created_at: now,
        updated_at: now,
    };
    state
        .store
        .create_session(&stored, escalation.as_ref())
        .await?;
    metrics::counter!("fixpath_sessions_started_total", "channel" => req.channel.as_str())
        .increment(1);
    count_ended(&stored.state);
    if let Some(c) = &escalation {
        count_escalation(c.escalation.record.tier, "session");
        state.outbox_notify.notify_one();
    }
    state.recent.put(Arc::new(stored.clone()));
    Ok(Started {
        id,
        token: token.plain,
        stored,
        step,
    })
}

/// A customer sets only the variables the script declares: anything else
/// could steer a condition the author never meant to be set from outside.
fn check_customer_vars(
    program: &Program,
    script: &str,
    vars: &BTreeMap<String, Json>,
) -> ApiResult<()> {
    let Some((_, root)) = program.get(script) else {
        return Ok(());
    };
    let unknown: Vec<&str> = vars
        .keys()
        .filter(|k| !root.vars.iter().any(|(name, _)| name == *k))
        .map(String::as_str)
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let declared: Vec<&str> = root.vars.iter().map(|(n, _)| n.as_str()).collect();
    Err(ApiError::unprocessable(
        "unknown_vars",
        format!(
            "script `{script}` does not declare {}; a customer may set only its declared variables ({})",
            unknown
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if declared.is_empty() {
                "it declares none".to_owned()
            } else {
                declared.join(", ")
            }
        ),
    ))
}

/// The escalation record of a session that just escalated (`None` if it
/// did not). A session no staff member started had its starting `vars` from
/// the customer: the record names them in `customer_vars`, so a specialist
/// knows which values nobody checked.
fn record_of(
    program: &Program,
    session: &Session,
    id: &str,
    owner: Option<&str>,
    now: OffsetDateTime,
) -> Option<Record> {
    let mut record = Record::from_session(program, session, &escalation_id_for(id), id, now)?;
    if owner.is_none() {
        record.customer_vars = session.initial_vars.to_map().into_keys().collect();
    }
    Some(record)
}

/// A move on a session.
#[derive(Debug, Clone)]
pub enum Move {
    Reply(Reply),
    Back,
    /// Asks for a person, with an optional note, and the customer's
    /// address if they gave one (the case mails it).
    Escalate {
        note: Option<String>,
        contact: Option<Contact>,
    },
    /// "None of these" at the current question, with an optional note
    /// and address (as [`Move::Escalate`]).
    NoneFits {
        note: Option<String>,
        contact: Option<Contact>,
    },
    /// Nothing but a sign of life: the session is saved as it is, so its
    /// last activity (the wizard's idle clock) is now.
    Touch,
    /// Speak another of the script's languages from the next step on (the
    /// trail keeps what was shown, as it was shown).
    Language(String),
}

/// A session after a move.
pub struct Stepped {
    pub session: Arc<StoredSession>,
    pub step: Option<Step>,
    pub reader: Reader,
}

impl Stepped {
    pub fn state(&self) -> &Session {
        &self.session.state
    }
}

pub fn stale(given: u32, current: u32) -> ApiError {
    ApiError::conflict(
        "stale_seq",
        format!(
            "seq {given} is not the session's current step: the session is at seq {current}; \
             reload it and answer the step it shows"
        ),
    )
}

/// Applies one move: checks `seq`, steps the engine on the session's pinned
/// program, and saves the step only if no other request saved one since
/// (compare-and-set on `seq`): a double-click writes one trail entry.
pub async fn step_session(
    state: &AppState,
    caller: &Caller,
    id: &str,
    seq: u32,
    mv: Move,
) -> ApiResult<Stepped> {
    match step_unless_idle(state, caller, id, seq, mv, None).await? {
        Moved::Stepped(s) => Ok(s),
        // Only a limit makes a session idle; none was given.
        Moved::Idle => Err(ApiError::Internal(
            "a move without an idle limit was idle".into(),
        )),
    }
}

/// What [`step_unless_idle`] did.
pub enum Moved {
    Stepped(Stepped),
    /// The session was active but untouched for longer than the limit:
    /// nothing was changed.
    Idle,
}

/// Has an active session gone untouched for longer than `limit`? (The
/// wizard's rule: such a session is over for the customer.)
pub fn idle_too_long(
    stored: &StoredSession,
    now: OffsetDateTime,
    limit: std::time::Duration,
) -> bool {
    stored.state.status == Status::Active && now - stored.updated_at > limit
}

/// [`step_session`] for a surface whose sessions end after `idle` without
/// a move (the wizard): the limit is checked on the session the move reads
/// anyway, so the check costs no read of its own.
pub async fn step_unless_idle(
    state: &AppState,
    caller: &Caller,
    id: &str,
    seq: u32,
    mv: Move,
    idle: Option<std::time::Duration>,
) -> ApiResult<Moved> {
    // The session as this instance last saved it, when that is the step
    // the caller answers (see `recent`); else the database's.
    let recent = state
        .recent
        .get(id, seq)
        .filter(|_| !matches!(caller, Caller::Anonymous))
        .and_then(|s| reader_for(caller, &s).ok().map(|r| (s, r)));
    let (stored, reader) = match recent {
        Some(found) => found,
        None => {
            let (s, reader) = open_session(state, caller, id).await?;
            (Arc::new(s), reader)
        }
    };
    let now = state.clock.now();
    if idle.is_some_and(|limit| idle_too_long(&stored, now, limit)) {
        return Ok(Moved::Idle);
    }
    match &mv {
        Move::Reply(Reply::Answer(text) | Reply::Value(text)) => caps::check_input(text)?,
        Move::Escalate {
            note: Some(note), ..
        }
        | Move::NoneFits {
            note: Some(note), ..
        } => caps::check_note("note", note)?,
        _ => {}
    }
    let before = &stored.state;
    if seq != before.seq {
        return Err(stale(seq, before.seq));
    }
    let program = program_of(state, before).await?;
    let answered = matches!(mv, Move::Reply(_) | Move::NoneFits { .. });
    let contact = match &mv {
        Move::Escalate { contact, .. } | Move::NoneFits { contact, .. } => contact.clone(),
        _ => None,
    };
    let (after, step) = off_workers({
        let program = program.clone();
        let stored = stored.clone();
        let actor = reader.actor.clone();
        let staff = reader.staff;
        move || {
            let before = &stored.state;
            let mut after = before.clone();
            match mv {
                Move::Reply(reply) => {
                    engine::answer(&program, &mut after, reply, &actor, now)?;
                }
                Move::Back => engine::back(&program, &mut after, &actor, now)?,
                Move::Escalate { note, .. } => {
                    engine::escalate_now(&program, &mut after, note, &actor, now)?;
                }
                Move::NoneFits { note, .. } => {
                    engine::none_fits(&program, &mut after, note, &actor, now)?;
                }
                Move::Touch => {
                    if before.status != Status::Active {
                        return Err(StepError::Ended("there is nothing left to keep open").into());
                    }
                }
                Move::Language(language) => {
                    if before.status != Status::Active {
                        return Err(StepError::Ended("the language no longer matters").into());
                    }
                    let speaks = program
                        .get(&before.script)
                        .is_some_and(|(_, s)| s.language_index(&language).is_some());
                    if !speaks {
                        return Err(ApiError::unprocessable(
                            "unknown_language",
                            format!("script `{}` has no `{language}` texts", before.script),
                        ));
                    }
                    after.language = language;
                }
            }
            let step = step_for(&program, &after, staff)?;
            Ok((after, step))
        }
    })
    .await?;
    let kept = before.trail.len().min(after.trail.len());
    let new_entries = &after.trail[kept..];
    let retracted: Vec<u32> = after.trail[..kept]
        .iter()
        .zip(&before.trail)
        .filter(|(now, was)| now.retracted() && !was.retracted())
        .map(|(now, _)| now.seq())
        .collect();
    let escalation: Option<NewCase> =
        if before.status == Status::Active && after.status == Status::Escalated {
            record_of(&program, &after, id, stored.owner.as_deref(), now)
                .map(|r| {
                    cases::new_case(
                        state,
                        r,
                        stored.reference.as_deref(),
                        contact,
                        &reader.actor,
                        now,
                    )
                })
                .transpose()?
        } else {
            None
        };
    let saved = state
        .store
        .save_step(&StepWrite {
            session_id: id,
            expected_seq: before.seq,
            state: &after,
            new_entries,
            retracted: &retracted,
            escalation: escalation.as_ref(),
            now,
        })
        .await?;
    if saved != Saved::Ok {
        state.recent.forget(id);
    }
    match saved {
        Saved::Ok => {}
        Saved::NotFound => return Err(no_session(id)),
        Saved::Conflict => {
            let current = state
                .store
                .session(id)
                .await?
                .map(|s| s.state.seq)
                .unwrap_or(before.seq);
            return Err(stale(seq, current));
        }
    }
    if answered {
        metrics::counter!("fixpath_answers_total").increment(1);
    }
    if before.status == Status::Active {
        count_ended(&after);
    }
    if let Some(c) = &escalation {
        count_escalation(c.escalation.record.tier, "session");
        state.outbox_notify.notify_one();
    }
    let session = Arc::new(StoredSession {
        id: stored.id.clone(),
        token_hash: stored.token_hash.clone(),
        owner: stored.owner.clone(),
        reference: stored.reference.clone(),
        state: after,
        created_at: stored.created_at,
        updated_at: now,
    });
    state.recent.put(session.clone());
    Ok(Moved::Stepped(Stepped {
        session,
        step,
        reader,
    }))
}

/// Reads one escalation.
pub async fn escalation(state: &AppState, id: &str) -> ApiResult<Escalation> {
    if !well_formed_id(id, "esc_") {
        return Err(no_escalation(id));
    }
    state
        .store
        .escalation(id)
        .await?
        .ok_or_else(|| no_escalation(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_well_formed() {
        assert!(well_formed_id(&format!("ses_{}", "a1".repeat(16)), "ses_"));
        assert!(!well_formed_id(&format!("ses_{}", "A1".repeat(16)), "ses_"));
        assert!(!well_formed_id("ses_../../etc", "ses_"));
        assert!(!well_formed_id(&format!("esc_{}", "a1".repeat(16)), "ses_"));
    }
}
