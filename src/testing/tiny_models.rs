//! Tiny random GPT-NeoX (Pythia), Llama, Qwen2 and Gemma-2 models in their real Hugging Face
//! layouts: `config.json` with the keys the published checkpoints use, `model.safetensors`
//! (f32) with the checkpoints' tensor names and shapes, and a tiny byte-level BPE tokenizer.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use serde_json::{Value, json};

use super::write_tiny_tokenizer;

/// A model family with its Hugging Face `model_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// `gpt_neox` (Pythia): LayerNorm, fused per-head `query_key_value`, partial rotary,
    /// parallel residual, exact GELU, untied `embed_out`.
    GptNeox,
    /// `llama`: RMSNorm, grouped-query attention, rotary on all of d_head (optionally with
    /// Llama-3's `rope_scaling`), SwiGLU, `lm_head` or tied embeddings.
    Llama,
    /// `qwen2`: Llama's block with biases on q, k and v.
    Qwen2,
    /// `gemma2`: RMSNorms scaling by (1 + w), also after attention and after the MLP, embeddings
    /// scaled by √d_model, grouped-query attention with `query_pre_attn_scalar` and soft-capped
    /// scores, GeGLU (tanh GELU), tied embeddings, soft-capped logits.
    Gemma2,
}

impl Family {
    /// The `model_type` of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Family::GptNeox => "gpt_neox",
            Family::Llama => "llama",
            Family::Qwen2 => "qwen2",
            Family::Gemma2 => "gemma2",
        }
    }
}

/// Llama-3's `rope_scaling` (`"rope_type": "llama3"`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Llama3Scaling {
    pub factor: f64,
    pub low_freq_factor: f64,
    pub high_freq_factor: f64,
    pub original_max_position_embeddings: usize,
}

impl Default for Llama3Scaling {
    /// Llama-3's factors, with an original context short enough that a tiny model's
    /// frequencies (d_head 8, θ 500 000) fall in all three bands: kept, smoothed, divided.
    fn default() -> Self {
        Self {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 256,
        }
    }
}

/// Shape and options of a generated tiny model; see [`TinyModel::neox`], [`TinyModel::llama`],
/// [`TinyModel::qwen2`] and [`TinyModel::gemma2`] for the defaults.
#[derive(Clone, Debug)]
pub struct TinyModel {
    pub family: Family,
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (`num_key_value_heads`); GPT-NeoX has as many as query heads.
    pub kv_heads: usize,
    pub d_model: usize,
    /// Per-head width; GPT-NeoX requires `d_model / heads`. Written as `head_dim` for Llama
    /// and Gemma-2, and for Qwen2 only where it differs from `d_model / heads` (Qwen2.5 has no
    /// key).
    pub head_dim: usize,
    /// The MLP's hidden width (`intermediate_size`).
    pub intermediate: usize,
    /// `max_position_embeddings`.
    pub context: usize,
    /// Words of the tokenizer (each a single token, with and without a leading space).
    pub words: Vec<String>,
    pub seed: u64,
    /// `vocab_size` larger than the tokenizer's, as Pythia and Qwen2.5 pad it (the extra rows
    /// of the embedding and unembedding are random too); `None`: the tokenizer's size.
    pub vocab_size: Option<usize>,
    /// GPT-NeoX `rotary_pct`: the fraction of d_head that gets rotary embeddings.
    pub rotary_pct: f64,
    /// GPT-NeoX `use_parallel_residual`.
    pub parallel_residual: bool,
    /// Llama/Qwen2/Gemma-2 `tie_word_embeddings` (no `lm_head.weight` then).
    pub tie_word_embeddings: bool,
    /// Llama-3 `rope_scaling` (Llama and Qwen2 only).
    pub rope_scaling: Option<Llama3Scaling>,
    /// `rope_theta` (`rotary_emb_base` for GPT-NeoX).
    pub rope_theta: f64,
    /// `layer_norm_eps` (GPT-NeoX) or `rms_norm_eps`.
    pub norm_eps: f64,
    /// Gemma-2 `query_pre_attn_scalar`: attention scores are scaled by its −½ power (the other
    /// families scale by d_head^−½ and write no such key).
    pub query_pre_attn_scalar: usize,
    /// Gemma-2 `attn_logit_softcapping` c: scores s become c·tanh(s/c); `None` writes null.
    pub attn_logit_softcapping: Option<f64>,
    /// Gemma-2 `final_logit_softcapping` c: logits ℓ become c·tanh(ℓ/c); `None` writes null.
    pub final_logit_softcapping: Option<f64>,
    /// Gemma-2 `sliding_window` of its even (0-based) layers.
    pub sliding_window: usize,
    /// Also write the non-persistent buffers older checkpoints carry and a loader must
    /// ignore: GPT-NeoX's `attention.bias` (a bool causal mask `[1, 1, context, context]`),
    /// `attention.masked_bias` (a scalar) and `attention.rotary_emb.inv_freq`; Llama's and
    /// Qwen2's `self_attn.rotary_emb.inv_freq`.
    pub legacy_buffers: bool,
    /// Weights are uniform in ±`weight_range` (biases in ±`weight_range` / 5). 0.5 gives a
    /// tiny model non-trivial attention patterns; wide models need it smaller
    /// ([`TinyModel::hub_shaped`]) to keep activations in range.
    pub weight_range: f32,
}

