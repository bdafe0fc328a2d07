//! The figures on the authors' page of a script (contract section 11): what
//! the page and its annotated graph ask for (a version, a period), read from
//! [`crate::stats::gather`], and made into words and numbers for the page.
//!
//! The figures are a luxury of the page, never its condition: when the
//! store cannot give them (busy, down, or not built yet) the page shows the
//! script and its plain graph with a note, and a bad query is a note beside
//! the form, never a failure.

use super::i18n;
use super::view::FieldError;
use crate::http::AppState;
use crate::program::export::heat::{self, Annotation};
use crate::stats::gather::gather;
use crate::stats::{Report, ScriptStats, StatsFilter, Versions};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The query of the script page and of its graph.
#[derive(Deserialize, Default, Debug)]
pub struct StatsQuery {
    #[serde(default)]
    pub lang: String,
    /// A version's hash, `all`, or empty for the current version.
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub since: String,
    #[serde(default)]
    pub until: String,
    /// On the graph: draw the figures over it.
    #[serde(default)]
    pub stats: String,
}

/// Which versions are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The script as it is now.
    Current,
    One(String),
    All,
}

/// What the figures cover, as asked and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub version: Choice,
    pub since: Option<time::Date>,
    pub until: Option<time::Date>,
}

/// The longest version a query may name (content hashes are shorter).
const MAX_VERSION: usize = 64;

fn day(s: &str) -> Option<time::Date> {
    time::Date::parse(
        s.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .ok()
}

/// Reads the query's version and period; every problem is reported, in
/// `lang`, against the field it is about.
pub fn choose(q: &StatsQuery, current: &str, lang: &str) -> Result<Chosen, Vec<FieldError>> {
    let mut errors = Vec::new();
    let v = q.version.trim();
    let version = if v.is_empty() || v == current {
        Choice::Current
    } else if v == "all" {
        Choice::All
    } else if v.len() <= MAX_VERSION && v.chars().all(|c| c.is_ascii_alphanumeric()) {
        Choice::One(v.to_owned())
    } else {
        errors.push(FieldError {
            field: "version",
            text: i18n::text(lang, "author_filter_bad_version").replace("{value}", &shown(v)),
        });
        Choice::Current
    };
    let mut date = |field: &'static str, s: &str| -> Option<time::Date> {
        if s.trim().is_empty() {
            return None;
        }
        let d = day(s);
        if d.is_none() {
            errors.push(FieldError {
                field,
                text: i18n::text(lang, "author_filter_bad_date").replace("{value}", &shown(s)),
            });
        }
        d
    };
    let since = date("since", &q.since);
    let until = date("until", &q.until);
    if let (Some(a), Some(b)) = (since, until)
        && b < a
    {
        errors.push(FieldError {
            field: "until",
            text: i18n::text(lang, "author_filter_bad_order"),
        });
    }
    if errors.is_empty() {
        Ok(Chosen {
            version,
            since,
            until,
        })
    } else {
        Err(errors)
    }
}

/// A value from the query as a note quotes it: short, on one line.
fn shown(s: &str) -> String {
    let one: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
    if s.chars().count() > 40 {
        format!("{one}…")
    } else {
        one
    }
}

impl Chosen {
    /// The store's filter for script `id`, whose current version is `current`.
    pub fn filter(&self, id: &str, current: &str) -> StatsFilter {
        StatsFilter {
            script: Some(id.to_owned()),
            versions: match &self.version {
                Choice::Current => Versions::Only(current.to_owned()),
                Choice::One(v) => Versions::Only(v.clone()),
                Choice::All => Versions::Together,
            },
            since: self.since,
            until: self.until,
            channel: None,
        }
    }

    /// The query that asks for the same again (for the graph's address and
    /// the form), `lang` first.
    pub fn query(&self, lang: &str) -> String {
        let mut q = format!("lang={lang}");
        match &self.version {
            Choice::Current => {}
            Choice::One(v) => q.push_str(&format!("&version={v}")),
            Choice::All => q.push_str("&version=all"),
        }
        if let Some(d) = self.since {
            q.push_str(&format!("&since={d}"));
        }
        if let Some(d) = self.until {
            q.push_str(&format!("&until={d}"));
        }
        q
    }
}

