//! The pages people use in a browser, server-rendered from the minijinja
//! templates in `templates/` on the same operations as the JSON API
//! ([`super::ops`]):
//!
//! - [`wizard`]: the customer's self-service wizard at `/` (works with
//!   JavaScript off: plain forms, post-redirect-get);
//! - [`console`]: the tier-1 agent console at `/agent`;
//! - [`case_page`]: the customer's side of a session once it ended: the
//!   solved page or the case page, messages and satisfaction;
//! - [`status`]: `/status`, the case link again by reference and address;
//! - [`queue`]: the tier-2/3/4 escalation queue at `/queue`;
//! - [`author`]: the authors' view of the library (`/author`);
//! - [`admin`]: the admins' user management (`/admin/users`);
//! - [`signin`]: staff sign-in and sign-out;
//! - [`brand`]: the customer pages' `[brand]` (logo, colour) and the sites
//!   that may frame them.
//!
//! Every page goes through [`Chrome`] (language, CSRF token, who is signed
//! in) and [`render`]; every form post through [`csrf::Form`]. Errors are a
//! friendly page in the reader's language ([`PageError`]), never JSON and
//! never a bare status. Each module declares its routes once, on a
//! [`Pages`] list: the router is built from it, and [`route_list`] names
//! them all (the authorization matrix in `tests/it/authz.rs` has a row for
//! each).

pub mod admin;
pub mod assets;
pub mod author;
pub mod brand;
pub mod case_page;
pub mod chrome;
pub mod console;
pub mod cookies;
pub mod csrf;
pub mod figures;
pub mod i18n;
pub mod queue;
pub mod signin;
pub mod status;
pub mod throttle;
pub mod view;
pub mod wizard;

pub use chrome::Chrome;

use super::AppState;
use super::error::ApiError;
use axum::Router;
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use serde::Serialize;
use tower_http::set_header::SetResponseHeaderLayer;

/// The pages' router; merged with the API by [`super::router`].
///
/// The customer pages (the wizard and what it leads to: the session's
/// pages, the case page, `/status`) are the only ones another site may
/// frame, and only the sites of `[brand] frame_ancestors`: they answer with
/// that list in `frame-ancestors` and without `X-Frame-Options` (which
/// cannot name a site). Every other page — sign-in, console, queue,
/// authors' pages — is never framed, whatever the configuration: a framed
/// staff form is a clickjacking target.
pub fn routes(config: &super::HttpConfig) -> Router<AppState> {
    let (customer, never_framed) = groups();
    let customer = customer.router.layer(axum::Extension(CustomerPage));
    let customer = with_headers(
        customer,
        &config.brand.customer_csp(),
        !config.brand.framable(),
    );
    let never_framed = with_headers(never_framed.router, brand::PAGE_CSP, true);
    customer.merge(never_framed)
}

/// Every page module's routes, in the two groups [`routes`] serves them
/// in: the customer pages, and those never framed. The one list of page
/// modules, shared by the router and [`route_list`].
fn groups() -> (Pages, Pages) {
    let customer = Pages::default()
        .merge(wizard::routes())
        .merge(case_page::routes())
        .merge(status::routes());
    let never_framed = Pages::default()
        .merge(console::routes())
        .merge(queue::routes())
        .merge(signin::routes())
        .merge(author::routes())
        .merge(admin::routes())
        .merge(assets::routes())
        .merge(brand::routes());
    (customer, never_framed)
}

/// `(METHOD, PATH)` of every page route, as the router serves them: for
/// the tests (the authorization matrix has a row for each).
pub fn route_list() -> Vec<(Method, &'static str)> {
    let (customer, never_framed) = groups();
    customer.list.into_iter().chain(never_framed.list).collect()
}

/// Page routes as a module declares them: each route goes on the router
/// and in the list of `(method, pattern)` at once, so the list
/// ([`route_list`]) cannot drift from what is served (an axum router
/// cannot be asked for its routes).
#[derive(Default)]
pub struct Pages {
    router: Router<AppState>,
    list: Vec<(Method, &'static str)>,
}

impl Pages {
    pub fn get<H, T>(self, path: &'static str, handler: H) -> Pages
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::GET, path, axum::routing::get(handler))
    }

