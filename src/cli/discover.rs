//! `circuitcheck discover TASK [--model DIR] [--method eap|eap-ig] [--steps N] [--edges N |
//! --faithfulness F] [--positions] [--scores OUT.json] [-o OUT.circuit]`: every edge of the
//! model's graph scored by attribution, and the circuit of the best ones, checked exactly
//! (grammar/GRAMMAR.md, "What discover scores"; docs/formats.md, "What discover writes").
//! Exit 0 with a circuit, 1 when no size reaches the faithfulness asked, 2 on bad input.

use std::path::{Path, PathBuf};

use crate::catalog::{self, KnownModel};
use crate::cli::Outcome;
use crate::cli::check::{Bar, EvalArgs, progress_bar, warn};
use crate::cli::import::{circuit_name, relative_to};
use crate::dsl::{ModelShape, TaskRef};
use crate::eval::curve::{Naming, empty_circuit};
use crate::eval::discover::{Request, Target, discover, graph::scores_json};
use crate::eval::edge_attribution::Method;
use crate::eval::session::Evaluator;
use crate::graph::eap::Ranking;
use crate::model::Config;
use crate::report::text::{discover as render, warnings};

/// The faithfulness sought when neither `--edges` nor `--faithfulness` is given.
pub const DEFAULT_FAITHFULNESS: f64 = 0.9;

/// EAP-IG's steps when `--steps` is not given.
pub const DEFAULT_STEPS: usize = 5;

#[derive(clap::Args)]
#[command(after_help = "\
Every edge of the model's graph (heads' q, k, v, MLPs, the embeddings, the logits) is scored \
by attribution; the circuit is the top N edges by score (positive: the edge helps the task's \
metric), pruned as EAP-IG prunes them. --edges N takes N; --faithfulness F (default 0.9) the \
fewest whose circuit reaches F(C)/F(M) >= F, each size scored exactly at level edge (doubling \
then bisection over N). The circuit goes to standard output (or -o), a summary to standard \
error. grammar/GRAMMAR.md (\"What discover scores\") and docs/formats.md define it all. \
--level, and check's search options, do not apply.")]
pub struct Args {
    /// The task: a built-in task's name or a task file (.toml)
    #[arg(value_name = "TASK")]
    task_name: String,
    /// Attribution method
    #[arg(long, value_enum, default_value = "eap-ig")]
    method: MethodArg,
    /// Steps of EAP-IG's path [default: 5]
    #[arg(long, value_name = "N", value_parser = steps)]
    steps: Option<usize>,
    /// Take the top N edges by score
    #[arg(long, value_name = "N", value_parser = edges, conflicts_with = "faithfulness")]
    edges: Option<usize>,
    /// Take the fewest top edges whose circuit reaches this faithfulness F(C)/F(M) [default: 0.9]
    #[arg(long, value_name = "F", value_parser = faithfulness, allow_negative_numbers = true)]
    faithfulness: Option<f64>,
    /// Rank edges by the magnitude of their score (an edge that hurts the task counts as much
    /// as one that helps) instead of by score
    #[arg(long)]
    absolute: bool,
    /// Keep each head only at the task's named positions where it acts
    #[arg(long)]
    positions: bool,
    /// With --positions: the gain of faithfulness that counts as acting at a position
    #[arg(long, value_name = "T", default_value_t = 0.01, value_parser = threshold)]
    position_threshold: f64,
    /// Also write every edge's score to OUT.json, as EAP-IG's graph file (the circuit's edges
    /// marked in_graph), which `curve` and `import` read
    #[arg(long, value_name = "OUT.json")]
    scores: Option<PathBuf>,
    /// Write the circuit to PATH instead of standard output
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
    /// terminal: the circuit on standard output (unless -o), a summary on standard error;
    /// json: the report, the circuit's text in it, on standard output
    #[arg(long, value_enum, default_value = "terminal")]
    format: DiscoverFormat,
    /// No progress bar
    #[arg(long, short)]
    quiet: bool,
    #[command(flatten)]
    eval: EvalArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum MethodArg {
    Eap,
    EapIg,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DiscoverFormat {
    Terminal,
    Json,
}

fn whole(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("`{text}` is not a whole number"))
}

fn steps(text: &str) -> Result<usize, String> {
    match whole(text)? {
        0 => Err("EAP-IG needs at least one step (1 is EAP)".into()),
        n if n > 1000 => Err(format!(
            "{n} steps: each costs a gradient pass over every prompt; take at most 1000"
        )),
        n => Ok(n),
    }
}

fn edges(text: &str) -> Result<usize, String> {
    match whole(text)? {
        0 => Err("a circuit needs at least one edge".into()),
        n => Ok(n),
    }
}

fn faithfulness(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 => Ok(f),
        _ => Err(format!(
            "`{text}` is not a faithfulness to reach: give a number above 0, e.g. 0.9 for 90 % of F(M)"
        )),
    }
}

fn threshold(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!(
            "`{text}` is not a threshold: give a fraction of F(M) of 0 or more, e.g. 0.01"
        )),
    }
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    if args.eval.task_argument().is_some() {
        miette::bail!(
            help = "drop --task",
            "discover takes its task as its argument TASK, not --task"
        );
    }
    if args.eval.level_given() {
        miette::bail!("discover scores its circuits at level edge: --level does not apply");
    }
    let method = match (args.method, args.steps) {
        (MethodArg::Eap, Some(_)) => miette::bail!(
            help = "give --method eap-ig, or drop --steps",
            "--steps is EAP-IG's: EAP takes the gradient of the real run alone"
        ),
        (MethodArg::Eap, None) => Method::Eap,
        (MethodArg::EapIg, steps) => Method::EapIg {
            steps: steps.unwrap_or(DEFAULT_STEPS),
        },
    };
    let target = match (args.edges, args.faithfulness) {
        (Some(edges), _) => Target::Edges { edges },
        (None, faithfulness) => Target::Faithfulness {
            faithfulness: faithfulness.unwrap_or(DEFAULT_FAITHFULNESS),
        },
    };
    let task = catalog::task_argument(&args.task_name)?;
    for path in args.output.iter().chain(&args.scores) {
        writable(path)?;
    }
    let circuit_path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("discovered.circuit"));
    let placeholder = empty_circuit(catalog::MODELS[0].name, task.clone());
    let session = args.eval.session(&placeholder, &circuit_path, args.quiet)?;
    let config = session.loaded.model.config();
    let (model, note) = model_name(config)?;
    let shape = ModelShape {
        layers: config.n_layer as u32,
        heads: config.n_head as u32,
        parallel_residual: config.parallel_residual,
    };
    let d_model = config.n_embd as u64;
    warn(note);
    let evaluator = Evaluator::new(session)?;
    warn(warnings::small_groups(&evaluator.dataset));
    let naming = Naming {
        model: &model,
        task: &task,
        shape,
    };
    let request = Request {
        method,
        target,
        ranking: if args.absolute {
            Ranking::Absolute
        } else {
            Ranking::Signed
        },
        positions: args.positions.then_some(args.position_threshold),
        naming: &naming,
    };
    let bar = progress_bar(args.quiet);
    let found = discover(&evaluator, &request, &mut Bar(bar.clone()));
    bar.finish_and_clear();
    let mut found = found?;
    if let Some(path) = &args.scores {
        let json = scores_json(&found.graph, d_model, &found.selected);
        write(path, &json)?;
    }
    let name = circuit_name(args.output.as_deref().unwrap_or(Path::new("discovered")));
    let text = found.circuit_text(&name, &header_task(&task, args.output.as_deref()));
    found.report.circuit = text.clone();
    if let (Some(text), Some(path)) = (&text, &args.output) {
        write(path, text)?;
    }
    match args.format {
        DiscoverFormat::Json => print!("{}", render::render_json(&found.report)),
        DiscoverFormat::Terminal => {
            eprint!("{}", render::render_summary(&found.report));
            if let (Some(text), None) = (&text, &args.output) {
                print!("{text}");
            }
        }
    }
    if text.is_none() {
        if let Target::Faithfulness { faithfulness } = target {
            eprintln!(
                "error: no circuit of top edges reaches faithfulness {faithfulness}: not even the whole graph (see the sizes tried above)"
            );
        }
        return Ok(Outcome::Failure);
    }
    Ok(Outcome::Success)
}

