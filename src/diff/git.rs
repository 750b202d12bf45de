//! `Sources` for the two sides of a diff that are not plain files: a git revision, read with
//! the `git` command line, and the temporary files git hands an external diff driver.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::dsl::loader::normalize;
use crate::dsl::{FileSystem, Sources};

/// Files as they are in one revision of the repository containing the current directory.
/// Paths are relative to the repository root, as in git's `REV:path`, so the `extends` of a
/// file in the revision resolves within that same revision.
pub struct GitRevision {
    /// Anything `git` accepts before the colon (`HEAD~1`, `main`, a hash; empty: the index).
    pub revision: String,
}

impl Sources for GitRevision {
    fn read(&self, path: &Path) -> io::Result<String> {
        // `cat-file blob` rather than `show`: plumbing, so no textconv or pager, and a tree
        // is an error instead of a listing.
        let bytes = git(&["cat-file", "blob", &self.name(path)])?;
        if bytes.len() as u64 > crate::input::TEXT_LIMIT {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "larger than any circuit file can be",
            ));
        }
        String::from_utf8(bytes)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"))
    }

    fn name(&self, path: &Path) -> String {
        format!("{}:{}", self.revision, slashed(path))
    }
}

/// The current directory relative to the repository root (`circuits/`, or empty at the
/// root), to turn a `REV:./file` into the root-relative path git resolves.
pub fn prefix() -> io::Result<PathBuf> {
    let bytes = git(&["rev-parse", "--show-prefix"])?;
    Ok(PathBuf::from(String::from_utf8_lossy(&bytes).trim_end()))
}

/// One file's text given directly, every other file (its `extends` bases) from the file
/// system: what a git external diff driver gets, a temporary copy of each side.
pub struct GivenText {
    pub path: PathBuf,
    pub text: String,
    /// How diagnostics name the given file (`a/circuits/ioi.circuit`).
    pub label: String,
}

impl Sources for GivenText {
    fn read(&self, path: &Path) -> io::Result<String> {
        if normalize(path) == normalize(&self.path) {
            Ok(self.text.clone())
        } else {
            FileSystem.read(path)
        }
    }

    fn name(&self, path: &Path) -> String {
        if normalize(path) == normalize(&self.path) {
            self.label.clone()
        } else {
            FileSystem.name(path)
        }
    }
}

fn git(args: &[&str]) -> io::Result<Vec<u8>> {
    let output = Command::new("git")
        .args(args)
        .output()
        .map_err(|error| io::Error::new(error.kind(), format!("cannot run git ({error})")))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        let message = String::from_utf8_lossy(&output.stderr);
        let message = message.trim().trim_start_matches("fatal: ");
        Err(io::Error::other(message.to_string()))
    }
}

/// Git writes paths with `/` on every platform.
fn slashed(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
