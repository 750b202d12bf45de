//! An independent slow GPT-2: plain f64 loops written from the GPT-2 definition, reading
//! the safetensors file with the `safetensors` crate and sharing no code with the model.

// The reference mirrors the formulas index by index, which is clearer than iterators here.
#![allow(clippy::needless_range_loop, clippy::type_complexity, dead_code)]

use std::collections::HashMap;
use std::path::Path;

pub type Matrix = Vec<Vec<f64>>;

/// A sender of the residual stream at edge level: `None` for the embeddings, else a head.
pub type Sender = Option<(usize, usize)>;

/// One block's weights as flat row-major f64 arrays (Conv1D layout: `[in, out]`).
struct Layer {
    ln_1: (Vec<f64>, Vec<f64>),
    c_attn: (Vec<f64>, Vec<f64>),
    c_proj: (Vec<f64>, Vec<f64>),
    ln_2: (Vec<f64>, Vec<f64>),
    c_fc: (Vec<f64>, Vec<f64>),
    mlp_proj: (Vec<f64>, Vec<f64>),
}

pub struct Reference {
    pub layers: usize,
    pub heads: usize,
    pub d: usize,
    pub vocab: usize,
    blocks: Vec<Layer>,
    wte: Vec<f64>,
    wpe: Vec<f64>,
    ln_f: (Vec<f64>, Vec<f64>),
}

/// What the reference is asked to change, in plain arrays.
#[derive(Default, Clone)]
pub struct RefPatch {
    /// (layer, head, position) → replacement result vector, where the head is knocked out.
    pub heads: HashMap<(usize, usize, usize), Vec<f64>>,
    /// (layer, position) → replacement MLP output.
    pub mlps: HashMap<(usize, usize), Vec<f64>>,
    /// Edge level: receiver (layer, head, channel) → senders it is *not* connected to.
    pub unconnected: HashMap<(usize, usize, usize), Vec<Sender>>,
    pub logits_unconnected: Vec<Sender>,
    /// Edge level: the embeddings' replacement per position (empty at node level).
    pub embed_replacement: Vec<Vec<f64>>,
    /// Edge level: each head's replacement at the positions where it keeps its real output,
    /// so that Δ = real − replacement there.
    pub sender_replacement: HashMap<(usize, usize, usize), Vec<f64>>,
}

pub struct RefOutput {
    /// `[seq][vocab]`, or only the positions asked for by [`Reference::run_at`] (others empty).
    pub logits: Matrix,
    pub embeddings: Matrix,         // [seq][d]
    pub results: Vec<Vec<Matrix>>,  // [layer][head][seq][d] (real, unpatched)
    pub mlps: Vec<Matrix>,          // [layer][seq][d] (real)
    pub patterns: Vec<Vec<Matrix>>, // [layer][head][query][key]
}

