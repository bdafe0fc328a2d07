//! Texts, expressions and patterns, compiled as they are checked.

use super::*;

pub fn literal(s: &Scalar) -> Literal {
    match s {
        Scalar::Null => Literal::Null,
        Scalar::Bool(b) => Literal::Bool(*b),
        Scalar::Int(i) => Literal::Int(*i),
        Scalar::Float(f) => Literal::Float(*f),
        Scalar::Str(s) => Literal::Str(s.clone()),
    }
}

/// A minijinja error in words for an author.
pub(super) fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(d) => d.to_string(),
        None => err.kind().to_string(),
    }
}

pub(super) struct Ctx<'a, 'd> {
    pub(super) file: FileId,
    pub(super) langs: &'a [&'a str],
    pub(super) builder: &'a mut TemplatesBuilder,
    pub(super) diags: &'d mut Vec<Diagnostic>,
    pub(super) reads: Vec<(String, Span)>,
    pub(super) params: Vec<ParamUse>,
    /// Whose texts these are: a script's languages are its own, a reply's
    /// the library's.
    pub(super) owner: Owner,
}

/// Whose languages a text is checked against: the words FP013 uses.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Script,
    Reply,
}

impl Owner {
    /// "the script's" / "the library's"
    fn whose(self) -> &'static str {
        match self {
            Owner::Script => "the script's",
            Owner::Reply => "the library's",
        }
    }
}

impl Ctx<'_, '_> {
    pub(super) fn empty(&mut self) -> TextId {
        self.builder.push_text(vec![TextPiece::Literal("".into())])
    }

    pub(super) fn piece(&mut self, src: &ast::Spanned<String>, what: &str) -> TextPiece {
        match self.builder.compile_piece(&src.value) {
            Ok((piece, names)) => {
                self.reads.extend(names.into_iter().map(|n| (n, src.span)));
                piece
            }
            Err(err) => {
                self.diags.push(
                    Diagnostic::new(Code::Fp008, self.file, src.span, format!("{what} is not a valid template: {}", describe(&err)))
                        .with_label("invalid template")
                        .with_hint("variables are written `{{ name }}`; to show `{{` literally write `{{ \"{{\" }}`"),
                );
                TextPiece::Literal(src.value.as_str().into())
            }
        }
    }

