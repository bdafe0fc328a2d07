//! The forms of the case page: claim (or take over, confirmed in words),
//! reply (with "waiting for the customer"), note, resolve, escalate
//! further. Each goes through [`cases::try_act`], as the API's calls do; a
//! success redirects to the case (post-redirect-get), a refusal of the
//! rules comes back on the case page in the reader's words, naming the
//! holder, with what was typed kept.

use super::super::csrf::Form;
use super::super::signin::{Queue, Staff};
use super::super::{Chrome, PageError, PageResult, i18n, respond, see_other};
use super::case::{Shown, page};
use super::words;
use crate::case::{Act, Refusal};
use crate::http::AppState;
use crate::http::caps::MAX_NOTE;
use crate::http::cases::{self, NotDone, actor_of};
use crate::store::User;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct ClaimForm {
    /// `1`: take over a case someone else holds.
    #[serde(default)]
    take_over: String,
    /// The box that confirms a take-over.
    #[serde(default)]
    confirm: String,
}

#[derive(Deserialize)]
pub(super) struct TextForm {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
pub(super) struct ReplyForm {
    #[serde(default)]
    text: String,
    /// The "waiting for the customer" box: present when ticked.
    #[serde(default)]
    wait: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ResolveForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
pub(super) struct EscalateForm {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    note: String,
}

/// A text a form requires: present, and within the note cap (checked here
/// too so a long one is answered on the page, in words, not as a bare 413).
fn required(chrome: &Chrome, field: &'static str, text: &str) -> Result<String, Box<Shown>> {
    let t = text.trim();
    optional(chrome, field, t)?;
    if t.is_empty() {
        return Err(Box::new(Shown::problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            field,
            i18n::text(&chrome.lang, "error_note_required"),
        )));
    }
    Ok(t.to_owned())
}

fn optional(
    chrome: &Chrome,
    field: &'static str,
    text: &str,
) -> Result<Option<String>, Box<Shown>> {
    let t = text.trim();
    if t.len() > MAX_NOTE {
        return Err(Box::new(Shown::problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            field,
            i18n::text(&chrome.lang, "queue_text_too_long"),
        )));
    }
    Ok(Some(t.to_owned()).filter(|t| !t.is_empty()))
}

/// Applies `act` and shows the case again; `kept` is what the reply form
/// held, shown again when the act is refused.
async fn apply(
    state: &AppState,
    chrome: &Chrome,
    user: &User,
    headers: &HeaderMap,
    id: &str,
    act: Result<Act, Box<Shown>>,
    kept: String,
) -> PageResult {
    let act = match act {
        Ok(act) => act,
        Err(mut shown) => {
            let e = cases::read(state, user, id).await?;
            shown.reply_text = kept;
            return page(state, chrome, user, &e, *shown);
        }
    };
    let base = cases::base_url(state, headers);
    match cases::try_act(state, actor_of(user), id, act, Some(&base)).await {
        // Sent above the specialist's tier: it is no longer theirs to see.
        Ok(e) if !actor_of(user).may_see(e.record.tier) => Ok(see_other(chrome, "/queue")),
        Ok(_) => Ok(see_other(chrome, &format!("/queue/{id}"))),
        // For them the case is not there (as a read says).
        Err(NotDone::Refused(_, Refusal::OutOfTier { .. })) => Err(PageError::not_found()),
        Err(NotDone::Refused(e, why)) => {
            let status = match why {
                Refusal::InvalidTier { .. } => StatusCode::UNPROCESSABLE_ENTITY,
                _ => StatusCode::CONFLICT,
            };
            let mut shown = Shown::problem(status, "actions", words::refusal(&chrome.lang, &why));
            shown.reply_text = kept;
            page(state, chrome, user, &e, shown)
        }
        Err(NotDone::Failed(e)) => Err(e.into()),
    }
}

pub(super) async fn claim(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ClaimForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let take_over = form.take_over == "1";
        // Taking a case from a colleague is said in words first.
        let act = if take_over && form.confirm != "yes" {
            Err(Box::new(Shown::problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "take-over-confirm",
                i18n::text(&chrome.lang, "queue_take_over_unconfirmed"),
            )))
        } else {
            Ok(Act::Claim { take_over })
        };
        apply(&state, &chrome, &user, &headers, &id, act, String::new()).await
    }
    .await;
    respond(&chrome, r)
}

pub(super) async fn reply(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ReplyForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let wait = form.wait.is_some();
        let act = required(&chrome, "reply-text", &form.text).map(|text| Act::Reply { text, wait });
        // A refused reply keeps its text (cut to the cap: the page shows it).
        let kept: String = form.text.chars().take(MAX_NOTE).collect();
        apply(&state, &chrome, &user, &headers, &id, act, kept).await
    }
    .await;
    respond(&chrome, r)
}

pub(super) async fn note(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<TextForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let act = required(&chrome, "note-text", &form.text).map(|text| Act::Note { text });
        apply(&state, &chrome, &user, &headers, &id, act, String::new()).await
    }
    .await;
    respond(&chrome, r)
}

pub(super) async fn resolve(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<ResolveForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let act = required(&chrome, "resolve-text", &form.text).and_then(|resolution| {
            let note = optional(&chrome, "resolve-note", &form.note)?;
            Ok(Act::Resolve { resolution, note })
        });
        apply(&state, &chrome, &user, &headers, &id, act, String::new()).await
    }
    .await;
    respond(&chrome, r)
}

pub(super) async fn escalate(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<EscalateForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let act = match required(&chrome, "escalate-text", &form.note) {
            Err(shown) => Err(shown),
            Ok(note) => {
                // Default: one tier up (the form always sends one).
                let tier = match form.tier.trim().parse::<u8>() {
                    Ok(t) => t,
                    Err(_) => cases::read(&state, &user, &id)
                        .await?
                        .record
                        .tier
                        .saturating_add(1),
                };
                Ok(Act::EscalateFurther {
                    tier,
                    queue: None,
                    note,
                })
            }
        };
        apply(&state, &chrome, &user, &headers, &id, act, String::new()).await
    }
    .await;
    respond(&chrome, r)
}
