//! The customer's self-service wizard: a list of scripts, one question per
//! page, "None of these" and "Talk to a person" on every step in the same
//! place, a "check your answers" page before anything is sent to a person,
//! and an end page with the outcome and the reference.
//!
//! It works with JavaScript off: every move is a plain form post answered
//! with a redirect to the session's page (post-redirect-get), so reloading
//! never answers twice; a refused value is shown on the same page with an
//! error summary (422) and changes nothing.
//!
//! A session opens with its token, which lives in a cookie scoped to the
//! session's own pages (`Path=/s/{id}`), or arrives in a resume link
//! (`/s/{id}?t=…`) that puts it there. A session left alone for longer than
//! the idle limit no longer opens here.

use super::Pages;
use super::csrf::Form;
use super::view::{FieldError, own_invalid, rfc3339, split_answers, trail_view};
use super::{
    AnswerForm, Chrome, EscalateForm, PageError, PageResult, SeqForm, cookies, i18n, render,
    render_status, respond, see_other,
};
use crate::engine::{
    ANSWER_ESCALATE, ANSWER_NONE, AnswerRef, Channel, Reply, Session, Status, Step, TrailEntry,
};
use crate::http::AppState;
use crate::http::auth::{self, CUSTOMER_PREFIX, Caller};
use crate::http::cases::{self, Contact};
use crate::http::error::ApiError;
use crate::http::limits::{self, ClientIp};
use crate::http::ops::{self, Move, NewSession};
use crate::library::search;
use crate::store::StoredSession;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;

pub fn routes() -> Pages {
    Pages::default()
        .get("/", list)
        .post("/start", start)
        .get("/s/{id}", show)
        .post("/s/{id}/answer", answer)
        .post("/s/{id}/back", back)
        .get("/s/{id}/check", check)
        .post("/s/{id}/escalate", escalate)
        .post("/s/{id}/language", language)
        .post("/s/{id}/keep", keep)
}

// ---------------------------------------------------------------------------
// The list.

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    q: String,
}

#[derive(Serialize)]
struct ScriptCard {
    id: String,
    title: String,
}

async fn list(
    State(state): State<AppState>,
    chrome: Chrome,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = query.map(|Query(q)| q.q).unwrap_or_default();
    let q = q
        .trim()
        .chars()
        .take(search::MAX_QUERY_CHARS)
        .collect::<String>();
    let program = state.library.current();
    let card = |s: &crate::program::Script| {
        let lang = s
            .language_index(&chrome.lang)
            .or_else(|| {
                chrome
                    .prefer(&s.languages)
                    .and_then(|l| s.language_index(&l))
            })
            .unwrap_or(0);
        ScriptCard {
            id: s.id.clone(),
            title: program.templates.source(s.title, lang).into_owned(),
        }
    };
    let scripts: Vec<ScriptCard> = if q.is_empty() {
        let mut all: Vec<ScriptCard> = program
            .scripts
            .iter()
            .filter(|s| ops::customer_facing(s))
            .map(card)
            .collect();
        all.sort_by(|a, b| a.title.cmp(&b.title));
        all
    } else {
        // Best match first. The first search after a (re)load builds the
        // index, which takes a while for a large library: off the async
        // workers. The index may belong to a newer program than `program`
        // after a reload in between: a hit it lacks is skipped.
        let library = state.library.clone();
        let query = q.clone();
        let hits = tokio::task::spawn_blocking(move || {
            library.search_index(ops::customer_facing).search(&query)
        })
        .await
        .unwrap_or_default();
        hits.iter()
            .filter_map(|hit| program.get(&hit.script))
            .filter(|(_, s)| ops::customer_facing(s))
            .map(|(_, s)| card(s))
            .collect()
    };
    render(
        &chrome,
        "wizard/list.html.j2",
        minijinja::context! { query => q, scripts => scripts },
    )
}

// ---------------------------------------------------------------------------
// Starting.

#[derive(Deserialize)]
struct StartForm {
    script: String,
}

/// The session cookie outlives the idle limit by a day, so a customer who
/// comes back late is told the session expired, not that it is unknown.
pub(super) fn cookie_age(state: &AppState) -> i64 {
    state.config.wizard_idle.as_secs() as i64 + 24 * 3600
}

pub(super) fn session_cookie(chrome: &Chrome, id: &str, token: &str, max_age: i64) -> String {
    chrome.cookie(cookies::WIZARD, token, &format!("/s/{id}"), Some(max_age))
}

