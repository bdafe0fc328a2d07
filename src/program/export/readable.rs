//! Script text made readable in a picture: template code becomes a short
//! placeholder that no line break can split, and long text is cut at a word.

/// The longest expression kept inside a placeholder before it is cut.
const MAX_EXPR: usize = 18;

/// Opens and closes a placeholder: `{{ msisdn }}` reads `‹msisdn›`.
pub(super) const OPEN: char = '‹';
pub(super) const CLOSE: char = '›';

/// `s` with its whitespace collapsed and its template code replaced:
/// `{{ expr }}` by `‹expr›` (filters and arguments dropped, the rest cut at
/// [`MAX_EXPR`]), `{% if … %}` and `{% for … %}` by `[`, their `{% else %}`
/// by `|` and their end by `]`; other tags and comments go. A placeholder
/// holds no space, so wrapping never breaks inside it.
pub(super) fn readable(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let close = match tail.get(1..2) {
            Some("{") => "}}",
            Some("%") => "%}",
            Some("#") => "#}",
            _ => {
                out.push('{');
                rest = &tail[1..];
                continue;
            }
        };
        let Some(end) = tail[2..].find(close) else {
            // Unclosed: not template code the compiler accepted; shown as is.
            out.push_str(tail);
            rest = "";
            break;
        };
        let inner = tail[2..2 + end].trim_matches(|c: char| c == '-' || c.is_whitespace());
        match close {
            "}}" => out.push_str(&placeholder(inner)),
            "%}" => out.push_str(tag(inner)),
            _ => {}
        }
        rest = &tail[2 + end + 2..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn placeholder(expr: &str) -> String {
    // The value, without its filters: `name | upper` reads `name`.
    let value = expr.split('|').next().unwrap_or("").trim();
    let value: String = value.split_whitespace().collect::<Vec<_>>().join("");
    let mut p = String::new();
    p.push(OPEN);
    if value.chars().count() > MAX_EXPR {
        p.extend(value.chars().take(MAX_EXPR - 1));
        p.push('…');
    } else {
        p.push_str(&value);
    }
    p.push(CLOSE);
    p
}

fn tag(inner: &str) -> &'static str {
    match inner.split_whitespace().next().unwrap_or("") {
        "if" | "for" => "[",
        "elif" | "else" => "|",
        "endif" | "endfor" => "]",
        _ => "",
    }
}

/// `s` cut to at most `max` characters at a word boundary, with `…` where it
/// was cut. A single word longer than `max` is cut inside, as nothing else
/// fits; a placeholder is never cut inside.
pub(super) fn shorten(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        return s;
    }
    let mut out = String::new();
    let mut len = 0;
    for word in s.split(' ') {
        let wl = word.chars().count();
        let sep = usize::from(len > 0);
        // Room for the word, and for the `…` after it.
        if len + sep + wl + 1 > max {
            break;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(word);
        len += sep + wl;
    }
    if out.is_empty() {
        out.extend(s.chars().take(max.saturating_sub(1)));
    }
    let kept = out.trim_end_matches([',', ';', ':', '.']).len();
    out.truncate(kept);
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_code_becomes_placeholders() {
        assert_eq!(
            readable("Hello {{ params.customer }}!"),
            "Hello ‹params.customer›!"
        );
        assert_eq!(readable("SIM {{msisdn | upper}} now"), "SIM ‹msisdn› now");
        assert_eq!(
            readable(
                "Laptop {{ serial }} does not boot after the basic checks{% if error_message %}; \
                 the screen shows: {{ error_message }}{% endif %}"
            ),
            "Laptop ‹serial› does not boot after the basic checks[; the screen shows: ‹error_message›]"
        );
        assert_eq!(
            readable("{{ a_really_long_variable_name.with.path }}"),
            "‹a_really_long_var…›"
        );
        assert_eq!(readable("{# note #}x {{ a }"), "x {{ a }");
        assert_eq!(readable("a {b} c"), "a {b} c");
    }

    #[test]
    fn shorten_cuts_at_a_word() {
        assert_eq!(shorten("short", 10), "short");
        assert_eq!(
            shorten("Please restart that device and connect it again", 30),
            "Please restart that device…"
        );
        assert_eq!(shorten("one, two three", 9), "one, two…");
        assert_eq!(shorten("one, two three", 6), "one…");
        assert_eq!(shorten("abcdefghijkl", 6), "abcde…");
        for n in 5..40 {
            let s = shorten("Wait one minute. Is the internet light steady green?", n);
            assert!(s.chars().count() <= n, "{s}");
            let kept = s.trim_end_matches('…');
            assert!("Wait one minute. Is the internet light steady green?".starts_with(kept));
        }
    }
}
