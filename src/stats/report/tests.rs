//! The report builder on hand-built figures; every expected number is
//! worked out in the comment beside it.

use super::*;
use crate::stats::{CaseData, GroupData, NodeData};

/// A histogram of `(seconds, sessions)`.
fn h(values: &[(i64, u64)]) -> Histogram {
    let mut h = Histogram::default();
    for &(v, n) in values {
        h.add(v, n);
    }
    h
}

fn group(script: &str, version: &str, channel: &str) -> GroupData {
    GroupData {
        script: script.into(),
        version: version.into(),
        channel: channel.into(),
        ..GroupData::default()
    }
}

fn outcomes(list: &[(Outcome, &[(i64, u64)])]) -> BTreeMap<Outcome, Histogram> {
    list.iter().map(|(o, v)| (*o, h(v))).collect()
}

fn report(groups: Vec<GroupData>, versions: Versions) -> Report {
    let filter = StatsFilter {
        versions,
        ..StatsFilter::default()
    };
    build(&StatsData { groups }, &filter, &titles())
}

fn titles() -> BTreeMap<String, String> {
    [("wifi".to_owned(), "Wi-Fi keeps dropping".to_owned())].into()
}

fn close(got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("expected {want}, got null"));
    assert!((got - want).abs() < 1e-12, "expected {want}, got {got}");
}

/// The customer and the agent channel of one script and version.
fn two_channels() -> Vec<GroupData> {
    let mut customer = group("wifi", "1111aaaa", "customer");
    // Resolved after 30, 30 and 50 s; escalated after 100; abandoned 600.
    customer.outcomes = outcomes(&[
        (Outcome::Resolved, &[(30, 2), (50, 1)]),
        (Outcome::Escalated, &[(100, 1)]),
        (Outcome::Abandoned, &[(600, 1)]),
    ]);
    customer.active = 2;
    let mut agent = group("wifi", "1111aaaa", "agent");
    // Resolved after 40 s; escalated after 200, 200 and 300.
    agent.outcomes = outcomes(&[
        (Outcome::Resolved, &[(40, 1)]),
        (Outcome::Escalated, &[(200, 2), (300, 1)]),
    ]);
    vec![customer, agent]
}

#[test]
fn two_channels_merge_and_deflection_counts_customers_only() {
    let r = report(two_channels(), Versions::Together);
    assert_eq!(r.scripts.len(), 1);
    let s = &r.scripts[0];
    assert_eq!(s.id, "wifi");
    assert_eq!(s.version, None);
    assert_eq!(s.title, "Wi-Fi keeps dropping");
    // resolved 3 + 1, escalated 1 + 3, abandoned 1: ended 9; active 2.
    assert_eq!(
        s.sessions,
        SessionCounts {
            started: 11,
            resolved: 4,
            escalated: 4,
            abandoned: 1,
            active: 2,
        }
    );
    // Customers: 3 resolved of 3 + 1 + 1 ended.
    close(s.rates.deflection, 3.0 / 5.0);
    close(s.rates.escalation, 4.0 / 9.0);
    close(s.rates.abandonment, 1.0 / 9.0);
    // 4 resolved of 4 + 4.
    close(s.rates.fcr, 0.5);
    // 30 30 40 50 [100] 200 200 300 600: the 5th of 9; p90 is rank
    // ceil(8.1) = 9.
    assert_eq!(s.time_to_outcome_s.median, Some(100.0));
    assert_eq!(s.time_to_outcome_s.p90, Some(600.0));
}

#[test]
fn deflection_is_null_without_customer_sessions() {
    let mut agent = group("wifi", "1111aaaa", "agent");
    agent.outcomes = outcomes(&[(Outcome::Resolved, &[(10, 5)])]);
    let s = &report(vec![agent], Versions::Together).scripts[0];
    assert_eq!(s.rates.deflection, None);
    close(s.rates.fcr, 1.0);
    close(s.rates.escalation, 0.0);
}