async fn start(
    State(state): State<AppState>,
    mut chrome: Chrome,
    ClientIp(ip): ClientIp,
    form: Result<Form<StartForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        // Each start is a row in the database: limited per address.
        if let Err(too_many) = state
            .guards
            .session_start
            .check(ip, std::time::Instant::now())
        {
            let page =
                PageError::new(StatusCode::TOO_MANY_REQUESTS, "error_rate_limited").page(&chrome);
            return Ok(limits::with_retry_after(page, too_many));
        }
        let program = state.library.current();
        let language = program
            .get(&form.script)
            .and_then(|(_, s)| chrome.prefer(&s.languages));
        let reference = crate::case::reference::new_reference().map_err(ApiError::internal)?;
        let started = ops::start_session(
            &state,
            &Caller::Anonymous,
            NewSession {
                script: form.script,
                channel: Channel::Customer,
                language,
                params: BTreeMap::new(),
                vars: BTreeMap::new(),
                reference: Some(reference),
            },
        )
        .await?;
        let idle = cookie_age(&state);
        chrome.set_cookie(session_cookie(&chrome, &started.id, &started.token, idle));
        Ok(see_other(&chrome, &format!("/s/{}", started.id)))
    }
    .await;
    respond(&chrome, r)
}

// ---------------------------------------------------------------------------
// A session's pages.

#[derive(Deserialize)]
struct ShowQuery {
    #[serde(default)]
    t: Option<String>,
}

/// The customer's capability for session `id`, from its cookie.
pub(super) fn customer(headers: &HeaderMap) -> Caller {
    match cookies::get(headers, cookies::WIZARD) {
        Some(token) if token.starts_with(CUSTOMER_PREFIX) && token.len() < 128 => {
            Caller::Customer {
                token_hash: auth::hash_token(token),
            }
        }
        _ => Caller::Anonymous,
    }
}

/// Opens the session for its customer; a missing or wrong token and an
/// unknown session are the same 404 (nothing tells a guesser which).
pub(super) async fn open(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<StoredSession, PageError> {
    let caller = customer(headers);
    if let Caller::Anonymous = caller {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "error_session_not_found",
        ));
    }
    match ops::open_session(state, &caller, id).await {
        Ok((stored, _)) => Ok(stored),
        Err(ApiError::NotFound(_)) => Err(PageError::new(
            StatusCode::NOT_FOUND,
            "error_session_not_found",
        )),
        Err(e) => Err(e.into()),
    }
}

/// An active session idle for longer than the limit is over for the wizard.
fn expired(state: &AppState, stored: &StoredSession, now: OffsetDateTime) -> bool {
    ops::idle_too_long(stored, now, state.config.wizard_idle)
}

