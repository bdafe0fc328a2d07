//! One entry of the answer trail (contract section 4), kept small.
//!
//! What an entry records of the step it answers (node, kind, the texts as
//! shown, the answer, what it set) is a [`Head`]. For the usual step
//! (literal texts, an answer with literal `set` values) that head is the
//! same for every session that gives this answer in this language, so the
//! engine keeps one per node, language and answer (in `engine::Shown`) and every
//! entry shares it: an entry is then 32 bytes and allocates nothing. Steps
//! with something of their own (a rendered template, a typed value, a note,
//! an ending) get a head of their own. Either way the entry serializes to
//! the same JSON as before, and a trail read back from JSON holds its own
//! heads (no program needed to read or write a trail).

use super::{AnswerRef, VarSet};
use crate::program::Text;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::sync::Arc;
use time::OffsetDateTime;

/// What an entry records of its step, apart from who and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// `NODE`, or `SCRIPT/NODE` inside a sub-flow.
    pub node: Text,
    pub kind: Text,
    /// The text exactly as shown (for `say` before a question: both, the
    /// instruction in `say`).
    pub text: Text,
    pub answer: Option<AnswerRef>,
    pub set: VarSet,
    /// What few entries have: boxed, so a head is 64 bytes.
    rare: Option<Box<Rare>>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Rare {
    say: Option<Text>,
    value: Option<Text>,
    note: Option<Text>,
    /// Who took the answer back (`back`) and when: the entry's own, so a
    /// retracted entry never shares its head.
    retracted_by: Option<Text>,
    retracted_at: Option<OffsetDateTime>,
}

impl Head {
    pub fn new(node: Text, kind: Text, text: Text) -> Head {
        Head {
            node,
            kind,
            text,
            answer: None,
            set: VarSet::default(),
            rare: None,
        }
    }

    /// The instruction shown before the question, if any.
    pub fn say(&self) -> Option<&Text> {
        self.rare.as_ref()?.say.as_ref()
    }
    /// The value typed at an input.
    pub fn value(&self) -> Option<&str> {
        match self.rare.as_ref().and_then(|r| r.value.as_ref()) {
            Some(v) => Some(v.as_str()),
            None if self.kind == "input" => self.set.iter().next()?.1.as_str(),
            None => None,
        }
    }
    /// The note given when asking for a person.
    pub fn note(&self) -> Option<&Text> {
        self.rare.as_ref()?.note.as_ref()
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Box::default)
    }
    pub fn set_say(&mut self, say: Option<Text>) {
        if say.is_some() || self.rare.is_some() {
            self.rare_mut().say = say;
        }
    }
    /// The value typed at an input; call after `set`. A text value is what
    /// `set` holds already, so it is not kept twice: only a value that was
    /// stored as something else (a number) is kept as typed.
    pub fn set_value<V: AsRef<str> + Into<Text>>(&mut self, value: Option<V>) {
        let in_set = |v: &str| {
            self.kind == "input"
                && self.set.len() == 1
                && self.set.iter().next().and_then(|(_, j)| j.as_str()) == Some(v)
        };
        // Made into a `Text` only when kept.
        let value = value.filter(|v| !in_set(v.as_ref())).map(Into::into);
        if value.is_some() || self.rare.is_some() {
            self.rare_mut().value = value;
        }
    }
    pub fn set_note(&mut self, note: Option<Text>) {
        if note.is_some() || self.rare.is_some() {
            self.rare_mut().note = note;
        }
    }
    /// Who retracted the entry and when, if recorded.
    pub fn retraction(&self) -> Option<(&Text, OffsetDateTime)> {
        let r = self.rare.as_ref()?;
        Some((r.retracted_by.as_ref()?, r.retracted_at?))
    }
}

/// One entry of the answer trail: its [`Head`] (often shared), its place,
/// who gave it and when.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailEntry {
    head: Arc<Head>,
    /// Nanoseconds since 1970 (UTC): 8 bytes instead of an
    /// `OffsetDateTime`'s 16; covers the years 1677 to 2262.
    at: i64,
    seq: u32,
    retracted: bool,
    /// `customer`, an agent's name, or `system`.
    actor: Text,
}

impl TrailEntry {
    pub fn new(head: Arc<Head>, seq: u32, actor: Text, at: OffsetDateTime) -> TrailEntry {
        TrailEntry {
            head,
            at: to_nanos(at),
            seq,
            retracted: false,
            actor,
        }
    }

