//! Diagnostics for people (miette's graphical report) and for machines (JSON).

use std::io::IsTerminal;

use miette::{GraphicalReportHandler, GraphicalTheme};
use serde::Serialize;

use crate::dsl::{Diagnostic, Severity};

/// Whether to colour terminal output: only on a terminal, and never with `NO_COLOR` set.
pub fn use_color(stream: &impl IsTerminal) -> bool {
    stream.is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Renders diagnostics the way rustc does: code, message, the source with labels, help.
pub fn render_human(diagnostics: &[&Diagnostic], color: bool) -> String {
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    for diagnostic in diagnostics {
        handler
            .render_report(&mut out, *diagnostic)
            .expect("writing to a String cannot fail");
        out.push('\n');
    }
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
    let items: Vec<JsonDiagnostic> = diagnostics
        .iter()
        .map(|d| {
            let (line, column) = d.line_column();
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
