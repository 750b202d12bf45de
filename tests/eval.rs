//! The evaluator on a generated tiny GPT-2 and a hand-made IOI-shaped dataset, checked
//! against the definitions and against the independent f64 reference implementation.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::Device;
use circuitcheck::dsl::{
    Ablation, Circuit, Environment, FileSystem, Level, Loader, ModelShape, TaskProblem, TaskRef,
};
use circuitcheck::eval::cache::{Cache, Lookup};
use circuitcheck::eval::check::{Silent, check};
use circuitcheck::eval::reference::{ReferenceActivations, load_or_compute};
use circuitcheck::eval::runner::Runner;
use circuitcheck::eval::schema::{Options, Report};
use circuitcheck::eval::variant::Variant;
use circuitcheck::model::{LoadedModel, ModelFiles};
use circuitcheck::task::{Dataset, MetricKind, Prompt};
use circuitcheck::testing::TinyGpt2;
use common::reference::{RefPatch, Reference};

struct TinyEnv;

impl Environment for TinyEnv {
    fn model_shape(&self, _: &str) -> Option<ModelShape> {
        Some(ModelShape {
            layers: 3,
            heads: 4,
            parallel_residual: false,
        })
    }
    fn task_positions(&self, _: &TaskRef) -> Result<Vec<String>, TaskProblem> {
        Ok(["IO", "S1", "S1+1", "S2", "END"].map(String::from).to_vec())
    }
    fn known_models(&self) -> Vec<String> {
        vec!["tiny".into()]
    }
    fn known_tasks(&self) -> Vec<String> {
        vec!["ioi".into()]
    }
}

fn circuit(text: &str) -> Circuit {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.circuit");
    std::fs::write(
        &path,
        format!("circuit c {{\n  model tiny\n  task ioi\n}}\n{text}"),
    )
    .unwrap();
    let mut loader = Loader::new(&TinyEnv, &FileSystem);
    let loaded = loader.load(&path);
    let problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    loaded
        .circuit
        .clone()
        .unwrap_or_else(|| panic!("{problems:?}"))
}

struct Setup {
    _dir: tempfile::TempDir,
    loaded: LoadedModel,
    dataset: Dataset,
}

/// Two templates with different layouts; names are single tokens of the tiny tokenizer.
fn setup_with(edit: impl FnOnce(&Path)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    TinyGpt2::default().write(dir.path()).unwrap();
    edit(dir.path());
    let loaded = LoadedModel::load(ModelFiles::in_dir(dir.path()).unwrap(), &Device::Cpu).unwrap();
    let tok = &loaded.tokenizer;
    let id = |w: &str| {
        tok.single_token(w)
            .unwrap_or_else(|| panic!("{w:?} is one token"))
    };
    let names = [" Mary", " John", " Alice", " Bob"].map(id);
    let (when, and, went, to, the, store, gave, a, drink) = (
        id("When"),
        id(" and"),
        id(" went"),
        id(" to"),
        id(" the"),
        id(" store"),
        id(" gave"),
        id(" a"),
        id(" drink"),
    );
    // group 0: When IO and S went to the store S gave a drink to
    // group 1: When S and IO went to the store S gave a drink to
    let layout = |group: usize, io: u32, s: u32, s2: u32| -> (Vec<u32>, BTreeMap<String, usize>) {
        let (first, second) = if group == 0 { (io, s) } else { (s, io) };
        let tokens = vec![
            when, first, and, second, went, to, the, store, s2, gave, a, drink, to,
        ];
        let (io_at, s1_at) = if group == 0 { (1, 3) } else { (3, 1) };
        let positions = BTreeMap::from([
            ("IO".to_string(), io_at),
            ("S1".to_string(), s1_at),
            ("S1+1".to_string(), s1_at + 1),
            ("S2".to_string(), 8),
            ("END".to_string(), 12),
        ]);
        (tokens, positions)
    };
    let mut prompts = Vec::new();
    let mut reference = Vec::new();
    for i in 0..12 {
        let group = i % 2;
        let (io, s) = (names[i % 4], names[(i + 1 + i / 4) % 4]);
        let (tokens, positions) = layout(group, io, s, s);
        prompts.push(Prompt {
            text: String::new(),
            tokens,
            positions: positions.clone(),
            group,
            answer: vec![io],
            distractor: vec![s],
        });
        let (a, b, c) = (names[(i + 2) % 4], names[(i + 3) % 4], names[i % 4]);
        let (tokens, positions) = layout(group, a, b, c);
        reference.push(Prompt {
            text: String::new(),
            tokens,
            positions,
            group,
            answer: vec![a],
            distractor: vec![b],
        });
    }
    let dataset = Dataset {
        task: "ioi".into(),
        metric: MetricKind::LogitDifference,
        position_names: ["IO", "S1", "S1+1", "S2", "END"].map(String::from).to_vec(),
        groups: vec!["ABBA".into(), "BABA".into()],
        prompts,
        reference,
    };
    Setup {
        _dir: dir,
        loaded,
        dataset,
    }
}

