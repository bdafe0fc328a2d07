//! Canned replies (contract section 10): the texts a specialist sends a
//! customer on a case ("we need a photo of the display"), kept as files under
//! `replies/` beside the scripts and loaded, linted and reloaded with them.
//!
//! The compiler checks the files ([`crate::compiler::check::check_replies`])
//! and hands over a [`Replies`]: every reply's title and text compiled once,
//! in every language of the library. This module says which replies a case's
//! queue offers and renders one for a case, within the same bounds as a
//! script's text (a reply is an author's template too: a runaway loop must
//! fail cleanly, not stall the page that offers it).

use crate::program::bounds::{self, Exceeded};
use crate::program::templates::TemplatesBuilder;
use crate::program::{Templates, TextId};
use minijinja::Value;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// The names a reply's texts may read (FP009 otherwise). `script` offers
/// only `title` ([`SCRIPT_FIELDS`]).
pub const VARIABLES: &[&str] = &["reference", "params", "vars", "script", "agent"];
/// What a reply may read of `script`.
pub const SCRIPT_FIELDS: &[&str] = &["title"];

/// One compiled reply.
#[derive(Debug, Clone)]
pub struct Reply {
    pub id: String,
    /// The file it came from, as given to the compiler.
    pub path: String,
    pub title: TextId,
    pub text: TextId,
    /// The queues whose cases offer it; `None`: every queue.
    pub queues: Option<Vec<String>>,
}

impl Reply {
    /// Is the reply offered on a case in `queue` (`None`: a case without a
    /// queue, which only the replies for every queue fit)?
    pub fn offered_on(&self, queue: Option<&str>) -> bool {
        match &self.queues {
            None => true,
            Some(queues) => queue.is_some_and(|q| queues.iter().any(|x| x == q)),
        }
    }
}

/// What a reply is rendered against: the case it answers and who sends it.
/// A value left out renders as empty text (and `| default(...)` applies).
#[derive(Debug, Clone, Default)]
pub struct ReplyContext {
    /// The case's reference, as the customer was shown it (`K7QF-2M9D`).
    pub reference: Option<String>,
    /// The session's params (a customer name, a ticket number…).
    pub params: BTreeMap<String, Json>,
    /// The session's variables.
    pub vars: BTreeMap<String, Json>,
    /// The script's title in the case's language (`script.title`).
    pub script_title: Option<String>,
    /// The name of the person sending the reply.
    pub agent: Option<String>,
}

impl ReplyContext {
    fn value(&self) -> Value {
        // Absent values are left out, not null: minijinja shows `none` for
        // a null, and nothing for a name that is not there.
        let mut ctx: BTreeMap<&str, Value> = BTreeMap::new();
        if let Some(r) = &self.reference {
            ctx.insert("reference", Value::from(r.as_str()));
        }
        ctx.insert("params", Value::from_serialize(&self.params));
        ctx.insert("vars", Value::from_serialize(&self.vars));
        let mut script: BTreeMap<&str, Value> = BTreeMap::new();
        if let Some(t) = &self.script_title {
            script.insert("title", Value::from(t.as_str()));
        }
        ctx.insert("script", Value::from(script));
        if let Some(a) = &self.agent {
            ctx.insert("agent", Value::from(a.as_str()));
        }
        Value::from(ctx)
    }
}

/// A reply that could not be rendered for a case.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    #[error("the reply `{reply}` could not be rendered: {bound}")]
    Exceeded { reply: String, bound: Exceeded },
    #[error("the reply `{reply}` could not be rendered: {message}")]
    Template { reply: String, message: String },
}

/// Every reply of a library, compiled.
pub struct Replies {
    replies: Vec<Reply>,
    templates: Templates,
    /// The library's languages, the default first: every text has one
    /// piece per language, in this order.
    languages: Vec<String>,
}

impl std::fmt::Debug for Replies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies")
            .field(
                "replies",
                &self.replies.iter().map(|r| &r.id).collect::<Vec<_>>(),
            )
            .field("languages", &self.languages)
            .finish()
    }
}

impl Default for Replies {
    fn default() -> Self {
        Replies::new(Vec::new(), Templates::builder().finish().0, Vec::new())
    }
}

impl Replies {
    /// Replies in the order they are offered; `templates` holds their texts
    /// with one piece per language of `languages`.
    pub fn new(languages: Vec<String>, templates: Templates, replies: Vec<Reply>) -> Self {
        Replies {
            replies,
            templates,
            languages,
        }
    }

    /// The builder the compiler compiles replies' texts with.
    pub fn builder() -> TemplatesBuilder {
        TemplatesBuilder::for_prose()
    }

    pub fn len(&self) -> usize {
        self.replies.len()
    }

    pub fn is_empty(&self) -> bool {
        self.replies.is_empty()
    }

    /// Every reply, in the order offered (by file path).
    pub fn iter(&self) -> impl Iterator<Item = &Reply> {
        self.replies.iter()
    }

    pub fn get(&self, id: &str) -> Option<&Reply> {
        self.replies.iter().find(|r| r.id == id)
    }

    /// The replies a case in `queue` offers: those for every queue and
    /// those that name it.
    pub fn replies_for<'a>(&'a self, queue: Option<&str>) -> impl Iterator<Item = &'a Reply> {
        self.replies.iter().filter(move |r| r.offered_on(queue))
    }

    /// The languages every reply speaks, the default first.
    pub fn languages(&self) -> &[String] {
        &self.languages
    }

    /// The language a reply is rendered in for a case in `language`: that
    /// one when the library speaks it, else the default.
    pub fn language_for<'a>(&'a self, language: &'a str) -> &'a str {
        match self.languages.iter().find(|l| *l == language) {
            Some(l) => l,
            None => self.languages.first().map_or("en", String::as_str),
        }
    }

    /// The reply's text for a case in `language` (falling back to the
    /// default language), rendered against `ctx` within the render bounds.
    pub fn render(
        &self,
        reply: &Reply,
        language: &str,
        ctx: &ReplyContext,
    ) -> Result<String, ReplyError> {
        self.render_text(reply, reply.text, language, ctx)
    }

    /// The reply's title, as [`render`](Self::render) renders its text: what
    /// the form that offers replies lists.
    pub fn title(
        &self,
        reply: &Reply,
        language: &str,
        ctx: &ReplyContext,
    ) -> Result<String, ReplyError> {
        self.render_text(reply, reply.title, language, ctx)
    }

    fn render_text(
        &self,
        reply: &Reply,
        text: TextId,
        language: &str,
        ctx: &ReplyContext,
    ) -> Result<String, ReplyError> {
        let lang = self
            .languages
            .iter()
            .position(|l| l == language)
            .unwrap_or(0);
        match self.templates.render(text, lang, &ctx.value()) {
            // A block scalar ends in a line break; a message does not.
            Ok(s) => Ok(s.trim_end().to_owned()),
            Err(e) => Err(match bounds::exceeded(&e) {
                Some(bound) => ReplyError::Exceeded {
                    reply: reply.id.clone(),
                    bound,
                },
                None => ReplyError::Template {
                    reply: reply.id.clone(),
                    message: match e.detail() {
                        Some(d) => d.to_string(),
                        None => e.kind().to_string(),
                    },
                },
            }),
        }
    }
}

#[cfg(test)]
mod tests;
