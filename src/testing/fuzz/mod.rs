//! A fuzzer for everything that reads user input: circuits (parser, analyzer, `extends`,
//! diagnostics), the formatter's guarantees, task files and the datasets made from them,
//! and the model's `config.json`, tokenizer and safetensors loaders. Inputs are the
//! repository's own files mutated byte by byte, and circuits generated from the grammar,
//! all from one seeded ChaCha8 stream. Each input runs under `catch_unwind`; a panic, a
//! broken property or an input slower than `Options::slow` is a finding, saved to disk.
//!
//! Driven by `examples/fuzz.rs` (long runs) and `tests/fuzz.rs` (a short run per target).

mod generate;
mod mutate;
mod seeds;
mod structure;
mod targets;

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use mutate::Mutator;
use targets::Context;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Parse, analyse (with `extends`) and render a circuit file.
    Circuit,
    /// `fmt` parses back, is idempotent, and keeps meaning and comments.
    Format,
    /// A task file and the datasets it makes.
    Task,
    /// `config.json`.
    Config,
    /// `tokenizer.json`, or `vocab.json` + `merges.txt`.
    Tokenizer,
    /// `model.safetensors`.
    Safetensors,
}

impl Target {
    pub const ALL: [Target; 6] = [
        Target::Circuit,
        Target::Format,
        Target::Task,
        Target::Config,
        Target::Tokenizer,
        Target::Safetensors,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Target::Circuit => "circuit",
            Target::Format => "format",
            Target::Task => "task",
            Target::Config => "config",
            Target::Tokenizer => "tokenizer",
            Target::Safetensors => "safetensors",
        }
    }

    pub fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    fn run(self, context: &mut Context, input: &[u8]) -> Result<bool, String> {
        match self {
            Target::Circuit => targets::circuit(context, input),
            Target::Format => targets::format(context, input),
            Target::Task => targets::task(context, input),
            Target::Config => targets::config(context, input),
            Target::Tokenizer => targets::tokenizer(context, input),
            Target::Safetensors => targets::safetensors(context, input),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub struct Options {
    pub iterations: u64,
    pub seed: u64,
    /// Inputs taking longer than this are findings.
    pub slow: Duration,
    /// Where findings are saved (`TARGET-N.input` and `.txt`); none: kept in memory only.
    pub crash_dir: Option<PathBuf>,
    /// Called every `progress_every` inputs with the count so far.
    pub progress_every: u64,
}

/// Something wrong one input showed.
#[derive(Debug)]
pub struct Finding {
    pub kind: &'static str,
    /// The panic message with its location, or the broken property.
    pub message: String,
    pub input: Vec<u8>,
    pub saved: Option<PathBuf>,
}

pub struct Summary {
    pub target: Target,
    pub inputs: u64,
    pub elapsed: Duration,
    pub slowest: Duration,
    /// The input that took longest, to look at (saved as `TARGET-SEED-slowest.input`).
    pub slowest_input: Vec<u8>,
    /// Inputs the target accepted (a circuit without errors, a dataset made, a model loaded).
    pub accepted: u64,
    /// Inputs that found something (all of them, not only the distinct ones kept).
    pub failing: u64,
    /// Distinct findings (by message), at most `KEPT`.
    pub findings: Vec<Finding>,
}

impl Summary {
    pub fn per_second(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<12} {:>9} inputs ({:>8} accepted) in {:>8.1} s ({:>7.0}/s), slowest {:>7.1} ms, {} failing ({} distinct)",
            self.target.name(),
            self.inputs,
            self.accepted,
            self.elapsed.as_secs_f64(),
            self.per_second(),
            self.slowest.as_secs_f64() * 1e3,
            self.failing,
            self.findings.len()
        )
    }
}

/// Distinct findings kept per run.
const KEPT: usize = 20;

