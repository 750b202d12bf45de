//! What a diagnostic shows of its source: the lines around its labels, with long lines cut
//! to windows around the labels. miette prints every shown line in full and pads labels
//! with `{:width$}`, which panics past column 65,535; and printing whole long lines made the
//! output of a file with many problems on one line grow as problems × line length.

use std::fmt;
use std::ops::Range;

use miette::{
    Diagnostic, LabeledSpan, MietteError, MietteSpanContents, Severity, SourceCode, SourceSpan,
    SpanContents,
};

/// Lines longer than this (in bytes) are cut to windows around the labels on them.
const LONG_LINE: usize = 160;
/// Bytes kept on either side of a label's start or end on a cut line.
const MARGIN: usize = 40;
/// A label over more lines than this is shown on its first line only.
const MAX_LABEL_LINES: usize = 12;
/// Lines shown above and below each label, as miette's default.
const CONTEXT: usize = 1;
/// Stands for the text cut out of a long line.
const CUT: &str = "…";

/// Where each line of a text starts, to find an offset's line in O(log lines).
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
    final_newline: bool,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        // A final newline ends the last line rather than starting an empty one.
        let final_newline = starts.len() > 1 && starts.last() == Some(&text.len());
        if final_newline {
            starts.pop();
        }
        Self {
            starts,
            len: text.len(),
            final_newline,
        }
    }

    /// 0-based line of a byte offset (offsets past the end are on the last line).
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset) - 1
    }

    /// 1-based line and byte column of an offset, as diagnostics print them.
    pub fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.len);
        if offset == self.len && self.final_newline {
            return (self.count() + 1, 1);
        }
        let line = self.line_of(offset);
        (line + 1, offset - self.starts[line] + 1)
    }

    fn count(&self) -> usize {
        self.starts.len()
    }

    /// A line's text without its line break (`\n` or `\r\n`).
    fn content(&self, text: &str, line: usize) -> Range<usize> {
        let start = self.starts[line];
        let mut end = self.starts.get(line + 1).copied().unwrap_or(self.len);
        let bytes = text.as_bytes();
        if end > start && bytes[end - 1] == b'\n' {
            end -= 1;
            if end > start && bytes[end - 1] == b'\r' {
                end -= 1;
            }
        }
        start..end
    }
}

/// One shown line: its number in the file, where it sits in the excerpt, and which parts of
/// the original line it holds.
struct Shown {
    number: usize,
    /// Excerpt bytes of the line, without the `\n` that follows it.
    range: Range<usize>,
    segment: usize,
    /// The line's text in the original, without its line break.
    content: Range<usize>,
    /// (original range, excerpt offset) of each kept part, in order.
    pieces: Vec<(Range<usize>, usize)>,
}

/// The shown lines of one diagnostic as a `SourceCode` of their own: groups of consecutive
/// lines (segments), each line possibly cut, reporting the original line numbers and columns.
pub struct Excerpt {
    name: Option<String>,
    text: String,
    lines: Vec<Shown>,
}

impl fmt::Debug for Excerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Excerpt").field("name", &self.name).finish()
    }
}

impl Excerpt {
    /// The excerpt of `text` showing `spans`, and the spans moved into it.
    pub fn new(
        name: Option<String>,
        text: &str,
        index: &LineIndex,
        spans: &[Range<usize>],
    ) -> (Excerpt, Vec<Range<usize>>) {
        let spans: Vec<Range<usize>> = spans.iter().map(|s| clamp(text, index, s)).collect();
        let last_line = index.count() - 1;
        let mut wanted: Vec<(usize, usize)> = spans
            .iter()
            .map(|span| {
                let first = index.line_of(span.start);
                let last = index.line_of(span.end.saturating_sub(1).max(span.start));
                (
                    first.saturating_sub(CONTEXT),
                    (last + CONTEXT).min(last_line),
                )
            })
            .collect();
        wanted.sort();
        // Overlapping or adjacent line ranges show as one segment, as miette joins them.
        let mut segments: Vec<(usize, usize)> = Vec::new();
        for (first, last) in wanted {
            match segments.last_mut() {
                Some(segment) if first <= segment.1 + 1 => segment.1 = segment.1.max(last),
                _ => segments.push((first, last)),
            }
        }
        let mut excerpt = Excerpt {
            name,
            text: String::new(),
            lines: Vec::new(),
        };
        for (segment, (first, last)) in segments.into_iter().enumerate() {
            for number in first..=last {
                let content = index.content(text, number);
                let points: Vec<usize> = spans
                    .iter()
                    .flat_map(|s| [s.start, s.end])
                    .filter(|p| index.line_of(*p) == number)
                    .map(|p| p.min(content.end))
                    .collect();
                excerpt.push_line(text, number, segment, content, &points);
            }
        }
        let moved = spans
            .iter()
            .map(|s| excerpt.map(index, s.start)..excerpt.map(index, s.end))
            .collect();
        (excerpt, moved)
    }

