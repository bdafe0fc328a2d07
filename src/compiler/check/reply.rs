//! Canned replies, checked the way a script's texts are and with the same
//! codes: FP013 against the library's languages, FP008 for a template that
//! does not parse, FP009 for a name a reply cannot read, FP106 for a bare
//! `params.X` (a reply goes to the customer), FP107 for a costly loop, FP004
//! for an id two files use.
//!
//! A reply has no `languages` of its own: it answers cases of every script,
//! so it speaks every language the library's scripts list.

use super::text::list;
use super::*;
use crate::program::bounds::{self, LARGE_RANGE};
use crate::program::templates::is_template;
use crate::reply::{Replies, Reply, SCRIPT_FIELDS, VARIABLES};

/// The library's languages: every language a script lists, in the order
/// first listed (scripts in the order loaded, which is by path); `[en]`
/// without scripts. The first is the replies' default language.
pub fn library_languages(scripts: &[ast::Script]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in scripts {
        for l in &s.languages {
            if !out.contains(&l.value) {
                out.push(l.value.clone());
            }
        }
    }
    if out.is_empty() {
        out.push("en".into());
    }
    out
}

/// Checks and compiles every reply. Replies with an id go into the result
/// (the first file of a duplicate id only), in the order given.
pub fn check_replies(
    replies: &[ast::Reply],
    languages: Vec<String>,
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) -> Replies {
    let langs: Vec<&str> = languages.iter().map(String::as_str).collect();
    let mut builder = Replies::builder();
    let mut out = Vec::new();
    let mut first: HashMap<&str, (FileId, Span)> = HashMap::new();
    for r in replies {
        let mut duplicate = false;
        if let Some(id) = &r.id {
            match first.get(id.value.as_str()) {
                Some(&(file, span)) => {
                    duplicate = true;
                    diags.push(
                        Diagnostic::new(
                            Code::Fp004,
                            r.file,
                            id.span,
                            format!("reply id `{}` is already used by another file", id.value),
                        )
                        .with_label("duplicate reply id")
                        .with_related_in(file, span, "first defined here")
                        .with_hint(
                            "reply ids are unique across the replies folder; rename one of them",
                        ),
                    );
                }
                None => {
                    first.insert(&id.value, (r.file, id.span));
                }
            }
        }
        let mut c = Ctx {
            file: r.file,
            langs: &langs,
            builder: &mut builder,
            diags,
            reads: Vec::new(),
            params: Vec::new(),
            owner: Owner::Reply,
        };
        let title = match &r.title {
            Some(t) => c.text(t, "the reply's title"),
            None => c.empty(),
        };
        let text = match &r.text {
            Some(t) => c.text(t, "the reply's text"),
            None => c.empty(),
        };
        let (reads, params) = (c.reads, c.params);
        unknown_names(r, &reads, sources, diags);
        for t in r.title.iter().chain(&r.text) {
            script_fields(r.file, t, sources, diags);
        }
        bare_params(r.file, &params, sources, diags);
        if let Some(t) = &r.text {
            costly(r.file, t, diags);
        }
        if let (Some(id), false) = (&r.id, duplicate) {
            out.push(Reply {
                id: id.value.clone(),
                path: sources.path(r.file).to_owned(),
                title,
                text,
                queues: r
                    .queues
                    .as_ref()
                    .map(|qs| qs.iter().map(|q| q.value.clone()).collect()),
            });
        }
    }
    let (templates, _) = builder.finish();
    Replies::new(languages, templates, out)
}

/// FP009: a name a reply cannot read (a script's variable, most often,
/// which a reply reads as `vars.NAME`).
fn unknown_names(
    r: &ast::Reply,
    reads: &[(String, Span)],
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) {
    let mut reported = HashSet::new();
    for (name, span) in reads {
        if VARIABLES.contains(&name.as_str()) || !reported.insert((name, span)) {
            continue;
        }
        let hint = match did_you_mean(name, VARIABLES.iter().copied()) {
            Some(h) => format!("did you mean `{h}`?"),
            None => format!(
                "a reply reads {}; the session's variables are under `vars`: `{{{{ vars.{name} }}}}`",
                readable()
            ),
        };
        diags.push(
            Diagnostic::new(
                Code::Fp009,
                r.file,
                locate(sources, r.file, *span, name, 0),
                format!("variable `{name}` is not available in a reply"),
            )
            .with_label("unknown variable")
            .with_hint(hint),
        );
    }
}

