//! Fuzzes every reader of user input (see `circuitcheck::testing::fuzz`):
//!
//! ```sh
//! cargo run --release --no-default-features --example fuzz -- \
//!     --target circuit|format|task|config|tokenizer|safetensors|all --iterations N --seed S
//! cargo run --release --no-default-features --example fuzz -- --replay TARGET FILE
//! ```
//!
//! Prints a line per target (inputs, time, throughput, findings); findings are saved under
//! `target/fuzz-crashes/`. Exits 1 when anything was found.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use circuitcheck::testing::fuzz::{self, Options, Target};

fn usage() -> ExitCode {
    eprintln!(
        "usage: fuzz [--target NAME|all] [--iterations N] [--seed S] [--slow-ms MS]\n       fuzz --replay TARGET FILE\ntargets: circuit, format, task, config, tokenizer, safetensors"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    if let Some(i) = args.iter().position(|a| a == "--replay") {
        let (Some(target), Some(file)) = (
            args.get(i + 1).and_then(|t| Target::from_name(t)),
            args.get(i + 2),
        ) else {
            return usage();
        };
        let input = std::fs::read(file).expect("the input file reads");
        return match fuzz::replay(target, &input).expect("the fuzzing context builds") {
            Ok(accepted) => {
                let verdict = if accepted { "accepted" } else { "refused" };
                println!("{target}: fine ({verdict})");
                ExitCode::SUCCESS
            }
            Err(message) => {
                println!("{target}: {message}");
                ExitCode::FAILURE
            }
        };
    }
    let targets: Vec<Target> = match value("--target").as_deref() {
        None | Some("all") => Target::ALL.to_vec(),
        Some(name) => match Target::from_name(name) {
            Some(target) => vec![target],
            None => return usage(),
        },
    };
    let parse = |name: &str, default: u64| match value(name) {
        Some(text) => text.parse::<u64>().ok(),
        None => Some(default),
    };
    let (Some(iterations), Some(seed), Some(slow_ms)) = (
        parse("--iterations", 10_000),
        parse("--seed", 0),
        parse("--slow-ms", 1000),
    ) else {
        return usage();
    };
    let options = Options {
        iterations,
        seed,
        slow: Duration::from_millis(slow_ms),
        crash_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-crashes")),
        progress_every: (iterations / 20).max(1),
    };
    let mut found = false;
    for target in targets {
        let mut progress = |done: u64| eprintln!("  {target}: {done}/{iterations}");
        let summary = fuzz::run(target, &options, &mut progress).expect("fuzzing runs");
        println!("{summary}");
        for finding in &summary.findings {
            found = true;
            let first: String = finding
                .message
                .lines()
                .take(3)
                .collect::<Vec<_>>()
                .join(" | ");
            println!("  {}: {first}", finding.kind);
            if let Some(path) = &finding.saved {
                println!("    saved as {}", path.display());
            }
        }
    }
    if found {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