#[test]
fn zero_divisors_are_null() {
    // Three sessions, none ended: no rate has a divisor.
    let mut g = group("wifi", "1111aaaa", "customer");
    g.active = 3;
    let s = &report(vec![g], Versions::Together).scripts[0];
    assert_eq!(s.sessions.started, 3);
    assert_eq!(s.rates, Rates::default());
    assert_eq!(s.time_to_outcome_s, Spread::default());
    assert_eq!(s.cases, CaseStats::default());
    assert_eq!(
        s.csat,
        Csat {
            count: 0,
            average: None,
            distribution: [0; 5],
        }
    );
    // Only abandoned ones: fcr's divisor (resolved + escalated) is 0.
    let mut g = group("wifi", "1111aaaa", "customer");
    g.outcomes = outcomes(&[(Outcome::Abandoned, &[(900, 2)])]);
    let s = &report(vec![g], Versions::Together).scripts[0];
    assert_eq!(s.rates.fcr, None);
    close(s.rates.abandonment, 1.0);
    close(s.rates.deflection, 0.0);
}

/// Two versions of one script, both on the customer channel.
fn two_versions() -> Vec<GroupData> {
    let mut old = group("wifi", "1111aaaa", "customer");
    // Resolved after 10 and 20 s, escalated after 60.
    old.outcomes = outcomes(&[
        (Outcome::Resolved, &[(10, 1), (20, 1)]),
        (Outcome::Escalated, &[(60, 1)]),
    ]);
    let mut new = group("wifi", "2222bbbb", "customer");
    // Resolved after 30 s, abandoned after 90; one still active.
    new.outcomes = outcomes(&[
        (Outcome::Resolved, &[(30, 1)]),
        (Outcome::Abandoned, &[(90, 1)]),
    ]);
    new.active = 1;
    vec![new, old]
}

#[test]
fn versions_together_each_and_only() {
    let together = report(two_versions(), Versions::Together);
    assert_eq!(together.scripts.len(), 1);
    let s = &together.scripts[0];
    assert_eq!(s.version, None);
    assert_eq!(s.sessions.started, 6);
    // 10 20 [30] 60 90; p90 rank ceil(4.5) = 5.
    assert_eq!(s.time_to_outcome_s.median, Some(30.0));
    assert_eq!(s.time_to_outcome_s.p90, Some(90.0));

    let each = report(two_versions(), Versions::Each);
    let versions: Vec<Option<&str>> = each.scripts.iter().map(|s| s.version.as_deref()).collect();
    // Sorted by version whatever order the store gave.
    assert_eq!(versions, [Some("1111aaaa"), Some("2222bbbb")]);
    let (old, new) = (&each.scripts[0], &each.scripts[1]);
    // 10 [20] 60.
    assert_eq!(old.time_to_outcome_s.median, Some(20.0));
    close(old.rates.fcr, 2.0 / 3.0);
    // 30 and 90: an even count, the mean of the two middle ones; p90 is
    // rank ceil(1.8) = 2.
    assert_eq!(new.time_to_outcome_s.median, Some(60.0));
    assert_eq!(new.time_to_outcome_s.p90, Some(90.0));
    assert_eq!(new.sessions.started, 3);
    close(new.rates.fcr, 1.0);
    close(new.rates.abandonment, 0.5);
    close(new.rates.deflection, 0.5);
    assert!(
        each.scripts
            .iter()
            .all(|s| s.title == "Wi-Fi keeps dropping")
    );

    // A prefix names the version in full.
    let only = report(two_versions(), Versions::Only("2222".into()));
    assert_eq!(only.scripts.len(), 1);
    assert_eq!(only.scripts[0].version.as_deref(), Some("2222bbbb"));
    assert_eq!(only.scripts[0], *new);
    let exact = report(two_versions(), Versions::Only("1111aaaa".into()));
    assert_eq!(exact.scripts, std::slice::from_ref(old));
    assert!(
        report(two_versions(), Versions::Only("3333".into()))
            .scripts
            .is_empty()
    );
}

#[test]
fn a_prefix_of_two_versions_shows_both_by_name() {
    let mut groups = two_versions();
    groups[0].version = "1111cccc".into();
    let r = report(groups, Versions::Only("1111".into()));
    let versions: Vec<Option<&str>> = r.scripts.iter().map(|s| s.version.as_deref()).collect();
    assert_eq!(versions, [Some("1111aaaa"), Some("1111cccc")]);
}

