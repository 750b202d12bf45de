//! GPT-2 hyper-parameters, read from a Hugging Face `config.json`.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
