//! The result of `sensitivity` for people (terminal), for pull requests (Markdown) and for
//! machines (JSON, `eval::sensitivity::SensitivityReport` serialised; its schema is
//! docs/sensitivity-report.md).

use std::fmt::Write as _;

use crate::eval::sensitivity::{Breakdown, Cell, Faithfulness, SensitivityReport};
use crate::report::text::check::{interval, number, percent, table_cell};
use crate::report::text::style::{BOLD, Style, columns};
use crate::task::ReferenceSize;

/// How a reference-set size reads in a table.
pub fn reference_size(size: Option<ReferenceSize>) -> String {
    match size {
        None => "—".to_string(),
        Some(ReferenceSize::Exactly(n)) => n.to_string(),
        Some(ReferenceSize::AtLeast(n)) => format!("≥ {n}"),
        Some(ReferenceSize::Counterparts) => "counterparts".to_string(),
        Some(ReferenceSize::Listed) => "listed".to_string(),
    }
}

pub fn headline(report: &SensitivityReport) -> String {
    format!(
        "{} on {}, task {}: F(C)/F(M) measured {} ways, {} prompts, seed {}",
        report.circuit,
        report.model,
        report.task,
        report.cells.len(),
        report.prompts,
        report.seed
    )
}

pub fn baseline(report: &SensitivityReport) -> String {
    format!(
        "{} ablation, {} level, positions as written, {} reference prompts per group",
        report.baseline.ablation.name(),
        report.baseline.level.name(),
        reference_size(Some(report.baseline.reference))
    )
}

/// The columns every faithfulness row ends with.
fn figures(f: &Faithfulness) -> [String; 4] {
    [
        percent(f.ratio.value),
        interval(&f.ratio, percent),
        percent(f.median),
        format!("[{}, {}]", percent(f.quartiles[0]), percent(f.quartiles[1])),
    ]
}

fn cell_rows(report: &SensitivityReport, level: &str) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "ablation",
            "level",
            "positions",
            "reference/group",
            "F(C)/F(M)",
            level,
            "median",
            "IQR",
        ]
        .map(String::from)
        .to_vec(),
    ];
    rows.extend(report.cells.iter().map(|cell: &Cell| {
        let mut row = vec![
            cell.ablation.name().to_string(),
            cell.level.name().to_string(),
            cell.positions.name().to_string(),
            reference_size(cell.reference),
        ];
        row.extend(figures(&cell.faithfulness));
        row
    }));
    rows
}

fn breakdown_rows(heading: &str, breakdowns: &[Breakdown], level: &str) -> Vec<Vec<String>> {
    let mut rows = vec![
        [heading, "prompts", "F(C)/F(M)", level, "median", "IQR"]
            .map(String::from)
            .to_vec(),
    ];
    rows.extend(breakdowns.iter().map(|b| {
        let mut row = vec![b.name.clone(), b.prompts.to_string()];
        row.extend(figures(&b.faithfulness));
        row
    }));
    rows
}

pub fn render_terminal(report: &SensitivityReport, style: Style) -> String {
    let level = format!("{:.0} % CI", 100.0 * report.confidence);
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.paint(BOLD, &headline(report)));
    let _ = writeln!(
        out,
        "F(M) = {} {}; median and IQR of the per-prompt F(C)/F(M)\n",
        number(report.model_score.value),
        interval(&report.model_score, number)
    );
    for line in columns(&cell_rows(report, &level)) {
        let _ = writeln!(out, "  {line}");
    }
    for (heading, breakdowns) in [
        ("family", &report.families),
        ("template", &report.templates),
    ] {
        let _ = writeln!(
            out,
            "\n{}",
            style.paint(BOLD, &format!("By {heading} ({})", baseline(report)))
        );
        for line in columns(&breakdown_rows(heading, breakdowns, &level)) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

pub(crate) fn markdown_table(out: &mut String, rows: &[Vec<String>], left: usize) {
    let _ = writeln!(
        out,
        "| {} |",
        rows[0]
            .iter()
            .map(|c| table_cell(c))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let alignments: Vec<&str> = (0..rows[0].len())
        .map(|i| if i < left { ":--" } else { "--:" })
        .collect();
    let _ = writeln!(out, "| {} |", alignments.join(" | "));
    for row in &rows[1..] {
        let cells: Vec<String> = row.iter().map(|c| table_cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

pub fn render_markdown(report: &SensitivityReport) -> String {
    let level = format!("{:.0} % CI", 100.0 * report.confidence);
    let mut out = format!("#### circuitcheck sensitivity: `{}`\n\n", report.circuit);
    let _ = writeln!(
        out,
        "{}. F(M) = {} {}; median and IQR of the per-prompt F(C)/F(M).\n",
        headline(report),
        number(report.model_score.value),
        interval(&report.model_score, number)
    );
    markdown_table(&mut out, &cell_rows(report, &level), 4);
    for (heading, breakdowns) in [
        ("family", &report.families),
        ("template", &report.templates),
    ] {
        let _ = writeln!(out, "\n**By {heading}** ({})\n", baseline(report));
        markdown_table(&mut out, &breakdown_rows(heading, breakdowns, &level), 1);
    }
    out
}

pub fn render_json(report: &SensitivityReport) -> String {
    serde_json::to_string_pretty(report).expect("reports serialise") + "\n"
}
