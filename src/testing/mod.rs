//! Fixtures for tests and examples: tiny tokenizer and model files generated on the fly in
//! the real on-disk formats, so tests load them through the same code users do; and the
//! `fuzz`er of every input reader.

pub mod fuzz;
mod tiny_models;

pub use tiny_models::{Family, Llama3Scaling, TinyModel, tokenizer_size};

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Every word of a built-in task (`ioi`, `greater-than`, `induction`): its lists' words
/// and its templates' words, so that the task runs on a tokenizer of
/// [`write_tiny_tokenizer`] with one token per word. Templates of different lengths keep
/// different token lengths, as with GPT-2's tokenizer.
pub fn task_words(task: &str) -> io::Result<Vec<String>> {
    let text = crate::task::builtin_text(task)
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no task {task}")))?;
    let file: toml::Table = text.parse().map_err(io::Error::other)?;
    let mut words = std::collections::BTreeSet::new();
    let strings = |value: &toml::Value| -> Vec<String> {
        value
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(lists) = file.get("lists").and_then(toml::Value::as_table) {
        for list in lists.values() {
            words.extend(strings(list));
        }
    }
    for family in file
        .get("families")
        .map(strings_of_tables)
        .unwrap_or_default()
    {
        for template in family.get("templates").map(strings).unwrap_or_default() {
            let parts = template.split(|c: char| !c.is_alphanumeric());
            words.extend(parts.filter(|w| !w.is_empty()).map(str::to_string));
        }
    }
    Ok(words.into_iter().collect())
}

fn strings_of_tables(value: &toml::Value) -> Vec<toml::Table> {
    value
        .as_array()
        .map(|list| list.iter().filter_map(|v| v.as_table().cloned()).collect())
        .unwrap_or_default()
}

/// GPT-2's reversible map from bytes to printable characters (`bytes_to_unicode`).
pub fn byte_to_char() -> [char; 256] {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut map = ['\0'; 256];
    let mut next = 0u32;
    for b in 0..256u32 {
        let c = if printable.contains(&b) {
            b
        } else {
            next += 1;
            255 + next
        };
        map[b as usize] = char::from_u32(c).expect("valid code point");
    }
    map
}

/// Writes a GPT-2-style byte-level BPE (`vocab.json` + `merges.txt`) into `dir` in which
/// every word of `words` is a single token both as written and with a leading space
/// (`"Mary"` and `" Mary"`). The vocabulary holds the 256 byte symbols, the merge chains of
/// the words and `<|endoftext|>` last.
pub fn write_tiny_tokenizer(dir: &Path, words: &[&str]) -> io::Result<()> {
    let chars = byte_to_char();
    let symbols = |text: &str| -> Vec<String> {
        text.bytes()
            .map(|b| chars[b as usize].to_string())
            .collect()
    };
    let mut vocab: BTreeMap<String, u32> = BTreeMap::new();
    let mut ordered: Vec<String> = Vec::new();
    let mut add = |token: String, vocab: &mut BTreeMap<String, u32>| {
        if !vocab.contains_key(&token) {
            vocab.insert(token.clone(), ordered.len() as u32);
            ordered.push(token);
        }
    };
    for c in chars {
        add(c.to_string(), &mut vocab);
    }
    // Space-prefixed chains rank before bare chains, so " Mary" always merges to one token.
    let mut merges: Vec<(String, String)> = Vec::new();
    for spaced in [true, false] {
        for word in words {
            let text = if spaced {
                format!(" {word}")
            } else {
                word.to_string()
            };
            let parts = symbols(&text);
            let mut prefix = parts[0].clone();
            for part in &parts[1..] {
                let merged = format!("{prefix}{part}");
                if !vocab.contains_key(&merged) {
                    merges.push((prefix.clone(), part.clone()));
                    add(merged.clone(), &mut vocab);
                }
                prefix = merged;
            }
        }
    }
    add("<|endoftext|>".to_string(), &mut vocab);
    std::fs::create_dir_all(dir)?;
    let vocab_json = serde_json::to_string_pretty(&vocab).map_err(io::Error::other)?;
    std::fs::write(dir.join("vocab.json"), vocab_json)?;
    let mut merges_txt = String::from("#version: 0.2\n");
    for (a, b) in merges {
        merges_txt.push_str(&format!("{a} {b}\n"));
    }
    std::fs::write(dir.join("merges.txt"), merges_txt)
}

/// Shape of a generated tiny GPT-2.
#[derive(Clone, Debug)]
pub struct TinyGpt2 {
    pub layers: usize,
    pub heads: usize,
    pub d_model: usize,
    pub context: usize,
    /// Words of the tokenizer (each a single token, with and without a leading space).
    pub words: Vec<String>,
    pub seed: u64,
    /// Write tensor names with the `transformer.` prefix.
    pub prefixed: bool,
}

impl Default for TinyGpt2 {
    fn default() -> Self {
        let words = [
            "Mary", "John", "Alice", "Bob", "store", "garden", "ring", "drink", "Then", "When",
            "and", "went", "to", "the", "gave", "a", "said",
        ];
        Self {
            layers: 3,
            heads: 4,
            d_model: 32,
            context: 64,
            words: words.iter().map(|w| w.to_string()).collect(),
            seed: 0,
            prefixed: false,
        }
    }
}

impl TinyGpt2 {
    /// Writes `model.safetensors`, `config.json`, `vocab.json` and `merges.txt` into `dir`
    /// and returns the config. Weights are seeded random values large enough to give
    /// non-trivial attention patterns.
    pub fn write(&self, dir: &Path) -> io::Result<crate::model::Config> {
        use rand::{Rng, SeedableRng};
        let words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        write_tiny_tokenizer(dir, &words)?;
        let vocab: BTreeMap<String, u32> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("vocab.json"))?)
                .map_err(io::Error::other)?;
        let config = crate::model::Config::gpt2(
            vocab.len(),
            self.context,
            self.d_model,
            self.layers,
            self.heads,
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, shape) in config.expected_tensors() {
            let n: usize = shape.iter().product();
            let values: Vec<f32> = if name.contains("ln_") && name.ends_with("weight") {
                (0..n).map(|_| 1.0 + rng.random_range(-0.2..0.2)).collect()
            } else {
                let scale = if name.ends_with("bias") { 0.1 } else { 0.5 };
                (0..n).map(|_| rng.random_range(-scale..scale)).collect()
            };
            let name = if self.prefixed {
                format!("transformer.{name}")
            } else {
                name
            };
            tensors.push((
                name,
                shape,
                values.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ));
        }
        let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
            .iter()
            .map(|(name, shape, data)| {
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    data,
                )
                .expect("consistent tensor");
                (name.clone(), view)
            })
            .collect();
        let bytes = safetensors::serialize(views, None).map_err(io::Error::other)?;
        std::fs::write(dir.join("model.safetensors"), bytes)?;
        let config_json = serde_json::to_string_pretty(&config).map_err(io::Error::other)?;
        std::fs::write(dir.join("config.json"), config_json)?;
        Ok(config)
    }
}

