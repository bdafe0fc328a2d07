//! Text: measuring and wrapping it (there is no font at hand, so widths are
//! estimates), escaping it for XML, and writing numbers.

use super::super::{GNode, Shape};
use super::*;
use std::fmt::{self, Write};

pub(super) fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x1F300..=0x1F64F | 0x1F900..=0x1F9FF | 0x20000..=0x3FFFD)
}

pub(super) fn char_units(c: char) -> usize {
    if is_wide(c) { 2 } else { 1 }
}

pub(super) fn units(s: &str) -> usize {
    s.chars().map(char_units).sum()
}

/// Greedy word wrap to `width` units, at most `max_lines` lines; what does not
/// fit is cut after the last whole word with `…`. Only a word wider than a
/// whole line is cut inside (there is no better place); placeholders for
/// template code are narrower than a line, so they are never split.
pub(super) fn wrap(s: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut cur_u = 0;
    let mut cut = false;
    for word in s.split_whitespace() {
        let word = if units(word) > width {
            cut_chars(word, width)
        } else {
            word.to_owned()
        };
        let wu = units(&word);
        if cur_u > 0 && cur_u + 1 + wu <= width {
            cur.push(' ');
            cur.push_str(&word);
            cur_u += 1 + wu;
            continue;
        }
        if cur_u > 0 {
            lines.push(std::mem::take(&mut cur));
            if lines.len() == max_lines {
                cut = true;
                break;
            }
        }
        cur = word;
        cur_u = wu;
    }
    if !cur.is_empty() {
        if lines.len() < max_lines {
            lines.push(cur);
        } else {
            cut = true;
        }
    }
    if cut
        && let Some(last) = lines.last_mut()
        && !last.ends_with('…')
    {
        while units(last) + 1 > width {
            match last.rfind(' ') {
                Some(i) => last.truncate(i),
                None => {
                    *last = cut_chars(last, width);
                    break;
                }
            }
        }
        let kept = last.trim_end_matches([' ', ',', ';', ':', '.']).len();
        if kept > 0 {
            last.truncate(kept);
        }
        if !last.ends_with('…') {
            last.push('…');
        }
    }
    lines
}

/// The start of `word` that fits `width` units with a `…` after it.
pub(super) fn cut_chars(word: &str, width: usize) -> String {
    let mut out = String::new();
    let mut u = 0;
    for c in word.chars() {
        if u + char_units(c) + 1 > width {
            break;
        }
        u += char_units(c);
        out.push(c);
    }
    out.push('…');
    out
}

/// XML-escapes text for element content and attribute values; characters XML
/// 1.0 forbids become U+FFFD.
pub(super) struct Esc<'a>(pub &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '&' => f.write_str("&amp;")?,
                '<' => f.write_str("&lt;")?,
                '>' => f.write_str("&gt;")?,
                '"' => f.write_str("&quot;")?,
                '\'' => f.write_str("&apos;")?,
                '\t' | '\n' | '\r' => f.write_char(c)?,
                c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                    f.write_char('\u{FFFD}')?
                }
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A coordinate, rounded to one decimal, without a trailing `.0`.
pub(super) struct N(pub f64);

impl fmt::Display for N {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = if self.0.is_finite() {
            (self.0 * 10.0).round() / 10.0
        } else {
            0.0
        };
        if v == 0.0 {
            f.write_str("0")
        } else if v.fract() == 0.0 {
            write!(f, "{}", v as i64)
        } else {
            write!(f, "{v:.1}")
        }
    }
}

// ---------------------------------------------------------------- boxes

pub(super) struct NodeBox {
    pub w: f64,
    pub h: f64,
    pub title: Vec<String>,
    pub text: Vec<String>,
    /// The figures line of an annotated graph (`12 % · 340`).
    pub badge: Option<String>,
}

#[cfg(test)]
pub(super) fn measure(n: &GNode) -> NodeBox {
    measure_with(n, None)
}

/// A box that also holds a line of figures under its text.
pub(super) fn measure_with(n: &GNode, badge: Option<&str>) -> NodeBox {
    let title = match n.shape {
        Shape::Resolve => format!("✔ {}", n.title),
        Shape::Escalate => format!("⇧ {}", n.title),
        _ => n.title.clone(),
    };
    let title = wrap(&title, WRAP, TITLE_LINES);
    let text = wrap(&n.text, WRAP, TEXT_LINES);
    let tw = title
        .iter()
        .map(|l| units(l) as f64 * TITLE_CHAR_W)
        .chain(text.iter().map(|l| units(l) as f64 * CHAR_W))
        .chain(badge.map(|b| units(b) as f64 * BADGE_CHAR_W))
        .fold(0.0, f64::max);
    let lines = title.len() + text.len() + usize::from(badge.is_some());
    let th = lines.max(1) as f64 * LINE_H;
    let (w, h) = match n.shape {
        Shape::Question | Shape::Instruction | Shape::Resolve => {
            (tw + 2.0 * PAD_X, th + 2.0 * PAD_Y)
        }
        Shape::SubFlow => (tw + 2.0 * (PAD_X + SUB_BAR), th + 2.0 * PAD_Y),
        Shape::Input => (tw + 2.0 * (PAD_X + SKEW), th + 2.0 * PAD_Y),
        Shape::Escalate => (tw + 2.0 * (PAD_X + OCT_CUT / 2.0), th + 2.0 * PAD_Y + 4.0),
        // A diamond holds an a×b box when it is 2a wide and 2b high.
        Shape::Branch => (2.0 * (tw + 8.0), 2.0 * (th + 4.0)),
        // An ellipse holds it when it is √2 times as big.
        Shape::Return => ((tw + 16.0) * 1.42, (th + 6.0) * 1.42),
    };
    NodeBox {
        w: w.max(MIN_W).ceil(),
        h: h.max(MIN_H).ceil(),
        title,
        text,
        badge: badge.map(str::to_owned),
    }
}

// ---------------------------------------------------------------- layout

/// An edge label, measured.
pub(super) struct EdgeLabel {
    pub lines: Vec<String>,
    pub w: f64,
    pub h: f64,
}

pub(super) fn measure_label(s: &str) -> Option<EdgeLabel> {
    if s.trim().is_empty() {
        return None;
    }
    let lines = wrap(s, LABEL_WRAP, LABEL_LINES);
    let w = lines
        .iter()
        .map(|l| units(l) as f64 * LABEL_CHAR_W)
        .fold(0.0, f64::max)
        + 10.0;
    let h = lines.len() as f64 * LABEL_LINE_H + 5.0;
    Some(EdgeLabel {
        lines,
        w: w.ceil(),
        h,
    })
}
