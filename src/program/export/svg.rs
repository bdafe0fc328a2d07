//! SVG, drawn by our own code without any external program: a layered
//! (Sugiyama-style) top-to-bottom layout.
//!
//! 1. Cycles are broken by reversing the back edges that a depth-first search
//!    from the start node (then from every other node, in node order) finds;
//!    those edges are drawn as curves on the side of their boxes, their arrow
//!    pointing at the real target.
//! 2. Layers by longest path from the start (nodes that the start does not
//!    reach are placed too).
//! 3. Edges spanning several layers get virtual nodes, so they route around
//!    boxes; the order within each layer comes from a few barycenter sweeps.
//! 4. Box sizes from the text, x by a few passes of "centre over the
//!    neighbours, keep the order, never overlap", y by layer.
//!
//! Everything is kept in vectors and walked in index order, so the same model
//! gives byte-identical output. Big graphs are bounded: virtual nodes are
//! capped, crossing reduction is skipped above [`ORDER_MAX_NODES`], and no
//! step recurses.

use super::{GNode, Model, Shape};
use std::fmt::{self, Write};

// Text metrics (estimates: there is no font at hand to measure with).
const FONT_SIZE: f64 = 12.0;
const CHAR_W: f64 = 7.0;
const TITLE_CHAR_W: f64 = 7.4;
const LABEL_CHAR_W: f64 = 6.4;
const LINE_H: f64 = 16.0;
/// Width of a text line, in narrow characters (a wide character counts two).
const WRAP: usize = 28;
const TEXT_LINES: usize = 3;
const TITLE_LINES: usize = 2;
/// Width of an edge label before it is cut with `…`.
const LABEL_WRAP: usize = 32;

// Geometry.
const PAD_X: f64 = 12.0;
const PAD_Y: f64 = 8.0;
const MIN_W: f64 = 96.0;
const MIN_H: f64 = 36.0;
const NODE_SEP: f64 = 32.0;
const VIRTUAL_SEP: f64 = 14.0;
const VIRTUAL_W: f64 = 4.0;
const GAP: f64 = 44.0;
const GAP_LABEL: f64 = 64.0;
const MARGIN: f64 = 20.0;
const TITLE_H: f64 = 40.0;
const START_TAG_H: f64 = 20.0;
/// How far a looping edge bulges out beside a box.
const BULGE: f64 = 28.0;
/// Room kept beside a box that has a looping edge on that side.
const SIDE_ROOM: f64 = 26.0;
/// How far beside a box the virtual nodes of a back edge sit.
const BACK_OFFSET: f64 = 22.0;
const SKEW: f64 = 12.0;
const SUB_BAR: f64 = 8.0;
const OCT_CUT: f64 = 10.0;

// Limits that keep huge graphs fast.
const MAX_VIRTUAL: usize = 40_000;
const ORDER_MAX_NODES: usize = 2_000;
const ORDER_MAX_TOTAL: usize = 8_000;
const SWEEPS: usize = 12;
const PLACE_PASSES: usize = 10;
const PLACE_PASSES_BIG: usize = 3;
const BIG: usize = 5_000;
/// Label collision checks look back at most this many labels in a gap.
const LABEL_LOOKBACK: usize = 48;

pub fn render(m: &Model) -> String {
    let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
    let lay = layout(m, &boxes);
    draw(m, &boxes, &lay)
}

// ---------------------------------------------------------------- text

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD)
}

fn char_units(c: char) -> usize {
    if is_wide(c) { 2 } else { 1 }
}

fn units(s: &str) -> usize {
    s.chars().map(char_units).sum()
}

/// Greedy word wrap to `width` units, at most `max_lines` lines; what does not
/// fit is cut with `…`. Words longer than a line are broken.
fn wrap(s: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_u = 0;
    let mut cut = false;
    'words: for word in s.split_whitespace() {
        let wu = units(word);
        if cur_u > 0 && cur_u + 1 + wu <= width {
            cur.push(' ');
            cur.push_str(word);
            cur_u += 1 + wu;
            continue;
        }
        if cur_u > 0 {
            lines.push(std::mem::take(&mut cur));
            cur_u = 0;
            if lines.len() == max_lines {
                cut = true;
                break;
            }
        }
        if wu <= width {
            cur.push_str(word);
            cur_u = wu;
            continue;
        }
        for c in word.chars() {
            let cu = char_units(c);
            if cur_u + cu > width && cur_u > 0 {
                lines.push(std::mem::take(&mut cur));
                cur_u = 0;
                if lines.len() == max_lines {
                    cut = true;
                    break 'words;
                }
            }
            cur.push(c);
            cur_u += cu;
        }
    }
    if !cur.is_empty() {
        if lines.len() < max_lines {
            lines.push(cur);
        } else {
            cut = true;
        }
    }
    if cut && let Some(last) = lines.last_mut() {
        if !last.ends_with('…') {
            while !last.is_empty() && units(last) + 1 > width {
                last.pop();
            }
            let kept = last.trim_end().len();
            last.truncate(kept);
            last.push('…');
        }
    }
    lines
}

/// XML-escapes text for element content and attribute values; characters XML
/// 1.0 forbids become U+FFFD.
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&apos;")?,
                '\t' | '\n' | '\r' => f.write_char(c)?,
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => f.write_char('\u{FFFD}')?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A coordinate, rounded to one decimal, without a trailing `.0`.
struct N(f64);

impl fmt::Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() { (self.0 * 10.0).round() / 10.0 } else { 0.0 };
        if v == 0.0 {
            f.write_str("0")
        } else if v.fract() == 0.0 {
            write!(f, "{}", v as i64)
        } else {
            write!(f, "{v:.1}")
        }
    }
}

// ---------------------------------------------------------------- boxes

struct NodeBox {
    w: f64,
    h: f64,
    title: Vec<String>,
    text: Vec<String>,
}

