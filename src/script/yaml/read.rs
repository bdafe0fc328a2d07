//! The reader: saphyr-parser events onto the tape, containers closed
//! and streamed entries handed to the sink as they complete.

use super::*;
use saphyr_parser::{Event, Parser, ScalarStyle};
use std::collections::HashMap;
use std::collections::hash_map::Entry;

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
                Event::Alias(id) => Some((self.alias(id, sp)?, 0)),
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
                Event::SequenceStart(anchor, _) => {
                    self.open(false, anchor, sp)?;
                    None
                }
                Event::MappingStart(anchor, _) => {
                    self.open(true, anchor, sp)?;
                    None
                }
                Event::SequenceEnd => self.close(false, sp),
                Event::MappingEnd => self.close(true, sp),
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

    /// An alias: a copy of its anchor's value on the tape (counted against
    /// the budget, which stops an alias bomb). Returns where it is.
    fn alias(&mut self, id: usize, sp: Span) -> Result<usize, Abort> {
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
        Ok(at)
    }

    /// The start of a sequence or (`map`) a mapping.
    fn open(&mut self, map: bool, anchor: usize, sp: Span) -> Result<(), Abort> {
        self.nodes += 1;
        if self.stack.len() + self.base.depth as usize >= MAX_DEPTH {
            return Err(self.syntax(sp, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
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
        Ok(())
    }

    /// The end of a sequence or (`map`) a mapping: the container's place on
    /// the tape and its anchor, once its length is known.
    fn close(&mut self, map: bool, sp: Span) -> Option<(usize, usize)> {
        match self.stack.pop() {
            Some(f) if f.map == map => {
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
        }
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
