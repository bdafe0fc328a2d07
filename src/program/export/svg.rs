//! SVG, drawn by our own code without any external program: a layered
//! (Sugiyama-style) top-to-bottom layout.
//!
//! 1. Cycles are broken by reversing the back edges that a depth-first search
//!    from the start node (then from every other node, in node order) finds;
//!    those edges run up a lane on the right, leaving and entering their boxes
//!    from the side through a bend kept right beside each box, their arrow
//!    pointing at the real target.
//! 2. Layers by longest path from the start (nodes that the start does not
//!    reach are placed too).
//! 3. Boxes stand on even ranks; the odd rank between two layers holds the
//!    bends and labels of the edges crossing that gap. An edge gets a virtual
//!    node on every rank it crosses (so it routes around boxes), the one at
//!    its middle gap as wide as its label (so labels never overlap). The
//!    order within each rank comes from a few barycenter sweeps.
//! 4. Box sizes from the text, x by a few passes of "centre over the
//!    neighbours, keep the order, never overlap" (weighted by the height of
//!    the subtree below, so a chain of steps with a leaf on each stays
//!    straight), y by rank. Long edges are straightened into vertical runs;
//!    edges are smooth cubic splines through their virtual nodes.
//!
//! Everything is kept in vectors and walked in index order, so the same model
//! gives byte-identical output. Big graphs are bounded: virtual nodes are
//! capped at [`MAX_VIRTUAL`] (the shortest edges get them first; the rest are
//! drawn as direct curves), crossing reduction is skipped above
//! [`ORDER_MAX_NODES`] boxes, placement passes are fewer above [`BIG`], and no
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
/// Width and lines of an edge label before it is cut with `…`.
const LABEL_WRAP: usize = 24;
const LABEL_LINES: usize = 2;
const LABEL_LINE_H: f64 = 13.0;

// Geometry.
const PAD_X: f64 = 12.0;
const PAD_Y: f64 = 8.0;
const MIN_W: f64 = 96.0;
const MIN_H: f64 = 36.0;
const NODE_SEP: f64 = 32.0;
const VIRTUAL_SEP: f64 = 14.0;
const VIRTUAL_W: f64 = 4.0;
/// Between a rank of boxes and the rank of labels and bends below it.
const RANK_GAP: f64 = 22.0;
const MARGIN: f64 = 20.0;
const TITLE_H: f64 = 40.0;
const START_TAG_H: f64 = 20.0;
/// Room kept beside a box for an edge looping on its side.
const SIDE_ROOM: f64 = 26.0;
/// How far beside a box the virtual nodes of a back edge sit.
const BACK_OFFSET: f64 = 22.0;
const SKEW: f64 = 12.0;
const SUB_BAR: f64 = 8.0;
const OCT_CUT: f64 = 10.0;

// Limits that keep huge graphs fast.
const MAX_VIRTUAL: usize = 60_000;
const ORDER_MAX_NODES: usize = 2_000;
const ORDER_MAX_TOTAL: usize = 12_000;
const SWEEPS: usize = 12;
const PLACE_PASSES: usize = 10;
const PLACE_PASSES_BIG: usize = 3;
const BIG: usize = 5_000;
/// The most a subtree's height adds to its weight in placement.
const IMPORTANCE_CAP: f64 = 24.0;

