//! The parts the HTML pages are made of: the run's settings, the expectations, the hypothesis
//! graph, and each figure of a check (a chart with its table); the sensitivity page's grid
//! and breakdowns. Each returns its markup, ending in a line break.

use crate::dsl::{Circuit, Comparison, Metric, Mlps};
use crate::eval::schema::{GroupFigures, Report};
use crate::eval::sensitivity::{Breakdown, Cell, SensitivityReport};
use crate::report::html::charts::{number, percent};
use crate::report::html::heatmap::diverging_heatmap_within;
use crate::report::html::markup::{Element, escape};
use crate::report::html::minimality_shading::Measured;
use crate::report::html::page::Run;
use crate::report::html::{charts, histogram, layered, scatter};
use crate::report::text::check::{heads, interval, score_rows_shown};
use crate::report::text::comparison;
use crate::report::text::sensitivity::{self as sensitivity_text, reference_size};
use crate::task::MetricKind;

/// An element's markup on a line of its own.
fn line(element: Element) -> String {
    element.to_string() + "\n"
}

/// `<code>` around text, as markup.
fn code(text: &str) -> String {
    Element::html("code").text(text).to_string()
}

fn tagged(name: &'static str, class: &str) -> Element {
    Element::html(name).attr("class", class)
}

/// A table of `class` whose first row is `header`'s cells (markup), a row per line.
fn table(class: &str, header: &[&str]) -> Element {
    let header = header
        .iter()
        .fold(Element::html("tr"), |row, cell| row.raw(cell));
    tagged("table", class).newline().line(header)
}

/// A table row of cells, each `<td>` with markup inside; `text_columns` get the class `text`.
fn row<const N: usize>(cells: [String; N], text_columns: &[usize]) -> Element {
    cells
        .iter()
        .enumerate()
        .fold(Element::html("tr"), |row, (i, cell)| {
            let td = if text_columns.contains(&i) {
                tagged("td", "text")
            } else {
                Element::html("td")
            };
            row.child(td.raw(cell))
        })
}

/// A chart in a `<figure>`, with a caption (markup) when there is one.
fn figure(chart: &str, caption: Option<Element>) -> Element {
    let figure = Element::html("figure").raw(chart);
    match caption {
        Some(caption) => figure.child(caption),
        None => figure,
    }
}

/// `<details>` that folds `content` (markup) under `summary`.
fn details(summary: &str, content: &str) -> String {
    line(
        Element::html("details")
            .line(Element::html("summary").text(summary))
            .raw(content),
    )
}

/// The settings of a check, as a definition list; `one` is a single check's report (a
/// comparison's header leaves out what differs between its two sides).
pub fn settings(report: &Report, run: &Run, one: bool) -> String {
    let o = run.options;
    let shortlist = if o.shortlist > 0 {
        format!(", scoring the best {} by attribution", o.shortlist)
    } else {
        String::new()
    };
    let searches = format!(
        "{} random K; greedy K for completeness, budget {}{shortlist}; greedy K per head for minimality, budget {}; searched on {} prompts",
        o.random_sets,
        o.greedy_budget,
        o.minimality_budget,
        o.search_prompts.min(report.prompts)
    );
    let confidence = format!(
        "{:.0} % percentile bootstrap intervals, {} resamples",
        100.0 * report.confidence,
        o.bootstrap_resamples
    );
    let ablation = format!(
        "{} ablation, {} level",
        report.ablation.name(),
        report.level.name()
    );
    let rows = [
        ("circuit", code(&report.circuit)),
        ("model", code(&report.model)),
        ("model files", model_files(run.model_files)),
        ("task", code(&report.task)),
        ("ablation", escape(&ablation)),
        ("prompts", report.prompts.to_string()),
        ("seed", report.seed.to_string()),
        ("confidence", escape(&confidence)),
        ("searches", escape(&searches)),
        (
            "minimality threshold",
            escape(&format!("{} of F(M)", percent(o.minimality_threshold))),
        ),
        ("forward passes", report.forward_passes.to_string()),
    ];
    let per_circuit = ["circuit", "forward passes"];
    settings_list(
        rows.into_iter()
            .filter(|(name, _)| one || !per_circuit.contains(name)),
    )
}

