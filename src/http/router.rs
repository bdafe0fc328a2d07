//! The application's router: the JSON API's routes (listed in
//! [`api::table`]) and the web pages on one [`Router`], the fallbacks that
//! answer an unknown route or method in the surface's own form, and the
//! layers every request runs under (tracing, metrics, error bodies, panics,
//! the body limit).

use super::api;
use super::error::{ApiError, error_body};
use super::{AppState, HttpConfig};
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

/// The application's router with its state and every layer applied; the
/// serve command adds the listener, the test helpers an ephemeral port.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for r in api::table() {
        router = router.route(r.path, r.handler);
    }
    let router = router
        .merge(super::web::routes(&state.config))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found);
    layered(router, &state.config).with_state(state)
}

/// The layers every route runs under, outermost first: a tracing span per
/// request, the duration histogram, error bodies in the surface's own form
/// (JSON for the API, a page for the rest), no framing of what did not say
/// otherwise, panics as a 500, any error a layer made by itself rewritten as
/// JSON, the body limit.
///
/// Public so other surfaces (and the tests' panicking route) get the same.
pub fn layered(router: Router<AppState>, config: &HttpConfig) -> Router<AppState> {
    router
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(RequestBodyLimitLayer::new(config.body_limit))
        .layer(middleware::map_response(json_errors))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(pages_get_pages))
        .layer(middleware::map_response(super::web::deny_frames))
        .layer(middleware::from_fn(track_duration))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
}

/// The span every request's log lines carry: method, path and query, with
/// the resume link's token (`/s/{id}?t=…`) blanked out (a log reader must
/// not be able to open a customer's session) and the rest escaped and cut
/// like every other field a stranger wrote.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!(
        "request",
        method = %req.method(),
        uri = %crate::logtext::shown(&loggable_uri(req.uri())),
        version = ?req.version(),
    )
}

/// The request's path and query as logged: the value of every `t` (the
/// resume link's token) and `token` parameter replaced by `[redacted]`, and
/// of any parameter whose name cannot be read.
pub fn loggable_uri(uri: &axum::http::Uri) -> String {
    let Some(query) = uri.query() else {
        return uri.path().to_owned();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| {
            let raw_key = pair.split_once('=').map_or(pair, |(k, _)| k);
            // The key as the handler reads it (`%74` is a `t` too).
            let key: Option<String> = serde_urlencoded::from_str::<Vec<(String, String)>>(pair)
                .ok()
                .and_then(|v| v.into_iter().next())
                .map(|(k, _)| k);
            match key {
                Some(k) if !k.eq_ignore_ascii_case("t") && !k.eq_ignore_ascii_case("token") => {
                    pair.to_owned()
                }
                _ if pair.is_empty() => String::new(),
                _ => format!("{raw_key}=[redacted]"),
            }
        })
        .collect();
    format!("{}?{}", uri.path(), pairs.join("&"))
}

// ---------------------------------------------------------------------------
// Fallbacks and layers.

/// The API speaks JSON; everything outside `/api/` is a page.
fn is_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

async fn not_found(method: Method, uri: axum::http::Uri, chrome: super::web::Chrome) -> Response {
    if !is_api(uri.path()) {
        return super::web::PageError::not_found().page(&chrome);
    }
    ApiError::NotFound(format!("there is no route `{method} {}`", uri.path())).into_response()
}

async fn method_not_allowed(
    method: Method,
    uri: axum::http::Uri,
    chrome: super::web::Chrome,
) -> Response {
    let path = uri.path();
    if !is_api(path) {
        return super::web::PageError::new(StatusCode::METHOD_NOT_ALLOWED, "error_form")
            .page(&chrome);
    }
    let allowed: Vec<String> = api::table()
        .into_iter()
        .filter(|r| path_matches(r.path, path))
        .map(|r| r.method.to_string())
        .collect();
    ApiError::MethodNotAllowed(format!(
        "`{path}` does not take {method}; it takes {}",
        allowed.join(", ")
    ))
    .into_response()
}

