//! Where the model files come from, in this order: `--model DIR`, `CIRCUITCHECK_MODEL`, the
//! Hugging Face cache, and (with the `download` feature) the Hugging Face hub.

use std::path::{Path, PathBuf};

use crate::model::error::{ModelError, Result};

pub const MODEL_ENV: &str = "CIRCUITCHECK_MODEL";
const HUB_REPOS: [&str; 2] = ["models--openai-community--gpt2", "models--gpt2"];
#[cfg(feature = "download")]
const HUB_REPO_ID: &str = "openai-community/gpt2";

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

/// Finds GPT-2 small: the explicit directory if given, else the environment, the cache and
/// the hub. The error lists every place tried.
pub fn locate(explicit: Option<&Path>) -> Result<ModelFiles> {
    if let Some(dir) = explicit {
        return ModelFiles::in_dir(dir);
    }
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os(MODEL_ENV) {
        return ModelFiles::in_dir(Path::new(&dir));
    }
    tried.push(format!("--model DIR (not given), {MODEL_ENV} (not set)"));
    for root in hub_cache_roots() {
        for repo in HUB_REPOS {
            let snapshots = root.join(repo).join("snapshots");
            tried.push(format!("{}/*/model.safetensors", snapshots.display()));
            if let Some(files) = newest_snapshot(&snapshots) {
                return Ok(files);
            }
        }
    }
    match download(&mut tried) {
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
fn download(tried: &mut Vec<String>) -> Option<ModelFiles> {
    tried.push(format!(
        "download of {HUB_REPO_ID} from the Hugging Face hub"
    ));
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
    let repo = api.model(HUB_REPO_ID.to_string());
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
fn download(tried: &mut Vec<String>) -> Option<ModelFiles> {
    tried.push("download from the hub (not built in: the `download` feature is off)".to_string());
    None
}

impl ModelFiles {
    /// A fingerprint of the weights and config, cheap even for large files: the length and
    /// 64 evenly spread 64 KiB samples of the weights, hashed with the config.
    pub fn identity(&self) -> std::io::Result<String> {
        use sha2::{Digest, Sha256};
        use std::io::{Read, Seek, SeekFrom};
        const SAMPLES: u64 = 64;
        const SAMPLE: usize = 64 * 1024;
        let mut hasher = Sha256::new();
        if let Some(config) = &self.config {
            hasher.update(std::fs::read(config)?);
        }
        let mut file = std::fs::File::open(&self.weights)?;
        let len = file.metadata()?.len();
        hasher.update(len.to_le_bytes());
        let mut buffer = vec![0u8; SAMPLE];
        for i in 0..SAMPLES {
            file.seek(SeekFrom::Start(len * i / SAMPLES))?;
            let read = file.read(&mut buffer)?;
            hasher.update(&buffer[..read]);
        }
        Ok(hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect())
    }
}
