//! The customer's side of a session once it ended, at the session's own
//! link (`/s/{id}`): the solved page when the script resolved it, else the
//! case page (contract section 10): the status in words, the messages
//! between the customer and support, a reply form, the resolution; and on
//! both, once there is something to rate, the satisfaction form (section
//! 11). Plain forms, post-redirect-get, no JavaScript needed.
//!
//! Staff messages are signed "Support", not with the specialist's user
//! name: a user name is an internal handle (`sam`, `ann.k`), and a case
//! that changes hands would otherwise seem to change its voice.

use super::Pages;
use super::csrf::Form;
use super::view::{FieldError, rfc3339, trail_view};
use super::wizard::{customer, open, page_error, session_view, title_of};
use super::{Chrome, PageError, i18n, render_status, respond, see_other};
use crate::case::feedback::{self, FeedbackKind, MAX_COMMENT_CHARS};
use crate::case::{Party, Status as CaseStatus};
use crate::engine::{Ending, Status};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::feedback::{self as rate, Rating};
use crate::http::{caps, cases, ops};
use crate::store::{Escalation, StoredSession};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub fn routes() -> Pages {
    Pages::default()
        .post("/s/{id}/message", message)
        .post("/s/{id}/feedback", give_feedback)
}

/// What a page shows again after a refused post: the problems, and what
/// was typed.
#[derive(Default)]
pub struct Draft {
    pub errors: Vec<FieldError>,
    /// The page's status; 422 when there are errors and none is given.
    pub status: Option<StatusCode>,
    pub message: String,
    pub score: Option<u8>,
    pub comment: String,
}

