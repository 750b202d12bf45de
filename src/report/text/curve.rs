//! The result of `curve` for people (terminal), for pull requests (Markdown) and for
//! machines (JSON, `eval::curve::CurveReport` serialised).

use std::fmt::Write as _;

use crate::eval::curve::{CurveReport, Series};
use crate::report::text::check::{interval, number};
use crate::report::text::sensitivity::markdown_table;
use crate::report::text::style::{BOLD, Style, columns};

pub fn headline(report: &CurveReport) -> String {
    format!(
        "{} on {}, task {}: {} ablation, {} prompts, seed {}, {} edges in the full graph",
        report.graph,
        report.model,
        report.task,
        report.ablation.name(),
        report.prompts,
        report.seed,
        report.total_edges
    )
}

/// F(M) and F(∅), and how the circuits were made.
fn baselines(report: &CurveReport) -> String {
    format!(
        "F(M) = {} {}, F(∅) = {} {}; top N edges pruned as EAP-IG prunes them (edges on no \
         path from the input to the logits dropped), at level edge",
        number(report.model_score.value),
        interval(&report.model_score, number),
        number(report.empty_score.value),
        interval(&report.empty_score, number)
    )
}

fn area_line(name: &str, series: &Series) -> String {
    format!(
        "{name} = {} {} (edges ranked {}; trapezoids over the fractions, linear x)",
        number(series.area.value),
        interval(&series.area, number),
        series.ranking.describe()
    )
}

fn rows(series: &Series, level: &str) -> Vec<Vec<String>> {
    let mut rows = vec![
        ["fraction", "edges", "pruned", "F(C)", level, "f", level]
            .map(String::from)
            .to_vec(),
    ];
    rows.extend(series.points.iter().map(|p| {
        vec![
            format!("{} %", 100.0 * p.fraction),
            p.edges.to_string(),
            p.pruned_edges.to_string(),
            number(p.circuit_score.value),
            interval(&p.circuit_score, number),
            number(p.normalized.value),
            interval(&p.normalized, number),
        ]
    }));
    rows
}

fn both(report: &CurveReport) -> [(&'static str, &Series); 2] {
    [("CPR", &report.cpr), ("CMD", &report.cmd)]
}

pub fn render_terminal(report: &CurveReport, style: Style) -> String {
    let level = format!("{:.0} % CI", 100.0 * report.confidence);
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.paint(BOLD, &headline(report)));
    let _ = writeln!(out, "{}", baselines(report));
    for (name, series) in both(report) {
        let _ = writeln!(
            out,
            "\n{}",
            style.paint(
                BOLD,
                &format!("Edges ranked {} ({name})", series.ranking.describe())
            )
        );
        for line in columns(&rows(series, &level)) {
            let _ = writeln!(out, "  {}", line.trim_end());
        }
    }
    let _ = writeln!(out);
    for (name, series) in both(report) {
        let _ = writeln!(out, "{}", area_line(name, series));
    }
    out
}

pub fn render_markdown(report: &CurveReport) -> String {
    let level = format!("{:.0} % CI", 100.0 * report.confidence);
    let mut out = format!("#### circuitcheck curve: `{}`\n\n", report.graph);
    let _ = writeln!(out, "{}. {}.\n", headline(report), baselines(report));
    for (name, series) in both(report) {
        let _ = writeln!(out, "- {}", area_line(name, series));
    }
    for (name, series) in both(report) {
        let _ = writeln!(
            out,
            "\n**Edges ranked {} ({name})**\n",
            series.ranking.describe()
        );
        markdown_table(&mut out, &rows(series, &level), 1);
    }
    out
}

pub fn render_json(report: &CurveReport) -> String {
    serde_json::to_string_pretty(report).expect("reports serialise") + "\n"
}
