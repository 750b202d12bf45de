//! A model's hyper-parameters, read from a Hugging Face `config.json`, whose `model_type`
//! says the family (`gpt2`, `gpt_neox`, `llama`, `qwen2`). A config that reads is valid:
//! sizes that are zero, do not divide or would overflow are refused while reading, before
//! anything is allocated from them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::error::ModelError;

/// More layers than any model circuitcheck runs has; a config saying more is corrupt, and
/// would make the loader list millions of tensors before noticing.
pub const MAX_LAYERS: usize = 1024;

/// The architecture families, each a file of `src/model` saying what its blocks are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Family {
    #[default]
    Gpt2,
    /// GPT-NeoX (Pythia).
    NeoX,
    Llama,
    /// Llama's blocks with q, k and v biases.
    Qwen2,
    /// Llama's attention with soft-capped scores and normed outputs, GeGLU MLPs.
    Gemma2,
}

impl Family {
    /// Its `model_type` in `config.json`.
    pub fn name(self) -> &'static str {
        match self {
            Family::Gpt2 => "gpt2",
            Family::NeoX => "gpt_neox",
            Family::Llama => "llama",
            Family::Qwen2 => "qwen2",
            Family::Gemma2 => "gemma2",
        }
    }
}

/// Rotary position embeddings on the first `dims` dimensions of each query and key head.
#[derive(Clone, Debug, PartialEq)]
pub struct Rotary {
    pub dims: usize,
    pub base: f64,
    pub scaling: Option<Llama3Scaling>,
}

/// Llama-3's `rope_scaling` (`rope_type = "llama3"`): long wavelengths slowed by `factor`,
/// short ones kept, the band between interpolated.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Llama3Scaling {
    pub factor: f64,
    pub low_freq_factor: f64,
    pub high_freq_factor: f64,
    pub original_max_position_embeddings: f64,
}

/// The shapes every family shares, in GPT-2's names (`config.json` of GPT-2 is what
/// `Serialize` writes), and what the other families add.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct Config {
    #[serde(skip)]
    pub family: Family,
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
    /// Key/value heads: fewer than `n_head` with grouped-query attention.
    #[serde(skip)]
    pub n_kv_head: usize,
    /// Each head's width (`n_embd / n_head` unless the config says otherwise).
    #[serde(skip)]
    pub head_dim: usize,
    #[serde(skip)]
    pub rotary: Option<Rotary>,
    /// Attention and MLP both read the block's input (GPT-NeoX's `use_parallel_residual`).
    #[serde(skip)]
    pub parallel_residual: bool,
    /// The unembedding is the token embedding.
    #[serde(skip)]
    pub tied_embeddings: bool,
    /// Gemma-2's attention and output details; `None` elsewhere.
    #[serde(skip)]
    pub gemma: Option<GemmaDetails>,
}

/// What Gemma-2 adds: attention scores scaled by `query_pre_attn_scalar`^−½ and soft-capped,
/// soft-capped logits, embeddings scaled by √d_model, and a sliding window on alternate
/// layers.
#[derive(Clone, Debug, PartialEq)]
pub struct GemmaDetails {
    pub query_pre_attn_scalar: f64,
    pub attn_logit_softcapping: f64,
    pub final_logit_softcapping: f64,
    pub sliding_window: usize,
}

fn default_epsilon() -> f64 {
    1e-5
}

/// GPT-2's `config.json`, before it is checked.
#[derive(Deserialize)]
struct Gpt2Written {
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

/// GPT-NeoX's `config.json` (Pythia's keys).
#[derive(Deserialize)]
struct NeoXWritten {
    vocab_size: usize,
    max_position_embeddings: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    #[serde(default = "default_epsilon")]
    layer_norm_eps: f64,
    #[serde(default = "default_rotary_pct")]
    rotary_pct: f64,
    #[serde(default = "default_rotary_base")]
    rotary_emb_base: f64,
    #[serde(default = "default_true")]
    use_parallel_residual: bool,
    #[serde(default)]
    tie_word_embeddings: bool,
}

/// Llama's and Qwen2's `config.json`.
#[derive(Deserialize)]
struct LlamaWritten {
    vocab_size: usize,
    max_position_embeddings: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default)]
    num_key_value_heads: Option<usize>,
    #[serde(default)]
    head_dim: Option<usize>,
    intermediate_size: usize,
    #[serde(default = "default_rms_epsilon")]
    rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    rope_theta: f64,
    #[serde(default)]
    rope_scaling: Option<serde_json::Value>,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
}

