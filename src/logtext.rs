//! Text a stranger sent, made safe for a text log line.
//!
//! A sign-in name, a script id, a reference or a header value goes into the
//! logs through [`shown`]: control characters (a newline, a carriage
//! return, an ESC that starts a terminal colour code, …) are written as
//! `\n`, `\r`, `\t` or `\u{1b}`, a backslash as `\\` (so an escaped line
//! cannot be faked either), and anything past [`MAX_CHARS`] characters is
//! cut with "…". One line of input can then never become two lines of log,
//! nor a 60 KB one.

use std::fmt;

/// The most characters of one field written to a log line.
pub(crate) const MAX_CHARS: usize = 200;

/// A field as a log line shows it; see the module's documentation.
pub(crate) struct Shown<'a>(&'a str);

/// Wraps `text` for a log field: `tracing::info!(name = %shown(&name), …)`.
pub(crate) fn shown(text: &str) -> Shown<'_> {
    Shown(text)
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write as _;
        for (n, c) in self.0.chars().enumerate() {
            if n == MAX_CHARS {
                return f.write_char('…');
            }
            match c {
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\\' => f.write_str("\\\\")?,
                // Control characters, and the invisible ones that reorder or
                // hide text on a terminal (bidi overrides, zero widths, the
                // line and paragraph separators).
                c if c.is_control()
                    || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}') =>
                {
                    write!(f, "\\u{{{:x}}}", c as u32)?
                }
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_cannot_start_a_new_line() {
        let forged = "ann\n2026-12-07T02:00:00Z INFO signed in name=admin1\u{1b}[2K\r";
        assert_eq!(
            shown(forged).to_string(),
            "ann\\n2026-12-07T02:00:00Z INFO signed in name=admin1\\u{1b}[2K\\r"
        );
        assert_eq!(shown("a\\nb").to_string(), "a\\\\nb");
        assert_eq!(shown("\u{202e}txt.exe").to_string(), "\\u{202e}txt.exe");
        assert_eq!(shown("Jüri Õunapuu").to_string(), "Jüri Õunapuu");
    }

    #[test]
    fn long_fields_are_cut() {
        let long = "x".repeat(60_000);
        let out = shown(&long).to_string();
        assert_eq!(out.chars().count(), MAX_CHARS + 1);
        assert!(out.ends_with('…'));
        assert_eq!(shown(&"y".repeat(MAX_CHARS)).to_string().len(), MAX_CHARS);
    }
}
