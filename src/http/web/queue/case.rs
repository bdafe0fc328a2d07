//! One case as a specialist sees it: where it stands (status, holder since
//! when, first response, who resolved it and how), its due times and
//! breaches, the messages with the customer apart from the internal notes,
//! the history in words, the customer's address, linked tickets, the full
//! trail, and the forms to work it.
//!
//! A canned reply is filled in without JavaScript: the reply form's "Use"
//! asks for this page again with `?reply=ID`, and the page comes back with
//! the reply rendered in the case's language in the textarea.

use super::super::view::{FieldError, rfc3339, trail_view};
use super::super::{Chrome, PageResult, i18n, json_text, render_status, respond};
use super::words;
use crate::case::{Party, Status};
use crate::http::AppState;
use crate::http::cases;
use crate::reply::ReplyContext;
use crate::store::{Escalation, User};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::super::signin::{Queue, Staff};

/// What the page shows beside the case: its answer's status, problems to
/// point at, and what the reply form holds.
pub(super) struct Shown {
    pub(super) status: StatusCode,
    pub(super) errors: Vec<FieldError>,
    /// The reply's text: a canned reply filled in, or what was typed
    /// before a refusal.
    pub(super) reply_text: String,
    /// The canned reply picked in the select.
    pub(super) picked: String,
}

impl Shown {
    pub(super) fn ok() -> Shown {
        Shown {
            status: StatusCode::OK,
            errors: Vec::new(),
            reply_text: String::new(),
            picked: String::new(),
        }
    }

    pub(super) fn problem(status: StatusCode, field: &'static str, text: String) -> Shown {
        Shown {
            status,
            errors: vec![FieldError { field, text }],
            ..Shown::ok()
        }
    }
}

#[derive(Deserialize, Default)]
pub(super) struct CaseQuery {
    /// A canned reply to fill in.
    #[serde(default)]
    reply: String,
}

pub(super) async fn show(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    Path(id): Path<String>,
    q: Result<Query<CaseQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let r = async {
        let e = cases::read(&state, &user, &id).await?;
        let mut shown = Shown::ok();
        let wanted = q.reply.trim();
        if !wanted.is_empty() {
            match canned(&state, &chrome, &user, &e, wanted) {
                Ok(text) => {
                    shown.reply_text = text;
                    shown.picked = wanted.to_owned();
                }
                Err(problem) => {
                    shown.status = StatusCode::UNPROCESSABLE_ENTITY;
                    shown.errors.push(problem);
                }
            }
        }
        page(&state, &chrome, &user, &e, shown)
    }
    .await;
    respond(&chrome, r)
}

/// What a canned reply reads of the case, sent by `user`.
fn reply_context(e: &Escalation, user: &User) -> ReplyContext {
    ReplyContext {
        reference: Some(e.case.reference.clone()).filter(|r| !r.is_empty()),
        params: e.record.params.clone(),
        vars: e.record.vars.clone(),
        script_title: Some(e.record.script.title.clone()),
        agent: Some(user.name.clone()),
    }
}

/// The canned reply `id` rendered for the case, in the case's language; a
/// reply not offered here, or one that fails to render, is a problem on
/// the reply form, worded for the specialist (the cause goes to the log).
fn canned(
    state: &AppState,
    chrome: &Chrome,
    user: &User,
    e: &Escalation,
    id: &str,
) -> Result<String, FieldError> {
    let replies = state.library.replies();
    let problem = |text| FieldError {
        field: "canned-reply",
        text,
    };
    let Some(reply) = replies
        .get(id)
        .filter(|r| r.offered_on(e.record.queue.as_deref()))
    else {
        return Err(problem(i18n::text(&chrome.lang, "queue_canned_unknown")));
    };
    let ctx = reply_context(e, user);
    let language = replies.language_for(&e.record.language);
    replies.render(reply, language, &ctx).map_err(|err| {
        tracing::warn!(reply = %reply.id, case = %e.record.id, error = %err, "a canned reply failed to render");
        let title = replies
            .title(reply, replies.language_for(&chrome.lang), &ctx)
            .unwrap_or_else(|_| reply.id.clone());
        problem(i18n::text(&chrome.lang, "queue_canned_failed").replace("{title}", &title))
    })
}

#[derive(Serialize)]
struct DueLine {
    kind: &'static str,
    due: Option<words::DueView>,
    /// Answered (response) or resolved (resolution): no longer pending.
    met: bool,
    breached: bool,
}

#[derive(Serialize)]
struct Offered {
    id: String,
    title: String,
}