/// Gemma-2's `config.json`.
#[derive(Deserialize)]
struct GemmaWritten {
    vocab_size: usize,
    max_position_embeddings: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    num_key_value_heads: usize,
    head_dim: usize,
    intermediate_size: usize,
    #[serde(default = "default_rms_epsilon")]
    rms_norm_eps: f64,
    #[serde(default = "default_rope_theta")]
    rope_theta: f64,
    query_pre_attn_scalar: f64,
    attn_logit_softcapping: Option<f64>,
    final_logit_softcapping: Option<f64>,
    sliding_window: usize,
}

fn default_rotary_pct() -> f64 {
    0.25
}
fn default_rotary_base() -> f64 {
    10000.0
}
fn default_rope_theta() -> f64 {
    10000.0
}
fn default_rms_epsilon() -> f64 {
    1e-6
}
fn default_true() -> bool {
    true
}

impl TryFrom<serde_json::Value> for Config {
    type Error = String;

    fn try_from(written: serde_json::Value) -> Result<Self, String> {
        let model_type = written
            .get("model_type")
            .and_then(|t| t.as_str())
            .unwrap_or("gpt2")
            .to_string();
        let read = |e: serde_json::Error| e.to_string();
        let config = match model_type.as_str() {
            "gpt2" => Config::from(serde_json::from_value::<Gpt2Written>(written).map_err(read)?),
            "gpt_neox" => {
                Config::from(serde_json::from_value::<NeoXWritten>(written).map_err(read)?)
            }
            "llama" | "qwen2" => {
                let family = if model_type == "llama" {
                    Family::Llama
                } else {
                    Family::Qwen2
                };
                let llama = serde_json::from_value::<LlamaWritten>(written).map_err(read)?;
                Config::llama(family, llama)?
            }
            "gemma2" => {
                Config::gemma2(serde_json::from_value::<GemmaWritten>(written).map_err(read)?)?
            }
            other => {
                return Err(format!(
                    "model_type `{other}` is not one circuitcheck runs (gpt2, gpt_neox, llama, qwen2, gemma2)"
                ));
            }
        };
        match config.problem() {
            Some(problem) => Err(problem),
            None => Ok(config),
        }
    }
}

impl From<Gpt2Written> for Config {
    fn from(w: Gpt2Written) -> Self {
        Config {
            n_inner: w.n_inner,
            layer_norm_epsilon: w.layer_norm_epsilon,
            ..Config::gpt2(w.vocab_size, w.n_positions, w.n_embd, w.n_layer, w.n_head)
        }
    }
}

impl From<NeoXWritten> for Config {
    fn from(w: NeoXWritten) -> Self {
        let head_dim = w
            .hidden_size
            .checked_div(w.num_attention_heads)
            .unwrap_or(0);
        Config {
            family: Family::NeoX,
            vocab_size: w.vocab_size,
            n_positions: w.max_position_embeddings,
            n_embd: w.hidden_size,
            n_layer: w.num_hidden_layers,
            n_head: w.num_attention_heads,
            n_inner: Some(w.intermediate_size),
            layer_norm_epsilon: w.layer_norm_eps,
            n_kv_head: w.num_attention_heads,
            head_dim,
            rotary: Some(Rotary {
                // As GPT-NeoX rounds it down.
                dims: (head_dim as f64 * w.rotary_pct.clamp(0.0, 1.0)) as usize,
                base: w.rotary_emb_base,
                scaling: None,
            }),
            parallel_residual: w.use_parallel_residual,
            tied_embeddings: w.tie_word_embeddings,
            gemma: None,
        }
    }
}