    fn push_line(
        &mut self,
        text: &str,
        number: usize,
        segment: usize,
        content: Range<usize>,
        points: &[usize],
    ) {
        let windows = windows(text, &content, points);
        let start = self.text.len();
        let mut pieces = Vec::new();
        let mut at = content.start;
        for window in windows {
            if window.start > at {
                self.text.push_str(CUT);
            }
            pieces.push((window.clone(), self.text.len()));
            push_visible(&mut self.text, &text[window.clone()]);
            at = window.end;
        }
        if at < content.end {
            self.text.push_str(CUT);
        }
        self.lines.push(Shown {
            number,
            range: start..self.text.len(),
            segment,
            content,
            pieces,
        });
        self.text.push('\n');
    }

    /// Where an offset of the original text lies in the excerpt.
    fn map(&self, index: &LineIndex, offset: usize) -> usize {
        let number = index.line_of(offset);
        let at = self.lines.partition_point(|line| line.number <= number);
        let Some(line) = at.checked_sub(1).map(|i| &self.lines[i]) else {
            return 0;
        };
        if line.number != number || offset >= line.content.end {
            return line.range.end;
        }
        let mut mapped = line.range.start;
        for (piece, excerpt_at) in &line.pieces {
            if offset < piece.start {
                return mapped;
            }
            if offset <= piece.end {
                return excerpt_at + (offset - piece.start);
            }
            mapped = excerpt_at + piece.len();
        }
        mapped
    }

    /// The shown line holding an excerpt offset.
    fn line_at(&self, offset: usize) -> usize {
        self.lines
            .partition_point(|line| line.range.start <= offset)
            .saturating_sub(1)
    }

    /// The original column (bytes, 0-based) of an excerpt offset on its line.
    fn column(&self, line: &Shown, offset: usize) -> usize {
        for (piece, excerpt_at) in &line.pieces {
            if offset <= excerpt_at + piece.len() {
                let within = offset.saturating_sub(*excerpt_at).min(piece.len());
                return piece.start + within - line.content.start;
            }
        }
        line.content.len()
    }
}

/// A span inside the text, on character boundaries, and on its first line when it runs
/// over too many lines to show.
fn clamp(text: &str, index: &LineIndex, span: &Range<usize>) -> Range<usize> {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    let first = index.line_of(start);
    if index.line_of(end.saturating_sub(1).max(start)) > first + MAX_LABEL_LINES {
        end = index.content(text, first).end.max(start);
    }
    start..end
}

/// The parts of a line to keep: all of a short line; around each point of a long one (or its
/// beginning when no label is on it).
fn windows(text: &str, content: &Range<usize>, points: &[usize]) -> Vec<Range<usize>> {
    if content.len() <= LONG_LINE {
        return std::iter::once(content.clone()).collect();
    }
    let floor = |mut i: usize| {
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let mut windows: Vec<Range<usize>> = if points.is_empty() {
        std::iter::once(content.start..floor(content.start + LONG_LINE)).collect()
    } else {
        points
            .iter()
            .map(|p| {
                let start = floor(p.saturating_sub(MARGIN).max(content.start));
                let end = floor((p + MARGIN).min(content.end));
                start..end.max(*p)
            })
            .collect()
    };
    windows.sort_by_key(|w| w.start);
    let mut merged: Vec<Range<usize>> = Vec::new();
    for window in windows {
        match merged.last_mut() {
            Some(last) if window.start <= last.end + CUT.len() => {
                last.end = last.end.max(window.end);
            }
            _ => merged.push(window),
        }
    }
    merged
}

/// Appends source text with control characters (which terminals would act on, and which
/// miette measures differently from how it splits lines) shown as `?`, byte for byte.
fn push_visible(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() && c != '\t' {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        if self.lines.is_empty() {
            return Err(MietteError::OutOfBounds);
        }
        let start = span.offset();
        let end = start + span.len();
        let (a, b) = (
            self.line_at(start),
            self.line_at(end.saturating_sub(1).max(start)),
        );
        let segment = self.lines[a].segment;
        // Lines of two segments are not consecutive in the file.
        if self.lines[b].segment != segment || end > self.text.len() {
            return Err(MietteError::OutOfBounds);
        }
        let mut first = a.saturating_sub(context_lines_before);
        while self.lines[first].segment != segment {
            first += 1;
        }
        let mut last = b
            .saturating_add(context_lines_after)
            .min(self.lines.len() - 1);
        while self.lines[last].segment != segment {
            last -= 1;
        }
        let (data_start, column) = if context_lines_before == 0 {
            (start, self.column(&self.lines[a], start))
        } else {
            (self.lines[first].range.start, 0)
        };
        let data_end = (self.lines[last].range.end + 1)
            .max(end)
            .min(self.text.len());
        let data = &self.text.as_bytes()[data_start..data_end];
        let span = SourceSpan::from((data_start, data_end - data_start));
        let line = self.lines[first].number;
        let count = last - first + 1;
        Ok(Box::new(match &self.name {
            Some(name) => {
                MietteSpanContents::new_named(name.clone(), data, span, line, column, count)
            }
            None => MietteSpanContents::new(data, span, line, column, count),
        }))
    }
}

/// A diagnostic shown through an [`Excerpt`] of its source instead of the whole text;
/// everything else is the wrapped diagnostic's.
pub struct Clipped<'a> {
    inner: &'a dyn Diagnostic,
    excerpt: Option<Excerpt>,
    labels: Vec<LabeledSpan>,
}

