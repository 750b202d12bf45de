//! Reads `.circuit` files and resolves `extends` chains. Each file is read, parsed and
//! analysed once per loader, so a base shared by several variants reports its problems once.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use miette::NamedSource;

use crate::dsl::analyzer::{self, Base, Origins};
use crate::dsl::ast::{self, Span};
use crate::dsl::circuit::{Circuit, TaskRef};
use crate::dsl::diagnostic::{Code, Diagnostic, Source};
use crate::dsl::environment::Environment;
use crate::dsl::parser;

/// Where file contents come from: the file system, or (for `diff`) a git revision.
pub trait Sources {
    fn read(&self, path: &Path) -> io::Result<String>;

    /// How diagnostics name the file (a revision's files say which revision they come from).
    fn name(&self, path: &Path) -> String {
        path.to_string_lossy().into_owned()
    }
}

/// The longest chain of `extends` followed.
const MAX_DEPTH: usize = 32;

/// The label of a `read-failed` diagnostic for a file that does not exist.
const NOT_FOUND: &str = "not found";

/// Files on disk, read as `crate::input::read_text` does: regular files of bounded size.
pub struct FileSystem;

impl Sources for FileSystem {
    fn read(&self, path: &Path) -> io::Result<String> {
        crate::input::read_text(path)
    }
}

/// One loaded file and what came of it.
pub struct Loaded {
    pub path: PathBuf,
    pub source: Source,
    /// `None` when the file could not be read or has a syntax error.
    pub syntax: Option<ast::File>,
    /// `None` when the file, or a file it extends, has errors.
    pub circuit: Option<Circuit>,
    pub origins: Origins,
    /// This file's own problems (those of the files it extends are theirs).
    pub diagnostics: Vec<Diagnostic>,
}

impl Loaded {
    /// A file that could not be read: one diagnostic, not shown (there is no text to point
    /// at), whose label tells `extends` what to say.
    fn unreadable(path: &Path, name: &str, error: &io::Error) -> Self {
        let source = NamedSource::new(name, Arc::<str>::from(""));
        let label = if error.kind() == io::ErrorKind::NotFound {
            NOT_FOUND
        } else {
            ""
        };
        let diagnostic = Diagnostic::new(
            Code::ReadFailed,
            &source,
            Span::default(),
            format!("cannot read {name}: {error}"),
            label,
        )
        .with_help("check the path; circuit files are plain UTF-8 text");
        Self::failed(path, source, None, vec![diagnostic])
    }

    fn failed(
        path: &Path,
        source: Source,
        syntax: Option<ast::File>,
        diagnostics: Vec<Diagnostic>,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            source,
            syntax,
            circuit: None,
            origins: Origins::default(),
            diagnostics,
        }
    }
}

pub struct Loader<'a> {
    env: &'a dyn Environment,
    sources: &'a dyn Sources,
    loaded: BTreeMap<PathBuf, Loaded>,
    /// Load order, for reporting.
    order: Vec<PathBuf>,
    /// Files being loaded, to detect `extends` cycles.
    stack: Vec<PathBuf>,
}

impl<'a> Loader<'a> {
    pub fn new(env: &'a dyn Environment, sources: &'a dyn Sources) -> Self {
        Self {
            env,
            sources,
            loaded: BTreeMap::new(),
            order: Vec::new(),
            stack: Vec::new(),
        }
    }

    /// Loads `path` and every file it extends.
    pub fn load(&mut self, path: &Path) -> &Loaded {
        let key = normalize(path);
        if !self.loaded.contains_key(&key) {
            self.stack.push(key.clone());
            let loaded = self.load_uncached(&key);
            self.stack.pop();
            self.order.push(key.clone());
            self.loaded.insert(key.clone(), loaded);
        }
        &self.loaded[&key]
    }

    /// Every loaded file in the order loading finished (bases before their variants).
    pub fn files(&self) -> impl Iterator<Item = &Loaded> {
        self.order.iter().map(|key| &self.loaded[key])
    }

