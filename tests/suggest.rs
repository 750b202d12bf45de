//! `circuitcheck suggest` (GRAMMAR.md, "What suggest computes"): every figure it prints
//! against the independent f64 evaluator (tests/common/evaluator.rs), each candidate's
//! circuit written here from the section's definitions, on a tiny random GPT-2 running IOI
//! prompts of different token lengths, at node and edge level; on the toy model, a removed
//! head found first and restored by the written variant; and its refusals.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use circuitcheck::catalog::Catalog;
use circuitcheck::dsl::{Ablation, Circuit, FileSystem, Loader};
use circuitcheck::task::ReferenceSize;
use common::circuitcheck;
use common::evaluator::{Evaluator, HeadId, Level, Scope};
use common::fixture::Fixture;
use common::verify::{heads, model_and_dataset, number, reference_of, scheme};
use serde_json::Value;

/// Classes at named positions and at `all`, listed MLPs (so MLP candidates exist), MLP 1
/// wired, edges on single channels.
const CIRCUIT: &str = "circuit mixed {
  model gpt2-small
  task ioi
}

mlp 0 at all
mlp 1 at S2, END

class a at S2 { 0.1 0.3 }
class b at END, S1+1 { 1.0 }
class d at END { 2.1 }

edge embed -> a, b.k, mlp.1
edge a -> b.q, d.v
edge b, mlp.1 -> d.k
edge d, 1.0 -> logits
";

const PROMPTS: usize = 10;
const SEED: u64 = 2;

fn suggest_args<'a>(f: &'a Fixture, extra: &[&'a str]) -> Vec<&'a str> {
    [
        &[
            "suggest",
            f.circuit_file(),
            "--model",
            f.model(),
            "--n",
            "10",
            "--seed",
            "2",
            "--search-prompts",
            "3",
            "--random-sets",
            "2",
            "--greedy-budget",
            "1",
            "--bootstrap",
            "20",
            "--no-cache",
            "--quiet",
        ][..],
        extra,
    ]
    .concat()
}

fn suggest_json(f: &Fixture, extra: &[&str]) -> Value {
    let run = circuitcheck(&suggest_args(f, &[&["--format", "json"], extra].concat()));
    assert_eq!(run.code, 0, "{}", run.transcript());
    serde_json::from_str(&run.stdout).expect("JSON report")
}

/// Scores within 1e-5 (relative above 1), the float32 engine's error on them.
fn assert_close(actual: f64, expected: f64, scale: f64, what: &str) {
    let tolerance = 1e-5 * expected.abs().max(1.0) * scale.max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: suggest says {actual}, the reference {expected}"
    );
}

/// The candidate's variant, written from GRAMMAR.md's definitions: a head as a class of its
/// own at all positions wired to every sender of the circuit below it and every receiver
/// above it (GPT-2: an MLP reads the heads of its own layer); an MLP at all positions with
/// the file's lines restated; an edge as itself.
fn candidate_text(kind: &str, addition: &str) -> String {
    let mut text = "circuit x extends \"c.circuit\" {\n}\n".to_string();
    // The circuit's members: heads with their layers, wired MLPs.
    let members = [(0, "0.1"), (0, "0.3"), (1, "1.0"), (2, "2.1")];
    let wired = [1];
    match kind {
        "head" => {
            let (l, _) = addition.split_once('.').unwrap();
            let l: u32 = l.parse().unwrap();
            let class = format!("added_{}", addition.replace('.', "_"));
            text += &format!("class {class} at all {{ {addition} }}\n");
            let mut senders = vec!["embed".to_string()];
            senders.extend(
                members
                    .iter()
                    .filter(|(ml, _)| *ml < l)
                    .map(|(_, h)| h.to_string()),
            );
            senders.extend(wired.iter().filter(|m| **m < l).map(|m| format!("mlp.{m}")));
            text += &format!("edge {} -> {class}\n", senders.join(", "));
            let mut receivers: Vec<String> = members
                .iter()
                .filter(|(ml, _)| *ml > l)
                .map(|(_, h)| h.to_string())
                .collect();
            receivers.extend(
                wired
                    .iter()
                    .filter(|m| **m >= l)
                    .map(|m| format!("mlp.{m}")),
            );
            receivers.push("logits".into());
            text += &format!("edge {class} -> {}\n", receivers.join(", "));
        }
        "mlp" => {
            let layer = addition.strip_prefix("mlp.").unwrap();
            text += &format!("mlp 0 at all\nmlp 1 at S2, END\nmlp {layer} at all\n");
        }
        "edge" => text += &format!("edge {addition}\n"),
        other => panic!("no candidate kind {other}"),
    }
    text
}