/// The session's part of every page: reference, expiry, resume link.
#[derive(Serialize)]
pub(super) struct SessionView {
    id: String,
    title: String,
    pub(super) reference: String,
    /// RFC 3339; the page's script warns near the end (and offers to keep
    /// the session).
    expires_at: Option<String>,
    idle_minutes: u64,
    idle_seconds: u64,
    /// The warning's plural forms in the chrome's language, by CLDR
    /// category: the page script counts the minutes down itself.
    warn_forms: Vec<(&'static str, String)>,
    /// The step the keep form names (as every move does).
    seq: u32,
    resume_url: String,
}

pub(super) fn session_view(
    state: &AppState,
    headers: &HeaderMap,
    chrome: &Chrome,
    stored: &StoredSession,
    title: String,
) -> SessionView {
    let token = cookies::get(headers, cookies::WIZARD).unwrap_or("");
    let scheme = if chrome.secure { "https" } else { "http" };
    let host = cookies::host(headers).unwrap_or("localhost");
    let active = stored.state.status == Status::Active;
    SessionView {
        id: stored.id.clone(),
        title,
        reference: stored.reference.clone().unwrap_or_default(),
        expires_at: active.then(|| rfc3339(stored.updated_at + state.config.wizard_idle)),
        idle_minutes: state.config.wizard_idle.as_secs().div_ceil(60),
        idle_seconds: state.config.wizard_idle.as_secs(),
        warn_forms: i18n::forms(&chrome.lang, "wizard_expiry_warning"),
        seq: stored.state.seq,
        resume_url: format!("{scheme}://{host}/s/{}?t={token}", stored.id),
    }
}

/// The script's title in the session's language.
pub(super) async fn title_of(state: &AppState, s: &Session) -> String {
    let Ok(program) = ops::program_of(state, s).await else {
        return s.script.clone();
    };
    program
        .get(&s.script)
        .map(|(_, sc)| {
            let lang = sc.language_index(&s.language).unwrap_or(0);
            program.templates.source(sc.title, lang).into_owned()
        })
        .unwrap_or_else(|| s.script.clone())
}

/// The script's languages (what the switcher offers on its pages).
async fn languages_of(state: &AppState, s: &Session) -> Vec<String> {
    match ops::program_of(state, s).await {
        Ok(p) => p
            .get(&s.script)
            .map(|(_, sc)| sc.languages.clone())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

/// The HTML input type and a hint for an input step: the author's `hint`,
/// else the chrome's word on the expected form.
fn input_kind(step: &Step, lang: &str) -> (&'static str, Option<String>) {
    let own = step
        .input
        .as_ref()
        .and_then(|i| i.hint.as_deref())
        .filter(|h| !h.trim().is_empty())
        .map(str::to_owned);
    let (kind, chrome) = match step.input.as_ref().map(|i| i.kind.as_str()) {
        Some("email") => ("email", Some("hint_email")),
        Some("phone") => ("tel", Some("hint_phone")),
        // A number as text with a numeric keyboard: `type=number` drops what
        // it cannot parse and the person never learns why.
        _ => ("text", None),
    };
    (kind, own.or_else(|| chrome.map(|k| i18n::text(lang, k))))
}

/// The person's words for a refused value: the author's `invalid`, which
/// knows what the value looks like, else the chrome's for the refusal.
fn value_error(step: &Step, value: &str, lang: &str) -> String {
    if let Some(own) = own_invalid(step) {
        return own;
    }
    let key = if value.trim().is_empty() {
        "error_value_required"
    } else if value.chars().count() > crate::engine::MAX_VALUE_CHARS {
        "error_value_long"
    } else {
        match step.input.as_ref().map(|i| i.kind.as_str()) {
            Some("number") => "error_value_number",
            Some("email") => "error_value_email",
            Some("phone") => "error_value_phone",
            _ => "error_value_pattern",
        }
    };
    i18n::text(lang, key)
}

/// Renders the current step (status 200), or with errors (422).
#[allow(clippy::too_many_arguments)]
async fn step_page(
    state: &AppState,
    headers: &HeaderMap,
    chrome: &mut Chrome,
    stored: &StoredSession,
    step: &Step,
    errors: Vec<FieldError>,
    value: String,
) -> Response {
    let s = &stored.state;
    let offered = languages_of(state, s).await;
    chrome.speak(
        &s.language,
        offered,
        Some(format!("/s/{}/language", stored.id)),
    );
    let title = title_of(state, s).await;
    let session = session_view(state, headers, chrome, stored, title);
    let (answers, none, talk) = split_answers(step);
    let talk = talk.unwrap_or(AnswerRef {
        id: ANSWER_ESCALATE.into(),
        label: i18n::text(&chrome.lang, "talk_to_person").into(),
    });
    let (input_type, input_hint) = input_kind(step, &chrome.lang);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(
        chrome,
        status,
        "wizard/step.html.j2",
        minijinja::context! {
            session => session,
            step => step,
            answers => answers,
            none => none,
            talk => talk,
            errors => errors,
            value => value,
            input_type => input_type,
            input_hint => input_hint,
        },
    )
}

async fn show(
    State(state): State<AppState>,
    mut chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<ShowQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // A resume link: keep the token in the cookie, drop it from the address
    // (out of the history and of anything shared from the address bar).
    if let Ok(Query(ShowQuery { t: Some(token) })) = &query
        && token.starts_with(CUSTOMER_PREFIX)
        && token.len() < 128
        && ops::well_formed_id(&id, "ses_")
    {
        let idle = cookie_age(&state);
        chrome.set_cookie(session_cookie(&chrome, &id, token, idle));
        return see_other(&chrome, &format!("/s/{id}"));
    }
    let r = async {
        let stored = open(&state, &headers, &id).await?;
        let now = state.clock.now();
        if expired(&state, &stored, now) {
            chrome.speak(&stored.state.language, Vec::new(), None);
            return Err(PageError::new(StatusCode::GONE, "error_session_expired"));
        }
        if stored.state.status != Status::Active {
            return Ok(super::case_page::ended_page(
                &state,
                &headers,
                &mut chrome,
                &stored,
                super::case_page::Draft::default(),
            )
            .await);
        }
        let step = ops::current_step(&state, &stored.state, false)
            .await?
            .ok_or_else(|| PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "error_server"))?;
        Ok(step_page(
            &state,
            &headers,
            &mut chrome,
            &stored,
            &step,
            Vec::new(),
            String::new(),
        )
        .await)
    }
    .await;
    respond(&chrome, r)
}

#[derive(Deserialize)]
struct LanguageForm {
    seq: u32,
    lang: String,
}

/// Runs one move for the session's customer, then goes to the session's
/// page. A stale `seq` (the back button of the browser, a second tab) just
/// shows the current step: nothing was changed.
async fn move_and_show(
    state: &AppState,
    chrome: &Chrome,
    headers: &HeaderMap,
    id: &str,
    seq: u32,
    mv: Move,
) -> PageResult {
    match wizard_move(state, headers, id, seq, mv).await {
        Ok(Some(_)) | Err(ApiError::Conflict { .. }) => move_done(state, chrome, headers, id),
        Ok(None) => Err(expired_page()),
        Err(e) => Err(page_error(e)),
    }
}

/// A customer's move; `None` (nothing changed) once the session has idled
/// too long. The idle check is made on the session the move reads anyway,
/// so it costs no read of its own.
async fn wizard_move(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
    seq: u32,
    mv: Move,
) -> Result<Option<ops::Stepped>, ApiError> {
    let caller = customer(headers);
    if let Caller::Anonymous = caller {
        return Err(ApiError::NotFound(String::new()));
    }
    let idle = Some(state.config.wizard_idle);
    Ok(
        match ops::step_unless_idle(state, &caller, id, seq, mv, idle).await? {
            ops::Moved::Stepped(s) => Some(s),
            ops::Moved::Idle => None,
        },
    )
}

fn expired_page() -> PageError {
    PageError::new(StatusCode::GONE, "error_session_expired")
}

/// A move's refusal as the wizard shows it: an unknown session (or one this
/// browser may not open) is "not found", as when the page is opened.
pub(super) fn page_error(e: ApiError) -> PageError {
    match e {
        ApiError::NotFound(_) => PageError::new(StatusCode::NOT_FOUND, "error_session_not_found"),
        e => e.into(),
    }
}

async fn answer(
    State(state): State<AppState>,
    mut chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<AnswerForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let seq = form.seq;
        // "None of these" goes to the check-your-answers page first, like
        // "Talk to a person": the person sees what will be sent and may add
        // a note (contract section 3).
        if form.builtin.as_deref() == Some(ANSWER_NONE) {
            return Ok(see_other(&chrome, &format!("/s/{id}/check?why=none")));
        }
        let reply = form.reply();
        match wizard_move(&state, &headers, &id, seq, Move::Reply(reply.clone())).await {
            Ok(Some(_)) | Err(ApiError::Conflict { .. }) => {
                move_done(&state, &chrome, &headers, &id)
            }
            Ok(None) => Err(expired_page()),
            Err(e @ ApiError::Unprocessable { .. }) => {
                // Shown again with what was wrong; nothing changed. (A
                // refusal is rare: only then is the session read again.)
                let stored = open(&state, &headers, &id).await?;
                if stored.state.status != Status::Active {
                    return Err(e.into());
                }
                let step = ops::current_step(&state, &stored.state, false)
                    .await?
                    .ok_or_else(|| {
                        PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "error_server")
                    })?;
                let lang = i18n::supported(&stored.state.language)
                    .unwrap_or(&chrome.lang)
                    .to_owned();
                let (errors, value) = match reply {
                    Reply::Value(v) => (
                        vec![FieldError {
                            field: "value",
                            text: value_error(&step, &v, &lang),
                        }],
                        v,
                    ),
                    Reply::Answer(a) => (
                        vec![FieldError {
                            field: "answer",
                            text: i18n::text(&lang, "error_pick_answer"),
                        }],
                        a,
                    ),
                };
                Ok(step_page(&state, &headers, &mut chrome, &stored, &step, errors, value).await)
            }
            Err(e) => Err(page_error(e)),
        }
    }
    .await;
    respond(&chrome, r)
}