fn measure(n: &GNode) -> NodeBox {
    let title = match n.shape {
        Shape::Resolve => format!("✔ {}", n.title),
        Shape::Escalate => format!("⇧ {}", n.title),
        _ => n.title.clone(),
    };
    let title = wrap(&title, WRAP, TITLE_LINES);
    let text = wrap(&n.text, WRAP, TEXT_LINES);
    let tw = title
        .iter()
        .map(|l| units(l) as f64 * TITLE_CHAR_W)
        .chain(text.iter().map(|l| units(l) as f64 * CHAR_W))
        .fold(0.0, f64::max);
    let th = (title.len() + text.len()).max(1) as f64 * LINE_H;
    let (w, h) = match n.shape {
        Shape::Question | Shape::Instruction | Shape::Resolve => (tw + 2.0 * PAD_X, th + 2.0 * PAD_Y),
        Shape::SubFlow => (tw + 2.0 * (PAD_X + SUB_BAR), th + 2.0 * PAD_Y),
        Shape::Input => (tw + 2.0 * (PAD_X + SKEW), th + 2.0 * PAD_Y),
        Shape::Escalate => (tw + 2.0 * (PAD_X + OCT_CUT / 2.0), th + 2.0 * PAD_Y + 4.0),
        // A diamond holds an a×b box when it is 2a wide and 2b high.
        Shape::Branch => (2.0 * (tw + 8.0), 2.0 * (th + 4.0)),
        // An ellipse holds it when it is √2 times as big.
        Shape::Return => ((tw + 16.0) * 1.42, (th + 6.0) * 1.42),
    };
    NodeBox { w: w.max(MIN_W).ceil(), h: h.max(MIN_H).ceil(), title, text }
}

// ---------------------------------------------------------------- layout

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Drawn downwards along its chain.
    Forward,
    /// Reversed to break a cycle: its chain runs from the real target down to
    /// the real source, and it is drawn on the side, backwards along it.
    Back,
    SelfLoop,
}

struct Route {
    edge: usize,
    kind: Kind,
    /// Layered nodes from the upper end to the lower end, virtual ones between.
    chain: Vec<usize>,
    /// The gap (below layer N) where its label goes.
    label_gap: Option<usize>,
}

struct Layout {
    /// Real nodes `0..n`, then virtual nodes.
    n: usize,
    layer: Vec<usize>,
    x: Vec<f64>,
    /// Top of each layer's band, and its height.
    band_top: Vec<f64>,
    band_h: Vec<f64>,
    routes: Vec<Route>,
    start: Option<usize>,
}

impl Layout {
    fn node_top(&self, i: usize, b: &NodeBox) -> f64 {
        let l = self.layer[i];
        self.band_top[l] + (self.band_h[l] - b.h) / 2.0
    }
}

