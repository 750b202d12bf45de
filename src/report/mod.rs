//! Everything circuitcheck shows a person or a machine: diagnostics, graphs, results.

mod charts;
pub mod check;
pub mod comparison;
pub mod diagnostics;
pub mod diff;
pub mod excerpt;
mod heatmap;
mod histogram;
pub mod html;
mod layered;
mod plot;
mod scatter;
pub mod sensitivity;
pub mod style;
mod svg;
