//! Knockouts and the faithfulness, completeness and minimality metrics.

pub mod attention;
pub mod bootstrap;
pub mod cache;
pub mod check;
pub mod curve;
pub mod discover;
pub mod edge_attribution;
pub mod patch;
pub mod readout;
pub mod reference;
pub mod runner;
pub mod schema;
pub mod sensitivity;
pub mod session;
pub mod suggest;
pub mod variant;
