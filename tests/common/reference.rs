//! An independent slow transformer: plain f64 loops written from the Hugging Face definitions
//! of GPT-2, GPT-NeoX (Pythia), Llama, Qwen2 and Gemma-2 and from GRAMMAR.md's "What a check
//! computes", reading `config.json` with serde_json and the safetensors file with the
//! `safetensors` crate, and sharing no code with the model.

// The reference mirrors the formulas index by index, which is clearer than iterators here.
#![allow(clippy::needless_range_loop, clippy::type_complexity, dead_code)]

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value;

pub type Matrix = Vec<Vec<f64>>;

/// A sender of the residual stream at edge level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sender {
    Embed,
    /// (layer, head).
    Head(usize, usize),
    /// A wired MLP, by layer.
    Mlp(usize),
}

/// The family of a reference model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    Gpt2,
    GptNeox,
    /// Llama and Qwen2 (Qwen2 is Llama with q, k, v biases, read where the file has them).
    Llama,
    /// Gemma-2: Llama's attention with norms after attention and MLP, GeGLU, soft-capping.
    Gemma2,
}

/// y = W x + b with W row-major `[out][in]` (`nn.Linear`'s layout).
struct Linear {
    w: Vec<f64>,
    inputs: usize,
    b: Option<Vec<f64>>,
}

impl Linear {
    fn outputs(&self) -> usize {
        self.w.len() / self.inputs
    }

    fn apply(&self, x: &[f64]) -> Vec<f64> {
        assert_eq!(x.len(), self.inputs, "input width");
        (0..self.outputs())
            .map(|j| {
                let row = &self.w[j * self.inputs..(j + 1) * self.inputs];
                let bias = self.b.as_ref().map_or(0.0, |b| b[j]);
                bias + row.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
            })
            .collect()
    }

    /// The rows `rows` of this map (a head's slice of a fused projection).
    fn rows(&self, rows: impl Iterator<Item = usize>) -> Linear {
        let mut w = Vec::new();
        let mut b = self.b.as_ref().map(|_| Vec::new());
        for r in rows {
            w.extend_from_slice(&self.w[r * self.inputs..(r + 1) * self.inputs]);
            if let (Some(b), Some(all)) = (b.as_mut(), self.b.as_ref()) {
                b.push(all[r]);
            }
        }
        Linear {
            w,
            inputs: self.inputs,
            b,
        }
    }
}

enum Norm {
    /// (x − mean) / √(var + ε) · w + b.
    Layer(Vec<f64>, Vec<f64>),
    /// x / √(mean(x²) + ε) · w.
    Rms(Vec<f64>),
}

enum Mlp {
    /// proj(GELU(fc x)): exact (erf) GELU for GPT-NeoX, tanh approximation for GPT-2.
    Gelu {
        fc: Linear,
        proj: Linear,
        exact: bool,
    },
    /// down(SiLU(gate x) ⊙ up x).
    SwiGlu {
        gate: Linear,
        up: Linear,
        down: Linear,
    },
    /// down(GELU_tanh(gate x) ⊙ up x) (Gemma-2).
    GeGlu {
        gate: Linear,
        up: Linear,
        down: Linear,
    },
}

/// One block: per-query-head q maps, per-key/value-head k and v maps (each `[d_head, d]`),
/// W_O as `[d][heads·d_head]` with its bias, and the MLP.
struct Layer {
    /// The norm before attention.
    norm_1: Norm,
    /// The norm before the MLP (Gemma-2's `pre_feedforward_layernorm`).
    norm_2: Norm,
    q: Vec<Linear>,
    k: Vec<Linear>,
    v: Vec<Linear>,
    o: Linear,
    mlp: Mlp,
    /// Gemma-2's norm of the attention output (its `post_attention_layernorm`).
    post_attn: Option<Norm>,
    /// Gemma-2's norm of the MLP's output (`post_feedforward_layernorm`).
    post_mlp: Option<Norm>,
    /// A query at t attends to keys s with t − s < window (Gemma-2's sliding layers).
    window: Option<usize>,
}

pub struct Reference {
    pub arch: Arch,
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    pub kv_heads: usize,
    pub d: usize,
    pub head_dim: usize,
    /// Rows of the unembedding (the config's `vocab_size`, padding included).
    pub vocab: usize,
    eps: f64,
    parallel_residual: bool,
    /// Attention scores are q·k / score_divisor: √d_head, Gemma-2's √query_pre_attn_scalar.
    score_divisor: f64,
    /// Gemma-2's c of scores c·tanh(s/c), before the causal mask.
    attn_softcap: Option<f64>,
    /// Gemma-2's c of logits c·tanh(ℓ/c).
    final_softcap: Option<f64>,
    /// The token embedding's factor: Gemma-2's √d, else 1.
    embed_scale: f64,
    /// Rotary frequencies of the first `2 · inv_freq.len()` dimensions of each head.
    inv_freq: Vec<f64>,
    blocks: Vec<Layer>,
    /// `[vocab][d]`.
    embed: Vec<f64>,
    /// GPT-2's position embedding `[context][d]`.
    positions: Option<Vec<f64>>,
    norm_f: Norm,
    /// `[vocab][d]`.
    unembed: Vec<f64>,
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
    /// Edge level: each wired MLP (by layer) → the senders it is *not* connected to; it reads
    /// its own stream, less their Δ.
    pub mlp_unconnected: HashMap<usize, Vec<Sender>>,
    /// Edge level: each wired MLP's replacement `[seq][d]`, so that Δ = (its output, or its
    /// node-level replacement where `mlps` replaces it) − this.
    pub mlp_replacement: HashMap<usize, Matrix>,
    /// What the first block reads instead of the prompt's embeddings (EAP-IG's path), `[seq][d]`.
    pub embeddings: Option<Matrix>,
}

pub struct RefOutput {
    /// `[seq][vocab]`, or only the positions asked for by [`Reference::run_at`] (others empty).
    pub logits: Matrix,
    pub embeddings: Matrix,         // [seq][d]
    pub results: Vec<Vec<Matrix>>,  // [layer][head][seq][d] (real, unpatched)
    pub mlps: Vec<Matrix>,          // [layer][seq][d] (real)
    pub patterns: Vec<Vec<Matrix>>, // [layer][head][query][key]
}

/// Every tensor of a safetensors file as (shape, f64 values).
struct Tensors(HashMap<String, (Vec<usize>, Vec<f64>)>);

impl Tensors {
    fn read(path: &Path) -> Tensors {
        let bytes = std::fs::read(path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut tensors = HashMap::new();
        for name in file.names() {
            let view = file.tensor(name).unwrap();
            // Test models' weights are f32; other dtypes are buffers (a bool causal mask).
            if view.dtype() != safetensors::Dtype::F32 {
                continue;
            }
            let values = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64)
                .collect();
            tensors.insert(name.to_string(), (view.shape().to_vec(), values));
        }
        Tensors(tensors)
    }

