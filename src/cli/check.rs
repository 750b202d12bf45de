//! `circuitcheck check FILE`: run the model with everything outside the circuit knocked out
//! and report faithfulness, completeness and minimality. Exit 0 when every expectation of the
//! file holds, 1 when one fails, 2 on bad input.

use std::path::{Path, PathBuf};

use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};

use crate::catalog::{self, Catalog};
use crate::cli::Outcome;
use crate::cli::output::{Format, HtmlOutput, Renderers};
use crate::dsl::{Ablation, Circuit, Diagnostic, FileSystem, Level, Loader};
use crate::eval::cache::Cache;
use crate::eval::check::Progress;
use crate::eval::schema::Options;
use crate::eval::schema::Report;
use crate::eval::session::{Evaluator, Session, Settings};
use crate::model::DeviceChoice;
use crate::report::html;
use crate::report::text::{check as render, diagnostics, warnings};
use crate::task::ReferenceSize;

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
    /// Reference prompts per group (template) that the replacement values rest on: N (the
    /// counterparts of the group's prompts, then more drawn from its template), `counterparts`
    /// (each prompt's own, as the paper's p_ABC) or `listed` (every one a task file lists)
    /// [default: the counterparts topped up to at least 5; a task file's listed ones]
    #[arg(long, value_name = "N|counterparts|listed")]
    reference_n: Option<ReferenceSize>,
    /// Number of prompts [default: every prompt of a task file; 100 of a generated task]
    #[arg(long, value_parser = prompts)]
    n: Option<usize>,
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
    let (evaluator, warnings) = args.eval.evaluator(&circuit, &args.file, args.quiet)?;
    let report = evaluate(&evaluator, &circuit, args.quiet)?;
    let warnings = run_warnings(warnings, &report);
    let page = || html::check_page(&report, &circuit, &html_run(&evaluator.session, &warnings));
    args.format
        .publish(&report, CHECK_RENDERERS, html_output, page)?;
    Ok(if report.all_expectations_met() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

const CHECK_RENDERERS: Renderers<Report> = Renderers {
    terminal: render::render_terminal,
    json: render::render_json,
    markdown: render::render_markdown,
};

impl EvalArgs {
    /// `--task`, as given.
    pub fn task_argument(&self) -> Option<String> {
        self.task.clone()
    }

    /// `--model DIR`, as given.
    pub fn model_dir(&self) -> Option<&Path> {
        self.model.as_deref()
    }

    /// Whether `--level` was given.
    pub fn level_given(&self) -> bool {
        self.level.is_some()
    }

    /// The session these options open for `circuit`: settings from the command line, else
    /// from the circuit's file, else the defaults.
    pub fn session(&self, circuit: &Circuit, path: &Path, quiet: bool) -> miette::Result<Session> {
        let options = Options {
            ablation: match self.ablation {
                Some(AblationArg::Mean) => Ablation::Mean,
                Some(AblationArg::GlobalMean) => Ablation::GlobalMean,
                Some(AblationArg::Resample) => Ablation::Resample,
                Some(AblationArg::Zero) => Ablation::Zero,
                None => circuit.ablation.unwrap_or(Ablation::Mean),
            },
            level: match self.level {
                Some(LevelArg::Node) => Level::Node,
                Some(LevelArg::Edge) => Level::Edge,
                None => circuit.level.unwrap_or(Level::Node),
            },
            seed: self.seed,
            random_sets: self.random_sets,
            greedy_budget: self.greedy_budget,
            minimality_budget: self.minimality_budget,
            search_prompts: self.search_prompts,
            shortlist: self.shortlist,
            bootstrap_resamples: self.bootstrap,
            confidence: self.confidence,
            minimality_threshold: self.threshold,
        };
        let settings = Settings {
            model_dir: self.model.clone(),
            device: self.device.open()?,
            task: self
                .task
                .as_deref()
                .map(catalog::task_argument)
                .transpose()?,
            prompts: self.n,
            reference: self.reference_n,
            cache_dir: if self.no_cache {
                None
            } else {
                self.cache_dir.clone().or_else(Cache::default_dir)
            },
            options,
            quiet,
        };
        Session::open(circuit, path, settings)
    }

    /// The session, with the reference set and replacement values of its options, and the
    /// warnings printed so far (about its dataset).
    pub fn evaluator(
        &self,
        circuit: &Circuit,
        path: &Path,
        quiet: bool,
    ) -> miette::Result<(Evaluator, Vec<String>)> {
        let evaluator = Evaluator::new(self.session(circuit, path, quiet)?)?;
        let warnings = warn(warnings::small_groups(&evaluator.dataset));
        Ok((evaluator, warnings.into_iter().collect()))
    }
}

/// The full check of `circuit`, with a progress bar unless `quiet`.
pub fn evaluate(
    evaluator: &Evaluator,
    circuit: &Circuit,
    quiet: bool,
) -> miette::Result<crate::eval::schema::Report> {
    let bar = progress_bar(quiet);
    let report = evaluator.evaluate(circuit, &mut Bar(bar.clone()))?;
    bar.finish_and_clear();
    Ok(report)
}

/// How circuits are checked in `session`, as the HTML report shows it.
pub fn html_run<'a>(session: &'a Session, warnings: &'a [String]) -> html::Run<'a> {
    html::Run {
        options: &session.options,
        model_files: &session.model_files,
        warnings,
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

/// Prints `warning` (one of `report::text::warnings`) on standard error, and hands it on for
/// the HTML page.
pub fn warn(warning: Option<String>) -> Option<String> {
    if let Some(text) = &warning {
        eprintln!("warning: {text}");
    }
    warning
}

/// The warnings of a run that gave `report`, in the order they were printed: `before` (the
/// dataset's, from `EvalArgs::evaluator`), then the model's, printed here.
pub fn run_warnings(mut before: Vec<String>, report: &crate::eval::schema::Report) -> Vec<String> {
    before.extend(warn(warnings::model_fails_task(
        &report.model_score,
        report.confidence,
    )));
    before
}
