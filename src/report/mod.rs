//! Everything circuitcheck shows a person or a machine: diagnostics, graphs, results.

pub mod check;
pub mod comparison;
pub mod diagnostics;
pub mod diff;
pub mod excerpt;
pub mod sensitivity;
pub mod style;
