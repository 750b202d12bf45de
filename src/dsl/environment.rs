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

const MODELS: &[(&str, ModelShape)] = &[(
    "gpt2-small",
    ModelShape {
        layers: 12,
        heads: 12,
    },
)];

const TASKS: &[(&str, &[&str])] = &[("ioi", &["IO", "S1", "S1+1", "S2", "END"])];

impl Environment for Builtin {
    fn model_shape(&self, model: &str) -> Option<ModelShape> {
        MODELS
            .iter()
            .find(|(name, _)| *name == model)
            .map(|(_, shape)| *shape)
    }

    fn task_positions(&self, task: &str) -> Option<Vec<String>> {
        TASKS
            .iter()
            .find(|(name, _)| *name == task)
            .map(|(_, positions)| positions.iter().map(|p| p.to_string()).collect())
    }

    fn known_models(&self) -> Vec<String> {
        MODELS.iter().map(|(name, _)| name.to_string()).collect()
    }

    fn known_tasks(&self) -> Vec<String> {
        TASKS.iter().map(|(name, _)| name.to_string()).collect()
    }
}
