//! Class names across `extends`: where a class is defined, where it is used, and renaming
//! it everywhere, in the file that defines it and in the variants built on that file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use lsp_types::{Location, Position, PrepareRenameResponse, Range, TextEdit, Url, WorkspaceEdit};

use crate::dsl::Loader;
use crate::dsl::ast::Span;
use crate::lsp::environment;
use crate::lsp::symbols::{ClassRole, Symbol, class_definition, classes, symbol_at, symbols};
use crate::lsp::workspace::{Chain, Workspace};

/// Words the grammar reserves, and the two node names an edge reads as `embed` and
/// `logits` rather than as classes.
const RESERVED: [&str; 17] = [
    "circuit",
    "extends",
    "class",
    "edge",
    "mlp",
    "expect",
    "minimality",
    "remove",
    "add",
    "at",
    "to",
    "given",
    "head",
    "all",
    "none",
    "embed",
    "logits",
];

/// A class's definition: the file and the span of its name there.
#[derive(Clone, Debug, PartialEq)]
struct Site {
    path: PathBuf,
    span: Span,
}

/// The class name under the cursor.
struct Target {
    name: String,
    /// Where the name under the cursor is written.
    range: Range,
    definition: Site,
}

pub fn definition(workspace: &Workspace, uri: &Url, position: Position) -> Option<Location> {
    let document = workspace.document(uri)?;
    let chain = workspace.chain(&document.path);
    let file = &chain.files[0];
    let (symbol, _) = symbol_at(file.syntax.as_ref()?, file.lines().offset(position))?;
    match symbol {
        Symbol::Class { name, role } => {
            let from = usize::from(role == ClassRole::Removal);
            let (i, def) = class_definition(&chain, from, &name)?;
            let file = &chain.files[i];
            Some(Location::new(
                workspace.uri_of(&file.path)?,
                file.lines().range(def.name.span),
            ))
        }
        Symbol::Extends(_) => {
            let base = chain.files.get(1)?;
            base.syntax.as_ref()?;
            Some(Location::new(
                workspace.uri_of(&base.path)?,
                Range::default(),
            ))
        }
        Symbol::Head(_) | Symbol::Position(_) => None,
    }
}

pub fn references(
    workspace: &Workspace,
    uri: &Url,
    position: Position,
    include_declaration: bool,
) -> Option<Vec<Location>> {
    let target = target(workspace, uri, position)?;
    let family = family(workspace, &target);
    Some(
        family
            .occurrences
            .into_iter()
            .filter(|occurrence| include_declaration || !occurrence.is_definition)
            .map(|occurrence| occurrence.location)
            .collect(),
    )
}

pub fn prepare_rename(
    workspace: &Workspace,
    uri: &Url,
    position: Position,
) -> Option<PrepareRenameResponse> {
    let target = target(workspace, uri, position)?;
    Some(PrepareRenameResponse::RangeWithPlaceholder {
        range: target.range,
        placeholder: target.name,
    })
}

/// The edits, or why there are none.
pub fn rename(
    workspace: &Workspace,
    uri: &Url,
    position: Position,
    new_name: &str,
) -> Result<WorkspaceEdit, String> {
    if !is_class_name(new_name) {
        return Err(format!(
            "`{new_name}` cannot name a class: letters, digits and `_`, not starting with a \
             digit, and not a keyword"
        ));
    }
    let target = target(workspace, uri, position)
        .ok_or("only class names can be renamed, and this class is not defined anywhere")?;
    let family = family(workspace, &target);
    if new_name != target.name && family.defined.contains(new_name) {
        return Err(format!("a class `{new_name}` exists already"));
    }
    let mut changes: HashMap<Url, Vec<TextEdit>> = HashMap::new();
    for occurrence in family.occurrences {
        changes
            .entry(occurrence.location.uri)
            .or_default()
            .push(TextEdit::new(
                occurrence.location.range,
                new_name.to_string(),
            ));
    }
    Ok(WorkspaceEdit {
        changes: Some(changes),
        ..Default::default()
    })
}

fn is_class_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.contains(&name)
}

fn target(workspace: &Workspace, uri: &Url, position: Position) -> Option<Target> {
    let document = workspace.document(uri)?;
    let chain = workspace.chain(&document.path);
    let file = &chain.files[0];
    let lines = file.lines();
    let (symbol, span) = symbol_at(file.syntax.as_ref()?, lines.offset(position))?;
    let Symbol::Class { name, role } = symbol else {
        return None;
    };
    let from = usize::from(role == ClassRole::Removal);
    let (i, def) = class_definition(&chain, from, &name)?;
    Some(Target {
        name,
        range: lines.range(span),
        definition: Site {
            path: chain.files[i].path.clone(),
            span: def.name.span,
        },
    })
}

struct Occurrence {
    location: Location,
    is_definition: bool,
}

/// Every place a class name stands for one definition, and every class name defined in
/// the files involved (a rename must not collide with them).
struct Family {
    /// Sorted by file, then position.
    occurrences: Vec<Occurrence>,
    defined: BTreeSet<String>,
}

/// The defining file and the files that extend it, directly or not: the open ones and
/// those under the workspace roots and the defining file's directory.
fn family(workspace: &Workspace, target: &Target) -> Family {
    let sources = workspace.sources();
    let mut loader = Loader::new(environment(), &sources);
    let near = target.definition.path.parent().unwrap_or(Path::new("."));
    let mut candidates = workspace.circuit_files(near);
    candidates.insert(target.definition.path.clone());
    let mut visited: BTreeMap<PathBuf, Vec<Occurrence>> = BTreeMap::new();
    let mut defined = BTreeSet::new();
    for candidate in candidates {
        let chain = Chain::load(&mut loader, &candidate);
        let Some(depth) = chain
            .files
            .iter()
            .position(|file| file.path == target.definition.path)
        else {
            continue;
        };
        defined.extend(classes(&chain).into_iter().map(|(name, _)| name));
        for index in 0..=depth {
            let path = &chain.files[index].path;
            if !visited.contains_key(path) {
                let found = occurrences_in(workspace, &chain, index, target);
                visited.insert(path.clone(), found);
            }
        }
    }
    let mut occurrences: Vec<Occurrence> = visited.into_values().flatten().collect();
    occurrences.sort_by_key(|o| {
        let start = o.location.range.start;
        (o.location.uri.to_string(), start.line, start.character)
    });
    Family {
        occurrences,
        defined,
    }
}

/// The names in file `index` of the chain that stand for the target's definition.
fn occurrences_in(
    workspace: &Workspace,
    chain: &Chain,
    index: usize,
    target: &Target,
) -> Vec<Occurrence> {
    let file = &chain.files[index];
    let (Some(syntax), Some(uri)) = (&file.syntax, workspace.uri_of(&file.path)) else {
        return Vec::new();
    };
    let lines = file.lines();
    symbols(syntax)
        .into_iter()
        .filter_map(|(symbol, span)| {
            let Symbol::Class { name, role } = symbol else {
                return None;
            };
            if name != target.name {
                return None;
            }
            let from = index + usize::from(role == ClassRole::Removal);
            let (defining, def) = class_definition(chain, from, &name)?;
            let site = Site {
                path: chain.files[defining].path.clone(),
                span: def.name.span,
            };
            (site == target.definition).then(|| Occurrence {
                location: Location::new(uri.clone(), lines.range(span)),
                is_definition: role == ClassRole::Definition,
            })
        })
        .collect()
}
