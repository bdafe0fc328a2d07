//! Stage 3: the order of the nodes within each rank, as Graphviz `dot`
//! finds it (Gansner et al., "A technique for drawing directed graphs",
//! 1993, section 3): start from a depth-first and from a breadth-first order,
//! then sweep the ranks down and up, sorting each by the weighted median of
//! its neighbours in the rank before, and swap neighbours while that removes
//! crossings (transposition). The order with the fewest crossings wins.
//!
//! The bends a back edge has beside a box are ordered as part of that box
//! (its edges count as the box's) and set right after it at the end.

use super::rank::Graph;
use super::{ORDER_MAX_NODES, ORDER_MAX_TOTAL};

/// Sweeps of one start order at most, and without a gain before it stops.
const MAX_ITER: usize = 24;
const MIN_QUIT: usize = 8;
/// Rounds of transposition after each sweep at most.
const TRANSPOSE_ROUNDS: usize = 8;
/// Rounds of sifting, each followed by sweeps, at most; and the pairs of
/// nodes sifting may compare in all (it is quadratic in a rank's length).
const SIFT_ROUNDS: usize = 4;
const SIFT_BUDGET: u64 = 4_000_000;
/// What all sweeps together may cost, in nodes and edges visited: enough for
/// every start order on a script of a few hundred nodes, and a bound on a
/// big one (see `big_model_renders`).
const ORDER_WORK: u64 = 30_000_000;

/// Neighbour lists in which a bend beside a box counts as the box.
struct Merged {
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
}

impl Merged {
    fn new(g: &Graph) -> Merged {
        let total = g.total();
        let unit = |v: usize| g.beside_of[v].unwrap_or(v);
        let mut up = vec![Vec::new(); total];
        let mut down = vec![Vec::new(); total];
        for v in 0..total {
            for &w in &g.succs[v] {
                let (a, b) = (unit(v), unit(w));
                if g.rank[a] < g.rank[b] {
                    down[a].push(b);
                    up[b].push(a);
                }
            }
        }
        Merged { up, down }
    }
}