fn load(path: &Path) -> Circuit {
    let mut loader = Loader::new(&Catalog, &FileSystem);
    let loaded = loader.load(path);
    let problems: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(problems.is_empty(), "{problems:?}");
    loaded.circuit.clone().unwrap()
}

/// Every figure of `report` recomputed: F(M), F(C), K*'s figures, and each candidate's
/// F(C + x), faithfulness, its change, the incompleteness at K* and its reduction.
fn verify(f: &Fixture, report: &Value, level: Level) {
    let (loaded, dataset) =
        model_and_dataset(f.dir.path(), "ioi", PROMPTS, SEED, ReferenceSize::default());
    let lengths: BTreeSet<usize> = dataset.prompts.iter().map(|p| p.tokens.len()).collect();
    assert!(lengths.len() > 1, "groups of different token lengths");
    let reference = reference_of(&loaded);
    let scheme = scheme(Ablation::Mean, &dataset, SEED);
    let base = Evaluator::new(&reference, &dataset, &f.circuit, &scheme, level);
    let none = BTreeSet::new();
    let k: BTreeSet<HeadId> = heads(&report["worst"]["heads"]);
    let fm = base.mean(Scope::Model, &none);
    let fc = base.mean(Scope::Circuit, &none);
    let mk = base.mean(Scope::Model, &k);
    let ck = base.mean(Scope::Circuit, &k);
    let scale = 1.0 / fm.abs();
    assert_close(number(&report["model_score"]["value"]), fm, 1.0, "F(M)");
    assert_close(number(&report["circuit_score"]["value"]), fc, 1.0, "F(C)");
    assert_close(
        number(&report["faithfulness"]["value"]),
        fc / fm,
        scale,
        "F(C)/F(M)",
    );
    assert_close(
        number(&report["worst"]["model"]["value"]),
        mk,
        1.0,
        "F(M\\K*)",
    );
    assert_close(
        number(&report["worst"]["circuit"]["value"]),
        ck,
        1.0,
        "F(C\\K*)",
    );
    let before = (ck - mk).abs();
    assert_close(
        number(&report["worst"]["incompleteness"]["value"]),
        before,
        1.0,
        "incompleteness at K*",
    );
    let candidates = report["candidates"].as_array().unwrap();
    assert!(!candidates.is_empty());
    let mut kinds = BTreeSet::new();
    let mut last = f64::INFINITY;
    for (i, c) in candidates.iter().enumerate() {
        let (kind, addition) = (c["kind"].as_str().unwrap(), c["addition"].as_str().unwrap());
        kinds.insert(kind.to_string());
        let path = f.dir.path().join(format!("candidate{i}.circuit"));
        std::fs::write(&path, candidate_text(kind, addition)).unwrap();
        let added = load(&path);
        let evaluator = Evaluator::new(&reference, &dataset, &added, &scheme, level);
        let fx = evaluator.mean(Scope::Circuit, &none);
        let after = (evaluator.mean(Scope::Circuit, &k) - mk).abs();
        let what = |figure: &str| format!("{figure} of + {addition}");
        assert_close(
            number(&c["circuit_score"]["value"]),
            fx,
            1.0,
            &what("F(C+x)"),
        );
        assert_close(
            number(&c["faithfulness"]["value"]),
            fx / fm,
            scale,
            &what("faithfulness"),
        );
        assert_close(
            number(&c["faithfulness_change"]["value"]),
            fx / fm - fc / fm,
            scale,
            &what("Δ faithfulness"),
        );
        assert_close(
            number(&c["incompleteness"]["value"]),
            after,
            1.0,
            &what("incompleteness"),
        );
        let reduction = number(&c["reduction"]["value"]);
        assert_close(reduction, before - after, 1.0, &what("reduction"));
        assert_eq!(c["improves"], reduction > 0.0);
        assert!(reduction <= last, "ranked by reduction");
        last = reduction;
        // Paired intervals hold their value.
        let interval = &c["reduction"]["interval"];
        assert!(number(&interval["low"]) <= reduction + 1e-12);
        assert!(number(&interval["high"]) >= reduction - 1e-12);
    }
    kinds
        .into_iter()
        .for_each(|k| assert!(["head", "mlp", "edge"].contains(&k.as_str())));
}

