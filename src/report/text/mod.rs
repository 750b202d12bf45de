//! The text reports: terminal (with `style`'s colours), Markdown and JSON.

pub mod check;
pub mod comparison;
pub mod curve;
pub mod diagnostics;
pub mod diff;
pub mod discover;
pub mod excerpt;
pub mod sensitivity;
pub mod style;
pub mod suggest;
pub mod warnings;
