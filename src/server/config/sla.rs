//! The service levels of the configuration file (contract section 10):
//! `reopen_within` and the `[sla.tierN]` tables with their
//! `[sla.tierN.queues.NAME]` overrides, checked into a [`Sla`].
//!
//! The tables are read as plain TOML and walked here rather than through
//! serde, so every message names the full key (`sla.tier2.queues.printing.
//! respnse`) and what to write instead. A queue override inherits from its
//! tier whatever it does not set, the calendar and the zone included.

use super::resolve::{Origin, Problem};
use crate::case::sla::{
    Clock, ClockError, DEFAULT_REOPEN_WITHIN, Duration, Invalid, Sla, Targets, Tier,
};
use std::collections::BTreeMap;
use std::path::Path;
use toml::{Table, Value};

/// The keys of a tier; a queue takes them all but `queues`.
const TIER_KEYS: [&str; 5] = ["response", "resolution", "calendar", "timezone", "queues"];

/// `reopen_within` and `[sla]` of the file at `path`; the defaults (seven
/// days, no targets) for what it leaves out.
pub(super) fn resolve(
    reopen_within: Option<&str>,
    sla: Option<&Table>,
    path: &Path,
) -> Result<Sla, Problem> {
    let at = |key: &str, e: Invalid| problem(e, key, path);
    let reopen = match reopen_within {
        Some(s) => Duration::parse(s).map_err(|e| at("reopen_within", e))?,
        None => DEFAULT_REOPEN_WITHIN,
    };
    let mut out = Sla::new(reopen);
    for (name, value) in sla.into_iter().flatten() {
        let key = format!("sla.{name}");
        let n = tier_number(name).map_err(|e| at(&key, e))?;
        let table = value.as_table().ok_or_else(|| {
            at(
                &key,
                Invalid::new(format!("a tier is a table, not {}", a(value))).hint(format!(
                    "write a table: [{key}] and under it response = \"4h\", resolution = \"3d\""
                )),
            )
        })?;
        let tier = read_tier(table, &key, path)?;
        out = out
            .with_tier(n, tier)
            .ok_or_else(|| at(&key, Invalid::new(format!("there is no tier {n}"))))?;
    }
    Ok(out)
}

/// `retain`: how long personal data is kept. At least a day, and at least
/// `reopen_within`: a case whose data is gone must not be reopened.
pub(super) fn retain(
    retain: Option<&str>,
    reopen_within: Option<&str>,
    path: &Path,
) -> Result<Option<time::Duration>, Problem> {
    let Some(text) = retain else {
        return Ok(None);
    };
    let keep = Duration::parse(text)
        .map_err(|e| problem(e, "retain", path))?
        .elapsed();
    let reopen = reopen_within
        .and_then(|s| Duration::parse(s).ok())
        .unwrap_or(DEFAULT_REOPEN_WITHIN);
    let hint = "write a longer duration, e.g. retain = \"180d\"";
    if keep < time::Duration::DAY {
        let e = Invalid::new(format!(
            "`{}` is shorter than a day, the shortest retention time",
            text.trim()
        ))
        .hint(hint);
        return Err(problem(e, "retain", path));
    }
    if keep < reopen.elapsed() {
        let e = Invalid::new(format!(
            "`{}` is shorter than `reopen_within` ({reopen}): a resolved case can be reopened \
             that long after it was resolved, so its data is kept at least as long",
            text.trim()
        ))
        .hint(hint);
        return Err(problem(e, "retain", path));
    }
    Ok(Some(keep))
}

fn problem(e: Invalid, key: &str, path: &Path) -> Problem {
    let p = Problem::new(e.message);
    let p = match e.hint {
        Some(h) => p.hint(h),
        None => p,
    };
    p.from(&Origin::File { key, path })
}

fn tier_number(name: &str) -> Result<u8, Invalid> {
    let tiers = "[sla] holds a table per tier, [sla.tier1] to [sla.tier4]";
    let Some(number) = name.strip_prefix("tier") else {
        let hint = match name {
            "reopen_within" => {
                "reopen_within goes at the top of the file, before the first [table]".to_owned()
            }
            "response" | "resolution" | "calendar" | "timezone" | "queues" => {
                format!("{tiers}: set `{name}` in each, e.g. under [sla.tier2]")
            }
            _ => tiers.to_owned(),
        };
        return Err(Invalid::new(format!("`{name}` is not a tier")).hint(hint));
    };
    match number.parse::<u8>() {
        Ok(n @ 1..=4) if !number.starts_with('0') => Ok(n),
        _ => Err(Invalid::new(format!("there is no tier {number}"))
            .hint("fixpath has tiers 1 to 4: name the tables [sla.tier1] to [sla.tier4]")),
    }
}

