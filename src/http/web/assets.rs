//! The pages' own stylesheet and script, embedded in the binary and served
//! from `/static/` (no CDN, no external fonts: the pages work on a closed
//! network and nothing about a visitor leaks to a third party).
//!
//! The script is an enhancement only: keyboard shortcuts in the agent
//! console, focus on an error summary, the session expiry warning. Every
//! page works without it.

use super::Pages;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

pub const STYLE: &str = include_str!("../../../templates/static/style.css");
pub const SCRIPT: &str = include_str!("../../../templates/static/app.js");

pub fn routes() -> Pages {
    Pages::default()
        .get("/static/style.css", || async {
            asset("text/css; charset=utf-8", STYLE)
        })
        .get("/static/app.js", || async {
            asset("text/javascript; charset=utf-8", SCRIPT)
        })
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}
