//! A full `check` of circuits/ioi.circuit on a GPT-2-small-shaped model with random weights
//! and the real GPT-2 tokenizer: the real shapes and the real IOI task, end to end, timed by
//! phase. The tokenizer comes from `$CIRCUITCHECK_TOKENIZER_DIR`, else ../shared/gpt2-tokenizer.
//!
//!     cargo run --release --no-default-features --example bench_check [-- N]

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use circuitcheck::catalog::Catalog;
use circuitcheck::dsl::{FileSystem, Loader};
use circuitcheck::eval::cache::Cache;
use circuitcheck::eval::check::{Options, Progress, check};
use circuitcheck::eval::reference::load_or_compute;
use circuitcheck::model::{Config, LoadedModel, ModelFiles};
use circuitcheck::task::Task;
use circuitcheck::testing::random_weights;

/// Counts variants per phase, so the printout says where the time went.
#[derive(Default)]
struct Phases {
    started: Option<(String, Instant, usize)>,
}

impl Phases {
    fn finish(&mut self) {
        if let Some((name, start, variants)) = self.started.take() {
            println!(
                "  {name:<14} {variants:>4} variants  {:>8.2} s",
                start.elapsed().as_secs_f64()
            );
        }
    }
}

impl Progress for Phases {
    fn phase(&mut self, name: &str, variants: usize) {
        self.finish();
        self.started = Some((name.to_string(), Instant::now(), variants));
    }

    fn advance(&mut self, _: usize) {}
}

fn tokenizer_dir() -> PathBuf {
    std::env::var_os("CIRCUITCHECK_TOKENIZER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/gpt2-tokenizer"))
}

fn write_random_gpt2_small(dir: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::gpt2_small();
    let device = Device::Cpu;
    let tensors = random_weights(&config, &device)?;
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors"))?;
    std::fs::write(dir.join("config.json"), serde_json::to_string(&config)?)?;
    for file in ["vocab.json", "merges.txt"] {
        std::fs::copy(tokenizer_dir().join(file), dir.join(file))
            .map_err(|e| format!("{}: {e}", tokenizer_dir().join(file).display()))?;
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100);
    let dir = tempfile::tempdir()?;
    write_random_gpt2_small(dir.path())?;
    let threads = candle_core::utils::get_num_threads();

    let start = Instant::now();
    let loaded = LoadedModel::load(ModelFiles::in_dir(dir.path())?, &Device::Cpu)?;
    let env = Catalog;
    let mut loader = Loader::new(&env, &FileSystem);
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/ioi.circuit");
    let circuit = loader
        .load(&path)
        .circuit
        .clone()
        .ok_or("circuits/ioi.circuit has errors")?;
    let dataset = Task::load("ioi")?.dataset(&loaded.tokenizer, n, 0)?;
    println!(
        "full check of circuits/ioi.circuit, GPT-2-small shapes (random weights), {n} IOI prompts, {threads} threads"
    );
    println!(
        "  {:<14}                {:>8.2} s",
        "load + dataset",
        start.elapsed().as_secs_f64()
    );

    let options = Options::default();
    let phase = Instant::now();
    let (reference, _) = load_or_compute(
        &loaded.model,
        "bench",
        &dataset,
        options.ablation,
        options.seed,
        &Cache::new(None),
    )?;
    println!(
        "  {:<14}                {:>8.2} s",
        "reference",
        phase.elapsed().as_secs_f64()
    );
    let mut phases = Phases::default();
    let report = check(
        &loaded.model,
        &dataset,
        &reference,
        &circuit,
        &options,
        &mut phases,
    )?;
    phases.finish();
    println!(
        "total {:.1} s, {} forward passes (node level, mean ablation, {} random K sets, greedy budget {}, minimality budget {})",
        start.elapsed().as_secs_f64(),
        report.forward_passes,
        options.random_sets,
        options.greedy_budget,
        options.minimality_budget
    );
    Ok(())
}