/// One table's settings as written, each with the key it was set at (a
/// queue's inherited values keep their tier's key, for messages).
#[derive(Default, Clone)]
struct Written<'t> {
    response: Option<(&'t str, String)>,
    resolution: Option<(&'t str, String)>,
    calendar: Option<(&'t str, String)>,
    timezone: Option<(&'t str, String)>,
}

impl<'t> Written<'t> {
    /// The keys of `table` (at `key`), checked; `queues` when `tier`.
    fn read(
        table: &'t Table,
        key: &str,
        path: &Path,
        tier: bool,
    ) -> Result<(Written<'t>, Option<&'t Table>), Problem> {
        let keys = if tier {
            &TIER_KEYS[..]
        } else {
            &TIER_KEYS[..4]
        };
        let mut w = Written::default();
        let mut queues = None;
        for (name, value) in table {
            let at = format!("{key}.{name}");
            let (what, example) = match name.as_str() {
                "response" => ("a duration", "\"4h\""),
                "resolution" => ("a duration", "\"3d\""),
                "calendar" => ("a calendar", "\"Mon-Fri 08:00-17:00\""),
                "timezone" => ("a time zone", "\"Europe/Tallinn\""),
                "queues" if tier => {
                    queues = Some(value.as_table().ok_or_else(|| {
                        problem(
                            Invalid::new(format!(
                                "`queues` is a table of tables, not {}",
                                a(value)
                            ))
                            .hint(format!(
                                "give each queue its own table: [{key}.queues.printing] \
                                 and under it response = \"1h\""
                            )),
                            &at,
                            path,
                        )
                    })?);
                    continue;
                }
                _ => return Err(problem(unknown_key(name, key, keys), &at, path)),
            };
            let Value::String(s) = value else {
                return Err(problem(
                    Invalid::new(format!("{} is not {what}", a(value)))
                        .hint(format!("write it in quotes: {name} = {example}")),
                    &at,
                    path,
                ));
            };
            let slot = match name.as_str() {
                "response" => &mut w.response,
                "resolution" => &mut w.resolution,
                "calendar" => &mut w.calendar,
                _ => &mut w.timezone,
            };
            *slot = Some((s.as_str(), at));
        }
        Ok((w, queues))
    }

    /// What a queue sets, over what its tier does.
    fn over(self, tier: &Written<'t>) -> Written<'t> {
        Written {
            response: self.response.or_else(|| tier.response.clone()),
            resolution: self.resolution.or_else(|| tier.resolution.clone()),
            calendar: self.calendar.or_else(|| tier.calendar.clone()),
            timezone: self.timezone.or_else(|| tier.timezone.clone()),
        }
    }

    /// The targets, every value parsed and every duration counted on the
    /// clock once (a calendar that would take years is refused here).
    fn targets(&self, path: &Path) -> Result<Targets, Problem> {
        let clock = Clock::new(
            self.calendar.as_ref().map(|c| c.0),
            self.timezone.as_ref().map(|z| z.0),
        )
        .map_err(|e| match e {
            ClockError::Calendar(e) => {
                let key = self.calendar.as_ref().map_or("calendar", |c| c.1.as_str());
                problem(e, key, path)
            }
            ClockError::Zone(e) => {
                let key = self.timezone.as_ref().map_or("timezone", |z| z.1.as_str());
                problem(e, key, path)
            }
        })?;
        let duration = |d: &Option<(&str, String)>| -> Result<Option<Duration>, Problem> {
            let Some((text, key)) = d else {
                return Ok(None);
            };
            let d = Duration::parse(text).map_err(|e| problem(e, key, path))?;
            clock.check(d).map_err(|e| problem(e, key, path))?;
            Ok(Some(d))
        };
        Ok(Targets {
            response: duration(&self.response)?,
            resolution: duration(&self.resolution)?,
            clock,
        })
    }
}

/// "an integer", "a boolean": what a TOML value is, for messages.
fn a(value: &Value) -> String {
    let kind = value.type_str();
    let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {kind}")
}

fn unknown_key(name: &str, key: &str, keys: &[&str]) -> Invalid {
    let near = keys
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min();
    let list = if keys.len() == TIER_KEYS.len() {
        format!(
            "a tier takes response, resolution, calendar, timezone and \
             [{key}.queues.NAME] tables"
        )
    } else {
        "a queue takes response, resolution, calendar and timezone; \
         the rest it inherits from its tier"
            .to_owned()
    };
    let e = Invalid::new(format!("unknown key `{name}`"));
    match near {
        Some((_, k)) => e.hint(format!("did you mean `{k}`? {list}")),
        None => e.hint(list),
    }
}

fn read_tier(table: &Table, key: &str, path: &Path) -> Result<Tier, Problem> {
    let (written, queues) = Written::read(table, key, path, true)?;
    let targets = written.targets(path)?;
    let mut out = BTreeMap::new();
    for (name, value) in queues.into_iter().flatten() {
        let at = format!("{key}.queues.{name}");
        let Some(table) = value.as_table() else {
            return Err(problem(
                Invalid::new(format!("a queue's overrides are a table, not {}", a(value))).hint(
                    format!(
                        "write [{key}.queues.{name}] and under it what differs from the tier, \
                     e.g. response = \"1h\""
                    ),
                ),
                &at,
                path,
            ));
        };
        let (own, _) = Written::read(table, &at, path, false)?;
        out.insert(name.clone(), own.over(&written).targets(path)?);
    }
    Ok(Tier {
        targets,
        queues: out,
    })
}

#[cfg(test)]
#[path = "sla_tests.rs"]
mod tests;
