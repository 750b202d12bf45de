//! Class names across `extends`: where a class is defined, where it is used, and renaming
//! it everywhere, in the file that defines it and in the variants built on that file.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use lsp_types::{Location, Position, PrepareRenameResponse, Range, TextEdit, Url, WorkspaceEdit};

use crate::dsl::ast::{Span, StatementKind};
use crate::dsl::circuit::Head;
use crate::dsl::parser::KEYWORDS;
use crate::dsl::{Loader, TaskRef};
use crate::lsp::document::Lines;
use crate::lsp::environment;
use crate::lsp::symbols::{
    ClassRole, Symbol, class_definition, class_of_head, classes, symbol_at, symbols,
};
use crate::lsp::workspace::{Chain, Workspace};

/// A class's definition: the file and the span of its name there.
#[derive(Clone, Debug, PartialEq)]
struct Site {
    path: PathBuf,
    span: Span,
}

/// What references and rename look for.
#[derive(Clone, Debug, PartialEq)]
enum Subject {
    Class(String),
    Head(Head),
}

/// The class name or head under the cursor.
struct Target {
    subject: Subject,
    /// Where the name under the cursor is written.
    range: Range,
    /// For a class, its definition; for a head, where a class takes it (the file under the
    /// cursor when none does).
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
        Symbol::Position(name) => position_definition(workspace, &chain, &name),
        _ => None,
    }
}

/// Where the task defines a position: in the task file a header names, or for a built-in
/// task in its TOML when the workspace holds it (`tasks/NAME.toml`, as in this repository,
/// with the built-in's very text). A built-in task exists in the binary only, so elsewhere
/// there is no file to go to: `None`, and hover gives the definition.
fn position_definition(workspace: &Workspace, chain: &Chain, name: &str) -> Option<Location> {
    let (path, text) = match chain.task()? {
        TaskRef::File { path, text } => (PathBuf::from(path), text),
        TaskRef::Builtin(task) => builtin_task_file(workspace, &chain.files[0].path, &task)?,
    };
    let span = position_in_toml(&text, name)?;
    Some(Location::new(
        workspace.uri_of(&path)?,
        Lines::new(&text).range(span),
    ))
}

/// `tasks/NAME.toml` in a workspace root or a folder above the circuit, when it is the
/// built-in task's own text (an edited copy is not what the circuit gets).
fn builtin_task_file(
    workspace: &Workspace,
    circuit: &Path,
    task: &str,
) -> Option<(PathBuf, String)> {
    let builtin = crate::task::builtin_text(task)?;
    let folders = workspace.roots().iter().map(PathBuf::as_path);
    folders
        .chain(circuit.ancestors().skip(1))
        .map(|folder| folder.join("tasks").join(format!("{task}.toml")))
        .find_map(|path| {
            let text = std::fs::read_to_string(&path).ok()?;
            (text == builtin).then_some((path, text))
        })
}

/// The name in a task's `positions = ["NAME = ANCHOR", …]`.
fn position_in_toml(text: &str, name: &str) -> Option<Span> {
    let quoted = format!("\"{name}");
    text.match_indices(&quoted).find_map(|(at, _)| {
        let rest = text[at + quoted.len()..].trim_start_matches([' ', '\t']);
        rest.starts_with('=').then_some(Span {
            start: at + 1,
            end: at + quoted.len(),
        })
    })
}

pub fn references(
    workspace: &Workspace,
    uri: &Url,
    position: Position,
    include_declaration: bool,
) -> Option<Vec<Location>> {
    let target = target(workspace, uri, position, true)?;
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
    let target = target(workspace, uri, position, false)?;
    let Subject::Class(name) = target.subject else {
        return None;
    };
    Some(PrepareRenameResponse::RangeWithPlaceholder {
        range: target.range,
        placeholder: name,
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
    let target = target(workspace, uri, position, false)
        .ok_or("only class names can be renamed, and this class is not defined anywhere")?;
    let family = family(workspace, &target);
    if target.subject != Subject::Class(new_name.to_string()) && family.defined.contains(new_name) {
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
        && !KEYWORDS.contains(&name)
        // An edge reads these as its ends, not as classes.
        && !matches!(name, "embed" | "logits")
}

/// The class name under the cursor, or with `heads` also the head.
fn target(workspace: &Workspace, uri: &Url, position: Position, heads: bool) -> Option<Target> {
    let document = workspace.document(uri)?;
    let chain = workspace.chain(&document.path);
    let file = &chain.files[0];
    let lines = file.lines();
    let (symbol, span) = symbol_at(file.syntax.as_ref()?, lines.offset(position))?;
    let (subject, definition) = match symbol {
        Symbol::Class { name, role } => {
            let from = usize::from(role == ClassRole::Removal);
            let (i, def) = class_definition(&chain, from, &name)?;
            let site = Site {
                path: chain.files[i].path.clone(),
                span: def.name.span,
            };
            (Subject::Class(name), site)
        }
        Symbol::Head(head) if heads => {
            let site = head_definition(&chain, head).unwrap_or(Site {
                path: file.path.clone(),
                span,
            });
            (Subject::Head(head), site)
        }
        _ => return None,
    };
    Some(Target {
        subject,
        range: lines.range(span),
        definition,
    })
}

/// Where the head's class takes it: in the class's list, or an `add`.
fn head_definition(chain: &Chain, head: Head) -> Option<Site> {
    let class = class_of_head(chain, head)?;
    chain.files.iter().find_map(|file| {
        let syntax = file.syntax.as_ref()?;
        let span = syntax.statements.iter().find_map(|statement| {
            let (heads, name) = match &statement.kind {
                StatementKind::Class(def) => (&def.heads, &def.name),
                StatementKind::Add { heads, class } => (heads, class),
                _ => return None,
            };
            let taken = heads.iter().find(|h| h.value == head);
            taken.filter(|_| name.value == class).map(|h| h.span)
        })?;
        Some(Site {
            path: file.path.clone(),
            span,
        })
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

/// The names in file `index` of the chain that stand for the target: a class name that
/// resolves to the target's definition, or the head itself wherever it is written.
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
    let occurrence = |span: Span, is_definition| Occurrence {
        location: Location::new(uri.clone(), lines.range(span)),
        is_definition,
    };
    symbols(syntax)
        .into_iter()
        .filter_map(|(symbol, span)| match (symbol, &target.subject) {
            (Symbol::Head(head), Subject::Head(wanted)) if head == *wanted => {
                let here = Site {
                    path: file.path.clone(),
                    span,
                };
                Some(occurrence(span, here == target.definition))
            }
            (Symbol::Class { name, role }, Subject::Class(wanted)) if name == *wanted => {
                let from = index + usize::from(role == ClassRole::Removal);
                let (defining, def) = class_definition(chain, from, &name)?;
                let site = Site {
                    path: chain.files[defining].path.clone(),
                    span: def.name.span,
                };
                (site == target.definition).then(|| occurrence(span, role == ClassRole::Definition))
            }
            _ => None,
        })
        .collect()
}
