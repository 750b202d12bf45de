//! Mean attention between a task's named positions, per head: the evidence for what a head
//! does (a previous-token head attends from `B1` to `A1`, an induction head from `A2` to
//! `B1`, an IOI name mover from `END` to `IO`), which circuit files cite in their comments.

use serde::Serialize;

use crate::model::error::Result;
use crate::model::{Batch, Capture, Interventions, Readout, Transformer};
use crate::task::Dataset;

/// Prompts per forward pass.
const CHUNK: usize = 64;

#[derive(Clone, Debug, Serialize)]
pub struct AttentionTable {
    /// The task's position names, indexing `mean`'s last two axes.
    pub positions: Vec<String>,
    pub prompts: usize,
    /// `[layer][head][from][to]`: mean attention weight of the query at position `from` on
    /// the key at position `to`, over prompts (0 where `to` comes after `from`).
    pub mean: Vec<Vec<Vec<Vec<f64>>>>,
    /// `[layer][head]`: mean weight on the immediately preceding token, over every position
    /// after the first of every prompt.
    pub previous_token: Vec<Vec<f64>>,
    /// `[from][to]`: the two names are one token in every prompt (IOI's `S2`/`END` are not,
    /// the induction task's `A2`/`END` are).
    pub aliases: Vec<Vec<bool>>,
}

impl AttentionTable {
    pub fn position(&self, name: &str) -> Option<usize> {
        self.positions.iter().position(|p| p == name)
    }

    /// Mean attention from one named position to another, `[layer][head]`.
    pub fn between(&self, from: usize, to: usize) -> Vec<Vec<f64>> {
        self.mean
            .iter()
            .map(|heads| heads.iter().map(|m| m[from][to]).collect())
            .collect()
    }
}

/// Runs the clean prompts of `dataset` and averages every head's attention pattern.
pub fn mean_attention(model: &Transformer, dataset: &Dataset) -> Result<AttentionTable> {
    let config = model.config();
    let (layers, heads) = (config.n_layer, config.n_head);
    let names = &dataset.position_names;
    let k = names.len();
    let mut mean = vec![vec![vec![vec![0f64; k]; k]; heads]; layers];
    let mut previous_token = vec![vec![0f64; heads]; layers];
    let mut previous_count = 0usize;
    let mut aliases = vec![vec![true; k]; k];
    let capture = Capture {
        patterns: true,
        ..Default::default()
    };
    for chunk in dataset.prompts.chunks(CHUNK) {
        let rows: Vec<Vec<u32>> = chunk.iter().map(|p| p.tokens.clone()).collect();
        let batch = Batch::new(&rows, model.device())?;
        let output = model.forward(&batch, &Interventions::none(), capture, &Readout::None)?;
        // Per prompt, the token index of each named position.
        let places: Vec<Vec<Option<usize>>> = chunk
            .iter()
            .map(|prompt| {
                names
                    .iter()
                    .map(|n| prompt.positions.get(n).copied())
                    .collect()
            })
            .collect();
        for at in &places {
            for (from, f) in at.iter().enumerate() {
                for (to, t) in at.iter().enumerate() {
                    aliases[from][to] &= f.is_some() && f == t;
                }
            }
        }
        for (layer, pattern) in output.patterns.iter().enumerate() {
            // [rows, heads, seq, seq]
            let pattern: Vec<Vec<Vec<Vec<f32>>>> = pattern
                .chunk(chunk.len(), 0)?
                .into_iter()
                .map(|row| row.squeeze(0).and_then(|r| r.to_vec3()))
                .collect::<candle_core::Result<_>>()?;
            for ((prompt, at), pattern) in chunk.iter().zip(&places).zip(&pattern) {
                for (head, weights) in pattern.iter().enumerate() {
                    for (from, f) in at.iter().enumerate() {
                        for (to, t) in at.iter().enumerate() {
                            if let (Some(f), Some(t)) = (f, t) {
                                mean[layer][head][from][to] += weights[*f][*t] as f64;
                            }
                        }
                    }
                    previous_token[layer][head] += (1..prompt.tokens.len())
                        .map(|t| weights[t][t - 1] as f64)
                        .sum::<f64>();
                }
            }
        }
        previous_count += chunk.iter().map(|p| p.tokens.len() - 1).sum::<usize>();
    }
    let n = dataset.prompts.len().max(1) as f64;
    for cell in mean.iter_mut().flatten().flatten().flatten() {
        *cell /= n;
    }
    for cell in previous_token.iter_mut().flatten() {
        *cell /= previous_count.max(1) as f64;
    }
    Ok(AttentionTable {
        positions: names.clone(),
        prompts: dataset.prompts.len(),
        mean,
        previous_token,
        aliases,
    })
}
