//! The reader's sinks: what turns the streamed entries into a script.

use super::values::Parser;
use super::{ESCALATION_DEFAULT_KEYS, SCRIPT_KEYS};
use crate::diagnostics::{Code, Diagnostic, FileId, Span, did_you_mean};
use crate::script::ast::{EscalationDefaults, Node, Scalar, Script, Spanned, Text};
use crate::script::yaml::{self, Level, Value, Yaml};

/// The root of the document as far as the script needs it.
pub(super) struct Root {
    pub(super) span: Span,
    pub(super) is_map: bool,
}

/// Builds the script from what the reader hands over: top-level entries one
/// by one, and each entry of `nodes` as soon as it is complete.
pub(super) struct ScriptSink {
    /// Diagnostics of the top-level keys.
    pub(super) top: Parser,
    /// Diagnostics of `nodes` and its entries, reported after the top level.
    pub(super) body: Parser,
    pub(super) root: Option<Root>,
    pub(super) id: Option<Spanned<String>>,
    pub(super) has_id: bool,
    pub(super) title: Option<Text>,
    pub(super) has_title: bool,
    pub(super) languages: Vec<Spanned<String>>,
    /// The list under a misspelt `languages` (reported as FP002): the
    /// languages the author meant, so the texts are not all reported as
    /// naming unlisted ones.
    pub(super) meant_languages: Vec<Spanned<String>>,
    pub(super) tier: u8,
    pub(super) offer_none: bool,
    pub(super) escalation: EscalationDefaults,
    pub(super) max_visits: u32,
    pub(super) tags: Vec<String>,
    pub(super) vars: Vec<(Spanned<String>, Scalar)>,
    pub(super) start: Option<Spanned<String>>,
    /// The span of `nodes`' value, once its entry is complete.
    pub(super) nodes_span: Option<Span>,
    /// `nodes` is a mapping whose entries come one by one.
    pub(super) nodes_streamed: bool,
    /// Entries of a streamed `nodes` (converted or not).
    pub(super) node_entries: usize,
    pub(super) nodes: Vec<Node>,
}

impl ScriptSink {
    pub(super) fn new(file: FileId) -> Self {
        ScriptSink {
            top: Parser::new(file),
            body: Parser::new(file),
            root: None,
            id: None,
            has_id: false,
            title: None,
            has_title: false,
            languages: Vec::new(),
            meant_languages: Vec::new(),
            tier: 1,
            offer_none: true,
            escalation: EscalationDefaults::default(),
            max_visits: 3,
            tags: Vec::new(),
            vars: Vec::new(),
            start: None,
            nodes_span: None,
            nodes_streamed: false,
            node_entries: 0,
            nodes: Vec::new(),
        }
    }

    /// The value of `nodes`, when it did not come entry by entry.
    pub(super) fn nodes_whole(&mut self, v: Yaml<'_>) {
        match v.value() {
            Value::Map(entries) if !entries.is_empty() => {
                self.nodes.reserve_exact(entries.len());
                for (nk, nv) in entries.iter() {
                    if let Some(node) = self.body.node(nk, nv) {
                        self.nodes.push(node);
                    }
                }
            }
            Value::Map(_) => self.nodes_empty(v.span()),
            _ => self
                .body
                .wrong_type("`nodes`", "a mapping of node id to node", v),
        }
    }

    pub(super) fn nodes_empty(&mut self, span: Span) {
        self.body.err(
            Code::Fp003,
            span,
            "`nodes` is empty; a script needs at least one node",
        );
    }

    pub(super) fn finish(mut self, diags: &mut Vec<Diagnostic>) -> Option<Script> {
        let root = self.root?;
        if !root.is_map {
            diags.append(&mut self.top.diags);
            return None;
        }
        let mut missing = Vec::new();
        if self.id.is_none() && !self.has_id {
            missing.push("id");
        }
        if self.title.is_none() && !self.has_title {
            missing.push("title");
        }
        if self.nodes_span.is_none() {
            missing.push("nodes");
        }
        for m in missing {
            self.top
                .err(
                    Code::Fp003,
                    Span {
                        start: root.span.start,
                        end: root.span.start,
                    },
                    format!("the script has no `{m}`"),
                )
                .hints
                .push(format!("add `{m}:` at the top level"));
        }
        if self.languages.is_empty() {
            self.languages = std::mem::take(&mut self.meant_languages);
        }
        if self.languages.is_empty() {
            self.languages.push(Spanned::new("en".into(), Span::FILE));
        }
        diags.append(&mut self.top.diags);
        diags.append(&mut self.body.diags);
        let id = self.id?;
        self.nodes.shrink_to_fit();
        Some(Script {
            file: self.top.file,
            id,
            title: self.title,
            languages: self.languages,
            tier: self.tier,
            offer_none: self.offer_none,
            escalation: self.escalation,
            max_visits: self.max_visits,
            tags: self.tags,
            vars: self.vars,
            start: self.start,
            nodes: self.nodes,
            nodes_span: self.nodes_span.unwrap_or(root.span),
        })
    }

