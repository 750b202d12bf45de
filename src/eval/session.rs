//! What every evaluation of one command shares, loaded once: the model, the task and its
//! prompts (each with its reference counterpart), the options and the reference cache. Every
//! command that runs the model (`check`, `sensitivity`, `diff --eval`) opens one.

use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::catalog;
use crate::dsl::{Ablation, Circuit, Level, Mlps, Positions, Receiver, Sender, TaskRef};
use crate::eval::cache::{Cache, Lookup, short_identity};
use crate::eval::check::{Progress, check};
use crate::eval::reference::{ReferenceActivations, load_or_compute_each};
use crate::eval::schema::{Options, Report};
use crate::model::{Config, LoadedModel};
use crate::task::{Dataset, MIN_REFERENCE, ReferenceSize, Task};

/// Resampled prompts the bootstrap holds (one count per prompt and resample) at most.
const MAX_BOOTSTRAP_DRAWS: usize = 100_000_000;

/// How a session is opened: the command line's choices, resolved against the circuit.
pub struct Settings {
    /// `--model DIR`; else the model the circuit names is looked up.
    pub model_dir: Option<PathBuf>,
    pub device: Device,
    /// `--task`: another task than the circuit's.
    pub task: Option<TaskRef>,
    /// `--n`; else the task's default ([`Task::default_prompts`]).
    pub prompts: Option<usize>,
    /// `--reference-n`; else the task's default ([`Task::default_reference_size`]).
    pub reference: Option<ReferenceSize>,
    /// Where cached reference activations live; `None`: no cache.
    pub cache_dir: Option<PathBuf>,
    pub options: Options,
    /// No notes on standard error (where the reference activations came from).
    pub quiet: bool,
}

pub struct Session {
    pub loaded: LoadedModel,
    pub task: Task,
    /// The prompts, each with its counterpart as its reference.
    pub dataset: Dataset,
    pub options: Options,
    /// Reference prompts per group.
    pub reference_size: ReferenceSize,
    /// The cache's identity of the model files (their digests).
    pub identity: String,
    /// The identity as people read it ([`short_identity`]).
    pub model_files: String,
    task_ref: TaskRef,
    /// `--task` replaced the circuits' own task.
    task_given: bool,
    model_name: String,
    cache: Cache,
    quiet: bool,
}

impl Session {
    /// The model `circuit` names (or `settings.model_dir`), its task unless `settings.task`
    /// gives another, and the task's prompts.
    pub fn open(
        circuit: &Circuit,
        circuit_path: &Path,
        settings: Settings,
    ) -> miette::Result<Self> {
        let task_given = settings.task.is_some();
        let task_ref = settings.task.unwrap_or_else(|| circuit.task.clone());
        let task = catalog::load_task(&task_ref)?;
        if task_given {
            fits_positions(circuit, &task_ref, &task.position_names())?;
        }
        let n = settings.prompts.unwrap_or_else(|| task.default_prompts());
        let resamples = settings.options.bootstrap_resamples;
        if n.saturating_mul(resamples) > MAX_BOOTSTRAP_DRAWS {
            miette::bail!(
                help = "ask for fewer --bootstrap resamples or fewer prompts (--n)",
                "--bootstrap {resamples} × {n} prompts is more than the {MAX_BOOTSTRAP_DRAWS} resampled prompts the bootstrap can hold",
            );
        }
        let reference_size = settings
            .reference
            .unwrap_or_else(|| task.default_reference_size());
        let files =
            catalog::model_files(&circuit.model, settings.model_dir.as_deref(), circuit_path)
                .map_err(|e| {
                    miette::miette!(help = "pass --model DIR", "model `{}`: {e}", circuit.model)
                })?;
        let loaded = LoadedModel::load(files, &settings.device)?;
        if settings.options.level == Level::Edge && !loaded.model.config().has_edge_level() {
            miette::bail!(
                code = "check::no-edge-level",
                help = "check it at node level: --level node",
                "model `{}` ({}) has no edge level: its attention output is normed before it joins the stream, so a head adds no difference of its own",
                circuit.model,
                loaded.model.config().family.name()
            );
        }
        let dataset = task.dataset(&loaded.tokenizer, n, settings.options.seed)?;
        let cache = Cache::new(settings.cache_dir);
        let identity = cache
            .model_identity(&loaded.files)
            .map_err(|e| miette::miette!("cannot read {}: {e}", loaded.files.weights.display()))?;
        Ok(Self {
            loaded,
            task,
            dataset,
            options: settings.options,
            reference_size,
            model_files: short_identity(&identity),
            identity,
            task_ref,
            task_given,
            model_name: circuit.model.clone(),
            cache,
            quiet: settings.quiet,
        })
    }

