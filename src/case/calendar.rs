//! Business hours: a weekly calendar (`Mon-Fri 08:00-17:00`) in an IANA time
//! zone, and the arithmetic that counts a service level only while it is open.
//!
//! The grammar, forgiving where a person would be and strict where a guess
//! could be wrong:
//! - parts separated by `,` or `;`, each `DAYS HH:MM-HH:MM [HH:MM-HH:MM…]`
//!   (`Mon-Fri 08:00-12:00 13:00-17:00` has a lunch break);
//! - `DAYS` is a day (`Mon`, `monday`) or a range (`Mon-Fri`; `Sun-Thu` wraps
//!   round the weekend); a part with days and no hours lends its days to the
//!   next part, so `Mon, Wed, Fri 09:00-12:00` means what it says;
//! - times run from `00:00` to `24:00` and a range never crosses midnight
//!   (a night shift is two parts: `Mon-Fri 22:00-24:00, Tue-Sat 00:00-06:00`);
//! - ranges that overlap or touch are joined; `24/7` is every hour of the week.
//!
//! Hours and minutes count the real time the calendar is open (a night
//! segment across a DST change is an hour shorter or longer). Days count
//! working days, days with any open time: see [`Hours::add`].

use super::sla::{Duration, Invalid};
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const FULL_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];
const MINUTES_PER_DAY: u16 = 24 * 60;
/// The furthest a due time may lie from its start, in the calendar's own
/// nominal time: what the configuration accepts ([`Hours::check`]).
const MAX_WEEKS: u32 = 5 * 52;
/// How many days a computation walks at most: more than [`MAX_WEEKS`] plus
/// what DST changes could add, so a checked duration always finishes, and an
/// unchecked one ends with no due time instead of a long loop.
const MAX_DAYS: u32 = 7 * (MAX_WEEKS + 60);

/// The open hours of each weekday (Monday first), in minutes after midnight:
/// sorted, joined, each range non-empty.
#[derive(Debug, Clone)]
pub struct Calendar {
    days: [Vec<(u16, u16)>; 7],
    text: String,
}

/// Two calendars are equal when they are open at the same hours, however
/// they were written.
impl PartialEq for Calendar {
    fn eq(&self, other: &Calendar) -> bool {
        self.days == other.days
    }
}

impl Calendar {
    pub fn parse(text: &str) -> Result<Calendar, Invalid> {
        let hint = "write e.g. \"Mon-Fri 08:00-17:00\" or \"Mon-Thu 08:00-17:00, Fri 08:00-14:00\"";
        let mut days: [Vec<(u16, u16)>; 7] = Default::default();
        if text.trim() == "24/7" {
            days = std::array::from_fn(|_| vec![(0, MINUTES_PER_DAY)]);
            return Ok(Calendar {
                days,
                text: text.trim().to_owned(),
            });
        }
        // Days waiting for their hours (`Mon, Wed 09:00-12:00`).
        let mut pending: Vec<usize> = Vec::new();
        let mut pending_text = String::new();
        for part in text.split([',', ';']) {
            // `Mon - Fri`, `08:00 – 17:00`: one token each.
            let part = part.replace(['–', '—'], "-");
            let part = part.split('-').map(str::trim).collect::<Vec<_>>().join("-");
            let mut tokens = part.split_whitespace();
            // `Mon-Fri 08:00-17:00,` or `,,`: nothing to misread.
            let Some(first) = tokens.next() else {
                continue;
            };
            if first.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(Invalid::new(format!("`{}` has no days", part.trim()))
                    .hint("put the days first, e.g. \"Mon-Fri 08:00-17:00\"; every day: \"Mon-Sun 08:00-17:00\""));
            }
            let on = parse_days(first)?;
            pending.extend(on);
            pending_text = if pending_text.is_empty() {
                first.to_owned()
            } else {
                format!("{pending_text}, {first}")
            };
            let mut any = false;
            for range in tokens {
                let (from, to) = parse_range(range)?;
                for &d in &pending {
                    days[d].push((from, to));
                }
                any = true;
            }
            if any {
                pending.clear();
                pending_text.clear();
            }
        }
        if !pending.is_empty() {
            return Err(Invalid::new(format!("`{pending_text}` has no hours"))
                .hint("give the hours after the days, e.g. \"Mon-Fri 08:00-17:00\""));
        }
        // Every range is open for a minute at least: a calendar with one
        // has open time every week, and the arithmetic always ends.
        if days.iter().all(Vec::is_empty) {
            return Err(
                Invalid::new("the calendar is empty: it is never open").hint(format!(
                    "{hint}; leave `calendar` out to count wall-clock time"
                )),
            );
        }
        for ranges in &mut days {
            ranges.sort_unstable();
            let mut joined: Vec<(u16, u16)> = Vec::with_capacity(ranges.len());
            for &(from, to) in ranges.iter() {
                match joined.last_mut() {
                    Some(last) if from <= last.1 => last.1 = last.1.max(to),
                    _ => joined.push((from, to)),
                }
            }
            *ranges = joined;
        }
        Ok(Calendar {
            days,
            text: text.trim().to_owned(),
        })
    }

    /// The calendar as it was written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn on(&self, date: Date) -> &[(u16, u16)] {
        &self.days[date.weekday().to_monday_zero_offset() as usize]
    }

    fn open_minutes_per_week(&self) -> u32 {
        self.days
            .iter()
            .flatten()
            .map(|&(from, to)| u32::from(to - from))
            .sum()
    }

    fn working_days_per_week(&self) -> u32 {
        self.days.iter().filter(|d| !d.is_empty()).count() as u32
    }
}

