//! What a name means: a head's class (with the class's positions and description), a
//! class's heads, a position's definition in the task.

use std::fmt::Write as _;

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position, Url};

use crate::dsl::ast::{ClassDef, PositionsDef, SettingKey};
use crate::dsl::circuit::{Ablation, Head, Level};
use crate::lsp::symbols::{ClassRole, Symbol, class_definition, class_of_head, symbol_at};
use crate::lsp::workspace::{Chain, Workspace};
use crate::lsp::{environment, task};

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
        Symbol::SettingKey(key) => setting_text(key).to_string(),
        Symbol::SettingValue(key, value) => value_text(&chain, key, &value)?,
        Symbol::Metric(name) => metric_text(&name)?.to_string(),
        Symbol::Embed => "**embed**: the token and position embeddings, where the circuit \
            starts: it only sends edges"
            .to_string(),
        Symbol::Logits => "**logits**: the model's output, read at `END`, where the circuit \
            ends: it only receives edges, without a channel"
            .to_string(),
        Symbol::Mlp(layer) => format!(
            "**mlp.{layer}**: the MLP of layer {layer}; named in an edge, at edge level it \
             reads only what is wired to it (without a channel) and sends to what it is wired to"
        ),
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(lines.range(span)),
    })
}

/// What each header setting says (GRAMMAR.md's words).
fn setting_text(key: SettingKey) -> &'static str {
    match key {
        SettingKey::Model => {
            "**model**: the model the heads belong to; every head is checked against its \
             shape (required, or inherited through `extends`)"
        }
        SettingKey::Task => {
            "**task**: the task whose prompts, answers and named positions the circuit talks \
             about: a built-in task by name, or a task file as a quoted path relative to this \
             file (required, or inherited)"
        }
        SettingKey::Ablation => {
            "**ablation**: how knocked-out components are replaced: `mean` (per template and \
             position, over the reference prompts), `global-mean`, `resample` or `zero`"
        }
        SettingKey::Level => {
            "**level**: `node` (heads keep their real output at their class's positions) or \
             `edge` (each receiving head's q, k and v see real outputs only from senders \
             wired to them)"
        }
    }
}

/// A setting's value: the model's shape, the task's description and positions, what an
/// ablation or level does. `None` for values circuitcheck does not know.
fn value_text(chain: &Chain, key: SettingKey, value: &str) -> Option<String> {
    let text = match key {
        SettingKey::Model => {
            let shape = environment().model_shape(value)?;
            format!(
                "model **{value}**: {} layers × {} heads",
                shape.layers, shape.heads
            )
        }
        SettingKey::Task => {
            let reference = chain.task()?;
            let task = task(&reference)?;
            let mut text = format!("task **{}**", task.name());
            if let Some(description) = task.description() {
                write!(text, ": {description}").unwrap();
            }
            write!(text, "\n\npositions: {}", task.position_names().join(", ")).unwrap();
            text
        }
        SettingKey::Ablation => {
            let meaning = match Ablation::from_name(value)? {
                Ablation::Mean => {
                    "the mean over the task's reference prompts of the same template, per \
                     position (the paper's knockout)"
                }
                Ablation::GlobalMean => "the mean over every position of every reference prompt",
                Ablation::Resample => "the activation on a random reference prompt",
                Ablation::Zero => "zero",
            };
            format!("ablation **{value}**: a knocked-out component is replaced by {meaning}")
        }
        SettingKey::Level => match Level::from_name(value)? {
            Level::Node => "level **node**: heads keep their real output at their class's \
                positions, and everything reads the resulting residual stream"
                .to_string(),
            Level::Edge => "level **edge**: each receiving head's q, k and v inputs see real \
                outputs only from the senders wired to them by an edge"
                .to_string(),
        },
    };
    Some(text)
}

/// What an `expect` metric measures (F: the task's metric; M the model, C the circuit, ∅
/// every head knocked out).
fn metric_text(name: &str) -> Option<&'static str> {
    Some(match name {
        "faithfulness" => {
            "**faithfulness**: F(C) / F(M), how much of the model's behaviour the circuit keeps"
        }
        "faithfulness_gap" => "**faithfulness_gap**: |F(M) − F(C)|",
        "normalized_faithfulness" => "**normalized_faithfulness**: (F(C) − F(∅)) / (F(M) − F(∅))",
        "incompleteness" => {
            "**incompleteness**: the worst |F(C \\ K) − F(M \\ K)| over the sets K of circuit heads tried: whether the model does without K what the circuit does without K"
        }
        "minimality" => {
            "**minimality**: `minimality(L.H)`, the largest change knocking head L.H out makes (over the sets K tried with it), as a fraction of F(M); `minimality` alone, the smallest over every head"
        }
        _ => return None,
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
