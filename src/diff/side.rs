//! One side of a diff as the user names it: a file on disk, or `REV:path`, a file in a git
//! revision.
//!
//! A path that exists on disk is always a file, even if it contains a colon. Otherwise an
//! argument with a colon after a non-empty revision part is `REV:path` (`HEAD~1:circuits/ioi.circuit`);
//! `:path` is the staged version, as in git. The path is relative to the repository root,
//! again as in git, unless it starts with `./` or `../`: then it is relative to the current
//! directory.

use std::io;
use std::path::{Path, PathBuf};

use crate::diff::git;
use crate::dsl::loader::normalize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    File(PathBuf),
    /// `path` is relative to the repository root once `resolve`d.
    Revision {
        revision: String,
        path: PathBuf,
    },
}

impl Side {
    pub fn parse(argument: &str) -> Side {
        if Path::new(argument).exists() {
            return Side::File(argument.into());
        }
        match argument.split_once(':') {
            Some((revision, path)) if !path.is_empty() && !is_drive(revision) => Side::Revision {
                revision: revision.to_string(),
                path: path.into(),
            },
            _ => Side::File(argument.into()),
        }
    }

    /// Makes a revision path relative to the repository root (asks git for the current
    /// directory's place in the repository only when the path is `./`- or `../`-relative).
    pub fn resolve(self) -> io::Result<Side> {
        let Side::Revision { revision, path } = self else {
            return Ok(self);
        };
        let text = path.to_string_lossy();
        if !(text.starts_with("./") || text.starts_with("../")) {
            return Ok(Side::Revision { revision, path });
        }
        let relative = normalize(&git::prefix()?.join(&path));
        if relative.starts_with("..") {
            return Err(io::Error::other(format!(
                "{} is outside the repository",
                path.display()
            )));
        }
        Ok(Side::Revision {
            revision,
            path: relative,
        })
    }

    /// The path the loader reads.
    pub fn path(&self) -> &Path {
        match self {
            Side::File(path) | Side::Revision { path, .. } => path,
        }
    }
}

/// On Windows `C:` starts a path, not a revision.
fn is_drive(prefix: &str) -> bool {
    cfg!(windows) && prefix.len() == 1
}
