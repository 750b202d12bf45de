//! The real `circuitcheck check` (its JSON report) against the independent evaluator of
//! tests/common/evaluator.rs, on a tiny random GPT-2 running the IOI task, whose templates
//! (the groups) have different token lengths. Every figure of the report is recomputed
//! from the definitions: F(M), F(C), F(∅) per prompt, F(C\K) and F(M\K) for every K set,
//! and each head's minimality for the K it reports; at node and edge level, for every
//! ablation scheme, with searches on a subset of prompts shorter than the longest prompt.

use crate::common;

use std::collections::BTreeSet;

use circuitcheck::dsl::Ablation;
use circuitcheck::model::LoadedModel;
use circuitcheck::task::{Dataset, ReferenceSize};
use common::circuitcheck;
use common::evaluator::{Evaluator, HeadId, Level};
use common::fixture::{self, Fixture};
use common::verify::{heads, model_and_dataset, number, reference_of, scheme, verify_report};
use serde_json::Value;

/// Classes at one named position, at several, and at `all`; MLPs listed at positions;
/// edges from the embeddings, between classes and heads, on single channels and on all.
const CIRCUIT: &str = "circuit mixed {
  model gpt2-small
  task ioi
}

mlp 0 at all
mlp 1 at S2, END

class a at S2 { 0.1 0.3 }
class b at END, S1+1 { 1.0 }
class c at all { 1.2 }
class d at END { 2.1 2.3 }

edge embed -> a, b.k, c.v, d.q
edge a -> b.q, d.v
edge b, c -> d.k
edge d, 1.2 -> logits

minimality 2.1 given { a }
";

/// The same heads with every MLP kept (the default) and fewer edges.
const DEFAULT_MLPS: &str = "circuit plain {
  model gpt2-small
  task ioi
}

class early at S1+1, S2 { 0.0 0.2 }
class late at END { 1.1 2.0 2.2 }

edge embed -> early, late.v
edge early -> late.k
edge late -> logits
";

/// MLPs as edge endpoints, listed at some positions: `mlp.0` from the embeddings, `mlp.1`
/// from a head of its own layer, a class below and `mlp.0`, `mlp.2` with no incoming edge
/// (it reads only replacements), MLPs sending to heads and to the logits.
const MLP_EDGES: &str = "circuit wired {
  model gpt2-small
  task ioi
}

mlp 0 at all
mlp 1 at S2, END
mlp 2 at END

class a at S2 { 0.1 0.3 }
class b at END, S1+1 { 1.0 }
class d at END { 2.1 2.3 }

edge embed -> a, mlp.0, b.k
edge mlp.0 -> b.q, mlp.1
edge a, 1.0 -> mlp.1
edge a -> d.v
edge mlp.1 -> d.k
edge b -> d.q
edge d, mlp.1, mlp.2 -> logits
";

/// Every MLP kept (no `mlp` line), only `mlp.1` wired: the others read the stream and every
/// later component sees them.
const ONE_WIRED_MLP: &str = "circuit one {
  model gpt2-small
  task ioi
}

class early at S1+1, S2 { 0.0 0.2 }
class late at END { 1.1 2.0 2.2 }

edge embed -> early, late.v
edge early -> late.k, mlp.1
edge mlp.1 -> 2.0.q, 2.2
edge late -> logits
";

const PROMPTS: usize = 10;

fn fixture(text: &str) -> Fixture {
    Fixture::ioi(3, text)
}

fn run_check(f: &Fixture, level: &str, ablation: &str, seed: u64) -> Value {
    run_check_with(f, level, ablation, seed, &[])
}

fn run_check_with(f: &Fixture, level: &str, ablation: &str, seed: u64, extra: &[&str]) -> Value {
    let args = [&["--level", level, "--ablation", ablation], extra].concat();
    f.check(PROMPTS, 3, seed, &args)
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 1e-4 * expected.abs().max(1.0),
        "{what}: check says {actual}, the reference {expected}"
    );
}

/// Recomputes every figure of `report` with the independent evaluator.
fn verify(
    f: &Fixture,
    report: &Value,
    level: Level,
    ablation: Ablation,
    seed: u64,
    size: ReferenceSize,
) {
    let (loaded, dataset) = dataset(f, seed, size);
    let lengths: BTreeSet<usize> = dataset.prompts.iter().map(|p| p.tokens.len()).collect();
    assert!(lengths.len() > 1, "groups of different token lengths");
    let reference = reference_of(&loaded);
    let scheme = scheme(ablation, &dataset, seed);
    let evaluator = Evaluator::new(&reference, &dataset, &f.circuit, &scheme, level);
    verify_report(report, &evaluator, assert_close);
}

