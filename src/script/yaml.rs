//! A streaming reader of spanned YAML values over `saphyr-parser` events.
//!
//! Why not deserialize with serde directly: authors need a diagnostic at the
//! exact line and column of every offending key *and value*, every problem of
//! a file in one run, and duplicate keys reported where they stand. serde_yaml
//! gives none of that. This reader also guards the tool against hostile input:
//! alias bombs (a budget on expanded values), deep nesting (a depth limit, and
//! an iterative reader so nothing recurses) and huge files (a size limit
//! applied by the loader).
//!
//! Why streaming, and why a tape: a script is one mapping whose `nodes` may
//! hold 100,000 entries. Building the whole document as a tree of owned values
//! first cost as much as the parse itself and held most of the compiler's peak
//! memory. Instead, values are appended to one flat, reused `Tape` of
//! events (a container records how many events its subtree spans, so it can be
//! skipped). The [`Sink`] may ask for a mapping to be *streamed*: each of its
//! entries is handed over as soon as it is complete, as a [`Yaml`] view into
//! the tape, and then cut off the tape again. So only one node of a big
//! script is ever held in this form.

use crate::diagnostics::{Pos, Span};
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

/// Deepest nesting of sequences and mappings accepted.
pub const MAX_DEPTH: usize = 128;

/// One value on the tape. A container is followed by its children (for a
/// mapping: key, value, key, value ...); `len` counts the events of the whole
/// subtree, itself included, so `at + len` is the next sibling.
#[derive(Debug, Clone)]
struct Ev {
    span: Span,
    len: u32,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Number of items.
    Seq(u32),
    /// Number of entries (key-value pairs).
    Map(u32),
}

/// A value on the tape, with the place it was written: a cheap, copyable
/// view, valid while the [`Sink`] call that received it runs.
#[derive(Clone, Copy)]
pub struct Yaml<'t> {
    evs: &'t [Ev],
    at: usize,
}

/// What a [`Yaml`] holds.
#[derive(Clone, Copy)]
pub enum Value<'t> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(&'t str),
    Seq(Items<'t>),
    /// Entries in the order written; duplicates are reported by the reader
    /// and only the first is kept.
    Map(Entries<'t>),
}

/// The items of a sequence.
#[derive(Clone, Copy)]
pub struct Items<'t> {
    evs: &'t [Ev],
    first: usize,
    n: usize,
}

/// The entries of a mapping.
#[derive(Clone, Copy)]
pub struct Entries<'t> {
    evs: &'t [Ev],
    first: usize,
    n: usize,
}

impl<'t> Items<'t> {
    pub fn len(self) -> usize {
        self.n
    }

    pub fn is_empty(self) -> bool {
        self.n == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Yaml<'t>> {
        let mut at = self.first;
        (0..self.n).map(move |_| {
            let y = Yaml { evs: self.evs, at };
            at += y.ev().len as usize;
            y
        })
    }
}

impl<'t> Entries<'t> {
    pub fn len(self) -> usize {
        self.n
    }

    pub fn is_empty(self) -> bool {
        self.n == 0
    }

    pub fn iter(self) -> impl Iterator<Item = (Yaml<'t>, Yaml<'t>)> {
        let mut at = self.first;
        (0..self.n).map(move |_| {
            let k = Yaml { evs: self.evs, at };
            let v = Yaml {
                evs: self.evs,
                at: at + k.ev().len as usize,
            };
            at = v.at + v.ev().len as usize;
            (k, v)
        })
    }

    pub fn first(self) -> Option<(Yaml<'t>, Yaml<'t>)> {
        self.iter().next()
    }
}

