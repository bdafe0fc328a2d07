//! FP105, cycle: a path can repeat nodes.
//!
//! Why: loops ask people the same thing again; they should be deliberate
//! (the engine's loop guard, `max_visits`, escalates a session that enters a
//! node too often). How: every strongly connected component with more than
//! one node, or a node with an edge to itself, is one cycle, reported at its
//! first node in file order.

use super::{LintCtx, names};
use crate::diagnostics::{Code, Diagnostic};

pub(super) fn check(ctx: &LintCtx<'_>, diags: &mut Vec<Diagnostic>) {
    let s = ctx.script();
    let mut cycles: Vec<Vec<_>> = ctx.analyses[ctx.script.0 as usize]
        .sccs
        .iter()
        .filter(|c| s.is_cycle(c))
        .map(|c| {
            let mut c = c.to_vec();
            c.sort();
            c
        })
        .collect();
    cycles.sort();
    for c in cycles {
        diags.push(
            ctx.diag(Code::Fp105, Some(c[0]), if c.len() == 1 {
                format!("{} leads back to itself", names(s, &c))
            } else {
                format!("{} form a cycle", names(s, &c))
            })
                .with_label("a path can come back here")
                .with_hint(format!(
                    "the loop guard escalates a session that enters a node more than {} times (`max_visits`)",
                    s.max_visits
                ))
                .with_hint("count attempts with `set` and branch forward, if the repetition is not meant"),
        );
    }
}
