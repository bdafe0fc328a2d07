//! The API's one error type. Every failure of a request becomes
//! `{"error": {"code": "...", "message": "..."}}` with its status: a 4xx that
//! says what was wrong and how to put it right for a client's mistake, a 500
//! that says little for our own fault (the cause goes to the log, never to
//! the client).
//!
//! axum's own rejections (a body that is not JSON, a missing field, a query
//! string of the wrong type, a body over the limit) are mapped here too, so
//! a client never gets a plain-text error or a 500 for its own mistake.

use crate::engine::StepError;
use crate::library::LibraryError;
use crate::store::StoreError;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request could not be read (malformed JSON, a bad query string).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 401: no usable credentials for a call that needs them.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: no such thing, or nothing the caller may know exists.
    #[error("{0}")]
    NotFound(String),
    /// 405: the route exists, the method does not.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// 409: the state moved on (a stale `seq`, a claimed escalation).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// 410: the thing was there but is over (a session idle past the
    /// limit).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// 413: the body is larger than the server accepts.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415: the body is not declared as JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed, but refused (a missing field, an unknown answer).
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// 429: too many requests from this client, or the server is busy;
    /// `Retry-After` says in how many seconds to try again.
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    /// 500: the server's own fault; the cause is logged, not sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// 503: the database cannot take requests just now (restarting, out of
    /// reach, out of disk); nothing was changed, and the same request may
    /// be sent again after `Retry-After`. The cause is logged, not sent.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
}

/// Seconds a client is asked to wait before it tries again while the
/// database is unavailable: long enough for a restart, short enough that a
/// person does not give up.
pub(crate) const UNAVAILABLE_RETRY_AFTER: u64 = 5;

/// While the database is down every request is refused, and clients retry:
/// one log line per request would bury the cause under thousands a minute.
/// The refusals are logged at most once in this many seconds, with how many
/// there were since the last line.
const UNAVAILABLE_LOG_EVERY: u64 = 10;

/// Whether this refusal is to be logged, and if so the refusals since the
/// last line, this one included.
fn unavailable_log_due() -> Option<u64> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static LAST_LOGGED: AtomicU64 = AtomicU64::new(0);
    static REFUSED: AtomicU64 = AtomicU64::new(0);
    let refused = REFUSED.fetch_add(1, Ordering::Relaxed) + 1;
    // Seconds on the monotonic clock since the first refusal, plus one (0:
    // nothing logged yet). Not wall time: only the distance matters.
    static FIRST: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let now = FIRST
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs()
        + 1;
    let last = LAST_LOGGED.load(Ordering::Relaxed);
    let due = last == 0 || now >= last + UNAVAILABLE_LOG_EVERY;
    // One caller wins the line; the others count on.
    if due
        && LAST_LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        REFUSED.fetch_sub(refused, Ordering::Relaxed);
        Some(refused)
    } else {
        None
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            message: message.into(),
        }
    }

    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unprocessable {
            code,
            message: message.into(),
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Gone { .. } => StatusCode::GONE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The stable, machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. }
            | ApiError::Conflict { code, .. }
            | ApiError::Gone { code, .. }
            | ApiError::Unprocessable { code, .. } => code,
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Internal(_) => "internal",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    /// What the client reads: the whole story for a 4xx, nothing of the
    /// cause for a 500.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => {
                "the server failed to handle this request; it has been logged".into()
            }
            ApiError::Unavailable(_) => format!(
                "the server cannot store or read anything just now; nothing was changed, \
                 try again in {UNAVAILABLE_RETRY_AFTER} seconds"
            ),
            other => other.to_string(),
        }
    }
}

/// The JSON error body, for the few places that build a response without an
/// [`ApiError`] (the panic handler).
pub fn error_body(code: &str, message: &str) -> String {
    serde_json::json!({ "error": { "code": code, "message": message } }).to_string()
}

