//! The answers of an `ask` node.

use super::values::Parser;
use super::*;
use crate::script::ast::{self, Answer, Outcome, Spanned, Text};
use crate::script::yaml::{Entries, Value, Yaml};

impl Parser {
    pub(super) fn outcome(&mut self, key: &str, v: Yaml<'_>) -> Option<Outcome> {
        Some(match key {
            "goto" => Outcome::Goto(self.reference(v, "`goto`")?),
            "resolve" => Outcome::Resolve(self.text(v, "`resolve`")?),
            "escalate" => Outcome::Escalate(Box::new(self.escalation(v)?)),
            _ => Outcome::Return(self.text(v, "`return`")?),
        })
    }

    pub(super) fn answer(&mut self, y: Yaml<'_>, index: usize) -> Option<Answer> {
        let entries = match y.value() {
            Value::Map(e) => e,
            Value::Str(_) | Value::Int(_) => {
                self.err(
                    Code::Fp003,
                    y.span(),
                    "an answer needs a target: write `- LABEL: NODE-ID` or give `label` and `goto`",
                )
                .hints
                .push(format!(
                    "for example `- {}: next-node`",
                    y.key_text().unwrap_or_default()
                ));
                return None;
            }
            _ => {
                self.wrong_type("an answer", "a mapping", y);
                return None;
            }
        };
        let long = y.get("label").is_some()
            || entries.len() != 1
            || entries
                .iter()
                .any(|(k, _)| k.as_str().is_some_and(|s| ANSWER_KEYS.contains(&s)));
        if !long {
            // Short form: `LABEL: NODE-ID` or `LABEL: { escalate: ..., set: ..., id: ... }`.
            let (k, v) = entries.first()?;
            let Some(label_text) = k.key_text() else {
                self.wrong_type("an answer label", "a string", k);
                return None;
            };
            let label = Text::Plain(Spanned::new(label_text, k.span()));
            return match v.value() {
                Value::Map(body) => {
                    let mut ans = self.answer_body(label, y, body, k.span(), index, false);
                    ans.span = y.span();
                    Some(ans)
                }
                Value::Str(_) | Value::Int(_) => {
                    let target = self.reference(v, "the answer's target")?;
                    let id = self.default_answer_id(&label, k.span(), index);
                    Some(Answer {
                        label,
                        id,
                        explicit_id: false,
                        short: true,
                        set: Vec::new(),
                        outcome: Some(Outcome::Goto(target)),
                        span: y.span(),
                    })
                }
                Value::Null => {
                    self.err(
                        Code::Fp003,
                        v.span(),
                        "this answer leads nowhere: give the node id after the colon",
                    )
                    .hints
                    .push("for example `- Yes: next-node`".into());
                    None
                }
                _ => {
                    self.wrong_type(
                        "an answer's target",
                        "a node id or a mapping such as `{ escalate: REASON }`",
                        v,
                    );
                    None
                }
            };
        }
        let label = match y.get("label") {
            Some(l) => self.text(l, "`label`")?,
            None => {
                // A misspelt key is the likelier mistake: name it, and say
                // the label is missing only when no key could be the label.
                let mut label_like = false;
                for (k, _) in entries.iter() {
                    if k.as_str().is_some_and(|s| ANSWER_KEYS.contains(&s)) {
                        continue;
                    }
                    label_like |= k.key_text().is_some_and(|t| {
                        did_you_mean(&t, ANSWER_KEYS.iter().copied()) == Some("label")
                    });
                    self.unknown_key(k, "an answer", ANSWER_KEYS);
                }
                if !label_like {
                    self.err(Code::Fp003, y.span(), "this answer has no `label`")
                        .hints
                        .push(
                            "give it one: `label: Yes`, or write it short: `- Yes: NODE-ID`".into(),
                        );
                }
                return None;
            }
        };
        let label_span = y.get("label").map(|l| l.span()).unwrap_or(y.span());
        Some(self.answer_body(label, y, entries, label_span, index, true))
    }

    /// The body of an answer (long form, or the mapping of a short form).
    pub(super) fn answer_body(
        &mut self,
        label: Text,
        y: Yaml<'_>,
        body: Entries<'_>,
        label_span: Span,
        index: usize,
        long: bool,
    ) -> Answer {
        let mut id = None;
        let mut set = Vec::new();
        let mut outcomes: Vec<(Span, Outcome)> = Vec::new();
        for (k, v) in body.iter() {
            match k.as_str() {
                Some("label") if long => {}
                Some("id") => {
                    if let Some(s) = self.string(v, "the answer id") {
                        if s.value.starts_with('_') {
                            self.err(
                                Code::Fp003,
                                s.span,
                                format!("answer ids starting with `_` are reserved (`{}`)", s.value),
                            )
                            .hints
                            .push("`_none` and `_escalate` are the built-in \"None of these\" and \"Talk to a person\"".into());
                        } else if !ast::is_valid_id(&s.value) {
                            self.err(
                                Code::Fp003,
                                s.span,
                                format!("answer id `{}` is not a valid id", s.value),
                            )
                            .hints
                            .push("ids are lowercase letters, digits and `-`".into());
                        }
                        id = Some(s);
                    }
                }
                Some("set") => {
                    if let Some(m) = self.map(v, "`set`") {
                        for (sk, sv) in m.iter() {
                            let Some(name) = self.var_name(sk) else {
                                continue;
                            };
                            if let Some(val) = self.scalar(sv, "a value in `set`") {
                                set.push((name, Spanned::new(val, sv.span())));
                            }
                        }
                    }
                }
                Some(o) if OUTCOME_KEYS.contains(&o) => {
                    if let Some(out) = self.outcome(o, v) {
                        outcomes.push((k.span(), out));
                    }
                }
                _ => {
                    let known: &[&str] = if long { ANSWER_KEYS } else { SHORT_ANSWER_KEYS };
                    self.unknown_key(k, "an answer", known);
                }
            }
        }
        if outcomes.len() > 1 {
            self.err(Code::Fp003, outcomes[1].0, "an answer has exactly one of `goto`, `resolve`, `escalate`, `return`; this one has more");
        } else if outcomes.is_empty()
            && body
                .iter()
                .all(|(k, _)| k.as_str().is_none_or(|s| !OUTCOME_KEYS.contains(&s)))
        {
            self.err(Code::Fp003, y.span(), "this answer has no outcome")
                .hints
                .push("give it one of `goto: NODE-ID`, `resolve: TEXT`, `escalate: REASON`, `return: SUMMARY`".into());
        }
        let explicit_id = id.is_some();
        let id = id.unwrap_or_else(|| self.default_answer_id(&label, label_span, index));
        Answer {
            label,
            id,
            explicit_id,
            short: !long,
            set,
            outcome: outcomes.into_iter().next().map(|(_, o)| o),
            span: y.span(),
        }
    }

    pub(super) fn default_answer_id(
        &mut self,
        label: &Text,
        span: Span,
        index: usize,
    ) -> Spanned<String> {
        let text = match label {
            Text::Plain(s) => s.value.as_str(),
            Text::ByLanguage { entries, .. } => entries
                .first()
                .map(|(_, t)| t.value.as_str())
                .unwrap_or_default(),
        };
        let mut s = ast::slug(text);
        if s.is_empty() {
            s = format!("answer-{}", index + 1);
        }
        Spanned::new(s, span)
    }
}
