//! Pass 3, check: every text, expression, pattern and variable.
//!
//! Texts are checked against the script's languages (FP013) and compiled as
//! templates (FP008); `if:` expressions are compiled once (FP008); input
//! patterns are compiled as regular expressions (FP003). The variables every
//! template reads are checked against what is declared or set (FP009), and
//! declared variables against what is read (FP104); sub-flows share their
//! caller's variables, so scripts linked by `use` are checked as one.
//!
//! The result is each script's nodes in their compiled form, with references
//! as positions; lowering turns them into graphs.

use crate::compiler::resolve::Resolved;
use crate::diagnostics::{Code, Diagnostic, FileId, Sources, Span, did_you_mean};
use crate::program::templates::TemplatesBuilder;
use crate::program::{self, ExprId, Literal, NodeMap, SetValue, Templates, TextId, TextPiece};
use crate::script::ast::{self, NodeKind, Outcome, Scalar, Text};
use petgraph::stable_graph::NodeIndex;
use std::collections::{HashMap, HashSet};

mod reply;
mod text;
mod vars;

pub use reply::{check_replies, library_languages};
pub use text::literal;
use text::{Ctx, Owner, describe};
use vars::{check_params, check_variables, lone_equals};

pub const BUILTINS: &[&str] = &["channel", "language", "tier", "params"];

/// A script after checking: compiled nodes whose references are positions
/// in the resolved script list (`Use`) and node list (everything else).
pub struct Checked {
    pub title: TextId,
    pub nodes: Vec<program::Node>,
    pub vars: Vec<(String, Literal)>,
    /// Scripts this one runs through `use` (positions in the resolved list).
    pub uses: Vec<usize>,
}

struct ScriptVars {
    /// (name, where it is read)
    reads: Vec<(String, Span)>,
    writes: HashSet<String>,
    /// Uses of `params.X` with no fallback, in texts people read (FP106).
    params: Vec<ParamUse>,
}

/// The texts only staff read (by the name [`Ctx::text`] gets): FP106
/// leaves them alone.
const STAFF_TEXTS: &[&str] = &["`help`", "the escalation reason", "the reply's title"];

/// An unguarded `params.X` in a text, and the text's span.
struct ParamUse {
    found: crate::compiler::params::Unguarded,
    span: Span,
}

pub fn check(
    resolved: &Resolved,
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) -> (Templates, Vec<Checked>) {
    use rayon::prelude::*;
    // Texts are compiled in chunks of about equal size, in parallel, each
    // with its own template environment; the chunks are merged in order, so
    // ids and diagnostics come out as one sequential run would give them.
    let outs: Vec<ChunkOut> = chunks(resolved)
        .into_par_iter()
        .map(|units| check_chunk(resolved, &units))
        .collect();

    let n = resolved.scripts.len();
    let mut checked: Vec<Checked> = (0..n)
        .map(|_| Checked {
            title: TextId(0),
            nodes: Vec::new(),
            vars: Vec::new(),
            uses: Vec::new(),
        })
        .collect();
    let mut vars: Vec<ScriptVars> = (0..n)
        .map(|_| ScriptVars {
            reads: Vec::new(),
            writes: HashSet::new(),
            params: Vec::new(),
        })
        .collect();
    let mut parts = Vec::with_capacity(outs.len());
    let mut rest = Vec::with_capacity(outs.len());
    for out in outs {
        diags.extend(out.diags);
        parts.push(out.templates);
        rest.push((out.units, out.results));
    }
    let (templates, offsets) = Templates::merge(parts);
    // (script, expression, where), in the order the expressions were written
    let mut exprs: Vec<(usize, Result<HashSet<String>, minijinja::Error>, Span)> = Vec::new();
    for ((units, results), (text_off, expr_off)) in rest.into_iter().zip(offsets) {
        let mut results: Vec<Option<_>> = results.into_iter().map(Some).collect();
        for u in units {
            let si = u.script;
            let c = &mut checked[si];
            if let Some((title, lits)) = u.head {
                c.title = TextId(title.0 + text_off);
                c.vars = lits;
            }
            c.nodes.extend(u.nodes.into_iter().map(|mut node| {
                rebase(&mut node, text_off, expr_off);
                node
            }));
            c.uses.extend(u.uses);
            let v = &mut vars[si];
            v.reads.extend(u.reads);
            v.writes.extend(u.writes);
            v.params.extend(u.params);
            for (e, span) in u.exprs {
                if let Some(r) = results.get_mut(e.0 as usize).and_then(Option::take) {
                    exprs.push((si, r, span));
                }
            }
        }
    }
    for (si, result, span) in exprs {
        let file = resolved.scripts[si].file;
        match result {
            Ok(names) => vars[si].reads.extend(names.into_iter().map(|n| (n, span))),
            Err(err) => {
                let d = Diagnostic::new(
                    Code::Fp008,
                    file,
                    span,
                    format!("this `if:` is not a valid expression: {}", describe(&err)),
                )
                .with_label("invalid expression");
                let d = match lone_equals(&resolved.scripts[si], span) {
                    Some(fixed) => d.with_hint(format!("to compare, write `==`: `{fixed}`")),
                    None => d.with_hint("an `if:` is a minijinja expression such as `attempts > 2 and light == \"red\"`"),
                };
                diags.push(d);
            }
        }
    }
    check_variables(resolved, &checked, &vars, sources, diags);
    check_params(resolved, &checked, &vars, sources, diags);
    (templates, checked)
}

