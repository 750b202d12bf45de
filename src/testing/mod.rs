//! Fixtures for tests and examples: tiny tokenizer and model files generated on the fly in
//! the real on-disk formats, so tests load them through the same code users do; and the
//! `fuzz`er of every input reader.

pub mod fuzz;
mod tiny_models;

pub use tiny_models::{Family, Llama3Scaling, TinyModel, tokenizer_size};

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

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
/// N(0, 0.02²), unseeded): real shapes without a download, for the benchmarks.
pub fn random_weights(
    config: &crate::model::Config,
    device: &candle_core::Device,
) -> candle_core::Result<std::collections::HashMap<String, candle_core::Tensor>> {
    use candle_core::{DType, Tensor};
    config
        .expected_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let tensor = if name.contains("ln_") && name.ends_with("weight") {
                Tensor::ones(shape.as_slice(), DType::F32, device)?
            } else {
                (Tensor::randn(0f32, 1.0, shape.as_slice(), device)? * 0.02)?
            };
            Ok((name, tensor))
        })
        .collect()
}

/// Writes a model directory in the Hugging Face layout with `config`'s shapes and random
/// GPT-2-initialised weights, and the tokenizer files (`vocab.json`, `merges.txt`) copied
/// from `tokenizer_dir`: the real shapes and the real task, end to end, without a download.
pub fn write_random_gpt2(
    dir: &Path,
    config: &crate::model::Config,
    tokenizer_dir: &Path,
) -> io::Result<()> {
    let tensors = random_weights(config, &candle_core::Device::Cpu).map_err(io::Error::other)?;
    std::fs::create_dir_all(dir)?;
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors"))
        .map_err(io::Error::other)?;
    let config_json = serde_json::to_string_pretty(config).map_err(io::Error::other)?;
    std::fs::write(dir.join("config.json"), config_json)?;
    for file in ["vocab.json", "merges.txt"] {
        let from = tokenizer_dir.join(file);
        std::fs::copy(&from, dir.join(file))
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", from.display())))?;
    }
    Ok(())
}
