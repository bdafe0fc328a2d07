//! Staff sign-in for the web pages. A name and password (Argon2id, set with
//! `fixpath user add … --password-stdin` or on `/admin/users`) are
//! exchanged for a fresh staff token that lives only in an `HttpOnly`
//! cookie; every page reads the signed-in user from it exactly as the API
//! reads a bearer token. The token expires in the store after
//! [`SIGN_IN_SECONDS`], and signing out revokes it at once, so a copied
//! cookie stops working too.

use super::Pages;
use super::csrf::Form;
use super::throttle;
use super::{Chrome, PageError, cookies, i18n, render_status, respond, see_other};
use crate::http::AppState;
use crate::http::auth::{self, STAFF_PREFIX};
use crate::http::error::ApiError;
use crate::http::limits::{self, ClientIp, TooMany};
use crate::logtext::shown;
use crate::store::{Role, User};
use axum::extract::FromRequestParts;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::marker::PhantomData;

/// How long a web sign-in lasts in the browser (a working day and then some).
pub const SIGN_IN_SECONDS: i64 = 12 * 3600;

pub fn routes() -> Pages {
    Pages::default()
        .get("/signin", form)
        .post("/signin", sign_in)
        .post("/signout", sign_out)
}

#[derive(Deserialize)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only our own pages are a place to go after signing in (an open redirect
/// would hand a phishing page our sign-in).
fn safe_next(next: &str) -> &str {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() < 512
        && ["/agent", "/queue", "/author", "/admin"].iter().any(|p| {
            next == *p || next.starts_with(&format!("{p}/")) || next.starts_with(&format!("{p}?"))
        });
    if ok { next } else { "/agent" }
}

/// Where a user lands: their own surface.
fn home_of(user: &User) -> &'static str {
    match user.role {
        Role::Specialist => "/queue",
        Role::Author => "/author",
        _ => "/agent",
    }
}

/// The sign-in page; `problem` is what went wrong with the last try.
fn page(
    chrome: &Chrome,
    status: StatusCode,
    next: &str,
    name: &str,
    problem: Option<String>,
) -> Response {
    render_status(
        chrome,
        status,
        "signin.html.j2",
        minijinja::context! { next => next, name => name, problem => problem },
    )
}

async fn form(
    chrome: Chrome,
    q: Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let next = q.map(|Query(q)| q.next).unwrap_or_default();
    page(&chrome, StatusCode::OK, safe_next(&next), "", None)
}

#[derive(Deserialize)]
struct SignIn {
    name: String,
    password: String,
    #[serde(default)]
    next: String,
}

/// A hash to verify against when the name is unknown, so a wrong name
/// takes as long as a wrong password.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$7ZJ8o7Yl7TqfQ0x8v6cFZB4m6Q9cV7m5W3b1xHk2b6E";

async fn sign_in(
    State(state): State<AppState>,
    mut chrome: Chrome,
    ClientIp(ip): ClientIp,
    form: Result<Form<SignIn>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let name = form.name.trim().to_owned();
        let next = safe_next(&form.next).to_owned();
        let busy = |chrome: &Chrome, too_many: TooMany| {
            let detail = i18n::text(&chrome.lang, "signin_busy");
            let res = page(
                chrome,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                &name,
                Some(detail),
            );
            limits::with_retry_after(res, too_many)
        };
        if let Err(too_many) = state.guards.signin.check(ip, std::time::Instant::now()) {
            // Counted in the metrics; a line per refusal would let a flood
            // flood the log too.
            tracing::debug!(%ip, "a web sign-in was refused: too many from this address");
            return Ok(busy(&chrome, too_many));
        }
        // The hash slot comes before the attempt is counted, so a sign-in
        // turned away because the server is busy costs the user nothing.
        let slot = match state.guards.hashes.acquire().await {
            Ok(slot) => slot,
            Err(too_many) => {
                tracing::warn!(name = %shown(&name), "a web sign-in was refused: every hash slot is busy");
                return Ok(busy(&chrome, too_many));
            }
        };
        let now = state.clock.now();
        if let Err(wait) = throttle::reserve(state.store.as_ref(), &name, now).await? {
            tracing::warn!(name = %shown(&name), "a web sign-in was refused: too many wrong passwords");
            let minutes = (wait.whole_seconds().max(0) as u64).div_ceil(60).max(1);
            let detail = i18n::text(&chrome.lang, "signin_locked")
                .replace("{minutes}", &minutes.to_string());
            let res = page(
                &chrome,
                StatusCode::TOO_MANY_REQUESTS,
                &next,
                &name,
                Some(detail),
            );
            let retry_after = std::time::Duration::from_secs(wait.whole_seconds().max(1) as u64);
            return Ok(limits::with_retry_after(res, TooMany { retry_after }));
        }
        let found = if name.is_empty() || name.len() > 200 {
            None
        } else {
            state.store.user_by_name(&name).await?
        };
        let (user, hash) = match found {
            Some((u, Some(h))) => (Some(u), h),
            _ => (None, DUMMY_HASH.to_owned()),
        };
        let password = form.password;
        let ok = slot
            .run(move || verify(&hash, &password))
            .await
            .unwrap_or(false);
        // A wrong password stays counted (it was counted before the check).
        let Some(user) = user.filter(|_| ok) else {
            tracing::info!(name = %shown(&name), "a web sign-in failed");
            let detail = i18n::text(&chrome.lang, "signin_failed");
            return Ok(page(
                &chrome,
                StatusCode::UNAUTHORIZED,
                &next,
                &name,
                Some(detail),
            ));
        };
        throttle::succeed(state.store.as_ref(), &name).await?;
        open_sign_in(&state, &mut chrome, &user.name).await?;
        let to = if form.next.is_empty() {
            home_of(&user)
        } else {
            &next
        };
        Ok(see_other(&chrome, to))
    }
    .await;
    respond(&chrome, r)
}

