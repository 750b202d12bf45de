//! Seed inputs of each target: the repository's own files (circuits, lint cases, tasks) and
//! the files of a generated tiny model, in the formats users hand over.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use crate::model::Config;
use crate::testing::TinyGpt2;
use crate::testing::fuzz::Target;

/// Template words, and digits for the greater-than example, beside the words of the
/// built-in tasks' lists: every one a token of the fuzzing tokenizer.
const EXTRA_WORDS: &[&str] = &[
    "Then",
    "When",
    "After",
    "Afterwards",
    "While",
    "Friends",
    "and",
    "went",
    "to",
    "the",
    "said",
    "gave",
    "a",
    "had",
    "lot",
    "of",
    "fun",
    "at",
    "decided",
    "give",
    "store",
    "year",
    "war",
    "lasted",
    "from",
    "00",
    "01",
    "17",
    "33",
    "99",
];

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The files of `dir` (relative to the repository) ending in `extension`, sorted.
fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(repository().join(dir))
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == extension))
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
}

/// `circuits/*.circuit` by file name, for `extends`.
pub fn repository_circuits() -> Vec<(String, String)> {
    files("circuits", "circuit")
        .into_iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            Some((name, std::fs::read_to_string(&path).ok()?))
        })
        .collect()
}

/// The words the fuzzing tokenizer knows: the built-in tasks' list words and a few more.
pub fn task_words() -> Vec<String> {
    let mut words: BTreeSet<String> = EXTRA_WORDS.iter().map(|w| w.to_string()).collect();
    for path in files("tasks", "toml") {
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let Ok(value) = toml::from_str::<toml::Table>(&text) else {
            continue;
        };
        if let Some(lists) = value.get("lists").and_then(|l| l.as_table()) {
            for list in lists.values().filter_map(|l| l.as_array()) {
                words.extend(list.iter().filter_map(|w| w.as_str().map(str::to_string)));
            }
        }
    }
    words.into_iter().collect()
}

/// A very small GPT-2: its files are mostly header, so mutations reach the structure.
pub fn tiny_model() -> TinyGpt2 {
    TinyGpt2 {
        layers: 1,
        heads: 2,
        d_model: 4,
        context: 8,
        words: vec!["Mary".into(), "John".into()],
        seed: 0,
        prefixed: false,
    }
}

/// A task with few words, valid with the fuzzing tokenizer: generated, and as exported.
const SMALL_TASK: &str = r#"name = "small"
metric = "logit-difference"
answer = "A"
distractor = "B"
positions = ["IO = A", "S1 = B", "S1+1 = B+1", "S2 = B#2", "END = end"]
distinct = [["A", "B"]]
[placeholders]
A = "names"
B = "names"
[reference]
resample = ["A", "B#1", "B#2"]
[[families]]
name = "ABBA"
templates = ["Then [A] and [B] went to the store, [B] gave a drink to"]
[lists]
names = ["Mary", "John", "Alice"]
"#;

const EXPLICIT_TASK: &str = r#"name = "explicit"
metric = "probability-difference"
positions = ["S", "END"]
[[prompts]]
text = "Then Mary and John went, John said to"
reference = "Then Alice and Bob went, Alice said to"
answer = [" Mary", " John"]
distractor = [" Bob"]
group = "g"
positions = { S = 3, END = 8 }
"#;

const HF_CONFIG: &str = r#"{
  "activation_function": "gelu_new",
  "architectures": ["GPT2LMHeadModel"],
  "attn_pdrop": 0.1,
  "bos_token_id": 50256,
  "layer_norm_epsilon": 1e-05,
  "model_type": "gpt2",
  "n_ctx": 1024,
  "n_embd": 768,
  "n_head": 12,
  "n_inner": null,
  "n_layer": 12,
  "n_positions": 1024,
  "vocab_size": 50257
}"#;

fn read(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
}

/// The seeds of `target`; `work` is a scratch directory for generated model files.
pub fn seeds(target: Target, work: &Path) -> io::Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    match target {
        Target::Circuit | Target::Format => {
            for dir in ["circuits", "tests/lint", "tests/diff"] {
                for path in files(dir, "circuit") {
                    out.push(read(&path)?);
                }
            }
        }
        Target::Task => {
            for dir in ["tasks", "examples/tasks"] {
                for path in files(dir, "toml") {
                    out.push(read(&path)?);
                }
            }
            out.push(SMALL_TASK.into());
            out.push(EXPLICIT_TASK.into());
        }
        Target::Config => {
            let dir = work.join("seed-model");
            let config = tiny_model().write(&dir)?;
            out.push(read(&dir.join("config.json"))?);
            out.push(to_json(&Config::gpt2_small())?);
            out.push(to_json(&Config {
                n_inner: Some(7),
                ..config
            })?);
            out.push(HF_CONFIG.into());
            out.push(read(
                &repository().join("models/toy-induction/config.json"),
            )?);
        }
        Target::Tokenizer => {
            let dir = work.join("seed-tokenizer");
            crate::testing::write_tiny_tokenizer(&dir, &["Mary", "John", "went", "to"])?;
            let vocab = read(&dir.join("vocab.json"))?;
            let merges = read(&dir.join("merges.txt"))?;
            out.push([vocab.clone(), vec![0], merges.clone()].concat());
            out.push(bpe_tokenizer_json(&vocab, &merges)?);
            out.push(read(
                &repository().join("models/toy-induction/tokenizer.json"),
            )?);
        }
        Target::Safetensors => {
            let dir = work.join("seed-weights");
            tiny_model().write(&dir)?;
            out.push(read(&dir.join("model.safetensors"))?);
            TinyGpt2 {
                prefixed: true,
                ..tiny_model()
            }
            .write(&dir)?;
            out.push(read(&dir.join("model.safetensors"))?);
            out.push(as_f16(&out[0])?);
        }
    }
    Ok(out)
}

fn to_json(config: &Config) -> io::Result<Vec<u8>> {
    serde_json::to_vec_pretty(config).map_err(io::Error::other)
}

/// The tiny vocabulary and merges as a Hugging Face `tokenizer.json` (byte-level BPE).
fn bpe_tokenizer_json(vocab: &[u8], merges: &[u8]) -> io::Result<Vec<u8>> {
    let vocab: serde_json::Value = serde_json::from_slice(vocab).map_err(io::Error::other)?;
    let merges: Vec<String> = String::from_utf8_lossy(merges)
        .lines()
        .filter(|l| !l.starts_with("#version"))
        .map(str::to_string)
        .collect();
    let byte_level = serde_json::json!({
        "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true
    });
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [],
        "normalizer": null,
        "pre_tokenizer": byte_level,
        "post_processor": null,
        "decoder": byte_level,
        "model": {
            "type": "BPE",
            "dropout": null,
            "unk_token": null,
            "continuing_subword_prefix": "",
            "end_of_word_suffix": "",
            "fuse_unk": false,
            "byte_fallback": false,
            "vocab": vocab,
            "merges": merges,
        },
    });
    serde_json::to_vec_pretty(&json).map_err(io::Error::other)
}

/// The same checkpoint with every tensor stored as f16 zeros.
fn as_f16(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(io::Error::other)?;
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = file
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let count: usize = view.shape().iter().product();
            (name, view.shape().to_vec(), vec![0u8; 2 * count])
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|(name, shape, data)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F16, shape.clone(), data)
                    .map_err(io::Error::other)?;
            Ok((name.clone(), view))
        })
        .collect::<io::Result<_>>()?;
    safetensors::serialize(views, None).map_err(io::Error::other)
}
