//! Service levels (contract section 10): how long a case at a tier (and
//! queue) may wait for its first reply and its resolution, counted on a
//! clock: the wall clock, or business hours ([`calendar`](super::calendar)).
//!
//! Durations are `30m`, `4h`, `3d` or combinations largest unit first
//! (`1h30m`, `1d4h`), from one minute to 365 days. On the wall clock a day is
//! a calendar day in the zone (the same local time the next day, 23 or 25
//! hours across a DST change) and hours are real hours; without a zone, UTC.
//! In a calendar a day is a working day and hours are open hours.
//!
//! Pure: the caller passes the start time; `time` at the edges, `jiff` inside
//! (its bundled IANA database, so every machine computes the same due time).

use super::calendar::{Calendar, Hours};
use super::{Due, DueTimes};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use std::collections::BTreeMap;
use std::fmt;
use time::OffsetDateTime;

/// The longest duration accepted: a year.
pub const MAX_DAYS: u32 = 365;
/// How long after its resolution a customer's message reopens a case, when
/// the configuration does not say (contract section 10).
pub const DEFAULT_REOPEN_WITHIN: Duration = Duration {
    days: 7,
    minutes: 0,
};

/// A value that cannot be used: what is wrong, and how to write it instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub message: String,
    pub hint: Option<String>,
}

impl Invalid {
    pub fn new(message: impl Into<String>) -> Invalid {
        Invalid {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Invalid {
        self.hint = Some(hint.into());
        self
    }
}

/// A service-level duration: days (calendar days, or working days in a
/// calendar) and minutes (hours are 60 of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration {
    pub days: u32,
    pub minutes: u32,
}

impl Duration {
    pub fn parse(text: &str) -> Result<Duration, Invalid> {
        let s = text.trim();
        let how = "write a number and a unit: 30m, 4h, 3d, or together largest first, e.g. 1h30m \
                   (m minutes, h hours, d days)";
        let not = || Invalid::new(format!("`{s}` is not a duration"));
        if s.is_empty() {
            return Err(Invalid::new("the duration is empty").hint(how));
        }
        // Number and word pairs, so `4 hours` can be answered with `4h`.
        let mut parts: Vec<(u64, String)> = Vec::new();
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(not().hint(how));
            }
            let number = &rest[..digits];
            let n: u64 = number.parse().map_err(|_| not().hint(how))?;
            rest = rest[digits..].trim_start();
            if rest.is_empty() {
                return Err(Invalid::new(format!("`{s}` has no unit"))
                    .hint(format!("write {number}m, {number}h or {number}d")));
            }
            if rest.starts_with(['.', ',']) {
                return Err(not().hint("write whole numbers, e.g. 1h30m for an hour and a half"));
            }
            let word = rest
                .find(|c: char| !c.is_alphabetic())
                .unwrap_or(rest.len());
            if word == 0 {
                return Err(not().hint(how));
            }
            parts.push((n, rest[..word].to_lowercase()));
            rest = rest[word..].trim_start();
        }
        let mut canonical = String::new();
        let mut wrote_it_otherwise = false;
        let (mut days, mut minutes) = (0u64, 0u64);
        let mut last_rank = 0;
        for (n, word) in &parts {
            let (unit, rank) = match word.as_str() {
                "d" | "day" | "days" => ('d', 3),
                "h" | "hr" | "hrs" | "hour" | "hours" => ('h', 2),
                "m" | "min" | "mins" | "minute" | "minutes" => ('m', 1),
                "s" | "sec" | "secs" | "second" | "seconds" => {
                    return Err(not().hint("a service level counts in minutes: write e.g. 30m"));
                }
                "w" | "wk" | "wks" | "week" | "weeks" => {
                    return Err(not().hint(format!("write weeks as days: {}d", n * 7)));
                }
                _ => {
                    return Err(Invalid::new(format!("`{word}` in `{s}` is not a unit")).hint(how));
                }
            };
            if rank >= last_rank && last_rank != 0 {
                return Err(not().hint(format!(
                    "write each unit once, largest first: {}",
                    Self::spelled(&parts)
                )));
            }
            last_rank = rank;
            wrote_it_otherwise |= word.len() > 1;
            canonical.push_str(&format!("{n}{unit}"));
            match unit {
                'd' => days = *n,
                'h' => minutes = minutes.saturating_add(n.saturating_mul(60)),
                _ => minutes = minutes.saturating_add(*n),
            }
        }
        if wrote_it_otherwise {
            return Err(not().hint(format!("write `{canonical}`")));
        }
        if days == 0 && minutes == 0 {
            return Err(Invalid::new(format!("`{s}` is no time at all"))
                .hint("give at least a minute, e.g. 30m"));
        }
        if days.saturating_mul(24 * 60).saturating_add(minutes) > u64::from(MAX_DAYS) * 24 * 60 {
            return Err(Invalid::new(format!("`{s}` is more than a year"))
                .hint(format!("give at most {MAX_DAYS}d")));
        }
        Ok(Duration {
            days: days as u32,
            minutes: minutes as u32,
        })
    }

    /// The parts of a duration written in the wrong order, sorted.
    fn spelled(parts: &[(u64, String)]) -> String {
        let mut sum = [0u64; 3];
        for (n, word) in parts {
            let i = match word.chars().next() {
                Some('d') => 0,
                Some('h') => 1,
                _ => 2,
            };
            sum[i] = sum[i].saturating_add(*n);
        }
        let out: String = sum
            .iter()
            .zip(['d', 'h', 'm'])
            .filter(|(n, _)| **n > 0)
            .map(|(n, u)| format!("{n}{u}"))
            .collect();
        if out.is_empty() { "30m".into() } else { out }
    }

    /// The duration as elapsed time (a day 24 hours): for `reopen_within`,
    /// which counts on no calendar.
    pub fn elapsed(self) -> time::Duration {
        time::Duration::minutes(i64::from(self.days) * 24 * 60 + i64::from(self.minutes))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.days > 0 {
            write!(f, "{}d", self.days)?;
        }
        let (h, m) = (self.minutes / 60, self.minutes % 60);
        if h > 0 {
            write!(f, "{h}h")?;
        }
        if m > 0 {
            write!(f, "{m}m")?;
        }
        Ok(())
    }
}

