//! The tier-1 agent console: a guided call script. The agent starts a
//! script for a caller (the ticket number and name go into `params`, so the
//! script can greet them), or takes over a customer's wizard session by the
//! reference the customer reads out: the trail comes along and nothing is
//! asked again. The step shows the agent-only `help` apart from what is read
//! to the caller, the trail sits beside it, and the keys 1–9, `b` and `e`
//! answer, go back and escalate (shown on screen; the page works without
//! them).

use super::Pages;
use super::csrf::Form;
use super::signin::{Console, Staff};
use super::view::{FieldError, split_answers, trail_view};
use super::{
    AnswerForm, Chrome, EscalateForm, PageError, PageResult, SeqForm, i18n, json_text,
    render_status, respond, see_other,
};
use crate::engine::{Channel, Ending, Reply, Status, Step};
use crate::http::AppState;
use crate::http::auth::Caller;
use crate::http::caps;
use crate::http::error::ApiError;
use crate::http::ops::{self, Move, NewSession};
use crate::store::{StoredSession, User};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub fn routes() -> Pages {
    Pages::default()
        .get("/agent", home)
        .post("/agent/start", start)
        .post("/agent/takeover", takeover)
        .get("/agent/s/{id}", show)
        .post("/agent/s/{id}/answer", answer)
        .post("/agent/s/{id}/back", back)
        .post("/agent/s/{id}/escalate", escalate)
}

#[derive(Serialize)]
struct ScriptOption {
    id: String,
    title: String,
    tier: u8,
    /// Add "(Tier N)" to the title: not for tier 1, nor where the title
    /// already says so ("VPN (tier 2)").
    show_tier: bool,
    languages: Vec<String>,
}

/// A language the caller may be served in, for the language field.
#[derive(Serialize)]
struct LanguageOption {
    code: String,
    name: String,
}

/// What the agent typed into the start form, shown again when it is
/// refused (nothing typed is lost).
#[derive(Serialize, Default)]
struct StartValues {
    script: String,
    customer: String,
    ticket: String,
    language: String,
}

#[derive(Serialize, Default)]
struct Found {
    id: String,
    reference: String,
    title: String,
    status: String,
    updated: String,
}

/// Does the title already name the tier ("… (tier 2)", "… (Stufe 2)")?
fn title_names_tier(title: &str, tier: u8, lang: &str) -> bool {
    let title = title.to_lowercase();
    let word = i18n::text(lang, "tier").to_lowercase();
    ["tier".to_owned(), word]
        .iter()
        .any(|w| title.contains(&format!("{w} {tier}")))
}

/// The languages the scripts speak, the chrome's own first, each by its
/// own name (or its code, for one the product has no name for).
fn language_options(program: &crate::program::Program) -> Vec<LanguageOption> {
    let mut codes: Vec<&str> = Vec::new();
    for s in program.scripts.iter().filter(|s| !s.is_subflow()) {
        for l in &s.languages {
            if !codes.contains(&l.as_str()) {
                codes.push(l);
            }
        }
    }
    let rank = |c: &str| {
        i18n::LANGUAGES
            .iter()
            .position(|l| *l == c)
            .unwrap_or(usize::MAX)
    };
    codes.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    codes
        .into_iter()
        .map(|code| {
            let name = i18n::native_name(code);
            LanguageOption {
                code: code.to_owned(),
                name: if name.is_empty() {
                    code.to_owned()
                } else {
                    name.to_owned()
                },
            }
        })
        .collect()
}

fn home_page(
    state: &AppState,
    chrome: &Chrome,
    status: StatusCode,
    errors: Vec<FieldError>,
    found: Vec<Found>,
    form: StartValues,
) -> Response {
    let program = state.library.current();
    let mut scripts: Vec<ScriptOption> = program
        .scripts
        .iter()
        .filter(|s| !s.is_subflow())
        .map(|s| {
            let lang = s.language_index(&chrome.lang).unwrap_or(0);
            let title = program.templates.source(s.title, lang).into_owned();
            ScriptOption {
                id: s.id.clone(),
                show_tier: s.tier > 1 && !title_names_tier(&title, s.tier, &chrome.lang),
                title,
                tier: s.tier,
                languages: s.languages.clone(),
            }
        })
        .collect();
    scripts.sort_by(|a, b| a.tier.cmp(&b.tier).then(a.title.cmp(&b.title)));
    render_status(
        chrome,
        status,
        "console/home.html.j2",
        minijinja::context! {
            scripts => scripts,
            languages => language_options(&program),
            errors => errors,
            found => found,
            form => form,
        },
    )
}

async fn home(State(state): State<AppState>, Staff { chrome, .. }: Staff<Console>) -> Response {
    home_page(
        &state,
        &chrome,
        StatusCode::OK,
        Vec::new(),
        Vec::new(),
        StartValues::default(),
    )
}