/// `check` with the default options and mean ablation.
fn default_check(s: &Setup, c: &Circuit) -> Report {
    let reference =
        ReferenceActivations::compute(&s.loaded.model, &s.dataset, Ablation::Mean, 0).unwrap();
    check(
        &s.loaded.model,
        &s.dataset,
        &reference,
        c,
        &options(),
        &mut Silent,
    )
    .unwrap()
}

fn setup() -> Setup {
    setup_with(|_| {})
}

fn scores(s: &Setup, circuit: &Circuit, level: Level, variants: &[Variant]) -> Vec<Vec<f64>> {
    let reference =
        ReferenceActivations::compute(&s.loaded.model, &s.dataset, Ablation::Mean, 0).unwrap();
    let n = s.dataset.prompts.len();
    let mut runner = Runner::new(
        &s.loaded.model,
        &s.dataset,
        &reference,
        circuit,
        level,
        (0..n).collect(),
    );
    runner.scores(variants).unwrap()
}

const ALL_HEADS: &str = "class l0 at all { 0.0 0.1 0.2 0.3 }\nclass l1 at all { 1.0 1.1 1.2 1.3 }\nclass l2 at all { 2.0 2.1 2.2 2.3 }\n";

#[test]
fn a_circuit_of_every_head_everywhere_is_the_model() {
    let s = setup();
    let all = circuit(ALL_HEADS);
    let out = scores(
        &s,
        &all,
        Level::Node,
        &[Variant::model(), Variant::circuit()],
    );
    assert_eq!(out[0], out[1]);
    assert!(
        out[0].iter().any(|v| v.abs() > 1e-3),
        "a metric that is not trivially zero"
    );
}

#[test]
fn the_empty_circuit_replaces_every_head_by_its_mean() {
    let s = setup();
    let c = circuit("class x at END { 2.1 }\n");
    let out = scores(
        &s,
        &c,
        Level::Node,
        &[
            Variant::empty(),
            Variant::circuit().without([circuitcheck::dsl::Head::new(2, 1)]),
        ],
    );
    // ∅ and C \ C knock out the same heads everywhere.
    assert_eq!(out[0], out[1]);
}

/// Per-template, per-position mean of head (l, h)'s result over the reference prompts, by
/// the f64 reference.
fn reference_mean(
    reference: &Reference,
    dataset: &Dataset,
    group: usize,
    l: usize,
    h: usize,
) -> Vec<Vec<f64>> {
    let members: Vec<&Prompt> = dataset
        .reference
        .iter()
        .filter(|p| p.group == group)
        .collect();
    let len = members[0].tokens.len();
    let mut mean = vec![vec![0.0; 32]; len];
    for prompt in &members {
        let out = reference.run(&prompt.tokens, &RefPatch::default());
        for (row, result) in mean.iter_mut().zip(&out.results[l][h]) {
            for (sum, value) in row.iter_mut().zip(result) {
                *sum += value / members.len() as f64;
            }
        }
    }
    mean
}

