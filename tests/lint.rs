//! `circuitcheck lint` on small files under tests/lint/, one per kind of problem, asserting
//! the exact diagnostics (snapshots under tests/snapshots/).

mod common;

use common::circuitcheck;

macro_rules! lint_cases {
    ($($name:ident => $file:literal,)*) => {$(
        #[test]
        fn $name() {
            let run = circuitcheck(&["lint", concat!("tests/lint/", $file)]);
            insta::assert_snapshot!(stringify!($name), run.transcript());
        }
    )*};
}

lint_cases! {
    syntax_error => "syntax.circuit",
    unknown_class => "unknown-class.circuit",
    duplicate_class => "duplicate-class.circuit",
    duplicate_head => "duplicate-head.circuit",
    head_out_of_range => "head-out-of-range.circuit",
    edge_order => "edge-order.circuit",
    unknown_position => "unknown-position.circuit",
    empty_class => "empty-class.circuit",
    extends_cycle => "cycle-a.circuit",
    extends_missing => "extends-missing.circuit",
    extends_invalid => "extends-invalid.circuit",
    remove_missing => "remove-missing.circuit",
    unreachable_class => "unreachable.circuit",
    untouched_heads => "untouched.circuit",
    settings => "settings.circuit",
    missing_settings => "missing-settings.circuit",
    metrics => "metrics.circuit",
    endpoints => "endpoints.circuit",
    mlp => "mlp.circuit",
    many_problems_in_one_run => "many.circuit",
}

#[test]
fn repository_circuits_are_clean() {
    let run = circuitcheck(&["lint", "circuits/ioi.circuit", "circuits/ioi-naive.circuit"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "lint: 2 files, no problems\n");
}

#[test]
fn unreadable_file() {
    let run = circuitcheck(&["lint", "tests/lint/does-not-exist.circuit"]);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn json_format() {
    let run = circuitcheck(&[
        "lint",
        "--format",
        "json",
        "tests/lint/duplicate-head.circuit",
    ]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn warnings_alone_exit_zero() {
    let run = circuitcheck(&["lint", "tests/lint/unreachable.circuit"]);
    assert_eq!(run.code, 0);
    assert!(run.stderr.contains("circuit::unreachable"));
}