fn parse_days(token: &str) -> Result<Vec<usize>, Invalid> {
    let (first, last) = match token.split_once('-') {
        Some((a, b)) => (day(a)?, day(b)?),
        None => {
            let d = day(token)?;
            (d, d)
        }
    };
    // `Sun-Thu` wraps round the end of the week.
    let mut out = vec![first];
    let mut d = first;
    while d != last {
        d = (d + 1) % 7;
        out.push(d);
    }
    Ok(out)
}

fn day(word: &str) -> Result<usize, Invalid> {
    let lower = word.to_lowercase();
    if let Some(i) = FULL_NAMES
        .iter()
        .position(|f| lower == *f || (lower.len() == 3 && f.starts_with(&lower)))
    {
        return Ok(i);
    }
    let mut problem = Invalid::new(format!("`{word}` is not a day of the week"));
    let near = DAY_NAMES
        .iter()
        .zip(FULL_NAMES)
        .map(|(short, full)| {
            let d = strsim::damerau_levenshtein(&lower, &short.to_lowercase())
                .min(strsim::damerau_levenshtein(&lower, full));
            (d, short)
        })
        .min();
    let days = "the days are Mon, Tue, Wed, Thu, Fri, Sat and Sun; write hours after them, e.g. \"Mon-Fri 08:00-17:00\"";
    problem = match near {
        Some((1..=2, short)) => problem.hint(format!("did you mean `{short}`? {days}")),
        _ => problem.hint(days),
    };
    Err(problem)
}

fn parse_range(token: &str) -> Result<(u16, u16), Invalid> {
    let example = "write the hours as HH:MM-HH:MM, e.g. 08:00-17:00";
    let Some((a, b)) = token.split_once('-') else {
        return Err(Invalid::new(format!("`{token}` is not a range of hours")).hint(example));
    };
    let (from, to) = (clock_time(a, token)?, clock_time(b, token)?);
    if to == from {
        return Err(Invalid::new(format!("`{token}` is no time at all"))
            .hint("give a range that is open, e.g. 08:00-17:00"));
    }
    if to < from {
        return Err(Invalid::new(format!(
            "`{token}` ends before it starts: a range cannot cross midnight"
        ))
        .hint(
            "end a night at 24:00 and go on the next day from 00:00, e.g. \
             \"Mon-Fri 22:00-24:00, Tue-Sat 00:00-06:00\"",
        ));
    }
    Ok((from, to))
}