/// The prompts and the reference set `check` evaluates on.
fn dataset(f: &Fixture, seed: u64, size: ReferenceSize) -> (LoadedModel, Dataset) {
    model_and_dataset(f.dir.path(), "ioi", PROMPTS, seed, size)
}

fn check_against_reference(text: &str, level: &str, ablation: &str, seeds: &[u64]) {
    let f = fixture(text);
    let (level_kind, ablation_kind) = (
        fixture::level(level),
        Ablation::from_name(ablation).unwrap(),
    );
    for seed in seeds {
        let report = run_check(&f, level, ablation, *seed);
        verify(
            &f,
            &report,
            level_kind,
            ablation_kind,
            *seed,
            ReferenceSize::default(),
        );
    }
}

#[test]
fn node_level_mean_ablation_over_seeds() {
    check_against_reference(CIRCUIT, "node", "mean", &[0, 1, 2]);
}

#[test]
fn edge_level_mean_ablation_over_seeds() {
    check_against_reference(CIRCUIT, "edge", "mean", &[0, 1, 2]);
}

#[test]
fn node_level_other_schemes() {
    for ablation in ["global-mean", "resample", "zero"] {
        check_against_reference(CIRCUIT, "node", ablation, &[3]);
    }
}

#[test]
fn edge_level_other_schemes() {
    for ablation in ["global-mean", "resample", "zero"] {
        check_against_reference(CIRCUIT, "edge", ablation, &[3]);
    }
}

#[test]
fn default_mlps_at_both_levels() {
    check_against_reference(DEFAULT_MLPS, "node", "mean", &[4]);
    check_against_reference(DEFAULT_MLPS, "edge", "resample", &[4]);
}

#[test]
fn mlp_edges_at_edge_level() {
    check_against_reference(MLP_EDGES, "edge", "mean", &[0, 1]);
    check_against_reference(MLP_EDGES, "edge", "resample", &[2]);
    check_against_reference(ONE_WIRED_MLP, "edge", "mean", &[3]);
    check_against_reference(ONE_WIRED_MLP, "edge", "resample", &[4]);
}

/// Node level ignores edges, MLP edges too.
#[test]
fn mlp_edges_at_node_level() {
    check_against_reference(MLP_EDGES, "node", "mean", &[5]);
}

/// The evaluator catches a wrong definition: wired MLPs that read the ordinary stream give
/// another F(C) than check's.
#[test]
fn a_wired_mlp_reading_the_stream_gives_other_figures() {
    let f = fixture(MLP_EDGES);
    let report = run_check(&f, "edge", "mean", 0);
    let (loaded, dataset) = dataset(&f, 0, ReferenceSize::default());
    let reference = reference_of(&loaded);
    let scheme = scheme(Ablation::Mean, &dataset, 0);
    let mut evaluator = Evaluator::new(&reference, &dataset, &f.circuit, &scheme, Level::Edge);
    let none = BTreeSet::new();
    let right = evaluator.mean(common::evaluator::Scope::Circuit, &none);
    evaluator.mutant_mlps_read_the_stream = true;
    let wrong = evaluator.mean(common::evaluator::Scope::Circuit, &none);
    let reported = number(&report["circuit_score"]["value"]);
    assert_close(reported, right, "F(C)");
    assert!(
        (reported - wrong).abs() > 1e-3 * wrong.abs().max(1.0),
        "the mutant agrees with check: {reported} vs {wrong}"
    );
}

