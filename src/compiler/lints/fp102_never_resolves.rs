//! FP102, never resolves: no path from `start` reaches a `resolve`.
//!
//! Why: a tier-1 script that always escalates solves nothing. Sub-flows
//! (scripts that end in `return`) are exempt: their caller decides. A
//! `resolve` inside a sub-flow the script runs counts.

use super::{Analysis, LintCtx};
use crate::diagnostics::{Code, Diagnostic};
use crate::program::{NodeKind, Outcome, Program, ScriptIdx};

pub(super) fn check(ctx: &LintCtx<'_>, diags: &mut Vec<Diagnostic>) {
    let s = ctx.script();
    if s.is_subflow() {
        return;
    }
    let mut visiting = vec![false; ctx.program.scripts.len()];
    if !can_resolve(ctx.program, ctx.analyses, ctx.script, &mut visiting) {
        diags.push(
            ctx.diag(
                Code::Fp102,
                None,
                format!("script `{}` can never end resolved", s.id),
            )
            .with_label("every path escalates")
            .with_hint("add a path that ends in `resolve`, if tier 1 can solve any case"),
        );
    }
}

fn can_resolve(p: &Program, a: &[Analysis], ix: ScriptIdx, visiting: &mut [bool]) -> bool {
    if std::mem::replace(&mut visiting[ix.0 as usize], true) {
        return false;
    }
    let s = p.script(ix);
    let seen = &a[ix.0 as usize].reachable;
    s.graph
        .node_indices()
        .filter(|n| seen[n.index()])
        .any(|n| match &s.graph[n].kind {
            NodeKind::Resolve(_) => true,
            NodeKind::Ask { answers, .. } => answers
                .iter()
                .any(|a| matches!(a.outcome, Outcome::Resolve(_))),
            NodeKind::Use { script, .. } => can_resolve(p, a, *script, visiting),
            _ => false,
        })
}
