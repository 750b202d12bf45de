//! `circuitcheck curve SCORES.json --task TASK [--model DIR]`: faithfulness of a scored
//! graph's top edges at MIB's ten edge fractions, each circuit scored exactly, and the areas
//! CPR and CMD with their intervals (docs/formats.md, "What curve computes"). Exit 0, or 2 on
//! bad input.

use std::io;
use std::path::PathBuf;

use crate::catalog;
use crate::cli::Outcome;
use crate::cli::check::{Bar, EvalArgs, progress_bar, warn};
use crate::cli::output::{Format, HtmlOutput, Renderers};
use crate::dsl::ModelShape;
use crate::eval::curve::{Naming, curve, empty_circuit};
use crate::eval::session::Evaluator;
use crate::graph::eap::{GraphFile, Problem, ReadGraph, file::GRAPH_LIMIT};
use crate::report::html;
use crate::report::text::{curve as render, diagnostics, warnings};

#[derive(clap::Args)]
#[command(after_help = "\
At each fraction p of the full graph's E edges (0.1 % to 100 %, MIB's), the ⌊p·E⌋ best edges \
are pruned as EAP-IG prunes them and scored as a circuit at level edge. CPR ranks edges by \
score, CMD by |score|. docs/formats.md defines every figure. --level, and check's search \
options, do not apply.")]
pub struct Args {
    /// A scored graph file (JSON of EAP-IG's Graph.to_json, as the MIB circuit track uses)
    pub file: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "terminal")]
    pub format: Format,
    /// No progress bar
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write the curve as one self-contained HTML page to PATH
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    #[command(flatten)]
    pub eval: EvalArgs,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let Some(task) = args.eval.task_argument() else {
        miette::bail!(
            help = format!(
                "give --task NAME or --task FILE.toml (built in: {})",
                crate::task::builtin_names().join(", ")
            ),
            "a graph file does not say which task it was scored on"
        );
    };
    if args.eval.level_given() {
        miette::bail!("curve scores its circuits at level edge: --level does not apply");
    }
    let text = crate::input::read_text_up_to(&args.file, GRAPH_LIMIT)
        .map_err(|error| miette::miette!("cannot read {}: {error}", args.file.display()))?;
    let file = match GraphFile::parse(&text) {
        Ok(file) => file,
        Err(error) => {
            return Ok(refuse(vec![Problem::Syntax {
                reason: error.to_string(),
            }]));
        }
    };
    let graph = match ReadGraph::read(&file) {
        Ok(graph) => graph,
        Err(problems) => return Ok(refuse(problems)),
    };
    let html_output = args.html.as_deref().map(HtmlOutput::open).transpose()?;
    let model = model_name(&args.eval, &file)?;
    let placeholder = empty_circuit(&model, catalog::task_argument(&task)?);
    let session = args.eval.session(&placeholder, &args.file, args.quiet)?;
    let config = session.loaded.model.config();
    let loaded = ModelShape {
        layers: config.n_layer as u32,
        heads: config.n_head as u32,
        parallel_residual: config.parallel_residual,
    };
    let cfg = &file.cfg;
    if cfg.n_layers != loaded.layers
        || cfg.n_heads != loaded.heads
        || cfg.parallel_attn_mlp != loaded.parallel_residual
        || cfg.d_model.is_some_and(|d| d != config.n_embd as u64)
    {
        return Ok(refuse(vec![Problem::ShapeMismatch {
            model: model.clone(),
            found: format!(
                "{} layers of {} heads{}",
                cfg.n_layers,
                cfg.n_heads,
                cfg.d_model
                    .map(|d| format!(", d_model {d}"))
                    .unwrap_or_default()
            ),
            expected: format!(
                "{} layers of {} heads, d_model {}",
                config.n_layer, config.n_head, config.n_embd
            ),
        }]));
    }
    let task_ref = placeholder.task.clone();
    let evaluator = Evaluator::new(session)?;
    let mut shown: Vec<String> = warn(warnings::small_groups(&evaluator.dataset))
        .into_iter()
        .collect();
    let naming = Naming {
        model: &model,
        task: &task_ref,
        shape: loaded,
    };
    let bar = progress_bar(args.quiet);
    let name = args.file.display().to_string();
    let report = curve(&evaluator, &graph, &name, &naming, &mut Bar(bar.clone()))?;
    bar.finish_and_clear();
    shown.extend(warn(warnings::model_fails_task(
        &report.model_score,
        report.confidence,
    )));
    let renderers = Renderers {
        terminal: render::render_terminal,
        json: render::render_json,
        markdown: render::render_markdown,
    };
    let page = || html::curve_page(&report, &evaluator.session.model_files, &shown);
    args.format.publish(&report, renderers, html_output, page)?;
    Ok(Outcome::Success)
}

/// The graph file's problems on standard error; exit 2.
fn refuse(problems: Vec<Problem>) -> Outcome {
    let color = diagnostics::use_color(&io::stderr());
    for problem in &problems {
        eprint!("{}", diagnostics::render_error(problem, color));
    }
    Outcome::Error
}

/// The circuits' model: the known model the graph's cfg describes, or with `--model DIR`
/// and no such model, the directory's name.
fn model_name(eval: &EvalArgs, file: &GraphFile) -> miette::Result<String> {
    let matching = catalog::models_matching(&file.cfg);
    match (matching.as_slice(), eval.model_dir()) {
        ([one, ..], _) => Ok(one.name.to_string()),
        ([], Some(dir)) => Ok(dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".to_string())),
        ([], None) => miette::bail!(
            help = "give the model's directory with --model DIR",
            "no known model has the graph's shape ({} layers of {} heads)",
            file.cfg.n_layers,
            file.cfg.n_heads
        ),
    }
}