/// Brings the figures up to date and reads them for `filter`.
pub async fn report(
    state: &AppState,
    filter: &StatsFilter,
    title: &str,
    fresh: bool,
) -> Result<Report, crate::store::StoreError> {
    let id = filter.script.clone().unwrap_or_default();
    let titles = BTreeMap::from([(id, title.to_owned())]);
    let idle = time::Duration::try_from(state.config.wizard_idle).ok();
    let idle = idle.filter(|_| fresh).map(|i| (state.clock.now(), i));
    // The API's gate: a page's reports count with the API's.
    let _slot = state.guards.reports.acquire().await.map_err(|_| {
        crate::store::StoreError::database("other figures reports are being computed")
    })?;
    gather(
        &*state.store,
        &state.programs,
        filter,
        idle,
        &titles,
        Some(crate::stats::gather::REQUEST_BUDGET),
    )
    .await
}

/// The overlay of a report entry's graph (its node figures, by node name),
/// explained in `words`: what the authors' page and `fixpath graph --stats`
/// draw.
pub fn overlay(s: &ScriptStats, words: heat::Words) -> Annotation {
    Annotation {
        nodes: s
            .nodes
            .iter()
            .map(|n| {
                let f = heat::Figures {
                    entered: n.entered,
                    escalated: n.escalated,
                    abandoned: n.abandoned,
                    answers: n.answers.clone(),
                };
                (n.node.clone(), f)
            })
            .collect(),
        words,
    }
}

/// The figures of `id` for the overlay of its graph, explained in `lang`;
/// `None` when the store cannot give them.
pub async fn annotation(
    state: &AppState,
    id: &str,
    current: &str,
    chosen: &Chosen,
    lang: &str,
) -> Option<Annotation> {
    let filter = chosen.filter(id, current);
    let words = super::author::graph_words(lang);
    match report(state, &filter, id, true).await {
        Ok(r) => Some(match r.scripts.iter().find(|s| s.id == id) {
            Some(s) => overlay(s, words),
            None => Annotation {
                words,
                ..Annotation::default()
            },
        }),
        Err(e) => {
            tracing::warn!(script = id, error = %e, "no figures for the graph");
            None
        }
    }
}

// ---------------------------------------------------------------- the page

