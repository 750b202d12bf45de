//! The HTML report (`check --html`, `diff --eval --html`): one self-contained file, with
//! its CSS inline, its charts as inline SVG, no script, and nothing to fetch (its
//! Content-Security-Policy forbids any fetch, so a browser says so if one ever creeps in).
//! The page is built from components that both pages share: the run's settings, the
//! expectations, the hypothesis graph, and the charts of `charts`, `histogram` and
//! `scatter`; `heatmap` is one for other commands' reports.

use std::fmt::Write as _;

use crate::dsl::{Circuit, Mlps};
use crate::eval::check::{Options, Report};
use crate::report::check::{headline, interval, number, percent, score_rows};
use crate::report::svg::escape;
use crate::report::{charts, comparison, histogram, layered, scatter};

pub use crate::report::heatmap::heatmap;

const STYLE: &str = include_str!("html.css");

/// No fetch of any kind, no script: styles inline only.
const POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// What the page says beside the report: how the check ran, and on which model files.
pub struct Run<'a> {
    pub options: &'a Options,
    /// `short_identity` of the model files.
    pub model_files: &'a str,
}

/// One side of a comparison.
pub struct Side<'a> {
    pub label: &'a str,
    pub report: &'a Report,
    pub circuit: &'a Circuit,
}

/// The model files' identity as the page shows it: the first 12 hex digits of each SHA-256
/// (the weights', then config.json's), enough to tell two models apart at a glance and to
/// compare with `sha256sum`.
pub fn short_identity(identity: &str) -> String {
    identity
        .split('+')
        .map(|digest| digest.get(..12).unwrap_or(digest))
        .collect::<Vec<_>>()
        .join("+")
}

fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"{POLICY}\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"circuitcheck {}\">\n<title>{}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(title)
    )
}

fn section(id: &str, heading: &str, content: &str) -> String {
    format!(
        "<section id=\"{id}\">\n<h2>{}</h2>\n{content}</section>\n",
        escape(heading)
    )
}

