//! Stage 4: x and y. Each rank is packed, then passes alternately centre
//! every node on its neighbours above (going down) or below (going up),
//! keeping the order and the gaps; long edges are straightened; y comes from
//! the ranks' bands.

use super::rank::Graph;
use super::text::{EdgeLabel, NodeBox};
use super::{
    BACK_OFFSET, BIG, Kind, MARGIN, NODE_SEP, PLACE_PASSES, PLACE_PASSES_BIG, RANK_GAP, SIDE_ROOM,
    START_TAG_H, TITLE_H, VIRTUAL_SEP,
};

struct Placer<'g> {
    g: &'g Graph,
    ranks: &'g [Vec<usize>],
    pos: Vec<usize>,
    /// Room beside boxes for edges looping on their side without bends.
    room: Vec<f64>,
    /// Per node: how hard it pulls and is pulled (see `rank::Layers`); a
    /// bend weighs what the box it leads down to weighs.
    imp: Vec<f64>,
}

impl Placer<'_> {
    /// The least distance between the centres of neighbours `a` and `b`.
    fn gap(&self, a: usize, b: usize) -> f64 {
        let n = self.g.n;
        let sep = if a < n && b < n {
            NODE_SEP
        } else {
            VIRTUAL_SEP
        };
        self.g.half[a] + self.room[a] + sep + self.room[b] + self.g.half[b]
    }

    /// Where `v` may stand without moving its neighbours in its rank.
    fn room_of(&self, v: usize, x: &[f64]) -> (f64, f64) {
        let row = &self.ranks[self.g.rank[v]];
        let p = self.pos[v];
        let lo = if p > 0 {
            x[row[p - 1]] + self.gap(row[p - 1], v)
        } else {
            f64::NEG_INFINITY
        };
        let hi = if p + 1 < row.len() {
            x[row[p + 1]] - self.gap(v, row[p + 1])
        } else {
            f64::INFINITY
        };
        (lo, hi)
    }
}

pub(super) fn place(g: &Graph, ranks: &[Vec<usize>], importance: &[f64]) -> Vec<f64> {
    let total = g.total();
    let mut room = vec![0.0f64; total];
    for r in &g.routes {
        if r.kind == Kind::SelfLoop || (r.kind == Kind::Back && r.chain.len() == 2) {
            room[r.chain[0]] = SIDE_ROOM;
            room[r.chain[1]] = SIDE_ROOM;
        }
    }
    let imp: Vec<f64> = (0..total)
        .map(|v| {
            if v < g.n {
                importance[v]
            } else {
                let r = &g.routes[g.vroute[v - g.n]];
                if r.kind == Kind::Back {
                    1.0
                } else {
                    importance[r.chain[r.chain.len() - 1]]
                }
            }
        })
        .collect();
    let mut pos = vec![0usize; total];
    for l in ranks {
        for (i, &v) in l.iter().enumerate() {
            pos[v] = i;
        }
    }
    let p = Placer {
        g,
        ranks,
        pos,
        room,
        imp,
    };
    let mut x = pack(&p);
    centre(&p, &mut x);
    straighten(&p, &mut x);
    spread_turns(&p, &mut x);
    x
}

/// Each rank packed tight around 0.
fn pack(p: &Placer) -> Vec<f64> {
    let mut x = vec![0.0f64; p.g.total()];
    for l in p.ranks {
        let mut cur = 0.0;
        for (i, &v) in l.iter().enumerate() {
            if i > 0 {
                cur += p.gap(l[i - 1], v);
            }
            x[v] = cur;
        }
        for &v in l {
            x[v] -= cur / 2.0;
        }
    }
    x
}

/// Down and up passes, a last down pass (boxes beside their parents), and
/// one that re-centres the bends in the gaps on their final ends.
fn centre(p: &Placer, x: &mut [f64]) {
    let nranks = p.g.nranks;
    let passes = if p.g.total() > BIG {
        PLACE_PASSES_BIG
    } else {
        PLACE_PASSES
    };
    let mut desired: Vec<f64> = Vec::new();
    let mut weight: Vec<f64> = Vec::new();
    for pass in 0..=passes * 2 + 1 {
        let down = pass % 2 == 0;
        let order: Vec<usize> = if pass == passes * 2 + 1 {
            (1..nranks).step_by(2).collect()
        } else if down {
            (1..nranks).collect()
        } else {
            (0..nranks.saturating_sub(1)).rev().collect()
        };
        for l in order {
            desired.clear();
            weight.clear();
            for &v in &p.ranks[l] {
                let (d, w) = pull(p, x, v, down);
                desired.push(d);
                weight.push(w);
            }
            let placed = place_row(&p.ranks[l], &desired, &weight, |a, b| p.gap(a, b));
            for (&v, xv) in p.ranks[l].iter().zip(placed) {
                x[v] = xv;
            }
        }
    }
}

