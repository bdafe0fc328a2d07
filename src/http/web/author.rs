//! The authors' pages (`/author`): what the server runs and why. The last
//! read of the scripts folder (published, or refused with every diagnostic
//! as `fixpath lint` prints it), every script with its tier, languages and
//! version, and its graph drawn by our own SVG exporter, per language; with
//! the figures of its sessions (section 11, see [`super::figures`]) beside
//! it and drawn over it.

use super::Pages;
use super::figures::{self, Choice, StatsQuery, VersionOption};
use super::signin::{Authors, Staff};
use super::{PageError, render_status};
use crate::http::AppState;
use crate::program::export::{GraphFormat, export, export_annotated, heat};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Versions the picker lists at most (newest first).
const VERSIONS_LISTED: u32 = 50;

pub fn routes() -> Pages {
    Pages::default()
        .get("/author", home)
        .get("/author/scripts/{id}", script)
        .get("/author/scripts/{id}/graph.svg", graph)
}

#[derive(Serialize)]
struct Row {
    id: String,
    title: String,
    tier: u8,
    languages: Vec<String>,
    version: String,
    path: String,
    nodes: usize,
    subflow: bool,
    customer: bool,
}

async fn home(State(state): State<AppState>, Staff { chrome, .. }: Staff<Authors>) -> Response {
    let program = state.library.current();
    let report = state.library.report();
    let dir = state.library.dir();
    let mut rows: Vec<Row> = program
        .scripts
        .iter()
        .map(|s| Row {
            id: s.id.clone(),
            title: program
                .templates
                .source(s.title, s.language_index(&chrome.lang).unwrap_or(0))
                .into_owned(),
            tier: s.tier,
            languages: s.languages.clone(),
            version: s.version.clone(),
            path: shown_path(&s.path, dir),
            nodes: s.graph.node_count(),
            subflow: s.is_subflow(),
            customer: crate::http::ops::customer_facing(s),
        })
        .collect();
    rows.sort_by(|a, b| a.id.cmp(&b.id));
    let at = report
        .at
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            ))
            .ok()
        })
        .unwrap_or_default();
    super::render(
        &chrome,
        "author/home.html.j2",
        minijinja::context! {
            scripts => rows,
            published => report.published,
            program => report.program,
            at => at,
            problems => report.diagnostics.len(),
            text => shown_text(&report.text, dir),
        },
    )
}

/// A script's path as authors know it: inside the scripts folder. Where the
/// server keeps that folder is the operator's business, not the page's.
fn shown_path(path: &str, dir: &std::path::Path) -> String {
    std::path::Path::new(path)
        .strip_prefix(dir)
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| path.to_owned())
}

/// The diagnostics text with the scripts folder taken off every path in it.
fn shown_text(text: &str, dir: &std::path::Path) -> String {
    let prefix = format!("{}{}", dir.display(), std::path::MAIN_SEPARATOR);
    if prefix.len() <= 1 {
        return text.to_owned();
    }
    text.replace(&prefix, "")
}

