//! The report for people and spreadsheets: `fixpath stats --format table`
//! (aligned columns, rates as percentages, times as `1m 40s`) and
//! `--format csv` (one row per script, or with `--nodes` one per node; the
//! figures as in the JSON: rates as shares of 1, times in seconds, null as
//! an empty cell).
//!
//! Titles, node and answer ids come from script authors: in the terminal a
//! control character is shown as `�` (no escape sequence reaches it), and
//! a CSV cell that a spreadsheet would take for a formula (`=`, `+`, `-`,
//! `@`, a tab or a carriage return first) is prefixed with `'`.

use super::{NodeStats, Report, ScriptStats};
use std::fmt::Write as _;
use unicode_width::UnicodeWidthStr;

/// The report as aligned tables: one row per entry, then, when `nodes`,
/// a table of each entry's nodes.
pub fn table(report: &Report, nodes: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", period(report));
    if report.scripts.is_empty() {
        out.push_str("no sessions in this period\n");
        return out;
    }
    let versions = report.scripts.iter().any(|s| s.version.is_some());
    let mut t = Table::default();
    t.header([
        ("SCRIPT", Left),
        ("VERSION", Left),
        ("STARTED", Right),
        ("ACTIVE", Right),
        ("RESOLVED", Right),
        ("ESCALATED", Right),
        ("ABANDONED", Right),
        ("DEFLECTION", Right),
        ("FCR", Right),
        ("MEDIAN", Right),
        ("P90", Right),
        ("CASES", Right),
        ("CSAT", Right),
        ("TITLE", Left),
    ]);
    if !versions {
        t.drop_column(1);
    }
    for s in &report.scripts {
        let n = &s.sessions;
        let mut row = vec![
            shown(&s.id),
            s.version.as_deref().map(shown).unwrap_or_default(),
            n.started.to_string(),
            n.active.to_string(),
            n.resolved.to_string(),
            with_rate(n.escalated, s.rates.escalation),
            with_rate(n.abandoned, s.rates.abandonment),
            percent(s.rates.deflection),
            percent(s.rates.fcr),
            duration(s.time_to_outcome_s.median),
            duration(s.time_to_outcome_s.p90),
            s.cases.count.to_string(),
            match s.csat.average {
                Some(a) => format!("{a:.1} ({})", s.csat.count),
                None => "-".into(),
            },
            shown(&s.title),
        ];
        if !versions {
            row.remove(1);
        }
        t.row(row);
    }
    out.push_str(&t.render());
    out.push_str(LEGEND);
    if nodes {
        for s in &report.scripts {
            out.push('\n');
            out.push_str(&node_table(s));
        }
    }
    out
}

/// What the columns mean, under the table.
const LEGEND: &str = "
ESCALATED, ABANDONED: count (share of ended sessions)
DEFLECTION: share of customer sessions resolved by the script
FCR: resolved / (resolved + escalated); MEDIAN, P90: time from start to outcome
CSAT: average score 1-5 (number of ratings)
";

/// `since 2026-01-01 until 2026-01-31`, or what is open.
fn period(r: &Report) -> String {
    match (&r.since, &r.until) {
        (None, None) => "sessions started: any day".into(),
        (Some(s), None) => format!("sessions started: from {s}"),
        (None, Some(u)) => format!("sessions started: until {u}"),
        (Some(s), Some(u)) => format!("sessions started: {s} to {u}"),
    }
}

/// One entry's nodes, under a line naming the entry.
fn node_table(s: &ScriptStats) -> String {
    let mut out = format!(
        "{} {} ({})\n",
        shown(&s.id),
        match &s.version {
            Some(v) => format!("version {}", shown(v)),
            None => "all versions".into(),
        },
        shown(&s.title)
    );
    if s.nodes.is_empty() {
        out.push_str("no node entered\n");
        return out;
    }
    let mut t = Table::default();
    t.header([
        ("NODE", Left),
        ("ENTERED", Right),
        ("ESCALATED", Right),
        ("ABANDONED", Right),
        ("DWELL", Right),
        ("ANSWERS", Left),
    ]);
    for n in &s.nodes {
        t.row(vec![
            shown(&n.node),
            n.entered.to_string(),
            n.escalated.to_string(),
            n.abandoned.to_string(),
            duration(n.median_dwell_s),
            answers(n, " "),
        ]);
    }
    out.push_str(&t.render());
    out
}

/// `id=n` for every answer given, by id, joined with `sep`.
fn answers(n: &NodeStats, sep: &str) -> String {
    let list: Vec<String> = n
        .answers
        .iter()
        .map(|(id, times)| format!("{id}={times}"))
        .collect();
    shown(&list.join(sep))
}

/// `4 (44.4%)`, or the count alone without a rate.
fn with_rate(count: u64, rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{count} ({})", percent(Some(r))),
        None => count.to_string(),
    }
}