fn footer() -> String {
    format!(
        "<footer>Made by circuitcheck {}. This page is self-contained: it loads nothing and runs no script. Hover a mark for its figures.</footer>\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// The settings of the run, as a definition list; `one` is a single check's report (a
/// comparison's header leaves out what differs between its two sides).
fn settings(report: &Report, run: &Run, one: bool) -> String {
    let o = run.options;
    let shortlist = if o.shortlist > 0 {
        format!(", scoring the best {} by attribution", o.shortlist)
    } else {
        String::new()
    };
    let rows = [
        (
            "circuit",
            format!("<code>{}</code>", escape(&report.circuit)),
        ),
        ("model", format!("<code>{}</code>", escape(&report.model))),
        (
            "model files",
            format!(
                "<code title=\"SHA-256 of model.safetensors (+ config.json), first 12 hex digits of each\">sha256 {}</code>",
                escape(run.model_files)
            ),
        ),
        ("task", format!("<code>{}</code>", escape(&report.task))),
        (
            "ablation",
            format!(
                "{} ablation, {} level",
                escape(report.ablation.name()),
                escape(report.level.name())
            ),
        ),
        ("prompts", report.prompts.to_string()),
        ("seed", report.seed.to_string()),
        (
            "confidence",
            format!(
                "{:.0} % percentile bootstrap intervals, {} resamples",
                100.0 * report.confidence,
                o.bootstrap_resamples
            ),
        ),
        (
            "searches",
            format!(
                "{} random K; greedy K for completeness, budget {}{shortlist}; greedy K per head for minimality, budget {}; searched on {} prompts",
                o.random_sets,
                o.greedy_budget,
                o.minimality_budget,
                o.search_prompts.min(report.prompts)
            ),
        ),
        (
            "minimality threshold",
            format!("{} of F(M)", percent(o.minimality_threshold)),
        ),
        ("forward passes", report.forward_passes.to_string()),
    ];
    let mut out = String::from("<dl class=\"settings\">\n");
    let per_circuit = ["circuit", "forward passes"];
    for (name, value) in rows {
        if !one && per_circuit.contains(&name) {
            continue;
        }
        let _ = writeln!(
            out,
            "<div><dt>{name}</dt><dd class=\"{}\">{value}</dd></div>",
            name.replace(' ', "-")
        );
    }
    out + "</dl>\n"
}

/// ✓ or ✗ per expectation, with the measured value, and a summary line.
fn expectations(report: &Report) -> String {
    if report.expectations.is_empty() {
        return "<p>The file states no expectations.</p>\n".to_string();
    }
    let mut out = String::from("<ul class=\"expectations\">\n");
    for e in &report.expectations {
        let (class, mark, word) = if e.passed {
            ("pass", "✓", "met")
        } else {
            ("fail", "✗", "failed")
        };
        let value = e.value.map_or("—".to_string(), number);
        let _ = writeln!(
            out,
            "<li class=\"expectation {class}\"><span class=\"mark\" aria-label=\"{word}\">{mark}</span><code>{}</code> <span class=\"value\">(is {value})</span></li>",
            escape(&e.expectation)
        );
    }
    out += "</ul>\n";
    let failed = report.expectations.iter().filter(|e| !e.passed).count();
    let total = report.expectations.len();
    if failed == 0 {
        let _ = writeln!(
            out,
            "<p class=\"verdict pass\">All {total} expectations met.</p>"
        );
    } else {
        let _ = writeln!(
            out,
            "<p class=\"verdict fail\">{failed} of {total} expectations failed.</p>"
        );
    }
    out
}

fn mlps(circuit: &Circuit) -> String {
    match &circuit.mlps {
        Mlps::All => "Every MLP is kept at every position".to_string(),
        Mlps::Listed(entries) if entries.is_empty() => "No MLP is kept".to_string(),
        Mlps::Listed(entries) => format!(
            "MLPs kept: {}",
            entries
                .iter()
                .map(|e| format!("{} at {}", e.layer, e.positions))
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn graph(circuit: &Circuit) -> String {
    format!(
        "<figure>\n<div class=\"scroll\">\n{}</div>\n<figcaption>Classes sit in the column of their first head's layer, their heads inside; edges carry the channels they feed (q, k, v; unlabelled: all). {}.</figcaption>\n</figure>\n",
        layered::draw(circuit),
        escape(&mlps(circuit))
    )
}

fn faithfulness(report: &Report) -> String {
    let level = format!("{:.0} % interval", 100.0 * report.confidence);
    let mut table =
        format!("<table class=\"scores\">\n<tr><th></th><th>value</th><th>{level}</th></tr>\n");
    for (label, estimate, show) in score_rows(report) {
        let _ = writeln!(
            table,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&label),
            show(estimate.value),
            interval(estimate, show)
        );
    }
    table += "</table>\n";
    format!(
        "<div class=\"row\">\n<div>{table}</div>\n<figure>{}</figure>\n</div>\n",
        charts::scores(report)
    )
}

fn by_group(report: &Report) -> String {
    let mut out = String::new();
    if report.families.len() > 1 {
        out += &format!(
            "<figure>{}</figure>\n",
            charts::groups("Faithfulness per family", "families", &report.families)
        );
    } else if let Some(family) = report.families.first() {
        let _ = writeln!(
            out,
            "<p>Every prompt is of one family, <code>{}</code>.</p>",
            escape(&family.name)
        );
    }
    out += &format!(
        "<figure>{}",
        charts::groups(
            "Faithfulness per template (group of prompts)",
            "templates",
            &report.groups
        )
    );
    if report.groups.len() > charts::MAX_GROUP_BARS {
        let _ = write!(
            out,
            "<figcaption>The first {} of {} groups; the JSON report (<code>--format json</code>) has them all.</figcaption>",
            charts::MAX_GROUP_BARS,
            report.groups.len()
        );
    }
    out += "</figure>\n<p>Each bar has its own bootstrap over its group's prompts: a group of few prompts has a wide interval.</p>\n";
    out
}

fn distribution(report: &Report) -> String {
    let (measure, _) = histogram::per_prompt(report);
    format!(
        "<figure>{}<figcaption>{} The shaded band is the interquartile range, the line the median.</figcaption></figure>\n",
        histogram::histogram(report),
        escape(&histogram::explanation(measure))
    )
}

fn heads(heads: &[crate::dsl::Head]) -> String {
    if heads.is_empty() {
        return "∅".to_string();
    }
    heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn completeness(report: &Report) -> String {
    let mut table = String::from(
        "<table class=\"completeness\">\n<tr><th>K</th><th class=\"text\">heads</th><th>F(C\\K)</th><th>F(M\\K)</th><th>incompleteness</th><th>interval</th></tr>\n",
    );
    for (i, set) in report.completeness.sets.iter().enumerate() {
        let worst = if i == report.completeness.worst {
            " ← worst"
        } else {
            ""
        };
        let ranked = if set.ranked { " (ranked)" } else { "" };
        let _ = writeln!(
            table,
            "<tr><td>{}{ranked}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{worst}</td></tr>",
            escape(&set.origin),
            heads(&set.heads),
            number(set.circuit.value),
            number(set.model.value),
            number(set.incompleteness.value),
            interval(&set.incompleteness, number)
        );
    }
    table += "</table>\n";
    format!(
        "<figure>{}<figcaption>A complete circuit's points lie on y = x: knocking out K hurts the circuit as much as the model. Incompleteness is a point's distance from the line along y, |F(C\\K) − F(M\\K)|.</figcaption></figure>\n<details><summary>Every K</summary>\n{table}</details>\n",
        scatter::completeness(report)
    )
}

fn minimality(report: &Report, circuit: &Circuit, threshold: f64) -> String {
    let mut table = String::from(
        "<table class=\"minimality\">\n<tr><th>head</th><th class=\"text\">class</th><th class=\"text\">K</th><th>score</th><th>of F(M)</th><th>interval</th></tr>\n",
    );
    for m in &report.minimality {
        let flag = if m.flagged {
            " <span class=\"flagged\">below the threshold</span>"
        } else {
            ""
        };
        let _ = writeln!(
            table,
            "<tr><td>{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}{flag}</td></tr>",
            m.head,
            escape(&m.class),
            escape(&m.origin),
            number(m.score.value),
            percent(m.relative.value),
            interval(&m.relative, percent)
        );
    }
    table += "</table>\n";
    format!(
        "<figure>{}<figcaption>How much F(C\\K) changes when v joins K, at the K where it changes most; a head below the dashed line (marked !) barely matters to the circuit.</figcaption></figure>\n<details><summary>Every head</summary>\n{table}</details>\n",
        charts::minimality(report, &layered::class_colours(circuit), threshold)
    )
}

/// The page of `check --html`.
pub fn check_page(report: &Report, circuit: &Circuit, run: &Run) -> String {
    let mut body = format!(
        "<header class=\"page\">\n<h1>circuitcheck: <code>{}</code></h1>\n<p class=\"headline\">{}</p>\n{}</header>\n",
        escape(&report.circuit),
        escape(&headline(report)),
        settings(report, run, true)
    );
    body += &section("expectations", "Expectations", &expectations(report));
    body += &section("graph", "Hypothesis", &graph(circuit));
    body += &section("faithfulness", "Faithfulness", &faithfulness(report));
    body += &section(
        "groups",
        "Faithfulness per family and template",
        &by_group(report),
    );
    body += &section(
        "distribution",
        "Faithfulness per prompt",
        &distribution(report),
    );
    body += &section("completeness", "Completeness", &completeness(report));
    body += &section(
        "minimality",
        "Minimality",
        &minimality(report, circuit, run.options.minimality_threshold),
    );
    body += &footer();
    document(&format!("circuitcheck: {}", report.circuit), &body)
}

/// Two sides' components next to each other.
fn sides(old: &Side, new: &Side, component: impl Fn(&Side) -> String) -> String {
    let mut out = String::from("<div class=\"sides\">\n");
    for (which, side) in [("old", old), ("new", new)] {
        let _ = writeln!(
            out,
            "<div class=\"side {which}\">\n<h3>{which}: <code>{}</code></h3>\n{}</div>",
            escape(side.label),
            component(side)
        );
    }
    out + "</div>\n"
}

fn key_figures(old: &Report, new: &Report) -> String {
    let mut table = String::from(
        "<table class=\"comparison\">\n<tr><th></th><th>old</th><th>new</th><th>Δ</th><th></th></tr>\n",
    );
    for row in comparison::rows(old, new) {
        let significant = row.significant();
        let cells = row.cells();
        let _ = writeln!(
            table,
            "<tr{}>{}</tr>",
            if significant {
                " class=\"significant\""
            } else {
                ""
            },
            cells
                .iter()
                .map(|c| format!("<td>{}</td>", escape(c)))
                .collect::<String>()
        );
    }
    table += "</table>\n";
    let _ = writeln!(
        table,
        "<p>≠: the {:.0} % intervals do not overlap.</p>",
        100.0 * new.confidence
    );
    let verdict = if comparison::is_regression(old, new) {
        format!(
            "<p class=\"verdict fail\">Regression: {}.</p>",
            escape(comparison::REGRESSION)
        )
    } else {
        "<p class=\"verdict pass\">No regression.</p>".to_string()
    };
    table + &verdict + "\n"
}

/// The page of `diff --eval --html`: the structural diff (as text), both reports' key
/// figures side by side, then each component of the check page for both circuits.
pub fn comparison_page(old: &Side, new: &Side, run: &Run, diff: &str) -> String {
    let mut body = format!(
        "<header class=\"page\">\n<h1>circuitcheck diff: <code>{}</code> → <code>{}</code></h1>\n<p class=\"headline\">old: {}<br>new: {}</p>\n{}</header>\n",
        escape(old.label),
        escape(new.label),
        escape(&headline(old.report)),
        escape(&headline(new.report)),
        settings(new.report, run, false)
    );
    body += &section(
        "changes",
        "Changes",
        &format!("<pre class=\"diff\">{}</pre>\n", escape(diff)),
    );
    body += &section(
        "comparison",
        "Key figures",
        &key_figures(old.report, new.report),
    );
    body += &section(
        "expectations",
        "Expectations",
        &sides(old, new, |s| expectations(s.report)),
    );
    body += &section(
        "graph",
        "Hypotheses",
        &sides(old, new, |s| graph(s.circuit)),
    );
    body += &section(
        "faithfulness",
        "Faithfulness",
        &sides(old, new, |s| faithfulness(s.report)),
    );
    body += &section(
        "groups",
        "Faithfulness per family and template",
        &sides(old, new, |s| by_group(s.report)),
    );
    body += &section(
        "completeness",
        "Completeness",
        &sides(old, new, |s| completeness(s.report)),
    );
    body += &section(
        "minimality",
        "Minimality",
        &sides(old, new, |s| {
            minimality(s.report, s.circuit, run.options.minimality_threshold)
        }),
    );
    body += &footer();
    document(
        &format!(
            "circuitcheck diff: {} → {}",
            old.report.circuit, new.report.circuit
        ),
        &body,
    )
}