    fn take(&mut self, name: &str) -> Vec<f64> {
        self.0
            .remove(name)
            .unwrap_or_else(|| panic!("no tensor {name}"))
            .1
    }

    /// An `nn.Linear` (`[out, in]`), with its bias if the file has one.
    fn linear(&mut self, prefix: &str) -> Linear {
        let (shape, w) = self
            .0
            .remove(&format!("{prefix}.weight"))
            .unwrap_or_else(|| panic!("no tensor {prefix}.weight"));
        let b = self.0.remove(&format!("{prefix}.bias")).map(|(_, b)| b);
        Linear {
            w,
            inputs: shape[1],
            b,
        }
    }

    /// A GPT-2 `Conv1D` (`[in, out]`), transposed to a [`Linear`].
    fn conv1d(&mut self, prefix: &str) -> Linear {
        let (shape, w) = self.0.remove(&format!("{prefix}.weight")).unwrap();
        let (inputs, outputs) = (shape[0], shape[1]);
        let mut t = vec![0.0; w.len()];
        for i in 0..inputs {
            for j in 0..outputs {
                t[j * inputs + i] = w[i * outputs + j];
            }
        }
        Linear {
            w: t,
            inputs,
            b: Some(self.take(&format!("{prefix}.bias"))),
        }
    }

    fn layer_norm(&mut self, prefix: &str) -> Norm {
        Norm::Layer(
            self.take(&format!("{prefix}.weight")),
            self.take(&format!("{prefix}.bias")),
        )
    }
}

fn number(config: &Value, key: &str) -> Option<f64> {
    config.get(key).and_then(Value::as_f64)
}

fn count(config: &Value, key: &str) -> usize {
    config
        .get(key)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("config.json has no {key}")) as usize
}

/// Rotary inverse frequencies θ^(−2i/dims) for i < dims/2, with Llama-3's `rope_scaling`
/// (HF `_compute_llama3_parameters`) when given.
pub fn inv_freq(dims: usize, theta: f64, scaling: Option<&Value>) -> Vec<f64> {
    let plain: Vec<f64> = (0..dims / 2)
        .map(|i| 1.0 / theta.powf((2 * i) as f64 / dims as f64))
        .collect();
    let Some(scaling) = scaling.filter(|s| !s.is_null()) else {
        return plain;
    };
    let kind = scaling
        .get("rope_type")
        .or_else(|| scaling.get("type"))
        .and_then(Value::as_str);
    if kind == Some("default") {
        return plain;
    }
    assert_eq!(
        kind,
        Some("llama3"),
        "the reference knows llama3 rope scaling"
    );
    let factor = number(scaling, "factor").unwrap();
    let low = number(scaling, "low_freq_factor").unwrap();
    let high = number(scaling, "high_freq_factor").unwrap();
    let old = number(scaling, "original_max_position_embeddings").unwrap();
    let (low_wavelen, high_wavelen) = (old / low, old / high);
    plain
        .iter()
        .map(|&f| {
            let wavelen = 2.0 * std::f64::consts::PI / f;
            if wavelen < high_wavelen {
                f
            } else if wavelen > low_wavelen {
                f / factor
            } else {
                let smooth = (old / wavelen - low) / (high - low);
                (1.0 - smooth) * f / factor + smooth * f
            }
        })
        .collect()
}

impl Reference {
    /// A GPT-2 safetensors file (names with or without `transformer.`), LayerNorm ε 1e-5.
    pub fn load(path: &Path, layers: usize, heads: usize, d: usize) -> Self {
        let mut t = Tensors::read(path);
        t.0 =
            t.0.into_iter()
                .map(|(name, v)| {
                    let name = name
                        .strip_prefix("transformer.")
                        .unwrap_or(&name)
                        .to_string();
                    (name, v)
                })
                .collect();
        let dh = d / heads;
        let blocks = (0..layers)
            .map(|l| {
                let qkv = t.conv1d(&format!("h.{l}.attn.c_attn"));
                let part = |p: usize, h: usize| qkv.rows(p * d + h * dh..p * d + (h + 1) * dh);
                Layer {
                    norm_1: t.layer_norm(&format!("h.{l}.ln_1")),
                    q: (0..heads).map(|h| part(0, h)).collect(),
                    k: (0..heads).map(|h| part(1, h)).collect(),
                    v: (0..heads).map(|h| part(2, h)).collect(),
                    o: t.conv1d(&format!("h.{l}.attn.c_proj")),
                    norm_2: t.layer_norm(&format!("h.{l}.ln_2")),
                    mlp: Mlp::Gelu {
                        fc: t.conv1d(&format!("h.{l}.mlp.c_fc")),
                        proj: t.conv1d(&format!("h.{l}.mlp.c_proj")),
                        exact: false,
                    },
                    post_attn: None,
                    post_mlp: None,
                    window: None,
                }
            })
            .collect();
        let embed = t.take("wte.weight");
        Self {
            arch: Arch::Gpt2,
            layers,
            heads,
            kv_heads: heads,
            d,
            head_dim: dh,
            vocab: embed.len() / d,
            eps: 1e-5,
            parallel_residual: false,
            score_divisor: (dh as f64).sqrt(),
            attn_softcap: None,
            final_softcap: None,
            embed_scale: 1.0,
            inv_freq: Vec::new(),
            blocks,
            unembed: embed.clone(),
            embed,
            positions: Some(t.take("wpe.weight")),
            norm_f: t.layer_norm("ln_f"),
        }
    }

