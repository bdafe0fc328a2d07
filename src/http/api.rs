//! The JSON API of contract section 9 (`/api/v1`): scripts, sessions, the
//! escalation queue, the authors' load report and the figures (section
//! 11), plus the OpenAPI document that describes them
//! (`GET /api/openapi.json`).
//!
//! Every route is listed once, in [`table`]: the router ([`super::router`])
//! is built from it and the tests check the OpenAPI document against it,
//! and each documented request body against its type. Each route has its own
//! request type; axum's rejections are mapped into [`ApiError`] by the
//! extractor wrappers below, so every client mistake is a 4xx JSON error.
//!
//! Who may call what (section 9, and where it is silent, the choices below;
//! "staff" is every role: agent, specialist, author, admin):
//!
//! | call                          | anonymous          | customer token              | staff                      |
//! |-------------------------------|--------------------|-----------------------------|----------------------------|
//! | `GET /scripts`                | yes                | yes                         | yes                        |
//! | `POST /sessions`              | channel `customer`, customer-facing scripts (else 403 / 404) | same | any channel, any script |
//! | `GET/POST /sessions/{id}[/…]` | 401                | its own session (else 404)  | yes                        |
//! | `/escalations…`               | 401                | 403                         | specialists, admins (else 403) |
//! | `GET /author/report`          | 401                | 403                         | authors, admins (else 403) |
//! | `GET /stats`                  | 401                | 403                         | authors, admins (else 403) |
//!
//! A bearer token of neither kind, or an unknown staff token, is 401
//! everywhere it is read.

mod escalations;
mod stats;

use super::AppState;
use super::auth::Caller;
use super::cases::{self, Contact, CustomerCase};
use super::error::{ApiError, ApiResult};
use super::limits::ClientIp;
use super::ops::{self, Move, NewSession};
use crate::engine::{self, Channel, Ending, Reply, Session, Status, Step};
use crate::store::Role;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{MethodFilter, MethodRouter, on};
use escalations::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use stats::*;
use std::collections::BTreeMap;

/// The OpenAPI 3.1 document of every route below.
pub const OPENAPI: &str = include_str!("openapi.json");

/// One route of the API.
pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub(super) handler: MethodRouter<AppState>,
}

fn route<H, T>(method: Method, path: &'static str, handler: H) -> Route
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
    Route {
        method,
        path,
        handler: on(filter, handler),
    }
}

/// Every route the API serves: the one list the router and the tests share.
pub fn table() -> Vec<Route> {
    use Method as M;
    vec![
        route(M::GET, "/api/openapi.json", openapi),
        route(M::GET, "/api/v1/scripts", list_scripts),
        route(M::POST, "/api/v1/sessions", start_session),
        route(M::GET, "/api/v1/sessions/{id}", get_session),
        route(M::POST, "/api/v1/sessions/{id}/answer", answer_session),
        route(M::POST, "/api/v1/sessions/{id}/back", back_session),
        route(M::POST, "/api/v1/sessions/{id}/escalate", escalate_session),
        route(M::POST, "/api/v1/sessions/{id}/message", message_session),
        route(M::POST, "/api/v1/sessions/{id}/feedback", feedback_session),
        route(M::GET, "/api/v1/escalations", list_escalations),
        route(M::GET, "/api/v1/escalations/{id}", get_escalation),
        route(M::POST, "/api/v1/escalations/{id}/claim", claim_escalation),
        route(M::POST, "/api/v1/escalations/{id}/note", note_escalation),
        route(M::POST, "/api/v1/escalations/{id}/reply", reply_escalation),
        route(
            M::POST,
            "/api/v1/escalations/{id}/resolve",
            resolve_escalation,
        ),
        route(
            M::POST,
            "/api/v1/escalations/{id}/escalate",
            escalate_further,
        ),
        route(M::GET, "/api/v1/author/report", author_report),
        route(M::GET, "/api/v1/stats", stats_report),
    ]
}

/// `(METHOD, PATH)` of every route, for the tests and the docs.
pub fn route_list() -> Vec<(Method, &'static str)> {
    table().into_iter().map(|r| (r.method, r.path)).collect()
}

