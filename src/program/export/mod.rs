//! Graph export: DOT, Mermaid and SVG from one model of the compiled graph,
//! written by us for stable ordering (nodes as authored, edges in answer
//! order) so the output diffs cleanly and snapshots hold.
//!
//! Terminal outcomes are nodes of their own shape, and never told apart by
//! colour alone: resolutions read "resolved", escalations "escalate" with
//! their tier and queue.

mod dot;
mod mermaid;
mod svg;

use super::{Escalation, NodeKind, Outcome, Program, ScriptIdx, TextId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// Graphviz DOT
    Dot,
    /// Mermaid flowchart (renders in GitHub and GitLab Markdown)
    Mermaid,
    /// A standalone SVG picture, drawn without any external program
    Svg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Question,
    Instruction,
    Input,
    Branch,
    SubFlow,
    Resolve,
    Escalate,
    Return,
}

impl Shape {
    pub fn is_terminal(self) -> bool {
        matches!(self, Shape::Resolve | Shape::Escalate | Shape::Return)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GNode {
    /// A key unique in the graph: the node id, or `NODE.ANSWER` for an
    /// outcome written on an answer.
    pub key: String,
    /// The first line: the node id, or the outcome's kind.
    pub title: String,
    /// The text, shortened to fit a box.
    pub text: String,
    pub shape: Shape,
    pub start: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GEdge {
    pub from: usize,
    pub to: usize,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    pub title: String,
    pub nodes: Vec<GNode>,
    pub edges: Vec<GEdge>,
}

/// The longest label text kept in a node before it is cut with `…`.
const MAX_TEXT: usize = 60;

fn shorten(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= MAX_TEXT {
        s
    } else {
        let mut t: String = s.chars().take(MAX_TEXT - 1).collect();
        t.push('…');
        t
    }
}

/// Builds the model of script `ix`, labels in the language at `lang`.
pub fn model(program: &Program, ix: ScriptIdx, lang: usize) -> Model {
    let s = program.script(ix);
    let t = |id: TextId| shorten(&program.templates.source(id, lang));
    let esc = |e: &Escalation, node_id: &str| -> (String, String) {
        let tier = e.tier.or(s.escalation_tier);
        let queue = e.queue.as_deref().or(s.escalation_queue.as_deref());
        let mut title = "escalate".to_string();
        match tier {
            Some(n) => title.push_str(&format!(" to tier {n}")),
            None => title.push_str(" to next tier"),
        }
        if let Some(q) = queue {
            title.push_str(&format!(" ({q})"));
        }
        let text = e
            .reason
            .map(&t)
            .unwrap_or_else(|| format!("unresolved at {node_id}"));
        (title, text)
    };
    let mut m = Model {
        title: format!("{} ({})", t(s.title), s.id),
        ..Model::default()
    };
    let mut index = vec![usize::MAX; s.graph.node_count()];
    for (nix, n) in s.nodes() {
        let (shape, title, text) = match &n.kind {
            NodeKind::Ask { text, .. } => (Shape::Question, n.id.clone(), t(*text)),
            NodeKind::Say { text, .. } => (Shape::Instruction, n.id.clone(), t(*text)),
            NodeKind::Input { text, into, .. } => {
                (Shape::Input, n.id.clone(), format!("{} → {into}", t(*text)))
            }
            NodeKind::Branch { .. } => (Shape::Branch, n.id.clone(), String::new()),
            NodeKind::Use { script, .. } => (
                Shape::SubFlow,
                n.id.clone(),
                format!("use {}", program.script(*script).id),
            ),
            NodeKind::Resolve(r) => (Shape::Resolve, format!("{}: resolved", n.id), t(*r)),
            NodeKind::Escalate(e) => {
                let (title, text) = esc(e, &n.id);
                (Shape::Escalate, format!("{}: {title}", n.id), text)
            }
            NodeKind::Return(r) => (Shape::Return, format!("{}: return", n.id), t(*r)),
        };
        index[nix.index()] = m.nodes.len();
        m.nodes.push(GNode {
            key: n.id.clone(),
            title,
            text,
            shape,
            start: nix == s.start,
        });
    }
    for (nix, n) in s.nodes() {
        let from = index[nix.index()];
        match &n.kind {
            NodeKind::Ask { answers, .. } => {
                for a in answers {
                    let label = t(a.label);
                    let to = match &a.outcome {
                        Outcome::Goto(g) => index[g.index()],
                        other => {
                            let (shape, title, text) = match other {
                                Outcome::Resolve(r) => {
                                    (Shape::Resolve, "resolved".to_string(), t(*r))
                                }
                                Outcome::Escalate(e) => {
                                    let (title, text) = esc(e, &n.id);
                                    (Shape::Escalate, title, text)
                                }
                                Outcome::Return(r) => (Shape::Return, "return".to_string(), t(*r)),
                                Outcome::Goto(_) => unreachable!("handled above"),
                            };
                            m.nodes.push(GNode {
                                key: format!("{}.{}", n.id, a.id),
                                title,
                                text,
                                shape,
                                start: false,
                            });
                            m.nodes.len() - 1
                        }
                    };
                    m.edges.push(GEdge { from, to, label });
                }
            }
            NodeKind::Say { next, .. } | NodeKind::Input { next, .. } => m.edges.push(GEdge {
                from,
                to: index[next.index()],
                label: String::new(),
            }),
            NodeKind::Use { next, .. } => m.edges.push(GEdge {
                from,
                to: index[next.index()],
                label: "returned".into(),
            }),
            NodeKind::Branch { arms, otherwise } => {
                for (e, g) in arms {
                    m.edges.push(GEdge {
                        from,
                        to: index[g.index()],
                        label: shorten(program.templates.expr_source(*e)),
                    });
                }
                m.edges.push(GEdge {
                    from,
                    to: index[otherwise.index()],
                    label: "else".into(),
                });
            }
            _ => {}
        }
    }
    m
}

/// Renders script `ix` in `format`.
pub fn export(program: &Program, ix: ScriptIdx, lang: usize, format: GraphFormat) -> String {
    let m = model(program, ix, lang);
    match format {
        GraphFormat::Dot => dot::render(&m),
        GraphFormat::Mermaid => mermaid::render(&m),
        GraphFormat::Svg => svg::render(&m),
    }
}