impl Config {
    fn llama(family: Family, w: LlamaWritten) -> Result<Self, String> {
        if w.mlp_bias {
            return Err("`mlp_bias` is true; circuitcheck runs Llama MLPs without biases".into());
        }
        if w.attention_bias && family == Family::Llama {
            return Err(
                "`attention_bias` is true; circuitcheck runs Llama attention without biases".into(),
            );
        }
        let scaling = match w.rope_scaling {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => {
                let kind = value
                    .get("rope_type")
                    .or_else(|| value.get("type"))
                    .and_then(|t| t.as_str())
                    .unwrap_or("");
                if kind != "llama3" {
                    return Err(format!(
                        "rope_scaling of type `{kind}` is not supported (only Llama-3's `llama3`)"
                    ));
                }
                Some(serde_json::from_value(value).map_err(|e| format!("rope_scaling: {e}"))?)
            }
        };
        let head_dim = w.head_dim.unwrap_or_else(|| {
            w.hidden_size
                .checked_div(w.num_attention_heads)
                .unwrap_or(0)
        });
        Ok(Config {
            family,
            vocab_size: w.vocab_size,
            n_positions: w.max_position_embeddings,
            n_embd: w.hidden_size,
            n_layer: w.num_hidden_layers,
            n_head: w.num_attention_heads,
            n_inner: Some(w.intermediate_size),
            layer_norm_epsilon: w.rms_norm_eps,
            n_kv_head: w.num_key_value_heads.unwrap_or(w.num_attention_heads),
            head_dim,
            rotary: Some(Rotary {
                dims: head_dim,
                base: w.rope_theta,
                scaling,
            }),
            parallel_residual: false,
            tied_embeddings: w.tie_word_embeddings,
            gemma: None,
        })
    }

    fn gemma2(w: GemmaWritten) -> Result<Self, String> {
        let (Some(attn_logit_softcapping), Some(final_logit_softcapping)) =
            (w.attn_logit_softcapping, w.final_logit_softcapping)
        else {
            return Err("Gemma-2 configs give both soft-capping values".into());
        };
        let positive = [
            ("query_pre_attn_scalar", w.query_pre_attn_scalar),
            ("attn_logit_softcapping", attn_logit_softcapping),
            ("final_logit_softcapping", final_logit_softcapping),
        ];
        if let Some((name, value)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(format!("`{name}` is {value}; it must be positive"));
        }
        Ok(Config {
            family: Family::Gemma2,
            vocab_size: w.vocab_size,
            n_positions: w.max_position_embeddings,
            n_embd: w.hidden_size,
            n_layer: w.num_hidden_layers,
            n_head: w.num_attention_heads,
            n_inner: Some(w.intermediate_size),
            layer_norm_epsilon: w.rms_norm_eps,
            n_kv_head: w.num_key_value_heads,
            head_dim: w.head_dim,
            rotary: Some(Rotary {
                dims: w.head_dim,
                base: w.rope_theta,
                scaling: None,
            }),
            parallel_residual: false,
            tied_embeddings: true,
            gemma: Some(GemmaDetails {
                query_pre_attn_scalar: w.query_pre_attn_scalar,
                attn_logit_softcapping,
                final_logit_softcapping,
                sliding_window: w.sliding_window.max(1),
            }),
        })
    }

    /// A GPT-2 of these sizes (MLP 4 × n_embd, ε 1e-5).
    pub fn gpt2(
        vocab_size: usize,
        n_positions: usize,
        n_embd: usize,
        n_layer: usize,
        n_head: usize,
    ) -> Self {
        Config {
            family: Family::Gpt2,
            vocab_size,
            n_positions,
            n_embd,
            n_layer,
            n_head,
            n_inner: None,
            layer_norm_epsilon: 1e-5,
            n_kv_head: n_head,
            head_dim: n_embd.checked_div(n_head).unwrap_or(0),
            rotary: None,
            parallel_residual: false,
            tied_embeddings: true,
            gemma: None,
        }
    }
}

