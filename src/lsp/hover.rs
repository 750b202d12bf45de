//! What a name means: a head's class (with the class's positions and description), a
//! class's heads, a position's definition in the task.

use std::fmt::Write as _;

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position, Url};

use crate::dsl::ast::{ClassDef, PositionsDef, SettingKey};
use crate::dsl::circuit::Head;
use crate::lsp::symbols::{ClassRole, Symbol, class_definition, class_of_head, symbol_at};
use crate::lsp::task;
use crate::lsp::workspace::{Chain, Workspace};

pub fn hover(workspace: &Workspace, uri: &Url, position: Position) -> Option<Hover> {
    let document = workspace.document(uri)?;
    let chain = workspace.chain(&document.path);
    let file = &chain.files[0];
    let lines = file.lines();
    let (symbol, span) = symbol_at(file.syntax.as_ref()?, lines.offset(position))?;
    let text = match symbol {
        Symbol::Head(head) => head_text(&chain, head),
        Symbol::Class { name, role } => {
            let from = usize::from(role == ClassRole::Removal);
            let (_, def) = class_definition(&chain, from, &name)?;
            class_text(def)
        }
        Symbol::Position(name) => position_text(&chain, &name),
        Symbol::Extends(_) => return None,
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(lines.range(span)),
    })
}

fn head_text(chain: &Chain, head: Head) -> String {
    let mut text = format!("head **{head}**");
    if let (Some(model), Some(shape)) = (chain.setting(SettingKey::Model), chain.model_shape())
        && (head.layer >= shape.layers || head.head >= shape.heads)
    {
        write!(
            text,
            " is outside `{model}` (layers 0–{}, heads 0–{})",
            shape.layers.saturating_sub(1),
            shape.heads.saturating_sub(1)
        )
        .unwrap();
        return text;
    }
    let Some(class) = class_of_head(chain, head) else {
        text.push_str(" is in no class");
        return text;
    };
    write!(text, " in class **{class}**").unwrap();
    if let Some((_, def)) = class_definition(chain, 0, &class) {
        write!(text, " at {}", positions_text(&def.positions)).unwrap();
        if let Some(description) = &def.description {
            write!(text, "\n\n{description}").unwrap();
        }
    }
    text
}

fn class_text(def: &ClassDef) -> String {
    let heads: Vec<String> = def
        .heads
        .iter()
        .map(|head| head.value.to_string())
        .collect();
    let mut text = format!(
        "class **{}** at {}: heads {}",
        def.name.value,
        positions_text(&def.positions),
        heads.join(" ")
    );
    if let Some(description) = &def.description {
        write!(text, "\n\n{description}").unwrap();
    }
    text
}

fn position_text(chain: &Chain, name: &str) -> String {
    let Some(reference) = chain.task() else {
        return format!("position **{name}**");
    };
    let task_name = reference.to_string();
    let mut text = format!("position **{name}** of task **{task_name}**");
    let Some(task) = task(&reference) else {
        return text;
    };
    match task.position_definition(name) {
        Some(definition) => write!(text, ": `{definition}`").unwrap(),
        None if !task.position_names().iter().any(|n| n == name) => {
            text.push_str(": the task has no such position")
        }
        None => text.push_str(": given by each prompt"),
    }
    if let Some(description) = task.description() {
        write!(text, "\n\n{task_name}: {description}").unwrap();
    }
    text
}

fn positions_text(positions: &PositionsDef) -> String {
    match positions {
        PositionsDef::All(_) => "all".to_string(),
        PositionsDef::Named(names) => names
            .iter()
            .map(|name| name.value.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}
