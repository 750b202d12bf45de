//! An independent slow GPT-2: plain f64 loops written from the GPT-2 definition, reading
//! the safetensors file with the `safetensors` crate and sharing no code with the model.

// The reference mirrors the formulas index by index, which is clearer than iterators here.
#![allow(clippy::needless_range_loop, clippy::type_complexity, dead_code)]

use std::collections::HashMap;
use std::path::Path;

pub type Matrix = Vec<Vec<f64>>;

pub struct Reference {
    pub tensors: HashMap<String, (Vec<usize>, Vec<f64>)>,
    pub layers: usize,
    pub heads: usize,
    pub d: usize,
}

/// What the reference is asked to change, in plain arrays.
#[derive(Default, Clone)]
pub struct RefPatch {
    /// (layer, head, position) → replacement result vector.
    pub heads: HashMap<(usize, usize, usize), Vec<f64>>,
    /// (layer, position) → replacement MLP output.
    pub mlps: HashMap<(usize, usize), Vec<f64>>,
    /// Edge level: receiver (layer, head, channel) → senders it is *not* connected to, as
    /// `None` for the embeddings or `Some((layer, head))`; `embed_replacement` per position.
    pub unconnected: HashMap<(usize, usize, usize), Vec<Option<(usize, usize)>>>,
    pub logits_unconnected: Vec<Option<(usize, usize)>>,
    pub embed_replacement: Vec<Vec<f64>>,
}

pub struct RefOutput {
    pub logits: Matrix,             // [seq][vocab]
    pub results: Vec<Vec<Matrix>>,  // [layer][head][seq][d] (real, unpatched)
    pub mlps: Vec<Matrix>,          // [layer][seq][d] (real)
    pub patterns: Vec<Vec<Matrix>>, // [layer][head][query][key]
}

