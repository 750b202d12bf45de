//! `circuitcheck check` end to end, through the binary, on the committed toy model
//! (models/toy-induction) and its three circuits: the true one, a plausible wrong one and the
//! true one padded with irrelevant heads.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Run, circuitcheck};
use serde_json::Value;

const TRUE: &str = "circuits/toy-induction.circuit";
const WRONG: &str = "circuits/toy-induction-wrong.circuit";
const PADDED: &str = "circuits/toy-induction-padded.circuit";

fn check(file: &str, cache: &Path, extra: &[&str]) -> Run {
    let cache = cache.to_str().expect("UTF-8 temp path");
    let mut args = vec!["check", file, "--cache-dir", cache];
    args.extend_from_slice(extra);
    circuitcheck(&args)
}

fn report(file: &str) -> Value {
    let cache = tempfile::tempdir().unwrap();
    let run = check(file, cache.path(), &["--format", "json", "--quiet"]);
    assert!(run.code == 0 || run.code == 1, "{}", run.transcript());
    serde_json::from_str(&run.stdout).expect("check --format json prints JSON")
}

fn f64_at(value: &Value, path: &[&str]) -> f64 {
    let mut v = value;
    for key in path {
        v = &v[*key];
    }
    v.as_f64()
        .unwrap_or_else(|| panic!("{path:?} is not a number"))
}

fn head_name(head: &Value) -> String {
    format!("{}.{}", head["layer"], head["head"])
}

#[test]
fn the_true_circuit_is_faithful_and_the_wrong_one_is_not() {
    let right = report(TRUE);
    let wrong = report(WRONG);
    let ratio = f64_at(&right, &["faithfulness", "ratio", "value"]);
    let wrong_ratio = f64_at(&wrong, &["faithfulness", "ratio", "value"]);
    assert!(ratio >= 0.9, "true circuit F(C)/F(M) = {ratio}");
    assert!(
        wrong_ratio <= 0.5,
        "wrong circuit F(C)/F(M) = {wrong_ratio}"
    );
    let low = f64_at(&right, &["faithfulness", "ratio", "interval", "low"]);
    let high = f64_at(&wrong, &["faithfulness", "ratio", "interval", "high"]);
    assert!(
        low > high,
        "the intervals overlap: true from {low}, wrong up to {high}"
    );
}

#[test]
fn minimality_flags_the_padding_and_not_the_true_heads() {
    let padded = report(PADDED);
    let minimality = padded["minimality"].as_array().unwrap();
    let flagged: BTreeSet<String> = minimality
        .iter()
        .filter(|m| m["flagged"].as_bool().unwrap())
        .map(|m| head_name(&m["head"]))
        .collect();
    assert_eq!(flagged, BTreeSet::from(["1.1".into(), "1.2".into()]));
    for m in minimality {
        let relative = f64_at(m, &["relative", "value"]);
        match m["class"].as_str().unwrap() {
            "padding" => assert!(relative < 0.02, "{}: {relative}", head_name(&m["head"])),
            _ => assert!(relative > 0.05, "{}: {relative}", head_name(&m["head"])),
        }
    }
}

#[test]
fn the_true_circuit_is_complete_for_every_class() {
    let right = report(TRUE);
    let model = f64_at(&right, &["model_score", "value"]);
    let sets = right["completeness"]["sets"].as_array().unwrap();
    let classes: Vec<&Value> = sets
        .iter()
        .filter(|s| s["origin"].as_str().unwrap().starts_with("class "))
        .collect();
    assert_eq!(classes.len(), 2, "one K per class");
    for set in classes {
        let incompleteness = f64_at(set, &["incompleteness", "value"]);
        assert!(
            incompleteness <= 0.1 * model,
            "{}: |F(C\\K) − F(M\\K)| = {incompleteness}, F(M) = {model}",
            set["origin"]
        );
    }
}

#[test]
fn expectations_set_the_exit_code() {
    let cache = tempfile::tempdir().unwrap();
    let met = check(TRUE, cache.path(), &["--quiet"]);
    assert_eq!(met.code, 0, "{}", met.transcript());
    assert!(
        met.stdout.contains("all 3 expectations met"),
        "{}",
        met.stdout
    );
    let failed = check(WRONG, cache.path(), &["--quiet"]);
    assert_eq!(failed.code, 1, "{}", failed.transcript());
    assert!(
        failed.stdout.contains("✗ faithfulness >= 0.9"),
        "{}",
        failed.stdout
    );
}

