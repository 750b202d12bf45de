//! A full `check` of circuits/ioi.circuit on a GPT-2-small-shaped model with random weights
//! and the real GPT-2 tokenizer: the real shapes and the real IOI task, end to end, timed by
//! phase. The tokenizer comes from `$CIRCUITCHECK_TOKENIZER_DIR`, else ../shared/gpt2-tokenizer.
//!
//!     cargo run --release --no-default-features --example bench_check [-- N [default|paper]]

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use circuitcheck::catalog::Catalog;
use circuitcheck::dsl::{FileSystem, Loader};
use circuitcheck::eval::cache::Cache;
use circuitcheck::eval::check::{Progress, check};
use circuitcheck::eval::reference::load_or_compute;
use circuitcheck::eval::schema::Options;
use circuitcheck::model::{Config, LoadedModel, ModelFiles};
use circuitcheck::task::Task;
use circuitcheck::testing::write_random_gpt2;

/// Counts variants per phase, so the printout says where the time went.
#[derive(Default)]
struct Phases {
    started: Option<(String, Instant, usize)>,
}

impl Phases {
    fn finish(&mut self) {
        if let Some((name, start, variants)) = self.started.take() {
            println!(
                "  {name:<20} {variants:>4} variants  {:>8.2} s",
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

/// The two configurations the README quotes: the default check, and the paper's procedure
/// alone (F(M), F(C), completeness over the class K's, minimality with the class K's).
fn configurations() -> Vec<(&'static str, Options)> {
    let paper = Options {
        random_sets: 0,
        greedy_budget: 0,
        minimality_budget: 0,
        ..Options::default()
    };
    vec![
        (
            "default check",
            Options {
                shortlist: std::env::var("BENCH_SHORTLIST")
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(Options::default().shortlist),
                ..Options::default()
            },
        ),
        ("paper procedure", paper),
    ]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    circuitcheck::model::reuse_freed_memory();
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let only: Option<String> = args.next();
    let dir = tempfile::tempdir()?;
    write_random_gpt2(dir.path(), &Config::gpt2_small(), &tokenizer_dir())?;
    let threads = candle_core::utils::get_num_threads();
    println!(
        "circuits/ioi.circuit, GPT-2-small shapes (random weights), {n} IOI prompts, {threads} threads"
    );
    for (name, options) in configurations() {
        if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        println!("{name}:");
        run(dir.path(), n, &options)?;
    }
    Ok(())
}

/// One whole check as the command runs it (load, dataset, reference, check), timed by phase.
fn run(dir: &Path, n: usize, options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let loaded = LoadedModel::load(ModelFiles::in_dir(dir)?, &Device::Cpu)?;
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
        "  {:<20}                {:>8.2} s",
        "load + dataset",
        start.elapsed().as_secs_f64()
    );
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
        "  {:<20}                {:>8.2} s",
        "reference",
        phase.elapsed().as_secs_f64()
    );
    let mut phases = Phases::default();
    let report = check(
        &loaded.model,
        &dataset,
        &reference,
        &circuit,
        options,
        &mut phases,
    )?;
    phases.finish();
    println!(
        "  total {:.1} s, {} forward passes ({} random K sets, greedy budget {}, minimality budget {})",
        start.elapsed().as_secs_f64(),
        report.forward_passes,
        options.random_sets,
        options.greedy_budget,
        options.minimality_budget
    );
    Ok(())
}
