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
use circuitcheck::dsl::{Circuit, FileSystem, Level, Loader};
use circuitcheck::eval::cache::Cache;
use circuitcheck::eval::check::{Progress, check};
use circuitcheck::eval::reference::{ReferenceActivations, load_or_compute};
use circuitcheck::eval::runner::Runner;
use circuitcheck::eval::schema::Options;
use circuitcheck::eval::variant::Variant;
use circuitcheck::model::{LoadedModel, ModelFiles, Transformer};
use circuitcheck::task::{Dataset, Task};
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
                "  {:<20} {:>4} variants  {:>8.2} s  {passes:>4} passes  {:>9} positions × layers = {:>5.2} full passes  {}",
                started.name,
                started.variants,
                started.at.elapsed().as_secs_f64(),
                positions,
                positions as f64 / self.full_pass as f64,
                peak()
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

/// Writes the model, then runs each configuration in a process of its own, so that each
/// one's time and peak memory are those of a whole `circuitcheck check` run.
fn main() -> Result<(), Box<dyn std::error::Error>> {
    circuitcheck::model::reuse_freed_memory();
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some(CONFIGURATION) {
        let name = args.next().ok_or("a configuration's name")?;
        let dir = PathBuf::from(args.next().ok_or("the model's directory")?);
        let n: usize = args.next().ok_or("the number of prompts")?.parse()?;
        let (_, options) = configurations()
            .into_iter()
            .find(|(known, _)| *known == name)
            .ok_or_else(|| format!("no configuration {name}"))?;
        return run(&dir, n, &options);
    }
    let n: usize = first.map(|a| a.parse()).transpose()?.unwrap_or(100);
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
    println!(
        "each configuration runs in a process of its own; peak: its peak resident memory so far"
    );
    for (name, _) in configurations() {
        if only.as_deref().is_some_and(|o| !name.starts_with(o)) {
            continue;
        }
        println!("{name}:");
        let status = std::process::Command::new(std::env::current_exe()?)
            .arg(CONFIGURATION)
            .arg(name)
            .arg(dir.path())
            .arg(n.to_string())
            .status()?;
        if !status.success() {
            return Err(format!("{name} failed ({status})").into());
        }
    }
    Ok(())
}

/// The first argument of a child process that runs one configuration.
const CONFIGURATION: &str = "--configuration";

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
        "  {:<20}                {:>8.2} s{:>70}",
        "load + dataset",
        start.elapsed().as_secs_f64(),
        peak()
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
        "  {:<20}                {:>8.2} s{:>70}",
        "reference",
        phase.elapsed().as_secs_f64(),
        peak()
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
    let total = start.elapsed().as_secs_f64();
    println!(
        "  total {total:.1} s, {} forward passes ({} random K sets, greedy budget {}, minimality budget {})",
        report.forward_passes,
        options.random_sets,
        options.greedy_budget,
        options.minimality_budget
    );
    println!("  {}", peak());
    // Whether the time is the plan's work or each pass's cost: the work at the rate of one
    // plain pass (an upper estimate of the compute alone: passes that replace heads compute
    // fewer of them, about 0.7 of a plain pass for IOI's circuit).
    let pass = plain_pass_seconds(&loaded.model, &dataset, &reference, &circuit)?;
    let work = phases.work.1 as f64 / phases.full_pass as f64 + 1.0;
    println!(
        "  one plain full pass {pass:.2} s (median of 3); the work, {work:.1} full passes with the reference's, at that rate {:.1} s ({:.0} % of the total)",
        work * pass,
        100.0 * work * pass / total
    );
    Ok(())
}

/// Seconds of one plain pass over every prompt: F(M) as a check computes it, keeping no base
/// (median of 3 after a warm-up; a fresh runner each time, so nothing is remembered).
fn plain_pass_seconds(
    model: &Transformer,
    dataset: &Dataset,
    reference: &ReferenceActivations,
    circuit: &Circuit,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut seconds = Vec::new();
    for run in 0..4 {
        let all = (0..dataset.prompts.len()).collect();
        let mut runner = Runner::new(model, dataset, reference, circuit, Level::Node, all);
        runner.roots = false;
        let at = Instant::now();
        runner.scores(&[Variant::model()])?;
        if run > 0 {
            seconds.push(at.elapsed().as_secs_f64());
        }
    }
    seconds.sort_by(f64::total_cmp);
    Ok(seconds[1])
}

/// The process's peak resident set so far (`VmHWM`), where the system reports it.
fn peak() -> String {
    let kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status
                .lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .to_string();
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
    match kib {
        Some(kib) => format!("peak {:.2} GiB", kib as f64 / (1u64 << 20) as f64),
        None => String::new(),
    }
}
