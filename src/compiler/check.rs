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

use super::resolve::Resolved;
use crate::diagnostics::{Code, Diagnostic, FileId, Sources, Span, did_you_mean};
use crate::program::templates::TemplatesBuilder;
use crate::program::{self, ExprId, Literal, SetValue, Templates, TextId, TextPiece};
use crate::script::ast::{self, NodeKind, Outcome, Scalar, Text};
use petgraph::stable_graph::NodeIndex;
use std::collections::{HashMap, HashSet};

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
const STAFF_TEXTS: &[&str] = &["`help`", "the escalation reason"];

/// An unguarded `params.X` in a text, and the text's span.
struct ParamUse {
    found: super::params::Unguarded,
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
    };
    let map = &resolved.node_maps[si];
    let ix = |r: &Option<ast::Spanned<String>>| -> NodeIndex {
        r.as_ref()
            .and_then(|r| map.get(&r.value))
            .copied()
            .unwrap_or(NodeIndex::new(0))
    };
    let ix1 = |r: &ast::Spanned<String>| -> NodeIndex {
        map.get(&r.value).copied().unwrap_or(NodeIndex::new(0))
    };
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
                    .map(|a| {
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
                            Some(Outcome::Goto(t)) => program::Outcome::Goto(ix1(t)),
                            Some(Outcome::Resolve(t)) => {
                                program::Outcome::Resolve(c.text(t, "`resolve`"))
                            }
                            Some(Outcome::Escalate(e)) => {
                                program::Outcome::Escalate(c.escalation(e))
                            }
                            Some(Outcome::Return(t)) => {
                                program::Outcome::Return(c.text(t, "`return`"))
                            }
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
                    })
                    .collect();
                program::NodeKind::Ask { text, say, answers }
            }
            NodeKind::Say { say, next } => program::NodeKind::Say {
                text: c.text(say, "`say`"),
                next: ix(next),
            },
            NodeKind::Input {
                input,
                into,
                next,
                kind,
                pattern,
                required,
                hint,
                invalid,
            } => {
                if let Some(i) = into {
                    writes.insert(i.value.clone());
                }
                let pattern = pattern.as_ref().and_then(|p| c.pattern(p));
                program::NodeKind::Input {
                    text: c.text(input, "`input`"),
                    into: into
                        .as_ref()
                        .map(|i| i.value.as_str().into())
                        .unwrap_or_default(),
                    next: ix(next),
                    kind: *kind,
                    pattern,
                    required: *required,
                    hint: hint.as_ref().map(|t| c.text(t, "`hint`")),
                    invalid: invalid.as_ref().map(|t| c.text(t, "`invalid`")),
                }
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

/// FP009 and FP104, over groups of scripts linked by `use`.
fn check_variables(
    resolved: &Resolved,
    checked: &[Checked],
    vars: &[ScriptVars],
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) {
    let n = checked.len();
    // Union-find over `use` links: a sub-flow shares its callers' variables.
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (i, c) in checked.iter().enumerate() {
        for &u in &c.uses {
            let (a, b) = (find(&mut parent, i), find(&mut parent, u));
            parent[a] = b;
        }
    }
    let mut known: HashMap<usize, HashSet<&str>> = HashMap::new();
    let mut read: HashMap<usize, HashSet<&str>> = HashMap::new();
    // The template engine's own functions (`range`, `dict`, `namespace`, …)
    // read like variables to its analysis, but are always there.
    let env = crate::program::templates::environment();
    let globals: HashSet<&str> = env.globals().map(|(n, _)| n).collect();
    for (i, v) in vars.iter().enumerate() {
        let root = find(&mut parent, i);
        known
            .entry(root)
            .or_default()
            .extend(v.writes.iter().map(String::as_str));
        read.entry(root)
            .or_default()
            .extend(v.reads.iter().map(|(n, _)| n.as_str()));
    }
    // An unread variable in a file with errors is usually read by the broken
    // part; FP104 there would only add noise.
    let broken: HashSet<FileId> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.file)
        .collect();
    for (i, v) in vars.iter().enumerate() {
        let root = find(&mut parent, i);
        let s = &resolved.scripts[i];
        let known = &known[&root];
        let mut reported = HashSet::new();
        for (name, span) in &v.reads {
            if BUILTINS.contains(&name.as_str())
                || globals.contains(name.as_str())
                || known.contains(name.as_str())
                || !reported.insert((name, span))
            {
                continue;
            }
            let hint = did_you_mean(name, known.iter().copied().chain(BUILTINS.iter().copied()));
            let span = refine(sources, s.file, *span, name);
            diags.push(
                Diagnostic::new(
                    Code::Fp009,
                    s.file,
                    span,
                    format!("variable `{name}` is never declared or set"),
                )
                .with_label("unknown variable")
                .with_hint(match hint {
                    Some(h) => format!("did you mean `{h}`?"),
                    None => format!("declare it with a default: `vars: {{ {name}: ... }}`"),
                }),
            );
        }
        let read = &read[&root];
        for (name, _) in &s.vars {
            if !read.contains(name.value.as_str()) && !broken.contains(&s.file) {
                diags.push(
                    Diagnostic::new(
                        Code::Fp104,
                        s.file,
                        name.span,
                        format!("variable `{}` is declared but nothing reads it", name.value),
                    )
                    .with_label("never read")
                    .with_hint("remove it, or use it in a text or an `if:`"),
                );
            }
        }
    }
}

