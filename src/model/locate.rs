//! Where the model files come from, in this order: `--model DIR`, `CIRCUITCHECK_MODEL`, the
//! Hugging Face cache, and (with the `download` feature) the Hugging Face hub.

use std::path::{Path, PathBuf};

use crate::model::error::{ModelError, Result};

pub const MODEL_ENV: &str = "CIRCUITCHECK_MODEL";

/// The files of one model directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFiles {
    pub dir: PathBuf,
    /// The checkpoint: `model.safetensors`, or the index of a sharded one
    /// (`model.safetensors.index.json`, whose shards `weight_files` lists).
    pub weights: PathBuf,
    /// `None` when the directory has no config.json (GPT-2 small is assumed then).
    pub config: Option<PathBuf>,
}

const SINGLE: &str = "model.safetensors";
const INDEX: &str = "model.safetensors.index.json";

impl ModelFiles {
    /// The files in `dir`; errors when there are no weights.
    pub fn in_dir(dir: &Path) -> Result<Self> {
        let weights = match dir.join(INDEX) {
            index if !dir.join(SINGLE).exists() && index.exists() => index,
            _ => dir.join(SINGLE),
        };
        if !weights.exists() {
            return Err(ModelError::MissingFile { path: weights });
        }
        // Devices and pipes never end; the weights may be as large as they come.
        crate::input::check_regular(&weights, u64::MAX).map_err(|e| ModelError::Unreadable {
            path: weights.clone(),
            reason: e.to_string(),
        })?;
        let config_path = dir.join("config.json");
        let config = if config_path.exists() {
            crate::input::check_regular(&config_path, crate::input::TEXT_LIMIT).map_err(|e| {
                ModelError::Config {
                    path: config_path.clone(),
                    reason: e.to_string(),
                }
            })?;
            Some(config_path)
        } else {
            None
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            weights,
            config,
        })
    }

    /// The safetensors files holding the weights: the one file, or the shards the index
    /// names, each once, in order.
    pub fn weight_files(&self) -> Result<Vec<PathBuf>> {
        if !self.weights.to_string_lossy().ends_with(INDEX) {
            return Ok(vec![self.weights.clone()]);
        }
        let unreadable = |reason: String| ModelError::Unreadable {
            path: self.weights.clone(),
            reason,
        };
        let text = crate::input::read_text(&self.weights).map_err(|e| unreadable(e.to_string()))?;
        let index: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        let map = index
            .get("weight_map")
            .and_then(|m| m.as_object())
            .ok_or_else(|| unreadable("it has no `weight_map`".into()))?;
        let mut shards: Vec<&str> = map.values().filter_map(|v| v.as_str()).collect();
        shards.sort();
        shards.dedup();
        shards
            .into_iter()
            .map(|shard| {
                // A shard is a file beside the index, never a path elsewhere.
                let name = Path::new(shard);
                if name.components().count() != 1 {
                    return Err(unreadable(format!("shard `{shard}` is not a file name")));
                }
                Ok(self.dir.join(name))
            })
            .collect()
    }
}

/// Finds a model published on the Hugging Face hub as `repos` (its id first, then older
/// aliases: `["openai-community/gpt2", "gpt2"]`): in the Hugging Face cache, else by
/// downloading it. With `env`, `$CIRCUITCHECK_MODEL` comes first. The error lists every
/// place tried.
pub fn locate(repos: &[&str], env: bool) -> Result<ModelFiles> {
    let mut tried = Vec::new();
    if env {
        if let Some(dir) = std::env::var_os(MODEL_ENV) {
            return ModelFiles::in_dir(Path::new(&dir));
        }
        tried.push(format!("--model DIR (not given), {MODEL_ENV} (not set)"));
    } else {
        tried.push("--model DIR (not given)".to_string());
    }
    for root in hub_cache_roots() {
        for repo in repos {
            let snapshots = root
                .join(format!("models--{}", repo.replace('/', "--")))
                .join("snapshots");
            tried.push(format!("{}/*/{SINGLE}", snapshots.display()));
            if let Some(files) = newest_snapshot(&snapshots) {
                return Ok(files);
            }
        }
    }
    match repos.first().and_then(|repo| download(repo, &mut tried)) {
        Some(files) => Ok(files),
        None => Err(ModelError::NotFound { tried }),
    }
}

/// `$HF_HUB_CACHE`, `$HF_HOME/hub`, `~/.cache/huggingface/hub`, in that order.
fn hub_cache_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Some(dir) = std::env::var_os("HF_HUB_CACHE") {
        roots.push(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("HF_HOME") {
        roots.push(PathBuf::from(dir).join("hub"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        roots.push(PathBuf::from(home).join(".cache/huggingface/hub"));
    }
    roots.dedup();
    roots
}

fn newest_snapshot(snapshots: &Path) -> Option<ModelFiles> {
    let mut candidates: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(snapshots)
        .ok()?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|dir| dir.join(SINGLE).is_file() || dir.join(INDEX).is_file())
        .map(|dir| {
            let modified = dir
                .metadata()
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (modified, dir)
        })
        .collect();
    candidates.sort();
    ModelFiles::in_dir(&candidates.pop()?.1).ok()
}

#[cfg(feature = "download")]
fn download(repo_id: &str, tried: &mut Vec<String>) -> Option<ModelFiles> {
    tried.push(format!("download of {repo_id} from the Hugging Face hub"));
    if std::env::var_os("HF_HUB_OFFLINE").is_some() {
        tried.push("(skipped: HF_HUB_OFFLINE is set)".to_string());
        return None;
    }
    let api = match hf_hub::api::sync::ApiBuilder::new()
        .with_progress(true)
        .build()
    {
        Ok(api) => api,
        Err(error) => {
            tried.push(format!("(failed: {error})"));
            return None;
        }
    };
    let repo = api.model(repo_id.to_string());
    let mut get = |file: &str| match repo.get(file) {
        Ok(path) => Some(path),
        Err(error) => {
            tried.push(format!("(failed: {error})"));
            None
        }
    };
    get("config.json")?;
    let tokenizer = get("tokenizer.json")?;
    // One file, or an index and its shards.
    if get(SINGLE).is_none() {
        get(INDEX)?;
        let files = ModelFiles::in_dir(tokenizer.parent()?).ok()?;
        for shard in files.weight_files().ok()? {
            get(&shard.file_name()?.to_string_lossy())?;
        }
    }
    ModelFiles::in_dir(tokenizer.parent()?).ok()
}

#[cfg(not(feature = "download"))]
fn download(_repo_id: &str, tried: &mut Vec<String>) -> Option<ModelFiles> {
    tried.push("download from the hub (not built in: the `download` feature is off)".to_string());
    None
}
