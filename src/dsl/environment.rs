//! What the checker knows about the world outside the file: the shapes of the models and
//! the position names of the tasks a circuit can name.

/// Layers and heads per layer of a model a circuit can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelShape {
    pub layers: u32,
    pub heads: u32,
}

pub trait Environment {
    fn model_shape(&self, model: &str) -> Option<ModelShape>;
    /// The named positions of a task, in the task's order.
    fn task_positions(&self, task: &str) -> Option<Vec<String>>;
    fn known_models(&self) -> Vec<String>;
    fn known_tasks(&self) -> Vec<String>;
}

/// The models and tasks that ship with circuitcheck.
#[derive(Clone, Copy, Debug, Default)]
pub struct Builtin;

const MODELS: &[(&str, ModelShape)] = &[
    (
        "gpt2-small",
        ModelShape {
            layers: 12,
            heads: 12,
        },
    ),
    (
        "toy-induction",
        ModelShape {
            layers: 2,
            heads: 4,
        },
    ),
];

impl Environment for Builtin {
    fn model_shape(&self, model: &str) -> Option<ModelShape> {
        MODELS
            .iter()
            .find(|(name, _)| *name == model)
            .map(|(_, shape)| *shape)
    }

    fn task_positions(&self, task: &str) -> Option<Vec<String>> {
        crate::task::Task::builtin(task).map(|t| t.position_names())
    }

    fn known_models(&self) -> Vec<String> {
        MODELS.iter().map(|(name, _)| name.to_string()).collect()
    }

    fn known_tasks(&self) -> Vec<String> {
        crate::task::builtin_names()
            .into_iter()
            .map(String::from)
            .collect()
    }
}
