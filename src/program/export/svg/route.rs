//! Routing: the outline of each shape, and every edge as a smooth path from a
//! port on one box, through its bends, to a port on the other.

use super::super::{Model, Shape};
use super::text::{EdgeLabel, NodeBox};
use super::*;

// ---------------------------------------------------------------- shapes

#[derive(Clone, Copy)]
pub(super) struct Rect {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl Rect {
    pub(super) fn cx(&self) -> f64 {
        self.x + self.w / 2.0
    }
    pub(super) fn cy(&self) -> f64 {
        self.y + self.h / 2.0
    }
}

/// Where the outline's bottom lies at `dx` from the centre.
pub(super) fn bottom_at(shape: Shape, r: Rect, dx: f64) -> f64 {
    let (hw, hh) = (r.w / 2.0, r.h / 2.0);
    let t = (dx.abs() / hw).min(1.0);
    match shape {
        Shape::Branch => r.cy() + hh * (1.0 - t),
        Shape::Return => r.cy() + hh * (1.0 - t * t).sqrt(),
        Shape::Escalate if dx.abs() > hw - OCT_CUT => r.y + r.h - (dx.abs() - (hw - OCT_CUT)),
        _ => r.y + r.h,
    }
}

pub(super) fn top_at(shape: Shape, r: Rect, dx: f64) -> f64 {
    2.0 * r.cy() - bottom_at(shape, r, dx)
}

/// Where the outline's `side` (+1 right, -1 left) lies at `dy` from the centre.
pub(super) fn side_at(shape: Shape, r: Rect, side: f64, dy: f64) -> f64 {
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
pub(super) struct P(pub f64, pub f64);

#[derive(Clone, Copy)]
pub(super) struct Seg(pub P, pub P, pub P, pub P);

impl Seg {
    pub(super) fn rev(self) -> Seg {
        Seg(self.3, self.2, self.1, self.0)
    }
    pub(super) fn at(&self, t: f64) -> P {
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
pub(super) struct Knot {
    pub p: P,
    pub dir: Option<P>,
}

/// A smooth path through the knots, one cubic per pair.
pub(super) fn spline(k: &[Knot]) -> Vec<Seg> {
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

pub(super) struct EdgePath {
    pub edge: usize,
    pub kind: Kind,
    pub segs: Vec<Seg>,
    /// The centre of its label.
    pub label_at: Option<P>,
}

/// Spreads `k` ports across a box of width `w`: the offset of port `i`.
pub(super) fn spread(i: usize, k: usize, w: f64) -> f64 {
    if k < 2 {
        return 0.0;
    }
    let step = (w * 0.6 / (k - 1) as f64).min(18.0);
    (i as f64 - (k - 1) as f64 / 2.0) * step
}

pub(super) fn route_edges(
    m: &Model,
    boxes: &[NodeBox],
    labels: &[Option<EdgeLabel>],
    lay: &Layout,
) -> Vec<EdgePath> {
    let rect = |i: usize| Rect {
        x: lay.x[i] - boxes[i].w / 2.0,
        y: lay.node_top(i, &boxes[i]),
        w: boxes[i].w,
        h: boxes[i].h,
    };
    let last = |r: &Route| r.chain[r.chain.len() - 1];

    let port = ports(boxes, lay);

    let down = Some(P(0.0, 1.0));
    let mut paths = Vec::with_capacity(lay.routes.len());
    for (ri, r) in lay.routes.iter().enumerate() {
        let (a, b) = (r.chain[0], last(r));
        let (ra, rb) = (rect(a), rect(b));
        let (sa, sb) = (m.nodes[a].shape, m.nodes[b].shape);
        let label = labels[r.edge].as_ref();
        if r.kind == Kind::SelfLoop {
            paths.push(self_loop(r.edge, port[ri][0], ra, sa, label));
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
                // In a gap with labels: straight down through their band,
                // so edges turn only between bands, never across a label;
                // in one without, a free bend keeps long edges smooth.
                let (top, h) = (lay.band_top[rk], lay.band_h[rk]);
                if h == 0.0 {
                    knots.push(Knot {
                        p: P(lay.x[v], top),
                        dir: None,
                    });
                    continue;
                }
                knots.push(Knot {
                    p: P(lay.x[v], top),
                    dir: down,
                });
                knots.push(Knot {
                    p: P(lay.x[v], top + h),
                    dir: down,
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

/// Ports: forward edges leave a box's bottom and enter a box's top, spread
/// in the order of where they head; edges on a side stack vertically.
/// Returns, per route, the offsets from the box centre of its upper and
/// lower end.
fn ports(boxes: &[NodeBox], lay: &Layout) -> Vec<[f64; 2]> {
    let n = lay.n;
    let last = |r: &Route| r.chain[r.chain.len() - 1];
    let before_last = |r: &Route| r.chain[r.chain.len() - 2];
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
    port
}

/// An edge from a box back to itself: a loop on its right side.
fn self_loop(edge: usize, port: f64, ra: Rect, sa: Shape, label: Option<&EdgeLabel>) -> EdgePath {
    let (d0, d1) = (port - 7.0, port + 7.0);
    let s = P(side_at(sa, ra, 1.0, d0), ra.cy() + d0);
    let e = P(side_at(sa, ra, 1.0, d1), ra.cy() + d1);
    let out = ra.x + ra.w + SIDE_ROOM;
    let seg = Seg(s, P(out, s.1 - 20.0), P(out, e.1 + 20.0), e);
    let label_at = label.map(|l| {
        let c = seg.at(0.5);
        P(c.0 + 2.0 + l.w / 2.0, c.1)
    });
    EdgePath {
        edge,
        kind: Kind::SelfLoop,
        segs: vec![seg],
        label_at,
    }
}
