//! Nodes, one function per kind.

use super::values::Parser;
use super::*;
use crate::script::ast::{Arm, Escalation, InputType, Node, NodeKind, Spanned, Text};
use crate::script::yaml::{Entries, Value, Yaml};

impl Parser {
    pub(super) fn node(&mut self, key: Yaml<'_>, body: Yaml<'_>) -> Option<Node> {
        let id = self.id(key, "the node id")?;
        let invalid = |id| Node {
            id,
            kind: NodeKind::Invalid,
            help: None,
            span: body.span(),
        };
        let Value::Map(entries) = body.value() else {
            self.wrong_type(&format!("node `{}`", id.value), "a mapping", body);
            return Some(invalid(id));
        };
        let Some(kind_name) = self.kind_name(key, entries, &id.value) else {
            return Some(invalid(id));
        };
        let help = self.node_keys(entries, kind_name);
        let get = |name: &str| body.get(name).expect("kind key present");
        let nid: &str = &id.value;
        let kind = match kind_name {
            "ask" => self.ask(body, key, nid),
            "say" => self.say(body, key, nid),
            "input" => self.input(body, key, nid),
            "branch" => self.branch(get("branch"), nid),
            "resolve" => match self.text(get("resolve"), "`resolve`") {
                Some(t) => NodeKind::Resolve(t),
                None => NodeKind::Invalid,
            },
            "escalate" => match self.escalation(get("escalate")) {
                Some(e) => NodeKind::Escalate(e),
                None => NodeKind::Invalid,
            },
            "use" => self.use_node(body, key, nid),
            _ => match self.text(get("return"), "`return`") {
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

    /// The node's one kind key, or `None` (reported) when it has none or
    /// more than one.
    fn kind_name(
        &mut self,
        key: Yaml<'_>,
        entries: Entries<'_>,
        nid: &str,
    ) -> Option<&'static str> {
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
        if kinds.len() == 1 {
            let name = kinds[0].and_then(|k| k.as_str()).unwrap_or("");
            return Some(
                KIND_KEYS
                    .iter()
                    .copied()
                    .find(|&k| k == name)
                    .unwrap_or("return"),
            );
        }
        let span = match kinds.get(1) {
            Some(Some(k)) => k.span(),
            _ => key.span(),
        };
        let msg = if kinds.is_empty() {
            format!("node `{nid}` has no kind key")
        } else {
            let names: Vec<String> = kinds
                .iter()
                .flatten()
                .map(|k| format!("`{}`", k.as_str().unwrap_or("")))
                .collect();
            format!(
                "node `{nid}` has more than one kind key: {}",
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
        None
    }

    /// Reports the keys a node of this kind does not take, and reads its
    /// `help`.
    fn node_keys(&mut self, entries: Entries<'_>, kind_name: &str) -> Option<Text> {
        let allowed = node_keys(kind_name);
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
        help
    }

    fn ask(&mut self, body: Yaml<'_>, key: Yaml<'_>, nid: &str) -> NodeKind {
        let ask = body.get("ask").and_then(|v| self.text(v, "`ask`"));
        let say = body.get("say").and_then(|v| self.text(v, "`say`"));
        let mut answers = Vec::new();
        match body.get("answers") {
            None => {
                self.err(
                    Code::Fp007,
                    key.span(),
                    format!("question `{nid}` has no answers"),
                )
                .hints
                .push(
                    "add `answers:` with at least one answer, or make it a `say` with `next`"
                        .into(),
                );
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

    fn say(&mut self, body: Yaml<'_>, key: Yaml<'_>, nid: &str) -> NodeKind {
        let say = body.get("say").and_then(|v| self.text(v, "`say`"));
        let next = self.required_next(body, key, "a `say` node", nid);
        match say {
            Some(say) => NodeKind::Say { say, next },
            None => NodeKind::Invalid,
        }
    }

    fn input(&mut self, body: Yaml<'_>, key: Yaml<'_>, nid: &str) -> NodeKind {
        let get = |name: &str| body.get(name);
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
                    self.err(
                        Code::Fp003,
                        v.span(),
                        format!(
                            "`type` must be one of text, number, email, phone, found `{found}`"
                        ),
                    )
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

    fn use_node(&mut self, body: Yaml<'_>, key: Yaml<'_>, nid: &str) -> NodeKind {
        let script = match body.get("use") {
            Some(v) => self.id(v, "the script id in `use`"),
            None => None,
        };
        let next = self.required_next(body, key, "a `use` node", nid);
        match script {
            Some(script) => NodeKind::Use { script, next },
            None => NodeKind::Invalid,
        }
    }

    /// The `next` of a `say`, `input` or `use` node.
    pub(super) fn required_next(
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

    pub(super) fn branch(&mut self, y: Yaml<'_>, nid: &str) -> NodeKind {
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
                    if !k.as_str().is_some_and(|s| ELSE_KEYS.contains(&s)) {
                        self.unknown_key(k, "an `else` item", ELSE_KEYS);
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
                if !k.as_str().is_some_and(|s| BRANCH_ITEM_KEYS.contains(&s)) {
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

    pub(super) fn escalation(&mut self, y: Yaml<'_>) -> Option<Escalation> {
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
}

/// The keys a node of this kind takes.
fn node_keys(kind_name: &str) -> &'static [&'static str] {
    match kind_name {
        "ask" => ASK_KEYS,
        "say" => SAY_KEYS,
        "input" => INPUT_KEYS,
        "branch" => BRANCH_KEYS,
        "resolve" => RESOLVE_KEYS,
        "escalate" => ESCALATE_KEYS,
        "use" => USE_KEYS,
        _ => RETURN_KEYS,
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
