//! Graph lints: the checks that need the whole compiled graph of a script.
//! One file per lint code; [`LINTS`] is the registry, run in order.
//! (The structural codes FP001–FP011 and FP013 are found by the passes
//! that build the program; their explanations live in the code registry.)

mod fp012_trap;
mod fp101_unreachable;
mod fp102_never_resolves;
mod fp103_long_path;
mod fp105_cycle;

use super::lower::Origin;
use crate::diagnostics::{Code, Diagnostic};
use crate::program::{NodeKind, Outcome, Program, ScriptIdx};
use petgraph::stable_graph::NodeIndex;

/// What a lint sees: the program, the script under the lens, and where its
/// parts were written.
pub struct LintCtx<'a> {
    pub program: &'a Program,
    pub script: ScriptIdx,
    pub origin: &'a Origin,
}

impl LintCtx<'_> {
    pub fn diag(
        &self,
        code: Code,
        node: Option<NodeIndex>,
        message: impl Into<String>,
    ) -> Diagnostic {
        let span = match node {
            Some(n) => self
                .origin
                .node_spans
                .get(n.index())
                .copied()
                .unwrap_or(self.origin.id_span),
            None => self.origin.id_span,
        };
        Diagnostic::new(code, self.origin.file, span, message)
    }

    pub fn node_span(&self, n: NodeIndex) -> crate::diagnostics::Span {
        self.origin
            .node_spans
            .get(n.index())
            .copied()
            .unwrap_or(self.origin.id_span)
    }

    pub fn script(&self) -> &crate::program::Script {
        self.program.script(self.script)
    }
}

type Lint = fn(&LintCtx<'_>, &mut Vec<Diagnostic>);

/// The registry: every graph lint, in the order it runs.
pub const LINTS: &[(Code, Lint)] = &[
    (Code::Fp012, fp012_trap::check),
    (Code::Fp101, fp101_unreachable::check),
    (Code::Fp102, fp102_never_resolves::check),
    (Code::Fp103, fp103_long_path::check),
    (Code::Fp105, fp105_cycle::check),
];

pub fn run(program: &Program, origins: &[Origin], diags: &mut Vec<Diagnostic>) {
    use rayon::prelude::*;
    // Scripts are linted independently: in parallel, collected in order.
    let per_script: Vec<Vec<Diagnostic>> = origins
        .par_iter()
        .enumerate()
        .map(|(i, origin)| {
            let ctx = LintCtx {
                program,
                script: ScriptIdx(i as u32),
                origin,
            };
            let mut out = Vec::new();
            for (_, lint) in LINTS {
                lint(&ctx, &mut out);
            }
            out
        })
        .collect();
    diags.extend(per_script.into_iter().flatten());
}

/// Does the node end the script, by itself or through one of its answers?
pub(crate) fn ends_here(kind: &NodeKind) -> bool {
    kind.is_terminal()
        || matches!(kind, NodeKind::Ask { answers, .. } if answers.iter().any(|a| !matches!(a.outcome, Outcome::Goto(_))))
}

/// Nodes reachable from `start`, as a bitmap by node index.
pub(crate) fn reachable(script: &crate::program::Script) -> Vec<bool> {
    let mut seen = vec![false; script.graph.node_count()];
    let mut dfs = petgraph::visit::Dfs::new(&script.graph, script.start);
    while let Some(n) = dfs.next(&script.graph) {
        seen[n.index()] = true;
    }
    seen
}

/// `a`, `b` and `c` — node ids in backticks, for messages.
pub(crate) fn names(script: &crate::program::Script, nodes: &[NodeIndex]) -> String {
    // A message names a few nodes, not thousands: the rest are counted.
    const SHOWN: usize = 8;
    let mut ids: Vec<String> = nodes
        .iter()
        .take(SHOWN)
        .map(|n| format!("`{}`", script.graph[*n].id))
        .collect();
    if nodes.len() > SHOWN {
        ids.push(format!("{} more nodes", nodes.len() - SHOWN));
    }
    match ids.len() {
        0 => String::new(),
        1 => ids[0].clone(),
        _ => format!(
            "{} and {}",
            ids[..ids.len() - 1].join(", "),
            ids[ids.len() - 1]
        ),
    }
}