pub fn render(m: &Model) -> String {
    let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
    let labels: Vec<Option<EdgeLabel>> = m.edges.iter().map(|e| measure_label(&e.label)).collect();
    let lay = layout(m, &boxes, &labels);
    draw(m, &boxes, &labels, &lay)
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
/// fit is cut after the last whole word with `…`. Only a word wider than a
/// whole line is cut inside (there is no better place); placeholders for
/// template code are narrower than a line, so they are never split.
fn wrap(s: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_u = 0;
    let mut cut = false;
    for word in s.split_whitespace() {
        let word = if units(word) > width {
            cut_chars(word, width)
        } else {
            word.to_owned()
        };
        let wu = units(&word);
        if cur_u > 0 && cur_u + 1 + wu <= width {
            cur.push(' ');
            cur.push_str(&word);
            cur_u += 1 + wu;
            continue;
        }
        if cur_u > 0 {
            lines.push(std::mem::take(&mut cur));
            if lines.len() == max_lines {
                cut = true;
                break;
            }
        }
        cur = word;
        cur_u = wu;
    }
    if !cur.is_empty() {
        if lines.len() < max_lines {
            lines.push(cur);
        } else {
            cut = true;
        }
    }
    if cut
        && let Some(last) = lines.last_mut()
        && !last.ends_with('…')
    {
        while units(last) + 1 > width {
            match last.rfind(' ') {
                Some(i) => last.truncate(i),
                None => {
                    *last = cut_chars(last, width);
                    break;
                }
            }
        }
        let kept = last.trim_end_matches([' ', ',', ';', ':', '.']).len();
        if kept > 0 {
            last.truncate(kept);
        }
        if !last.ends_with('…') {
            last.push('…');
        }
    }
    lines
}

/// The start of `word` that fits `width` units with a `…` after it.
fn cut_chars(word: &str, width: usize) -> String {
    let mut out = String::new();
    let mut u = 0;
    for c in word.chars() {
        if u + char_units(c) + 1 > width {
            break;
        }
        u += char_units(c);
        out.push(c);
    }
    out.push('…');
    out
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
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                    f.write_char('\u{FFFD}')?
                }
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
        let v = if self.0.is_finite() {
            (self.0 * 10.0).round() / 10.0
        } else {
            0.0
        };
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
        Shape::Question | Shape::Instruction | Shape::Resolve => {
            (tw + 2.0 * PAD_X, th + 2.0 * PAD_Y)
        }
        Shape::SubFlow => (tw + 2.0 * (PAD_X + SUB_BAR), th + 2.0 * PAD_Y),
        Shape::Input => (tw + 2.0 * (PAD_X + SKEW), th + 2.0 * PAD_Y),
        Shape::Escalate => (tw + 2.0 * (PAD_X + OCT_CUT / 2.0), th + 2.0 * PAD_Y + 4.0),
        // A diamond holds an a×b box when it is 2a wide and 2b high.
        Shape::Branch => (2.0 * (tw + 8.0), 2.0 * (th + 4.0)),
        // An ellipse holds it when it is √2 times as big.
        Shape::Return => ((tw + 16.0) * 1.42, (th + 6.0) * 1.42),
    };
    NodeBox {
        w: w.max(MIN_W).ceil(),
        h: h.max(MIN_H).ceil(),
        title,
        text,
    }
}

// ---------------------------------------------------------------- layout

/// An edge label, measured.
struct EdgeLabel {
    lines: Vec<String>,
    w: f64,
    h: f64,
}