    /// One top-level entry other than `nodes`.
    pub(super) fn top_entry(&mut self, k: Yaml<'_>, v: Yaml<'_>) {
        let p = &mut self.top;
        match k.as_str() {
            Some("id") => {
                self.has_id = true;
                self.id = p.id(v, "the script id");
            }
            Some("title") => {
                self.has_title = true;
                self.title = p.text(v, "`title`");
            }
            Some("languages") => match v.value() {
                Value::Seq(items) => {
                    if items.is_empty() {
                        p.err(
                            Code::Fp003,
                            v.span(),
                            "`languages` must list at least one language",
                        );
                    }
                    for item in items.iter() {
                        if let Some(l) = p.string(item, "a language code") {
                            if self.languages.iter().any(|x| x.value == l.value) {
                                p.err(
                                    Code::Fp004,
                                    l.span,
                                    format!("language `{}` is listed twice", l.value),
                                );
                            } else {
                                self.languages.push(l);
                            }
                        }
                    }
                }
                _ => p.wrong_type("`languages`", "a list such as `[en, nl]`", v),
            },
            Some("tier") => self.tier = p.int_in(v, "`tier`", 1, 4).map(|t| t as u8).unwrap_or(1),
            Some("offer_none") => self.offer_none = p.bool(v, "`offer_none`").unwrap_or(true),
            Some("escalation") => {
                if let Some(m) = p.map(v, "`escalation`") {
                    for (ek, ev) in m.iter() {
                        match ek.as_str() {
                            Some("tier") => {
                                self.escalation.tier = p.int_in(ev, "`tier`", 1, 4).map(|t| t as u8)
                            }
                            Some("queue") => {
                                self.escalation.queue = p.string(ev, "`queue`").map(|s| s.value)
                            }
                            _ => p.unknown_key(ek, "`escalation`", ESCALATION_DEFAULT_KEYS),
                        }
                    }
                }
            }
            Some("max_visits") => {
                self.max_visits = p
                    .int_in(v, "`max_visits`", 1, u32::MAX as i64)
                    .map(|n| n as u32)
                    .unwrap_or(3)
            }
            Some("tags") => match v.value() {
                Value::Seq(items) => {
                    for item in items.iter() {
                        if let Some(t) = p.text_leaf(item, "a tag") {
                            self.tags.push(t.value);
                        }
                    }
                }
                _ => p.wrong_type("`tags`", "a list", v),
            },
            Some("vars") => {
                if let Some(m) = p.map(v, "`vars`") {
                    for (vk, vv) in m.iter() {
                        let Some(name) = p.var_name(vk) else {
                            continue;
                        };
                        if let Some(val) = p.scalar(vv, "a variable's default") {
                            self.vars.push((name, val));
                        }
                    }
                }
            }
            Some("start") => self.start = p.reference(v, "`start`"),
            _ => {
                p.unknown_key(k, "the script", SCRIPT_KEYS);
                let meant = k.key_text().is_some_and(|t| {
                    did_you_mean(&t, SCRIPT_KEYS.iter().copied()) == Some("languages")
                });
                if let (true, Value::Seq(items)) = (meant, v.value()) {
                    self.meant_languages = items
                        .iter()
                        .filter_map(|i| i.as_str().map(|l| Spanned::new(l.to_owned(), i.span())))
                        .collect();
                }
            }
        }
    }
}

impl yaml::Sink for ScriptSink {
    fn stream(&mut self, key: Option<Yaml<'_>>) -> bool {
        match key {
            None => true,
            Some(k) if k.as_str() == Some("nodes") => {
                self.nodes_streamed = true;
                true
            }
            Some(_) => false,
        }
    }

    fn entry(&mut self, level: Level, key: Yaml<'_>, value: Yaml<'_>) {
        match level {
            Level::Child => {
                self.node_entries += 1;
                if let Some(node) = self.body.node(key, value) {
                    self.nodes.push(node);
                }
            }
            Level::Root if key.as_str() == Some("nodes") => {
                self.nodes_span = Some(value.span());
                if !self.nodes_streamed {
                    self.nodes_whole(value);
                } else if self.node_entries == 0 {
                    self.nodes_empty(value.span());
                }
            }
            Level::Root => self.top_entry(key, value),
        }
    }

    fn root(&mut self, root: Yaml<'_>) {
        let is_map = matches!(root.value(), Value::Map(_));
        if !is_map {
            self.top.err(
                Code::Fp003,
                root.span(),
                format!(
                    "a script must be a mapping with `id`, `title` and `nodes`, found {}",
                    root.type_name()
                ),
            );
        }
        self.root = Some(Root {
            span: root.span(),
            is_map,
        });
    }
}

/// Receives a later part of a big file: a mapping of more `nodes` entries.
pub(super) struct BodySink {
    pub(super) body: Parser,
    pub(super) nodes: Vec<Node>,
    /// Entries read (converted or not).
    pub(super) entries: usize,
    /// The part's root value: its span, and whether it is a mapping.
    pub(super) root: Option<(Span, bool)>,
}

impl BodySink {
    pub(super) fn new(file: FileId) -> Self {
        BodySink {
            body: Parser::new(file),
            nodes: Vec::new(),
            entries: 0,
            root: None,
        }
    }
}

impl yaml::Sink for BodySink {
    fn stream(&mut self, key: Option<Yaml<'_>>) -> bool {
        // The part's root is (a piece of) `nodes`; a node is taken whole.
        key.is_none()
    }

    fn entry(&mut self, _level: Level, key: Yaml<'_>, value: Yaml<'_>) {
        self.entries += 1;
        if let Some(node) = self.body.node(key, value) {
            self.nodes.push(node);
        }
    }

    fn root(&mut self, root: Yaml<'_>) {
        self.root = Some((root.span(), matches!(root.value(), Value::Map(_))));
    }
}