#[test]
fn scripts_are_sorted_by_id_and_untitled_ones_show_their_id() {
    let groups = vec![
        group("zeta", "9", "customer"),
        group("wifi", "2", "agent"),
        group("alpha", "1", "customer"),
        group("wifi", "1", "customer"),
    ];
    let r = report(groups, Versions::Each);
    let keys: Vec<(&str, Option<&str>, &str)> = r
        .scripts
        .iter()
        .map(|s| (s.id.as_str(), s.version.as_deref(), s.title.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("alpha", Some("1"), "alpha"),
            ("wifi", Some("1"), "Wi-Fi keeps dropping"),
            ("wifi", Some("2"), "Wi-Fi keeps dropping"),
            ("zeta", Some("9"), "zeta"),
        ]
    );
}

/// Cases, ratings and nodes of two groups (the two channels).
fn with_cases_and_nodes() -> Vec<GroupData> {
    let mut a = group("wifi", "1111aaaa", "customer");
    a.cases = CaseData {
        count: 2,
        resolved: 2,
        reopened: 1,
        first_response: h(&[(60, 1), (120, 1)]),
        resolution: h(&[(3600, 1), (7200, 1)]),
        breached_response: 1,
        breached_resolution: 0,
    };
    a.csat = [0, 1, 0, 2, 1];
    a.nodes = [
        (
            "power".to_owned(),
            NodeData {
                entered: 3,
                answers: [("yes".to_owned(), 2), ("no".to_owned(), 1)].into(),
                dwell: h(&[(5, 2), (15, 1)]),
                ..NodeData::default()
            },
        ),
        (
            "lights".to_owned(),
            NodeData {
                entered: 1,
                escalated: 1,
                ..NodeData::default()
            },
        ),
    ]
    .into();
    let mut b = group("wifi", "1111aaaa", "agent");
    b.cases = CaseData {
        count: 1,
        first_response: h(&[(300, 1)]),
        breached_resolution: 1,
        ..CaseData::default()
    };
    b.csat = [1, 0, 0, 0, 1];
    b.nodes = [
        (
            "power".to_owned(),
            NodeData {
                entered: 1,
                abandoned: 1,
                answers: [("yes".to_owned(), 1)].into(),
                dwell: h(&[(25, 1)]),
                ..NodeData::default()
            },
        ),
        (
            "power-cycle/unplug".to_owned(),
            NodeData {
                entered: 1,
                ..NodeData::default()
            },
        ),
    ]
    .into();
    vec![a, b]
}

#[test]
fn cases_ratings_and_nodes_merge() {
    let s = &report(with_cases_and_nodes(), Versions::Together).scripts[0];
    assert_eq!(
        s.cases,
        CaseStats {
            count: 3,
            resolved: 2,
            reopened: 1,
            // 60 [120] 300.
            median_first_response_s: Some(120.0),
            // 3600 and 7200: the mean of the two.
            median_resolution_s: Some(5400.0),
            breached_response: 1,
            breached_resolution: 1,
        }
    );
    // [1, 1, 0, 2, 2]: 1·1 + 2·1 + 4·2 + 5·2 = 21 points over 6 ratings.
    assert_eq!(s.csat.distribution, [1, 1, 0, 2, 2]);
    assert_eq!(s.csat.count, 6);
    close(s.csat.average, 3.5);

    let nodes: Vec<&str> = s.nodes.iter().map(|n| n.node.as_str()).collect();
    assert_eq!(nodes, ["lights", "power", "power-cycle/unplug"]);
    let power = &s.nodes[1];
    assert_eq!(power.entered, 4);
    assert_eq!(power.abandoned, 1);
    assert_eq!(power.escalated, 0);
    assert_eq!(
        power.answers,
        BTreeMap::from([("no".to_owned(), 1), ("yes".to_owned(), 3)])
    );
    // 5 5 15 25: (5 + 15) / 2.
    assert_eq!(power.median_dwell_s, Some(10.0));
    assert_eq!(s.nodes[0].median_dwell_s, None);
    assert_eq!(s.nodes[0].escalated, 1);
}

#[test]
fn the_report_as_json() {
    let mut groups = two_channels();
    groups.extend(with_cases_and_nodes());
    let filter = StatsFilter {
        since: Some(time::macros::date!(2026 - 01 - 05)),
        ..StatsFilter::default()
    };
    let r = build(&StatsData { groups }, &filter, &titles());
    insta::assert_json_snapshot!(r);
}

#[test]
fn an_empty_store_reports_no_scripts() {
    let r = report(Vec::new(), Versions::Each);
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        serde_json::json!({"since": null, "until": null, "scripts": []})
    );
}
