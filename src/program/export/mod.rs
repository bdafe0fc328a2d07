//! Graph export: DOT, Mermaid and SVG from one model of the compiled graph,
//! written by us for stable ordering (nodes as authored, edges in answer
//! order) so the output diffs cleanly and snapshots hold.
//!
//! Terminal outcomes are nodes of their own shape, and never told apart by
//! colour alone: resolutions read "resolved", escalations "escalate" with
//! their tier and queue.

mod dot;
pub mod heat;
mod mermaid;
mod readable;
mod svg;
mod words;

use super::{Escalation, Node, NodeKind, Outcome, Program, ScriptIdx, TextId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// The text, its template code made readable (see [`readable`]); each
    /// format cuts it to fit.
    pub text: String,
    /// The text as written, for a tooltip.
    pub full: String,
    pub shape: Shape,
    pub start: bool,
    /// For a sub-flow's box: the sub-flow's id and its start node's id,
    /// which name its figures (`SUB/NODE`).
    pub sub: Option<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GEdge {
    pub from: usize,
    pub to: usize,
    /// Made readable like a node's text; each format cuts it to fit.
    pub label: String,
    /// The label as written, for a tooltip.
    pub full: String,
    /// The answer id the edge stands for (a question's edges only): it
    /// names the edge's traffic in the figures.
    pub answer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Model {
    pub title: String,
    /// The tag on the start node, in the graph's language.
    pub start_tag: String,
    pub nodes: Vec<GNode>,
    pub edges: Vec<GEdge>,
}

/// The longest text DOT and Mermaid keep in a node before it is cut with `…`.
const MAX_TEXT: usize = 60;

fn shorten(s: &str) -> String {
    readable::shorten(s, MAX_TEXT)
}

/// A text of the script: readable, and as written.
struct Text {
    shown: String,
    full: String,
}

impl Text {
    fn new(source: &str) -> Text {
        Text {
            shown: readable::readable(source),
            full: source.split_whitespace().collect::<Vec<_>>().join(" "),
        }
    }
    fn plain(s: String) -> Text {
        Text {
            shown: s.clone(),
            full: s,
        }
    }
}

/// Builds the model of script `ix`, labels in the language at `lang`.
pub fn model(program: &Program, ix: ScriptIdx, lang: usize) -> Model {
    let s = program.script(ix);
    let w = words::words(s.languages.get(lang).map_or("en", String::as_str));
    let t = |id: TextId| Text::new(&program.templates.source(id, lang));
    let esc = |e: &Escalation, node_id: &str| -> (String, Text) {
        let tier = e.tier.or(s.escalation_tier);
        let queue = e.queue.as_deref().or(s.escalation_queue.as_deref());
        let mut title = w.escalate(tier);
        if let Some(q) = queue {
            title.push_str(&format!(" ({q})"));
        }
        let text = e
            .reason
            .map(&t)
            .unwrap_or_else(|| Text::plain(w.unresolved(node_id)));
        (title, text)
    };
    let mut m = Model {
        title: format!(
            "{} ({})",
            readable::readable(&program.templates.source(s.title, lang)),
            s.id
        ),
        start_tag: w.start.to_owned(),
        ..Model::default()
    };
    let mut index = vec![usize::MAX; s.graph.node_count()];
    for (nix, n) in s.nodes() {
        let (shape, title, text) = node_parts(n, &t, &esc, w, program);
        let sub = match &n.kind {
            NodeKind::Use { script, .. } => {
                let sub = program.script(*script);
                Some((sub.id.clone(), sub.node(sub.start).id.clone()))
            }
            _ => None,
        };
        index[nix.index()] = m.nodes.len();
        m.nodes.push(GNode {
            key: n.id.clone(),
            title,
            text: text.shown,
            full: text.full,
            shape,
            start: nix == s.start,
            sub,
        });
    }
    for (nix, n) in s.nodes() {
        let from = index[nix.index()];
        let mut edge = |to: usize, label: Text, answer: Option<String>| {
            m.edges.push(GEdge {
                from,
                to,
                label: label.shown,
                full: label.full,
                answer,
            })
        };
        match &n.kind {
            NodeKind::Ask { answers, .. } => {
                for a in answers {
                    let label = t(a.label);
                    let to = match &a.outcome {
                        Outcome::Goto(g) => index[g.index()],
                        other => {
                            let (shape, title, text) = match other {
                                Outcome::Resolve(r) => {
                                    (Shape::Resolve, w.resolved.to_owned(), t(*r))
                                }
                                Outcome::Escalate(e) => {
                                    let (title, text) = esc(e, &n.id);
                                    (Shape::Escalate, title, text)
                                }
                                Outcome::Return(r) => (Shape::Return, w.ret.to_owned(), t(*r)),
                                Outcome::Goto(_) => unreachable!("handled above"),
                            };
                            m.nodes.push(GNode {
                                key: format!("{}.{}", n.id, a.id),
                                title,
                                text: text.shown,
                                full: text.full,
                                shape,
                                start: false,
                                sub: None,
                            });
                            m.nodes.len() - 1
                        }
                    };
                    edge(to, label, Some(a.id.to_string()));
                }
            }
            NodeKind::Say { next, .. } | NodeKind::Input { next, .. } => {
                edge(index[next.index()], Text::plain(String::new()), None)
            }
            NodeKind::Use { next, .. } => edge(
                index[next.index()],
                Text::plain(w.returned.to_owned()),
                None,
            ),
            NodeKind::Branch { arms, otherwise } => {
                for (e, g) in arms {
                    edge(
                        index[g.index()],
                        Text::new(program.templates.expr_source(*e)),
                        None,
                    );
                }
                edge(
                    index[otherwise.index()],
                    Text::plain(w.otherwise.to_owned()),
                    None,
                );
            }
            _ => {}
        }
    }
    m
}

/// A node's shape, title and text.
fn node_parts(
    n: &Node,
    t: &impl Fn(TextId) -> Text,
    esc: &impl Fn(&Escalation, &str) -> (String, Text),
    w: &words::Words,
    program: &Program,
) -> (Shape, String, Text) {
    match &n.kind {
        NodeKind::Ask { text, .. } => (Shape::Question, n.id.clone(), t(*text)),
        NodeKind::Say { text, .. } => (Shape::Instruction, n.id.clone(), t(*text)),
        NodeKind::Input { text, into, .. } => {
            let tx = t(*text);
            let text = Text {
                shown: format!("{} → {into}", tx.shown),
                full: format!("{} → {into}", tx.full),
            };
            (Shape::Input, n.id.clone(), text)
        }
        NodeKind::Branch { .. } => (Shape::Branch, n.id.clone(), Text::plain(String::new())),
        NodeKind::Use { script, .. } => (
            Shape::SubFlow,
            n.id.clone(),
            Text::plain(w.use_flow(&program.script(*script).id)),
        ),
        NodeKind::Resolve(r) => (Shape::Resolve, format!("{}: {}", n.id, w.resolved), t(*r)),
        NodeKind::Escalate(e) => {
            let (title, text) = esc(e, &n.id);
            (Shape::Escalate, format!("{}: {title}", n.id), text)
        }
        NodeKind::Return(r) => (Shape::Return, format!("{}: {}", n.id, w.ret), t(*r)),
    }
}

/// Renders script `ix` in `format`.
pub fn export(program: &Program, ix: ScriptIdx, lang: usize, format: GraphFormat) -> String {
    let m = model(program, ix, lang);
    match format {
        GraphFormat::Dot => dot::render(&m),
        GraphFormat::Mermaid => mermaid::render(&m),
        GraphFormat::Svg => svg::render(&m, None),
    }
}

/// Script `ix` as an SVG with the figures of `a` drawn over it (contract
/// section 11): see [`heat`].
pub fn export_annotated(
    program: &Program,
    ix: ScriptIdx,
    lang: usize,
    a: &heat::Annotation,
) -> String {
    let m = model(program, ix, lang);
    let marks = heat::marks(&m, a);
    svg::render(&m, Some(&marks))
}