/// `HH:MM` (or `H:MM`) in minutes after midnight; `24:00` ends a day.
fn clock_time(s: &str, range: &str) -> Result<u16, Invalid> {
    let bad = || {
        Invalid::new(format!("`{s}` in `{range}` is not a time of day"))
            .hint("write times as HH:MM from 00:00 to 24:00, e.g. 08:00-17:00")
    };
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    let digits = |x: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    match (h, m) {
        (24, 0) => Ok(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

/// A calendar in its zone: the clock a service level counts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Hours {
    pub calendar: Calendar,
    pub zone: TimeZone,
}

impl Hours {
    /// Refuses a duration the calendar would take more than five years to
    /// count (`300h` on `Sun 10:00-10:01`): a typo, and a long computation.
    pub fn check(&self, d: Duration) -> Result<(), Invalid> {
        let per_week = self.calendar.open_minutes_per_week();
        let days = self.calendar.working_days_per_week();
        if per_week == 0 || days == 0 {
            return Err(Invalid::new("the calendar is never open"));
        }
        let weeks = d.days.div_ceil(days) + d.minutes.div_ceil(per_week);
        if weeks > MAX_WEEKS {
            return Err(Invalid::new(format!(
                "`{d}` takes about {} years of the calendar `{}`",
                weeks / 52,
                self.calendar.as_str()
            ))
            .hint("a due time may lie at most five years ahead: shorten it or open the calendar longer"));
        }
        Ok(())
    }

    /// `start` plus `d` counted inside the calendar; `None` only for a
    /// duration [`Hours::check`] refuses, or a time past the year 9999.
    ///
    /// Days first, as working days: a start within the hours of a working
    /// day, `N` working days later at the same place in that day's hours (the
    /// same time of day when the days are alike; a shorter day ends at its
    /// close). A start outside the hours counts from the next opening, and a
    /// start at an opening is due at the close of its `N`-th working day, so
    /// `1d` from Saturday is Monday's close, not Tuesday's opening. Then
    /// hours and minutes, counted while open; a due time that lands on a
    /// close stays there rather than moving to the next opening.
    pub fn add(&self, start: Timestamp, d: Duration) -> Option<Timestamp> {
        let mut t = start;
        if d.days > 0 {
            t = self.add_days(t, d.days)?;
        }
        if d.minutes > 0 {
            t = self.add_open(t, SignedDuration::from_mins(i64::from(d.minutes)))?;
        }
        Some(t)
    }

    /// The instant of `second` after the start of `date` (86 400: the next
    /// midnight). A time a DST change skips counts from after the gap; one
    /// it repeats, the first time.
    fn at(&self, date: Date, second: i32) -> Option<Timestamp> {
        let dt: DateTime = if second >= 86_400 {
            date.tomorrow().ok()?.at(0, 0, 0, 0)
        } else {
            date.at(
                (second / 3600) as i8,
                (second / 60 % 60) as i8,
                (second % 60) as i8,
                0,
            )
        };
        self.zone.to_ambiguous_timestamp(dt).compatible().ok()
    }

    /// The open ranges of `date` as instants (none inverted by a DST gap).
    fn ranges(&self, date: Date) -> impl Iterator<Item = (Timestamp, Timestamp)> + '_ {
        self.calendar
            .on(date)
            .iter()
            .filter_map(move |&(from, to)| {
                let (a, b) = (
                    self.at(date, i32::from(from) * 60)?,
                    self.at(date, i32::from(to) * 60)?,
                );
                (a < b).then_some((a, b))
            })
    }

    fn add_open(&self, start: Timestamp, mut left: SignedDuration) -> Option<Timestamp> {
        let mut date = self.zone.to_datetime(start).date();
        for _ in 0..MAX_DAYS {
            for (open, close) in self.ranges(date) {
                if close <= start {
                    continue;
                }
                let from = open.max(start);
                let here = close.duration_since(from);
                if left <= here {
                    return from.checked_add(left).ok();
                }
                left -= here;
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    fn add_days(&self, start: Timestamp, n: u32) -> Option<Timestamp> {
        // The first open moment at or after `start`, and its day.
        let mut date = self.zone.to_datetime(start).date();
        let mut found = None;
        for _ in 0..8 {
            if let Some((open, _)) = self.ranges(date).find(|&(_, close)| close > start) {
                found = Some(open.max(start));
                break;
            }
            date = date.tomorrow().ok()?;
        }
        let from = found?;
        let place = self.place(date, from);
        if place == 0 {
            // An opening is the previous working day's close: due at the
            // close of the n-th working day, counting this one.
            let last = self.working_day_after(date, n - 1)?;
            let close = self.calendar.on(last).last()?.1;
            return self.at(last, i32::from(close) * 60);
        }
        let target = self.working_day_after(date, n)?;
        self.at_place(target, place)
    }

    /// The `n`-th working day after `date` (`date` itself for 0).
    fn working_day_after(&self, mut date: Date, n: u32) -> Option<Date> {
        for _ in 0..n {
            date = date.tomorrow().ok()?;
            // At least one working day a week: the calendar is never empty.
            for _ in 0..7 {
                if !self.calendar.on(date).is_empty() {
                    break;
                }
                date = date.tomorrow().ok()?;
            }
        }
        Some(date)
    }

    /// How far into `date`'s hours `t` is, in seconds of the calendar (the
    /// wall clock, so a place is the same time of day on a like day).
    fn place(&self, date: Date, t: Timestamp) -> i32 {
        let dt = self.zone.to_datetime(t);
        if dt.date() != date {
            return 0;
        }
        let second =
            i32::from(dt.hour()) * 3600 + i32::from(dt.minute()) * 60 + i32::from(dt.second());
        self.calendar
            .on(date)
            .iter()
            .map(|&(from, to)| {
                let (from, to) = (i32::from(from) * 60, i32::from(to) * 60);
                (second - from).clamp(0, to - from)
            })
            .sum()
    }

    /// The instant `place` seconds into `date`'s hours; its close when the
    /// day is shorter; a place that ends a range is that range's close.
    fn at_place(&self, date: Date, mut place: i32) -> Option<Timestamp> {
        let ranges = self.calendar.on(date);
        for &(from, to) in ranges {
            let len = i32::from(to - from) * 60;
            if place <= len {
                return self.at(date, i32::from(from) * 60 + place);
            }
            place -= len;
        }
        self.at(date, i32::from(ranges.last()?.1) * 60)
    }
}
