//! Everything circuitcheck shows a person or a machine: diagnostics, graphs, results.

pub mod diagnostics;
pub mod diff;
