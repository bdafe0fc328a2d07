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

mod read;
#[cfg(test)]
mod tests;

pub use read::{read, read_at};
