//! Durations, calendars and due times at fixed instants. Tallinn is EET
//! (+02:00) in winter and EEST (+03:00) in summer; in 2025 the clocks went
//! forward on Sunday 30 March (03:00 → 04:00) and back on Sunday 26 October
//! (04:00 → 03:00).

use super::*;
use time::macros::datetime;

fn d(s: &str) -> Duration {
    Duration::parse(s).unwrap()
}

fn tallinn(calendar: &str) -> Clock {
    Clock::new(Some(calendar), Some("Europe/Tallinn")).unwrap()
}

#[test]
fn durations() {
    assert_eq!(
        d("30m"),
        Duration {
            days: 0,
            minutes: 30
        }
    );
    assert_eq!(
        d("4h"),
        Duration {
            days: 0,
            minutes: 240
        }
    );
    assert_eq!(
        d("3d"),
        Duration {
            days: 3,
            minutes: 0
        }
    );
    assert_eq!(
        d("1h30m"),
        Duration {
            days: 0,
            minutes: 90
        }
    );
    assert_eq!(
        d(" 1d 4h "),
        Duration {
            days: 1,
            minutes: 240
        }
    );
    assert_eq!(d("4H"), d("4h"));
    assert_eq!(
        d("365d"),
        Duration {
            days: 365,
            minutes: 0
        }
    );
    assert_eq!(d("1d4h30m").to_string(), "1d4h30m");
    assert_eq!(d("90m").to_string(), "1h30m");
    assert_eq!(d("7d").elapsed(), time::Duration::days(7));
}

#[test]
fn the_contracts_example_friday_afternoon_is_due_monday_late_morning() {
    // Friday 10 January 2025, no DST change near.
    let c = tallinn("Mon-Fri 08:00-17:00");
    assert_eq!(
        c.add(datetime!(2025-01-10 16:30 +2), d("4h")),
        Some(datetime!(2025-01-13 11:30 +2))
    );
}

#[test]
fn across_a_dst_change_in_tallinn() {
    let c = tallinn("Mon-Fri 08:00-17:00");
    // Spring: Monday's 11:30 is summer time (08:30 UTC), not 09:30 UTC.
    let due = c.add(datetime!(2025-03-28 16:30 +2), d("4h")).unwrap();
    assert_eq!(due, datetime!(2025-03-31 11:30 +3));
    assert_ne!(due, datetime!(2025-03-31 11:30 +2));
    // Autumn, the other way.
    assert_eq!(
        c.add(datetime!(2025-10-24 16:30 +3), d("4h")),
        Some(datetime!(2025-10-27 11:30 +2))
    );
    // A working day later is the same time of day, whatever the offset.
    assert_eq!(
        c.add(datetime!(2025-03-28 10:00 +2), d("1d")),
        Some(datetime!(2025-03-31 10:00 +3))
    );

    // Open hours across the change count real hours: the night of 30 March
    // has five, the night of 26 October seven.
    let night = tallinn("Sun 00:00-06:00");
    assert_eq!(
        night.add(datetime!(2025-03-30 00:00 +2), d("5h")),
        Some(datetime!(2025-03-30 06:00 +3))
    );
    assert_eq!(
        night.add(datetime!(2025-03-30 00:00 +2), d("6h")),
        Some(datetime!(2025-04-06 01:00 +3))
    );
    assert_eq!(
        night.add(datetime!(2025-10-26 00:00 +3), d("6h")),
        Some(datetime!(2025-10-26 05:00 +2))
    );

    // A day on the wall clock (or `24/7`) is a calendar day: 23 hours here.
    for c in [
        Clock::new(None, Some("Europe/Tallinn")).unwrap(),
        tallinn("24/7"),
    ] {
        assert_eq!(
            c.add(datetime!(2025-03-29 12:00 +2), d("1d")),
            Some(datetime!(2025-03-30 12:00 +3)),
            "{c:?}"
        );
        assert_eq!(
            c.add(datetime!(2025-03-29 12:00 +2), d("24h")),
            Some(datetime!(2025-03-30 13:00 +3)),
            "{c:?}"
        );
    }
}

#[test]
fn a_start_outside_the_hours_counts_from_the_next_opening() {
    let c = tallinn("Mon-Fri 08:00-17:00");
    let cases = [
        // Saturday morning: Monday's opening plus four hours.
        (
            datetime!(2025-01-11 10:00 +2),
            "4h",
            datetime!(2025-01-13 12:00 +2),
        ),
        // Before the opening, after the close, at the close.
        (
            datetime!(2025-01-13 06:00 +2),
            "1h",
            datetime!(2025-01-13 09:00 +2),
        ),
        (
            datetime!(2025-01-13 19:00 +2),
            "30m",
            datetime!(2025-01-14 08:30 +2),
        ),
        (
            datetime!(2025-01-13 17:00 +2),
            "1h",
            datetime!(2025-01-14 09:00 +2),
        ),
        // A due time that lands on the close stays there.
        (
            datetime!(2025-01-13 08:00 +2),
            "9h",
            datetime!(2025-01-13 17:00 +2),
        ),
        (
            datetime!(2025-01-10 16:00 +2),
            "1h",
            datetime!(2025-01-10 17:00 +2),
        ),
    ];
    for (start, dur, due) in cases {
        assert_eq!(c.add(start, d(dur)), Some(due), "{start} + {dur}");
    }
}

