//! `circuitcheck train-toy` (hidden): trains the toy induction model and writes its
//! directory (models/toy-induction in the repository).

use std::path::PathBuf;

use candle_core::Device;
use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::Outcome;
use crate::model::{LoadedModel, ModelFiles};
use crate::toy::{TrainOptions, accuracy, save, train};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the model directory
    #[arg(long, default_value = "models/toy-induction")]
    out: PathBuf,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, default_value_t = TrainOptions::default().steps)]
    steps: usize,
    #[arg(long, default_value_t = TrainOptions::default().batch)]
    batch: usize,
    #[arg(long, default_value_t = TrainOptions::default().learning_rate)]
    lr: f64,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let options = TrainOptions {
        seed: args.seed,
        steps: args.steps,
        batch: args.batch,
        learning_rate: args.lr,
    };
    let bar = ProgressBar::new(options.steps as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "training [{bar:30}] {pos}/{len} steps, loss {msg} ({eta} left)",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let varmap = train(&options, |step, loss| {
        bar.set_message(format!("{loss:.3}"));
        bar.inc(1);
        if step % 250 == 0 {
            bar.suspend(|| eprintln!("step {step:>5}  loss {loss:.4}"));
        }
    })?;
    bar.finish_and_clear();
    save(&varmap, &args.out)
        .map_err(|e| miette::miette!("cannot write {}: {e}", args.out.display()))?;
    let loaded = LoadedModel::load(ModelFiles::in_dir(&args.out)?, &Device::Cpu)?;
    let accuracy =
        accuracy(&loaded.model, &loaded.tokenizer, 500, 1).map_err(|e| miette::miette!("{e}"))?;
    println!(
        "wrote {}; accuracy on the induction task: {:.1} %",
        args.out.display(),
        100.0 * accuracy
    );
    Ok(Outcome::Success)
}
