//! The escalation queue's calls (contract sections 9 and 10): the listing
//! with its filters, order and cursor, one case, and the acts on it.
//! Every act goes through [`cases::act`], so the API and the queue pages
//! refuse the same things the same way.

use super::{Body, OptionalBody, PathParam, QueryParams, QueueWorker};
use crate::case::Act;
use crate::http::AppState;
use crate::http::cases::{self, actor_of};
use crate::http::error::{ApiError, ApiResult};
use crate::store::{Cursor, Escalation, EscalationFilter, EscalationStatus, Sort};
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

/// `GET /api/v1/escalations?tier=&queue=&status=&sort=&after=&limit=`.
/// Empty values mean "any" (or the default), so a form can send every
/// field; `status=all` is every status too.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EscalationQuery {
    #[serde(default)]
    tier: Option<String>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    sort: Option<String>,
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
/// The longest queue name a filter may name (a queue is a short word).
const MAX_QUEUE: usize = 200;

impl EscalationQuery {
    fn filter(self) -> ApiResult<EscalationFilter> {
        let given = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        let bad = |m: String| ApiError::bad_request("invalid_query", m);
        let tier = match given(self.tier) {
            None => None,
            Some(t) => match t.trim().parse::<u8>() {
                Ok(n @ 1..=4) => Some(n),
                _ => return Err(bad(format!("`tier` must be 1, 2, 3 or 4, not `{t}`"))),
            },
        };
        let status = match given(self.status) {
            // `all` is what the queue page sends for every status.
            None => None,
            Some(s) if s.trim() == "all" => None,
            Some(s) => Some(EscalationStatus::parse(s.trim()).ok_or_else(|| {
                bad(format!(
                    "`status` must be open, claimed, waiting, resolved or all, not `{s}`"
                ))
            })?),
        };
        let sort = match given(self.sort).as_deref().map(str::trim) {
            None | Some("created") => Sort::Created,
            Some("due") => Sort::Due,
            Some(other) => {
                return Err(bad(format!("`sort` must be created or due, not `{other}`")));
            }
        };
        let after = match given(self.after) {
            None => None,
            Some(a) => match Cursor::decode(&a) {
                Some(c) if c.sort == sort => Some(c),
                _ => {
                    return Err(bad(
                        "`after` is not a cursor of this listing: pass the `next` of the \
                         page before, with the same `sort`"
                            .into(),
                    ));
                }
            },
        };
        let limit = match given(self.limit) {
            None => DEFAULT_LIMIT,
            Some(l) => match l.trim().parse::<u32>() {
                Ok(n @ 1..=MAX_LIMIT) => n,
                _ => {
                    return Err(bad(format!(
                        "`limit` must be a number from 1 to {MAX_LIMIT}, not `{l}`"
                    )));
                }
            },
        };
        let queue = given(self.queue).map(|q| q.trim().to_owned());
        if queue.as_ref().is_some_and(|q| q.len() > MAX_QUEUE) {
            return Err(bad(format!("`queue` is longer than {MAX_QUEUE} bytes")));
        }
        Ok(EscalationFilter {
            tier,
            queue,
            status,
            unresolved: false,
            max_tier: None,
            sort,
            after,
            limit,
        })
    }
}

/// A page of the queue.
#[derive(Debug, Serialize)]
pub(super) struct EscalationPage {
    items: Vec<Escalation>,
    /// The `after` of the next page; null on the last.
    next: Option<String>,
}

/// `POST /api/v1/escalations/{id}/claim`; the body may be left out.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ClaimEscalation {
    /// Take a case someone else holds (recorded as `taken_over`).
    #[serde(default)]
    take_over: bool,
}

/// `POST /api/v1/escalations/{id}/note`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AddNote {
    text: String,
}

/// `POST /api/v1/escalations/{id}/reply`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReplyEscalation {
    text: String,
    /// Wait for the customer's answer (status `waiting`).
    #[serde(default)]
    wait: bool,
}

