//! `circuitcheck check FILE`: run the model with everything outside the circuit knocked out
//! and report faithfulness, completeness and minimality. Exit 0 when every expectation of the
//! file holds, 1 when one fails, 2 on bad input.

use std::path::{Path, PathBuf};

use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};

use crate::catalog::{self, Catalog};
use crate::cli::Outcome;
use crate::dsl::{Ablation, Circuit, Diagnostic, FileSystem, Level, Loader, Positions, TaskRef};
use crate::eval::cache::{Cache, Lookup};
use crate::eval::check::{Progress, check};
use crate::eval::reference::{ReferenceActivations, load_or_compute};
use crate::eval::schema::{Estimate, Options, Report};
use crate::model::{Config, DeviceChoice, LoadedModel};
use crate::report::html;
use crate::report::text::{check as render, diagnostics, style::Style};
use crate::task::{Dataset, MIN_REFERENCE, ReferenceSize, Task};

/// The arguments of `check` and `sensitivity`.
#[derive(clap::Args)]
pub struct Args {
    /// Circuit file
    pub file: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "terminal")]
    pub format: Format,
    /// No progress bar
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write the report as one self-contained HTML page (charts included) to PATH
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub eval: EvalArgs,
}

/// How circuits are evaluated: the options `check` and `diff --eval` share.
#[derive(clap::Args, Clone)]
pub struct EvalArgs {
    /// Model directory (model.safetensors, config.json, tokenizer files)
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Where the model runs
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
    /// Evaluate on this task instead of the circuit's: a built-in task or a task file
    /// (.toml) that names the positions the circuit uses
    #[arg(long, value_name = "NAME|FILE")]
    task: Option<String>,
    /// Reference prompts per group (template) that the replacement values rest on: the
    /// counterparts of the group's prompts, then more drawn from its template (default: at
    /// least 5)
    #[arg(long, value_name = "N", value_parser = reference_n)]
    reference_n: Option<usize>,
    /// Number of prompts
    #[arg(long, default_value_t = 100, value_parser = prompts)]
    n: usize,
    /// Seed of the dataset, the random K sets, resampling and the bootstrap
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Ablation scheme (default: the file's, else mean)
    #[arg(long, value_enum)]
    ablation: Option<AblationArg>,
    /// Knockout level (default: the file's, else node)
    #[arg(long, value_enum)]
    level: Option<LevelArg>,
    /// Neither read nor write cached reference activations
    #[arg(long)]
    no_cache: bool,
    /// Where cached reference activations live
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Random K sets for completeness
    #[arg(long, default_value_t = 5, value_parser = random_sets)]
    random_sets: usize,
    /// Heads the greedy completeness search may add to K
    #[arg(long, default_value_t = 3)]
    greedy_budget: usize,
    /// Heads the greedy minimality search may add to K (0: no search)
    #[arg(long, default_value_t = 1)]
    minimality_budget: usize,
    /// Prompts the searches run on; the K found are confirmed on all prompts
    #[arg(long, default_value_t = 32, value_parser = prompts)]
    search_prompts: usize,
    /// Candidates the greedy completeness search scores exactly per step after ranking all of
    /// them by attribution (0: score every candidate; ranking pays for large circuits)
    #[arg(long, default_value_t = 0)]
    shortlist: usize,
    /// Bootstrap resamples for the confidence intervals (0: no intervals)
    #[arg(long, default_value_t = 1000, value_parser = resamples)]
    bootstrap: usize,
    /// Coverage of the confidence intervals
    #[arg(long, default_value_t = 0.95, value_parser = coverage)]
    confidence: f64,
    /// Flag heads whose minimality is below this fraction of F(M)
    #[arg(long, default_value_t = 0.01, value_parser = finite)]
    threshold: f64,
}

/// Resample counts the bootstrap holds (one count per prompt and resample) at most.
const MAX_BOOTSTRAP_DRAWS: usize = 100_000_000;

fn count_in(
    text: &str,
    range: std::ops::RangeInclusive<usize>,
    why: &str,
) -> Result<usize, String> {
    let value: usize = text
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number"))?;
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "{value} is outside {}–{}: {why}",
            range.start(),
            range.end()
        ))
    }
}

