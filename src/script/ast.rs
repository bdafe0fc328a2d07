//! The script as the author wrote it: a typed mirror of the YAML file with a
//! span on everything, produced by the parse pass and consumed by the later
//! passes. Nothing here is resolved yet: references are still strings.

use crate::diagnostics::{FileId, Span};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// A text: a string in the default language, or language -> string.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    Plain(Spanned<String>),
    ByLanguage {
        entries: Vec<(Spanned<String>, Spanned<String>)>,
        span: Span,
    },
}

impl Text {
    pub fn span(&self) -> Span {
        match self {
            Text::Plain(s) => s.span,
            Text::ByLanguage { span, .. } => *span,
        }
    }

    /// The text in `lang`, falling back to a plain text.
    pub fn get(&self, lang: &str) -> Option<&Spanned<String>> {
        match self {
            Text::Plain(s) => Some(s),
            Text::ByLanguage { entries, .. } => entries
                .iter()
                .find(|(l, _)| l.value == lang)
                .map(|(_, t)| t),
        }
    }
}

/// A plain YAML value as used by `vars` and `set`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// The runtime's input types; the syntax names them the same way.
pub use crate::program::InputType;

/// An `escalate` (node or answer): a reason text, or `{reason, tier, queue}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Escalation {
    pub reason: Option<Text>,
    pub tier: Option<u8>,
    pub queue: Option<String>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Goto(Spanned<String>),
    Resolve(Text),
    /// Boxed: an escalation is twice the size of the other outcomes, and
    /// every answer holds an outcome.
    Escalate(Box<Escalation>),
    Return(Text),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub label: Text,
    /// The explicit id, or the slug of the default-language label.
    pub id: Spanned<String>,
    pub explicit_id: bool,
    /// Written in the short form `LABEL: TARGET`.
    pub short: bool,
    pub set: Vec<(Spanned<String>, Spanned<Scalar>)>,
    pub outcome: Option<Outcome>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arm {
    pub condition: Spanned<String>,
    pub goto: Spanned<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    Ask {
        ask: Text,
        say: Option<Text>,
        answers: Vec<Answer>,
    },
    Say {
        say: Text,
        next: Option<Spanned<String>>,
    },
    Input {
        input: Text,
        into: Option<Spanned<String>>,
        next: Option<Spanned<String>>,
        kind: InputType,
        pattern: Option<Spanned<String>>,
        required: bool,
        /// Shown under the field to everyone.
        hint: Option<Text>,
        /// Shown instead of the generic error when a value is refused.
        invalid: Option<Text>,
    },
    Branch {
        arms: Vec<Arm>,
        otherwise: Option<Spanned<String>>,
    },
    Resolve(Text),
    Escalate(Escalation),
    Use {
        script: Spanned<String>,
        next: Option<Spanned<String>>,
    },
    Return(Text),
    /// The node's kind could not be determined (FP006 or a type error);
    /// later passes skip it.
    Invalid,
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
            NodeKind::Invalid => "invalid",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub id: Spanned<String>,
    pub kind: NodeKind,
    pub help: Option<Text>,
    /// The span of the node's body (the mapping under the id).
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EscalationDefaults {
    pub tier: Option<u8>,
    pub queue: Option<String>,
}

/// One script file, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Script {
    pub file: FileId,
    pub id: Spanned<String>,
    pub title: Option<Text>,
    /// At least one; `[en]` when the file does not say.
    pub languages: Vec<Spanned<String>>,
    pub tier: u8,
    pub offer_none: bool,
    pub escalation: EscalationDefaults,
    pub max_visits: u32,
    pub tags: Vec<String>,
    pub vars: Vec<(Spanned<String>, Scalar)>,
    pub start: Option<Spanned<String>>,
    pub nodes: Vec<Node>,
    /// Where `nodes:` stands, for problems about the node list as a whole.
    pub nodes_span: Span,
}

impl Script {
    pub fn default_language(&self) -> &str {
        self.languages
            .first()
            .map(|l| l.value.as_str())
            .unwrap_or("en")
    }
}

/// One canned reply file, parsed (contract section 10): a text staff send to
/// a customer on a case. Every field is optional here so that a reply with
/// a missing key still has its other problems reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub file: FileId,
    pub id: Option<Spanned<String>>,
    pub title: Option<Text>,
    /// The queues whose cases offer the reply; `None`: every queue.
    pub queues: Option<Vec<Spanned<String>>>,
    pub text: Option<Text>,
}

/// The id an answer gets from its label when the author gives none: the label
/// transliterated to ASCII, lowercased, runs of anything else turned into `-`.
pub fn slug(label: &str) -> String {
    let ascii: std::borrow::Cow<str> = if label.is_ascii() {
        std::borrow::Cow::Borrowed(label)
    } else {
        deunicode::deunicode(label).into()
    };
    let mut out = String::with_capacity(ascii.len());
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// `[a-z0-9][a-z0-9-]*`: the shape of script, node and answer ids.
pub fn is_valid_id(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_ascii_ids_in_every_script() {
        assert_eq!(slug("Yes"), "yes");
        assert_eq!(slug("No, it is off!"), "no-it-is-off");
        assert_eq!(slug("Größe über"), "grosse-uber");
        assert_eq!(slug("Да"), "da");
        assert_eq!(slug("  --  "), "");
        assert!(is_valid_id(&slug("Ei, tuli ei põle")));
    }

    #[test]
    fn ids_follow_the_contract_pattern() {
        assert!(is_valid_id("router-no-internet"));
        assert!(is_valid_id("2fa"));
        assert!(!is_valid_id("-x"));
        assert!(!is_valid_id("Router"));
        assert!(!is_valid_id("_none"));
        assert!(!is_valid_id(""));
    }
}
