//! Reading a checkpoint: every tensor's name and shape is checked against the config before
//! anything is built, so a bad file fails with the name of the tensor at fault.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use safetensors::SafeTensors;

use crate::model::config::Config;
use crate::model::error::{ModelError, Result};
use crate::model::locate::ModelFiles;

const PREFIX: &str = "transformer.";

/// Reads the checkpoint's safetensors files (one, or the shards of a sharded one), validates
/// them against `config` and returns a `VarBuilder` over f32 tensors named without the
/// optional `transformer.` prefix. Every tensor's name, shape and dtype is checked before any
/// is converted.
pub fn load(files: &ModelFiles, config: &Config, device: &Device) -> Result<VarBuilder<'static>> {
    let shards = files.weight_files()?;
    let path = &files.weights;
    // Configs read from config.json are checked as they are read; this catches built ones.
    config.validate(&path.with_file_name("config.json"))?;
    let bytes = shards
        .iter()
        .map(|shard| {
            std::fs::read(shard).map_err(|_| ModelError::MissingFile {
                path: shard.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let unreadable = |shard: &Path, reason: String| ModelError::Unreadable {
        path: shard.to_path_buf(),
        reason,
    };
    let opened = shards
        .iter()
        .zip(&bytes)
        .map(|(shard, bytes)| {
            SafeTensors::deserialize(bytes).map_err(|e| unreadable(shard, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    // Name without prefix → (its file, its name there).
    let names: HashMap<String, (usize, String)> = opened
        .iter()
        .enumerate()
        .flat_map(|(at, file)| {
            file.names().into_iter().map(move |name| {
                let bare = name.strip_prefix(PREFIX).unwrap_or(name).to_string();
                (bare, (at, name.to_string()))
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
    let mut views = Vec::with_capacity(expected.len());
    for (name, shape) in expected {
        let (at, stored) = &names[&name];
        let view = opened[*at]
            .tensor(stored)
            .map_err(|e| unreadable(&shards[*at], e.to_string()))?;
        if view.shape() != shape.as_slice() {
            return Err(ModelError::Shape {
                path: path.to_path_buf(),
                tensor: name,
                expected: shape,
                found: view.shape().to_vec(),
            });
        }
        let dtype = match view.dtype() {
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
        views.push((name, shape, dtype, view));
    }
    let mut tensors = HashMap::new();
    for (name, shape, dtype, view) in views {
        let tensor =
            Tensor::from_raw_buffer(view.data(), dtype, &shape, device)?.to_dtype(DType::F32)?;
        tensors.insert(name, tensor);
    }
    Ok(VarBuilder::from_tensors(tensors, DType::F32, device))
}

/// The token embedding's name in each family's checkpoint.
const EMBEDDINGS: [&str; 3] = ["wte.weight", "embed_in.weight", "embed_tokens.weight"];

/// The dtype the checkpoint stores its token embedding in (for `model info`), read from
/// the header alone.
pub fn stored_dtype(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let mut length = [0u8; 8];
    file.read_exact(&mut length).ok()?;
    // A header longer than the file (or than any real header) is garbage: read no more
    // than is there.
    let length = u64::from_le_bytes(length);
    if length > size.saturating_sub(8) || length > 1 << 26 {
        return None;
    }
    let mut header = vec![0u8; usize::try_from(length).ok()?];
    file.read_exact(&mut header).ok()?;
    let header: serde_json::Value = serde_json::from_slice(&header).ok()?;
    let entry = header
        .as_object()?
        .iter()
        .find(|(name, _)| EMBEDDINGS.iter().any(|e| name.ends_with(e)))?
        .1;
    Some(entry.get("dtype")?.as_str()?.to_lowercase())
}
