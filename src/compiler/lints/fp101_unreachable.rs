//! FP101, unreachable: nodes that no path from `start` enters.
//!
//! Why: dead text is usually a forgotten `goto` or a wrong `start`. How: a
//! depth-first walk from `start`; every node it misses is reported.

use super::LintCtx;
use crate::diagnostics::{Code, Diagnostic};

pub(super) fn check(ctx: &LintCtx<'_>, diags: &mut Vec<Diagnostic>) {
    let s = ctx.script();
    let seen = &ctx.analyses[ctx.script.0 as usize].reachable;
    for n in s.graph.node_indices() {
        if !seen[n.index()] {
            diags.push(
                ctx.diag(
                    Code::Fp101,
                    Some(n),
                    format!(
                        "node `{}` cannot be reached from `{}`",
                        s.graph[n].id, s.graph[s.start].id
                    ),
                )
                .with_label("unreachable")
                .with_hint("link to it from an answer or a `next`, or remove it"),
            );
        }
    }
}
