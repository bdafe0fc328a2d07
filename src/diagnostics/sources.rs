//! The source map: every file the compiler read, kept whole so diagnostics can
//! show an excerpt long after parsing.

use std::sync::{Arc, OnceLock};

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(pub u32);

/// One loaded file. `text` is empty when the file could not be read or was not UTF-8.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: String,
    pub text: Arc<str>,
    /// Where each line starts; built on first use, as only a file with a
    /// diagnostic to show needs it.
    line_starts: OnceLock<Vec<usize>>,
}

impl SourceFile {
    pub fn new(path: impl Into<String>, text: impl Into<Arc<str>>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
            line_starts: OnceLock::new(),
        }
    }

    fn line_start(&self, line: u32) -> Option<usize> {
        let starts = self.line_starts.get_or_init(|| {
            // Lines end at `\n`, `\r\n` or a lone `\r`, as the YAML parser counts them.
            let mut starts = vec![0];
            let b = self.text.as_bytes();
            for (i, &c) in b.iter().enumerate() {
                if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
                    starts.push(i + 1);
                }
            }
            starts
        });
        starts.get(line.saturating_sub(1) as usize).copied()
    }

    /// The byte offset of a 1-based line and 1-based character column,
    /// clamped to the text (diagnostics may point just past the end).
    pub fn byte_offset(&self, line: u32, column: u32) -> usize {
        let Some(start) = self.line_start(line) else {
            return self.text.len();
        };
        let line_text = self.text[start..].split(['\n', '\r']).next().unwrap_or("");
        let col = column.saturating_sub(1) as usize;
        match line_text.char_indices().nth(col) {
            Some((i, _)) => start + i,
            None => start + line_text.len(),
        }
    }

    /// The text of a 1-based line, without its line break.
    pub fn line(&self, line: u32) -> &str {
        let Some(start) = self.line_start(line) else {
            return "";
        };
        self.text[start..].split(['\n', '\r']).next().unwrap_or("")
    }
}

/// All files of one compiler run.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, file: SourceFile) -> FileId {
        self.files.push(file);
        FileId((self.files.len() - 1) as u32)
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0 as usize)
    }

    pub fn path(&self, id: FileId) -> &str {
        self.get(id).map(|f| f.path.as_str()).unwrap_or("<unknown>")
    }

    pub fn iter(&self) -> impl Iterator<Item = (FileId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f))
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_offsets_count_characters_not_bytes() {
        let f = SourceFile::new("x.yaml", "a: 1\nnl: \"Größe\" x\n");
        assert_eq!(f.byte_offset(1, 1), 0);
        assert_eq!(f.byte_offset(2, 1), 5);
        // the `x` after the German word: column 13 in characters, further in bytes
        let off = f.byte_offset(2, 13);
        assert_eq!(&f.text[off..off + 1], "x");
        assert_eq!(f.line(2), "nl: \"Größe\" x");
        assert_eq!(f.byte_offset(99, 1), f.text.len());
    }

    #[test]
    fn every_kind_of_line_break_counts() {
        let f = SourceFile::new("x.yaml", "a: 1\r\nb: 2\rc: 3\nd");
        assert_eq!(
            [f.line(1), f.line(2), f.line(3), f.line(4)],
            ["a: 1", "b: 2", "c: 3", "d"]
        );
        assert_eq!(&f.text[f.byte_offset(3, 1)..f.byte_offset(3, 2)], "c");
    }
}
