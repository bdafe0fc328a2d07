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
use crate::script::ast::Script;
use crate::script::yaml::{self, BuildProblem};
use sink::{BodySink, ScriptSink};
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
/// The keys of a short answer's mapping (`- LABEL: { ... }`): the long
/// form's, less `label`.
const SHORT_ANSWER_KEYS: &[&str] = &["id", "set", "goto", "resolve", "escalate", "return"];
const OUTCOME_KEYS: &[&str] = &["goto", "resolve", "escalate", "return"];
/// The keys of an escalation written as a mapping (in a node or an answer).
const ESCALATION_KEYS: &[&str] = &["reason", "tier", "queue"];
/// The keys of the script's `escalation` defaults.
const ESCALATION_DEFAULT_KEYS: &[&str] = &["tier", "queue"];
const BRANCH_ITEM_KEYS: &[&str] = &["if", "goto"];
const ELSE_KEYS: &[&str] = &["else"];

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

/// What one part of a big file was read into: the first part holds the
/// script's top level, every later part only more entries of `nodes`.
enum PartSink {
    Head(Box<ScriptSink>),
    Body(BodySink),
}

/// Reads the parts of a file in parallel and joins them into one sink, or
/// `None` if any part is not exactly what reading the whole file would
/// have seen there (the caller then reads it whole).
fn read_parts(file: FileId, text: &str, parts: &[split::Part]) -> Option<ScriptSink> {
    use rayon::prelude::*;
    let budget = NODE_BUDGET + text.len();
    let mut outs: Vec<(PartSink, yaml::Read)> = parts
        .par_iter()
        .enumerate()
        .map(|(i, p)| {
            let part = &text[p.bytes.clone()];
            if i == 0 {
                let mut sink = ScriptSink::new(file);
                let read = yaml::read_at(part, p.base, budget, &mut sink);
                (PartSink::Head(Box::new(sink)), read)
            } else {
                let mut sink = BodySink::new(file);
                let read = yaml::read_at(part, p.base, budget, &mut sink);
                (PartSink::Body(sink), read)
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
    let (PartSink::Head(mut head), _) = outs.pop()? else {
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
        let PartSink::Body(mut body) = body else {
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
    Some(*head)
}

/// Reads a file's text in one piece.
fn parse_whole(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Script> {
    let mut sink = ScriptSink::new(file);
    let read = yaml::read(text, NODE_BUDGET + text.len(), &mut sink);
    report_problems(file, text, read.problems, diags);
    if read.aborted || sink.root.is_none() {
        report_empty(file, "a script needs `id`, `title` and `nodes`", diags);
        return None;
    }
    sink.finish(diags)
}

/// A file that held nothing to read: FP003, unless it was not text at all
/// (FP001 said so already).
fn report_empty(file: FileId, needs: &str, diags: &mut Vec<Diagnostic>) {
    if !diags
        .iter()
        .any(|d| d.file == file && d.code == Code::Fp001)
    {
        diags.push(Diagnostic::new(
            Code::Fp003,
            file,
            Span::FILE,
            format!("the file is empty (nothing but blank lines or comments); {needs}"),
        ));
    }
}

/// The reader's own problems (syntax, duplicate keys) as diagnostics.
fn report_problems(
    file: FileId,
    text: &str,
    problems: Vec<BuildProblem>,
    diags: &mut Vec<Diagnostic>,
) {
    for p in problems {
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
}

mod answer;
mod node;
mod reply;
pub use reply::{REPLY_KEYS, parse_reply};
#[cfg(test)]
mod schema_tests;
mod sink;
#[cfg(test)]
mod tests;
mod values;