/// Nodes `nodes` of script `script`; the first unit of a script (`head`)
/// also checks the script's title and variables.
struct Unit {
    script: usize,
    nodes: std::ops::Range<usize>,
    head: bool,
}

struct UnitOut {
    script: usize,
    head: Option<(TextId, Vec<(String, Literal)>)>,
    nodes: Vec<program::Node>,
    uses: Vec<usize>,
    reads: Vec<(String, Span)>,
    writes: HashSet<String>,
    params: Vec<ParamUse>,
    /// Expressions, numbered within the chunk, and where they stand.
    exprs: Vec<(ExprId, Span)>,
}

struct ChunkOut {
    templates: Templates,
    /// Per expression of the chunk: the variables it reads, or its error.
    results: Vec<Result<HashSet<String>, minijinja::Error>>,
    units: Vec<UnitOut>,
    diags: Vec<Diagnostic>,
}

/// Cuts the library into runs of units of about equal work: a few per
/// thread, so a busy core does not hold the rest up, and none smaller than
/// a few hundred nodes, where a template environment of its own would cost
/// more than it saves. A small library is one chunk.
fn chunks(resolved: &Resolved) -> Vec<Vec<Unit>> {
    const MIN_NODES: usize = 512;
    let total: usize = resolved.scripts.iter().map(|s| s.nodes.len() + 1).sum();
    let target = total
        .div_ceil(rayon::current_num_threads().max(1) * 4)
        .max(MIN_NODES);
    let mut out = Vec::new();
    let mut chunk = Vec::new();
    let mut size = 0;
    for (si, s) in resolved.scripts.iter().enumerate() {
        let mut from = 0;
        let mut head = true;
        loop {
            // The head unit counts one more, for the script's own texts.
            let room = target.saturating_sub(size).max(1);
            let to = (from + room).min(s.nodes.len());
            size += to - from + usize::from(head);
            chunk.push(Unit {
                script: si,
                nodes: from..to,
                head,
            });
            head = false;
            if size >= target {
                out.push(std::mem::take(&mut chunk));
                size = 0;
            }
            from = to;
            if from >= s.nodes.len() {
                break;
            }
        }
    }
    if !chunk.is_empty() {
        out.push(chunk);
    }
    out
}

fn check_chunk(resolved: &Resolved, units: &[Unit]) -> ChunkOut {
    let mut builder = TemplatesBuilder::default();
    let mut diags = Vec::new();
    let outs = units
        .iter()
        .map(|u| check_unit(resolved, u, &mut builder, &mut diags))
        .collect();
    let (templates, results) = builder.finish();
    ChunkOut {
        templates,
        results,
        units: outs,
        diags,
    }
}

