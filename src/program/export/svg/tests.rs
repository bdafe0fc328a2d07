use super::super::{GEdge, GNode, Model, Shape};
use super::route::route_edges;
use super::text::{EdgeLabel, NodeBox, measure, measure_label, units, wrap};
use super::*;

fn laid_out(m: &Model) -> (Vec<NodeBox>, Layout) {
    let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
    let labels: Vec<Option<EdgeLabel>> = m.edges.iter().map(|e| measure_label(&e.label)).collect();
    let lay = layout(m, &boxes, &labels);
    (boxes, lay)
}

fn node(key: &str, shape: Shape, text: &str) -> GNode {
    GNode {
        key: key.into(),
        title: key.into(),
        text: text.into(),
        full: text.into(),
        shape,
        start: false,
        sub: None,
    }
}

fn edge(from: usize, to: usize, label: &str) -> GEdge {
    GEdge {
        from,
        to,
        label: label.into(),
        full: label.into(),
        answer: None,
    }
}

fn sample() -> Model {
    let mut nodes = vec![
        node(
            "power",
            Shape::Question,
            "Is the power light on the front of the router lit?",
        ),
        node(
            "replug",
            Shape::Question,
            "Unplug the router, wait 30 seconds and plug it back in.",
        ),
        node("lights", Shape::Question, "Which light is blinking?"),
        node("check", Shape::Branch, ""),
        node(
            "serial",
            Shape::Input,
            "What is the serial number on the label? → serial",
        ),
        node("cycle", Shape::SubFlow, "use power-cycle"),
        node("hardware", Shape::Escalate, "Hardware fault suspected"),
        node("replug.no", Shape::Escalate, "Device does not power on"),
        node("lights.no-light", Shape::Resolve, "Connection restored"),
    ];
    nodes[0].start = true;
    Model {
        title: "Router has no internet (router-no-internet)".into(),
        start_tag: "start".into(),
        nodes,
        edges: vec![
            edge(0, 2, "Yes"),
            edge(0, 1, "No"),
            edge(1, 2, "Yes"),
            edge(1, 7, "No"),
            edge(2, 3, "Red"),
            edge(2, 8, "None"),
            edge(3, 6, "attempts > 2"),
            edge(3, 4, "else"),
            edge(4, 5, ""),
            edge(5, 2, "returned"),
        ],
    }
}

#[test]
fn deterministic() {
    let m = sample();
    let a = render(&m, None);
    let b = render(&m.clone(), None);
    assert_eq!(a, b);
    assert!(a.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(a.ends_with("</svg>\n"));
    assert!(a.contains("viewBox=\"0 0 "));
}

#[test]
fn every_key_and_shape_appears() {
    let m = sample();
    let s = render(&m, None);
    for n in &m.nodes {
        assert!(
            s.contains(&format!("<title>{}", n.key)),
            "{} missing",
            n.key
        );
    }
    assert!(s.contains("✔ lights.no-light"));
    assert!(s.contains("⇧ hardware"));
    assert!(s.contains("class=\"n q start\""));
    assert!(s.contains(">start</text>"));
    assert!(s.contains("<ellipse") || !m.nodes.iter().any(|n| n.shape == Shape::Return));
    assert_eq!(s.matches("<path class=\"e").count(), m.edges.len());
    assert_eq!(s.matches("marker-end=").count(), m.edges.len());
}

#[test]
fn hostile_text_is_escaped() {
    let mut m = sample();
    m.title = "<script>alert('x')</script> & \"co\"".into();
    m.nodes[0].key = "a<b>&\"c'".into();
    m.nodes[0].title = "<script>alert(1)</script>".into();
    m.nodes[1].text = "Tom & Jerry say \"hi\" and 'bye' <b>".into();
    m.edges[0].label = "<img src=x onerror=alert(1)>".into();
    m.nodes[2].text = "bell\u{7} char".into();
    let s = render(&m, None);
    assert!(!s.contains("<script"));
    assert!(!s.contains("<img"));
    assert!(!s.contains("<b>"));
    assert!(!s.contains('\u{7}'));
    assert!(s.contains("&lt;script&gt;"));
    assert!(s.contains("a&lt;b&gt;&amp;&quot;c&apos;"));
    assert!(s.contains("Tom &amp; Jerry say &quot;hi&quot;"));
    // Every `&` starts an entity.
    for (i, _) in s.match_indices('&') {
        let rest = &s[i..];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                .iter()
                .any(|e| rest.starts_with(e)),
            "bare & at {i}: {}",
            &rest[..rest.len().min(20)]
        );
    }
}