#[test]
fn model_knockouts_do_not_depend_on_the_level() {
    let f = fixture(CIRCUIT);
    let node = run_check(&f, "node", "mean", 5);
    let edge = run_check(&f, "edge", "mean", 5);
    let sets = |r: &Value| -> Vec<(BTreeSet<HeadId>, f64)> {
        r["completeness"]["sets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (heads(&s["heads"]), number(&s["model"]["value"])))
            .collect()
    };
    let node_sets = sets(&node);
    let mut compared = 0;
    for (k, model) in sets(&edge) {
        if let Some((_, at_node)) = node_sets.iter().find(|(other, _)| *other == k) {
            assert_close(model, *at_node, &format!("F(M\\K) for K {k:?}"));
            compared += 1;
        }
    }
    assert!(compared >= 4, "the class and empty K sets are shared");
}

/// A greedy K found by ranking candidates by attribution (2 of 6 scored exactly per step)
/// is reported with its exact figures, like every other K.
#[test]
fn ranked_searches_report_exact_figures() {
    let f = fixture(CIRCUIT);
    for (level, kind) in [("node", Level::Node), ("edge", Level::Edge)] {
        let report = run_check_with(&f, level, "mean", 6, &["--shortlist", "2"]);
        let sets = report["completeness"]["sets"].as_array().unwrap();
        let greedy: Vec<&Value> = sets.iter().filter(|s| s["origin"] == "greedy").collect();
        assert_eq!(greedy.len(), 1, "the search found a K of its own: {sets:?}");
        assert_eq!(greedy[0]["ranked"], true);
        assert!(
            sets.iter()
                .filter(|s| s["origin"] != "greedy")
                .all(|s| s["ranked"] == false)
        );
        verify(
            &f,
            &report,
            kind,
            Ablation::Mean,
            6,
            ReferenceSize::default(),
        );
    }
}

/// `--reference-n` sets how many reference prompts each group's means rest on: the figures
/// move, and at every size they are the reference implementation's for that reference set.
#[test]
fn the_reference_set_size_changes_the_means_as_the_reference_says() {
    let f = fixture(DEFAULT_MLPS);
    let mut circuit_scores = Vec::new();
    for n in [2, 7] {
        let report = run_check_with(&f, "node", "mean", 8, &["--reference-n", &n.to_string()]);
        assert_eq!(report["reference"]["fewest_per_group"], n);
        assert_eq!(report["reference"]["most_per_group"], n);
        verify(
            &f,
            &report,
            Level::Node,
            Ablation::Mean,
            8,
            ReferenceSize::Exactly(n),
        );
        circuit_scores.push(number(&report["circuit_score"]["value"]));
    }
    assert!(
        (circuit_scores[0] - circuit_scores[1]).abs() > 1e-3,
        "2 and 7 reference prompts per group give other means: {circuit_scores:?}"
    );
}

#[test]
fn means_over_few_reference_prompts_are_warned_about() {
    let f = fixture(DEFAULT_MLPS);
    let args = [
        "check",
        f.circuit_file(),
        "--model",
        f.model(),
        "--n",
        "6",
        "--quiet",
        "--no-cache",
    ];
    let few = circuitcheck(&[&args[..], &["--reference-n", "3"]].concat());
    assert!(few.code == 0 || few.code == 1, "{}", few.transcript());
    assert!(
        few.stderr
            .contains("rest on fewer than 5 reference prompts"),
        "{}",
        few.stderr
    );
    let enough = circuitcheck(&args);
    assert!(!enough.stderr.contains("fewer than 5"), "{}", enough.stderr);
}

/// `check` with the search options of `run_check_with` and `args`; `--n` only where `args`
/// gives it.
fn check_json(f: &Fixture, args: &[&str]) -> Value {
    f.check_with(&[&["--search-prompts", "3"][..], args].concat())
}

/// `task export` of the fixture's IOI task to `file`, with `args`.
fn export(f: &Fixture, file: &std::path::Path, args: &[&str]) {
    let run = circuitcheck(
        &[
            &["task", "export", "ioi", "--model", f.model(), "-o"][..],
            &[file.to_str().unwrap()],
            args,
        ]
        .concat(),
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// `task export` writes the reference set a check draws, so `check --task EXPORT` is the check
/// the file came from, figure for figure: by default and with `--reference-n 10`, under
/// several ablations and both levels.
#[test]
fn a_check_of_an_export_is_the_check_it_came_from() {
    let f = fixture(CIRCUIT);
    let file = f.dir.path().join("export.toml");
    let cases: [(&[&str], &str, &str); 4] = [
        (&[], "node", "mean"),
        (&[], "edge", "global-mean"),
        (&["--reference-n", "10"], "node", "resample"),
        (&["--reference-n", "10"], "edge", "mean"),
    ];
    for (reference, level, ablation) in cases {
        export(
            &f,
            &file,
            &[&["--n", "10", "--seed", "3"], reference].concat(),
        );
        let settings = ["--seed", "3", "--level", level, "--ablation", ablation];
        let original = check_json(
            &f,
            &[&["--n", "10", "--task", "ioi"], &settings[..], reference].concat(),
        );
        // The export's own defaults: all its prompts, all its reference prompts.
        let exported = check_json(
            &f,
            &[&["--task", file.to_str().unwrap()], &settings[..]].concat(),
        );
        assert_eq!(original["prompts"], 10);
        assert!(number(&original["reference"]["most_per_group"]) >= 5.0);
        assert_eq!(
            exported, original,
            "{reference:?} {level} {ablation}: the export's check differs"
        );
    }
}

/// `--reference-n counterparts` is the paper's p_ABC: each group's mean rests on its own
/// prompts' counterparts, and every figure is the f64 evaluator's on that reference set.
#[test]
fn counterparts_are_the_papers_reference_set() {
    let f = fixture(DEFAULT_MLPS);
    let report = run_check_with(&f, "node", "mean", 8, &["--reference-n", "counterparts"]);
    let (_, dataset) = dataset(&f, 8, ReferenceSize::Counterparts);
    assert_eq!(dataset.reference.len(), PROMPTS);
    assert_eq!(report["reference"]["prompts"], PROMPTS);
    verify(
        &f,
        &report,
        Level::Node,
        Ablation::Mean,
        8,
        ReferenceSize::Counterparts,
    );
    // And the export of the counterparts alone reproduces it.
    let file = f.dir.path().join("p_abc.toml");
    let n = PROMPTS.to_string();
    export(
        &f,
        &file,
        &["--n", &n, "--seed", "8", "--reference-n", "counterparts"],
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("extra_references"), "{text}");
    let again = run_check_with(&f, "node", "mean", 8, &["--task", file.to_str().unwrap()]);
    assert_eq!(again, report);
    // A word that is neither a number nor a set is refused with what it takes.
    let run = circuitcheck(&[
        "check",
        f.circuit_path.to_str().unwrap(),
        "--reference-n",
        "paper",
    ]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("`counterparts`"), "{}", run.stderr);
}

/// An explicit task of 12 prompts works with every default: `check` (the task given, and
/// named by the circuit), `diff --eval`, `sensitivity` (only the reference sizes its groups
/// have) and `model attention`; `--n` beyond its prompts is refused with help that fits.
#[test]
fn a_small_exported_task_runs_with_default_options() {
    let f = fixture(DEFAULT_MLPS);
    let file = f.dir.path().join("mine.toml");
    export(&f, &file, &["--n", "12", "--seed", "3"]);
    let (model, circuit, task) = (f.model(), f.circuit_file(), file.to_str().unwrap());
    let given = circuitcheck(&[
        "check",
        circuit,
        "--model",
        model,
        "--task",
        task,
        "--quiet",
        "--no-cache",
        "--format",
        "json",
    ]);
    assert!(given.code == 0 || given.code == 1, "{}", given.transcript());
    let given: Value = serde_json::from_str(&given.stdout).unwrap();
    assert_eq!(given["prompts"], 12);

    let named = f.dir.path().join("named.circuit");
    std::fs::write(
        &named,
        DEFAULT_MLPS.replace("task ioi", "task \"mine.toml\""),
    )
    .unwrap();
    let named = named.to_str().unwrap();
    let run = circuitcheck(&["check", named, "--model", model, "--quiet", "--no-cache"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.transcript());
    assert!(run.stdout.contains(", 12 prompts,"), "{}", run.stdout);

    let diff = circuitcheck(&[
        "diff",
        named,
        named,
        "--eval",
        "--model",
        model,
        "--quiet",
        "--no-cache",
    ]);
    assert_eq!(diff.code, 0, "{}", diff.transcript());

    let attention = circuitcheck(&["model", "attention", task, "--model", model]);
    assert_eq!(attention.code, 0, "{}", attention.transcript());

    let sensitivity = circuitcheck(&[
        "sensitivity",
        named,
        "--model",
        model,
        "--quiet",
        "--no-cache",
        "--bootstrap",
        "20",
        "--format",
        "json",
    ]);
    assert_eq!(sensitivity.code, 0, "{}", sensitivity.transcript());
    let report: Value = serde_json::from_str(&sensitivity.stdout).unwrap();
    let sizes: BTreeSet<String> = report["cells"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["reference"].is_null())
        .map(|c| c["reference"].to_string())
        .collect();
    let expected: BTreeSet<String> = [
        r#"{"kind":"exactly","n":2}"#,
        r#"{"kind":"exactly","n":5}"#,
        r#"{"kind":"counterparts"}"#,
        r#"{"kind":"listed"}"#,
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(sizes, expected);

    let more = circuitcheck(&["check", named, "--model", model, "--n", "13", "--quiet"]);
    assert_eq!(more.code, 2, "{}", more.transcript());
    assert!(
        more.stderr
            .contains("asked for 13 prompts, but the task file lists only 12"),
        "{}",
        more.stderr
    );
    assert!(more.stderr.contains("leave out --n"), "{}", more.stderr);
    assert!(!more.stderr.contains("add words"), "{}", more.stderr);
}
