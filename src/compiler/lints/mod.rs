//! Graph lints: the checks that need the whole compiled graph of a script.
//! One file per lint code; [`LINTS`] is the registry, run in order.
//! (The structural codes FP001–FP011 and FP013 are found by the passes
//! that build the program; their explanations live in the code registry.)

mod fp012_trap;
mod fp101_unreachable;
mod fp102_never_resolves;
mod fp103_long_path;
mod fp105_cycle;
mod fp107_costly_text;

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
    /// Per script of the program: the graph facts several lints need.
    pub analyses: &'a [Analysis],
}

/// What several lints need of a script's graph, computed once per script.
pub struct Analysis {
    /// Nodes reachable from `start`, as a bitmap by node index (FP101, FP102).
    pub reachable: Vec<bool>,
    /// The strongly connected components (FP103, FP105).
    pub sccs: Sccs,
}

impl Analysis {
    pub fn of(script: &crate::program::Script) -> Self {
        Analysis {
            reachable: reachable(script),
            sccs: Sccs::of(&script.graph),
        }
    }
}

/// Strongly connected components, as `petgraph::algo::kosaraju_scc` finds
/// them and in the same order (successors first; within a component, in the
/// order of the second depth-first pass), but stored flat: a 100k-node DAG
/// has 100k components, and a `Vec` for each would cost more than the search.
pub struct Sccs {
    nodes: Vec<NodeIndex>,
    /// Where each component starts in `nodes`; one more entry, the end.
    starts: Vec<u32>,
    /// Per node index: its component.
    comp: Vec<u32>,
}

impl Sccs {
    pub fn of<N, E>(g: &petgraph::stable_graph::StableDiGraph<N, E>) -> Self {
        use petgraph::visit::{Dfs, DfsPostOrder, NodeIndexable, Reversed, VisitMap};
        let mut dfs = DfsPostOrder::empty(g);
        // First pass, on the reversed graph: finishing order.
        let mut finish_order = Vec::with_capacity(g.node_count());
        for i in g.node_indices() {
            if dfs.discovered.is_visited(&i) {
                continue;
            }
            dfs.move_to(i);
            while let Some(nx) = dfs.next(Reversed(g)) {
                finish_order.push(nx);
            }
        }
        // Second pass, in decreasing finishing time: one component per tree.
        let mut dfs = Dfs::from_parts(dfs.stack, dfs.discovered);
        dfs.reset(g);
        let mut out = Sccs {
            nodes: Vec::with_capacity(g.node_count()),
            starts: vec![0],
            comp: vec![0; g.node_bound()],
        };
        for i in finish_order.into_iter().rev() {
            if dfs.discovered.is_visited(&i) {
                continue;
            }
            dfs.move_to(i);
            let c = (out.starts.len() - 1) as u32;
            while let Some(nx) = dfs.next(g) {
                out.comp[nx.index()] = c;
                out.nodes.push(nx);
            }
            out.starts.push(out.nodes.len() as u32);
        }
        out
    }

    /// How many components.
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The nodes of component `c`.
    pub fn get(&self, c: usize) -> &[NodeIndex] {
        &self.nodes[self.starts[c] as usize..self.starts[c + 1] as usize]
    }

    /// The component of node `n`.
    pub fn of_node(&self, n: NodeIndex) -> usize {
        self.comp[n.index()] as usize
    }

    pub fn iter(&self) -> impl Iterator<Item = &[NodeIndex]> {
        (0..self.len()).map(|c| self.get(c))
    }
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
    (Code::Fp107, fp107_costly_text::check),
];

pub fn run(program: &Program, origins: &[Origin], diags: &mut Vec<Diagnostic>) {
    use rayon::prelude::*;
    // Lints look into the sub-flows a script runs, so every script's
    // analysis is ready before any lint starts.
    // The components also tell the engine's loop guard which nodes can be
    // entered twice, so sessions never search the graph for cycles.
    let analyses: Vec<Analysis> = program
        .scripts
        .par_iter()
        .map(|script| {
            let a = Analysis::of(script);
            script.set_cycle_nodes(
                a.sccs
                    .iter()
                    .filter(|c| script.is_cycle(c))
                    .flatten()
                    .copied(),
            );
            a
        })
        .collect();
    // Scripts are linted independently: in parallel, collected in order.
    let per_script: Vec<Vec<Diagnostic>> = origins
        .par_iter()
        .enumerate()
        .map(|(i, origin)| {
            let ctx = LintCtx {
                program,
                script: ScriptIdx(i as u32),
                origin,
                analyses: &analyses,
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