    /// The model in a Hugging Face directory (`config.json` + `model.safetensors`), of the
    /// family its `model_type` names (GPT-2 when it has none).
    pub fn load_dir(dir: &Path) -> Self {
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap())
                .unwrap();
        let weights = dir.join("model.safetensors");
        match config.get("model_type").and_then(Value::as_str) {
            None | Some("gpt2") => {
                let mut reference = Self::load(
                    &weights,
                    count(&config, "n_layer"),
                    count(&config, "n_head"),
                    count(&config, "n_embd"),
                );
                reference.eps = number(&config, "layer_norm_epsilon").unwrap_or(1e-5);
                reference
            }
            Some("gpt_neox") => Self::load_neox(&config, Tensors::read(&weights)),
            Some("llama") | Some("qwen2") => Self::load_llama(&config, Tensors::read(&weights)),
            Some("gemma2") => Self::load_gemma2(&config, Tensors::read(&weights)),
            Some(other) => panic!("the reference has no {other}"),
        }
    }

    fn load_neox(config: &Value, mut t: Tensors) -> Self {
        let (layers, heads, d) = (
            count(config, "num_hidden_layers"),
            count(config, "num_attention_heads"),
            count(config, "hidden_size"),
        );
        let act = config.get("hidden_act").and_then(Value::as_str);
        assert_eq!(act, Some("gelu"), "Pythia's GELU is the exact one");
        let dh = d / heads;
        let rope = config.get("rope_parameters");
        let pct = number(config, "rotary_pct")
            .or_else(|| number(config, "partial_rotary_factor"))
            .or_else(|| rope.and_then(|r| number(r, "partial_rotary_factor")))
            .unwrap_or(0.25);
        let theta = number(config, "rotary_emb_base")
            .or_else(|| number(config, "rope_theta"))
            .or_else(|| rope.and_then(|r| number(r, "rope_theta")))
            .unwrap_or(10000.0);
        let rotary_dims = (dh as f64 * pct) as usize;
        let blocks = (0..layers)
            .map(|l| {
                let p = format!("gpt_neox.layers.{l}");
                // Output rows of query_key_value are [head][q, k, v][d_head].
                let qkv = t.linear(&format!("{p}.attention.query_key_value"));
                let part = |p: usize, h: usize| {
                    let from = h * 3 * dh + p * dh;
                    qkv.rows(from..from + dh)
                };
                Layer {
                    norm_1: t.layer_norm(&format!("{p}.input_layernorm")),
                    norm_2: t.layer_norm(&format!("{p}.post_attention_layernorm")),
                    q: (0..heads).map(|h| part(0, h)).collect(),
                    k: (0..heads).map(|h| part(1, h)).collect(),
                    v: (0..heads).map(|h| part(2, h)).collect(),
                    o: t.linear(&format!("{p}.attention.dense")),
                    mlp: Mlp::Gelu {
                        fc: t.linear(&format!("{p}.mlp.dense_h_to_4h")),
                        proj: t.linear(&format!("{p}.mlp.dense_4h_to_h")),
                        exact: true,
                    },
                    post_attn: None,
                    post_mlp: None,
                    window: None,
                }
            })
            .collect();
        let embed = t.take("gpt_neox.embed_in.weight");
        let tied = config
            .get("tie_word_embeddings")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let unembed = if tied {
            embed.clone()
        } else {
            t.take("embed_out.weight")
        };
        Self {
            arch: Arch::GptNeox,
            layers,
            heads,
            kv_heads: heads,
            d,
            head_dim: dh,
            vocab: unembed.len() / d,
            eps: number(config, "layer_norm_eps").unwrap_or(1e-5),
            parallel_residual: config
                .get("use_parallel_residual")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            score_divisor: (dh as f64).sqrt(),
            attn_softcap: None,
            final_softcap: None,
            embed_scale: 1.0,
            inv_freq: inv_freq(rotary_dims, theta, None),
            blocks,
            embed,
            positions: None,
            norm_f: t.layer_norm("gpt_neox.final_layer_norm"),
            unembed,
        }
    }

    fn load_llama(config: &Value, mut t: Tensors) -> Self {
        let (layers, heads, d) = (
            count(config, "num_hidden_layers"),
            count(config, "num_attention_heads"),
            count(config, "hidden_size"),
        );
        let act = config.get("hidden_act").and_then(Value::as_str);
        assert_eq!(act, Some("silu"), "Llama's and Qwen2's MLPs are SwiGLU");
        let kv_heads = config
            .get("num_key_value_heads")
            .and_then(Value::as_u64)
            .map_or(heads, |n| n as usize);
        let dh = config
            .get("head_dim")
            .and_then(Value::as_u64)
            .map_or(d / heads, |n| n as usize);
        let rope = config.get("rope_parameters");
        let theta = number(config, "rope_theta")
            .or_else(|| rope.and_then(|r| number(r, "rope_theta")))
            .unwrap_or(10000.0);
        let scaling = config.get("rope_scaling").or(rope);
        let rms = |t: &mut Tensors, name: String| Norm::Rms(t.take(&name));
        let heads_of = |m: Linear, n: usize| -> Vec<Linear> {
            (0..n).map(|h| m.rows(h * dh..(h + 1) * dh)).collect()
        };
        let blocks = (0..layers)
            .map(|l| {
                let p = format!("model.layers.{l}");
                Layer {
                    norm_1: rms(&mut t, format!("{p}.input_layernorm.weight")),
                    norm_2: rms(&mut t, format!("{p}.post_attention_layernorm.weight")),
                    q: heads_of(t.linear(&format!("{p}.self_attn.q_proj")), heads),
                    k: heads_of(t.linear(&format!("{p}.self_attn.k_proj")), kv_heads),
                    v: heads_of(t.linear(&format!("{p}.self_attn.v_proj")), kv_heads),
                    o: t.linear(&format!("{p}.self_attn.o_proj")),
                    mlp: Mlp::SwiGlu {
                        gate: t.linear(&format!("{p}.mlp.gate_proj")),
                        up: t.linear(&format!("{p}.mlp.up_proj")),
                        down: t.linear(&format!("{p}.mlp.down_proj")),
                    },
                    post_attn: None,
                    post_mlp: None,
                    window: None,
                }
            })
            .collect();
        let embed = t.take("model.embed_tokens.weight");
        let tied = config
            .get("tie_word_embeddings")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let unembed = if tied {
            embed.clone()
        } else {
            t.take("lm_head.weight")
        };
        Self {
            arch: Arch::Llama,
            layers,
            heads,
            kv_heads,
            d,
            head_dim: dh,
            vocab: unembed.len() / d,
            eps: number(config, "rms_norm_eps").unwrap_or(1e-6),
            parallel_residual: false,
            score_divisor: (dh as f64).sqrt(),
            attn_softcap: None,
            final_softcap: None,
            embed_scale: 1.0,
            inv_freq: inv_freq(dh, theta, scaling),
            blocks,
            embed,
            positions: None,
            norm_f: rms(&mut t, "model.norm.weight".into()),
            unembed,
        }
    }

    /// Gemma-2 (HF `Gemma2ForCausalLM`, with `Gemma2Config`'s defaults for absent keys).
    fn load_gemma2(config: &Value, mut t: Tensors) -> Self {
        let (layers, heads, d) = (
            count(config, "num_hidden_layers"),
            count(config, "num_attention_heads"),
            count(config, "hidden_size"),
        );
        let act = config
            .get("hidden_activation")
            .or_else(|| config.get("hidden_act"))
            .and_then(Value::as_str);
        assert_eq!(act, Some("gelu_pytorch_tanh"), "Gemma-2's GELU is tanh's");
        let kv_heads = config
            .get("num_key_value_heads")
            .and_then(Value::as_u64)
            .map_or(heads, |n| n as usize);
        // Gemma2Config's head_dim defaults to 256, not hidden_size / heads.
        let dh = config
            .get("head_dim")
            .and_then(Value::as_u64)
            .map_or(256, |n| n as usize);
        let rope = config.get("rope_parameters");
        let theta = number(config, "rope_theta")
            .or_else(|| rope.and_then(|r| number(r, "rope_theta")))
            .unwrap_or(10000.0);
        // An absent key takes the default; null turns the cap off.
        let cap = |key: &str, default: f64| match config.get(key) {
            None => Some(default),
            Some(value) => value.as_f64(),
        };
        let window = number(config, "sliding_window").map(|w| w as usize);
        let sliding = |l: usize| match config.get("layer_types").and_then(Value::as_array) {
            Some(types) => types[l].as_str() == Some("sliding_attention"),
            None => l.is_multiple_of(2),
        };
        // Gemma2RMSNorm scales by (1 + w).
        let rms = |t: &mut Tensors, name: String| {
            Norm::Rms(t.take(&name).into_iter().map(|w| 1.0 + w).collect())
        };
        let heads_of = |m: Linear, n: usize| -> Vec<Linear> {
            (0..n).map(|h| m.rows(h * dh..(h + 1) * dh)).collect()
        };
        let blocks = (0..layers)
            .map(|l| {
                let p = format!("model.layers.{l}");
                Layer {
                    norm_1: rms(&mut t, format!("{p}.input_layernorm.weight")),
                    norm_2: rms(&mut t, format!("{p}.pre_feedforward_layernorm.weight")),
                    q: heads_of(t.linear(&format!("{p}.self_attn.q_proj")), heads),
                    k: heads_of(t.linear(&format!("{p}.self_attn.k_proj")), kv_heads),
                    v: heads_of(t.linear(&format!("{p}.self_attn.v_proj")), kv_heads),
                    o: t.linear(&format!("{p}.self_attn.o_proj")),
                    mlp: Mlp::GeGlu {
                        gate: t.linear(&format!("{p}.mlp.gate_proj")),
                        up: t.linear(&format!("{p}.mlp.up_proj")),
                        down: t.linear(&format!("{p}.mlp.down_proj")),
                    },
                    post_attn: Some(rms(&mut t, format!("{p}.post_attention_layernorm.weight"))),
                    post_mlp: Some(rms(
                        &mut t,
                        format!("{p}.post_feedforward_layernorm.weight"),
                    )),
                    window: window.filter(|_| sliding(l)),
                }
            })
            .collect();
        let embed = t.take("model.embed_tokens.weight");
        let tied = config
            .get("tie_word_embeddings")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        let unembed = if tied {
            embed.clone()
        } else {
            t.take("lm_head.weight")
        };
        Self {
            arch: Arch::Gemma2,
            layers,
            heads,
            kv_heads,
            d,
            head_dim: dh,
            vocab: unembed.len() / d,
            eps: number(config, "rms_norm_eps").unwrap_or(1e-6),
            parallel_residual: false,
            score_divisor: number(config, "query_pre_attn_scalar")
                .unwrap_or(256.0)
                .sqrt(),
            attn_softcap: cap("attn_logit_softcapping", 50.0),
            final_softcap: cap("final_logit_softcapping", 30.0),
            embed_scale: (d as f64).sqrt(),
            inv_freq: inv_freq(dh, theta, None),
            blocks,
            embed,
            positions: None,
            norm_f: rms(&mut t, "model.norm.weight".into()),
            unembed,
        }
    }

    /// The key/value head query head `h` reads.
    pub fn kv_head(&self, h: usize) -> usize {
        h / (self.heads / self.kv_heads)
    }

    /// A pass with logits at every position.
    pub fn run(&self, tokens: &[u32], patch: &RefPatch) -> RefOutput {
        let all: Vec<usize> = (0..tokens.len()).collect();
        self.run_at(tokens, patch, &all)
    }

    /// A pass with logits only at `positions` (the rest of `logits` is left empty).
    pub fn run_at(&self, tokens: &[u32], patch: &RefPatch, positions: &[usize]) -> RefOutput {
        let (d, seq) = (self.d, tokens.len());
        let embed = match &patch.embeddings {
            Some(given) => given.clone(),
            None => self.embeddings(tokens),
        };
        let mut x = embed.clone();
        let edge_level = !patch.embed_replacement.is_empty();
        if self.arch == Arch::Gemma2 {
            let edge_fields = edge_level
                || !patch.unconnected.is_empty()
                || !patch.logits_unconnected.is_empty()
                || !patch.sender_replacement.is_empty()
                || !patch.mlp_unconnected.is_empty()
                || !patch.mlp_replacement.is_empty();
            assert!(!edge_fields, "edge level is not defined for Gemma-2");
        }
        // Δ of every sender computed so far (edge level).
        let mut deltas: HashMap<Sender, Matrix> = HashMap::new();
        if edge_level {
            deltas.insert(Sender::Embed, sub(&embed, &patch.embed_replacement));
        }
        // The stream less the Δ of every sender in `missing` that it holds.
        let less = |x: &Matrix, missing: &[Sender], deltas: &HashMap<Sender, Matrix>| {
            missing
                .iter()
                .filter_map(|sender| deltas.get(sender))
                .fold(x.clone(), |own, delta| sub(&own, delta))
        };
        let (mut results_all, mut patterns_all, mut mlps_all) =
            (Vec::new(), Vec::new(), Vec::new());
        for (l, block) in self.blocks.iter().enumerate() {
            let normed: Matrix = x.iter().map(|row| self.norm(row, &block.norm_1)).collect();
            let mut attn_out: Matrix = vec![block.o.b.clone().unwrap_or(vec![0.0; d]); seq];
            let (mut results, mut patterns, mut new_deltas) = (Vec::new(), Vec::new(), Vec::new());
            for h in 0..self.heads {
                // Each channel's input: the shared one, or the receiver's own stream.
                let input = |channel: usize| -> Matrix {
                    match patch.unconnected.get(&(l, h, channel)) {
                        None => normed.clone(),
                        Some(missing) => less(&x, missing, &deltas)
                            .iter()
                            .map(|row| self.norm(row, &block.norm_1))
                            .collect(),
                    }
                };
                let (result, pattern) = self.head(block, h, &input(0), &input(1), &input(2));
                let delta = add_head(patch, (l, h), &result, &mut attn_out);
                if edge_level {
                    new_deltas.push((Sender::Head(l, h), delta));
                }
                results.push(result);
                patterns.push(pattern);
            }
            // Gemma-2 normalises the sum of the heads' results and replacements.
            if let Some(post) = &block.post_attn {
                attn_out = attn_out.iter().map(|row| self.norm(row, post)).collect();
            }
            // The MLP reads the block's input with a parallel residual, else x + attention;
            // so this layer's heads send to it only without a parallel residual, and to the
            // heads of later layers always.
            let mlp_input = if self.parallel_residual {
                x.clone()
            } else {
                deltas.extend(new_deltas.drain(..));
                add(&x, &attn_out)
            };
            // A wired MLP reads that stream less the Δ of the senders not wired to it.
            let mlp_input = match patch.mlp_unconnected.get(&l) {
                Some(missing) => less(&mlp_input, missing, &deltas),
                None => mlp_input,
            };
            deltas.extend(new_deltas);
            // An MLP's output is its value after Gemma-2's post-norm.
            let mlp: Matrix = mlp_input
                .iter()
                .map(|row| {
                    let out = mlp(&block.mlp, &self.norm(row, &block.norm_2));
                    match &block.post_mlp {
                        Some(post) => self.norm(&out, post),
                        None => out,
                    }
                })
                .collect();
            let used: Matrix = (0..seq)
                .map(|t| patch.mlps.get(&(l, t)).unwrap_or(&mlp[t]).clone())
                .collect();
            if let Some(replacement) = patch.mlp_replacement.get(&l) {
                deltas.insert(Sender::Mlp(l), sub(&used, replacement));
            }
            x = add(&add(&x, &attn_out), &used);
            results_all.push(results);
            patterns_all.push(patterns);
            mlps_all.push(mlp);
        }
        let x = less(&x, &patch.logits_unconnected, &deltas);
        RefOutput {
            logits: self.logits(&x, positions),
            embeddings: embed,
            results: results_all,
            patterns: patterns_all,
            mlps: mlps_all,
        }
    }

    /// What the first block reads: the token embedding (times Gemma-2's √d) (+ GPT-2's
    /// position embedding).
    fn embeddings(&self, tokens: &[u32]) -> Matrix {
        let d = self.d;
        tokens
            .iter()
            .enumerate()
            .map(|(t, id)| {
                (0..d)
                    .map(|i| {
                        let position = self.positions.as_ref().map_or(0.0, |p| p[t * d + i]);
                        self.embed[*id as usize * d + i] * self.embed_scale + position
                    })
                    .collect()
            })
            .collect()
    }

    /// norm_f(x) · W_Uᵀ at `positions` (the other rows empty), soft-capped for Gemma-2.
    fn logits(&self, x: &Matrix, positions: &[usize]) -> Matrix {
        let d = self.d;
        let mut logits = vec![Vec::new(); x.len()];
        for &t in positions {
            let f = self.norm(&x[t], &self.norm_f);
            logits[t] = (0..self.vocab)
                .map(|v| {
                    let logit = (0..d).map(|i| f[i] * self.unembed[v * d + i]).sum::<f64>();
                    self.final_softcap.map_or(logit, |c| c * (logit / c).tanh())
                })
                .collect();
        }
        logits
    }

    /// Query head `h` of `block` on its q, k and v inputs (normed, `[seq][d]`): its result
    /// z·W_O[h] (`[seq][d]`, no bias) and its attention pattern. Its k and v come from its
    /// own inputs through its key/value head's weights.
    fn head(
        &self,
        block: &Layer,
        h: usize,
        qi: &Matrix,
        ki: &Matrix,
        vi: &Matrix,
    ) -> (Matrix, Matrix) {
        let (d, dh, g) = (self.d, self.head_dim, self.kv_head(h));
        let seq = qi.len();
        let q: Matrix = (0..seq)
            .map(|t| self.rotate(block.q[h].apply(&qi[t]), t))
            .collect();
        let k: Matrix = (0..seq)
            .map(|t| self.rotate(block.k[g].apply(&ki[t]), t))
            .collect();
        let v: Matrix = vi.iter().map(|row| block.v[g].apply(row)).collect();
        let mut z = vec![vec![0.0; dh]; seq];
        let mut pattern = vec![vec![0.0; seq]; seq];
        for t in 0..seq {
            // Keys first..=t: all before t, or the last `window` on a sliding layer.
            let first = block.window.map_or(0, |w| (t + 1).saturating_sub(w));
            let scores: Vec<f64> = (first..=t)
                .map(|s| {
                    let score =
                        (0..dh).map(|i| q[t][i] * k[s][i]).sum::<f64>() / self.score_divisor;
                    self.attn_softcap.map_or(score, |c| c * (score / c).tanh())
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::MIN, f64::max);
            let exp: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f64 = exp.iter().sum();
            for (e, s) in exp.iter().zip(first..=t) {
                pattern[t][s] = e / total;
                for i in 0..dh {
                    z[t][i] += e / total * v[s][i];
                }
            }
        }
        // result = z · W_O[h]: columns h·dh .. (h+1)·dh of W_O.
        let width = block.o.inputs;
        let result = z
            .iter()
            .map(|zt| {
                (0..d)
                    .map(|j| {
                        (0..dh)
                            .map(|i| zt[i] * block.o.w[j * width + h * dh + i])
                            .sum()
                    })
                    .collect()
            })
            .collect();
        (result, pattern)
    }

    /// Rotary position embedding at position `t` of the first `2·inv_freq.len()` dimensions,
    /// the first half of those rotated against the second half (HF `rotate_half`).
    fn rotate(&self, mut x: Vec<f64>, t: usize) -> Vec<f64> {
        let half = self.inv_freq.len();
        for i in 0..half {
            let (sin, cos) = (t as f64 * self.inv_freq[i]).sin_cos();
            let (a, b) = (x[i], x[i + half]);
            x[i] = a * cos - b * sin;
            x[i + half] = b * cos + a * sin;
        }
        x
    }

    fn norm(&self, x: &[f64], norm: &Norm) -> Vec<f64> {
        let n = x.len() as f64;
        match norm {
            Norm::Layer(w, b) => {
                let mean = x.iter().sum::<f64>() / n;
                let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
                x.iter()
                    .enumerate()
                    .map(|(i, v)| (v - mean) / (var + self.eps).sqrt() * w[i] + b[i])
                    .collect()
            }
            Norm::Rms(w) => {
                let ms = x.iter().map(|v| v * v).sum::<f64>() / n;
                x.iter()
                    .enumerate()
                    .map(|(i, v)| v / (ms + self.eps).sqrt() * w[i])
                    .collect()
            }
        }
    }
}

