//! Writes tiny random GPT-NeoX, Llama, Qwen2 and Gemma-2 models in their Hugging Face layouts, one
//! directory per variant under DIR, for `scripts/crosscheck_reference.py`:
//!
//!     cargo run --no-default-features --example write_tiny_models -- DIR

use std::path::PathBuf;

use circuitcheck::testing::{TinyModel, tokenizer_size};

/// The variants the cross-check covers: every option of [`TinyModel`] on and off.
pub fn variants() -> Vec<(&'static str, TinyModel)> {
    let words = TinyModel::neox().words;
    vec![
        ("neox", TinyModel::neox()),
        (
            "neox_sequential",
            TinyModel {
                rotary_pct: 0.5,
                parallel_residual: false,
                vocab_size: None,
                legacy_buffers: true,
                seed: 1,
                ..TinyModel::neox()
            },
        ),
        ("llama", TinyModel::llama()),
        (
            "llama_tied_mqa",
            TinyModel {
                kv_heads: 1,
                head_dim: 16,
                tie_word_embeddings: true,
                rope_scaling: None,
                rope_theta: 10000.0,
                vocab_size: Some(tokenizer_size(&words) + 7),
                seed: 2,
                ..TinyModel::llama()
            },
        ),
        ("qwen2", TinyModel::qwen2()),
        (
            "qwen2_untied_mha",
            TinyModel {
                kv_heads: 4,
                head_dim: 12,
                tie_word_embeddings: false,
                legacy_buffers: true,
                seed: 3,
                ..TinyModel::qwen2()
            },
        ),
        ("gemma2", TinyModel::gemma2()),
        (
            "gemma2_uncapped_untied_mha",
            TinyModel {
                kv_heads: 4,
                head_dim: 8,
                query_pre_attn_scalar: 10,
                attn_logit_softcapping: None,
                final_logit_softcapping: None,
                tie_word_embeddings: false,
                vocab_size: Some(tokenizer_size(&words) + 7),
                seed: 4,
                ..TinyModel::gemma2()
            },
        ),
        (
            // A window shorter than the long row: the reference's sliding layers against HF's.
            "gemma2_window",
            TinyModel {
                kv_heads: 1,
                sliding_window: 5,
                legacy_buffers: true,
                seed: 5,
                ..TinyModel::gemma2()
            },
        ),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: write_tiny_models DIR")?,
    );
    for (name, model) in variants() {
        model.write(&dir.join(name))?;
        println!("{name}");
    }
    Ok(())
}
