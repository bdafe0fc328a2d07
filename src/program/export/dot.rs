//! Graphviz DOT.

use super::{Model, Shape, shorten};
use std::fmt::Write;

fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(super) fn render(m: &Model) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "digraph {} {{", q(&m.title));
    let _ = writeln!(
        o,
        "  graph [rankdir=TB, fontname=\"Helvetica\", label={}, labelloc=t];",
        q(&m.title)
    );
    let _ = writeln!(o, "  node [fontname=\"Helvetica\", fontsize=11];");
    let _ = writeln!(o, "  edge [fontname=\"Helvetica\", fontsize=10];");
    for n in &m.nodes {
        let (shape, style) = match n.shape {
            Shape::Question => ("box", "rounded"),
            Shape::Instruction => ("note", "solid"),
            Shape::Input => ("parallelogram", "solid"),
            Shape::Branch => ("diamond", "solid"),
            Shape::SubFlow => ("component", "solid"),
            Shape::Resolve => ("doubleoctagon", "filled"),
            Shape::Escalate => ("octagon", "filled,bold"),
            Shape::Return => ("oval", "dashed"),
        };
        let color = match n.shape {
            Shape::Resolve => ", fillcolor=\"#d8f0dc\"",
            Shape::Escalate => ", fillcolor=\"#f7dcd7\"",
            _ => "",
        };
        let label = if n.text.is_empty() {
            n.title.clone()
        } else {
            format!("{}\n{}", n.title, shorten(&n.text))
        };
        let start = if n.start { ", penwidth=2" } else { "" };
        let _ = writeln!(
            o,
            "  {} [label={}, shape={shape}, style=\"{style}\"{color}{start}];",
            q(&n.key),
            q(&label)
        );
    }
    for e in &m.edges {
        let from = &m.nodes[e.from].key;
        let to = &m.nodes[e.to].key;
        if e.label.is_empty() {
            let _ = writeln!(o, "  {} -> {};", q(from), q(to));
        } else {
            let _ = writeln!(
                o,
                "  {} -> {} [label={}];",
                q(from),
                q(to),
                q(&shorten(&e.label))
            );
        }
    }
    o.push_str("}\n");
    o
}