impl ApiError {
    /// Logs what the operator must see: the cause of a failure (which the
    /// answer never shows), and refusals while the database is out of
    /// reach, at most once in [`UNAVAILABLE_LOG_EVERY`] seconds with their
    /// count. A person's mistakes are not logged. The API's answers and the
    /// error pages both log here.
    pub(crate) fn log(&self) {
        match self {
            ApiError::Internal(cause) => {
                tracing::error!(cause = %crate::logtext::shown(cause), "request failed");
            }
            ApiError::Unavailable(cause) => {
                if let Some(refused) = unavailable_log_due() {
                    tracing::error!(
                        cause = %crate::logtext::shown(cause),
                        refused,
                        "request refused: the database is unavailable"
                    );
                }
            }
            _ => {}
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let body = error_body(self.code(), &self.public_message());
        let mut res = (
            status,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            body,
        )
            .into_response();
        match self {
            ApiError::Unauthorized(_) => {
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            ApiError::TooManyRequests { retry_after, .. } => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
            }
            ApiError::Unavailable(_) => {
                res.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(UNAVAILABLE_RETRY_AFTER),
                );
            }
            _ => {}
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable { .. } => ApiError::Unavailable(e.to_string()),
            e => ApiError::internal(e),
        }
    }
}

impl From<LibraryError> for ApiError {
    fn from(e: LibraryError) -> Self {
        ApiError::internal(e)
    }
}

impl From<StepError> for ApiError {
    /// The engine's refusals are the person's mistakes (422, with the
    /// engine's own words), except a session that has ended (409: its state
    /// moved on) and a program that does not hold what the session pinned
    /// (our fault).
    fn from(e: StepError) -> Self {
        let code = match &e {
            StepError::UnknownScript(_) | StepError::VersionMismatch { .. } => {
                return ApiError::internal(e);
            }
            StepError::Ended(_) => return ApiError::conflict("session_ended", e.to_string()),
            StepError::UnknownLanguage { .. } => "unknown_language",
            StepError::UnknownAnswer { .. } => "unknown_answer",
            StepError::ExpectedValue => "expected_value",
            StepError::ExpectedAnswer => "expected_answer",
            StepError::InvalidValue(_) => "invalid_value",
            StepError::NothingToGoBack => "nothing_to_go_back",
        };
        ApiError::unprocessable(code, e.to_string())
    }
}

/// The innermost message of an axum rejection: serde's own words with the
/// field path (`seq: invalid type: string "x", expected u32 at line 1 column 10`),
/// without axum's generic prefix.
fn inner_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => ApiError::UnsupportedMediaType(
                "this call takes a JSON body: send `Content-Type: application/json`".into(),
            ),
            JsonRejection::JsonSyntaxError(e) => ApiError::bad_request(
                "invalid_json",
                format!("the body is not valid JSON: {}", inner_message(&e)),
            ),
            JsonRejection::JsonDataError(e) => ApiError::unprocessable(
                "invalid_body",
                format!(
                    "the JSON body does not fit this call: {}",
                    inner_message(&e)
                ),
            ),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge("the request body is too large".into())
            }
            other => ApiError::bad_request(
                "invalid_body",
                format!("the request body could not be read: {}", other.body_text()),
            ),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        match r {
            PathRejection::FailedToDeserializePathParams(e) => {
                ApiError::NotFound(format!("no such resource: {}", inner_message(&e)))
            }
            other => ApiError::internal(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        match r {
            QueryRejection::FailedToDeserializeQueryString(e) => ApiError::bad_request(
                "invalid_query",
                format!(
                    "the query string does not fit this call: {}",
                    inner_message(&e)
                ),
            ),
            other => ApiError::bad_request("invalid_query", other.body_text()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_do_not_leak_their_cause() {
        let e = ApiError::internal("disk /var/secret is full");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.public_message().contains("secret"));
    }

    #[test]
    fn an_unavailable_database_is_a_503_to_retry_that_does_not_leak_its_cause() {
        let e: ApiError = StoreError::Unavailable {
            message: "connection refused to db.internal:5432".into(),
            source: None,
        }
        .into();
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code(), "unavailable");
        assert!(!e.public_message().contains("db.internal"));
        let res = e.into_response();
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()[header::RETRY_AFTER], "5");
        // Any other store failure stays a 500.
        let e: ApiError = StoreError::database("syntax error").into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn refusals_for_an_unavailable_database_are_logged_at_most_once_in_a_while() {
        let logged = (0..1000).filter_map(|_| unavailable_log_due()).count();
        assert!(logged <= 1, "{logged} lines for 1000 refusals in a moment");
    }

    #[test]
    fn engine_refusals_are_client_errors() {
        let e: ApiError = StepError::NothingToGoBack.into();
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let e: ApiError = StepError::Ended("resolved").into();
        assert_eq!(e.status(), StatusCode::CONFLICT);
    }
}