    pub(super) fn text(&mut self, t: &Text, what: &str) -> TextId {
        // `help` and escalation reasons are for staff, who see the
        // session's params beside them; the customer reads the rest.
        if !STAFF_TEXTS.contains(&what) {
            let sources: Vec<&ast::Spanned<String>> = match t {
                Text::Plain(s) => vec![s],
                Text::ByLanguage { entries, .. } => entries.iter().map(|(_, s)| s).collect(),
            };
            for s in sources {
                self.params.extend(
                    crate::compiler::params::unguarded(&s.value)
                        .into_iter()
                        .map(|found| ParamUse {
                            found,
                            span: s.span,
                        }),
                );
            }
        }
        let pieces = match t {
            Text::Plain(s) => {
                if self.langs.len() > 1 {
                    self.diags.push(
                        Diagnostic::new(
                            Code::Fp013,
                            self.file,
                            s.span,
                            match self.owner {
                                Owner::Script => format!(
                                    "{what} gives one text, but the script lists the languages {}",
                                    list(self.langs)
                                ),
                                Owner::Reply => format!(
                                    "{what} gives one text, but the library's scripts speak {}",
                                    list(self.langs)
                                ),
                            },
                        )
                        .with_label("not translated")
                        .with_hint(format!(
                            "write it as a mapping: `{{ {}: ..., {}: ... }}`",
                            self.langs[0], self.langs[1]
                        )),
                    );
                }
                let p = self.piece(s, what);
                vec![p; self.langs.len()]
            }
            Text::ByLanguage { entries, span } => {
                for (l, _) in entries {
                    if !self.langs.contains(&l.value.as_str()) {
                        let hint = did_you_mean(&l.value, self.langs.iter().copied());
                        self.diags.push(
                            Diagnostic::new(
                                Code::Fp013,
                                self.file,
                                l.span,
                                format!(
                                    "`{}` is not one of {} languages ({})",
                                    l.value,
                                    self.owner.whose(),
                                    list(self.langs)
                                ),
                            )
                            .with_label("unlisted language")
                            .with_hint_opt(hint.map(|h| format!("did you mean `{h}`?")))
                            .with_hint(match self.owner {
                                Owner::Script => format!(
                                    "add `{}` to `languages`, or remove this text",
                                    l.value
                                ),
                                Owner::Reply => format!(
                                    "the library's languages are those its scripts list: add `{}` to the scripts' `languages`, or remove this text",
                                    l.value
                                ),
                            }),
                        );
                    }
                }
                let missing: Vec<&str> = self
                    .langs
                    .iter()
                    .copied()
                    .filter(|l| !entries.iter().any(|(k, _)| k.value == *l))
                    .collect();
                if !missing.is_empty() {
                    self.diags.push(
                        Diagnostic::new(
                            Code::Fp013,
                            self.file,
                            *span,
                            format!(
                                "{what} lacks the {} text{}",
                                list(&missing),
                                if missing.len() > 1 { "s" } else { "" }
                            ),
                        )
                        .with_label(format!("missing {}", list(&missing)))
                        .with_hint(format!(
                            "every text gives every language of {}: {}",
                            match self.owner {
                                Owner::Script => "the script",
                                Owner::Reply => "the library (the languages its scripts list)",
                            },
                            list(self.langs)
                        )),
                    );
                }
                let mut pieces = Vec::with_capacity(self.langs.len());
                for l in self.langs.iter().copied() {
                    let entry = entries
                        .iter()
                        .find(|(k, _)| k.value == l)
                        .or_else(|| entries.first());
                    pieces.push(match entry {
                        Some((_, s)) => self.piece(s, what),
                        None => TextPiece::Literal("".into()),
                    });
                }
                pieces
            }
        };
        self.builder.push_text(pieces)
    }

    pub(super) fn set_value(&mut self, v: &Scalar, span: Span) -> SetValue {
        match v {
            Scalar::Str(s) if crate::program::templates::is_template(s) => {
                let p = self.piece(&ast::Spanned::new(s.clone(), span), "this `set` value");
                SetValue::Template(self.builder.push_text(vec![p]))
            }
            other => SetValue::Literal(literal(other)),
        }
    }

    pub(super) fn escalation(&mut self, e: &ast::Escalation) -> program::Escalation {
        program::Escalation {
            reason: e
                .reason
                .as_ref()
                .map(|r| self.text(r, "the escalation reason")),
            tier: e.tier,
            queue: e.queue.clone(),
        }
    }

    pub(super) fn pattern(&mut self, p: &ast::Spanned<String>) -> Option<regex::Regex> {
        if let Some(r) = self.builder.patterns.get(&p.value) {
            return Some(r.clone());
        }
        let r = self.pattern_uncached(p)?;
        self.builder.patterns.insert(p.value.clone(), r.clone());
        Some(r)
    }

    pub(super) fn pattern_uncached(&mut self, p: &ast::Spanned<String>) -> Option<regex::Regex> {
        match regex::RegexBuilder::new(&p.value)
            .size_limit(1 << 20)
            .build()
        {
            Ok(r) => Some(r),
            Err(e) => {
                let msg = match &e {
                    regex::Error::Syntax(s) => s
                        .lines()
                        .last()
                        .unwrap_or("")
                        .trim()
                        .trim_start_matches("error: ")
                        .to_owned(),
                    other => other.to_string(),
                };
                self.diags.push(
                    Diagnostic::new(
                        Code::Fp003,
                        self.file,
                        p.span,
                        format!("`pattern` is not a valid regular expression: {msg}"),
                    )
                    .with_label("invalid pattern"),
                );
                None
            }
        }
    }
}

pub(super) fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
