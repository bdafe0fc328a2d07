//! Parse for canned replies (contract section 10): a reply file's YAML into
//! an [`ast::Reply`](crate::script::ast::Reply), with the same readers and
//! the same codes as a script's keys and texts.

use super::values::Parser;
use crate::diagnostics::{Code, Diagnostic, FileId, Span};
use crate::script::ast::{Reply, Spanned};
use crate::script::yaml::{self, Level, Value, Yaml};

pub const REPLY_KEYS: &[&str] = &["id", "title", "queues", "text"];

/// Parses a reply file's text. Returns `None` when the file holds no
/// usable reply (the reasons are in `diags`).
pub fn parse_reply(file: FileId, text: &str, diags: &mut Vec<Diagnostic>) -> Option<Reply> {
    let mut sink = ReplySink {
        p: Parser::new(file),
        reply: None,
        seen_root: false,
    };
    // A reply is a few keys: read whole, nothing streamed.
    let read = yaml::read(text, super::NODE_BUDGET + text.len(), &mut sink);
    super::report_problems(file, text, read.problems, diags);
    if read.aborted || !sink.seen_root {
        super::report_empty(file, "a reply needs `id`, `title` and `text`", diags);
        return None;
    }
    diags.append(&mut sink.p.diags);
    sink.reply
}

struct ReplySink {
    p: Parser,
    reply: Option<Reply>,
    seen_root: bool,
}

impl yaml::Sink for ReplySink {
    fn stream(&mut self, _key: Option<Yaml<'_>>) -> bool {
        false
    }

    fn entry(&mut self, _level: Level, _key: Yaml<'_>, _value: Yaml<'_>) {}

    fn root(&mut self, root: Yaml<'_>) {
        self.seen_root = true;
        self.reply = self.p.reply(root);
    }
}

impl Parser {
    fn reply(&mut self, root: Yaml<'_>) -> Option<Reply> {
        let Value::Map(entries) = root.value() else {
            self.err(
                Code::Fp003,
                root.span(),
                format!(
                    "a reply must be a mapping with `id`, `title` and `text`, found {}",
                    root.type_name()
                ),
            );
            return None;
        };
        let mut r = Reply {
            file: self.file,
            id: None,
            title: None,
            queues: None,
            text: None,
        };
        // Present but unusable (a wrong type) is reported as such, not
        // as missing as well.
        let (mut has_id, mut has_title, mut has_text) = (false, false, false);
        for (k, v) in entries.iter() {
            match k.as_str() {
                Some("id") => {
                    has_id = true;
                    r.id = self.id(v, "the reply id");
                }
                Some("title") => {
                    has_title = true;
                    r.title = self.text(v, "the reply's title");
                }
                Some("text") => {
                    has_text = true;
                    r.text = self.text(v, "the reply's text");
                }
                Some("queues") => r.queues = self.queues(v),
                _ => self.unknown_key(k, "a reply", REPLY_KEYS),
            }
        }
        let at = Span {
            start: root.span().start,
            end: root.span().start,
        };
        for (has, key) in [(has_id, "id"), (has_title, "title"), (has_text, "text")] {
            if !has {
                self.err(Code::Fp003, at, format!("the reply has no `{key}`"))
                    .hints
                    .push(format!("add `{key}:` at the top level"));
            }
        }
        Some(r)
    }

    /// `queues`: a non-empty list of queue names, each once.
    fn queues(&mut self, v: Yaml<'_>) -> Option<Vec<Spanned<String>>> {
        let Value::Seq(items) = v.value() else {
            self.wrong_type("`queues`", "a list of queue names such as `[network]`", v);
            return None;
        };
        if items.is_empty() {
            self.err(
                Code::Fp003,
                v.span(),
                "`queues` is empty, so no case would offer the reply",
            )
            .hints
            .push(
                "list the queues that offer it, or leave `queues` out to offer it on every queue"
                    .into(),
            );
            return None;
        }
        let mut out: Vec<Spanned<String>> = Vec::with_capacity(items.len());
        for item in items.iter() {
            let Some(q) = self.string(item, "a queue name") else {
                continue;
            };
            if out.iter().any(|x| x.value == q.value) {
                self.err(
                    Code::Fp004,
                    q.span,
                    format!("queue `{}` is listed twice", q.value),
                );
            } else {
                out.push(q);
            }
        }
        Some(out)
    }
}
