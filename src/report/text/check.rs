//! The result of `check` for people (terminal), for pull requests (Markdown) and for
//! machines (JSON, `eval::schema::Report` serialised; its schema is docs/check-report.md).

use std::fmt::Write as _;

use crate::eval::schema::{Estimate, Report};
use crate::report::text::style::{BOLD, DIM, GREEN, RED, Style, YELLOW, columns};

pub(crate) fn number(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.3}")
    } else {
        "—".to_string()
    }
}

pub(crate) fn percent(value: f64) -> String {
    if value.is_finite() {
        format!("{:.1} %", 100.0 * value)
    } else {
        "—".to_string()
    }
}

pub(crate) fn interval(estimate: &Estimate, show: fn(f64) -> String) -> String {
    match estimate.interval {
        Some(i) => format!("[{}, {}]", show(i.low), show(i.high)),
        None => String::new(),
    }
}

pub(crate) fn heads(heads: &[crate::dsl::Head]) -> String {
    if heads.is_empty() {
        return "∅".to_string();
    }
    heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// How a K set was chosen, as the tables show it.
fn origin(set: &crate::eval::schema::KSet) -> String {
    if set.ranked {
        format!("{} (ranked)", set.origin)
    } else {
        set.origin.clone()
    }
}

/// Text for a Markdown table cell: a `|` would end the cell.
pub(crate) fn table_cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// "CIRCUIT on MODEL, task TASK: … ablation, … level, N prompts, seed S".
pub(crate) fn headline(report: &Report) -> String {
    format!(
        "{} on {}, task {}: {} ablation{}, {} level, {} prompts, seed {}",
        report.circuit,
        report.model,
        report.task,
        report.ablation.name(),
        reference_note(report),
        report.level.name(),
        report.prompts,
        report.seed
    )
}

/// What the replacement values rest on, for the headline.
fn reference_note(report: &Report) -> String {
    let counts = &report.reference;
    let per_group = if counts.fewest_per_group == counts.most_per_group {
        counts.fewest_per_group.to_string()
    } else {
        format!("{}–{}", counts.fewest_per_group, counts.most_per_group)
    };
    match report.ablation {
        crate::dsl::Ablation::Zero => String::new(),
        crate::dsl::Ablation::GlobalMean => format!(" over {} reference prompts", counts.prompts),
        _ => format!(" over {per_group} reference prompts per group"),
    }
}

/// A labelled score and how to print its value.
pub(crate) type ScoreRow<'a> = (String, &'a Estimate, fn(f64) -> String);

pub(crate) fn score_rows(report: &Report) -> Vec<ScoreRow<'_>> {
    score_rows_shown(report, number, percent)
}

/// The rows of `score_rows`, their figures written by `number` and `percent`.
pub(crate) fn score_rows_shown(
    report: &Report,
    number: fn(f64) -> String,
    percent: fn(f64) -> String,
) -> Vec<ScoreRow<'_>> {
    let f = &report.faithfulness;
    vec![
        ("F(M)  full model".into(), &report.model_score, number),
        ("F(C)  circuit".into(), &report.circuit_score, number),
        (
            "F(∅)  all heads knocked out".into(),
            &report.empty_score,
            number,
        ),
        ("faithfulness  F(C)/F(M)".into(), &f.ratio, percent),
        ("gap  |F(M) − F(C)|".into(), &f.gap, number),
        (
            "normalized  (F(C)−F(∅))/(F(M)−F(∅))".into(),
            &f.normalized,
            percent,
        ),
    ]
}

pub fn render_terminal(report: &Report, style: Style) -> String {
    let mut out = String::new();
    let level = format!("{:.0} % CI", 100.0 * report.confidence);
    let _ = writeln!(out, "{}", style.paint(BOLD, &headline(report)));
    write_scores(&mut out, report, &level);
    write_completeness(&mut out, report, style, &level);
    write_minimality(&mut out, report, style, &level);
    if !report.expectations.is_empty() {
        write_expectations(&mut out, report, style);
    }
    out
}

/// The scores table: F(M), F(C), F(∅) and the ratios, with their intervals.
fn write_scores(out: &mut String, report: &Report, level: &str) {
    let mut rows = vec![vec![String::new(), "value".into(), level.to_string()]];
    for (label, estimate, show) in score_rows(report) {
        rows.push(vec![label, show(estimate.value), interval(estimate, show)]);
    }
    out.push('\n');
    for line in columns(&rows) {
        let _ = writeln!(out, "  {line}");
    }
}

/// The completeness table: one row per knocked-out set, the worst marked.
fn write_completeness(out: &mut String, report: &Report, style: Style, level: &str) {
    let _ = writeln!(
        out,
        "\n{}",
        style.paint(
            BOLD,
            "Completeness  |F(C\\K) − F(M\\K)| for knocked-out sets K"
        )
    );
    let mut rows = vec![
        ["K", "heads", "F(C\\K)", "F(M\\K)", "incompleteness", level]
            .map(String::from)
            .to_vec(),
    ];
    for (i, set) in report.completeness.sets.iter().enumerate() {
        let marker = if i == report.completeness.worst {
            " ← worst"
        } else {
            ""
        };
        rows.push(vec![
            origin(set),
            heads(&set.heads),
            number(set.circuit.value),
            number(set.model.value),
            number(set.incompleteness.value),
            format!("{}{marker}", interval(&set.incompleteness, number)),
        ]);
    }
    for line in columns(&rows) {
        let _ = writeln!(out, "  {line}");
    }
}