/// Signs `name` in on this browser: a fresh token that expires after
/// [`SIGN_IN_SECONDS`], kept in the store, its text only in the cookie.
pub(super) async fn open_sign_in(
    state: &AppState,
    chrome: &mut Chrome,
    name: &str,
) -> Result<(), PageError> {
    let token = auth::mint_token(STAFF_PREFIX).map_err(ApiError::internal)?;
    let now = state.clock.now();
    let expires = now + time::Duration::seconds(SIGN_IN_SECONDS);
    state
        .store
        .add_expiring_token(name, &token.hash, expires, now)
        .await?;
    chrome.set_cookie(cookies::set(
        cookies::STAFF,
        &token.plain,
        "/",
        Some(SIGN_IN_SECONDS),
        chrome.secure,
    ));
    Ok(())
}

fn verify(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn sign_out(
    State(state): State<AppState>,
    mut chrome: Chrome,
    headers: HeaderMap,
    form: Result<Form<Empty>, PageError>,
) -> Response {
    let r = async {
        let Form(Empty {}) = form?;
        if let Some(token) = cookies::get(&headers, cookies::STAFF) {
            state.store.revoke_token(&auth::hash_token(token)).await?;
        }
        chrome.set_cookie(cookies::clear(cookies::STAFF, "/", chrome.secure));
        Ok(see_other(&chrome, "/signin"))
    }
    .await;
    respond(&chrome, r)
}

/// A staff surface and the roles that may use it.
pub trait Surface: Send + Sync + 'static {
    const ROLES: &'static [Role];
}

/// The agent console: agents and admins.
pub struct Console;
impl Surface for Console {
    const ROLES: &'static [Role] = &[Role::Agent, Role::Admin];
}

/// The escalation queue: specialists and admins.
pub struct Queue;
impl Surface for Queue {
    const ROLES: &'static [Role] = &[Role::Specialist, Role::Admin];
}

/// The authors' pages: authors and admins.
pub struct Authors;
impl Surface for Authors {
    const ROLES: &'static [Role] = &[Role::Author, Role::Admin];
}

/// The admins' pages (`/admin/users`): admins only.
pub struct Admins;
impl Surface for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// A page's chrome with a signed-in user who may use surface `S`. Anyone
/// else never reaches the handler: someone not signed in is sent to sign in
/// (and back), a user of another role gets a 403 page.
pub struct Staff<S> {
    pub chrome: Chrome,
    pub user: User,
    surface: PhantomData<S>,
}

impl<S: Surface> FromRequestParts<AppState> for Staff<S> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let chrome = match Chrome::from_request_parts(parts, state).await {
            Ok(c) => c,
            Err(never) => match never {},
        };
        let user = match &chrome.user {
            Some(u) if S::ROLES.contains(&u.role) => u.clone(),
            Some(_) => {
                return Err(
                    PageError::new(StatusCode::FORBIDDEN, "error_forbidden_role").page(&chrome),
                );
            }
            None => {
                let to = format!("/signin?next={}", chrome.path);
                return Err(see_other(&chrome, &to));
            }
        };
        Ok(Staff {
            chrome,
            user,
            surface: PhantomData,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_pages_are_a_next_step() {
        assert_eq!(safe_next("/queue/esc_1"), "/queue/esc_1");
        assert_eq!(safe_next("/admin/users"), "/admin/users");
        assert_eq!(safe_next("/administrator"), "/agent");
        assert_eq!(safe_next("//evil.example/agent"), "/agent");
        assert_eq!(safe_next("https://evil.example"), "/agent");
        assert_eq!(safe_next("/\\evil"), "/agent");
    }

    #[test]
    fn the_dummy_hash_is_a_hash() {
        assert!(argon2::password_hash::PasswordHash::new(DUMMY_HASH).is_ok());
        assert!(!verify(DUMMY_HASH, ""));
    }
}
