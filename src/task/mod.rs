//! Tasks: prompt distributions with named positions, answers and reference distributions,
//! described as data (TOML).

pub mod dataset;

pub use dataset::{Dataset, MetricKind, Prompt};