pub(super) fn order(g: &Graph, start: Option<usize>) -> Vec<Vec<usize>> {
    let m = Merged::new(g);
    let mut ranks = initial(g, &m, start, Search::Depth);
    if g.n <= ORDER_MAX_NODES && g.total() <= ORDER_MAX_TOTAL && g.nranks > 1 {
        let mut pos = vec![0usize; g.total()];
        let mut best: Option<(u64, Vec<Vec<usize>>)> = None;
        let mut budget = SIFT_BUDGET;
        // Every start order gets its sweeps until the work runs out; the
        // first always runs, so a big graph still gets one good order.
        let mut work = ORDER_WORK;
        for start_order in [
            Search::Depth,
            Search::Breadth,
            Search::DepthLastFirst,
            Search::Upward,
            Search::UpwardDepth,
        ] {
            for up_first in [false, true] {
                if work == 0 {
                    break;
                }
                let mut r = initial(g, &m, start, start_order);
                let mut c = improve(&mut r, &m, &mut pos, up_first, &mut work);
                // Sifting and sweeping again find what neither finds alone.
                for _ in 0..SIFT_ROUNDS {
                    if c == 0 || !sift(&mut r, &m, &mut pos, &mut budget) {
                        break;
                    }
                    let after = improve(&mut r, &m, &mut pos, up_first, &mut work);
                    if after >= c {
                        c = c.min(after);
                        break;
                    }
                    c = after;
                }
                if best.as_ref().is_none_or(|b| c < b.0) {
                    best = Some((c, r));
                }
            }
        }
        if let Some((_, r)) = best {
            ranks = r;
        }
    }
    attach(g, &mut ranks);
    ranks
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Search {
    Depth,
    Breadth,
    /// Depth-first, taking the last edge of a node first.
    DepthLastFirst,
    /// Breadth-first up from the nodes nothing leaves (dot's second pass).
    Upward,
    /// Depth-first up from the nodes nothing leaves.
    UpwardDepth,
}

/// Every node but the bends beside boxes, each rank in the order a search
/// from the start (then from every node not reached yet) first meets them.
fn initial(g: &Graph, m: &Merged, start: Option<usize>, search: Search) -> Vec<Vec<usize>> {
    let total = g.total();
    let mut ranks: Vec<Vec<usize>> = vec![Vec::new(); g.nranks];
    let mut seen = vec![false; total];
    let mut work: Vec<(usize, usize)> = Vec::new();
    if matches!(search, Search::Upward | Search::UpwardDepth) {
        let sinks = (0..total).filter(|&v| m.down[v].is_empty() && g.beside_of[v].is_none());
        let mut queue: Vec<usize> = Vec::new();
        for root in sinks.chain(0..total) {
            if seen[root] || g.beside_of[root].is_some() {
                continue;
            }
            seen[root] = true;
            queue.push(root);
            if search == Search::UpwardDepth {
                work.push((root, 0));
                while let Some(top) = work.last_mut() {
                    let (v, i) = *top;
                    if i < m.up[v].len() {
                        top.1 += 1;
                        let w = m.up[v][i];
                        if !seen[w] {
                            seen[w] = true;
                            queue.push(w);
                            work.push((w, 0));
                        }
                    } else {
                        work.pop();
                    }
                }
                continue;
            }
            let mut head = queue.len() - 1;
            while head < queue.len() {
                let v = queue[head];
                head += 1;
                for &w in &m.up[v] {
                    if !seen[w] {
                        seen[w] = true;
                        queue.push(w);
                    }
                }
            }
        }
        for v in queue {
            ranks[g.rank[v]].push(v);
        }
        return ranks;
    }
    for root in start.into_iter().chain(0..total) {
        if seen[root] || g.beside_of[root].is_some() {
            continue;
        }
        seen[root] = true;
        ranks[g.rank[root]].push(root);
        if search == Search::Breadth {
            let mut queue = vec![root];
            let mut head = 0;
            while head < queue.len() {
                let v = queue[head];
                head += 1;
                for &w in &m.down[v] {
                    if !seen[w] {
                        seen[w] = true;
                        ranks[g.rank[w]].push(w);
                        queue.push(w);
                    }
                }
            }
            continue;
        }
        work.push((root, 0));
        while let Some(top) = work.last_mut() {
            let (v, i) = *top;
            if i < m.down[v].len() {
                top.1 += 1;
                let w = if search == Search::DepthLastFirst {
                    m.down[v][m.down[v].len() - 1 - i]
                } else {
                    m.down[v][i]
                };
                if !seen[w] {
                    seen[w] = true;
                    ranks[g.rank[w]].push(w);
                    work.push((w, 0));
                }
            } else {
                work.pop();
            }
        }
    }
    ranks
}

fn set_pos(ranks: &[Vec<usize>], pos: &mut [usize]) {
    for l in ranks {
        for (i, &v) in l.iter().enumerate() {
            pos[v] = i;
        }
    }
}

/// Median sweeps with transposition from `ranks`; leaves the best order
/// found in `ranks` and returns its crossings. Each sweep costs `work` the
/// size of the graph; none starts once it has run out.
fn improve(
    ranks: &mut Vec<Vec<usize>>,
    m: &Merged,
    pos: &mut [usize],
    up_first: bool,
    work: &mut u64,
) -> u64 {
    let size = (pos.len() + m.down.iter().map(Vec::len).sum::<usize>()) as u64;
    set_pos(ranks, pos);
    let mut best_c = crossings(ranks, &m.down, pos);
    let mut best = ranks.clone();
    let mut trying = 0;
    for iter in 0..MAX_ITER {
        if best_c == 0 || trying >= MIN_QUIT || *work == 0 {
            break;
        }
        // A sweep, up to TRANSPOSE_ROUNDS of transposition and a count.
        *work = work.saturating_sub(size * (TRANSPOSE_ROUNDS as u64 + 2));
        let down = (iter % 2 == 0) != up_first;
        sweep(ranks, m, pos, down);
        // Swapping at equal crossings now and then leaves a plateau.
        transpose(ranks, m, pos, iter % 4 < 2);
        let c = crossings(ranks, &m.down, pos);
        if c < best_c {
            // Only a clear gain (dot: 0.5 %) keeps the search going.
            if (c as f64) < 0.995 * best_c as f64 {
                trying = 0;
            }
            best_c = c;
            best.clone_from(ranks);
        } else {
            trying += 1;
        }
    }
    *ranks = best;
    set_pos(ranks, pos);
    best_c
}

/// The weighted median of sorted positions (dot's `medianvalue`), or `None`
/// for a node without neighbours there, which keeps its place.
fn median(p: &[usize]) -> Option<f64> {
    let k = p.len();
    let mid = k / 2;
    match k {
        0 => None,
        _ if k % 2 == 1 => Some(p[mid] as f64),
        2 => Some((p[0] + p[1]) as f64 / 2.0),
        _ => {
            let left = (p[mid - 1] - p[0]) as f64;
            let right = (p[k - 1] - p[mid]) as f64;
            if left + right == 0.0 {
                Some((p[mid - 1] + p[mid]) as f64 / 2.0)
            } else {
                Some((p[mid - 1] as f64 * right + p[mid] as f64 * left) / (left + right))
            }
        }
    }
}

/// One sweep: each rank sorted by the medians of its neighbours in the rank
/// before (above when going down, below when going up).
fn sweep(ranks: &mut [Vec<usize>], m: &Merged, pos: &mut [usize], down: bool) {
    let nranks = ranks.len();
    let order: Vec<usize> = if down {
        (1..nranks).collect()
    } else {
        (0..nranks - 1).rev().collect()
    };
    let nb = if down { &m.up } else { &m.down };
    let mut ps: Vec<usize> = Vec::new();
    for l in order {
        let keys: Vec<Option<f64>> = ranks[l]
            .iter()
            .map(|&v| {
                ps.clear();
                ps.extend(nb[v].iter().map(|&u| pos[u]));
                ps.sort_unstable();
                median(&ps)
            })
            .collect();
        let mut movable: Vec<(f64, usize, usize)> = ranks[l]
            .iter()
            .zip(&keys)
            .filter_map(|(&v, k)| k.map(|k| (k, pos[v], v)))
            .collect();
        movable.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut next = movable.into_iter().map(|k| k.2);
        for (slot, k) in keys.iter().enumerate() {
            if k.is_some()
                && let Some(v) = next.next()
            {
                ranks[l][slot] = v;
            }
        }
        for (i, &v) in ranks[l].iter().enumerate() {
            pos[v] = i;
        }
    }
}

/// Crossings among the edges of `v` and `w` (on one side) when `v` stands
/// left of `w`.
fn pair_crossings(nv: &[usize], nw: &[usize], pos: &[usize]) -> u64 {
    let mut c = 0;
    for &a in nv {
        for &b in nw {
            if pos[a] > pos[b] {
                c += 1;
            }
        }
    }
    c
}

/// Swaps neighbours in a rank while that removes crossings; with `equal`,
/// also when it keeps them (but never back and forth: a round that gains
/// nothing is the last).
fn transpose(ranks: &mut [Vec<usize>], m: &Merged, pos: &mut [usize], equal: bool) {
    for _ in 0..TRANSPOSE_ROUNDS {
        let mut gain = 0u64;
        for row in ranks.iter_mut() {
            for i in 0..row.len().saturating_sub(1) {
                let (v, w) = (row[i], row[i + 1]);
                let now = pair_crossings(&m.up[v], &m.up[w], pos)
                    + pair_crossings(&m.down[v], &m.down[w], pos);
                let swapped = pair_crossings(&m.up[w], &m.up[v], pos)
                    + pair_crossings(&m.down[w], &m.down[v], pos);
                if swapped < now || (equal && now > 0 && swapped == now) {
                    gain += now - swapped;
                    row.swap(i, i + 1);
                    pos[v] = i + 1;
                    pos[w] = i;
                }
            }
        }
        if gain == 0 {
            break;
        }
    }
}

/// Sifting: each node in turn tried at every place in its rank, and left
/// where its edges cross the fewest others. Returns whether anything moved;
/// stops when `budget` (pairs of nodes compared) runs out.
fn sift(ranks: &mut [Vec<usize>], m: &Merged, pos: &mut [usize], budget: &mut u64) -> bool {
    let mut moved = false;
    for row in ranks.iter_mut() {
        let len = row.len();
        if len < 2 {
            continue;
        }
        for v in row.clone() {
            let cost = (len as u64) * (m.up[v].len() + m.down[v].len()) as u64;
            if cost > *budget {
                return moved;
            }
            *budget -= cost;
            let from = pos[v];
            // Crossings of v's edges with each other node's, v left of it
            // and right of it.
            let (mut best, mut best_at, mut run) = (0i64, from, 0i64);
            for i in (0..from).rev() {
                let u = row[i];
                run += cross_pair(m, v, u, pos) as i64 - cross_pair(m, u, v, pos) as i64;
                if run < best {
                    (best, best_at) = (run, i);
                }
            }
            run = 0;
            for (i, &u) in row.iter().enumerate().skip(from + 1) {
                run += cross_pair(m, u, v, pos) as i64 - cross_pair(m, v, u, pos) as i64;
                if run < best {
                    (best, best_at) = (run, i);
                }
            }
            if best_at != from {
                row.remove(from);
                row.insert(best_at, v);
                for (i, &u) in row.iter().enumerate() {
                    pos[u] = i;
                }
                moved = true;
            }
        }
    }
    moved
}

/// Crossings between the edges of `v` and `w` when `v` stands left of `w`.
fn cross_pair(m: &Merged, v: usize, w: usize, pos: &[usize]) -> u64 {
    pair_crossings(&m.up[v], &m.up[w], pos) + pair_crossings(&m.down[v], &m.down[w], pos)
}

/// A back edge's bends beside a box stand right after it in its rank.
fn attach(g: &Graph, ranks: &mut [Vec<usize>]) {
    for row in ranks.iter_mut() {
        if !row.iter().any(|&v| v < g.n && !g.beside[v].is_empty()) {
            continue;
        }
        let mut out = Vec::with_capacity(row.len());
        for &v in row.iter() {
            out.push(v);
            if v < g.n {
                out.extend_from_slice(&g.beside[v]);
            }
        }
        *row = out;
    }
}

/// Edge crossings between consecutive ranks (inversions, Fenwick tree).
pub(super) fn crossings(ranks: &[Vec<usize>], succs: &[Vec<usize>], pos: &[usize]) -> u64 {
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
