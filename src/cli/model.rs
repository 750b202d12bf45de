//! `circuitcheck model info|attention`: what the model is, and where its heads look.

use std::path::PathBuf;

use crate::catalog::{load_task, model_argument, task_argument};
use crate::cli::Outcome;
use crate::cli::check::DeviceArg;
use crate::eval::attention::{AttentionTable, mean_attention};
use crate::model::{LoadedModel, describe_device, weights};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show which model is found and what it is
    Info(InfoArgs),
    /// Mean attention of every head between a task's named positions
    Attention(AttentionArgs),
}

#[derive(clap::Args)]
pub struct AttentionArgs {
    /// A built-in task (`ioi`, `induction`) or a task file (.toml)
    task: String,
    /// Model directory (model.safetensors, config.json, tokenizer files), or a known model
    /// by name (gpt2-small, gpt2-medium, …: found in the Hugging Face cache)
    #[arg(long, value_name = "DIR|NAME")]
    model: Option<PathBuf>,
    /// Query position (a position name of the task); with --to, prints one layer × head grid
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Key position (a position name of the task)
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Number of prompts (default: every prompt of a task file, 100 of a generated task)
    #[arg(long)]
    n: Option<usize>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print the whole table as JSON
    #[arg(long)]
    json: bool,
    /// Where the model runs
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
}

#[derive(clap::Args)]
pub struct InfoArgs {
    /// Model directory (model.safetensors, config.json, tokenizer files), or a known model
    /// by name (gpt2-small, gpt2-medium, …: found in the Hugging Face cache)
    #[arg(long, value_name = "DIR|NAME")]
    model: Option<PathBuf>,
    /// Where the model runs
    #[arg(long, value_enum, default_value = "auto")]
    device: DeviceArg,
}

pub fn run(command: &Command) -> miette::Result<Outcome> {
    match command {
        Command::Info(args) => info(args),
        Command::Attention(args) => attention(args),
    }
}

fn attention(args: &AttentionArgs) -> miette::Result<Outcome> {
    let task = load_task(&task_argument(&args.task)?)?;
    let loaded = LoadedModel::load(model_argument(args.model.as_deref())?, &args.device.open()?)?;
    let n = args.n.unwrap_or_else(|| task.default_prompts());
    let dataset = task.dataset(&loaded.tokenizer, n, args.seed)?;
    let table = mean_attention(&loaded.model, &dataset)?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&table).expect("plain data")
        );
        return Ok(Outcome::Success);
    }
    match (&args.from, &args.to) {
        (Some(from), Some(to)) => {
            let index = |name: &str| {
                table.position(name).ok_or_else(|| {
                    miette::miette!(
                        help = format!("the task's positions: {}", table.positions.join(", ")),
                        "task `{}` has no position `{name}`",
                        task.name()
                    )
                })
            };
            let grid = table.between(index(from)?, index(to)?);
            print!(
                "{}",
                render_grid(&grid, &format!("{from} → {to}"), table.prompts)
            );
        }
        _ => print!("{}", render_heads(&table)),
    }
    Ok(Outcome::Success)
}

/// A layer × head grid of mean weights.
fn render_grid(grid: &[Vec<f64>], title: &str, prompts: usize) -> String {
    let heads = grid.first().map_or(0, Vec::len);
    let mut out = format!("mean attention {title} over {prompts} prompts\n\nlayer");
    for h in 0..heads {
        out += &format!(" {h:>5}");
    }
    out += "\n";
    for (layer, row) in grid.iter().enumerate() {
        out += &format!("{layer:>5}");
        for weight in row {
            out += &format!(" {weight:>5.2}");
        }
        out += "\n";
    }
    out
}

/// Per head: its weight on the previous token and its three strongest position pairs.
fn render_heads(table: &AttentionTable) -> String {
    let names = &table.positions;
    let mut out = format!(
        "mean attention over {} prompts (prev: on the preceding token, any position)\n\n\
         head   prev  strongest between named positions\n",
        table.prompts
    );
    // A name that is always the same token as an earlier one (`END` = `A2`) adds nothing.
    let shown: Vec<usize> = (0..names.len())
        .filter(|j| (0..*j).all(|i| !table.aliases[i][*j]))
        .collect();
    for (layer, heads) in table.mean.iter().enumerate() {
        for (head, cells) in heads.iter().enumerate() {
            let mut pairs: Vec<(f64, usize, usize)> = shown
                .iter()
                .flat_map(|f| shown.iter().map(move |t| (*f, *t)))
                .filter(|(f, t)| !table.aliases[*f][*t])
                .map(|(f, t)| (cells[f][t], f, t))
                .collect();
            pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
            let strongest: Vec<String> = pairs
                .iter()
                .take(3)
                .map(|(w, f, t)| format!("{}→{} {w:.2}", names[*f], names[*t]))
                .collect();
            out += &format!(
                "{:<6} {:>4.2}  {}\n",
                format!("{layer}.{head}"),
                table.previous_token[layer][head],
                strongest.join("  ")
            );
        }
    }
    out
}

fn info(args: &InfoArgs) -> miette::Result<Outcome> {
    let files = model_argument(args.model.as_deref())?;
    let device = args.device.open()?;
    let loaded = LoadedModel::load(files, &device)?;
    let config = loaded.model.config();
    let dtype = (loaded.files.weight_files().unwrap_or_default().iter())
        .find_map(|shard| weights::stored_dtype(shard))
        .unwrap_or_else(|| "?".into());
    println!("path         {}", loaded.files.dir.display());
    println!("device       {}", describe_device(&device));
    println!("parameters   {}", config.parameter_count());
    println!("dtype        {dtype} (computed in f32)");
    println!("layers       {}", config.n_layer);
    println!("family       {}", config.family.name());
    println!(
        "heads        {} per layer, {} wide{}",
        config.n_head,
        config.d_head(),
        if config.n_kv_head < config.n_head {
            format!(", sharing {} key/value heads", config.n_kv_head)
        } else {
            String::new()
        }
    );
    println!("d_model      {}", config.n_embd);
    println!("d_mlp        {}", config.d_mlp());
    println!("context      {}", config.n_positions);
    println!(
        "vocabulary   {} ({})",
        config.vocab_size,
        loaded.tokenizer.source().display()
    );
    Ok(Outcome::Success)
}