impl Reference {
    pub fn load(path: &Path, layers: usize, heads: usize, d: usize) -> Self {
        let bytes = std::fs::read(path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut tensors: HashMap<String, (Vec<usize>, Vec<f64>)> = HashMap::new();
        for name in file.names() {
            let view = file.tensor(name).unwrap();
            assert_eq!(view.dtype(), safetensors::Dtype::F32, "test models are f32");
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
                .collect();
            let name = name.strip_prefix("transformer.").unwrap_or(name);
            tensors.insert(name.to_string(), (view.shape().to_vec(), values));
        }
        let mut take = |name: String| tensors.remove(&name).unwrap().1;
        let mut pair = |prefix: String| {
            (
                take(format!("{prefix}.weight")),
                take(format!("{prefix}.bias")),
            )
        };
        let blocks = (0..layers)
            .map(|l| Layer {
                ln_1: pair(format!("h.{l}.ln_1")),
                c_attn: pair(format!("h.{l}.attn.c_attn")),
                c_proj: pair(format!("h.{l}.attn.c_proj")),
                ln_2: pair(format!("h.{l}.ln_2")),
                c_fc: pair(format!("h.{l}.mlp.c_fc")),
                mlp_proj: pair(format!("h.{l}.mlp.c_proj")),
            })
            .collect();
        let ln_f = pair("ln_f".to_string());
        let wte = take("wte.weight".to_string());
        let wpe = take("wpe.weight".to_string());
        Self {
            layers,
            heads,
            d,
            vocab: wte.len() / d,
            blocks,
            wte,
            wpe,
            ln_f,
        }
    }

    /// A pass with logits at every position.
    pub fn run(&self, tokens: &[u32], patch: &RefPatch) -> RefOutput {
        let all: Vec<usize> = (0..tokens.len()).collect();
        self.run_at(tokens, patch, &all)
    }

    /// A pass with logits only at `positions` (the rest of `logits` is left empty).
    pub fn run_at(&self, tokens: &[u32], patch: &RefPatch, positions: &[usize]) -> RefOutput {
        let (d, dh) = (self.d, self.d / self.heads);
        let seq = tokens.len();
        let embed: Matrix = tokens
            .iter()
            .enumerate()
            .map(|(t, id)| {
                (0..d)
                    .map(|i| self.wte[*id as usize * d + i] + self.wpe[t * d + i])
                    .collect()
            })
            .collect();
        let mut x = embed.clone();
        let edge_level = !patch.embed_replacement.is_empty();
        // Δ of every sender computed so far (edge level).
        let mut deltas: HashMap<Sender, Matrix> = HashMap::new();
        if edge_level {
            deltas.insert(None, sub(&embed, &patch.embed_replacement));
        }
        let mut results_all = Vec::new();
        let mut patterns_all = Vec::new();
        let mut mlps_all = Vec::new();
        for (l, block) in self.blocks.iter().enumerate() {
            let normed: Matrix = x.iter().map(|row| layer_norm(row, &block.ln_1)).collect();
            let mut results = Vec::new();
            let mut patterns = Vec::new();
            let mut attn_out: Matrix = vec![block.c_proj.1.clone(); seq];
            let mut new_deltas = Vec::new();
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
                            own.iter().map(|row| layer_norm(row, &block.ln_1)).collect()
                        }
                    }
                };
                let project = |m: &Matrix, part: usize| -> Matrix {
                    let from = part * d + h * dh;
                    m.iter()
                        .map(|row| affine(row, &block.c_attn, 3 * d, from, from + dh))
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
                // result = z · W_O[h]: rows h·dh .. (h+1)·dh of c_proj.
                let result: Matrix = z
                    .iter()
                    .map(|zt| {
                        (0..d)
                            .map(|j| {
                                (0..dh)
                                    .map(|i| zt[i] * block.c_proj.0[(h * dh + i) * d + j])
                                    .sum()
                            })
                            .collect()
                    })
                    .collect();
                let mut delta = vec![vec![0.0; d]; seq];
                for t in 0..seq {
                    let used = match patch.heads.get(&(l, h, t)) {
                        Some(replacement) => replacement,
                        None => {
                            if let Some(replacement) = patch.sender_replacement.get(&(l, h, t)) {
                                delta[t] = result[t]
                                    .iter()
                                    .zip(replacement)
                                    .map(|(a, b)| a - b)
                                    .collect();
                            }
                            &result[t]
                        }
                    };
                    for j in 0..d {
                        attn_out[t][j] += used[j];
                    }
                }
                if edge_level {
                    new_deltas.push((Some((l, h)), delta));
                }
                results.push(result);
                patterns.push(pattern);
            }
            // Senders of this layer are read only by later layers.
            deltas.extend(new_deltas);
            x = add(&x, &attn_out);
            let mlp: Matrix = x
                .iter()
                .map(|row| {
                    let hidden =
                        affine(&layer_norm(row, &block.ln_2), &block.c_fc, 4 * d, 0, 4 * d);
                    let g: Vec<f64> = hidden.iter().map(|v| gelu(*v)).collect();
                    affine(&g, &block.mlp_proj, d, 0, d)
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
        let mut logits = vec![Vec::new(); seq];
        for &t in positions {
            let f = layer_norm(&x[t], &self.ln_f);
            logits[t] = (0..self.vocab)
                .map(|v| (0..d).map(|i| f[i] * self.wte[v * d + i]).sum())
                .collect();
        }
        RefOutput {
            logits,
            embeddings: embed,
            results: results_all,
            patterns: patterns_all,
            mlps: mlps_all,
        }
    }
}

fn layer_norm(x: &[f64], (w, b): &(Vec<f64>, Vec<f64>)) -> Vec<f64> {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    x.iter()
        .enumerate()
        .map(|(i, v)| (v - mean) / (var + 1e-5).sqrt() * w[i] + b[i])
        .collect()
}

/// x · W + b for a Conv1D weight `[in, width]`, restricted to output columns [from, to).
fn affine(
    x: &[f64],
    (w, b): &(Vec<f64>, Vec<f64>),
    width: usize,
    from: usize,
    to: usize,
) -> Vec<f64> {
    (from..to)
        .map(|j| {
            b[j] + x
                .iter()
                .enumerate()
                .map(|(i, v)| v * w[i * width + j])
                .sum::<f64>()
        })
        .collect()
}

/// GELU, tanh approximation (GPT-2's `gelu_new`).
fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh())
}

/// A fixed, position-dependent replacement vector for tests of the model's patches.
pub fn replacement_value(l: usize, h: usize, t: usize, d: usize) -> Vec<f64> {
    (0..d)
        .map(|j| ((l * 7 + h * 3 + t + j) % 5) as f64 * 0.1 - 0.2)
        .collect()
}

pub fn add(a: &Matrix, b: &Matrix) -> Matrix {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u + v).collect())
        .collect()
}

pub fn sub(a: &Matrix, b: &Matrix) -> Matrix {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u - v).collect())
        .collect()
}
