//! `circuitcheck lint` on small files under tests/lint/, one per kind of problem, asserting
//! the exact diagnostics (snapshots under tests/snapshots/).

use crate::common;

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
    mlp_edges => "mlp-edges.circuit",
    mlp_edges_parallel_residual => "mlp-edges-parallel.circuit",
    mlp_edges_left_out_by_a_variant => "variants/mlp-edges-variant.circuit",
    many_problems_in_one_run => "many.circuit",
    task_file => "task-file.circuit",
    task_file_inherited => "variants/task-file-variant.circuit",
    task_file_positions => "task-file-positions.circuit",
    task_file_broken => "task-file-broken.circuit",
    task_file_missing => "task-file-missing.circuit",
    larger_models => "larger-models.circuit",
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

/// Lints `text` written to a temporary file named `name`.
fn lint_text(name: &str, text: &str) -> common::Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    circuitcheck(&["lint", path.to_str().unwrap()])
}

const HEADER: &str = "circuit x {\n  model gpt2-small\n  task ioi\n}\n";

#[test]
fn a_label_past_column_65536_is_shown_with_the_line_cut_around_it() {
    // miette pads labels with `{:width$}`, which panics for widths over u16::MAX.
    let text = format!(
        "{HEADER}class a at all {{ {}99.1 }}\n",
        "0.1 ".repeat(20_000)
    );
    let run = lint_text("long.circuit", &text);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let column = "class a at all { ".len() + 4 * 20_000 + 1;
    assert!(
        run.stderr.contains(&format!("long.circuit:5:{column}]")),
        "{}",
        &run.stderr[run.stderr.len().saturating_sub(2000)..]
    );
    assert!(run.stderr.contains("layer 99 does not exist"));
    assert!(run.stderr.contains("…"));
    assert!(!run.stderr.contains("panicked"));
}

#[test]
fn many_problems_on_one_line_print_in_linear_space() {
    // Each diagnostic used to print the whole 60 kB line: 1 GB of output, 40 s.
    let heads: Vec<String> = (0..8000).map(|h| format!("99.{h}")).collect();
    let text = format!("{HEADER}class a at all {{ {} }}\n", heads.join(" "));
    let run = lint_text("many.circuit", &text);
    assert_eq!(run.code, 1);
    assert!(run.stderr.ends_with("lint: 1 file, 8000 errors\n"));
    assert!(run.stderr.len() < 8000 * 600, "{} bytes", run.stderr.len());
}

#[test]
fn extending_a_device_is_refused_without_reading_it() {
    // `extends "/dev/zero"` used to read until memory ran out.
    let run = lint_text("zero.circuit", "circuit x extends \"/dev/zero\" {\n}\n");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("circuit::extends-missing"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("it is a device, pipe or socket"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("cannot be read"), "{}", run.stderr);
    let run = circuitcheck(&["lint", "/dev/zero"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("circuit::read-failed"),
        "{}",
        run.stderr
    );
}

#[test]
fn files_larger_than_16_mib_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.circuit");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    let run = circuitcheck(&["lint", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("larger than 16 MiB"), "{}", run.stderr);
    let run = circuitcheck(&["fmt", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("larger than 16 MiB"), "{}", run.stderr);
}

#[test]
fn thousands_of_classes_edges_and_comments_lint_in_linear_time() {
    // Each lookup of a class or head scanned every class, each unknown class compared its
    // name with every class, each comment scanned back over earlier statements.
    let mut text = HEADER.to_string();
    for i in 0..3000 {
        text += &format!("# class {i}\nclass c{i} at all {{ 99.{i} }}  # bad head\n");
    }
    for i in 0..3000 {
        text += &format!("edge c{i} -> nowhere{i}  # unknown\n");
    }
    let run = lint_text("big.circuit", &text);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.ends_with("lint: 1 file, 6000 errors\n"),
        "{}",
        &run.stderr[run.stderr.len().saturating_sub(500)..]
    );
    assert!(
        run.stderr.contains("the classes are c0, c1, c2"),
        "{}",
        &run.stderr[..2000]
    );
    assert!(run.stderr.contains("and 2988 more"));
}

#[test]
fn a_chain_of_extends_stops_at_32_files() {
    // Loading recursed once per base: at ~850 files pest ran short of stack and reported a
    // syntax error in a valid file; further on, the stack would overflow.
    let dir = tempfile::tempdir().unwrap();
    for i in 0..1000 {
        let text = format!("circuit c{i} extends \"c{}.circuit\" {{\n}}\n", i + 1);
        std::fs::write(dir.path().join(format!("c{i}.circuit")), text).unwrap();
    }
    std::fs::write(dir.path().join("c1000.circuit"), HEADER).unwrap();
    let run = circuitcheck(&["lint", dir.path().join("c0.circuit").to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("circuit::extends-too-deep"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("more than 32 files deep"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("circuit::syntax"), "{}", run.stderr);
}
