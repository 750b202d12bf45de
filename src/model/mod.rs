//! GPT-2 with head-level interventions, its weights and its tokenizer.

pub mod tokenizer;

pub use tokenizer::Tokenizer;
