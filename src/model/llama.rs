//! Llama and Qwen2: RMSNorm, rotary embeddings on all of each head, SwiGLU MLPs, separate
//! q, k, v and o projections (Qwen2's q, k, v with biases) and grouped-query attention, whose
//! key/value columns the common layout repeats for each query head they serve.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::model::config::{Config, Family};
use crate::model::error::Result;
use crate::model::layers::{Activation, Mlp, Norm, input_major, no_bias};
use crate::model::transformer::{Block, Weights};

pub fn expected_tensors(config: &Config) -> Vec<(String, Vec<usize>)> {
    let (d, m, v) = (config.n_embd, config.d_mlp(), config.vocab_size);
    let (q, kv) = (
        config.n_head * config.d_head(),
        config.n_kv_head * config.d_head(),
    );
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..config.n_layer {
        let mut shapes: Vec<(&str, Vec<usize>)> = vec![
            ("input_layernorm.weight", vec![d]),
            ("self_attn.q_proj.weight", vec![q, d]),
            ("self_attn.k_proj.weight", vec![kv, d]),
            ("self_attn.v_proj.weight", vec![kv, d]),
            ("self_attn.o_proj.weight", vec![d, q]),
            ("post_attention_layernorm.weight", vec![d]),
            ("mlp.gate_proj.weight", vec![m, d]),
            ("mlp.up_proj.weight", vec![m, d]),
            ("mlp.down_proj.weight", vec![d, m]),
        ];
        if config.family == Family::Qwen2 {
            shapes.push(("self_attn.q_proj.bias", vec![q]));
            shapes.push(("self_attn.k_proj.bias", vec![kv]));
            shapes.push(("self_attn.v_proj.bias", vec![kv]));
        }
        for (name, shape) in shapes {
            out.push((format!("model.layers.{i}.{name}"), shape));
        }
    }
    out.push(("model.norm.weight".to_string(), vec![d]));
    if !config.tied_embeddings {
        out.push(("lm_head.weight".to_string(), vec![v, d]));
    }
    out
}

pub fn load(vb: &VarBuilder, config: &Config) -> Result<Weights> {
    let (d, m, eps) = (config.n_embd, config.d_mlp(), config.layer_norm_epsilon);
    let (q, kv) = (
        config.n_head * config.d_head(),
        config.n_kv_head * config.d_head(),
    );
    let shared = kv_of_query_heads(config, vb.device())?;
    let blocks = (0..config.n_layer)
        .map(|layer| {
            let vb = vb.pp(format!("model.layers.{layer}"));
            let attn = vb.pp("self_attn");
            let w_q = input_major(&attn, q, d, "q_proj.weight")?;
            let w_k = input_major(&attn, kv, d, "k_proj.weight")?.index_select(&shared, 1)?;
            let w_v = input_major(&attn, kv, d, "v_proj.weight")?.index_select(&shared, 1)?;
            let bias = match config.family {
                Family::Qwen2 => Tensor::cat(
                    &[
                        attn.get(q, "q_proj.bias")?,
                        attn.get(kv, "k_proj.bias")?.index_select(&shared, 0)?,
                        attn.get(kv, "v_proj.bias")?.index_select(&shared, 0)?,
                    ],
                    0,
                )?,
                _ => no_bias(3 * q, vb.device())?,
            };
            Ok(Block {
                layer,
                ln_1: Norm::rms(&vb.pp("input_layernorm"), d, eps)?,
                c_attn_w: Tensor::cat(&[w_q, w_k, w_v], 1)?,
                c_attn_b: bias,
                c_proj_w: input_major(&attn, d, q, "o_proj.weight")?,
                c_proj_b: no_bias(d, vb.device())?,
                post_norms: None,
                ln_2: Norm::rms(&vb.pp("post_attention_layernorm"), d, eps)?,
                mlp: Mlp::Gated {
                    gate_w: input_major(&vb, m, d, "mlp.gate_proj.weight")?,
                    up_w: input_major(&vb, m, d, "mlp.up_proj.weight")?,
                    down_w: input_major(&vb, d, m, "mlp.down_proj.weight")?,
                    activation: Activation::Silu,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let token_embedding = vb.get((config.vocab_size, d), "model.embed_tokens.weight")?;
    let unembed = if config.tied_embeddings {
        token_embedding.clone()
    } else {
        vb.get((config.vocab_size, d), "lm_head.weight")?
    };
    Ok(Weights {
        token_embedding,
        position_embedding: None,
        blocks,
        final_norm: Norm::rms(&vb.pp("model.norm"), d, eps)?,
        unembed,
    })
}

/// For each query head's key (or value) column, the column of the key/value head it shares:
/// query head h reads key/value head h / (n_head / n_kv_head).
pub fn kv_of_query_heads(config: &Config, device: &candle_core::Device) -> Result<Tensor> {
    let (d_head, group) = (config.d_head(), config.n_head / config.n_kv_head);
    let columns: Vec<u32> = (0..config.n_head)
        .flat_map(|h| {
            let shared = h / group;
            (shared * d_head..(shared + 1) * d_head).map(|c| c as u32)
        })
        .collect();
    Ok(Tensor::new(columns, device)?)
}
