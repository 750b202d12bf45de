//! The result of `suggest` for people (terminal), for pull requests (Markdown) and for
//! machines (JSON, `eval::suggest::SuggestReport` serialised).

use std::fmt::Write as _;

use crate::eval::suggest::{Figures, SuggestReport};
use crate::report::text::check::{heads, interval, number, percent};
use crate::report::text::sensitivity::markdown_table;
use crate::report::text::style::{BOLD, Style, columns};

/// Percentage points, signed.
fn points(value: f64) -> String {
    if value.is_finite() {
        format!("{:+.1} pp", 100.0 * value)
    } else {
        "—".to_string()
    }
}

/// A signed number.
fn signed(value: f64) -> String {
    if value.is_finite() {
        format!("{value:+.3}")
    } else {
        "—".to_string()
    }
}

pub fn headline(report: &SuggestReport) -> String {
    format!(
        "{} on {}, task {}: {} ablation, {} level, {} prompts, seed {}",
        report.circuit,
        report.model,
        report.task,
        report.ablation.name(),
        report.level.name(),
        report.prompts,
        report.seed
    )
}

/// F(M), F(C), faithfulness and the worst K, as lines.
fn baselines(report: &SuggestReport) -> Vec<String> {
    let worst = &report.worst;
    vec![
        format!(
            "F(M) = {} {}, F(C) = {} {}, faithfulness F(C)/F(M) = {} {}",
            number(report.model_score.value),
            interval(&report.model_score, number),
            number(report.circuit_score.value),
            interval(&report.circuit_score, number),
            percent(report.faithfulness.value),
            interval(&report.faithfulness, percent)
        ),
        format!(
            "worst K* of check's completeness: {} ({}), incompleteness |F(C\\K*) − F(M\\K*)| = {} {}",
            worst.origin,
            heads(&worst.heads),
            number(worst.incompleteness.value),
            interval(&worst.incompleteness, number)
        ),
    ]
}

fn method(report: &SuggestReport) -> String {
    format!(
        "{} candidates ranked by EAP attribution toward F(M), the best {} scored exactly as \
         the variant adding each (heads as a class at all positions, wired to the circuit); \
         reduction = incompleteness at K* before − after, positive improves",
        report.considered,
        report.candidates.len()
    )
}

fn rows(report: &SuggestReport, level: &str) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "add",
            "attribution",
            "rank",
            "F(C+x)",
            "faithfulness",
            level,
            "Δ faithfulness",
            level,
            "incompleteness at K*",
            level,
            "reduction",
            level,
        ]
        .map(String::from)
        .to_vec(),
    ];
    for s in &report.candidates {
        let mut row = vec![
            s.addition.clone(),
            signed(s.attribution),
            s.attribution_rank.to_string(),
        ];
        row.extend(figure_cells(&s.figures));
        rows.push(row);
    }
    rows
}

fn figure_cells(f: &Figures) -> Vec<String> {
    vec![
        number(f.circuit_score.value),
        percent(f.faithfulness.value),
        interval(&f.faithfulness, percent),
        points(f.faithfulness_change.value),
        interval(&f.faithfulness_change, points),
        number(f.incompleteness.value),
        interval(&f.incompleteness, number),
        signed(f.reduction.value),
        interval(&f.reduction, signed),
    ]
}

/// What `--write` wrote, or nothing.
fn written(report: &SuggestReport) -> Option<String> {
    let w = report.written.as_ref()?;
    let f = &w.figures;
    Some(format!(
        "wrote {} (circuit {}, adds {}): faithfulness {} {}, incompleteness at K* {} {}, \
         reduction {} {}",
        w.path,
        w.name,
        w.additions.join(", "),
        percent(f.faithfulness.value),
        interval(&f.faithfulness, percent),
        number(f.incompleteness.value),
        interval(&f.incompleteness, number),
        signed(f.reduction.value),
        interval(&f.reduction, signed)
    ))
}

pub fn render_terminal(report: &SuggestReport, style: Style) -> String {
    let level = format!("{:.0} % CI", 100.0 * report.confidence);
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.paint(BOLD, &headline(report)));
    for line in baselines(report) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "\n{}", style.paint(BOLD, &method(report)));
    for line in columns(&rows(report, &level)) {
        let _ = writeln!(out, "  {}", line.trim_end());
    }
    if let Some(line) = written(report) {
        let _ = writeln!(out, "\n{line}");
    }
    out
}

pub fn render_markdown(report: &SuggestReport) -> String {
    let level = format!("{:.0} % CI", 100.0 * report.confidence);
    let mut out = format!("#### circuitcheck suggest: `{}`\n\n", report.circuit);
    let _ = writeln!(out, "{}.\n", headline(report));
    for line in baselines(report) {
        let _ = writeln!(out, "- {line}");
    }
    let _ = writeln!(out, "\n{}.\n", method(report));
    markdown_table(&mut out, &rows(report, &level), 1);
    if let Some(line) = written(report) {
        let _ = writeln!(out, "\n{line}");
    }
    out
}

pub fn render_json(report: &SuggestReport) -> String {
    serde_json::to_string_pretty(report).expect("reports serialise") + "\n"
}
