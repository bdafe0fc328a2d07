//! The compiled, immutable library of scripts: what every later feature (the
//! engine, the test runner, the server) runs on.
//!
//! One petgraph per script, nodes and answers addressed by index, every text
//! and expression compiled once into [`Templates`], and a content hash per
//! script (its `version`) so sessions can pin exactly what they ran.

pub mod bounds;
pub mod export;
pub mod templates;
pub mod text;

pub use templates::{Templates, TextPiece};
pub use text::Text;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Index of a script in [`Program::scripts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptIdx(pub u32);

/// Index of a compiled text in [`Templates`]; one entry per script language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TextId(pub u32);

/// Index of a compiled `if:` expression in [`Templates`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ExprId(pub u32);

/// A value as written in `vars` or `set`.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// What an input node asks for; decides how a value is checked and stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputType {
    #[default]
    Text,
    Number,
    Email,
    Phone,
}

impl InputType {
    pub const NAMES: [&'static str; 4] = ["text", "number", "email", "phone"];

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "text" => InputType::Text,
            "number" => InputType::Number,
            "email" => InputType::Email,
            "phone" => InputType::Phone,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum SetValue {
    Literal(Literal),
    /// A string holding `{{`: rendered, then stored as a number or boolean
    /// where the result parses as one (contract section 2, Expressions).
    Template(TextId),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Escalation {
    pub reason: Option<TextId>,
    pub tier: Option<u8>,
    pub queue: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Goto(NodeIndex),
    Resolve(TextId),
    Escalate(Escalation),
    Return(TextId),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub id: String,
    pub label: TextId,
    pub set: Vec<(Text, SetValue)>,
    pub outcome: Outcome,
    /// `id` as a shared [`Text`], made on first use: the engine hands it to
    /// every step and trail entry without copying it.
    pub shared_id: OnceLock<Text>,
}

impl Answer {
    /// The id as a shared [`Text`] (allocated once, on first use).
    pub fn id_text(&self) -> &Text {
        self.shared_id.get_or_init(|| Text::from(&self.id))
    }
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Ask {
        text: TextId,
        say: Option<TextId>,
        answers: Vec<Answer>,
    },
    Say {
        text: TextId,
        next: NodeIndex,
    },
    Input {
        text: TextId,
        into: Text,
        next: NodeIndex,
        kind: InputType,
        pattern: Option<regex::Regex>,
        required: bool,
        /// Shown under the field to everyone.
        hint: Option<TextId>,
        /// Shown instead of the generic error when a value is refused.
        invalid: Option<TextId>,
    },
    Branch {
        arms: Vec<(ExprId, NodeIndex)>,
        otherwise: NodeIndex,
    },
    Resolve(TextId),
    Escalate(Escalation),
    Use {
        script: ScriptIdx,
        next: NodeIndex,
    },
    Return(TextId),
}

impl NodeKind {
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Ask { .. } => "ask",
            NodeKind::Say { .. } => "say",
            NodeKind::Input { .. } => "input",
            NodeKind::Branch { .. } => "branch",
            NodeKind::Resolve(_) => "resolve",
            NodeKind::Escalate(_) => "escalate",
            NodeKind::Use { .. } => "use",
            NodeKind::Return(_) => "return",
        }
    }

    /// Nodes that end the script by themselves.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            NodeKind::Resolve(_) | NodeKind::Escalate(_) | NodeKind::Return(_)
        )
    }

    /// Nodes that put a question to the person (counted by FP103).
    pub fn is_question(&self) -> bool {
        matches!(self, NodeKind::Ask { .. } | NodeKind::Input { .. })
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub help: Option<TextId>,
    /// The names the engine shows and writes in trails, made on first use
    /// (most nodes of a large script are never visited).
    pub names: NodeNames,
    /// Does the node show only literal texts, in every language? Found on
    /// first use: then entering it needs no trial render, and the engine
    /// never looks at its texts' pieces again.
    pub literal: OnceLock<bool>,
}

/// A node's name as a shared [`Text`]: plain (`NODE`, at the top level) and
/// qualified (`SCRIPT/NODE`, inside a sub-flow).
#[derive(Debug, Clone, Default)]
pub struct NodeNames {
    plain: OnceLock<Text>,
    qualified: OnceLock<Text>,
}

impl Node {
    /// `NODE`, allocated once.
    pub fn name(&self) -> &Text {
        self.names.plain.get_or_init(|| Text::from(&self.id))
    }

    /// Are the texts this node shows (text, say, labels) literals in every
    /// language, so nothing about them can fail at run time?
    pub fn shows_only_literals(&self, templates: &Templates) -> bool {
        *self.literal.get_or_init(|| {
            let literal = |id: TextId| {
                templates
                    .pieces(id)
                    .iter()
                    .all(|p| matches!(p, TextPiece::Literal(_)))
            };
            match &self.kind {
                NodeKind::Ask { text, say, answers } => {
                    literal(*text)
                        && say.is_none_or(literal)
                        && answers.iter().all(|a| literal(a.label))
                }
                NodeKind::Say { text, .. } => literal(*text),
                NodeKind::Input {
                    text,
                    hint,
                    invalid,
                    ..
                } => literal(*text) && hint.is_none_or(literal) && invalid.is_none_or(literal),
                _ => false,
            }
        })
    }

    /// `SCRIPT/NODE`, allocated once.
    pub fn qualified_name(&self, script: &str) -> &Text {
        self.names
            .qualified
            .get_or_init(|| Text::from(format!("{script}/{}", self.id)))
    }
}

/// Why an edge exists; the graph's edges mirror the node's references.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// The answer at this position of an `ask` node.
    Answer(u16),
    /// `next` of a say, input or use.
    Next,
    /// The arm at this position of a branch.
    Branch(u16),
    Else,
}

#[derive(Debug, Clone)]
pub struct Script {
    pub id: String,
    /// The file it came from, as given to the compiler.
    pub path: String,
    /// The content hash of the file: 16 hex digits of its SHA-256.
    pub version: String,
    pub title: TextId,
    pub languages: Vec<String>,
    pub tier: u8,
    pub offer_none: bool,
    pub escalation_tier: Option<u8>,
    pub escalation_queue: Option<String>,
    pub max_visits: u32,
    pub tags: Vec<String>,
    pub vars: Vec<(String, Literal)>,
    pub start: NodeIndex,
    pub graph: StableDiGraph<Node, Edge>,
    /// Node id -> index; for the few places that take ids from people
    /// (tests, the API). Stepping never looks anything up by name.
    pub node_index: NodeMap,
    /// The sub-flows this script runs through `use`, each once.
    pub uses: Vec<ScriptIdx>,
    /// The nodes the loop guard counts, one bit per node index, made on
    /// first use (see [`Script::loop_guarded`]).
    pub guarded: OnceLock<Box<[u64]>>,
    /// `id` and `version` as shared [`Text`]s, made on first use: every
    /// session pins them without a copy.
    pub pin_texts: OnceLock<(Text, Text)>,
}

impl Script {
    /// The position of `lang` in this script's languages, if it speaks it.
    pub fn language_index(&self, lang: &str) -> Option<usize> {
        self.languages.iter().position(|l| l == lang)
    }

    pub fn node(&self, ix: NodeIndex) -> &Node {
        &self.graph[ix]
    }

    /// Nodes in the order the author wrote them.
    pub fn nodes(&self) -> impl Iterator<Item = (NodeIndex, &Node)> {
        self.graph.node_indices().map(move |i| (i, &self.graph[i]))
    }

    /// `id` and `version`, shared.
    pub fn pin_texts(&self) -> &(Text, Text) {
        self.pin_texts
            .get_or_init(|| (Text::from(&self.id), Text::from(&self.version)))
    }

    /// Does the loop guard count entries into this node? Only a node that
    /// can be entered twice in one session is counted: one on a cycle of
    /// this script's graph, a `use` node (a chain of sub-flows can lead
    /// back to it), and every node of a sub-flow (it runs once per `use`).
    /// Any endless run of nodes passes one of these endlessly, so the guard
    /// still ends it; and a session on an acyclic script counts nothing.
    pub fn loop_guarded(&self, ix: NodeIndex) -> bool {
        let bits = self.guarded.get_or_init(|| {
            let sccs = petgraph::algo::tarjan_scc(&self.graph);
            self.guard_bits(sccs.into_iter().filter(|c| self.is_cycle(c)).flatten())
        });
        let i = ix.index();
        bits.get(i / 64).is_some_and(|w| (w >> (i % 64)) & 1 == 1)
    }

    /// Is this strongly connected component a cycle: more than one node,
    /// or one node that leads to itself?
    pub fn is_cycle(&self, scc: &[NodeIndex]) -> bool {
        match scc {
            [one] => self.graph.contains_edge(*one, *one),
            _ => !scc.is_empty(),
        }
    }

    /// Sets which nodes the loop guard counts from the nodes on a cycle, as
    /// the compiler's lints found them, so no session has to search the
    /// graph. Does nothing if already known.
    pub fn set_cycle_nodes(&self, on_cycle: impl IntoIterator<Item = NodeIndex>) {
        if self.guarded.get().is_none() {
            let _ = self.guarded.set(self.guard_bits(on_cycle));
        }
    }

    fn guard_bits(&self, on_cycle: impl IntoIterator<Item = NodeIndex>) -> Box<[u64]> {
        use petgraph::visit::NodeIndexable;
        let n = self.graph.node_bound();
        if self.is_subflow() {
            return vec![u64::MAX; n.div_ceil(64)].into_boxed_slice();
        }
        let mut bits = vec![0u64; n.div_ceil(64)];
        let mut set = |i: NodeIndex| bits[i.index() / 64] |= 1 << (i.index() % 64);
        on_cycle.into_iter().for_each(&mut set);
        for (ix, node) in self.nodes() {
            if matches!(node.kind, NodeKind::Use { .. }) {
                set(ix);
            }
        }
        bits.into_boxed_slice()
    }

    /// Is this a sub-flow (a script that ends in `return`)?
    pub fn is_subflow(&self) -> bool {
        self.graph.node_weights().any(|n| {
            matches!(n.kind, NodeKind::Return(_))
                || matches!(&n.kind, NodeKind::Ask { answers, .. } if answers.iter().any(|a| matches!(a.outcome, Outcome::Return(_))))
        })
    }
}

/// The hasher of [`Program::by_id`]: every engine call checks each pinned
/// script by id, and SipHash was a tenth of a step. Script ids come from the
/// library's authors, not from the network, so a fast non-keyed hash (FxHash's
/// multiply-rotate, a word at a time) is safe here.
pub type IdHash = std::hash::BuildHasherDefault<IdHasher>;

/// Node id -> graph index, as a script keeps it (built by resolve).
pub type NodeMap = HashMap<String, NodeIndex, IdHash>;

#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(K);
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0.rotate_left(5) ^ u64::from(i)).wrapping_mul(0x517c_c1b7_2722_0a95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The compiled library.
pub struct Program {
    pub scripts: Vec<Script>,
    pub by_id: HashMap<String, ScriptIdx, IdHash>,
    pub templates: Templates,
    /// A hash over every script's id and version: equal programs, equal hash.
    pub hash: String,
    /// What the runtime keeps for this program (the engine: what each
    /// node's steps show), made on first use.
    pub runtime: RuntimeCache,
}

/// What a runtime keeps for one program, made on first use and shared by
/// every session that runs it. Opaque here, so that the program names no
/// type of the runtime that runs it.
#[derive(Default)]
pub struct RuntimeCache(OnceLock<Box<dyn std::any::Any + Send + Sync>>);

impl RuntimeCache {
    /// The cache, made by `make` the first time; `None` if it was made as
    /// another type (then the caller does without).
    pub fn get_or_init<T: std::any::Any + Send + Sync>(
        &self,
        make: impl FnOnce() -> T,
    ) -> Option<&T> {
        self.0.get_or_init(|| Box::new(make())).downcast_ref()
    }
}

impl std::fmt::Debug for Program {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Program")
            .field("scripts", &self.scripts.len())
            .field("hash", &self.hash)
            .finish()
    }
}

impl Program {
    pub fn script(&self, ix: ScriptIdx) -> &Script {
        &self.scripts[ix.0 as usize]
    }

    pub fn get(&self, id: &str) -> Option<(ScriptIdx, &Script)> {
        self.by_id.get(id).map(|&ix| (ix, self.script(ix)))
    }
}
