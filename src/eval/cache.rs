//! An on-disk cache of reference activations (means, resample sources), content-addressed by
//! a hash of everything they depend on. Files are written atomically and carry a checksum of
//! their tensors, so a torn or corrupted file is detected on read and rebuilt.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, View};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::model::ModelFiles;

const CHECKSUM: &str = "circuitcheck.sha256";
const KEY: &str = "circuitcheck.key";
/// Digests of large files, remembered by path, size and modification time.
const DIGESTS: &str = "digests.json";
/// The largest header a cache file may have (safetensors' own limit).
const MAX_HEADER: u64 = 100_000_000;

/// Where cached files live; `None` disables caching (`--no-cache`).
#[derive(Clone, Debug)]
pub struct Cache {
    dir: Option<PathBuf>,
}

/// What happened when a cached entry was looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    Missing,
    /// The file was there but unreadable or failed its checksum; it has been removed.
    Corrupt(String),
    Disabled,
}

impl Cache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// `$CIRCUITCHECK_CACHE`, else the platform's cache folder (`$XDG_CACHE_HOME` or `~/.cache`
    /// on Linux) `/circuitcheck`.
    pub fn default_dir() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("CIRCUITCHECK_CACHE") {
            return Some(PathBuf::from(dir));
        }
        dirs::cache_dir().map(|dir| dir.join("circuitcheck"))
    }

    /// The hex key of a set of inputs (each part length-prefixed, so parts cannot run
    /// into each other).
    pub fn key(parts: &[&[u8]]) -> String {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        format!("{:x}", hasher.finalize())
    }

    /// SHA-256 of every byte of `path`. A large file (a model's weights) is read once: its
    /// digest is remembered in the cache directory under its canonical path, size and
    /// modification time, and read again when any of them changes.
    pub fn digest(&self, path: &Path) -> std::io::Result<String> {
        let canonical = std::fs::canonicalize(path)?;
        let stamp = FileStamp::of(&canonical)?;
        let name = canonical.to_string_lossy().into_owned();
        let mut known = self.known_digests();
        if let Some(entry) = known.get(&name)
            && entry.stamp == stamp
        {
            return Ok(entry.sha256.clone());
        }
        let sha256 = digest_file(&canonical)?;
        if let Some(dir) = &self.dir {
            known.insert(
                name,
                Digest {
                    stamp,
                    sha256: sha256.clone(),
                },
            );
            if let Ok(json) = serde_json::to_vec_pretty(&known) {
                // Remembering is an optimisation: a failed write costs a re-read next time.
                let _ = write_whole_with(&dir.join(DIGESTS), |temporary| {
                    std::fs::write(temporary, &json)
                });
            }
        }
        Ok(sha256)
    }

    fn known_digests(&self) -> BTreeMap<String, Digest> {
        self.dir
            .as_ref()
            .and_then(|dir| std::fs::read(dir.join(DIGESTS)).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// What a model's cached activations depend on: every byte of its weights and config.
    pub fn model_identity(&self, files: &ModelFiles) -> std::io::Result<String> {
        let shards = files.weight_files().map_err(std::io::Error::other)?;
        let mut parts = shards
            .iter()
            .map(|shard| self.digest(shard))
            .collect::<std::io::Result<Vec<_>>>()?;
        if let Some(config) = &files.config {
            parts.push(self.digest(config)?);
        }
        Ok(parts.join("+"))
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|dir| dir.join(format!("{key}.safetensors")))
    }

    /// The arrays stored under `key`, read one at a time (never the whole file beside them).
    pub fn load(&self, key: &str) -> (Lookup, Option<Arrays<'static>>) {
        let Some(path) = self.path(key) else {
            return (Lookup::Disabled, None);
        };
        let Ok(file) = std::fs::File::open(&path) else {
            return (Lookup::Missing, None);
        };
        match decode(file, key) {
            Ok(arrays) => (Lookup::Hit, Some(arrays)),
            Err(reason) => {
                let _ = std::fs::remove_file(&path);
                (Lookup::Corrupt(reason), None)
            }
        }
    }

    /// Stores `arrays` under `key`, written one at a time (never a copy of them all). Failing
    /// to write a cache is not an error of the run: the reason is returned for a warning.
    pub fn store(&self, key: &str, arrays: &Arrays) -> Result<(), String> {
        let Some(path) = self.path(key) else {
            return Ok(());
        };
        let metadata = HashMap::from([
            (CHECKSUM.to_string(), checksum(arrays)),
            (KEY.to_string(), key.to_string()),
        ]);
        let views = arrays.iter().map(|(name, array)| (name.as_str(), array));
        write_whole_with(&path, |temporary| {
            safetensors::serialize_to_file(views, Some(metadata), temporary)
                .map_err(std::io::Error::other)
        })
        .map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// One array of a cache entry, f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Array<'a> {
    pub shape: Vec<usize>,
    pub values: Cow<'a, [f32]>,
}

/// A cache entry's arrays by name.
pub type Arrays<'a> = BTreeMap<String, Array<'a>>;

impl View for &Array<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// One array's bytes at a time, made as the file is written.
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Owned(le_bytes(&self.values))
    }

    fn data_len(&self) -> usize {
        self.values.len() * 4
    }
}

