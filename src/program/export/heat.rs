//! The figures drawn over a graph (contract section 11, the authors' view):
//! each node shaded by the share of its sessions that escalated or were
//! abandoned there, each edge as wide as its traffic, a legend.
//!
//! The overlay is plain data: the caller (the authors' page, `fixpath
//! graph --stats`) reads the figures and the legend's words and hands them
//! in, so the exporter stays free of the store and of the page catalogues.
//! This module turns them into marks per node and edge of a [`Model`]; the
//! SVG writer only draws the marks.
//!
//! Shades are a stepped sequential scale (ColorBrewer OrRd, nine classes):
//! steps read more reliably than a continuous ramp, and their classes let
//! the SVG colour boxes through its style sheet, as it does every other
//! colour. The steps are finer near zero, where most nodes are: a node
//! where 3 % of the sessions end badly must not look like one where none do.

use super::{Model, Shape};
use std::collections::BTreeMap;

/// One node's figures, as the trail names the node (`NODE`, or
/// `SCRIPT/NODE` inside a sub-flow).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figures {
    pub entered: u64,
    pub escalated: u64,
    pub abandoned: u64,
    /// Times each answer id was given there.
    pub answers: BTreeMap<String, u64>,
}

/// The legend's and tooltips' words, in the graph's language. Entries with
/// `{name}` placeholders are filled here.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Words {
    /// The legend's heading.
    pub title: String,
    /// What the shade means.
    pub shade: String,
    /// The swatch of a node no session entered.
    pub never: String,
    /// What the width of an edge means; `{n}`: the widest edge's traffic.
    pub width: String,
    /// What the figures in a box mean (`12 % · 340`).
    pub badge: String,
    /// A share as a percentage; `{n}`: the number (`{n} %`, `{n}%`).
    pub percent: String,
    /// A node's tooltip line; `{entered}`, `{escalated}`, `{abandoned}`.
    pub node_tip: String,
    /// An edge's tooltip line; `{n}`: its traffic.
    pub edge_tip: String,
}

/// Figures for one script's graph and the words to explain them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Annotation {
    /// By node name as the trail writes it.
    pub nodes: BTreeMap<String, Figures>,
    pub words: Words,
}

/// Upper bounds (inclusive) of the shade classes 1..=8; class 0 is a share
/// of exactly zero.
pub const STEPS: [f64; 8] = [0.05, 0.10, 0.20, 0.30, 0.40, 0.60, 0.80, 1.0];

/// The fills of the classes, light to dark (ColorBrewer OrRd 9).
pub const FILLS: [&str; 9] = [
    "#fff7ec", "#fee8c8", "#fdd49e", "#fdbb84", "#fc8d59", "#ef6548", "#d7301f", "#b30000",
    "#7f0000",
];

/// The first class dark enough for white text (contrast of 4.5 or more;
/// dark text keeps at least that on the classes below).
pub const LIGHT_TEXT_FROM: usize = 6;

/// Edge widths, in pixels: an edge nobody took, the busiest edge, and an
/// edge whose traffic is not known.
pub const MIN_WIDTH: f64 = 1.0;
pub const MAX_WIDTH: f64 = 8.0;
pub const BASE_WIDTH: f64 = 1.3;

/// The shade class of a share (0..=8). A share above 0, however small, is
/// class 1 at least; anything not a number in 0..=1 is clamped.
pub fn shade(share: f64) -> usize {
    if share.is_nan() || share <= 0.0 {
        return 0;
    }
    STEPS.iter().position(|&s| share <= s).map_or(8, |i| i + 1)
}

/// The width of an edge given `traffic` times, when the busiest edge was
/// given `max` times: linear from [`MIN_WIDTH`] to [`MAX_WIDTH`].
pub fn width(traffic: u64, max: u64) -> f64 {
    if max == 0 {
        return MIN_WIDTH;
    }
    let t = traffic.min(max) as f64 / max as f64;
    MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * t
}