/// `44.4%`; `-` for null.
fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(r) => format!("{:.1}%", r * 100.0),
        None => "-".into(),
    }
}

/// Seconds as people read them: `42s`, `1.5s`, `1m 40s`, `2h 05m`,
/// `3d 04h`; `-` for null.
fn duration(secs: Option<f64>) -> String {
    let Some(s) = secs else {
        return "-".into();
    };
    if s < 60.0 {
        // Medians of an even count end in .5 at most.
        return if s.fract() == 0.0 {
            format!("{s:.0}s")
        } else {
            format!("{s:.1}s")
        };
    }
    let s = s.round() as u64;
    if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else if s < 86400 {
        format!("{}h {:02}m", s / 3600, s % 3600 / 60)
    } else {
        format!("{}d {:02}h", s / 86400, s % 86400 / 3600)
    }
}

/// An author's text for the terminal: control characters (escape
/// sequences, line breaks) shown as `�`.
fn shown(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}
use Align::{Left, Right};

/// Columns padded to their widest cell (by display width), two spaces
/// apart, no trailing spaces.
#[derive(Default)]
struct Table {
    columns: Vec<(&'static str, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn header<const N: usize>(&mut self, columns: [(&'static str, Align); N]) {
        self.columns = columns.to_vec();
    }

    fn drop_column(&mut self, i: usize) {
        self.columns.remove(i);
    }

    fn row(&mut self, cells: Vec<String>) {
        debug_assert_eq!(cells.len(), self.columns.len());
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|(h, _)| h.width()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.width());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|(h, _)| (*h).to_owned()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i > 0 {
                    line.push_str("  ");
                }
                let pad = " ".repeat(widths[i].saturating_sub(cell.width()));
                match self.columns[i].1 {
                    Left => {
                        line.push_str(cell);
                        line.push_str(&pad);
                    }
                    Right => {
                        line.push_str(&pad);
                        line.push_str(cell);
                    }
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// One CSV row per entry of the report.
pub fn scripts_csv(report: &Report, out: impl std::io::Write) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "script",
        "version",
        "title",
        "started",
        "resolved",
        "escalated",
        "abandoned",
        "active",
        "deflection",
        "escalation",
        "abandonment",
        "fcr",
        "median_time_to_outcome_s",
        "p90_time_to_outcome_s",
        "cases",
        "cases_resolved",
        "cases_reopened",
        "median_first_response_s",
        "median_resolution_s",
        "breached_response",
        "breached_resolution",
        "csat_count",
        "csat_average",
        "csat_1",
        "csat_2",
        "csat_3",
        "csat_4",
        "csat_5",
    ])?;
    for s in &report.scripts {
        let (n, r, c) = (&s.sessions, &s.rates, &s.cases);
        let mut row = vec![
            cell(&s.id),
            s.version.as_deref().map(cell).unwrap_or_default(),
            cell(&s.title),
        ];
        row.extend([n.started, n.resolved, n.escalated, n.abandoned, n.active].map(count));
        row.extend([r.deflection, r.escalation, r.abandonment, r.fcr].map(number));
        row.extend([s.time_to_outcome_s.median, s.time_to_outcome_s.p90].map(number));
        row.extend([c.count, c.resolved, c.reopened].map(count));
        row.extend([c.median_first_response_s, c.median_resolution_s].map(number));
        row.extend([c.breached_response, c.breached_resolution, s.csat.count].map(count));
        row.push(number(s.csat.average));
        row.extend(s.csat.distribution.map(count));
        w.write_record(&row)?;
    }
    w.flush()?;
    Ok(())
}

/// One CSV row per node of each entry; `answers` as `id=n;id=n`.
pub fn nodes_csv(report: &Report, out: impl std::io::Write) -> csv::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "script",
        "version",
        "node",
        "entered",
        "abandoned",
        "escalated",
        "median_dwell_s",
        "answers",
    ])?;
    for s in &report.scripts {
        for n in &s.nodes {
            let list: Vec<String> = n
                .answers
                .iter()
                .map(|(id, times)| format!("{id}={times}"))
                .collect();
            let mut row = vec![
                cell(&s.id),
                s.version.as_deref().map(cell).unwrap_or_default(),
                cell(&n.node),
            ];
            row.extend([n.entered, n.abandoned, n.escalated].map(count));
            row.push(number(n.median_dwell_s));
            row.push(cell(&list.join(";")));
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// An author's text as a CSV cell: `'` before what a spreadsheet would
/// run as a formula. (The writer quotes commas, quotes and line breaks.)
/// `fixpath export --format csv` writes its text cells so too.
pub(crate) fn cell(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    }
}

fn count(n: u64) -> String {
    n.to_string()
}

/// A figure as in the JSON; null as an empty cell.
fn number(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests;
