//! `diff --eval`: two check reports side by side, with deltas, and a mark where the two
//! confidence intervals do not overlap (a change the prompts' noise does not explain).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::dsl::Head;
use crate::eval::check::{Estimate, Report};
use crate::report::check::{headline, interval, number, percent};
use crate::report::style::{BOLD, GREEN, RED, Style, columns};

/// One compared figure; `None` on a side that does not have it (a head only one side holds).
struct Row {
    label: String,
    old: Option<Estimate>,
    new: Option<Estimate>,
    percent: bool,
}

impl Row {
    fn show(&self) -> fn(f64) -> String {
        if self.percent { percent } else { number }
    }

    /// Label, old, new, delta, and `≠` where the intervals are disjoint.
    fn cells(&self) -> [String; 5] {
        let delta = match self.delta() {
            None => String::new(),
            Some(d) if self.percent => format!("{:+.1} pp", 100.0 * d),
            Some(d) => format!("{d:+.3}"),
        };
        [
            self.label.clone(),
            estimate(self.old, self.show()),
            estimate(self.new, self.show()),
            delta,
            if self.significant() { "≠" } else { "" }.to_string(),
        ]
    }

    fn delta(&self) -> Option<f64> {
        Some(self.new?.value - self.old?.value)
    }

    /// Both intervals exist and are disjoint.
    fn significant(&self) -> bool {
        match (
            self.old.and_then(|e| e.interval),
            self.new.and_then(|e| e.interval),
        ) {
            (Some(old), Some(new)) => !old.overlaps(&new),
            _ => false,
        }
    }
}

fn rows(old: &Report, new: &Report) -> Vec<Row> {
    let figure = |label: &str, pick: fn(&Report) -> Estimate, percent| Row {
        label: label.to_string(),
        old: Some(pick(old)),
        new: Some(pick(new)),
        percent,
    };
    let mut rows = vec![
        figure("F(M)", |r| r.model_score, false),
        figure("F(C)", |r| r.circuit_score, false),
        figure("faithfulness F(C)/F(M)", |r| r.faithfulness.ratio, true),
        figure(
            "normalized faithfulness",
            |r| r.faithfulness.normalized,
            true,
        ),
        figure(
            "worst incompleteness",
            |r| r.completeness.sets[r.completeness.worst].incompleteness,
            false,
        ),
    ];
    let heads: BTreeSet<Head> = old
        .minimality
        .iter()
        .chain(&new.minimality)
        .map(|m| m.head)
        .collect();
    let minimality = |report: &Report, head: Head| {
        report
            .minimality
            .iter()
            .find(|m| m.head == head)
            .map(|m| m.relative)
    };
    for head in heads {
        rows.push(Row {
            label: format!("minimality {head}"),
            old: minimality(old, head),
            new: minimality(new, head),
            percent: true,
        });
    }
    rows
}

/// What `is_regression` means, as the verdict line says it.
const REGRESSION: &str = "the new circuit is less faithful or fails an expectation";

/// The new circuit is less faithful than the old one, or fails one of its expectations.
pub fn is_regression(old: &Report, new: &Report) -> bool {
    new.faithfulness.ratio.value < old.faithfulness.ratio.value || !new.all_expectations_met()
}

fn estimate(e: Option<Estimate>, show: fn(f64) -> String) -> String {
    match e {
        None => "—".to_string(),
        Some(e) if e.interval.is_some() => format!("{} {}", show(e.value), interval(&e, show)),
        Some(e) => show(e.value),
    }
}

fn expectation_lines(report: &Report) -> Vec<String> {
    report
        .expectations
        .iter()
        .map(|e| {
            let mark = if e.passed { "✓" } else { "✗" };
            let value = e.value.map_or("—".to_string(), |v| format!("{v:.3}"));
            format!("{mark} {} (is {value})", e.expectation)
        })
        .collect()
}

pub fn render_terminal(old: &Report, new: &Report, style: Style) -> String {
    let mut out = format!("\n{}\n", style.paint(BOLD, "Evaluation"));
    let _ = writeln!(out, "  old: {}", headline(old));
    let _ = writeln!(out, "  new: {}", headline(new));
    let rows = rows(old, new);
    let mut table = vec![vec![
        String::new(),
        "old".to_string(),
        "new".to_string(),
        "Δ".to_string(),
        String::new(),
    ]];
    table.extend(rows.iter().map(|row| row.cells().to_vec()));
    for line in columns(&table) {
        let _ = writeln!(out, "  {line}");
    }
    let _ = writeln!(
        out,
        "  ≠: the {:.0} % intervals do not overlap",
        100.0 * new.confidence
    );
    for (side, report) in [("old", old), ("new", new)] {
        let lines = expectation_lines(report);
        if !lines.is_empty() {
            let _ = writeln!(out, "  expectations ({side}): {}", lines.join(", "));
        }
    }
    let verdict = if is_regression(old, new) {
        style.paint(RED, &format!("regression: {REGRESSION}"))
    } else {
        style.paint(GREEN, "no regression")
    };
    let _ = writeln!(out, "  {verdict}");
    out
}

pub fn render_markdown(old: &Report, new: &Report) -> String {
    let mut out = String::from("\n##### Evaluation\n\n");
    let _ = writeln!(out, "old: {}  \nnew: {}\n", headline(old), headline(new));
    let _ = writeln!(out, "| | old | new | Δ | |");
    let _ = writeln!(out, "| :-- | --: | --: | --: | :-: |");
    for row in rows(old, new) {
        let _ = writeln!(out, "| {} |", row.cells().join(" | "));
    }
    let _ = writeln!(
        out,
        "\n≠: the {:.0} % intervals do not overlap.",
        100.0 * new.confidence
    );
    for (side, report) in [("old", old), ("new", new)] {
        let lines = expectation_lines(report);
        if !lines.is_empty() {
            let _ = writeln!(out, "\nExpectations ({side}): {}", lines.join(", "));
        }
    }
    let verdict = if is_regression(old, new) {
        format!("**Regression**: {REGRESSION}.")
    } else {
        "No regression.".to_string()
    };
    let _ = writeln!(out, "\n{verdict}");
    out
}

/// The diff's JSON with an `evaluation` object: both reports (the check schema) and the
/// regression verdict.
pub fn attach_json(diff_json: &str, old: &Report, new: &Report) -> String {
    let mut value: serde_json::Value =
        serde_json::from_str(diff_json).expect("the diff renders valid JSON");
    value["evaluation"] = serde_json::json!({
        "old": old,
        "new": new,
        "regression": is_regression(old, new),
    });
    serde_json::to_string_pretty(&value).expect("plain data") + "\n"
}
