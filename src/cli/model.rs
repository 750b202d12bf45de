//! `circuitcheck model info [--model DIR]`

use std::path::PathBuf;

use candle_core::Device;

use crate::cli::Outcome;
use crate::model::{LoadedModel, locate, weights};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Show which model is found and what it is
    Info(InfoArgs),
}

#[derive(clap::Args)]
pub struct InfoArgs {
    /// Model directory (model.safetensors, config.json, tokenizer files)
    #[arg(long, value_name = "DIR")]
    model: Option<PathBuf>,
}

pub fn run(command: &Command) -> miette::Result<Outcome> {
    match command {
        Command::Info(args) => info(args),
    }
}

fn info(args: &InfoArgs) -> miette::Result<Outcome> {
    let files = locate(args.model.as_deref())?;
    let loaded = LoadedModel::load(files, &Device::Cpu)?;
    let config = loaded.model.config();
    let dtype = weights::stored_dtype(&loaded.files.weights).unwrap_or_else(|| "?".into());
    println!("path         {}", loaded.files.dir.display());
    println!("parameters   {}", config.parameter_count());
    println!("dtype        {dtype} (computed in f32)");
    println!("layers       {}", config.n_layer);
    println!(
        "heads        {} per layer, {} wide",
        config.n_head,
        config.d_head()
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