fn measure_label(s: &str) -> Option<EdgeLabel> {
    if s.trim().is_empty() {
        return None;
    }
    let lines = wrap(s, LABEL_WRAP, LABEL_LINES);
    let w = lines
        .iter()
        .map(|l| units(l) as f64 * LABEL_CHAR_W)
        .fold(0.0, f64::max)
        + 10.0;
    let h = lines.len() as f64 * LABEL_LINE_H + 5.0;
    Some(EdgeLabel {
        lines,
        w: w.ceil(),
        h,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Drawn downwards along its chain.
    Forward,
    /// Reversed to break a cycle: its chain runs from the real target down to
    /// the real source, and it is drawn beside the boxes, backwards along it.
    Back,
    SelfLoop,
}

struct Route {
    edge: usize,
    kind: Kind,
    /// Layered nodes from the upper end to the lower end, virtual ones
    /// between (none when the virtual-node budget ran out: a direct edge);
    /// a back edge also has one beside each end, in that end's rank.
    chain: Vec<usize>,
    /// The virtual node that carries the label.
    label: Option<usize>,
}

/// Ranks: boxes stand on even ranks; the odd rank between two of them holds
/// the labels and bends of the edges that cross that gap.
struct Layout {
    /// Real nodes `0..n`, then virtual nodes.
    n: usize,
    rank: Vec<usize>,
    x: Vec<f64>,
    /// Top of each rank's band, and its height.
    band_top: Vec<f64>,
    band_h: Vec<f64>,
    routes: Vec<Route>,
    start: Option<usize>,
}

impl Layout {
    fn node_top(&self, i: usize, b: &NodeBox) -> f64 {
        let r = self.rank[i];
        self.band_top[r] + (self.band_h[r] - b.h) / 2.0
    }
    fn band_mid(&self, v: usize) -> f64 {
        let r = self.rank[v];
        self.band_top[r] + self.band_h[r] / 2.0
    }
}

fn layout(m: &Model, boxes: &[NodeBox], labels: &[Option<EdgeLabel>]) -> Layout {
    let n = m.nodes.len();
    let start = m
        .nodes
        .iter()
        .position(|g| g.start)
        .or(if n > 0 { Some(0) } else { None });
    // Edges with both ends in the model.
    let valid: Vec<usize> = (0..m.edges.len())
        .filter(|&e| m.edges[e].from < n && m.edges[e].to < n)
        .collect();
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
        if reversed[e] {
            (g.to, g.from)
        } else {
            (g.from, g.to)
        }
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
    // Importance: 1 + the longest path below (capped). A question whose
    // answers are one leaf and one further step keeps that step under it and
    // puts the leaf aside, instead of drifting sideways layer after layer.
    let mut imp = vec![1.0f64; n];
    for &v in queue.iter().rev() {
        for &w in &dag_out[v] {
            imp[v] = imp[v].max((imp[w] + 1.0).min(IMPORTANCE_CAP));
        }
    }
    drop(dag_out);
    let mut rank: Vec<usize> = layer.iter().map(|l| 2 * l).collect();

    // 3. Virtual nodes on every rank an edge crosses, shortest edges first,
    // within the budget; the one at the middle gap carries the label.
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
            Route {
                edge: e,
                kind,
                chain: vec![a, b],
                label: None,
            }
        })
        .collect();
    let span = |r: &Route| layer[r.chain[1]] - layer[r.chain[0]];
    let mut by_span: Vec<usize> = (0..routes.len())
        .filter(|&r| routes[r].kind != Kind::SelfLoop)
        .collect();
    by_span.sort_by_key(|&r| (span(&routes[r]), r));
    let mut budget = MAX_VIRTUAL;
    let mut vroute: Vec<usize> = Vec::new(); // route of each virtual node
    // A back edge also gets a bend beside each of its boxes, in their rank:
    // `beside[v]` lists those next to real node `v`.
    let mut beside: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut half: Vec<f64> = boxes.iter().map(|b| b.w / 2.0).collect();
    for &r in &by_span {
        let s = span(&routes[r]);
        let back = routes[r].kind == Kind::Back;
        // Rank offsets from the upper end that get a bend.
        let offs = if back { 0..=2 * s } else { 1..=2 * s - 1 };
        let needed = offs.clone().count();
        if needed > budget {
            continue;
        }
        budget -= needed;
        let (a, b) = (routes[r].chain[0], routes[r].chain[1]);
        // The odd rank (gap) holding the label, counted from the top.
        let gap = if routes[r].kind == Kind::Back {
            s - 1 - (s - 1) / 2
        } else {
            (s - 1) / 2
        };
        let label = labels[routes[r].edge].as_ref();
        let mut chain = Vec::with_capacity(needed + 2);
        chain.push(a);
        for k in offs {
            let v = n + vroute.len();
            chain.push(v);
            vroute.push(r);
            rank.push(rank[a] + k);
            if back && k == 0 {
                beside[a].push(v);
            } else if back && k == 2 * s {
                beside[b].push(v);
            }
            match label {
                Some(l) if k == 2 * gap + 1 => {
                    routes[r].label = Some(v);
                    half.push(l.w / 2.0);
                }
                _ => half.push(VIRTUAL_W / 2.0),
            }
        }
        chain.push(b);
        routes[r].chain = chain;
    }
    let total = rank.len();
    let nranks = rank.iter().copied().max().map_or(0, |r| r + 1);

    // Adjacency between consecutive ranks, in edge order.
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); total];
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); total];
    for r in &routes {
        if r.chain.len() > 2 {
            for w in r.chain.windows(2) {
                if rank[w[0]] < rank[w[1]] {
                    succs[w[0]].push(w[1]);
                    preds[w[1]].push(w[0]);
                }
            }
        }
    }
    let mut beside_of: Vec<Option<usize>> = vec![None; total];
    for (v, list) in beside.iter().enumerate() {
        for &b in list {
            beside_of[b] = Some(v);
        }
    }

    // 4. Order within ranks: DFS preorder from the start, then barycenters.
    let mut ranks: Vec<Vec<usize>> = vec![Vec::new(); nranks];
    {
        let mut seen = vec![false; total];
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for root in start.into_iter().chain(0..total) {
            if seen[root] {
                continue;
            }
            seen[root] = true;
            ranks[rank[root]].push(root);
            stack.push((root, 0));
            while let Some(top) = stack.last_mut() {
                let (v, i) = *top;
                if i < succs[v].len() {
                    top.1 += 1;
                    let w = succs[v][i];
                    if !seen[w] {
                        seen[w] = true;
                        ranks[rank[w]].push(w);
                        stack.push((w, 0));
                    }
                } else {
                    stack.pop();
                }
            }
        }
    }
    // A back edge's bends beside a box stand right after it in its rank.
    let attach = |ranks: &mut [Vec<usize>]| {
        for row in ranks.iter_mut() {
            if !row.iter().any(|&v| beside_of[v].is_some()) {
                continue;
            }
            let mut out = Vec::with_capacity(row.len());
            for &v in row.iter() {
                if beside_of[v].is_some() {
                    continue;
                }
                out.push(v);
                if v < n {
                    out.extend_from_slice(&beside[v]);
                }
            }
            *row = out;
        }
    };
    attach(&mut ranks);
    let mut pos = vec![0usize; total];
    let set_pos = |ranks: &[Vec<usize>], pos: &mut [usize]| {
        for l in ranks {
            for (i, &v) in l.iter().enumerate() {
                pos[v] = i;
            }
        }
    };
    set_pos(&ranks, &mut pos);
    if n <= ORDER_MAX_NODES && total <= ORDER_MAX_TOTAL && nranks > 1 {
        let mut best = ranks.clone();
        let mut best_c = crossings(&ranks, &succs, &pos);
        for sweep in 0..SWEEPS {
            if best_c == 0 {
                break;
            }
            let down = sweep % 2 == 0;
            let order: Vec<usize> = if down {
                (1..nranks).collect()
            } else {
                (0..nranks - 1).rev().collect()
            };
            let nb = if down { &preds } else { &succs };
            for l in order {
                let mut keyed: Vec<(f64, usize, usize)> = ranks[l]
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
                ranks[l] = keyed.into_iter().map(|k| k.2).collect();
                for (i, &v) in ranks[l].iter().enumerate() {
                    pos[v] = i;
                }
            }
            attach(&mut ranks);
            set_pos(&ranks, &mut pos);
            let c = crossings(&ranks, &succs, &pos);
            if c < best_c {
                best_c = c;
                best = ranks.clone();
            }
        }
        ranks = best;
    }

    // Room beside boxes for edges looping on their side without bends.
    let mut room = vec![0.0f64; total];
    for r in &routes {
        if r.kind == Kind::SelfLoop || (r.kind == Kind::Back && r.chain.len() == 2) {
            room[r.chain[0]] = SIDE_ROOM;
            room[r.chain[1]] = SIDE_ROOM;
        }
    }
    let gap = |a: usize, b: usize| -> f64 {
        let sep = if a < n && b < n {
            NODE_SEP
        } else {
            VIRTUAL_SEP
        };
        half[a] + room[a] + sep + room[b] + half[b]
    };

    // 5. x: pack each rank around 0, then alternate passes that centre each
    // node on its neighbours above (down) or below (up), keeping the order
    // and the gaps. Bends centre on both neighbours; those of back edges
    // keep beside the boxes they join.
    let mut x = vec![0.0f64; total];
    for l in &ranks {
        let mut cur = 0.0;
        for (i, &v) in l.iter().enumerate() {
            if i > 0 {
                cur += gap(l[i - 1], v);
            }
            x[v] = cur;
        }
        for &v in l {
            x[v] -= cur / 2.0;
        }
    }
    let is_back = |v: usize| v >= n && routes[vroute[v - n]].kind == Kind::Back;
    // A bend weighs what the box it leads down to weighs.
    let imp: Vec<f64> = (0..total)
        .map(|v| {
            if v < n {
                imp[v]
            } else {
                let r = &routes[vroute[v - n]];
                if r.kind == Kind::Back {
                    1.0
                } else {
                    imp[r.chain[r.chain.len() - 1]]
                }
            }
        })
        .collect();
    let passes = if total > BIG {
        PLACE_PASSES_BIG
    } else {
        PLACE_PASSES
    };
    let mut desired: Vec<f64> = Vec::new();
    let mut weight: Vec<f64> = Vec::new();
    // Down and up passes, a last down pass (boxes beside their parents), and
    // one that re-centres the bends in the gaps on their final ends.
    for p in 0..=passes * 2 + 1 {
        let down = p % 2 == 0;
        let order: Vec<usize> = if p == passes * 2 + 1 {
            (1..nranks).step_by(2).collect()
        } else if down {
            (1..nranks).collect()
        } else {
            (0..nranks.saturating_sub(1)).rev().collect()
        };
        for l in order {
            desired.clear();
            weight.clear();
            for &v in &ranks[l] {
                let mut sum = 0.0;
                let mut wsum = 0.0;
                let nbs: &[&Vec<usize>] = if v >= n {
                    &[&preds[v], &succs[v]]
                } else if down {
                    &[&preds[v]]
                } else {
                    &[&succs[v]]
                };
                for &near in nbs.iter().copied().flatten() {
                    if v < n && is_back(near) {
                        continue; // a back edge never pulls the boxes it joins
                    }
                    // Nodes on a rank of boxes look through the bend in the
                    // gap at the node beyond it; bends average their two ends.
                    let u = if rank[v].is_multiple_of(2) && !rank[near].is_multiple_of(2) {
                        if preds[near][0] == v {
                            succs[near][0]
                        } else {
                            preds[near][0]
                        }
                    } else {
                        near
                    };
                    let xu = x[u];
                    // Looking down, the more important subtree pulls harder.
                    let mut w = if v < n && !down { imp[u] } else { 1.0 };
                    if v >= n && u >= n {
                        w = 4.0; // long edges run straight, bending near their ends
                    }
                    sum += w * xu;
                    wsum += w;
                }
                if let Some(b) = beside_of[v] {
                    // A back edge's bend keeps close beside its box.
                    sum += 4.0 * (x[b] + half[b] + BACK_OFFSET);
                    wsum += 4.0;
                }
                if wsum == 0.0 {
                    // Nothing to follow: yield to the neighbours that have.
                    desired.push(x[v]);
                    weight.push(0.02);
                } else {
                    desired.push(sum / wsum);
                    weight.push(if v >= n { imp[v] + 1.0 } else { imp[v] });
                }
            }
            let placed = place_row(&ranks[l], &desired, &weight, gap);
            for (&v, xv) in ranks[l].iter().zip(placed) {
                x[v] = xv;
            }
        }
    }

    // Straighten long edges: split each chain's bends into maximal runs that
    // can share one x between their neighbours in each rank, and align them.
    set_pos(&ranks, &mut pos);
    for r in &routes {
        if r.chain.len() < 4 {
            continue;
        }
        let inner = &r.chain[1..r.chain.len() - 1];
        let room_of = |v: usize, x: &[f64]| -> (f64, f64) {
            let row = &ranks[rank[v]];
            let p = pos[v];
            let lo = if p > 0 {
                x[row[p - 1]] + gap(row[p - 1], v)
            } else {
                f64::NEG_INFINITY
            };
            let hi = if p + 1 < row.len() {
                x[row[p + 1]] - gap(v, row[p + 1])
            } else {
                f64::INFINITY
            };
            (lo, hi)
        };
        let mut i = 0;
        while i < inner.len() {
            let (mut lo, mut hi) = room_of(inner[i], &x);
            let mut j = i + 1;
            while j < inner.len() {
                let (l2, h2) = room_of(inner[j], &x);
                if lo.max(l2) > hi.min(h2) {
                    break;
                }
                lo = lo.max(l2);
                hi = hi.min(h2);
                j += 1;
            }
            let run = &inner[i..j];
            let mean = run.iter().map(|&v| x[v]).sum::<f64>() / run.len() as f64;
            let target = mean.clamp(lo.min(hi), hi.max(lo));
            for &v in run {
                x[v] = target;
            }
            i = j;
        }
    }

    // Let a forward edge's first and last bend sit halfway between its
    // neighbours, so the turn spreads over two gaps.
    for r in routes
        .iter()
        .filter(|r| r.kind == Kind::Forward && r.chain.len() >= 4)
    {
        let c = &r.chain;
        for k in [1, c.len() - 2] {
            let v = c[k];
            let row = &ranks[rank[v]];
            let p = pos[v];
            let lo = if p > 0 {
                x[row[p - 1]] + gap(row[p - 1], v)
            } else {
                f64::NEG_INFINITY
            };
            let hi = if p + 1 < row.len() {
                x[row[p + 1]] - gap(v, row[p + 1])
            } else {
                f64::INFINITY
            };
            if lo <= hi {
                x[v] = ((x[c[k - 1]] + x[c[k + 1]]) / 2.0).clamp(lo, hi);
            }
        }
    }

    // 6. y: bands as high as their highest box (or label), then a gap.
    let mut band_h = vec![0.0f64; nranks];
    for v in 0..n {
        band_h[rank[v]] = band_h[rank[v]].max(boxes[v].h);
    }
    for r in &routes {
        if let (Some(v), Some(l)) = (r.label, labels[r.edge].as_ref()) {
            band_h[rank[v]] = band_h[rank[v]].max(l.h);
        }
    }
    let mut band_top = vec![0.0f64; nranks];
    let mut y = MARGIN + TITLE_H + START_TAG_H;
    for r in 0..nranks {
        band_top[r] = y;
        y += band_h[r] + RANK_GAP;
    }

    Layout {
        n,
        rank,
        x,
        band_top,
        band_h,
        routes,
        start,
    }
}

