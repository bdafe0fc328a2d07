//! `reopen_within` and `[sla]` through the whole configuration: the file's
//! text in, due times and messages out.

use super::super::{ConfigFile, ServerConfig, Settings};
use crate::case::{Due, DueTimes};
use std::path::Path;
use time::macros::datetime;

fn load(text: &str) -> Result<ServerConfig, super::Problem> {
    let f = ConfigFile::parse(Path::new("/etc/fixpath/fixpath.toml"), text)?;
    ServerConfig::resolve(Settings::default(), Some(&f))
}

/// The contract's example (section 10), word for word.
const EXAMPLE: &str = r#"
reopen_within = "7d"

[sla.tier2]
response = "4h"
resolution = "3d"
calendar = "Mon-Fri 08:00-17:00"      # optional; without it, wall-clock time
timezone = "Europe/Tallinn"           # the calendar's zone (IANA name)

[sla.tier2.queues.printing]           # overrides for one queue at that tier
response = "1h"
"#;

#[test]
fn the_contracts_example() {
    let sla = load(EXAMPLE).unwrap().sla;
    // Friday 16:30 in Tallinn: half an hour left that day.
    let friday = datetime!(2025-01-10 16:30 +2);
    assert_eq!(
        sla.due(2, None, friday),
        Due {
            response: Some(datetime!(2025-01-13 11:30 +2)),
            resolution: Some(datetime!(2025-01-15 16:30 +2)),
        }
    );
    // The queue's own response; its resolution inherited with the calendar.
    assert_eq!(
        sla.due(2, Some("printing"), friday),
        Due {
            response: Some(datetime!(2025-01-13 08:30 +2)),
            resolution: Some(datetime!(2025-01-15 16:30 +2)),
        }
    );
    assert_eq!(
        sla.due(2, Some("network"), friday),
        sla.due(2, None, friday)
    );
    // Tiers without an entry: nothing is due.
    for tier in [1, 3, 4] {
        assert_eq!(sla.due(tier, None, friday), Due::default(), "tier {tier}");
    }
    assert_eq!(sla.reopen_within(), time::Duration::days(7));
}

#[test]
fn without_sla_nothing_is_due_and_reopening_takes_seven_days() {
    let friday = datetime!(2025-01-10 16:30 UTC);
    for sla in [
        ServerConfig::resolve(Settings::default(), None)
            .unwrap()
            .sla,
        load("listen = \"127.0.0.1:0\"").unwrap().sla,
    ] {
        assert!(sla.is_empty());
        assert_eq!(sla.reopen_within(), time::Duration::days(7));
        for tier in 1..=4 {
            assert_eq!(sla.due(tier, Some("printing"), friday), Due::default());
        }
    }
    let sla = load("reopen_within = \"36h\"").unwrap().sla;
    assert_eq!(sla.reopen_within(), time::Duration::hours(36));
}

#[test]
fn a_queue_inherits_what_it_does_not_set() {
    let sla = load(
        r#"
        [sla.tier1]
        response = "30m"

        [sla.tier3]
        response = "2h"
        resolution = "1d"
        calendar = "Mon-Fri 08:00-17:00"
        timezone = "Europe/Tallinn"

        [sla.tier3.queues.night]          # the tier's targets, every hour
        calendar = "24/7"

        [sla.tier3.queues.berlin]         # the tier's hours, in Berlin
        timezone = "Europe/Berlin"

        [sla.tier3.queues.quick]          # its own response, nothing else
        response = "15m"
        "#,
    )
    .unwrap()
    .sla;
    let friday = datetime!(2025-01-10 16:30 +2);
    // Tier 1 on the wall clock in UTC; no resolution target.
    assert_eq!(
        sla.due(1, None, friday),
        Due {
            response: Some(datetime!(2025-01-10 17:00 +2)),
            resolution: None,
        }
    );
    assert_eq!(
        sla.due(3, None, friday),
        Due {
            response: Some(datetime!(2025-01-13 09:30 +2)),
            resolution: Some(datetime!(2025-01-13 16:30 +2)),
        }
    );
    assert_eq!(
        sla.due(3, Some("night"), friday),
        Due {
            response: Some(datetime!(2025-01-10 18:30 +2)),
            resolution: Some(datetime!(2025-01-11 16:30 +2)),
        }
    );
    // 16:30 in Tallinn is 15:30 in Berlin: an hour and a half left there,
    // half an hour on Monday.
    assert_eq!(
        sla.due(3, Some("berlin"), friday).response,
        Some(datetime!(2025-01-13 08:30 +1))
    );
    assert_eq!(
        sla.due(3, Some("quick"), friday),
        Due {
            response: Some(datetime!(2025-01-10 16:45 +2)),
            resolution: Some(datetime!(2025-01-13 16:30 +2)),
        }
    );
}