    pub fn post<H, T>(self, path: &'static str, handler: H) -> Pages
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.add(Method::POST, path, axum::routing::post(handler))
    }

    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<AppState>) -> Pages {
        // A second method on a path joins the first (axum merges them).
        self.router = self.router.route(path, route);
        self.list.push((method, path));
        self
    }

    fn merge(mut self, other: Pages) -> Pages {
        self.router = self.router.merge(other.router);
        self.list.extend(other.list);
        self
    }
}

/// Marks a request to a customer page: its [`Chrome`] wears the brand and
/// may be embedded.
#[derive(Debug, Clone, Copy)]
pub struct CustomerPage;

/// The security headers of a group of pages; `deny_frames`: also
/// `X-Frame-Options: DENY`, for browsers that do not read `frame-ancestors`.
fn with_headers(mut router: Router<AppState>, csp: &str, deny_frames: bool) -> Router<AppState> {
    let mut headers = vec![
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_str(csp).unwrap_or(HeaderValue::from_static(brand::PAGE_CSP)),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        // The resume link carries the session's token: never send a page's
        // address to another site. `same-origin`, not `no-referrer`: under
        // `no-referrer` a browser sends `Origin: null` with our own forms,
        // and the CSRF check refuses a null origin.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
    ];
    if deny_frames {
        headers.push((header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")));
    }
    for (name, value) in headers {
        router = router.layer(SetResponseHeaderLayer::if_not_present(name, value));
    }
    router
}

/// Gives a response that has no `Content-Security-Policy` of its own (the
/// API's JSON, the page of an unknown address, an error a layer made) the
/// pages' policy and `X-Frame-Options: DENY`: what nobody decided may be
/// framed is not.
pub async fn deny_frames(mut res: Response) -> Response {
    let h = res.headers_mut();
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(brand::PAGE_CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    res
}

/// Renders a page template with the chrome and the page's own context; any
/// failure of our own template is a 500 page (and a log line), never a
/// half-written page.
pub fn render<C: Serialize>(chrome: &Chrome, template: &str, page: C) -> Response {
    render_status(chrome, StatusCode::OK, template, page)
}

pub fn render_status<C: Serialize>(
    chrome: &Chrome,
    status: StatusCode,
    template: &str,
    page: C,
) -> Response {
    let ctx = minijinja::context! {
        chrome => chrome.view(),
        t => i18n::catalogue_value(&chrome.lang),
        page => page,
    };
    match crate::render::render(template, ctx) {
        Ok(html) => chrome.finish(html_response(status, html)),
        Err(e) => {
            tracing::error!(template, error = %e, "a page template failed to render");
            let text = i18n::catalogue(&chrome.lang);
            html_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "<!doctype html><meta charset=utf-8><title>{0}</title><p>{0}</p>",
                    text.get("error_server").map(String::as_str).unwrap_or("")
                ),
            )
        }
    }
}

fn html_response(status: StatusCode, html: String) -> Response {
    let mut res = (status, html).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// 303 See Other: after a successful post, the browser loads the next page
/// with a GET (post-redirect-get), so a reload never posts twice.
pub fn see_other(chrome: &Chrome, to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&chrome.href(to)) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    chrome.finish(res)
}

/// A page's failure, shown as a page in the reader's language.
#[derive(Debug)]
pub struct PageError {
    pub status: StatusCode,
    /// The catalogue key of the headline.
    pub title: &'static str,
    /// What happened, for the person reading (already in their language
    /// when it comes from the catalogue; our own words otherwise).
    pub detail: Option<String>,
    /// Logged where it arose (an [`ApiError`] logs its cause, which the
    /// page never shows): the page does not log it again.
    pub logged: bool,
}

impl PageError {
    pub fn new(status: StatusCode, title: &'static str) -> Self {
        PageError {
            status,
            title,
            detail: None,
            logged: false,
        }
    }

    pub fn not_found() -> Self {
        PageError::new(StatusCode::NOT_FOUND, "error_not_found")
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Shows the error page.
    pub fn page(self, chrome: &Chrome) -> Response {
        if self.status.is_server_error() && !self.logged {
            let detail = self.detail.as_deref().map(crate::logtext::shown);
            tracing::error!(detail = ?detail, "a page failed");
        }
        let detail = if self.status.is_server_error() {
            None
        } else {
            self.detail
        };
        let mut res = render_status(
            chrome,
            self.status,
            "error.html.j2",
            minijinja::context! { title => self.title, detail => detail },
        );
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::http::error::UNAVAILABLE_RETRY_AFTER),
            );
        }
        res
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        e.log();
        let status = e.status();
        let title = match status {
            StatusCode::NOT_FOUND => "error_not_found",
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "error_forbidden",
            StatusCode::CONFLICT => "error_conflict",
            StatusCode::PAYLOAD_TOO_LARGE => "error_too_large",
            StatusCode::GONE => "error_session_expired",
            StatusCode::TOO_MANY_REQUESTS => "error_rate_limited",
            s if s.is_server_error() => "error_server",
            _ => "error_refused",
        };
        PageError {
            status,
            title,
            detail: Some(e.public_message()),
            logged: true,
        }
    }
}