/// K* is the worst K `check` reports with the same options.
fn assert_worst_is_checks(f: &Fixture, report: &Value, level: &str) {
    let check = f.check(PROMPTS, 3, SEED, &["--level", level, "--ablation", "mean"]);
    let sets = check["completeness"]["sets"].as_array().unwrap();
    let worst = &sets[check["completeness"]["worst"].as_u64().unwrap() as usize];
    assert_eq!(heads(&worst["heads"]), heads(&report["worst"]["heads"]));
    assert_eq!(worst["origin"], report["worst"]["origin"]);
}

#[test]
fn node_level_figures_are_the_references() {
    let f = Fixture::ioi(3, CIRCUIT);
    let report = suggest_json(&f, &["--level", "node", "--candidates", "14"]);
    // 12 − 4 heads outside, MLP 2 left out: 9 candidates, all scored.
    assert_eq!(report["considered"], 9);
    assert_eq!(report["candidates"].as_array().unwrap().len(), 9);
    assert!(
        report["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["kind"] == "mlp")
    );
    verify(&f, &report, Level::Node);
    assert_worst_is_checks(&f, &report, "node");
}

#[test]
fn edge_level_figures_are_the_references() {
    let f = Fixture::ioi(3, CIRCUIT);
    let report = suggest_json(&f, &["--level", "edge", "--candidates", "10"]);
    assert!(number(&report["considered"]) > 9.0, "edges are candidates");
    let kinds: BTreeSet<&str> = report["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains("edge") && kinds.contains("head"),
        "{kinds:?}"
    );
    verify(&f, &report, Level::Edge);
    assert_worst_is_checks(&f, &report, "edge");
}

#[test]
fn the_terminal_and_markdown_tables_state_what_was_measured() {
    let f = Fixture::ioi(3, CIRCUIT);
    let run = circuitcheck(&suggest_args(&f, &["--candidates", "2"]));
    assert_eq!(run.code, 0, "{}", run.transcript());
    for words in [
        "worst K*",
        "EAP attribution",
        "incompleteness at K*",
        "reduction",
    ] {
        assert!(run.stdout.contains(words), "{words}: {}", run.stdout);
    }
    let run = circuitcheck(&suggest_args(
        &f,
        &["--candidates", "2", "--format", "markdown"],
    ));
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.starts_with("#### circuitcheck suggest: `mixed`"));
    assert!(
        run.stdout.contains("| add | attribution |"),
        "{}",
        run.stdout
    );
}