fn check_unit(
    resolved: &Resolved,
    unit: &Unit,
    builder: &mut TemplatesBuilder,
    diags: &mut Vec<Diagnostic>,
) -> UnitOut {
    let si = unit.script;
    let s = &resolved.scripts[si];
    let langs: Vec<&str> = s.languages.iter().map(|l| l.value.as_str()).collect();
    let mut c = Ctx {
        file: s.file,
        langs: &langs,
        builder,
        diags,
        reads: Vec::new(),
        params: Vec::new(),
        owner: Owner::Script,
    };
    let map = &resolved.node_maps[si];
    let ix = |r: &Option<ast::Spanned<String>>| -> NodeIndex {
        r.as_ref()
            .and_then(|r| map.get(&r.value))
            .copied()
            .unwrap_or(NodeIndex::new(0))
    };
    let ix1 = |r: &ast::Spanned<String>| at(map, r);
    let mut writes: HashSet<String> = HashSet::new();
    let head = unit.head.then(|| {
        let title = match &s.title {
            Some(t) => c.text(t, "`title`"),
            None => c.empty(),
        };
        writes.extend(s.vars.iter().map(|(n, _)| n.value.clone()));
        let lits = s
            .vars
            .iter()
            .map(|(n, v)| (n.value.clone(), literal(v)))
            .collect();
        (title, lits)
    });
    let mut exprs = Vec::new();
    let mut nodes = Vec::with_capacity(unit.nodes.len());
    let mut uses = Vec::new();
    for n in &s.nodes[unit.nodes.clone()] {
        let help = n.help.as_ref().map(|h| c.text(h, "`help`"));
        let kind = match &n.kind {
            NodeKind::Ask { ask, say, answers } => {
                let text = c.text(ask, "`ask`");
                let say = say.as_ref().map(|t| c.text(t, "`say`"));
                let answers = answers
                    .iter()
                    .map(|a| answer(&mut c, a, map, &mut writes))
                    .collect();
                program::NodeKind::Ask { text, say, answers }
            }
            NodeKind::Say { say, next } => program::NodeKind::Say {
                text: c.text(say, "`say`"),
                next: ix(next),
            },
            NodeKind::Input { into, .. } => {
                if let Some(i) = into {
                    writes.insert(i.value.clone());
                }
                input(&mut c, &n.kind, map)
            }
            NodeKind::Branch { arms, otherwise } => {
                let arms = arms
                    .iter()
                    .map(|a| {
                        let e = c.builder.push_expr(&a.condition.value);
                        exprs.push((e, a.condition.span));
                        (e, ix1(&a.goto))
                    })
                    .collect();
                program::NodeKind::Branch {
                    arms,
                    otherwise: ix(otherwise),
                }
            }
            NodeKind::Resolve(t) => program::NodeKind::Resolve(c.text(t, "`resolve`")),
            NodeKind::Escalate(e) => program::NodeKind::Escalate(c.escalation(e)),
            NodeKind::Use { script, next } => {
                let target = resolved.script_map.get(&script.value).copied();
                if let Some(t) = target {
                    uses.push(t);
                }
                program::NodeKind::Use {
                    script: program::ScriptIdx(target.unwrap_or(usize::MAX) as u32),
                    next: ix(next),
                }
            }
            NodeKind::Return(t) => program::NodeKind::Return(c.text(t, "`return`")),
            // Reported by parse; a placeholder keeps positions aligned.
            NodeKind::Invalid => program::NodeKind::Resolve(c.empty()),
        };
        nodes.push(program::Node {
            // Moved in from the AST by lower, not copied.
            id: String::new(),
            kind,
            help,
            names: Default::default(),
            literal: Default::default(),
        });
    }
    UnitOut {
        script: si,
        head,
        nodes,
        uses,
        reads: c.reads,
        params: c.params,
        writes,
        exprs,
    }
}