#[derive(Deserialize)]
struct StartForm {
    script: String,
    #[serde(default)]
    customer: String,
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    language: String,
}

fn staff(user: &User) -> Caller {
    Caller::Staff(user.clone())
}

async fn start(
    State(state): State<AppState>,
    Staff { chrome, user, .. }: Staff<Console>,
    form: Result<Form<StartForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let clean = |s: &str| s.trim().chars().take(200).collect::<String>();
        let (customer, ticket) = (clean(&form.customer), clean(&form.ticket));
        let mut params: BTreeMap<String, Json> = BTreeMap::new();
        // Scripts greet `params.customer`; an empty name is left out so the
        // script's own wording for "no name" applies.
        if !customer.is_empty() {
            params.insert("customer".into(), Json::String(customer.clone()));
        }
        if !ticket.is_empty() {
            params.insert("ticket".into(), Json::String(ticket.clone()));
        }
        let language = Some(form.language.trim().to_owned()).filter(|l| !l.is_empty());
        // A language the script does not speak: the form again, with what
        // was typed, and the languages it does speak.
        if let Some(l) = &language {
            let program = state.library.current();
            if let Some((_, script)) = program.get(&form.script)
                && script.language_index(l).is_none()
            {
                let lang = script.language_index(&chrome.lang).unwrap_or(0);
                let title = program.templates.source(script.title, lang).into_owned();
                let names: Vec<&str> = script
                    .languages
                    .iter()
                    .map(|c| match i18n::native_name(c) {
                        "" => c.as_str(),
                        n => n,
                    })
                    .collect();
                let text = i18n::text(&chrome.lang, "console_language_unknown")
                    .replace("{script}", &title)
                    .replace("{languages}", &names.join(", "));
                return Ok(home_page(
                    &state,
                    &chrome,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    vec![FieldError {
                        field: "language",
                        text,
                    }],
                    Vec::new(),
                    StartValues {
                        script: form.script,
                        customer,
                        ticket,
                        language: l.clone(),
                    },
                ));
            }
        }
        // A ticket number is the reference as typed (checked like any staff
        // reference: too long or odd characters are refused). Without one,
        // the caller's name stands in, cut to what a reference may hold: a
        // name is not typed to be one.
        let reference = if ticket.is_empty() {
            caps::reference_from(&customer)
        } else {
            ticket
        };
        let started = ops::start_session(
            &state,
            &staff(&user),
            NewSession {
                script: form.script,
                channel: Channel::Agent,
                language,
                params,
                vars: BTreeMap::new(),
                reference: Some(reference),
            },
        )
        .await?;
        Ok(see_other(&chrome, &format!("/agent/s/{}", started.id)))
    }
    .await;
    respond(&chrome, r)
}

#[derive(Deserialize)]
struct TakeoverForm {
    reference: String,
}

async fn takeover(
    State(state): State<AppState>,
    Staff { chrome, .. }: Staff<Console>,
    form: Result<Form<TakeoverForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let given = form.reference.trim().chars().take(200).collect::<String>();
        let mut found: Vec<StoredSession> = Vec::new();
        // As typed, and as a customer's reference is printed (upper case,
        // with its dash), so `k7qf 2m9d` finds `K7QF-2M9D`.
        let mut tries = vec![given.clone()];
        let compact: String = given
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_uppercase();
        if compact.len() == 8 {
            tries.push(format!("{}-{}", &compact[..4], &compact[4..]));
        }
        for t in tries.iter().filter(|t| !t.is_empty()) {
            for s in state.store.sessions_by_reference(t, 20).await? {
                if !found.iter().any(|f| f.id == s.id) {
                    found.push(s);
                }
            }
        }
        match found.len() {
            0 => {
                let text = i18n::text(&chrome.lang, "console_takeover_none")
                    .replace("{reference}", &given);
                Ok(home_page(
                    &state,
                    &chrome,
                    StatusCode::NOT_FOUND,
                    vec![FieldError {
                        field: "reference",
                        text,
                    }],
                    Vec::new(),
                    StartValues::default(),
                ))
            }
            1 => Ok(see_other(&chrome, &format!("/agent/s/{}", found[0].id))),
            _ => {
                let list = found
                    .iter()
                    .map(|s| Found {
                        id: s.id.clone(),
                        reference: s.reference.clone().unwrap_or_default(),
                        title: s.state.script.clone(),
                        status: format!("{:?}", s.state.status).to_lowercase(),
                        updated: s.updated_at.to_string(),
                    })
                    .collect();
                Ok(home_page(
                    &state,
                    &chrome,
                    StatusCode::OK,
                    Vec::new(),
                    list,
                    StartValues::default(),
                ))
            }
        }
    }
    .await;
    respond(&chrome, r)
}