/// The settings of a sensitivity run, as a definition list.
pub fn sensitivity_settings(report: &SensitivityReport, identity: &str) -> String {
    let confidence = format!(
        "{:.0} % percentile bootstrap intervals",
        100.0 * report.confidence
    );
    settings_list([
        ("circuit", code(&report.circuit)),
        ("model", code(&report.model)),
        ("model files", model_files(identity)),
        ("task", code(&report.task)),
        ("prompts", report.prompts.to_string()),
        ("seed", report.seed.to_string()),
        ("confidence", escape(&confidence)),
        ("baseline", escape(&sensitivity_text::baseline(report))),
    ])
}

/// Settings as a definition list of markup values, each value's class its name (`model
/// files` → `model-files`).
fn settings_list(rows: impl IntoIterator<Item = (&'static str, String)>) -> String {
    let list = rows
        .into_iter()
        .fold(tagged("dl", "settings").newline(), |list, (name, value)| {
            list.line(
                Element::html("div")
                    .child(Element::html("dt").text(name))
                    .child(tagged("dd", &name.replace(' ', "-")).raw(&value)),
            )
        });
    line(list)
}

/// The model files' identity as a settings value.
fn model_files(identity: &str) -> String {
    Element::html("code")
        .attr(
            "title",
            "SHA-256 of model.safetensors (+ config.json), first 12 hex digits of each",
        )
        .text(&format!("sha256 {identity}"))
        .to_string()
}

/// The class of a verdict that holds: green, unless the run `warned` that its figures may
/// mean nothing (the page shows the warnings above).
fn holds(warned: bool) -> &'static str {
    if warned {
        "verdict warned"
    } else {
        "verdict pass"
    }
}

/// What a verdict that holds adds while a warning stands.
fn caveat(warned: bool) -> &'static str {
    if warned {
        " (but see the warnings above)"
    } else {
        ""
    }
}

/// ✓ or ✗ per expectation, with the measured value, and a summary line: green only when
/// every expectation holds and the run gave no warning (`warned`).
pub fn expectations(report: &Report, warned: bool) -> String {
    if report.expectations.is_empty() {
        return line(Element::html("p").text("The file states no expectations."));
    }
    let mut list = tagged("ul", "expectations").newline();
    for e in &report.expectations {
        let (class, mark, word) = if e.passed {
            ("pass", "✓", "met")
        } else {
            ("fail", "✗", "failed")
        };
        let value = e.value.map_or("—".to_string(), number);
        list = list.line(
            tagged("li", &format!("expectation {class}"))
                .child(tagged("span", "mark").attr("aria-label", word).text(mark))
                .raw(&code(&e.expectation))
                .text(" ")
                .child(tagged("span", "value").text(&format!("(is {value})"))),
        );
    }
    let failed = report.expectations.iter().filter(|e| !e.passed).count();
    let total = report.expectations.len();
    let verdict = if failed == 0 {
        let all = match total {
            1 => "The expectation is met".to_string(),
            2 => "Both expectations met".to_string(),
            _ => format!("All {total} expectations met"),
        };
        tagged("p", holds(warned)).text(&format!("{all}{}.", caveat(warned)))
    } else {
        let noun = if total == 1 {
            "expectation"
        } else {
            "expectations"
        };
        tagged("p", "verdict fail").text(&format!("{failed} of {total} {noun} failed."))
    };
    line(list) + &line(verdict)
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

/// The hypothesis graph, as wide as the page at most, each class in its colour of
/// `colours` (`layered::class_colours`), each head shaded by its minimality where
/// `measured` has it.
pub fn graph(circuit: &Circuit, colours: &Colours, measured: &Measured) -> String {
    let caption = Element::html("figcaption")
        .prose("Each layer is a row, each head in its layer's row in a box of its class's colour; a class's boxes are joined by a spine. Edges run from the bottom of their sender to the top of their receiver, marked by the channels they feed (the key below the graph). ")
        .text(&shading(measured))
        .text(&mlps(circuit))
        .text(".");
    line(
        Element::html("figure")
            .newline()
            .line(fitting(&layered::draw(circuit, colours, measured)))
            .line(caption),
    )
}

/// What the heads' fills say.
fn shading(measured: &Measured) -> String {
    if measured.is_empty() {
        "No head's minimality was measured, so the heads are in their class's colour only. ".into()
    } else {
        "Each head is filled by its minimality as a fraction of F(M): darker, more. ".into()
    }
}

/// A drawing scaled down to the page's width where it is wider.
fn fitting(drawing: &str) -> Element {
    tagged("div", "fit").newline().raw(drawing)
}

/// The colour of each class, by name.
pub type Colours = std::collections::BTreeMap<String, &'static str>;

/// The metric of the task the report measured, as an axis names it: the circuit's task's,
/// when that is the report's (a run may give another with `--task`).
pub fn metric_name(report: &Report, circuit: &Circuit) -> &'static str {
    match crate::catalog::load_task(&circuit.task) {
        Ok(task) if task.name() == report.task => match task.metric() {
            MetricKind::LogitDifference => "logit difference",
            MetricKind::ProbabilityDifference => "probability difference",
        },
        _ => "the task's metric",
    }
}

