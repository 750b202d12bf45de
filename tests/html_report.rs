//! `check --html` and `diff --eval --html` through the binary, on the committed toy model:
//! the page is self-contained, holds every chart with one mark per figure, escapes what
//! users name, and the run's other output is unchanged. The heat-map component on its own.

use crate::common;

use std::path::Path;

use circuitcheck::report::html::{diverging_heatmap, heatmap};
use common::{Run, circuitcheck};
use serde_json::Value;

const TRUE: &str = "circuits/toy-induction.circuit";
const WRONG: &str = "circuits/toy-induction-wrong.circuit";
const PADDED: &str = "circuits/toy-induction-padded.circuit";

fn check(file: &str, cache: &Path, extra: &[&str]) -> Run {
    let cache = cache.to_str().expect("UTF-8 temp path");
    let mut args = vec!["check", file, "--cache-dir", cache, "--quiet"];
    args.extend_from_slice(extra);
    circuitcheck(&args)
}

/// The page of `check FILE --html`, and the JSON report of the same run.
fn page(file: &str, extra: &[&str]) -> (String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let mut args = vec!["--html", path.to_str().unwrap(), "--format", "json"];
    args.extend_from_slice(extra);
    let run = check(file, dir.path(), &args);
    assert!(run.code == 0 || run.code == 1, "{}", run.transcript());
    let html = std::fs::read_to_string(&path).expect("the page is written");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    (
        html,
        serde_json::from_str(&run.stdout).expect("JSON on stdout"),
    )
}

/// The `<svg …>…</svg>` whose opening tag has `class="CLASS"`.
fn svg<'a>(html: &'a str, class: &str) -> &'a str {
    let open = format!("<svg class=\"{class}\"");
    let start = html
        .find(&open)
        .unwrap_or_else(|| panic!("no {open} in the page"));
    let end = html[start..].find("</svg>").unwrap() + start;
    &html[start..end]
}

/// Nothing in the page reaches outside it.
fn assert_self_contained(html: &str) {
    for outside in [
        "http://", "https://", "<script", "src=", "href=", "url(", "@import", "<link",
    ] {
        assert!(!html.contains(outside), "the page holds {outside:?}");
    }
    assert!(
        html.contains("Content-Security-Policy"),
        "the page forbids fetching"
    );
}

#[test]
fn the_check_page_is_one_self_contained_document_with_every_chart() {
    let (html, report) = page(PADDED, &[]);
    assert!(
        html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
        "{}",
        &html[..80]
    );
    assert!(html.contains("<title>circuitcheck: toy_induction_padded</title>"));
    assert!(html.trim_end().ends_with("</html>"));
    assert_self_contained(&html);
    for chart in [
        "graph",
        "chart scores",
        "chart templates",
        "chart distribution",
        "chart completeness",
        "chart minimality",
    ] {
        let drawn = svg(&html, chart);
        assert!(drawn.contains("<title>"), "{chart} has a title");
    }
    // The header: circuit, model, task, options and the model files' hash.
    for field in [
        "<code>toy_induction_padded</code>",
        "<code>toy-induction</code>",
        "<code>induction</code>",
        "mean ablation, node level",
        "<dt>prompts</dt><dd class=\"prompts\">100</dd>",
        "<dt>seed</dt><dd class=\"seed\">0</dd>",
        "95 % percentile bootstrap intervals, 1000 resamples",
        "5 random K; greedy K for completeness, budget 3; greedy K per head for minimality, budget 1; searched on 32 prompts",
        "<dd class=\"minimality-threshold\">1.0 % of F(M)</dd>",
    ] {
        assert!(html.contains(field), "header lacks {field:?}");
    }
    let hash = html
        .split("sha256 ")
        .nth(1)
        .expect("a model hash")
        .split('<')
        .next()
        .unwrap();
    let parts: Vec<&str> = hash.split('+').collect();
    assert!(
        !parts.is_empty()
            && parts
                .iter()
                .all(|p| p.len() == 12 && p.bytes().all(|b| b.is_ascii_hexdigit())),
        "{hash}"
    );
    // The expectations, pass or fail.
    assert_eq!(
        html.matches("<li class=\"expectation ").count(),
        report["expectations"].as_array().unwrap().len()
    );
}