/// What a reply reads, in words: `reference`, `params`, … `script.title`.
fn readable() -> String {
    let names: Vec<String> = VARIABLES
        .iter()
        .map(|v| match *v {
            "script" => SCRIPT_FIELDS
                .iter()
                .map(|f| format!("script.{f}"))
                .collect::<Vec<_>>()
                .join(", "),
            v => v.to_owned(),
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    list(&names)
}

/// FP009 for `script.X` other than the fields a reply knows.
fn script_fields(file: FileId, t: &Text, sources: &Sources, diags: &mut Vec<Diagnostic>) {
    let pieces: Vec<&ast::Spanned<String>> = match t {
        Text::Plain(s) => vec![s],
        Text::ByLanguage { entries, .. } => entries.iter().map(|(_, s)| s).collect(),
    };
    for s in pieces {
        if !is_template(&s.value) || !s.value.contains("script") {
            continue;
        }
        // The nested names (`script.id`) come from a plain parse; one that
        // does not parse was reported as FP008.
        let env = minijinja::Environment::new();
        let Ok(tmpl) = env.template_from_str(&s.value) else {
            continue;
        };
        let mut found: Vec<String> = tmpl
            .undeclared_variables(true)
            .into_iter()
            .filter_map(|n| n.strip_prefix("script.").map(str::to_owned))
            .filter(|f| !SCRIPT_FIELDS.contains(&f.as_str()))
            .collect();
        found.sort();
        for field in found {
            let written = format!("script.{field}");
            diags.push(
                Diagnostic::new(
                    Code::Fp009,
                    file,
                    locate(sources, file, s.span, &written, 0),
                    format!("`{written}` is not available in a reply"),
                )
                .with_label("unknown field")
                .with_hint(format!(
                    "a reply knows the script's {} only",
                    list(SCRIPT_FIELDS)
                )),
            );
        }
    }
}

/// FP106: a reply is read by the customer, whose session may have started
/// without params (the wizard passes none).
fn bare_params(file: FileId, params: &[ParamUse], sources: &Sources, diags: &mut Vec<Diagnostic>) {
    let mut reported = HashSet::new();
    for p in params {
        let name = &p.found.name;
        let span = locate(sources, file, p.span, &p.found.written, p.found.occurrence);
        if !reported.insert((span.start.line, span.start.column)) {
            continue;
        }
        diags.push(
            Diagnostic::new(
                Code::Fp106,
                file,
                span,
                format!("`params.{name}` shows as nothing when the session was started without it"),
            )
            .with_label("no fallback")
            .with_hint(format!(
                "a reply goes to customers who may have started the session themselves, with no params: write `{{{{ params.{name} | default(\"...\") }}}}`, or put the words around it inside `{{% if params.{name} %}}...{{% endif %}}`"
            )),
        );
    }
}

/// FP107: the reply's text repeats something inside a loop.
fn costly(file: FileId, t: &Text, diags: &mut Vec<Diagnostic>) {
    let pieces: Vec<&ast::Spanned<String>> = match t {
        Text::Plain(s) => vec![s],
        Text::ByLanguage { entries, .. } => entries.iter().map(|(_, s)| s).collect(),
    };
    let found = pieces.iter().find_map(|s| {
        is_template(&s.value)
            .then(|| bounds::costly_in_loop(&s.value))
            .flatten()
            .map(|what| (what, s.span))
    });
    if let Some((what, span)) = found {
        diags.push(
            Diagnostic::new(
                Code::Fp107,
                file,
                span,
                format!("the reply's text {what} inside a loop"),
            )
            .with_label("this text")
            .with_hint(format!(
                "a reply renders within the bounds of any text; loop over a few items (a list, a range of at most {LARGE_RANGE}) and repeat nothing in a loop"
            )),
        );
    }
}

/// Where the `nth` (from 0) occurrence of `needle`, as a whole name, stands
/// in the text at `span`: on any of its lines, since a reply is usually a
/// block of several (`text: |`). The whole span when it is not found (a
/// quoted text whose escapes moved it, say).
fn locate(sources: &Sources, file: FileId, span: Span, needle: &str, nth: usize) -> Span {
    let Some(src) = sources.get(file) else {
        return span;
    };
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut seen = 0;
    for line_no in span.start.line..=span.end.line.max(span.start.line) {
        let line = src.line(line_no);
        let from = if line_no == span.start.line {
            line.char_indices()
                .nth(span.start.column.saturating_sub(1) as usize)
                .map_or(line.len(), |(i, _)| i)
        } else {
            0
        };
        let bytes = line.as_bytes();
        let mut search = from;
        while let Some(off) = line[search..].find(needle) {
            let at = search + off;
            let end = at + needle.len();
            search = end;
            if (at > 0 && is_name(bytes[at - 1])) || (end < bytes.len() && is_name(bytes[end])) {
                continue;
            }
            if seen < nth {
                seen += 1;
                continue;
            }
            let column = line[..at].chars().count() as u32 + 1;
            let pos = |column| crate::diagnostics::Pos {
                line: line_no,
                column,
                index: span.start.index,
            };
            return Span {
                start: pos(column),
                end: pos(column + needle.chars().count() as u32),
            };
        }
    }
    span
}
