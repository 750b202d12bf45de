//! The HTML report (`check --html`, `diff --eval --html`, `sensitivity --html`): one
//! self-contained file, with
//! its CSS inline, its charts as inline SVG, no script, and nothing to fetch (its
//! Content-Security-Policy forbids any fetch, so a browser says so if one ever creeps in).
//! The page is built from components that both pages share: the run's settings, the
//! expectations, the hypothesis graph, and the charts of `charts`, `histogram` and
//! `scatter`; the sensitivity page draws its grid with `heatmap`.

use std::fmt::Write as _;

use crate::dsl::{Circuit, Mlps};
use crate::eval::schema::{GroupFigures, Options, Report};
use crate::eval::sensitivity::{Breakdown, Cell, SensitivityReport};
use crate::report::html::heatmap::diverging_heatmap;
use crate::report::html::markup::escape;
use crate::report::html::{charts, histogram, layered, scatter};
use crate::report::text::check::{headline, heads, interval, number, percent, score_rows};
use crate::report::text::comparison;
use crate::report::text::sensitivity::{self as sensitivity_text, reference_size};

const STYLE: &str = include_str!("page.css");

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
        ("model files", model_files(run.model_files)),
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
    let per_circuit = ["circuit", "forward passes"];
    settings_list(
        rows.into_iter()
            .filter(|(name, _)| one || !per_circuit.contains(name)),
    )
}

