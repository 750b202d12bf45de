//! GPT-2 hyper-parameters, read from a Hugging Face `config.json`. A config that reads is
//! valid: sizes that are zero, do not divide or would overflow are refused while reading,
//! before anything is allocated from them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::error::ModelError;

/// More layers than any GPT-2-shaped model has; a config saying more is corrupt, and would
/// make the loader list millions of tensors before noticing.
pub const MAX_LAYERS: usize = 1024;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Written")]
pub struct Config {
    pub vocab_size: usize,
    /// Context length.
    pub n_positions: usize,
    pub n_embd: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// MLP width; Hugging Face writes `null` for the default 4 × n_embd.
    #[serde(default)]
    pub n_inner: Option<usize>,
    #[serde(default = "default_epsilon")]
    pub layer_norm_epsilon: f64,
}

fn default_epsilon() -> f64 {
    1e-5
}

/// `config.json` as written, before it is checked.
#[derive(Deserialize)]
struct Written {
    vocab_size: usize,
    n_positions: usize,
    n_embd: usize,
    n_layer: usize,
    n_head: usize,
    #[serde(default)]
    n_inner: Option<usize>,
    #[serde(default = "default_epsilon")]
    layer_norm_epsilon: f64,
}

impl TryFrom<Written> for Config {
    type Error = String;

    fn try_from(written: Written) -> Result<Self, String> {
        let config = Config {
            vocab_size: written.vocab_size,
            n_positions: written.n_positions,
            n_embd: written.n_embd,
            n_layer: written.n_layer,
            n_head: written.n_head,
            n_inner: written.n_inner,
            layer_norm_epsilon: written.layer_norm_epsilon,
        };
        match config.problem() {
            Some(problem) => Err(problem),
            None => Ok(config),
        }
    }
}

impl Config {
    /// GPT-2 small (124M).
    pub fn gpt2_small() -> Self {
        Self {
            vocab_size: 50257,
            n_positions: 1024,
            n_embd: 768,
            n_layer: 12,
            n_head: 12,
            n_inner: None,
            layer_norm_epsilon: 1e-5,
        }
    }

    /// Refuses a config no GPT-2 can have, naming `path` (the config file) in the error.
    pub fn validate(&self, path: &Path) -> Result<(), ModelError> {
        match self.problem() {
            Some(reason) => Err(ModelError::Config {
                path: path.to_path_buf(),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// What makes this config impossible, if anything.
    pub fn problem(&self) -> Option<String> {
        let sizes = [
            ("vocab_size", self.vocab_size),
            ("n_positions", self.n_positions),
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_inner", self.n_inner.unwrap_or(1)),
        ];
        if let Some((name, _)) = sizes.iter().find(|(_, size)| *size == 0) {
            return Some(format!(
                "`{name}` is 0; every size of a model is at least 1"
            ));
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Some(format!(
                "`n_head` ({}) does not divide `n_embd` ({}): heads split the embedding evenly",
                self.n_head, self.n_embd
            ));
        }
        if self.n_layer > MAX_LAYERS {
            return Some(format!(
                "`n_layer` is {}, more than the {MAX_LAYERS} any GPT-2-shaped model has",
                self.n_layer
            ));
        }
        if !(self.layer_norm_epsilon.is_finite() && self.layer_norm_epsilon > 0.0) {
            return Some(format!(
                "`layer_norm_epsilon` is {}; it must be a small positive number",
                self.layer_norm_epsilon
            ));
        }
        if self.checked_parameter_count().is_none() {
            return Some("the sizes are too large: the parameter count overflows".into());
        }
        None
    }

    /// The parameter count, or `None` when it (or a tensor's size) does not fit a `usize`.
    fn checked_parameter_count(&self) -> Option<usize> {
        let d = self.n_embd;
        let m = match self.n_inner {
            Some(m) => m,
            None => d.checked_mul(4)?,
        };
        let square = d.checked_mul(d)?;
        let per_layer = [
            d.checked_mul(4)?,                 // two layer norms
            square.checked_mul(3)?,            // c_attn weight
            d.checked_mul(3)?,                 // c_attn bias
            square.checked_add(d)?,            // c_proj
            d.checked_mul(m)?.checked_mul(2)?, // MLP weights
            m.checked_add(d)?,                 // MLP biases
        ]
        .iter()
        .try_fold(0usize, |total, n| total.checked_add(*n))?;
        let embeddings = self
            .vocab_size
            .checked_add(self.n_positions)?
            .checked_mul(d)?;
        per_layer
            .checked_mul(self.n_layer)?
            .checked_add(embeddings)?
            .checked_add(d.checked_mul(2)?)
    }

    pub fn d_head(&self) -> usize {
        self.n_embd / self.n_head
    }

    pub fn d_mlp(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    /// Every tensor of a checkpoint with its shape, by its Hugging Face name (no prefix).
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let (d, m) = (self.n_embd, self.d_mlp());
        let mut out = vec![
            ("wte.weight".to_string(), vec![self.vocab_size, d]),
            ("wpe.weight".to_string(), vec![self.n_positions, d]),
        ];
        for i in 0..self.n_layer {
            let shapes: [(&str, Vec<usize>); 12] = [
                ("ln_1.weight", vec![d]),
                ("ln_1.bias", vec![d]),
                ("attn.c_attn.weight", vec![d, 3 * d]),
                ("attn.c_attn.bias", vec![3 * d]),
                ("attn.c_proj.weight", vec![d, d]),
                ("attn.c_proj.bias", vec![d]),
                ("ln_2.weight", vec![d]),
                ("ln_2.bias", vec![d]),
                ("mlp.c_fc.weight", vec![d, m]),
                ("mlp.c_fc.bias", vec![m]),
                ("mlp.c_proj.weight", vec![m, d]),
                ("mlp.c_proj.bias", vec![d]),
            ];
            for (name, shape) in shapes {
                out.push((format!("h.{i}.{name}"), shape));
            }
        }
        out.push(("ln_f.weight".to_string(), vec![d]));
        out.push(("ln_f.bias".to_string(), vec![d]));
        out
    }

    /// Parameters of the model (tied unembedding counted once).
    pub fn parameter_count(&self) -> usize {
        self.expected_tensors()
            .iter()
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }
}