/// An IANA zone name (`Europe/Tallinn`, `UTC`), from the bundled database.
pub fn parse_zone(name: &str) -> Result<TimeZone, Invalid> {
    let name = name.trim();
    if let Ok(zone) = jiff::tz::db().get(name) {
        return Ok(zone);
    }
    let db = jiff::tz::db();
    let near = db
        .available()
        .map(|n| {
            (
                strsim::jaro_winkler(&name.to_lowercase(), &n.as_str().to_lowercase()),
                n,
            )
        })
        .filter(|(score, _)| *score > 0.9)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    // `Tallinn` for `Europe/Tallinn`.
    let near = near.map(|(_, n)| n).or_else(|| {
        db.available().find(|n| {
            n.as_str()
                .rsplit('/')
                .next()
                .is_some_and(|city| city.eq_ignore_ascii_case(&name.replace(' ', "_")))
        })
    });
    let problem = Invalid::new(format!("`{name}` is not a time zone"));
    Err(match near {
        Some(n) => problem.hint(format!(
            "did you mean `{}`? zones are IANA names such as Europe/Tallinn or UTC",
            n.as_str()
        )),
        None => problem.hint(
            "give an IANA name such as Europe/Tallinn, Europe/Berlin or UTC \
             (not an offset such as +02:00: offsets change with DST)",
        ),
    })
}

/// What a service level counts on.
#[derive(Debug, Clone, PartialEq)]
pub enum Clock {
    /// Every hour counts; days are calendar days in the zone.
    Wall(TimeZone),
    /// Only the calendar's open hours count; days are working days.
    Hours(Hours),
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::Wall(TimeZone::UTC)
    }
}

