//! An on-disk cache of reference activations (means, resample sources), content-addressed by
//! a hash of everything they depend on. Files are written atomically and carry a checksum of
//! their tensors, so a torn or corrupted file is detected on read and rebuilt.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, TensorView};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::model::ModelFiles;

const CHECKSUM: &str = "circuitcheck.sha256";
const KEY: &str = "circuitcheck.key";
/// Digests of large files, remembered by path, size and modification time.
const DIGESTS: &str = "digests.json";

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
                let _ = write_whole(&dir.join(DIGESTS), &json);
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

    pub fn load(&self, key: &str, device: &Device) -> (Lookup, Option<BTreeMap<String, Tensor>>) {
        let Some(path) = self.path(key) else {
            return (Lookup::Disabled, None);
        };
        let Ok(bytes) = std::fs::read(&path) else {
            return (Lookup::Missing, None);
        };
        match decode(&bytes, key, device) {
            Ok(tensors) => (Lookup::Hit, Some(tensors)),
            Err(reason) => {
                let _ = std::fs::remove_file(&path);
                (Lookup::Corrupt(reason), None)
            }
        }
    }

    /// Stores `tensors` under `key`. Failing to write a cache is not an error of the run:
    /// the reason is returned for a warning.
    pub fn store(&self, key: &str, tensors: &BTreeMap<String, Tensor>) -> Result<(), String> {
        let Some(path) = self.path(key) else {
            return Ok(());
        };
        let bytes = encode(key, tensors)?;
        write_whole(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))
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

fn checksum(tensors: &[(String, Vec<usize>, Vec<u8>)]) -> String {
    let mut hasher = Sha256::new();
    for (name, shape, data) in tensors {
        hasher.update(name.as_bytes());
        for dim in shape {
            hasher.update((*dim as u64).to_le_bytes());
        }
        hasher.update(data);
    }
    format!("{:x}", hasher.finalize())
}

fn encode(key: &str, tensors: &BTreeMap<String, Tensor>) -> Result<Vec<u8>, String> {
    let mut raw = Vec::new();
    for (name, tensor) in tensors {
        let tensor = tensor.to_dtype(DType::F32).map_err(|e| e.to_string())?;
        let values: Vec<f32> = tensor
            .flatten_all()
            .and_then(|t| t.to_vec1())
            .map_err(|e| e.to_string())?;
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        raw.push((name.clone(), tensor.dims().to_vec(), data));
    }
    let metadata = std::collections::HashMap::from([
        (CHECKSUM.to_string(), checksum(&raw)),
        (KEY.to_string(), key.to_string()),
    ]);
    let views: Vec<(String, TensorView)> = raw
        .iter()
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape.clone(), data)
                .map(|view| (name.clone(), view))
                .map_err(|e| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| e.to_string())
}

fn decode(bytes: &[u8], key: &str, device: &Device) -> Result<BTreeMap<String, Tensor>, String> {
    let (_, metadata) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| e.to_string())?;
    let stored = metadata.metadata().clone().unwrap_or_default();
    if stored.get(KEY).map(String::as_str) != Some(key) {
        return Err("the file belongs to another key".into());
    }
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut names: Vec<String> = file.names().into_iter().map(str::to_string).collect();
    names.sort();
    let mut raw = Vec::new();
    let mut tensors = BTreeMap::new();
    for name in names {
        let view = file.tensor(&name).map_err(|e| e.to_string())?;
        if view.dtype() != Dtype::F32 {
            return Err(format!("tensor {name} is not f32"));
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let tensor = Tensor::from_vec(values, view.shape(), device).map_err(|e| e.to_string())?;
        raw.push((name.clone(), view.shape().to_vec(), view.data().to_vec()));
        tensors.insert(name, tensor);
    }
    if stored.get(CHECKSUM) != Some(&checksum(&raw)) {
        return Err("checksum mismatch".into());
    }
    Ok(tensors)
}

/// Writes a cache file whole, making the cache's directory on the first write.
fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::output::write_whole(path, bytes)
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

    fn sample() -> BTreeMap<String, Tensor> {
        let device = Device::Cpu;
        BTreeMap::from([
            (
                "a".to_string(),
                Tensor::arange(0f32, 6.0, &device)
                    .unwrap()
                    .reshape((2, 3))
                    .unwrap(),
            ),
            (
                "b".to_string(),
                Tensor::new(&[1.5f32, -2.0], &device).unwrap(),
            ),
        ])
    }

    #[test]
    fn round_trip_and_corruption_detection() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path().to_path_buf()));
        let key = Cache::key(&[b"model", b"task"]);
        assert_eq!(cache.load(&key, &Device::Cpu).0, Lookup::Missing);
        cache.store(&key, &sample()).unwrap();
        let (lookup, tensors) = cache.load(&key, &Device::Cpu);
        assert_eq!(lookup, Lookup::Hit);
        let tensors = tensors.unwrap();
        assert_eq!(
            tensors["a"].to_vec2::<f32>().unwrap(),
            [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
        );

        // Flip one byte of tensor data: detected, removed, reported.
        let path = dir.path().join(format!("{key}.safetensors"));
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        assert!(matches!(
            cache.load(&key, &Device::Cpu).0,
            Lookup::Corrupt(_)
        ));
        assert!(!path.exists());

        // A truncated file too.
        cache.store(&key, &sample()).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(
            cache.load(&key, &Device::Cpu).0,
            Lookup::Corrupt(_)
        ));
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
        assert_eq!(cache.load("k", &Device::Cpu).0, Lookup::Disabled);
    }
}
