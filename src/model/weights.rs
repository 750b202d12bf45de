//! Reading a checkpoint: every tensor's name and shape is checked against the config before
//! anything is built, so a bad file fails with the name of the tensor at fault.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use safetensors::tensor::{Metadata, TensorInfo};

use crate::model::config::Config;
use crate::model::error::{ModelError, Result};
use crate::model::locate::ModelFiles;

const PREFIX: &str = "transformer.";

/// Reads the checkpoint's safetensors files (one, or the shards of a sharded one), validates
/// them against `config` and returns a `VarBuilder` over f32 tensors named without the
/// optional `transformer.` prefix. Every tensor's name, shape and dtype is checked before any
/// is read; tensors are then read one at a time, so loading holds no more than the weights
/// and one stored tensor.
pub fn load(files: &ModelFiles, config: &Config, device: &Device) -> Result<VarBuilder<'static>> {
    let shards = files.weight_files()?;
    let path = &files.weights;
    // Configs read from config.json are checked as they are read; this catches built ones.
    config.validate(&path.with_file_name("config.json"))?;
    let opened = shards
        .iter()
        .map(|shard| Shard::open(shard))
        .collect::<Result<Vec<_>>>()?;
    // Name without prefix → (its file, its header entry there).
    let names: HashMap<String, (usize, &TensorInfo)> = opened
        .iter()
        .enumerate()
        .flat_map(|(at, file)| {
            file.metadata
                .tensors()
                .into_iter()
                .map(move |(name, info)| {
                    let bare = name.strip_prefix(PREFIX).unwrap_or(&name).to_string();
                    (bare, (at, info))
                })
        })
        .collect();

    let expected = config.expected_tensors();
    let missing: Vec<String> = expected
        .iter()
        .filter(|(name, _)| !names.contains_key(name))
        .map(|(name, _)| name.clone())
        .collect();
    if !missing.is_empty() {
        return Err(ModelError::MissingTensors {
            path: path.to_path_buf(),
            names: missing,
        });
    }
    let mut stored = Vec::with_capacity(expected.len());
    for (name, shape) in expected {
        let (at, info) = names[&name];
        if info.shape != shape {
            return Err(ModelError::Shape {
                path: path.to_path_buf(),
                tensor: name,
                expected: shape,
                found: info.shape.clone(),
            });
        }
        let dtype = match info.dtype {
            safetensors::Dtype::F32 => DType::F32,
            safetensors::Dtype::F16 => DType::F16,
            safetensors::Dtype::BF16 => DType::BF16,
            other => {
                return Err(ModelError::Dtype {
                    tensor: name,
                    dtype: format!("{other:?}"),
                });
            }
        };
        stored.push((name, shape, dtype, at, info));
    }
    let mut tensors = HashMap::new();
    for (name, shape, dtype, at, info) in stored {
        let bytes = opened[at].read(info)?;
        let tensor =
            Tensor::from_raw_buffer(&bytes, dtype, &shape, device)?.to_dtype(DType::F32)?;
        tensors.insert(name, tensor);
    }
    Ok(VarBuilder::from_tensors(tensors, DType::F32, device))
}

/// One safetensors file, its header read and validated (offsets contiguous, sizes matching
/// shapes and dtypes, the file as long as the header says).
struct Shard {
    path: PathBuf,
    file: File,
    /// Where the tensors' bytes begin: after the header's length and the header.
    data_start: u64,
    metadata: Metadata,
}

impl Shard {
    fn open(path: &Path) -> Result<Self> {
        let unreadable = |reason: String| ModelError::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        let mut file = File::open(path).map_err(|_| ModelError::MissingFile {
            path: path.to_path_buf(),
        })?;
        let size = file
            .metadata()
            .map_err(|e| unreadable(e.to_string()))?
            .len();
        let (data_start, metadata) = read_header(&mut file, size).map_err(unreadable)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            data_start,
            metadata,
        })
    }

    /// A tensor's stored bytes.
    fn read(&self, info: &TensorInfo) -> Result<Vec<u8>> {
        let (start, end) = info.data_offsets;
        let mut bytes = vec![0u8; end - start];
        let mut file = &self.file;
        file.seek(SeekFrom::Start(self.data_start + start as u64))
            .and_then(|_| file.read_exact(&mut bytes))
            .map_err(|e| ModelError::Unreadable {
                path: self.path.clone(),
                reason: e.to_string(),
            })?;
        Ok(bytes)
    }
}

/// The header of a safetensors file of `size` bytes: where its data starts, and its
/// validated metadata.
fn read_header(file: &mut File, size: u64) -> std::result::Result<(u64, Metadata), String> {
    let mut length = [0u8; 8];
    file.read_exact(&mut length)
        .map_err(|_| "the file is too short for a safetensors header".to_string())?;
    // A header longer than the file (or than any real header) is garbage: read no more
    // than is there.
    let length = u64::from_le_bytes(length);
    if length > size.saturating_sub(8) || length > MAX_HEADER {
        return Err(format!(
            "its header claims {length} bytes, more than the file holds"
        ));
    }
    let mut header = vec![0u8; length as usize];
    file.read_exact(&mut header).map_err(|e| e.to_string())?;
    let metadata: Metadata = serde_json::from_slice(&header).map_err(|e| e.to_string())?;
    let data_start = 8 + length;
    if data_start + metadata.data_len() as u64 != size {
        return Err(format!(
            "its header describes {} bytes of tensors, the file holds {} (truncated?)",
            metadata.data_len(),
            size - data_start
        ));
    }
    Ok((data_start, metadata))
}

/// safetensors' own bound on a header's size.
const MAX_HEADER: u64 = 100_000_000;

/// The token embedding's name in each family's checkpoint.
const EMBEDDINGS: [&str; 3] = ["wte.weight", "embed_in.weight", "embed_tokens.weight"];

/// The dtype the checkpoint stores its token embedding in (for `model info`), read from
/// the header alone.
pub fn stored_dtype(path: &Path) -> Option<String> {
    let mut file = File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let (_, metadata) = read_header(&mut file, size).ok()?;
    let (_, info) = metadata
        .tensors()
        .into_iter()
        .find(|(name, _)| EMBEDDINGS.iter().any(|e| name.ends_with(e)))?;
    Some(format!("{:?}", info.dtype).to_lowercase())
}
