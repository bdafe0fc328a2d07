//! The variables (FP009, FP104) and parameters of scripts linked by `use`.

use super::*;

/// FP009 and FP104, over groups of scripts linked by `use`.
pub(super) fn check_variables(
    resolved: &Resolved,
    checked: &[Checked],
    vars: &[ScriptVars],
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) {
    let n = checked.len();
    // Union-find over `use` links: a sub-flow shares its callers' variables.
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for (i, c) in checked.iter().enumerate() {
        for &u in &c.uses {
            let (a, b) = (find(&mut parent, i), find(&mut parent, u));
            parent[a] = b;
        }
    }
    let mut known: HashMap<usize, HashSet<&str>> = HashMap::new();
    let mut read: HashMap<usize, HashSet<&str>> = HashMap::new();
    // The template engine's own functions (`range`, `dict`, `namespace`, …)
    // read like variables to its analysis, but are always there.
    let env = crate::program::templates::environment();
    let globals: HashSet<&str> = env.globals().map(|(n, _)| n).collect();
    for (i, v) in vars.iter().enumerate() {
        let root = find(&mut parent, i);
        known
            .entry(root)
            .or_default()
            .extend(v.writes.iter().map(String::as_str));
        read.entry(root)
            .or_default()
            .extend(v.reads.iter().map(|(n, _)| n.as_str()));
    }
    // An unread variable in a file with errors is usually read by the broken
    // part; FP104 there would only add noise.
    let broken: HashSet<FileId> = diags
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.file)
        .collect();
    for (i, v) in vars.iter().enumerate() {
        let root = find(&mut parent, i);
        let s = &resolved.scripts[i];
        let known = &known[&root];
        let mut reported = HashSet::new();
        for (name, span) in &v.reads {
            if BUILTINS.contains(&name.as_str())
                || globals.contains(name.as_str())
                || known.contains(name.as_str())
                || !reported.insert((name, span))
            {
                continue;
            }
            let hint = did_you_mean(name, known.iter().copied().chain(BUILTINS.iter().copied()));
            let span = refine(sources, s.file, *span, name);
            diags.push(
                Diagnostic::new(
                    Code::Fp009,
                    s.file,
                    span,
                    format!("variable `{name}` is never declared or set"),
                )
                .with_label("unknown variable")
                .with_hint(match hint {
                    Some(h) => format!("did you mean `{h}`?"),
                    None => format!("declare it with a default: `vars: {{ {name}: ... }}`"),
                }),
            );
        }
        let read = &read[&root];
        for (name, _) in &s.vars {
            if !read.contains(name.value.as_str()) && !broken.contains(&s.file) {
                diags.push(
                    Diagnostic::new(
                        Code::Fp104,
                        s.file,
                        name.span,
                        format!("variable `{}` is declared but nothing reads it", name.value),
                    )
                    .with_label("never read")
                    .with_hint("remove it, or use it in a text or an `if:`"),
                );
            }
        }
    }
}

/// The `if:` at `span` rewritten with `==` where it compares with a lone
/// `=` (outside strings), as people write it in plain language; `None`
/// when it has no such `=`.
pub(super) fn lone_equals(script: &ast::Script, span: Span) -> Option<String> {
    let src = script.nodes.iter().find_map(|n| match &n.kind {
        NodeKind::Branch { arms, .. } => arms
            .iter()
            .find(|a| a.condition.span == span)
            .map(|a| a.condition.value.as_str()),
        _ => None,
    })?;
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len() + 2);
    let mut quote: Option<char> = None;
    let mut changed = false;
    for (i, &c) in chars.iter().enumerate() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '='
                && chars.get(i + 1) != Some(&'=')
                && !matches!(
                    i.checked_sub(1).map(|j| chars[j]),
                    Some('=' | '!' | '<' | '>')
                ) =>
            {
                out.push_str("==");
                changed = true;
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    changed.then_some(out)
}

