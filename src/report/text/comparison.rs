//! `diff --eval`: two check reports side by side, with deltas, and a mark where the two
//! confidence intervals do not overlap (a change the prompts' noise does not explain).

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::dsl::Head;
use crate::eval::schema::{Estimate, Report};
use crate::report::text::check::{headline, interval, number, percent, table_cell};
use crate::report::text::style::{BOLD, GREEN, RED, Style, columns};

/// One compared figure; `None` on a side that does not have it (a head only one side holds).
pub(crate) struct Row {
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
    pub(crate) fn cells(&self) -> [String; 5] {
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
    pub(crate) fn significant(&self) -> bool {
        match (
            self.old.and_then(|e| e.interval),
            self.new.and_then(|e| e.interval),
        ) {
            (Some(old), Some(new)) => !old.overlaps(&new),
            _ => false,
        }
    }
}

pub(crate) fn rows(old: &Report, new: &Report) -> Vec<Row> {
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
        figure("gap |F(M) − F(C)|", |r| r.faithfulness.gap, false),
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
pub(crate) const REGRESSION: &str =
    "the new circuit is further from the model (a larger |F(M) − F(C)|) or fails an expectation";

/// The new circuit moved further from the model, or fails one of its expectations. Further
/// means a larger gap |F(M) − F(C)| whose interval lies entirely above the old one's (any
/// larger gap when there are no intervals): a faithfulness ratio of 130 % is as far from
/// the model as one of 70 %, and noise the intervals explain is no regression.
pub fn is_regression(old: &Report, new: &Report) -> bool {
    let (old_gap, new_gap) = (old.faithfulness.gap, new.faithfulness.gap);
    let further = match (old_gap.interval, new_gap.interval) {
        (Some(old), Some(new)) => new.low > old.high,
        _ => new_gap.value > old_gap.value,
    };
    further || !new.all_expectations_met()
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
        let cells = row.cells().map(|cell| table_cell(&cell));
        let _ = writeln!(out, "| {} |", cells.join(" | "));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{Ablation, Level};
    use crate::eval::schema::{
        Completeness, ExpectationResult, Faithfulness, KSet, PerPrompt, REPORT_VERSION,
    };

    /// A report of F(M) = 1 whose circuit scores `fc`, its intervals ± `spread`.
    fn report(fc: f64, spread: f64, expectation_met: bool) -> Report {
        let gap = Estimate::around((1.0 - fc).abs(), spread);
        Report {
            version: REPORT_VERSION,
            circuit: "c".into(),
            model: "m".into(),
            task: "t".into(),
            ablation: Ablation::Mean,
            level: Level::Node,
            prompts: 10,
            reference: crate::eval::schema::ReferenceCounts {
                prompts: 10,
                fewest_per_group: 5,
                most_per_group: 5,
            },
            seed: 0,
            confidence: 0.95,
            model_score: Estimate::around(1.0, spread),
            circuit_score: Estimate::around(fc, spread),
            empty_score: Estimate::around(0.0, spread),
            faithfulness: Faithfulness {
                gap,
                ratio: Estimate::around(fc, spread),
                normalized: Estimate::around(fc, spread),
            },
            groups: vec![],
            families: vec![],
            completeness: Completeness {
                sets: vec![KSet {
                    origin: "empty".into(),
                    heads: vec![],
                    circuit: Estimate::around(fc, spread),
                    model: Estimate::around(1.0, spread),
                    incompleteness: gap,
                    ranked: false,
                }],
                worst: 0,
            },
            minimality: vec![],
            expectations: vec![ExpectationResult {
                expectation: "expect faithfulness >= 0.5".into(),
                value: Some(fc),
                passed: expectation_met,
            }],
            per_prompt: PerPrompt {
                model: vec![],
                circuit: vec![],
                empty: vec![],
                group: vec![],
            },
            forward_passes: 0,
        }
    }

    #[test]
    fn a_regression_is_moving_further_from_the_model() {
        // 100 % → 130 %: a higher ratio, but 0.3 away from the model instead of 0.
        assert!(is_regression(
            &report(1.0, 0.05, true),
            &report(1.3, 0.05, true)
        ));
        // 130 % → 100 %: a lower ratio, but now matching the model.
        assert!(!is_regression(
            &report(1.3, 0.05, true),
            &report(1.0, 0.05, true)
        ));
        // 80 % → 120 %: as far from the model on the other side.
        assert!(!is_regression(
            &report(0.8, 0.05, true),
            &report(1.2, 0.05, true)
        ));
        // A larger gap the intervals explain is noise.
        assert!(!is_regression(
            &report(0.9, 0.1, true),
            &report(0.85, 0.1, true)
        ));
        // Failing an expectation always is.
        assert!(is_regression(
            &report(1.0, 0.05, true),
            &report(1.0, 0.05, false)
        ));
    }
}
