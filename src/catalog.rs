//! What circuitcheck knows about the world a circuit talks about: the models it can name
//! (their shapes, and where their files come from) and the tasks (built in, or task files).
//! It answers the questions the language asks while checking a file (`dsl::Environment`) and
//! finds what a checked circuit names. It sits above `model` and `task`, so neither the
//! language nor the model depends on the other.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::NamedSource;

use crate::dsl::{Code, Diagnostic, Environment, ModelShape, TaskProblem, TaskRef};
use crate::graph::eap::{Cfg, Shape};
use crate::model::{ModelError, ModelFiles, locate};
use crate::task::{Task, TaskError};

/// A model a circuit can name.
#[derive(Clone, Copy, Debug)]
pub struct KnownModel {
    pub name: &'static str,
    pub shape: ModelShape,
    /// The width of the residual stream (`cfg.d_model` of EAP-IG's graph files).
    pub d_model: u64,
    /// Its Hugging Face repository and older aliases, or none for the project's own models
    /// (in `models/NAME`).
    pub hub: &'static [&'static str],
}

const fn shape(layers: u32, heads: u32) -> ModelShape {
    ModelShape {
        layers,
        heads,
        parallel_residual: false,
    }
}

/// Pythia's shape: every Pythia model has a parallel residual.
const fn parallel(layers: u32, heads: u32) -> ModelShape {
    ModelShape {
        layers,
        heads,
        parallel_residual: true,
    }
}

/// Every model runs through the same transformer; its `config.json` says the family (GPT-2,
/// GPT-NeoX, Llama, Qwen2, Gemma-2). Heads are query heads (Llama and Qwen2 share key/value heads).
pub const MODELS: &[KnownModel] = &[
    KnownModel {
        name: "gpt2-small",
        shape: shape(12, 12),
        d_model: 768,
        hub: &["openai-community/gpt2", "gpt2"],
    },
    KnownModel {
        name: "gpt2-medium",
        shape: shape(24, 16),
        d_model: 1024,
        hub: &["openai-community/gpt2-medium", "gpt2-medium"],
    },
    KnownModel {
        name: "gpt2-large",
        shape: shape(36, 20),
        d_model: 1280,
        hub: &["openai-community/gpt2-large", "gpt2-large"],
    },
    KnownModel {
        name: "gpt2-xl",
        shape: shape(48, 25),
        d_model: 1600,
        hub: &["openai-community/gpt2-xl", "gpt2-xl"],
    },
    KnownModel {
        name: "distilgpt2",
        shape: shape(6, 12),
        d_model: 768,
        hub: &["distilbert/distilgpt2", "distilgpt2"],
    },
    KnownModel {
        name: "pythia-70m",
        shape: parallel(6, 8),
        d_model: 512,
        hub: &["EleutherAI/pythia-70m"],
    },
    KnownModel {
        name: "pythia-70m-deduped",
        shape: parallel(6, 8),
        d_model: 512,
        hub: &["EleutherAI/pythia-70m-deduped"],
    },
    KnownModel {
        name: "pythia-160m",
        shape: parallel(12, 12),
        d_model: 768,
        hub: &["EleutherAI/pythia-160m"],
    },
    KnownModel {
        name: "pythia-160m-deduped",
        shape: parallel(12, 12),
        d_model: 768,
        hub: &["EleutherAI/pythia-160m-deduped"],
    },
    KnownModel {
        name: "pythia-410m",
        shape: parallel(24, 16),
        d_model: 1024,
        hub: &["EleutherAI/pythia-410m"],
    },
    KnownModel {
        name: "pythia-410m-deduped",
        shape: parallel(24, 16),
        d_model: 1024,
        hub: &["EleutherAI/pythia-410m-deduped"],
    },
    KnownModel {
        name: "pythia-1b",
        shape: parallel(16, 8),
        d_model: 2048,
        hub: &["EleutherAI/pythia-1b"],
    },
    KnownModel {
        name: "pythia-1.4b",
        shape: parallel(24, 16),
        d_model: 2048,
        hub: &["EleutherAI/pythia-1.4b"],
    },
    KnownModel {
        name: "qwen2.5-0.5b",
        shape: shape(24, 14),
        d_model: 896,
        hub: &["Qwen/Qwen2.5-0.5B"],
    },
    KnownModel {
        name: "qwen2.5-0.5b-instruct",
        shape: shape(24, 14),
        d_model: 896,
        hub: &["Qwen/Qwen2.5-0.5B-Instruct"],
    },
    KnownModel {
        name: "qwen2.5-1.5b",
        shape: shape(28, 12),
        d_model: 1536,
        hub: &["Qwen/Qwen2.5-1.5B"],
    },
    KnownModel {
        name: "llama-3.2-1b",
        shape: shape(16, 32),
        d_model: 2048,
        hub: &["meta-llama/Llama-3.2-1B"],
    },
    KnownModel {
        name: "llama-3.2-3b",
        shape: shape(28, 24),
        d_model: 3072,
        hub: &["meta-llama/Llama-3.2-3B"],
    },
    KnownModel {
        name: "llama-3.1-8b",
        shape: shape(32, 32),
        d_model: 4096,
        hub: &["meta-llama/Llama-3.1-8B"],
    },
    KnownModel {
        name: "gemma-2-2b",
        shape: shape(26, 8),
        d_model: 2304,
        hub: &["google/gemma-2-2b"],
    },
    KnownModel {
        name: "toy-induction",
        shape: shape(2, 4),
        d_model: 64,
        hub: &[],
    },
];