#[test]
fn days_in_a_calendar_are_working_days() {
    let c = tallinn("Mon-Fri 08:00-17:00");
    let cases = [
        // Tuesday to Friday, Friday to Monday: the same time of day.
        (
            datetime!(2025-01-14 10:00 +2),
            "3d",
            datetime!(2025-01-17 10:00 +2),
        ),
        (
            datetime!(2025-01-10 16:30 +2),
            "1d",
            datetime!(2025-01-13 16:30 +2),
        ),
        (
            datetime!(2025-01-10 16:30:45 +2),
            "1d",
            datetime!(2025-01-13 16:30:45 +2),
        ),
        // From an opening (or before it): the close of the n-th working day.
        (
            datetime!(2025-01-11 10:00 +2),
            "1d",
            datetime!(2025-01-13 17:00 +2),
        ),
        (
            datetime!(2025-01-13 08:00 +2),
            "2d",
            datetime!(2025-01-14 17:00 +2),
        ),
        (
            datetime!(2025-01-13 17:00 +2),
            "1d",
            datetime!(2025-01-14 17:00 +2),
        ),
        // Days, then open hours.
        (
            datetime!(2025-01-13 10:00 +2),
            "1d4h",
            datetime!(2025-01-14 14:00 +2),
        ),
        (
            datetime!(2025-01-13 14:00 +2),
            "1d4h",
            datetime!(2025-01-15 09:00 +2),
        ),
    ];
    for (start, dur, due) in cases {
        assert_eq!(c.add(start, d(dur)), Some(due), "{start} + {dur}");
    }
}

#[test]
fn calendars_with_several_parts() {
    let short_friday = tallinn("Mon-Thu 08:00-17:00, Fri 08:00-14:00");
    // One hour left on Friday, one on Monday.
    assert_eq!(
        short_friday.add(datetime!(2025-01-10 13:00 +2), d("2h")),
        Some(datetime!(2025-01-13 09:00 +2))
    );
    // Thursday 16:00 plus a working day: Friday closes first.
    assert_eq!(
        short_friday.add(datetime!(2025-01-09 16:00 +2), d("1d")),
        Some(datetime!(2025-01-10 14:00 +2))
    );

    let lunch = tallinn("Mon-Fri 08:00-12:00 13:00-17:00");
    assert_eq!(
        lunch.add(datetime!(2025-01-13 11:00 +2), d("2h")),
        Some(datetime!(2025-01-13 14:00 +2))
    );
    // From the break: four hours into the day, so a day later is four hours
    // into Tuesday, which is the morning's close (the same open moment as
    // the afternoon's opening, and the earlier of the two).
    assert_eq!(
        lunch.add(datetime!(2025-01-13 12:30 +2), d("1d")),
        Some(datetime!(2025-01-14 12:00 +2))
    );

    // `Sun-Thu` wraps round the weekend: Friday's case waits for Sunday.
    let sun_thu = tallinn("Sun-Thu 09:00-17:00");
    assert_eq!(
        sun_thu.add(datetime!(2025-01-10 10:00 +2), d("1h")),
        Some(datetime!(2025-01-12 10:00 +2))
    );
    // Days that lend their hours to the next part; loose spacing and dashes.
    let mwf = tallinn("mon, Wednesday; FRI 9:00 - 12:00");
    assert_eq!(
        mwf.add(datetime!(2025-01-13 11:00 +2), d("2h")),
        Some(datetime!(2025-01-15 10:00 +2))
    );
    assert_eq!(
        tallinn("Mon–Fri 08:00–17:00,"),
        tallinn("Mon-Fri 08:00-17:00")
    );
    // Overlapping parts are joined, not counted twice.
    assert_eq!(
        tallinn("Mon 08:00-12:00, Mon 10:00-14:00").add(datetime!(2025-01-13 08:00 +2), d("6h")),
        Some(datetime!(2025-01-13 14:00 +2))
    );
    // A night shift as two parts: counted straight through midnight.
    let nights = tallinn("Mon-Fri 22:00-24:00, Tue-Sat 00:00-06:00");
    assert_eq!(
        nights.add(datetime!(2025-01-13 23:00 +2), d("3h")),
        Some(datetime!(2025-01-14 02:00 +2))
    );
}

