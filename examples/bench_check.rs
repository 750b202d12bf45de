//! A full `check` of circuits/ioi.circuit on a model with random weights of a hub model's
//! exact shape (GPT-2 small by default; `pythia-160m`, `qwen2.5-0.5b`, `llama-3.2-1b`,
//! `gemma-2-2b`): the real shapes and the real IOI task, end to end, timed by phase. GPT-2
//! uses GPT-2's tokenizer files from `$CIRCUITCHECK_TOKENIZER_DIR` where it is set; otherwise
//! the tokenizer is a generated BPE in which every IOI word is one token, as in GPT-2's.
//! Gemma-2-2b has 8 heads a layer: the circuit's heads 8–11 of layer L become heads 0–3 of
//! layer L + 12 there, and its edges (unused at node level) are left out.
//!
//!     cargo run --release --no-default-features --example bench_check [-- N [default|paper|all [MODEL]]]

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;
use circuitcheck::catalog;
use circuitcheck::catalog::Catalog;
use circuitcheck::dsl::{FileSystem, Loader};
use circuitcheck::eval::cache::Cache;
use circuitcheck::eval::check::{Progress, check};
use circuitcheck::eval::reference::load_or_compute;
use circuitcheck::eval::schema::Options;
use circuitcheck::model::{LoadedModel, ModelFiles};
use circuitcheck::task::Task;
use circuitcheck::testing::write_hub_shaped;

/// Times each phase and counts its variants, passes and work, so the printout says where the
/// time went.
struct Phases {
    /// Positions × layers of one full pass over the prompts, unpadded.
    full_pass: usize,
    /// Passes and positions × layers so far (as the check last reported them).
    work: (usize, usize),
    started: Option<Started>,
}

struct Started {
    name: String,
    at: Instant,
    variants: usize,
    work: (usize, usize),
}

impl Phases {
    fn finish(&mut self) {
        if let Some(started) = self.started.take() {
            let passes = self.work.0 - started.work.0;
            let positions = self.work.1 - started.work.1;
            println!(
                "  {:<20} {:>4} variants  {:>8.2} s  {passes:>4} passes  {:>9} positions × layers = {:>5.2} full passes",
                started.name,
                started.variants,
                started.at.elapsed().as_secs_f64(),
                positions,
                positions as f64 / self.full_pass as f64
            );
        }
    }
}

impl Progress for Phases {
    fn phase(&mut self, name: &str, variants: usize) {
        self.finish();
        self.started = Some(Started {
            name: name.to_string(),
            at: Instant::now(),
            variants,
            work: self.work,
        });
    }

    fn advance(&mut self, _: usize) {}

    fn work(&mut self, passes: usize, positions: usize) {
        self.work = (passes, positions);
    }
}

/// circuits/ioi.circuit naming `model`, with its heads moved where `heads` per layer need it.
fn ioi_circuit_for(model: &str, heads: u32) -> Result<String, Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/ioi.circuit");
    let text =
        std::fs::read_to_string(path)?.replace("model gpt2-small", &format!("model {model}"));
    if heads >= 12 {
        return Ok(text);
    }
    let moved = |word: &str| -> String {
        let Some((layer, head)) = word.split_once('.') else {
            return word.to_string();
        };
        match (layer.parse::<u32>(), head.parse::<u32>()) {
            (Ok(layer), Ok(head)) if head >= heads => format!("{}.{}", layer + 12, head - heads),
            _ => word.to_string(),
        }
    };
    let lines = text
        .lines()
        .filter(|line| !line.starts_with("edge "))
        .map(|line| {
            if line.starts_with("class ") || line.starts_with("minimality ") {
                line.split(' ').map(moved).collect::<Vec<_>>().join(" ")
            } else {
                line.to_string()
            }
        });
    Ok(lines.collect::<Vec<_>>().join("\n") + "\n")
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
    let only: Option<String> = args.next().filter(|o| o != "all");
    let model = args.next().unwrap_or_else(|| "gpt2-small".into());
    let dir = tempfile::tempdir()?;
    let start = Instant::now();
    let tokenizer = std::env::var_os("CIRCUITCHECK_TOKENIZER_DIR").map(PathBuf::from);
    write_hub_shaped(dir.path(), &model, tokenizer.as_deref())?;
    let heads = catalog::model(&model).map_or(12, |m| m.shape.heads);
    std::fs::write(
        dir.path().join("ioi.circuit"),
        ioi_circuit_for(&model, heads)?,
    )?;
    let threads = candle_core::utils::get_num_threads();
    println!(
        "circuits/ioi.circuit, {model} shapes (random weights, written in {:.1} s), {n} IOI prompts, {threads} threads",
        start.elapsed().as_secs_f64()
    );
    for (name, options) in configurations() {
        if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        println!("{name}:");
        run(dir.path(), n, &options)?;
    }
    if let Some(peak) = peak_memory() {
        println!(
            "peak resident memory {:.2} GiB",
            peak as f64 / (1u64 << 30) as f64
        );
    }
    Ok(())
}

/// The process's peak resident set (`VmHWM`), where the system reports it.
fn peak_memory() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// One whole check as the command runs it (load, dataset, reference, check), timed by phase.
fn run(dir: &Path, n: usize, options: &Options) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let loaded = LoadedModel::load(ModelFiles::in_dir(dir)?, &Device::Cpu)?;
    let env = Catalog;
    let mut loader = Loader::new(&env, &FileSystem);
    let loaded_circuit = loader.load(&dir.join("ioi.circuit"));
    let circuit = loaded_circuit.circuit.clone().ok_or_else(|| {
        format!(
            "circuits/ioi.circuit has errors for this model: {:?}",
            loaded_circuit.diagnostics
        )
    })?;
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
    let tokens: usize = dataset.prompts.iter().map(|p| p.tokens.len()).sum();
    let mut phases = Phases {
        full_pass: tokens * loaded.model.config().n_layer,
        work: (0, 0),
        started: None,
    };
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
