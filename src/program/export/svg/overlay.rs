//! Drawing the figures of an annotated graph (see [`crate::program::export::heat`]):
//! the shade classes and edge widths as style rules (the picture colours
//! everything through its style sheet, never through inline styles), arrow
//! heads that grow with their edge, and the legend under the graph.

use super::super::heat::{self, FILLS, LIGHT_TEXT_FROM, MAX_WIDTH, MIN_WIDTH, Marks, STEPS};
use super::text::{Esc, N, units, wrap};
use super::*;
use std::fmt::Write;

/// Widths are drawn in half pixels: an edge's width class is its width
/// times two.
pub(super) fn width_class(w: f64) -> usize {
    (w * 2.0).round().max(1.0) as usize
}

/// The classes a marked edge uses, sorted, each once.
fn width_classes(marks: &Marks) -> Vec<usize> {
    let mut v: Vec<usize> = marks.edges.iter().map(|e| width_class(e.width)).collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// The style rules of the overlay, after the picture's own (same
/// specificity, so these win).
pub(super) fn style(o: &mut String, marks: &Marks) {
    for (i, f) in FILLS.iter().enumerate() {
        let _ = write!(o, ".h{i}>.s{{fill:{f}}}");
    }
    let light: Vec<String> = (LIGHT_TEXT_FROM..FILLS.len())
        .map(|i| format!(".h{i} text"))
        .collect();
    let _ = write!(o, "{}{{fill:#ffffff}}", light.join(","));
    o.push_str(".n .f{font-size:11px;font-weight:600}");
    for k in width_classes(marks) {
        let _ = write!(o, ".e.w{k}{{stroke-width:{}}}", N(k as f64 / 2.0));
    }
    o.push_str(
        ".legend>rect.box{fill:#fafbfc;stroke:#d5dae0;stroke-width:0.8}\
.legend text{fill:#1f2933;font-size:11px}\
.legend .lt{font-size:12px;font-weight:700}\
.legend .sw{stroke:#9aa5b1;stroke-width:0.6}\
.legend .nv{fill:#eef4fb;stroke:#2f5b8a;stroke-width:1}\
.legend .ln{stroke:#6b7683;fill:none}\
.legend .f{font-weight:600}",
    );
    for (i, f) in FILLS.iter().enumerate() {
        let _ = write!(o, ".legend .s{i}{{fill:{f}}}");
    }
}

/// An arrow head per width class, sized to its edge, in both colours.
pub(super) fn markers(o: &mut String, marks: &Marks) {
    for k in width_classes(marks) {
        let size = (9.0 + 1.6 * k as f64 / 2.0).round();
        for (name, fill) in [("fp-arrow", "#6b7683"), ("fp-arrow-back", "#7d5ba6")] {
            let _ = write!(
                o,
                "<marker id=\"{name}-w{k}\" viewBox=\"0 0 10 10\" refX=\"9.5\" refY=\"5\" \
                 markerWidth=\"{s}\" markerHeight=\"{s}\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
                 <path d=\"M0,1 L10,5 L0,9 z\" fill=\"{fill}\"/></marker>",
                s = N(size)
            );
        }
    }
}

// The legend's geometry.
const W: f64 = 440.0;
const PAD: f64 = 12.0;
const SW_W: f64 = 30.0;
const SW_H: f64 = 14.0;
const LINE: f64 = 15.0;
/// Narrow characters per line of legend text (11px).
const TEXT_UNITS: usize = 66;
/// Space between the graph and the legend.
pub(super) const GAP: f64 = 18.0;

/// The legend's text, wrapped: shade, width and badge explanations.
struct Texts {
    shade: Vec<String>,
    width: Vec<String>,
    badge: Vec<String>,
}

fn texts(marks: &Marks) -> Texts {
    let w = &marks.words;
    let width = w.width.replace("{n}", &marks.max_traffic.to_string());
    Texts {
        shade: wrap(&w.shade, TEXT_UNITS, 3),
        width: wrap(&width, TEXT_UNITS - 10, 3),
        badge: wrap(&w.badge, TEXT_UNITS - 12, 3),
    }
}

/// The legend's width and height.
pub(super) fn size(marks: &Marks) -> (f64, f64) {
    let t = texts(marks);
    let never_w = units(&marks.words.never) as f64 * 6.2;
    let w = W.max(2.0 * PAD + 9.0 * SW_W + 16.0 + SW_W + 6.0 + never_w);
    let h = PAD
        + LINE // title
        + t.shade.len() as f64 * LINE
        + 6.0
        + SW_H
        + LINE // tick labels
        + 6.0
        + t.width.len().max(1) as f64 * LINE
        + 4.0
        + t.badge.len().max(1) as f64 * LINE
        + PAD;
    (w.ceil(), h.ceil())
}

/// Draws the legend with its top left corner at `(x, y)`.
pub(super) fn legend(o: &mut String, marks: &Marks, x: f64, y: f64) {
    let (w, h) = size(marks);
    let t = texts(marks);
    let words = &marks.words;
    o.push_str("<g class=\"legend\">\n");
    let _ = writeln!(
        o,
        "<rect class=\"box\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"4\"/>",
        N(x),
        N(y),
        N(w),
        N(h)
    );
    let left = x + PAD;
    let mut base = y + PAD + 11.0;
    let _ = writeln!(
        o,
        "<text class=\"lt\" x=\"{}\" y=\"{}\">{}</text>",
        N(left),
        N(base),
        Esc(&words.title)
    );
    for l in &t.shade {
        base += LINE;
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            N(left),
            N(base),
            Esc(l)
        );
    }
    // The nine swatches, each labelled with the top of its range.
    let top = base + 8.0;
    for i in 0..FILLS.len() {
        let sx = left + i as f64 * SW_W;
        let _ = write!(
            o,
            "<rect class=\"sw s{i}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            N(sx),
            N(top),
            N(SW_W),
            N(SW_H)
        );
        let upper = if i == 0 { 0.0 } else { STEPS[i - 1] };
        let tick = if i + 1 == FILLS.len() {
            heat::percent(words, upper)
        } else {
            format!("{}", (upper * 100.0).round() as i64)
        };
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
            N(sx + SW_W / 2.0),
            N(top + SW_H + 12.0),
            Esc(&tick)
        );
    }
    // A box no session entered keeps its own colours.
    let nx = left + FILLS.len() as f64 * SW_W + 16.0;
    let _ = writeln!(
        o,
        "<rect class=\"nv\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/>\
         <text x=\"{}\" y=\"{}\">{}</text>",
        N(nx),
        N(top),
        N(SW_W),
        N(SW_H),
        N(nx + SW_W + 6.0),
        N(top + 11.0),
        Esc(&words.never)
    );
    // Two lines, the narrowest and the widest, then what width means.
    base = top + SW_H + LINE + 6.0;
    // Level with the middle of the first line of text.
    let mid = base;
    for (dx, sw) in [(0.0, MIN_WIDTH), (28.0, MAX_WIDTH)] {
        let _ = write!(
            o,
            "<path class=\"ln\" d=\"M{},{}H{}\" stroke-width=\"{}\"/>",
            N(left + dx),
            N(mid),
            N(left + dx + 22.0),
            N(sw)
        );
    }
    o.push('\n');
    for (i, l) in t.width.iter().enumerate() {
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            N(left + 60.0),
            N(base + 4.0 + i as f64 * LINE),
            Esc(l)
        );
    }
    // A sample of the figures line, then what it means.
    base += t.width.len().max(1) as f64 * LINE + 4.0;
    let sample = format!("{} · 340", heat::percent(words, 0.12));
    let _ = writeln!(
        o,
        "<text class=\"f\" x=\"{}\" y=\"{}\">{}</text>",
        N(left),
        N(base + 4.0),
        Esc(&sample)
    );
    let sample_w = (units(&sample) as f64 * BADGE_CHAR_W).max(60.0);
    for (i, l) in t.badge.iter().enumerate() {
        let _ = writeln!(
            o,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            N(left + sample_w + 8.0),
            N(base + 4.0 + i as f64 * LINE),
            Esc(l)
        );
    }
    o.push_str("</g>\n");
}