    /// The prompts with a reference set of `size` per group.
    pub fn with_reference(&self, size: ReferenceSize) -> miette::Result<Dataset> {
        let reference = self.task.reference_set(
            &self.loaded.tokenizer,
            &self.dataset,
            size,
            self.options.seed,
        )?;
        Ok(Dataset {
            reference,
            ..self.dataset.clone()
        })
    }

    /// The replacement values of `dataset`'s reference set under `ablation`, from the cache
    /// when it has them.
    pub fn activations(
        &self,
        dataset: &Dataset,
        ablation: Ablation,
    ) -> miette::Result<ReferenceActivations> {
        self.activations_each(dataset, &[ablation])?
            .pop()
            .ok_or_else(|| miette::miette!("internal error: no reference values computed"))
    }

    /// [`Self::activations`] under each of `ablations`; those not cached are computed from one
    /// pass over the reference prompts.
    pub fn activations_each(
        &self,
        dataset: &Dataset,
        ablations: &[Ablation],
    ) -> miette::Result<Vec<ReferenceActivations>> {
        let each = load_or_compute_each(
            &self.loaded.model,
            &self.identity,
            dataset,
            ablations,
            self.options.seed,
            &self.cache,
        )?;
        Ok(each
            .into_iter()
            .map(|(reference, lookup)| {
                if !self.quiet {
                    let note = match &lookup {
                        Lookup::Hit => "read from the cache".to_string(),
                        Lookup::Missing => "computed and cached".to_string(),
                        Lookup::Corrupt(why) => {
                            format!("recomputed (the cached copy was corrupt: {why})")
                        }
                        Lookup::Disabled => "computed (cache off)".to_string(),
                    };
                    eprintln!(
                        "reference activations ({}): {note}",
                        reference.ablation.name()
                    );
                }
                reference
            })
            .collect())
    }

    /// `circuit` can be evaluated here: it names this model and task (or `--task` gives one
    /// whose positions it uses), and its heads are in the loaded model.
    pub fn fits(&self, circuit: &Circuit) -> miette::Result<()> {
        if circuit.model != self.model_name || (!self.task_given && circuit.task != self.task_ref) {
            miette::bail!(
                help = "compare circuits of one model and one task, or give both one with --task",
                "circuit `{}` is about {} on {}, not {} on {}",
                circuit.name,
                circuit.model,
                circuit.task,
                self.model_name,
                self.task_ref
            );
        }
        fits_model(circuit, self.loaded.model.config())?;
        if self.task_given {
            fits_positions(circuit, &self.task_ref, &self.dataset.position_names)?;
        }
        Ok(())
    }
}

/// A session with the reference set and replacement values of its own options, for every
/// circuit checked against them (`diff --eval` checks two).
pub struct Evaluator {
    pub session: Session,
    /// The prompts with the session's reference set.
    pub dataset: Dataset,
    reference: ReferenceActivations,
}

impl Evaluator {
    pub fn new(session: Session) -> miette::Result<Self> {
        let dataset = session.with_reference(session.reference_size)?;
        let reference = session.activations(&dataset, session.options.ablation)?;
        Ok(Self {
            session,
            dataset,
            reference,
        })
    }

    /// The replacement values of the session's reference set.
    pub fn reference(&self) -> &ReferenceActivations {
        &self.reference
    }