#[test]
fn the_wall_clock_counts_every_hour() {
    let utc = Clock::default();
    let start = datetime!(2025-01-10 16:30 UTC);
    assert_eq!(
        utc.add(start, d("4h")),
        Some(datetime!(2025-01-10 20:30 UTC))
    );
    assert_eq!(
        utc.add(start, d("3d")),
        Some(datetime!(2025-01-13 16:30 UTC))
    );
    assert_eq!(utc, Clock::new(None, None).unwrap());
}

#[test]
fn a_calendar_that_takes_years_is_refused_and_never_loops() {
    let thin = Clock::new(Some("Sun 10:00-10:01"), Some("UTC")).unwrap();
    assert!(thin.check(d("4h")).is_ok(), "four years of Sundays");
    let e = thin.check(d("300h")).unwrap_err();
    assert_eq!(
        e.message,
        "`300h` takes about 346 years of the calendar `Sun 10:00-10:01`"
    );
    // Even unchecked, the walk ends: no due time rather than a hang.
    let started = std::time::Instant::now();
    assert_eq!(thin.add(datetime!(2025-01-10 16:30 UTC), d("300h")), None);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert!(
        tallinn("Mon-Fri 08:00-17:00").check(d("365d")).is_ok(),
        "a year of working days fits"
    );
}

#[test]
fn due_times_per_tier_and_queue() {
    let business = Targets {
        response: Some(d("4h")),
        resolution: Some(d("3d")),
        clock: tallinn("Mon-Fri 08:00-17:00"),
    };
    let printing = Targets {
        response: Some(d("1h")),
        ..business.clone()
    };
    let sla = Sla::new(d("14d"))
        .with_tier(
            2,
            Tier {
                targets: business,
                queues: [("printing".to_owned(), printing)].into(),
            },
        )
        .unwrap();
    let friday = datetime!(2025-01-10 16:30 +2);
    assert_eq!(
        sla.due(2, None, friday),
        Due {
            response: Some(datetime!(2025-01-13 11:30 +2)),
            resolution: Some(datetime!(2025-01-15 16:30 +2)),
        }
    );
    assert_eq!(
        sla.due(2, Some("printing"), friday).response,
        Some(datetime!(2025-01-13 08:30 +2))
    );
    // A queue without an override has the tier's targets.
    assert_eq!(
        sla.due(2, Some("network"), friday),
        sla.due(2, None, friday)
    );
    // Tiers without an entry (and tiers that do not exist): nothing is due.
    for tier in [0, 1, 3, 4, 5] {
        assert_eq!(sla.due(tier, None, friday), Due::default(), "tier {tier}");
    }
    assert_eq!(sla.reopen_within(), time::Duration::days(14));
    assert_eq!(Sla::default().reopen_within(), time::Duration::days(7));
    assert!(Sla::default().is_empty() && !sla.is_empty());
    assert!(Sla::default().with_tier(5, Tier::default()).is_none());
}

#[test]
fn value_errors() {
    let mut out = String::new();
    let mut show = |what: &str, e: Invalid| {
        out.push_str(&format!("{what}\n  {}\n", e.message));
        if let Some(h) = e.hint {
            out.push_str(&format!("  hint: {h}\n"));
        }
    };
    for s in [
        "",
        "4",
        "h",
        "4 hours",
        "1 hour 30 minutes",
        "30m1h",
        "1h1h",
        "90s",
        "2w",
        "4ч",
        "0m",
        "366d",
        "8785h",
        "1.5h",
        "-4h",
    ] {
        show(&format!("duration {s:?}"), Duration::parse(s).unwrap_err());
    }
    for s in [
        "",
        "  ",
        "Mon-Fri",
        "Mon, Wed",
        "Mon-Fri 08:00",
        "Mon-Fri 8-17",
        "Mon-Fri 17:00-08:00",
        "Mon-Fri 08:00-08:00",
        "Mon-Fri 08:00-25:00",
        "Mon-Fri 08:60-17:00",
        "Mnday 08:00-17:00",
        "Weekdays 08:00-17:00",
        "08:00-17:00",
        ",",
    ] {
        show(&format!("calendar {s:?}"), Calendar::parse(s).unwrap_err());
    }
    for s in ["Europe/Talinn", "Tallinn", "+02:00", "Mars/Olympus_Mons"] {
        show(&format!("timezone {s:?}"), parse_zone(s).unwrap_err());
    }
    match Clock::new(Some("Mon-Fri 08:00-17:00"), None).unwrap_err() {
        ClockError::Calendar(e) => show("calendar without a timezone", e),
        other => panic!("{other:?}"),
    }
    insta::assert_snapshot!(out);
}

#[test]
fn zones_are_found_without_regard_to_case() {
    assert!(parse_zone("europe/tallinn").is_ok());
    assert!(parse_zone(" UTC ").is_ok());
}
