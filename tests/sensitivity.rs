//! `circuitcheck sensitivity`: the report's schema against docs/sensitivity-report.md, its
//! cells against the independent f64 evaluator on a tiny IOI model (groups of different
//! token lengths), and its figures against `check` on the toy model.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use circuitcheck::dsl::Ablation;
use circuitcheck::eval::sensitivity::PositionsChoice;
use circuitcheck::task::ReferenceSize;
use common::circuitcheck;
use common::evaluator::{Evaluator, Level, Scheme, Scope};
use common::fixture::{self, Fixture};
use common::verify::{model_and_dataset, reference_of, scheme};
use serde_json::Value;

fn report(args: &[&str]) -> Value {
    let run = circuitcheck(
        &[
            &["sensitivity"],
            args,
            &["--format", "json", "--quiet", "--no-cache"],
        ]
        .concat(),
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    serde_json::from_str(&run.stdout).expect("JSON report")
}

fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap().keys().cloned().collect()
}

/// The fields each section of the page lists in its table.
fn documented_fields() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/sensitivity-report.md"),
    )
    .unwrap();
    let mut sections: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current = None;
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            current = Some(heading.trim_matches('`').to_string());
        } else if let (Some(rest), Some(section)) = (line.strip_prefix("| `"), &current) {
            let name = rest.split('`').next().unwrap().to_string();
            sections.entry(section.clone()).or_default().insert(name);
        }
    }
    sections
}

