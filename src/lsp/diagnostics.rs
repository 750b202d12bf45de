//! `lint`'s diagnostics for every open document and the files they extend, as LSP
//! diagnostics: same codes and messages, ranges in UTF-16 positions.

use std::collections::BTreeMap;

use lsp_types::{DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Url};

use crate::dsl::{self, Loader, Severity};
use crate::lsp::document::Lines;
use crate::lsp::environment;
use crate::lsp::workspace::Workspace;

/// Diagnostics per file, for the open documents (an empty list when they are clean) and
/// for every file they extend that has problems.
pub fn check(
    workspace: &Workspace,
    related_information: bool,
) -> BTreeMap<Url, Vec<lsp_types::Diagnostic>> {
    let sources = workspace.sources();
    let mut loader = Loader::new(environment(), &sources);
    let mut out = BTreeMap::new();
    for (uri, document) in workspace.documents() {
        loader.load(&document.path);
        out.insert(uri.clone(), Vec::new());
    }
    for loaded in loader.files() {
        for diagnostic in &loaded.diagnostics {
            // A file's diagnostics may point into another file (the task file it names).
            let elsewhere = diagnostic.file_name() != loaded.source.name();
            let path = if elsewhere {
                std::path::Path::new(diagnostic.file_name())
            } else {
                loaded.path.as_path()
            };
            let Some(uri) = workspace.uri_of(path) else {
                continue;
            };
            let converted = convert(diagnostic, &uri, related_information);
            out.entry(uri).or_insert_with(Vec::new).push(converted);
        }
    }
    out
}

/// The message is `lint`'s with its primary label (`…: layer 12 does not exist`, which
/// clients that show no related information, as Neovim's float, would otherwise hide) and
/// its help line. Every label also goes to related information where the client shows it;
/// else the secondary ones go into the message with their positions.
pub fn convert(
    diagnostic: &dsl::Diagnostic,
    uri: &Url,
    related_information: bool,
) -> lsp_types::Diagnostic {
    let lines = Lines::new(diagnostic.source.inner());
    let primary = (diagnostic.span, diagnostic.label.as_str());
    let secondary = diagnostic
        .secondary
        .iter()
        .map(|(span, label)| (*span, label.as_str()));
    let mut message = diagnostic.message.clone();
    if !diagnostic.label.is_empty() {
        message.push_str(&format!(": {}", diagnostic.label));
    }
    let mut related = Vec::new();
    if related_information {
        for (span, label) in std::iter::once(primary).chain(secondary) {
            if !label.is_empty() {
                related.push(DiagnosticRelatedInformation {
                    location: Location::new(uri.clone(), lines.range(span)),
                    message: label.to_string(),
                });
            }
        }
    } else {
        for (span, label) in secondary.filter(|(_, label)| !label.is_empty()) {
            let start = lines.position(span.start);
            message.push_str(&format!(
                "\n{}:{}: {label}",
                start.line + 1,
                start.character + 1
            ));
        }
    }
    if let Some(help) = &diagnostic.help {
        message.push_str(&format!("\nhelp: {help}"));
    }
    lsp_types::Diagnostic {
        range: lines.range(diagnostic.span),
        severity: Some(match diagnostic.severity() {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(diagnostic.code.as_str().to_string())),
        source: Some("circuitcheck".to_string()),
        message,
        related_information: (!related.is_empty()).then_some(related),
        ..Default::default()
    }
}