/// GPT-2-initialised random weights for `config` (layer-norm gains 1, everything else
/// N(0, 0.02²), from a fixed seed, so two runs of a benchmark compute the same model and
/// take the same search paths): real shapes without a download, for the benchmarks.
pub fn random_weights(
    config: &crate::model::Config,
    device: &candle_core::Device,
) -> candle_core::Result<std::collections::HashMap<String, candle_core::Tensor>> {
    use candle_core::{DType, Tensor};
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    config
        .expected_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let tensor = if name.contains("ln_") && name.ends_with("weight") {
                Tensor::ones(shape.as_slice(), DType::F32, device)?
            } else {
                let n: usize = shape.iter().product();
                // Box–Muller: two uniform draws give one standard normal.
                let values: Vec<f32> = (0..n)
                    .map(|_| {
                        let u: f64 = 1.0 - rng.random::<f64>();
                        let v: f64 = rng.random();
                        let z = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
                        (0.02 * z) as f32
                    })
                    .collect();
                Tensor::from_vec(values, shape.as_slice(), device)?
            };
            Ok((name, tensor))
        })
        .collect()
}

/// Writes random weights of the exact shape of a hub model the catalog names (the GPT-2
/// sizes, and those of [`TinyModel::hub_shaped`]) into `dir`, in its family's layout. GPT-2s
/// get GPT-2's tokenizer files from `gpt2_tokenizer` when given; every other model (and a
/// GPT-2 without them) a generated BPE in which every IOI word is one token.
pub fn write_hub_shaped(dir: &Path, name: &str, gpt2_tokenizer: Option<&Path>) -> io::Result<()> {
    if let Some(model) = TinyModel::hub_shaped(name) {
        let model = TinyModel {
            words: task_words("ioi")?,
            ..model
        };
        return model.write(dir).map(drop);
    }
    let known = crate::catalog::model(name)
        .filter(|m| m.name.starts_with("gpt2") && !m.hub.is_empty())
        .ok_or_else(|| {
            let shaped = "gpt2-small, gpt2-medium, gpt2-large, gpt2-xl, pythia-160m, \
                          qwen2.5-0.5b, llama-3.2-1b or gemma-2-2b";
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("{name}: random weights are made for {shaped}"),
            )
        })?;
    // Widths of the GPT-2 family, by depth.
    let n_embd = match known.shape.layers {
        6 | 12 => 768,
        24 => 1024,
        36 => 1280,
        _ => 1600,
    };
    let small = crate::model::Config::gpt2_small();
    let (layers, heads) = (known.shape.layers as usize, known.shape.heads as usize);
    let config =
        crate::model::Config::gpt2(small.vocab_size, small.n_positions, n_embd, layers, heads);
    write_random_gpt2(dir, &config, gpt2_tokenizer)
}

/// Writes a model directory in the Hugging Face layout with `config`'s shapes and random
/// GPT-2-initialised weights, and the tokenizer: GPT-2's files (`vocab.json`, `merges.txt`)
/// copied from `tokenizer_dir`, or without one a generated BPE in which every IOI word is one
/// token, as in GPT-2's (the real shapes and task, end to end, with nothing to download).
pub fn write_random_gpt2(
    dir: &Path,
    config: &crate::model::Config,
    tokenizer_dir: Option<&Path>,
) -> io::Result<()> {
    let tensors = random_weights(config, &candle_core::Device::Cpu).map_err(io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors"))
        .map_err(io::Error::other)?;
    let config_json = serde_json::to_string_pretty(config).map_err(io::Error::other)?;
    std::fs::write(dir.join("config.json"), config_json)?;
    let Some(tokenizer_dir) = tokenizer_dir else {
        let words = task_words("ioi")?;
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        return write_tiny_tokenizer(dir, &words);
    };
    for file in ["vocab.json", "merges.txt"] {
        let from = tokenizer_dir.join(file);
        std::fs::copy(&from, dir.join(file))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", from.display())))?;
    }
    Ok(())
}
