//! Drawing: the SVG text of a laid-out graph.

use super::super::heat::Marks;
use super::super::{Model, Shape};
use super::overlay;
use super::route::{EdgePath, P, Rect, Seg, route_edges};
use super::text::{EdgeLabel, Esc, N, NodeBox, units, wrap};
use super::*;
use std::fmt::Write;

// ---------------------------------------------------------------- drawing

pub(super) const STYLE: &str = "\
.n>*{stroke-width:1.4}\
.n text{fill:#1f2933;stroke:none;text-anchor:middle}\
.n .t{font-weight:600}\
.q>.s{fill:#eef4fb;stroke:#2f5b8a}\
.i>.s{fill:#ffffff;stroke:#5a6472}\
.in>.s{fill:#fdf6e3;stroke:#8a6d1f}\
.b>.s{fill:#f3eefa;stroke:#5b3f8a}\
.sf>.s{fill:#e8f4f4;stroke:#2a6f6f}\
.sf>.bar{stroke:#2a6f6f;fill:none}\
.ok>.s,.ok>.s2{fill:#d8f0dc;stroke:#1e6b34}\
.ok>.s2{fill:none}\
.esc>.s{fill:#f7dcd7;stroke:#9b2a1a;stroke-width:3}\
.ret>.s{fill:#f4f5f7;stroke:#5a6472;stroke-dasharray:5 3}\
.start>.s{stroke-width:2.8}\
.tag rect{fill:#2f5b8a}\
.tag text{fill:#ffffff;font-size:10px;font-weight:600;text-anchor:middle}\
.e{fill:none;stroke:#6b7683;stroke-width:1.3}\
.e.back{stroke:#7d5ba6;stroke-dasharray:6 3}\
.l rect{fill:#ffffff;fill-opacity:0.92;stroke:#d5dae0;stroke-width:0.8}\
.l text{fill:#39424e;font-size:11px;text-anchor:middle}\
.l.back text{fill:#5e4380}\
.title{font-size:16px;font-weight:700;fill:#1f2933}";

pub(super) fn draw(
    m: &Model,
    boxes: &[NodeBox],
    labels: &[Option<EdgeLabel>],
    lay: &Layout,
    marks: Option<&Marks>,
) -> String {
    let paths = route_edges(m, boxes, labels, lay);
    // Label boxes: (path, left, top, label).
    let placed: Vec<(usize, f64, f64, &EdgeLabel)> = paths
        .iter()
        .enumerate()
        .filter_map(|(pi, p)| {
            let l = labels[p.edge].as_ref()?;
            let c = p.label_at?;
            Some((pi, c.0 - l.w / 2.0, c.1 - l.h / 2.0, l))
        })
        .collect();
    let mut o = String::with_capacity(1024 + m.nodes.len() * 420 + m.edges.len() * 200);
    let (dx, legend_at) = frame(&mut o, m, boxes, lay, &paths, &placed, marks);
    draw_edges(&mut o, m, &paths, dx, marks);
    o.push_str("<g class=\"nodes\">\n");
    for (i, b) in boxes.iter().enumerate().take(lay.n) {
        draw_node(&mut o, m, b, lay, i, dx, marks);
    }
    o.push_str("</g>\n");
    draw_labels(&mut o, m, &paths, &placed, dx);
    if let Some(k) = marks {
        overlay::legend(&mut o, k, legend_at.0, legend_at.1);
    }
    o.push_str("</svg>\n");
    o
}

