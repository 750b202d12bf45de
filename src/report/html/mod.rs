//! The HTML report (`check --html`, `diff --eval --html`, `sensitivity --html`): one
//! self-contained page, its charts and drawings as inline SVG.

mod charts;
mod components;
mod curve;
mod graph_edges;
mod heatmap;
mod histogram;
mod layered;
mod markup;
mod minimality_shading;
mod page;
mod plot;
mod scatter;
mod svg;

pub use heatmap::{diverging_heatmap, heatmap};
pub use markup::escape;
pub use page::{Run, Side, check_page, comparison_page, curve_page, sensitivity_page};