impl<'t> Yaml<'t> {
    fn ev(self) -> &'t Ev {
        &self.evs[self.at]
    }

    pub fn span(self) -> Span {
        self.ev().span
    }

    pub fn value(self) -> Value<'t> {
        let evs = self.evs;
        match &self.ev().kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::Int(*i),
            Kind::Float(f) => Value::Float(*f),
            Kind::Str(s) => Value::Str(s),
            Kind::Seq(n) => Value::Seq(Items {
                evs,
                first: self.at + 1,
                n: *n as usize,
            }),
            Kind::Map(n) => Value::Map(Entries {
                evs,
                first: self.at + 1,
                n: *n as usize,
            }),
        }
    }

    pub fn as_str(self) -> Option<&'t str> {
        match &self.ev().kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The key text of a mapping key: strings as written, other scalars in
    /// their YAML spelling (so `1:` or `true:` still work as labels).
    pub fn key_text(self) -> Option<String> {
        key_text(&self.ev().kind)
    }

    /// A short name of the value's type for "expected X, found Y" messages.
    pub fn type_name(self) -> &'static str {
        match self.ev().kind {
            Kind::Null => "nothing",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    pub fn get(self, key: &str) -> Option<Yaml<'t>> {
        match self.value() {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

fn key_text(kind: &Kind) -> Option<String> {
    match kind {
        Kind::Str(s) => Some(s.clone()),
        Kind::Int(i) => Some(i.to_string()),
        Kind::Float(f) => Some(f.to_string()),
        Kind::Bool(b) => Some(b.to_string()),
        Kind::Null => Some(String::new()),
        _ => None,
    }
}

/// Whether a key has the key text `t`, without allocating for strings.
fn key_is(kind: &Kind, t: &str) -> bool {
    match kind {
        Kind::Str(s) => s == t,
        Kind::Seq(_) | Kind::Map(_) => false,
        other => key_text(other).as_deref() == Some(t),
    }
}

/// A problem found while reading: the message and where.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildProblem {
    /// The file is not valid YAML (or exceeds a guard); reading stopped.
    Syntax { span: Span, message: String },
    /// A key appears twice in one mapping; the first is kept.
    DuplicateKey {
        key: String,
        span: Span,
        first: Span,
    },
}

/// Which mapping a streamed entry belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The document's root mapping.
    Root,
    /// A mapping that is the value of an entry of the (streamed) root.
    Child,
}

/// Receives the document as it is read. Views are valid only during a call.
pub trait Sink {
    /// Whether to stream a mapping that starts now: the root (`key` is
    /// `None`), or the value of entry `key` of the streamed root.
    fn stream(&mut self, key: Option<Yaml<'_>>) -> bool;
    /// A complete entry of a streamed mapping. When a streamed child mapping
    /// ends, its own root entry follows, with the value's span but (its
    /// entries having been handed over already) not necessarily its entries.
    fn entry(&mut self, level: Level, key: Yaml<'_>, value: Yaml<'_>);
    /// The document's root value, once complete. A streamed root mapping
    /// arrives with its span but not necessarily its entries.
    fn root(&mut self, root: Yaml<'_>);
}

/// What reading a document found, besides what went to the [`Sink`].
pub struct Read {
    /// Problems in the order found.
    pub problems: Vec<BuildProblem>,
    /// Reading stopped at a syntax error or a guard: what the sink received
    /// is not the whole document and must be dropped.
    pub aborted: bool,
    /// Values read, aliases expanded (what the node budget counts).
    pub values: usize,
    /// The document has an anchor or an alias.
    pub anchors: bool,
}

/// Where the text being read starts in its file, when it is a part of it
/// that begins at the start of a line: positions are reported in the
/// file's terms, not the part's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Base {
    /// Lines before the part.
    pub lines: u32,
    /// Characters before the part.
    pub chars: u32,
    /// How many collections enclose, in the file, the collection that is
    /// the part's root (1 for a piece of `nodes`: the file's root mapping),
    /// so the depth limit counts as it does when the file is read whole.
    pub depth: u32,
    /// Where the key that starts the next part stands, if one does. Read
    /// whole, what is still open at this part's end (sequences, mappings, a
    /// block scalar) is closed by that key, and its span ends there, not at
    /// the line start where this part's text ends.
    pub next_key: Option<Pos>,
}

impl Base {
    fn pos(self, m: &saphyr_parser::Marker) -> Pos {
        let clamp = |n: usize| n.min(u32::MAX as usize) as u32;
        let p = Pos {
            line: clamp(m.line()).saturating_add(self.lines),
            column: clamp(m.col() + 1),
            index: clamp(m.index()).saturating_add(self.chars),
        };
        match self.next_key {
            // The part's text ends at the start of the next key's line, so
            // nothing of the part is on that line but where it ends: what
            // ends there (open collections, a block scalar, an empty value)
            // ends at the key when the file is read whole.
            Some(key) if p.line == key.line => key,
            _ => p,
        }
    }

