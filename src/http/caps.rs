//! How much a caller may hand the server in one field (caps). The body limit
//! bounds a request as a whole; these bound what is kept: a session's
//! params and vars live in every saved step and every escalation record, a
//! note in every record and webhook, so each is capped on its own, and a
//! caller who goes over is told which field and by how much (413 for a size,
//! 422 for a field that is not allowed at all). The README's "Limits" table
//! lists the same numbers.

use super::error::{ApiError, ApiResult};
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// Entries in `params`, and in `vars`.
pub const MAX_ENTRIES: usize = 32;
/// Bytes of one `params` or `vars` name.
pub const MAX_KEY: usize = 64;
/// Bytes of one value, as JSON.
pub const MAX_VALUE: usize = 2 * 1024;
/// Bytes of all of `params` and `vars` together, as JSON.
pub const MAX_TOTAL: usize = 8 * 1024;
/// Bytes of one note (asking for help, a specialist's note).
pub const MAX_NOTE: usize = 4 * 1024;
/// Bytes of one answer or input value: room for the engine's
/// [`MAX_VALUE_CHARS`](crate::engine::MAX_VALUE_CHARS) characters at four
/// bytes each, so a value in Cyrillic meets the same limit as one in Latin
/// letters (the engine's own, worded for the person) and only a body no
/// person types is cut here.
pub const MAX_INPUT: usize = 4 * crate::engine::MAX_VALUE_CHARS;
/// Characters of a reference.
pub const MAX_REFERENCE: usize = 64;

fn too_large(message: String) -> ApiError {
    ApiError::PayloadTooLarge(message)
}

/// Checks `params` and `vars` against the caps above.
pub fn check_start_maps(
    params: &BTreeMap<String, Json>,
    vars: &BTreeMap<String, Json>,
) -> ApiResult<()> {
    let mut total = 0usize;
    for (field, map) in [("params", params), ("vars", vars)] {
        if map.len() > MAX_ENTRIES {
            return Err(too_large(format!(
                "`{field}` has {} entries; at most {MAX_ENTRIES} are accepted",
                map.len()
            )));
        }
        for (k, v) in map {
            if k.len() > MAX_KEY {
                return Err(too_large(format!(
                    "a name in `{field}` is {} bytes long; names are at most {MAX_KEY} bytes",
                    k.len()
                )));
            }
            let size = json_size(v);
            if size > MAX_VALUE {
                return Err(too_large(format!(
                    "`{field}.{k}` is {size} bytes as JSON; a value is at most {MAX_VALUE} bytes"
                )));
            }
            total += k.len() + size;
        }
    }
    if total > MAX_TOTAL {
        return Err(too_large(format!(
            "`params` and `vars` are {total} bytes together; at most {MAX_TOTAL} are accepted"
        )));
    }
    Ok(())
}

/// Bytes of a value as compact JSON (what is stored).
pub fn json_size(v: &Json) -> usize {
    serde_json::to_string(v)
        .map(|s| s.len())
        .unwrap_or(usize::MAX)
}

/// A note's text: at most [`MAX_NOTE`] bytes.
pub fn check_note(field: &str, text: &str) -> ApiResult<()> {
    if text.len() > MAX_NOTE {
        return Err(too_large(format!(
            "`{field}` is {} bytes; a note is at most {MAX_NOTE} bytes",
            text.len()
        )));
    }
    Ok(())
}

/// An answer or an input value: at most [`MAX_INPUT`] bytes.
pub fn check_input(text: &str) -> ApiResult<()> {
    if text.len() > MAX_INPUT {
        return Err(too_large(format!(
            "the answer is {} bytes; an answer or input value is at most {MAX_INPUT} bytes",
            text.len()
        )));
    }
    Ok(())
}

/// A reference someone types or reads out: 1 to [`MAX_REFERENCE`]
/// characters, letters (any script), digits, spaces and `- _ . # / : ' @ +`.
/// Nothing that could pass for markup or split a log line.
pub fn check_reference(reference: &str) -> ApiResult<()> {
    let n = reference.chars().count();
    if n > MAX_REFERENCE {
        return Err(ApiError::unprocessable(
            "invalid_reference",
            format!("the reference is {n} characters long; at most {MAX_REFERENCE} are accepted"),
        ));
    }
    if let Some(c) = reference.chars().find(|c| !reference_char(*c)) {
        return Err(ApiError::unprocessable(
            "invalid_reference",
            format!(
                "the reference may hold letters, digits, spaces and - _ . # / : ' @ +, not {:?}",
                c
            ),
        ));
    }
    Ok(())
}

fn reference_char(c: char) -> bool {
    c.is_alphanumeric() || " -_.#/:'@+".contains(c)
}

/// A reference made from text that was not typed as one (a caller's
/// name): the characters a reference may hold, at most [`MAX_REFERENCE`].
pub fn reference_from(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter(|c| reference_char(*c))
        .take(MAX_REFERENCE)
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn references_are_short_and_plain() {
        assert!(check_reference("TICKET-4711").is_ok());
        assert!(check_reference("Jüri Õun").is_ok());
        assert!(check_reference("K7QF-2M9D").is_ok());
        assert!(check_reference(&"x".repeat(MAX_REFERENCE)).is_ok());
        let long = check_reference(&"x".repeat(MAX_REFERENCE + 1)).unwrap_err();
        assert_eq!(long.status(), 422);
        assert!(check_reference("a<script>").is_err());
        assert!(check_reference("a\nb").is_err());
    }

    #[test]
    fn a_name_becomes_a_valid_reference() {
        assert_eq!(reference_from("Anne (VIP) <x>"), "Anne VIP x");
        let long = reference_from(&"Ж".repeat(100));
        assert_eq!(long.chars().count(), MAX_REFERENCE);
        assert!(check_reference(&long).is_ok());
        assert!(check_reference(&reference_from("a\tb\nc")).is_ok());
    }

    #[test]
    fn maps_are_capped_by_count_name_value_and_total() {
        let none = BTreeMap::new();
        let many: BTreeMap<String, Json> = (0..=MAX_ENTRIES)
            .map(|i| (format!("k{i}"), json!(1)))
            .collect();
        let e = check_start_maps(&many, &none).unwrap_err();
        assert_eq!(e.status(), 413);
        assert!(e.to_string().contains("`params` has 33 entries"), "{e}");
        let long_key: BTreeMap<String, Json> = [("k".repeat(MAX_KEY + 1), json!(1))].into();
        assert!(check_start_maps(&none, &long_key).is_err());
        let big: BTreeMap<String, Json> = [("a".into(), json!("x".repeat(MAX_VALUE)))].into();
        let e = check_start_maps(&big, &none).unwrap_err();
        assert!(e.to_string().contains("`params.a`"), "{e}");
        let wide: BTreeMap<String, Json> = (0..5)
            .map(|i| (format!("k{i}"), json!("x".repeat(MAX_VALUE - 10))))
            .collect();
        let e = check_start_maps(&wide, &none).unwrap_err();
        assert!(e.to_string().contains("together"), "{e}");
        let fine: BTreeMap<String, Json> = [("customer".into(), json!("Ann"))].into();
        assert!(check_start_maps(&fine, &fine).is_ok());
    }
}
