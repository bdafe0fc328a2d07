//! The case operations both surfaces share (contract section 10): reading a
//! case under the tier rule, every act on it through [`case::apply`] (the
//! store applies it under its lock), the customer's messages, the queue's
//! pages, and how each refusal reads.
//!
//! The tier rule answers 404, not 403: a specialist of tier N does not see
//! cases above N (the listing leaves them out), so to them such a case is
//! not there, as another session is not there for a customer's token; a
//! 403 would confirm that an id they should not know exists.

use super::AppState;
use super::auth::{self, CUSTOMER_PREFIX, Caller};
use super::caps;
use super::error::{ApiError, ApiResult};
use super::ops::{self, no_escalation, well_formed_id};
use crate::case::{self, Act, Actor, Case, Message, Refusal, Status};
use crate::escalation::Record;
use crate::store::{
    Changed, Escalation, EscalationChange, EscalationFilter, MailLink, NewCase, Page, Role, User,
};
use axum::http::HeaderMap;
use serde::Serialize;
use time::OffsetDateTime;

/// The longest e-mail address accepted (RFC 5321's path limit).
pub const MAX_EMAIL: usize = 254;

/// Who a staff user is to the case rules.
pub fn actor_of(user: &User) -> Actor {
    Actor::Staff {
        name: user.name.clone(),
        tier: user.tier,
        admin: user.role == Role::Admin,
    }
}

