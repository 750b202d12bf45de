//! Comments. The grammar skips them; this module finds them in the text and attaches each
//! to the item it belongs with, so the formatter can move statements without losing them:
//! a comment at the end of an item's line trails that item, any other comment goes before the
//! next item (comments inside a multi-line statement go before that statement).

use crate::dsl::ast::{Comments, File, Span};
use crate::dsl::lexer;

struct Comment {
    offset: usize,
    text: String,
}

/// Every `# ...` outside a quoted string, with the `#` and trailing spaces dropped.
fn scan(text: &str) -> Vec<Comment> {
    lexer::comments(text)
        .map(|(offset, body)| Comment {
            offset,
            text: body.to_string(),
        })
        .collect()
}

enum Slot {
    FileLeading,
    HeaderInner,
    FileTrailing,
    Item(usize, bool),
}

pub fn attach_comments(text: &str, file: &mut File) {
    let comments = scan(text);
    if comments.is_empty() {
        return;
    }
    // Line breaks in order, so "same line" is a binary search rather than a scan of the
    // text between two offsets (which made many comments quadratic, or worse).
    let breaks: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
    let same_line = |a: usize, b: usize| {
        let next = breaks.partition_point(|&n| n < a.min(b));
        breaks.get(next).is_none_or(|&n| n >= a.max(b))
    };
    // Items in source order, one after another: header settings, then statements. Their
    // starts and ends both increase, so the item around or before an offset is a binary
    // search away.
    let mut spans: Vec<Span> = file
        .header
        .settings
        .iter()
        .map(|setting| Span {
            start: setting.key.span.start,
            end: setting.value.span.end,
        })
        .collect();
    let settings = spans.len();
    spans.extend(file.statements.iter().map(|statement| statement.span));
    let header_end = file.header.span.end;

    for comment in comments {
        let at = comment.offset;
        // The last item ending before the comment: the only one that can share its line.
        let ended = spans.partition_point(|span| span.end <= at);
        // The first item starting after the comment.
        let next = spans.partition_point(|span| span.start <= at);
        let slot = if at < file.header.span.start {
            Slot::FileLeading
        } else if let Some(i) = ended
            .checked_sub(1)
            .filter(|&i| same_line(spans[i].end, at))
        {
            Slot::Item(i, true)
        } else if let Some(i) = next.checked_sub(1).filter(|&i| at < spans[i].end) {
            Slot::Item(i, false)
        } else if let Some(i) = (next < spans.len()).then_some(next) {
            if i >= settings && at < header_end {
                Slot::HeaderInner
            } else {
                Slot::Item(i, false)
            }
        } else if at < header_end {
            Slot::HeaderInner
        } else {
            Slot::FileTrailing
        };
        match slot {
            Slot::FileLeading => file.leading_comments.push(comment.text),
            Slot::HeaderInner => file.header.inner_comments.push(comment.text),
            Slot::FileTrailing => file.trailing_comments.push(comment.text),
            Slot::Item(i, trailing) => {
                let comments: &mut Comments = if i < settings {
                    &mut file.header.settings[i].comments
                } else {
                    &mut file.statements[i - settings].comments
                };
                if trailing && comments.trailing.is_none() {
                    comments.trailing = Some(comment.text);
                } else {
                    comments.before.push(comment.text);
                }
            }
        }
    }
}