/// The toy model's circuit without 0.0: suggest ranks 0.0 first by its exact effect, and the
/// variant it writes is clean, shows in `diff`, and `check` of it
/// gives the faithfulness suggest printed, back near the whole circuit's.
#[test]
fn on_the_toy_model_a_removed_head_is_found_and_restored() {
    let dir = tempfile::tempdir().unwrap();
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("circuits/toy-induction.circuit");
    let without = dir.path().join("without.circuit");
    std::fs::write(
        &without,
        format!(
            "circuit without extends {:?} {{\n}}\n\nremove head 0.0\n",
            base.to_str().unwrap()
        ),
    )
    .unwrap();
    let written = dir.path().join("out/restored.circuit");
    std::fs::create_dir_all(written.parent().unwrap()).unwrap();
    let (without, written) = (without.to_str().unwrap(), written.to_str().unwrap());
    let settings = ["--n", "40", "--bootstrap", "50", "--no-cache", "--quiet"];
    let run = circuitcheck(
        &[
            &["suggest", without, "--write", written, "--format", "json"][..],
            &settings,
            &["--candidates", "3"],
        ]
        .concat(),
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let first = &report["candidates"][0];
    assert_eq!(first["addition"], "0.0", "{report:#}");
    // First by exact effect; its attribution rank (taken on M, to first order) may be any.
    assert!(number(&report["faithfulness"]["value"]) < 0.8, "{report:#}");
    let restored = number(&report["written"]["faithfulness"]["value"]);
    assert!(restored > 0.9, "{report:#}");
    assert_eq!(report["written"]["additions"], serde_json::json!(["0.0"]));

    let text = std::fs::read_to_string(written).unwrap();
    assert!(
        text.starts_with("circuit without_suggested extends \"../without.circuit\" {"),
        "{text}"
    );
    let lint = circuitcheck(&["lint", written]);
    assert_eq!(lint.code, 0, "{}", lint.transcript());
    assert!(
        !lint.stderr.contains("warning") && !lint.stdout.contains("warning"),
        "{}",
        lint.transcript()
    );
    let fmt = circuitcheck(&["fmt", "--check", written]);
    assert_eq!(fmt.code, 0, "{}", fmt.transcript());
    let diff = circuitcheck(&["diff", without, written]);
    assert_eq!(diff.code, 1, "{}", diff.transcript());
    assert!(diff.stdout.contains("suggested_0_0"), "{}", diff.stdout);
    assert!(diff.stdout.contains("0.0"), "{}", diff.stdout);
    let check = circuitcheck(
        &[
            &["check", written, "--format", "json", "--random-sets", "0"][..],
            &settings,
        ]
        .concat(),
    );
    assert!(check.code == 0 || check.code == 1, "{}", check.transcript());
    let check: Value = serde_json::from_str(&check.stdout).unwrap();
    // The same figure, up to float32 rounding in batches of another shape.
    let same = |a: &Value, b: &Value, what: &str| {
        let (a, b) = (number(a), number(b));
        assert!(
            (a - b).abs() <= 1e-6 * b.abs().max(1.0),
            "{what}: check {a}, suggest {b}"
        );
    };
    let (checked, printed) = (
        &check["faithfulness"]["ratio"],
        &report["written"]["faithfulness"],
    );
    same(&checked["value"], &printed["value"], "faithfulness");
    same(
        &checked["interval"]["low"],
        &printed["interval"]["low"],
        "its interval",
    );
    same(
        &checked["interval"]["high"],
        &printed["interval"]["high"],
        "its interval",
    );
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let missing = circuitcheck(&["suggest", "no/such.circuit"]);
    assert_eq!(missing.code, 2, "{}", missing.transcript());
    assert!(
        missing.stderr.contains("no/such.circuit"),
        "{}",
        missing.stderr
    );

    // Every head of the toy model in the circuit, every MLP kept, node level.
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.circuit");
    std::fs::write(
        &full,
        "circuit full {\n  model toy-induction\n  task induction\n}\n\n\
         class all_heads at END { 0.0 0.1 0.2 0.3 1.0 1.1 1.2 1.3 }\n",
    )
    .unwrap();
    let full = full.to_str().unwrap();
    let none = circuitcheck(&["suggest", full, "--n", "5", "--quiet", "--no-cache"]);
    assert_eq!(none.code, 2, "{}", none.transcript());
    assert!(none.stderr.contains("nothing to add"), "{}", none.stderr);
    assert!(!none.stderr.contains("panicked"), "{}", none.stderr);

    let own = circuitcheck(&["suggest", full, "--write", full, "--quiet"]);
    assert_eq!(own.code, 2, "{}", own.transcript());
    assert!(
        own.stderr.contains("the circuit's own file"),
        "{}",
        own.stderr
    );

    let directory = circuitcheck(&["suggest", full, "--write", dir.path().to_str().unwrap()]);
    assert_eq!(directory.code, 2, "{}", directory.transcript());
    assert!(
        directory.stderr.contains("it is a directory"),
        "{}",
        directory.stderr
    );

    let zero = circuitcheck(&["suggest", full, "--candidates", "0"]);
    assert_eq!(zero.code, 2, "{}", zero.transcript());
    assert!(zero.stderr.contains("at least 1"), "{}", zero.stderr);
}
