//! The tier-2/3/4 escalation queue: what tier 1 could not solve, by tier,
//! queue and age (oldest first: they have waited longest). A specialist
//! claims one (the first claim wins), reads the full trail as the customer
//! or agent saw it (retracted answers marked), the variables and the notes,
//! adds notes, resolves it with a resolution note, or sends it further up to
//! tier 3 or 4 with the same trail.

use super::csrf::Form;
use super::signin::{Queue, Staff};
use super::view::{FieldError, trail_view};
use super::{Chrome, PageError, PageResult, i18n, json_text, render_status, respond, see_other};
use crate::case::Act;
use crate::case::reference::normalise;
use crate::http::AppState;
use crate::http::cases::{self, actor_of};
use crate::http::error::ApiError;
use crate::store::{Escalation, EscalationFilter, EscalationStatus, User};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use time::OffsetDateTime;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/queue", get(list))
        .route("/queue/{id}", get(show))
        .route("/queue/{id}/claim", post(claim))
        .route("/queue/{id}/note", post(note))
        .route("/queue/{id}/resolve", post(resolve))
        .route("/queue/{id}/escalate", post(escalate))
}

#[derive(Deserialize, Default)]
struct ListQuery {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    queue: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reference: String,
}

#[derive(Serialize)]
struct Row {
    id: String,
    reference: Option<String>,
    title: String,
    tier: u8,
    queue: Option<String>,
    reason: String,
    status: &'static str,
    claimed_by: Option<String>,
    resolved_by: Option<String>,
    age: String,
    age_minutes: i64,
    channel: &'static str,
}

/// "5 min", "3 h", "2 d": how long it has waited, at a glance.
fn age(lang: &str, since: OffsetDateTime, now: OffsetDateTime) -> (String, i64) {
    let minutes = (now - since).whole_minutes().max(0);
    let (n, key) = if minutes < 60 {
        (minutes, "age_minutes")
    } else if minutes < 48 * 60 {
        (minutes / 60, "age_hours")
    } else {
        (minutes / (24 * 60), "age_days")
    };
    (
        i18n::text(lang, key).replace("{n}", &n.to_string()),
        minutes,
    )
}

async fn list(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let r = async {
        let tier = q
            .tier
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|t| (1..=4).contains(t));
        let queue = Some(q.queue.trim().to_owned()).filter(|s| !s.is_empty());
        // Bounded like the console's search: nobody types a longer one.
        let wanted: String = q.reference.trim().chars().take(200).collect();
        // Default: everything still to do.
        let statuses: Vec<Option<EscalationStatus>> =
            match (EscalationStatus::parse(q.status.trim()), q.status.trim()) {
                (Some(s), _) => vec![Some(s)],
                (None, "all") => vec![None],
                _ => vec![
                    Some(EscalationStatus::Open),
                    Some(EscalationStatus::Claimed),
                    Some(EscalationStatus::Waiting),
                ],
            };
        let mut items: Vec<Escalation> = Vec::new();
        for status in statuses {
            let filter = EscalationFilter {
                tier,
                queue: queue.clone(),
                status,
                limit: 500,
                ..EscalationFilter::default()
            };
            items.extend(cases::list(&state, &user, filter).await?.items);
        }
        if !wanted.is_empty() {
            // `k7qf 2m9d` finds `K7QF-2M9D`.
            let wanted = normalise(&wanted);
            items.retain(|e| normalise(&e.case.reference) == wanted);
        }
        items.sort_by(|a, b| {
            (a.record.created_at, &a.record.id).cmp(&(b.record.created_at, &b.record.id))
        });
        let now = state.clock.now();
        let rows: Vec<Row> = items
            .iter()
            .map(|e| {
                let (age, age_minutes) = age(&chrome.lang, e.record.created_at, now);
                Row {
                    id: e.record.id.clone(),
                    reference: Some(e.case.reference.clone()).filter(|r| !r.is_empty()),
                    title: e.record.script.title.clone(),
                    tier: e.record.tier,
                    queue: e.record.queue.clone(),
                    reason: e.record.reason.clone(),
                    status: e.case.status.as_str(),
                    claimed_by: e.case.claimed_by.clone(),
                    resolved_by: e.case.resolved_by.clone(),
                    age,
                    age_minutes,
                    channel: e.record.channel.as_str(),
                }
            })
            .collect();
        let mut queues: Vec<String> = items
            .iter()
            .filter_map(|e| e.record.queue.clone())
            .collect();
        queues.sort();
        queues.dedup();
        Ok(render_status(
            &chrome,
            StatusCode::OK,
            "queue/list.html.j2",
            minijinja::context! {
                rows => rows,
                queues => queues,
                filter => minijinja::context! {
                    tier => q.tier.trim(),
                    queue => q.queue.trim(),
                    status => q.status.trim(),
                    reference => wanted,
                },
            },
        ))
    }
    .await;
    respond(&chrome, r)
}