    fn span(self, s: &saphyr_parser::Span) -> Span {
        Span {
            start: self.pos(&s.start),
            end: self.pos(&s.end),
        }
    }
}

/// Resolves a plain scalar by the YAML 1.2 core schema (`None`: a string).
/// Note that `Yes` and `No` stay strings (they were booleans only in YAML
/// 1.1), which is what an author writing `- Yes: lights` means.
fn plain_scalar(s: &str) -> Option<Kind> {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Some(Kind::Null),
        "true" | "True" | "TRUE" => return Some(Kind::Bool(true)),
        "false" | "False" | "FALSE" => return Some(Kind::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Some(Kind::Float(f64::INFINITY));
        }
        "-.inf" | "-.Inf" | "-.INF" => return Some(Kind::Float(f64::NEG_INFINITY)),
        ".nan" | ".NaN" | ".NAN" => return Some(Kind::Float(f64::NAN)),
        _ => {}
    }
    let b = s.as_bytes();
    let first = b[0];
    if first.is_ascii_digit() || ((first == b'-' || first == b'+') && b.len() > 1) {
        if let Some(hex) = s.strip_prefix("0x") {
            if let Ok(i) = i64::from_str_radix(hex, 16) {
                return Some(Kind::Int(i));
            }
        } else if let Some(oct) = s.strip_prefix("0o") {
            if let Ok(i) = i64::from_str_radix(oct, 8) {
                return Some(Kind::Int(i));
            }
        } else if b.iter().skip(1).all(u8::is_ascii_digit)
            && let Ok(i) = s.parse::<i64>()
        {
            return Some(Kind::Int(i));
        }
        if b.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'-' | b'+' | b'e' | b'E'))
            && let Ok(f) = s.parse::<f64>()
        {
            return Some(Kind::Float(f));
        }
    }
    None
}

/// An open sequence or mapping.
struct Frame {
    /// Its event's place on the tape.
    at: usize,
    anchor: usize,
    /// Items or entries so far.
    count: u32,
    /// Of those, the ones still on the tape (a streamed mapping's entries
    /// leave it).
    kept: u32,
    map: bool,
    /// Entries are handed to the sink and cut off the tape.
    streamed: bool,
    /// Mappings: the pending key's place on the tape, and the first
    /// definition of that key if it is a duplicate.
    key: Option<(usize, Option<Span>)>,
    /// Key texts seen, for streamed mappings (whose entries leave the tape)
    /// and mappings of 16 entries or more; small ones are scanned instead.
    seen: HashMap<String, Span>,
}

struct Reader<'s, S: Sink> {
    base: Base,
    sink: &'s mut S,
    tape: Vec<Ev>,
    stack: Vec<Frame>,
    /// Copies of anchored values, for aliases.
    anchors: HashMap<usize, Vec<Ev>>,
    problems: Vec<BuildProblem>,
    /// Values read so far, aliases expanded.
    nodes: usize,
    /// An anchor or an alias was read.
    anchored: bool,
    budget: usize,
}

/// Reads the first document in `text` into `sink`. `node_budget` bounds the
/// number of values the document may hold after alias expansion.
pub fn read(text: &str, node_budget: usize, sink: &mut impl Sink) -> Read {
    read_at(text, Base::default(), node_budget, sink)
}