#[test]
fn every_error_names_its_key_and_the_fix() {
    let tier2 = "[sla.tier2]\nresponse = \"4h\"\ncalendar = \"Mon-Fri 08:00-17:00\"\ntimezone = \"Europe/Tallinn\"\n";
    let cases = [
        "reopen_within = \"a week\"".to_owned(),
        "[sla.tier5]\nresponse = \"4h\"".to_owned(),
        "[sla.tier0]\nresponse = \"4h\"".to_owned(),
        "[sla.tier02]\nresponse = \"4h\"".to_owned(),
        "[sla.level2]\nresponse = \"4h\"".to_owned(),
        "[sla]\nreopen_within = \"7d\"".to_owned(),
        "[sla]\ntimezone = \"UTC\"".to_owned(),
        "[sla]\ntier2 = \"4h\"".to_owned(),
        "[sla.tier2]\nrespose = \"4h\"".to_owned(),
        "[sla.tier2]\nowner = \"sam\"".to_owned(),
        "[sla.tier2]\nresponse = 4".to_owned(),
        "[sla.tier2]\nresponse = \"4 hours\"".to_owned(),
        "[sla.tier2]\nresolution = \"2w\"".to_owned(),
        "[sla.tier2]\nresponse = \"4h\"\ncalendar = \"Mon-Fri 08:00-17:00\"".to_owned(),
        "[sla.tier2]\ncalendar = \"Mon-Fri 9-5\"\ntimezone = \"UTC\"".to_owned(),
        "[sla.tier2]\ntimezone = \"Europe/Talinn\"".to_owned(),
        "[sla.tier2]\nresponse = \"300h\"\ncalendar = \"Sun 10:00-10:01\"\ntimezone = \"UTC\"".to_owned(),
        "[sla.tier2]\nqueues = \"printing\"".to_owned(),
        "[sla.tier2.queues]\nprinting = \"1h\"".to_owned(),
        format!("{tier2}[sla.tier2.queues.printing]\nrespnse = \"1h\""),
        format!("{tier2}[sla.tier2.queues.printing.queues.x]\nresponse = \"1h\""),
        format!("{tier2}[sla.tier2.queues.printing]\nresponse = \"0m\""),
        format!("{tier2}[sla.tier2.queues.printing]\ncalendar = \"Mon-Fri 25:00-26:00\""),
        "[sla.tier2]\nresponse = \"4h\"\n[sla.tier2.queues.printing]\ncalendar = \"Mon-Fri 08:00-17:00\"".to_owned(),
        "[sla.tier2]\ncalendar = \"Sun 10:00-10:01\"\ntimezone = \"UTC\"\n[sla.tier2.queues.printing]\nresolution = \"300h\"".to_owned(),
    ];
    let mut out = String::new();
    for text in &cases {
        let e = load(text).unwrap_err();
        out.push_str(&format!("{}\n=> {e}\n\n", text.trim()));
    }
    insta::assert_snapshot!(out);
}

#[test]
fn retain_keeps_personal_data_at_least_as_long_as_a_case_can_reopen() {
    assert_eq!(
        load("").unwrap().retain,
        None,
        "kept until erased by default"
    );
    assert_eq!(
        load("retain = \"180d\"").unwrap().retain,
        Some(time::Duration::days(180))
    );
    // As long as `reopen_within` at least.
    assert_eq!(
        load("retain = \"2d\"\nreopen_within = \"2d\"")
            .unwrap()
            .retain,
        Some(time::Duration::days(2))
    );
    let mut out = String::new();
    for text in [
        "retain = \"6d\"",
        "retain = \"12h\"\nreopen_within = \"1h\"",
        "retain = \"half a year\"",
        "retain = 180",
    ] {
        let e = load(text).unwrap_err();
        out.push_str(&format!("{}\n=> {e}\n\n", text.trim()));
    }
    insta::assert_snapshot!(out);
}
