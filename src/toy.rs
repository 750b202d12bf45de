//! The project's own tiny GPT-2 with a known circuit: two layers trained on an induction
//! task, so a previous-token head in layer 0 and an induction head in layer 1 form the
//! classic K-composition circuit. It ships in models/toy-induction (made by
//! `circuitcheck train-toy`) so `check` runs offline, and its task is tasks/induction.toml.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::error::{ModelError, Result};
use crate::model::{Batch, Capture, Config, Interventions, Readout, Tokenizer, Transformer};
use crate::task::Task;

pub const MODEL_NAME: &str = "toy-induction";
const LETTERS: usize = 26;
/// Length of a training sequence (its last token is only ever a target).
const LEN: usize = 16;

pub fn config() -> Config {
    Config {
        n_inner: Some(256),
        ..Config::gpt2(LETTERS + 2, 32, 64, 2, 4)
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
            steps: 8000,
            batch: 32,
            learning_rate: 3e-3,
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

/// One batch of training sequences: distinct random letters in which a segment (2–6 letters)
/// comes back later, at a random place and after a random gap. Only the repeat's
/// predictable tokens are scored, so the loss rewards induction and nothing else. Returns
/// the inputs, the scored rows of the flattened `[batch·(LEN−1)]` logits and their targets.
fn training_batch(rng: &mut ChaCha8Rng, batch: usize) -> (Vec<Vec<u32>>, Vec<u32>, Vec<u32>) {
    let mut inputs = Vec::with_capacity(batch);
    let mut picks = Vec::new();
    let mut targets = Vec::new();
    for row in 0..batch {
        // Distinct letters, as in the task's prompts: the planted repeat is then the only
        // one, and induction has a clean signal to learn from.
        let mut letters: Vec<u32> = (0..LETTERS as u32).collect();
        letters.shuffle(rng);
        let mut sequence = letters[..LEN].to_vec();
        let segment = rng.random_range(2..=6);
        let first = rng.random_range(0..=LEN - 2 * segment);
        let second = rng.random_range(first + segment..=LEN - segment);
        for i in 0..segment {
            sequence[second + i] = sequence[first + i];
        }
        // Position p predicts token p + 1; within the repeat, p = second .. second+segment−2.
        for p in second..second + segment - 1 {
            picks.push((row * (LEN - 1) + p) as u32);
            targets.push(sequence[p + 1]);
        }
        inputs.push(sequence[..LEN - 1].to_vec());
    }
    (inputs, picks, targets)
}

/// A short linear warm-up, then a cosine decay to a tenth: the final steps settle the
/// weights instead of bouncing around the optimum.
fn learning_rate(options: &TrainOptions, step: usize) -> f64 {
    let warmup = (options.steps / 20).max(1);
    if step < warmup {
        return options.learning_rate * (step + 1) as f64 / warmup as f64;
    }
    let progress = (step - warmup) as f64 / (options.steps - warmup).max(1) as f64;
    let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
    options.learning_rate * (0.1 + 0.9 * cosine)
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
    let model = Transformer::trainable(
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
        let (inputs, picks, targets) = training_batch(&mut rng, options.batch);
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
            .reshape((options.batch * (LEN - 1), config.vocab_size))?
            .index_select(&Tensor::new(picks, &device)?, 0)?;
        let targets = Tensor::new(targets, &device)?;
        let loss = candle_nn::loss::cross_entropy(&predicting, &targets)?;
        optimizer.set_learning_rate(learning_rate(options, step));
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
    model: &Transformer,
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