pub fn model(name: &str) -> Option<&'static KnownModel> {
    MODELS.iter().find(|m| m.name == name)
}

impl KnownModel {
    /// The shape of its graph in EAP-IG's files.
    pub fn graph_shape(&self) -> Shape {
        Shape {
            layers: self.shape.layers,
            heads: self.shape.heads,
            parallel_attn_mlp: self.shape.parallel_residual,
        }
    }

    /// Whether a graph file's `cfg` describes this model (`d_model` when the file gives it).
    pub fn matches(&self, cfg: &Cfg) -> bool {
        self.graph_shape() == cfg.shape() && cfg.d_model.is_none_or(|d| d == self.d_model)
    }
}

/// The known models a graph file's `cfg` describes.
pub fn models_matching(cfg: &Cfg) -> Vec<&'static KnownModel> {
    MODELS.iter().filter(|m| m.matches(cfg)).collect()
}

/// The environment circuits are checked against: the known models and built-in tasks, and
/// task files as the loader read them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Catalog;

impl Environment for Catalog {
    fn model_shape(&self, name: &str) -> Option<ModelShape> {
        model(name).map(|m| m.shape)
    }

    fn known_models(&self) -> Vec<String> {
        MODELS.iter().map(|m| m.name.to_string()).collect()
    }

    fn task_positions(&self, task: &TaskRef) -> Result<Vec<String>, TaskProblem> {
        match load_task(task) {
            Ok(task) => Ok(task.position_names()),
            Err(TaskError::Unknown { .. }) => Err(TaskProblem::Unknown),
            Err(error) => Err(TaskProblem::Invalid(vec![as_diagnostic(task, &error)])),
        }
    }

    fn known_tasks(&self) -> Vec<String> {
        crate::task::builtin_names()
            .into_iter()
            .map(String::from)
            .collect()
    }
}

/// The task a circuit names, ready to make datasets.
pub fn load_task(task: &TaskRef) -> Result<Task, TaskError> {
    match task {
        TaskRef::Builtin(name) => Task::named(name),
        TaskRef::File { path, text } => Task::from_source(path, text),
    }
}

/// `--task NAME|FILE`: a built-in task by name, else a task file by path.
pub fn task_argument(argument: &str) -> Result<TaskRef, TaskError> {
    if crate::task::is_task_file(argument) {
        let text = crate::task::read_task_file(Path::new(argument))?;
        return Ok(TaskRef::File {
            path: argument.to_string(),
            text,
        });
    }
    Ok(TaskRef::Builtin(argument.to_string()))
}

/// A problem of a task file as a diagnostic of the language, pointing into the TOML.
fn as_diagnostic(task: &TaskRef, error: &TaskError) -> Diagnostic {
    let (name, text) = match task {
        TaskRef::File { path, text } => (path.as_str(), text.as_str()),
        TaskRef::Builtin(name) => (name.as_str(), ""),
    };
    let source = NamedSource::new(name, Arc::<str>::from(text));
    let report: &dyn miette::Diagnostic = error;
    let code = match report.code().map(|c| c.to_string()).as_deref() {
        Some("task::syntax") => Code::TaskFileSyntax,
        _ => Code::TaskFileInvalid,
    };
    let label = report.labels().and_then(|mut labels| labels.next());
    let span = label
        .as_ref()
        .map(|l| crate::dsl::ast::Span {
            start: l.offset(),
            end: l.offset() + l.len(),
        })
        .unwrap_or_default();
    let text = label.and_then(|l| l.label().map(str::to_string));
    let mut diagnostic = Diagnostic::new(
        code,
        &source,
        span,
        error.to_string(),
        text.unwrap_or_default(),
    );
    if let Some(help) = report.help() {
        diagnostic = diagnostic.with_help(help.to_string());
    }
    diagnostic
}

/// The files of the model a circuit names: `--model DIR` when given; a model published on
/// the hub through the Hugging Face cache or a download (GPT-2 small also through
/// `$CIRCUITCHECK_MODEL`); the project's own models in `models/NAME`, beside the working
/// directory or beside the circuit file's directory (`circuits/../models/NAME`).
pub fn model_files(
    name: &str,
    explicit: Option<&Path>,
    circuit_path: &Path,
) -> Result<ModelFiles, ModelError> {
    if let Some(dir) = explicit {
        return ModelFiles::in_dir(dir);
    }
    let known = model(name);
    if let Some(known) = known.filter(|m| !m.hub.is_empty()) {
        return locate(known.hub, known.name == "gpt2-small");
    }
    let beside_circuit = circuit_path
        .parent()
        .and_then(Path::parent)
        .map(|root| root.join("models").join(name));
    let candidates: Vec<PathBuf> = std::iter::once(Path::new("models").join(name))
        .chain(beside_circuit)
        .collect();
    let found = candidates
        .iter()
        .find(|dir| dir.join("config.json").is_file());
    ModelFiles::in_dir(found.unwrap_or(&candidates[0]))
}

/// `--model DIR|NAME` of the commands that take no circuit: a directory, a known model by
/// name, or (neither given) GPT-2 small.
pub fn model_argument(argument: Option<&Path>) -> Result<ModelFiles, ModelError> {
    match argument {
        Some(dir) if dir.is_dir() => ModelFiles::in_dir(dir),
        Some(name) => match name.to_str().and_then(model) {
            Some(known) if !known.hub.is_empty() => locate(known.hub, false),
            _ => ModelFiles::in_dir(name),
        },
        None => locate(MODELS[0].hub, true),
    }
}