/// When and how big a file was, to tell whether a remembered digest still holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct FileStamp {
    size: u64,
    modified_ns: u64,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        let modified = metadata.modified()?;
        Ok(Self {
            size: metadata.len(),
            modified_ns: modified
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Digest {
    stamp: FileStamp,
    sha256: String,
}

fn digest_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            return Ok(format!("{:x}", hasher.finalize()));
        }
        hasher.update(&buffer[..read]);
    }
}

/// SHA-256 over every array in name order: its name, its shape and its values' bytes.
fn checksum(arrays: &Arrays) -> String {
    let mut hasher = Sha256::new();
    for (name, array) in arrays {
        hasher.update(name.as_bytes());
        for dim in &array.shape {
            hasher.update((*dim as u64).to_le_bytes());
        }
        for chunk in array.values.chunks(4096) {
            hasher.update(le_bytes(chunk));
        }
    }
    format!("{:x}", hasher.finalize())
}

/// The bytes of `values` as a file stores them.
fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Where one array of a safetensors file lies, as its header says.
#[derive(Deserialize)]
struct Stored {
    dtype: String,
    shape: Vec<usize>,
    data_offsets: (u64, u64),
}

/// The arrays of a safetensors file written by [`Cache::store`] for `key`, each read and
/// converted on its own, and their checksum verified.
fn decode(mut file: std::fs::File, key: &str) -> Result<Arrays<'static>, String> {
    use std::io::{Read, Seek, SeekFrom};
    let io = |e: std::io::Error| e.to_string();
    let length = file.metadata().map_err(io)?.len();
    let mut prefix = [0u8; 8];
    file.read_exact(&mut prefix).map_err(io)?;
    let header_length = u64::from_le_bytes(prefix);
    if header_length > MAX_HEADER.min(length.saturating_sub(8)) {
        return Err("the header is larger than the file".into());
    }
    let mut header = vec![0u8; header_length as usize];
    file.read_exact(&mut header).map_err(io)?;
    let mut header: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|e| e.to_string())?;
    let metadata: HashMap<String, String> = match header.remove("__metadata__") {
        Some(value) => serde_json::from_value(value).map_err(|e| e.to_string())?,
        None => HashMap::new(),
    };
    if metadata.get(KEY).map(String::as_str) != Some(key) {
        return Err("the file belongs to another key".into());
    }
    let data_start = 8 + header_length;
    let mut arrays = Arrays::new();
    for (name, value) in header {
        let stored: Stored = serde_json::from_value(value).map_err(|e| e.to_string())?;
        if stored.dtype != "F32" {
            return Err(format!("tensor {name} is not f32"));
        }
        let (start, end) = stored.data_offsets;
        // Checked: the header is untrusted, and no shape or offset may overflow.
        let bytes = stored
            .shape
            .iter()
            .try_fold(4u64, |bytes, dim| bytes.checked_mul(*dim as u64));
        let fits = bytes.is_some_and(|bytes| end.checked_sub(start) == Some(bytes))
            && data_start
                .checked_add(end)
                .is_some_and(|last| last <= length);
        if !fits {
            return Err(format!("tensor {name} does not fit the file"));
        }
        let mut bytes = vec![0u8; (end - start) as usize];
        file.seek(SeekFrom::Start(data_start + start)).map_err(io)?;
        file.read_exact(&mut bytes).map_err(io)?;
        let values: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        arrays.insert(
            name,
            Array {
                shape: stored.shape,
                values: Cow::Owned(values),
            },
        );
    }
    if metadata.get(CHECKSUM) != Some(&checksum(&arrays)) {
        return Err("checksum mismatch".into());
    }
    Ok(arrays)
}

