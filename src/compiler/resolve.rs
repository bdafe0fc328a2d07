//! Pass 2, resolve: names become indices.
//!
//! Script ids are made unique across files, node ids within a script; every
//! `start`, `goto`, `next`, `else` and `use` is checked against what exists,
//! with "did you mean" for typos; answer ids are checked within each question.

use crate::diagnostics::{Code, Diagnostic, FileId, Span, did_you_mean};
use crate::program::{IdHash, NodeMap};
use crate::script::ast::{self, NodeKind, Outcome, Script, Spanned, Text};
use petgraph::stable_graph::NodeIndex;
use rayon::prelude::*;
use std::collections::HashMap;

pub struct Resolved {
    pub scripts: Vec<Script>,
    /// Per script: node id -> position in `nodes`, as the graph index the
    /// node gets in lowering (so the map moves into the program as it is).
    pub node_maps: Vec<NodeMap>,
    /// Script id -> position in `scripts` (the first file to define it).
    pub script_map: HashMap<String, usize>,
    /// Per script: its start node's position.
    pub starts: Vec<usize>,
}

pub fn resolve(mut scripts: Vec<Script>, diags: &mut Vec<Diagnostic>) -> Resolved {
    let mut script_map: HashMap<String, usize> = HashMap::new();
    for (i, s) in scripts.iter().enumerate() {
        match script_map.get(&s.id.value) {
            Some(&first) => {
                let f = &scripts[first];
                diags.push(
                    Diagnostic::new(
                        Code::Fp004,
                        s.file,
                        s.id.span,
                        format!("script id `{}` is already used by another file", s.id.value),
                    )
                    .with_label("duplicate script id")
                    .with_related_in(f.file, f.id.span, "first defined here")
                    .with_hint("script ids are unique across all loaded files; rename one of them"),
                );
            }
            None => {
                script_map.insert(s.id.value.clone(), i);
            }
        }
    }
    // A duplicate stays in the list, so its own problems are reported too;
    // `use` and the program see only the first file with the id.

    let script_ids: Vec<String> = scripts.iter().map(|s| s.id.value.clone()).collect();
    // Each script's nodes and references are its own; only the script ids
    // are shared. In parallel, diagnostics collected in order.
    let per_script: Vec<(NodeMap, usize, Vec<Diagnostic>)> = scripts
        .par_iter_mut()
        .map(|s| {
            let mut d = Vec::new();
            let (map, start) = resolve_script(s, &script_map, &script_ids, &mut d);
            (map, start, d)
        })
        .collect();
    let mut node_maps = Vec::with_capacity(scripts.len());
    let mut starts = Vec::with_capacity(scripts.len());
    for (map, start, d) in per_script {
        node_maps.push(map);
        starts.push(start);
        diags.extend(d);
    }
    Resolved {
        scripts,
        node_maps,
        script_map,
        starts,
    }
}

/// Resolves one script's references; returns its node map and start node.
fn resolve_script(
    s: &mut Script,
    script_map: &HashMap<String, usize>,
    script_ids: &[String],
    diags: &mut Vec<Diagnostic>,
) -> (NodeMap, usize) {
    let mut map: NodeMap = HashMap::with_capacity_and_hasher(s.nodes.len(), IdHash::default());
    for (i, n) in s.nodes.iter().enumerate() {
        map.insert(n.id.value.clone(), NodeIndex::new(i));
    }
    let default_lang = s.default_language().to_owned();
    let cx = Cx {
        map: &map,
        file: s.file,
        default_lang: &default_lang,
        script_map,
        script_ids,
    };
    let start = match &s.start {
        Some(st) => {
            cx.check(st, &|| format!("`start: {}`", st.value), diags);
            map.get(&st.value).map_or(0, |i| i.index())
        }
        None => 0,
    };
    // Each node's references are its own: a big script is checked in
    // parallel runs of nodes, diagnostics collected in order.
    const RUN: usize = 4096;
    let mut nodes = std::mem::take(&mut s.nodes);
    if nodes.len() <= RUN {
        for node in &mut nodes {
            cx.node(node, diags);
        }
    } else {
        let found: Vec<Vec<Diagnostic>> = nodes
            .par_chunks_mut(RUN)
            .map(|run| {
                let mut d = Vec::new();
                for node in run {
                    cx.node(node, &mut d);
                }
                d
            })
            .collect();
        diags.extend(found.into_iter().flatten());
    }
    s.nodes = nodes;
    (map, start)
}

