//! The distribution of faithfulness over prompts: a histogram of each prompt's F(C)_p /
//! F(M)_p, with the median and the interquartile range marked. Where some prompt's F(M)_p
//! is near zero or of the other sign, its ratio means nothing (and a few such prompts
//! would stretch the axis past reading), so the chart shows F(C)_p − F(M)_p instead, and
//! says so.

use crate::eval::bootstrap::quantile;
use crate::eval::schema::Report;
use crate::report::html::charts::{number, number_tick, percent, percent_tick};
use crate::report::html::markup::Element;
use crate::report::html::plot::{Axis, Frame, Key, Pixels, Scale, Swatch, chart, padded};
use crate::report::html::svg::{ACCENT, WARN, tint};

/// A prompt's F(M)_p counts as near zero below this fraction of |F(M)|.
const NEAR_ZERO: f64 = 0.1;

/// What is plotted per prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    Ratio,
    Difference,
}

/// The per-prompt values, and which measure they are.
pub fn per_prompt(report: &Report) -> (Measure, Vec<f64>) {
    let (fm, fc) = (&report.per_prompt.model, &report.per_prompt.circuit);
    let overall = report.model_score.value;
    let usable = overall.is_finite()
        && overall != 0.0
        && fm
            .iter()
            .all(|m| m.signum() == overall.signum() && m.abs() >= NEAR_ZERO * overall.abs());
    if usable {
        (
            Measure::Ratio,
            fc.iter().zip(fm).map(|(c, m)| c / m).collect(),
        )
    } else {
        (
            Measure::Difference,
            fc.iter().zip(fm).map(|(c, m)| c - m).collect(),
        )
    }
}

/// The sentence under the chart: what is plotted and why.
pub fn explanation(measure: Measure) -> String {
    match measure {
        Measure::Ratio => format!(
            "Each prompt's faithfulness F(C)ₚ / F(M)ₚ. Every prompt's F(M)ₚ has the sign of F(M) \
             and at least {:.0} % of its size, so the ratios are meaningful.",
            100.0 * NEAR_ZERO
        ),
        Measure::Difference => format!(
            "Each prompt's difference F(C)ₚ − F(M)ₚ: some prompt's F(M)ₚ is below {:.0} % of F(M) \
             or of the other sign, where a ratio means nothing.",
            100.0 * NEAR_ZERO
        ),
    }
}

/// The prompts' values counted in equal bins over their range.
struct Bins {
    range: std::ops::Range<f64>,
    width: f64,
    counts: Vec<usize>,
}

impl Bins {
    /// √n bins (5 to 30) over the sorted values' range.
    fn of(sorted: &[f64]) -> Self {
        let (low, high) = match (sorted.first(), sorted.last()) {
            (Some(l), Some(h)) => (*l, *h),
            _ => (0.0, 1.0),
        };
        let bins = ((sorted.len() as f64).sqrt().ceil() as usize).clamp(5, 30);
        let range = padded(low, high, 0.0);
        let width = (range.end - range.start) / bins as f64;
        let mut counts = vec![0usize; bins];
        for v in sorted {
            let bin = (((v - range.start) / width) as usize).min(bins - 1);
            counts[bin] += 1;
        }
        Self {
            range,
            width,
            counts,
        }
    }

    /// Bin `i`'s lower and upper ends.
    fn ends(&self, i: usize) -> (f64, f64) {
        (
            self.range.start + i as f64 * self.width,
            self.range.start + (i + 1) as f64 * self.width,
        )
    }
}

type Show = fn(f64) -> String;

pub fn histogram(report: &Report) -> String {
    let (measure, values) = per_prompt(report);
    let mut sorted: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let (label, format, show): (&str, fn(f64, usize) -> String, Show) = match measure {
        Measure::Ratio => ("F(C)ₚ / F(M)ₚ", percent_tick, percent),
        Measure::Difference => ("F(C)ₚ − F(M)ₚ", number_tick, number),
    };
    let bins = Bins::of(&sorted);
    let most = bins.counts.iter().copied().max().unwrap_or(1).max(1);
    let quartiles = [0.25, 0.5, 0.75].map(|q| quantile(&sorted, q));
    let [q1, median, q3] = quartiles;
    let title = format!("Faithfulness per prompt: {label}, {} prompts", sorted.len());
    let legend = if median.is_finite() {
        vec![
            Key::new(WARN, Swatch::Line, format!("median {}", show(median))),
            Key::new(
                tint(WARN, 0.8),
                Swatch::Square,
                format!("interquartile range {} to {}", show(q1), show(q3)),
            ),
        ]
    } else {
        Vec::new()
    };
    chart(
        &Frame {
            class: "distribution",
            title: &title,
            legend,
            width: 720,
            height: 360,
            x: Axis {
                label,
                scale: Scale::Values {
                    range: padded(bins.range.start, bins.range.end, 0.03),
                    format,
                },
            },
            y: Axis {
                label: "prompts",
                scale: Scale::Values {
                    range: 0.0..most as f64 * 1.08,
                    format: number_tick,
                },
            },
        },
        |px| marks(px, &bins, quartiles, show),
    )
}

