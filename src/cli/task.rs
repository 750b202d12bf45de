//! `circuitcheck task show|export TASK`

use std::path::PathBuf;

use crate::catalog::model_argument;
use crate::cli::Outcome;
use crate::model::{ModelFiles, Tokenizer};
use crate::task::{Dataset, ReferenceSize, Task, export_toml};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print prompts with their named positions and reference counterparts
    Show(Args),
    /// Write the generated dataset as an explicit task file (every prompt listed)
    Export(ExportArgs),
}

#[derive(clap::Args)]
pub struct Args {
    /// A built-in task (`ioi`) or a task file (.toml)
    task: String,
    /// Number of prompts (default: 5 to show; to export, what `check` uses: every prompt of
    /// a task file, 100 of a generated task)
    #[arg(long)]
    n: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Model directory whose tokenizer to use
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
    /// Tokenizer directory (tokenizer.json, or vocab.json + merges.txt)
    #[arg(long, value_name = "DIR", conflicts_with = "model")]
    tokenizer: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ExportArgs {
    #[command(flatten)]
    args: Args,
    /// Write here instead of standard output
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Reference prompts per group to write, as `check --reference-n` takes them: a number,
    /// `counterparts` or `listed` (default: the reference set `check` uses, so that
    /// `check --task FILE` gives the figures of the check the file came from)
    #[arg(long, value_name = "N|counterparts|listed")]
    reference_n: Option<ReferenceSize>,
}

pub const TOKENIZER_ENV: &str = "CIRCUITCHECK_TOKENIZER_DIR";

/// The tokenizer: `--tokenizer`, `--model`, `CIRCUITCHECK_TOKENIZER_DIR`, else the model
/// circuitcheck would use.
fn tokenizer(args: &Args) -> miette::Result<Tokenizer> {
    if let Some(dir) = &args.tokenizer {
        return Ok(Tokenizer::from_dir(dir)?);
    }
    if let Some(dir) = &args.model {
        return Ok(Tokenizer::from_dir(&ModelFiles::in_dir(dir)?.dir)?);
    }
    if let Some(dir) = std::env::var_os(TOKENIZER_ENV) {
        return Ok(Tokenizer::from_dir(std::path::Path::new(&dir))?);
    }
    Ok(Tokenizer::from_dir(&model_argument(None)?.dir)?)
}

/// Prompts shown when no number is asked for.
const SHOWN: usize = 5;

fn dataset(
    args: &Args,
    default_n: fn(&Task) -> usize,
) -> miette::Result<(Task, Tokenizer, Dataset)> {
    let task = Task::load(&args.task)?;
    let tokenizer = tokenizer(args)?;
    let n = args.n.unwrap_or_else(|| default_n(&task));
    let dataset = task.dataset(&tokenizer, n, args.seed)?;
    Ok((task, tokenizer, dataset))
}

pub fn run(command: &Command) -> miette::Result<Outcome> {
    match command {
        Command::Show(args) => {
            let (task, tokenizer, dataset) = dataset(args, |_| SHOWN)?;
            print!("{}", show(&task, &tokenizer, &dataset, args.seed));
        }
        Command::Export(export) => {
            let (task, tokenizer, dataset) = dataset(&export.args, Task::default_prompts)?;
            let size = export
                .reference_n
                .unwrap_or_else(|| task.default_reference_size());
            let reference_set = task.reference_set(&tokenizer, &dataset, size, export.args.seed)?;
            let text = export_toml(&dataset, &reference_set, &tokenizer, task.description());
            match &export.output {
                Some(path) => std::fs::write(path, text)
                    .map_err(|e| miette::miette!("cannot write {}: {e}", path.display()))?,
                None => print!("{text}"),
            }
        }
    }
    Ok(Outcome::Success)
}

/// Prompts token by token, named positions marked, with answer and reference.
pub fn show(task: &Task, tokenizer: &Tokenizer, dataset: &Dataset, seed: u64) -> String {
    let mut out = format!(
        "task {}: {} prompts (seed {seed}), metric {}, positions {}\n",
        task.name(),
        dataset.prompts.len(),
        serde_json::to_value(dataset.metric)
            .expect("plain enum")
            .as_str()
            .unwrap_or(""),
        dataset.position_names.join(" ")
    );
    let marked = |prompt: &crate::task::Prompt| -> String {
        prompt
            .tokens
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let names: Vec<&str> = dataset
                    .position_names
                    .iter()
                    .filter(|n| prompt.positions.get(*n) == Some(&i))
                    .map(String::as_str)
                    .collect();
                let text = tokenizer.token_text(*id).replace(' ', "␣");
                if names.is_empty() {
                    text
                } else {
                    format!("{text}⟨{}⟩", names.join(","))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let words = |ids: &[u32]| {
        ids.iter()
            .map(|id| format!("{:?} ({id})", tokenizer.token_text(*id)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, (prompt, reference)) in dataset.prompts.iter().zip(&dataset.reference).enumerate() {
        out.push_str(&format!("\n#{i}  {}\n", dataset.groups[prompt.group]));
        out.push_str(&format!("  prompt     {}\n", prompt.text));
        out.push_str(&format!("  tokens     {}\n", marked(prompt)));
        out.push_str(&format!(
            "  answer     {}  vs  {}\n",
            words(&prompt.answer),
            words(&prompt.distractor)
        ));
        out.push_str(&format!("  reference  {}\n", reference.text));
    }
    out
}
