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
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::ops;
use crate::store::{Escalation, EscalationChange, EscalationFilter, EscalationStatus, User};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
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
    Staff { chrome, .. }: Staff<Queue>,
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
        // Default: everything still to do (open and claimed).
        let status = EscalationStatus::parse(q.status.trim());
        let queue = Some(q.queue.trim().to_owned()).filter(|s| !s.is_empty());
        // Bounded like the console's search: nobody types a longer one.
        let wanted: String = q.reference.trim().chars().take(200).collect();
        let sessions = if wanted.is_empty() {
            None
        } else {
            let mut ids = std::collections::HashSet::new();
            for r in reference_forms(&wanted) {
                for s in state.store.sessions_by_reference(&r, 500).await? {
                    ids.insert(s.id);
                }
            }
            Some(ids)
        };
        let mut items: Vec<Escalation> = Vec::new();
        let statuses: Vec<EscalationStatus> = match (status, q.status.trim()) {
            (Some(s), _) => vec![s],
            (None, "all") => vec![
                EscalationStatus::Open,
                EscalationStatus::Claimed,
                EscalationStatus::Resolved,
            ],
            _ => vec![EscalationStatus::Open, EscalationStatus::Claimed],
        };
        for s in statuses {
            items.extend(
                state
                    .store
                    .escalations(&EscalationFilter {
                        tier,
                        queue: queue.clone(),
                        status: Some(s),
                        limit: 500,
                    })
                    .await?,
            );
        }
        if let Some(ids) = &sessions {
            items.retain(|e| ids.contains(&e.record.session));
        }
        items.sort_by_key(|e| e.record.created_at);
        let session_ids: Vec<String> = items.iter().map(|e| e.record.session.clone()).collect();
        let references = state.store.session_references(&session_ids).await?;
        let now = OffsetDateTime::now_utc();
        let rows: Vec<Row> = items
            .iter()
            .map(|e| {
                let (age, age_minutes) = age(&chrome.lang, e.record.created_at, now);
                Row {
                    id: e.record.id.clone(),
                    reference: references.get(&e.record.session).cloned(),
                    title: e.record.script.title.clone(),
                    tier: e.record.tier,
                    queue: e.record.queue.clone(),
                    reason: e.record.reason.clone(),
                    status: e.status.as_str(),
                    claimed_by: e.claimed_by.clone(),
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

/// A reference as typed, and as a customer's is printed (upper case, with
/// its dash), so `k7qf 2m9d` finds `K7QF-2M9D`.
fn reference_forms(given: &str) -> Vec<String> {
    let mut forms = vec![given.to_owned()];
    let compact: String = given
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_uppercase();
    if compact.len() == 8 {
        let printed = format!("{}-{}", &compact[..4], &compact[4..]);
        if printed != given {
            forms.push(printed);
        }
    }
    forms
}

async fn item_page(
    state: &AppState,
    chrome: &Chrome,
    user: &User,
    id: &str,
    status: StatusCode,
    errors: Vec<FieldError>,
) -> PageResult {
    let e = ops::escalation(state, id).await?;
    let reference = state
        .store
        .session(&e.record.session)
        .await?
        .and_then(|s| s.reference);
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
    let (waited, _) = age(&chrome.lang, r.created_at, OffsetDateTime::now_utc());
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
            status => e.status.as_str(),
            claimed_by => e.claimed_by,
            mine => e.claimed_by.as_deref() == Some(user.name.as_str()),
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

/// Applies a change and shows the item again; a refusal (claimed by someone
/// else first, resolved already) is shown on the item's page.
async fn apply(
    state: &AppState,
    chrome: &Chrome,
    user: &User,
    id: &str,
    change: Result<EscalationChange, FieldError>,
    tier: Option<u8>,
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
        Ok(EscalationChange::EscalateFurther { note, queue, .. }) => {
            ops::escalate_further(state, user, id, tier, queue, note.text).await
        }
        Ok(change) => ops::change_escalation(state, id, change).await,
    };
    match result {
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
    Path(id): Path<String>,
    form: Result<Form<Empty>, PageError>,
) -> Response {
    let r = async {
        let Form(Empty {}) = form?;
        let change = EscalationChange::Claim {
            by: user.name.clone(),
        };
        apply(&state, &chrome, &user, &id, Ok(change), None).await
    }
    .await;
    respond(&chrome, r)
}

async fn note(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let change = required_text(&chrome, "note-text", &form.text)
            .map(|t| EscalationChange::Note(ops::note(&user, t)));
        apply(&state, &chrome, &user, &id, change, None).await
    }
    .await;
    respond(&chrome, r)
}

async fn resolve(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    Path(id): Path<String>,
    form: Result<Form<NoteForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let change = required_text(&chrome, "resolve-text", &form.text)
            .map(|t| EscalationChange::Resolve(ops::note(&user, t)));
        apply(&state, &chrome, &user, &id, change, None).await
    }
    .await;
    respond(&chrome, r)
}

async fn escalate(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    Path(id): Path<String>,
    form: Result<Form<EscalateForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let tier = form.tier.trim().parse::<u8>().ok();
        let change = required_text(&chrome, "escalate-text", &form.note).map(|t| {
            EscalationChange::EscalateFurther {
                tier: tier.unwrap_or(0),
                queue: None,
                note: ops::note(&user, t),
            }
        });
        apply(&state, &chrome, &user, &id, change, tier).await
    }
    .await;
    respond(&chrome, r)
}