#[test]
fn cycle_makes_a_back_edge() {
    let mut nodes = vec![
        node("a", Shape::Question, "first"),
        node("b", Shape::Instruction, "second"),
        node("c", Shape::Question, "third"),
        node("d", Shape::Resolve, "done"),
    ];
    nodes[0].start = true;
    let m = Model {
        start_tag: "start".into(),
        title: "loop".into(),
        nodes,
        edges: vec![
            edge(0, 1, "go"),
            edge(1, 2, ""),
            edge(2, 0, "again"),
            edge(2, 3, "ok"),
            edge(3, 3, "self"),
        ],
    };
    let s = render(&m, None);
    assert_eq!(s.matches("class=\"e back\"").count(), 1);
    assert!(s.contains("<title>c → a</title>"));
    assert!(s.contains("<title>d → d</title>"));
    // The start stays on top.
    let (_, lay) = laid_out(&m);
    assert_eq!(&lay.rank[..4], &[0, 2, 4, 6]);
}

#[test]
fn long_back_edge_routes_through_virtual_nodes() {
    let mut nodes: Vec<GNode> = (0..6)
        .map(|i| node(&format!("n{i}"), Shape::Question, "step"))
        .collect();
    nodes[0].start = true;
    let mut edges: Vec<GEdge> = (0..5).map(|i| edge(i, i + 1, "next")).collect();
    edges.push(edge(5, 1, "retry"));
    edges.push(edge(0, 5, "skip"));
    let m = Model {
        start_tag: "start".into(),
        title: "long".into(),
        nodes,
        edges,
    };
    let (_, lay) = laid_out(&m);
    // Chain edges cross one gap (1 virtual node each); the back edge spans
    // 4 layers (7, and one beside each end: 9), the skip 5 (9).
    assert_eq!(lay.x.len(), 6 + 5 + 9 + 9);
    let back = lay
        .routes
        .iter()
        .find(|r| r.kind == Kind::Back)
        .expect("a back edge");
    assert!(back.label.is_some());
    // Its first and last bends stand in its boxes' ranks, to their right.
    let c = &back.chain;
    let (top, bottom) = (c[0], c[c.len() - 1]);
    assert_eq!(
        (m.nodes[top].key.as_str(), m.nodes[bottom].key.as_str()),
        ("n1", "n5")
    );
    assert_eq!(lay.rank[c[1]], lay.rank[top]);
    assert_eq!(lay.rank[c[c.len() - 2]], lay.rank[bottom]);
    assert!(lay.x[c[1]] > lay.x[top]);
    assert!(lay.x[c[c.len() - 2]] > lay.x[bottom]);
    let s = render(&m, None);
    assert_eq!(s.matches("class=\"e back\"").count(), 1);
    assert!(s.contains("<title>n5 → n1</title>"));
}

#[test]
fn unreachable_nodes_are_placed() {
    let mut nodes = vec![
        node("a", Shape::Question, ""),
        node("b", Shape::Resolve, ""),
        node("orphan", Shape::Instruction, ""),
    ];
    nodes[1].start = true;
    let m = Model {
        start_tag: "start".into(),
        title: "t".into(),
        nodes,
        edges: vec![edge(0, 1, "x"), edge(2, 0, ""), edge(0, 9, "bad")],
    };
    let s = render(&m, None);
    for k in ["a", "b", "orphan"] {
        assert!(s.contains(&format!("<title>{k}</title>")));
    }
    assert!(render(&Model::default(), None).ends_with("</svg>\n"));
}

/// A rectangle: x, y, w, h.
type R4 = (f64, f64, f64, f64);

/// Boxes and labels, as rectangles.
fn rects(m: &Model) -> (Vec<R4>, Vec<R4>) {
    let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
    let labels: Vec<Option<EdgeLabel>> = m.edges.iter().map(|e| measure_label(&e.label)).collect();
    let lay = layout(m, &boxes, &labels);
    let b = (0..m.nodes.len())
        .map(|i| {
            (
                lay.x[i] - boxes[i].w / 2.0,
                lay.node_top(i, &boxes[i]),
                boxes[i].w,
                boxes[i].h,
            )
        })
        .collect();
    let l = route_edges(m, &boxes, &labels, &lay)
        .iter()
        .filter_map(|p| {
            let l = labels[p.edge].as_ref()?;
            let c = p.label_at?;
            Some((c.0 - l.w / 2.0, c.1 - l.h / 2.0, l.w, l.h))
        })
        .collect();
    (b, l)
}

fn overlap(a: R4, b: R4) -> bool {
    a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
}

