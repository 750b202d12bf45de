//! `fmt` as one edit replacing the whole document.

use std::sync::Arc;

use lsp_types::TextEdit;
use miette::NamedSource;

use crate::dsl::{format, parser};
use crate::lsp::document::{Document, Lines};

/// No edit when the text is canonical already, or does not parse (a half-typed file is
/// left as it is, as `fmt` leaves it).
pub fn format_document(document: &Document) -> Vec<TextEdit> {
    let source = NamedSource::new("", Arc::<str>::from(document.text.as_str()));
    let Ok(file) = parser::parse(&source) else {
        return Vec::new();
    };
    let formatted = format::format(&file);
    if formatted == document.text {
        return Vec::new();
    }
    vec![TextEdit::new(
        Lines::new(&document.text).everything(),
        formatted,
    )]
}
