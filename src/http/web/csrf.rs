//! Every form post is checked against cross-site request forgery twice:
//!
//! - the double-submit token: each browser gets a random `fp_csrf` cookie
//!   (`HttpOnly`, `SameSite=Lax`) and every form carries the same value in a
//!   hidden `csrf` field; another site can neither read the cookie nor guess
//!   the value;
//! - the origin: a browser names the page a post came from (`Origin`, else
//!   `Referer` is never sent by our pages); when it is there it must be this
//!   host. `Origin: null` (a sandboxed frame, a `data:` page, a redirect
//!   across sites) names no page of ours, so it is cross-origin.
//!
//! [`Form`] does both before the handler sees the fields; a refusal is a
//! 403 page that tells the person to reload and try again.

use super::{PageError, cookies};
use crate::http::AppState;
use crate::http::auth::constant_time_eq;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// A form post whose CSRF token and origin were checked.
pub struct Form<T>(pub T);

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    csrf: String,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Form<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let headers = req.headers().clone();
        let is_form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(PageError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "error_form",
            ));
        }
        if let Some(origin) = headers.get(header::ORIGIN)
            && !same_origin(origin.to_str().ok(), cookies::host(&headers))
        {
            return Err(PageError::new(StatusCode::FORBIDDEN, "error_csrf"));
        }
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "error_too_large")
            } else {
                PageError::new(StatusCode::BAD_REQUEST, "error_form")
            }
        })?;
        let token: Token = serde_urlencoded::from_bytes(&body)
            .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, "error_form"))?;
        let expected = cookies::get(&headers, cookies::CSRF).unwrap_or("");
        if expected.is_empty() || token.csrf.is_empty() || !constant_time_eq(expected, &token.csrf)
        {
            return Err(PageError::new(StatusCode::FORBIDDEN, "error_csrf"));
        }
        let fields: T = serde_urlencoded::from_bytes(&body).map_err(|e| {
            PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "error_form").detail(e.to_string())
        })?;
        Ok(Form(fields))
    }
}

/// Does an `Origin` header name this host? `null`, a value that is not
/// text, or one without a scheme never does.
fn same_origin(origin: Option<&str>, host: Option<&str>) -> bool {
    let Some((_, origin_host)) = origin.and_then(|o| o.split_once("://")) else {
        return false;
    };
    host.is_some_and(|h| h == origin_host)
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn null_and_foreign_origins_are_cross_origin() {
        let host = Some("help.example.com");
        assert!(same_origin(Some("https://help.example.com"), host));
        assert!(!same_origin(Some("null"), host));
        assert!(!same_origin(Some("https://evil.example"), host));
        assert!(!same_origin(Some("help.example.com"), host));
        assert!(!same_origin(None, host));
        assert!(!same_origin(Some("https://help.example.com"), None));
    }
}