#[test]
fn charts_have_one_mark_per_figure() {
    let (html, report) = page(PADDED, &[]);
    let heads = report["minimality"].as_array().unwrap().len();
    assert_eq!(heads, 6);
    let minimality = svg(&html, "chart minimality");
    assert_eq!(minimality.matches("class=\"bar").count(), heads);
    // The two padding heads are flagged, and drawn so.
    assert_eq!(minimality.matches("class=\"bar flagged\"").count(), 2);
    assert_eq!(minimality.matches("class=\"threshold\"").count(), 1);
    assert!(
        minimality.contains(">threshold 1 % of F(M)</text>"),
        "{minimality}"
    );

    // The axes name the task's metric.
    assert!(svg(&html, "chart scores").contains("F: logit difference, mean over prompts"));
    assert!(svg(&html, "chart completeness").contains("the model without K (logit difference)"));
    let sets = report["completeness"]["sets"].as_array().unwrap().len();
    let scatter = svg(&html, "chart completeness");
    assert_eq!(scatter.matches("<circle class=\"point").count(), sets);
    assert_eq!(scatter.matches("class=\"point worst\"").count(), 1);
    assert_eq!(scatter.matches("class=\"diagonal\"").count(), 1);
    // Each point's two intervals.
    assert_eq!(scatter.matches("class=\"errorbar\"").count(), 2 * sets);
    // Beside it, each K's incompleteness with its paired interval; below, each class
    // knocked out of the model and of the circuit.
    let bars = svg(&html, "chart incompleteness");
    assert_eq!(bars.matches("class=\"bar").count(), sets);
    assert_eq!(bars.matches("class=\"bar worst\"").count(), 1);
    let classes = report["completeness"]["sets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["origin"].as_str().unwrap().starts_with("class "))
        .count();
    assert!(classes > 0);
    let knockouts = svg(&html, "chart knockouts");
    assert_eq!(knockouts.matches("class=\"bar\"").count(), 2 * classes);

    let templates = svg(&html, "chart templates");
    assert_eq!(
        templates.matches("class=\"bar\"").count(),
        report["groups"].as_array().unwrap().len()
    );
    for group in report["groups"].as_array().unwrap() {
        assert!(templates.contains(group["name"].as_str().unwrap()));
    }
    assert_eq!(
        svg(&html, "chart scores").matches("class=\"bar\"").count(),
        3
    );

    let distribution = svg(&html, "chart distribution");
    assert_eq!(distribution.matches("class=\"median\"").count(), 1);
    assert_eq!(distribution.matches("class=\"iqr\"").count(), 1);
    let counted: usize = distribution
        .split("class=\"bin\"")
        .skip(1)
        .map(|bin| {
            let title = bin.split("<title>").nth(1).unwrap();
            let count = title.split(": ").nth(1).unwrap().split(' ').next().unwrap();
            count.parse::<usize>().unwrap()
        })
        .sum();
    assert_eq!(counted, 100, "every prompt in one bin");

    // The graph: a box per class, a chip per head, an edge per (sender, receiver).
    let graph = svg(&html, "graph");
    assert_eq!(graph.matches("class=\"class-box\"").count(), 3);
    assert_eq!(graph.matches("class=\"head\"").count(), heads);
    // embed → 2 classes, 3 classes → logits, copy_after_match → padding.
    assert_eq!(graph.matches("class=\"edge\"").count(), 6);
    // padding sits below copy_after_match, in its column (layers are rows): that class
    // reaches the logits past it through a lane; the others go straight down.
    assert_eq!(graph.matches("data-route=\"lane\"").count(), 1);
    assert_eq!(graph.matches("data-route=\"curve\"").count(), 5);
    // Measured heads are filled by their minimality, with the key to it.
    assert_eq!(graph.matches("data-minimality=").count(), heads);
    assert!(graph.contains("class=\"key minimality\""));
    assert!(graph.contains("class=\"key channels\""));
}

#[test]
fn the_html_flag_changes_nothing_on_standard_output() {
    let cache = tempfile::tempdir().unwrap();
    let plain = check(TRUE, cache.path(), &[]);
    let out = cache.path().join("page.html");
    let with_html = check(TRUE, cache.path(), &["--html", out.to_str().unwrap()]);
    assert_eq!(plain.code, with_html.code);
    assert_eq!(plain.stdout, with_html.stdout);
    assert!(out.is_file());
}

#[test]
fn a_path_that_cannot_be_written_is_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/report.html");
    for path in [missing.as_path(), dir.path()] {
        let run = check(TRUE, dir.path(), &["--html", path.to_str().unwrap()]);
        assert_eq!(run.code, 2, "{}", run.transcript());
        assert!(
            run.stderr.contains("cannot write the HTML report to"),
            "{}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "no check ran: {}", run.stdout);
    }
    let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(entries.is_empty(), "nothing written: {entries:?}");
}

#[test]
fn an_existing_page_is_replaced_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    std::fs::write(&path, "old").unwrap();
    let run = check(
        TRUE,
        dir.path(),
        &[
            "--html",
            path.to_str().unwrap(),
            "--n",
            "20",
            "--bootstrap",
            "50",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.transcript());
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
}

#[test]
fn names_users_write_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("odd & <named>.circuit");
    std::fs::write(
        &file,
        "circuit escaping {\n  model toy-induction\n  task induction\n}\n\nclass copy \"<i>Tom & 'Jerry'</i>\" at END { 0.0 0.1 0.2 }\n\nedge embed -> copy\nedge copy -> logits\n",
    )
    .unwrap();
    let path = dir.path().join("report.html");
    let small = [
        "--n",
        "20",
        "--bootstrap",
        "50",
        "--model",
        "models/toy-induction",
    ];
    let mut args = vec!["--html", path.to_str().unwrap()];
    args.extend_from_slice(&small);
    let run = check(file.to_str().unwrap(), dir.path(), &args);
    assert!(run.code < 2, "{}", run.transcript());
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(
        html.contains("&lt;i&gt;Tom &amp; &#39;Jerry&#39;&lt;/i&gt;"),
        "the description, escaped"
    );
    assert!(!html.contains("<i>Tom"), "no raw markup from the file");

    // The diff page shows both files' names.
    let page = dir.path().join("diff.html");
    let cache = dir.path().to_str().unwrap();
    let mut args = vec![
        "diff",
        TRUE,
        file.to_str().unwrap(),
        "--eval",
        "--quiet",
        "--cache-dir",
        cache,
        "--html",
        page.to_str().unwrap(),
    ];
    args.extend_from_slice(&small);
    let run = circuitcheck(&args);
    assert!(run.code < 2, "{}", run.transcript());
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("odd &amp; &lt;named&gt;.circuit"),
        "the label, escaped"
    );
    assert!(!html.contains("<named>"));
    assert_self_contained(&html);
}