/// F(M), F(C), F(∅) and the faithfulness ratios: a table beside their chart, whose axis
/// also holds the figures of `axes` (the other side of a comparison) and names the task's
/// `metric`.
pub fn faithfulness(report: &Report, axes: &[&Report], metric: &str) -> String {
    let level = format!("{:.0} % interval", 100.0 * report.confidence);
    let mut table = table(
        "scores",
        &["<th></th>", "<th>value</th>", &format!("<th>{level}</th>")],
    );
    for (label, estimate, show) in score_rows_shown(report, number, percent) {
        table = table.line(row(
            [
                escape(&label),
                show(estimate.value),
                interval(estimate, show),
            ],
            &[],
        ));
    }
    line(
        tagged("div", "row")
            .newline()
            .line(Element::html("div").raw(&line(table)))
            .line(figure(&charts::scores(report, axes, metric), None)),
    )
}

/// The caption under a chart that shows only the first of `total` bars.
fn cut_caption(shown: String) -> Element {
    Element::html("figcaption")
        .text(&format!(
            "The first {} of {shown}; the JSON report (",
            charts::MAX_GROUP_BARS
        ))
        .raw(&code("--format json"))
        .text(") has them all.")
}

/// Faithfulness per family (a chart, or a sentence for one family) and per template, on
/// axes that also hold those of `axes` (the other side of a comparison).
pub fn by_group(report: &Report, axes: &[&Report]) -> String {
    let mut out = String::new();
    if report.families.len() > 1 {
        let others: Vec<&[GroupFigures]> = axes.iter().map(|r| &r.families[..]).collect();
        let chart = charts::groups(
            "Faithfulness per family",
            "families",
            &report.families,
            &others,
        );
        out += &line(figure(&chart, None));
    } else if let Some(family) = report.families.first() {
        out += &line(
            Element::html("p")
                .text("Every prompt is of one family, ")
                .raw(&code(&family.name))
                .text("."),
        );
    }
    let others: Vec<&[GroupFigures]> = axes.iter().map(|r| &r.groups[..]).collect();
    let chart = charts::groups(
        "Faithfulness per template (group of prompts)",
        "templates",
        &report.groups,
        &others,
    );
    let total = report.groups.len();
    let caption = (total > charts::MAX_GROUP_BARS).then(|| cut_caption(format!("{total} groups")));
    out += &line(figure(&chart, caption));
    out + &line(Element::html("p").prose(
        "Each bar has its own bootstrap over its group's prompts: a group of few prompts has a wide interval.",
    ))
}

/// The histogram of faithfulness per prompt.
pub fn distribution(report: &Report) -> String {
    let (measure, _) = histogram::per_prompt(report);
    let caption = Element::html("figcaption")
        .text(&histogram::explanation(measure))
        .text(" The shaded band is the interquartile range, the line the median.");
    line(figure(&histogram::histogram(report), Some(caption)))
}

/// Completeness: the scatter of F(C\K) against F(M\K), on axes that also hold the sets of
/// `axes` (the other side of a comparison) and name the task's `metric`, and every K in a
/// table.
pub fn completeness(report: &Report, axes: &[&Report], metric: &str) -> String {
    let mut table = table(
        "completeness",
        &[
            "<th>K</th>",
            "<th class=\"text\">heads</th>",
            "<th>F(C\\K)</th>",
            "<th>F(M\\K)</th>",
            "<th>incompleteness</th>",
            "<th>interval</th>",
        ],
    );
    for (i, set) in report.completeness.sets.iter().enumerate() {
        let worst = if i == report.completeness.worst {
            " ← worst"
        } else {
            ""
        };
        let ranked = if set.ranked { " (ranked)" } else { "" };
        table = table.line(row(
            [
                escape(&format!("{}{ranked}", set.origin)),
                escape(&heads(&set.heads)),
                number(set.circuit.value),
                number(set.model.value),
                number(set.incompleteness.value),
                interval(&set.incompleteness, number) + worst,
            ],
            &[1],
        ));
    }
    let caption = Element::html("figcaption").prose(
        "A complete circuit's points lie on y = x: knocking out K hurts the circuit as much as the model. Incompleteness is a point's distance from the line along y, |F(C\\K) − F(M\\K)|.",
    );
    let views = tagged("div", "row views")
        .newline()
        .line(figure(
            &scatter::completeness(report, axes, metric),
            Some(caption),
        ))
        .line(figure(
            &scatter::incompleteness(report, axes, metric),
            Some(Element::html("figcaption").prose(
                "Each K's incompleteness with its paired interval: F(C\\K) and F(M\\K) resampled on the same prompts, so the interval is that of their difference, often much tighter than the two intervals of the scatter.",
            )),
        ));
    let knockouts = charts::class_knockouts(report, axes, metric);
    let knockouts = if knockouts.is_empty() {
        String::new()
    } else {
        line(figure(
            &knockouts,
            Some(Element::html("figcaption").prose(
                "Each class knocked out of the model and of the circuit: a complete circuit loses as much as the model, the two bars of a class alike.",
            )),
        ))
    };
    line(views) + &knockouts + &details("Every K", &line(table))
}