/// `--n`, `--search-prompts`: at least one prompt, at most what a task makes at once.
fn prompts(text: &str) -> Result<usize, String> {
    count_in(
        text,
        1..=crate::task::MAX_PROMPTS,
        "a dataset has at least one prompt and at most 100000",
    )
}

fn reference_n(text: &str) -> Result<usize, String> {
    count_in(
        text,
        1..=1000,
        "a group's mean rests on at least one reference prompt, and 1000 is plenty",
    )
}

fn random_sets(text: &str) -> Result<usize, String> {
    count_in(
        text,
        0..=1000,
        "each random set costs passes over every prompt",
    )
}

fn resamples(text: &str) -> Result<usize, String> {
    count_in(
        text,
        0..=100_000,
        "a few thousand resamples already give stable intervals",
    )
}

/// `--confidence`: a coverage strictly between 0 and 1.
fn coverage(text: &str) -> Result<f64, String> {
    let value = finite(text)?;
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(format!(
            "{value} is not a coverage: give a fraction strictly between 0 and 1, e.g. 0.95"
        ))
    }
}

fn finite(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(value) if value.is_finite() => Ok(value),
        _ => Err(format!("`{text}` is not a finite number")),
    }
}

/// `--device`: where the model runs.
#[derive(Clone, Copy, Default, clap::ValueEnum)]
pub enum DeviceArg {
    /// A GPU when circuitcheck is built for one (features `cuda`, `metal`) and one is
    /// present, else the CPU
    #[default]
    Auto,
    Cpu,
    Cuda,
    Metal,
}