#[test]
fn knocking_out_one_head_matches_the_reference_implementation() {
    let s = setup();
    // Everything but head 1.2, everywhere: C = M with 1.2 mean-ablated at every position.
    let c = circuit(
        "class l0 at all { 0.0 0.1 0.2 0.3 }\nclass l1 at all { 1.0 1.1 1.3 }\nclass l2 at all { 2.0 2.1 2.2 2.3 }\n",
    );
    let out = scores(&s, &c, Level::Node, &[Variant::circuit()]);
    let reference = Reference::load(&s.loaded.files.weights, 3, 4, 32);
    for (i, prompt) in s.dataset.prompts.iter().enumerate() {
        let mean = reference_mean(&reference, &s.dataset, prompt.group, 1, 2);
        let mut patch = RefPatch::default();
        for (t, value) in mean.into_iter().enumerate() {
            patch.heads.insert((1, 2, t), value);
        }
        let logits = &reference.run(&prompt.tokens, &patch).logits[prompt.end()];
        let expected = logits[prompt.answer[0] as usize] - logits[prompt.distractor[0] as usize];
        assert!(
            (out[0][i] - expected).abs() < 1e-4 * expected.abs().max(1.0),
            "{} vs {expected}",
            out[0][i]
        );
    }
}

#[test]
fn edge_level_with_every_edge_equals_node_level() {
    let s = setup();
    let text = "class l0 at S2, END { 0.0 0.1 0.2 0.3 }\nclass l1 at END, S1+1 { 1.0 1.2 }\nclass l2 at END { 2.0 2.1 2.3 }\n\
                edge embed -> l0, l1, l2\nedge l0 -> l1, l2\nedge l1 -> l2\nedge embed, l0, l1, l2 -> logits\n";
    let c = circuit(text);
    let node = scores(&s, &c, Level::Node, &[Variant::circuit()]);
    let edge = scores(&s, &c, Level::Edge, &[Variant::circuit()]);
    for (a, b) in node[0].iter().zip(&edge[0]) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    // Dropping an edge changes the result.
    let fewer = circuit(&text.replace("edge l1 -> l2\n", ""));
    let without = scores(&s, &fewer, Level::Edge, &[Variant::circuit()]);
    assert!(
        without[0]
            .iter()
            .zip(&edge[0])
            .any(|(a, b)| (a - b).abs() > 1e-4)
    );
}

#[test]
fn resumed_passes_equal_full_passes() {
    let s = setup();
    let c = circuit("class a at S2 { 0.1 1.1 }\nclass b at END { 2.2 2.0 }\n");
    let knocked = Variant::circuit().without([circuitcheck::dsl::Head::new(2, 0)]);
    // With the base in the same call, the knocked-out variant starts at layer 2.
    let resumed = scores(&s, &c, Level::Node, &[Variant::circuit(), knocked.clone()]);
    let alone = scores(&s, &c, Level::Node, &[knocked]);
    for (a, b) in resumed[1].iter().zip(&alone[0]) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}

fn options() -> Options {
    Options {
        bootstrap_resamples: 200,
        random_sets: 2,
        greedy_budget: 2,
        ..Default::default()
    }
}

#[test]
fn completeness_of_the_empty_set_is_the_faithfulness_gap() {
    let s = setup();
    let c = circuit("class a at S2, END { 0.1 1.1 }\nclass b at END { 2.2 2.0 }\n");
    let report = default_check(&s, &c);
    let empty = &report.completeness.sets[0];
    assert_eq!(empty.origin, "empty");
    assert!((empty.incompleteness.value - report.faithfulness.gap.value).abs() < 1e-12);
    let ratio = report.circuit_score.value / report.model_score.value;
    assert!((report.faithfulness.ratio.value - ratio).abs() < 1e-12);
    let interval = report.faithfulness.ratio.interval.unwrap();
    assert!(interval.low <= interval.high);
    assert_eq!(report.minimality.len(), 4);
    assert!(report.minimality.iter().all(|m| m.score.value >= 0.0));
    assert_eq!(report.per_prompt.model.len(), 12);
}