/// The case page for `e`.
pub(super) fn page(
    state: &AppState,
    chrome: &Chrome,
    user: &User,
    e: &Escalation,
    shown: Shown,
) -> PageResult {
    let lang = chrome.lang.as_str();
    let now = state.clock.now();
    let r = &e.record;
    let c = &e.case;
    let pairs = |m: &std::collections::BTreeMap<String, Json>| -> Vec<(String, String)> {
        m.iter().map(|(k, v)| (k.clone(), json_text(v))).collect()
    };
    let at = |t: time::OffsetDateTime| {
        minijinja::context! { at => rfc3339(t), human => words::when(lang, t) }
    };
    let notes: Vec<minijinja::Value> = r
        .notes
        .iter()
        .map(|n| minijinja::context! { author => n.author, text => n.text, at => at(n.at) })
        .collect();
    let messages: Vec<minijinja::Value> = c
        .messages
        .iter()
        .map(|m| {
            let staff = m.from == Party::Staff;
            minijinja::context! {
                from => if staff { "staff" } else { "customer" },
                author => if staff { m.author.clone() } else { i18n::text(lang, "queue_from_customer") },
                text => m.text,
                at => at(m.at),
            }
        })
        .collect();
    let breached = |kind: &str| c.breached.iter().any(|b| b == kind);
    let due = vec![
        DueLine {
            kind: "response",
            due: c.due.response.map(|d| words::due(lang, d, now)),
            met: c.first_response_at.is_some(),
            breached: breached("response"),
        },
        DueLine {
            kind: "resolution",
            due: c.due.resolution.map(|d| words::due(lang, d, now)),
            met: c.status == Status::Resolved,
            breached: breached("resolution"),
        },
    ];
    let replies = state.library.replies();
    let ctx = reply_context(e, user);
    let offered: Vec<Offered> = replies
        .replies_for(r.queue.as_deref())
        .map(|reply| Offered {
            id: reply.id.clone(),
            // A title that fails to render is listed by its id.
            title: replies
                .title(reply, replies.language_for(lang), &ctx)
                .unwrap_or_else(|_| reply.id.clone()),
        })
        .collect();
    let language = replies.language_for(&r.language);
    // A link only to a web address: a connector's URL is not ours to trust
    // with another scheme (`javascript:`).
    let external: Vec<minijinja::Value> = c
        .external
        .iter()
        .map(|x| {
            let web = x.url.starts_with("https://") || x.url.starts_with("http://");
            minijinja::context! { system => x.system, id => x.id, url => web.then_some(&x.url) }
        })
        .collect();
    let holder = c.claimed_by.clone().filter(|_| c.status != Status::Open);
    let held_by_other = matches!(c.status, Status::Claimed | Status::Waiting)
        && holder.as_deref().is_some_and(|h| h != user.name);
    let resolved = c.status == Status::Resolved;
    Ok(render_status(
        chrome,
        shown.status,
        "queue/item.html.j2",
        minijinja::context! {
            id => r.id,
            session => r.session,
            reference => Some(c.reference.clone()).filter(|x| !x.is_empty()),
            script => minijinja::context! { id => r.script.id, version => r.script.version, title => r.script.title },
            tier => r.tier,
            higher => ((r.tier + 1)..=4).collect::<Vec<u8>>(),
            queue => r.queue,
            reason => r.reason,
            node => r.node,
            channel => r.channel.as_str(),
            language => r.language,
            params => pairs(&r.params),
            vars => pairs(&r.vars),
            trail => trail_view(&r.trail),
            notes => notes,
            messages => messages,
            history => words::history(lang, &c.events),
            status => c.status.as_str(),
            // While resolved, `claimed_by` is the last holder: the page
            // names the resolver there, and the holder only while held.
            holder => if resolved { None } else { holder },
            claimed_at => c.claimed_at.filter(|_| !resolved && c.status != Status::Open).map(|t| minijinja::context! {
                at => rfc3339(t),
                human => i18n::text(lang, "queue_since").replace("{at}", &words::when(lang, t)),
            }),
            first_response => c.first_response_at.map(at),
            resolved_by => c.resolved_by.as_deref().map(|b| words::who(lang, b)),
            resolved_at => c.resolved_at.map(at),
            resolution => c.resolution,
            due => due,
            email => c.email,
            external => external,
            mine => holder_is(e, user),
            held_by_other => held_by_other,
            waited => words::span(lang, (now - r.created_at).whole_minutes()),
            replies => offered,
            picked => shown.picked,
            reply_text => shown.reply_text,
            reply_language => Some(i18n::native_name(language)).filter(|n| !n.is_empty()).unwrap_or(language),
            errors => shown.errors,
        },
    ))
}

fn holder_is(e: &Escalation, user: &User) -> bool {
    e.case.status != Status::Open && e.case.claimed_by.as_deref() == Some(user.name.as_str())
}