/// Minimality: each head's score as a bar, coloured by class (`colours`), on an axis that
/// also holds the heads of `axes` (the other side of a comparison), and every head in a
/// table.
pub fn minimality(
    report: &Report,
    circuit: &Circuit,
    colours: &Colours,
    threshold: f64,
    axes: &[&Report],
) -> String {
    let mut table = table(
        "minimality",
        &[
            "<th>head</th>",
            "<th class=\"text\">class</th>",
            "<th class=\"text\">K</th>",
            "<th>score</th>",
            "<th>of F(M)</th>",
            "<th>interval</th>",
        ],
    );
    for m in &report.minimality {
        let flag = if m.flagged {
            format!(" {}", tagged("span", "flagged").text("below the threshold"))
        } else {
            String::new()
        };
        table = table.line(row(
            [
                escape(&m.head.to_string()),
                escape(&m.class),
                escape(&k_with_heads(&m.origin, &m.k)),
                number(m.score.value),
                percent(m.relative.value),
                interval(&m.relative, percent) + &flag,
            ],
            &[1, 2],
        ));
    }
    let chart = charts::minimality(
        report,
        colours,
        (threshold, expected_minimality(circuit)),
        axes,
    );
    let caption = Element::html("figcaption").text(
        "How much F(C\\K) changes when v joins K, at the K where it changes most; a head whose bar ends left of the dashed line (marked !) barely matters to the circuit.",
    );
    line(figure(&chart, Some(caption))) + &details("Every head", &line(table))
}

/// A minimality's K as the table shows it: how it was chosen, and its heads (`greedy: 9.6
/// 10.0`), or `∅`.
fn k_with_heads(origin: &str, k: &[crate::dsl::Head]) -> String {
    let heads = if k.is_empty() {
        "∅".to_string()
    } else {
        heads(k)
    };
    if origin == "empty" {
        heads
    } else {
        format!("{origin}: {heads}")
    }
}

/// The bound of the file's own `expect minimality >= x` (or `> x`), the least minimality
/// it asks of every head, where it states one.
fn expected_minimality(circuit: &Circuit) -> Option<f64> {
    circuit
        .expectations
        .iter()
        .filter(|e| {
            e.metric == Metric::Minimality(None)
                && matches!(e.comparison, Comparison::AtLeast | Comparison::Above)
        })
        .map(|e| e.value)
        .reduce(f64::max)
}

