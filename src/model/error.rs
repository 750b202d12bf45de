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
        help(
            "config.json must be a Hugging Face config of a GPT-2, GPT-NeoX (Pythia), Llama or Qwen2 model"
        )
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
            "the checkpoint must use the Hugging Face names of its family (GPT-2: wte.weight, h.0.attn.c_attn.weight, ...; Llama: model.embed_tokens.weight, ...), as config.json's model_type says"
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
        "the tokenizer has {tokenizer_size} tokens but the model's vocabulary only {vocab_size}"
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

    #[error("{0}")]
    #[diagnostic(code("model::device"))]
    Device(String),

    /// A tensor operation failed: a bug, never a problem with the user's input (inputs are
    /// checked before any tensor is built). Shown without the tensor library's backtrace,
    /// with what was being computed.
    #[error("internal error: {0}")]
    #[diagnostic(
        code("model::internal"),
        help(
            "this is a bug in circuitcheck, not a problem with your input: please report it \
             with the command you ran and this message"
        )
    )]
    Internal(String),
}

impl From<candle_core::Error> for ModelError {
    fn from(error: candle_core::Error) -> Self {
        ModelError::Internal(without_backtrace(error).to_string())
    }
}

/// The error itself: candle attaches a backtrace when RUST_BACKTRACE is set.
fn without_backtrace(error: candle_core::Error) -> candle_core::Error {
    match error {
        candle_core::Error::WithBacktrace { inner, .. } => without_backtrace(*inner),
        other => other,
    }
}

impl ModelError {
    /// Says what was being computed when an internal error happened; other errors are the
    /// user's to fix and stand as they are.
    pub fn context(self, what: impl std::fmt::Display) -> Self {
        match self {
            ModelError::Internal(message) => ModelError::Internal(format!("{what}: {message}")),
            other => other,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_say_what_was_computed_without_a_backtrace() {
        let with_backtrace = candle_core::Error::WithBacktrace {
            inner: Box::new(candle_core::Error::Msg("shape mismatch [3, 4]".into())),
            backtrace: Box::new(std::backtrace::Backtrace::force_capture()),
        };
        let error = ModelError::from(with_backtrace).context("scoring C \\ {0.1}");
        assert_eq!(
            error.to_string(),
            "internal error: scoring C \\ {0.1}: shape mismatch [3, 4]"
        );
        let help = miette::Diagnostic::help(&error).unwrap().to_string();
        assert!(help.contains("please report it"), "{help}");
        // The user's own mistakes keep their message.
        let input = ModelError::Input("too long".into()).context("scoring");
        assert_eq!(input.to_string(), "invalid model input: too long");
    }
}
