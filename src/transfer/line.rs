//! One line of an export: written field by field in the kinds' order (so
//! the bytes do not depend on a map's order), read back strictly (an
//! unknown kind or field, a value of the wrong type, a required field
//! missing: each an error saying which).

use super::{FORMAT, HEADER_KIND, Kind, Row, Ty, Value, format_time, kind_named};
use serde_json::Value as Json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The file holds the rollups (an export of everything without dates):
    /// its sessions were counted in them.
    pub rollups: bool,
}

/// Why a line cannot be read (the caller adds its number).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    #[error("not a JSON object: {0}")]
    NotJson(String),
    #[error("no `kind`")]
    NoKind,
    #[error("unknown kind `{0}`")]
    UnknownKind(String),
    #[error("a {kind} has no field `{field}`")]
    UnknownField { kind: &'static str, field: String },
    #[error("`{field}` of a {kind} is missing")]
    Missing {
        kind: &'static str,
        field: &'static str,
    },
    #[error("`{field}` of a {kind} should be {expected}")]
    Type {
        kind: &'static str,
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "not a fixpath export: the first line should be {{\"kind\":\"{HEADER_KIND}\",\"format\":{FORMAT},…}}"
    )]
    NoHeader,
    #[error("written in format {0}; this fixpath reads format {FORMAT}")]
    Format(u64),
    #[error("a second `{HEADER_KIND}` line")]
    SecondHeader,
}

pub fn render_header(h: Header) -> String {
    format!(
        "{{\"kind\":\"{HEADER_KIND}\",\"format\":{FORMAT},\"rollups\":{}}}",
        h.rollups
    )
}

/// A row's line, without its newline. Secret fields (a password hash) only
/// `with_secrets`; NULLs are written as `null`.
pub fn render_row(kind: &Kind, row: &Row, with_secrets: bool) -> String {
    let mut s = String::with_capacity(256);
    s.push_str("{\"kind\":");
    push_json_str(&mut s, kind.name);
    for (f, v) in kind.fields.iter().zip(row) {
        if f.secret && !with_secrets {
            continue;
        }
        s.push(',');
        push_json_str(&mut s, f.name);
        s.push(':');
        match v {
            Value::Null => s.push_str("null"),
            Value::Text(t) => push_json_str(&mut s, t),
            Value::Int(n) => s.push_str(&n.to_string()),
            Value::Bool(b) => s.push_str(if *b { "true" } else { "false" }),
            Value::Time(t) => push_json_str(&mut s, &format_time(*t)),
        }
    }
    s.push('}');
    s
}

fn push_json_str(s: &mut String, v: &str) {
    // serde_json's escaping: the same bytes for the same text, always.
    s.push_str(&Json::String(v.to_owned()).to_string());
}

/// A line read back.
#[derive(Debug, Clone, PartialEq)]
pub enum ParsedLine {
    Header(Header),
    Row(&'static Kind, Row),
}

pub fn parse_line(line: &str) -> Result<ParsedLine, LineError> {
    let obj: serde_json::Map<String, Json> = match serde_json::from_str(line) {
        Ok(Json::Object(o)) => o,
        Ok(_) => {
            return Err(LineError::NotJson(
                "a JSON value that is not an object".into(),
            ));
        }
        Err(e) => return Err(LineError::NotJson(e.to_string())),
    };
    let name = match obj.get("kind") {
        Some(Json::String(k)) => k.as_str(),
        _ => return Err(LineError::NoKind),
    };
    if name == HEADER_KIND {
        return header(&obj).map(ParsedLine::Header);
    }
    let kind = kind_named(name).ok_or_else(|| LineError::UnknownKind(name.to_owned()))?;
    for k in obj.keys() {
        if k != "kind" && kind.field(k).is_none() {
            return Err(LineError::UnknownField {
                kind: kind.name,
                field: k.clone(),
            });
        }
    }
    let mut row = Vec::with_capacity(kind.fields.len());
    for f in kind.fields {
        let wrong = |expected| LineError::Type {
            kind: kind.name,
            field: f.name,
            expected,
        };
        let v = match obj.get(f.name) {
            None | Some(Json::Null) if f.null => Value::Null,
            None | Some(Json::Null) => {
                return Err(LineError::Missing {
                    kind: kind.name,
                    field: f.name,
                });
            }
            Some(j) => match f.ty {
                Ty::Text => Value::Text(j.as_str().ok_or(wrong("a string"))?.to_owned()),
                Ty::Int => Value::Int(j.as_i64().ok_or(wrong("a whole number"))?),
                Ty::Bool => Value::Bool(j.as_bool().ok_or(wrong("true or false"))?),
                Ty::Time => Value::Time(
                    j.as_str()
                        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
                        .ok_or(wrong("an RFC 3339 time"))?,
                ),
            },
        };
        row.push(v);
    }
    Ok(ParsedLine::Row(kind, row))
}

fn header(obj: &serde_json::Map<String, Json>) -> Result<Header, LineError> {
    match obj.get("format").and_then(Json::as_u64) {
        Some(f) if f == u64::from(FORMAT) => {}
        Some(f) => return Err(LineError::Format(f)),
        None => return Err(LineError::NoHeader),
    }
    Ok(Header {
        rollups: obj.get("rollups").and_then(Json::as_bool).unwrap_or(false),
    })
}