/// The `if:` at `span` rewritten with `==` where it compares with a lone
/// `=` (outside strings), as people write it in plain language; `None`
/// when it has no such `=`.
fn lone_equals(script: &ast::Script, span: Span) -> Option<String> {
    let src = script.nodes.iter().find_map(|n| match &n.kind {
        NodeKind::Branch { arms, .. } => arms
            .iter()
            .find(|a| a.condition.span == span)
            .map(|a| a.condition.value.as_str()),
        _ => None,
    })?;
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 2);
    let mut quote: Option<char> = None;
    let mut changed = false;
    for (i, &c) in chars.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '='
                && chars.get(i + 1) != Some(&'=')
                && !matches!(
                    i.checked_sub(1).map(|j| chars[j]),
                    Some('=' | '!' | '<' | '>')
                ) =>
            {
                out.push_str("==");
                changed = true;
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    changed.then_some(out)
}

/// FP106: in the scripts customers read, `params.X` with no fallback.
///
/// Customer-facing is the server's rule for the wizard's list (tier 1 and
/// not a sub-flow), widened to the sub-flows such a script runs through
/// `use`: their texts are read by the same customers.
fn check_params(
    resolved: &Resolved,
    checked: &[Checked],
    vars: &[ScriptVars],
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) {
    let n = checked.len();
    // Per script: `None` when no customer reads it, else the script the
    // customer started (itself, or a caller of this sub-flow).
    let mut customer: Vec<Option<usize>> = resolved
        .scripts
        .iter()
        .enumerate()
        .map(|(i, s)| (s.tier == 1 && !is_subflow(s)).then_some(i))
        .collect();
    let mut stack: Vec<usize> = (0..n).filter(|&i| customer[i].is_some()).collect();
    while let Some(i) = stack.pop() {
        for &u in &checked[i].uses {
            if u < n && customer[u].is_none() {
                customer[u] = customer[i];
                stack.push(u);
            }
        }
    }
    for (i, v) in vars.iter().enumerate() {
        let Some(started) = customer[i] else {
            continue;
        };
        let how = if started == i {
            "customers start this script themselves, with no params".to_owned()
        } else {
            format!(
                "customers reach this sub-flow from `{}`, which they start themselves, with no params",
                resolved.scripts[started].id.value
            )
        };
        let s = &resolved.scripts[i];
        let mut reported = HashSet::new();
        for p in &v.params {
            let name = &p.found.name;
            let span = refine_nth(
                sources,
                s.file,
                p.span,
                &p.found.written,
                p.found.occurrence,
            );
            if !reported.insert((span.start.line, span.start.column)) {
                continue;
            }
            diags.push(
                Diagnostic::new(
                    Code::Fp106,
                    s.file,
                    span,
                    format!("`params.{name}` shows as nothing when the session was started without it"),
                )
                .with_label("no fallback")
                .with_hint(format!(
                    "{how}: write `{{{{ params.{name} | default(\"...\") }}}}`, or put the words around it inside `{{% if params.{name} %}}...{{% endif %}}`"
                )),
            );
        }
    }
}

/// Does the script end in `return` somewhere (a sub-flow)?
fn is_subflow(s: &ast::Script) -> bool {
    s.nodes.iter().any(|n| match &n.kind {
        NodeKind::Return(_) => true,
        NodeKind::Ask { answers, .. } => answers
            .iter()
            .any(|a| matches!(a.outcome, Some(Outcome::Return(_)))),
        _ => false,
    })
}

