//! Everything that can go wrong finding, loading or running a model, as diagnostics that say
//! what was wrong and what to do.

use std::path::PathBuf;

use miette::Diagnostic;
use thiserror::Error;

use crate::model::tokenizer::TokenizerError;

#[derive(Debug, Error, Diagnostic)]
pub enum ModelError {
    #[error("no GPT-2 model found; tried:\n{}", tried.iter().map(|t| format!("  - {t}")).collect::<Vec<_>>().join("\n"))]
    #[diagnostic(
        code("model::not-found"),
        help(
            "pass `--model DIR` or set CIRCUITCHECK_MODEL to a directory with model.safetensors, \
             config.json and tokenizer.json (or vocab.json + merges.txt), e.g. a Hugging Face \
             snapshot of openai-community/gpt2"
        )
    )]
    NotFound { tried: Vec<String> },

    #[error("{} is missing", path.display())]
    #[diagnostic(
        code("model::missing-file"),
        help("a model directory holds model.safetensors, config.json and the tokenizer files")
    )]
    MissingFile { path: PathBuf },

    #[error("cannot read the config {}: {reason}", path.display())]
    #[diagnostic(
        code("model::config"),
        help("config.json must be a Hugging Face GPT-2 config")
    )]
    Config { path: PathBuf, reason: String },

    #[error("{} is not a readable safetensors file: {reason}", path.display())]
    #[diagnostic(
        code("model::unreadable"),
        help("the file is truncated or corrupt: download it again")
    )]
    Unreadable { path: PathBuf, reason: String },

    #[error("{} lacks {} tensor(s): {}", path.display(), names.len(), first_names(names))]
    #[diagnostic(
        code("model::missing-tensor"),
        help(
            "the checkpoint must use the Hugging Face GPT-2 names (wte.weight, h.0.attn.c_attn.weight, ...)"
        )
    )]
    MissingTensors { path: PathBuf, names: Vec<String> },

    #[error("tensor `{tensor}` in {} has shape {found:?}, expected {expected:?}", path.display())]
    #[diagnostic(
        code("model::shape"),
        help("the weights do not match config.json (layers, heads, widths or vocabulary)")
    )]
    Shape {
        path: PathBuf,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },

    #[error("tensor `{tensor}` has dtype {dtype}, which cannot be used as weights")]
    #[diagnostic(code("model::dtype"), help("weights must be f32, f16 or bf16"))]
    Dtype { tensor: String, dtype: String },

    #[error(
        "the tokenizer has {tokenizer_size} tokens but the model's vocabulary has {vocab_size}"
    )]
    #[diagnostic(
        code("model::tokenizer-mismatch"),
        help("use the tokenizer files that came with these weights")
    )]
    TokenizerMismatch {
        tokenizer_size: usize,
        vocab_size: usize,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Tokenizer(#[from] TokenizerError),

    #[error("invalid model input: {0}")]
    #[diagnostic(code("model::input"))]
    Input(String),

    #[error("tensor computation failed: {0}")]
    #[diagnostic(code("model::compute"))]
    Compute(#[from] candle_core::Error),
}

pub type Result<T> = std::result::Result<T, ModelError>;

/// The first few names of a long list (a config with many more layers than the weights
/// would list thousands).
fn first_names(names: &[String]) -> String {
    const SHOWN: usize = 12;
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