#[test]
fn the_diff_page_puts_both_reports_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("diff.html");
    let cache = dir.path().to_str().unwrap();
    let args = [
        "diff",
        TRUE,
        WRONG,
        "--eval",
        "--quiet",
        "--cache-dir",
        cache,
        "--html",
        page.to_str().unwrap(),
    ];
    let run = circuitcheck(&args);
    assert_eq!(run.code, 1, "{}", run.transcript());
    // Standard output is the terminal diff with its evaluation, as without --html.
    let plain = circuitcheck(&args[..7]);
    assert_eq!(run.stdout, plain.stdout);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_self_contained(&html);
    assert!(html.contains("<table class=\"comparison\">"));
    assert!(html.contains("faithfulness F(C)/F(M)"));
    assert!(
        html.contains("<tr class=\"significant\">"),
        "the faithfulness rows differ"
    );
    assert!(html.contains("Regression:"));
    assert!(html.contains("<pre class=\"diff\">--- circuits/toy-induction.circuit"));
    assert_eq!(html.matches("<div class=\"side old\">").count(), 6);
    assert_eq!(html.matches("<div class=\"side new\">").count(), 6);
    for chart in [
        "graph",
        "chart scores",
        "chart completeness",
        "chart minimality",
    ] {
        assert_eq!(
            html.matches(&format!("<svg class=\"{chart}\"")).count(),
            2,
            "{chart} for both sides"
        );
    }
    assert!(html.contains("new: toy_induction_wrong on toy-induction"));
    assert!(
        !html.contains("<dt>circuit</dt>"),
        "the header has no one circuit"
    );
    // A class has one colour on both sides: the wrong circuit's previous_token is the true
    // one's weak_copy_after_match renamed (both hold 0.3 alone), the others differ.
    let colour = |class: &str| -> String {
        let start = html
            .find(&format!("data-class=\"{class}\""))
            .unwrap_or_else(|| panic!("no box of {class}"));
        let rect = &html[start..];
        let rect = &rect[rect.find("<rect").unwrap()..];
        rect.split(" stroke=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(colour("previous_token"), colour("weak_copy_after_match"));
    let others = ["copy_after_match", "induction", "previous_token"].map(colour);
    assert!(others[0] != others[1] && others[1] != others[2] && others[0] != others[2]);
    // Each pair of charts shares its axes: the same tick labels on both sides.
    for chart in ["chart scores", "chart completeness", "chart minimality"] {
        let ticks = |side: &str| -> Vec<String> {
            let at = html.find(&format!("<div class=\"side {side}\"")).unwrap();
            let drawn = svg(&html[at..], chart);
            let frame = &drawn[..drawn.find("<g class=\"marks\"").unwrap()];
            frame
                .split("</text>")
                .filter_map(|t| t.rsplit_once('>').map(|(_, text)| text.trim().to_string()))
                .filter(|t| t.starts_with(|c: char| c.is_ascii_digit() || c == '-'))
                .collect()
        };
        let (old_ticks, new_ticks) = (ticks("old"), ticks("new"));
        assert!(old_ticks.len() > 2, "{chart}: {old_ticks:?}");
        if chart == "chart minimality" {
            // The heads (the y axis) differ; the values' axis is shared.
            let percents = |t: Vec<String>| -> Vec<String> {
                t.into_iter().filter(|t| t.ends_with('%')).collect()
            };
            assert_eq!(percents(old_ticks), percents(new_ticks), "{chart}");
        } else {
            assert_eq!(old_ticks, new_ticks, "{chart}");
        }
    }

    let refused = circuitcheck(&["diff", TRUE, WRONG, "--html", page.to_str().unwrap()]);
    assert_eq!(
        refused.code,
        2,
        "--html needs --eval: {}",
        refused.transcript()
    );
}

fn cells(html: &str) -> Vec<&str> {
    html.split("<g class=\"cell\">").skip(1).collect()
}

#[test]
fn the_heatmap_prints_every_value_in_its_cell_with_a_scale() {
    let rows = vec!["layer 0".to_string(), "a <b> & c".to_string()];
    let columns = vec!["S1".to_string(), "S2".to_string(), "END".to_string()];
    let values = vec![
        vec![Some(0.25), Some(-0.5), None],
        vec![Some(1.0), Some(f64::NAN), Some(0.0)],
    ];
    let html = heatmap(
        "Sensitivity <per> position",
        &rows,
        &columns,
        &values,
        |v| format!("{v:.2}"),
    );
    assert!(html.starts_with("<figure class=\"heatmap\">"));
    assert_self_contained_fragment(&html);
    assert!(html.contains("<title>Sensitivity &lt;per&gt; position</title>"));
    let cells = cells(&html);
    assert_eq!(cells.len(), 6, "rows × columns");
    assert!(
        cells[0].contains(">0.25</text>") && cells[0].contains("<title>layer 0, S1: 0.25</title>")
    );
    assert!(cells[1].contains(">-0.50</text>"));
    // Missing and non-finite values are empty cells.
    assert!(cells[2].contains(">—</text>") && cells[4].contains(">—</text>"));
    assert!(cells[3].contains("<title>a &lt;b&gt; &amp; c, S1: 1.00</title>"));
    // Both signs: a diverging scale, white at zero, red at the largest magnitude.
    assert!(cells[5].contains("fill=\"#f7f7f7\""), "{}", cells[5]);
    assert!(cells[3].contains("fill=\"#b2182b\""), "{}", cells[3]);
    assert!(html.contains("class=\"colour-scale\""));
    assert!(
        html.contains(">-1.00</text>") && html.contains(">1.00</text>"),
        "scale ends"
    );
    for label in ["S1", "S2", "END", "layer 0"] {
        assert!(html.contains(&format!(">{label}</text>")), "{label}");
    }
}

#[test]
fn the_heatmap_survives_empty_and_ragged_input() {
    let one = vec!["only".to_string()];
    let html = heatmap("empty", &[], &[], &[], |v| v.to_string());
    assert!(html.contains("</svg>") && cells(&html).is_empty());
    // A row shorter than the columns: the missing cells are empty.
    let html = heatmap(
        "ragged",
        &one,
        &["a".into(), "b".into()],
        &[vec![Some(3.0)]],
        |v| format!("{v}"),
    );
    let cells = cells(&html);
    assert_eq!(cells.len(), 2);
    assert!(cells[1].contains(">—</text>"));
    // One value: a sequential scale, the value mid-scale.
    assert!(!html.contains("NaN") && !html.contains("inf"));
}

#[test]
fn the_diverging_heatmap_is_white_at_zero_whatever_the_signs() {
    let rows = vec!["r".to_string()];
    let columns = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let html = diverging_heatmap(
        "all above zero",
        &rows,
        &columns,
        &[vec![Some(0.0), Some(0.05), Some(0.1)]],
        |v| format!("{v:.2}"),
    );
    let cells = cells(&html);
    assert!(cells[0].contains("fill=\"#f7f7f7\""), "{}", cells[0]);
    assert!(cells[2].contains("fill=\"#b2182b\""), "{}", cells[2]);
    // The scale runs from the negative of the largest magnitude to it.
    assert!(html.contains(">-0.10</text>") && html.contains(">0.10</text>"));
    // On the automatic scale the same values are sequential: the smallest is not white.
    let auto = heatmap(
        "all above zero",
        &rows,
        &columns,
        &[vec![Some(0.0), Some(0.05), Some(0.1)]],
        |v| format!("{v:.2}"),
    );
    assert!(!self::cells(&auto)[0].contains("fill=\"#f7f7f7\""));
}

/// `sensitivity --html`: the grid as two heat maps (ratio of means, per-prompt median), a
/// row per ablation · level · positions and a column per reference-set size, every cell the
/// figure of the JSON report of the same run, zero ablation's one figure across its row.
#[test]
fn the_sensitivity_page_draws_the_grid_the_json_reports() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sensitivity.html");
    let run = circuitcheck(&[
        "sensitivity",
        TRUE,
        "--quiet",
        "--no-cache",
        "--format",
        "json",
        "--html",
        path.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    assert_self_contained(&html);
    let maps: Vec<&str> = html.split("<figure class=\"heatmap\">").skip(1).collect();
    assert_eq!(maps.len(), 2);
    // One colour scale for both maps: the same labels on their colour bars.
    let scale = |map: &str| -> Vec<String> {
        let bar = &map[map.find("class=\"colour-scale\"").expect("a colour bar")..];
        let bar = &bar[..bar.find("</svg>").unwrap()];
        bar.split("</text>")
            .filter_map(|t| t.rsplit_once('>').map(|(_, text)| text.to_string()))
            .collect()
    };
    assert_eq!(scale(maps[0]), scale(maps[1]));
    assert!(scale(maps[0]).len() >= 3, "{:?}", scale(maps[0]));
    assert!(html.contains("Rows: ablation · level · positions."));
    let columns = ["2", "5", "10", "25", "counterparts"];
    let percent = |v: f64| format!("{:.1} %", 100.0 * v);
    for (map, statistic) in maps.iter().zip([
        (|c: &Value| c["faithfulness"]["ratio"]["value"].as_f64().unwrap()) as fn(&Value) -> f64,
        |c: &Value| c["faithfulness"]["median"].as_f64().unwrap(),
    ]) {
        let drawn = cells(map);
        assert_eq!(
            drawn.len(),
            16 * columns.len(),
            "4 schemes × 2 levels × 2 positions rows"
        );
        for cell in report["cells"].as_array().unwrap() {
            let row = format!(
                "{} · {} · {}{}",
                cell["ablation"].as_str().unwrap(),
                cell["level"].as_str().unwrap(),
                cell["positions"].as_str().unwrap().replace('-', " "),
                if cell["reference"].is_null() {
                    " (no reference)"
                } else {
                    ""
                }
            );
            let at: Vec<&str> = if cell["reference"].is_null() {
                columns.to_vec()
            } else {
                let size = cell["reference"]["n"]
                    .as_u64()
                    .map_or_else(|| "counterparts".to_string(), |n| n.to_string());
                vec![columns.iter().copied().find(|c| **c == size).unwrap()]
            };
            for column in at {
                let title = format!(
                    "<title>{row}, {column}: {}</title>",
                    percent(statistic(cell))
                );
                assert!(
                    drawn.iter().any(|d| d.contains(&title)),
                    "no cell {title} in the heat map"
                );
            }
        }
    }
    for chart in ["chart families", "chart templates"] {
        assert!(html.contains(&format!("<svg class=\"{chart}\"")), "{chart}");
    }
}

fn assert_self_contained_fragment(html: &str) {
    for outside in ["http://", "https://", "<script", "href=", "url("] {
        assert!(!html.contains(outside), "{outside}");
    }
}

/// The warnings of a run's standard error (`warning: TEXT`), as the page writes them.
fn stderr_warnings(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("warning: "))
        .map(circuitcheck::report::html::escape)
        .collect()
}

/// The page never claims more than the terminal: every warning of standard error is on each
/// page (check, diff --eval, sensitivity), above the verdict, and no verdict is green while
/// one stands. A tiny random model does not do IOI: on some seed its F(M) interval includes
/// 0, and its counterparts alone are fewer than a handful of reference prompts per group.
#[test]
fn every_warning_of_the_terminal_is_on_the_page() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_ioi_model(dir.path(), 3);
    let model = dir.path().to_str().unwrap().to_string();
    let circuit = dir.path().join("c.circuit");
    let other = dir.path().join("d.circuit");
    let text = "circuit c {\n  model gpt2-small\n  task ioi\n}\n\nclass a at END { 1.0 }\n\nexpect incompleteness <= 1000000\n";
    std::fs::write(&circuit, text).unwrap();
    std::fs::write(&other, text.replace("{ 1.0 }", "{ 1.0 0.1 }")).unwrap();
    let path = dir.path().join("page.html");
    let settings = |seed: &str| -> Vec<String> {
        [
            "--model",
            model.as_str(),
            "--n",
            "10",
            "--seed",
            seed,
            "--reference-n",
            "counterparts",
            "--bootstrap",
            "50",
            "--no-cache",
            "--quiet",
            "--html",
            path.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let run_with = |command: &[&str], seed: &str| {
        let mut args: Vec<String> = command.iter().map(|a| a.to_string()).collect();
        args.extend(settings(seed));
        if command[0] != "sensitivity" {
            args.extend(
                [
                    "--random-sets",
                    "0",
                    "--greedy-budget",
                    "0",
                    "--minimality-budget",
                    "0",
                ]
                .map(String::from),
            );
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = circuitcheck(&args);
        assert!(run.code <= 1, "{}", run.transcript());
        let html = std::fs::read_to_string(&path).expect("the page is written");
        (run, html)
    };
    let circuit = circuit.to_str().unwrap();
    let seed = (0..8)
        .map(|s| s.to_string())
        .find(|seed| {
            let (run, _) = run_with(&["check", circuit], seed);
            run.stderr.contains("includes 0")
        })
        .expect("some seed's F(M) interval includes 0");
    for command in [
        vec!["check", circuit],
        vec!["diff", circuit, other.to_str().unwrap(), "--eval"],
        vec!["sensitivity", circuit],
    ] {
        let (run, html) = run_with(&command, &seed);
        let warnings = stderr_warnings(&run.stderr);
        // Sensitivity bootstraps F(M) on its own: its interval may not include 0.
        let expected = if command[0] == "sensitivity" { 1 } else { 2 };
        assert!(
            warnings.len() >= expected && warnings.len() <= 2,
            "{command:?}: {}",
            run.stderr
        );
        assert!(
            command[0] == "sensitivity" || warnings[1].contains("includes 0"),
            "{command:?}: {}",
            run.stderr
        );
        let verdict = html.find("class=\"verdict").unwrap_or(html.len());
        for warning in &warnings {
            let at = html
                .find(warning.as_str())
                .unwrap_or_else(|| panic!("{command:?}: the page lacks {warning:?}"));
            assert!(at < verdict, "{command:?}: {warning:?} below the verdict");
        }
        assert!(
            !html.contains("verdict pass"),
            "{command:?}: a green verdict under a warning"
        );
    }
}

/// The tags of `html` that give an attribute twice, with the name repeated: a browser keeps
/// the first, so the second is never drawn.
fn repeated_attributes(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for tag in html.split('<').skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        if tag.starts_with(['/', '!', '?']) {
            continue;
        }
        let mut rest = tag.split_once(char::is_whitespace).map_or("", |(_, a)| a);
        let mut names: Vec<&str> = Vec::new();
        while let Some(eq) = rest.find('=') {
            let name = rest[..eq].trim();
            let value = rest[eq + 1..].trim_start();
            let quote = value.chars().next().unwrap_or('"');
            let close = value[1..].find(quote).map_or(value.len(), |c| c + 2);
            if names.contains(&name) {
                found.push(format!("{name} in <{tag}>"));
            }
            names.push(name);
            rest = &value[close.min(value.len())..];
        }
    }
    found
}

/// No element of a page's SVG gives an attribute twice: the worst K's ring and the flagged
/// minimality bars' fill are drawn as meant, on the check page and on the diff page.
#[test]
fn no_element_repeats_an_attribute() {
    assert_eq!(
        repeated_attributes(r#"<svg><rect fill="a" x="1" fill="b"/></svg>"#),
        ["fill in <rect fill=\"a\" x=\"1\" fill=\"b\"/>"]
    );
    let (html, report) = page(PADDED, &[]);
    let flagged = report["minimality"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["flagged"] == true);
    assert!(flagged, "the padded circuit has a flagged head");
    assert!(html.contains("class=\"point worst\""));
    assert_eq!(repeated_attributes(&html), Vec::<String>::new());
    let worst = html
        .split("<circle ")
        .find(|c| c.starts_with("class=\"point worst\""))
        .and_then(|c| c.split('>').next())
        .unwrap();
    assert!(worst.contains("stroke-width=\"3\""), "{worst}");
    let bar = html
        .split("<rect ")
        .find(|r| r.starts_with("class=\"bar flagged\""))
        .and_then(|r| r.split('>').next())
        .unwrap();
    assert_eq!(bar.matches(" fill=").count(), 1, "{bar}");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diff.html");
    let run = circuitcheck(&[
        "diff",
        TRUE,
        PADDED,
        "--eval",
        "--quiet",
        "--cache-dir",
        dir.path().to_str().unwrap(),
        "--html",
        path.to_str().unwrap(),
    ]);
    assert!(run.code <= 1, "{}", run.transcript());
    let html = std::fs::read_to_string(&path).unwrap();
    assert_eq!(repeated_attributes(&html), Vec::<String>::new());
}