/// Where `v`'s neighbours pull it, and how hard it holds there. Bends centre
/// on both neighbours; those of back edges keep beside the boxes they join.
fn pull(p: &Placer, x: &[f64], v: usize, down: bool) -> (f64, f64) {
    let g = p.g;
    let n = g.n;
    let mut sum = 0.0;
    let mut wsum = 0.0;
    let nbs: &[&Vec<usize>] = if v >= n {
        &[&g.preds[v], &g.succs[v]]
    } else if down {
        &[&g.preds[v]]
    } else {
        &[&g.succs[v]]
    };
    for &near in nbs.iter().copied().flatten() {
        if v < n && g.is_back(near) {
            continue; // a back edge never pulls the boxes it joins
        }
        // Nodes on a rank of boxes look through the bend in the gap at the
        // node beyond it; bends average their two ends.
        let u = if g.rank[v].is_multiple_of(2) && !g.rank[near].is_multiple_of(2) {
            if g.preds[near][0] == v {
                g.succs[near][0]
            } else {
                g.preds[near][0]
            }
        } else {
            near
        };
        // Looking down, the more important subtree pulls harder.
        let mut w = if v < n && !down { p.imp[u] } else { 1.0 };
        if v >= n && u >= n {
            w = 4.0; // long edges run straight, bending near their ends
        }
        sum += w * x[u];
        wsum += w;
    }
    if let Some(b) = g.beside_of[v] {
        // A back edge's bend keeps close beside its box.
        sum += 4.0 * (x[b] + g.half[b] + BACK_OFFSET);
        wsum += 4.0;
    }
    if wsum == 0.0 {
        // Nothing to follow: yield to the neighbours that have.
        (x[v], 0.02)
    } else {
        let w = if v >= n { p.imp[v] + 1.0 } else { p.imp[v] };
        (sum / wsum, w)
    }
}

/// Straighten long edges: split each chain's bends into maximal runs that
/// can share one x between their neighbours in each rank, and align them.
fn straighten(p: &Placer, x: &mut [f64]) {
    for r in &p.g.routes {
        if r.chain.len() < 4 {
            continue;
        }
        let inner = &r.chain[1..r.chain.len() - 1];
        let mut i = 0;
        while i < inner.len() {
            let (mut lo, mut hi) = p.room_of(inner[i], x);
            let mut j = i + 1;
            while j < inner.len() {
                let (l2, h2) = p.room_of(inner[j], x);
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
}

/// Let a forward edge's first and last bend sit halfway between its
/// neighbours, so the turn spreads over two gaps.
fn spread_turns(p: &Placer, x: &mut [f64]) {
    for r in
        p.g.routes
            .iter()
            .filter(|r| r.kind == Kind::Forward && r.chain.len() >= 4)
    {
        let c = &r.chain;
        for k in [1, c.len() - 2] {
            let v = c[k];
            let (lo, hi) = p.room_of(v, x);
            if lo <= hi {
                x[v] = ((x[c[k - 1]] + x[c[k + 1]]) / 2.0).clamp(lo, hi);
            }
        }
    }
}

/// y: bands as high as their highest box (or label), then a gap. Returns
/// the top of each rank's band, and its height.
pub(super) fn bands(
    g: &Graph,
    boxes: &[NodeBox],
    labels: &[Option<EdgeLabel>],
) -> (Vec<f64>, Vec<f64>) {
    let mut band_h = vec![0.0f64; g.nranks];
    for (v, b) in boxes.iter().enumerate().take(g.n) {
        band_h[g.rank[v]] = band_h[g.rank[v]].max(b.h);
    }
    for r in &g.routes {
        if let (Some(v), Some(l)) = (r.label, labels[r.edge].as_ref()) {
            band_h[g.rank[v]] = band_h[g.rank[v]].max(l.h);
        }
    }
    let mut band_top = vec![0.0f64; g.nranks];
    let mut y = MARGIN + TITLE_H + START_TAG_H;
    for r in 0..g.nranks {
        band_top[r] = y;
        y += band_h[r] + RANK_GAP;
    }
    (band_top, band_h)
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