/// The size of the picture (everything shifted into the margin, narrow
/// content centred under a wide title), its head and title. Returns the
/// shift in x, and where the legend of an annotated graph goes (under the
/// graph, at the left margin).
fn frame(
    o: &mut String,
    m: &Model,
    boxes: &[NodeBox],
    lay: &Layout,
    paths: &[EdgePath],
    placed: &[(usize, f64, f64, &EdgeLabel)],
    marks: Option<&Marks>,
) -> (f64, (f64, f64)) {
    // Bounds of everything, to shift the picture into the margin.
    let (mut min_x, mut max_x, mut max_y) = (f64::INFINITY, f64::NEG_INFINITY, MARGIN + TITLE_H);
    for (i, b) in boxes.iter().enumerate() {
        let top = lay.node_top(i, b);
        min_x = min_x.min(lay.x[i] - b.w / 2.0);
        max_x = max_x.max(lay.x[i] + b.w / 2.0);
        max_y = max_y.max(top + b.h);
    }
    for p in paths {
        for s in &p.segs {
            for q in [s.0, s.1, s.2, s.3] {
                min_x = min_x.min(q.0);
                max_x = max_x.max(q.0);
                max_y = max_y.max(q.1);
            }
        }
    }
    for &(_, x, y, l) in placed {
        min_x = min_x.min(x);
        max_x = max_x.max(x + l.w);
        max_y = max_y.max(y + l.h);
    }
    if !min_x.is_finite() {
        min_x = 0.0;
        max_x = 0.0;
    }
    let title = wrap(&m.title, 90, 1).pop().unwrap_or_default();
    let title_w = units(&title) as f64 * 9.0;
    let (legend_w, legend_h) = marks.map_or((0.0, 0.0), overlay::size);
    let head_w = title_w.max(legend_w);
    let content_w = max_x - min_x;
    let width = (content_w.max(head_w) + 2.0 * MARGIN).ceil();
    // Centre narrow content under a wide title (or legend).
    let dx = MARGIN - min_x + (head_w - content_w).max(0.0) / 2.0;
    let legend_at = (MARGIN, max_y + overlay::GAP);
    let height = match marks {
        Some(_) => (legend_at.1 + legend_h + MARGIN).ceil(),
        None => (max_y + MARGIN).ceil(),
    };

    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif\" font-size=\"{fs}\">",
        w = N(width),
        h = N(height),
        fs = N(FONT_SIZE)
    );
    let _ = writeln!(o, "<title>{}</title>", Esc(&m.title));
    let mut style = STYLE.to_owned();
    if let Some(k) = marks {
        overlay::style(&mut style, k);
    }
    let _ = writeln!(o, "<style>{style}</style>");
    o.push_str(
        "<defs>\
<marker id=\"fp-arrow\" viewBox=\"0 0 10 10\" refX=\"9.5\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
<path d=\"M0,1 L10,5 L0,9 z\" fill=\"#6b7683\"/></marker>\
<marker id=\"fp-arrow-back\" viewBox=\"0 0 10 10\" refX=\"9.5\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
<path d=\"M0,1 L10,5 L0,9 z\" fill=\"#7d5ba6\"/></marker>",
    );
    if let Some(k) = marks {
        overlay::markers(o, k);
    }
    o.push_str("</defs>\n");
    let _ = writeln!(o, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    let _ = writeln!(
        o,
        "<text class=\"title\" x=\"{}\" y=\"{}\">{}</text>",
        N(MARGIN),
        N(MARGIN + 18.0),
        Esc(&title)
    );

    (dx, legend_at)
}