#[test]
fn a_head_that_writes_nothing_has_zero_minimality() {
    // Zero the output rows of head 2.1: its result is 0 and so is its mean.
    let s = setup_with(|dir| {
        let path = dir.join("model.safetensors");
        let bytes = std::fs::read(&path).unwrap();
        let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = file
            .tensors()
            .into_iter()
            .map(|(name, view)| (name, view.shape().to_vec(), view.data().to_vec()))
            .collect();
        for (name, _, data) in &mut owned {
            if name == "h.2.attn.c_proj.weight" {
                // rows 8..16 of [32, 32] f32
                for byte in &mut data[8 * 32 * 4..16 * 32 * 4] {
                    *byte = 0;
                }
            }
        }
        let views: Vec<(String, safetensors::tensor::TensorView)> = owned
            .iter()
            .map(|(n, shape, d)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), d)
                        .unwrap(),
                )
            })
            .collect();
        std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
    });
    let c = circuit("class a at S2, END { 0.1 1.1 }\nclass b at END { 2.1 2.0 }\n");
    let report = default_check(&s, &c);
    let silent = report
        .minimality
        .iter()
        .find(|m| m.head == circuitcheck::dsl::Head::new(2, 1))
        .unwrap();
    assert!(silent.score.value < 1e-5, "{silent:?}");
    assert!(silent.flagged);
    let other = report
        .minimality
        .iter()
        .find(|m| m.head == circuitcheck::dsl::Head::new(2, 0))
        .unwrap();
    assert!(other.score.value > 1e-3, "{other:?}");
}

#[test]
fn reference_activations_are_cached_and_corruption_is_rebuilt() {
    let s = setup();
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(Some(dir.path().to_path_buf()));
    let identity = cache.model_identity(&s.loaded.files).unwrap();
    let (first, lookup) = load_or_compute(
        &s.loaded.model,
        &identity,
        &s.dataset,
        Ablation::Mean,
        0,
        &cache,
    )
    .unwrap();
    assert_eq!(lookup, Lookup::Missing);
    let (second, lookup) = load_or_compute(
        &s.loaded.model,
        &identity,
        &s.dataset,
        Ablation::Mean,
        0,
        &cache,
    )
    .unwrap();
    assert_eq!(lookup, Lookup::Hit);
    assert_eq!(first.head_z[1].values, second.head_z[1].values);
    // A head's result, made from its z when asked for, is the same from the cache.
    assert_eq!(
        first.head(1, 1).unwrap().values,
        second.head(1, 1).unwrap().values
    );
    // Another scheme is another entry.
    let (_, lookup) = load_or_compute(
        &s.loaded.model,
        &identity,
        &s.dataset,
        Ablation::GlobalMean,
        0,
        &cache,
    )
    .unwrap();
    assert_eq!(lookup, Lookup::Missing);
    // Corrupt every entry: detected, recomputed, equal.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() - 3;
        bytes[at] ^= 0xff;
        std::fs::write(&path, bytes).unwrap();
    }
    let (third, lookup) = load_or_compute(
        &s.loaded.model,
        &identity,
        &s.dataset,
        Ablation::Mean,
        0,
        &cache,
    )
    .unwrap();
    assert!(matches!(lookup, Lookup::Corrupt(_)), "{lookup:?}");
    assert_eq!(first.head_z[1].values, third.head_z[1].values);
    assert_eq!(
        first.head(1, 1).unwrap().values,
        third.head(1, 1).unwrap().values
    );
}