/// What checking one script's references needs.
struct Cx<'a> {
    map: &'a NodeMap,
    file: FileId,
    default_lang: &'a str,
    script_map: &'a HashMap<String, usize>,
    script_ids: &'a [String],
}

impl Cx<'_> {
    /// `what` is only called for a reference that is wrong: naming every
    /// reference of a 100k-node script in words would cost more than the
    /// lookups themselves.
    fn check(&self, r: &Spanned<String>, what: &dyn Fn() -> String, diags: &mut Vec<Diagnostic>) {
        if !self.map.contains_key(&r.value) {
            let what = what();
            let hint = did_you_mean(&r.value, self.map.keys().map(String::as_str));
            diags.push(
                Diagnostic::new(
                    Code::Fp005,
                    self.file,
                    r.span,
                    format!("{what} names a node that does not exist"),
                )
                .with_label("no such node")
                .with_hint_opt(hint.map(|h| format!("did you mean `{h}`?"))),
            );
        }
    }

    fn node(&self, node: &mut ast::Node, diags: &mut Vec<Diagnostic>) {
        let file = self.file;
        match &mut node.kind {
            NodeKind::Ask { answers, .. } => {
                // Questions have a handful of answers: earlier ids are
                // scanned, and only a long list gets a map.
                let mut seen: HashMap<String, Span> = HashMap::new();
                let long = answers.len() > 32;
                for k in 0..answers.len() {
                    let a = &mut answers[k];
                    if !a.explicit_id
                        && let Text::ByLanguage { .. } = &a.label
                        && let Some(t) = a.label.get(self.default_lang)
                    {
                        let slug = ast::slug(&t.value);
                        if !slug.is_empty() {
                            a.id.value = slug;
                        }
                    }
                    let a = &answers[k];
                    let first = if long {
                        seen.get(&a.id.value).copied()
                    } else {
                        answers[..k]
                            .iter()
                            .find(|b| b.id.value == a.id.value)
                            .map(|b| b.id.span)
                    };
                    if let Some(first) = first {
                        let how = if a.explicit_id {
                            String::new()
                        } else {
                            " (an answer's id defaults to the slug of its label)".into()
                        };
                        diags.push(
                            Diagnostic::new(
                                Code::Fp004,
                                file,
                                a.id.span,
                                format!(
                                    "two answers of `{}` have the id `{}`{how}",
                                    node.id.value, a.id.value
                                ),
                            )
                            .with_label("duplicate answer id")
                            .with_related(first, "first used here")
                            .with_hint("give one of them a distinct `id:`"),
                        );
                    } else if long {
                        seen.insert(a.id.value.clone(), a.id.span);
                    }
                    if let Some(Outcome::Goto(t)) = &a.outcome {
                        let what = || match (&a.label, a.short) {
                            (Text::Plain(l), true) => {
                                format!("the answer `{}: {}`", l.value, t.value)
                            }
                            _ => format!("`goto: {}`", t.value),
                        };
                        self.check(t, &what, diags);
                    }
                }
            }
            NodeKind::Say { next: Some(n), .. } | NodeKind::Input { next: Some(n), .. } => {
                self.check(n, &|| format!("`next: {}`", n.value), diags)
            }
            NodeKind::Use { script, next } => {
                if let Some(n) = next {
                    self.check(n, &|| format!("`next: {}`", n.value), diags);
                }
                if !self.script_map.contains_key(&script.value) {
                    let hint =
                        did_you_mean(&script.value, self.script_ids.iter().map(String::as_str));
                    diags.push(
                        Diagnostic::new(
                            Code::Fp011,
                            file,
                            script.span,
                            format!("`use` names script `{}`, which is not loaded", script.value),
                        )
                        .with_label("no such script")
                        .with_hint_opt(hint.map(|h| format!("did you mean `{h}`?")))
                        .with_hint(
                            "lint the folder that holds the sub-flow together with this script",
                        ),
                    );
                }
            }
            NodeKind::Branch { arms, otherwise } => {
                for arm in arms.iter() {
                    self.check(&arm.goto, &|| format!("`goto: {}`", arm.goto.value), diags);
                }
                if let Some(o) = otherwise {
                    self.check(o, &|| format!("`else: {}`", o.value), diags);
                }
            }
            _ => {}
        }
    }
}