// ---------------------------------------------------------------------------
// Extractors: axum's, with their rejections mapped into our error type.

/// A JSON body; a malformed or mistyped body is a 4xx JSON error.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let axum::Json(v) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Body(v))
    }
}

/// A JSON body that may be left out (no bytes at all): then `T::default()`.
pub struct OptionalBody<T>(pub T);

impl<T, S> FromRequest<S> for OptionalBody<T>
where
    T: DeserializeOwned + Default,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().starts_with("application/json"));
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| match r.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::PayloadTooLarge("the request body is too large".into())
                }
                _ => ApiError::bad_request("invalid_body", r.body_text()),
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalBody(T::default()));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "this call takes a JSON body: send `Content-Type: application/json`".into(),
            ));
        }
        let axum::Json(v) = axum::Json::<T>::from_bytes(&bytes)?;
        Ok(OptionalBody(v))
    }
}

/// Path parameters.
pub struct PathParam<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParam<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Path(v) =
            axum::extract::Path::<T>::from_request_parts(parts, state).await?;
        Ok(PathParam(v))
    }
}

/// A query string.
pub struct QueryParams<T>(pub T);

impl<T, S> FromRequestParts<S> for QueryParams<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(QueryParams(v))
    }
}

/// A specialist or an admin: the people who work the escalation queue.
/// Checked before the body is read, so a refused caller learns nothing about
/// the body's shape.
pub struct QueueWorker(pub crate::store::User);

impl FromRequestParts<AppState> for QueueWorker {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let user = caller.require_role(&[Role::Specialist, Role::Admin], "the escalation queue")?;
        Ok(QueueWorker(user.clone()))
    }
}

/// An author or an admin.
pub struct AuthorUser(pub crate::store::User);

impl FromRequestParts<AppState> for AuthorUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        let user = caller.require_role(&[Role::Author, Role::Admin], "the authors' report")?;
        Ok(AuthorUser(user.clone()))
    }
}

async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI)
}

// ---------------------------------------------------------------------------
// Scripts.

#[derive(Debug, Serialize)]
struct ScriptSummary {
    id: String,
    title: String,
    languages: Vec<String>,
    version: String,
}

/// `GET /api/v1/scripts`: the customer-facing scripts, by id.
async fn list_scripts(State(state): State<AppState>) -> axum::Json<Vec<ScriptSummary>> {
    let program = state.library.current();
    let mut list: Vec<ScriptSummary> = program
        .scripts
        .iter()
        .filter(|s| ops::customer_facing(s))
        .map(|s| ScriptSummary {
            id: s.id.clone(),
            title: program.templates.source(s.title, 0).into_owned(),
            languages: s.languages.clone(),
            version: s.version.clone(),
        })
        .collect();
    list.sort_by(|a, b| a.id.cmp(&b.id));
    axum::Json(list)
}

// ---------------------------------------------------------------------------
// Sessions.

/// `POST /api/v1/sessions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartSession {
    script: String,
    channel: Channel,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    params: BTreeMap<String, Json>,
    #[serde(default)]
    vars: BTreeMap<String, Json>,
    /// A ticket number or a caller's name, so an agent can find the session;
    /// staff only (see [`start_session`]).
    #[serde(default)]
    reference: Option<String>,
}

/// `POST /api/v1/sessions/{id}/answer`: `{seq, answer}` or `{seq, value}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerStep {
    seq: u32,
    #[serde(default)]
    answer: Option<String>,
    /// A string, or a number for a number input.
    #[serde(default)]
    value: Option<Json>,
}

/// `POST /api/v1/sessions/{id}/back`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BackStep {
    seq: u32,
}

/// `POST /api/v1/sessions/{id}/escalate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EscalateStep {
    seq: u32,
    #[serde(default)]
    note: Option<String>,
    /// Where the case may mail the customer (checked: 422 when malformed).
    #[serde(default)]
    email: Option<String>,
}

/// `POST /api/v1/sessions/{id}/message`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerMessage {
    text: String,
}

