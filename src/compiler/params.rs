//! FP106's reading of a template: the uses of `params.X` that show nothing
//! when no caller passed `X`.
//!
//! A use is guarded, and so not reported, when the value cannot come out
//! empty or the text around it is left out without it:
//! - a filter gives a fallback: `params.X | default(...)` (or `| d(...)`),
//!   or `params.X or "..."`;
//! - it stands inside `{% if ... %}` (or an `elif`) whose condition names
//!   `params.X` (not in that block's `else`);
//! - it is tested, not shown: the condition of an `if`/`elif` tag, or of an
//!   inline `... if params.X ...`.
//!
//! This is a reading of the source, not of minijinja's syntax tree (which
//! the crate does not expose): it follows tags, strings and `if` blocks,
//! which is all the rule needs.

/// An unguarded `params.NAME`: the name, and which occurrence of the
/// written form (`params.NAME`) in the source it is (0 for the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unguarded {
    pub name: String,
    /// As written: `params.name`, `params["name"]`.
    pub written: String,
    pub occurrence: usize,
}

/// The unguarded uses of `params.X` in a template source.
pub(super) fn unguarded(src: &str) -> Vec<Unguarded> {
    if !src.contains("params") {
        return Vec::new();
    }
    let mut out = Vec::new();
    // Per open `if` block: the params its current branch tested.
    let mut guards: Vec<Vec<String>> = Vec::new();
    // Occurrences seen so far of each written `params.NAME`.
    let mut seen: Vec<(String, usize)> = Vec::new();
    let mut rest = src;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let (close, is_stmt) = match after.as_bytes().first() {
            Some(b'{') => ("}}", false),
            Some(b'%') => ("%}", true),
            Some(b'#') => ("#}", false),
            _ => {
                rest = after;
                continue;
            }
        };
        if after.starts_with('#') {
            let end = after.find("#}").map_or(after.len(), |e| e + 2);
            rest = &after[end..];
            continue;
        }
        let body_start = open + 2;
        let end = tag_end(&rest[body_start..], close);
        let body = &rest[body_start..body_start + end];
        let body = body.trim_matches(|c: char| c == '-' || c == '+' || c.is_whitespace());
        let uses = accesses(body);
        let mut written_of = |u: &Access| count(&mut seen, &body[u.range.clone()]);
        if is_stmt {
            let word = body.split_whitespace().next().unwrap_or("");
            match word {
                "if" => {
                    guards.push(uses.iter().map(|u| u.name.clone()).collect());
                    uses.iter().for_each(|u| {
                        written_of(u);
                    });
                }
                "elif" => {
                    if let Some(top) = guards.last_mut() {
                        *top = uses.iter().map(|u| u.name.clone()).collect();
                    }
                    uses.iter().for_each(|u| {
                        written_of(u);
                    });
                }
                "else" => {
                    if let Some(top) = guards.last_mut() {
                        top.clear();
                    }
                }
                "endif" => {
                    guards.pop();
                }
                _ => report(body, &uses, &guards, &mut written_of, &mut out),
            }
        } else {
            report(body, &uses, &guards, &mut written_of, &mut out);
        }
        let consumed = (body_start + end + close.len()).min(rest.len());
        rest = &rest[consumed..];
    }
    out
}

/// Counts one more occurrence of `written`; returns its number (from 0).
fn count(seen: &mut Vec<(String, usize)>, written: &str) -> usize {
    match seen.iter_mut().find(|(w, _)| w == written) {
        Some((_, n)) => {
            *n += 1;
            *n - 1
        }
        None => {
            seen.push((written.to_owned(), 1));
            0
        }
    }
}

/// Reports the uses of one expression that nothing guards.
fn report(
    body: &str,
    uses: &[Access],
    guards: &[Vec<String>],
    written_of: &mut impl FnMut(&Access) -> usize,
    out: &mut Vec<Unguarded>,
) {
    // An inline `A if COND else B`: what COND tests is guarded in A.
    let tested: Vec<&str> = match find_word(body, "if") {
        Some(at) => uses
            .iter()
            .filter(|u| u.range.start > at)
            .map(|u| u.name.as_str())
            .collect(),
        None => Vec::new(),
    };
    for u in uses {
        let occurrence = written_of(u);
        let after = body[u.range.end..].trim_start();
        let fallback = after
            .strip_prefix('|')
            .map(|f| {
                let f = f.trim_start();
                starts_with_word(f, "default") || starts_with_word(f, "d")
            })
            .unwrap_or(false)
            || starts_with_word(after, "or");
        let in_if = guards.iter().flatten().any(|g| *g == u.name);
        let is_tested = tested.contains(&u.name.as_str());
        if !(fallback || in_if || is_tested) {
            out.push(Unguarded {
                name: u.name.clone(),
                written: body[u.range.clone()].to_owned(),
                occurrence,
            });
        }
    }
}

/// One `params.NAME` (or `params["NAME"]`) in an expression: the name, and
/// the bytes it spans in the expression.
struct Access {
    name: String,
    range: std::ops::Range<usize>,
}