/// Writes a cache file whole ([`crate::output::write_whole_with`]), making the cache's
/// directory on the first write.
fn write_whole_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::output::write_whole_with(path, write)
}

/// The model files' identity as people read it: the first 12 hex digits of each SHA-256
/// (the weights', then config.json's), enough to tell two models apart at a glance and to
/// compare with `sha256sum`.
pub fn short_identity(identity: &str) -> String {
    identity
        .split('+')
        .map(|digest| digest.get(..12).unwrap_or(digest))
        .collect::<Vec<_>>()
        .join("+")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Arrays<'static> {
        let array = |shape: Vec<usize>, values: Vec<f32>| Array {
            shape,
            values: Cow::Owned(values),
        };
        BTreeMap::from([
            (
                "a".to_string(),
                array(vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]),
            ),
            ("b".to_string(), array(vec![2], vec![1.5, -2.0])),
        ])
    }

    #[test]
    fn round_trip_and_corruption_detection() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf()));
        let key = Cache::key(&[b"model", b"task"]);
        assert_eq!(cache.load(&key).0, Lookup::Missing);
        cache.store(&key, &sample()).unwrap();
        let (lookup, arrays) = cache.load(&key);
        assert_eq!(lookup, Lookup::Hit);
        assert_eq!(arrays.unwrap(), sample());

        // Flip one byte of tensor data: detected, removed, reported.
        let path = dir.path().join(format!("{key}.safetensors"));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(cache.load(&key).0, Lookup::Corrupt(_)));
        assert!(!path.exists());

        // A truncated file too.
        cache.store(&key, &sample()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(cache.load(&key).0, Lookup::Corrupt(_)));
    }

    #[test]
    fn a_header_whose_shapes_or_offsets_overflow_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf()));
        let huge = u64::MAX;
        for (shape, offsets) in [
            (format!("[{huge}, 2]"), "[0, 8]".to_string()),
            ("[2]".to_string(), format!("[0, {huge}]")),
            ("[2]".to_string(), format!("[{huge}, 7]")),
        ] {
            let header = format!(
                r#"{{"__metadata__":{{"{KEY}":"k"}},"a":{{"dtype":"F32","shape":{shape},"data_offsets":{offsets}}}}}"#
            );
            let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
            bytes.extend(header.as_bytes());
            bytes.extend([0u8; 8]);
            std::fs::write(dir.path().join("k.safetensors"), &bytes).unwrap();
            assert!(
                matches!(cache.load("k").0, Lookup::Corrupt(_)),
                "{shape} {offsets}"
            );
        }
    }

    #[test]
    fn keys_separate_their_parts() {
        assert_ne!(Cache::key(&[b"ab", b"c"]), Cache::key(&[b"a", b"bc"]));
        assert_eq!(Cache::key(&[b"x"]), Cache::key(&[b"x"]));
    }

    #[test]
    fn disabled_cache_stores_nothing() {
        let cache = Cache::new(None);
        cache.store("k", &sample()).unwrap();
        assert_eq!(cache.load("k").0, Lookup::Disabled);
    }
}