fn default_words() -> Vec<String> {
    super::TinyGpt2::default().words
}

impl TinyModel {
    /// A Pythia-like model: 3 layers, 4 heads, d_model 32, rotary on a quarter of d_head,
    /// parallel residual, vocabulary padded to a multiple of 64.
    pub fn neox() -> Self {
        Self {
            family: Family::GptNeox,
            layers: 3,
            heads: 4,
            kv_heads: 4,
            d_model: 32,
            head_dim: 8,
            intermediate: 128,
            context: 64,
            words: default_words(),
            seed: 0,
            vocab_size: Some(pad_to(tokenizer_size(&default_words()), 64)),
            rotary_pct: 0.25,
            parallel_residual: true,
            tie_word_embeddings: false,
            rope_scaling: None,
            rope_theta: 10000.0,
            norm_eps: 1e-5,
            query_pre_attn_scalar: 8,
            attn_logit_softcapping: None,
            final_logit_softcapping: None,
            sliding_window: 64,
            legacy_buffers: false,
            weight_range: 0.5,
        }
    }

    /// A Llama-3-like model: 3 layers, 4 query heads on 2 key/value heads, d_model 32,
    /// Llama-3 rope scaling, θ 500 000, untied `lm_head`, context 512.
    pub fn llama() -> Self {
        Self {
            family: Family::Llama,
            layers: 3,
            heads: 4,
            kv_heads: 2,
            d_model: 32,
            head_dim: 8,
            intermediate: 64,
            // Longer than the rope scaling's original context, as HF requires.
            context: 512,
            words: default_words(),
            seed: 0,
            vocab_size: None,
            rotary_pct: 1.0,
            parallel_residual: false,
            tie_word_embeddings: false,
            rope_scaling: Some(Llama3Scaling::default()),
            rope_theta: 500000.0,
            norm_eps: 1e-5,
            query_pre_attn_scalar: 8,
            attn_logit_softcapping: None,
            final_logit_softcapping: None,
            sliding_window: 512,
            legacy_buffers: false,
            weight_range: 0.5,
        }
    }

    /// A Qwen2.5-like model: 3 layers, 4 query heads on 2 key/value heads, d_model 32,
    /// q/k/v biases, θ 1 000 000, tied embeddings, vocabulary padded to a multiple of 64,
    /// context 512.
    pub fn qwen2() -> Self {
        Self {
            family: Family::Qwen2,
            vocab_size: Some(pad_to(tokenizer_size(&default_words()), 64)),
            tie_word_embeddings: true,
            rope_scaling: None,
            rope_theta: 1000000.0,
            norm_eps: 1e-6,
            ..Self::llama()
        }
    }

