//! Pass 1, parse: the YAML reader's values become an [`ast::Script`].
//!
//! Every problem becomes a diagnostic at the offending key or value, and the
//! pass keeps going: a wrong value is dropped (or the node marked invalid) so
//! the rest of the file is still checked.
//!
//! The file is converted while it is read ([`yaml::read`] streams the root
//! mapping and its `nodes`): each node becomes a [`Node`] as soon as its YAML
//! is complete, so no tree of the whole file is ever built. Diagnostics are
//! kept in three lists and joined in the order a reader of the file expects:
//! YAML problems, then the top-level keys, then the nodes.

use super::split;
use crate::diagnostics::{Code, Diagnostic, FileId, Span, did_you_mean};
use crate::program::IdHash;
use crate::script::ast::{
    self, Answer, Arm, Escalation, EscalationDefaults, InputType, Node, NodeKind, Outcome, Scalar,
    Script, Spanned, Text,
};
use crate::script::yaml::{self, BuildProblem, Entries, Level, Value, Yaml};
use std::collections::HashSet;

pub const SCRIPT_KEYS: &[&str] = &[
    "id",
    "title",
    "languages",
    "tier",
    "offer_none",
    "escalation",
    "max_visits",
    "tags",
    "vars",
    "start",
    "nodes",
];
pub const KIND_KEYS: &[&str] = &[
    "ask", "say", "input", "branch", "resolve", "escalate", "use", "return",
];
const ASK_KEYS: &[&str] = &["ask", "say", "help", "answers"];
const SAY_KEYS: &[&str] = &["say", "help", "next"];
const INPUT_KEYS: &[&str] = &[
    "input", "help", "into", "next", "type", "pattern", "required", "hint", "invalid",
];
const BRANCH_KEYS: &[&str] = &["branch"];
const RESOLVE_KEYS: &[&str] = &["resolve", "help"];
const ESCALATE_KEYS: &[&str] = &["escalate", "help"];
const USE_KEYS: &[&str] = &["use", "next"];
const RETURN_KEYS: &[&str] = &["return"];
pub const ANSWER_KEYS: &[&str] = &[
    "label", "id", "set", "goto", "resolve", "escalate", "return",
];
const OUTCOME_KEYS: &[&str] = &["goto", "resolve", "escalate", "return"];
const ESCALATION_KEYS: &[&str] = &["reason", "tier", "queue"];

/// How many values one script file may hold after alias expansion, beyond
/// one per byte of text (no file can hold more values than bytes without
/// aliases): enough for any honest use of anchors, and an alias bomb is
/// stopped after a few megabytes.
pub const NODE_BUDGET: usize = 100_000;

