//! Completion from what the statement under the cursor can take next: keywords, setting
//! values, class names, the task's position names, and `layer.head` within the model.
//! The text before the cursor is read as tokens rather than parsed, since it is usually
//! half-written.

use lsp_types::{CompletionItem, CompletionItemKind, CompletionTextEdit, Position, TextEdit, Url};

use crate::dsl::ast::{SettingKey, Span};
use crate::dsl::circuit::{Ablation, Head, Level, Metric};
use crate::dsl::parser::STATEMENT_KEYWORDS;
use crate::lsp::document::Lines;
use crate::lsp::environment;
use crate::lsp::outline::{is_word_char, tokens};
use crate::lsp::symbols::{class_of_head, classes};
use crate::lsp::task;
use crate::lsp::workspace::{Chain, Workspace};

/// After these a statement goes on, also on the next line.
const CONNECTORS: [&str; 7] = ["at", ",", "->", "to", "given", "{", "("];

/// What can come at the cursor.
#[derive(Debug, PartialEq)]
enum Want {
    Words(&'static [&'static str]),
    SettingKeys(Vec<&'static str>),
    SettingValues(SettingKey),
    Positions,
    Heads,
    /// Heads for a class's list: those in no class yet, nor already in this list.
    FreeHeads(Vec<String>),
    Classes,
    /// Classes, heads and MLPs, and one of `embed` / `logits`.
    Endpoints(&'static str),
    /// The channel after `CLASS.` or `L.H.`.
    Channels,
    /// Classes and heads (a `given` set).
    Members,
    Metrics,
    Nothing,
}

pub fn completion(
    workspace: &Workspace,
    uri: &Url,
    position: Position,
) -> Option<Vec<CompletionItem>> {
    let document = workspace.document(uri)?;
    let text = document.text.as_str();
    let lines = Lines::new(text);
    let cursor = lines.offset(position);
    let word_start = word_start(text, cursor);
    let before = tokens(&text[..word_start]);
    let line_start = text[..word_start].rfind('\n').map_or(0, |i| i + 1);
    let at_line_start = text[line_start..word_start].trim().is_empty();
    let mut want = want(&before, at_line_start);
    let mut replace_from = word_start;
    if let Some(dot) = text[word_start..cursor].rfind('.') {
        // `name_mover.` or `9.9.`: a channel follows; `9.` is the start of a head.
        let node = &text[word_start..word_start + dot];
        let is_head = node.split('.').count() == 2 && node.split('.').all(is_number);
        // `mlp.` starts an MLP, not a channel.
        let is_class = !node.is_empty() && !is_number(node) && !node.contains('.') && node != "mlp";
        if matches!(want, Want::Endpoints("logits")) && (is_head || is_class) {
            want = Want::Channels;
            replace_from = word_start + dot + 1;
        }
    }
    let range = lines.range(Span {
        start: replace_from,
        end: cursor,
    });
    let chain = workspace.chain(&document.path);
    let items = items(&chain, want)
        .into_iter()
        .map(|item| CompletionItem {
            text_edit: Some(CompletionTextEdit::Edit(TextEdit::new(
                range,
                item.label.clone(),
            ))),
            ..item
        })
        .collect();
    Some(items)
}

fn is_number(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Where the word being typed starts (`S1+1`, `9.9`, `global-mean`, `name_mover.q`).
fn word_start(text: &str, cursor: usize) -> usize {
    let mut start = cursor;
    for (i, c) in text[..cursor].char_indices().rev() {
        if !is_word_char(c) {
            break;
        }
        start = i;
    }
    start
}

fn want(tokens: &[&str], at_line_start: bool) -> Want {
    let Some(open) = tokens.iter().position(|t| *t == "{") else {
        return match tokens {
            [] => Want::Words(&["circuit"]),
            [_, _] => Want::Words(&["extends"]),
            _ => Want::Nothing,
        };
    };
    let header = &tokens[open + 1..];
    let Some(close) = header.iter().position(|t| *t == "}") else {
        return match header.last() {
            Some(&key) if is_setting_key(key) => Want::SettingValues(setting_key(key)),
            _ => Want::SettingKeys(
                SettingKey::ALL
                    .iter()
                    .map(|key| key.keyword())
                    .filter(|key| !header.contains(key))
                    .collect(),
            ),
        };
    };
    let body = &header[close + 1..];
    let Some(mut start) = body.iter().rposition(|t| STATEMENT_KEYWORDS.contains(t)) else {
        return Want::Words(&STATEMENT_KEYWORDS);
    };
    if start > 0 && body[start - 1] == "remove" {
        start -= 1;
    }
    let statement = &body[start..];
    let open_braces = statement.iter().filter(|t| **t == "{").count()
        > statement.iter().filter(|t| **t == "}").count();
    let goes_on = open_braces
        || statement.len() == 1
        || statement.last().is_some_and(|t| CONNECTORS.contains(t));
    if at_line_start && !goes_on {
        return Want::Words(&STATEMENT_KEYWORDS);
    }
    let rest = &statement[1..];
    let has = |token: &str| rest.contains(&token);
    match statement[0] {
        "class" if has("}") => Want::Nothing,
        "class" if has("{") => Want::FreeHeads(rest.iter().map(|t| t.to_string()).collect()),
        "class" if has("at") => Want::Positions,
        "class" if !rest.is_empty() => Want::Words(&["at"]),
        "mlp" if has("at") => Want::Positions,
        "mlp" if rest.is_empty() => Want::Words(&["all", "none"]),
        "mlp" => Want::Words(&["at"]),
        "edge" => endpoints(rest),
        "expect" if rest.is_empty() => Want::Metrics,
        "minimality" if has("}") => Want::Nothing,
        "minimality" if has("{") => Want::Members,
        "minimality" if rest.is_empty() => Want::Heads,
        "minimality" => Want::Words(&["given"]),
        "add" if has("to") => Want::Classes,
        "add" => Want::Heads,
        "remove" => match rest {
            [] => Want::Words(&["class", "head", "edge", "expect"]),
            ["class"] => Want::Classes,
            ["head"] => Want::Heads,
            ["edge", edge @ ..] => endpoints(edge),
            ["expect"] => Want::Metrics,
            _ => Want::Nothing,
        },
        _ => Want::Nothing,
    }
}

fn endpoints(edge: &[&str]) -> Want {
    if edge.contains(&"->") {
        Want::Endpoints("logits")
    } else {
        Want::Endpoints("embed")
    }
}

fn is_setting_key(token: &str) -> bool {
    SettingKey::ALL.iter().any(|key| key.keyword() == token)
}

fn setting_key(token: &str) -> SettingKey {
    *SettingKey::ALL
        .iter()
        .find(|key| key.keyword() == token)
        .expect("checked by is_setting_key")
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..Default::default()
    }
}

fn items(chain: &Chain, want: Want) -> Vec<CompletionItem> {
    let keywords = |words: &[&str]| -> Vec<CompletionItem> {
        words
            .iter()
            .map(|word| item(word, CompletionItemKind::KEYWORD, None))
            .collect()
    };
    match want {
        Want::Words(words) => keywords(words),
        Want::SettingKeys(keys) => keywords(&keys),
        Want::SettingValues(key) => {
            let values: Vec<String> = match key {
                SettingKey::Model => environment().known_models(),
                SettingKey::Task => environment().known_tasks(),
                SettingKey::Ablation => Ablation::NAMES.map(String::from).to_vec(),
                SettingKey::Level => Level::NAMES.map(String::from).to_vec(),
            };
            values
                .iter()
                .map(|value| item(value, CompletionItemKind::VALUE, None))
                .collect()
        }
        Want::Positions => position_items(chain),
        Want::Heads => head_items(chain),
        Want::FreeHeads(listed) => head_items(chain)
            .into_iter()
            .filter(|item| item.detail.is_none() && !listed.contains(&item.label))
            .collect(),
        Want::Classes => class_items(chain),
        Want::Endpoints(end) => {
            let mut out = classes_then_heads(chain);
            out.extend(mlp_items(chain));
            out.extend(keywords(&[end]).into_iter().map(|item| CompletionItem {
                sort_text: Some(format!("2 {}", item.label)),
                ..item
            }));
            out
        }
        Want::Members => classes_then_heads(chain),
        Want::Channels => ["q", "k", "v"]
            .iter()
            .map(|channel| {
                let detail = format!("the receiver's {} input", channel.to_uppercase());
                item(channel, CompletionItemKind::FIELD, Some(detail))
            })
            .collect(),
        Want::Metrics => Metric::NAMES
            .iter()
            .map(|metric| item(metric, CompletionItemKind::PROPERTY, None))
            .collect(),
        Want::Nothing => Vec::new(),
    }
}

/// Classes first (the usual endpoint, and a handful against a model's hundreds of heads),
/// then heads, in the client's order too.
fn classes_then_heads(chain: &Chain) -> Vec<CompletionItem> {
    let classes = class_items(chain)
        .into_iter()
        .enumerate()
        .map(|(i, item)| CompletionItem {
            sort_text: Some(format!("0 {i:04}")),
            ..item
        });
    let heads = head_items(chain).into_iter().map(|item| CompletionItem {
        sort_text: item.sort_text.as_ref().map(|order| format!("1 {order}")),
        ..item
    });
    classes.chain(heads).collect()
}

fn class_items(chain: &Chain) -> Vec<CompletionItem> {
    classes(chain)
        .into_iter()
        .map(|(name, description)| item(&name, CompletionItemKind::CLASS, description))
        .collect()
}

/// The task's positions in the task's order, then `all`.
fn position_items(chain: &Chain) -> Vec<CompletionItem> {
    let task = chain.task().as_ref().and_then(task);
    let names = chain.task_positions();
    let mut out: Vec<CompletionItem> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let definition = task.as_ref().and_then(|t| t.position_definition(name));
            CompletionItem {
                sort_text: Some(format!("{i:03}")),
                ..item(name, CompletionItemKind::ENUM_MEMBER, definition)
            }
        })
        .collect();
    out.push(CompletionItem {
        sort_text: Some(format!("{:03}", names.len())),
        ..item("all", CompletionItemKind::KEYWORD, None)
    });
    out
}

/// Every MLP of the model as an endpoint, each after the heads of its layer.
fn mlp_items(chain: &Chain) -> Vec<CompletionItem> {
    let Some(shape) = chain.model_shape() else {
        return Vec::new();
    };
    (0..shape.layers)
        .map(|layer| CompletionItem {
            sort_text: Some(format!("1 {layer:04}.mlp")),
            ..item(
                &format!("mlp.{layer}"),
                CompletionItemKind::VALUE,
                Some(format!("the MLP of layer {layer}")),
            )
        })
        .collect()
}

/// Every head of the model, in layer order, with its class if it has one.
fn head_items(chain: &Chain) -> Vec<CompletionItem> {
    let Some(shape) = chain.model_shape() else {
        return Vec::new();
    };
    (0..shape.layers)
        .flat_map(|layer| (0..shape.heads).map(move |head| Head::new(layer, head)))
        .map(|head| {
            let class = class_of_head(chain, head).map(|class| format!("class {class}"));
            CompletionItem {
                sort_text: Some(format!("{:04}.{:04}", head.layer, head.head)),
                ..item(&head.to_string(), CompletionItemKind::VALUE, class)
            }
        })
        .collect()
}
