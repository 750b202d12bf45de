//! What the checker knows about the world outside the file: the shapes of the models and
//! the position names of the tasks a circuit can name. The language defines the questions;
//! the layer that knows models and tasks (`catalog`) answers them.

use crate::dsl::circuit::TaskRef;
use crate::dsl::diagnostic::Diagnostic;

/// Layers and heads per layer of a model a circuit can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelShape {
    pub layers: u32,
    pub heads: u32,
    /// Whether each MLP reads its block's input (GPT-NeoX's `use_parallel_residual`) rather
    /// than the stream after its layer's attention: then it cannot read that attention.
    pub parallel_residual: bool,
}

/// Why a task has no positions to check a circuit against.
#[derive(Clone, Debug)]
pub enum TaskProblem {
    /// No built-in task has this name.
    Unknown,
    /// The task file has problems, each pointing into it.
    Invalid(Vec<Diagnostic>),
}

pub trait Environment {
    fn model_shape(&self, model: &str) -> Option<ModelShape>;
    fn known_models(&self) -> Vec<String>;
    /// The named positions of a task, in the task's order.
    fn task_positions(&self, task: &TaskRef) -> Result<Vec<String>, TaskProblem>;
    /// The built-in tasks, for help lines.
    fn known_tasks(&self) -> Vec<String>;
}