    /// A Gemma-2-like model: 3 layers, 4 query heads on 2 key/value heads, d_model 32, d_head
    /// 16 (not d_model / heads, as in Gemma-2), `query_pre_attn_scalar` 8 (d_model / heads,
    /// not d_head, as in Gemma-2 27B), scores capped at 5 and logits at 8 (low enough to bite
    /// on these random weights), θ 10 000, tied embeddings, context 64 and a sliding window
    /// as long (so it never cuts a prompt).
    pub fn gemma2() -> Self {
        Self {
            family: Family::Gemma2,
            layers: 3,
            heads: 4,
            kv_heads: 2,
            d_model: 32,
            head_dim: 16,
            intermediate: 64,
            context: 64,
            words: default_words(),
            seed: 0,
            vocab_size: None,
            rotary_pct: 1.0,
            parallel_residual: false,
            tie_word_embeddings: true,
            rope_scaling: None,
            rope_theta: 10000.0,
            norm_eps: 1e-6,
            query_pre_attn_scalar: 8,
            attn_logit_softcapping: Some(5.0),
            final_logit_softcapping: Some(8.0),
            sliding_window: 64,
            legacy_buffers: false,
            weight_range: 0.5,
        }
    }

    /// A model of the exact shape of a hub checkpoint the catalog names (`pythia-160m`,
    /// `qwen2.5-0.5b`, `llama-3.2-1b`, `gemma-2-2b`), with random weights: the real tensor
    /// names, shapes, vocabulary size and config keys, for benchmarks and load tests. The
    /// weight range shrinks with the width so activations stay in range.
    pub fn hub_shaped(name: &str) -> Option<Self> {
        let model = match name {
            "pythia-160m" => Self {
                layers: 12,
                heads: 12,
                kv_heads: 12,
                d_model: 768,
                head_dim: 64,
                intermediate: 3072,
                context: 2048,
                vocab_size: Some(50304),
                ..Self::neox()
            },
            "qwen2.5-0.5b" => Self {
                layers: 24,
                heads: 14,
                kv_heads: 2,
                d_model: 896,
                head_dim: 64,
                intermediate: 4864,
                context: 32768,
                vocab_size: Some(151936),
                sliding_window: 32768,
                ..Self::qwen2()
            },
            "llama-3.2-1b" => Self {
                layers: 16,
                heads: 32,
                kv_heads: 8,
                d_model: 2048,
                head_dim: 64,
                intermediate: 8192,
                context: 131072,
                vocab_size: Some(128256),
                tie_word_embeddings: true,
                rope_scaling: Some(Llama3Scaling {
                    factor: 32.0,
                    low_freq_factor: 1.0,
                    high_freq_factor: 4.0,
                    original_max_position_embeddings: 8192,
                }),
                sliding_window: 131072,
                ..Self::llama()
            },
            "gemma-2-2b" => Self {
                layers: 26,
                heads: 8,
                kv_heads: 4,
                d_model: 2304,
                head_dim: 256,
                intermediate: 9216,
                context: 8192,
                vocab_size: Some(256000),
                query_pre_attn_scalar: 256,
                attn_logit_softcapping: Some(50.0),
                final_logit_softcapping: Some(30.0),
                sliding_window: 4096,
                ..Self::gemma2()
            },
            _ => return None,
        };
        Some(Self {
            weight_range: 0.5 * (32.0 / model.d_model as f32).sqrt(),
            ..model
        })
    }

