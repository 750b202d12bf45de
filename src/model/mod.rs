//! The transformer with head-level interventions (GPT-2, GPT-NeoX, Llama, Qwen2), its
//! weights and its tokenizer.
//!
//! A pass takes a `Batch` of right-padded token rows and `Interventions`: per layer, a
//! `HeadPatch` (keep-mask `[rows, seq, heads]` and replacement result vectors
//! `[rows, seq, heads, d_model]`) and an `MlpPatch`, and optionally an `EdgePatch` that gives
//! chosen heads their own q/k/v inputs, and chosen MLPs their own input, built from a subset
//! of senders. It returns the
//! requested `Readout` (logits of a few tokens at one position per row, or full logits) and
//! whatever `Capture` asked for (head results, MLP outputs, residual streams).

mod bpe_file;
pub mod config;
mod device;
pub mod error;
mod gelu;
pub mod gemma2;
pub mod gpt2;
pub mod intervention;
mod layers;
pub mod llama;
pub mod locate;
mod memory;
pub mod neox;
pub mod tokenizer;
pub mod transformer;
pub mod weights;

pub use config::{Config, Family};
pub use device::{DeviceChoice, describe as describe_device};
pub use error::ModelError;
pub use intervention::*;
pub use locate::{ModelFiles, locate};
pub use memory::reuse_freed_memory;
pub use tokenizer::Tokenizer;
pub use transformer::{Attribution, LoadedModel, Objective, Transformer};
