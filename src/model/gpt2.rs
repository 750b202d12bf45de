//! GPT-2: learned position embeddings, LayerNorm, GELU (tanh) MLPs, a tied unembedding, and
//! Conv1D weights stored input-major with q, k and v side by side, as the common layout is.

use candle_nn::VarBuilder;

use crate::model::config::Config;
use crate::model::error::Result;
use crate::model::layers::{Activation, Mlp, Norm};
use crate::model::transformer::{Block, Weights};

/// Every tensor of a GPT-2 checkpoint with its shape (without the optional `transformer.`).
pub fn expected_tensors(config: &Config) -> Vec<(String, Vec<usize>)> {
    let (d, m) = (config.n_embd, config.d_mlp());
    let mut out = vec![
        ("wte.weight".to_string(), vec![config.vocab_size, d]),
        ("wpe.weight".to_string(), vec![config.n_positions, d]),
    ];
    for i in 0..config.n_layer {
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

pub fn load(vb: &VarBuilder, config: &Config) -> Result<Weights> {
    let (d, m, eps) = (config.n_embd, config.d_mlp(), config.layer_norm_epsilon);
    let blocks = (0..config.n_layer)
        .map(|layer| {
            let vb = vb.pp(format!("h.{layer}"));
            Ok(Block {
                layer,
                ln_1: Norm::layer(&vb.pp("ln_1"), d, eps)?,
                c_attn_w: vb.get((d, 3 * d), "attn.c_attn.weight")?,
                c_attn_b: vb.get(3 * d, "attn.c_attn.bias")?,
                c_proj_w: vb.get((d, d), "attn.c_proj.weight")?,
                c_proj_b: vb.get(d, "attn.c_proj.bias")?,
                post_norms: None,
                ln_2: Norm::layer(&vb.pp("ln_2"), d, eps)?,
                mlp: Mlp::Plain {
                    fc_w: vb.get((d, m), "mlp.c_fc.weight")?,
                    fc_b: vb.get(m, "mlp.c_fc.bias")?,
                    proj_w: vb.get((m, d), "mlp.c_proj.weight")?,
                    proj_b: vb.get(d, "mlp.c_proj.bias")?,
                    activation: Activation::GeluTanh,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let token_embedding = vb.get((config.vocab_size, d), "wte.weight")?;
    Ok(Weights {
        unembed: token_embedding.clone(),
        token_embedding,
        position_embedding: Some(vb.get((config.n_positions, d), "wpe.weight")?),
        blocks,
        final_norm: Norm::layer(&vb.pp("ln_f"), d, eps)?,
    })
}