/// The circuit's model: the known model of the loaded model's shape and width; else the
/// first known model of the same residual layout whose shape holds it (so the circuit is
/// checked against it, and `check --model DIR` runs it), with a note saying so.
fn model_name(config: &Config) -> miette::Result<(String, Option<String>)> {
    let (layers, heads) = (config.n_layer as u32, config.n_head as u32);
    let exact = |m: &&KnownModel| {
        m.shape.layers == layers
            && m.shape.heads == heads
            && m.shape.parallel_residual == config.parallel_residual
            && m.d_model == config.n_embd as u64
    };
    if let Some(known) = catalog::MODELS.iter().find(exact) {
        return Ok((known.name.to_string(), None));
    }
    let holds = |m: &&KnownModel| {
        m.shape.layers >= layers
            && m.shape.heads >= heads
            && m.shape.parallel_residual == config.parallel_residual
    };
    match catalog::MODELS.iter().find(holds) {
        Some(known) => Ok((
            known.name.to_string(),
            Some(format!(
                "no known model has the loaded model's shape ({layers} layers of {heads} heads, d_model {}): the circuit names `{}`, whose shape holds it; check it with --model DIR",
                config.n_embd, known.name
            )),
        )),
        None => miette::bail!(
            "no known model has the loaded model's shape ({layers} layers of {heads} heads) or holds it: a circuit must name one"
        ),
    }
}

/// The header's `task`: a built-in task's name, or a task file's path from the directory the
/// circuit is written to, in quotes.
fn header_task(task: &TaskRef, output: Option<&Path>) -> String {
    match task {
        TaskRef::Builtin(name) => name.clone(),
        TaskRef::File { path, .. } => {
            let relative = match output {
                Some(output) => relative_to(output, Path::new(path)),
                None => PathBuf::from(path),
            };
            format!("\"{}\"", relative.to_string_lossy().replace('\\', "/"))
        }
    }
}

/// Refuses, before any work, a path whose directory does not exist.
fn writable(path: &Path) -> miette::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if !directory.is_dir() {
        miette::bail!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            directory.display()
        );
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> miette::Result<()> {
    crate::output::write_whole(path, text.as_bytes())
        .map_err(|error| miette::miette!("cannot write {}: {error}", path.display()))
}