/// FP106: in the scripts customers read, `params.X` with no fallback.
///
/// Customer-facing is the server's rule for the wizard's list (tier 1 and
/// not a sub-flow), widened to the sub-flows such a script runs through
/// `use`: their texts are read by the same customers.
pub(super) fn check_params(
    resolved: &Resolved,
    checked: &[Checked],
    vars: &[ScriptVars],
    sources: &Sources,
    diags: &mut Vec<Diagnostic>,
) {
    let n = checked.len();
    // Per script: `None` when no customer reads it, else the script the
    // customer started (itself, or a caller of this sub-flow).
    let mut customer: Vec<Option<usize>> = resolved
        .scripts
        .iter()
        .enumerate()
        .map(|(i, s)| (s.tier == 1 && !is_subflow(s)).then_some(i))
        .collect();
    let mut stack: Vec<usize> = (0..n).filter(|&i| customer[i].is_some()).collect();
    while let Some(i) = stack.pop() {
        for &u in &checked[i].uses {
            if u < n && customer[u].is_none() {
                customer[u] = customer[i];
                stack.push(u);
            }
        }
    }
    for (i, v) in vars.iter().enumerate() {
        let Some(started) = customer[i] else {
            continue;
        };
        let how = if started == i {
            "customers start this script themselves, with no params".to_owned()
        } else {
            format!(
                "customers reach this sub-flow from `{}`, which they start themselves, with no params",
                resolved.scripts[started].id.value
            )
        };
        let s = &resolved.scripts[i];
        let mut reported = HashSet::new();
        for p in &v.params {
            let name = &p.found.name;
            let span = refine_nth(
                sources,
                s.file,
                p.span,
                &p.found.written,
                p.found.occurrence,
            );
            if !reported.insert((span.start.line, span.start.column)) {
                continue;
            }
            diags.push(
                Diagnostic::new(
                    Code::Fp106,
                    s.file,
                    span,
                    format!("`params.{name}` shows as nothing when the session was started without it"),
                )
                .with_label("no fallback")
                .with_hint(format!(
                    "{how}: write `{{{{ params.{name} | default(\"...\") }}}}`, or put the words around it inside `{{% if params.{name} %}}...{{% endif %}}`"
                )),
            );
        }
    }
}

/// Does the script end in `return` somewhere (a sub-flow)?
fn is_subflow(s: &ast::Script) -> bool {
    s.nodes.iter().any(|n| match &n.kind {
        NodeKind::Return(_) => true,
        NodeKind::Ask { answers, .. } => answers
            .iter()
            .any(|a| matches!(a.outcome, Some(Outcome::Return(_)))),
        _ => false,
    })
}

/// [`refine`] for the `nth` occurrence (from 0) of `needle` on the span's
/// first line; the whole span when it is not there.
fn refine_nth(sources: &Sources, file: FileId, span: Span, needle: &str, nth: usize) -> Span {
    let mut from = span;
    let mut found = span;
    for _ in 0..=nth {
        let r = refine(sources, file, from, needle);
        if r == from {
            return span;
        }
        found = r;
        from = r;
        from.start.column += 1;
    }
    found
}

/// Points a diagnostic about `name` at the name itself when it stands on the
/// span's first line (the usual one-line text), else at the whole value.
fn refine(sources: &Sources, file: FileId, span: Span, name: &str) -> Span {
    let Some(src) = sources.get(file) else {
        return span;
    };
    let line = src.line(span.start.line);
    let from: usize = line
        .char_indices()
        .nth(span.start.column.saturating_sub(1) as usize)
        .map(|(i, _)| i)
        .unwrap_or(line.len());
    let bytes = line.as_bytes();
    let mut search = from;
    while let Some(off) = line[search..].find(name) {
        let at = search + off;
        let before_ok =
            at == 0 || !(bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_');
        let end = at + name.len();
        let after_ok =
            end >= bytes.len() || !(bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_');
        if before_ok && after_ok {
            let col = line[..at].chars().count() as u32 + 1;
            let len = name.chars().count() as u32;
            let start = crate::diagnostics::Pos {
                line: span.start.line,
                column: col,
                index: span.start.index,
            };
            let end = crate::diagnostics::Pos {
                line: span.start.line,
                column: col + len,
                index: span.start.index,
            };
            return Span { start, end };
        }
        search = end;
    }
    span
}