/// A share in whole percent as the words write it: `0 %`, `<1 %`, `12 %`.
pub fn percent(words: &Words, share: f64) -> String {
    let p = share * 100.0;
    let n = if p > 0.0 && p < 0.5 {
        "<1".to_owned()
    } else {
        format!("{}", p.round() as i64)
    };
    words.percent.replace("{n}", &n)
}

/// What a node shows.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeMark {
    pub class: usize,
    pub share: f64,
    pub entered: u64,
    pub escalated: u64,
    pub abandoned: u64,
    /// The small line in the box: `12 % · 340`.
    pub badge: String,
    /// The tooltip line.
    pub tip: String,
}

/// What an edge shows.
#[derive(Debug, Clone, PartialEq)]
pub struct EdgeMark {
    pub width: f64,
    /// Its traffic, when known.
    pub traffic: Option<u64>,
}

/// The marks of a model: one per node (none for a node never entered) and
/// one per edge.
#[derive(Debug, Clone, PartialEq)]
pub struct Marks {
    pub nodes: Vec<Option<NodeMark>>,
    pub edges: Vec<EdgeMark>,
    /// The busiest edge's traffic.
    pub max_traffic: u64,
    pub words: Words,
}

/// A node's figures in the model: its own, or for a sub-flow's box, the
/// sub-flow's together (entries at its start, endings anywhere in it).
fn figures_of(m: &Model, a: &Annotation, i: usize) -> Option<Figures> {
    let n = &m.nodes[i];
    if n.shape == Shape::SubFlow
        && let Some((sub, start)) = &n.sub
    {
        let prefix = format!("{sub}/");
        let entered = a.nodes.get(&format!("{sub}/{start}"))?.entered;
        let (mut escalated, mut abandoned) = (0, 0);
        for (_, f) in a
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
        {
            escalated += f.escalated;
            abandoned += f.abandoned;
        }
        return Some(Figures {
            entered,
            escalated,
            abandoned,
            answers: BTreeMap::new(),
        });
    }
    a.nodes.get(&n.key).cloned()
}

/// The figures of an outcome an answer leads to (`NODE.ANSWER`: no trail
/// entry of its own): reached as often as the answer was given, and all of
/// those sessions escalated when it is an escalation.
fn outcome_figures(m: &Model, figures: &[Option<Figures>], i: usize) -> Option<Figures> {
    let n = &m.nodes[i];
    if !n.shape.is_terminal() {
        return None;
    }
    let mut into = m.edges.iter().filter(|e| e.to == i);
    let (Some(e), None) = (into.next(), into.next()) else {
        return None;
    };
    let answer = e.answer.as_ref()?;
    if n.key != format!("{}.{answer}", m.nodes[e.from].key) {
        return None;
    }
    let given = *figures[e.from].as_ref()?.answers.get(answer)?;
    Some(Figures {
        entered: given,
        escalated: if n.shape == Shape::Escalate { given } else { 0 },
        abandoned: 0,
        answers: BTreeMap::new(),
    })
}