/// [`refine`] for the `nth` occurrence (from 0) of `needle` on the span's
/// first line; the whole span when it is not there.
fn refine_nth(sources: &Sources, file: FileId, span: Span, needle: &str, nth: usize) -> Span {
    let mut from = span;
    let mut found = span;
    for _ in 0..=nth {
        let r = refine(sources, file, from, needle);
        if r == from {
            return span;
        }
        found = r;
        from = r;
        from.start.column += 1;
    }
    found
}

/// Points a diagnostic about `name` at the name itself when it stands on the
/// span's first line (the usual one-line text), else at the whole value.
fn refine(sources: &Sources, file: FileId, span: Span, name: &str) -> Span {
    let Some(src) = sources.get(file) else {
        return span;
    };
    let line = src.line(span.start.line);
    let from: usize = line
        .char_indices()
        .nth(span.start.column.saturating_sub(1) as usize)
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    let bytes = line.as_bytes();
    let mut search = from;
    while let Some(off) = line[search..].find(name) {
        let at = search + off;
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let end = at + name.len();
        let after_ok =
            end >= bytes.len() || !(bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_');
        if before_ok && after_ok {
            let col = line[..at].chars().count() as u32 + 1;
            let len = name.chars().count() as u32;
            let start = crate::diagnostics::Pos {
                line: span.start.line,
                column: col,
                index: span.start.index,
            };
            let end = crate::diagnostics::Pos {
                line: span.start.line,
                column: col + len,
                index: span.start.index,
            };
            return Span { start, end };
        }
        search = end;
    }
    span
}

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
fn describe(err: &minijinja::Error) -> String {
    match err.detail() {
        Some(d) => d.to_string(),
        None => err.kind().to_string(),
    }
}

struct Ctx<'a, 'd> {
    file: FileId,
    langs: &'a [&'a str],
    builder: &'a mut TemplatesBuilder,
    diags: &'d mut Vec<Diagnostic>,
    reads: Vec<(String, Span)>,
    params: Vec<ParamUse>,
}

impl Ctx<'_, '_> {
    fn empty(&mut self) -> TextId {
        self.builder.push_text(vec![TextPiece::Literal("".into())])
    }

    fn piece(&mut self, src: &ast::Spanned<String>, what: &str) -> TextPiece {
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

    fn text(&mut self, t: &Text, what: &str) -> TextId {
        // `help` and escalation reasons are for staff, who see the
        // session's params beside them; the customer reads the rest.
        if !STAFF_TEXTS.contains(&what) {
            let sources: Vec<&ast::Spanned<String>> = match t {
                Text::Plain(s) => vec![s],
                Text::ByLanguage { entries, .. } => entries.iter().map(|(_, s)| s).collect(),
            };
            for s in sources {
                self.params
                    .extend(
                        super::params::unguarded(&s.value)
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
                            format!(
                                "{what} gives one text, but the script lists the languages {}",
                                list(self.langs)
                            ),
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
                                    "`{}` is not one of the script's languages ({})",
                                    l.value,
                                    list(self.langs)
                                ),
                            )
                            .with_label("unlisted language")
                            .with_hint_opt(hint.map(|h| format!("did you mean `{h}`?")))
                            .with_hint(format!(
                                "add `{}` to `languages`, or remove this text",
                                l.value
                            )),
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
                            "every text gives every language of the script: {}",
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

    fn set_value(&mut self, v: &Scalar, span: Span) -> SetValue {
        match v {
            Scalar::Str(s) if crate::program::templates::is_template(s) => {
                let p = self.piece(&ast::Spanned::new(s.clone(), span), "this `set` value");
                SetValue::Template(self.builder.push_text(vec![p]))
            }
            other => SetValue::Literal(literal(other)),
        }
    }

    fn escalation(&mut self, e: &ast::Escalation) -> program::Escalation {
        program::Escalation {
            reason: e
                .reason
                .as_ref()
                .map(|r| self.text(r, "the escalation reason")),
            tier: e.tier,
            queue: e.queue.clone(),
        }
    }

    fn pattern(&mut self, p: &ast::Spanned<String>) -> Option<regex::Regex> {
        if let Some(r) = self.builder.patterns.get(&p.value) {
            return Some(r.clone());
        }
        let r = self.pattern_uncached(p)?;
        self.builder.patterns.insert(p.value.clone(), r.clone());
        Some(r)
    }

    fn pattern_uncached(&mut self, p: &ast::Spanned<String>) -> Option<regex::Regex> {
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

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|l| format!("`{l}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