/// Places one row: as near `desired` as it can (least squares, weighted),
/// keeping the order and the gaps. Pool-adjacent-violators on x minus the
/// cumulative gap, which must not decrease.
fn place_row(
    row: &[usize],
    desired: &[f64],
    weight: &[f64],
    gap: impl Fn(usize, usize) -> f64,
) -> Vec<f64> {
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

/// Edge crossings between consecutive ranks (inversions, Fenwick tree).
fn crossings(ranks: &[Vec<usize>], succs: &[Vec<usize>], pos: &[usize]) -> u64 {
    let mut total = 0u64;
    let mut targets: Vec<usize> = Vec::new();
    for l in 0..ranks.len().saturating_sub(1) {
        let size = ranks[l + 1].len();
        targets.clear();
        for &u in &ranks[l] {
            let start = targets.len();
            targets.extend(succs[u].iter().map(|&v| pos[v]));
            targets[start..].sort_unstable();
        }
        let mut tree = vec![0u64; size + 1];
        for (seen, &t) in targets.iter().enumerate() {
            // Earlier edges whose target lies right of t cross this one.
            let mut i = t + 1;
            let mut le = 0u64;
            while i > 0 {
                le += tree[i];
                i &= i - 1;
            }
            total += seen as u64 - le;
            let mut i = t + 1;
            while i <= size {
                tree[i] += 1;
                i += i & i.wrapping_neg();
            }
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
        // top to x+w-skew at the bottom, its left side from x+skew to x.
        Shape::Input => {
            let down = ((dy + hh) / r.h).clamp(0.0, 1.0);
            if side > 0.0 {
                hw - SKEW * down
            } else {
                hw - SKEW * (1.0 - down)
            }
        }
        _ => hw,
    };
    r.cx() + side * off
}

// ---------------------------------------------------------------- paths

#[derive(Clone, Copy, PartialEq, Debug)]
struct P(f64, f64);

#[derive(Clone, Copy)]
struct Seg(P, P, P, P);

impl Seg {
    fn rev(self) -> Seg {
        Seg(self.3, self.2, self.1, self.0)
    }
    fn at(&self, t: f64) -> P {
        let Seg(a, b, c, d) = *self;
        let u = 1.0 - t;
        let (k0, k1, k2, k3) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
        P(
            k0 * a.0 + k1 * b.0 + k2 * c.0 + k3 * d.0,
            k0 * a.1 + k1 * b.1 + k2 * c.1 + k3 * d.1,
        )
    }
}

/// A point the edge passes, with its direction there: fixed (a unit vector),
/// or free (a Catmull-Rom tangent from its neighbours).
#[derive(Clone, Copy)]
struct Knot {
    p: P,
    dir: Option<P>,
}

/// A smooth path through the knots, one cubic per pair.
fn spline(k: &[Knot]) -> Vec<Seg> {
    let ctrl = |i: usize, a: P, b: P| -> P {
        match k[i].dir {
            Some(d) if d.1 != 0.0 => P(0.0, d.1 * 0.5 * (b.1 - a.1).abs()),
            Some(d) => {
                let l = (0.5 * (b.0 - a.0).abs())
                    .max(0.3 * (b.1 - a.1).abs())
                    .max(16.0);
                P(d.0 * l, 0.0)
            }
            None => {
                // Monotone (Fritsch-Carlson) in x against y: no overshoot
                // where the path turns into a straight run.
                let prev = k[i.saturating_sub(1)].p;
                let cur = k[i].p;
                let next = k[(i + 1).min(k.len() - 1)].p;
                let (h0, h1) = (cur.1 - prev.1, next.1 - cur.1);
                if h0 <= 0.0 || h1 <= 0.0 {
                    return P((next.0 - prev.0) / 6.0, (next.1 - prev.1) / 6.0);
                }
                let (d0, d1) = ((cur.0 - prev.0) / h0, (next.0 - cur.0) / h1);
                let slope = if d0 * d1 <= 0.0 {
                    0.0
                } else {
                    2.0 * d0 * d1 / (d0 + d1)
                };
                let hy = h0.min(h1) / 3.0;
                P(slope * hy, hy)
            }
        }
    };
    let mut segs = Vec::with_capacity(k.len().saturating_sub(1));
    for i in 0..k.len().saturating_sub(1) {
        let (a, b) = (k[i].p, k[i + 1].p);
        let c1 = ctrl(i, a, b);
        let c2 = ctrl(i + 1, a, b);
        segs.push(Seg(
            a,
            P(a.0 + c1.0, a.1 + c1.1),
            P(b.0 - c2.0, b.1 - c2.1),
            b,
        ));
    }
    segs
}

struct EdgePath {
    edge: usize,
    kind: Kind,
    segs: Vec<Seg>,
    /// The centre of its label.
    label_at: Option<P>,
}

/// Spreads `k` ports across a box of width `w`: the offset of port `i`.
fn spread(i: usize, k: usize, w: f64) -> f64 {
    if k < 2 {
        return 0.0;
    }
    let step = (w * 0.6 / (k - 1) as f64).min(18.0);
    (i as f64 - (k - 1) as f64 / 2.0) * step
}

fn route_edges(
    m: &Model,
    boxes: &[NodeBox],
    labels: &[Option<EdgeLabel>],
    lay: &Layout,
) -> Vec<EdgePath> {
    let n = lay.n;
    let rect = |i: usize| Rect {
        x: lay.x[i] - boxes[i].w / 2.0,
        y: lay.node_top(i, &boxes[i]),
        w: boxes[i].w,
        h: boxes[i].h,
    };
    let last = |r: &Route| r.chain[r.chain.len() - 1];
    let before_last = |r: &Route| r.chain[r.chain.len() - 2];

    // Ports: forward edges leave a box's bottom and enter a box's top, spread
    // in the order of where they head; edges on a side stack vertically.
    let mut bottom: Vec<Vec<(f64, usize)>> = vec![Vec::new(); n];
    let mut top: Vec<Vec<(f64, usize)>> = vec![Vec::new(); n];
    let mut sides: Vec<Vec<(f64, usize)>> = vec![Vec::new(); 2 * n];
    let side_ix = |node: usize, side: f64| 2 * node + usize::from(side > 0.0);
    for (ri, r) in lay.routes.iter().enumerate() {
        let (a, b) = (r.chain[0], last(r));
        match r.kind {
            Kind::Forward => {
                bottom[a].push((lay.x[r.chain[1]], ri));
                top[b].push((lay.x[before_last(r)], ri));
            }
            Kind::Back => {
                sides[side_ix(a, 1.0)].push((lay.rank[b] as f64, ri));
                sides[side_ix(b, 1.0)].push((lay.rank[a] as f64, ri));
            }
            Kind::SelfLoop => sides[side_ix(a, 1.0)].push((lay.rank[a] as f64, ri)),
        }
    }
    // Offsets from the box centre: [upper end, lower end].
    let mut port = vec![[0.0f64; 2]; lay.routes.len()];
    let sort =
        |v: &mut Vec<(f64, usize)>| v.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
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
            let step = (boxes[i].h * 0.6 / k.max(2) as f64).min(10.0);
            for (j, &(_, ri)) in list.iter().enumerate() {
                let dy = (j as f64 - (k - 1) as f64 / 2.0) * step;
                let r = &lay.routes[ri];
                if r.chain[0] == i {
                    port[ri][0] = dy;
                }
                if last(r) == i {
                    port[ri][1] = dy;
                }
            }
        }
    }

    let down = Some(P(0.0, 1.0));
    let mut paths = Vec::with_capacity(lay.routes.len());
    for (ri, r) in lay.routes.iter().enumerate() {
        let (a, b) = (r.chain[0], last(r));
        let (ra, rb) = (rect(a), rect(b));
        let (sa, sb) = (m.nodes[a].shape, m.nodes[b].shape);
        let label = labels[r.edge].as_ref();
        if r.kind == Kind::SelfLoop {
            let (d0, d1) = (port[ri][0] - 7.0, port[ri][0] + 7.0);
            let s = P(side_at(sa, ra, 1.0, d0), ra.cy() + d0);
            let e = P(side_at(sa, ra, 1.0, d1), ra.cy() + d1);
            let out = ra.x + ra.w + SIDE_ROOM;
            let seg = Seg(s, P(out, s.1 - 20.0), P(out, e.1 + 20.0), e);
            let label_at = label.map(|l| {
                let c = seg.at(0.5);
                P(c.0 + 2.0 + l.w / 2.0, c.1)
            });
            paths.push(EdgePath {
                edge: r.edge,
                kind: r.kind,
                segs: vec![seg],
                label_at,
            });
            continue;
        }
        let mut knots: Vec<Knot> = Vec::with_capacity(2 * r.chain.len());
        if r.kind == Kind::Forward {
            let dx = port[ri][0];
            knots.push(Knot {
                p: P(ra.cx() + dx, bottom_at(sa, ra, dx)),
                dir: down,
            });
        } else {
            let dy = port[ri][0];
            knots.push(Knot {
                p: P(side_at(sa, ra, 1.0, dy), ra.cy() + dy),
                dir: Some(P(1.0, 0.0)),
            });
        }
        for &v in &r.chain[1..r.chain.len() - 1] {
            let rk = lay.rank[v];
            if rk.is_multiple_of(2) {
                // Passing a rank of boxes: straight down through its band;
                // a back edge's bend beside its own box only turns there.
                if rk != lay.rank[a] {
                    knots.push(Knot {
                        p: P(lay.x[v], lay.band_top[rk]),
                        dir: down,
                    });
                }
                if rk != lay.rank[b] {
                    knots.push(Knot {
                        p: P(lay.x[v], lay.band_top[rk] + lay.band_h[rk]),
                        dir: down,
                    });
                }
            } else {
                knots.push(Knot {
                    p: P(lay.x[v], lay.band_mid(v)),
                    dir: None,
                });
            }
        }
        if r.kind == Kind::Forward {
            let dx = port[ri][1];
            knots.push(Knot {
                p: P(rb.cx() + dx, top_at(sb, rb, dx)),
                dir: down,
            });
        } else {
            let dy = port[ri][1];
            knots.push(Knot {
                p: P(side_at(sb, rb, 1.0, dy), rb.cy() + dy),
                dir: Some(P(-1.0, 0.0)),
            });
        }
        let mut segs = spline(&knots);
        let label_at = match (label, r.label) {
            (None, _) => None,
            (Some(_), Some(v)) => Some(P(lay.x[v], lay.band_mid(v))),
            (Some(_), None) => segs.get(segs.len() / 2).map(|s| s.at(0.5)),
        };
        if r.kind == Kind::Back {
            // Drawn from the real source up to the real target.
            segs.reverse();
            for s in &mut segs {
                *s = s.rev();
            }
        }
        paths.push(EdgePath {
            edge: r.edge,
            kind: r.kind,
            segs,
            label_at,
        });
    }
    paths
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

fn draw(m: &Model, boxes: &[NodeBox], labels: &[Option<EdgeLabel>], lay: &Layout) -> String {
    let n = lay.n;
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
            for q in [s.0, s.1, s.2, s.3] {
                min_x = min_x.min(q.0);
                max_x = max_x.max(q.0);
                max_y = max_y.max(q.1);
            }
        }
    }
    for &(_, x, y, l) in &placed {
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
    let _ = writeln!(
        o,
        "<text class=\"title\" x=\"{}\" y=\"{}\">{}</text>",
        N(MARGIN),
        N(MARGIN + 18.0),
        Esc(&title)
    );

    // Edges.
    o.push_str("<g class=\"edges\">\n");
    for p in &paths {
        let back = p.kind == Kind::Back;
        let _ = write!(
            o,
            "<path class=\"e{}\" data-e=\"{}\" d=\"",
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
        let _ = writeln!(
            o,
            "<g class=\"n {class}{}\">",
            if start { " start" } else { "" }
        );
        if g.full.is_empty() {
            let _ = writeln!(o, "<title>{}</title>", Esc(&g.key));
        } else {
            let _ = writeln!(o, "<title>{}\n{}</title>", Esc(&g.key), Esc(&g.full));
        }
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
        if start {
            let tag_w = (units(&m.start_tag) as f64 * 6.2 + 10.0).max(38.0).ceil();
            let _ = writeln!(
                o,
                "<g class=\"tag\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"15\" rx=\"7.5\"/>\
                 <text x=\"{}\" y=\"{}\">{}</text></g>",
                N(x0),
                N(y0 - 19.0),
                N(tag_w),
                N(x0 + tag_w / 2.0),
                N(y0 - 8.0),
                Esc(&m.start_tag)
            );
        }
        o.push_str("</g>\n");
    }
    o.push_str("</g>\n");

    // Labels, on top.
    o.push_str("<g class=\"labels\">\n");
    for &(pi, x, y, l) in &placed {
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
    o.push_str("</g>\n</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::super::{GEdge, GNode, Model, Shape};
    use super::*;

    fn laid_out(m: &Model) -> (Vec<NodeBox>, Layout) {
        let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
        let labels: Vec<Option<EdgeLabel>> =
            m.edges.iter().map(|e| measure_label(&e.label)).collect();
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
        }
    }

    fn edge(from: usize, to: usize, label: &str) -> GEdge {
        GEdge {
            from,
            to,
            label: label.into(),
            full: label.into(),
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
        let s = render(&m);
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
        let s = render(&m);
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
        let s = render(&m);
        for k in ["a", "b", "orphan"] {
            assert!(s.contains(&format!("<title>{k}</title>")));
        }
        assert!(render(&Model::default()).ends_with("</svg>\n"));
    }

    /// A rectangle: x, y, w, h.
    type R4 = (f64, f64, f64, f64);

    /// Boxes and labels, as rectangles.
    fn rects(m: &Model) -> (Vec<R4>, Vec<R4>) {
        let boxes: Vec<NodeBox> = m.nodes.iter().map(measure).collect();
        let labels: Vec<Option<EdgeLabel>> =
            m.edges.iter().map(|e| measure_label(&e.label)).collect();
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
                            text.split(' ').any(|t| t == word || t.trim_end_matches(',') == word),
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
        let s = render(&m);
        assert!(s.ends_with("</svg>\n"));
        assert!(s.contains("<title>q4999\n"));
        assert!(s.contains("<title>end\n"));
    }

    #[test]
    fn deep_graph_does_not_overflow() {
        let m = big(20_000);
        let s = render(&m);
        assert!(s.contains("<title>q19999\n"));
    }
}
