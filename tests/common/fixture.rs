//! A tiny random GPT-2 with a circuit file beside it, in a temporary directory, and the real
//! `check`'s JSON report on them: the fixture of the tests that recompute check's and
//! sensitivity's figures with the independent evaluator, and of the batching test.

use std::path::PathBuf;

use circuitcheck::catalog::Catalog;
use circuitcheck::dsl::{Circuit, FileSystem, Loader};
use circuitcheck::testing::TinyGpt2;
use serde_json::Value;

use super::evaluator::Level;
use super::{circuitcheck, ioi_words};

pub struct Fixture {
    /// The model's files and the circuit file, removed with the fixture.
    pub dir: tempfile::TempDir,
    pub circuit_path: PathBuf,
    /// The circuit as `check` loads it.
    pub circuit: Circuit,
}

impl Fixture {
    /// A tiny GPT-2 (3 layers, 4 heads, d 32) with weights from `seed` whose tokenizer has one
    /// token for each of `words`, and `text` as the circuit file `c.circuit`, which must be
    /// valid.
    pub fn new(words: Vec<String>, seed: u64, text: &str) -> Fixture {
        Fixture::with_model(
            |dir| {
                TinyGpt2 {
                    words,
                    seed,
                    ..Default::default()
                }
                .write(dir)
                .unwrap();
            },
            text,
        )
    }

    /// The model `write_model` writes into the fixture's directory, with `text` as the
    /// circuit file `c.circuit`, which must be valid.
    pub fn with_model(write_model: impl FnOnce(&std::path::Path), text: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        write_model(dir.path());
        let circuit_path = dir.path().join("c.circuit");
        std::fs::write(&circuit_path, text).unwrap();
        let circuit = Loader::new(&Catalog, &FileSystem)
            .load(&circuit_path)
            .circuit
            .clone()
            .expect("the test circuit is valid");
        Fixture {
            dir,
            circuit_path,
            circuit,
        }
    }

    /// The tiny model that knows every IOI word (`write_tiny_ioi_model`), with `text`.
    pub fn ioi(seed: u64, text: &str) -> Fixture {
        Fixture::new(ioi_words(), seed, text)
    }

    /// The model directory, as `--model` takes it.
    pub fn model(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// The circuit file, as `check` takes it.
    pub fn circuit_file(&self) -> &str {
        self.circuit_path.to_str().unwrap()
    }

    /// `check`'s JSON report on `n` prompts with `seed`, searching on `search_prompts` of
    /// them; see [`Fixture::check_with`].
    pub fn check(&self, n: usize, search_prompts: usize, seed: u64, args: &[&str]) -> Value {
        let (n, search_prompts, seed) =
            (n.to_string(), search_prompts.to_string(), seed.to_string());
        let counts = [
            "--n",
            &n,
            "--seed",
            &seed,
            "--search-prompts",
            &search_prompts,
        ];
        self.check_with(&[&counts[..], args].concat())
    }

    /// `check`'s JSON report with the smallest budgets (2 random K sets, greedy and
    /// minimality budgets of 1, 20 bootstrap samples) and no cache; `args` (`--n`, `--level`,
    /// `--ablation`, …) last, the task's defaults for what they leave out. The run may end
    /// with unmet expectations (exit 1), not with an error.
    pub fn check_with(&self, args: &[&str]) -> Value {
        let run = circuitcheck(
            &[
                &[
                    "check",
                    self.circuit_file(),
                    "--model",
                    self.model(),
                    "--random-sets",
                    "2",
                    "--greedy-budget",
                    "1",
                    "--minimality-budget",
                    "1",
                    "--bootstrap",
                    "20",
                    "--no-cache",
                    "--quiet",
                    "--format",
                    "json",
                ],
                args,
            ]
            .concat(),
        );
        assert!(run.code == 0 || run.code == 1, "{}", run.transcript());
        serde_json::from_str(&run.stdout).expect("JSON report")
    }
}

/// The evaluator's level for a `--level` name (`node`, `edge`).
pub fn level(name: &str) -> Level {
    match name {
        "node" => Level::Node,
        "edge" => Level::Edge,
        _ => panic!("no level {name}"),
    }
}