/// Settings as a definition list, each value's class its name (`model files` → `model-files`).
fn settings_list(rows: impl IntoIterator<Item = (&'static str, String)>) -> String {
    let mut out = String::from("<dl class=\"settings\">\n");
    for (name, value) in rows {
        let _ = writeln!(
            out,
            "<div><dt>{name}</dt><dd class=\"{}\">{value}</dd></div>",
            name.replace(' ', "-")
        );
    }
    out + "</dl>\n"
}

/// The model files' identity as a settings value.
fn model_files(identity: &str) -> String {
    format!(
        "<code title=\"SHA-256 of model.safetensors (+ config.json), first 12 hex digits of each\">sha256 {}</code>",
        escape(identity)
    )
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

/// The rows of the sensitivity grid (ablation, level, positions) in the report's order, each
/// with its cells.
fn grid_rows(report: &SensitivityReport) -> Vec<(String, Vec<&Cell>)> {
    let mut rows: Vec<(String, Vec<&Cell>)> = Vec::new();
    for cell in &report.cells {
        let mut label = format!(
            "{} · {} · {}",
            cell.ablation.name(),
            cell.level.name(),
            cell.positions.name()
        );
        if cell.reference.is_none() {
            label += " (no reference)";
        }
        match rows.last_mut() {
            Some((last, cells)) if *last == label => cells.push(cell),
            _ => rows.push((label, vec![cell])),
        }
    }
    rows
}

/// The grid as two heat maps, the ratio of mean scores and the per-prompt median: a row per
/// ablation, level and positions, a column per reference-set size. Zero ablation uses no
/// reference prompts, so its one figure fills its row.
fn grid(report: &SensitivityReport) -> String {
    let rows = grid_rows(report);
    let mut sizes = Vec::new();
    for cell in &report.cells {
        if let Some(size) = cell.reference
            && !sizes.contains(&size)
        {
            sizes.push(size);
        }
    }
    let columns: Vec<String> = sizes.iter().map(|s| reference_size(Some(*s))).collect();
    let labels: Vec<String> = rows.iter().map(|(label, _)| label.clone()).collect();
    let values = |statistic: fn(&Cell) -> f64| -> Vec<Vec<Option<f64>>> {
        rows.iter()
            .map(|(_, cells)| {
                sizes
                    .iter()
                    .map(|size| {
                        cells
                            .iter()
                            .find(|c| c.reference.is_none() || c.reference == Some(*size))
                            .map(|c| statistic(c))
                    })
                    .collect()
            })
            .collect()
    };
    // Centred on 100 %, where the circuit scores as the model does: white there, red above,
    // blue below, so colour shows distance from faithful rather than the spread of the grid.
    let centred = |statistic: fn(&Cell) -> f64| {
        values(statistic)
            .into_iter()
            .map(|row| row.into_iter().map(|v| v.map(|v| v - 1.0)).collect())
            .collect::<Vec<_>>()
    };
    let ratio = diverging_heatmap(
        "F(C) / F(M), the ratio of mean scores",
        &labels,
        &columns,
        &centred(|c| c.faithfulness.ratio.value),
        |v| percent(1.0 + v),
    );
    let median = diverging_heatmap(
        "The median of the per-prompt F(C) / F(M)",
        &labels,
        &columns,
        &centred(|c| c.faithfulness.median),
        |v| percent(1.0 + v),
    );
    let level = format!("{:.0} % interval", 100.0 * report.confidence);
    let mut table = format!(
        "<table class=\"cells\">\n<tr><th class=\"text\">ablation</th><th class=\"text\">level</th><th class=\"text\">positions</th><th>reference/group</th><th>F(C)</th><th>F(C)/F(M)</th><th>{level}</th><th>median</th><th>IQR</th></tr>\n"
    );
    for cell in &report.cells {
        let f = &cell.faithfulness;
        let _ = writeln!(
            table,
            "<tr><td class=\"text\">{}</td><td class=\"text\">{}</td><td class=\"text\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>[{}, {}]</td></tr>",
            cell.ablation.name(),
            cell.level.name(),
            cell.positions.name(),
            escape(&reference_size(cell.reference)),
            number(cell.circuit_score.value),
            percent(f.ratio.value),
            interval(&f.ratio, percent),
            percent(f.median),
            percent(f.quartiles[0]),
            percent(f.quartiles[1])
        );
    }
    table += "</table>\n";
    format!(
        "<div class=\"scroll\">\n{ratio}</div>\n<div class=\"scroll\">\n{median}</div>\n<p>F(M) = {} {} in every cell. Columns: reference prompts per group. Colour: distance from 100 %, where F(C) = F(M) (red above, blue below). A circuit whose figures hold across a row and down a column does not depend on how it was measured.</p>\n<details><summary>Every cell, with its interval and quartiles</summary>\n{table}</details>\n",
        number(report.model_score.value),
        interval(&report.model_score, number)
    )
}

/// A breakdown as the group charts draw it.
fn group_figures(breakdowns: &[Breakdown]) -> Vec<GroupFigures> {
    breakdowns
        .iter()
        .map(|b| GroupFigures {
            name: b.name.clone(),
            family: b.name.clone(),
            prompts: b.prompts,
            model: b.model_score,
            circuit: b.circuit_score,
            faithfulness: b.faithfulness.ratio,
        })
        .collect()
}

fn breakdowns(report: &SensitivityReport) -> String {
    let mut out = format!(
        "<p>At the baseline: {}.</p>\n",
        escape(&sensitivity_text::baseline(report))
    );
    for (title, class, list) in [
        ("Faithfulness per family", "families", &report.families),
        (
            "Faithfulness per template (group of prompts)",
            "templates",
            &report.templates,
        ),
    ] {
        let _ = write!(
            out,
            "<figure>{}",
            charts::groups(title, class, &group_figures(list))
        );
        if list.len() > charts::MAX_GROUP_BARS {
            let _ = write!(
                out,
                "<figcaption>The first {} of {}; the JSON report (<code>--format json</code>) has them all.</figcaption>",
                charts::MAX_GROUP_BARS,
                list.len()
            );
        }
        out += "</figure>\n";
    }
    out
}

/// The page of `sensitivity --html`.
pub fn sensitivity_page(report: &SensitivityReport, circuit: &Circuit, identity: &str) -> String {
    let rows = [
        (
            "circuit",
            format!("<code>{}</code>", escape(&report.circuit)),
        ),
        ("model", format!("<code>{}</code>", escape(&report.model))),
        ("model files", model_files(identity)),
        ("task", format!("<code>{}</code>", escape(&report.task))),
        ("prompts", report.prompts.to_string()),
        ("seed", report.seed.to_string()),
        (
            "confidence",
            format!(
                "{:.0} % percentile bootstrap intervals",
                100.0 * report.confidence
            ),
        ),
        ("baseline", escape(&sensitivity_text::baseline(report))),
    ];
    let settings = settings_list(rows);
    let mut body = format!(
        "<header class=\"page\">\n<h1>circuitcheck sensitivity: <code>{}</code></h1>\n<p class=\"headline\">{}</p>\n{settings}</header>\n",
        escape(&report.circuit),
        escape(&sensitivity_text::headline(report)),
    );
    body += &section("graph", "Hypothesis", &graph(circuit));
    body += &section("grid", "Faithfulness, measured every way", &grid(report));
    body += &section(
        "groups",
        "Faithfulness per family and template",
        &breakdowns(report),
    );
    body += &footer();
    document(
        &format!("circuitcheck sensitivity: {}", report.circuit),
        &body,
    )
}
