//! What people read: the tables and the CSV of a small report.

use super::*;
use crate::stats::{
    CaseData, GroupData, Histogram, NodeData, Outcome, StatsData, StatsFilter, Versions, report,
};
use std::collections::BTreeMap;

fn h(values: &[(i64, u64)]) -> Histogram {
    let mut h = Histogram::default();
    for &(v, n) in values {
        h.add(v, n);
    }
    h
}

/// Two versions of `wifi` (customer and agent channel) and an untitled,
/// idle `vpn`.
fn data() -> StatsData {
    let mut a = GroupData {
        script: "wifi".into(),
        version: "1111aaaa2222bbbb".into(),
        channel: "customer".into(),
        active: 2,
        csat: [0, 1, 0, 2, 1],
        ..GroupData::default()
    };
    a.outcomes = [
        (Outcome::Resolved, h(&[(30, 2), (50, 1)])),
        (Outcome::Escalated, h(&[(100, 1)])),
        (Outcome::Abandoned, h(&[(4000, 1)])),
    ]
    .into();
    a.cases = CaseData {
        count: 1,
        first_response: h(&[(90, 1)]),
        ..CaseData::default()
    };
    a.nodes = [
        (
            "power".to_owned(),
            NodeData {
                entered: 4,
                answers: [("yes".to_owned(), 3), ("no".to_owned(), 1)].into(),
                dwell: h(&[(5, 2), (16, 2)]),
                abandoned: 1,
                ..NodeData::default()
            },
        ),
        (
            "lights".to_owned(),
            NodeData {
                entered: 1,
                escalated: 1,
                answers: [("red".to_owned(), 1)].into(),
                dwell: h(&[(200, 1)]),
                ..NodeData::default()
            },
        ),
    ]
    .into();
    let mut b = GroupData {
        script: "wifi".into(),
        version: "3333cccc4444dddd".into(),
        channel: "agent".into(),
        ..GroupData::default()
    };
    b.outcomes = [(Outcome::Escalated, h(&[(90000, 1)]))].into();
    let vpn = GroupData {
        script: "vpn".into(),
        version: "5555eeee6666ffff".into(),
        channel: "customer".into(),
        active: 1,
        ..GroupData::default()
    };
    StatsData {
        groups: vec![a, b, vpn],
    }
}

fn built(versions: Versions) -> Report {
    let filter = StatsFilter {
        versions,
        since: Some(time::macros::date!(2026 - 01 - 01)),
        until: Some(time::macros::date!(2026 - 01 - 31)),
        ..StatsFilter::default()
    };
    let titles = BTreeMap::from([("wifi".to_owned(), "Wi-Fi keeps dropping".to_owned())]);
    report::build(&data(), &filter, &titles)
}

#[test]
fn the_table_of_every_version_together() {
    insta::assert_snapshot!(table(&built(Versions::Together), false));
}

#[test]
fn the_table_per_version_with_nodes() {
    insta::assert_snapshot!(table(&built(Versions::Each), true));
}

#[test]
fn an_empty_report_says_so() {
    let r = Report {
        since: None,
        until: Some("2026-02-01".into()),
        scripts: Vec::new(),
    };
    assert_eq!(
        table(&r, true),
        "sessions started: until 2026-02-01\nno sessions in this period\n"
    );
}

#[test]
fn durations_read_as_people_say_them() {
    let d = |s| duration(Some(s));
    assert_eq!(duration(None), "-");
    assert_eq!(d(0.0), "0s");
    assert_eq!(d(42.0), "42s");
    assert_eq!(d(1.5), "1.5s");
    assert_eq!(d(59.5), "59.5s");
    assert_eq!(d(60.0), "1m 00s");
    assert_eq!(d(100.0), "1m 40s");
    assert_eq!(d(3599.5), "1h 00m");
    assert_eq!(d(7500.0), "2h 05m");
    assert_eq!(d(273_600.0), "3d 04h");
}

#[test]
fn csv_of_scripts_and_of_nodes() {
    let r = built(Versions::Each);
    let mut scripts = Vec::new();
    scripts_csv(&r, &mut scripts).unwrap();
    insta::assert_snapshot!("scripts_csv", String::from_utf8(scripts).unwrap());
    let mut nodes = Vec::new();
    nodes_csv(&r, &mut nodes).unwrap();
    insta::assert_snapshot!("nodes_csv", String::from_utf8(nodes).unwrap());
}

/// A report of one entry titled `title` with one node `node`.
fn titled(title: &str, node: &str) -> Report {
    let mut r = built(Versions::Together);
    r.scripts.retain(|s| s.id == "wifi");
    r.scripts[0].title = title.into();
    r.scripts[0].nodes.truncate(1);
    r.scripts[0].nodes[0].node = node.into();
    r
}

#[test]
fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
    let title = "Printer says \"offline\", then\nnothing";
    let r = titled(title, "step,1");
    let mut out = Vec::new();
    scripts_csv(&r, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("\"Printer says \"\"offline\"\", then\nnothing\""),
        "{text}"
    );
    // Read back, the cell is the title as written.
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let row = rows.records().next().unwrap().unwrap();
    assert_eq!(&row[2], title);

    for formula in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx"] {
        let r = titled(formula, formula);
        let mut out = Vec::new();
        scripts_csv(&r, &mut out).unwrap();
        let mut rows = csv::Reader::from_reader(out.as_slice());
        let row = rows.records().next().unwrap().unwrap();
        assert_eq!(&row[2], format!("'{formula}"));
        let mut out = Vec::new();
        nodes_csv(&r, &mut out).unwrap();
        let mut rows = csv::Reader::from_reader(out.as_slice());
        let row = rows.records().next().unwrap().unwrap();
        assert_eq!(&row[2], format!("'{formula}"));
    }
}

#[test]
fn the_terminal_gets_no_control_characters() {
    let r = titled("Red \u{1b}[31malert\u{7}\nnext", "power");
    let text = table(&r, true);
    assert!(!text.contains('\u{1b}') && !text.contains('\u{7}'));
    assert!(text.contains("Red �[31malert��next"), "{text}");
}

#[test]
fn wide_titles_keep_the_columns_aligned() {
    let mut r = built(Versions::Together);
    r.scripts[0].id = "ワイファイ".into();
    let text = table(&r, false);
    let lines: Vec<&str> = text.lines().skip(1).take(3).collect();
    // Every row's STARTED column ends at the same display column.
    let ends: Vec<usize> = lines
        .iter()
        .map(|l| {
            let first = l.split_whitespace().next().unwrap();
            let from = first.len();
            let started = l[from..].split_whitespace().next().unwrap();
            let at = from + l[from..].find(started).unwrap() + started.len();
            l[..at].width()
        })
        .collect();
    assert!(ends.windows(2).all(|w| w[0] == w[1]), "{text}");
}
