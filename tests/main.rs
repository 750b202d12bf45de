//! Every integration test, in one crate: one binary to compile and link against candle
//! instead of one per file. Each file under tests/ is a module here, and tests/common/ holds
//! what they share. All of them run in one process, on parallel threads: a test may not
//! change the process's environment or working directory, and its temporary files are its own.
//!
//! One file's tests: `cargo test --no-default-features --test main lint::`.

mod common;

mod batching;
mod check_cli;
mod check_probability;
mod check_reference;
mod curve;
mod diff;
mod discover;
mod discover_cli;
mod eap;
mod eval;
mod families;
mod fmt;
mod fuzz;
mod gemma2;
mod graph;
mod highlight;
mod html_browser;
mod html_report;
mod layers;
mod lint;
mod lsp;
mod model_errors;
mod model_reference;
mod sensitivity;
mod suggest;
mod task;
mod task_files;
mod tokenizer;
mod toy;
mod variants;