/// The redirect after a move, refreshing the session cookie's lifetime
/// (it lives as long as the session may idle, from now).
fn move_done(state: &AppState, chrome: &Chrome, headers: &HeaderMap, id: &str) -> PageResult {
    let mut out = Chrome::plain();
    out.secure = chrome.secure;
    out.embed = chrome.embed;
    if let Some(token) = cookies::get(headers, cookies::WIZARD) {
        let idle = cookie_age(state);
        out.set_cookie(session_cookie(chrome, id, token, idle));
    }
    Ok(see_other(&out, &format!("/s/{id}")))
}

async fn back(
    State(state): State<AppState>,
    chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<SeqForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        move_and_show(&state, &chrome, &headers, &id, form.seq, Move::Back).await
    }
    .await;
    respond(&chrome, r)
}

async fn language(
    State(state): State<AppState>,
    chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<LanguageForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let lang = form.lang.trim().to_ascii_lowercase();
        move_and_show(
            &state,
            &chrome,
            &headers,
            &id,
            form.seq,
            Move::Language(lang),
        )
        .await
    }
    .await;
    respond(&chrome, r)
}

#[derive(Deserialize, Default)]
struct CheckQuery {
    #[serde(default)]
    why: String,
}

/// "Check your answers": everything that will go to a person, and a note.
/// `?why=none`: the person came by "None of these" (sent as such, if the
/// step still offers it).
async fn check(
    State(state): State<AppState>,
    mut chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    query: Result<Query<CheckQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let why = query.map(|Query(q)| q.why).unwrap_or_default();
    let r = async {
        let stored = open(&state, &headers, &id).await?;
        if expired(&state, &stored, state.clock.now()) {
            return Err(PageError::new(StatusCode::GONE, "error_session_expired"));
        }
        if stored.state.status != Status::Active {
            return Ok(see_other(&chrome, &format!("/s/{id}")));
        }
        check_page(
            &state,
            &headers,
            &mut chrome,
            &stored,
            why == "none",
            CheckDraft::default(),
        )
        .await
    }
    .await;
    respond(&chrome, r)
}

