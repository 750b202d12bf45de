//! Knockouts and the faithfulness, completeness and minimality metrics.

pub mod bootstrap;
pub mod cache;
pub mod reference;
pub mod variant;
