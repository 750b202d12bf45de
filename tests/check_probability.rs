//! The real `circuitcheck check` (its JSON report) on the built-in greater-than task, whose
//! metric is a probability difference over sets of tokens (the two-digit years after the
//! start year against those up to it), against the independent evaluator of
//! tests/common/evaluator.rs. The model is a tiny random GPT-2 whose tokenizer splits years
//! as GPT-2's does (" 1732" is " 17" + "32"); the circuit is circuits/greater-than.circuit
//! scaled down to its 3 layers × 4 heads: early heads everywhere, a head at YY, heads moving
//! YY to END, MLPs listed at positions. Every figure is recomputed from the definitions: F(M),
//! F(C), F(∅) per prompt, F(C\K) and F(M\K) for every K, and each head's minimality for the
//! K it reports, at node and edge level.

use crate::common;

use std::collections::BTreeSet;

use circuitcheck::catalog::Catalog;
use circuitcheck::dsl::{Ablation, FileSystem, Loader, Mlps, Positions};
use circuitcheck::model::LoadedModel;
use circuitcheck::task::{Dataset, MetricKind, ReferenceSize};
use common::evaluator::{Evaluator, Level, Scope};
use common::fixture::{self, Fixture};
use common::verify::{model_and_dataset, reference_of, scheme, verify_report};
use common::{circuitcheck, greater_than_words};
use serde_json::Value;

/// circuits/greater-than.circuit in miniature.
const CIRCUIT: &str = "circuit greater_than_tiny {
  model gpt2-small
  task greater-than
}

mlp 0 at all
mlp 2 at END

class early at all { 0.1 0.3 }
class at_year at YY { 0.2 }
class year_movers at END { 1.0 1.2 2.1 }

edge embed -> early, at_year
edge early -> year_movers
edge at_year -> year_movers.k, year_movers.v
edge year_movers -> logits

minimality 2.1 given { year_movers }
";

const PROMPTS: usize = 12;

fn fixture() -> Fixture {
    Fixture::new(greater_than_words(), 11, CIRCUIT)
}

fn run_check(f: &Fixture, level: &str, ablation: &str, seed: u64) -> Value {
    f.check(
        PROMPTS,
        4,
        seed,
        &["--level", level, "--ablation", ablation],
    )
}

/// The prompts and the reference set `check` evaluates on.
fn dataset(f: &Fixture, seed: u64, size: ReferenceSize) -> (LoadedModel, Dataset) {
    model_and_dataset(f.dir.path(), "greater-than", PROMPTS, seed, size)
}

/// Relative tolerance 1e-4, down to figures of 0.01; below that 1e-6 absolute. The random
/// model's probability differences are a few hundredths and its minimality scores 1e-4 to
/// 1e-3, while f32 sums of a hundred probabilities carry errors around 1e-7.
fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 1e-4 * expected.abs().max(1e-2),
        "{what}: check says {actual}, the reference {expected}"
    );
}

/// The dataset is what the metric reads: sets of tokens, partitioning "00".."99".
fn check_the_dataset(dataset: &Dataset) {
    assert_eq!(dataset.metric, MetricKind::ProbabilityDifference);
    for prompt in &dataset.prompts {
        assert_eq!(prompt.answer.len() + prompt.distractor.len(), 100);
        assert!(prompt.answer.len() > 1 && prompt.distractor.len() > 1);
    }
}

/// Recomputes every figure of `report` with the independent evaluator; returns F(M).
fn verify(f: &Fixture, report: &Value, level: Level, ablation: Ablation, seed: u64) -> f64 {
    let (loaded, dataset) = dataset(f, seed, ReferenceSize::default());
    check_the_dataset(&dataset);
    let reference = reference_of(&loaded);
    let scheme = scheme(ablation, &dataset, seed);
    let evaluator = Evaluator::new(&reference, &dataset, &f.circuit, &scheme, level);
    assert_eq!(
        report["minimality"].as_array().unwrap().len(),
        6,
        "one entry per circuit head"
    );
    verify_report(report, &evaluator, assert_close);
    evaluator.mean(Scope::Model, &BTreeSet::new())
}

fn check_against_reference(level: &str, ablation: &str, seed: u64) {
    let f = fixture();
    let (level_kind, ablation_kind) = (
        fixture::level(level),
        Ablation::from_name(ablation).unwrap(),
    );
    let report = run_check(&f, level, ablation, seed);
    assert_eq!(report["task"].as_str(), Some("greater-than"), "{report}");
    let model = verify(&f, &report, level_kind, ablation_kind, seed);
    // A random model has no preference, but its score is a real number to compare.
    assert!(model.abs() > 1e-3, "F(M) = {model} tests little");
}

#[test]
fn node_level_mean_ablation() {
    check_against_reference("node", "mean", 0);
}

#[test]
fn edge_level_mean_ablation() {
    check_against_reference("edge", "mean", 1);
}

#[test]
fn edge_level_resample_ablation() {
    check_against_reference("edge", "resample", 2);
}

/// circuits/greater-than.circuit lints clean, is in canonical form, and holds the paper's
/// heads at END with MLPs 8 to 11 at END.
#[test]
fn the_shipped_circuit() {
    let path = "circuits/greater-than.circuit";
    let lint = circuitcheck(&["lint", path]);
    assert_eq!(lint.code, 0, "{}", lint.transcript());
    assert!(lint.stderr.contains("no problems"), "{}", lint.transcript());
    let fmt = circuitcheck(&["fmt", "--check", path]);
    assert_eq!(fmt.code, 0, "{}", fmt.transcript());
    let mut loader = Loader::new(&Catalog, &FileSystem);
    let circuit = loader
        .load(std::path::Path::new(path))
        .circuit
        .clone()
        .expect("valid");
    assert_eq!(circuit.model, "gpt2-small");
    assert_eq!(circuit.task.to_string(), "greater-than");
    let movers = circuit
        .classes
        .iter()
        .find(|c| c.name == "year_movers")
        .unwrap();
    let heads: Vec<String> = movers.heads.iter().map(|h| h.to_string()).collect();
    assert_eq!(
        heads,
        ["5.1", "5.5", "6.1", "6.9", "7.10", "8.8", "8.11", "9.1"]
    );
    assert_eq!(
        movers.positions,
        Positions::Named(BTreeSet::from(["END".into()]))
    );
    let Mlps::Listed(mlps) = &circuit.mlps else {
        panic!("the file lists its MLPs");
    };
    let at_end: Vec<u32> = mlps
        .iter()
        .filter(|m| m.positions == Positions::Named(BTreeSet::from(["END".into()])))
        .map(|m| m.layer)
        .collect();
    assert_eq!(at_end, [8, 9, 10, 11]);
}