async fn script(
    State(state): State<AppState>,
    Staff { mut chrome, .. }: Staff<Authors>,
    Path(id): Path<String>,
    q: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let program = state.library.current();
    let Some((_, s)) = program.get(&id) else {
        return PageError::not_found().page(&chrome);
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let lang = s
        .language_index(&q.lang)
        .map(|i| s.languages[i].clone())
        .unwrap_or_else(|| s.languages[0].clone());
    let title = program
        .templates
        .source(s.title, s.language_index(&lang).unwrap_or(0))
        .into_owned();
    // The language links of this page pick the graph's language.
    chrome.speak(&chrome.lang.clone(), s.languages.clone(), None);
    chrome.page_lang = lang.clone();
    let ui = chrome.lang.clone();
    let t = |k: &str| super::i18n::text(&ui, k);

    let chosen = figures::choose(&q, &s.version, &ui);
    let mut versions = vec![VersionOption {
        value: String::new(),
        label: t("author_filter_current").replace("{version}", &figures::short(&s.version)),
        selected: true,
    }];
    let (mut status, mut errors, mut stats, mut unavailable) =
        (StatusCode::OK, Vec::new(), None, false);
    // The graph's query (the template writes the path: it escapes `/`).
    let mut graph = format!("lang={lang}");
    let (mut since, mut until) = (q.since.trim().to_owned(), q.until.trim().to_owned());
    match &chosen {
        Err(e) => {
            status = StatusCode::BAD_REQUEST;
            errors = e.clone();
        }
        Ok(c) => {
            since = c.since.map(|d| d.to_string()).unwrap_or_default();
            until = c.until.map(|d| d.to_string()).unwrap_or_default();
            // Every stored version for the picker (newest first); then the
            // figures of the one chosen.
            let stored = state.store.versions_of(&s.id, VERSIONS_LISTED).await;
            let chosen_report = match &stored {
                Ok(_) => figures::report(&state, &c.filter(&s.id, &s.version), &title, true).await,
                Err(e) => Err(e.clone()),
            };
            match (stored, chosen_report) {
                (Ok(stored), Ok(r)) => {
                    for (v, _) in stored.iter().filter(|(v, _)| *v != s.version) {
                        versions.push(VersionOption {
                            value: v.clone(),
                            label: figures::short(v),
                            selected: matches!(&c.version, Choice::One(p) if v.starts_with(p.as_str())),
                        });
                    }
                    // A version may be named by a prefix, as the store reads it.
                    if let Choice::One(v) = &c.version
                        && !versions.iter().any(|o| o.value.starts_with(v.as_str()))
                        && !s.version.starts_with(v.as_str())
                    {
                        errors.push(super::view::FieldError {
                            field: "version",
                            text: t("author_filter_bad_version").replace("{value}", v),
                        });
                    }
                    stats = r
                        .scripts
                        .iter()
                        .find(|e| e.id == s.id)
                        .map(|e| figures::shown_stats(e, &ui));
                    graph = format!("{}&stats=1", c.query(&lang));
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!(script = %s.id, error = %e, "the figures are unavailable");
                    unavailable = true;
                }
            }
            if c.version != Choice::Current {
                versions[0].selected = false;
            }
        }
    }
    versions.push(VersionOption {
        value: "all".into(),
        label: t("author_filter_all_versions"),
        selected: matches!(&chosen, Ok(c) if c.version == Choice::All),
    });
    render_status(
        &chrome,
        status,
        "author/script.html.j2",
        minijinja::context! {
            id => s.id,
            title => title,
            lang => lang,
            version => s.version,
            path => shown_path(&s.path, state.library.dir()),
            tier => s.tier,
            languages => s.languages,
            versions => versions,
            since => since,
            until => until,
            errors => errors,
            stats => stats,
            unavailable => unavailable,
            graph => graph,
        },
    )
}

/// The words of an annotated graph's legend and tooltips, in `lang` (a
/// script language the chrome lacks reads English).
pub fn graph_words(lang: &str) -> heat::Words {
    let t = |k: &str| super::i18n::text(lang, k);
    heat::Words {
        title: t("graph_legend_title"),
        shade: t("graph_legend_shade"),
        never: t("graph_legend_never"),
        width: t("graph_legend_width"),
        badge: t("graph_legend_badge"),
        percent: t("graph_percent"),
        node_tip: t("graph_node_tip"),
        edge_tip: t("graph_edge_tip"),
    }
}

/// The graph as a standalone SVG (shown in an `<img>`, so nothing in it can
/// run; the pages' CSP forbids scripts in it anyway).
async fn graph(
    State(state): State<AppState>,
    Staff { chrome, .. }: Staff<Authors>,
    Path(id): Path<String>,
    q: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let program = state.library.current();
    let Some((ix, s)) = program.get(&id) else {
        return PageError::not_found().page(&chrome);
    };
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let lang = s.language_index(&q.lang).unwrap_or(0);
    // With `stats=1`, the figures drawn over it; a picture is all an `<img>`
    // can show, so a bad query or a store without figures gives the plain one.
    let overlay = match figures::choose(&q, &s.version, &chrome.lang) {
        Ok(c) if q.stats == "1" => {
            let words = s.languages.get(lang).map_or("en", String::as_str);
            figures::annotation(&state, &s.id, &s.version, &c, words).await
        }
        _ => None,
    };
    let svg = match overlay {
        Some(a) => export_annotated(&program, ix, lang, &a),
        None => export(&program, ix, lang, GraphFormat::Svg),
    };
    let mut res = svg.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml; charset=utf-8"),
    );
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