fn layout(m: &Model, boxes: &[NodeBox]) -> Layout {
    let n = m.nodes.len();
    let start = m.nodes.iter().position(|g| g.start).or(if n > 0 { Some(0) } else { None });
    // Edges with both ends in the model.
    let valid: Vec<usize> = (0..m.edges.len()).filter(|&e| m.edges[e].from < n && m.edges[e].to < n).collect();
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &e in &valid {
        out[m.edges[e].from].push(e);
    }

    // 1. Break cycles: reverse DFS back edges, start first, then node order.
    let mut reversed = vec![false; m.edges.len()];
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in start.into_iter().chain(0..n) {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        stack.push((root, 0));
        while let Some(top) = stack.last_mut() {
            let (v, i) = *top;
            if i < out[v].len() {
                top.1 += 1;
                let e = out[v][i];
                let w = m.edges[e].to;
                if w == v {
                    continue;
                }
                match state[w] {
                    0 => {
                        state[w] = 1;
                        stack.push((w, 0));
                    }
                    1 => reversed[e] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }
    // Keep the start on top: an edge into it from a node it does not reach
    // turns round too (the start then has no incoming edge, so no cycle forms).
    if let Some(s) = start {
        for &e in &valid {
            if m.edges[e].to == s && m.edges[e].from != s {
                reversed[e] = true;
            }
        }
    }
    let dag = |e: usize| -> (usize, usize) {
        let g = &m.edges[e];
        if reversed[e] { (g.to, g.from) } else { (g.from, g.to) }
    };

    // 2. Layers: longest path, in a topological order (Kahn, index order).
    let mut indeg = vec![0usize; n];
    let mut dag_out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &e in &valid {
        let (a, b) = dag(e);
        if a != b {
            indeg[b] += 1;
            dag_out[a].push(b);
        }
    }
    let mut layer = vec![0usize; n];
    let mut queue: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut head = 0;
    while head < queue.len() {
        let v = queue[head];
        head += 1;
        for &w in &dag_out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indeg[w] -= 1;
            if indeg[w] == 0 {
                queue.push(w);
            }
        }
    }
    drop(dag_out);

    // 3. Virtual nodes for long edges, shortest first, within the budget.
    let mut routes: Vec<Route> = valid
        .iter()
        .map(|&e| {
            let (a, b) = dag(e);
            let kind = if a == b {
                Kind::SelfLoop
            } else if reversed[e] {
                Kind::Back
            } else {
                Kind::Forward
            };
            Route { edge: e, kind, chain: vec![a, b], label_gap: None }
        })
        .collect();
    let mut by_span: Vec<usize> = (0..routes.len()).filter(|&r| routes[r].kind != Kind::SelfLoop).collect();
    let span = |r: &Route| layer[r.chain[1]] - layer[r.chain[0]];
    by_span.sort_by_key(|&r| (span(&routes[r]), r));
    let mut budget = MAX_VIRTUAL;
    let mut vlayer: Vec<usize> = Vec::new();
    let mut vback: Vec<bool> = Vec::new();
    for &r in &by_span {
        let s = span(&routes[r]);
        if s < 2 || s - 1 > budget {
            continue;
        }
        budget -= s - 1;
        let (a, b) = (routes[r].chain[0], routes[r].chain[1]);
        let mut chain = Vec::with_capacity(s + 1);
        chain.push(a);
        for k in 1..s {
            chain.push(n + vlayer.len());
            vlayer.push(layer[a] + k);
            vback.push(routes[r].kind == Kind::Back);
        }
        chain.push(b);
        routes[r].chain = chain;
    }
    let total = n + vlayer.len();
    layer.extend_from_slice(&vlayer);
    let mut back_virtual = vec![false; n];
    back_virtual.extend_from_slice(&vback);
    let nlayers = layer.iter().copied().max().map_or(0, |l| l + 1);

    // Adjacency between consecutive layers, in edge order.
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); total];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); total];
    for r in &routes {
        for w in r.chain.windows(2) {
            if r.kind != Kind::SelfLoop && layer[w[1]] == layer[w[0]] + 1 {
                succs[w[0]].push(w[1]);
                preds[w[1]].push(w[0]);
            }
        }
    }

    // 4. Order within layers: DFS preorder from the start, then barycenters.
    let mut layers: Vec<Vec<usize>> = vec![Vec::new(); nlayers];
    {
        let mut seen = vec![false; total];
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for root in start.into_iter().chain(0..total) {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            layers[layer[root]].push(root);
            stack.push((root, 0));
            while let Some(top) = stack.last_mut() {
                let (v, i) = *top;
                if i < succs[v].len() {
                    top.1 += 1;
                    let w = succs[v][i];
                    if !seen[w] {
                        seen[w] = true;
                        layers[layer[w]].push(w);
                        stack.push((w, 0));
                    }
                } else {
                    stack.pop();
                }
            }
        }
    }
    let mut pos = vec![0usize; total];
    let set_pos = |layers: &[Vec<usize>], pos: &mut [usize]| {
        for l in layers {
            for (i, &v) in l.iter().enumerate() {
                pos[v] = i;
            }
        }
    };
    set_pos(&layers, &mut pos);
    if n <= ORDER_MAX_NODES && total <= ORDER_MAX_TOTAL && nlayers > 1 {
        let mut best = layers.clone();
        let mut best_c = crossings(&layers, &succs, &pos);
        for sweep in 0..SWEEPS {
            if best_c == 0 {
                break;
            }
            let down = sweep % 2 == 0;
            let order: Vec<usize> = if down { (1..nlayers).collect() } else { (0..nlayers - 1).rev().collect() };
            for l in order {
                let nb = if down { &preds } else { &succs };
                let mut keyed: Vec<(f64, usize, usize)> = layers[l]
                    .iter()
                    .map(|&v| {
                        let ns = &nb[v];
                        let b = if ns.is_empty() {
                            pos[v] as f64
                        } else {
                            ns.iter().map(|&u| pos[u] as f64).sum::<f64>() / ns.len() as f64
                        };
                        (b, pos[v], v)
                    })
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                layers[l] = keyed.into_iter().map(|k| k.2).collect();
                for (i, &v) in layers[l].iter().enumerate() {
                    pos[v] = i;
                }
            }
            let c = crossings(&layers, &succs, &pos);
            if c < best_c {
                best_c = c;
                best = layers.clone();
            }
        }
        layers = best;
        set_pos(&layers, &mut pos);
    }

    // Room beside boxes for looping edges drawn on their side.
    let mut room_r = vec![0.0f64; total];
    for r in &routes {
        match r.kind {
            Kind::SelfLoop => room_r[r.chain[0]] = SIDE_ROOM + 10.0,
            Kind::Back if r.chain.len() == 2 => {
                room_r[r.chain[0]] = SIDE_ROOM;
                room_r[r.chain[1]] = SIDE_ROOM;
            }
            _ => {}
        }
    }
    let half: Vec<f64> = (0..total).map(|i| if i < n { boxes[i].w / 2.0 } else { VIRTUAL_W / 2.0 }).collect();

    // 5. x: pack, then alternate passes that centre each node on its
    // neighbours in the layer above (down) or below (up), keeping the order.
    let mut x = vec![0.0f64; total];
    for l in &layers {
        let mut cur = 0.0;
        for (i, &v) in l.iter().enumerate() {
            if i > 0 {
                cur += min_gap(l[i - 1], v, n, &half, &room_r);
            }
            x[v] = cur;
        }
        let shift = cur / 2.0;
        for &v in l {
            x[v] -= shift;
        }
    }
    let passes = if total > BIG { PLACE_PASSES_BIG } else { PLACE_PASSES };
    let mut desired: Vec<f64> = Vec::new();
    let mut weight: Vec<f64> = Vec::new();
    for p in 0..passes * 2 {
        let down = p % 2 == 0;
        let order: Vec<usize> =
            if down { (1..nlayers).collect() } else { (0..nlayers.saturating_sub(1)).rev().collect() };
        for l in order {
            let nb = if down { &preds } else { &succs };
            desired.clear();
            weight.clear();
            for &v in &layers[l] {
                let mut sum = 0.0;
                let mut cnt = 0usize;
                for &u in &nb[v] {
                    if v < n && back_virtual[u] {
                        continue; // a back edge never pulls its real ends
                    }
                    let mut xu = x[u];
                    if back_virtual[v] && u < n {
                        let side = if x[v] >= x[u] { 1.0 } else { -1.0 };
                        xu += side * (half[u] + BACK_OFFSET);
                    }
                    sum += xu;
                    cnt += 1;
                }
                if cnt == 0 {
                    desired.push(x[v]);
                    weight.push(0.5);
                } else {
                    desired.push(sum / cnt as f64);
                    weight.push(if v >= n { 2.0 } else { 1.0 });
                }
            }
            let placed = place_row(&layers[l], &desired, &weight, |a, b| min_gap(a, b, n, &half, &room_r));
            for (&v, xv) in layers[l].iter().zip(placed) {
                x[v] = xv;
            }
        }
    }

    // Labels: which gap each goes in (the middle one along its path).
    for r in &mut routes {
        if m.edges[r.edge].label.is_empty() || r.kind == Kind::SelfLoop {
            continue;
        }
        let top = layer[r.chain[0]];
        let k = r.chain.len() - 1;
        r.label_gap = Some(match r.kind {
            Kind::Forward => top + (k - 1) / 2,
            _ => top + k - 1 - (k - 1) / 2,
        });
    }
    let mut gap_label = vec![false; nlayers];
    for r in &routes {
        if let Some(g) = r.label_gap {
            gap_label[g] = true;
        }
    }

    // 6. y: bands as high as their highest box.
    let mut band_h = vec![0.0f64; nlayers];
    for v in 0..n {
        band_h[layer[v]] = band_h[layer[v]].max(boxes[v].h);
    }
    let mut band_top = vec![0.0f64; nlayers];
    let mut y = MARGIN + TITLE_H + START_TAG_H;
    for l in 0..nlayers {
        band_top[l] = y;
        y += band_h[l] + if gap_label[l] { GAP_LABEL } else { GAP };
    }

    Layout { n, layer, x, band_top, band_h, routes, start }
}