async fn item_page(
    state: &AppState,
    chrome: &Chrome,
    user: &User,
    id: &str,
    status: StatusCode,
    errors: Vec<FieldError>,
) -> PageResult {
    let e = cases::read(state, user, id).await?;
    let reference = Some(e.case.reference.clone()).filter(|r| !r.is_empty());
    let r = &e.record;
    let pairs = |m: &std::collections::BTreeMap<String, Json>| -> Vec<(String, String)> {
        m.iter().map(|(k, v)| (k.clone(), json_text(v))).collect()
    };
    let notes: Vec<minijinja::Value> = r
        .notes
        .iter()
        .map(|n| {
            minijinja::context! {
                author => n.author,
                text => n.text,
                at => n.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                at_human => n.at.format(time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")).unwrap_or_default(),
            }
        })
        .collect();
    let (waited, _) = age(&chrome.lang, r.created_at, state.clock.now());
    Ok(render_status(
        chrome,
        status,
        "queue/item.html.j2",
        minijinja::context! {
            id => r.id,
            session => r.session,
            reference => reference,
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
            status => e.case.status.as_str(),
            claimed_by => e.case.claimed_by,
            resolved_by => e.case.resolved_by,
            mine => e.case.claimed_by.as_deref() == Some(user.name.as_str()),
            waited => waited,
            errors => errors,
        },
    ))
}

async fn show(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    Path(id): Path<String>,
) -> Response {
    let r = item_page(&state, &chrome, &user, &id, StatusCode::OK, Vec::new()).await;
    respond(&chrome, r)
}

#[derive(Deserialize)]
struct Empty {}

#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
struct EscalateForm {
    #[serde(default)]
    tier: String,
    #[serde(default)]
    note: String,
}

/// A change asked for on the queue's pages.
enum Change {
    Act(Act),
    Further { tier: Option<u8>, note: String },
}

/// Applies a change and shows the item again; a refusal (claimed by someone
/// else first, resolved already) is shown on the item's page.
async fn apply(
    state: &AppState,
    chrome: &Chrome,
    user: &User,
    headers: &HeaderMap,
    id: &str,
    change: Result<Change, FieldError>,
) -> PageResult {
    let result = match change {
        Err(problem) => {
            return item_page(
                state,
                chrome,
                user,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                vec![problem],
            )
            .await;
        }
        Ok(Change::Further { tier, note }) => {
            cases::escalate_further(state, user, id, tier, None, note).await
        }
        Ok(Change::Act(act)) => {
            let base = cases::base_url(state, headers);
            cases::act(state, actor_of(user), id, act, Some(&base)).await
        }
    };
    match result {
        // Sent above the specialist's tier: it is no longer theirs to see.
        Ok(e) if !actor_of(user).may_see(e.record.tier) => Ok(see_other(chrome, "/queue")),
        Ok(_) => Ok(see_other(chrome, &format!("/queue/{id}"))),
        Err(e @ (ApiError::Conflict { .. } | ApiError::Unprocessable { .. })) => {
            let status = e.status();
            let problem = FieldError {
                field: "actions",
                text: e.public_message(),
            };
            item_page(state, chrome, user, id, status, vec![problem]).await
        }
        Err(e) => Err(e.into()),
    }
}

fn required_text(chrome: &Chrome, field: &'static str, text: &str) -> Result<String, FieldError> {
    // Its size is checked with every other note's (`caps::MAX_NOTE`).
    let t = text.trim().to_owned();
    if t.is_empty() {
        Err(FieldError {
            field,
            text: i18n::text(&chrome.lang, "error_note_required"),
        })
    } else {
        Ok(t)
    }
}

async fn claim(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<Empty>, PageError>,
) -> Response {
    let r = async {
        let Form(Empty {}) = form?;
        let change = Change::Act(Act::Claim { take_over: false });
        apply(&state, &chrome, &user, &headers, &id, Ok(change)).await
    }
    .await;
    respond(&chrome, r)
}

async fn note(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let change = required_text(&chrome, "note-text", &form.text)
            .map(|text| Change::Act(Act::Note { text }));
        apply(&state, &chrome, &user, &headers, &id, change).await
    }
    .await;
    respond(&chrome, r)
}

async fn resolve(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let change = required_text(&chrome, "resolve-text", &form.text).map(|resolution| {
            Change::Act(Act::Resolve {
                resolution,
                note: None,
            })
        });
        apply(&state, &chrome, &user, &headers, &id, change).await
    }
    .await;
    respond(&chrome, r)
}

async fn escalate(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<EscalateForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let tier = form.tier.trim().parse::<u8>().ok();
        let change = required_text(&chrome, "escalate-text", &form.note)
            .map(|note| Change::Further { tier, note });
        apply(&state, &chrome, &user, &headers, &id, change).await
    }
    .await;
    respond(&chrome, r)
}