/// The interquartile band, the bins, the median line.
fn marks(px: &Pixels, bins: &Bins, [q1, median, q3]: [f64; 3], show: Show) -> String {
    let (bottom, top) = px.bottom_top();
    let mut out = String::new();
    if q1.is_finite() && q3.is_finite() {
        out += &Element::svg("rect")
            .attr("class", "iqr")
            .at("x", px.x(q1))
            .at("y", top)
            .at("width", (px.x(q3) - px.x(q1)).max(1.0))
            .at("height", bottom - top)
            .attr("fill", tint(WARN, 0.8))
            .title(format!("interquartile range: {} to {}", show(q1), show(q3)))
            .to_string();
    }
    for (i, count) in bins.counts.iter().enumerate() {
        let (from, to) = bins.ends(i);
        let (x0, x1) = (px.x(from), px.x(to));
        let y = px.y(*count as f64);
        out += &Element::svg("rect")
            .attr("class", "bin")
            .at("x", x0 + 0.5)
            .at("y", y)
            .at("width", (x1 - x0 - 1.0).max(0.5))
            .at("height", bottom - y)
            .attr("fill", tint(ACCENT, 0.15))
            .title(format!("{} to {}: {count} prompts", show(from), show(to)))
            .to_string();
    }
    if median.is_finite() {
        let x = px.x(median);
        out += &Element::svg("line")
            .attr("class", "median")
            .at("x1", x)
            .at("y1", bottom)
            .at("x2", x)
            .at("y2", top)
            .attr("stroke", WARN)
            .attr("stroke-width", 2.2)
            .title(format!("median {}", show(median)))
            .to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{Ablation, Level};
    use crate::eval::schema::{
        Completeness, Estimate, Faithfulness, KSet, PerPrompt, REPORT_VERSION, ReferenceCounts,
    };

    /// A report of scores about 1e-4, as a probability difference gives: some prompts'
    /// F(M)_p of the other sign, so the histogram shows F(C)_p − F(M)_p.
    fn tiny_report() -> Report {
        let n = 100;
        let model: Vec<f64> = (0..n)
            .map(|i| if i % 10 == 0 { -2e-5 } else { 1.5e-4 })
            .collect();
        let circuit: Vec<f64> = (0..n).map(|i| 1e-4 - 1e-6 * i as f64).collect();
        Report {
            version: REPORT_VERSION,
            circuit: "c".into(),
            model: "m".into(),
            task: "greater-than".into(),
            ablation: Ablation::Mean,
            level: Level::Node,
            prompts: n,
            reference: ReferenceCounts {
                prompts: n,
                fewest_per_group: 5,
                most_per_group: 5,
            },
            seed: 0,
            confidence: 0.95,
            model_score: Estimate::around(1.3e-4, 2e-5),
            circuit_score: Estimate::around(5e-5, 2e-5),
            empty_score: Estimate::around(-3e-5, 1e-5),
            faithfulness: Faithfulness {
                gap: Estimate::around(8e-5, 2e-5),
                ratio: Estimate::around(0.4, 0.1),
                normalized: Estimate::around(0.5, 0.1),
            },
            groups: vec![],
            families: vec![],
            completeness: Completeness {
                sets: vec![KSet {
                    origin: "empty".into(),
                    heads: vec![],
                    circuit: Estimate::around(5e-5, 2e-5),
                    model: Estimate::around(1.3e-4, 2e-5),
                    incompleteness: Estimate::around(8e-5, 2e-5),
                    ranked: false,
                }],
                worst: 0,
            },
            minimality: vec![],
            expectations: vec![],
            per_prompt: PerPrompt {
                empty: vec![0.0; n],
                group: vec![0; n],
                model,
                circuit,
            },
            forward_passes: 0,
        }
    }

    /// The text of every `<text>` of `svg`.
    fn texts(svg: &str) -> Vec<String> {
        svg.split("</text>")
            .filter_map(|t| t.rsplit_once('>').map(|(_, text)| text.trim().to_string()))
            .filter(|t| !t.is_empty())
            .collect()
    }

    /// Numbers of about 1e-4 keep digits enough to differ: every tick label of an axis once
    /// (the two axes may share a 0), and the median and quartiles in three significant digits.
    #[test]
    fn charts_of_tiny_scores_tell_their_numbers_apart() {
        let report = tiny_report();
        assert_eq!(per_prompt(&report).0, Measure::Difference);
        for svg in [
            histogram(&report),
            crate::report::html::charts::scores(&report, &[], "m"),
            crate::report::html::scatter::completeness(&report, &[], "m"),
        ] {
            let numbers: Vec<String> = texts(&svg)
                .into_iter()
                .filter(|t| t.replace('−', "-").parse::<f64>().is_ok())
                .collect();
            assert!(numbers.len() >= 4, "{numbers:?}");
            for label in &numbers {
                let times = numbers.iter().filter(|n| *n == label).count();
                assert!(times <= 2, "{label} {times} times among {numbers:?}");
            }
        }
        let svg = histogram(&report);
        let legend: Vec<String> = texts(&svg)
            .into_iter()
            .filter(|t| t.starts_with("median") || t.starts_with("interquartile"))
            .collect();
        assert_eq!(legend.len(), 2, "{legend:?}");
        for text in legend {
            assert!(
                !text.contains("0.000,") && !text.contains("0.000 "),
                "{text}"
            );
            assert!(!text.ends_with("0.000"), "{text}");
        }
    }
}