/// What the check page shows again after a refused post: the problems,
/// and the note and address as they were typed.
#[derive(Default)]
struct CheckDraft {
    errors: Vec<FieldError>,
    note: String,
    email: String,
}

async fn check_page(
    state: &AppState,
    headers: &HeaderMap,
    chrome: &mut Chrome,
    stored: &StoredSession,
    why_none: bool,
    draft: CheckDraft,
) -> PageResult {
    let s = &stored.state;
    chrome.speak(&s.language, Vec::new(), None);
    let title = title_of(state, s).await;
    let session = session_view(state, headers, chrome, stored, title);
    let none = why_none
        && ops::current_step(state, s, false)
            .await?
            .is_some_and(|step| step.answers.iter().any(|a| a.id == ANSWER_NONE));
    let shown: Vec<TrailEntry> = s.trail.iter().filter(|e| !e.retracted()).cloned().collect();
    let status = if draft.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render_status(
        chrome,
        status,
        "wizard/check.html.j2",
        minijinja::context! {
            session => session,
            seq => s.seq,
            none => none,
            trail => trail_view(&shown),
            errors => draft.errors,
            note => draft.note,
            email => draft.email,
        },
    ))
}

/// "Keep my session" (the idle warning's button): a move that changes
/// nothing but the session's last activity, so the idle clock starts again.
async fn keep(
    State(state): State<AppState>,
    chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<SeqForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        move_and_show(&state, &chrome, &headers, &id, form.seq, Move::Touch).await
    }
    .await;
    respond(&chrome, r)
}

async fn escalate(
    State(state): State<AppState>,
    mut chrome: Chrome,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<EscalateForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let note = form.note();
        // The address is checked before anything moves: a malformed one
        // shows the page again with what was typed (422).
        let email = form.email.trim();
        let contact = if email.is_empty() {
            None
        } else {
            match cases::check_email(email) {
                Ok(email) => Some(Contact {
                    email,
                    base_url: cases::base_url(&state, &headers),
                }),
                Err(_) => {
                    let stored = open(&state, &headers, &id).await?;
                    if stored.state.status != Status::Active {
                        return Ok(see_other(&chrome, &format!("/s/{id}")));
                    }
                    let lang = i18n::supported(&stored.state.language)
                        .unwrap_or(&chrome.lang)
                        .to_owned();
                    let draft = CheckDraft {
                        errors: vec![FieldError {
                            field: "email",
                            text: i18n::text(&lang, "error_email"),
                        }],
                        note: form.note.clone(),
                        email: email.to_owned(),
                    };
                    let why_none = form.why == "none";
                    return check_page(&state, &headers, &mut chrome, &stored, why_none, draft)
                        .await;
                }
            }
        };
        let mv = if form.why == "none" {
            Move::NoneFits { note, contact }
        } else {
            Move::Escalate { note, contact }
        };
        move_and_show(&state, &chrome, &headers, &id, form.seq, mv).await
    }
    .await;
    respond(&chrome, r)
}