impl Config {
    /// GPT-2 small (124M).
    pub fn gpt2_small() -> Self {
        Self::gpt2(50257, 1024, 768, 12, 12)
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
        let head_dim_is_derived = matches!(self.family, Family::Gpt2 | Family::NeoX);
        if head_dim_is_derived && !self.n_embd.is_multiple_of(self.n_head) {
            return Some(format!(
                "`n_head` ({}) does not divide `n_embd` ({}): heads split the embedding evenly",
                self.n_head, self.n_embd
            ));
        }
        if self.head_dim == 0 {
            return Some("`head_dim` is 0; every size of a model is at least 1".into());
        }
        if self.n_kv_head == 0 || !self.n_head.is_multiple_of(self.n_kv_head) {
            return Some(format!(
                "`num_key_value_heads` ({}) does not divide `num_attention_heads` ({}): each \
                 key/value head serves the same number of query heads",
                self.n_kv_head, self.n_head
            ));
        }
        if let Some(rotary) = &self.rotary {
            if rotary.dims > self.head_dim || !rotary.dims.is_multiple_of(2) {
                return Some(format!(
                    "rotary embeddings on {} of {} dimensions per head: they rotate an even \
                     number of them, at most all",
                    rotary.dims, self.head_dim
                ));
            }
            if !(rotary.base.is_finite() && rotary.base > 1.0) {
                return Some(format!(
                    "the rotary base is {}; it must exceed 1",
                    rotary.base
                ));
            }
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
        let q = self.n_head.checked_mul(self.head_dim)?;
        let kv = self.n_kv_head.checked_mul(self.head_dim)?;
        let mlp_matrices = if self.gated_mlp() { 3 } else { 2 };
        let per_layer = [
            d.checked_mul(4)?,                                  // two norms
            d.checked_mul(q.checked_add(kv.checked_mul(2)?)?)?, // q, k, v
            q.checked_add(kv.checked_mul(2)?)?,                 // their biases
            q.checked_mul(d)?.checked_add(d)?,                  // output
            d.checked_mul(m)?.checked_mul(mlp_matrices)?,       // MLP weights
            m.checked_add(d)?,                                  // MLP biases
        ]
        .iter()
        .try_fold(0usize, |total, n| total.checked_add(*n))?;
        let embeddings = self
            .vocab_size
            .checked_add(self.n_positions)?
            .checked_mul(d)?
            .checked_mul(2)?;
        per_layer
            .checked_mul(self.n_layer)?
            .checked_add(embeddings)?
            .checked_add(d.checked_mul(2)?)
    }

    /// Whether edges mean anything: every head's result is a difference it adds to the
    /// stream (not in Gemma-2, whose attention output is normed first).
    pub fn has_edge_level(&self) -> bool {
        self.gemma.is_none()
    }

    /// A SwiGLU MLP (gate, up, down) rather than two matrices around an activation.
    pub fn gated_mlp(&self) -> bool {
        matches!(self.family, Family::Llama | Family::Qwen2 | Family::Gemma2)
    }

    pub fn d_head(&self) -> usize {
        self.head_dim
    }

    pub fn d_mlp(&self) -> usize {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    /// Every tensor of a checkpoint with its shape, by its Hugging Face name (no prefix).
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        match self.family {
            Family::Gpt2 => crate::model::gpt2::expected_tensors(self),
            Family::NeoX => crate::model::neox::expected_tensors(self),
            Family::Llama | Family::Qwen2 => crate::model::llama::expected_tensors(self),
            Family::Gemma2 => crate::model::gemma2::expected_tensors(self),
        }
    }

    /// Parameters of the model (tied unembedding counted once).
    pub fn parameter_count(&self) -> usize {
        self.expected_tensors()
            .iter()
            .map(|(_, shape)| shape.iter().product::<usize>())
            .sum()
    }
}