#[test]
fn bad_input_exits_2_with_a_diagnostic() {
    let cache = tempfile::tempdir().unwrap();
    let missing = check("circuits/no-such.circuit", cache.path(), &[]);
    assert_eq!(missing.code, 2, "{}", missing.transcript());
    assert!(
        missing.stderr.contains("no-such.circuit"),
        "{}",
        missing.stderr
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.circuit");
    std::fs::write(
        &broken,
        "circuit broken {\n  model toy-induction\n  task induction\n}\n\nclass a at END { 0.0 }\nedge a -> nowhere\n",
    )
    .unwrap();
    let run = check(broken.to_str().unwrap(), cache.path(), &[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);

    let no_model = check(TRUE, cache.path(), &["--model", "no/such/dir"]);
    assert_eq!(no_model.code, 2, "{}", no_model.transcript());
}

#[test]
fn reference_activations_come_from_the_cache_the_second_time() {
    let cache = tempfile::tempdir().unwrap();
    let first = check(TRUE, cache.path(), &["--format", "json"]);
    let second = check(TRUE, cache.path(), &["--format", "json"]);
    assert!(
        first
            .stderr
            .contains("reference activations (mean): computed and cached"),
        "{}",
        first.stderr
    );
    assert!(
        second
            .stderr
            .contains("reference activations (mean): read from the cache"),
        "{}",
        second.stderr
    );
    assert_eq!(
        first.stdout, second.stdout,
        "cached means identical results"
    );
    let off = check(TRUE, cache.path(), &["--format", "json", "--no-cache"]);
    assert!(off.stderr.contains("cache off"), "{}", off.stderr);
}

/// Field names of each table of docs/check-report.md, by section heading.
fn documented_fields() -> Vec<(String, Vec<String>)> {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/check-report.md"))
            .unwrap();
    let mut sections: Vec<(String, Vec<String>)> = Vec::new();
    for line in doc.lines() {
        if let Some(heading) = line.strip_prefix("## ") {
            sections.push((heading.trim_matches('`').to_string(), Vec::new()));
        } else if let (Some(rest), Some(section)) = (line.strip_prefix("| `"), sections.last_mut())
        {
            let name = rest.split('`').next().unwrap();
            section.1.push(name.to_string());
        }
    }
    sections.retain(|(_, fields)| !fields.is_empty());
    sections
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .cloned()
        .collect()
}

fn assert_estimate(value: &Value, what: &str) {
    assert_eq!(
        keys(value),
        BTreeSet::from(["value".into(), "interval".into()]),
        "{what}"
    );
    assert!(value["value"].is_number(), "{what}");
    assert_eq!(
        keys(&value["interval"]),
        BTreeSet::from(["low".into(), "high".into()]),
        "{what}"
    );
}

#[test]
fn the_json_report_is_the_documented_schema() {
    let report = report(PADDED);
    let sections = documented_fields();
    let object_of = |section: &str| -> Vec<&Value> {
        match section {
            "Top level" => vec![&report],
            "faithfulness" => vec![&report["faithfulness"]],
            "groups[]" => ["groups", "families"]
                .iter()
                .flat_map(|list| report[*list].as_array().unwrap())
                .collect(),
            "completeness" => vec![&report["completeness"]],
            "minimality[]" => report["minimality"].as_array().unwrap().iter().collect(),
            "expectations[]" => report["expectations"].as_array().unwrap().iter().collect(),
            other => panic!("docs/check-report.md has an unexpected section `{other}`"),
        }
    };
    assert_eq!(sections.len(), 6, "{sections:?}");
    for (section, fields) in &sections {
        for object in object_of(section) {
            let documented: BTreeSet<String> = fields.iter().cloned().collect();
            assert_eq!(keys(object), documented, "section `{section}`");
        }
    }
    assert_eq!(report["version"], 1);
    for field in ["model_score", "circuit_score", "empty_score"] {
        assert_estimate(&report[field], field);
    }
    for field in ["gap", "ratio", "normalized"] {
        assert_estimate(&report["faithfulness"][field], field);
    }
    let doc = std::fs::read_to_string("docs/check-report.md").unwrap();
    for set in report["completeness"]["sets"].as_array().unwrap() {
        let fields = [
            "origin",
            "heads",
            "circuit",
            "model",
            "incompleteness",
            "ranked",
        ];
        assert_eq!(keys(set), fields.into_iter().map(String::from).collect());
        for field in fields {
            assert!(
                doc.contains(&format!("`{field}`")),
                "KSet field {field} documented"
            );
        }
        assert!(set["ranked"].is_boolean());
        for field in ["circuit", "model", "incompleteness"] {
            assert_estimate(&set[field], field);
        }
    }
    let n = report["prompts"].as_u64().unwrap() as usize;
    for series in ["model", "circuit", "empty", "group"] {
        assert_eq!(report["per_prompt"][series].as_array().unwrap().len(), n);
    }
    // The induction task has four templates of one family, `gap`.
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 4, "{groups:?}");
    let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["gap 1", "gap 2", "gap 3", "gap 4"]);
    assert_eq!(report["families"].as_array().unwrap().len(), 1);
    assert_eq!(report["families"][0]["name"], "gap");
    let mut counted = 0;
    for (index, group) in groups.iter().enumerate() {
        assert_eq!(group["family"], "gap");
        for field in ["model", "circuit", "faithfulness"] {
            assert_estimate(&group[field], field);
        }
        let members = report["per_prompt"]["group"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|g| g.as_u64() == Some(index as u64))
            .count();
        assert_eq!(group["prompts"].as_u64(), Some(members as u64));
        counted += members;
    }
    assert_eq!(counted, n);
    assert_eq!(report["families"][0]["prompts"].as_u64(), Some(n as u64));
    // The whole dataset's figure is the one family's.
    assert_eq!(
        report["families"][0]["faithfulness"]["value"],
        report["faithfulness"]["ratio"]["value"]
    );
    assert!(report["expectations"][0]["passed"].is_boolean());
}