/// Reads the first document in `text`, a part of a file that starts at
/// `base`, into `sink`.
pub fn read_at(text: &str, base: Base, node_budget: usize, sink: &mut impl Sink) -> Read {
    let mut r = Reader {
        base,
        sink,
        tape: Vec::new(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        problems: Vec::new(),
        nodes: 0,
        anchored: false,
        budget: node_budget,
    };
    let aborted = r.run(text).is_err();
    Read {
        problems: r.problems,
        aborted,
        values: r.nodes,
        anchors: r.anchored,
    }
}

/// Reading stopped; the reason is in `problems`.
struct Abort;

impl<S: Sink> Reader<'_, S> {
    fn syntax(&mut self, span: Span, message: String) -> Abort {
        self.problems.push(BuildProblem::Syntax { span, message });
        Abort
    }

    fn run(&mut self, text: &str) -> Result<(), Abort> {
        let mut docs = 0;
        let mut parser = Parser::new_from_str(text);
        loop {
            let (event, sp) = match parser.next_event() {
                None => break,
                Some(Ok(e)) => e,
                Some(Err(err)) => {
                    let p = self.base.pos(err.marker());
                    // The scanner has its own nesting guard; say it in our words.
                    let message = if err.info().contains("recursion limit") {
                        format!("nesting deeper than {MAX_DEPTH} levels")
                    } else {
                        err.info().to_owned()
                    };
                    return Err(self.syntax(Span { start: p, end: p }, message));
                }
            };
            let sp = self.base.span(&sp);
            // The place on the tape of a value completed by this event, and
            // its anchor.
            let finished: Option<(usize, usize)> = match event {
                Event::StreamStart | Event::Nothing | Event::DocumentEnd => None,
                Event::StreamEnd => break,
                Event::DocumentStart(_) => {
                    docs += 1;
                    if docs > 1 {
                        self.problems.push(BuildProblem::Syntax {
                            span: sp,
                            message: "a script file holds one YAML document; this is a second one"
                                .into(),
                        });
                        break;
                    }
                    None
                }
                Event::Alias(id) => {
                    self.anchored = true;
                    let Some(stored) = self.anchors.get(&id) else {
                        return Err(self.syntax(sp, "alias to an unknown anchor".into()));
                    };
                    self.nodes = self.nodes.saturating_add(stored.len());
                    if self.nodes > self.budget {
                        let budget = self.budget;
                        return Err(self.syntax(
                            sp,
                            format!(
                                "aliases expand this document beyond {budget} values; refusing to expand it (an \"alias bomb\")"
                            ),
                        ));
                    }
                    let at = self.tape.len();
                    self.tape.extend_from_slice(stored);
                    self.tape[at].span = sp;
                    Some((at, 0))
                }
                Event::Scalar(s, style, anchor, _tag) => {
                    self.nodes += 1;
                    let plain = if style == ScalarStyle::Plain {
                        plain_scalar(&s)
                    } else {
                        None
                    };
                    let kind = plain.unwrap_or_else(|| Kind::Str(s.into_owned()));
                    let at = self.tape.len();
                    self.tape.push(Ev {
                        span: sp,
                        len: 1,
                        kind,
                    });
                    Some((at, anchor))
                }
                Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                    self.nodes += 1;
                    if self.stack.len() + self.base.depth as usize >= MAX_DEPTH {
                        return Err(
                            self.syntax(sp, format!("nesting deeper than {MAX_DEPTH} levels"))
                        );
                    }
                    let map = matches!(event, Event::MappingStart(..));
                    let streamed = map && self.wants_stream();
                    let at = self.tape.len();
                    self.tape.push(Ev {
                        span: sp,
                        len: 0,
                        kind: if map { Kind::Map(0) } else { Kind::Seq(0) },
                    });
                    self.stack.push(Frame {
                        at,
                        anchor,
                        count: 0,
                        kept: 0,
                        map,
                        streamed,
                        key: None,
                        seen: HashMap::new(),
                    });
                    None
                }
                Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                    Some(f) if f.map == matches!(event, Event::MappingEnd) => {
                        let len = self.tape.len() - f.at;
                        let ev = &mut self.tape[f.at];
                        ev.span.end = sp.end;
                        ev.len = len.min(u32::MAX as usize) as u32;
                        ev.kind = if f.map {
                            Kind::Map(f.kept)
                        } else {
                            Kind::Seq(f.kept)
                        };
                        Some((f.at, f.anchor))
                    }
                    _ => None,
                },
            };
            if self.nodes > self.budget {
                let budget = self.budget;
                return Err(
                    self.syntax(sp, format!("the document holds more than {budget} values"))
                );
            }
            if let Some((at, anchor)) = finished {
                self.finish(at, anchor)?;
            }
        }
        Ok(())
    }

    /// Whether a mapping starting now is to be streamed: the root, or the
    /// value of a (not duplicate) entry of the streamed root, if the sink
    /// says so.
    fn wants_stream(&mut self) -> bool {
        match self.stack.as_slice() {
            [] => self.sink.stream(None),
            [root] if root.streamed => match root.key {
                Some((k, None)) => self.sink.stream(Some(Yaml {
                    evs: &self.tape,
                    at: k,
                })),
                _ => false,
            },
            _ => false,
        }
    }

    /// Places a complete value (at `at` on the tape) in its parent.
    fn finish(&mut self, at: usize, anchor: usize) -> Result<(), Abort> {
        if anchor != 0 {
            self.anchored = true;
            // The copy kept for aliases costs memory like any other values:
            // nested anchors would otherwise copy their subtrees once per level.
            let len = self.tape[at].len as usize;
            self.nodes = self.nodes.saturating_add(len);
            if self.nodes > self.budget {
                let (span, budget) = (self.tape[at].span, self.budget);
                return Err(self.syntax(
                    span,
                    format!(
                        "anchors and aliases expand this document beyond {budget} values; refusing to expand it (an \"alias bomb\")"
                    ),
                ));
            }
            self.anchors
                .insert(anchor, self.tape[at..at + len].to_vec());
        }
        let depth = self.stack.len();
        let Some(frame) = self.stack.last_mut() else {
            self.sink.root(Yaml {
                evs: &self.tape,
                at,
            });
            self.tape.clear();
            return Ok(());
        };
        if !frame.map {
            frame.count += 1;
            frame.kept += 1;
            return Ok(());
        }
        let Some((k, dup)) = frame.key.take() else {
            let first = duplicate_of(&self.tape, frame, at);
            frame.key = Some((at, first));
            return Ok(());
        };
        if let Some(first) = dup {
            let key = key_text(&self.tape[k].kind).unwrap_or_default();
            self.problems.push(BuildProblem::DuplicateKey {
                key,
                span: self.tape[k].span,
                first,
            });
            self.tape.truncate(k);
            return Ok(());
        }
        frame.count += 1;
        frame.kept += 1;
        if frame.count == 16 && !frame.streamed {
            // The mapping just grew past a linear scan: index its keys.
            let entries = Entries {
                evs: &self.tape,
                first: frame.at + 1,
                n: 16,
            };
            for (ek, _) in entries.iter() {
                if let Some(t) = ek.key_text() {
                    frame.seen.entry(t).or_insert(ek.span());
                }
            }
        }
        if frame.streamed {
            let level = if depth == 1 {
                Level::Root
            } else {
                Level::Child
            };
            let evs = &self.tape;
            self.sink
                .entry(level, Yaml { evs, at: k }, Yaml { evs, at });
            // An anchored open mapping needs its entries for its copy.
            if self.stack.iter().all(|f| f.anchor == 0) {
                self.tape.truncate(k);
                if let Some(f) = self.stack.last_mut() {
                    f.kept -= 1;
                }
            }
        }
        Ok(())
    }
}