/// The least distance between the centres of neighbours `a` then `b`.
fn min_gap(a: usize, b: usize, n: usize, half: &[f64], room_r: &[f64]) -> f64 {
    let sep = if a < n && b < n { NODE_SEP } else { VIRTUAL_SEP };
    half[a] + room_r[a] + sep + half[b]
}

/// Places one row: as near `desired` as it can (least squares, weighted),
/// keeping the order and the gaps. Pool-adjacent-violators on x minus the
/// cumulative gap, which must not decrease.
fn place_row(row: &[usize], desired: &[f64], weight: &[f64], gap: impl Fn(usize, usize) -> f64) -> Vec<f64> {
    let mut offset = Vec::with_capacity(row.len());
    let mut o = 0.0;
    for i in 0..row.len() {
        if i > 0 {
            o += gap(row[i - 1], row[i]);
        }
        offset.push(o);
    }
    // Blocks of (weight, weighted sum, count).
    let mut blocks: Vec<(f64, f64, usize)> = Vec::new();
    for i in 0..row.len() {
        let t = desired[i] - offset[i];
        blocks.push((weight[i], weight[i] * t, 1));
        while blocks.len() > 1 {
            let last = blocks[blocks.len() - 1];
            let prev = blocks[blocks.len() - 2];
            if prev.1 / prev.0 > last.1 / last.0 {
                blocks.pop();
                let p = blocks.last_mut().expect("two blocks");
                *p = (p.0 + last.0, p.1 + last.1, p.2 + last.2);
            } else {
                break;
            }
        }
    }
    let mut out = Vec::with_capacity(row.len());
    for (w, s, c) in blocks {
        for _ in 0..c {
            let i = out.len();
            out.push(s / w + offset[i]);
        }
    }
    out
}

