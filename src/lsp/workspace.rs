//! What the server knows about the files: the open buffers, the workspace roots, and the
//! chain of files a circuit extends, read through the open buffers before the disk.

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lsp_types::Url;

use crate::dsl::ast;
use crate::dsl::loader::normalize;
use crate::dsl::parser::{self, unquote};
use crate::dsl::{Code, Loader, Sources, TaskRef};
use crate::lsp::document::{Document, Lines};
use crate::lsp::environment;
use crate::lsp::outline::Outline;

/// Directory scans for variants stop here, so a workspace rooted at `$HOME` stays usable.
const MAX_SCANNED_FILES: usize = 10_000;

#[derive(Default)]
pub struct Workspace {
    documents: BTreeMap<Url, Document>,
    roots: Vec<PathBuf>,
}

impl Workspace {
    pub fn new(roots: Vec<PathBuf>) -> Self {
        Self {
            documents: BTreeMap::new(),
            roots,
        }
    }

    pub fn open(&mut self, uri: Url, version: i32, text: String) {
        let path = path_of(&uri);
        self.documents.insert(
            uri,
            Document {
                path,
                version,
                text,
            },
        );
    }

    pub fn document_mut(&mut self, uri: &Url) -> Option<&mut Document> {
        self.documents.get_mut(uri)
    }

    pub fn close(&mut self, uri: &Url) {
        self.documents.remove(uri);
    }

    pub fn document(&self, uri: &Url) -> Option<&Document> {
        self.documents.get(uri)
    }

    pub fn documents(&self) -> impl Iterator<Item = (&Url, &Document)> {
        self.documents.iter()
    }

    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The URI diagnostics and locations use for a file: the open buffer's, else its path's.
    pub fn uri_of(&self, path: &Path) -> Option<Url> {
        self.documents
            .iter()
            .find(|(_, document)| document.path == path)
            .map(|(uri, _)| uri.clone())
            .or_else(|| Url::from_file_path(path).ok())
    }

    /// Reads open buffers first, then the disk.
    pub fn sources(&self) -> Buffers<'_> {
        Buffers { workspace: self }
    }

    /// The chain of files starting at an open document (or any file).
    pub fn chain(&self, path: &Path) -> Chain {
        let sources = self.sources();
        let mut loader = Loader::new(environment(), &sources);
        Chain::load(&mut loader, path)
    }

    /// The `.circuit` files a rename may have to edit: the open ones and those under the
    /// workspace roots and `near` (the directory of the file that defines the class).
    pub fn circuit_files(&self, near: &Path) -> BTreeSet<PathBuf> {
        let mut files: BTreeSet<PathBuf> = self
            .documents
            .values()
            .map(|document| document.path.clone())
            .collect();
        let mut budget = MAX_SCANNED_FILES;
        for root in self.roots.iter().map(PathBuf::as_path).chain([near]) {
            scan(root, &mut files, &mut budget);
        }
        files
    }
}

/// The path the loader uses for a URI. Documents that are not files (`untitled:`) get a
/// path of their own so they can still be loaded; their `extends` resolve from the
/// current directory.
pub fn path_of(uri: &Url) -> PathBuf {
    match uri.to_file_path() {
        Ok(path) => normalize(&path),
        Err(()) => PathBuf::from(uri.as_str()),
    }
}

fn scan(dir: &Path, files: &mut BTreeSet<PathBuf>, budget: &mut usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        if *budget == 0 {
            return;
        }
        *budget -= 1;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            // Hidden folders, build output and packages hold no circuits of the workspace.
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                scan(&path, files, budget);
            }
        } else if name.ends_with(".circuit") {
            files.insert(normalize(&path));
        }
    }
}

pub struct Buffers<'w> {
    workspace: &'w Workspace,
}

impl Sources for Buffers<'_> {
    fn read(&self, path: &Path) -> io::Result<String> {
        match self
            .workspace
            .documents
            .values()
            .find(|document| document.path == path)
        {
            Some(document) => Ok(document.text.clone()),
            None => std::fs::read_to_string(path),
        }
    }
}

/// One file of an `extends` chain, as the loader read it.
pub struct ChainFile {
    pub path: PathBuf,
    pub text: Arc<str>,
    /// The statements that parse (all of them in a file without syntax errors); `None`
    /// when the file cannot be read or its header does not parse.
    pub syntax: Option<ast::File>,
    pub outline: Outline,
}

impl ChainFile {
    pub fn lines(&self) -> Lines<'_> {
        Lines::new(&self.text)
    }
}

/// A file followed by the file it extends, that file's base, and so on.
pub struct Chain {
    pub files: Vec<ChainFile>,
}

impl Chain {
    pub fn load(loader: &mut Loader, path: &Path) -> Chain {
        let mut files: Vec<ChainFile> = Vec::new();
        let mut next = Some(normalize(path));
        while let Some(path) = next.take() {
            if files.iter().any(|file| file.path == path) {
                break;
            }
            let loaded = loader.load(&path);
            let text = loaded.source.inner().clone();
            // The outline of a broken file comes from its tokens, which also see the
            // statement being typed; navigation gets the statements that parse.
            let outline = Outline::of(loaded.syntax.as_ref(), &text);
            let syntax = loaded.syntax.clone().or_else(|| {
                let unreadable = loaded
                    .diagnostics
                    .iter()
                    .any(|d| d.code == Code::ReadFailed);
                (!unreadable)
                    .then(|| parser::parse_partial(&loaded.source))
                    .flatten()
            });
            next = outline
                .extends
                .as_ref()
                .map(|extends| normalize(&path.parent().unwrap_or(Path::new("")).join(extends)));
            files.push(ChainFile {
                path,
                text,
                syntax,
                outline,
            });
        }
        Chain { files }
    }

    /// A setting as the file states it or inherits it.
    pub fn setting(&self, key: ast::SettingKey) -> Option<&str> {
        self.files.iter().find_map(|file| file.outline.setting(key))
    }

    pub fn model_shape(&self) -> Option<crate::dsl::ModelShape> {
        environment().model_shape(self.setting(ast::SettingKey::Model)?)
    }

    /// The task the chain names: a built-in by name, or a task file (read from disk,
    /// relative to the file that names it).
    pub fn task(&self) -> Option<TaskRef> {
        let key = ast::SettingKey::Task;
        let file = self
            .files
            .iter()
            .find(|f| f.outline.setting(key).is_some())?;
        let value = file.outline.setting(key)?;
        if !value.starts_with('"') {
            return Some(TaskRef::Builtin(value.to_string()));
        }
        let written = unquote(value);
        let path = normalize(&file.path.parent().unwrap_or(Path::new("")).join(written));
        let text = std::fs::read_to_string(&path).ok()?;
        Some(TaskRef::File {
            path: path.to_string_lossy().into_owned(),
            text,
        })
    }

    pub fn task_positions(&self) -> Vec<String> {
        self.task()
            .and_then(|task| environment().task_positions(&task).ok())
            .unwrap_or_default()
    }
}