#[test]
fn schemes_computed_together_are_each_computed_alone() {
    let s = setup();
    let schemes = [
        Ablation::Mean,
        Ablation::GlobalMean,
        Ablation::Resample,
        Ablation::Zero,
    ];
    let together =
        ReferenceActivations::compute_each(&s.loaded.model, &s.dataset, &schemes, 3).unwrap();
    assert_eq!(together.len(), schemes.len());
    let close = |a: &[f32], b: &[f32], what: &str| {
        assert_eq!(a.len(), b.len(), "{what}");
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-5 * (1.0 + y.abs()),
                "{what}: {x} vs {y}"
            );
        }
    };
    for (scheme, joint) in schemes.iter().zip(&together) {
        let alone = ReferenceActivations::compute(&s.loaded.model, &s.dataset, *scheme, 3).unwrap();
        let what = scheme.name();
        assert_eq!(joint.ablation, *scheme);
        assert_eq!(joint.source_of_prompt, alone.source_of_prompt, "{what}");
        close(&joint.embeddings.values, &alone.embeddings.values, what);
        for layer in 0..alone.head_z.len() {
            close(
                &joint.head_z[layer].values,
                &alone.head_z[layer].values,
                what,
            );
            close(
                &joint.head_sums[layer].values,
                &alone.head_sums[layer].values,
                what,
            );
            close(&joint.mlps[layer].values, &alone.mlps[layer].values, what);
            close(
                &joint.head(layer, 1).unwrap().values,
                &alone.head(layer, 1).unwrap().values,
                what,
            );
        }
    }
    // The schemes differ: the test compares each with its own.
    assert_ne!(together[0].head_z[1].values, together[1].head_z[1].values);
    assert_ne!(together[0].head_z[1].values, together[2].head_z[1].values);
}

#[test]
fn every_ablation_scheme_runs_and_zero_differs_from_mean() {
    let s = setup();
    let c = circuit("class a at S2, END { 0.1 1.1 }\nclass b at END { 2.2 2.0 }\n");
    let mut results = Vec::new();
    for ablation in [
        Ablation::Mean,
        Ablation::GlobalMean,
        Ablation::Resample,
        Ablation::Zero,
    ] {
        let reference =
            ReferenceActivations::compute(&s.loaded.model, &s.dataset, ablation, 0).unwrap();
        let mut runner = Runner::new(
            &s.loaded.model,
            &s.dataset,
            &reference,
            &c,
            Level::Node,
            (0..12).collect(),
        );
        results.push(runner.scores(&[Variant::circuit()]).unwrap().remove(0));
    }
    assert_ne!(results[0], results[3]);
    assert_ne!(results[0], results[1]);
    assert!(results.iter().flatten().all(|v| v.is_finite()));
}

#[test]
fn model_identity_covers_every_byte_and_is_remembered() {
    let model = tempfile::tempdir().unwrap();
    TinyGpt2::default().write(model.path()).unwrap();
    let files = ModelFiles::in_dir(model.path()).unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(Some(cache_dir.path().to_path_buf()));
    let first = cache.model_identity(&files).unwrap();
    assert_eq!(first, cache.model_identity(&files).unwrap());

    // A fine-tune of the same shape: one byte of one weight, anywhere, is another model.
    let mut bytes = std::fs::read(&files.weights).unwrap();
    let at = bytes.len() * 37 / 100 + 13;
    bytes[at] ^= 1;
    std::fs::write(&files.weights, &bytes).unwrap();
    let tuned = cache.model_identity(&files).unwrap();
    assert_ne!(first, tuned);

    // The digest is remembered by path, size and modification time: an unchanged file is
    // not read again (a planted digest comes back), a touched one is.
    let digests = cache_dir.path().join("digests.json");
    let mut known: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&digests).unwrap()).unwrap();
    let weights = std::fs::canonicalize(&files.weights).unwrap();
    let entry = &mut known[weights.to_str().unwrap()];
    assert!(entry["sha256"].is_string(), "{known}");
    entry["sha256"] = "planted".into();
    std::fs::write(&digests, serde_json::to_vec(&known).unwrap()).unwrap();
    assert_eq!(cache.digest(&files.weights).unwrap(), "planted");
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&files.weights, &bytes).unwrap();
    assert_ne!(cache.digest(&files.weights).unwrap(), "planted");
}