fn draw_edges(o: &mut String, m: &Model, paths: &[EdgePath], dx: f64, marks: Option<&Marks>) {
    o.push_str("<g class=\"edges\">\n");
    for p in paths {
        let back = p.kind == Kind::Back;
        let mark = marks.map(|k| &k.edges[p.edge]);
        // An annotated edge's width class, and the arrow head of its size.
        let w = mark
            .map(|e| format!(" w{}", overlay::width_class(e.width)))
            .unwrap_or_default();
        let _ = write!(
            o,
            "<path class=\"e{}{w}\" data-e=\"{}\" d=\"",
            if back { " back" } else { "" },
            p.edge
        );
        let mut last: Option<P> = None;
        for &Seg(a, c1, c2, b) in &p.segs {
            if last != Some(a) {
                let _ = write!(o, "M{},{}", N(a.0 + dx), N(a.1));
            }
            let _ = write!(
                o,
                "C{},{} {},{} {},{}",
                N(c1.0 + dx),
                N(c1.1),
                N(c2.0 + dx),
                N(c2.1),
                N(b.0 + dx),
                N(b.1)
            );
            last = Some(b);
        }
        let e = &m.edges[p.edge];
        let tip = match (mark.and_then(|e| e.traffic), marks) {
            (Some(n), Some(k)) => format!("\n{}", k.words.edge_tip.replace("{n}", &n.to_string())),
            _ => String::new(),
        };
        let _ = writeln!(
            o,
            "\" marker-end=\"url(#{}{})\"><title>{} → {}{}</title></path>",
            if back { "fp-arrow-back" } else { "fp-arrow" },
            if w.is_empty() {
                String::new()
            } else {
                format!("-{}", w.trim_start())
            },
            Esc(&m.nodes[e.from].key),
            Esc(&m.nodes[e.to].key),
            Esc(&tip)
        );
    }
    o.push_str("</g>\n");
}

fn draw_node(
    o: &mut String,
    m: &Model,
    b: &NodeBox,
    lay: &Layout,
    i: usize,
    dx: f64,
    marks: Option<&Marks>,
) {
    let g = &m.nodes[i];
    let r = Rect {
        x: lay.x[i] - b.w / 2.0 + dx,
        y: lay.node_top(i, b),
        w: b.w,
        h: b.h,
    };
    let class = match g.shape {
        Shape::Question => "q",
        Shape::Instruction => "i",
        Shape::Input => "in",
        Shape::Branch => "b",
        Shape::SubFlow => "sf",
        Shape::Resolve => "ok",
        Shape::Escalate => "esc",
        Shape::Return => "ret",
    };
    let start = lay.start == Some(i) && g.start;
    let mark = marks.and_then(|k| k.nodes[i].as_ref());
    let _ = writeln!(
        o,
        "<g class=\"n {class}{}{}\">",
        if start { " start" } else { "" },
        mark.map(|k| format!(" h{}", k.class)).unwrap_or_default()
    );
    let tip = mark.map(|k| format!("\n{}", k.tip)).unwrap_or_default();
    if g.full.is_empty() {
        let _ = writeln!(o, "<title>{}{}</title>", Esc(&g.key), Esc(&tip));
    } else {
        let _ = writeln!(
            o,
            "<title>{}\n{}{}</title>",
            Esc(&g.key),
            Esc(&g.full),
            Esc(&tip)
        );
    }
    outline(o, g.shape, r);
    let lines = b.title.len() + b.text.len() + usize::from(b.badge.is_some());
    let mut y = r.cy() - lines as f64 * LINE_H / 2.0 + 12.0;
    for t in &b.title {
        let _ = writeln!(
            o,
            "<text class=\"t\" x=\"{}\" y=\"{}\">{}</text>",
            N(r.cx()),
            N(y),
            Esc(t)
        );
        y += LINE_H;
    }
    for t in &b.text {
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            N(r.cx()),
            N(y),
            Esc(t)
        );
        y += LINE_H;
    }
    if let Some(badge) = &b.badge {
        let _ = writeln!(
            o,
            "<text class=\"f\" x=\"{}\" y=\"{}\">{}</text>",
            N(r.cx()),
            N(y),
            Esc(badge)
        );
    }
    if start {
        let tag_w = (units(&m.start_tag) as f64 * 6.2 + 10.0).max(38.0).ceil();
        let _ = writeln!(
            o,
            "<g class=\"tag\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"15\" rx=\"7.5\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            N(r.x),
            N(r.y - 19.0),
            N(tag_w),
            N(r.x + tag_w / 2.0),
            N(r.y - 8.0),
            Esc(&m.start_tag)
        );
    }
    o.push_str("</g>\n");
}