    /// The `config.json` this model writes, given the tokenizer's size.
    pub fn config(&self, tokenizer_size: usize) -> Value {
        let vocab_size = self
            .vocab_size
            .unwrap_or(tokenizer_size)
            .max(tokenizer_size);
        let eos = tokenizer_size - 1;
        match self.family {
            Family::GptNeox => json!({
                "architectures": ["GPTNeoXForCausalLM"],
                "model_type": "gpt_neox",
                "vocab_size": vocab_size,
                "hidden_size": self.d_model,
                "num_hidden_layers": self.layers,
                "num_attention_heads": self.heads,
                "intermediate_size": self.intermediate,
                "hidden_act": "gelu",
                "rotary_pct": self.rotary_pct,
                "rotary_emb_base": self.rope_theta,
                "max_position_embeddings": self.context,
                "initializer_range": 0.02,
                "layer_norm_eps": self.norm_eps,
                "use_cache": true,
                "bos_token_id": eos,
                "eos_token_id": eos,
                "tie_word_embeddings": false,
                "use_parallel_residual": self.parallel_residual,
                "attention_bias": true,
                "torch_dtype": "float32",
            }),
            Family::Llama | Family::Qwen2 => {
                let mut config = json!({
                    "architectures": [if self.family == Family::Llama {
                        "LlamaForCausalLM"
                    } else {
                        "Qwen2ForCausalLM"
                    }],
                    "model_type": self.family.model_type(),
                    "vocab_size": vocab_size,
                    "hidden_size": self.d_model,
                    "intermediate_size": self.intermediate,
                    "num_hidden_layers": self.layers,
                    "num_attention_heads": self.heads,
                    "num_key_value_heads": self.kv_heads,
                    "hidden_act": "silu",
                    "max_position_embeddings": self.context,
                    "initializer_range": 0.02,
                    "rms_norm_eps": self.norm_eps,
                    "use_cache": true,
                    "bos_token_id": eos,
                    "eos_token_id": eos,
                    "tie_word_embeddings": self.tie_word_embeddings,
                    "rope_theta": self.rope_theta,
                    "rope_scaling": self.rope_scaling.map(|s| json!({
                        "rope_type": "llama3",
                        "factor": s.factor,
                        "low_freq_factor": s.low_freq_factor,
                        "high_freq_factor": s.high_freq_factor,
                        "original_max_position_embeddings": s.original_max_position_embeddings,
                    })),
                    "attention_dropout": 0.0,
                    "torch_dtype": "float32",
                });
                // Llama 3.2 writes head_dim; Qwen2.5 does not (it is hidden_size / heads).
                let extra = if self.family == Family::Llama {
                    json!({
                        "head_dim": self.head_dim,
                        "attention_bias": false,
                        "mlp_bias": false,
                        "pretraining_tp": 1,
                    })
                } else if self.head_dim * self.heads == self.d_model {
                    json!({
                        "use_sliding_window": false,
                        "sliding_window": self.context,
                        "max_window_layers": self.layers,
                    })
                } else {
                    json!({
                        "head_dim": self.head_dim,
                        "use_sliding_window": false,
                        "sliding_window": self.context,
                        "max_window_layers": self.layers,
                    })
                };
                if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
                    config.extend(extra.clone());
                }
                config
            }
            // google/gemma-2-2b's keys (it writes both `hidden_act` and `hidden_activation`).
            Family::Gemma2 => json!({
                "architectures": ["Gemma2ForCausalLM"],
                "model_type": "gemma2",
                "vocab_size": vocab_size,
                "hidden_size": self.d_model,
                "intermediate_size": self.intermediate,
                "num_hidden_layers": self.layers,
                "num_attention_heads": self.heads,
                "num_key_value_heads": self.kv_heads,
                "head_dim": self.head_dim,
                "hidden_act": "gelu_pytorch_tanh",
                "hidden_activation": "gelu_pytorch_tanh",
                "max_position_embeddings": self.context,
                "initializer_range": 0.02,
                "rms_norm_eps": self.norm_eps,
                "use_cache": true,
                "bos_token_id": eos,
                "eos_token_id": eos,
                "pad_token_id": eos,
                "tie_word_embeddings": self.tie_word_embeddings,
                "rope_theta": self.rope_theta,
                "attention_bias": false,
                "attention_dropout": 0.0,
                "query_pre_attn_scalar": self.query_pre_attn_scalar,
                "attn_logit_softcapping": self.attn_logit_softcapping,
                "final_logit_softcapping": self.final_logit_softcapping,
                "sliding_window": self.sliding_window,
                "cache_implementation": "hybrid",
                "torch_dtype": "float32",
            }),
        }
    }

    /// Every tensor's Hugging Face name and shape (`nn.Linear` weights are `[out, in]`),
    /// in the order they are generated.
    pub fn tensors(&self, vocab_size: usize) -> Vec<(String, Vec<usize>)> {
        let (d, dh, inter) = (self.d_model, self.head_dim, self.intermediate);
        let mut list: Vec<(String, Vec<usize>)> = Vec::new();
        let mut add = |name: String, shape: &[usize]| list.push((name, shape.to_vec()));
        match self.family {
            Family::GptNeox => {
                add("gpt_neox.embed_in.weight".into(), &[vocab_size, d]);
                for l in 0..self.layers {
                    let p = format!("gpt_neox.layers.{l}");
                    for norm in ["input_layernorm", "post_attention_layernorm"] {
                        add(format!("{p}.{norm}.weight"), &[d]);
                        add(format!("{p}.{norm}.bias"), &[d]);
                    }
                    add(
                        format!("{p}.attention.query_key_value.weight"),
                        &[3 * self.heads * dh, d],
                    );
                    add(
                        format!("{p}.attention.query_key_value.bias"),
                        &[3 * self.heads * dh],
                    );
                    add(format!("{p}.attention.dense.weight"), &[d, self.heads * dh]);
                    add(format!("{p}.attention.dense.bias"), &[d]);
                    add(format!("{p}.mlp.dense_h_to_4h.weight"), &[inter, d]);
                    add(format!("{p}.mlp.dense_h_to_4h.bias"), &[inter]);
                    add(format!("{p}.mlp.dense_4h_to_h.weight"), &[d, inter]);
                    add(format!("{p}.mlp.dense_4h_to_h.bias"), &[d]);
                }
                add("gpt_neox.final_layer_norm.weight".into(), &[d]);
                add("gpt_neox.final_layer_norm.bias".into(), &[d]);
                add("embed_out.weight".into(), &[vocab_size, d]);
            }
            Family::Llama | Family::Qwen2 => {
                let (q, kv) = (self.heads * dh, self.kv_heads * dh);
                add("model.embed_tokens.weight".into(), &[vocab_size, d]);
                for l in 0..self.layers {
                    let p = format!("model.layers.{l}");
                    add(format!("{p}.input_layernorm.weight"), &[d]);
                    add(format!("{p}.self_attn.q_proj.weight"), &[q, d]);
                    add(format!("{p}.self_attn.k_proj.weight"), &[kv, d]);
                    add(format!("{p}.self_attn.v_proj.weight"), &[kv, d]);
                    if self.family == Family::Qwen2 {
                        add(format!("{p}.self_attn.q_proj.bias"), &[q]);
                        add(format!("{p}.self_attn.k_proj.bias"), &[kv]);
                        add(format!("{p}.self_attn.v_proj.bias"), &[kv]);
                    }
                    add(format!("{p}.self_attn.o_proj.weight"), &[d, q]);
                    add(format!("{p}.post_attention_layernorm.weight"), &[d]);
                    add(format!("{p}.mlp.gate_proj.weight"), &[inter, d]);
                    add(format!("{p}.mlp.up_proj.weight"), &[inter, d]);
                    add(format!("{p}.mlp.down_proj.weight"), &[d, inter]);
                }
                add("model.norm.weight".into(), &[d]);
                if !self.tie_word_embeddings {
                    add("lm_head.weight".into(), &[vocab_size, d]);
                }
            }
            Family::Gemma2 => {
                let (q, kv) = (self.heads * dh, self.kv_heads * dh);
                add("model.embed_tokens.weight".into(), &[vocab_size, d]);
                for l in 0..self.layers {
                    let p = format!("model.layers.{l}");
                    add(format!("{p}.input_layernorm.weight"), &[d]);
                    add(format!("{p}.self_attn.q_proj.weight"), &[q, d]);
                    add(format!("{p}.self_attn.k_proj.weight"), &[kv, d]);
                    add(format!("{p}.self_attn.v_proj.weight"), &[kv, d]);
                    add(format!("{p}.self_attn.o_proj.weight"), &[d, q]);
                    add(format!("{p}.post_attention_layernorm.weight"), &[d]);
                    add(format!("{p}.pre_feedforward_layernorm.weight"), &[d]);
                    add(format!("{p}.mlp.gate_proj.weight"), &[inter, d]);
                    add(format!("{p}.mlp.up_proj.weight"), &[inter, d]);
                    add(format!("{p}.mlp.down_proj.weight"), &[d, inter]);
                    add(format!("{p}.post_feedforward_layernorm.weight"), &[d]);
                }
                add("model.norm.weight".into(), &[d]);
                if !self.tie_word_embeddings {
                    add("lm_head.weight".into(), &[vocab_size, d]);
                }
            }
        }
        list
    }

    /// Writes `config.json`, `model.safetensors`, `vocab.json` and `merges.txt` into `dir`
    /// and returns the config. Weights are seeded uniform values large enough to give
    /// non-trivial attention patterns; norm gains are near 1 (Gemma-2 stores them less 1, so
    /// its norm weights are near 0). Tensors are generated one at a time straight into the
    /// file, so a model of a real hub shape (gigabytes) needs no more memory than its largest
    /// tensor.
    pub fn write(&self, dir: &Path) -> io::Result<Value> {
        use rand::{Rng, SeedableRng};
        self.validate()?;
        let words: Vec<&str> = self.words.iter().map(String::as_str).collect();
        write_tiny_tokenizer(dir, &words)?;
        let vocab: BTreeMap<String, u32> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("vocab.json"))?)
                .map_err(io::Error::other)?;
        let config = self.config(vocab.len());
        let vocab_size = config["vocab_size"].as_u64().unwrap_or_default() as usize;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(self.seed);
        let mut entries: Vec<Entry> = self
            .tensors(vocab_size)
            .into_iter()
            .map(|(name, shape)| {
                let is_norm = name.contains("layernorm") || name.contains("norm.");
                let values = if is_norm && name.ends_with("weight") {
                    let one = if self.family == Family::Gemma2 {
                        0.0
                    } else {
                        1.0
                    };
                    Values::Uniform(one, 0.2)
                } else if name.ends_with("bias") {
                    Values::Uniform(0.0, self.weight_range / 5.0)
                } else {
                    Values::Uniform(0.0, self.weight_range)
                };
                Entry {
                    name,
                    dtype: safetensors::Dtype::F32,
                    shape,
                    values,
                }
            })
            .collect();
        if self.legacy_buffers {
            for (name, dtype, shape, bytes) in self.buffers() {
                entries.push(Entry {
                    name,
                    dtype,
                    shape,
                    values: Values::Bytes(bytes),
                });
            }
        }
        write_safetensors(
            &dir.join("model.safetensors"),
            &entries,
            |values, count, out| match values {
                Values::Uniform(centre, range) => {
                    for _ in 0..count {
                        let v: f32 = centre + rng.random_range(-range..*range);
                        out.extend_from_slice(&v.to_le_bytes());
                    }
                }
                Values::Bytes(bytes) => out.extend_from_slice(bytes),
            },
        )?;
        let config_json = serde_json::to_string_pretty(&config).map_err(io::Error::other)?;
        std::fs::write(dir.join("config.json"), config_json)?;
        Ok(config)
    }

    /// The legacy buffers of [`TinyModel::legacy_buffers`], with their values.
    fn buffers(&self) -> Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> {
        use safetensors::Dtype;
        let rotary = match self.family {
            Family::GptNeox => (self.head_dim as f64 * self.rotary_pct) as usize,
            _ => self.head_dim,
        };
        let inv_freq: Vec<u8> = (0..rotary / 2)
            .flat_map(|i| {
                let f = 1.0 / self.rope_theta.powf((2 * i) as f64 / rotary as f64);
                (f as f32).to_le_bytes()
            })
            .collect();
        let n = self.context;
        let mask: Vec<u8> = (0..n * n).map(|i| u8::from(i % n <= i / n)).collect();
        let mut list = Vec::new();
        for l in 0..self.layers {
            if self.family == Family::GptNeox {
                let p = format!("gpt_neox.layers.{l}.attention");
                list.push((
                    format!("{p}.bias"),
                    Dtype::BOOL,
                    vec![1, 1, n, n],
                    mask.clone(),
                ));
                let masked = (-1e9f32).to_le_bytes().to_vec();
                list.push((format!("{p}.masked_bias"), Dtype::F32, vec![], masked));
                let name = format!("{p}.rotary_emb.inv_freq");
                list.push((name, Dtype::F32, vec![rotary / 2], inv_freq.clone()));
            } else {
                let name = format!("model.layers.{l}.self_attn.rotary_emb.inv_freq");
                list.push((name, Dtype::F32, vec![rotary / 2], inv_freq.clone()));
            }
        }
        list
    }

    fn validate(&self) -> io::Result<()> {
        let problem = if self.family == Family::GptNeox
            && (self.kv_heads != self.heads || self.head_dim * self.heads != self.d_model)
        {
            Some("GPT-NeoX needs kv_heads == heads and head_dim == d_model / heads")
        } else if self.kv_heads == 0 || !self.heads.is_multiple_of(self.kv_heads) {
            Some("heads must be a multiple of kv_heads")
        } else if !self.head_dim.is_multiple_of(2) {
            Some("head_dim must be even")
        } else if matches!(self.family, Family::GptNeox | Family::Gemma2)
            && self.rope_scaling.is_some()
        {
            Some("rope_scaling is for Llama and Qwen2")
        } else if self.family == Family::Gemma2 && !self.d_model.is_multiple_of(self.heads) {
            Some("Gemma-2 needs d_model to be a multiple of heads")
        } else if self.family != Family::Gemma2
            && (self.attn_logit_softcapping.is_some() || self.final_logit_softcapping.is_some())
        {
            Some("soft-capping is for Gemma-2")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(io::Error::new(io::ErrorKind::InvalidInput, problem)),
            None => Ok(()),
        }
    }
}