/// The first definition of the key at `key` in the mapping `frame`, if the
/// key is a duplicate. A new key of an indexed mapping is indexed now (its
/// entry is kept unless reading stops).
fn duplicate_of(tape: &[Ev], frame: &mut Frame, key: usize) -> Option<Span> {
    let kind = &tape[key].kind;
    if matches!(kind, Kind::Seq(_) | Kind::Map(_)) {
        return None;
    }
    if frame.streamed || frame.count >= 16 {
        let t = match kind {
            Kind::Str(s) => s.clone(),
            other => key_text(other)?,
        };
        return match frame.seen.entry(t) {
            Entry::Occupied(first) => Some(*first.get()),
            Entry::Vacant(slot) => {
                slot.insert(tape[key].span);
                None
            }
        };
    }
    let entries = Entries {
        evs: tape,
        first: frame.at + 1,
        n: frame.kept as usize,
    };
    let t = match kind {
        Kind::Str(s) => std::borrow::Cow::Borrowed(s.as_str()),
        other => std::borrow::Cow::Owned(key_text(other)?),
    };
    entries
        .iter()
        .find(|(k, _)| key_is(&k.ev().kind, &t))
        .map(|(k, _)| k.span())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owned copy of a value, for assertions.
    #[derive(Debug, Clone, PartialEq)]
    struct Tree {
        value: Owned,
        span: Span,
    }

    #[derive(Debug, Clone, PartialEq)]
    enum Owned {
        Null,
        Bool(bool),
        Int(i64),
        Float(f64),
        Str(String),
        Seq(Vec<Tree>),
        Map(Vec<(Tree, Tree)>),
    }

    fn own(y: Yaml<'_>) -> Tree {
        let value = match y.value() {
            Value::Null => Owned::Null,
            Value::Bool(b) => Owned::Bool(b),
            Value::Int(i) => Owned::Int(i),
            Value::Float(f) => Owned::Float(f),
            Value::Str(s) => Owned::Str(s.into()),
            Value::Seq(items) => Owned::Seq(items.iter().map(own).collect()),
            Value::Map(entries) => {
                Owned::Map(entries.iter().map(|(k, v)| (own(k), own(v))).collect())
            }
        };
        Tree {
            value,
            span: y.span(),
        }
    }

    impl Tree {
        fn get(&self, key: &str) -> Option<&Tree> {
            match &self.value {
                Owned::Map(entries) => entries
                    .iter()
                    .find(|(k, _)| k.value == Owned::Str(key.into()))
                    .map(|(_, v)| v),
                _ => None,
            }
        }
    }

    /// Keeps the whole document (streams nothing), or, with `stream`, streams
    /// the root and its `nodes` and records what came when.
    #[derive(Default)]
    struct Keep {
        stream: bool,
        root: Option<Tree>,
        entries: Vec<(Level, Tree, Tree)>,
    }

    impl Sink for Keep {
        fn stream(&mut self, key: Option<Yaml<'_>>) -> bool {
            self.stream && key.is_none_or(|k| k.as_str() == Some("nodes"))
        }
        fn entry(&mut self, level: Level, key: Yaml<'_>, value: Yaml<'_>) {
            self.entries.push((level, own(key), own(value)));
        }
        fn root(&mut self, root: Yaml<'_>) {
            self.root = Some(own(root));
        }
    }

    fn build(text: &str, budget: usize) -> (Read, Option<Tree>) {
        let mut keep = Keep::default();
        let read = read(text, budget, &mut keep);
        (read, keep.root)
    }

    fn root(text: &str) -> Tree {
        let (read, root) = build(text, 1_000_000);
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        root.expect("a root")
    }

    #[test]
    fn scalars_follow_yaml_1_2_core_schema() {
        let r = root("a: Yes\nb: no\nc: true\nd: 12\ne: 1.5\nf: ~\ng: '12'\nh: -3\n");
        assert_eq!(r.get("a").unwrap().value, Owned::Str("Yes".into()));
        assert_eq!(r.get("b").unwrap().value, Owned::Str("no".into()));
        assert_eq!(r.get("c").unwrap().value, Owned::Bool(true));
        assert_eq!(r.get("d").unwrap().value, Owned::Int(12));
        assert_eq!(r.get("e").unwrap().value, Owned::Float(1.5));
        assert_eq!(r.get("f").unwrap().value, Owned::Null);
        assert_eq!(r.get("g").unwrap().value, Owned::Str("12".into()));
        assert_eq!(r.get("h").unwrap().value, Owned::Int(-3));
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
        let (read, _) = build("a: 1\nb: 2\na: 3\n", 100);
        assert_eq!(read.problems.len(), 1);
        match &read.problems[0] {
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
        let (read, _) = build(&s, 1_000);
        let dups: Vec<(String, u32, u32)> = read
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
        let (read, root) = build(&s, 100_000);
        assert!(read.aborted && root.is_none());
        assert!(
            matches!(&read.problems[0], BuildProblem::Syntax { message, .. } if message.contains("alias"))
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
            let (read, root) = build(&s, 1_000_000);
            assert!(read.aborted && root.is_none());
            assert!(
                matches!(&read.problems[0], BuildProblem::Syntax { message, .. } if message.contains("nesting")),
                "{:?}",
                read.problems
            );
        }
    }

    #[test]
    fn syntax_errors_have_a_position() {
        let (read, root) = build("a: [1, 2\nb: 3\n", 100);
        assert!(read.aborted && root.is_none());
        match &read.problems[0] {
            BuildProblem::Syntax { span, .. } => assert!(span.start.line >= 1),
            p => panic!("unexpected {p:?}"),
        }
    }

    #[test]
    fn streamed_entries_come_as_they_complete_and_aliases_reach_across_them() {
        let text = "id: x\nnodes:\n  a: &h {say: Hi}\n  b: *h\n  a: again\nafter: [1, *h]\n";
        let mut keep = Keep {
            stream: true,
            ..Keep::default()
        };
        let read = read(text, 1_000, &mut keep);
        assert!(!read.aborted);
        // The duplicate node `a` is reported where it stands, as in any mapping.
        assert!(matches!(
            &read.problems[..],
            [BuildProblem::DuplicateKey { key, span, first }]
                if key == "a" && span.start.line == 5 && first.start.line == 3
        ));
        let got: Vec<(Level, Owned, u32)> = keep
            .entries
            .iter()
            .map(|(l, k, v)| (*l, k.value.clone(), v.span.start.line))
            .collect();
        let s = |t: &str| Owned::Str(t.into());
        assert_eq!(
            got,
            vec![
                (Level::Root, s("id"), 1),
                (Level::Child, s("a"), 3),
                (Level::Child, s("b"), 4),
                (Level::Root, s("nodes"), 3),
                (Level::Root, s("after"), 6),
            ]
        );
        // The alias is the anchored value, at the alias's place.
        let b = &keep.entries[2].2;
        assert_eq!(b.get("say").map(|v| &v.value), Some(&s("Hi")));
        let after = &keep.entries[4].2;
        assert!(matches!(&after.value, Owned::Seq(items) if items[1].get("say").is_some()));
        // The streamed root arrives after its entries, with its span.
        assert_eq!(keep.root.map(|r| r.span.start.line), Some(1));
    }
}