/// One choice of the version picker.
#[derive(Serialize, Debug)]
pub struct VersionOption {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// The figures as the page prints them: every number already in words.
#[derive(Serialize, Debug, Default)]
pub struct Shown {
    pub started: u64,
    pub resolved: u64,
    pub escalated: u64,
    pub abandoned: u64,
    pub active: u64,
    pub deflection: String,
    pub escalation: String,
    pub abandonment: String,
    pub fcr: String,
    pub median: String,
    pub p90: String,
    pub cases: u64,
    pub cases_resolved: u64,
    pub cases_reopened: u64,
    pub first_response: String,
    pub resolution: String,
    pub csat_count: u64,
    pub csat_average: String,
    pub hottest: Vec<HotNode>,
}

#[derive(Serialize, Debug)]
pub struct HotNode {
    pub node: String,
    pub entered: u64,
    pub escalated: u64,
    pub abandoned: u64,
    pub share: String,
}

/// A share as a percentage in `lang`, or the dash of a figure without one.
pub fn percent(lang: &str, share: Option<f64>) -> String {
    match share {
        Some(s) if s.is_finite() => {
            let p = s * 100.0;
            let n = if p > 0.0 && p < 0.5 {
                "<1".to_owned()
            } else {
                format!("{}", p.round() as i64)
            };
            i18n::text(lang, "graph_percent").replace("{n}", &n)
        }
        _ => i18n::text(lang, "author_none"),
    }
}

/// Seconds as the largest two units that say them (`3 min 20 s`,
/// `2 h 5 min`), or the dash.
pub fn duration(lang: &str, secs: Option<f64>) -> String {
    let Some(s) = secs.filter(|s| s.is_finite() && *s >= 0.0) else {
        return i18n::text(lang, "author_none");
    };
    let s = s.round() as u64;
    let unit = |k: &str, n: u64| i18n::text(lang, k).replace("{n}", &n.to_string());
    let two = |a: String, b: Option<String>| match b {
        Some(b) => format!("{a} {b}"),
        None => a,
    };
    let (d, h, m, sec) = (s / 86_400, s / 3600 % 24, s / 60 % 60, s % 60);
    if s < 60 {
        unit("age_seconds", sec)
    } else if s < 3600 {
        two(
            unit("age_minutes", s / 60),
            (sec > 0).then(|| unit("age_seconds", sec)),
        )
    } else if s < 86_400 {
        two(
            unit("age_hours", s / 3600),
            (m > 0).then(|| unit("age_minutes", m)),
        )
    } else {
        two(unit("age_days", d), (h > 0).then(|| unit("age_hours", h)))
    }
}

/// A number with one decimal, with the decimal mark of `lang`.
fn decimal(lang: &str, v: Option<f64>) -> String {
    match v {
        Some(v) if v.is_finite() => {
            let s = format!("{v:.1}");
            if lang == "en" { s } else { s.replace('.', ",") }
        }
        _ => i18n::text(lang, "author_none"),
    }
}

/// The page's words for one report entry.
pub fn shown_stats(s: &ScriptStats, lang: &str) -> Shown {
    let hottest = crate::stats::report::hottest(s, 5)
        .into_iter()
        .map(|n| HotNode {
            node: n.node.clone(),
            entered: n.entered,
            escalated: n.escalated,
            abandoned: n.abandoned,
            share: percent(
                lang,
                (n.entered > 0)
                    .then(|| ((n.escalated + n.abandoned) as f64 / n.entered as f64).min(1.0)),
            ),
        })
        .collect();
    Shown {
        started: s.sessions.started,
        resolved: s.sessions.resolved,
        escalated: s.sessions.escalated,
        abandoned: s.sessions.abandoned,
        active: s.sessions.active,
        deflection: percent(lang, s.rates.deflection),
        escalation: percent(lang, s.rates.escalation),
        abandonment: percent(lang, s.rates.abandonment),
        fcr: percent(lang, s.rates.fcr),
        median: duration(lang, s.time_to_outcome_s.median),
        p90: duration(lang, s.time_to_outcome_s.p90),
        cases: s.cases.count,
        cases_resolved: s.cases.resolved,
        cases_reopened: s.cases.reopened,
        first_response: duration(lang, s.cases.median_first_response_s),
        resolution: duration(lang, s.cases.median_resolution_s),
        csat_count: s.csat.count,
        csat_average: decimal(lang, s.csat.average),
        hottest,
    }
}

/// A version as the picker shows it: its first twelve characters.
pub fn short(v: &str) -> String {
    v.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(version: &str, since: &str, until: &str) -> StatsQuery {
        StatsQuery {
            version: version.into(),
            since: since.into(),
            until: until.into(),
            ..StatsQuery::default()
        }
    }

    #[test]
    fn a_query_is_read_or_every_problem_named() {
        let c = choose(&q("", "2026-12-01", ""), "abc", "en").expect("fine");
        assert_eq!(c.version, Choice::Current);
        assert_eq!(c.query("en"), "lang=en&since=2026-12-01");
        assert_eq!(
            choose(&q("abc", "", ""), "abc", "en").map(|c| c.version),
            Ok(Choice::Current),
            "the current version by name"
        );
        assert_eq!(
            choose(&q("all", "", ""), "abc", "en").map(|c| c.version),
            Ok(Choice::All)
        );
        let e = choose(&q("<x>", "yesterday", "2026-13-01"), "abc", "en").unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field).collect();
        assert_eq!(fields, ["version", "since", "until"]);
        assert!(
            e[1].text.contains("“yesterday” is not a date"),
            "{}",
            e[1].text
        );
        let e = choose(&q("", "2026-12-02", "2026-12-01"), "abc", "de").unwrap_err();
        assert_eq!(e[0].text, "Der Zeitraum endet, bevor er beginnt.");
    }

    #[test]
    fn figures_in_words() {
        assert_eq!(percent("en", None), "–");
        assert_eq!(percent("en", Some(0.123)), "12%");
        assert_eq!(percent("de", Some(0.001)), "<1 %");
        assert_eq!(duration("en", Some(42.0)), "42 s");
        assert_eq!(duration("en", Some(200.0)), "3 min 20 s");
        assert_eq!(duration("de", Some(3900.0)), "1 Std. 5 Min.");
        assert_eq!(duration("ru", Some(90_000.0)), "1 дн. 1 ч");
        assert_eq!(duration("en", None), "–");
        assert_eq!(decimal("nl", Some(4.26)), "4,3");
        assert_eq!(decimal("en", Some(4.0)), "4.0");
    }
}
