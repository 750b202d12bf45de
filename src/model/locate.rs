//! Where the model files come from, in this order: `--model DIR`, `CIRCUITCHECK_MODEL`, the
//! Hugging Face cache, and (with the `download` feature) the Hugging Face hub.

use std::path::{Path, PathBuf};

use crate::model::error::{ModelError, Result};

pub const MODEL_ENV: &str = "CIRCUITCHECK_MODEL";

/// The files of one model directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelFiles {
    pub dir: PathBuf,
    pub weights: PathBuf,
    /// `None` when the directory has no config.json (GPT-2 small is assumed then).
    pub config: Option<PathBuf>,
}

impl ModelFiles {
    /// The files in `dir`; errors when there are no weights.
    pub fn in_dir(dir: &Path) -> Result<Self> {
        let weights = dir.join("model.safetensors");
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
            tried.push(format!("{}/*/model.safetensors", snapshots.display()));
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
        .filter(|dir| dir.join("model.safetensors").is_file())
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
    let mut weights = None;
    for file in ["config.json", "tokenizer.json", "model.safetensors"] {
        match repo.get(file) {
            Ok(path) => weights = Some(path),
            Err(error) => {
                tried.push(format!("(failed: {error})"));
                return None;
            }
        }
    }
    ModelFiles::in_dir(weights?.parent()?).ok()
}

#[cfg(not(feature = "download"))]
fn download(_repo_id: &str, tried: &mut Vec<String>) -> Option<ModelFiles> {
    tried.push("download from the hub (not built in: the `download` feature is off)".to_string());
    None
}