impl Draft {
    fn status(&self) -> StatusCode {
        match self.status {
            Some(s) => s,
            None if self.errors.is_empty() => StatusCode::OK,
            None => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }
}

/// A message as the customer sees it: from them, or from support.
#[derive(Serialize)]
struct MessageView {
    mine: bool,
    text: String,
    at: String,
    at_text: String,
}

#[derive(Serialize)]
struct CaseView {
    reference: String,
    /// `open`, `claimed`, `waiting` or `resolved`: the words are the
    /// catalogue's `case_status_*`.
    status: &'static str,
    messages: Vec<MessageView>,
    resolution: Option<String>,
    resolved_at: Option<String>,
    resolved_at_text: Option<String>,
}

/// The reply form: offered, and whether writing reopens the case; or why
/// it is not offered.
#[derive(Serialize)]
struct ReplyView {
    offered: bool,
    reopens: bool,
    closed: Option<String>,
}

/// The satisfaction form: asked (not yet given), or thanked for.
#[derive(Serialize)]
struct FeedbackView {
    ask: bool,
    thanked: bool,
    score: Option<u8>,
    comment: String,
    max_comment: usize,
}

/// How the pages write a time for people: the same in every language.
fn human_time(t: OffsetDateTime) -> String {
    t.format(time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_default()
}

/// The satisfaction form's state for this session now.
async fn feedback_view(
    state: &AppState,
    stored: &StoredSession,
    draft: &Draft,
) -> Result<FeedbackView, PageError> {
    let kind = rate::kind_now(state, &stored.id, stored.state.status).await?;
    let given: Vec<FeedbackKind> = match kind {
        Ok(_) => state.store.feedback_kinds(&stored.id).await?,
        Err(_) => Vec::new(),
    };
    let (ask, thanked) = match kind {
        Ok(k) if given.contains(&k) => (false, true),
        Ok(_) => (true, false),
        Err(_) => (false, false),
    };
    Ok(FeedbackView {
        ask,
        thanked,
        score: draft.score,
        comment: draft.comment.clone(),
        max_comment: MAX_COMMENT_CHARS,
    })
}

/// The page of a session that ended: the case page once it escalated, the
/// solved page when the script resolved it.
pub async fn ended_page(
    state: &AppState,
    headers: &HeaderMap,
    chrome: &mut Chrome,
    stored: &StoredSession,
    draft: Draft,
) -> Response {
    let r = async {
        let s = &stored.state;
        chrome.speak(&s.language, Vec::new(), None);
        // Past the retention time (or erased on request) nothing of it is
        // left to show but that it was removed.
        if s.erased_at.is_some() {
            return Err(PageError::new(StatusCode::GONE, "error_session_erased"));
        }
        let case = if s.status == Status::Escalated {
            state
                .store
                .escalation(&ops::escalation_id_for(&stored.id))
                .await?
        } else {
            None
        };
        let title = title_of(state, s).await;
        let mut session = session_view(state, headers, chrome, stored, title);
        // A session started through the API has no reference of its own:
        // its case's is the one to keep.
        if let Some(e) = &case {
            session.reference = e.case.reference.clone();
        }
        let feedback = feedback_view(state, stored, &draft).await?;
        let status = draft.status();
        let trail = trail_view(&s.trail);
        let Some(e) = case else {
            let resolved = match s.ending.as_deref() {
                Some(Ending::Resolved { text, .. }) => Some(text.clone()),
                _ => None,
            };
            return Ok(render_status(
                chrome,
                status,
                "wizard/end.html.j2",
                minijinja::context! {
                    session => session,
                    resolved => resolved,
                    escalation_reference => stored.reference.clone().unwrap_or_else(|| ops::escalation_id_for(&stored.id)),
                    trail => trail,
                    feedback => feedback,
                    errors => draft.errors,
                },
            ));
        };
        let lang = chrome.lang.clone();
        let now = state.clock.now();
        Ok(render_status(
            chrome,
            status,
            "wizard/case.html.j2",
            minijinja::context! {
                session => session,
                case => case_view(&e),
                reply => reply_view(state, &e, now, &lang),
                // News still to come: said until the case is resolved.
                mail => state.cases.mail && e.case.email.is_some() && e.case.status != CaseStatus::Resolved,
                // `/status` finds a case by its reference and address.
                findable => state.cases.mail && e.case.email.is_some(),
                trail => trail,
                feedback => feedback,
                errors => draft.errors,
                message => draft.message,
                max_message => caps::MAX_NOTE,
            },
        ))
    }
    .await;
    respond(chrome, r)
}

fn case_view(e: &Escalation) -> CaseView {
    let c = &e.case;
    CaseView {
        reference: c.reference.clone(),
        status: c.status.as_str(),
        messages: c
            .messages
            .iter()
            .map(|m| MessageView {
                mine: m.from == Party::Customer,
                text: m.text.clone(),
                at: rfc3339(m.at),
                at_text: human_time(m.at),
            })
            .collect(),
        resolution: c
            .resolution
            .clone()
            .filter(|_| c.status == CaseStatus::Resolved),
        resolved_at: c.resolved_at.map(rfc3339),
        resolved_at_text: c.resolved_at.map(human_time),
    }
}

/// A resolved case takes a message (and reopens) within `reopen_within`
/// of resolving; later the form is not offered and the page says why
/// (the rules in `case::apply` refuse it anyway).
fn reply_view(state: &AppState, e: &Escalation, now: OffsetDateTime, lang: &str) -> ReplyView {
    let c = &e.case;
    if c.status != CaseStatus::Resolved {
        return ReplyView {
            offered: true,
            reopens: false,
            closed: None,
        };
    }
    let resolved_at = c.resolved_at.unwrap_or(e.updated_at);
    if now - resolved_at <= state.cases.reopen_within {
        return ReplyView {
            offered: true,
            reopens: true,
            closed: None,
        };
    }
    ReplyView {
        offered: false,
        reopens: false,
        closed: Some(
            i18n::text(lang, "case_closed").replace("{date}", &human_time(resolved_at)[..10]),
        ),
    }
}

/// Shows the session's ended page again with `draft` (a refused post).
async fn again(
    state: &AppState,
    headers: &HeaderMap,
    chrome: &mut Chrome,
    id: &str,
    draft: Draft,
) -> Result<Response, PageError> {
    let stored = open(state, headers, id).await?;
    if stored.state.status == Status::Active {
        return Ok(see_other(chrome, &format!("/s/{id}")));
    }
    Ok(ended_page(state, headers, chrome, &stored, draft).await)
}

/// The words of the session's language for a refusal (the chrome follows
/// the session's language on its pages).
async fn words(
    state: &AppState,
    headers: &HeaderMap,
    chrome: &Chrome,
    id: &str,
    key: &str,
) -> String {
    let lang = match open(state, headers, id).await {
        Ok(stored) => i18n::supported(&stored.state.language)
            .unwrap_or(&chrome.lang)
            .to_owned(),
        Err(_) => chrome.lang.clone(),
    };
    i18n::text(&lang, key)
}

#[derive(Deserialize)]
struct MessageForm {
    #[serde(default)]
    text: String,
}

/// `POST /s/{id}/message`: the customer writes on their case.
async fn message(
    State(state): State<AppState>,
    mut chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<MessageForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let caller = customer(&headers);
        if let Caller::Anonymous = caller {
            return Err(PageError::new(
                StatusCode::NOT_FOUND,
                "error_session_not_found",
            ));
        }
        let text = form.text.trim();
        let problem = if text.is_empty() {
            Some(("case_error_empty", None))
        } else if text.len() > caps::MAX_NOTE {
            Some(("case_error_long", None))
        } else {
            None
        };
        let problem = match problem {
            Some(p) => Some(p),
            None => match cases::customer_message(&state, &caller, &id, text.to_owned()).await {
                Ok(_) => None,
                Err(ApiError::Conflict {
                    code: "case_closed",
                    ..
                }) => Some(("case_error_closed", Some(StatusCode::CONFLICT))),
                Err(ApiError::Conflict {
                    code: "case_erased",
                    ..
                }) => {
                    return Err(PageError::new(StatusCode::GONE, "error_session_erased"));
                }
                Err(ApiError::Unprocessable {
                    code: "too_many_messages",
                    ..
                }) => Some(("case_error_message_limit", None)),
                Err(e) => return Err(page_error(e)),
            },
        };
        let Some((key, status)) = problem else {
            return Ok(see_other(&chrome, &format!("/s/{id}#messages")));
        };
        let draft = Draft {
            errors: vec![FieldError {
                field: "text",
                text: words(&state, &headers, &chrome, &id, key).await,
            }],
            status,
            message: form.text.clone(),
            ..Draft::default()
        };
        again(&state, &headers, &mut chrome, &id, draft).await
    }
    .await;
    respond(&chrome, r)
}

#[derive(Deserialize)]
struct FeedbackForm {
    #[serde(default)]
    score: String,
    #[serde(default)]
    comment: String,
}

/// `POST /s/{id}/feedback`: the customer rates the solution or the case.
async fn give_feedback(
    State(state): State<AppState>,
    mut chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<FeedbackForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let caller = customer(&headers);
        if let Caller::Anonymous = caller {
            return Err(PageError::new(
                StatusCode::NOT_FOUND,
                "error_session_not_found",
            ));
        }
        let score = form.score.trim().parse::<i64>().ok();
        let checked = score.and_then(feedback::score);
        let problem = if checked.is_none() {
            Some(("score-1", "feedback_error_score"))
        } else if form.comment.trim().chars().count() > MAX_COMMENT_CHARS {
            Some(("comment", "feedback_error_long"))
        } else {
            None
        };
        if let Some((field, key)) = problem {
            let draft = Draft {
                errors: vec![FieldError {
                    field,
                    text: words(&state, &headers, &chrome, &id, key).await,
                }],
                score: checked,
                comment: form.comment.clone(),
                ..Draft::default()
            };
            return again(&state, &headers, &mut chrome, &id, draft).await;
        }
        let rating = Rating {
            score: score.unwrap_or_default(),
            comment: Some(form.comment),
        };
        match rate::give(&state, &caller, &id, &rating).await {
            // Given now, or before (a second tab): the page thanks either
            // way; not yet ratable: the page shows where things stand.
            Ok(_) | Err(ApiError::Conflict { .. }) => {
                Ok(see_other(&chrome, &format!("/s/{id}#feedback")))
            }
            Err(e) => Err(page_error(e)),
        }
    }
    .await;
    respond(&chrome, r)
}