/// Adds head `(l, h)`'s result, or its replacement where `patch` knocks it out, to
/// `attn_out`; returns its Δ = real − replacement where it keeps its real output at edge level.
fn add_head(
    patch: &RefPatch,
    (l, h): (usize, usize),
    result: &Matrix,
    attn_out: &mut Matrix,
) -> Matrix {
    let mut delta = vec![vec![0.0; result[0].len()]; result.len()];
    for t in 0..result.len() {
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
        for (out, v) in attn_out[t].iter_mut().zip(used) {
            *out += v;
        }
    }
    delta
}

fn mlp(mlp: &Mlp, x: &[f64]) -> Vec<f64> {
    match mlp {
        Mlp::Gelu { fc, proj, exact } => {
            let hidden: Vec<f64> = fc
                .apply(x)
                .into_iter()
                .map(|v| if *exact { gelu_exact(v) } else { gelu(v) })
                .collect();
            proj.apply(&hidden)
        }
        Mlp::SwiGlu { gate, up, down } => {
            let hidden: Vec<f64> = gate
                .apply(x)
                .into_iter()
                .zip(up.apply(x))
                .map(|(g, u)| g / (1.0 + (-g).exp()) * u)
                .collect();
            down.apply(&hidden)
        }
        Mlp::GeGlu { gate, up, down } => {
            let hidden: Vec<f64> = gate
                .apply(x)
                .into_iter()
                .zip(up.apply(x))
                .map(|(g, u)| gelu(g) * u)
                .collect();
            down.apply(&hidden)
        }
    }
}