/// The minimality table: one row per head, the ones that barely matter flagged.
fn write_minimality(out: &mut String, report: &Report, style: Style, level: &str) {
    let _ = writeln!(
        out,
        "\n{}",
        style.paint(BOLD, "Minimality  max over K of |F(C\\(K∪{v})) − F(C\\K)|")
    );
    let mut rows = vec![
        ["head", "class", "K", "score", "of F(M)", level]
            .map(String::from)
            .to_vec(),
    ];
    for m in &report.minimality {
        rows.push(vec![
            m.head.to_string(),
            m.class.clone(),
            m.origin.clone(),
            number(m.score.value),
            percent(m.relative.value),
            interval(&m.relative, percent),
        ]);
    }
    let lines = columns(&rows);
    for (i, line) in lines.iter().enumerate() {
        let flagged = i > 0 && report.minimality[i - 1].flagged;
        if flagged {
            let _ = writeln!(
                out,
                "  {}",
                style.paint(YELLOW, &format!("{line}  ⚠ barely matters"))
            );
        } else {
            let _ = writeln!(out, "  {line}");
        }
    }
}

/// Each expectation with its mark and value, then how many failed.
fn write_expectations(out: &mut String, report: &Report, style: Style) {
    let _ = writeln!(out, "\n{}", style.paint(BOLD, "Expectations"));
    for e in &report.expectations {
        let value = e.value.map(number).unwrap_or_else(|| "—".into());
        let (mark, code) = if e.passed {
            ("✓", GREEN)
        } else {
            ("✗", RED)
        };
        let _ = writeln!(
            out,
            "  {} {}  {}",
            style.paint(code, mark),
            e.expectation,
            style.paint(DIM, &format!("(is {value})"))
        );
    }
    let failed = report.expectations.iter().filter(|e| !e.passed).count();
    let summary = if failed == 0 {
        style.paint(
            GREEN,
            &format!("all {} expectations met", report.expectations.len()),
        )
    } else {
        style.paint(
            RED,
            &format!(
                "{failed} of {} expectations failed",
                report.expectations.len()
            ),
        )
    };
    let _ = writeln!(out, "\n{summary}");
}

pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let level = format!("{:.0} % CI", 100.0 * report.confidence);
    let failed = report.expectations.iter().filter(|e| !e.passed).count();
    let verdict = if failed == 0 { "✅" } else { "❌" };
    let _ = writeln!(out, "#### {verdict} circuitcheck: `{}`\n", report.circuit);
    let _ = writeln!(
        out,
        "**faithfulness {} ({})**, F(C) = {} of F(M) = {}; worst incompleteness {} — {}\n",
        percent(report.faithfulness.ratio.value),
        interval(&report.faithfulness.ratio, percent),
        number(report.circuit_score.value),
        number(report.model_score.value),
        number(
            report.completeness.sets[report.completeness.worst]
                .incompleteness
                .value
        ),
        headline(report)
    );
    if !report.expectations.is_empty() {
        let _ = writeln!(out, "| expectation | value | |\n| --- | ---: | :---: |");
        for e in &report.expectations {
            let value = e.value.map(number).unwrap_or_else(|| "—".into());
            let _ = writeln!(
                out,
                "| `{}` | {value} | {} |",
                e.expectation,
                if e.passed { "✅" } else { "❌" }
            );
        }
        out.push('\n');
    }
    let _ = writeln!(out, "| score | value | {level} |\n| --- | ---: | --- |");
    for (label, estimate, show) in score_rows(report) {
        let _ = writeln!(
            out,
            "| {} | {} | {} |",
            table_cell(&label),
            show(estimate.value),
            interval(estimate, show)
        );
    }
    let _ = writeln!(
        out,
        "\n<details><summary>Completeness: {} sets K</summary>\n",
        report.completeness.sets.len()
    );
    let _ = writeln!(
        out,
        "| K | heads | F(C\\K) | F(M\\K) | incompleteness | {level} |\n| --- | --- | ---: | ---: | ---: | --- |"
    );
    for set in &report.completeness.sets {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            origin(set),
            heads(&set.heads),
            number(set.circuit.value),
            number(set.model.value),
            number(set.incompleteness.value),
            interval(&set.incompleteness, number)
        );
    }
    let _ = writeln!(
        out,
        "\n</details>\n\n<details><summary>Minimality of {} heads</summary>\n",
        report.minimality.len()
    );
    let _ = writeln!(
        out,
        "| head | class | K | score | of F(M) | {level} |\n| --- | --- | --- | ---: | ---: | --- |"
    );
    for m in &report.minimality {
        let flag = if m.flagged { " ⚠" } else { "" };
        let _ = writeln!(
            out,
            "| {}{flag} | {} | {} | {} | {} | {} |",
            m.head,
            m.class,
            m.origin,
            number(m.score.value),
            percent(m.relative.value),
            interval(&m.relative, percent)
        );
    }
    let _ = writeln!(out, "\n</details>");
    out
}

pub fn render_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("reports serialise") + "\n"
}
