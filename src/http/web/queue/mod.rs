//! The tier-2/3/4 escalation queue: what tier 1 could not solve, by tier,
//! queue, status and due time (overdue cases first and marked), paged by
//! the store's cursor. A specialist opens a case ([`case`]): its status,
//! holder, due times, the messages with the customer apart from the
//! internal notes, the history in words, the full trail; and works it
//! ([`acts`]): claim or take over, reply (a canned reply filled in without
//! JavaScript), note, resolve, escalate further.

mod acts;
mod case;
mod words;

use super::Pages;
use super::signin::{Queue, Staff};
use super::{Chrome, PageError, render_status, respond};
use crate::case::reference::normalise;
use crate::http::AppState;
use crate::http::cases;
use crate::store::{Cursor, Escalation, EscalationFilter, EscalationStatus, Sort, User};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};

pub fn routes() -> Pages {
    Pages::default()
        .get("/queue", list)
        .get("/queue/{id}", case::show)
        .post("/queue/{id}/claim", acts::claim)
        .post("/queue/{id}/reply", acts::reply)
        .post("/queue/{id}/note", acts::note)
        .post("/queue/{id}/resolve", acts::resolve)
        .post("/queue/{id}/escalate", acts::escalate)
}

/// Cases on one page of the list.
const PAGE: u32 = 50;

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
    #[serde(default)]
    sort: String,
    #[serde(default)]
    after: String,
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
    /// The due time that matters next (response until answered, then the
    /// resolution's), with `overdue` set once it passed.
    due: Option<words::DueView>,
    /// Which due time `due` is: `response` or `resolution`.
    due_kind: &'static str,
}

fn row(chrome: &Chrome, e: &Escalation, now: time::OffsetDateTime) -> Row {
    let minutes = (now - e.record.created_at).whole_minutes().max(0);
    let (response, resolution) = e.case.pending_due();
    let (due, due_kind) = match (response, resolution) {
        (Some(a), Some(b)) if b < a => (Some(b), "resolution"),
        (Some(a), _) => (Some(a), "response"),
        (None, Some(b)) => (Some(b), "resolution"),
        (None, None) => (None, ""),
    };
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
        age: words::span(&chrome.lang, minutes),
        age_minutes: minutes,
        channel: e.record.channel.as_str(),
        due: due.map(|d| words::due(&chrome.lang, d, now)),
        due_kind,
    }
}

/// Does the case pass the list's filters (for a case found by reference)?
fn passes(f: &EscalationFilter, e: &Escalation) -> bool {
    f.tier.is_none_or(|t| t == e.record.tier)
        && f.queue
            .as_ref()
            .is_none_or(|q| e.record.queue.as_ref() == Some(q))
        && f.status.is_none_or(|s| s == e.case.status)
        && !(f.unresolved && e.case.status == EscalationStatus::Resolved)
}

async fn list(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Queue>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let r = list_page(&state, &chrome, &user, &q).await;
    respond(&chrome, r)
}

async fn list_page(
    state: &AppState,
    chrome: &Chrome,
    user: &User,
    q: &ListQuery,
) -> Result<Response, PageError> {
    let tier = q
        .tier
        .trim()
        .parse::<u8>()
        .ok()
        .filter(|t| (1..=4).contains(t));
    // Bounded like the API's: nobody types a longer queue or reference.
    let queue =
        Some(q.queue.trim().chars().take(200).collect::<String>()).filter(|s| !s.is_empty());
    let wanted: String = q.reference.trim().chars().take(200).collect();
    let status_text = q.status.trim();
    let (status, unresolved) = match (EscalationStatus::parse(status_text), status_text) {
        (Some(s), _) => (Some(s), false),
        (None, "all") => (None, false),
        // Default: everything still to do.
        _ => (None, true),
    };
    // Overdue first: the default order; the oldest first on request.
    let sort = match q.sort.trim() {
        "created" => Sort::Created,
        _ => Sort::Due,
    };
    // A cursor of another order, or not one of ours, starts at the top.
    let after = Cursor::decode(q.after.trim()).filter(|c| c.sort == sort);
    let paged = after.is_some();
    let filter = EscalationFilter {
        tier,
        queue: queue.clone(),
        status,
        unresolved,
        max_tier: None,
        sort,
        after,
        limit: PAGE,
    };
    let (items, next) = if wanted.is_empty() {
        let page = cases::list(state, user, filter.clone()).await?;
        (page.items, page.next)
    } else {
        // `k7qf 2m9d` finds `K7QF-2M9D`: one case, under the same filters
        // and the tier rule.
        let found = state
            .store
            .escalation_by_reference(&normalise(&wanted))
            .await?
            .filter(|e| passes(&filter, e))
            .filter(|e| cases::actor_of(user).may_see(e.record.tier));
        (found.into_iter().collect(), None)
    };
    let now = state.clock.now();
    let rows: Vec<Row> = items.iter().map(|e| row(chrome, e, now)).collect();
    let mut queues: Vec<String> = items
        .iter()
        .filter_map(|e| e.record.queue.clone())
        .collect();
    queues.sort();
    queues.dedup();
    // The next page's address keeps every filter.
    let link = |after: Option<String>| {
        let mut pairs = vec![
            ("tier", q.tier.trim().to_owned()),
            ("queue", queue.clone().unwrap_or_default()),
            ("status", status_text.to_owned()),
            ("sort", q.sort.trim().to_owned()),
        ];
        pairs.extend(after.map(|a| ("after", a)));
        pairs.retain(|(_, v)| !v.is_empty());
        format!(
            "/queue?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    };
    Ok(render_status(
        chrome,
        StatusCode::OK,
        "queue/list.html.j2",
        minijinja::context! {
            rows => rows,
            queues => queues,
            next => next.map(|c| link(Some(c.encode()))),
            first => paged.then(|| link(None)),
            filter => minijinja::context! {
                tier => q.tier.trim(),
                queue => queue.unwrap_or_default(),
                status => status_text,
                reference => wanted,
                sort => if sort == Sort::Created { "created" } else { "due" },
            },
        },
    ))
}
