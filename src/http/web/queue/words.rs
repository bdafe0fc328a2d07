//! How the queue's pages word a case's times, history and refusals in the
//! reader's language: due times relative and absolute, the events as
//! sentences, a refusal of the rules naming the holder. The case keeps
//! contract words (`taken_over`, `tier 3, queue print`); a specialist
//! reading German reads German.

use super::super::i18n;
use crate::case::{Event, EventType, Refusal};
use serde::Serialize;
use time::OffsetDateTime;

/// A time as people read it in `lang`: the catalogue's `date_time` pattern
/// (day and month in the order the language writes them), in UTC as every
/// time the server keeps.
pub(super) fn when(lang: &str, t: OffsetDateTime) -> String {
    let two = |n: u8| format!("{n:02}");
    i18n::text(lang, "date_time")
        .replace("{year}", &t.year().to_string())
        .replace("{month}", &two(u8::from(t.month())))
        .replace("{day}", &two(t.day()))
        .replace("{hour}", &two(t.hour()))
        .replace("{minute}", &two(t.minute()))
}

/// "5 min", "3 h", "2 d": a span at a glance, however long.
pub(super) fn span(lang: &str, minutes: i64) -> String {
    let minutes = minutes.max(0);
    let (n, key) = if minutes < 60 {
        (minutes, "age_minutes")
    } else if minutes < 48 * 60 {
        (minutes / 60, "age_hours")
    } else {
        (minutes / (24 * 60), "age_days")
    };
    i18n::text(lang, key).replace("{n}", &n.to_string())
}

/// A due time as the pages show it.
#[derive(Debug, Serialize)]
pub(super) struct DueView {
    /// RFC 3339, for `<time datetime>`.
    pub(super) at: String,
    /// In the reader's words: `2026-03-02 13:00 UTC`.
    pub(super) absolute: String,
    /// "in 3 h", or "2 h overdue".
    pub(super) relative: String,
    pub(super) overdue: bool,
}

pub(super) fn due(lang: &str, at: OffsetDateTime, now: OffsetDateTime) -> DueView {
    let overdue = at <= now;
    // Round up both ways: "in 1 min" until it is due and "1 min overdue"
    // once it passed, never "0 min".
    let seconds = if overdue { now - at } else { at - now }.whole_seconds();
    let minutes = (seconds.saturating_add(59) / 60).max(1);
    let key = if overdue {
        "queue_due_overdue"
    } else {
        "queue_due_in"
    };
    DueView {
        at: super::super::view::rfc3339(at),
        absolute: when(lang, at),
        relative: i18n::text(lang, key).replace("{time}", &span(lang, minutes)),
        overdue,
    }
}

/// Who did it, in words: the customer and the system by what they are,
/// staff by name.
pub(super) fn who(lang: &str, by: &str) -> String {
    match by {
        "customer" => i18n::text(lang, "who_customer"),
        "system" => i18n::text(lang, "who_system"),
        name => name.to_owned(),
    }
}

/// One event of the history as a sentence.
#[derive(Debug, Serialize)]
pub(super) struct HistoryLine {
    pub(super) kind: &'static str,
    pub(super) text: String,
    pub(super) at: String,
    pub(super) at_human: String,
}

/// The case's events, oldest first, in words.
pub(super) fn history(lang: &str, events: &[Event]) -> Vec<HistoryLine> {
    events
        .iter()
        .map(|e| HistoryLine {
            kind: kind_name(e.kind),
            text: sentence(lang, e),
            at: super::super::view::rfc3339(e.at),
            at_human: when(lang, e.at),
        })
        .collect()
}

fn kind_name(kind: EventType) -> &'static str {
    match kind {
        EventType::Created => "created",
        EventType::Claimed => "claimed",
        EventType::TakenOver => "taken_over",
        EventType::Note => "note",
        EventType::Reply => "reply",
        EventType::CustomerMessage => "customer_message",
        EventType::Waiting => "waiting",
        EventType::Resolved => "resolved",
        EventType::Reopened => "reopened",
        EventType::Escalated => "escalated",
        EventType::Breached => "breached",
        EventType::Erased => "erased",
    }
}

