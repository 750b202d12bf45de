//! A short fuzzing run of every reader of user input (long runs: `examples/fuzz.rs`): no
//! input may panic, break a property (fmt idempotent and meaning-preserving, datasets
//! keeping their contract, only valid configs read) or take more than a few seconds.

use std::time::Duration;

use circuitcheck::testing::fuzz::{self, Options, Target};

fn fuzz(target: Target, iterations: u64) {
    let options = Options {
        iterations,
        seed: 1,
        // Debug builds are slow; the long release runs hold inputs to one second.
        slow: Duration::from_secs(10),
        crash_dir: None,
        progress_every: 0,
    };
    let summary = fuzz::run(target, &options, &mut |_| {}).expect("the fuzzer runs");
    let findings: Vec<String> = summary
        .findings
        .iter()
        .map(|f| {
            format!(
                "{}: {}\ninput: {:?}",
                f.kind,
                f.message,
                String::from_utf8_lossy(&f.input)
            )
        })
        .collect();
    assert!(findings.is_empty(), "{summary}\n{}", findings.join("\n\n"));
    assert_eq!(summary.inputs, iterations);
    assert!(summary.accepted > 0, "{summary}: no input got through");
}

#[test]
fn circuits() {
    fuzz(Target::Circuit, 3000);
}

#[test]
fn formatting() {
    fuzz(Target::Format, 3000);
}

#[test]
fn tasks() {
    fuzz(Target::Task, 3000);
}

#[test]
fn configs() {
    fuzz(Target::Config, 3000);
}

#[test]
fn tokenizers() {
    fuzz(Target::Tokenizer, 3000);
}

#[test]
fn safetensors() {
    fuzz(Target::Safetensors, 3000);
}
