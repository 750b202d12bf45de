//! GPT-NeoX (Pythia): rotary embeddings on part of each head, attention and MLP in parallel,
//! exact GELU, an untied unembedding, and q, k, v fused per head in one matrix.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::model::config::Config;
use crate::model::error::Result;
use crate::model::layers::{Activation, Mlp, Norm, input_major};
use crate::model::transformer::{Block, Weights};

pub fn expected_tensors(config: &Config) -> Vec<(String, Vec<usize>)> {
    let (d, m, v) = (config.n_embd, config.d_mlp(), config.vocab_size);
    let mut out = vec![("gpt_neox.embed_in.weight".to_string(), vec![v, d])];
    for i in 0..config.n_layer {
        let shapes: [(&str, Vec<usize>); 12] = [
            ("input_layernorm.weight", vec![d]),
            ("input_layernorm.bias", vec![d]),
            ("attention.query_key_value.weight", vec![3 * d, d]),
            ("attention.query_key_value.bias", vec![3 * d]),
            ("attention.dense.weight", vec![d, d]),
            ("attention.dense.bias", vec![d]),
            ("post_attention_layernorm.weight", vec![d]),
            ("post_attention_layernorm.bias", vec![d]),
            ("mlp.dense_h_to_4h.weight", vec![m, d]),
            ("mlp.dense_h_to_4h.bias", vec![m]),
            ("mlp.dense_4h_to_h.weight", vec![d, m]),
            ("mlp.dense_4h_to_h.bias", vec![d]),
        ];
        for (name, shape) in shapes {
            out.push((format!("gpt_neox.layers.{i}.{name}"), shape));
        }
    }
    out.push(("gpt_neox.final_layer_norm.weight".to_string(), vec![d]));
    out.push(("gpt_neox.final_layer_norm.bias".to_string(), vec![d]));
    if !config.tied_embeddings {
        out.push(("embed_out.weight".to_string(), vec![v, d]));
    }
    out
}

pub fn load(vb: &VarBuilder, config: &Config) -> Result<Weights> {
    let (d, m, eps) = (config.n_embd, config.d_mlp(), config.layer_norm_epsilon);
    let order = qkv_order(config, vb.device())?;
    let blocks = (0..config.n_layer)
        .map(|layer| {
            let vb = vb.pp(format!("gpt_neox.layers.{layer}"));
            let qkv = vb.pp("attention.query_key_value");
            Ok(Block {
                layer,
                ln_1: Norm::layer(&vb.pp("input_layernorm"), d, eps)?,
                c_attn_w: qkv
                    .get((3 * d, d), "weight")?
                    .index_select(&order, 0)?
                    .t()?
                    .contiguous()?,
                c_attn_b: qkv.get(3 * d, "bias")?.index_select(&order, 0)?,
                c_proj_w: input_major(&vb, d, d, "attention.dense.weight")?,
                c_proj_b: vb.get(d, "attention.dense.bias")?,
                post_norms: None,
                ln_2: Norm::layer(&vb.pp("post_attention_layernorm"), d, eps)?,
                mlp: Mlp::Plain {
                    fc_w: input_major(&vb, m, d, "mlp.dense_h_to_4h.weight")?,
                    fc_b: vb.get(m, "mlp.dense_h_to_4h.bias")?,
                    proj_w: input_major(&vb, d, m, "mlp.dense_4h_to_h.weight")?,
                    proj_b: vb.get(d, "mlp.dense_4h_to_h.bias")?,
                    activation: Activation::GeluErf,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let token_embedding = vb.get((config.vocab_size, d), "gpt_neox.embed_in.weight")?;
    let unembed = if config.tied_embeddings {
        token_embedding.clone()
    } else {
        vb.get((config.vocab_size, d), "embed_out.weight")?
    };
    Ok(Weights {
        token_embedding,
        position_embedding: None,
        blocks,
        final_norm: Norm::layer(&vb.pp("gpt_neox.final_layer_norm"), d, eps)?,
        unembed,
    })
}

/// GPT-NeoX fuses each head's q, k and v (output row h·3·d_head + part·d_head + i); the
/// common layout puts all heads' q, then k, then v (row part·d + h·d_head + i).
fn qkv_order(config: &Config, device: &candle_core::Device) -> Result<Tensor> {
    let (heads, d_head) = (config.n_head, config.d_head());
    let rows: Vec<u32> = (0..3)
        .flat_map(|part| {
            (0..heads).flat_map(move |h| {
                (0..d_head).map(move |i| (h * 3 * d_head + part * d_head + i) as u32)
            })
        })
        .collect();
    Ok(Tensor::new(rows, device)?)
}