    /// The full check of one circuit, which must name this session's model and task.
    pub fn evaluate(
        &self,
        circuit: &Circuit,
        progress: &mut dyn Progress,
    ) -> miette::Result<Report> {
        self.session.fits(circuit)?;
        Ok(check(
            &self.session.loaded.model,
            &self.dataset,
            &self.reference,
            circuit,
            &self.session.options,
            progress,
        )?)
    }
}

/// The groups of `dataset`'s prompts whose means rest on fewer than a handful of reference
/// prompts (as the paper's code warns: such a mean is noise), with their counts.
pub fn small_groups(dataset: &Dataset) -> Vec<(String, usize)> {
    dataset
        .groups
        .iter()
        .enumerate()
        .filter(|(g, _)| dataset.prompts.iter().any(|p| p.group == *g))
        .filter_map(|(g, name)| {
            let count = dataset.reference.iter().filter(|p| p.group == g).count();
            (count < MIN_REFERENCE).then(|| (name.clone(), count))
        })
        .collect()
}

/// Every head of the circuit exists in the loaded model (a model directory may hold another
/// shape than the model the circuit names).
fn fits_model(circuit: &Circuit, config: &Config) -> miette::Result<()> {
    fits_heads(circuit, config)?;
    fits_parallel_residual(circuit, config)
}

/// With a parallel residual an MLP reads its block's input, so no head of its own layer
/// can send to it (the catalog says so for the families it knows; this holds for any model
/// directory).
fn fits_parallel_residual(circuit: &Circuit, config: &Config) -> miette::Result<()> {
    if !config.parallel_residual {
        return Ok(());
    }
    let broken: Vec<String> = circuit
        .wires()
        .into_iter()
        .filter_map(|wire| match wire {
            (Sender::Head(head), Receiver::Mlp(layer)) if head.layer >= layer => {
                Some(format!("{head} → mlp.{layer}"))
            }
            _ => None,
        })
        .collect();
    if broken.is_empty() {
        return Ok(());
    }
    Err(miette::miette!(
        code = "check::edge-order",
        help = "with a parallel residual an MLP reads its block's input: only heads of lower \
                layers can send to it",
        "circuit `{}` has edges from heads into the MLP of their own layer, which the loaded \
         model (parallel residual) computes from the block's input: {}",
        circuit.name,
        broken.join(", ")
    ))
}

fn fits_heads(circuit: &Circuit, config: &Config) -> miette::Result<()> {
    let outside: Vec<String> = circuit
        .heads()
        .iter()
        .filter(|h| h.layer as usize >= config.n_layer || h.head as usize >= config.n_head)
        .map(|h| h.to_string())
        .collect();
    if outside.is_empty() {
        return Ok(());
    }
    Err(miette::miette!(
        code = "check::head-out-of-range",
        help = format!(
            "the model directory holds {} layers × {} heads; is it the `{}` the circuit names?",
            config.n_layer, config.n_head, circuit.model
        ),
        "{} head(s) of circuit `{}` are not in the loaded model: {}",
        outside.len(),
        circuit.name,
        outside.join(", ")
    ))
}

/// Every position the circuit names is one `--task` names too.
fn fits_positions(circuit: &Circuit, task: &TaskRef, known: &[String]) -> miette::Result<()> {
    let used = circuit
        .classes
        .iter()
        .map(|c| &c.positions)
        .chain(match &circuit.mlps {
            Mlps::All => Vec::new(),
            Mlps::Listed(entries) => entries.iter().map(|e| &e.positions).collect(),
        });
    let mut missing: Vec<String> = used
        .flat_map(|positions| match positions {
            Positions::All => Vec::new(),
            Positions::Named(names) => names.iter().cloned().collect(),
        })
        .filter(|name| !known.contains(name))
        .collect();
    missing.sort();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    Err(miette::miette!(
        code = "check::unknown-position",
        help = format!("task {task} names the positions {}", known.join(", ")),
        "circuit `{}` acts at position(s) that task {task} does not name: {}",
        circuit.name,
        missing.join(", ")
    ))
}
