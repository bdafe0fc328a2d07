//! FP012, trap: nodes from which no terminal can be reached.
//!
//! Why: a person who enters such nodes can only go round until the loop
//! guard escalates them, a path nobody designed. How: walk the graph
//! backwards from every node that ends the script; whatever is not reached
//! is trapped. Example: `a: {ask: Again?, answers: [{Yes: b}]}` with
//! `b: {say: Restart, next: a}`.

use super::{LintCtx, ends_here, names};
use crate::diagnostics::{Code, Diagnostic};
use petgraph::Direction;

pub(super) fn check(ctx: &LintCtx<'_>, diags: &mut Vec<Diagnostic>) {
    let s = ctx.script();
    let g = &s.graph;
    let mut ok = vec![false; g.node_count()];
    let mut todo: Vec<_> = g
        .node_indices()
        .filter(|&n| ends_here(&g[n].kind))
        .collect();
    for n in &todo {
        ok[n.index()] = true;
    }
    while let Some(n) = todo.pop() {
        for p in g.neighbors_directed(n, Direction::Incoming) {
            if !ok[p.index()] {
                ok[p.index()] = true;
                todo.push(p);
            }
        }
    }
    let trapped: Vec<_> = g.node_indices().filter(|n| !ok[n.index()]).collect();
    if let Some(&first) = trapped.first() {
        let mut d = ctx
            .diag(
                Code::Fp012,
                Some(first),
                format!("no `resolve`, `escalate` or `return` can be reached from {}", names(s, &trapped)),
            )
            .with_label("a person who gets here can never finish")
            .with_hint("give one of these nodes an answer or branch that leads to a resolve or an escalate");
        for &n in &trapped[1..] {
            d = d.with_related(
                ctx.node_span(n),
                format!("`{}` is part of the trap", g[n].id),
            );
        }
        diags.push(d);
    }
}
