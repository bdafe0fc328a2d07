//! A spanned YAML tree built from `saphyr-parser` events.
//!
//! Why not deserialize with serde directly: authors need a diagnostic at the
//! exact line and column of every offending key *and value*, every problem of
//! a file in one run, and duplicate keys reported where they stand. serde_yaml
//! gives none of that. This builder also guards the tool against hostile input:
//! alias bombs (a budget on expanded nodes), deep nesting (a depth limit, and
//! an iterative builder so nothing recurses) and huge files (a size limit
//! applied by the loader).

use crate::diagnostics::{Pos, Span};
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;

/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 128;

/// A value with the place it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Yaml {
    pub value: Value,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Yaml>),
    /// Entries in the order written; duplicates are reported by the builder
    /// and only the first is kept.
    Map(Vec<(Yaml, Yaml)>),
}

impl Yaml {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The key text of a mapping key: strings as written, other scalars in
    /// their YAML spelling (so `1:` or `true:` still work as labels).
    pub fn key_text(&self) -> Option<String> {
        match &self.value {
            Value::Str(s) => Some(s.clone()),
            Value::Int(i) => Some(i.to_string()),
            Value::Float(f) => Some(f.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Null => Some(String::new()),
            _ => None,
        }
    }

    /// A short name of the value's type for "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }

    pub fn get(&self, key: &str) -> Option<&Yaml> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A problem found while building the tree: the message and where.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildProblem {
    /// The file is not valid YAML (or exceeds a guard); building stopped.
    Syntax { span: Span, message: String },
    /// A key appears twice in one mapping; the first is kept.
    DuplicateKey {
        key: String,
        span: Span,
        first: Span,
    },
}

pub struct Built {
    /// The document's root, if the file held one.
    pub root: Option<Yaml>,
    pub problems: Vec<BuildProblem>,
}

fn pos(m: &saphyr_parser::Marker) -> Pos {
    Pos {
        line: m.line().min(u32::MAX as usize) as u32,
        column: (m.col() + 1).min(u32::MAX as usize) as u32,
        index: m.index().min(u32::MAX as usize) as u32,
    }
}

fn span(s: &saphyr_parser::Span) -> Span {
    Span {
        start: pos(&s.start),
        end: pos(&s.end),
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema. Note that `Yes` and
/// `No` stay strings (they were booleans only in YAML 1.1), which is what an
/// author writing `- Yes: lights` means.
fn plain_scalar(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let b = s.as_bytes();
    let first = b[0];
    if first.is_ascii_digit() || ((first == b'-' || first == b'+') && b.len() > 1) {
        if let Some(hex) = s.strip_prefix("0x") {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Value::Int(i);
            }
        } else if let Some(oct) = s.strip_prefix("0o") {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Value::Int(i);
            }
        } else if b.iter().skip(1).all(u8::is_ascii_digit)
            && let Ok(i) = s.parse::<i64>()
        {
            return Value::Int(i);
        }
        if b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'))
            && let Ok(f) = s.parse::<f64>()
        {
            return Value::Float(f);
        }
    }
    Value::Str(s.to_owned())
}

enum Frame {
    Seq {
        items: Vec<Yaml>,
        start: Pos,
        anchor: usize,
    },
    Map {
        entries: Vec<(Yaml, Yaml)>,
        pending_key: Option<Yaml>,
        start: Pos,
        anchor: usize,
        seen: HashMap<String, Span>,
    },
}

/// Builds the tree of the first document in `text`. `node_budget` bounds the
/// number of nodes the tree may hold after alias expansion.
pub fn build(text: &str, node_budget: usize) -> Built {
    let mut problems = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Yaml> = HashMap::new();
    let mut root: Option<Yaml> = None;
    let mut nodes: usize = 0;
    let mut docs = 0;

    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, sp) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(err)) => {
                let m = err.marker();
                let p = pos(m);
                // The scanner has its own nesting guard; say it in our words.
                let message = if err.info().contains("recursion limit") {
                    format!("nesting deeper than {MAX_DEPTH} levels")
                } else {
                    err.info().to_owned()
                };
                problems.push(BuildProblem::Syntax {
                    span: Span { start: p, end: p },
                    message,
                });
                return Built {
                    root: None,
                    problems,
                };
            }
        };
        let sp = span(&sp);
        let finished: Option<(Yaml, usize)> = match event {
            Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    problems.push(BuildProblem::Syntax {
                        span: sp,
                        message: "a script file holds one YAML document; this is a second one"
                            .into(),
                    });
                    break;
                }
                None
            }
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => {
                    let n = count(node);
                    nodes = nodes.saturating_add(n);
                    if nodes > node_budget {
                        problems.push(BuildProblem::Syntax {
                            span: sp,
                            message: format!(
                                "aliases expand this document beyond {node_budget} values; refusing to expand it (an \"alias bomb\")"
                            ),
                        });
                        return Built {
                            root: None,
                            problems,
                        };
                    }
                    let mut node = node.clone();
                    node.span = sp;
                    Some((node, 0))
                }
                None => {
                    problems.push(BuildProblem::Syntax {
                        span: sp,
                        message: "alias to an unknown anchor".into(),
                    });
                    return Built {
                        root: None,
                        problems,
                    };
                }
            },
            Event::Scalar(s, style, anchor, _tag) => {
                nodes += 1;
                let value = if style == ScalarStyle::Plain {
                    match plain_scalar(&s) {
                        Value::Str(_) => Value::Str(s.into_owned()),
                        v => v,
                    }
                } else {
                    Value::Str(s.into_owned())
                };
                Some((Yaml { value, span: sp }, anchor))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                nodes += 1;
                if stack.len() >= MAX_DEPTH {
                    problems.push(BuildProblem::Syntax {
                        span: sp,
                        message: format!("nesting deeper than {MAX_DEPTH} levels"),
                    });
                    return Built {
                        root: None,
                        problems,
                    };
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        items: Vec::new(),
                        start: sp.start,
                        anchor,
                    }
                } else {
                    Frame::Map {
                        entries: Vec::new(),
                        pending_key: None,
                        start: sp.start,
                        anchor,
                        seen: HashMap::new(),
                    }
                });
                None
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq {
                    items,
                    start,
                    anchor,
                }) => Some((
                    Yaml {
                        value: Value::Seq(items),
                        span: Span { start, end: sp.end },
                    },
                    anchor,
                )),
                _ => None,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map {
                    entries,
                    start,
                    anchor,
                    ..
                }) => Some((
                    Yaml {
                        value: Value::Map(entries),
                        span: Span { start, end: sp.end },
                    },
                    anchor,
                )),
                _ => None,
            },
        };
        if nodes > node_budget {
            problems.push(BuildProblem::Syntax {
                span: sp,
                message: format!("the document holds more than {node_budget} values"),
            });
            return Built {
                root: None,
                problems,
            };
        }
        let Some((node, anchor)) = finished else {
            continue;
        };
        if anchor != 0 {
            // The copy kept for aliases costs memory like any other values:
            // nested anchors would otherwise copy their subtrees once per level.
            nodes = nodes.saturating_add(count(&node));
            if nodes > node_budget {
                problems.push(BuildProblem::Syntax {
                    span: node.span,
                    message: format!(
                        "anchors and aliases expand this document beyond {node_budget} values; refusing to expand it (an \"alias bomb\")"
                    ),
                });
                return Built {
                    root: None,
                    problems,
                };
            }
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                seen,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    let owned;
                    let text: Option<&str> = match &key.value {
                        Value::Str(s) => Some(s.as_str()),
                        _ => {
                            owned = key.key_text();
                            owned.as_deref()
                        }
                    };
                    let first = match text {
                        None => None,
                        Some(t) if entries.len() < 16 => entries
                            .iter()
                            .find(|(k, _)| match &k.value {
                                Value::Str(s) => s == t,
                                Value::Seq(_) | Value::Map(_) => false,
                                _ => k.key_text().as_deref() == Some(t),
                            })
                            .map(|(k, _)| k.span),
                        Some(t) => {
                            if seen.is_empty() {
                                for (k, _) in entries.iter() {
                                    if let Some(kt) = k.key_text() {
                                        seen.entry(kt).or_insert(k.span);
                                    }
                                }
                            }
                            seen.get(t).copied()
                        }
                    };
                    match first {
                        Some(first) => problems.push(BuildProblem::DuplicateKey {
                            key: text.unwrap_or_default().to_owned(),
                            span: key.span,
                            first,
                        }),
                        None => {
                            if let (Some(t), false) = (text, seen.is_empty()) {
                                seen.insert(t.to_owned(), key.span);
                            }
                            entries.push((key, node));
                        }
                    }
                }
            },
        }
    }
    Built { root, problems }
}