    pub fn seq(&self) -> u32 {
        self.seq
    }
    pub fn node(&self) -> &Text {
        &self.head.node
    }
    pub fn kind(&self) -> &Text {
        &self.head.kind
    }
    pub fn text(&self) -> &Text {
        &self.head.text
    }
    pub fn say(&self) -> Option<&Text> {
        self.head.say()
    }
    pub fn answer(&self) -> Option<&AnswerRef> {
        self.head.answer.as_ref()
    }
    pub fn value(&self) -> Option<&str> {
        self.head.value()
    }
    pub fn set(&self) -> &VarSet {
        &self.head.set
    }
    pub fn note(&self) -> Option<&Text> {
        self.head.note()
    }
    pub fn actor(&self) -> &Text {
        &self.actor
    }
    pub fn at(&self) -> OffsetDateTime {
        from_nanos(self.at)
    }
    pub fn retracted(&self) -> bool {
        self.retracted
    }
    pub fn set_retracted(&mut self, retracted: bool) {
        self.retracted = retracted;
    }
    /// Who retracted the entry and when (`retracted_by`, `retracted_at`).
    pub fn retraction(&self) -> Option<(&Text, OffsetDateTime)> {
        self.head.retraction()
    }
    /// Retracts the entry, recording who and when. The head becomes the
    /// entry's own (a step back is rare; a shared head stays shared by the
    /// entries that were not taken back).
    pub fn retract(&mut self, by: Text, at: OffsetDateTime) {
        self.retracted = true;
        let rare = Arc::make_mut(&mut self.head).rare_mut();
        rare.retracted_by = Some(by);
        rare.retracted_at = Some(at);
    }
    /// Removes what the person typed or was shown of their own: the texts
    /// (a templated text can quote a parameter or an input), a typed value,
    /// what the answer set, the agent's note. What the figures count stays:
    /// the node, its kind, the answer's id and label, who and when, and a
    /// retraction's who and when.
    pub fn erase_personal(&mut self) {
        let old = &*self.head;
        let mut head = Head::new(old.node.clone(), old.kind.clone(), Text::default());
        head.answer = old.answer.clone();
        if let Some((by, at)) = old.retraction() {
            let rare = head.rare_mut();
            rare.retracted_by = Some(by.clone());
            rare.retracted_at = Some(at);
        }
        self.head = Arc::new(head);
    }
    /// Gives the entry another place in a trail. Not part of the API: the
    /// store's load test copies one entry into many sessions with it.
    #[doc(hidden)]
    pub fn set_seq(&mut self, seq: u32) {
        self.seq = seq;
    }
    /// The head, to see whether it is shared. Not part of the API: the
    /// session-size benchmark and the sharing tests look at it.
    #[doc(hidden)]
    pub fn head(&self) -> &Arc<Head> {
        &self.head
    }
}

