//! Stage 1: break cycles, so the graph can be drawn top to bottom.
//!
//! A depth-first search from the start (then from every other node, in node
//! order) turns round the edges that lead back onto its stack; an edge into
//! the start from a node it does not reach turns round too, so the start
//! stays on top. No recursion: the search keeps its own stack.

use super::super::Model;

/// The graph with its cycles broken.
pub(super) struct Dag<'m> {
    pub m: &'m Model,
    /// Real nodes.
    pub n: usize,
    /// Edges with both ends in the model, in model order.
    pub valid: Vec<usize>,
    /// Per edge: turned round to break a cycle.
    pub reversed: Vec<bool>,
}

impl<'m> Dag<'m> {
    pub(super) fn new(m: &'m Model, start: Option<usize>) -> Dag<'m> {
        let n = m.nodes.len();
        let valid: Vec<usize> = (0..m.edges.len())
            .filter(|&e| m.edges[e].from < n && m.edges[e].to < n)
            .collect();
        let mut out: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &e in &valid {
            out[m.edges[e].from].push(e);
        }
        let mut reversed = back_edges(m, &out, start);
        if let Some(s) = start {
            for &e in &valid {
                if m.edges[e].to == s && m.edges[e].from != s {
                    reversed[e] = true;
                }
            }
        }
        Dag {
            m,
            n,
            valid,
            reversed,
        }
    }

    /// Edge `e`'s ends as drawn: upper, lower.
    pub(super) fn ends(&self, e: usize) -> (usize, usize) {
        let g = &self.m.edges[e];
        if self.reversed[e] {
            (g.to, g.from)
        } else {
            (g.from, g.to)
        }
    }
}

/// The edges a depth-first search finds leading back onto its stack.
fn back_edges(m: &Model, out: &[Vec<usize>], start: Option<usize>) -> Vec<bool> {
    let n = out.len();
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
    reversed
}
