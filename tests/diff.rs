//! `circuitcheck diff`: pairs of small circuits under tests/diff/, one kind of change each,
//! with the exact terminal and Markdown output (snapshots under tests/snapshots/), the JSON
//! fields, the rename rule, and git revisions in a temporary repository.

use crate::common;

use std::path::Path;
use std::process::Command;

use circuitcheck::catalog::Catalog;
use circuitcheck::diff::diff;
use circuitcheck::dsl::{Circuit, Loader};
use common::{Memory, Run, circuitcheck};

/// `circuitcheck diff --format FORMAT OLD NEW`.
fn diff_in(format: &str, old: &str, new: &str) -> Run {
    circuitcheck(&["diff", "--format", format, old, new])
}

macro_rules! terminal_cases {
    ($($name:ident: $old:literal -> $new:literal,)*) => {$(
        #[test]
        fn $name() {
            let run = circuitcheck(&["diff", concat!("tests/diff/", $old), concat!("tests/diff/", $new)]);
            insta::assert_snapshot!(stringify!($name), run.transcript());
        }
    )*};
}

terminal_cases! {
    no_changes: "base.circuit" -> "reformatted.circuit",
    settings: "base.circuit" -> "settings.circuit",
    rename_only: "base.circuit" -> "renamed.circuit",
    rename_with_head_changes: "base.circuit" -> "renamed-changed.circuit",
    heads_added_removed_moved: "base.circuit" -> "heads.circuit",
    positions_and_descriptions: "base.circuit" -> "positions.circuit",
    edges: "base.circuit" -> "edges.circuit",
    mlp_edges: "base.circuit" -> "mlp-edges.circuit",
    mlps_from_the_default: "base.circuit" -> "mlps.circuit",
    mlps_listed: "mlps.circuit" -> "mlps-changed.circuit",
    expectations_and_minimality_sets: "base.circuit" -> "expectations.circuit",
    extends_variant: "base.circuit" -> "variant.circuit",
    errors: "base.circuit" -> "broken.circuit",
}

