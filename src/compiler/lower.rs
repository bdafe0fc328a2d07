//! Pass 4, lower: checked scripts become petgraphs in an immutable
//! [`Program`], each with its content hash.
//!
//! Only scripts without errors are lowered, and a script that runs a broken
//! sub-flow through `use` is left out too: a program never holds anything
//! that could strand a session. Their problems are already diagnostics.

use super::check::Checked;
use super::resolve::Resolved;
use crate::diagnostics::{FileId, Sources, Span};
use crate::program::{Edge, NodeKind, Outcome, Program, Script, ScriptIdx, Templates};
use crate::script::ast;
use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// Where each lowered script and node came from, for the lints' diagnostics.
pub struct Origin {
    pub file: FileId,
    pub id_span: Span,
    /// Per node index: the span of the node id.
    pub node_spans: Vec<Span>,
}

/// `versions` holds, per file id, the file's content hash ([`version`]).
pub fn lower(
    resolved: Resolved,
    checked: Vec<Checked>,
    templates: Templates,
    sources: &Sources,
    versions: &[String],
    broken_files: &HashSet<FileId>,
) -> (Program, Vec<Origin>) {
    use rayon::prelude::*;
    let n = resolved.scripts.len();
    let mut good: Vec<bool> = resolved
        .scripts
        .iter()
        .map(|s| !broken_files.contains(&s.file))
        .collect();
    // A script that runs a broken sub-flow cannot run either.
    loop {
        let mut changed = false;
        for i in 0..n {
            if good[i] && checked[i].uses.iter().any(|&u| !good[u]) {
                good[i] = false;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut remap = vec![u32::MAX; n];
    let mut next = 0u32;
    for i in 0..n {
        if good[i] {
            remap[i] = next;
            next += 1;
        }
    }

    // Each script is lowered on its own: in parallel, collected in order.
    let lowered: Vec<(Script, Origin)> = resolved
        .scripts
        .into_par_iter()
        .zip(checked)
        .zip(resolved.node_maps)
        .zip(resolved.starts)
        .enumerate()
        .filter(|(i, _)| good[*i])
        .map(|(_, (((ast, c), node_index), start))| {
            lower_script(ast, c, node_index, start, &remap, sources, versions)
        })
        .collect();
    let (scripts, origins): (Vec<Script>, Vec<Origin>) = lowered.into_iter().unzip();
    let by_id = scripts
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.clone(), ScriptIdx(i as u32)))
        .collect();
    let mut ids: Vec<(&str, &str)> = scripts
        .iter()
        .map(|s| (s.id.as_str(), s.version.as_str()))
        .collect();
    ids.sort();
    let mut h = Sha256::new();
    for (id, v) in ids {
        h.update(id.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([b'\n']);
    }
    let hash = hex16(&h.finalize());
    (
        Program {
            scripts,
            by_id,
            templates,
            hash,
            runtime: Default::default(),
        },
        origins,
    )
}

fn lower_script(
    mut ast: crate::script::ast::Script,
    c: Checked,
    node_index: crate::program::NodeMap,
    start: usize,
    remap: &[u32],
    sources: &Sources,
    versions: &[String],
) -> (Script, Origin) {
    let origin = Origin {
        file: ast.file,
        id_span: ast.id.span,
        node_spans: ast.nodes.iter().map(|n| n.id.span).collect(),
    };
    let mut nodes = c.nodes;
    // check compiled the nodes but left their ids (and their answers' ids)
    // empty: they move here from the AST, which is freed before the graph
    // is built, so the graph can reuse its memory.
    for (node, a) in nodes.iter_mut().zip(ast.nodes.iter_mut()) {
        node.id = std::mem::take(&mut a.id.value);
        if let (NodeKind::Ask { answers, .. }, ast::NodeKind::Ask { answers: from, .. }) =
            (&mut node.kind, &mut a.kind)
        {
            for (to, from) in answers.iter_mut().zip(from.iter_mut()) {
                to.id = std::mem::take(&mut from.id.value);
            }
        }
    }
    ast.nodes = Vec::new();
    let mut graph: StableDiGraph<crate::program::Node, Edge> =
        StableDiGraph::with_capacity(nodes.len(), nodes.len() + nodes.len() / 2);
    for mut node in nodes {
        if let NodeKind::Use { script, .. } = &mut node.kind {
            *script = ScriptIdx(remap[script.0 as usize]);
        }
        graph.add_node(node);
    }
    let indices: Vec<NodeIndex> = graph.node_indices().collect();
    let mut edges: Vec<(NodeIndex, Edge)> = Vec::new();
    for from in indices {
        edges.clear();
        match &graph[from].kind {
            NodeKind::Ask { answers, .. } => {
                for (k, a) in answers.iter().enumerate() {
                    if let Outcome::Goto(t) = a.outcome {
                        edges.push((t, Edge::Answer(k as u16)));
                    }
                }
            }
            NodeKind::Say { next, .. }
            | NodeKind::Input { next, .. }
            | NodeKind::Use { next, .. } => edges.push((*next, Edge::Next)),
            NodeKind::Branch { arms, otherwise } => {
                for (k, (_, t)) in arms.iter().enumerate() {
                    edges.push((*t, Edge::Branch(k as u16)));
                }
                edges.push((*otherwise, Edge::Else));
            }
            _ => {}
        }
        for &(to, e) in &edges {
            graph.add_edge(from, to, e);
        }
    }
    let version = match versions.get(ast.file.0 as usize) {
        Some(v) if !v.is_empty() => v.clone(),
        _ => version(sources.get(ast.file).map(|f| f.text.as_ref()).unwrap_or("")),
    };
    let mut uses: Vec<ScriptIdx> = Vec::new();
    for n in graph.node_weights() {
        if let NodeKind::Use { script, .. } = n.kind
            && !uses.contains(&script)
        {
            uses.push(script);
        }
    }
    let script = Script {
        id: ast.id.value,
        path: sources.path(ast.file).to_owned(),
        version,
        title: c.title,
        languages: ast.languages.into_iter().map(|l| l.value).collect(),
        tier: ast.tier,
        offer_none: ast.offer_none,
        escalation_tier: ast.escalation.tier,
        escalation_queue: ast.escalation.queue,
        max_visits: ast.max_visits,
        tags: ast.tags,
        vars: c.vars,
        start: NodeIndex::new(start),
        graph,
        node_index,
        uses,
        guarded: Default::default(),
        pin_texts: Default::default(),
    };
    (script, origin)
}

/// A script's content hash, its `version`: 16 hex digits of the SHA-256 of
/// its file's text.
pub fn version(text: &str) -> String {
    hex16(&Sha256::digest(text.as_bytes()))
}

fn hex16(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