#[test]
fn the_toy_report_is_the_documented_schema_and_agrees_with_check() {
    let report = report(&["circuits/toy-induction.circuit"]);
    let documented = documented_fields();
    assert_eq!(keys(&report), documented["Top level"]);
    let cells = report["cells"].as_array().unwrap();
    // 3 schemes × 2 levels × 2 positions × 5 sizes, and zero once per level and positions.
    assert_eq!(cells.len(), 3 * 2 * 2 * 5 + 2 * 2);
    for cell in cells {
        assert_eq!(keys(cell), documented["cells[]"]);
        assert_eq!(
            keys(&cell["faithfulness"]),
            ["ratio", "median", "quartiles"].map(String::from).into()
        );
        assert_eq!(cell["reference"].is_null(), cell["ablation"] == "zero");
    }
    for breakdown in report["families"].as_array().unwrap() {
        assert_eq!(
            keys(breakdown),
            [
                "name",
                "prompts",
                "model_score",
                "circuit_score",
                "faithfulness"
            ]
            .map(String::from)
            .into()
        );
    }
    assert_eq!(report["version"], 1);
    // At the baseline (the file's settings), the family figure is check's faithfulness.
    let run = circuitcheck(&[
        "check",
        "circuits/toy-induction.circuit",
        "--format",
        "json",
        "--quiet",
        "--no-cache",
    ]);
    let check: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        report["model_score"]["value"],
        check["model_score"]["value"]
    );
    let families = report["families"].as_array().unwrap();
    let prompts: u64 = families
        .iter()
        .map(|f| f["prompts"].as_u64().unwrap())
        .sum();
    assert_eq!(prompts, 100);
    if let [only] = families.as_slice() {
        let (a, b) = (
            only["faithfulness"]["ratio"]["value"].as_f64().unwrap(),
            check["faithfulness"]["ratio"]["value"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        assert_eq!(only["model_score"], check["model_score"]);
        assert_eq!(
            only["circuit_score"]["value"],
            check["circuit_score"]["value"]
        );
    }
    let templates: u64 = report["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["prompts"].as_u64().unwrap())
        .sum();
    assert_eq!(templates, 100);
}

const CIRCUIT: &str = "circuit mixed {
  model gpt2-small
  task ioi
}

mlp 0 at all
mlp 1 at S2, END

class a at S2 { 0.1 0.3 }
class b at END, S1+1 { 1.0 }
class d at END { 2.1 2.3 }

edge embed -> a, b.k, d.q
edge a -> b.q, d.v
edge b -> d.k
edge d -> logits
";

/// Cells of every scheme, level and positions choice, each at one of the sizes, recomputed
/// by the independent evaluator with the reference set of that size.
#[test]
fn cells_match_the_reference_implementation() {
    let f = Fixture::ioi(9, CIRCUIT);
    let (dir, circuit) = (f.dir.path(), &f.circuit);
    let (n, seed) = (8, 2);
    let report = fixture_report(&f, (n, seed));
    // One size per (scheme, level, positions), a different one each time.
    let checked = cells_agree_with_the_evaluator(&f, &report, (n, seed), |i, cell| {
        cell["ablation"] == "zero" || i % 5 == (i / 5) % 5
    });
    assert!(checked >= 16, "{checked} cells checked");
    let dataset_with = |size| model_and_dataset(dir, "ioi", n, seed, size).1;
    let reference =
        reference_of(&model_and_dataset(dir, "ioi", n, seed, ReferenceSize::Counterparts).0);
    let none = BTreeSet::new();

    // The breakdowns, at the baseline (mean, node, as written, at least 5 per group): each
    // template's and family's F(M), F(C) and ratio over its own prompts, in order.
    let dataset = dataset_with(ReferenceSize::AtLeast(5));
    let evaluator = Evaluator::new(&reference, &dataset, circuit, &Scheme::Mean, Level::Node);
    let (fm, fc) = (
        evaluator.scores(Scope::Model, &none),
        evaluator.scores(Scope::Circuit, &none),
    );
    let family = |group: &str| {
        group
            .trim_end_matches(|c: char| c.is_ascii_digit())
            .trim_end()
            .to_string()
    };
    for (list, name_of) in [
        ("templates", (|g: &str| g.to_string()) as fn(&str) -> String),
        ("families", family),
    ] {
        // Families in alphabetical order, templates in each by number (`BABA 2` before `BABA 10`).
        let mut expected: Vec<String> = dataset
            .prompts
            .iter()
            .map(|p| name_of(&dataset.groups[p.group]))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        expected.sort_by_key(|name| {
            let number: Option<u64> = name[family(name).len()..].trim().parse().ok();
            (family(name), number)
        });
        let breakdowns = report[list].as_array().unwrap();
        let names: Vec<&str> = breakdowns
            .iter()
            .map(|b| b["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "{list} in order");
        for breakdown in breakdowns {
            let name = breakdown["name"].as_str().unwrap();
            let members: Vec<usize> = (0..dataset.prompts.len())
                .filter(|i| name_of(&dataset.groups[dataset.prompts[*i].group]) == name)
                .collect();
            let mean =
                |xs: &[f64]| members.iter().map(|i| xs[*i]).sum::<f64>() / members.len() as f64;
            let close = |got: &Value, want: f64| {
                let got = got.as_f64().unwrap();
                assert!(
                    (got - want).abs() <= 1e-4 * want.abs().max(1.0),
                    "{list} {name}: {got} vs {want}"
                );
            };
            assert_eq!(breakdown["prompts"], members.len());
            close(&breakdown["model_score"]["value"], mean(&fm));
            close(&breakdown["circuit_score"]["value"], mean(&fc));
            close(
                &breakdown["faithfulness"]["ratio"]["value"],
                mean(&fc) / mean(&fm),
            );
        }
    }
}

/// A circuit whose edges name MLPs it does not list: only its edge level reads their
/// replacement values (each wired MLP's Δ), which sensitivity keeps for such a circuit.
#[test]
fn edge_cells_of_a_circuit_wiring_unlisted_mlps_match_the_reference_implementation() {
    let f = Fixture::ioi(
        9,
        "circuit wired {
  model gpt2-small
  task ioi
}

class a at S2 { 0.1 0.3 }
class d at END { 2.1 2.3 }

edge embed -> a, mlp.0
edge mlp.0 -> d.q
edge a -> d.v, mlp.1
edge d, mlp.1 -> logits
",
    );
    let (n, seed) = (8, 2);
    let report = fixture_report(&f, (n, seed));
    let checked = cells_agree_with_the_evaluator(&f, &report, (n, seed), |_, cell| {
        cell["level"] == "edge" && cell["ablation"] != "global-mean"
    });
    assert!(checked >= 20, "{checked} cells checked");
}

/// The report on `f`'s circuit and model, `n` prompts made with `seed`.
fn fixture_report(f: &Fixture, (n, seed): (usize, u64)) -> Value {
    report(&[
        f.circuit_file(),
        "--model",
        f.model(),
        "--n",
        &n.to_string(),
        "--seed",
        &seed.to_string(),
        "--bootstrap",
        "20",
    ])
}

/// Checks F(C) and the ratio of each cell of `report` that `wanted` picks (by index and
/// cell) against the independent evaluator, with the reference set of the cell's size;
/// returns how many it checked.
fn cells_agree_with_the_evaluator(
    f: &Fixture,
    report: &Value,
    (n, seed): (usize, u64),
    wanted: impl Fn(usize, &Value) -> bool,
) -> usize {
    let (dir, circuit) = (f.dir.path(), &f.circuit);
    let dataset_with = |size| model_and_dataset(dir, "ioi", n, seed, size).1;
    let (loaded, plain) = model_and_dataset(dir, "ioi", n, seed, ReferenceSize::Counterparts);
    let lengths: BTreeSet<usize> = plain.prompts.iter().map(|p| p.tokens.len()).collect();
    assert!(lengths.len() > 1, "groups of different token lengths");
    let reference = reference_of(&loaded);
    let size_of = |value: &Value| -> ReferenceSize {
        match value["kind"].as_str().unwrap() {
            "exactly" => ReferenceSize::Exactly(value["n"].as_u64().unwrap() as usize),
            _ => ReferenceSize::Counterparts,
        }
    };
    let none = BTreeSet::new();
    let mut checked = 0;
    for (i, cell) in report["cells"].as_array().unwrap().iter().enumerate() {
        if !wanted(i, cell) {
            continue;
        }
        let ablation = Ablation::from_name(cell["ablation"].as_str().unwrap()).unwrap();
        let size = if cell["reference"].is_null() {
            ReferenceSize::Counterparts
        } else {
            size_of(&cell["reference"])
        };
        let dataset = dataset_with(size);
        let scheme = scheme(ablation, &dataset, seed);
        let level = fixture::level(cell["level"].as_str().unwrap());
        let positions = if cell["positions"] == "all" {
            PositionsChoice::All
        } else {
            PositionsChoice::AsWritten
        };
        let shaped = positions.apply(circuit);
        let evaluator = Evaluator::new(&reference, &dataset, &shaped, &scheme, level);
        let fc = evaluator.mean(Scope::Circuit, &none);
        let fm = evaluator.mean(Scope::Model, &none);
        let (got_fc, got_ratio) = (
            cell["circuit_score"]["value"].as_f64().unwrap(),
            cell["faithfulness"]["ratio"]["value"].as_f64().unwrap(),
        );
        let what = format!("{cell}");
        assert!(
            (got_fc - fc).abs() <= 1e-4 * fc.abs().max(1.0),
            "F(C) {got_fc} vs {fc}: {what}"
        );
        assert!(
            (got_ratio - fc / fm).abs() <= 1e-4 * (fc / fm).abs().max(1.0),
            "ratio {got_ratio} vs {}: {what}",
            fc / fm
        );
        checked += 1;
    }
    checked
}