fn to_nanos(t: OffsetDateTime) -> i64 {
    // Saturates outside 1677–2262 rather than wrap.
    t.unix_timestamp_nanos()
        .clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn from_nanos(n: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(n)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

impl Serialize for TrailEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Field order as before the head was split out: node … set, then
        // actor, at, retracted, note.
        #[derive(Serialize)]
        struct Out<'a> {
            seq: u32,
            node: &'a Text,
            kind: &'a Text,
            text: &'a Text,
            #[serde(skip_serializing_if = "Option::is_none")]
            say: Option<&'a Text>,
            #[serde(skip_serializing_if = "Option::is_none")]
            answer: Option<&'a AnswerRef>,
            #[serde(skip_serializing_if = "Option::is_none")]
            value: Option<&'a str>,
            #[serde(skip_serializing_if = "VarSet::is_empty")]
            set: &'a VarSet,
            actor: &'a Text,
            #[serde(with = "time::serde::rfc3339")]
            at: OffsetDateTime,
            #[serde(skip_serializing_if = "std::ops::Not::not")]
            retracted: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            retracted_by: Option<&'a Text>,
            #[serde(
                skip_serializing_if = "Option::is_none",
                with = "time::serde::rfc3339::option"
            )]
            retracted_at: Option<OffsetDateTime>,
            #[serde(skip_serializing_if = "Option::is_none")]
            note: Option<&'a Text>,
        }
        let h = &*self.head;
        // Only while retracted: an entry put back by a later replay keeps
        // no stale retraction.
        let retraction = h.retraction().filter(|_| self.retracted);
        Out {
            seq: self.seq,
            node: &h.node,
            kind: &h.kind,
            text: &h.text,
            say: h.say(),
            answer: h.answer.as_ref(),
            value: h.value(),
            set: &h.set,
            actor: &self.actor,
            at: self.at(),
            retracted: self.retracted,
            retracted_by: retraction.map(|r| r.0),
            retracted_at: retraction.map(|r| r.1),
            note: h.note(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TrailEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<TrailEntry, D::Error> {
        #[derive(Deserialize)]
        struct In {
            seq: u32,
            node: Text,
            kind: Text,
            text: Text,
            #[serde(default)]
            say: Option<Text>,
            #[serde(default)]
            answer: Option<AnswerRef>,
            #[serde(default)]
            value: Option<Text>,
            #[serde(default)]
            set: VarSet,
            actor: Text,
            #[serde(with = "time::serde::rfc3339")]
            at: OffsetDateTime,
            #[serde(default)]
            retracted: bool,
            #[serde(default)]
            retracted_by: Option<Text>,
            #[serde(default, with = "time::serde::rfc3339::option")]
            retracted_at: Option<OffsetDateTime>,
            #[serde(default)]
            note: Option<Text>,
        }
        let e = In::deserialize(d)?;
        let mut head = Head::new(e.node, e.kind, e.text);
        head.answer = e.answer;
        head.set = e.set;
        head.set_say(e.say);
        head.set_value(e.value);
        head.set_note(e.note);
        if let (Some(by), Some(at)) = (e.retracted_by, e.retracted_at) {
            let rare = head.rare_mut();
            rare.retracted_by = Some(by);
            rare.retracted_at = Some(at);
        }
        let mut out = TrailEntry::new(Arc::new(head), e.seq, e.actor, e.at);
        out.retracted = e.retracted;
        Ok(out)
    }
}

/// A trail read from JSON, with no spare capacity (serde grows a `Vec` by
/// doubling; a stored session may be held in memory for a while).
pub(crate) fn deserialize_exact<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<TrailEntry>, D::Error> {
    let mut v = Vec::<TrailEntry>::deserialize(d)?;
    v.shrink_to_fit();
    Ok(v)
}

/// Appends to a trail, growing its buffer by a quarter rather than double:
/// a session's trail grows one entry per answer, and a 50-entry trail then
/// holds at most 51 slots instead of 64.
pub(crate) fn push(trail: &mut Vec<TrailEntry>, e: TrailEntry) {
    if trail.len() == trail.capacity() {
        trail.reserve_exact((trail.capacity() / 4).max(8));
    }
    trail.push(e);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_entry_is_small() {
        assert_eq!(std::mem::size_of::<TrailEntry>(), 32);
        assert_eq!(std::mem::size_of::<Head>(), 64);
    }

    #[test]
    fn an_entry_reads_back_to_the_same_json() {
        let mut head = Head::new("light".into(), "ask".into(), "Is it red?".into());
        head.answer = Some(AnswerRef {
            id: "yes".into(),
            label: "Yes".into(),
        });
        head.set = VarSet::new(vec![("light".into(), json!("red"))]);
        head.set_note(Some("called twice".into()));
        let at =
            OffsetDateTime::from_unix_timestamp_nanos(1_764_500_000_123_456_789).expect("a time");
        let mut e = TrailEntry::new(Arc::new(head), 3, "agent-ann".into(), at);
        e.set_retracted(true);
        let json = serde_json::to_value(&e).expect("serializes");
        assert_eq!(
            json,
            json!({
                "seq": 3, "node": "light", "kind": "ask", "text": "Is it red?",
                "answer": {"id": "yes", "label": "Yes"}, "set": {"light": "red"},
                "actor": "agent-ann", "at": "2025-11-30T10:53:20.123456789Z",
                "retracted": true, "note": "called twice"
            })
        );
        // Keys in the order the contract's example shows them.
        let text = serde_json::to_string(&e).expect("serializes");
        let keys: Vec<usize> = ["\"seq\"", "\"node\"", "\"set\"", "\"actor\"", "\"note\""]
            .iter()
            .map(|k| text.find(k).expect("present"))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
        let back: TrailEntry = serde_json::from_value(json).expect("deserializes");
        assert_eq!(back, e);
        assert_eq!(back.at(), at);
    }

    #[test]
    fn a_retraction_records_who_and_when_and_leaves_shared_heads_alone() {
        let head = Arc::new(Head::new("n".into(), "ask".into(), "Red?".into()));
        let at = OffsetDateTime::from_unix_timestamp(1_764_500_000).expect("a time");
        let mut a = TrailEntry::new(head.clone(), 1, "customer".into(), at);
        let b = TrailEntry::new(head.clone(), 2, "customer".into(), at);
        a.retract("customer".into(), at + time::Duration::minutes(2));
        assert!(a.retracted());
        assert!(Arc::ptr_eq(b.head(), &head), "the other entry still shares");
        assert_eq!(b.retraction(), None);
        let json = serde_json::to_value(&a).expect("serializes");
        assert_eq!(json["retracted_by"], "customer");
        assert_eq!(json["retracted_at"], "2025-11-30T10:55:20Z");
        let back: TrailEntry = serde_json::from_value(json.clone()).expect("deserializes");
        assert_eq!(back, a);
        assert!(
            serde_json::to_value(&b)
                .unwrap()
                .get("retracted_by")
                .is_none()
        );
    }

    #[test]
    fn the_trail_grows_by_a_quarter() {
        let head = Arc::new(Head::new("n".into(), "say".into(), "t".into()));
        let mut trail = Vec::new();
        for i in 0..50 {
            push(
                &mut trail,
                TrailEntry::new(head.clone(), i, "x".into(), OffsetDateTime::UNIX_EPOCH),
            );
        }
        assert!(trail.capacity() <= 56, "{}", trail.capacity());
    }
}