/// The key figures of two reports side by side, and whether the new one regressed.
/// Not green while the run `warned`.
pub fn key_figures(old: &Report, new: &Report, warned: bool) -> String {
    let mut table = table(
        "comparison",
        &[
            "<th></th>",
            "<th>old</th>",
            "<th>new</th>",
            "<th>Δ</th>",
            "<th></th>",
        ],
    );
    for row in comparison::rows(old, new) {
        let mut tr = Element::html("tr");
        if row.significant() {
            tr = tr.attr("class", "significant");
        }
        for cell in row.cells() {
            tr = tr.child(Element::html("td").text(&cell));
        }
        table = table.line(tr);
    }
    let note = Element::html("p").text(&format!(
        "≠: the {:.0} % intervals do not overlap.",
        100.0 * new.confidence
    ));
    let verdict = if comparison::is_regression(old, new) {
        tagged("p", "verdict fail").text(&format!("Regression: {}.", comparison::REGRESSION))
    } else {
        tagged("p", holds(warned)).text(&format!("No regression{}.", caveat(warned)))
    };
    line(table) + &line(note) + &line(verdict)
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
pub fn grid(report: &SensitivityReport) -> String {
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
    // Centred on 100 %, where the circuit scores as the model does: white there, red above,
    // blue below, so colour shows distance from faithful rather than the spread of the grid.
    let centred = |statistic: fn(&Cell) -> f64| -> Vec<Vec<Option<f64>>> {
        rows.iter()
            .map(|(_, cells)| {
                sizes
                    .iter()
                    .map(|size| {
                        cells
                            .iter()
                            .find(|c| c.reference.is_none() || c.reference == Some(*size))
                            .map(|c| statistic(c) - 1.0)
                    })
                    .collect()
            })
            .collect()
    };
    let ratio: fn(&Cell) -> f64 = |c| c.faithfulness.ratio.value;
    let median: fn(&Cell) -> f64 = |c| c.faithfulness.median;
    let (ratios, medians) = (centred(ratio), centred(median));
    // One colour scale for both maps, so one colour is one distance from 100 % in each.
    let limit = ratios
        .iter()
        .chain(&medians)
        .flatten()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let heatmap = |title: &str, values: &[Vec<Option<f64>>]| {
        // As the terminal's table of the grid writes them.
        let map = diverging_heatmap_within(
            title,
            &labels,
            &columns,
            values,
            |v| crate::report::text::check::percent(1.0 + v),
            limit,
        );
        line(fitting(&map))
    };
    let ratio = heatmap("F(C) / F(M), the ratio of mean scores", &ratios);
    let median = heatmap("The median of the per-prompt F(C) / F(M)", &medians);
    let key = Element::html("p").text(
        "Rows: ablation · level · positions. The ablation is what replaces a knocked-out head's output (mean: the reference prompts' mean per template and position; global-mean: their mean over every template; resample: a random reference prompt's; zero: nothing). The level: node, a head is in or out of the circuit everywhere; edge, only along the edges the file draws. The positions: as written, each class at the positions the file gives it; all, at every position. (no reference): the ablation uses no reference prompts, so one figure fills the row.",
    );
    let note = Element::html("p").text(&format!(
        "F(M) = {} {} in every cell. Columns: reference prompts per group. Colour: distance from 100 %, where F(C) = F(M) (red above, blue below), on one scale for both maps. A circuit whose figures hold across a row and down a column does not depend on how it was measured.",
        number(report.model_score.value),
        interval(&report.model_score, number)
    ));
    ratio
        + &median
        + &line(key)
        + &line(note)
        + &details(
            "Every cell, with its interval and quartiles",
            &cells_table(report),
        )
}

/// Every cell of the sensitivity grid with its interval and quartiles.
fn cells_table(report: &SensitivityReport) -> String {
    let level = format!("<th>{:.0} % interval</th>", 100.0 * report.confidence);
    let mut table = table(
        "cells",
        &[
            "<th class=\"text\">ablation</th>",
            "<th class=\"text\">level</th>",
            "<th class=\"text\">positions</th>",
            "<th>reference/group</th>",
            "<th>F(C)</th>",
            "<th>F(C)/F(M)</th>",
            &level,
            "<th>median</th>",
            "<th>IQR</th>",
        ],
    );
    for cell in &report.cells {
        let f = &cell.faithfulness;
        table = table.line(row(
            [
                escape(cell.ablation.name()),
                escape(cell.level.name()),
                escape(cell.positions.name()),
                escape(&reference_size(cell.reference)),
                number(cell.circuit_score.value),
                percent(f.ratio.value),
                interval(&f.ratio, percent),
                percent(f.median),
                format!("[{}, {}]", percent(f.quartiles[0]), percent(f.quartiles[1])),
            ],
            &[0, 1, 2],
        ));
    }
    line(table)
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

/// The sensitivity report's faithfulness per family and per template, at the baseline.
pub fn breakdowns(report: &SensitivityReport) -> String {
    let baseline = Element::html("p").text(&format!(
        "At the baseline: {}.",
        sensitivity_text::baseline(report)
    ));
    let mut out = line(baseline);
    for (title, class, list) in [
        ("Faithfulness per family", "families", &report.families),
        (
            "Faithfulness per template (group of prompts)",
            "templates",
            &report.templates,
        ),
    ] {
        let chart = charts::groups(title, class, &group_figures(list), &[]);
        let total = list.len();
        let caption = (total > charts::MAX_GROUP_BARS).then(|| cut_caption(total.to_string()));
        out += &line(figure(&chart, caption));
    }
    out
}
