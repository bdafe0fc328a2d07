//! Where one big script file can be cut into parts that parse in parallel.
//!
//! Why: files parse in parallel, but a script of 100,000 nodes is one file,
//! and its YAML parse is most of the compile time. Such a file is nearly all
//! `nodes`, one entry after another, and an entry starts on a line of its
//! own at a fixed indentation. Cut there, each part is a YAML document of
//! its own: the first one the script's top level with the first nodes, the
//! others a mapping of more nodes.
//!
//! Why the result is exact: a cut is only planned where a line starts a key
//! at the indentation of `nodes`' first key, after `nodes:` at the top
//! level and with nothing at column 0 after it. A multi-line construct that
//! could hide such a line (a quoted string, a flow collection) would be
//! left open at the end of the part before it, which is a YAML error there;
//! block scalars and plain multi-line strings end at a line indented this
//! little. The caller reads the file again in one piece whenever any part
//! has any YAML problem, uses an anchor or an alias, repeats a node id of
//! an earlier part, or is not the mapping the plan expects, so a cut that
//! is not a real entry boundary only costs time: the diagnostics are always
//! those of reading the whole file. (Differential tests in `parse` hold
//! both readings side by side.)

use crate::diagnostics::Pos;
use crate::script::yaml::Base;
use std::ops::Range;

/// Files smaller than two of these are read in one piece: below that the
/// threads cost more than they save.
pub const MIN_PART: usize = 64 * 1024;

/// One part of a file: its bytes and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub bytes: Range<usize>,
    pub base: Base,
}

/// Cuts `text` into at most `parts` parts of about equal size, or `None`
/// when it should be read in one piece (among other reasons, when it is
/// shorter than two `min_part`s). The first part holds the top level and
/// at least the first node.
pub fn plan(text: &str, parts: usize, min_part: usize) -> Option<Vec<Part>> {
    let parts = parts.min(text.len() / min_part.max(1));
    if parts < 2 {
        return None;
    }
    let b = text.as_bytes();
    let (nodes_end, first_node, indent) = nodes_block(b)?;

    let mut cuts = Vec::with_capacity(parts - 1);
    let mut from = first_node + 1;
    for i in 1..parts {
        let target = (text.len() / parts * i).max(from);
        let Some(cut) = next_entry(b, target, indent) else {
            break;
        };
        if cut + min_part / 2 > text.len() {
            break;
        }
        cuts.push(cut);
        from = cut + 1;
    }
    if cuts.is_empty() {
        return None;
    }

    // Each range is checked, and its lines and characters counted, on its
    // own; the counts add up to each part's base.
    let mut ranges = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for &c in &cuts {
        ranges.push(start..c);
        start = c;
    }
    ranges.push(start..text.len());
    use rayon::prelude::*;
    let counts: Vec<Option<(u32, u32)>> = ranges
        .par_iter()
        .map(|r| {
            // Only what follows `nodes:` must be free of top-level lines.
            let checked = r.start.max(nodes_end)..r.end;
            if !checked.is_empty() && !nested_only(b, checked) {
                return None;
            }
            count(&b[r.clone()])
        })
        .collect();
    let mut out: Vec<Part> = Vec::with_capacity(ranges.len());
    let mut base = Base::default();
    for (r, c) in ranges.into_iter().zip(counts) {
        let (lines, chars) = c?;
        if !out.is_empty() {
            // The part's root is a piece of `nodes`, itself in the root.
            base.depth = 1;
        }
        if let Some(before) = out.last_mut() {
            // Every part but the first starts with a key at `indent`.
            let indent = u32::try_from(indent).ok()?;
            before.base.next_key = Some(Pos {
                line: base.lines.checked_add(1)?,
                column: indent.checked_add(1)?,
                index: base.chars.checked_add(indent)?,
            });
        }
        out.push(Part { bytes: r, base });
        base.lines = base.lines.checked_add(lines)?;
        base.chars = base.chars.checked_add(chars)?;
    }
    Some(out)
}

/// Finds `nodes:` alone on a line at column 0 and the first key under it:
/// (the end of the `nodes:` line, the start of the first key's line, its
/// indentation).
fn nodes_block(b: &[u8]) -> Option<(usize, usize, usize)> {
    let mut line = 0;
    let nodes_end = loop {
        let end = memchr::memchr(b'\n', &b[line..]).map_or(b.len(), |e| line + e);
        if let Some(rest) = b[line..end].strip_prefix(b"nodes:")
            && blank_or_comment(rest)
        {
            break end;
        }
        if end >= b.len() {
            return None;
        }
        line = end + 1;
    };
    // The first line after it with content.
    let mut line = nodes_end + 1;
    while line < b.len() {
        let end = memchr::memchr(b'\n', &b[line..]).map_or(b.len(), |e| line + e);
        let text = &b[line..end];
        if !blank_or_comment(text) {
            let indent = text.iter().take_while(|&&c| c == b' ').count();
            return (indent > 0 && key_start(text.get(indent).copied()?))
                .then_some((nodes_end, line, indent));
        }
        line = end + 1;
    }
    None
}