/// The session's page for an agent: the step (or how it ended) and the
/// trail beside it.
async fn session_page(
    state: &AppState,
    chrome: &mut Chrome,
    user: &User,
    id: &str,
    mut errors: Vec<FieldError>,
    value: String,
) -> PageResult {
    let (stored, _) = ops::open_session(state, &staff(user), id).await?;
    let s = &stored.state;
    // The chrome stays in the agent's language; what the script says (the
    // step, its answers, the trail) is in the caller's, marked as such.
    let step: Option<Step> = ops::current_step(state, s, true).await?;
    // A refused value: the author's `invalid` text, when there is one, says
    // what the customer should give better than the engine's reason.
    if let Some(own) = step.as_ref().and_then(super::view::own_invalid) {
        for e in errors.iter_mut().filter(|e| e.field == "value") {
            e.text = own.clone();
        }
    }
    let (answers, none, talk) = step.as_ref().map(split_answers).unwrap_or_default();
    let program = ops::program_of(state, s).await?;
    let title = program
        .get(&s.script)
        .map(|(_, sc)| {
            let lang = sc.language_index(&s.language).unwrap_or(0);
            program.templates.source(sc.title, lang).into_owned()
        })
        .unwrap_or_else(|| s.script.clone());
    let (resolved, escalated) = match s.ending.as_deref() {
        Some(Ending::Resolved { text, .. }) => (Some(text.clone()), None),
        Some(Ending::Escalated {
            reason,
            tier,
            queue,
            ..
        }) => (
            None,
            Some(minijinja::context! {
                reason => reason,
                tier => tier,
                queue => queue,
                id => ops::escalation_id_for(id),
            }),
        ),
        None => (None, None),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let params: Vec<(String, String)> = s
        .params
        .iter()
        .map(|(k, v)| (k.to_string(), json_text(v)))
        .collect();
    Ok(render_status(
        chrome,
        status,
        "console/step.html.j2",
        minijinja::context! {
            id => id,
            title => title,
            language => s.language,
            reference => stored.reference,
            channel => s.channel.as_str(),
            taken_over => s.channel == Channel::Customer,
            active => s.status == Status::Active,
            step => step,
            answers => answers,
            none => none,
            talk => talk,
            errors => errors,
            value => value,
            resolved => resolved,
            escalated => escalated,
            params => params,
            trail => trail_view(&s.trail),
        },
    ))
}

async fn show(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Console>,
    Path(id): Path<String>,
) -> Response {
    let r = session_page(&state, &mut chrome, &user, &id, Vec::new(), String::new()).await;
    respond(&chrome, r)
}

/// Runs a move as the signed-in agent and goes back to the session's page;
/// a refused value is shown on the page (422); a stale `seq` (a double
/// press) changes nothing and shows where the session is.
async fn run(
    state: &AppState,
    chrome: &mut Chrome,
    user: &User,
    id: &str,
    seq: u32,
    mv: Move,
) -> PageResult {
    let given = match &mv {
        Move::Reply(Reply::Value(v)) => Some(v.clone()),
        _ => None,
    };
    match ops::step_session(state, &staff(user), id, seq, mv).await {
        Ok(_) | Err(ApiError::Conflict { .. }) => Ok(see_other(chrome, &format!("/agent/s/{id}"))),
        Err(e @ ApiError::Unprocessable { .. }) => {
            // The engine's own words are for staff: precise and in English
            // only where the chrome has none.
            let text = e.public_message();
            let field = if given.is_some() { "value" } else { "answer" };
            session_page(
                state,
                chrome,
                user,
                id,
                vec![FieldError { field, text }],
                given.unwrap_or_default(),
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn answer(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Console>,
    Path(id): Path<String>,
    form: Result<Form<AnswerForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let seq = form.seq;
        let reply = form.reply();
        run(&state, &mut chrome, &user, &id, seq, Move::Reply(reply)).await
    }
    .await;
    respond(&chrome, r)
}

async fn back(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Console>,
    Path(id): Path<String>,
    form: Result<Form<SeqForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        run(&state, &mut chrome, &user, &id, form.seq, Move::Back).await
    }
    .await;
    respond(&chrome, r)
}

async fn escalate(
    State(state): State<AppState>,
    Staff {
        mut chrome, user, ..
    }: Staff<Console>,
    Path(id): Path<String>,
    form: Result<Form<EscalateForm>, PageError>,
) -> Response {
    let r = async {
        let Form(form) = form?;
        let note = form.note();
        run(
            &state,
            &mut chrome,
            &user,
            &id,
            form.seq,
            Move::Escalate {
                note,
                contact: None,
            },
        )
        .await
    }
    .await;
    respond(&chrome, r)
}