/// Does a concrete path match a route pattern (`{param}` matches one segment)?
fn path_matches(pattern: &str, path: &str) -> bool {
    let (p, q): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    p.len() == q.len()
        && p.iter()
            .zip(&q)
            .all(|(a, b)| (a.starts_with('{') && !b.is_empty()) || a == b)
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = %crate::logtext::shown(detail), "a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        error_body(
            "internal",
            "the server failed to handle this request; it has been logged",
        ),
    )
        .into_response()
}

/// A person in a browser never gets JSON: an error response on a page's
/// path that is not already HTML (a panic's 500, a layer's 413) becomes the
/// friendly error page.
async fn pages_get_pages(req: Request, next: Next) -> Response {
    let page = !is_api(req.uri().path());
    let res = next.run(req).await;
    let status = res.status();
    if !page || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/html"));
    if is_html {
        return res;
    }
    let title = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "error_too_large",
        StatusCode::NOT_FOUND => "error_not_found",
        s if s.is_server_error() => "error_server",
        _ => "error_form",
    };
    super::web::PageError::new(status, title).page(&super::web::Chrome::plain())
}

/// A safety net: an error that a layer or axum produced by itself (the body
/// limit's plain-text 413, an empty 404 or 405) gets a JSON body, keeping
/// its status and headers. A handler's own error body (an HTML page of a
/// surface sharing these layers, say) is left as it is: it has a content
/// type.
async fn json_errors(res: Response) -> Response {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let content_type = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let rewrite = match content_type {
        None => true,
        Some(ct) => status == StatusCode::PAYLOAD_TOO_LARGE && !ct.starts_with("application/json"),
    };
    if !rewrite {
        return res;
    }
    let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
    let (code, message): (String, String) = match status {
        StatusCode::PAYLOAD_TOO_LARGE => (
            "payload_too_large".into(),
            "the request body is too large".into(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed".into(),
            "this route does not take that method".into(),
        ),
        StatusCode::NOT_FOUND => ("not_found".into(), "there is no such route".into()),
        s if s.is_server_error() => (
            "internal".into(),
            "the server failed to handle this request; it has been logged".into(),
        ),
        _ => (reason.replace([' ', '-'], "_"), reason),
    };
    let (mut parts, _) = res.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(error_body(&code, &message)))
}

/// `fixpath_http_request_duration_seconds{route, method, status}`; `route`
/// is the route's pattern (bounded), never the concrete path.
async fn track_duration(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let res = next.run(req).await;
    metrics::histogram!(
        "fixpath_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => res.status().as_u16().to_string(),
    )
    .record(started.elapsed().as_secs_f64());
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resume_token_is_blanked_in_logged_addresses() {
        let logged = |u: &str| loggable_uri(&u.parse().unwrap());
        assert_eq!(
            logged("/s/ses_1?t=fpc_secret&lang=nl"),
            "/s/ses_1?t=[redacted]&lang=nl"
        );
        assert_eq!(logged("/s/ses_1?%74=fpc_secret"), "/s/ses_1?%74=[redacted]");
        assert_eq!(
            logged("/x?token=abc&T=def"),
            "/x?token=[redacted]&T=[redacted]"
        );
        assert_eq!(logged("/agent?next=/queue"), "/agent?next=/queue");
        assert_eq!(logged("/queue"), "/queue");
    }

    #[test]
    fn paths_match_their_patterns() {
        assert!(path_matches(
            "/api/v1/sessions/{id}",
            "/api/v1/sessions/ses_1"
        ));
        assert!(!path_matches("/api/v1/sessions/{id}", "/api/v1/sessions/"));
        assert!(!path_matches(
            "/api/v1/sessions/{id}",
            "/api/v1/sessions/a/b"
        ));
    }
}