fn sentence(lang: &str, e: &Event) -> String {
    let detail = e.detail.as_deref().unwrap_or("");
    let mut text = i18n::text(lang, &format!("history_{}", kind_name(e.kind)))
        .replace("{by}", &who(lang, &e.by));
    match e.kind {
        // The rules write `from HOLDER`.
        EventType::TakenOver => {
            let from = detail.strip_prefix("from ").unwrap_or(detail);
            text = text.replace("{from}", &who(lang, from));
        }
        // The rules write `tier N` or `tier N, queue Q`.
        EventType::Escalated => {
            let (tier, queue) = match detail.split_once(", queue ") {
                Some((t, q)) => (t, Some(q)),
                None => (detail, None),
            };
            let tier = tier.strip_prefix("tier ").unwrap_or(tier);
            text = text.replace("{tier}", tier);
            if let Some(q) = queue {
                text = format!("{text} · {q}");
            }
        }
        // `response` or `resolution`: which due time passed.
        EventType::Breached => {
            let what = match detail {
                "response" => i18n::text(lang, "queue_due_response"),
                "resolution" => i18n::text(lang, "queue_due_resolution"),
                _ => String::new(),
            };
            text = text.replace("{what}", &what);
        }
        _ => {}
    }
    text
}

/// A refusal of the rules, for the person who tried: what stands in the
/// way, naming the holder.
pub(super) fn refusal(lang: &str, why: &Refusal) -> String {
    match why {
        Refusal::ClaimedByOther { holder } => {
            i18n::text(lang, "queue_refused_held").replace("{holder}", holder)
        }
        Refusal::Resolved => i18n::text(lang, "queue_refused_resolved"),
        Refusal::InvalidTier { tier, from } => i18n::text(lang, "queue_refused_tier")
            .replace("{tier}", &tier.to_string())
            .replace("{from}", &from.to_string()),
        // The tier rule: the case is no longer within the reader's tier.
        Refusal::OutOfTier { .. } => i18n::text(lang, "queue_refused_out_of_tier"),
        Refusal::Erased => i18n::text(lang, "queue_refused_erased"),
        // A customer's refusals and the timer's; staff do not meet them.
        Refusal::Closed | Refusal::TooManyMessages | Refusal::StaffOnly | Refusal::SystemOnly => {
            i18n::text(lang, "queue_refused")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn due_times_read_in_the_readers_words_and_overdue_ones_say_so() {
        let now = datetime!(2026-03-02 09:00 UTC);
        let later = due("en", datetime!(2026-03-02 12:30 UTC), now);
        assert_eq!(later.relative, "in 3 h");
        assert_eq!(later.absolute, "2026-03-02 12:30 UTC");
        assert!(!later.overdue);
        let late = due("de", datetime!(2026-03-02 08:40 UTC), now);
        assert_eq!(late.relative, "seit 20 Min. überfällig");
        assert_eq!(late.absolute, "02.03.2026, 08:40 UTC");
        assert!(late.overdue);
    }

    #[test]
    fn the_history_names_who_did_what_in_every_language() {
        let at = datetime!(2026-03-02 09:00 UTC);
        let ev = |kind, by: &str, detail: Option<&str>| Event {
            kind,
            by: by.into(),
            at,
            detail: detail.map(str::to_owned),
            via: None,
        };
        let events = [
            ev(EventType::Created, "customer", None),
            ev(EventType::TakenOver, "ada", Some("from sam")),
            ev(EventType::Escalated, "ada", Some("tier 3, queue print")),
        ];
        let en: Vec<String> = history("en", &events).into_iter().map(|l| l.text).collect();
        assert_eq!(
            en,
            [
                "The customer asked for a person",
                "ada took the case over from sam",
                "ada sent the case to tier 3 · print"
            ]
        );
        for lang in i18n::LANGUAGES {
            for line in history(lang, &events) {
                assert!(!line.text.contains('{'), "{lang}: {}", line.text);
                assert!(!line.text.is_empty());
            }
        }
    }
}