impl Clock {
    /// A calendar needs its zone: none is an error, not a silent UTC, as
    /// hours written for Tallinn would be off by two or three hours.
    pub fn new(calendar: Option<&str>, zone: Option<&str>) -> Result<Clock, ClockError> {
        let zone = zone.map(parse_zone).transpose().map_err(ClockError::Zone)?;
        let Some(text) = calendar else {
            return Ok(Clock::Wall(zone.unwrap_or(TimeZone::UTC)));
        };
        let calendar = Calendar::parse(text).map_err(ClockError::Calendar)?;
        let Some(zone) = zone else {
            return Err(ClockError::Calendar(
                Invalid::new(format!(
                    "the calendar `{}` has no timezone",
                    calendar.as_str()
                ))
                .hint(
                    "add timezone = \"Europe/Tallinn\" (your zone's IANA name) beside it, \
                     or timezone = \"UTC\"",
                ),
            ));
        };
        Ok(Clock::Hours(Hours { calendar, zone }))
    }

    /// Whether `d` can be counted on this clock (see [`Hours::check`]).
    pub fn check(&self, d: Duration) -> Result<(), Invalid> {
        match self {
            Clock::Wall(_) => Ok(()),
            Clock::Hours(h) => h.check(d),
        }
    }

    /// `start` plus `d` on this clock; `None` past the year 9999.
    pub fn add(&self, start: OffsetDateTime, d: Duration) -> Option<OffsetDateTime> {
        let start = Timestamp::from_nanosecond(start.unix_timestamp_nanos()).ok()?;
        let due = match self {
            Clock::Wall(zone) => {
                let span = Span::new()
                    .try_days(i64::from(d.days))
                    .ok()?
                    .try_minutes(i64::from(d.minutes))
                    .ok()?;
                start
                    .to_zoned(zone.clone())
                    .checked_add(span)
                    .ok()?
                    .timestamp()
            }
            Clock::Hours(h) => h.add(start, d)?,
        };
        OffsetDateTime::from_unix_timestamp_nanos(due.as_nanosecond()).ok()
    }
}

/// Which half of a clock was wrong, so the configuration can name its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClockError {
    Calendar(Invalid),
    Zone(Invalid),
}

/// The targets of one tier, or of one queue at a tier.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Targets {
    pub response: Option<Duration>,
    pub resolution: Option<Duration>,
    pub clock: Clock,
}

impl Targets {
    pub fn due(&self, from: OffsetDateTime) -> Due {
        Due {
            response: self.response.and_then(|d| self.clock.add(from, d)),
            resolution: self.resolution.and_then(|d| self.clock.add(from, d)),
        }
    }
}

/// One tier's targets and its queues' overrides (each already merged with
/// what it inherits from the tier).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tier {
    pub targets: Targets,
    pub queues: BTreeMap<String, Targets>,
}

/// The `[sla]` configuration: targets per tier (1 to 4) and the time after a
/// resolution in which a customer's message reopens a case.
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    tiers: [Option<Tier>; 4],
    reopen_within: Duration,
}

impl Default for Sla {
    fn default() -> Sla {
        Sla::new(DEFAULT_REOPEN_WITHIN)
    }
}

impl Sla {
    /// No targets yet.
    pub fn new(reopen_within: Duration) -> Sla {
        Sla {
            tiers: Default::default(),
            reopen_within,
        }
    }

    /// Sets the targets of `tier`; `None` for a tier outside 1 to 4.
    pub fn with_tier(mut self, tier: u8, targets: Tier) -> Option<Sla> {
        *self.tiers.get_mut(usize::from(tier).checked_sub(1)?)? = Some(targets);
        Some(self)
    }

    /// The tier's entry, when it has one.
    pub fn tier(&self, tier: u8) -> Option<&Tier> {
        self.tiers
            .get(usize::from(tier).checked_sub(1)?)
            .and_then(Option::as_ref)
    }

    /// How long after its resolution a customer's message reopens a case
    /// (elapsed time, no calendar).
    pub fn reopen_within(&self) -> time::Duration {
        self.reopen_within.elapsed()
    }

    /// Whether any tier has a target: with none, nothing is ever due.
    pub fn is_empty(&self) -> bool {
        self.tiers.iter().all(Option::is_none)
    }
}

impl DueTimes for Sla {
    fn due(&self, tier: u8, queue: Option<&str>, from: OffsetDateTime) -> Due {
        let Some(t) = self.tier(tier) else {
            return Due::default();
        };
        queue
            .and_then(|q| t.queues.get(q))
            .unwrap_or(&t.targets)
            .due(from)
    }
}

#[cfg(test)]
#[path = "sla_tests.rs"]
mod tests;