/// The number of tokens [`write_tiny_tokenizer`] writes for `words`.
pub fn tokenizer_size(words: &[String]) -> usize {
    let mut tokens: std::collections::BTreeSet<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
    for word in words {
        for text in [format!(" {word}"), word.clone()] {
            let bytes = text.as_bytes();
            for end in 1..=bytes.len() {
                tokens.insert(bytes[..end].to_vec());
            }
        }
    }
    tokens.len() + 1
}

fn pad_to(n: usize, multiple: usize) -> usize {
    n.div_ceil(multiple) * multiple
}

/// What one tensor of a generated file holds.
enum Values {
    /// f32 values `centre` ± up to `range`, drawn in order from the model's generator.
    Uniform(f32, f32),
    Bytes(Vec<u8>),
}

struct Entry {
    name: String,
    dtype: safetensors::Dtype,
    shape: Vec<usize>,
    values: Values,
}

/// Writes a safetensors file tensor by tensor: the header (names, dtypes, shapes, offsets)
/// first, then each tensor's bytes as `fill` makes them from its values and element count.
fn write_safetensors(
    path: &Path,
    entries: &[Entry],
    mut fill: impl FnMut(&Values, usize, &mut Vec<u8>),
) -> io::Result<()> {
    use std::io::Write;
    let size = |e: &Entry| e.shape.iter().product::<usize>() * e.dtype.bitsize() / 8;
    let mut header = serde_json::Map::new();
    header.insert("__metadata__".into(), json!({ "format": "pt" }));
    let mut offset = 0usize;
    for entry in entries {
        let dtype = serde_json::to_value(entry.dtype).map_err(io::Error::other)?;
        let end = offset + size(entry);
        header.insert(
            entry.name.clone(),
            json!({ "dtype": dtype, "shape": entry.shape, "data_offsets": [offset, end] }),
        );
        offset = end;
    }
    let mut header = serde_json::to_string(&header).map_err(io::Error::other)?;
    // The data starts 8-byte aligned, as the format recommends.
    while (header.len() + 8) % 8 != 0 {
        header.push(' ');
    }
    let mut file = io::BufWriter::new(std::fs::File::create(path)?);
    file.write_all(&(header.len() as u64).to_le_bytes())?;
    file.write_all(header.as_bytes())?;
    for entry in entries {
        let mut buffer = Vec::with_capacity(size(entry));
        fill(&entry.values, entry.shape.iter().product(), &mut buffer);
        if buffer.len() != size(entry) {
            return Err(io::Error::other(format!(
                "{}: wrong byte count",
                entry.name
            )));
        }
        file.write_all(&buffer)?;
    }
    file.flush()
}
