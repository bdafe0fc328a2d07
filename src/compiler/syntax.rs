//! FP001 in an author's words: the YAML reader's error, looked at again
//! with the file's text, for the mistakes people make most. A tab is
//! reported where it stands, an unclosed `[` or `{` where it was opened,
//! and an indentation mistake says which line it does not line up with.
//! Anything else keeps the reader's own message and place.

use crate::diagnostics::{Pos, Span};

/// A syntax error as the author should read it.
pub(super) struct Explained {
    pub span: Span,
    pub message: String,
    pub hints: Vec<String>,
}

pub(super) fn explain(text: &str, span: Span, message: &str) -> Explained {
    let lines: Vec<&str> = text.lines().collect();
    let at = span.start.line as usize;
    tab(text, &lines, at)
        .or_else(|| unclosed(text, &lines, at))
        .or_else(|| indentation(text, &lines, at, message))
        .unwrap_or_else(|| Explained {
            span,
            message: message.to_owned(),
            hints: Vec::new(),
        })
}

/// The position of 1-based `line`, `column` (in characters).
fn pos(text: &str, line: usize, column: usize) -> Pos {
    let before: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(|l| l.chars().count())
        .sum();
    Pos {
        line: line as u32,
        column: column as u32,
        index: (before + column.saturating_sub(1)) as u32,
    }
}

fn point(text: &str, line: usize, column: usize) -> Span {
    let p = pos(text, line, column);
    let mut end = p;
    end.column += 1;
    end.index += 1;
    Span { start: p, end }
}

/// A tab in the indentation of a line up to the error's (or the next one):
/// YAML indents with spaces only.
fn tab(text: &str, lines: &[&str], at: usize) -> Option<Explained> {
    let (i, col) = lines.iter().take(at + 1).enumerate().find_map(|(i, l)| {
        let indent: String = l.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
        let rest = &l[indent.len()..];
        // A blank or comment line's tabs do no harm.
        if rest.is_empty() || rest.starts_with('#') {
            return None;
        }
        indent.chars().position(|c| c == '\t').map(|p| (i, p + 1))
    })?;
    Some(Explained {
        span: point(text, i + 1, col),
        message: "a tab in the indentation; YAML indents with spaces only".into(),
        hints: vec![
            "use spaces: replace the tab with as many spaces as the lines around it use".into(),
        ],
    })
}

/// A `[` or `{` still open when the block structure went on (a later line
/// back at its indentation or less).
fn unclosed(text: &str, lines: &[&str], at: usize) -> Option<Explained> {
    // Open flow collections: (line, column, char).
    let mut open: Vec<(usize, usize, char)> = Vec::new();
    for (i, line) in lines.iter().take(at).enumerate() {
        let indent = line.chars().take_while(|c| *c == ' ').count();
        let trimmed = &line[indent..];
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if let Some(&(ol, oc, ch)) = open.first()
            && i > ol
            && indent <= lines[ol].chars().take_while(|c| *c == ' ').count()
        {
            let close = if ch == '[' { ']' } else { '}' };
            return Some(Explained {
                span: point(text, ol + 1, oc),
                message: format!("this `{ch}` is never closed"),
                hints: vec![format!(
                    "close it with `{close}` before the next key, or quote the value if the `{ch}` is part of the text"
                )],
            });
        }
        scan_flow(line, &mut open, i);
    }
    None
}

/// Follows the flow brackets of one line (outside quotes and comments).
fn scan_flow(line: &str, open: &mut Vec<(usize, usize, char)>, i: usize) {
    let chars: Vec<char> = line.chars().collect();
    let mut quote: Option<char> = None;
    // Can a token start here (a bracket open a collection, a quote a string)?
    let mut token_start = true;
    for (c_ix, &c) in chars.iter().enumerate() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '#' if c_ix == 0 || chars[c_ix - 1] == ' ' => return,
            '"' | '\'' if token_start => quote = Some(c),
            '[' | '{' if token_start || !open.is_empty() => {
                open.push((i, c_ix + 1, c));
                token_start = true;
                continue;
            }
            ']' | '}' if !open.is_empty() => {
                open.pop();
            }
            ',' if !open.is_empty() => {
                token_start = true;
                continue;
            }
            ' ' => {
                let after_indicator =
                    c_ix > 0 && matches!(chars[c_ix - 1], ':' | '-' | ',' | '[' | '{');
                if after_indicator || token_start {
                    token_start = true;
                }
                continue;
            }
            _ => {}
        }
        token_start = false;
    }
}

