//! Values given at an input node: checked against its type and pattern,
//! and `set` values rendered from templates.

use super::StepError;
use crate::program::InputType;
use serde_json::Value as Json;

/// Characters of one input value: the one limit the engine, the wizard
/// and the HTTP layer's byte cap (`http::caps::MAX_INPUT`) all follow.
pub const MAX_VALUE_CHARS: usize = 1000;

/// A rendered `set` value: a number or boolean where it parses as one.
pub(super) fn coerce(s: &str) -> Json {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Json::from(i);
    }
    if let Ok(f) = t.parse::<f64>()
        && f.is_finite()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Json::Number(n);
    }
    match t {
        "true" | "True" => Json::Bool(true),
        "false" | "False" => Json::Bool(false),
        _ => Json::String(s.to_owned()),
    }
}

/// Checks an input value; a refusal says what is expected.
pub(super) fn validate(
    value: &str,
    kind: InputType,
    pattern: Option<&regex::Regex>,
    required: bool,
) -> Result<Json, StepError> {
    if value.is_empty() {
        return if required {
            Err(StepError::InvalidValue("a value is required here".into()))
        } else {
            Ok(Json::String(String::new()))
        };
    }
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err(StepError::InvalidValue(format!(
            "the value is too long (at most {MAX_VALUE_CHARS} characters)"
        )));
    }
    let stored = match kind {
        InputType::Text => Json::String(value.to_owned()),
        InputType::Number => {
            let normal = value.replace(',', ".");
            match normal.parse::<f64>() {
                Ok(f) if f.is_finite() => {
                    if let Ok(i) = normal.parse::<i64>() {
                        Json::from(i)
                    } else {
                        serde_json::Number::from_f64(f)
                            .map(Json::Number)
                            .unwrap_or(Json::Null)
                    }
                }
                _ => {
                    return Err(StepError::InvalidValue(format!(
                        "`{value}` is not a number"
                    )));
                }
            }
        }
        InputType::Email => {
            let ok = value.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !value.chars().any(char::is_whitespace)
                    && !domain.contains('@')
            });
            if !ok {
                return Err(StepError::InvalidValue(format!(
                    "`{value}` is not an e-mail address like name@example.com"
                )));
            }
            Json::String(value.to_owned())
        }
        InputType::Phone => {
            let digits = value.chars().filter(char::is_ascii_digit).count();
            let ok = value
                .chars()
                .all(|c| c.is_ascii_digit() || " +-()./".contains(c))
                && (5..=20).contains(&digits);
            if !ok {
                return Err(StepError::InvalidValue(format!(
                    "`{value}` is not a phone number"
                )));
            }
            Json::String(value.to_owned())
        }
    };
    if let Some(p) = pattern
        && !p.is_match(value)
    {
        return Err(StepError::InvalidValue(format!(
            "`{value}` does not have the expected form ({})",
            p.as_str()
        )));
    }
    Ok(stored)
}