/// GELU, tanh approximation (GPT-2's `gelu_new`).
fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v.powi(3))).tanh())
}

/// GELU, exact: v·Φ(v) = v/2 · (1 + erf(v/√2)) (PyTorch's `gelu`).
fn gelu_exact(v: f64) -> f64 {
    0.5 * v * (1.0 + erf(v / std::f64::consts::SQRT_2))
}

/// erf(x) = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)): every term positive, so no
/// cancellation; beyond |x| = 6, erf is ±1 to double precision.
pub fn erf(x: f64) -> f64 {
    if x.abs() > 6.0 {
        return x.signum();
    }
    let (mut term, mut sum, mut n) = (x, x, 0.0);
    while term.abs() > 1e-17 * sum.abs() {
        n += 1.0;
        term *= 2.0 * x * x / (2.0 * n + 1.0);
        sum += term;
    }
    2.0 / std::f64::consts::PI.sqrt() * (-x * x).exp() * sum
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

/// Checks of the reference itself, and its cross-check against Hugging Face transformers.
mod checks {
    use std::path::Path;

    use circuitcheck::testing::{TinyGpt2, TinyModel, tokenizer_size};
    use serde_json::Value;

    use super::{RefPatch, Reference, Sender, erf, inv_freq, replacement_value};

    fn max_difference(a: &[Vec<f64>], b: &[Vec<f64>]) -> f64 {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f64::max)
    }

    /// Query head h of layer l receives from nothing but the embeddings on its `k`, and
    /// head 1 of layer 0 is replaced at position 2: node- and edge-level patches at once.
    fn patch(reference: &Reference, tokens: &[u32]) -> RefPatch {
        let base = reference.run(tokens, &RefPatch::default());
        let d = reference.d;
        let mut patch = RefPatch {
            embed_replacement: vec![vec![0.1; d]; tokens.len()],
            logits_unconnected: vec![Sender::Head(0, 2)],
            ..RefPatch::default()
        };
        patch.heads.insert((0, 1, 2), replacement_value(0, 1, 2, d));
        for t in 0..tokens.len() {
            for h in 0..reference.heads {
                let real = &base.results[0][h][t];
                patch
                    .sender_replacement
                    .insert((0, h, t), real.iter().map(|v| v * 0.5).collect());
            }
        }
        patch
            .unconnected
            .insert((1, 1, 1), vec![Sender::Head(0, 0), Sender::Head(0, 3)]);
        patch
            .unconnected
            .insert((1, 2, 2), vec![Sender::Embed, Sender::Head(0, 2)]);
        patch
    }

    #[test]
    fn grouped_query_attention_equals_attention_with_each_kv_head_repeated() {
        let dir = tempfile::tempdir().unwrap();
        let (gqa_dir, mha_dir) = (dir.path().join("gqa"), dir.path().join("mha"));
        let tiny = TinyModel::qwen2();
        tiny.write(&gqa_dir).unwrap();
        TinyModel {
            kv_heads: tiny.heads,
            ..tiny.clone()
        }
        .write(&mha_dir)
        .unwrap();
        // The MHA model's key/value head h is the GQA model's key/value head h / group.
        let bytes = std::fs::read(gqa_dir.join("model.safetensors")).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let group = tiny.heads / tiny.kv_heads;
        let mut tensors: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for name in file.names() {
            let view = file.tensor(name).unwrap();
            let (mut shape, data) = (view.shape().to_vec(), view.data().to_vec());
            let data = if name.contains("k_proj") || name.contains("v_proj") {
                let row = data.len() / shape[0] * tiny.head_dim;
                shape[0] *= group;
                (0..tiny.heads)
                    .flat_map(|h| data[h / group * row..(h / group + 1) * row].to_vec())
                    .collect()
            } else {
                data
            };
            tensors.push((name.to_string(), shape, data));
        }
        let views: Vec<_> = tensors
            .iter()
            .map(|(name, shape, data)| {
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    data,
                )
                .unwrap();
                (name.clone(), view)
            })
            .collect();
        std::fs::write(
            mha_dir.join("model.safetensors"),
            safetensors::serialize(views, None).unwrap(),
        )
        .unwrap();
        let (gqa, mha) = (Reference::load_dir(&gqa_dir), Reference::load_dir(&mha_dir));
        assert_eq!((gqa.kv_heads, mha.kv_heads), (2, 4));
        let tokens = [5, 90, 300, 17, 260, 44, 301];
        let (a, b) = (
            gqa.run(&tokens, &patch(&gqa, &tokens)),
            mha.run(&tokens, &patch(&mha, &tokens)),
        );
        assert!(max_difference(&a.logits, &b.logits) < 1e-12);
        for l in 0..gqa.layers {
            for h in 0..gqa.heads {
                assert!(max_difference(&a.patterns[l][h], &b.patterns[l][h]) < 1e-12);
            }
        }
        // And the edge-level wiring changes what query heads of one key/value head see.
        let plain = gqa.run(&tokens, &RefPatch::default());
        assert!(max_difference(&a.patterns[1][1], &plain.patterns[1][1]) > 1e-3);
    }

    #[test]
    fn llama3_scaling_keeps_high_divides_low_and_smooths_the_middle_frequencies() {
        let scaling: Value = serde_json::json!({
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 256,
        });
        let plain = inv_freq(8, 500000.0, None);
        let scaled = inv_freq(8, 500000.0, Some(&scaling));
        // Wavelengths 2π/f: 6.3 (< 64: kept), 167 (64..256: smoothed), 4443 and 118 000
        // (> 256: divided by 8). Smooth factor (256 / 167.079 − 1) / 3 = 0.177403, so
        // f · (0.822597 / 8 + 0.177403), computed in Python.
        assert_eq!(scaled[0], plain[0]);
        assert!((scaled[2] - plain[2] / 8.0).abs() < 1e-18);
        assert!((scaled[3] - plain[3] / 8.0).abs() < 1e-18);
        let expected = 0.010538232746455323;
        assert!((scaled[1] - expected).abs() < 1e-15, "{}", scaled[1]);
    }

    #[test]
    fn a_parallel_residual_mlp_reads_the_block_input_and_a_sequential_one_the_attention() {
        let dir = tempfile::tempdir().unwrap();
        let tokens = [5, 90, 300, 17, 260];
        let mut patch = RefPatch::default();
        patch.heads.insert((0, 1, 3), vec![0.7; 32]);
        for parallel in [true, false] {
            let path = dir.path().join(parallel.to_string());
            TinyModel {
                parallel_residual: parallel,
                ..TinyModel::neox()
            }
            .write(&path)
            .unwrap();
            let reference = Reference::load_dir(&path);
            let plain = reference.run(&tokens, &RefPatch::default());
            let patched = reference.run(&tokens, &patch);
            // Layer 0's MLP at position 3 sees layer 0's head 1 only without parallel residual.
            let moved = max_difference(&plain.mlps[0][3..4], &patched.mlps[0][3..4]);
            assert_eq!(moved > 1e-6, !parallel, "parallel {parallel}: {moved}");
            assert!(max_difference(&plain.mlps[1][3..4], &patched.mlps[1][3..4]) > 1e-6);
        }
    }

    #[test]
    fn erf_has_its_known_values() {
        for (x, y) in [
            (0.0, 0.0),
            (0.5, 0.5204998778130465),
            (1.0, 0.8427007929497149),
            (2.0, 0.9953222650189527),
            (-3.0, -0.9999779095030014),
            (5.5, 0.9999999999999927),
        ] {
            assert!((erf(x) - y).abs() < 1e-15, "erf({x}) = {}", erf(x));
        }
    }

    /// Gemma-2's tiny model in a temporary directory, with `change` applied.
    fn gemma2(change: impl FnOnce(&mut TinyModel)) -> (tempfile::TempDir, Reference) {
        let dir = tempfile::tempdir().unwrap();
        let mut tiny = TinyModel::gemma2();
        change(&mut tiny);
        tiny.write(dir.path()).unwrap();
        let reference = Reference::load_dir(dir.path());
        (dir, reference)
    }

    const GEMMA_TOKENS: [u32; 9] = [5, 90, 300, 17, 260, 44, 301, 2, 261];

    #[test]
    fn gemma2_logits_are_the_uncapped_ones_soft_capped() {
        let (_a, capped) = gemma2(|_| {});
        let (_b, uncapped) = gemma2(|t| t.final_logit_softcapping = None);
        let (a, b) = (
            capped.run(&GEMMA_TOKENS, &RefPatch::default()),
            uncapped.run(&GEMMA_TOKENS, &RefPatch::default()),
        );
        let expected: Vec<Vec<f64>> = b
            .logits
            .iter()
            .map(|row| row.iter().map(|l| 8.0 * (l / 8.0).tanh()).collect())
            .collect();
        assert!(max_difference(&a.logits, &expected) < 1e-12);
        let largest = |m: &[Vec<f64>]| m.iter().flatten().fold(0.0f64, |x, v| x.max(v.abs()));
        // The cap bites: it moves the largest logits by more than 10%.
        assert!(largest(&a.logits) < 8.0);
        assert!(largest(&b.logits) > 1.1 * largest(&a.logits));
    }

    /// With scores capped to ±c, no two keys a query sees differ in weight by more than e^(2c).
    #[test]
    fn gemma2_capped_scores_bound_the_attention_weights_ratio() {
        let spread = |reference: &Reference| -> f64 {
            let out = reference.run(&GEMMA_TOKENS, &RefPatch::default());
            let mut worst = 0.0f64;
            for layer in &out.patterns {
                for head in layer {
                    for (t, row) in head.iter().enumerate() {
                        let seen = &row[..=t];
                        let max = seen.iter().cloned().fold(f64::MIN, f64::max);
                        let min = seen.iter().cloned().fold(f64::MAX, f64::min);
                        worst = worst.max((max / min).ln());
                    }
                }
            }
            worst
        };
        let (_a, capped) = gemma2(|_| {});
        let (_b, uncapped) = gemma2(|t| t.attn_logit_softcapping = None);
        let (a, b) = (spread(&capped), spread(&uncapped));
        assert!(a <= 10.0 + 1e-9, "{a}");
        assert!(b > 10.0, "{b}");
    }

    /// A replaced head's replacement stands in the sum the post-attention RMSNorm normalises:
    /// tripling every head of a layer at a position is invisible (the norm divides it out, up
    /// to ε), tripling one is not; an MLP's output is its value after its post-norm.
    #[test]
    fn a_gemma2_replacement_stands_before_the_post_attention_norm() {
        let (_dir, reference) = gemma2(|_| {});
        let tokens = &GEMMA_TOKENS;
        let base = reference.run(tokens, &RefPatch::default());
        let scaled = |l: usize, h: usize, t: usize, by: f64| -> Vec<f64> {
            base.results[l][h][t].iter().map(|v| v * by).collect()
        };
        let mut all = RefPatch::default();
        for h in 0..reference.heads {
            all.heads.insert((0, h, 2), scaled(0, h, 2, 3.0));
        }
        let mut one = RefPatch::default();
        one.heads.insert((0, 1, 2), scaled(0, 1, 2, 3.0));
        let mut itself = RefPatch::default();
        itself.heads.insert((1, 3, 4), scaled(1, 3, 4, 1.0));
        itself.mlps.insert((0, 2), base.mlps[0][2].clone());
        let mut mlp = RefPatch::default();
        mlp.mlps
            .insert((0, 2), base.mlps[0][2].iter().map(|v| v * 3.0).collect());
        let moved =
            |patch: &RefPatch| max_difference(&reference.run(tokens, patch).logits, &base.logits);
        let (all, one, itself, mlp) = (moved(&all), moved(&one), moved(&itself), moved(&mlp));
        assert!(all < 1e-6, "{all}");
        assert!(one > 1e-2, "{one}");
        assert!(itself < 1e-12, "{itself}");
        assert!(mlp > 1e-2, "{mlp}");
    }

    #[test]
    fn gemma2_embeddings_are_scaled_by_the_root_of_d_model() {
        let (_dir, reference) = gemma2(|_| {});
        let out = reference.run(&GEMMA_TOKENS, &RefPatch::default());
        let d = reference.d;
        for (t, &token) in GEMMA_TOKENS.iter().enumerate() {
            for i in 0..d {
                let raw = reference.embed[token as usize * d + i];
                assert_eq!(out.embeddings[t][i], raw * 32f64.sqrt());
            }
        }
    }

    /// Even layers slide: a query sees only the last `sliding_window` keys there.
    #[test]
    fn gemma2_sliding_layers_see_only_the_window() {
        let (_dir, reference) = gemma2(|t| t.sliding_window = 3);
        let out = reference.run(&GEMMA_TOKENS, &RefPatch::default());
        for (l, layer) in out.patterns.iter().enumerate() {
            for head in layer {
                for (t, row) in head.iter().enumerate() {
                    let beyond: f64 = row[..(t + 1).saturating_sub(3)].iter().sum();
                    assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                    assert_eq!(beyond == 0.0, l % 2 == 0 || t < 3, "layer {l} query {t}");
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "edge level is not defined for Gemma-2")]
    fn gemma2_refuses_edge_level_patches() {
        let (_dir, reference) = gemma2(|_| {});
        reference.run(&GEMMA_TOKENS, &patch(&reference, &GEMMA_TOKENS));
    }

    #[test]
    fn rotary_scores_depend_only_on_the_distance() {
        let dir = tempfile::tempdir().unwrap();
        TinyModel::neox().write(dir.path()).unwrap();
        let reference = Reference::load_dir(dir.path());
        assert_eq!(reference.inv_freq.len(), 1, "a quarter of d_head 8");
        let a: Vec<f64> = (0..8).map(|i| i as f64 * 0.3 - 1.0).collect();
        let b: Vec<f64> = (0..8).map(|i| 0.7 - i as f64 * 0.2).collect();
        let dot = |t: usize, s: usize| -> f64 {
            let (q, k) = (
                reference.rotate(a.clone(), t),
                reference.rotate(b.clone(), s),
            );
            q.iter().zip(&k).map(|(x, y)| x * y).sum()
        };
        assert!((dot(7, 3) - dot(12, 8)).abs() < 1e-12);
        assert!((dot(7, 3) - dot(7, 4)).abs() > 1e-3);
        // Dimensions past the rotary ones pass through.
        assert_eq!(reference.rotate(a.clone(), 5)[2..], a[2..]);
    }

    #[test]
    fn a_gpt2_directory_loads_as_its_safetensors_file_does() {
        let dir = tempfile::tempdir().unwrap();
        TinyGpt2::default().write(dir.path()).unwrap();
        let by_dir = Reference::load_dir(dir.path());
        let by_file = Reference::load(&dir.path().join("model.safetensors"), 3, 4, 32);
        let tokens = [1, 2, 3, 260];
        let (a, b) = (
            by_dir.run(&tokens, &RefPatch::default()),
            by_file.run(&tokens, &RefPatch::default()),
        );
        assert_eq!(a.logits, b.logits);
    }

    #[test]
    fn tiny_models_write_their_families_configs_and_vocabularies() {
        let dir = tempfile::tempdir().unwrap();
        for (tiny, padded) in [
            (TinyModel::neox(), true),
            (TinyModel::llama(), false),
            (TinyModel::qwen2(), true),
            (TinyModel::gemma2(), false),
        ] {
            let path = dir.path().join(tiny.family.model_type());
            let config = tiny.write(&path).unwrap();
            let vocab: Value =
                serde_json::from_str(&std::fs::read_to_string(path.join("vocab.json")).unwrap())
                    .unwrap();
            let size = vocab.as_object().unwrap().len();
            assert_eq!(size, tokenizer_size(&tiny.words));
            let reference = Reference::load_dir(&path);
            assert_eq!(
                reference.vocab,
                config["vocab_size"].as_u64().unwrap() as usize
            );
            assert_eq!(reference.vocab > size, padded);
            assert_eq!((reference.heads, reference.kv_heads), (4, tiny.kv_heads));
            let out = reference.run(&[1, 2, 3, 260, 300], &RefPatch::default());
            assert!(out.logits.iter().flatten().all(|v| v.is_finite()));
            // Attention is not uniform: the weights are large enough to matter.
            let last = &out.patterns[1][0][4];
            assert!(last.iter().cloned().fold(0.0, f64::max) > 0.3, "{last:?}");
        }
    }

    /// The reference's logits against Hugging Face transformers' on the directories
    /// `scripts/crosscheck_reference.py` writes (each with an `hf_logits.json`); run by
    /// that script, not in CI.
    #[test]
    #[ignore = "needs scripts/crosscheck_reference.py's output"]
    fn hugging_face_logits_match() {
        let root = std::env::var_os("CIRCUITCHECK_CROSSCHECK_DIR")
            .expect("CIRCUITCHECK_CROSSCHECK_DIR names the script's directory");
        let mut names: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("hf_logits.json").exists())
            .collect();
        names.sort();
        assert!(!names.is_empty(), "no hf_logits.json under {root:?}");
        let mut worst = vec![0.0f64; 3];
        for dir in names {
            for (worst, found) in worst.iter_mut().zip(compare(&dir)) {
                *worst = worst.max(found);
            }
        }
        let bounds = [1e-3, 1e-4, 1e-10];
        assert!(worst.iter().zip(bounds).all(|(w, b)| *w < b), "{worst:?}");
    }

    /// Prints and returns the largest difference of one directory's logits from each of
    /// transformers' runs (float32, float64, float64 throughout).
    fn compare(dir: &Path) -> Vec<f64> {
        let reference = Reference::load_dir(dir);
        let hf: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("hf_logits.json")).unwrap())
                .unwrap();
        let rows: Vec<Vec<u32>> = serde_json::from_value(hf["rows"].clone()).unwrap();
        let outputs: Vec<Vec<Vec<f64>>> = rows
            .iter()
            .map(|row| reference.run(row, &RefPatch::default()).logits)
            .collect();
        let largest = outputs
            .iter()
            .flatten()
            .flatten()
            .fold(0.0f64, |m, v| v.abs().max(m));
        let name = dir.file_name().unwrap().to_string_lossy();
        let mut line = format!("{name:<18} max |logit| {largest:.1}, max |Δ|");
        let mut differences = Vec::new();
        for dtype in ["float32", "float64", "float64_exact"] {
            let theirs: Vec<Vec<Vec<f64>>> = serde_json::from_value(hf[dtype].clone()).unwrap();
            let mut difference = 0.0f64;
            for (ours, theirs) in outputs.iter().zip(&theirs) {
                assert_eq!(ours.len(), theirs.len());
                difference = difference.max(max_difference(ours, theirs));
            }
            line.push_str(&format!("  {dtype}: {difference:.1e}"));
            differences.push(difference);
        }
        println!("{line}");
        differences
    }
}
