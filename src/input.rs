//! Reading the text files users hand over (circuits, tasks, configs, tokenizers): regular
//! files only, since a device or pipe (`extends "/dev/zero"`) never ends or blocks, and at
//! most `TEXT_LIMIT` bytes, so a wrong path cannot exhaust memory.

use std::io::{self, Read};
use std::path::Path;

/// The largest text input read: far beyond any real circuit, task or tokenizer file.
pub const TEXT_LIMIT: u64 = 16 << 20;

/// Checks that `path` is a regular file of at most `limit` bytes, without opening it (opening
/// a named pipe blocks until someone writes to it).
pub fn check_regular(path: &Path, limit: u64) -> io::Result<u64> {
    let metadata = std::fs::metadata(path)?;
    if !metadata.is_file() {
        let kind = if metadata.is_dir() {
            "a directory"
        } else {
            "a device, pipe or socket"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {kind}, not a regular file"),
        ));
    }
    if metadata.len() > limit {
        return Err(too_large(limit));
    }
    Ok(metadata.len())
}

/// The file's text, refused when it is not a regular file, larger than `TEXT_LIMIT` or not
/// UTF-8.
pub fn read_text(path: &Path) -> io::Result<String> {
    read_text_up_to(path, TEXT_LIMIT)
}

/// The file's text, refused when it is not a regular file, larger than `limit` or not UTF-8
/// (for inputs that are data rather than text a person writes, such as a model's graph).
pub fn read_text_up_to(path: &Path, limit: u64) -> io::Result<String> {
    check_regular(path, limit)?;
    let mut text = String::new();
    // The file may have grown since it was checked.
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(text)
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "it is larger than {} MiB, more than any such file can need",
            limit >> 20
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_and_directories_are_refused() {
        let error = read_text(Path::new("/dev/zero")).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let error = read_text(Path::new("src")).unwrap_err();
        assert!(error.to_string().contains("a directory"), "{error}");
    }

    #[test]
    fn large_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.circuit");
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(TEXT_LIMIT + 1).unwrap();
        let error = read_text(&path).unwrap_err();
        assert!(error.to_string().contains("larger than 16 MiB"), "{error}");
    }
}