impl DeviceArg {
    pub fn open(self) -> miette::Result<Device> {
        Ok(match self {
            DeviceArg::Auto => DeviceChoice::Auto,
            DeviceArg::Cpu => DeviceChoice::Cpu,
            DeviceArg::Cuda => DeviceChoice::Cuda,
            DeviceArg::Metal => DeviceChoice::Metal,
        }
        .open()?)
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum AblationArg {
    Mean,
    GlobalMean,
    Resample,
    Zero,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LevelArg {
    Node,
    Edge,
}

/// How a report is printed on standard output (check and sensitivity).
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Terminal,
    Json,
    Markdown,
}

impl Format {
    /// Prints `report` on standard output with the renderer of this format (the terminal's
    /// coloured where standard output is a terminal).
    pub fn print<R>(
        self,
        report: &R,
        terminal: fn(&R, Style) -> String,
        json: fn(&R) -> String,
        markdown: fn(&R) -> String,
    ) {
        let text = match self {
            Format::Terminal => terminal(
                report,
                Style {
                    color: diagnostics::use_color(&std::io::stdout()),
                },
            ),
            Format::Json => json(report),
            Format::Markdown => markdown(report),
        };
        print!("{text}");
    }
}

/// Loads and checks a circuit file; prints its diagnostics when it has errors.
pub fn load_circuit(path: &Path) -> Option<Circuit> {
    let env = Catalog;
    let mut loader = Loader::new(&env, &FileSystem);
    let circuit = loader.load(path).circuit.clone();
    if circuit.is_none() {
        let found: Vec<&Diagnostic> = loader.files().flat_map(|f| f.diagnostics.iter()).collect();
        let color = diagnostics::use_color(&std::io::stderr());
        eprint!("{}", diagnostics::render_human(&found, color));
        eprintln!(
            "{} has errors ({})",
            path.display(),
            diagnostics::summary(&found)
        );
    }
    circuit
}

pub struct Bar(pub ProgressBar);

impl Progress for Bar {
    fn phase(&mut self, name: &str, variants: usize) {
        self.0.set_message(name.to_string());
        self.0.inc_length(variants as u64);
    }

    fn advance(&mut self, variants: usize) {
        self.0.inc(variants as u64);
    }
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let Some(circuit) = load_circuit(&args.file) else {
        return Ok(Outcome::Error);
    };
    let html_output = args.html.as_deref().map(HtmlOutput::open).transpose()?;
    let evaluator = Evaluator::new(&circuit, &args.file, &args.eval, args.quiet)?;
    let report = evaluator.evaluate(&circuit, args.quiet)?;
    warn_if_the_model_fails_the_task(&report.model_score, report.confidence);
    args.format.print(
        &report,
        render::render_terminal,
        render::render_json,
        render::render_markdown,
    );
    // Written after printing: a page that cannot be written loses nothing of the run.
    if let Some(output) = html_output {
        output.write(&html::check_page(&report, &circuit, &evaluator.run()))?;
    }
    Ok(if report.all_expectations_met() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

/// What every evaluation of one command shares, loaded once: the model, the task and its
/// prompts (each with its reference counterpart), the options and the cache.
pub struct Session {
    pub loaded: LoadedModel,
    pub task: Task,
    /// The prompts, each with its counterpart as its reference.
    pub dataset: Dataset,
    pub options: Options,
    /// Reference prompts per group (`--reference-n`).
    pub reference_size: ReferenceSize,
    task_ref: TaskRef,
    /// `--task` replaced the circuits' own task.
    task_given: bool,
    model_name: String,
    cache: Cache,
    identity: String,
    /// `html::short_identity` of the model files, for the HTML report's header.
    pub model_files: String,
    quiet: bool,
}

impl Session {
    /// Settings come from the command line, else from `circuit`'s file, else the defaults;
    /// the model is the one `circuit` names, the task too unless `--task` gives another.
    pub fn open(
        circuit: &Circuit,
        circuit_path: &Path,
        args: &EvalArgs,
        quiet: bool,
    ) -> miette::Result<Self> {
        if args.n.saturating_mul(args.bootstrap) > MAX_BOOTSTRAP_DRAWS {
            miette::bail!(
                help = "ask for fewer --bootstrap resamples or fewer prompts (--n)",
                "--bootstrap {} × --n {} is more than the {MAX_BOOTSTRAP_DRAWS} resampled prompts the bootstrap can hold",
                args.bootstrap,
                args.n
            );
        }
        let options = Options {
            ablation: match args.ablation {
                Some(AblationArg::Mean) => Ablation::Mean,
                Some(AblationArg::GlobalMean) => Ablation::GlobalMean,
                Some(AblationArg::Resample) => Ablation::Resample,
                Some(AblationArg::Zero) => Ablation::Zero,
                None => circuit.ablation.unwrap_or(Ablation::Mean),
            },
            level: match args.level {
                Some(LevelArg::Node) => Level::Node,
                Some(LevelArg::Edge) => Level::Edge,
                None => circuit.level.unwrap_or(Level::Node),
            },
            seed: args.seed,
            random_sets: args.random_sets,
            greedy_budget: args.greedy_budget,
            minimality_budget: args.minimality_budget,
            search_prompts: args.search_prompts,
            shortlist: args.shortlist,
            bootstrap_resamples: args.bootstrap,
            confidence: args.confidence,
            minimality_threshold: args.threshold,
        };
        let task_given = args.task.is_some();
        let task_ref = match &args.task {
            Some(argument) => catalog::task_argument(argument)?,
            None => circuit.task.clone(),
        };
        let task = catalog::load_task(&task_ref)?;
        if task_given {
            fits_positions(circuit, &task_ref, &task.position_names())?;
        }
        let files = catalog::model_files(&circuit.model, args.model.as_deref(), circuit_path)
            .map_err(|e| {
                miette::miette!(help = "pass --model DIR", "model `{}`: {e}", circuit.model)
            })?;
        let loaded = LoadedModel::load(files, &args.device.open()?)?;
        let dataset = task.dataset(&loaded.tokenizer, args.n, args.seed)?;
        let cache = Cache::new(if args.no_cache {
            None
        } else {
            args.cache_dir.clone().or_else(Cache::default_dir)
        });
        let identity = cache
            .model_identity(&loaded.files)
            .map_err(|e| miette::miette!("cannot read {}: {e}", loaded.files.weights.display()))?;
        Ok(Self {
            loaded,
            task,
            dataset,
            options,
            reference_size: args
                .reference_n
                .map_or(ReferenceSize::default(), ReferenceSize::Exactly),
            task_ref,
            task_given,
            model_name: circuit.model.clone(),
            cache,
            model_files: html::short_identity(&identity),
            identity,
            quiet,
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
        let (reference, lookup) = load_or_compute(
            &self.loaded.model,
            &self.identity,
            dataset,
            ablation,
            self.options.seed,
            &self.cache,
        )?;
        if !self.quiet {
            let note = match &lookup {
                Lookup::Hit => "read from the cache".to_string(),
                Lookup::Missing => "computed and cached".to_string(),
                Lookup::Corrupt(why) => format!("recomputed (the cached copy was corrupt: {why})"),
                Lookup::Disabled => "computed (cache off)".to_string(),
            };
            eprintln!("reference activations ({}): {note}", ablation.name());
        }
        Ok(reference)
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

/// A progress bar of variants scored, or none with `--quiet`.
pub fn progress_bar(quiet: bool) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(0)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg:22} [{bar:30}] {pos}/{len} passes, {elapsed} (eta {eta})",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar
}

/// One model, dataset and set of reference activations, loaded once for every circuit
/// evaluated against them (`diff --eval` evaluates two).
pub struct Evaluator {
    session: Session,
    dataset: Dataset,
    reference: ReferenceActivations,
}

impl Evaluator {
    /// See [`Session::open`]; the reference set and the ablation are the options'.
    pub fn new(
        circuit: &Circuit,
        circuit_path: &Path,
        args: &EvalArgs,
        quiet: bool,
    ) -> miette::Result<Self> {
        let session = Session::open(circuit, circuit_path, args, quiet)?;
        let dataset = session.with_reference(session.reference_size)?;
        warn_about_small_groups(&dataset);
        let reference = session.activations(&dataset, session.options.ablation)?;
        Ok(Self {
            session,
            dataset,
            reference,
        })
    }

    /// How circuits are checked here, as the HTML report shows it.
    pub fn run(&self) -> html::Run<'_> {
        html::Run {
            options: &self.session.options,
            model_files: &self.session.model_files,
        }
    }

    /// The full check of one circuit, which must name this evaluator's model and task.
    pub fn evaluate(&self, circuit: &Circuit, quiet: bool) -> miette::Result<Report> {
        self.session.fits(circuit)?;
        let bar = progress_bar(quiet);
        let mut progress = Bar(bar.clone());
        let report = check(
            &self.session.loaded.model,
            &self.dataset,
            &self.reference,
            circuit,
            &self.session.options,
            &mut progress,
        )?;
        bar.finish_and_clear();
        Ok(report)
    }
}

/// Where `--html` writes. Tried before any work (a file created beside it and removed), so
/// a path that cannot be written is refused at once rather than after a long check; the
/// page is written at the end to a temporary file beside it, then renamed over it, so the
/// path holds either its old content or the whole new page. Callers print the report on
/// standard output first, so a failed write loses nothing.
pub struct HtmlOutput {
    path: PathBuf,
    temporary: PathBuf,
}

impl HtmlOutput {
    pub fn open(path: &Path) -> miette::Result<Self> {
        let refuse = |why: String| {
            miette::miette!(
                code = "check::html",
                help = "give --html a file path in a directory you can write to",
                "cannot write the HTML report to {}: {why}",
                path.display()
            )
        };
        if path.is_dir() {
            return Err(refuse("it is a directory".into()));
        }
        let Some(name) = path.file_name() else {
            return Err(refuse("it names no file".into()));
        };
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let temporary = directory.join(format!(
            ".{}.{}.tmp",
            name.to_string_lossy(),
            std::process::id()
        ));
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| refuse(e.to_string()))?;
        // Not kept through the run: an interrupted check leaves nothing behind.
        let _ = std::fs::remove_file(&temporary);
        Ok(Self {
            path: path.to_path_buf(),
            temporary,
        })
    }

    pub fn write(self, page: &str) -> miette::Result<()> {
        let written = std::fs::write(&self.temporary, page)
            .and_then(|()| std::fs::rename(&self.temporary, &self.path));
        written.map_err(|e| {
            let _ = std::fs::remove_file(&self.temporary);
            miette::miette!(
                code = "check::html",
                help = "the report above is complete; run again with another --html path",
                "cannot write the HTML report to {}: {e}",
                self.path.display()
            )
        })
    }
}

/// Every head of the circuit exists in the loaded model (a model directory may hold another
/// shape than the model the circuit names).
fn fits_model(circuit: &Circuit, config: &Config) -> miette::Result<()> {
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
            crate::dsl::Mlps::All => Vec::new(),
            crate::dsl::Mlps::Listed(entries) => entries.iter().map(|e| &e.positions).collect(),
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

/// As the paper's code does: a mean over fewer than a handful of reference prompts is noise.
pub fn warn_about_small_groups(dataset: &Dataset) {
    let small: Vec<String> = dataset
        .groups
        .iter()
        .enumerate()
        .filter(|(g, _)| dataset.prompts.iter().any(|p| p.group == *g))
        .filter_map(|(g, name)| {
            let count = dataset.reference.iter().filter(|p| p.group == g).count();
            (count < MIN_REFERENCE).then(|| format!("{name} ({count})"))
        })
        .collect();
    if !small.is_empty() {
        eprintln!(
            "warning: the replacement values of {} group(s) rest on fewer than {MIN_REFERENCE} reference prompts: {}; raise --reference-n (explicit tasks have only the reference prompts they list)",
            small.len(),
            small.join(", ")
        );
    }
}

/// Ratios to F(M) (faithfulness, the normalized score, minimality's share of F(M)) mean
/// nothing when F(M) may be 0: the model does not reliably do the task, and every ratio's
/// interval is huge or flips sign. Said once per run, on standard error.
pub fn warn_if_the_model_fails_the_task(model_score: &Estimate, confidence: f64) {
    let Some(interval) = model_score.interval else {
        return;
    };
    if interval.low <= 0.0 && interval.high >= 0.0 {
        eprintln!(
            "warning: F(M) is {} and its {:.0} % interval [{}, {}] includes 0: the model does not reliably do this task, so ratios to F(M) (faithfulness, normalized, minimality's share of F(M)) are not meaningful; compare |F(M) − F(C)| and check the model and the task",
            render::number(model_score.value),
            100.0 * confidence,
            render::number(interval.low),
            render::number(interval.high)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn html_output_is_tried_first_and_written_whole() {
        let dir = std::env::temp_dir().join(format!("circuitcheck-html-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.html");
        let output = HtmlOutput::open(&path).unwrap();
        assert!(files_in(&dir).is_empty(), "the try leaves nothing");
        output.write("<p>page</p>").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "<p>page</p>");
        assert_eq!(files_in(&dir), ["report.html"]);

        // The path turns into a directory during the run: the write fails, and says so,
        // leaving no temporary file.
        let late = dir.join("late.html");
        let output = HtmlOutput::open(&late).unwrap();
        std::fs::create_dir_all(late.join("inside")).unwrap();
        let error = output.write("<p>page</p>").unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot write the HTML report to"),
            "{error}"
        );
        assert_eq!(files_in(&dir), ["late.html", "report.html"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
