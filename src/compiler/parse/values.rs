//! The parser's state and its readers of single values.

use crate::diagnostics::{Code, Diagnostic, FileId, Span, did_you_mean};
use crate::script::ast::{self, Scalar, Spanned, Text};
use crate::script::yaml::{Entries, Value, Yaml};

/// Converts values to the typed mirror, collecting diagnostics.
pub(super) struct Parser {
    pub(super) file: FileId,
    pub(super) diags: Vec<Diagnostic>,
}

impl Parser {
    pub(super) fn new(file: FileId) -> Self {
        Parser {
            file,
            diags: Vec::new(),
        }
    }

    pub(super) fn err(
        &mut self,
        code: Code,
        span: Span,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::new(code, self.file, span, message));
        self.diags.last_mut().expect("just pushed")
    }

    pub(super) fn wrong_type(&mut self, what: &str, expected: &str, y: Yaml<'_>) {
        self.err(
            Code::Fp003,
            y.span(),
            format!("{what} must be {expected}, found {}", y.type_name()),
        );
    }

    pub(super) fn unknown_key(&mut self, key: Yaml<'_>, where_: &str, known: &[&str]) {
        if key.key_text().is_none() {
            self.err(
                Code::Fp003,
                key.span(),
                format!(
                    "a key in {where_} must be a plain name, found {}",
                    key.type_name()
                ),
            )
            .hints
            .push(format!("known keys: {}", known.join(", ")));
            return;
        }
        let name = key.key_text().unwrap_or_default();
        let hint =
            did_you_mean(&name, known.iter().copied()).map(|k| format!("did you mean `{k}`?"));
        let d = self.err(
            Code::Fp002,
            key.span(),
            format!("unknown key `{name}` in {where_}"),
        );
        d.label = Some("unknown key".into());
        match hint {
            Some(h) => d.hints.push(h),
            None => d.hints.push(format!("known keys: {}", known.join(", "))),
        }
    }

    pub(super) fn map<'t>(&mut self, y: Yaml<'t>, what: &str) -> Option<Entries<'t>> {
        match y.value() {
            Value::Map(entries) => Some(entries),
            _ => {
                self.wrong_type(what, "a mapping", y);
                None
            }
        }
    }

    pub(super) fn string(&mut self, y: Yaml<'_>, what: &str) -> Option<Spanned<String>> {
        match y.value() {
            Value::Str(s) => Some(Spanned::new(s.to_owned(), y.span())),
            _ => {
                self.wrong_type(what, "a string", y);
                None
            }
        }
    }

    pub(super) fn id(&mut self, y: Yaml<'_>, what: &str) -> Option<Spanned<String>> {
        let s = self.string(y, what)?;
        if !ast::is_valid_id(&s.value) {
            let suggestion = ast::slug(&s.value);
            let d = self.err(
                Code::Fp003,
                s.span,
                format!(
                    "{what} `{}` is not a valid id: ids are lowercase letters, digits and `-`",
                    s.value
                ),
            );
            if !suggestion.is_empty() {
                d.hints.push(format!("try `{suggestion}`"));
            }
        }
        Some(s)
    }

    /// A reference to a node: a string; validity is checked by resolve.
    pub(super) fn reference(&mut self, y: Yaml<'_>, what: &str) -> Option<Spanned<String>> {
        match y.value() {
            Value::Str(s) => Some(Spanned::new(s.to_owned(), y.span())),
            Value::Int(i) => Some(Spanned::new(i.to_string(), y.span())),
            _ => {
                self.wrong_type(what, "a node id", y);
                None
            }
        }
    }

    pub(super) fn int_in(&mut self, y: Yaml<'_>, what: &str, lo: i64, hi: i64) -> Option<i64> {
        match y.value() {
            Value::Int(i) if (lo..=hi).contains(&i) => Some(i),
            Value::Int(i) => {
                let hi_s = if hi == i64::MAX {
                    "".to_string()
                } else {
                    format!(" to {hi}")
                };
                self.err(
                    Code::Fp003,
                    y.span(),
                    format!("{what} must be {lo}{hi_s}, found {i}"),
                );
                None
            }
            _ => {
                self.wrong_type(what, "an integer", y);
                None
            }
        }
    }

    pub(super) fn bool(&mut self, y: Yaml<'_>, what: &str) -> Option<bool> {
        match y.value() {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(what, "`true` or `false`", y);
                None
            }
        }
    }

    pub(super) fn scalar(&mut self, y: Yaml<'_>, what: &str) -> Option<Scalar> {
        Some(match y.value() {
            Value::Null => Scalar::Null,
            Value::Bool(b) => Scalar::Bool(b),
            Value::Int(i) => Scalar::Int(i),
            Value::Float(f) => Scalar::Float(f),
            Value::Str(s) => Scalar::Str(s.to_owned()),
            _ => {
                self.wrong_type(what, "a plain value (text, number or boolean)", y);
                return None;
            }
        })
    }

    pub(super) fn text(&mut self, y: Yaml<'_>, what: &str) -> Option<Text> {
        match y.value() {
            Value::Str(s) => Some(Text::Plain(Spanned::new(s.to_owned(), y.span()))),
            // Numbers and booleans are texts too (`- 1: first`), as written.
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => Some(Text::Plain(Spanned::new(
                y.key_text().unwrap_or_default(),
                y.span(),
            ))),
            Value::Map(entries) => {
                let mut out = Vec::new();
                for (k, v) in entries.iter() {
                    let Some(lang) = self.string(k, "a language code") else {
                        continue;
                    };
                    let Some(t) = self.text_leaf(v, what) else {
                        continue;
                    };
                    out.push((lang, t));
                }
                Some(Text::ByLanguage {
                    entries: out,
                    span: y.span(),
                })
            }
            _ => {
                self.wrong_type(
                    what,
                    "a text (a string, or a mapping of language to string)",
                    y,
                );
                None
            }
        }
    }

    pub(super) fn text_leaf(&mut self, y: Yaml<'_>, what: &str) -> Option<Spanned<String>> {
        match y.value() {
            Value::Str(s) => Some(Spanned::new(s.to_owned(), y.span())),
            Value::Int(_) | Value::Float(_) | Value::Bool(_) => {
                Some(Spanned::new(y.key_text().unwrap_or_default(), y.span()))
            }
            _ => {
                self.wrong_type(what, "a string", y);
                None
            }
        }
    }

    pub(super) fn var_name(&mut self, k: Yaml<'_>) -> Option<Spanned<String>> {
        let name = self.string(k, "a variable name")?;
        let ok = name
            .value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.err(
                Code::Fp003,
                name.span,
                format!(
                    "`{}` is not a valid variable name: use letters, digits and `_`",
                    name.value
                ),
            );
            return None;
        }
        if matches!(
            name.value.as_str(),
            "channel" | "language" | "tier" | "params"
        ) {
            self.err(
                Code::Fp003,
                name.span,
                format!(
                    "`{}` is a built-in variable and cannot be declared or set",
                    name.value
                ),
            );
            return None;
        }
        Some(name)
    }
}