fn diff_eval(old: &str, new: &str, cache: &Path, extra: &[&str]) -> Run {
    let cache = cache.to_str().expect("UTF-8 temp path");
    let mut args = vec!["diff", old, new, "--eval", "--quiet", "--cache-dir", cache];
    args.extend_from_slice(extra);
    circuitcheck(&args)
}

#[test]
fn diff_eval_flags_a_regression_with_disjoint_intervals() {
    let cache = tempfile::tempdir().unwrap();
    let run = diff_eval(TRUE, WRONG, cache.path(), &["--fail-on", "regression"]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    let row = run
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("faithfulness F(C)/F(M)"))
        .unwrap_or_else(|| panic!("no faithfulness row:\n{}", run.stdout));
    assert!(row.trim_end().ends_with('≠'), "{row}");
    assert!(
        run.stdout.contains("regression: the new circuit"),
        "{}",
        run.stdout
    );
    // The structural diff comes first, unchanged.
    assert!(
        run.stdout
            .starts_with("--- circuits/toy-induction.circuit\n")
    );
}

#[test]
fn diff_eval_without_regression_passes_fail_on() {
    let cache = tempfile::tempdir().unwrap();
    let run = diff_eval(TRUE, PADDED, cache.path(), &["--fail-on", "regression"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("minimality 1.1"), "{}", run.stdout);
    assert!(run.stdout.contains("no regression"), "{}", run.stdout);
    // Without --fail-on, the exit code is the structural diff's: 1, the meaning changed.
    let plain = diff_eval(TRUE, PADDED, cache.path(), &[]);
    assert_eq!(plain.code, 1, "{}", plain.transcript());
}

#[test]
fn diff_eval_formats_markdown_and_json() {
    let cache = tempfile::tempdir().unwrap();
    let markdown = diff_eval(TRUE, WRONG, cache.path(), &["--format", "markdown"]);
    assert!(
        markdown.stdout.contains("##### Evaluation"),
        "{}",
        markdown.stdout
    );
    assert!(
        markdown
            .stdout
            .contains("| faithfulness F(C)/F(M) | 109.2 % ["),
        "{}",
        markdown.stdout
    );
    // A `|` inside a cell is escaped, so the row keeps its columns on GitHub.
    let gap = markdown
        .stdout
        .lines()
        .find(|l| l.starts_with("| gap "))
        .unwrap_or_else(|| panic!("no gap row:\n{}", markdown.stdout));
    assert!(gap.starts_with("| gap \\|F(M) − F(C)\\| | "), "{gap}");
    assert_eq!(gap.matches(" | ").count(), 4, "{gap}");
    let json = diff_eval(TRUE, WRONG, cache.path(), &["--format", "json"]);
    let value: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(value["evaluation"]["regression"], true);
    assert_eq!(value["evaluation"]["old"]["circuit"], "toy_induction");
    assert_eq!(value["evaluation"]["new"]["circuit"], "toy_induction_wrong");
    assert_eq!(value["changes_meaning"], true);
}

#[test]
fn diff_eval_refuses_circuits_of_different_tasks() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.circuit");
    std::fs::write(
        &other,
        "circuit other {\n  model gpt2-small\n  task ioi\n}\n\nclass a at END { 9.9 }\n\nedge a -> logits\n",
    )
    .unwrap();
    let cache = tempfile::tempdir().unwrap();
    let run = diff_eval(other.to_str().unwrap(), TRUE, cache.path(), &[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("is about gpt2-small on ioi"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_completeness_set_is_a_different_k() {
    let report = report(TRUE);
    let sets = report["completeness"]["sets"].as_array().unwrap();
    let ks: Vec<BTreeSet<String>> = sets
        .iter()
        .map(|s| {
            s["heads"]
                .as_array()
                .unwrap()
                .iter()
                .map(head_name)
                .collect()
        })
        .collect();
    let distinct: BTreeSet<&BTreeSet<String>> = ks.iter().collect();
    assert_eq!(distinct.len(), ks.len(), "{ks:?}");
    let randoms = sets
        .iter()
        .filter(|s| s["origin"].as_str().unwrap().starts_with("random "))
        .count();
    assert_eq!(randoms, 5, "the default number of random K sets, all drawn");
}

/// The evidence quoted in circuits/toy-induction.circuit: the layer-0 heads attend from the
/// last token to B1, never to the matching A1.
#[test]
fn model_attention_shows_the_evidence_the_circuit_file_cites() {
    let grid = |to: &str| -> Vec<Vec<f64>> {
        let run = circuitcheck(&[
            "model",
            "attention",
            "induction",
            "--model",
            "models/toy-induction",
            "--n",
            "200",
            "--from",
            "END",
            "--to",
            to,
        ]);
        assert_eq!(run.code, 0, "{}", run.transcript());
        run.stdout
            .lines()
            .skip(3)
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .map(|w| w.parse().unwrap())
                    .collect()
            })
            .collect()
    };
    let to_b1 = grid("B1");
    let to_a1 = grid("A1");
    assert_eq!(to_b1.len(), 2, "{to_b1:?}");
    for head in 0..3 {
        assert!(to_b1[0][head] >= 0.4, "0.{head} → B1: {to_b1:?}");
    }
    for head in 0..4 {
        assert!(to_a1[0][head] <= 0.02, "0.{head} → A1: {to_a1:?}");
    }

    let unknown = circuitcheck(&[
        "model",
        "attention",
        "induction",
        "--model",
        "models/toy-induction",
        "--from",
        "END",
        "--to",
        "S2",
    ]);
    assert_eq!(unknown.code, 2, "{}", unknown.transcript());
    assert!(
        unknown.stderr.contains("has no position `S2`")
            && unknown.stderr.contains("X1, A1, B1, A2, END"),
        "{}",
        unknown.stderr
    );
}

#[test]
fn markdown_report_escapes_pipes_and_names_what_f_empty_knocks_out() {
    let cache = tempfile::tempdir().unwrap();
    let run = check(TRUE, cache.path(), &["--format", "markdown", "--quiet"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let row = |start: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no row {start:?}:\n{}", run.stdout))
            .to_string()
    };
    let gap = row("| gap ");
    assert!(gap.starts_with("| gap  \\|F(M) − F(C)\\| | "), "{gap}");
    assert_eq!(gap.matches(" | ").count(), 2, "three cells: {gap}");
    assert!(row("| F(∅)").contains("all heads knocked out"));
}

#[test]
fn options_out_of_range_are_refused_before_any_work() {
    let cache = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["--confidence", "2"], "strictly between 0 and 1"),
        (&["--confidence", "0"], "strictly between 0 and 1"),
        (&["--confidence", "NaN"], "not a finite number"),
        (&["--search-prompts", "0"], "at least one prompt"),
        (&["--n", "0"], "at least one prompt"),
        (&["--n", "1000000"], "at most 100000"),
        (&["--bootstrap", "1000000"], "0–100000"),
        (&["--random-sets", "100000"], "0–1000"),
        (&["--threshold", "inf"], "not a finite number"),
    ];
    for (options, message) in cases {
        let run = check(TRUE, cache.path(), options);
        assert_eq!(run.code, 2, "{options:?}: {}", run.transcript());
        assert!(run.stderr.contains(message), "{options:?}: {}", run.stderr);
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
    // Each fine alone, together more resampled prompts than the bootstrap holds.
    let run = check(
        TRUE,
        cache.path(),
        &["--n", "100000", "--bootstrap", "100000"],
    );
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("--bootstrap 100000 × 100000 prompts"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("ask for fewer"), "{}", run.stderr);
}

#[test]
fn devices_are_chosen_on_the_command_line() {
    let cache = tempfile::tempdir().unwrap();
    // auto is the CPU on a machine (or a build) without a GPU, and gives the same report.
    let auto = check(TRUE, cache.path(), &["--format", "json", "--quiet"]);
    let cpu = check(
        TRUE,
        cache.path(),
        &["--format", "json", "--quiet", "--device", "cpu"],
    );
    assert_eq!(auto.code, 0, "{}", auto.transcript());
    assert_eq!(auto.stdout, cpu.stdout);
    // A GPU this build cannot use is refused with what to do.
    for gpu in ["cuda", "metal"] {
        if cfg!(feature = "cuda") && gpu == "cuda" || cfg!(feature = "metal") && gpu == "metal" {
            continue;
        }
        let run = check(TRUE, cache.path(), &["--quiet", "--device", gpu]);
        assert_eq!(run.code, 2, "{}", run.transcript());
        assert!(run.stderr.contains("model::device"), "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("built without {gpu} support")),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("--device cpu"), "{}", run.stderr);
    }
    let info = circuitcheck(&[
        "model",
        "info",
        "--model",
        "models/toy-induction",
        "--device",
        "cpu",
    ]);
    assert_eq!(info.code, 0, "{}", info.transcript());
    assert!(info.stdout.contains("device       cpu"), "{}", info.stdout);
    assert!(info.stdout.contains("family       gpt2"), "{}", info.stdout);
}

/// Ratios to F(M) mean nothing where F(M) may be 0: check says so on standard error exactly
/// when F(M)'s interval includes 0. A tiny random model does not do IOI (its F(M) straddles
/// 0 on some seeds, not on others); the toy model does its task.
#[test]
fn a_model_that_may_not_do_the_task_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_ioi_model(dir.path(), 3);
    let circuit = dir.path().join("c.circuit");
    std::fs::write(
        &circuit,
        "circuit c {\n  model gpt2-small\n  task ioi\n}\n\nclass a at END { 1.0 }\n",
    )
    .unwrap();
    let mut straddles = BTreeSet::new();
    for seed in 0..6 {
        let seed = seed.to_string();
        let run = circuitcheck(&[
            "check",
            circuit.to_str().unwrap(),
            "--model",
            dir.path().to_str().unwrap(),
            "--n",
            "10",
            "--seed",
            &seed,
            "--bootstrap",
            "50",
            "--random-sets",
            "0",
            "--greedy-budget",
            "0",
            "--minimality-budget",
            "0",
            "--no-cache",
            "--quiet",
            "--format",
            "json",
        ]);
        assert!(run.code == 0 || run.code == 1, "{}", run.transcript());
        let report: Value = serde_json::from_str(&run.stdout).unwrap();
        let (low, high) = (
            f64_at(&report, &["model_score", "interval", "low"]),
            f64_at(&report, &["model_score", "interval", "high"]),
        );
        let includes_zero = low <= 0.0 && high >= 0.0;
        let warned = run.stderr.contains("interval [") && run.stderr.contains("includes 0");
        assert_eq!(
            warned, includes_zero,
            "seed {seed}: [{low}, {high}]\n{}",
            run.stderr
        );
        straddles.insert(includes_zero);
    }
    assert!(
        straddles.contains(&true),
        "some seed's F(M) interval includes 0"
    );
    let cache = tempfile::tempdir().unwrap();
    let toy = check(TRUE, cache.path(), &["--quiet"]);
    assert!(!toy.stderr.contains("includes 0"), "{}", toy.stderr);
}