/// Indentation that does not line up: a line deeper than a `key: value`
/// above it (read as more of that value), or at a depth no line above has.
fn indentation(text: &str, lines: &[&str], at: usize, message: &str) -> Option<Explained> {
    let known = [
        "mapping values are not allowed in this context",
        "did not find expected key",
        "did not find expected '-' indicator",
        "block sequence entries are not allowed in this context",
    ];
    if !known.iter().any(|k| message.contains(k)) {
        return None;
    }
    let line = *lines.get(at.checked_sub(1)?)?;
    let indent = line.chars().take_while(|c| *c == ' ').count();
    let content = line.trim();
    if content.is_empty() {
        return None;
    }
    let key = content
        .trim_start_matches("- ")
        .split(':')
        .next()
        .unwrap_or(content)
        .trim();
    // The lines above that hold content, nearest first.
    let above = lines[..at - 1].iter().rev().filter(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    });
    let prev = *above.clone().next()?;
    let prev_indent = prev.chars().take_while(|c| *c == ' ').count();
    let prev_key = prev
        .trim()
        .trim_start_matches("- ")
        .split(':')
        .next()?
        .trim();
    let prev_has_value = prev
        .split_once(": ")
        .is_some_and(|(_, v)| !v.trim().is_empty());
    let span = point(text, at, indent + 1);
    if indent > prev_indent && prev_has_value {
        return Some(Explained {
            span,
            message: format!(
                "`{key}` is indented deeper than `{prev_key}` above it, so YAML reads it as more of `{prev_key}`'s value"
            ),
            hints: vec![format!(
                "indent `{key}:` by {prev_indent} spaces, like `{prev_key}:`"
            )],
        });
    }
    // The indentation levels a line here could take: those of the lines
    // above that are shallower than the last one seen (the open parents),
    // with their keys.
    let mut levels: Vec<(usize, &str)> = Vec::new();
    let mut limit = usize::MAX;
    for l in above {
        let n = l.chars().take_while(|c| *c == ' ').count();
        if n < limit {
            let k = l
                .trim()
                .trim_start_matches("- ")
                .split(':')
                .next()
                .unwrap_or("")
                .trim();
            levels.push((n, k));
            limit = n;
        }
    }
    if !levels.iter().any(|(n, _)| *n == indent) {
        let deeper = levels
            .iter()
            .filter(|(n, _)| *n > indent)
            .min_by_key(|(n, _)| *n);
        let shallower = levels
            .iter()
            .filter(|(n, _)| *n < indent)
            .max_by_key(|(n, _)| *n);
        let side = |(n, k): &(usize, &str)| format!("`{k}:` has {n} spaces");
        let choices: Vec<String> = deeper
            .iter()
            .chain(shallower.iter())
            .map(|l| side(l))
            .collect();
        return Some(Explained {
            span,
            message: format!(
                "`{key}` is indented by {indent} spaces, which lines up with no line above it"
            ),
            hints: vec![format!(
                "line it up with the key it stands beside: {}",
                choices.join(", ")
            )],
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, line: u32, col: u32, message: &str) -> (u32, u32, String) {
        let p = Pos {
            line,
            column: col,
            index: 0,
        };
        let e = explain(text, Span { start: p, end: p }, message);
        (e.span.start.line, e.span.start.column, e.message)
    }

    #[test]
    fn a_tab_is_reported_at_its_own_column() {
        let text = "a:\n  b: 1\n\t- c\n";
        let (l, c, m) = at(text, 3, 2, "tabs disallowed");
        assert_eq!((l, c), (3, 1));
        assert!(m.contains("tab"), "{m}");
    }

    #[test]
    fn an_unclosed_bracket_is_reported_where_it_opens() {
        let text = "id: x\ntags: [a, b\nnodes:\n  n: 1\n";
        assert_eq!(at(text, 3, 6, "illegal").0, 2);
        assert_eq!(at(text, 3, 6, "illegal").1, 7);
        // Brackets inside text and quotes open nothing.
        let text = "say: Press [OK] now\nask: \"[x\"\nbad: : :\n";
        let (l, _, m) = at(text, 3, 6, "some other error");
        assert_eq!((l, m.as_str()), (3, "some other error"));
        // A flow mapping over several lines is fine.
        let text = "a: { b: 1,\n     c: 2 }\nd: - x\n";
        assert_eq!(at(text, 3, 4, "other").2, "other");
    }

    #[test]
    fn indentation_mistakes_say_what_they_line_up_with() {
        let text = "nodes:\n  power:\n    ask: Is it on?\n     answers:\n      - Yes: done\n";
        let (l, c, m) = at(
            text,
            4,
            13,
            "mapping values are not allowed in this context",
        );
        assert_eq!((l, c), (4, 6));
        assert!(m.contains("`answers` is indented deeper than `ask`"), "{m}");
        let text = "nodes:\n  power:\n    resolve: Fine\n   done:\n    resolve: Fine\n";
        let (l, c, m) = at(
            text,
            4,
            4,
            "while parsing a block mapping, did not find expected key",
        );
        assert_eq!((l, c), (4, 4));
        assert!(m.contains("by 3 spaces"), "{m}");
    }
}
