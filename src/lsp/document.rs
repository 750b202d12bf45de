//! Open buffers, and the translation between the byte offsets of the parser's spans and
//! LSP positions, which count lines and UTF-16 code units.

use std::path::PathBuf;
use std::sync::Arc;

use lsp_types::{Position, Range, TextDocumentContentChangeEvent};
use miette::NamedSource;

use crate::dsl::ast::{self, Span};
use crate::dsl::parser;

/// A file the editor has open: its text is the truth, whatever the disk says.
pub struct Document {
    /// Where the loader sees it, so `extends` resolves against its directory.
    pub path: PathBuf,
    pub version: i32,
    pub text: String,
}

impl Document {
    /// The statements of the buffer that parse (see `parser::parse_partial`).
    pub fn syntax(&self) -> Option<ast::File> {
        let name = self.path.to_string_lossy();
        parser::parse_partial(&NamedSource::new(name, Arc::from(self.text.as_str())))
    }

    /// Applies one change: a whole new text, or (from clients that send them anyway) a
    /// replaced range.
    pub fn apply(&mut self, change: TextDocumentContentChangeEvent) {
        match change.range {
            None => self.text = change.text,
            Some(range) => {
                let span = Lines::new(&self.text).span(range);
                self.text.replace_range(span.start..span.end, &change.text);
            }
        }
    }
}

/// Where each line of a text starts.
pub struct Lines<'t> {
    text: &'t str,
    starts: Vec<usize>,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self { text, starts }
    }

    pub fn position(&self, offset: usize) -> Position {
        let offset = self.floor(offset);
        let line = self.starts.partition_point(|&start| start <= offset) - 1;
        let start = self.starts[line];
        let character: usize = self.text[start..offset].chars().map(char::len_utf16).sum();
        Position::new(line as u32, character as u32)
    }

    /// The byte offset of a position; a column past the end of its line means the end of
    /// the line, a line past the end of the text the end of the text.
    pub fn offset(&self, position: Position) -> usize {
        let Some(&start) = self.starts.get(position.line as usize) else {
            return self.text.len();
        };
        let line = &self.text[start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        let mut units = 0;
        for (i, c) in line.char_indices() {
            if units >= position.character as usize {
                return start + i;
            }
            units += c.len_utf16();
        }
        start + line.len()
    }

    pub fn range(&self, span: Span) -> Range {
        Range::new(self.position(span.start), self.position(span.end))
    }

    pub fn span(&self, range: Range) -> Span {
        let start = self.offset(range.start);
        Span {
            start,
            end: self.offset(range.end).max(start),
        }
    }

    /// The whole text, for edits that replace all of it.
    pub fn everything(&self) -> Range {
        self.range(Span {
            start: 0,
            end: self.text.len(),
        })
    }

    fn floor(&self, offset: usize) -> usize {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_columns_round_trip() {
        // `é` is 2 bytes and 1 UTF-16 unit, `𝄞` 4 bytes and 2 units.
        let text = "ab\né𝄞x\n";
        let lines = Lines::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(lines.position(x), Position::new(1, 3));
        assert_eq!(lines.offset(Position::new(1, 3)), x);
        assert_eq!(lines.offset(Position::new(1, 99)), x + 1);
        assert_eq!(lines.offset(Position::new(9, 0)), text.len());
        assert_eq!(lines.position(text.len()), Position::new(2, 0));
    }
}
