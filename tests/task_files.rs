//! Circuits about task files, checked end to end: `task "path.toml"` in the header, and
//! `--task NAME|FILE` on the command line, on a generated tiny model.

use crate::common;

use std::path::Path;

use circuitcheck::testing::TinyGpt2;
use common::{Run, circuitcheck};
use serde_json::Value;

const CIRCUIT: &str = "circuit mini {\n  model gpt2-small\n  task \"tasks/mini.toml\"\n}\n\nclass early at S2 { 0.1 }\nclass late at END { 2.2 2.3 }\n";

/// A tiny model, the mini task beside a circuit that names it.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    TinyGpt2::default()
        .write(&dir.path().join("model"))
        .unwrap();
    std::fs::create_dir(dir.path().join("tasks")).unwrap();
    std::fs::copy(
        "tests/lint/tasks/mini.toml",
        dir.path().join("tasks/mini.toml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("mini.circuit"), CIRCUIT).unwrap();
    dir
}

fn check(dir: &Path, extra: &[&str]) -> Run {
    let circuit = dir.join("mini.circuit");
    let model = dir.join("model");
    let mut args = vec![
        "check",
        circuit.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--n",
        "8",
        "--no-cache",
        "--quiet",
        "--format",
        "json",
        "--minimality-budget",
        "0",
        "--greedy-budget",
        "0",
    ];
    args.extend_from_slice(extra);
    circuitcheck(&args)
}

#[test]
fn a_circuit_checks_on_the_task_file_it_names() {
    let dir = workspace();
    let run = check(dir.path(), &[]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["task"], "mini-ioi");
    assert_eq!(report["per_prompt"]["model"].as_array().unwrap().len(), 8);
}

#[test]
fn task_overrides_the_circuits_task() {
    let dir = workspace();
    let own: Value = serde_json::from_str(&check(dir.path(), &[]).stdout).unwrap();
    // The same task under another name and with other templates: other prompts.
    let other = std::fs::read_to_string(dir.path().join("tasks/mini.toml"))
        .unwrap()
        .replace("name = \"mini-ioi\"", "name = \"mini-other\"")
        .replace("went to the store,", "went to the garden,");
    let other_path = dir.path().join("other.toml");
    std::fs::write(&other_path, other).unwrap();
    let run = check(dir.path(), &["--task", other_path.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let overridden: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(overridden["task"], "mini-other");
    assert_ne!(
        own["per_prompt"]["model"],
        overridden["per_prompt"]["model"]
    );

    // A task without the positions the circuit acts at is refused, naming them.
    let run = check(dir.path(), &["--task", "induction"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("acts at position(s) that task induction does not name: S2"),
        "{}",
        run.stderr
    );
    // A task file that does not exist.
    let run = check(dir.path(), &["--task", "nowhere.toml"]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("task::read-failed"), "{}", run.stderr);
}

#[test]
fn a_broken_task_file_stops_check_with_its_diagnostics() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("tasks/mini.toml"),
        "name = \"x\"\nmetric = 3\n",
    )
    .unwrap();
    let run = check(dir.path(), &[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("task::syntax"), "{}", run.stderr);
    assert!(
        run.stderr.contains("circuit::task-invalid"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn heads_outside_the_loaded_model_are_named() {
    let dir = workspace();
    std::fs::write(
        dir.path().join("mini.circuit"),
        CIRCUIT.replace("{ 2.2 2.3 }", "{ 2.2 5.1 1.7 }"),
    )
    .unwrap();
    let run = check(dir.path(), &[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("2 head(s) of circuit `mini` are not in the loaded model: 1.7, 5.1"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("3 layers × 4 heads"), "{}", run.stderr);
}