    fn load_uncached(&mut self, path: &Path) -> Loaded {
        let name = self.sources.name(path);
        let text = match self.sources.read(path) {
            Ok(text) => text,
            Err(error) => return Loaded::unreadable(path, &name, &error),
        };
        let source: Source = NamedSource::new(&name, Arc::<str>::from(text));
        let syntax = match parser::parse(&source) {
            Ok(file) => file,
            Err(diagnostic) => return Loaded::failed(path, source, None, vec![*diagnostic]),
        };
        let base_key = match &syntax.header.extends {
            Some(extends) => match self.resolve_base(path, extends, &source) {
                Ok(key) => Some(key),
                Err(diagnostic) => {
                    return Loaded::failed(path, source, Some(syntax), vec![*diagnostic]);
                }
            },
            None => None,
        };
        let base = base_key.as_ref().map(|key| {
            let loaded = &self.loaded[key];
            Base {
                circuit: loaded
                    .circuit
                    .as_ref()
                    .expect("resolve_base keeps valid bases only"),
                origins: &loaded.origins,
            }
        });
        let task_file = self.task_file(path, &syntax);
        let analysis = analyzer::analyze(&syntax, &source, base, self.env, task_file);
        Loaded {
            path: path.to_path_buf(),
            source,
            syntax: Some(syntax),
            circuit: analysis.circuit,
            origins: analysis.origins,
            diagnostics: analysis.diagnostics,
        }
    }

    /// Loads the file `extends` names (relative to this file's directory) and returns its key
    /// in `loaded`, or why it cannot serve as a base: a cycle, a chain too deep, a file that
    /// cannot be read or one with errors.
    fn resolve_base(
        &mut self,
        path: &Path,
        extends: &ast::Spanned<String>,
        source: &Source,
    ) -> Result<PathBuf, Box<Diagnostic>> {
        let target = normalize(&path.parent().unwrap_or(Path::new("")).join(&extends.value));
        let refuse = |code, message: String, label: &str, help: &str| {
            Box::new(
                Diagnostic::new(code, source, extends.span, message, label.to_string())
                    .with_help(help),
            )
        };
        if let Some(start) = self.stack.iter().position(|p| *p == target) {
            let chain: Vec<String> = self.stack[start..]
                .iter()
                .chain(std::iter::once(&target))
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            return Err(refuse(
                Code::ExtendsCycle,
                format!("`extends` goes round in a circle: {}", chain.join(" → ")),
                "extends a file that extends this one",
                "a variant extends a base, and the base must not extend the variant",
            ));
        }
        if self.stack.len() >= MAX_DEPTH {
            // Loading recurses once per base: a chain of thousands of files would run
            // out of stack (pest then reports a syntax error in a valid file).
            return Err(refuse(
                Code::ExtendsTooDeep,
                format!("`extends` goes more than {MAX_DEPTH} files deep"),
                "one base too many",
                "extend a base closer to the root: variants of variants rarely need more than a few levels",
            ));
        }
        let base = self.load(&target);
        if base.syntax.is_none() && base.diagnostics.iter().any(|d| d.code == Code::ReadFailed) {
            let reason = base.diagnostics[0].message.clone();
            let label = if base.diagnostics[0].label == NOT_FOUND {
                "no such circuit file"
            } else {
                "cannot be read"
            };
            self.forget(&target);
            return Err(refuse(
                Code::ExtendsMissing,
                format!("cannot extend `{}`: {reason}", extends.value),
                label,
                "the path is relative to the directory of this file",
            ));
        }
        if base.circuit.is_none() {
            return Err(refuse(
                Code::ExtendsInvalid,
                format!("cannot extend `{}`: it has errors", extends.value),
                "this file has errors",
                "fix the errors reported for that file first",
            ));
        }
        Ok(target)
    }

    /// The task file a header names (`task "…"`, relative to the circuit's directory), read
    /// through the same sources as the circuit: a circuit from a git revision gets the task
    /// file of that revision.
    fn task_file(&self, path: &Path, syntax: &ast::File) -> Option<Result<TaskRef, String>> {
        let setting = syntax
            .header
            .settings
            .iter()
            .find(|s| s.key.value == ast::SettingKey::Task && s.quoted)?;
        let target = normalize(
            &path
                .parent()
                .unwrap_or(Path::new(""))
                .join(&setting.value.value),
        );
        Some(
            self.sources
                .read(&target)
                .map(|text| TaskRef::File {
                    path: target.to_string_lossy().into_owned(),
                    text,
                })
                .map_err(|e| e.to_string()),
        )
    }

    /// A missing base is reported by the variant that names it, not as a file of its own.
    fn forget(&mut self, key: &Path) {
        self.loaded.remove(key);
        self.order.retain(|p| p != key);
    }
}

/// Lexically normalised path (`a/./b/../c` → `a/c`), without touching the file system so
/// it also works for paths inside a git revision.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