/// A session as the API returns it. `token` only when it was created,
/// `trail` only when it is read whole.
#[derive(Debug, Serialize)]
struct SessionBody {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    script: String,
    channel: Channel,
    language: String,
    status: Status,
    step: Option<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trail: Option<Vec<engine::TrailEntry>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    escalation: Option<EscalationSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<Resolution>,
    /// The case the escalation became, as its customer sees it (when the
    /// session is read whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    case: Option<CustomerCase>,
}

/// How an escalated session was handed over, as it ended. The full record
/// (section 8) is for specialists, at `/api/v1/escalations/{id}`.
#[derive(Debug, Serialize)]
struct EscalationSummary {
    id: String,
    tier: u8,
    queue: Option<String>,
    reason: String,
    node: String,
}

#[derive(Debug, Serialize)]
struct Resolution {
    node: String,
    text: String,
}

fn session_body(
    id: &str,
    s: &Session,
    step: Option<Step>,
    token: Option<String>,
    with_trail: bool,
) -> SessionBody {
    let (escalation, resolution) = match s.ending.as_deref() {
        Some(Ending::Escalated {
            node,
            reason,
            tier,
            queue,
            ..
        }) => (
            Some(EscalationSummary {
                id: ops::escalation_id_for(id),
                tier: *tier,
                queue: queue.clone(),
                reason: reason.clone(),
                node: node.clone(),
            }),
            None,
        ),
        Some(Ending::Resolved { node, text }) => (
            None,
            Some(Resolution {
                node: node.clone(),
                text: text.clone(),
            }),
        ),
        None => (None, None),
    };
    SessionBody {
        id: id.to_owned(),
        token,
        script: s.script.clone(),
        channel: s.channel,
        language: s.language.clone(),
        status: s.status,
        step,
        trail: with_trail.then(|| s.trail.clone()),
        escalation,
        resolution,
        case: None,
    }
}

/// `POST /api/v1/sessions`: 201 with the session, its token and its first step.
async fn start_session(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    caller: Caller,
    Body(req): Body<StartSession>,
) -> ApiResult<(StatusCode, axum::Json<SessionBody>)> {
    // Staff are known and few; a stranger's starts are limited per address
    // (each one is a row in the database).
    if caller.staff().is_none() {
        state
            .guards
            .session_start
            .check(ip, std::time::Instant::now())
            .map_err(|t| t.api_error("sessions started"))?;
    }
    // An agent takes a session over by its reference: a customer who chose
    // one could plant a session under a ticket number the agent is about to
    // type. Customers get a reference the server makes (the wizard's).
    if caller.staff().is_none() && req.reference.is_some() {
        return Err(ApiError::unprocessable(
            "reference_not_allowed",
            "only staff may give a session a `reference`; leave it out",
        ));
    }
    let new = NewSession {
        script: req.script,
        channel: req.channel,
        language: req.language,
        params: req.params,
        vars: req.vars,
        reference: req.reference,
    };
    let started = ops::start_session(&state, &caller, new).await?;
    let body = session_body(
        &started.id,
        &started.stored.state,
        started.step,
        Some(started.token),
        false,
    );
    Ok((StatusCode::CREATED, axum::Json(body)))
}

/// `GET /api/v1/sessions/{id}`: status, current step and the whole trail.
async fn get_session(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
) -> ApiResult<axum::Json<SessionBody>> {
    let (stored, reader) = ops::open_session(&state, &caller, &id).await?;
    let step = ops::current_step(&state, &stored.state, reader.staff).await?;
    let mut body = session_body(&id, &stored.state, step, None, true);
    if stored.state.status == Status::Escalated {
        body.case = cases::of_session(&state, &id).await?;
    }
    Ok(axum::Json(body))
}

