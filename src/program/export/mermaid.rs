//! Mermaid flowcharts, which GitHub and GitLab render inside Markdown.

use super::{Model, Shape, shorten};
use std::fmt::Write;

/// Mermaid ids must be plain; node ids and answer ids may hold `-` and `.`.
fn id(i: usize) -> String {
    format!("n{i}")
}

/// Text inside `"..."`: Mermaid reads HTML entities there.
fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub(super) fn render(m: &Model) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "---\ntitle: \"{}\"\n---", text(&m.title));
    o.push_str("flowchart TD\n");
    for (i, n) in m.nodes.iter().enumerate() {
        let label = if n.text.is_empty() {
            text(&n.title)
        } else {
            format!("{}<br/>{}", text(&n.title), text(&shorten(&n.text)))
        };
        let (open, close) = match n.shape {
            Shape::Question => ("(\"", "\")"),
            Shape::Instruction => ("[\"", "\"]"),
            Shape::Input => ("[/\"", "\"/]"),
            Shape::Branch => ("{\"", "\"}"),
            Shape::SubFlow => ("[[\"", "\"]]"),
            Shape::Resolve => ("([\"", "\"])"),
            Shape::Escalate => ("{{\"", "\"}}"),
            Shape::Return => ("((\"", "\"))"),
        };
        let _ = writeln!(o, "    {}{open}{label}{close}", id(i));
    }
    for e in &m.edges {
        if e.label.is_empty() {
            let _ = writeln!(o, "    {} --> {}", id(e.from), id(e.to));
        } else {
            let _ = writeln!(
                o,
                "    {} -->|\"{}\"| {}",
                id(e.from),
                text(&shorten(&e.label)),
                id(e.to)
            );
        }
    }
    o.push_str("    classDef resolve fill:#d8f0dc,stroke:#1e6b34,stroke-width:2px\n");
    o.push_str("    classDef escalate fill:#f7dcd7,stroke:#9b2a1a,stroke-width:3px\n");
    o.push_str("    classDef start stroke-width:3px\n");
    for (class, shape) in [("resolve", Shape::Resolve), ("escalate", Shape::Escalate)] {
        let ids: Vec<String> = m
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.shape == shape)
            .map(|(i, _)| id(i))
            .collect();
        if !ids.is_empty() {
            let _ = writeln!(o, "    class {} {class}", ids.join(","));
        }
    }
    if let Some(i) = m.nodes.iter().position(|n| n.start) {
        let _ = writeln!(o, "    class {} start", id(i));
    }
    o
}
