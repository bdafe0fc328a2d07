//! SVG, drawn by our own code without any external program: a layered
//! (Sugiyama-style) top-to-bottom layout, in the stages Graphviz `dot` uses.
//!
//! 1. [`acyclic`]: cycles are broken by turning round the back edges that a
//!    depth-first search from the start finds; those edges run up a lane
//!    beside the boxes, their arrow pointing at the real target.
//! 2. [`rank`]: layers by longest path from the start. Boxes stand on even
//!    ranks; the odd rank between two layers holds the bends and labels of
//!    the edges crossing that gap. An edge gets a virtual node on every rank
//!    it crosses (so it routes around boxes); the one in the gap next to the
//!    box the edge leaves is as wide as its label, so the label stands by
//!    its own edge, among the other answers of the same box.
//! 3. [`order`]: the order within each rank, as dot finds it: a few start
//!    orders, then weighted-median sweeps with transposition of neighbours,
//!    keeping the order with the fewest crossings.
//! 4. [`place`]: x by passes of "centre over the neighbours, keep the order,
//!    never overlap", long edges straightened; y by rank.
//! 5. [`route`]: edges as smooth cubic splines through their virtual nodes.
//! 6. [`draw`]: the SVG text; [`text`] measures and wraps what it shows.
//!
//! Everything is kept in vectors and walked in index order, so the same model
//! gives byte-identical output. Big graphs are bounded: virtual nodes are
//! capped at [`MAX_VIRTUAL`] (the shortest edges get them first; the rest are
//! drawn as direct curves), crossing reduction is skipped above
//! [`ORDER_MAX_NODES`] boxes and stops when its work budget runs out,
//! placement passes are fewer above [`BIG`], and no step recurses.

mod acyclic;
mod draw;
mod order;
mod overlay;
mod place;
mod rank;
mod route;
mod text;

#[cfg(test)]
mod tests;

use super::Model;
use super::heat::Marks;
use text::{EdgeLabel, NodeBox, measure_label, measure_with};

// Text metrics (estimates: there is no font at hand to measure with).
const FONT_SIZE: f64 = 12.0;
const CHAR_W: f64 = 7.0;
const TITLE_CHAR_W: f64 = 7.4;
const LABEL_CHAR_W: f64 = 6.4;
/// The figures line of an annotated box (11px, bold).
const BADGE_CHAR_W: f64 = 6.8;
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
const PLACE_PASSES: usize = 10;
const PLACE_PASSES_BIG: usize = 3;
const BIG: usize = 5_000;
/// The most a subtree's height adds to its weight in placement.
const IMPORTANCE_CAP: f64 = 24.0;

/// The picture of `m`; with `marks`, the figures drawn over it (each box
/// one line taller for its figures, so the layout makes room for them).
pub(super) fn render(m: &Model, marks: Option<&Marks>) -> String {
    let boxes: Vec<NodeBox> = m
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let badge = marks.and_then(|k| k.nodes[i].as_ref());
            measure_with(n, badge.map(|b| b.badge.as_str()))
        })
        .collect();
    let labels: Vec<Option<EdgeLabel>> = m.edges.iter().map(|e| measure_label(&e.label)).collect();
    let lay = layout(m, &boxes, &labels);
    draw::draw(m, &boxes, &labels, &lay, marks)
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
    let dag = acyclic::Dag::new(m, start);
    let layers = rank::layers(&dag);
    let g = rank::chains(&dag, boxes, labels, &layers.layer);
    let ranks = order::order(&g, start);
    let x = place::place(&g, &ranks, &layers.importance);
    let (band_top, band_h) = place::bands(&g, boxes, labels);
    Layout {
        n,
        rank: g.rank,
        x,
        band_top,
        band_h,
        routes: g.routes,
        start,
    }
}