impl Reference {
    pub fn load(path: &Path, layers: usize, heads: usize, d: usize) -> Self {
        let bytes = std::fs::read(path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut tensors = HashMap::new();
        for name in file.names() {
            let view = file.tensor(name).unwrap();
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
                .collect();
            let name = name
                .strip_prefix("transformer.")
                .unwrap_or(name)
                .to_string();
            tensors.insert(name, (view.shape().to_vec(), values));
        }
        Self {
            tensors,
            layers,
            heads,
            d,
        }
    }

    fn vector(&self, name: &str) -> &[f64] {
        &self.tensors[name].1
    }

    /// Entry (i, j) of a 2-d tensor.
    fn at(&self, name: &str, i: usize, j: usize) -> f64 {
        let (shape, values) = &self.tensors[name];
        values[i * shape[1] + j]
    }

    fn layer_norm(&self, x: &[f64], prefix: &str) -> Vec<f64> {
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let (w, b) = (
            self.vector(&format!("{prefix}.weight")),
            self.vector(&format!("{prefix}.bias")),
        );
        x.iter()
            .enumerate()
            .map(|(i, v)| (v - mean) / (var + 1e-5).sqrt() * w[i] + b[i])
            .collect()
    }

    /// x · W + b for a Conv1D weight `[in, out]`, restricted to output columns [from, to).
    fn affine(&self, x: &[f64], prefix: &str, from: usize, to: usize) -> Vec<f64> {
        let b = self.vector(&format!("{prefix}.bias"));
        (from..to)
            .map(|j| {
                b[j] + x
                    .iter()
                    .enumerate()
                    .map(|(i, v)| v * self.at(&format!("{prefix}.weight"), i, j))
                    .sum::<f64>()
            })
            .collect()
    }

    pub fn run(&self, tokens: &[u32], patch: &RefPatch) -> RefOutput {
        let (d, dh) = (self.d, self.d / self.heads);
        let seq = tokens.len();
        let embed: Matrix = tokens
            .iter()
            .enumerate()
            .map(|(t, id)| {
                (0..d)
                    .map(|i| self.at("wte.weight", *id as usize, i) + self.at("wpe.weight", t, i))
                    .collect()
            })
            .collect();
        let mut x = embed.clone();
        // Δ of senders for edge level.
        let mut deltas: HashMap<Option<(usize, usize)>, Matrix> = HashMap::new();
        if !patch.embed_replacement.is_empty() {
            deltas.insert(None, sub(&embed, &patch.embed_replacement));
        }
        let mut results_all = Vec::new();
        let mut patterns_all = Vec::new();
        let mut mlps_all = Vec::new();
        for l in 0..self.layers {
            let p = format!("h.{l}");
            let normed: Matrix = x
                .iter()
                .map(|row| self.layer_norm(row, &format!("{p}.ln_1")))
                .collect();
            let mut results = Vec::new();
            let mut patterns = Vec::new();
            let mut attn_out: Matrix =
                vec![self.vector(&format!("{p}.attn.c_proj.bias")).to_vec(); seq];
            for h in 0..self.heads {
                // Each channel's input: the shared one, or the receiver's own stream.
                let input = |channel: usize| -> Matrix {
                    match patch.unconnected.get(&(l, h, channel)) {
                        None => normed.clone(),
                        Some(missing) => {
                            let mut own = x.clone();
                            for sender in missing {
                                if let Some(delta) = deltas.get(sender) {
                                    own = sub(&own, delta);
                                }
                            }
                            own.iter()
                                .map(|row| self.layer_norm(row, &format!("{p}.ln_1")))
                                .collect()
                        }
                    }
                };
                let project = |m: &Matrix, part: usize| -> Matrix {
                    m.iter()
                        .map(|row| {
                            self.affine(
                                row,
                                &format!("{p}.attn.c_attn"),
                                part * d + h * dh,
                                part * d + (h + 1) * dh,
                            )
                        })
                        .collect()
                };
                let (q, k, v) = (
                    project(&input(0), 0),
                    project(&input(1), 1),
                    project(&input(2), 2),
                );
                let mut z = vec![vec![0.0; dh]; seq];
                let mut pattern = vec![vec![0.0; seq]; seq];
                for t in 0..seq {
                    let scores: Vec<f64> = (0..=t)
                        .map(|s| {
                            (0..dh).map(|i| q[t][i] * k[s][i]).sum::<f64>() / (dh as f64).sqrt()
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::MIN, f64::max);
                    let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let total: f64 = exp.iter().sum();
                    for s in 0..=t {
                        pattern[t][s] = exp[s] / total;
                        for i in 0..dh {
                            z[t][i] += exp[s] / total * v[s][i];
                        }
                    }
                }
                let result: Matrix = z
                    .iter()
                    .map(|zt| {
                        (0..d)
                            .map(|j| {
                                (0..dh)
                                    .map(|i| {
                                        zt[i]
                                            * self.at(
                                                &format!("{p}.attn.c_proj.weight"),
                                                h * dh + i,
                                                j,
                                            )
                                    })
                                    .sum()
                            })
                            .collect()
                    })
                    .collect();
                let mut used = result.clone();
                let mut delta = vec![vec![0.0; d]; seq];
                for t in 0..seq {
                    if let Some(replacement) = patch.heads.get(&(l, h, t)) {
                        used[t] = replacement.clone();
                    }
                }
                for t in 0..seq {
                    for j in 0..d {
                        attn_out[t][j] += used[t][j];
                    }
                }
                if !patch.embed_replacement.is_empty() {
                    // Δ = node-level output − replacement; zero where the head is replaced.
                    for t in 0..seq {
                        if !patch.heads.contains_key(&(l, h, t)) {
                            let replacement = patch_replacement(patch, l, h, t);
                            delta[t] = result[t]
                                .iter()
                                .zip(&replacement)
                                .map(|(a, b)| a - b)
                                .collect();
                        }
                    }
                    deltas.insert(Some((l, h)), delta);
                }
                results.push(result);
                patterns.push(pattern);
            }
            x = add(&x, &attn_out);
            let mlp: Matrix = x
                .iter()
                .map(|row| {
                    let h = self.affine(
                        &self.layer_norm(row, &format!("{p}.ln_2")),
                        &format!("{p}.mlp.c_fc"),
                        0,
                        4 * d,
                    );
                    let g: Vec<f64> = h
                        .iter()
                        .map(|v| {
                            0.5 * v
                                * (1.0
                                    + ((2.0 / std::f64::consts::PI).sqrt()
                                        * (v + 0.044715 * v.powi(3)))
                                    .tanh())
                        })
                        .collect();
                    self.affine(&g, &format!("{p}.mlp.c_proj"), 0, d)
                })
                .collect();
            let mut used = mlp.clone();
            for (t, row) in used.iter_mut().enumerate() {
                if let Some(replacement) = patch.mlps.get(&(l, t)) {
                    *row = replacement.clone();
                }
            }
            x = add(&x, &used);
            results_all.push(results);
            patterns_all.push(patterns);
            mlps_all.push(mlp);
        }
        for sender in &patch.logits_unconnected {
            if let Some(delta) = deltas.get(sender) {
                x = sub(&x, delta);
            }
        }
        let vocab = self.tensors["wte.weight"].0[0];
        let logits = x
            .iter()
            .map(|row| {
                let f = self.layer_norm(row, "ln_f");
                (0..vocab)
                    .map(|v| (0..d).map(|i| f[i] * self.at("wte.weight", v, i)).sum())
                    .collect()
            })
            .collect();
        RefOutput {
            logits,
            results: results_all,
            patterns: patterns_all,
            mlps: mlps_all,
        }
    }
}

/// The replacement an edge-level reference uses for a sender where it keeps its real output:
/// the test's fixed replacement vector.
fn patch_replacement(patch: &RefPatch, l: usize, h: usize, t: usize) -> Vec<f64> {
    replacement_value(l, h, t, patch.embed_replacement[0].len())
}

pub fn replacement_value(l: usize, h: usize, t: usize, d: usize) -> Vec<f64> {
    (0..d)
        .map(|j| ((l * 7 + h * 3 + t + j) % 5) as f64 * 0.1 - 0.2)
        .collect()
}

fn add(a: &Matrix, b: &Matrix) -> Matrix {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u + v).collect())
        .collect()
}

fn sub(a: &Matrix, b: &Matrix) -> Matrix {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u - v).collect())
        .collect()
}