/// `POST /api/v1/escalations/{id}/resolve`: `{resolution, note?}`, or the
/// older `{note}` (the note is then the resolution).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ResolveEscalation {
    #[serde(default)]
    resolution: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/escalations/{id}/escalate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EscalateFurther {
    /// Default: the escalation's tier plus one.
    #[serde(default)]
    tier: Option<u8>,
    /// Default: the queue it is in.
    #[serde(default)]
    queue: Option<String>,
    note: String,
}

/// `GET /api/v1/escalations`: the cases the caller's tier sees.
pub(super) async fn list_escalations(
    State(state): State<AppState>,
    QueueWorker(user): QueueWorker,
    QueryParams(q): QueryParams<EscalationQuery>,
) -> ApiResult<axum::Json<EscalationPage>> {
    let page = cases::list(&state, &user, q.filter()?).await?;
    Ok(axum::Json(EscalationPage {
        items: page.items,
        next: page.next.map(|c| c.encode()),
    }))
}

/// `GET /api/v1/escalations/{id}`.
pub(super) async fn get_escalation(
    State(state): State<AppState>,
    QueueWorker(user): QueueWorker,
    PathParam(id): PathParam<String>,
) -> ApiResult<axum::Json<Escalation>> {
    Ok(axum::Json(cases::read(&state, &user, &id).await?))
}

/// `POST /api/v1/escalations/{id}/claim`: the first claim wins; a case
/// someone else holds only with `take_over`.
pub(super) async fn claim_escalation(
    State(state): State<AppState>,
    QueueWorker(user): QueueWorker,
    PathParam(id): PathParam<String>,
    OptionalBody(req): OptionalBody<ClaimEscalation>,
) -> ApiResult<axum::Json<Escalation>> {
    let act = Act::Claim {
        take_over: req.take_over,
    };
    Ok(axum::Json(
        cases::act(&state, actor_of(&user), &id, act, None).await?,
    ))
}

/// `POST /api/v1/escalations/{id}/note`.
pub(super) async fn note_escalation(
    State(state): State<AppState>,
    QueueWorker(user): QueueWorker,
    PathParam(id): PathParam<String>,
    Body(req): Body<AddNote>,
) -> ApiResult<axum::Json<Escalation>> {
    let act = Act::Note { text: req.text };
    Ok(axum::Json(
        cases::act(&state, actor_of(&user), &id, act, None).await?,
    ))
}

/// `POST /api/v1/escalations/{id}/reply`: a message to the customer (and a
/// mail, when they gave an address).
pub(super) async fn reply_escalation(
    State(state): State<AppState>,
    QueueWorker(user): QueueWorker,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(req): Body<ReplyEscalation>,
) -> ApiResult<axum::Json<Escalation>> {
    let act = Act::Reply {
        text: req.text,
        wait: req.wait,
    };
    let base = cases::base_url(&state, &headers);
    Ok(axum::Json(
        cases::act(&state, actor_of(&user), &id, act, Some(&base)).await?,
    ))
}

/// `POST /api/v1/escalations/{id}/resolve`.
pub(super) async fn resolve_escalation(
    State(state): State<AppState>,
    QueueWorker(user): QueueWorker,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(req): Body<ResolveEscalation>,
) -> ApiResult<axum::Json<Escalation>> {
    let (resolution, note) = match (req.resolution, req.note) {
        (Some(r), note) => (r, note.filter(|n| !n.trim().is_empty())),
        (None, Some(n)) => (n, None),
        (None, None) => {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "missing `resolution`: the text the customer sees",
            ));
        }
    };
    let act = Act::Resolve { resolution, note };
    let base = cases::base_url(&state, &headers);
    Ok(axum::Json(
        cases::act(&state, actor_of(&user), &id, act, Some(&base)).await?,
    ))
}

/// `POST /api/v1/escalations/{id}/escalate`: to a higher tier (default: one
/// up), with the trail kept and the note appended.
pub(super) async fn escalate_further(
    State(state): State<AppState>,
    QueueWorker(user): QueueWorker,
    PathParam(id): PathParam<String>,
    Body(req): Body<EscalateFurther>,
) -> ApiResult<axum::Json<Escalation>> {
    let e = cases::escalate_further(&state, &user, &id, req.tier, req.queue, req.note).await?;
    Ok(axum::Json(e))
}
