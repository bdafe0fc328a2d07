//! What the engine keeps per program, shared by every session: per node,
//! what its steps show and the trail heads of its answers, made on first
//! use. A step of a node that shows only literals then copies no text and
//! writes no reference count on data other threads read.

use super::AnswerRef;
use super::trail::Head;
use crate::program::{Program, ScriptIdx, Text};
use std::sync::{Arc, OnceLock};

/// Values the engine shares across sessions for one node, one slot per
/// key (say: plain or qualified name, language, answer), filled on first
/// use. Empty until the node is first stepped.
#[derive(Debug)]
pub struct Slots<T>(OnceLock<Box<[OnceLock<T>]>>);

/// What a step of a node shows in one language to one kind of reader
/// (customer or staff), kept by the engine when it is all literal.
#[derive(Debug)]
pub struct Shown {
    /// `NODE`, or `SCRIPT/NODE` inside a sub-flow.
    pub name: Text,
    pub text: Text,
    pub say: Option<Text>,
    /// Staff only.
    pub help: Option<Text>,
    pub answers: Arc<[AnswerRef]>,
    /// The trail head of each authored answer (of `done` for an
    /// instruction), made when first given.
    pub heads: Box<[OnceLock<Arc<Head>>]>,
}

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Slots(OnceLock::new())
    }
}

/// The engine's table beside a program: one [`Slots`] of shared views per
/// node, addressed by script index and node index, made once per program
/// (on its first step) and kept in [`Program::runtime`].
pub(crate) struct NodeViews {
    /// Where each script's nodes start in `views`; one more entry than
    /// there are scripts, so script `i` holds `views[offsets[i]..offsets[i + 1]]`.
    offsets: Box<[usize]>,
    views: Box<[Slots<Arc<Shown>>]>,
}

impl NodeViews {
    /// The table of `program`, made on first use.
    pub(crate) fn of(program: &Program) -> Option<&NodeViews> {
        program.runtime.get_or_init(|| NodeViews::new(program))
    }

    fn new(program: &Program) -> NodeViews {
        use petgraph::visit::NodeIndexable;
        let mut offsets = Vec::with_capacity(program.scripts.len() + 1);
        let mut total = 0;
        offsets.push(0);
        for script in &program.scripts {
            total += script.graph.node_bound();
            offsets.push(total);
        }
        NodeViews {
            offsets: offsets.into(),
            views: (0..total).map(|_| Slots::default()).collect(),
        }
    }

    /// The slots of node `node` of script `script`.
    pub(crate) fn node(&self, script: ScriptIdx, node: u32) -> Option<&Slots<Arc<Shown>>> {
        let i = script.0 as usize;
        let (start, end) = (*self.offsets.get(i)?, *self.offsets.get(i + 1)?);
        self.views[start..end].get(node as usize)
    }
}

impl<T> Slots<T> {
    /// The shared value at `slot` of `len` slots, made by `make` the first
    /// time; `make` returns `None` when the value is not shareable (then
    /// nothing is kept and the caller makes its own). Borrowed: no
    /// reference count is touched, so threads reading one shared value do
    /// not contend for its cache line.
    pub fn get_or_make_ref(
        &self,
        len: usize,
        slot: usize,
        make: impl FnOnce() -> Option<T>,
    ) -> Option<&T> {
        let slots = self
            .0
            .get_or_init(|| (0..len).map(|_| OnceLock::new()).collect());
        let cell = slots.get(slot)?;
        if let Some(v) = cell.get() {
            return Some(v);
        }
        let v = make()?;
        Some(cell.get_or_init(|| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_made_once_and_only_when_shareable() {
        let slots: Slots<Arc<Head>> = Slots::default();
        let mut made = 0;
        for _ in 0..3 {
            let h = slots.get_or_make_ref(4, 1, || {
                made += 1;
                Some(Arc::new(Head::new("n".into(), "say".into(), "t".into())))
            });
            assert!(h.is_some());
        }
        assert_eq!(made, 1);
        assert!(slots.get_or_make_ref(4, 2, || None).is_none());
        assert!(slots.get_or_make_ref(4, 9, || unreachable!()).is_none());
    }

    fn program(files: &[(&str, &str)]) -> Program {
        let comp = crate::compiler::compile_texts(
            files.iter().map(|(p, t)| (p.to_string(), t.to_string())),
        );
        let errors: Vec<_> = comp.diagnostics.iter().filter(|d| d.is_error()).collect();
        assert!(errors.is_empty(), "{errors:#?}");
        comp.program
    }

    #[test]
    fn the_table_gives_every_node_of_every_script_its_own_slots() {
        let p = program(&[
            (
                "a.yaml",
                "id: a\ntitle: A\nstart: x\nnodes:\n  x: { say: Hi, next: y }\n  y: { resolve: Done }\n",
            ),
            (
                "b.yaml",
                "id: b\ntitle: B\nstart: z\nnodes:\n  z: { resolve: Done }\n",
            ),
        ]);
        let views = NodeViews::of(&p).expect("the engine's table");
        assert!(
            std::ptr::eq(views, NodeViews::of(&p).expect("again")),
            "made once"
        );
        let (a, _) = p.get("a").expect("a");
        let (b, _) = p.get("b").expect("b");
        let slots = [
            views.node(a, 0).expect("a/x"),
            views.node(a, 1).expect("a/y"),
            views.node(b, 0).expect("b/z"),
        ];
        for (i, x) in slots.iter().enumerate() {
            for y in &slots[i + 1..] {
                assert!(!std::ptr::eq(*x, *y), "two nodes share slots");
            }
        }
        assert!(views.node(a, 2).is_none(), "a has two nodes");
        assert!(views.node(b, 1).is_none(), "b has one node");
        assert!(
            views.node(ScriptIdx(2), 0).is_none(),
            "there are two scripts"
        );
    }

    #[test]
    fn a_program_keeps_one_runtime_cache_type() {
        let p = program(&[(
            "a.yaml",
            "id: a\ntitle: A\nstart: y\nnodes:\n  y: { resolve: Done }\n",
        )]);
        assert!(NodeViews::of(&p).is_some());
        assert!(
            p.runtime.get_or_init(|| 7u32).is_none(),
            "another type is refused"
        );
    }
}
