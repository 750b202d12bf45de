//! circuitcheck: state a circuit hypothesis in a `.circuit` file, check it, and test it
//! against the model (GPT-2, Pythia, Llama, Qwen2, Gemma-2) with everything outside the
//! circuit knocked out.
//!
//! The pipeline, one module per layer (see ARCHITECTURE.md):
//! `input` (reading user files) and `output` (writing files whole) serve every stage;
//! `dsl` (text → checked `Circuit`) → `graph` (petgraph view) → `diff` (what changed between
//! two circuits) → `model` (the transformer with interventions) → `task` (datasets, named positions) →
//! `catalog` (the models and tasks a circuit can name) → `eval` (knockouts, metrics, the
//! session commands share) → `report` (terminal, JSON, Markdown, HTML) → `lsp` (editors) →
//! `cli`. Beside the pipeline: `toy`, the project's toy model and its trainer, and `testing`,
//! fixtures for the tests.

pub mod catalog;
pub mod cli;
pub mod diff;
pub mod dsl;
pub mod eval;
pub mod graph;
pub mod input;
pub mod lsp;
pub mod model;
pub mod output;
pub mod report;
pub mod task;
/// Fixtures and the fuzzer, for the tests and examples only (the `testing` feature, which
/// they turn on through a dev-dependency on this package).
#[cfg(feature = "testing")]
#[doc(hidden)]
pub mod testing;
pub mod toy;
