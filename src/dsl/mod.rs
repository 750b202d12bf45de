//! The `.circuit` language: text → syntax tree (`parser`, `trivia`) → checked `Circuit`
//! (`analyzer`, `loader` for `extends`), with `diagnostic`s for every problem, and the
//! canonical `format`ter.

pub mod analyzer;
pub mod ast;
pub mod circuit;
pub mod diagnostic;
pub mod environment;
pub mod format;
pub mod lexer;
pub mod loader;
pub mod parser;
mod trivia;

pub use circuit::*;
pub use diagnostic::{Code, Diagnostic, Fix, Severity};
pub use environment::{Environment, ModelShape, TaskProblem};
pub use loader::{FileSystem, Loaded, Loader, Sources};