/// The result of a page handler: a page, or an error page.
pub type PageResult = Result<Response, PageError>;

/// Turns a page result into a response, rendering an error in the chrome.
pub fn respond(chrome: &Chrome, r: PageResult) -> Response {
    match r {
        Ok(res) => res,
        Err(e) => e.page(chrome),
    }
}

/// Names the header for the tests of the security headers.
pub const SECURITY_HEADERS: &[HeaderName] = &[
    header::CONTENT_SECURITY_POLICY,
    header::X_CONTENT_TYPE_OPTIONS,
    header::REFERRER_POLICY,
    header::X_FRAME_OPTIONS,
];

impl IntoResponse for PageError {
    /// Without a request's chrome (an extractor refused before a handler
    /// ran): the page in English, with no forms.
    fn into_response(self) -> Response {
        self.page(&Chrome::plain())
    }
}

impl From<crate::store::StoreError> for PageError {
    fn from(e: crate::store::StoreError) -> Self {
        PageError::from(ApiError::from(e))
    }
}

/// A value of `params` or `vars` as a person reads it: a string as it is,
/// anything else as JSON.
pub fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A step's form: an answer (a radio or a button), "None of these" (its own
/// button name, so it wins over a radio picked before it was pressed), or an
/// input's value.
#[derive(serde::Deserialize)]
pub struct AnswerForm {
    pub seq: u32,
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub builtin: Option<String>,
    #[serde(default)]
    pub value: Option<String>,
}

impl AnswerForm {
    pub fn reply(self) -> crate::engine::Reply {
        use crate::engine::Reply;
        match (self.builtin, self.answer, self.value) {
            (Some(b), _, _) if b == crate::engine::ANSWER_NONE => Reply::Answer(b),
            (_, Some(a), _) if !a.is_empty() => Reply::Answer(a),
            (_, _, Some(v)) => Reply::Value(v),
            // Nothing picked: the engine refuses it, and the page says so.
            _ => Reply::Answer(String::new()),
        }
    }
}

/// A form that only names the step it acts on (back, language).
#[derive(serde::Deserialize)]
pub struct SeqForm {
    pub seq: u32,
}

/// "Talk to a person" / "Escalate now", with an optional note.
#[derive(serde::Deserialize)]
pub struct EscalateForm {
    pub seq: u32,
    #[serde(default)]
    pub note: String,
    /// `none` when the person came by "None of these" (the wizard's
    /// check-your-answers page): the escalation then says so.
    #[serde(default)]
    pub why: String,
    /// Where the case may mail the customer (optional; checked).
    #[serde(default)]
    pub email: String,
}

impl EscalateForm {
    /// The note, trimmed; none when blank. Its size is checked with every
    /// other note's (`caps::MAX_NOTE`): one too long is refused with a
    /// page that says so, never cut short without a word.
    pub fn note(&self) -> Option<String> {
        let note = self.note.trim();
        (!note.is_empty()).then(|| note.to_owned())
    }
}