/// Number of values in a tree, iteratively (trees may be deep).
fn count(node: &Yaml) -> usize {
    let mut n = 0;
    let mut todo = vec![node];
    while let Some(y) = todo.pop() {
        n += 1;
        match &y.value {
            Value::Seq(items) => todo.extend(items.iter()),
            Value::Map(entries) => {
                for (k, v) in entries {
                    todo.push(k);
                    todo.push(v);
                }
            }
            _ => {}
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Yaml {
        let b = build(text, 1_000_000);
        assert!(b.problems.is_empty(), "{:?}", b.problems);
        b.root.expect("a root")
    }

    #[test]
    fn scalars_follow_yaml_1_2_core_schema() {
        let r = root("a: Yes\nb: no\nc: true\nd: 12\ne: 1.5\nf: ~\ng: '12'\nh: -3\n");
        assert_eq!(r.get("a").unwrap().value, Value::Str("Yes".into()));
        assert_eq!(r.get("b").unwrap().value, Value::Str("no".into()));
        assert_eq!(r.get("c").unwrap().value, Value::Bool(true));
        assert_eq!(r.get("d").unwrap().value, Value::Int(12));
        assert_eq!(r.get("e").unwrap().value, Value::Float(1.5));
        assert_eq!(r.get("f").unwrap().value, Value::Null);
        assert_eq!(r.get("g").unwrap().value, Value::Str("12".into()));
        assert_eq!(r.get("h").unwrap().value, Value::Int(-3));
    }

    #[test]
    fn values_carry_their_own_line_and_column() {
        let r = root("id: x\nnodes:\n  a:\n    ask: Hello\n");
        let ask = r
            .get("nodes")
            .unwrap()
            .get("a")
            .unwrap()
            .get("ask")
            .unwrap();
        assert_eq!((ask.span.start.line, ask.span.start.column), (4, 10));
    }

    #[test]
    fn duplicate_keys_are_reported_where_they_stand() {
        let b = build("a: 1\nb: 2\na: 3\n", 100);
        assert_eq!(b.problems.len(), 1);
        match &b.problems[0] {
            BuildProblem::DuplicateKey { key, span, first } => {
                assert_eq!(key, "a");
                assert_eq!((span.start.line, first.start.line), (3, 1));
            }
            p => panic!("unexpected {p:?}"),
        }
    }

    #[test]
    fn duplicate_keys_are_found_in_large_mappings_too() {
        let mut s: String = (0..40).map(|i| format!("k{i}: {i}\n")).collect();
        s.push_str("k3: again\nk39: again\n");
        let b = build(&s, 1_000);
        let dups: Vec<(String, u32, u32)> = b
            .problems
            .iter()
            .filter_map(|p| match p {
                BuildProblem::DuplicateKey { key, span, first } => {
                    Some((key.clone(), span.start.line, first.start.line))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            dups,
            vec![("k3".to_string(), 41, 4), ("k39".to_string(), 42, 40)]
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut s = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let p = i - 1;
            s.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"));
        }
        let b = build(&s, 100_000);
        assert!(b.root.is_none());
        assert!(
            matches!(&b.problems[0], BuildProblem::Syntax { message, .. } if message.contains("alias"))
        );
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        let block: String = (0..50_000)
            .map(|i| format!("{}a:\n", " ".repeat(i % 2000)))
            .collect();
        for s in [
            "[".repeat(50_000),
            "{a: ".repeat(50_000),
            "- ".repeat(50_000),
            block,
        ] {
            let b = build(&s, 1_000_000);
            assert!(b.root.is_none());
            assert!(
                matches!(&b.problems[0], BuildProblem::Syntax { message, .. } if message.contains("nesting")),
                "{:?}",
                b.problems
            );
        }
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let b = build("a: [1, 2\nb: 3\n", 100);
        assert!(b.root.is_none());
        match &b.problems[0] {
            BuildProblem::Syntax { span, .. } => assert!(span.start.line >= 1),
            p => panic!("unexpected {p:?}"),
        }
    }
}