#[test]
fn ioi_against_the_naive_circuit() {
    let run = circuitcheck(&["diff", "circuits/ioi.circuit", "circuits/ioi-naive.circuit"]);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn ioi_against_the_naive_circuit_in_markdown() {
    let run = diff_in(
        "markdown",
        "circuits/ioi.circuit",
        "circuits/ioi-naive.circuit",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn heads_in_markdown() {
    let run = diff_in(
        "markdown",
        "tests/diff/base.circuit",
        "tests/diff/heads.circuit",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn no_changes_in_markdown() {
    let run = diff_in(
        "markdown",
        "tests/diff/base.circuit",
        "tests/diff/reformatted.circuit",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn json_has_every_section() {
    let run = diff_in(
        "json",
        "tests/diff/base.circuit",
        "tests/diff/heads.circuit",
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["old"], "tests/diff/base.circuit");
    assert_eq!(json["new"], "tests/diff/heads.circuit");
    assert_eq!(json["changes_meaning"], true);
    for section in [
        "settings",
        "classes",
        "heads",
        "mlps",
        "edges",
        "minimality_sets",
        "expectations",
        "head_count",
    ] {
        assert!(json.get(section).is_some(), "no {section} in {json}");
    }
    assert_eq!(json["classes"]["added"][0]["name"], "solo_mover");
    assert_eq!(
        json["heads"]["moved"][1],
        serde_json::json!({"head": {"layer": 10, "head": 0}, "from": "name_mover", "to": "solo_mover"})
    );
    assert_eq!(
        json["heads"]["removed"][0],
        serde_json::json!({"class": "name_mover", "heads": [{"layer": 9, "head": 6}]})
    );
    assert_eq!(json["edges"]["added"].as_array().unwrap().len(), 2);
    assert_eq!(json["head_count"], serde_json::json!({"old": 9, "new": 9}));
}

#[test]
fn a_rename_alone_exits_zero_in_json_too() {
    let run = diff_in(
        "json",
        "tests/diff/base.circuit",
        "tests/diff/renamed.circuit",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["changes_meaning"], false);
    assert_eq!(
        json["classes"]["renamed"][0],
        serde_json::json!({"old": "name_mover", "new": "movers"})
    );
    assert_eq!(json["edges"]["added"], serde_json::json!([]));
}

#[test]
fn a_missing_file_is_an_error() {
    let run = circuitcheck(&[
        "diff",
        "tests/diff/base.circuit",
        "tests/diff/nothing.circuit",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("circuit::read-failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let (old, new) = ("tests/diff/base.circuit", "tests/diff/edges.circuit");
    let plain = circuitcheck(&["diff", old, new]);
    assert!(!plain.stdout.contains('\x1b'));
    let coloured = circuitcheck(&["diff", "--color", "always", old, new]);
    assert!(
        coloured
            .stdout
            .contains("  \x1b[31m- induction -> s_inhibition.v\x1b[0m\n")
    );
    assert!(
        coloured
            .stdout
            .contains("\x1b[32m+ embed -> name_mover.v\x1b[0m")
    );
}

// The rename rule, on circuits written in the test: same name, or sharing at least half of
// the heads the two classes hold together.

fn circuit(classes: &str) -> Circuit {
    let text = format!("circuit c {{ model gpt2-small task ioi }}\n{classes}\n");
    let texts = Memory::file("c.circuit", text);
    let env = Catalog;
    let mut loader = Loader::new(&env, &texts);
    let loaded = loader.load(Path::new("c.circuit"));
    let errors: Vec<String> = loaded
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    loaded.circuit.clone().unwrap()
}

fn renames(old: &str, new: &str) -> Vec<(String, String)> {
    diff(&circuit(old), &circuit(new))
        .classes
        .renamed
        .into_iter()
        .map(|rename| (rename.old, rename.new))
        .collect()
}

#[test]
fn sharing_half_the_heads_is_a_rename() {
    let renamed = renames(
        "class negative at END { 10.7 11.10 }",
        "class suppressor at END { 10.7 }",
    );
    assert_eq!(renamed, [("negative".into(), "suppressor".into())]);
}

#[test]
fn sharing_less_than_half_is_not_a_rename() {
    let old = "class negative at END { 10.7 }";
    let new = "class late at END { 10.7 11.3 11.10 }";
    assert!(renames(old, new).is_empty());
    let changes = diff(&circuit(old), &circuit(new));
    assert_eq!(changes.heads.moved.len(), 1);
    assert_eq!(changes.heads.moved[0].to, "late");
}

#[test]
fn a_kept_name_wins_over_shared_heads() {
    let old = "class a at END { 9.1 }\nclass b at END { 9.2 }";
    let new = "class a at END { 9.2 }\nclass b at END { 9.1 }";
    let changes = diff(&circuit(old), &circuit(new));
    assert!(changes.classes.renamed.is_empty());
    assert_eq!(changes.heads.moved.len(), 2);
}

#[test]
fn the_most_similar_class_is_the_rename() {
    let old = "class movers at END { 9.6 9.9 10.0 }";
    let new = "class part at END { 9.6 9.9 }\nclass whole at END { 9.7 10.0 }";
    assert_eq!(
        renames(old, new),
        [("movers".to_string(), "part".to_string())]
    );
}

#[test]
fn a_diff_of_a_circuit_with_itself_is_empty() {
    let ioi = circuit("class a at S2 { 5.5 }\nclass b at END { 9.9 }\nedge a -> b.q");
    let changes = diff(&ioi, &ioi);
    assert!(changes.is_empty() && !changes.changes_meaning());
}

// Git revisions, in a temporary repository.

/// A repository with two commits: `circuits/variant.circuit` extends `circuits/base.circuit`;
/// the second commit adds 9.7 to the base's name movers and leaves the variant's file as it
/// was. The working tree then also changes the variant's faithfulness bound.
fn repository() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let circuits = dir.path().join("circuits");
    std::fs::create_dir(&circuits).unwrap();
    let base = std::fs::read_to_string("tests/diff/base.circuit").unwrap();
    let variant = "circuit small_variant extends \"base.circuit\" {\n}\n\nremove head 10.0\n";
    std::fs::write(circuits.join("base.circuit"), &base).unwrap();
    std::fs::write(circuits.join("variant.circuit"), variant).unwrap();
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    let more_movers = base.replace("{ 9.6 9.9 10.0 }", "{ 9.6 9.7 9.9 10.0 }");
    assert_ne!(more_movers, base);
    std::fs::write(circuits.join("base.circuit"), more_movers).unwrap();
    git(dir.path(), &["commit", "-q", "-a", "-m", "second"]);
    let working = format!("{variant}expect faithfulness >= 0.7\n");
    std::fs::write(circuits.join("variant.circuit"), working).unwrap();
    dir
}

/// git with nobody's configuration and a fixed identity, as on a fresh CI machine.
fn git(dir: &Path, args: &[&str]) {
    let status = isolated(Command::new("git"))
        .args(args)
        .current_dir(dir)
        .status()
        .expect("git runs");
    assert!(status.success(), "git {args:?}");
}

fn isolated(mut command: Command) -> Command {
    command
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .env("NO_COLOR", "1");
    command
}

fn circuitcheck_in(dir: &Path, args: &[&str]) -> Run {
    let output = isolated(Command::new(env!("CARGO_BIN_EXE_circuitcheck")))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

#[test]
fn git_revision_against_the_working_file() {
    let repo = repository();
    let run = circuitcheck_in(
        repo.path(),
        &[
            "diff",
            "HEAD~1:circuits/variant.circuit",
            "circuits/variant.circuit",
        ],
    );
    // 9.7 comes from the base as committed second (the variant's `extends` is resolved in
    // each side's own revision), the bound from the working file.
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn git_revisions_resolve_extends_within_the_revision() {
    let repo = repository();
    let run = circuitcheck_in(
        repo.path(),
        &[
            "diff",
            "HEAD~1:circuits/variant.circuit",
            "HEAD:circuits/variant.circuit",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stdout.contains("+ 9.7 to name_mover"), "{}", run.stdout);
    assert!(!run.stdout.contains("Expectations"), "{}", run.stdout);
    // The same revision on both sides: no changes.
    let same = circuitcheck_in(
        repo.path(),
        &[
            "diff",
            "HEAD:circuits/variant.circuit",
            "HEAD:circuits/variant.circuit",
        ],
    );
    assert_eq!(
        (same.code, same.stdout.lines().nth(2)),
        (0, Some("no changes"))
    );
}

#[test]
fn git_revision_paths_relative_to_the_current_directory() {
    let repo = repository();
    let run = circuitcheck_in(
        &repo.path().join("circuits"),
        &["diff", "HEAD~1:./variant.circuit", "HEAD:./variant.circuit"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("--- HEAD~1:circuits/variant.circuit\n")
    );
}

#[test]
fn a_missing_revision_is_an_error() {
    let repo = repository();
    let run = circuitcheck_in(
        repo.path(),
        &[
            "diff",
            "HEAD~5:circuits/variant.circuit",
            "circuits/variant.circuit",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("cannot read HEAD~5:circuits/variant.circuit"),
        "{}",
        run.stderr
    );
}

#[test]
fn as_a_git_diff_driver() {
    let repo = repository();
    std::fs::write(
        repo.path().join(".gitattributes"),
        "*.circuit diff=circuit\n",
    )
    .unwrap();
    let driver = format!(
        "diff.circuit.command='{}' diff --git-external-diff",
        env!("CARGO_BIN_EXE_circuitcheck")
    );
    let output = isolated(Command::new("git"))
        .args(["-c", &driver, "diff", "HEAD~1"])
        .current_dir(repo.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    // Both files changed since HEAD~1; the driver reads each side's text from git and the
    // bases from the working tree.
    assert!(
        stdout.contains("--- a/circuits/base.circuit\n+++ b/circuits/base.circuit\n"),
        "{stdout}"
    );
    assert!(stdout.contains("+ 9.7 to name_mover"), "{stdout}");
    assert!(
        stdout.contains("~ expect faithfulness >= 0.8 → 0.7"),
        "{stdout}"
    );
}

#[test]
fn a_task_file_is_read_from_the_revision_and_its_changes_show() {
    let dir = tempfile::tempdir().unwrap();
    let circuits = dir.path().join("circuits");
    let tasks = dir.path().join("tasks");
    std::fs::create_dir(&circuits).unwrap();
    std::fs::create_dir(&tasks).unwrap();
    let task = std::fs::read_to_string("tests/lint/tasks/mini.toml").unwrap();
    std::fs::write(tasks.join("mini.toml"), &task).unwrap();
    let circuit = "circuit c {\n  model gpt2-small\n  task \"../tasks/mini.toml\"\n}\n\nclass movers at END { 9.9 }\n";
    std::fs::write(circuits.join("c.circuit"), circuit).unwrap();
    git(dir.path(), &["init", "-q"]);
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);

    // The same file with another name list: the task changed, though the circuit did not.
    std::fs::write(
        tasks.join("mini.toml"),
        task.replace("\"Bob\"]", "\"Bob\", \"Alice2\"]"),
    )
    .unwrap();
    let run = circuitcheck_in(
        dir.path(),
        &["diff", "HEAD:circuits/c.circuit", "circuits/c.circuit"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout
            .contains("~ task: \"tasks/mini.toml\" → \"tasks/mini.toml\" (the file changed)"),
        "{}",
        run.stdout
    );

    // A task file broken in the working tree does not hide the revision's valid one.
    std::fs::write(tasks.join("mini.toml"), "name = ").unwrap();
    let run = circuitcheck_in(
        dir.path(),
        &["diff", "HEAD:circuits/c.circuit", "HEAD:circuits/c.circuit"],
    );
    assert_eq!(run.code, 0, "{}", run.transcript());

    // Another task altogether.
    std::fs::write(tasks.join("mini.toml"), &task).unwrap();
    std::fs::write(
        circuits.join("c.circuit"),
        circuit.replace("\"../tasks/mini.toml\"", "ioi"),
    )
    .unwrap();
    let run = circuitcheck_in(
        dir.path(),
        &["diff", "HEAD:circuits/c.circuit", "circuits/c.circuit"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains("~ task: \"tasks/mini.toml\" → ioi"),
        "{}",
        run.stdout
    );
}
