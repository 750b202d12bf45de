//! Recomputing what `check` reports with the independent evaluator: the inputs check
//! evaluates on (prompts and reference set, made by the task), the scheme, and every figure
//! of its JSON report.

use std::collections::BTreeSet;
use std::path::Path;

use candle_core::Device;
use circuitcheck::dsl::Ablation;
use circuitcheck::eval::reference::resample;
use circuitcheck::model::{LoadedModel, ModelFiles};
use circuitcheck::task::{Dataset, ReferenceSize, Task};
use serde_json::Value;

use super::evaluator::{Evaluator, HeadId, Scheme, Scope};
use super::reference::Reference;

/// The model in `dir`, and the prompts of `task` with the reference set `check` uses:
/// inputs, made by the task, not figures.
pub fn model_and_dataset(
    dir: &Path,
    task: &str,
    n: usize,
    seed: u64,
    size: ReferenceSize,
) -> (LoadedModel, Dataset) {
    let loaded = LoadedModel::load(ModelFiles::in_dir(dir).unwrap(), &Device::Cpu).unwrap();
    let task = Task::builtin(task).unwrap();
    let dataset = task.dataset(&loaded.tokenizer, n, seed).unwrap();
    let reference = task
        .reference_set(&loaded.tokenizer, &dataset, size, seed)
        .unwrap();
    (
        loaded,
        Dataset {
            reference,
            ..dataset
        },
    )
}

/// The f64 model of the same weights, of the family its config.json names.
pub fn reference_of(loaded: &LoadedModel) -> Reference {
    Reference::load_dir(&loaded.files.dir)
}

/// The evaluator's scheme for `ablation` on `dataset`.
pub fn scheme(ablation: Ablation, dataset: &Dataset, seed: u64) -> Scheme {
    match ablation {
        Ablation::Mean => Scheme::Mean,
        Ablation::GlobalMean => Scheme::GlobalMean,
        Ablation::Zero => Scheme::Zero,
        // The assignment of reference prompts is a seeded draw, not a computed figure.
        Ablation::Resample => Scheme::Resample(resample(dataset, seed).unwrap()),
    }
}

/// A JSON list of `{ "layer", "head" }` as a set.
pub fn heads(value: &Value) -> BTreeSet<HeadId> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["layer"].as_u64().unwrap() as usize,
                h["head"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

pub fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

/// Every figure of check's JSON `report` against `evaluator`, within `close`: per-prompt
/// F(M), F(C), F(∅); F(C\K), F(M\K) and incompleteness of every K; each head's minimality at
/// its K, which is no smaller than at K = ∅.
pub fn verify_report(report: &Value, evaluator: &Evaluator, close: fn(f64, f64, &str)) {
    let none = BTreeSet::new();
    for (scope, key) in [
        (Scope::Model, "model"),
        (Scope::Circuit, "circuit"),
        (Scope::Empty, "empty"),
    ] {
        let expected = evaluator.scores(scope, &none);
        let actual = report["per_prompt"][key].as_array().unwrap();
        assert_eq!(actual.len(), expected.len());
        for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
            close(number(a), *e, &format!("{key} prompt {i}"));
        }
    }
    for set in report["completeness"]["sets"].as_array().unwrap() {
        let k = heads(&set["heads"]);
        let origin = set["origin"].as_str().unwrap();
        let circuit = evaluator.mean(Scope::Circuit, &k);
        let model = evaluator.mean(Scope::Model, &k);
        close(
            number(&set["circuit"]["value"]),
            circuit,
            &format!("F(C\\K), K {origin}"),
        );
        close(
            number(&set["model"]["value"]),
            model,
            &format!("F(M\\K), K {origin}"),
        );
        close(
            number(&set["incompleteness"]["value"]),
            (circuit - model).abs(),
            &format!("incompleteness, K {origin}"),
        );
    }
    for entry in report["minimality"].as_array().unwrap() {
        let head = heads(&Value::Array(vec![entry["head"].clone()]));
        let v = *head.iter().next().unwrap();
        let k = heads(&entry["k"]);
        let with_v: BTreeSet<HeadId> = k.union(&head).copied().collect();
        let score =
            (evaluator.mean(Scope::Circuit, &with_v) - evaluator.mean(Scope::Circuit, &k)).abs();
        close(
            number(&entry["score"]["value"]),
            score,
            &format!("minimality of {v:?} given {k:?}"),
        );
        // The reported K is the best of those tried, so no smaller than K = ∅.
        let alone =
            (evaluator.mean(Scope::Circuit, &head) - evaluator.mean(Scope::Circuit, &none)).abs();
        assert!(
            number(&entry["score"]["value"]) >= alone - 1e-4,
            "minimality of {v:?} below K = ∅"
        );
    }
}