/// Parses a file's text. Returns `None` when the file holds no usable script
/// (the reasons are in `diags`).
///
/// A big file is read in parts on all threads (see [`split`]) when it has the
/// usual shape; what comes out is what reading it whole gives.
pub fn parse(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Script> {
    // Two parts per thread, so a part that parses slower holds no one up;
    // with one thread, parts would only cost.
    let threads = rayon::current_num_threads();
    let parts = if threads > 1 { threads * 2 } else { 1 };
    parse_with(file, text, diags, parts, split::MIN_PART)
}

/// [`parse`], with files of at least two `min_part`s read in up to `parts`
/// parts (the tests cut small files too).
fn parse_with(
    file: FileId,
    text: &str,
    diags: &mut Vec<Diagnostic>,
    parts: usize,
    min_part: usize,
) -> Option<Script> {
    if let Some(parts) = split::plan(text, parts, min_part)
        && let Some(sink) = read_parts(file, text, &parts)
    {
        return sink.finish(diags);
    }
    parse_whole(file, text, diags)
}

/// Reads the parts of a file in parallel and joins them into one sink, or
/// `None` if any part is not exactly what reading the whole file would
/// have seen there (the caller then reads it whole).
fn read_parts(file: FileId, text: &str, parts: &[split::Part]) -> Option<ScriptSink> {
    use rayon::prelude::*;
    let budget = NODE_BUDGET + text.len();
    let mut outs: Vec<(Result<ScriptSink, BodySink>, yaml::Read)> = parts
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let part = &text[p.bytes.clone()];
            if i == 0 {
                let mut sink = ScriptSink::new(file);
                let read = yaml::read_at(part, p.base, budget, &mut sink);
                (Ok(sink), read)
            } else {
                let mut sink = BodySink::new(file);
                let read = yaml::read_at(part, p.base, budget, &mut sink);
                (Err(sink), read)
            }
        })
        .collect();
    let mut values = 0usize;
    for (_, read) in &outs {
        if read.aborted || !read.problems.is_empty() || read.anchors {
            return None;
        }
        values = values.saturating_add(read.values);
    }
    if values > budget {
        return None;
    }
    let bodies = outs.split_off(1);
    let (Ok(mut head), _) = outs.pop()? else {
        return None;
    };
    // The first part must be a script whose `nodes` mapping holds its first
    // entries, every other part a mapping of more entries; and every entry
    // must have become a node, so that the node ids are all the keys (for
    // the duplicate check below).
    let head_ok = head.root.as_ref().is_some_and(|r| r.is_map)
        && head.nodes_streamed
        && head.nodes_span.is_some()
        && head.node_entries > 0
        && head.node_entries == head.nodes.len();
    if !head_ok {
        return None;
    }
    let mut end = None;
    for (body, _) in bodies {
        let Err(mut body) = body else {
            return None;
        };
        let span = body
            .root
            .filter(|&(_, is_map)| is_map && body.entries > 0)?;
        if body.entries != body.nodes.len() {
            return None;
        }
        end = Some(span.0.end);
        head.node_entries += body.entries;
        head.nodes.append(&mut body.nodes);
        head.body.diags.append(&mut body.body.diags);
    }
    // Each part's reader reported the duplicate keys within it; a key
    // defined again in a later part is only seen here.
    let mut ids: HashSet<&str, IdHash> =
        HashSet::with_capacity_and_hasher(head.nodes.len(), IdHash::default());
    if !head.nodes.iter().all(|n| ids.insert(&n.id.value)) {
        return None;
    }
    // Read whole, `nodes` and the root end where the last part ends.
    let end = end?;
    if let Some(r) = head.root.as_mut() {
        r.span.end = end;
    }
    if let Some(s) = head.nodes_span.as_mut() {
        s.end = end;
    }
    Some(head)
}

