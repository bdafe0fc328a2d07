//! `/status` (contract section 10): a customer who lost their case's link
//! gives its reference and their e-mail address; when both match a case,
//! the link is mailed to that address. The page answers the same either
//! way, and in about the same time (the mail is queued off the answer's
//! path, and every answer waits out [`ANSWER_AFTER`]), so it tells nobody
//! which references exist or which address a case has. Look-ups are
//! limited per client address, as session starts are.

use super::Pages;
use super::csrf::Form;
use super::view::FieldError;
use super::{Chrome, PageError, i18n, render, render_status, respond};
use crate::case::mail::{MailJob, MailKind};
use crate::http::AppState;
use crate::http::auth::{self, CUSTOMER_PREFIX};
use crate::http::caps::MAX_REFERENCE;
use crate::http::cases;
use crate::http::limits::{self, ClientIp};
use crate::store::Escalation;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use std::time::Duration;

/// The least time a look-up takes to answer: longer than a look-up and
/// its comparison take, so a match and a miss look alike from outside.
pub const ANSWER_AFTER: Duration = Duration::from_millis(400);

pub fn routes() -> Pages {
    Pages::default()
        .get("/status", form)
        .post("/status", lookup)
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    reference: String,
    #[serde(default)]
    email: String,
}

fn page(
    chrome: &Chrome,
    status: StatusCode,
    sent: bool,
    errors: Vec<FieldError>,
    reference: &str,
    email: &str,
) -> Response {
    render_status(
        chrome,
        status,
        "wizard/status.html.j2",
        minijinja::context! {
            sent => sent,
            errors => errors,
            reference => reference,
            email => email,
            max_reference => MAX_REFERENCE,
        },
    )
}

async fn form(chrome: Chrome) -> Response {
    render(
        &chrome,
        "wizard/status.html.j2",
        minijinja::context! {
            sent => false,
            errors => Vec::<FieldError>::new(),
            reference => "",
            email => "",
            max_reference => MAX_REFERENCE,
        },
    )
}

async fn lookup(
    State(state): State<AppState>,
    chrome: Chrome,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    form: Result<Form<StatusForm>, PageError>,
) -> Response {
    let started = tokio::time::Instant::now();
    let r = async {
        let Form(form) = form?;
        if let Err(too_many) = state
            .guards
            .status_lookup
            .check(ip, std::time::Instant::now())
        {
            let page =
                PageError::new(StatusCode::TOO_MANY_REQUESTS, "error_rate_limited").page(&chrome);
            return Ok(limits::with_retry_after(page, too_many));
        }
        let reference = form.reference.trim();
        let email = form.email.trim();
        // What is malformed is said before anything is looked up: it tells
        // nothing about which cases exist.
        let mut errors = Vec::new();
        if reference.is_empty() || reference.chars().count() > MAX_REFERENCE {
            errors.push(FieldError {
                field: "reference",
                text: i18n::text(&chrome.lang, "status_error_reference"),
            });
        }
        let email = match cases::check_email(email) {
            Ok(e) => e,
            Err(_) => {
                errors.push(FieldError {
                    field: "email",
                    text: i18n::text(&chrome.lang, "error_email"),
                });
                email.to_owned()
            }
        };
        if !errors.is_empty() {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(page(&chrome, status, false, errors, reference, &email));
        }
        match state.store.escalation_by_reference(reference).await {
            Ok(Some(e)) if matches(&e, &email) => {
                let base = cases::base_url(&state, &headers);
                tokio::spawn(send_link(state.clone(), e, base));
            }
            Ok(_) => {}
            // Said as a miss, too: the customer can try again later.
            Err(e) => tracing::error!(error = %e, "a /status look-up failed"),
        }
        tokio::time::sleep_until(started + ANSWER_AFTER).await;
        Ok(page(&chrome, StatusCode::OK, true, Vec::new(), "", ""))
    }
    .await;
    respond(&chrome, r)
}

/// Whether the address given is the case's (addresses compared without
/// regard to ASCII case, as people type them).
fn matches(e: &Escalation, email: &str) -> bool {
    e.case
        .email
        .as_deref()
        .is_some_and(|own| own.trim().eq_ignore_ascii_case(email))
}

/// Mints a link token for the case's session and queues the mail that
/// carries it (when mail is on). A failure is logged: the page has
/// answered already, and said the same as for a miss.
async fn send_link(state: AppState, e: Escalation, base: String) {
    if !state.cases.mail {
        return;
    }
    let Some(to) = e.case.email.clone() else {
        return;
    };
    let r = async {
        let token = auth::mint_token(CUSTOMER_PREFIX).map_err(|e| e.to_string())?;
        let now = state.clock.now();
        let session = &e.record.session;
        state
            .store
            .add_session_link(session, &token.hash, now)
            .await
            .map_err(|e| e.to_string())?;
        let job = MailJob {
            kind: MailKind::Link,
            to,
            language: e.record.language.clone(),
            reference: e.case.reference.clone(),
            script_title: e.record.script.title.clone(),
            link: format!("{base}/s/{session}?t={}", token.plain),
            text: None,
        };
        let payload = serde_json::to_string(&job).map_err(|e| e.to_string())?;
        state
            .store
            .enqueue_outbox(MailKind::Link.event_type(), &payload, now)
            .await
            .map_err(|e| e.to_string())?;
        state.outbox_notify.notify_one();
        Ok::<(), String>(())
    }
    .await;
    if let Err(error) = r {
        tracing::error!(%error, "the case link could not be queued for /status");
    }
}