/// Where a checked reference points (a dangling one was reported by resolve;
/// the first node stands in for it).
fn at(map: &NodeMap, r: &ast::Spanned<String>) -> NodeIndex {
    map.get(&r.value).copied().unwrap_or(NodeIndex::new(0))
}

/// An answer of an `ask` node; the variables it sets go into `writes`.
fn answer(
    c: &mut Ctx<'_, '_>,
    a: &ast::Answer,
    map: &NodeMap,
    writes: &mut HashSet<String>,
) -> program::Answer {
    let label = c.text(&a.label, "the answer label");
    let set = a
        .set
        .iter()
        .map(|(name, v)| {
            writes.insert(name.value.clone());
            (name.value.as_str().into(), c.set_value(&v.value, v.span))
        })
        .collect();
    let outcome = match &a.outcome {
        Some(Outcome::Goto(t)) => program::Outcome::Goto(at(map, t)),
        Some(Outcome::Resolve(t)) => program::Outcome::Resolve(c.text(t, "`resolve`")),
        Some(Outcome::Escalate(e)) => program::Outcome::Escalate(c.escalation(e)),
        Some(Outcome::Return(t)) => program::Outcome::Return(c.text(t, "`return`")),
        None => program::Outcome::Goto(NodeIndex::new(0)),
    };
    program::Answer {
        // Moved in from the AST by lower, not copied.
        id: String::new(),
        label,
        set,
        outcome,
        shared_id: Default::default(),
    }
}

/// An `input` node (`kind` is one).
fn input(c: &mut Ctx<'_, '_>, kind: &NodeKind, map: &NodeMap) -> program::NodeKind {
    let NodeKind::Input {
        input,
        into,
        next,
        kind,
        pattern,
        required,
        hint,
        invalid,
    } = kind
    else {
        unreachable!("called for input nodes only")
    };
    let pattern = pattern.as_ref().and_then(|p| c.pattern(p));
    program::NodeKind::Input {
        text: c.text(input, "`input`"),
        into: into
            .as_ref()
            .map(|i| i.value.as_str().into())
            .unwrap_or_default(),
        next: next.as_ref().map_or(NodeIndex::new(0), |r| at(map, r)),
        kind: *kind,
        pattern,
        required: *required,
        hint: hint.as_ref().map(|t| c.text(t, "`hint`")),
        invalid: invalid.as_ref().map(|t| c.text(t, "`invalid`")),
    }
}

/// Moves a node's text and expression ids by its chunk's offsets.
fn rebase(node: &mut program::Node, t: u32, e: u32) {
    let text = |id: &mut TextId| id.0 += t;
    let escalation = |x: &mut program::Escalation| {
        if let Some(r) = &mut x.reason {
            r.0 += t;
        }
    };
    if let Some(h) = &mut node.help {
        text(h);
    }
    match &mut node.kind {
        program::NodeKind::Ask {
            text: q,
            say,
            answers,
        } => {
            text(q);
            if let Some(s) = say {
                text(s);
            }
            for a in answers {
                text(&mut a.label);
                for (_, v) in &mut a.set {
                    if let SetValue::Template(id) = v {
                        text(id);
                    }
                }
                match &mut a.outcome {
                    program::Outcome::Goto(_) => {}
                    program::Outcome::Resolve(id) | program::Outcome::Return(id) => text(id),
                    program::Outcome::Escalate(x) => escalation(x),
                }
            }
        }
        program::NodeKind::Input {
            text: q,
            hint,
            invalid,
            ..
        } => {
            text(q);
            for id in [hint, invalid].into_iter().flatten() {
                text(id);
            }
        }
        program::NodeKind::Say { text: id, .. }
        | program::NodeKind::Resolve(id)
        | program::NodeKind::Return(id) => text(id),
        program::NodeKind::Escalate(x) => escalation(x),
        program::NodeKind::Branch { arms, .. } => {
            for (id, _) in arms {
                id.0 += e;
            }
        }
        program::NodeKind::Use { .. } => {}
    }
}