/// Lays the figures of `a` over the model `m`.
pub fn marks(m: &Model, a: &Annotation) -> Marks {
    let w = &a.words;
    let mut figures: Vec<Option<Figures>> =
        (0..m.nodes.len()).map(|i| figures_of(m, a, i)).collect();
    for i in 0..m.nodes.len() {
        if figures[i].is_none() {
            figures[i] = outcome_figures(m, &figures, i);
        }
    }
    let nodes = figures
        .iter()
        .map(|f| {
            let f = f.as_ref().filter(|f| f.entered > 0)?;
            // Endings can outnumber entries only when the figures are
            // inconsistent; the share never goes past all of them.
            let share = ((f.escalated + f.abandoned) as f64 / f.entered as f64).min(1.0);
            let pc = percent(w, share);
            Some(NodeMark {
                class: shade(share),
                share,
                entered: f.entered,
                escalated: f.escalated,
                abandoned: f.abandoned,
                badge: format!("{pc} · {}", f.entered),
                tip: format!(
                    "{} ({pc})",
                    w.node_tip
                        .replace("{entered}", &f.entered.to_string())
                        .replace("{escalated}", &f.escalated.to_string())
                        .replace("{abandoned}", &f.abandoned.to_string())
                ),
            })
        })
        .collect::<Vec<_>>();
    let mut incoming = vec![0usize; m.nodes.len()];
    for e in &m.edges {
        incoming[e.to] += 1;
    }
    let traffic: Vec<Option<u64>> = m
        .edges
        .iter()
        .map(|e| match &e.answer {
            Some(id) => Some(
                figures[e.from]
                    .as_ref()
                    .and_then(|f| f.answers.get(id).copied())
                    .unwrap_or(0),
            ),
            // An edge nobody chooses (after an instruction, a branch, a
            // sub-flow): as busy as its target, when nothing else leads there.
            None if incoming[e.to] == 1 => Some(figures[e.to].as_ref().map_or(0, |f| f.entered)),
            None => None,
        })
        .collect();
    let max_traffic = traffic.iter().flatten().copied().max().unwrap_or(0);
    let edges = traffic
        .iter()
        .map(|&t| EdgeMark {
            width: t.map_or(BASE_WIDTH, |t| width(t, max_traffic)),
            traffic: t,
        })
        .collect();
    Marks {
        nodes,
        edges,
        max_traffic,
        words: a.words.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shade_bounds() {
        assert_eq!(shade(0.0), 0, "no bad endings: the lightest class");
        assert_eq!(shade(-0.2), 0);
        assert_eq!(shade(f64::NAN), 0);
        assert_eq!(shade(0.0001), 1, "any bad ending shows");
        assert_eq!(shade(0.05), 1);
        assert_eq!(shade(0.0501), 2);
        assert_eq!(shade(0.5), 6);
        assert_eq!(shade(1.0), 8, "all of them: the darkest");
        assert_eq!(shade(7.0), 8, "clamped");
        // Darker with every step.
        let classes: Vec<usize> = (0..=100).map(|p| shade(p as f64 / 100.0)).collect();
        assert!(classes.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(classes.iter().max(), Some(&(FILLS.len() - 1)));
    }

    #[test]
    fn widths() {
        assert_eq!(width(0, 340), MIN_WIDTH, "an edge nobody took");
        assert_eq!(width(340, 340), MAX_WIDTH, "the busiest edge");
        assert_eq!(width(170, 340), (MIN_WIDTH + MAX_WIDTH) / 2.0);
        assert_eq!(width(0, 0), MIN_WIDTH, "no traffic anywhere");
        assert_eq!(width(500, 340), MAX_WIDTH, "never wider than the widest");
    }

    /// Text on each fill keeps a contrast of 4.5 or more (WCAG AA).
    #[test]
    fn text_stays_readable_on_every_shade() {
        fn lum(hex: &str) -> f64 {
            let c = |i: usize| {
                let v = u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0) as f64 / 255.0;
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
        }
        let contrast = |a: f64, b: f64| (a.max(b) + 0.05) / (a.min(b) + 0.05);
        let (dark, white) = (lum("#1f2933"), 1.0);
        for (i, f) in FILLS.iter().enumerate() {
            let text = if i >= LIGHT_TEXT_FROM { white } else { dark };
            let c = contrast(lum(f), text);
            assert!(c >= 4.5, "class {i} ({f}): contrast {c:.2}");
        }
    }

    #[test]
    fn percent_words() {
        let w = Words {
            percent: "{n} %".into(),
            ..Words::default()
        };
        assert_eq!(percent(&w, 0.0), "0 %");
        assert_eq!(percent(&w, 0.001), "<1 %");
        assert_eq!(percent(&w, 0.123), "12 %");
        assert_eq!(percent(&w, 1.0), "100 %");
    }
}
