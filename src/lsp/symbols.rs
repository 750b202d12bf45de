//! The names written in a file, with their spans: what hover, navigation and rename point
//! at. Found in the syntax tree, so they work while the file still has errors.

use crate::dsl::ast::{
    ClassDef, EdgeDef, Endpoint, File, MetricRef, MlpDef, NodeRef, PositionsDef, SettingKey, Span,
    Spanned, StatementKind,
};
use crate::dsl::circuit::Head;
use crate::lsp::workspace::Chain;

#[derive(Clone, Debug, PartialEq)]
pub enum Symbol {
    /// A class name: where it is defined, or where it is used.
    Class {
        name: String,
        role: ClassRole,
    },
    Head(Head),
    Position(String),
    /// The path after `extends`.
    Extends(String),
    /// A header setting's keyword (`model`), or its value (`gpt2-small`, unquoted).
    SettingKey(SettingKey),
    SettingValue(SettingKey, String),
    /// The metric of an `expect` (`faithfulness`, `minimality`).
    Metric(String),
    Embed,
    Logits,
    /// `mlp.L` in an edge.
    Mlp(u32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassRole {
    Definition,
    Use,
    /// `remove class NAME` names the class of the file it extends.
    Removal,
}

/// Every name in the file, in source order.
pub fn symbols(file: &File) -> Vec<(Symbol, Span)> {
    let mut out = Vec::new();
    if let Some(extends) = &file.header.extends {
        out.push((Symbol::Extends(extends.value.clone()), extends.span));
    }
    for setting in &file.header.settings {
        let key = setting.key.value;
        out.push((Symbol::SettingKey(key), setting.key.span));
        let value = Symbol::SettingValue(key, setting.value.value.clone());
        out.push((value, setting.value.span));
    }
    let class = |name: &Spanned<String>, role| {
        (
            Symbol::Class {
                name: name.value.clone(),
                role,
            },
            name.span,
        )
    };
    let head = |head: &Spanned<crate::dsl::circuit::Head>| (Symbol::Head(head.value), head.span);
    for statement in &file.statements {
        match &statement.kind {
            StatementKind::Class(ClassDef {
                name,
                positions,
                heads,
                ..
            }) => {
                out.push(class(name, ClassRole::Definition));
                positions_of(positions, &mut out);
                out.extend(heads.iter().map(head));
            }
            StatementKind::Edge(def) | StatementKind::RemoveEdge(def) => edge(def, &mut out),
            StatementKind::Mlp(MlpDef::Layers { positions, .. }) => {
                positions_of(positions, &mut out)
            }
            StatementKind::Mlp(MlpDef::None(_)) => {}
            StatementKind::Expect(def) => metric(&def.metric, &mut out),
            StatementKind::RemoveExpect { metric: m, .. } => metric(m, &mut out),
            StatementKind::Minimality(def) => {
                out.push(head(&def.head));
                for member in &def.given {
                    node(&member.value, member.span, &mut out);
                }
            }
            StatementKind::RemoveClass(name) => out.push(class(name, ClassRole::Removal)),
            StatementKind::RemoveHead(h) => out.push(head(h)),
            StatementKind::Add { heads, class: to } => {
                out.extend(heads.iter().map(head));
                out.push(class(to, ClassRole::Use));
            }
        }
    }
    out
}

/// The name under the cursor; a cursor just after a name is still on it.
pub fn symbol_at(file: &File, offset: usize) -> Option<(Symbol, Span)> {
    symbols(file)
        .into_iter()
        .find(|(_, span)| span.start <= offset && offset <= span.end)
}

fn positions_of(positions: &PositionsDef, out: &mut Vec<(Symbol, Span)>) {
    if let PositionsDef::Named(names) = positions {
        out.extend(
            names
                .iter()
                .map(|name| (Symbol::Position(name.value.clone()), name.span)),
        );
    }
}

fn edge(def: &EdgeDef, out: &mut Vec<(Symbol, Span)>) {
    for endpoint in def.sources.iter().chain(&def.targets) {
        let Endpoint { node: n, channel } = &endpoint.value;
        // An endpoint is written without spaces; a channel is the last two bytes (`.q`).
        let end = endpoint.span.end - if channel.is_some() { 2 } else { 0 };
        let span = Span {
            start: endpoint.span.start,
            end,
        };
        node(n, span, out);
    }
}

fn node(node: &NodeRef, span: Span, out: &mut Vec<(Symbol, Span)>) {
    match node {
        NodeRef::Class(name) => out.push((
            Symbol::Class {
                name: name.clone(),
                role: ClassRole::Use,
            },
            span,
        )),
        NodeRef::Head(head) => out.push((Symbol::Head(*head), span)),
        NodeRef::Embed => out.push((Symbol::Embed, span)),
        NodeRef::Logits => out.push((Symbol::Logits, span)),
        NodeRef::Mlp(layer) => out.push((Symbol::Mlp(*layer), span)),
    }
}

/// The metric's name, and the head of `minimality(9.9)`, written without spaces.
fn metric(metric: &Spanned<MetricRef>, out: &mut Vec<(Symbol, Span)>) {
    let name = Span {
        start: metric.span.start,
        end: metric.span.start + metric.value.name.len(),
    };
    out.push((Symbol::Metric(metric.value.name.clone()), name));
    if let Some(head) = metric.value.head {
        let span = Span {
            start: metric.span.start + metric.value.name.len() + 1,
            end: metric.span.end - 1,
        };
        out.push((Symbol::Head(head), span));
    }
}

/// Where a class is defined, looking from file `from` of the chain towards its bases:
/// (index of the file in the chain, the definition).
pub fn class_definition<'c>(
    chain: &'c Chain,
    from: usize,
    name: &str,
) -> Option<(usize, &'c ClassDef)> {
    chain
        .files
        .iter()
        .enumerate()
        .skip(from)
        .find_map(|(i, file)| {
            let syntax = file.syntax.as_ref()?;
            syntax
                .statements
                .iter()
                .find_map(|statement| match &statement.kind {
                    StatementKind::Class(def) if def.name.value == name => Some((i, def)),
                    _ => None,
                })
        })
}

/// The class a head belongs to, as the chain's files put it there: a variant's own
/// classes and `add`s first, then its base's, unless the variant removed the head or the
/// class.
pub fn class_of_head(chain: &Chain, head: Head) -> Option<String> {
    let mut removed_classes = Vec::new();
    for file in &chain.files {
        // A file that does not parse yet says nothing; its bases still do.
        let Some(syntax) = &file.syntax else { continue };
        for statement in &syntax.statements {
            match &statement.kind {
                StatementKind::Class(def)
                    if def.heads.iter().any(|h| h.value == head)
                        && !removed_classes.contains(&def.name.value) =>
                {
                    return Some(def.name.value.clone());
                }
                StatementKind::Add { heads, class } if heads.iter().any(|h| h.value == head) => {
                    return Some(class.value.clone());
                }
                _ => {}
            }
        }
        for statement in &syntax.statements {
            match &statement.kind {
                StatementKind::RemoveHead(h) if h.value == head => return None,
                StatementKind::RemoveClass(name) => removed_classes.push(name.value.clone()),
                _ => {}
            }
        }
    }
    None
}

/// Every class name the chain defines, each once, with its description (also from files
/// that do not parse yet).
pub fn classes(chain: &Chain) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for file in &chain.files {
        for (name, description) in &file.outline.classes {
            if !out.iter().any(|(known, _)| known == name) {
                out.push((name.clone(), description.clone()));
            }
        }
    }
    out
}