/// The address links in mails start with: `public_url` when configured,
/// else the scheme and host the request came to.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(url) = &state.cases.public_url {
        return url.trim_end_matches('/').to_owned();
    }
    let https = state.config.secure_cookies || super::web::cookies::is_https(headers);
    let host = super::web::cookies::host(headers)
        .filter(|h| {
            h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("localhost");
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// An e-mail address as given, checked: what `lettre` can send to.
pub fn check_email(text: &str) -> ApiResult<String> {
    let t = text.trim();
    let bad = || {
        ApiError::unprocessable(
            "invalid_email",
            format!(
                "`{}` is not an e-mail address; give one like name@example.com",
                crate::logtext::shown(t)
            ),
        )
    };
    if t.len() > MAX_EMAIL {
        return Err(bad());
    }
    t.parse::<lettre::Address>().map_err(|_| bad())?;
    Ok(t.to_owned())
}

/// Where the customer gave an address: the case mails it (when mail is on).
#[derive(Debug, Clone)]
pub struct Contact {
    pub email: String,
    /// See [`base_url`].
    pub base_url: String,
}

/// A freshly minted link for a mail, when mail is on.
fn mail_link(state: &AppState, base: Option<&str>) -> ApiResult<Option<MailLink>> {
    if !state.cases.mail {
        return Ok(None);
    }
    let Some(base) = state.cases.public_url.as_deref().or(base) else {
        return Ok(None);
    };
    let token = auth::mint_token(CUSTOMER_PREFIX).map_err(ApiError::internal)?;
    Ok(Some(MailLink {
        base_url: base.trim_end_matches('/').to_owned(),
        token: token.plain,
        token_hash: token.hash,
    }))
}

/// The case of a record just frozen: its reference (the session's, else a
/// new one), the customer's address, its due times, its `created` event by
/// `by`.
pub fn new_case(
    state: &AppState,
    record: Record,
    reference: Option<&str>,
    contact: Option<Contact>,
    by: &str,
    now: OffsetDateTime,
) -> ApiResult<NewCase> {
    let reference = match reference.filter(|r| !r.trim().is_empty()) {
        Some(r) => r.to_owned(),
        None => case::reference::new_reference().map_err(ApiError::internal)?,
    };
    let due = state
        .cases
        .due_times
        .due(record.tier, record.queue.as_deref(), now);
    let email = contact.as_ref().map(|c| c.email.clone());
    let mail = match &contact {
        Some(c) => mail_link(state, Some(&c.base_url))?,
        None => None,
    };
    Ok(NewCase {
        escalation: Escalation {
            record,
            case: Case::new(reference, email, due, by, now),
            updated_at: now,
        },
        mail,
        mirror: state.cases.mirror,
    })
}

/// Reads one case for a staff user: 404 when there is none or it is above
/// their tier.
pub async fn read(state: &AppState, user: &User, id: &str) -> ApiResult<Escalation> {
    let e = ops::escalation(state, id).await?;
    if !actor_of(user).may_see(e.record.tier) {
        return Err(no_escalation(id));
    }
    Ok(e)
}

/// A page of the queue, of the cases the user may see.
pub async fn list(state: &AppState, user: &User, mut f: EscalationFilter) -> ApiResult<Page> {
    if user.role != Role::Admin {
        f.max_tier = Some(user.tier);
    }
    Ok(state.store.escalations(&f).await?)
}

/// Checks the texts an act carries: present, and within the note cap.
fn check_act(act: &Act) -> ApiResult<()> {
    let texts: Vec<(&str, &str)> = match act {
        Act::Claim { .. } | Act::Breach { .. } => Vec::new(),
        Act::Note { text } | Act::Reply { text, .. } | Act::CustomerMessage { text } => {
            vec![("text", text)]
        }
        Act::Resolve { resolution, note } => {
            let mut v = vec![("resolution", resolution.as_str())];
            v.extend(note.as_deref().map(|n| ("note", n)));
            v
        }
        Act::EscalateFurther { note, .. } => vec![("note", note)],
    };
    for (field, text) in texts {
        caps::check_note(field, text)?;
        if text.trim().is_empty() {
            return Err(ApiError::unprocessable(
                "invalid_body",
                format!("`{field}` must not be empty"),
            ));
        }
    }
    Ok(())
}

/// Why an act did not happen: the rules refused it (the case as it stands
/// and the reason, for a surface to word in its own way), or the request
/// itself failed.
#[derive(Debug)]
pub enum NotDone {
    Refused(Box<Escalation>, Refusal),
    Failed(ApiError),
}

impl From<ApiError> for NotDone {
    fn from(e: ApiError) -> Self {
        NotDone::Failed(e)
    }
}

/// Applies an act to case `id` by `actor`; `base` is where a mail's link
/// starts (see [`base_url`]).
pub async fn act(
    state: &AppState,
    actor: Actor,
    id: &str,
    act: Act,
    base: Option<&str>,
) -> ApiResult<Escalation> {
    try_act(state, actor, id, act, base)
        .await
        .map_err(|e| match e {
            NotDone::Refused(e, why) => refusal(id, &e, why),
            NotDone::Failed(e) => e,
        })
}

/// [`act`], with a refusal of the rules kept as the rules said it: the
/// queue's pages word it in the reader's language.
pub async fn try_act(
    state: &AppState,
    actor: Actor,
    id: &str,
    act: Act,
    base: Option<&str>,
) -> Result<Escalation, NotDone> {
    try_act_via(state, actor, id, act, base, None).await
}

/// [`try_act`] for a change made in a connected ticketing system: its
/// events carry `via` (`connector#transaction`).
pub async fn try_act_via(
    state: &AppState,
    actor: Actor,
    id: &str,
    act: Act,
    base: Option<&str>,
    via: Option<String>,
) -> Result<Escalation, NotDone> {
    if !well_formed_id(id, "esc_") {
        return Err(no_escalation(id).into());
    }
    check_act(&act)?;
    let change = EscalationChange {
        actor,
        act,
        reopen_within: state.cases.reopen_within,
        due_times: state.cases.due_times.clone(),
        mail: mail_link(state, base)?,
        mirror: state.cases.mirror,
        via,
    };
    let now = state.clock.now();
    match state
        .store
        .change_escalation(id, &change, now)
        .await
        .map_err(ApiError::from)?
    {
        Changed::Ok(e) => {
            state.outbox_notify.notify_one();
            if let Act::EscalateFurther { tier, .. } = change.act {
                ops::count_escalation(tier, "specialist");
            }
            Ok(e)
        }
        Changed::Unchanged(e) => Ok(e),
        Changed::NotFound => Err(no_escalation(id).into()),
        Changed::Refused(e, why) => Err(NotDone::Refused(Box::new(e), why)),
    }
}

/// A refusal of the rules as the API says it.
pub fn refusal(id: &str, e: &Escalation, why: Refusal) -> ApiError {
    match why {
        Refusal::OutOfTier { .. } => no_escalation(id),
        Refusal::ClaimedByOther { holder } => ApiError::conflict(
            "claimed_by_other",
            format!(
                "escalation `{id}` is held by {holder}; take it over first \
                 (`POST …/claim` with {{\"take_over\": true}})"
            ),
        ),
        Refusal::Resolved => ApiError::conflict(
            "escalation_resolved",
            format!("escalation `{id}` is resolved already"),
        ),
        Refusal::Closed => ApiError::conflict(
            "case_closed",
            format!(
                "case {} was resolved on {} and takes no more messages; start a new session",
                e.case.reference,
                e.case.resolved_at.unwrap_or(e.updated_at).date()
            ),
        ),
        Refusal::InvalidTier { tier, from } if tier > 4 => ApiError::unprocessable(
            "invalid_tier",
            format!(
                "there is no tier {tier}: the highest tier is 4 (this escalation is at {from})"
            ),
        ),
        Refusal::InvalidTier { tier, from } => ApiError::unprocessable(
            "invalid_tier",
            format!("tier {tier} is not higher than the escalation's tier {from}"),
        ),
        Refusal::TooManyMessages => ApiError::unprocessable(
            "too_many_messages",
            format!(
                "case {} holds {} messages from you already; wait for a reply",
                e.case.reference,
                case::MAX_CUSTOMER_MESSAGES
            ),
        ),
        Refusal::Erased => ApiError::conflict(
            "case_erased",
            format!(
                "the personal data of case {} was erased; it takes no more changes",
                e.case.reference
            ),
        ),
        Refusal::StaffOnly => ApiError::Forbidden("only staff may do this".into()),
        // No request acts as the server, nor asks for a breach.
        Refusal::SystemOnly => ApiError::Forbidden("only the server may do this".into()),
    }
}

/// Escalates further: to a higher tier (default: one up), the trail kept
/// and the note appended.
pub async fn escalate_further(
    state: &AppState,
    user: &User,
    id: &str,
    tier: Option<u8>,
    queue: Option<String>,
    note: String,
) -> ApiResult<Escalation> {
    let current = read(state, user, id).await?;
    let tier = tier.unwrap_or(current.record.tier.saturating_add(1));
    let queue = queue.filter(|q| !q.trim().is_empty());
    act(
        state,
        actor_of(user),
        id,
        Act::EscalateFurther { tier, queue, note },
        None,
    )
    .await
}

/// A customer's message on their session's case. Only the session's own
/// token (or a link token of it) writes here: staff reply on the case.
pub async fn customer_message(
    state: &AppState,
    caller: &Caller,
    session_id: &str,
    text: String,
) -> ApiResult<Escalation> {
    if let Caller::Staff(_) = caller {
        return Err(ApiError::Forbidden(
            "this is the customer's way to write; staff reply with \
             `POST /api/v1/escalations/{id}/reply`"
                .into(),
        ));
    }
    let (stored, _) = ops::open_session(state, caller, session_id).await?;
    if stored.state.status != crate::engine::Status::Escalated {
        return Err(ApiError::conflict(
            "not_escalated",
            format!(
                "session `{session_id}` has no case to write on: it was not handed to a person"
            ),
        ));
    }
    let id = ops::escalation_id_for(session_id);
    act(
        state,
        Actor::Customer,
        &id,
        Act::CustomerMessage { text },
        None,
    )
    .await
}

/// What a customer sees of their case: never notes, events, the address or
/// who holds it.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerCase {
    pub reference: String,
    pub status: Status,
    pub tier: u8,
    pub queue: Option<String>,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub resolved_at: Option<OffsetDateTime>,
}

impl CustomerCase {
    pub fn of(e: &Escalation) -> CustomerCase {
        CustomerCase {
            reference: e.case.reference.clone(),
            status: e.case.status,
            tier: e.record.tier,
            queue: e.record.queue.clone(),
            messages: e.case.messages.clone(),
            resolution: e.case.resolution.clone(),
            resolved_at: e.case.resolved_at,
        }
    }
}

/// The case of a session, for its customer (`None` before it escalated).
pub async fn of_session(state: &AppState, session_id: &str) -> ApiResult<Option<CustomerCase>> {
    let id = ops::escalation_id_for(session_id);
    Ok(state
        .store
        .escalation(&id)
        .await?
        .map(|e| CustomerCase::of(&e)))
}
