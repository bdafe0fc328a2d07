//! FP107, costly text: a text repeats a string or walks a large range
//! inside a loop.
//!
//! Why: a text renders at every step, and repetition inside a loop
//! multiplies; the engine's render bounds stop such a text and escalate the
//! session, and this finds it before a customer does. How: every text of
//! every node, in every language, is parsed and searched
//! ([`bounds::costly_in_loop`]); one warning per node, at the node.

use super::LintCtx;
use crate::diagnostics::{Code, Diagnostic};
use crate::program::bounds::{self, LARGE_RANGE};
use crate::program::templates::is_template;
use crate::program::{Escalation, NodeKind, Outcome, SetValue, TextId};

pub(super) fn check(ctx: &LintCtx<'_>, diags: &mut Vec<Diagnostic>) {
    let s = ctx.script();
    let templates = &ctx.program.templates;
    let languages = s.languages.len().max(1);
    for n in s.graph.node_indices() {
        let node = &s.graph[n];
        let found = texts_of(&node.kind, node.help).into_iter().find_map(|t| {
            (0..languages).find_map(|lang| {
                let src = templates.source(t, lang);
                if is_template(&src) {
                    bounds::costly_in_loop(&src)
                } else {
                    None
                }
            })
        });
        if let Some(what) = found {
            diags.push(
                ctx.diag(
                    Code::Fp107,
                    Some(n),
                    format!("a text of `{}` {what} inside a loop", node.id),
                )
                .with_label("this node's text")
                .with_hint(format!(
                    "a text renders at every step; loop over a few items (a list, a range of at most {LARGE_RANGE}) and repeat nothing in a loop"
                )),
            );
        }
    }
}

/// Every text a node shows or records.
fn texts_of(kind: &NodeKind, help: Option<TextId>) -> Vec<TextId> {
    let mut out: Vec<TextId> = help.into_iter().collect();
    let escalation = |e: &Escalation, out: &mut Vec<TextId>| out.extend(e.reason);
    match kind {
        NodeKind::Ask { text, say, answers } => {
            out.push(*text);
            out.extend(*say);
            for a in answers {
                out.push(a.label);
                for (_, v) in &a.set {
                    if let SetValue::Template(t) = v {
                        out.push(*t);
                    }
                }
                match &a.outcome {
                    Outcome::Goto(_) => {}
                    Outcome::Resolve(t) | Outcome::Return(t) => out.push(*t),
                    Outcome::Escalate(e) => escalation(e, &mut out),
                }
            }
        }
        NodeKind::Say { text, .. } | NodeKind::Input { text, .. } => out.push(*text),
        NodeKind::Resolve(t) | NodeKind::Return(t) => out.push(*t),
        NodeKind::Escalate(e) => escalation(e, &mut out),
        NodeKind::Branch { .. } | NodeKind::Use { .. } => {}
    }
    out
}
