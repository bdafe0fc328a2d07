//! Stage 2: ranks. Layers by longest path from the sources, then a virtual
//! node on every rank an edge crosses (boxes on even ranks, bends and labels
//! on the odd ranks between).

use super::acyclic::Dag;
use super::text::{EdgeLabel, NodeBox};
use super::{IMPORTANCE_CAP, Kind, MAX_VIRTUAL, Route, VIRTUAL_W};

pub(super) struct Layers {
    /// Per real node: its layer (rank / 2).
    pub layer: Vec<usize>,
    /// 1 + the longest path below (capped). A question whose answers are one
    /// leaf and one further step keeps that step under it and puts the leaf
    /// aside, instead of drifting sideways layer after layer.
    pub importance: Vec<f64>,
}

/// Longest-path layers, in a topological order (Kahn, index order).
pub(super) fn layers(dag: &Dag) -> Layers {
    let n = dag.n;
    let mut indeg = vec![0usize; n];
    let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &e in &dag.valid {
        let (a, b) = dag.ends(e);
        if a != b {
            indeg[b] += 1;
            out[a].push(b);
        }
    }
    let mut layer = vec![0usize; n];
    let mut queue: Vec<usize> = (0..n).filter(|&v| indeg[v] == 0).collect();
    let mut head = 0;
    while head < queue.len() {
        let v = queue[head];
        head += 1;
        for &w in &out[v] {
            layer[w] = layer[w].max(layer[v] + 1);
            indeg[w] -= 1;
            if indeg[w] == 0 {
                queue.push(w);
            }
        }
    }
    let mut importance = vec![1.0f64; n];
    for &v in queue.iter().rev() {
        for &w in &out[v] {
            importance[v] = importance[v].max((importance[w] + 1.0).min(IMPORTANCE_CAP));
        }
    }
    Layers { layer, importance }
}

/// The ranked graph: real nodes `0..n`, then virtual ones.
pub(super) struct Graph {
    pub n: usize,
    pub nranks: usize,
    pub rank: Vec<usize>,
    pub routes: Vec<Route>,
    /// Per virtual node (`v - n`): the route it belongs to.
    pub vroute: Vec<usize>,
    /// Per real node: the bends of back edges standing beside it, in its rank.
    pub beside: Vec<Vec<usize>>,
    /// Per node: the real node it stands beside, for those bends.
    pub beside_of: Vec<Option<usize>>,
    /// Per node: half its width.
    pub half: Vec<f64>,
    /// Neighbours in the rank above and below, in edge order.
    pub preds: Vec<Vec<usize>>,
    pub succs: Vec<Vec<usize>>,
}

impl Graph {
    pub(super) fn total(&self) -> usize {
        self.rank.len()
    }
    pub(super) fn is_back(&self, v: usize) -> bool {
        v >= self.n && self.routes[self.vroute[v - self.n]].kind == Kind::Back
    }
}

/// Routes with their chains of virtual nodes, shortest edges first, within
/// the budget. A label rides on the bend in the gap beside the box the edge
/// leaves (below it, or above it for a back edge), so it reads as that box's
/// answer and never as another's.
pub(super) fn chains(
    dag: &Dag,
    boxes: &[NodeBox],
    labels: &[Option<EdgeLabel>],
    layer: &[usize],
) -> Graph {
    let n = dag.n;
    let mut routes: Vec<Route> = dag
        .valid
        .iter()
        .map(|&e| {
            let (a, b) = dag.ends(e);
            let kind = if a == b {
                Kind::SelfLoop
            } else if dag.reversed[e] {
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
    let mut g = Graph {
        n,
        nranks: 0,
        rank: layer.iter().map(|l| 2 * l).collect(),
        routes: Vec::new(),
        vroute: Vec::new(),
        beside: vec![Vec::new(); n],
        beside_of: Vec::new(),
        half: boxes.iter().map(|b| b.w / 2.0).collect(),
        preds: Vec::new(),
        succs: Vec::new(),
    };
    let mut budget = MAX_VIRTUAL;
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
        // The rank offset of the bend that holds the label.
        let label_at = if back { 2 * s - 1 } else { 1 };
        let label = labels[routes[r].edge].as_ref();
        let mut chain = Vec::with_capacity(needed + 2);
        chain.push(a);
        for k in offs {
            let v = n + g.vroute.len();
            chain.push(v);
            g.vroute.push(r);
            g.rank.push(g.rank[a] + k);
            if back && k == 0 {
                g.beside[a].push(v);
            } else if back && k == 2 * s {
                g.beside[b].push(v);
            }
            match label {
                Some(l) if k == label_at => {
                    routes[r].label = Some(v);
                    g.half.push(l.w / 2.0);
                }
                _ => g.half.push(VIRTUAL_W / 2.0),
            }
        }
        chain.push(b);
        routes[r].chain = chain;
    }
    g.routes = routes;
    adjacency(&mut g);
    g
}

/// Neighbours between consecutive ranks, and who stands beside whom.
fn adjacency(g: &mut Graph) {
    let total = g.total();
    g.nranks = g.rank.iter().copied().max().map_or(0, |r| r + 1);
    g.preds = vec![Vec::new(); total];
    g.succs = vec![Vec::new(); total];
    for r in &g.routes {
        if r.chain.len() > 2 {
            for w in r.chain.windows(2) {
                if g.rank[w[0]] < g.rank[w[1]] {
                    g.succs[w[0]].push(w[1]);
                    g.preds[w[1]].push(w[0]);
                }
            }
        }
    }
    g.beside_of = vec![None; total];
    for (v, list) in g.beside.iter().enumerate() {
        for &b in list {
            g.beside_of[b] = Some(v);
        }
    }
}