/// Reads a file's text in one piece.
fn parse_whole(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Script> {
    let mut sink = ScriptSink::new(file);
    let read = yaml::read(text, NODE_BUDGET + text.len(), &mut sink);
    for p in read.problems {
        diags.push(match p {
            BuildProblem::Syntax { span, message } => {
                let e = super::syntax::explain(text, span, &message);
                let mut d = Diagnostic::new(Code::Fp001, file, e.span, e.message);
                d.hints = e.hints;
                d
            }
            BuildProblem::DuplicateKey { key, span, first } => {
                Diagnostic::new(Code::Fp004, file, span, format!("duplicate key `{key}`"))
                    .with_label("defined again here")
                    .with_related(first, format!("`{key}` first defined here"))
            }
        });
    }
    if read.aborted || sink.root.is_none() {
        if !diags
            .iter()
            .any(|d| d.file == file && d.code == Code::Fp001)
        {
            diags.push(Diagnostic::new(
                Code::Fp003,
                file,
                Span::FILE,
                "the file is empty (nothing but blank lines or comments); a script needs `id`, `title` and `nodes`",
            ));
        }
        return None;
    }
    sink.finish(diags)
}

/// The root of the document as far as the script needs it.
struct Root {
    span: Span,
    is_map: bool,
}

/// Builds the script from what the reader hands over: top-level entries one
/// by one, and each entry of `nodes` as soon as it is complete.
struct ScriptSink {
    /// Diagnostics of the top-level keys.
    top: Parser,
    /// Diagnostics of `nodes` and its entries, reported after the top level.
    body: Parser,
    root: Option<Root>,
    id: Option<Spanned<String>>,
    has_id: bool,
    title: Option<Text>,
    has_title: bool,
    languages: Vec<Spanned<String>>,
    /// The list under a misspelt `languages` (reported as FP002): the
    /// languages the author meant, so the texts are not all reported as
    /// naming unlisted ones.
    meant_languages: Vec<Spanned<String>>,
    tier: u8,
    offer_none: bool,
    escalation: EscalationDefaults,
    max_visits: u32,
    tags: Vec<String>,
    vars: Vec<(Spanned<String>, Scalar)>,
    start: Option<Spanned<String>>,
    /// The span of `nodes`' value, once its entry is complete.
    nodes_span: Option<Span>,
    /// `nodes` is a mapping whose entries come one by one.
    nodes_streamed: bool,
    /// Entries of a streamed `nodes` (converted or not).
    node_entries: usize,
    nodes: Vec<Node>,
}

impl ScriptSink {
    fn new(file: FileId) -> Self {
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
    fn nodes_whole(&mut self, v: Yaml<'_>) {
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

    fn nodes_empty(&mut self, span: Span) {
        self.body.err(
            Code::Fp003,
            span,
            "`nodes` is empty; a script needs at least one node",
        );
    }

    fn finish(mut self, diags: &mut Vec<Diagnostic>) -> Option<Script> {
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
    fn top_entry(&mut self, k: Yaml<'_>, v: Yaml<'_>) {
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
                            _ => p.unknown_key(ek, "`escalation`", &["tier", "queue"]),
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
struct BodySink {
    body: Parser,
    nodes: Vec<Node>,
    /// Entries read (converted or not).
    entries: usize,
    /// The part's root value: its span, and whether it is a mapping.
    root: Option<(Span, bool)>,
}

impl BodySink {
    fn new(file: FileId) -> Self {
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

/// Converts values to the typed mirror, collecting diagnostics.
struct Parser {
    file: FileId,
    diags: Vec<Diagnostic>,
}

impl Parser {
    fn new(file: FileId) -> Self {
        Parser {
            file,
            diags: Vec::new(),
        }
    }

    fn err(&mut self, code: Code, span: Span, message: impl Into<String>) -> &mut Diagnostic {
        self.diags
            .push(Diagnostic::new(code, self.file, span, message));
        self.diags.last_mut().expect("just pushed")
    }

    fn wrong_type(&mut self, what: &str, expected: &str, y: Yaml<'_>) {
        self.err(
            Code::Fp003,
            y.span(),
            format!("{what} must be {expected}, found {}", y.type_name()),
        );
    }

    fn unknown_key(&mut self, key: Yaml<'_>, where_: &str, known: &[&str]) {
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

    fn map<'t>(&mut self, y: Yaml<'t>, what: &str) -> Option<Entries<'t>> {
        match y.value() {
            Value::Map(entries) => Some(entries),
            _ => {
                self.wrong_type(what, "a mapping", y);
                None
            }
        }
    }

    fn string(&mut self, y: Yaml<'_>, what: &str) -> Option<Spanned<String>> {
        match y.value() {
            Value::Str(s) => Some(Spanned::new(s.to_owned(), y.span())),
            _ => {
                self.wrong_type(what, "a string", y);
                None
            }
        }
    }

    fn id(&mut self, y: Yaml<'_>, what: &str) -> Option<Spanned<String>> {
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
    fn reference(&mut self, y: Yaml<'_>, what: &str) -> Option<Spanned<String>> {
        match y.value() {
            Value::Str(s) => Some(Spanned::new(s.to_owned(), y.span())),
            Value::Int(i) => Some(Spanned::new(i.to_string(), y.span())),
            _ => {
                self.wrong_type(what, "a node id", y);
                None
            }
        }
    }

    fn int_in(&mut self, y: Yaml<'_>, what: &str, lo: i64, hi: i64) -> Option<i64> {
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

    fn bool(&mut self, y: Yaml<'_>, what: &str) -> Option<bool> {
        match y.value() {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(what, "`true` or `false`", y);
                None
            }
        }
    }

    fn scalar(&mut self, y: Yaml<'_>, what: &str) -> Option<Scalar> {
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

    fn text(&mut self, y: Yaml<'_>, what: &str) -> Option<Text> {
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

    fn text_leaf(&mut self, y: Yaml<'_>, what: &str) -> Option<Spanned<String>> {
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

    fn var_name(&mut self, k: Yaml<'_>) -> Option<Spanned<String>> {
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

    fn node(&mut self, key: Yaml<'_>, body: Yaml<'_>) -> Option<Node> {
        let id = self.id(key, "the node id")?;
        let entries = match body.value() {
            Value::Map(entries) => entries,
            _ => {
                self.wrong_type(&format!("node `{}`", id.value), "a mapping", body);
                return Some(Node {
                    id,
                    kind: NodeKind::Invalid,
                    help: None,
                    span: body.span(),
                });
            }
        };
        // `say` beside `ask` is the question's preamble, not a second kind.
        // Keys are unique, so a node has at most one of each kind key.
        let has_ask = entries.iter().any(|(k, _)| k.as_str() == Some("ask"));
        let mut kinds_buf: [Option<Yaml<'_>>; KIND_KEYS.len()] = [None; KIND_KEYS.len()];
        let mut n_kinds = 0;
        for (k, _) in entries.iter() {
            if let Some(s) = k.as_str()
                && KIND_KEYS.contains(&s)
                && !(s == "say" && has_ask)
                && n_kinds < kinds_buf.len()
            {
                kinds_buf[n_kinds] = Some(k);
                n_kinds += 1;
            }
        }
        let kinds: &[Option<Yaml<'_>>] = &kinds_buf[..n_kinds];
        if kinds.len() != 1 {
            let span = match kinds.get(1) {
                Some(Some(k)) => k.span(),
                _ => key.span(),
            };
            let msg = if kinds.is_empty() {
                format!("node `{}` has no kind key", id.value)
            } else {
                let names: Vec<String> = kinds
                    .iter()
                    .flatten()
                    .map(|k| format!("`{}`", k.as_str().unwrap_or("")))
                    .collect();
                format!(
                    "node `{}` has more than one kind key: {}",
                    id.value,
                    names.join(" and ")
                )
            };
            let d = self.err(Code::Fp006, span, msg);
            d.hints.push("a node has exactly one of `ask`, `say`, `input`, `branch`, `resolve`, `escalate`, `use`, `return`".into());
            if kinds.is_empty() {
                // A misspelled kind key is the likeliest cause: suggest it.
                for (k, _) in entries.iter() {
                    if let Some(s) = k.as_str()
                        && let Some(kk) = did_you_mean(s, KIND_KEYS.iter().copied())
                    {
                        d.hints
                            .push(format!("`{s}` is not a kind key; did you mean `{kk}`?"));
                    }
                }
            }
            return Some(Node {
                id,
                kind: NodeKind::Invalid,
                help: None,
                span: body.span(),
            });
        }
        let kind_name = kinds[0].and_then(|k| k.as_str()).unwrap_or("");
        let allowed = match kind_name {
            "ask" => ASK_KEYS,
            "say" => SAY_KEYS,
            "input" => INPUT_KEYS,
            "branch" => BRANCH_KEYS,
            "resolve" => RESOLVE_KEYS,
            "escalate" => ESCALATE_KEYS,
            "use" => USE_KEYS,
            _ => RETURN_KEYS,
        };
        let mut help = None;
        for (k, v) in entries.iter() {
            let name = k.as_str().unwrap_or("");
            if !allowed.contains(&name) {
                if k.as_str().is_some_and(|s| {
                    ASK_KEYS.contains(&s) || INPUT_KEYS.contains(&s) || USE_KEYS.contains(&s)
                }) {
                    self.err(
                        Code::Fp002,
                        k.span(),
                        format!(
                            "`{name}` does not belong in {} `{kind_name}` node",
                            article(kind_name)
                        ),
                    )
                    .hints
                    .push(format!(
                        "{} `{kind_name}` node takes: {}",
                        article(kind_name),
                        allowed.join(", ")
                    ));
                } else {
                    self.unknown_key(
                        k,
                        &format!("{} `{kind_name}` node", article(kind_name)),
                        allowed,
                    );
                }
            } else if name == "help" {
                help = self.text(v, "`help`");
            }
        }
        let get = |name: &str| body.get(name);
        let nid: &str = &id.value;
        let kind = match kind_name {
            "ask" => {
                let ask = get("ask").and_then(|v| self.text(v, "`ask`"));
                let say = get("say").and_then(|v| self.text(v, "`say`"));
                let mut answers = Vec::new();
                match get("answers") {
                    None => {
                        self.err(Code::Fp007, key.span(), format!("question `{nid}` has no answers"))
                            .hints
                            .push("add `answers:` with at least one answer, or make it a `say` with `next`".into());
                    }
                    Some(a) => match a.value() {
                        Value::Seq(items) if items.is_empty() => {
                            self.err(
                                Code::Fp007,
                                a.span(),
                                format!("question `{nid}` has no answers"),
                            );
                        }
                        Value::Seq(items) => {
                            for (i, item) in items.iter().enumerate() {
                                if let Some(ans) = self.answer(item, i) {
                                    answers.push(ans);
                                }
                            }
                        }
                        Value::Null => {
                            self.err(
                                Code::Fp007,
                                a.span(),
                                format!("question `{nid}` has no answers"),
                            );
                        }
                        _ => self.wrong_type("`answers`", "a list", a),
                    },
                }
                match ask {
                    Some(ask) => NodeKind::Ask { ask, say, answers },
                    None => NodeKind::Invalid,
                }
            }
            "say" => {
                let say = get("say").and_then(|v| self.text(v, "`say`"));
                let next = self.required_next(body, key, "a `say` node", nid);
                match say {
                    Some(say) => NodeKind::Say { say, next },
                    None => NodeKind::Invalid,
                }
            }
            "input" => {
                let input = get("input").and_then(|v| self.text(v, "`input`"));
                let into = match get("into") {
                    Some(v) => self.var_name(v),
                    None => {
                        self.err(
                            Code::Fp003,
                            key.span(),
                            format!("input `{nid}` has no `into`"),
                        )
                        .hints
                        .push("name the variable that stores the value: `into: serial`".into());
                        None
                    }
                };
                let next = self.required_next(body, key, "an `input` node", nid);
                let kind = match get("type") {
                    None => InputType::Text,
                    Some(v) => match v.as_str().and_then(InputType::parse) {
                        Some(t) => t,
                        None => {
                            let found = v.key_text().unwrap_or_default();
                            let hint = did_you_mean(&found, InputType::NAMES.iter().copied());
                            self.err(Code::Fp003, v.span(), format!("`type` must be one of text, number, email, phone, found `{found}`"))
                                .hints
                                .extend(hint.map(|h| format!("did you mean `{h}`?")));
                            InputType::Text
                        }
                    },
                };
                let pattern = get("pattern").and_then(|v| self.string(v, "`pattern`"));
                let required = get("required")
                    .and_then(|v| self.bool(v, "`required`"))
                    .unwrap_or(true);
                let hint = get("hint").and_then(|v| self.text(v, "`hint`"));
                let invalid = get("invalid").and_then(|v| self.text(v, "`invalid`"));
                match input {
                    Some(input) => NodeKind::Input {
                        input,
                        into,
                        next,
                        kind,
                        pattern,
                        required,
                        hint,
                        invalid,
                    },
                    None => NodeKind::Invalid,
                }
            }
            "branch" => self.branch(get("branch").expect("kind key present"), nid),
            "resolve" => match self.text(get("resolve").expect("kind key present"), "`resolve`") {
                Some(t) => NodeKind::Resolve(t),
                None => NodeKind::Invalid,
            },
            "escalate" => match self.escalation(get("escalate").expect("kind key present")) {
                Some(e) => NodeKind::Escalate(e),
                None => NodeKind::Invalid,
            },
            "use" => {
                let script = self.id(
                    get("use").expect("kind key present"),
                    "the script id in `use`",
                );
                let next = self.required_next(body, key, "a `use` node", nid);
                match script {
                    Some(script) => NodeKind::Use { script, next },
                    None => NodeKind::Invalid,
                }
            }
            _ => match self.text(get("return").expect("kind key present"), "`return`") {
                Some(t) => NodeKind::Return(t),
                None => NodeKind::Invalid,
            },
        };
        Some(Node {
            id,
            kind,
            help,
            span: body.span(),
        })
    }

    /// The `next` of a `say`, `input` or `use` node.
    fn required_next(
        &mut self,
        body: Yaml<'_>,
        key: Yaml<'_>,
        what: &str,
        nid: &str,
    ) -> Option<Spanned<String>> {
        match body.get("next") {
            Some(v) => self.reference(v, "`next`"),
            None => {
                self.err(
                    Code::Fp003,
                    key.span(),
                    format!("{what} needs `next`; `{nid}` has none"),
                )
                .hints
                .push("add `next: NODE-ID` naming the node that comes after it".into());
                None
            }
        }
    }

    fn branch(&mut self, y: Yaml<'_>, nid: &str) -> NodeKind {
        let Value::Seq(items) = y.value() else {
            self.wrong_type(
                "`branch`",
                "a list of `{if: EXPR, goto: NODE}` ending with `{else: NODE}`",
                y,
            );
            return NodeKind::Invalid;
        };
        let mut arms = Vec::new();
        let mut otherwise = None;
        for (i, item) in items.iter().enumerate() {
            let Some(entries) = self.map(item, "a branch item") else {
                continue;
            };
            let is_last = i + 1 == items.len();
            if let Some(e) = item.get("else") {
                for (k, _) in entries.iter() {
                    if k.as_str() != Some("else") {
                        self.unknown_key(k, "an `else` item", &["else"]);
                    }
                }
                if !is_last {
                    self.err(
                        Code::Fp010,
                        e.span(),
                        "`else` must be the last item of a `branch`",
                    )
                    .hints
                    .push("move it to the end; the items after it would never be tried".into());
                }
                if otherwise.is_some() {
                    self.err(Code::Fp010, e.span(), "a `branch` has only one `else`");
                }
                otherwise = self.reference(e, "`else`");
                continue;
            }
            for (k, _) in entries.iter() {
                if !matches!(k.as_str(), Some("if" | "goto")) {
                    self.unknown_key(k, "a branch item", &["if", "goto", "else"]);
                }
            }
            let cond = match item.get("if") {
                Some(c) => match c.value() {
                    Value::Str(s) => Some(Spanned::new(s.to_owned(), c.span())),
                    Value::Bool(b) => Some(Spanned::new(b.to_string(), c.span())),
                    _ => {
                        self.wrong_type("`if`", "an expression", c);
                        None
                    }
                },
                None => {
                    self.err(
                        Code::Fp003,
                        item.span(),
                        "a branch item needs `if` and `goto`, or `else`",
                    );
                    None
                }
            };
            let goto = match item.get("goto") {
                Some(g) => self.reference(g, "`goto`"),
                None => {
                    if cond.is_some() {
                        self.err(
                            Code::Fp003,
                            item.span(),
                            "this branch item has `if` but no `goto`",
                        );
                    }
                    None
                }
            };
            if let (Some(condition), Some(goto)) = (cond, goto) {
                arms.push(Arm { condition, goto });
            }
        }
        if otherwise.is_none() {
            let d = self.err(
                Code::Fp010,
                y.span(),
                format!("branch `{nid}` has no final `else`"),
            );
            d.label = Some("this list needs an `else` at its end".into());
            d.hints.push(
                "end the list with `- else: NODE-ID`, the node to go to when no condition holds"
                    .into(),
            );
        }
        NodeKind::Branch { arms, otherwise }
    }

    fn escalation(&mut self, y: Yaml<'_>) -> Option<Escalation> {
        if let Value::Map(entries) = y.value() {
            let structured = !entries.is_empty()
                && entries
                    .iter()
                    .all(|(k, _)| k.as_str().is_some_and(|s| ESCALATION_KEYS.contains(&s)));
            if structured {
                let mut e = Escalation {
                    span: y.span(),
                    ..Escalation::default()
                };
                for (k, v) in entries.iter() {
                    match k.as_str() {
                        Some("reason") => e.reason = self.text(v, "`reason`"),
                        Some("tier") => e.tier = self.int_in(v, "`tier`", 1, 4).map(|t| t as u8),
                        _ => e.queue = self.string(v, "`queue`").map(|s| s.value),
                    }
                }
                return Some(e);
            }
        }
        let reason = self.text(y, "`escalate`")?;
        Some(Escalation {
            reason: Some(reason),
            tier: None,
            queue: None,
            span: y.span(),
        })
    }

    fn outcome(&mut self, key: &str, v: Yaml<'_>) -> Option<Outcome> {
        Some(match key {
            "goto" => Outcome::Goto(self.reference(v, "`goto`")?),
            "resolve" => Outcome::Resolve(self.text(v, "`resolve`")?),
            "escalate" => Outcome::Escalate(Box::new(self.escalation(v)?)),
            _ => Outcome::Return(self.text(v, "`return`")?),
        })
    }

    fn answer(&mut self, y: Yaml<'_>, index: usize) -> Option<Answer> {
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
    fn answer_body(
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
                    let known: &[&str] = if long {
                        ANSWER_KEYS
                    } else {
                        &["id", "set", "goto", "resolve", "escalate", "return"]
                    };
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

    fn default_answer_id(&mut self, label: &Text, span: Span, index: usize) -> Spanned<String> {
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

/// "a" or "an" before a node kind, as people write it.
fn article(kind: &str) -> &'static str {
    if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The editor's schema offers exactly the keys the parser reads, node
    /// kind by node kind.
    #[test]
    fn the_schema_knows_every_node_key() {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schema/fixpath-script.schema.json"))
                .expect("the schema is JSON");
        for (kind, keys) in [
            ("askNode", ASK_KEYS),
            ("sayNode", SAY_KEYS),
            ("inputNode", INPUT_KEYS),
            ("branchNode", BRANCH_KEYS),
            ("resolveNode", RESOLVE_KEYS),
            ("escalateNode", ESCALATE_KEYS),
            ("useNode", USE_KEYS),
            ("returnNode", RETURN_KEYS),
        ] {
            let props = schema["$defs"][kind]["properties"]
                .as_object()
                .unwrap_or_else(|| panic!("{kind} has properties"));
            let mut in_schema: Vec<&str> = props.keys().map(String::as_str).collect();
            let mut parsed: Vec<&str> = keys.to_vec();
            in_schema.sort_unstable();
            parsed.sort_unstable();
            assert_eq!(in_schema, parsed, "{kind}");
        }
    }

    /// A small deterministic generator (splitmix64).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// A script whose nodes use most of YAML's ways of writing a value:
    /// plain, quoted and multi-line strings, block scalars, flow
    /// collections over several lines, comments, non-ASCII text.
    fn varied_script(rng: &mut Rng, nodes: usize) -> String {
        let mut s = String::from(
            "# A generated script\nid: varied\ntitle: { en: \"Varied\", nl: Gevarieerd }\nlanguages: [en, nl]\nvars:\n  attempts: 0\nstart: n0\nnodes:\n",
        );
        for i in 0..nodes {
            let next = if i + 1 < nodes {
                format!("n{}", i + 1)
            } else {
                "done".into()
            };
            if rng.below(5) == 0 {
                s.push_str("# a comment at column 0\n");
            }
            match rng.below(7) {
                0 => s.push_str(&format!(
                    "  n{i}:\n    ask: \"Is the light\n      on at step {i}?\"\n    answers:\n      - Yes: {next}\n      - No: {{ escalate: \"Stuck at {i}\" }}\n"
                )),
                1 => s.push_str(&format!(
                    "  n{i}:\n    say: |\n      Unplug it.\n\n      Wait {i} seconds — ждите.\n    help: >-\n      Folded\n      help {i}\n    next: {next}\n"
                )),
                2 => s.push_str(&format!(
                    "  n{i}:   # trailing comment\n    ask: {{ en: 'Is it ''on''? {i}',\n           nl: 'Staat het aan? {i}' }}\n    answers: [ {{ label: {{ en: Yes, nl: Ja }}, goto: {next} }},\n               {{ label: {{ en: No, nl: Nee }}, resolve: Fine }} ]\n"
                )),
                3 => s.push_str(&format!(
                    "  n{i}:\n    input: Serial {i}\n    into: serial\n    pattern: '^[A-Z]{{2}}\\d+$'\n    next: {next}\n"
                )),
                4 => s.push_str(&format!(
                    "  n{i}:\n    branch:\n      - if: attempts > {i}\n        goto: {next}\n      - else: {next}\n"
                )),
                5 => s.push_str(&format!(
                    "  n{i}:\n    say: a plain text\n      that goes on {i}\n    next: {next}\n\n"
                )),
                _ => s.push_str(&format!(
                    "  n{i}:\n    ask: Keep going? {i}\n    answers:\n      - label: Yes\n        set: {{ attempts: \"{{{{ attempts + 1 }}}}\" }}\n        goto: {next}\n      - No: done\n"
                )),
            }
        }
        s.push_str("  done:\n    resolve: |+\n      Solved.\n\n");
        s
    }

    /// Small edits with YAML's significant characters.
    fn mutate(rng: &mut Rng, text: &str) -> String {
        const BITS: &[&str] = &[
            "\"",
            "'",
            "[",
            "]",
            "{",
            "}",
            "|",
            ">",
            "#",
            ":",
            ": ",
            "-",
            " ",
            "  ",
            "\n",
            "\n  ",
            "&a ",
            "*a",
            "\t",
            "?",
            "\r",
            "\r\n",
            "---\n",
            "\u{feff}",
            "é",
            ",",
            "\nnodes:\n",
            "\n  n1:\n",
            "\nx: 1\n",
        ];
        let mut bytes = text.as_bytes().to_vec();
        for _ in 0..1 + rng.below(3) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(3) {
                0 => {
                    let bit = BITS[rng.below(BITS.len())].as_bytes();
                    bytes.splice(at..at, bit.iter().copied());
                }
                1 if at < bytes.len() => {
                    let to = (at + 1 + rng.below(8)).min(bytes.len());
                    bytes.drain(at..to);
                }
                _ if at < bytes.len() => {
                    let bit = BITS[rng.below(BITS.len())].as_bytes();
                    let to = (at + bit.len()).min(bytes.len());
                    bytes.splice(at..to, bit.iter().copied());
                }
                _ => {}
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// What reading `text` gives: the script and the diagnostics.
    fn reading(text: &str, min_part: Option<usize>) -> (Option<Script>, Vec<String>) {
        let mut diags = Vec::new();
        let s = match min_part {
            Some(m) => parse_with(FileId(0), text, &mut diags, 4, m),
            None => parse_whole(FileId(0), text, &mut diags),
        };
        (s, diags.iter().map(|d| format!("{d:?}")).collect())
    }

    const MIN_PART: usize = 512;

    /// Fails with where two readings first differ (they are long).
    fn assert_same(
        parts: &(Option<Script>, Vec<String>),
        whole: &(Option<Script>, Vec<String>),
        text: &str,
    ) {
        if parts == whole {
            return;
        }
        let (a, b) = (format!("{parts:?}"), format!("{whole:?}"));
        let at = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
        let from = a[..at].char_indices().rev().nth(300).map_or(0, |(i, _)| i);
        let window = |s: &str| s[from..].chars().take(600).collect::<String>();
        panic!(
            "read in parts:\n{}\n\nread whole:\n{}\n\nthe file:\n{text}",
            window(&a),
            window(&b)
        );
    }

    #[test]
    fn a_file_read_in_parts_gives_what_reading_it_whole_gives() {
        let mut rng = Rng(7);
        let mut split = 0;
        for round in 0..60 {
            let n = 20 + rng.below(60);
            let text = varied_script(&mut rng, n);
            let text = if round % 5 == 4 {
                text.replace('\n', "\r\n")
            } else {
                text
            };
            let parts = split::plan(&text, 4, MIN_PART);
            split += usize::from(parts.as_ref().is_some_and(|p| {
                let sink = read_parts(FileId(0), &text, p);
                sink.is_some()
            }));
            let whole = reading(&text, None);
            assert!(whole.0.is_some(), "{:#?}\n{text}", whole.1);
            assert_same(&reading(&text, Some(MIN_PART)), &whole, &text);
        }
        // Nearly every clean file is read in parts.
        assert!(split >= 50, "only {split} of 60 were read in parts");
    }

    #[test]
    fn nesting_in_a_later_part_meets_the_depth_limit_where_it_does_whole() {
        let mut rng = Rng(3);
        let text = varied_script(&mut rng, 60);
        let at = text.find("  done:").expect("the last node");
        // The file's root, `nodes` and the node enclose `say`'s lists: 125
        // of them are the deepest allowed, 126 are one too many.
        for depth in [124, 125, 126, 127] {
            let deep = format!(
                "  deep:\n    say: {}{}\n    next: done\n",
                "[".repeat(depth),
                "]".repeat(depth)
            );
            let text = format!("{}{deep}{}", &text[..at], &text[at..]);
            let parts = split::plan(&text, 4, MIN_PART).expect("a plan");
            assert!(parts.last().is_some_and(|p| p.bytes.start < at));
            let whole = reading(&text, None);
            let too_deep = whole.1.iter().any(|d| d.contains("nesting deeper"));
            assert_eq!(too_deep, depth > 125, "{:#?}", whole.1);
            assert_same(&reading(&text, Some(MIN_PART)), &whole, &text);
        }
    }

    #[test]
    fn a_mutated_file_read_in_parts_gives_what_reading_it_whole_gives() {
        let rounds: usize = std::env::var("FIXPATH_SPLIT_ROUNDS")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(1000);
        let seed = std::env::var("FIXPATH_SPLIT_SEED")
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(11);
        let mut rng = Rng(seed);
        let base: Vec<String> = (0..8)
            .map(|_| {
                let n = 30 + rng.below(40);
                varied_script(&mut rng, n)
            })
            .collect();
        let (mut split, mut broken) = (0, 0);
        for _ in 0..rounds {
            let pick = rng.below(base.len());
            let text = mutate(&mut rng, &base[pick]);
            let whole = reading(&text, None);
            let parts = split::plan(&text, 4, MIN_PART);
            if parts.is_some_and(|p| read_parts(FileId(0), &text, &p).is_some()) {
                split += 1;
                broken += usize::from(!whole.1.is_empty());
            }
            assert_same(&reading(&text, Some(MIN_PART)), &whole, &text);
        }
        // The comparison means something only if many mutated files were
        // read in parts, some of them with diagnostics. (Most edits break
        // the YAML or the plan, and those files are read whole.)
        assert!(split > rounds / 6, "{split} of {rounds} read in parts");
        assert!(broken > 0, "no mutated file read in parts had a diagnostic");
    }
}
