//! Quick fixes: the repairs the checker's diagnostics carry (a "did you mean" applied, a
//! head listed twice removed, a backward edge reversed), for the diagnostics the cursor or
//! selection touches. The file is checked again rather than trusting what the client
//! echoes back, so a fix always matches the text it edits.

use std::collections::HashMap;

use lsp_types::{
    CodeAction, CodeActionKind, CodeActionOrCommand, Range, TextEdit, Url, WorkspaceEdit,
};

use crate::dsl::Loader;
use crate::lsp::diagnostics::convert;
use crate::lsp::document::Lines;
use crate::lsp::environment;
use crate::lsp::workspace::Workspace;

pub fn code_actions(
    workspace: &Workspace,
    uri: &Url,
    range: Range,
    related_information: bool,
) -> Option<Vec<CodeActionOrCommand>> {
    let document = workspace.document(uri)?;
    let sources = workspace.sources();
    let mut loader = Loader::new(environment(), &sources);
    let loaded = loader.load(&document.path);
    let lines = Lines::new(loaded.source.inner());
    let wanted = lines.span(range);
    let mut actions = Vec::new();
    for diagnostic in &loaded.diagnostics {
        // A file's diagnostics may point into another file (its task file).
        let here = diagnostic.file_name() == loaded.source.name();
        let touched = diagnostic.span.start <= wanted.end && wanted.start <= diagnostic.span.end;
        if !here || !touched {
            continue;
        }
        for fix in &diagnostic.fixes {
            let edits = fix
                .edits
                .iter()
                .map(|(span, text)| TextEdit::new(lines.range(*span), text.clone()))
                .collect();
            let action = CodeAction {
                title: fix.title.clone(),
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![convert(diagnostic, uri, related_information)]),
                edit: Some(WorkspaceEdit {
                    changes: Some(HashMap::from([(uri.clone(), edits)])),
                    ..Default::default()
                }),
                is_preferred: Some(diagnostic.fixes.len() == 1),
                ..Default::default()
            };
            actions.push(CodeActionOrCommand::CodeAction(action));
        }
    }
    Some(actions)
}