/// The outline of a box of `shape` filling `r`.
fn outline(o: &mut String, shape: Shape, r: Rect) {
    let (x0, y0, x1, y1) = (r.x, r.y, r.x + r.w, r.y + r.h);
    match shape {
        Shape::Question => {
            let _ = writeln!(
                o,
                "<rect class=\"s\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"10\"/>",
                N(x0),
                N(y0),
                N(r.w),
                N(r.h)
            );
        }
        Shape::Instruction => {
            let _ = writeln!(
                o,
                "<rect class=\"s\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"1.5\"/>",
                N(x0),
                N(y0),
                N(r.w),
                N(r.h)
            );
        }
        Shape::SubFlow => {
            let _ = writeln!(
                o,
                "<rect class=\"s\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
                N(x0),
                N(y0),
                N(r.w),
                N(r.h)
            );
            let _ = writeln!(
                o,
                "<path class=\"bar\" d=\"M{a},{t}V{b}M{c},{t}V{b}\"/>",
                a = N(x0 + SUB_BAR),
                c = N(x1 - SUB_BAR),
                t = N(y0),
                b = N(y1)
            );
        }
        Shape::Input => {
            let _ = writeln!(
                o,
                "<path class=\"s\" d=\"M{},{}H{}L{},{}H{}Z\"/>",
                N(x0 + SKEW),
                N(y0),
                N(x1),
                N(x1 - SKEW),
                N(y1),
                N(x0)
            );
        }
        Shape::Branch => {
            let (cx, cy) = (r.cx(), r.cy());
            let _ = writeln!(
                o,
                "<path class=\"s\" d=\"M{},{}L{},{}L{},{}L{},{}Z\"/>",
                N(cx),
                N(y0),
                N(x1),
                N(cy),
                N(cx),
                N(y1),
                N(x0),
                N(cy)
            );
        }
        Shape::Resolve => {
            let _ = writeln!(
                o,
                "<rect class=\"s\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"10\"/>",
                N(x0),
                N(y0),
                N(r.w),
                N(r.h)
            );
            let _ = writeln!(
                o,
                "<rect class=\"s2\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"7\"/>",
                N(x0 + 3.5),
                N(y0 + 3.5),
                N(r.w - 7.0),
                N(r.h - 7.0)
            );
        }
        Shape::Escalate => {
            let c = OCT_CUT;
            let _ = writeln!(
                o,
                "<path class=\"s\" d=\"M{},{}H{}L{},{}V{}L{},{}H{}L{},{}V{}Z\"/>",
                N(x0 + c),
                N(y0),
                N(x1 - c),
                N(x1),
                N(y0 + c),
                N(y1 - c),
                N(x1 - c),
                N(y1),
                N(x0 + c),
                N(x0),
                N(y1 - c),
                N(y0 + c)
            );
        }
        Shape::Return => {
            let _ = writeln!(
                o,
                "<ellipse class=\"s\" cx=\"{}\" cy=\"{}\" rx=\"{}\" ry=\"{}\"/>",
                N(r.cx()),
                N(r.cy()),
                N(r.w / 2.0),
                N(r.h / 2.0)
            );
        }
    }
}

fn draw_labels(
    o: &mut String,
    m: &Model,
    paths: &[EdgePath],
    placed: &[(usize, f64, f64, &EdgeLabel)],
    dx: f64,
) {
    o.push_str("<g class=\"labels\">\n");
    for &(pi, x, y, l) in placed {
        let back = paths[pi].kind == Kind::Back;
        let _ = write!(
            o,
            "<g class=\"l{}\" data-e=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/>",
            if back { " back" } else { "" },
            paths[pi].edge,
            N(x + dx),
            N(y),
            N(l.w),
            N(l.h),
        );
        let e = &m.edges[paths[pi].edge];
        let _ = write!(o, "<title>{}</title>", Esc(&e.full));
        for (i, t) in l.lines.iter().enumerate() {
            let _ = write!(
                o,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                N(x + dx + l.w / 2.0),
                N(y + 12.0 + i as f64 * LABEL_LINE_H),
                Esc(t)
            );
        }
        o.push_str("</g>\n");
    }
    o.push_str("</g>\n");
}