async fn step_session(
    state: &AppState,
    caller: &Caller,
    id: &str,
    seq: u32,
    mv: Move,
) -> ApiResult<axum::Json<SessionBody>> {
    // A customer's session is over once it sits idle past the limit, here
    // as in the wizard (staff may still step it, as in the console).
    let idle = matches!(caller, Caller::Customer { .. }).then_some(state.config.wizard_idle);
    let stepped = match ops::step_unless_idle(state, caller, id, seq, mv, idle).await? {
        ops::Moved::Stepped(s) => s,
        ops::Moved::Idle => {
            return Err(ApiError::Gone {
                code: "session_expired",
                message: format!(
                    "session `{id}` expired: nothing happened for more than {} minutes; \
                     start a new session",
                    state.config.wizard_idle.as_secs().div_ceil(60)
                ),
            });
        }
    };
    Ok(axum::Json(session_body(
        id,
        &stepped.session.state,
        stepped.step,
        None,
        false,
    )))
}

/// `POST /api/v1/sessions/{id}/answer`.
async fn answer_session(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    Body(req): Body<AnswerStep>,
) -> ApiResult<axum::Json<SessionBody>> {
    let reply = match (req.answer, req.value) {
        (Some(a), None) => Reply::Answer(a),
        (None, Some(Json::String(v))) => Reply::Value(v),
        (None, Some(Json::Number(n))) => Reply::Value(n.to_string()),
        (None, Some(_)) => {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "`value` must be a string (or a number for a number input)",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "give either `answer` (an answer's id or label) or `value` (for an input step), not both",
            ));
        }
        (None, None) => {
            return Err(ApiError::unprocessable(
                "invalid_body",
                "missing `answer` (an answer's id or label) or `value` (for an input step)",
            ));
        }
    };
    step_session(&state, &caller, &id, req.seq, Move::Reply(reply)).await
}

/// `POST /api/v1/sessions/{id}/back`.
async fn back_session(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    Body(req): Body<BackStep>,
) -> ApiResult<axum::Json<SessionBody>> {
    step_session(&state, &caller, &id, req.seq, Move::Back).await
}

/// `POST /api/v1/sessions/{id}/escalate`.
async fn escalate_session(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    PathParam(id): PathParam<String>,
    Body(req): Body<EscalateStep>,
) -> ApiResult<axum::Json<SessionBody>> {
    let note = req.note.filter(|n| !n.trim().is_empty());
    let contact = match req.email.filter(|e| !e.trim().is_empty()) {
        Some(e) => Some(Contact {
            email: cases::check_email(&e)?,
            base_url: cases::base_url(&state, &headers),
        }),
        None => None,
    };
    step_session(
        &state,
        &caller,
        &id,
        req.seq,
        Move::Escalate { note, contact },
    )
    .await
}

/// `POST /api/v1/sessions/{id}/message`: the customer writes on their case;
/// the answer is the case as they see it.
async fn message_session(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    Body(req): Body<CustomerMessage>,
) -> ApiResult<axum::Json<CustomerCase>> {
    let e = cases::customer_message(&state, &caller, &id, req.text).await?;
    Ok(axum::Json(CustomerCase::of(&e)))
}

/// `POST /api/v1/sessions/{id}/feedback`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedbackRequest {
    score: i64,
    #[serde(default)]
    comment: Option<String>,
}

/// A rating as stored.
#[derive(Debug, Serialize)]
struct FeedbackGiven {
    kind: crate::case::feedback::FeedbackKind,
    score: i64,
}

/// `POST /api/v1/sessions/{id}/feedback`: the customer rates the session
/// (`self_service`) or its resolved case (`case`), once each.
async fn feedback_session(
    State(state): State<AppState>,
    caller: Caller,
    PathParam(id): PathParam<String>,
    Body(req): Body<FeedbackRequest>,
) -> ApiResult<(StatusCode, axum::Json<FeedbackGiven>)> {
    let rating = crate::http::feedback::Rating {
        score: req.score,
        comment: req.comment,
    };
    let kind = crate::http::feedback::give(&state, &caller, &id, &rating).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(FeedbackGiven {
            kind,
            score: req.score,
        }),
    ))
}

// ---------------------------------------------------------------------------
// Authors.

/// `GET /api/v1/author/report`: the outcome of the last (re)load, with every
/// diagnostic, so an author learns why an edit was refused.
async fn author_report(
    State(state): State<AppState>,
    AuthorUser(_): AuthorUser,
) -> axum::Json<crate::library::LoadReport> {
    axum::Json(state.library.report())
}

#[cfg(test)]
mod tests;