/// The `params.NAME` accesses of an expression, outside string literals;
/// method calls (`params.get(...)`) are not accesses.
fn accesses(expr: &str) -> Vec<Access> {
    let b = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' {
            quote = Some(c);
            i += 1;
            continue;
        }
        let word_start = i == 0 || !(is_ident(b[i - 1]) || b[i - 1] == b'.');
        if word_start && b[i..].starts_with(b"params") {
            let mut j = i + "params".len();
            if j < b.len() && is_ident(b[j]) {
                i = j;
                continue;
            }
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let name = if j < b.len() && b[j] == b'.' {
                j += 1;
                while j < b.len() && b[j] == b' ' {
                    j += 1;
                }
                let s = j;
                while j < b.len() && is_ident(b[j]) {
                    j += 1;
                }
                let rest = expr[j..].trim_start();
                (j > s && !rest.starts_with('(')).then(|| expr[s..j].to_owned())
            } else if j < b.len() && b[j] == b'[' {
                let inner = &expr[j + 1..];
                let q = inner.trim_start();
                match q.as_bytes().first() {
                    Some(&qc @ (b'"' | b'\'')) => {
                        let lit = &q[1..];
                        match lit.find(qc as char) {
                            Some(e) => {
                                let after = lit[e + 1..].trim_start();
                                match after.strip_prefix(']') {
                                    Some(tail) => {
                                        j = expr.len() - tail.len();
                                        Some(lit[..e].to_owned())
                                    }
                                    None => None,
                                }
                            }
                            None => None,
                        }
                    }
                    _ => None,
                }
            } else {
                None
            };
            if let Some(name) = name {
                out.push(Access { name, range: i..j });
            }
            i = j.max(i + 1);
            continue;
        }
        i += 1;
    }
    out
}

/// Where a tag's body ends: the first `close` outside a string literal.
fn tag_end(s: &str, close: &str) -> usize {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if b[i..].starts_with(close.as_bytes()) => return i,
            None => {}
        }
        i += 1;
    }
    s.len()
}

fn is_ident(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn starts_with_word(s: &str, w: &str) -> bool {
    word_at(s.as_bytes(), w)
}

/// Do the bytes start with the word `w` (not a longer name)? Bytes, so a
/// position inside a multi-byte character is safe to ask about.
fn word_at(b: &[u8], w: &str) -> bool {
    b.starts_with(w.as_bytes()) && b.get(w.len()).is_none_or(|c| !is_ident(*c))
}

/// The position of the keyword `w` outside string literals.
fn find_word(s: &str, w: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if (i == 0 || !is_ident(b[i - 1])) && word_at(&b[i..], w) => {
                return Some(i);
            }
            None => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(src: &str) -> Vec<(String, usize)> {
        unguarded(src)
            .into_iter()
            .map(|u| (u.name, u.occurrence))
            .collect()
    }

    #[test]
    fn a_bare_param_is_reported() {
        assert_eq!(
            names("Hello {{ params.name }}, welcome"),
            [("name".into(), 0)]
        );
        assert_eq!(
            names("Ticket {{ params['ticket'] }}"),
            [("ticket".into(), 0)]
        );
        assert_eq!(names("{{ params.a ~ params.b | upper }}").len(), 2);
        assert_eq!(names("{% set who = params.name %}{{ who }}").len(), 1);
    }

    #[test]
    fn a_fallback_or_a_test_guards_it() {
        assert_eq!(names("Hello {{ params.name | default('there') }}"), []);
        assert_eq!(names("Hello {{ params.name|d('there') }}"), []);
        assert_eq!(names("Hello {{ params.name or 'there' }}"), []);
        assert_eq!(
            names("{% if params.name %}Hello {{ params.name }}{% endif %}"),
            []
        );
        assert_eq!(
            names(
                "{%- if params.name is defined and params.name -%}Hi {{ params.name }}{%- endif %}"
            ),
            []
        );
        assert_eq!(
            names("{{ 'Hi ' ~ params.name if params.name else 'Hi' }}"),
            []
        );
        assert_eq!(names("{{ tier }} params.name in plain text"), []);
        assert_eq!(names("{{ 'params.name' }}"), []);
        assert_eq!(names("{# {{ params.name }} #}ok"), []);
        // Any text, however broken, is read without a panic.
        assert_eq!(
            names("{{ params.\u{fffd}ustomer }} ëü {{ 'ö' if params.x }}"),
            []
        );
        assert_eq!(names("{{ ä params.name"), [("name".into(), 0)]);
    }

    #[test]
    fn an_if_guards_only_its_own_branch() {
        // The else branch runs exactly when the param is empty.
        assert_eq!(
            names(
                "{% if params.name %}Hi {{ params.name }}{% else %}Hi {{ params.name }}{% endif %}"
            ),
            [("name".into(), 2)]
        );
        // Another param's test guards nothing.
        assert_eq!(
            names("{% if params.ticket %}About {{ params.name }}{% endif %}"),
            [("name".into(), 0)]
        );
        // After the block, nothing is guarded.
        assert_eq!(
            names("{% if params.name %}{{ params.name }}{% endif %} and {{ params.name }}"),
            [("name".into(), 2)]
        );
    }
}