thread_local! {
    static CATCHING: Cell<bool> = const { Cell::new(false) };
    static PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// While this thread fuzzes, panics are recorded (message, location, backtrace) instead of
/// printed; other threads keep the previous hook.
fn install_panic_hook() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if CATCHING.get() {
                let backtrace = std::backtrace::Backtrace::force_capture();
                PANIC.set(Some(format!("{info}\n{backtrace}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// A scratch directory of its own for one run: the tests fuzz several targets in one
/// process, on parallel threads, so the process id alone does not tell runs apart.
fn scratch(what: &str) -> PathBuf {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    std::env::temp_dir().join(format!(
        "circuitcheck-fuzz-{what}-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Runs one input; `Err` holds what went wrong.
fn run_one(
    target: Target,
    context: &mut Context,
    input: &[u8],
) -> Result<bool, (&'static str, String)> {
    CATCHING.set(true);
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| target.run(context, input)));
    CATCHING.set(false);
    match outcome {
        Ok(Ok(accepted)) => Ok(accepted),
        Ok(Err(property)) => Err(("property", property)),
        Err(_) => Err((
            "panic",
            PANIC
                .take()
                .unwrap_or_else(|| "a panic without a message".into()),
        )),
    }
}

/// Fuzzes `target` for `options.iterations` inputs (the seeds first, unchanged).
pub fn run(
    target: Target,
    options: &Options,
    progress: &mut dyn FnMut(u64),
) -> io::Result<Summary> {
    install_panic_hook();
    let work = scratch(&format!("{}-{}", target.name(), options.seed));
    let summary = fuzz(target, options, progress, &work);
    let _ = std::fs::remove_dir_all(&work);
    summary
}

fn fuzz(
    target: Target,
    options: &Options,
    progress: &mut dyn FnMut(u64),
    work: &Path,
) -> io::Result<Summary> {
    let mut context = Context::new(work.join("context"))?;
    let seeds = seeds::seeds(target, work)?;
    let mutator = Mutator::new(target);
    // One stream per (seed, target): runs of one target reproduce whatever else ran.
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ (target as u64) << 56);
    let mut summary = Summary {
        target,
        inputs: 0,
        elapsed: Duration::ZERO,
        slowest: Duration::ZERO,
        slowest_input: Vec::new(),
        accepted: 0,
        failing: 0,
        findings: Vec::new(),
    };
    let started = Instant::now();
    for i in 0..options.iterations {
        let input = if (i as usize) < seeds.len() {
            seeds[i as usize].clone()
        } else {
            next_input(target, &seeds, &mutator, &mut rng)
        };
        let began = Instant::now();
        let outcome = run_one(target, &mut context, &input);
        let took = began.elapsed();
        if took > summary.slowest {
            summary.slowest = took;
            summary.slowest_input = input.clone();
        }
        summary.inputs += 1;
        let problem = match outcome {
            Err(problem) => Some(problem),
            Ok(_) if took > options.slow => Some((
                "slow",
                format!(
                    "took {:.2} s (limit {:?})",
                    took.as_secs_f64(),
                    options.slow
                ),
            )),
            Ok(accepted) => {
                summary.accepted += u64::from(accepted);
                None
            }
        };
        if let Some((kind, message)) = problem {
            summary.failing += 1;
            record(&mut summary, options, kind, message, input)?;
        }
        if options.progress_every > 0 && (i + 1) % options.progress_every == 0 {
            progress(i + 1);
        }
    }
    summary.elapsed = started.elapsed();
    if let Some(dir) = &options.crash_dir {
        std::fs::create_dir_all(dir)?;
        let name = format!("{}-{}-slowest.input", target.name(), options.seed);
        std::fs::write(dir.join(name), &summary.slowest_input)?;
    }
    Ok(summary)
}

fn next_input(
    target: Target,
    seeds: &[Vec<u8>],
    mutator: &Mutator,
    rng: &mut ChaCha8Rng,
) -> Vec<u8> {
    let grammar = matches!(target, Target::Circuit | Target::Format) && rng.random_bool(0.4);
    let mut input = if grammar {
        generate::circuit(rng).into_bytes()
    } else {
        seeds[rng.random_range(0..seeds.len())].clone()
    };
    if !grammar || rng.random_bool(0.5) {
        mutator.mutate(&mut input, seeds, rng);
    }
    input
}

/// Keeps a finding unless one with the same first line (the panic's location, or the
/// property) is kept already; saves it when there is a directory for it.
fn record(
    summary: &mut Summary,
    options: &Options,
    kind: &'static str,
    message: String,
    input: Vec<u8>,
) -> io::Result<()> {
    let key = |m: &str| m.lines().take(2).collect::<Vec<_>>().join("\n");
    if summary.findings.len() >= KEPT
        || summary
            .findings
            .iter()
            .any(|f| f.kind == kind && key(&f.message) == key(&message))
    {
        return Ok(());
    }
    let saved = match &options.crash_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            let stem = format!(
                "{}-{}-{}",
                summary.target.name(),
                options.seed,
                summary.findings.len()
            );
            let path = dir.join(format!("{stem}.input"));
            std::fs::write(&path, &input)?;
            std::fs::write(
                dir.join(format!("{stem}.txt")),
                format!("{kind}: {message}\n"),
            )?;
            Some(path)
        }
        None => None,
    };
    summary.findings.push(Finding {
        kind,
        message,
        input,
        saved,
    });
    Ok(())
}

/// Runs `input` through `target` once, outside a fuzzing loop: to replay a saved finding.
pub fn replay(target: Target, input: &[u8]) -> io::Result<Result<bool, String>> {
    install_panic_hook();
    let work = scratch(&format!("replay-{}", target.name()));
    let mut context = Context::new(work.join("context"))?;
    let outcome = run_one(target, &mut context, input).map_err(|(kind, m)| format!("{kind}: {m}"));
    let _ = std::fs::remove_dir_all(&work);
    Ok(outcome)
}