impl<'a> Clipped<'a> {
    /// Clips `inner`, whose source is `text` (with its line index), when it has labels.
    pub fn with_text(
        inner: &'a dyn Diagnostic,
        name: Option<String>,
        text: &str,
        index: &LineIndex,
    ) -> Self {
        let labels: Vec<LabeledSpan> = inner.labels().map(Iterator::collect).unwrap_or_default();
        if labels.is_empty() || inner.source_code().is_none() {
            return Self {
                inner,
                excerpt: None,
                labels: Vec::new(),
            };
        }
        let spans: Vec<Range<usize>> = labels
            .iter()
            .map(|l| l.offset()..l.offset().saturating_add(l.len()))
            .collect();
        let (excerpt, moved) = Excerpt::new(name, text, index, &spans);
        let labels = labels
            .iter()
            .zip(moved)
            .map(|(label, span)| {
                let span = SourceSpan::from((span.start, span.end - span.start));
                let text = label.label().map(str::to_string);
                if label.primary() {
                    LabeledSpan::new_primary_with_span(text, span)
                } else {
                    LabeledSpan::new_with_span(text, span)
                }
            })
            .collect();
        Self {
            inner,
            excerpt: Some(excerpt),
            labels,
        }
    }

    /// Clips any diagnostic, reading its whole source once (for one-off errors; many
    /// diagnostics of one file should share a [`LineIndex`] through [`Clipped::with_text`]).
    pub fn new(inner: &'a dyn Diagnostic) -> Self {
        let whole = inner.source_code().and_then(|source| {
            let contents = source
                .read_span(&SourceSpan::from((0, 0)), 0, usize::MAX)
                .ok()?;
            let text = std::str::from_utf8(contents.data()).ok()?.to_string();
            Some((contents.name().map(str::to_string), text))
        });
        match whole {
            Some((name, text)) => {
                let index = LineIndex::new(&text);
                Self::with_text(inner, name, &text, &index)
            }
            // A source that is not text cannot be shown safely: show no snippet.
            None => Self {
                inner,
                excerpt: None,
                labels: Vec::new(),
            },
        }
    }
}

impl fmt::Debug for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.inner, f)
    }
}

impl fmt::Display for Clipped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.inner, f)
    }
}

impl std::error::Error for Clipped<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source()
    }
}

impl Diagnostic for Clipped<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.code()
    }

    fn severity(&self) -> Option<Severity> {
        self.inner.severity()
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.help()
    }

    fn url<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.inner.url()
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.excerpt.as_ref().map(|e| e as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.excerpt.as_ref()?;
        Some(Box::new(self.labels.iter().cloned()))
    }

    fn related<'b>(&'b self) -> Option<Box<dyn Iterator<Item = &'b dyn Diagnostic> + 'b>> {
        self.inner.related()
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.inner.diagnostic_source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excerpt(text: &str, spans: &[Range<usize>]) -> (Excerpt, Vec<Range<usize>>) {
        Excerpt::new(None, text, &LineIndex::new(text), spans)
    }

    #[test]
    fn short_lines_are_kept_whole() {
        let text = "a\nbb\nccc\ndddd\neeeee\n";
        let (e, moved) = excerpt(text, std::slice::from_ref(&(5..8)));
        assert_eq!(e.text, "bb\nccc\ndddd\n");
        assert_eq!(&e.text[moved[0].clone()], "ccc");
    }

    #[test]
    fn long_lines_are_cut_around_the_labels() {
        let text = format!("{}HERE{}\n", "x".repeat(100_000), "y".repeat(100_000));
        let (e, moved) = excerpt(&text, std::slice::from_ref(&(100_000..100_004)));
        assert!(e.text.len() < 200, "{}", e.text);
        assert_eq!(&e.text[moved[0].clone()], "HERE");
        let contents = e
            .read_span(&SourceSpan::from((moved[0].start, 4)), 0, 0)
            .unwrap();
        assert_eq!((contents.line(), contents.column()), (0, 100_000));
    }

    #[test]
    fn distant_labels_get_separate_segments() {
        let text: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let index = LineIndex::new(&text);
        let at = |line: usize| text.match_indices('\n').nth(line - 1).unwrap().0 + 1;
        let (e, moved) = Excerpt::new(None, &text, &index, &[at(3)..at(3) + 4, at(90)..at(90) + 4]);
        assert_eq!(e.lines.len(), 6);
        let whole = SourceSpan::from((moved[0].start, moved[1].end - moved[0].start));
        assert!(e.read_span(&whole, 1, 1).is_err());
        let second = e
            .read_span(&SourceSpan::from((moved[1].start, 4)), 1, 1)
            .unwrap();
        assert_eq!(second.line(), 89);
    }
}
