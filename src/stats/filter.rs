//! The filters of `fixpath stats` and `GET /api/v1/stats` as people type
//! them, checked once here into a [`StatsFilter`], so the command line and
//! the API accept and refuse the same things in the same words.

use super::{StatsFilter, Versions};
use time::Date;
use time::macros::format_description;

/// The filters as given; an empty or blank value counts as not given (a
/// form sends every field).
#[derive(Debug, Clone, Copy, Default)]
pub struct FilterText<'a> {
    pub script: Option<&'a str>,
    /// A version, or the start of one.
    pub version: Option<&'a str>,
    /// One entry per version instead of every version together.
    pub each_version: bool,
    /// `YYYY-MM-DD`, UTC.
    pub since: Option<&'a str>,
    pub until: Option<&'a str>,
    /// `customer` or `agent`.
    pub channel: Option<&'a str>,
}

/// The channels a report may be narrowed to (the engine's `api` channel is
/// counted in every report, not on its own).
pub const CHANNELS: [&str; 2] = ["customer", "agent"];

/// Longest script id or version a filter takes: ids are short words, a
/// version is 16 hex digits.
const MAX_ID: usize = 200;
const MAX_VERSION: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("`{which}` is `{given}`, not a date; write it as YYYY-MM-DD, e.g. 2026-01-31")]
    BadDate { which: &'static str, given: String },
    #[error("`since` ({since}) is after `until` ({until}); no day is in between")]
    SinceAfterUntil { since: Date, until: Date },
    #[error("`channel` is `{0}`; it must be customer or agent")]
    UnknownChannel(String),
    #[error(
        "`version` is `{0}`; it must be a script version (up to 16 hex digits) or its first digits"
    )]
    BadVersion(String),
    #[error("`version` and `each_version` do not go together: one version is one entry")]
    VersionAndEach,
    #[error("`script` is longer than {MAX_ID} characters or holds control characters")]
    BadScript,
}

impl StatsFilter {
    /// Checks `t`: dates as `YYYY-MM-DD` with `since` not after `until`, a
    /// known channel, a version of hex digits (lowercased, as versions are
    /// written).
    pub fn parse(t: &FilterText<'_>) -> Result<StatsFilter, FilterError> {
        let script = match given(t.script) {
            Some(s) if s.chars().count() > MAX_ID || s.chars().any(char::is_control) => {
                return Err(FilterError::BadScript);
            }
            s => s.map(str::to_owned),
        };
        let versions = match (given(t.version), t.each_version) {
            (Some(_), true) => return Err(FilterError::VersionAndEach),
            (Some(v), false) => {
                if v.len() > MAX_VERSION || !v.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(FilterError::BadVersion(v.to_owned()));
                }
                Versions::Only(v.to_ascii_lowercase())
            }
            (None, true) => Versions::Each,
            (None, false) => Versions::Together,
        };
        let since = given(t.since).map(|s| date("since", s)).transpose()?;
        let until = given(t.until).map(|s| date("until", s)).transpose()?;
        if let (Some(since), Some(until)) = (since, until)
            && since > until
        {
            return Err(FilterError::SinceAfterUntil { since, until });
        }
        let channel = match given(t.channel) {
            None => None,
            Some(c) if CHANNELS.contains(&c) => Some(c.to_owned()),
            Some(c) => return Err(FilterError::UnknownChannel(c.to_owned())),
        };
        Ok(StatsFilter {
            script,
            versions,
            since,
            until,
            channel,
        })
    }
}

/// A value given: trimmed, and not blank.
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

fn date(which: &'static str, s: &str) -> Result<Date, FilterError> {
    Date::parse(s, format_description!("[year]-[month]-[day]")).map_err(|_| FilterError::BadDate {
        which,
        given: s.chars().take(40).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn parse(t: FilterText<'_>) -> Result<StatsFilter, FilterError> {
        StatsFilter::parse(&t)
    }

    #[test]
    fn nothing_given_is_everything() {
        assert_eq!(parse(FilterText::default()), Ok(StatsFilter::default()));
        let blank = FilterText {
            script: Some(" "),
            version: Some(""),
            since: Some(""),
            until: Some(" "),
            channel: Some(""),
            ..FilterText::default()
        };
        assert_eq!(parse(blank), Ok(StatsFilter::default()));
    }

    #[test]
    fn every_filter_read() {
        let f = parse(FilterText {
            script: Some("wifi"),
            version: Some("ABC1"),
            since: Some("2026-01-01"),
            until: Some("2026-01-01"),
            channel: Some("agent"),
            ..FilterText::default()
        })
        .unwrap();
        assert_eq!(
            f,
            StatsFilter {
                script: Some("wifi".into()),
                versions: Versions::Only("abc1".into()),
                since: Some(date!(2026 - 01 - 01)),
                until: Some(date!(2026 - 01 - 01)),
                channel: Some("agent".into()),
            }
        );
        let each = parse(FilterText {
            each_version: true,
            ..FilterText::default()
        });
        assert_eq!(each.unwrap().versions, Versions::Each);
    }

    #[test]
    fn refusals_say_what_to_write() {
        let e = parse(FilterText {
            since: Some("31/01/2026"),
            ..FilterText::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`since` is `31/01/2026`, not a date; write it as YYYY-MM-DD, e.g. 2026-01-31"
        );
        let e = parse(FilterText {
            until: Some("2026-02-30"),
            ..FilterText::default()
        })
        .unwrap_err();
        assert!(matches!(e, FilterError::BadDate { which: "until", .. }));
        let e = parse(FilterText {
            since: Some("2026-02-02"),
            until: Some("2026-02-01"),
            ..FilterText::default()
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`since` (2026-02-02) is after `until` (2026-02-01); no day is in between"
        );
        let e = parse(FilterText {
            channel: Some("api"),
            ..FilterText::default()
        })
        .unwrap_err();
        assert_eq!(e, FilterError::UnknownChannel("api".into()));
        for bad in ["xyz", "0123456789abcdef0", "12 34"] {
            let e = parse(FilterText {
                version: Some(bad),
                ..FilterText::default()
            });
            assert_eq!(e, Err(FilterError::BadVersion(bad.into())), "{bad}");
        }
        let e = parse(FilterText {
            version: Some("ab"),
            each_version: true,
            ..FilterText::default()
        });
        assert_eq!(e, Err(FilterError::VersionAndEach));
        let e = parse(FilterText {
            script: Some("a\u{1b}[31m"),
            ..FilterText::default()
        });
        assert_eq!(e, Err(FilterError::BadScript));
    }
}