#[test]
fn boxes_and_labels_do_not_overlap() {
    for m in [sample(), big(60)] {
        let (b, l) = rects(&m);
        for i in 0..b.len() {
            for j in i + 1..b.len() {
                assert!(
                    !overlap(b[i], b[j]),
                    "{} overlaps {}",
                    m.nodes[i].key,
                    m.nodes[j].key
                );
            }
            for (k, r) in l.iter().enumerate() {
                assert!(!overlap(b[i], *r), "label {k} overlaps {}", m.nodes[i].key);
            }
        }
        for i in 0..l.len() {
            for j in i + 1..l.len() {
                assert!(!overlap(l[i], l[j]), "labels {i} and {j} overlap");
            }
        }
    }
}

#[test]
fn wrap_cuts_with_ellipsis() {
    assert_eq!(wrap("short text", 28, 3), vec!["short text"]);
    let w = wrap(&"word ".repeat(40), 28, 3);
    assert_eq!(w.len(), 3);
    assert!(w[2].ends_with('…'));
    assert!(w.iter().all(|l| units(l) <= 28));
    // Only a word wider than a line is cut inside.
    let w = wrap(&"x".repeat(100), 28, 2);
    assert_eq!(w, vec![format!("{}…", "x".repeat(27))]);
    // Otherwise lines end at words: no word is ever split.
    let text = "Please restart that device and connect it to your Wi-Fi again, \
                then check whether ‹customer_no› can open a page";
    for width in 12..40 {
        for max in 1..4 {
            let w = wrap(text, width, max);
            for line in &w {
                assert!(units(line) <= width, "{line:?} is wider than {width}");
                for word in line.trim_end_matches('…').split(' ') {
                    assert!(
                        text.split(' ')
                            .any(|t| t == word || t.trim_end_matches(',') == word),
                        "{word:?} is cut ({width}, {max}): {w:?}"
                    );
                }
            }
        }
    }
}

/// A 5,000-node chain with branches, back edges and a shared terminal.
fn big(n: usize) -> Model {
    let mut nodes: Vec<GNode> = (0..n)
        .map(|i| node(&format!("q{i}"), Shape::Question, "Does it work now?"))
        .collect();
    nodes[0].start = true;
    let end = nodes.len();
    nodes.push(node("end", Shape::Escalate, "give up"));
    let mut edges = Vec::new();
    for i in 0..n - 1 {
        edges.push(edge(i, i + 1, "No"));
        if i % 3 == 0 {
            let t = nodes.len();
            nodes.push(node(&format!("q{i}.yes"), Shape::Resolve, "fixed"));
            edges.push(edge(i, t, "Yes"));
        }
        if i % 7 == 0 {
            edges.push(edge(i, end, "Escalate"));
        }
        if i % 11 == 0 && i > 5 {
            edges.push(edge(i, i - 5, "Retry"));
        }
    }
    edges.push(edge(n - 1, end, ""));
    Model {
        title: "big".into(),
        start_tag: "start".into(),
        nodes,
        edges,
    }
}

#[test]
fn big_model_renders() {
    let m = big(5_000);
    let s = render(&m, None);
    assert!(s.ends_with("</svg>\n"));
    assert!(s.contains("<title>q4999\n"));
    assert!(s.contains("<title>end\n"));
}

#[test]
fn deep_graph_does_not_overflow() {
    let m = big(20_000);
    let s = render(&m, None);
    assert!(s.contains("<title>q19999\n"));
}

#[test]
fn labels_stand_beside_the_box_their_edge_leaves() {
    // a → b → c → d, and a skip a → d across three gaps: its label stands in
    // the gap under `a`, with a's other answer, not by `c`'s.
    let mut nodes: Vec<GNode> = ["a", "b", "c", "d"]
        .iter()
        .map(|k| node(k, Shape::Question, "step"))
        .collect();
    nodes[0].start = true;
    let m = Model {
        start_tag: "start".into(),
        title: "skip".into(),
        nodes,
        edges: vec![
            edge(0, 1, "next"),
            edge(1, 2, "next"),
            edge(2, 3, "next"),
            edge(0, 3, "skip"),
            edge(3, 1, "again"),
        ],
    };
    let (_, lay) = laid_out(&m);
    for r in &lay.routes {
        let Some(v) = r.label else { continue };
        let e = &m.edges[r.edge];
        let wanted = match r.kind {
            Kind::Back => lay.rank[e.from] - 1,
            _ => lay.rank[e.from] + 1,
        };
        assert_eq!(lay.rank[v], wanted, "label of {} → {}", e.from, e.to);
    }
    assert!(
        lay.routes
            .iter()
            .any(|r| r.kind == Kind::Back && r.label.is_some())
    );
}
