//! Gemma-2: Llama's attention (grouped-query, rotary) with scores scaled by
//! `query_pre_attn_scalar` and soft-capped, RMSNorms that scale by (1 + weight) before and
//! after each of attention and MLP, GeGLU MLPs, embeddings scaled by √d_model and tied,
//! soft-capped logits (those details are `Config::gemma`, applied by the transformer).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::model::config::Config;
use crate::model::error::Result;
use crate::model::layers::{Activation, Mlp, Norm, input_major, no_bias};
use crate::model::llama::kv_of_query_heads;
use crate::model::transformer::{Block, Weights};

pub fn expected_tensors(config: &Config) -> Vec<(String, Vec<usize>)> {
    let (d, m, v) = (config.n_embd, config.d_mlp(), config.vocab_size);
    let (q, kv) = (
        config.n_head * config.d_head(),
        config.n_kv_head * config.d_head(),
    );
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..config.n_layer {
        let shapes: [(&str, Vec<usize>); 11] = [
            ("input_layernorm.weight", vec![d]),
            ("self_attn.q_proj.weight", vec![q, d]),
            ("self_attn.k_proj.weight", vec![kv, d]),
            ("self_attn.v_proj.weight", vec![kv, d]),
            ("self_attn.o_proj.weight", vec![d, q]),
            ("post_attention_layernorm.weight", vec![d]),
            ("pre_feedforward_layernorm.weight", vec![d]),
            ("mlp.gate_proj.weight", vec![m, d]),
            ("mlp.up_proj.weight", vec![m, d]),
            ("mlp.down_proj.weight", vec![d, m]),
            ("post_feedforward_layernorm.weight", vec![d]),
        ];
        for (name, shape) in shapes {
            out.push((format!("model.layers.{i}.{name}"), shape));
        }
    }
    out.push(("model.norm.weight".to_string(), vec![d]));
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
            let norm = |name: &str| Norm::rms_plus_one(&vb.pp(name), d, eps);
            Ok(Block {
                layer,
                ln_1: norm("input_layernorm")?,
                c_attn_w: Tensor::cat(&[w_q, w_k, w_v], 1)?,
                c_attn_b: no_bias(3 * q, vb.device())?,
                c_proj_w: input_major(&attn, d, q, "o_proj.weight")?,
                c_proj_b: no_bias(d, vb.device())?,
                post_norms: Some((
                    norm("post_attention_layernorm")?,
                    norm("post_feedforward_layernorm")?,
                )),
                ln_2: norm("pre_feedforward_layernorm")?,
                mlp: Mlp::Gated {
                    gate_w: input_major(&vb, m, d, "mlp.gate_proj.weight")?,
                    up_w: input_major(&vb, m, d, "mlp.up_proj.weight")?,
                    down_w: input_major(&vb, d, m, "mlp.down_proj.weight")?,
                    activation: Activation::GeluTanh,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let token_embedding = vb.get((config.vocab_size, d), "model.embed_tokens.weight")?;
    Ok(Weights {
        unembed: token_embedding.clone(),
        token_embedding,
        position_embedding: None,
        blocks,
        final_norm: Norm::rms_plus_one(&vb.pp("model.norm"), d, eps)?,
    })
}
