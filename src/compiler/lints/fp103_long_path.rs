//! FP103, long path: a path from `start` asks more than 15 questions.
//!
//! Why: people give up on long scripts. How: the strongly connected
//! components of the graph form a DAG; each weighs the questions (`ask` and
//! `input`) it holds, plus the longest path of any sub-flow it runs; the
//! heaviest path through that DAG is the longest path, counting each node of
//! a loop once.

use super::{Analysis, LintCtx};
use crate::diagnostics::{Code, Diagnostic};
use crate::program::{NodeKind, Program, ScriptIdx};
use petgraph::stable_graph::NodeIndex;

pub(super) const MAX_QUESTIONS: u32 = 15;

pub(super) fn check(ctx: &LintCtx<'_>, diags: &mut Vec<Diagnostic>) {
    let mut memo = vec![None; ctx.program.scripts.len()];
    let (count, path) = longest(ctx.program, ctx.analyses, ctx.script, &mut memo);
    if count > MAX_QUESTIONS {
        let s = ctx.script();
        let shown: Vec<&str> = path.iter().map(|n| s.graph[*n].id.as_str()).collect();
        diags.push(
            ctx.diag(Code::Fp103, Some(s.start), format!("a path from `{}` asks {count} questions (more than {MAX_QUESTIONS})", s.graph[s.start].id))
                .with_label("the longest path starts here")
                .with_hint(format!("the path: {}", path_text(&shown)))
                .with_hint("ask the most decisive question first, split the script with `use`, or escalate sooner"),
        );
    }
}

/// The most questions a path through script `ix` asks, and that path.
fn longest(
    p: &Program,
    a: &[Analysis],
    ix: ScriptIdx,
    memo: &mut [Option<u32>],
) -> (u32, Vec<NodeIndex>) {
    // Mark as in progress (0) so recursive `use` cycles terminate.
    memo[ix.0 as usize] = Some(0);
    let s = p.script(ix);
    let g = &s.graph;
    let sccs = &a[ix.0 as usize].sccs;
    // kosaraju_scc yields components in reverse topological order: successors first.
    let mut best = vec![0u32; sccs.len()];
    let mut next_comp: Vec<Option<usize>> = vec![None; sccs.len()];
    for (c, nodes) in sccs.iter().enumerate() {
        let mut weight = 0u32;
        for &n in nodes {
            match &g[n].kind {
                k if k.is_question() => weight += 1,
                NodeKind::Use { script, .. } => {
                    let w = match memo[script.0 as usize] {
                        Some(w) => w,
                        None => longest(p, a, *script, memo).0,
                    };
                    weight = weight.saturating_add(w);
                }
                _ => {}
            }
        }
        let mut tail = 0;
        for &n in nodes {
            for m in g.neighbors(n) {
                let mc = sccs.of_node(m);
                if mc != c && best[mc] >= tail {
                    if best[mc] > tail || next_comp[c].is_none() {
                        next_comp[c] = Some(mc);
                    }
                    tail = best[mc];
                }
            }
        }
        best[c] = weight.saturating_add(tail);
    }
    let start = sccs.of_node(s.start);
    let total = best[start];
    memo[ix.0 as usize] = Some(total);
    let mut path = Vec::new();
    let mut c = Some(start);
    while let Some(ci) = c {
        let mut nodes = sccs.get(ci).to_vec();
        nodes.sort();
        path.extend(nodes);
        c = next_comp[ci];
    }
    (total, path)
}

/// The path for the hint, shortened in the middle when it is very long.
fn path_text(ids: &[&str]) -> String {
    if ids.len() <= 30 {
        ids.join(" -> ")
    } else {
        format!(
            "{} -> ... ({} more) ... -> {}",
            ids[..15].join(" -> "),
            ids.len() - 25,
            ids[ids.len() - 10..].join(" -> ")
        )
    }
}
