//! Writing files whole: a temporary file beside the target (a fresh name each time, so two
//! runs at once never share one), written, then moved over the target, so a reader or an
//! interrupted run never sees half a file.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` whole. A file that was there keeps its permissions; a new one
/// gets the usual 0644 (tempfile's own are 0600).
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_whole_with(path, |temporary| std::fs::write(temporary, bytes))
}

/// [`write_whole`] for a writer that takes a path (and writes the file in pieces): `write`
/// writes the temporary file at the path it is given.
pub fn write_whole_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let permissions = match std::fs::metadata(path) {
        Ok(metadata) => metadata.permissions(),
        Err(_) => new_file_permissions(),
    };
    let file = tempfile::Builder::new()
        .prefix(".circuitcheck-")
        .tempfile_in(directory_of(path))?;
    write(file.path())?;
    file.as_file().set_permissions(permissions)?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Whether a file could be written beside `path` now: a temporary file is made there and
/// removed.
pub fn try_directory_of(path: &Path) -> std::io::Result<()> {
    tempfile::Builder::new()
        .prefix(".circuitcheck-")
        .tempfile_in(directory_of(path))
        .map(drop)
}

/// The directory `path`'s file is in (`.` for a bare file name).
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(unix)]
fn new_file_permissions() -> std::fs::Permissions {
    use std::os::unix::fs::PermissionsExt;
    std::fs::Permissions::from_mode(0o644)
}

#[cfg(not(unix))]
fn new_file_permissions() -> std::fs::Permissions {
    tempfile::tempfile()
        .and_then(|f| f.metadata())
        .map(|m| m.permissions())
        .expect("a temporary file's permissions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_and_keeps_its_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("page.html");
        write_whole(&path, b"first").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"first");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), 0o644);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            write_whole(&path, b"second").unwrap();
            assert_eq!(mode(&path), 0o640);
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left behind");
    }
}