/// Edge crossings between consecutive layers (inversions, Fenwick tree).
fn crossings(layers: &[Vec<usize>], succs: &[Vec<usize>], pos: &[usize]) -> u64 {
    let mut total = 0u64;
    let mut targets: Vec<usize> = Vec::new();
    for l in 0..layers.len().saturating_sub(1) {
        let size = layers[l + 1].len();
        targets.clear();
        for &u in &layers[l] {
            let start = targets.len();
            targets.extend(succs[u].iter().map(|&v| pos[v]));
            targets[start..].sort_unstable();
        }
        let mut tree = vec![0u64; size + 1];
        let mut seen = 0u64;
        for &t in &targets {
            // Count earlier edges whose target lies right of t.
            let mut i = t + 1;
            let mut le = 0u64;
            while i > 0 {
                le += tree[i];
                i &= i - 1;
            }
            total += seen - le;
            let mut i = t + 1;
            while i <= size {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
            seen += 1;
        }
    }
    total
}

// ---------------------------------------------------------------- shapes

#[derive(Clone, Copy)]
struct Rect {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Rect {
    fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

/// Where the outline's bottom lies at `dx` from the centre.
fn bottom_at(shape: Shape, r: Rect, dx: f64) -> f64 {
    let (hw, hh) = (r.w / 2.0, r.h / 2.0);
    let t = (dx.abs() / hw).min(1.0);
    match shape {
        Shape::Branch => r.cy() + hh * (1.0 - t),
        Shape::Return => r.cy() + hh * (1.0 - t * t).sqrt(),
        Shape::Escalate if dx.abs() > hw - OCT_CUT => r.y + r.h - (dx.abs() - (hw - OCT_CUT)),
        _ => r.y + r.h,
    }
}

fn top_at(shape: Shape, r: Rect, dx: f64) -> f64 {
    2.0 * r.cy() - bottom_at(shape, r, dx)
}

/// Where the outline's `side` (+1 right, -1 left) lies at `dy` from the centre.
fn side_at(shape: Shape, r: Rect, side: f64, dy: f64) -> f64 {
    let (hw, hh) = (r.w / 2.0, r.h / 2.0);
    let t = (dy.abs() / hh).min(1.0);
    let off = match shape {
        Shape::Branch => hw * (1.0 - t),
        Shape::Return => hw * (1.0 - t * t).sqrt(),
        Shape::Escalate if dy.abs() > hh - OCT_CUT => hw - (dy.abs() - (hh - OCT_CUT)),
        // The parallelogram leans right: its right side runs from x+w at the
        // top to x+w-skew at the bottom.
        Shape::Input => hw - SKEW * (dy + hh) / r.h * side.max(0.0) - SKEW * (1.0 - (dy + hh) / r.h) * (-side).max(0.0),
        _ => hw,
    };
    r.cx() + side * off
}

// ---------------------------------------------------------------- paths

#[derive(Clone, Copy, PartialEq)]
struct P(f64, f64);

#[derive(Clone, Copy)]
enum Seg {
    Line(P, P),
    Curve(P, P, P, P),
}

impl Seg {
    fn rev(self) -> Seg {
        match self {
            Seg::Line(a, b) => Seg::Line(b, a),
            Seg::Curve(a, b, c, d) => Seg::Curve(d, c, b, a),
        }
    }
    fn at(&self, t: f64) -> P {
        match *self {
            Seg::Line(a, b) => P(a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t),
            Seg::Curve(a, b, c, d) => {
                let u = 1.0 - t;
                let (k0, k1, k2, k3) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
                P(k0 * a.0 + k1 * b.0 + k2 * c.0 + k3 * d.0, k0 * a.1 + k1 * b.1 + k2 * c.1 + k3 * d.1)
            }
        }
    }
    fn points(&self) -> Vec<P> {
        match *self {
            Seg::Line(a, b) => vec![a, b],
            Seg::Curve(a, b, c, d) => vec![a, b, c, d],
        }
    }
}

/// A vertical S-curve from `a` down (or up) to `b`.
fn vcurve(a: P, b: P) -> Seg {
    let dy = (b.1 - a.1) / 2.0;
    Seg::Curve(a, P(a.0, a.1 + dy), P(b.0, b.1 - dy), b)
}

struct EdgePath {
    edge: usize,
    kind: Kind,
    segs: Vec<Seg>,
    /// Index into `segs` of the segment holding the label, and its gap.
    label_seg: Option<(usize, Option<usize>)>,
}

struct Label {
    edge: usize,
    text: String,
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

/// Spreads `k` ports across a box of width `w`: the offset of port `i`.
fn spread(i: usize, k: usize, w: f64) -> f64 {
    if k < 2 {
        return 0.0;
    }
    let step = (w * 0.6 / (k - 1) as f64).min(18.0);
    (i as f64 - (k - 1) as f64 / 2.0) * step
}

fn route_edges(m: &Model, boxes: &[NodeBox], lay: &Layout) -> Vec<EdgePath> {
    let n = lay.n;
    let rect = |i: usize| Rect { x: lay.x[i] - boxes[i].w / 2.0, y: lay.node_top(i, &boxes[i]), w: boxes[i].w, h: boxes[i].h };
    let vtop = |v: usize| lay.band_top[lay.layer[v]];
    let vbot = |v: usize| lay.band_top[lay.layer[v]] + lay.band_h[lay.layer[v]];

    // Ports: forward routes leave a box's bottom and enter a box's top,
    // spread in the order of where they head; side curves stack vertically.
    let mut bottom: Vec<Vec<(f64, usize)>> = vec![Vec::new(); n];
    let mut top: Vec<Vec<(f64, usize)>> = vec![Vec::new(); n];
    let mut sides: Vec<Vec<(f64, usize)>> = vec![Vec::new(); 2 * n];
    let side_of = |r: &Route, end: usize| -> f64 {
        // end 0: the upper end (chain[0]), end 1: the lower end.
        if r.kind == Kind::SelfLoop || r.chain.len() == 2 {
            return 1.0;
        }
        let (node, next) = if end == 0 { (r.chain[0], r.chain[1]) } else { (r.chain[r.chain.len() - 1], r.chain[r.chain.len() - 2]) };
        if lay.x[next] >= lay.x[node] { 1.0 } else { -1.0 }
    };
    let side_ix = |node: usize, side: f64| 2 * node + usize::from(side > 0.0);
    for (ri, r) in lay.routes.iter().enumerate() {
        let a = r.chain[0];
        let b = r.chain[r.chain.len() - 1];
        match r.kind {
            Kind::Forward => {
                bottom[a].push((lay.x[r.chain[1]], ri));
                top[b].push((lay.x[r.chain[r.chain.len() - 2]], ri));
            }
            Kind::Back => {
                sides[side_ix(a, side_of(r, 0))].push((lay.layer[b] as f64, ri));
                sides[side_ix(b, side_of(r, 1))].push((lay.layer[a] as f64, ri));
            }
            Kind::SelfLoop => {
                sides[side_ix(a, 1.0)].push((0.0, ri));
            }
        }
    }
    // port[(route, end)] -> offset from the box centre.
    let mut port = vec![[0.0f64; 2]; lay.routes.len()];
    let sort = |v: &mut Vec<(f64, usize)>| v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for i in 0..n {
        for (list, end) in [(&mut bottom[i], 0usize), (&mut top[i], 1usize)] {
            sort(list);
            let k = list.len();
            for (j, &(_, ri)) in list.iter().enumerate() {
                port[ri][end] = spread(j, k, boxes[i].w);
            }
        }
        for s in 0..2 {
            let list = &mut sides[2 * i + s];
            sort(list);
            let k = list.len();
            let step = (boxes[i].h * 0.5 / k.max(2) as f64).min(10.0);
            for (j, &(_, ri)) in list.iter().enumerate() {
                let dy = (j as f64 - (k - 1) as f64 / 2.0) * step;
                let r = &lay.routes[ri];
                if r.chain[0] == i {
                    port[ri][0] = dy;
                }
                if r.chain[r.chain.len() - 1] == i {
                    port[ri][1] = dy;
                }
            }
        }
    }

    let mut paths = Vec::with_capacity(lay.routes.len());
    for (ri, r) in lay.routes.iter().enumerate() {
        let a = r.chain[0];
        let b = r.chain[r.chain.len() - 1];
        let (ra, rb) = (rect(a), rect(b));
        let sa = boxes_shape(m, a);
        let sb = boxes_shape(m, b);
        let mut segs: Vec<Seg> = Vec::new();
        let mut gaps: Vec<Option<usize>> = Vec::new();
        match r.kind {
            Kind::SelfLoop => {
                let s = P(side_at(sa, ra, 1.0, -7.0), ra.cy() - 7.0);
                let e = P(side_at(sa, ra, 1.0, 7.0), ra.cy() + 7.0);
                let out = ra.x + ra.w + BULGE + 8.0;
                segs.push(Seg::Curve(s, P(out, s.1 - 22.0), P(out, e.1 + 22.0), e));
                gaps.push(None);
            }
            Kind::Forward => {
                let dx0 = port[ri][0];
                let mut p = P(ra.cx() + dx0, bottom_at(sa, ra, dx0));
                for (k, &v) in r.chain.iter().enumerate().skip(1) {
                    let g = Some(lay.layer[v] - 1);
                    if v >= n {
                        let t = P(lay.x[v], vtop(v));
                        segs.push(vcurve(p, t));
                        gaps.push(g);
                        let bt = P(lay.x[v], vbot(v));
                        if bt != t {
                            segs.push(Seg::Line(t, bt));
                            gaps.push(None);
                        }
                        p = bt;
                    } else {
                        let dx1 = port[ri][1];
                        let t = P(rb.cx() + dx1, top_at(sb, rb, dx1));
                        segs.push(vcurve(p, t));
                        // A long edge left without virtual nodes (over the
                        // budget) has its label in the gap below its source.
                        gaps.push(if k == 1 { Some(lay.layer[a]) } else { g });
                    }
                }
            }
            Kind::Back => {
                let s0 = side_of(r, 0);
                let s1 = side_of(r, 1);
                let pa = P(side_at(sa, ra, s0, port[ri][0]), ra.cy() + port[ri][0]);
                let pb = P(side_at(sb, rb, s1, port[ri][1]), rb.cy() + port[ri][1]);
                if r.chain.len() == 2 {
                    let out = (ra.x + ra.w).max(rb.x + rb.w) + BULGE;
                    segs.push(Seg::Curve(pa, P(out, pa.1), P(out, pb.1), pb));
                    gaps.push(Some(lay.layer[a]));
                } else {
                    let mut p = pa;
                    for (k, &v) in r.chain.iter().enumerate().skip(1) {
                        let g = Some(lay.layer[v] - 1);
                        if v >= n {
                            let t = P(lay.x[v], vtop(v));
                            if k == 1 {
                                let dy = (t.1 - p.1).max(0.0) * 0.6;
                                segs.push(Seg::Curve(p, P(t.0, p.1), P(t.0, t.1 - dy), t));
                            } else {
                                segs.push(vcurve(p, t));
                            }
                            gaps.push(g);
                            let bt = P(lay.x[v], vbot(v));
                            if bt != t {
                                segs.push(Seg::Line(t, bt));
                                gaps.push(None);
                            }
                            p = bt;
                        } else {
                            let dy = (pb.1 - p.1).max(0.0) * 0.6;
                            segs.push(Seg::Curve(p, P(p.0, p.1 + dy), P(p.0, pb.1), pb));
                            gaps.push(g);
                        }
                    }
                }
                // Drawn from the real source up to the real target.
                segs.reverse();
                gaps.reverse();
                for s in &mut segs {
                    *s = s.rev();
                }
            }
        }
        let label_seg = if m.edges[r.edge].label.is_empty() {
            None
        } else if r.kind == Kind::SelfLoop {
            Some((0, None))
        } else {
            let ix = gaps.iter().position(|g| *g == r.label_gap).unwrap_or(segs.len() / 2);
            Some((ix, r.label_gap))
        };
        paths.push(EdgePath { edge: r.edge, kind: r.kind, segs, label_seg });
    }
    paths
}

fn boxes_shape(m: &Model, i: usize) -> Shape {
    m.nodes[i].shape
}

/// Places the labels on their paths, nudging along the curve to avoid the
/// labels already placed in the same gap.
fn place_labels(m: &Model, paths: &[EdgePath], nlayers: usize) -> Vec<Label> {
    let mut placed: Vec<Vec<usize>> = vec![Vec::new(); nlayers];
    let mut labels: Vec<Label> = Vec::new();
    for p in paths {
        let Some((si, gap)) = p.label_seg else { continue };
        let Some(seg) = p.segs.get(si) else { continue };
        let text = wrap(&m.edges[p.edge].label, LABEL_WRAP, 1).pop().unwrap_or_default();
        let w = units(&text) as f64 * LABEL_CHAR_W + 10.0;
        let h = 16.0;
        if p.kind == Kind::SelfLoop {
            let c = seg.at(0.5);
            labels.push(Label { edge: p.edge, text, x: c.0 + 4.0, y: c.1 - h / 2.0, w, h });
            continue;
        }
        let mut chosen = None;
        for t in [0.5, 0.35, 0.65, 0.22, 0.78] {
            let c = seg.at(t);
            let cand = (c.0 - w / 2.0, c.1 - h / 2.0);
            let clash = gap.is_some_and(|g| {
                placed[g].iter().rev().take(LABEL_LOOKBACK).any(|&o| {
                    let o = &labels[o];
                    cand.0 < o.x + o.w + 2.0 && o.x < cand.0 + w + 2.0 && cand.1 < o.y + o.h + 1.0 && o.y < cand.1 + h + 1.0
                })
            });
            if !clash {
                chosen = Some(cand);
                break;
            }
        }
        let (x, y) = chosen.unwrap_or_else(|| {
            let c = seg.at(0.5);
            (c.0 - w / 2.0, c.1 - h / 2.0)
        });
        if let Some(g) = gap.filter(|&g| g < nlayers) {
            placed[g].push(labels.len());
        }
        labels.push(Label { edge: p.edge, text, x, y, w, h });
    }
    labels
}

// ---------------------------------------------------------------- drawing

const STYLE: &str = "\
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

fn draw(m: &Model, boxes: &[NodeBox], lay: &Layout) -> String {
    let n = lay.n;
    let paths = route_edges(m, boxes, lay);
    let labels = place_labels(m, &paths, lay.band_top.len());

    // Bounds of everything, to shift the picture into the margin.
    let (mut min_x, mut max_x, mut max_y) = (f64::INFINITY, f64::NEG_INFINITY, MARGIN + TITLE_H);
    for (i, b) in boxes.iter().enumerate() {
        let top = lay.node_top(i, b);
        min_x = min_x.min(lay.x[i] - b.w / 2.0);
        max_x = max_x.max(lay.x[i] + b.w / 2.0);
        max_y = max_y.max(top + b.h);
    }
    for p in &paths {
        for s in &p.segs {
            for q in s.points() {
                min_x = min_x.min(q.0);
                max_x = max_x.max(q.0);
                max_y = max_y.max(q.1);
            }
        }
    }
    for l in &labels {
        min_x = min_x.min(l.x);
        max_x = max_x.max(l.x + l.w);
        max_y = max_y.max(l.y + l.h);
    }
    if !min_x.is_finite() {
        min_x = 0.0;
        max_x = 0.0;
    }
    let title = wrap(&m.title, 90, 1).pop().unwrap_or_default();
    let title_w = units(&title) as f64 * 9.0;
    let content_w = max_x - min_x;
    let width = (content_w.max(title_w) + 2.0 * MARGIN).ceil();
    // Centre narrow content under a wide title.
    let dx = MARGIN - min_x + (title_w - content_w).max(0.0) / 2.0;
    let height = (max_y + MARGIN).ceil();

    let mut o = String::with_capacity(1024 + m.nodes.len() * 420 + m.edges.len() * 200);
    let _ = writeln!(
        o,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif\" font-size=\"{fs}\">",
        w = N(width),
        h = N(height),
        fs = N(FONT_SIZE)
    );
    let _ = writeln!(o, "<title>{}</title>", Esc(&m.title));
    let _ = writeln!(o, "<style>{STYLE}</style>");
    o.push_str(
        "<defs>\
<marker id=\"fp-arrow\" viewBox=\"0 0 10 10\" refX=\"9.5\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
<path d=\"M0,1 L10,5 L0,9 z\" fill=\"#6b7683\"/></marker>\
<marker id=\"fp-arrow-back\" viewBox=\"0 0 10 10\" refX=\"9.5\" refY=\"5\" markerWidth=\"9\" markerHeight=\"9\" markerUnits=\"userSpaceOnUse\" orient=\"auto\">\
<path d=\"M0,1 L10,5 L0,9 z\" fill=\"#7d5ba6\"/></marker>\
</defs>\n",
    );
    let _ = writeln!(o, "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>");
    let _ = writeln!(o, "<text class=\"title\" x=\"{}\" y=\"{}\">{}</text>", N(MARGIN), N(MARGIN + 18.0), Esc(&title));

    // Edges.
    o.push_str("<g class=\"edges\">\n");
    for p in &paths {
        let back = p.kind == Kind::Back;
        let _ = write!(o, "<path class=\"e{}\" d=\"", if back { " back" } else { "" });
        let mut last: Option<P> = None;
        for s in &p.segs {
            let first = match *s {
                Seg::Line(a, _) | Seg::Curve(a, ..) => a,
            };
            if last != Some(first) {
                let _ = write!(o, "M{},{}", N(first.0 + dx), N(first.1));
            }
            match *s {
                Seg::Line(_, b) => {
                    let _ = write!(o, "L{},{}", N(b.0 + dx), N(b.1));
                    last = Some(b);
                }
                Seg::Curve(_, c1, c2, d) => {
                    let _ = write!(
                        o,
                        "C{},{} {},{} {},{}",
                        N(c1.0 + dx),
                        N(c1.1),
                        N(c2.0 + dx),
                        N(c2.1),
                        N(d.0 + dx),
                        N(d.1)
                    );
                    last = Some(d);
                }
            }
        }
        let e = &m.edges[p.edge];
        let _ = writeln!(
            o,
            "\" marker-end=\"url(#{})\"><title>{} → {}</title></path>",
            if back { "fp-arrow-back" } else { "fp-arrow" },
            Esc(&m.nodes[e.from].key),
            Esc(&m.nodes[e.to].key)
        );
    }
    o.push_str("</g>\n");

    // Nodes.
    o.push_str("<g class=\"nodes\">\n");
    for (i, (g, b)) in m.nodes.iter().zip(boxes).enumerate().take(n) {
        let r = Rect { x: lay.x[i] - b.w / 2.0 + dx, y: lay.node_top(i, b), w: b.w, h: b.h };
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
        let _ = writeln!(o, "<g class=\"n {class}{}\">", if start { " start" } else { "" });
        let _ = writeln!(o, "<title>{}</title>", Esc(&g.key));
        let (x0, y0, x1, y1) = (r.x, r.y, r.x + r.w, r.y + r.h);
        match g.shape {
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
        let lines = b.title.len() + b.text.len();
        let mut y = r.cy() - lines as f64 * LINE_H / 2.0 + 12.0;
        for t in &b.title {
            let _ = writeln!(o, "<text class=\"t\" x=\"{}\" y=\"{}\">{}</text>", N(r.cx()), N(y), Esc(t));
            y += LINE_H;
        }
        for t in &b.text {
            let _ = writeln!(o, "<text x=\"{}\" y=\"{}\">{}</text>", N(r.cx()), N(y), Esc(t));
            y += LINE_H;
        }
        if start {
            let _ = writeln!(
                o,
                "<g class=\"tag\"><rect x=\"{}\" y=\"{}\" width=\"38\" height=\"15\" rx=\"7.5\"/>\
                 <text x=\"{}\" y=\"{}\">start</text></g>",
                N(x0),
                N(y0 - 19.0),
                N(x0 + 19.0),
                N(y0 - 8.0)
            );
        }
        o.push_str("</g>\n");
    }
    o.push_str("</g>\n");

    // Labels, on top.
    o.push_str("<g class=\"labels\">\n");
    for l in &labels {
        let back = paths.iter().any(|p| p.edge == l.edge && p.kind == Kind::Back);
        let _ = writeln!(
            o,
            "<g class=\"l{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" rx=\"3\"/>\
             <text x=\"{}\" y=\"{}\">{}</text></g>",
            if back { " back" } else { "" },
            N(l.x + dx),
            N(l.y),
            N(l.w),
            N(l.h),
            N(l.x + dx + l.w / 2.0),
            N(l.y + 12.0),
            Esc(&l.text)
        );
    }
    o.push_str("</g>\n</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::{GEdge, GNode, Model, Shape};
    use super::*;

    fn node(key: &str, shape: Shape, text: &str) -> GNode {
        GNode { key: key.into(), title: key.into(), text: text.into(), shape, start: false }
    }

    fn edge(from: usize, to: usize, label: &str) -> GEdge {
        GEdge { from, to, label: label.into() }
    }

    fn sample() -> Model {
        let mut nodes = vec![
            node("power", Shape::Question, "Is the power light on the front of the router lit?"),
            node("replug", Shape::Question, "Unplug the router, wait 30 seconds and plug it back in."),
            node("lights", Shape::Question, "Which light is blinking?"),
            node("check", Shape::Branch, ""),
            node("serial", Shape::Input, "What is the serial number on the label? → serial"),
            node("cycle", Shape::SubFlow, "use power-cycle"),
            node("hardware", Shape::Escalate, "Hardware fault suspected"),
            node("replug.no", Shape::Escalate, "Device does not power on"),
            node("lights.no-light", Shape::Resolve, "Connection restored"),
        ];
        nodes[0].start = true;
        Model {
            title: "Router has no internet (router-no-internet)".into(),
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
        let a = render(&m);
        let b = render(&m.clone());
        assert_eq!(a, b);
        assert!(a.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(a.ends_with("</svg>\n"));
        assert!(a.contains("viewBox=\"0 0 "));
    }

    #[test]
    fn every_key_and_shape_appears() {
        let m = sample();
        let s = render(&m);
        for n in &m.nodes {
            assert!(s.contains(&format!("<title>{}</title>", n.key)), "{} missing", n.key);
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
        let s = render(&m);
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
                ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"].iter().any(|e| rest.starts_with(e)),
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
            title: "loop".into(),
            nodes,
            edges: vec![edge(0, 1, "go"), edge(1, 2, ""), edge(2, 0, "again"), edge(2, 3, "ok"), edge(3, 3, "self")],
        };
        let s = render(&m);
        assert_eq!(s.matches("class=\"e back\"").count(), 1);
        assert!(s.contains("<title>c → a</title>"));
        assert!(s.contains("<title>d → d</title>"));
        // The start stays on top.
        let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
        let lay = layout(&m, &boxes);
        assert_eq!(&lay.layer[..4], &[0, 1, 2, 3]);
    }

    #[test]
    fn long_back_edge_routes_through_virtual_nodes() {
        let mut nodes: Vec<GNode> = (0..6).map(|i| node(&format!("n{i}"), Shape::Question, "step")).collect();
        nodes[0].start = true;
        let mut edges: Vec<GEdge> = (0..5).map(|i| edge(i, i + 1, "next")).collect();
        edges.push(edge(5, 1, "retry"));
        edges.push(edge(0, 5, "skip"));
        let m = Model { title: "long".into(), nodes, edges };
        let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
        let lay = layout(&m, &boxes);
        assert_eq!(lay.x.len(), 6 + 3 + 4);
        let s = render(&m);
        assert_eq!(s.matches("class=\"e back\"").count(), 1);
        assert!(s.contains("<title>n5 → n1</title>"));
    }

    #[test]
    fn unreachable_nodes_are_placed() {
        let mut nodes = vec![node("a", Shape::Question, ""), node("b", Shape::Resolve, ""), node("orphan", Shape::Instruction, "")];
        nodes[1].start = true;
        let m = Model { title: "t".into(), nodes, edges: vec![edge(0, 1, "x"), edge(2, 0, ""), edge(0, 9, "bad")] };
        let s = render(&m);
        for k in ["a", "b", "orphan"] {
            assert!(s.contains(&format!("<title>{k}</title>")));
        }
        assert!(render(&Model::default()).ends_with("</svg>\n"));
    }

    #[test]
    fn boxes_do_not_overlap() {
        let m = sample();
        let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
        let lay = layout(&m, &boxes);
        for i in 0..m.nodes.len() {
            for j in i + 1..m.nodes.len() {
                let (ti, tj) = (lay.node_top(i, &boxes[i]), lay.node_top(j, &boxes[j]));
                let xo = (lay.x[i] - lay.x[j]).abs() < (boxes[i].w + boxes[j].w) / 2.0;
                let yo = ti < tj + boxes[j].h && tj < ti + boxes[i].h;
                assert!(!(xo && yo), "{} overlaps {}", m.nodes[i].key, m.nodes[j].key);
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
        let w = wrap(&"x".repeat(100), 28, 2);
        assert_eq!(w.len(), 2);
        assert!(units(&w[1]) <= 28 && w[1].ends_with('…'));
    }

    /// A 5,000-node chain with branches, back edges and a shared terminal.
    fn big(n: usize) -> Model {
        let mut nodes: Vec<GNode> = (0..n).map(|i| node(&format!("q{i}"), Shape::Question, "Does it work now?")).collect();
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
        Model { title: "big".into(), nodes, edges }
    }

    #[test]
    fn big_model_renders() {
        let m = big(5_000);
        let s = render(&m);
        assert!(s.ends_with("</svg>\n"));
        assert!(s.contains("<title>q4999</title>"));
        assert!(s.contains("<title>end</title>"));
    }

    #[test]
    fn deep_graph_does_not_overflow() {
        let m = big(20_000);
        let s = render(&m);
        assert!(s.contains("<title>q19999</title>"));
    }
}
