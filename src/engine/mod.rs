//! The session engine: pure, synchronous, no I/O. The caller passes the
//! compiled [`Program`], the [`Session`] and `now`; the engine returns what
//! to show next or how the session ended, and appends to the answer trail.
//!
//! A session is plain serde data: the store can keep it, and a stored session
//! replays against the program it pinned (every script's content hash) to the
//! same state. Stepping addresses nodes by index; names are only read from
//! people (answer ids and labels) and in the trail they write.
//!
//! What every session of a node shows and records alike (its texts, its
//! answer list, the trail head of each answer) the engine keeps once per
//! program, in a table beside it ([`Shown`], module `shared`): a step of such a node copies no text, and a
//! trail entry is 32 bytes ([`TrailEntry`]). The session's own maps are small
//! sorted slices ([`Vars`]).

mod labels;
pub mod plural;
mod shared;
mod step;
mod trail;
mod vars;

use crate::program::Program;
pub use crate::program::Text;
pub use labels::LANGUAGES as CHROME_LANGUAGES;
pub use labels::{ANSWER_DONE, ANSWER_ESCALATE, ANSWER_NONE};
pub use shared::{Shown, Slots};
pub use step::{
    MAX_VALUE_CHARS, StepError, answer, back, current_node, escalate_now, none_fits, replay, start,
    view,
};
pub use trail::{Head, TrailEntry};
pub use vars::{VarSet, Vars};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use std::collections::BTreeMap;
use time::OffsetDateTime;

/// Who the session serves; decides what is shown (agent-only `help`) and
/// how the built-in escalation is worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Agent,
    Customer,
    Api,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Agent => "agent",
            Channel::Customer => "customer",
            Channel::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<Channel> {
        match s {
            "agent" => Some(Channel::Agent),
            "customer" => Some(Channel::Customer),
            "api" => Some(Channel::Api),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Resolved,
    Escalated,
}

/// What the caller asks for at session start.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub script: String,
    pub channel: Channel,
    /// A language the script speaks; default: the script's first.
    pub language: Option<String>,
    pub params: BTreeMap<String, Json>,
    /// Overrides of the script's variable defaults.
    pub vars: BTreeMap<String, Json>,
    /// The tier the session runs at; default: the script's `tier`.
    pub tier: Option<u8>,
}

impl StartOptions {
    pub fn new(script: impl Into<String>, channel: Channel) -> Self {
        StartOptions {
            script: script.into(),
            channel,
            language: None,
            params: BTreeMap::new(),
            vars: BTreeMap::new(),
            tier: None,
        }
    }
}

/// A script version a session runs (the root and every sub-flow it can reach).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Pin {
    /// Shared with the program's script (no copy per session).
    pub id: Text,
    pub version: Text,
}

/// One level of the sub-flow stack: a node of a pinned script.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Frame {
    /// Index into [`Session::pins`].
    pub pin: u16,
    /// The node's index in that script version's graph.
    pub node: u32,
}

/// An answer as shown: its id and its label in the session's language.
///
/// The strings are [`Text`]s shared with the program (or the engine's own
/// constants): showing and recording an answer copies no text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerRef {
    pub id: Text,
    pub label: Text,
}

/// How a session ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Ending {
    Resolved {
        node: String,
        text: String,
    },
    Escalated {
        node: String,
        reason: String,
        tier: u8,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        queue: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        notes: Vec<String>,
    },
}

/// The whole state of a session: serializable, replayable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub script: String,
    pub pins: Vec<Pin>,
    pub channel: Channel,
    pub language: String,
    pub tier: u8,
    pub params: Vars,
    /// The overrides given at start (kept so the session can be replayed).
    pub initial_vars: Vars,
    pub vars: Vars,
    /// The sub-flow stack; the last frame is the current node. Empty once ended.
    pub frames: Vec<Frame>,
    /// How often each node the loop guard counts was entered: (pin, node,
    /// count). Only nodes that can be entered twice are counted (see
    /// `Script::loop_guarded`); on an acyclic script this stays empty.
    pub visits: Vec<(u16, u32, u16)>,
    /// The `seq` of the current step; an answer must carry it.
    pub seq: u32,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<Box<Ending>>,
    #[serde(deserialize_with = "trail::deserialize_exact")]
    pub trail: Vec<TrailEntry>,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When its personal data was removed (retention, `fixpath erase`):
    /// what it keeps is what the figures count (see [`Session::erase_personal`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub erased_at: Option<OffsetDateTime>,
}

impl Session {
    /// Removes the personal data of an ended session (contract section 13):
    /// the parameters and variables (inputs, what the caller passed), the
    /// trail's texts, values and notes, and the ending's texts. The path
    /// stays: nodes, answers, times, retractions, the outcome.
    pub fn erase_personal(&mut self, at: OffsetDateTime) {
        self.params = Vars::new();
        self.initial_vars = Vars::new();
        self.vars = Vars::new();
        for e in &mut self.trail {
            e.erase_personal();
        }
        if let Some(ending) = self.ending.as_deref_mut() {
            match ending {
                Ending::Resolved { text, .. } => text.clear(),
                Ending::Escalated { reason, notes, .. } => {
                    reason.clear();
                    notes.clear();
                }
            }
        }
        self.erased_at = Some(at);
    }
}

/// What a shown step offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub seq: u32,
    pub node: Text,
    pub kind: Text,
    pub text: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<Text>,
    /// Shared with the program where every label is literal: showing a
    /// step copies no list.
    pub answers: std::sync::Arc<[AnswerRef]>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputSpec>,
    /// Can the person go back from here?
    pub can_go_back: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputSpec {
    #[serde(rename = "type")]
    pub kind: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    pub required: bool,
    /// The author's words under the field, rendered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<Text>,
    /// The author's words for a refused value, rendered; without them a
    /// client says what the engine's error says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid: Option<Text>,
}

/// What the person gives at a step.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// An answer by id or by label (in the session's or the default language),
    /// `_none` and `_escalate` included; for an instruction any of its answers.
    Answer(String),
    /// A value for an input node.
    Value(String),
}

/// The result of one move: the nodes entered on the way, for path tests
/// and analytics. Kept as indices (a step writes no names); ask for the
/// names with [`Advance::entered`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Advance {
    path: Vec<Entered>,
}

/// A node entered: its pin, its index, and whether it ran inside a sub-flow.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Entered {
    pin: u16,
    node: u32,
    nested: bool,
}

impl Advance {
    /// The nodes entered, as `NODE` or `SCRIPT/NODE` inside sub-flows:
    /// `s` is the session the move was made on.
    pub fn entered(&self, program: &Program, s: &Session) -> Vec<Text> {
        self.path
            .iter()
            .filter_map(|e| {
                let pin = s.pins.get(usize::from(e.pin))?;
                let (_, script) = program.get(&pin.id)?;
                let node = script
                    .graph
                    .node_weight(petgraph::stable_graph::NodeIndex::new(e.node as usize))?;
                Some(if e.nested {
                    node.qualified_name(&script.id).clone()
                } else {
                    node.name().clone()
                })
            })
            .collect()
    }

    /// How many nodes were entered.
    pub fn len(&self) -> usize {
        self.path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.path.is_empty()
    }
}
