//! The project's own tiny GPT-2 with a known circuit: two layers trained on an induction
//! task, so a previous-token head in layer 0 and an induction head in layer 1 form the
//! classic K-composition circuit. It ships in models/toy-induction (made by
//! `circuitcheck train-toy`) so `check` runs offline, and its task is tasks/induction.toml.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::error::{ModelError, Result};
use crate::model::{Batch, Capture, Config, Gpt2, Interventions, Readout, Tokenizer};
use crate::task::Task;

pub const MODEL_NAME: &str = "toy-induction";
const LETTERS: usize = 26;
/// Training sequences: random letters in which a random segment is repeated. The segment
/// length (and so the distance of the repeat) changes from batch to batch, so copying by
/// position cannot work and the model has to learn induction.
const LEN: usize = 24;

pub fn config() -> Config {
    Config {
        vocab_size: LETTERS + 2,
        n_positions: 32,
        n_embd: 64,
        n_layer: 2,
        n_head: 4,
        n_inner: Some(256),
        layer_norm_epsilon: 1e-5,
    }
}

#[derive(Clone, Debug)]
pub struct TrainOptions {
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    pub learning_rate: f64,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            steps: 3000,
            batch: 32,
            learning_rate: 1e-3,
        }
    }
}

/// A word-level tokenizer over the letters `A`–`Z` (one token each, with or without a
/// leading space), the end-of-text marker and an unknown token.
pub fn tokenizer_json() -> String {
    let mut vocab: BTreeMap<String, usize> = (0..LETTERS)
        .map(|i| (((b'A' + i as u8) as char).to_string(), i))
        .collect();
    vocab.insert("<|endoftext|>".into(), LETTERS);
    vocab.insert("<unk>".into(), LETTERS + 1);
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{
            "id": LETTERS, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true
        }],
        "normalizer": null,
        "pre_tokenizer": { "type": "Whitespace" },
        "post_processor": null,
        "decoder": null,
        "model": { "type": "WordLevel", "vocab": vocab, "unk_token": "<unk>" }
    });
    serde_json::to_string_pretty(&json).expect("plain JSON")
}

/// Seeded normal draws (Box–Muller), so initial weights depend on the seed alone.
fn normal(rng: &mut ChaCha8Rng, n: usize, std: f64) -> Vec<f32> {
    (0..n)
        .map(|_| {
            let u1: f64 = rng.random_range(f64::EPSILON..1.0);
            let u2: f64 = rng.random();
            ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos() * std) as f32
        })
        .collect()
}

/// Trains the toy model; `progress(step, loss)` is called after every step.
pub fn train(options: &TrainOptions, mut progress: impl FnMut(usize, f32)) -> Result<VarMap> {
    let device = Device::Cpu;
    let config = config();
    let varmap = VarMap::new();
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    {
        let mut vars = varmap.data().lock().expect("no other holder");
        for (name, shape) in config.expected_tensors() {
            let n: usize = shape.iter().product();
            let values = if name.contains("ln_") && name.ends_with("weight") {
                vec![1f32; n]
            } else if name.ends_with("bias") {
                vec![0f32; n]
            } else {
                normal(&mut rng, n, 0.02)
            };
            let tensor = Tensor::from_vec(values, shape.as_slice(), &device)?;
            vars.insert(name, Var::from_tensor(&tensor)?);
        }
    }
    let model = Gpt2::trainable(
        VarBuilder::from_varmap(&varmap, DType::F32, &device),
        config.clone(),
    )?;
    let params = ParamsAdamW {
        lr: options.learning_rate,
        weight_decay: 0.01,
        ..Default::default()
    };
    let mut optimizer = AdamW::new(varmap.all_vars(), params)?;
    for step in 0..options.steps {
        let segment = rng.random_range(2..=LEN / 2 - 1);
        let start = LEN - 2 * segment;
        let predicted = segment - 1;
        let mut inputs = Vec::with_capacity(options.batch);
        let mut targets = Vec::with_capacity(options.batch * predicted);
        for _ in 0..options.batch {
            let mut sequence: Vec<u32> = (0..LEN)
                .map(|_| rng.random_range(0..LETTERS as u32))
                .collect();
            for i in 0..segment {
                sequence[start + segment + i] = sequence[start + i];
            }
            // Positions start + segment .. LEN − 2 predict the rest of the repeat by induction.
            targets.extend_from_slice(&sequence[start + segment + 1..]);
            inputs.push(sequence[..LEN - 1].to_vec());
        }
        let batch = Batch::new(&inputs, &device)?;
        let logits = model
            .forward(
                &batch,
                &Interventions::none(),
                Capture::default(),
                &Readout::All,
            )?
            .logits
            .expect("full logits requested");
        let predicting = logits
            .narrow(1, start + segment, predicted)?
            .reshape((options.batch * predicted, config.vocab_size))?;
        let targets = Tensor::from_vec(targets, options.batch * predicted, &device)?;
        let loss = candle_nn::loss::cross_entropy(&predicting, &targets)?;
        optimizer.backward_step(&loss)?;
        progress(step, loss.to_scalar::<f32>()?);
    }
    Ok(varmap)
}

/// Writes model.safetensors, config.json and tokenizer.json into `dir`.
pub fn save(varmap: &VarMap, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    varmap
        .save(dir.join("model.safetensors"))
        .map_err(std::io::Error::other)?;
    let config = serde_json::to_string_pretty(&config()).map_err(std::io::Error::other)?;
    std::fs::write(dir.join("config.json"), config + "\n")?;
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json() + "\n")
}

/// The fraction of induction-task prompts whose most likely next token is the answer.
pub fn accuracy(
    model: &Gpt2,
    tokenizer: &Tokenizer,
    n: usize,
    seed: u64,
) -> std::result::Result<f64, Box<dyn std::error::Error>> {
    let task =
        Task::builtin("induction").ok_or_else(|| ModelError::Input("no induction task".into()))?;
    let dataset = task.dataset(tokenizer, n, seed)?;
    let sequences: Vec<Vec<u32>> = dataset.prompts.iter().map(|p| p.tokens.clone()).collect();
    let positions: Vec<usize> = dataset.prompts.iter().map(|p| p.end()).collect();
    let batch = Batch::new(&sequences, model.device())?;
    let logits = model
        .forward(
            &batch,
            &Interventions::none(),
            Capture::default(),
            &Readout::Full { positions },
        )?
        .logits
        .expect("logits requested");
    let best: Vec<u32> = logits.argmax(1)?.to_vec1()?;
    let right = best
        .iter()
        .zip(&dataset.prompts)
        .filter(|(b, p)| **b == p.answer[0])
        .count();
    Ok(right as f64 / n as f64)
}
