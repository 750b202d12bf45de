//! Diagnostics for people (miette's graphical report) and for machines (JSON).

use std::io::IsTerminal;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

use crate::dsl::{Diagnostic, Severity};
use crate::report::text::excerpt::{Clipped, LineIndex};

/// Whether to colour terminal output: only on a terminal, and never with `NO_COLOR` set.
pub fn use_color(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

fn handler(color: bool, width: usize) -> GraphicalReportHandler {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_width(width)
        .with_links(false)
}

/// Line indexes of the files diagnostics point into, built once per file so each
/// diagnostic costs the same however large its file.
#[derive(Default)]
struct Indexes(Vec<(Arc<str>, LineIndex)>);

impl Indexes {
    fn get(&mut self, text: &Arc<str>) -> &LineIndex {
        let at = match self.0.iter().position(|(t, _)| Arc::ptr_eq(t, text)) {
            Some(at) => at,
            None => {
                self.0.push((text.clone(), LineIndex::new(text)));
                self.0.len() - 1
            }
        };
        &self.0[at].1
    }
}

/// Renders diagnostics the way rustc does: code, message, the source with labels, help.
/// Only the lines around the labels are shown, long ones cut around the labels.
pub fn render_human(diagnostics: &[&Diagnostic], color: bool) -> String {
    let handler = handler(color, 100);
    let mut indexes = Indexes::default();
    let mut out = String::new();
    for diagnostic in diagnostics {
        let text = diagnostic.source.inner();
        let clipped = Clipped::with_text(
            *diagnostic,
            Some(diagnostic.file_name().to_string()),
            text,
            indexes.get(text),
        );
        handler
            .render_report(&mut out, &clipped)
            .expect("writing to a String cannot fail");
        out.push('\n');
    }
    out
}

/// Renders any error of a command (task, model, usage) as miette's default report does
/// (80 columns), its source cut like that of circuit diagnostics.
pub fn render_error(error: &dyn miette::Diagnostic, color: bool) -> String {
    let mut out = String::new();
    handler(color, 80)
        .render_report(&mut out, &Clipped::new(error))
        .expect("writing to a String cannot fail");
    out
}

/// "2 errors, 1 warning" (or "no problems").
pub fn summary(diagnostics: &[&Diagnostic]) -> String {
    let count = |severity| {
        diagnostics
            .iter()
            .filter(|d| d.severity() == severity)
            .count()
    };
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    match (count(Severity::Error), count(Severity::Warning)) {
        (0, 0) => "no problems".to_string(),
        (errors, 0) => plural(errors, "error"),
        (0, warnings) => plural(warnings, "warning"),
        (errors, warnings) => format!(
            "{}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        ),
    }
}

/// One diagnostic in `lint --format json` (schema version 1).
#[derive(Serialize)]
pub struct JsonDiagnostic<'a> {
    pub file: &'a str,
    pub severity: &'static str,
    pub code: &'static str,
    pub message: &'a str,
    pub line: usize,
    pub column: usize,
    /// Byte offset and length of the primary span.
    pub offset: usize,
    pub length: usize,
    pub label: &'a str,
    pub help: Option<&'a str>,
}

#[derive(Serialize)]
pub struct JsonLint<'a> {
    pub version: u32,
    pub files: Vec<&'a str>,
    pub errors: usize,
    pub warnings: usize,
    pub diagnostics: Vec<JsonDiagnostic<'a>>,
}

pub fn render_json(files: Vec<&str>, diagnostics: &[&Diagnostic]) -> String {
    let mut indexes = Indexes::default();
    let items: Vec<JsonDiagnostic> = diagnostics
        .iter()
        .map(|d| {
            let (line, column) = indexes.get(d.source.inner()).line_column(d.span.start);
            JsonDiagnostic {
                file: d.file_name(),
                severity: d.severity().name(),
                code: d.code.as_str(),
                message: &d.message,
                line,
                column,
                offset: d.span.start,
                length: d.span.len(),
                label: &d.label,
                help: d.help.as_deref(),
            }
        })
        .collect();
    let report = JsonLint {
        version: 1,
        files,
        errors: diagnostics.iter().filter(|d| d.is_error()).count(),
        warnings: diagnostics.iter().filter(|d| !d.is_error()).count(),
        diagnostics: items,
    };
    serde_json::to_string_pretty(&report).expect("serialising plain data cannot fail") + "\n"
}
