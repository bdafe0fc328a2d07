//! Paging a listing by cursor (keyset paging): a page starts after the last
//! case of the one before, by the listing's order, so a case added between
//! two pages never shifts one into the next or shows one twice.
//!
//! A cursor is opaque to clients: base64url of the sort keys of the case it
//! follows (`c.CREATED.ID`, or `d.DUE.CREATED.ID` with `-` for no due time),
//! times in milliseconds, as every backend keeps them.

use super::Sort;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use time::OffsetDateTime;

/// Where a page starts: after the case with these sort keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort: Sort,
    /// The case's next due time (`Sort::Due` only).
    pub due: Option<OffsetDateTime>,
    pub created: OffsetDateTime,
    pub id: String,
}

/// Longest cursor text accepted (a case id is short).
const MAX_CURSOR: usize = 512;

fn ms(t: OffsetDateTime) -> i128 {
    t.unix_timestamp_nanos().div_euclid(1_000_000)
}

fn from_ms(s: &str) -> Option<OffsetDateTime> {
    let n: i128 = s.parse().ok()?;
    OffsetDateTime::from_unix_timestamp_nanos(n.checked_mul(1_000_000)?).ok()
}

impl Cursor {
    /// The cursor after a case, its times floored to the millisecond (what
    /// the columns it is compared with hold).
    pub fn after(
        sort: Sort,
        due: Option<OffsetDateTime>,
        created: OffsetDateTime,
        id: &str,
    ) -> Cursor {
        let floor = |t: OffsetDateTime| from_ms(&ms(t).to_string()).unwrap_or(t);
        Cursor {
            sort,
            due: due.map(floor),
            created: floor(created),
            id: id.to_owned(),
        }
    }

    pub fn encode(&self) -> String {
        let text = match self.sort {
            Sort::Created => format!("c.{}.{}", ms(self.created), self.id),
            Sort::Due => format!(
                "d.{}.{}.{}",
                self.due
                    .map_or_else(|| "-".to_owned(), |d| ms(d).to_string()),
                ms(self.created),
                self.id
            ),
        };
        URL_SAFE_NO_PAD.encode(text)
    }

    /// `None` for anything this server did not hand out.
    pub fn decode(text: &str) -> Option<Cursor> {
        if text.len() > MAX_CURSOR {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(4, '.');
        let sort = match parts.next()? {
            "c" => Sort::Created,
            "d" => Sort::Due,
            _ => return None,
        };
        let due = match sort {
            Sort::Created => None,
            Sort::Due => match parts.next()? {
                "-" => None,
                d => Some(from_ms(d)?),
            },
        };
        let created = from_ms(parts.next()?)?;
        let id = match sort {
            // The id may hold dots: it is the rest.
            Sort::Created => parts.collect::<Vec<_>>().join("."),
            Sort::Due => parts.next()?.to_owned(),
        };
        if id.is_empty() {
            return None;
        }
        Some(Cursor {
            sort,
            due,
            created,
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn cursors_read_back_and_refuse_what_they_are_not() {
        let t = datetime!(2026-03-02 09:00:00.123_456 UTC);
        for c in [
            Cursor::after(Sort::Created, None, t, "esc_ab.c"),
            Cursor::after(Sort::Due, Some(t), t, "esc_ab"),
            Cursor::after(Sort::Due, None, t, "esc_ab"),
        ] {
            assert_eq!(Cursor::decode(&c.encode()), Some(c.clone()));
            assert_eq!(c.created, datetime!(2026-03-02 09:00:00.123 UTC));
        }
        for bad in ["", "x", "Yy5hYmM", &"A".repeat(600)] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