/// The start of the first line at or after `from` that starts a key at
/// `indent` (the line start itself counts when `from` is one).
fn next_entry(b: &[u8], from: usize, indent: usize) -> Option<usize> {
    let mut line = if from == 0 || b.get(from - 1) == Some(&b'\n') {
        from
    } else {
        from + memchr::memchr(b'\n', b.get(from..)?)? + 1
    };
    while line < b.len() {
        let lead = &b[line..];
        if lead.len() > indent
            && lead[..indent].iter().all(|&c| c == b' ')
            && key_start(lead[indent])
        {
            return Some(line);
        }
        line += memchr::memchr(b'\n', lead)? + 1;
    }
    None
}

/// A character that can start a plain key: no YAML indicator, no space.
fn key_start(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Spaces or tabs, then perhaps a comment, then the line's end.
fn blank_or_comment(rest: &[u8]) -> bool {
    let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
    match rest.iter().position(|&c| c != b' ' && c != b'\t') {
        None => true,
        Some(i) => rest[i] == b'#',
    }
}

/// Whether every line that starts in `r` is indented, blank or a comment,
/// and there is no byte order mark (which YAML reads as a document boundary
/// at a line's start).
fn nested_only(b: &[u8], r: Range<usize>) -> bool {
    let s = &b[r.clone()];
    if memchr::memmem::find(s, "\u{feff}".as_bytes()).is_some() {
        return false;
    }
    let starts_line = r.start == 0 || b[r.start - 1] == b'\n';
    let first = if starts_line { Some(0) } else { None };
    first
        .into_iter()
        .chain(memchr::memchr_iter(b'\n', s).map(|i| i + 1))
        .all(|at| match s.get(at) {
            None => true,
            Some(b' ' | b'\n' | b'#') => true,
            Some(b'\r') => s.get(at + 1) == Some(&b'\n'),
            Some(_) => false,
        })
}

/// Lines and characters in `s`, if every line ends in `\n` or `\r\n` and
/// the counts fit the positions' `u32`s.
fn count(s: &[u8]) -> Option<(u32, u32)> {
    // A lone `\r` is a line break to YAML too; the counts here know `\n`.
    if memchr::memchr_iter(b'\r', s).any(|i| s.get(i + 1) != Some(&b'\n')) {
        return None;
    }
    let lines = s.iter().filter(|&&c| c == b'\n').count();
    // Every character starts with a byte that is not a continuation byte.
    let chars = s.iter().filter(|&&c| (c as i8) >= -0x40).count();
    Some((u32::try_from(lines).ok()?, u32::try_from(chars).ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(nodes: usize) -> String {
        let mut s = String::from("id: s\ntitle: T\nnodes:\n");
        for i in 0..nodes {
            s.push_str(&format!("  n{i}:\n    resolve: \"Done {i}\"\n"));
        }
        s
    }

    #[test]
    fn cuts_fall_on_node_keys_and_bases_count_what_is_before() {
        let text = script(1000);
        let parts = plan(&text, 4, 1000).expect("a plan");
        assert_eq!(parts.len(), 4);
        assert_eq!(parts[0].bytes.start, 0);
        assert_eq!(parts.last().map(|p| p.bytes.end), Some(text.len()));
        for w in parts.windows(2) {
            assert_eq!(w[0].bytes.end, w[1].bytes.start);
            let at = w[1].bytes.start;
            assert!(text[at..].starts_with("  n"), "{:?}", &text[at..at + 10]);
            let before = &text[..at];
            assert_eq!(w[1].base.lines as usize, before.matches('\n').count());
            assert_eq!(w[1].base.chars as usize, before.chars().count());
        }
    }

    #[test]
    fn characters_not_bytes_are_counted() {
        let text = script(300).replace("Done", "Gedaan ✓ Готово");
        let parts = plan(&text, 2, 1000).expect("a plan");
        let at = parts[1].bytes.start;
        assert_eq!(parts[1].base.chars as usize, text[..at].chars().count());
    }

    #[test]
    fn small_files_and_unusual_shapes_are_read_whole() {
        let text = script(1000);
        assert_eq!(plan(&text, 1, 1000), None, "one part");
        assert_eq!(plan(&text, 4, text.len()), None, "too small");
        // Something at the top level after `nodes`.
        assert_eq!(plan(&format!("{text}start: n0\n"), 4, 1000), None);
        // `nodes` as a list, as a flow mapping, or not at the top level.
        assert_eq!(plan(&text.replace("  n", "  - n"), 4, 1000), None);
        assert_eq!(plan(&text.replace("nodes:\n", "nodes: {\n"), 4, 1000), None);
        assert_eq!(plan(&text.replace("nodes:", "nodez:"), 4, 1000), None);
        // Line ends YAML counts differently, and a byte order mark.
        assert_eq!(plan(&text.replace("\n    ", "\r    "), 4, 1000), None);
        assert_eq!(plan(&text.replacen('\n', "\r", 1), 4, 1000), None);
        assert_eq!(plan(&format!("{text}  x: \u{feff}\n"), 4, 1000), None);
        // CRLF files are fine.
        let crlf = text.replace('\n', "\r\n");
        let parts = plan(&crlf, 4, 1000).expect("a plan");
        assert!(crlf[parts[1].bytes.start..].starts_with("  n"));
    }
}
