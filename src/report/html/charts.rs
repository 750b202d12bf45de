//! The bar charts of the HTML report (F(M), F(C) and F(∅); faithfulness per group; each
//! head's minimality), and the marks every chart shares: intervals, legends, tick formats.

use std::collections::BTreeMap;

use crate::eval::bootstrap::Interval;
use crate::eval::schema::{Estimate, GroupFigures, HeadMinimality, KSet, Report};
use crate::report::html::markup::{Element, coordinate};
use crate::report::html::plot::{Axis, Frame, Key, Pixels, Scale, Swatch, chart, padded};
use crate::report::html::svg::{ACCENT, INK, MUTED, WARN, tint};

/// Bars a group chart shows at most; the rest are named in a note (the JSON has them all).
pub const MAX_GROUP_BARS: usize = 40;

/// `text` (a number) without the zeros that end its decimals, and never `-0`.
fn trimmed(text: String) -> String {
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

/// A tick label: the number with the `decimals` its axis's ticks need to differ (see
/// `plot::tick_decimals`), less the zeros that end them.
pub fn number_tick(value: f64, decimals: usize) -> String {
    trimmed(format!("{value:.decimals$}"))
}

/// A tick label in percent: two decimals of the value fewer than `decimals`.
pub fn percent_tick(value: f64, decimals: usize) -> String {
    let decimals = decimals.saturating_sub(2);
    format!("{} %", trimmed(format!("{:.decimals$}", 100.0 * value)))
}

/// The decimals that give `value` three significant digits, at least `fewest`.
fn significant(value: f64, fewest: usize) -> usize {
    if value == 0.0 || !value.is_finite() {
        return fewest;
    }
    let magnitude = value.abs().log10().floor() as i32;
    (2 - magnitude).clamp(fewest as i32, 15) as usize
}

/// A figure of the page: three decimals, as the terminal writes it, and three significant
/// digits where those would leave fewer (0.000123, not 0.000).
pub fn number(value: f64) -> String {
    if value.is_finite() {
        let decimals = significant(value, 3);
        format!("{value:.decimals$}")
    } else {
        "—".to_string()
    }
}

/// A figure in percent: one decimal, as the terminal writes it, and three significant
/// digits below 1 % (0.0123 %, not 0.0 %).
pub fn percent(value: f64) -> String {
    if value.is_finite() {
        let decimals = if (100.0 * value).abs() >= 1.0 {
            1
        } else {
            significant(100.0 * value, 1)
        };
        format!("{:.decimals$} %", 100.0 * value)
    } else {
        "—".to_string()
    }
}

/// `range` with `share` of its width added at the top end.
pub fn headroom(range: std::ops::Range<f64>, share: f64) -> std::ops::Range<f64> {
    range.start..range.end + share * (range.end - range.start)
}

/// The smallest and largest of the values and their intervals' ends, finite ones only.
pub fn extent<'a>(estimates: impl IntoIterator<Item = &'a Estimate>) -> (f64, f64) {
    let mut low = f64::INFINITY;
    let mut high = f64::NEG_INFINITY;
    for e in estimates {
        let interval = e.interval.map_or([e.value, e.value], |i| [i.low, i.high]);
        for v in [e.value, interval[0], interval[1]] {
            if v.is_finite() {
                low = low.min(v);
                high = high.max(v);
            }
        }
    }
    (low, high)
}

/// The range an axis of ratios shows: the values and `also` (0, 100 %, a threshold), and
/// the intervals unless one reaches further than twice the values' spread beyond them (a
/// ratio over a near-zero F(M) can): such ends are cut at the edge, so the values stay
/// readable.
pub fn axis_range<'a>(
    estimates: impl IntoIterator<Item = &'a Estimate> + Clone,
    also: &[f64],
) -> (f64, f64) {
    let finite = |v: &f64| v.is_finite();
    let values: Vec<f64> = estimates
        .clone()
        .into_iter()
        .map(|e| e.value)
        .chain(also.iter().copied())
        .filter(finite)
        .collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !low.is_finite() {
        return (0.0, 1.0);
    }
    let reach = 2.0 * (high - low).max(high.abs().max(low.abs()) * 0.1).max(1e-9);
    let (all_low, all_high) = extent(estimates);
    (
        all_low.min(low).max(low - reach),
        all_high.max(high).min(high + reach),
    )
}

/// An estimate as a tooltip says it: `7.627 [7.125, 8.103]`.
pub fn said(estimate: &Estimate, show: fn(f64) -> String) -> String {
    match estimate.interval {
        Some(i) => format!(
            "{} [{}, {}]",
            show(estimate.value),
            show(i.low),
            show(i.high)
        ),
        None => show(estimate.value),
    }
}

/// An interval drawn as a line with caps; `vertical` along y at `at` (a pixel x), else
/// along x at pixel y `at`. An end beyond the axis is cut at the plot's edge and ends in an
/// arrowhead there, pointing on (the tooltip has the figure). Nothing when there is no
/// interval, or when it lies wholly beyond the axis.
pub fn interval_mark(interval: Option<Interval>, at: f64, vertical: bool, px: &Pixels) -> String {
    let Some(i) = interval.filter(|i| i.low.is_finite() && i.high.is_finite()) else {
        return String::new();
    };
    let shown = if vertical { px.y_range() } else { px.x_range() };
    let (low, high) = (i.low.max(shown.start), i.high.min(shown.end));
    if low > high {
        return String::new();
    }
    let to_pixel = |v: f64| if vertical { px.y(v) } else { px.x(v) };
    // (along, across) in pixels to (x, y).
    let point = |along: f64, across: f64| {
        if vertical {
            (across, along)
        } else {
            (along, across)
        }
    };
    let line = |along: (f64, f64), across: (f64, f64)| {
        let ((x1, y1), (x2, y2)) = (point(along.0, across.0), point(along.1, across.1));
        Element::svg("line")
            .at("x1", x1)
            .at("y1", y1)
            .at("x2", x2)
            .at("y2", y2)
            .attr("stroke", INK)
            .attr("stroke-width", 1.4)
            .to_string()
    };
    let cap = 4.0;
    let (a, b) = (to_pixel(low), to_pixel(high));
    let mut marks = line((a, b), (at, at));
    for (end, inward, whole) in [(a, b, low == i.low), (b, a, high == i.high)] {
        if whole {
            marks += &line((end, end), (at - cap, at + cap));
        } else {
            // An arrowhead whose tip is the plot's edge, pointing out of the plot.
            let back = end + ARROW * (inward - end).signum();
            let corners = [point(end, at), point(back, at - cap), point(back, at + cap)];
            let points: Vec<String> = corners
                .iter()
                .map(|(x, y)| format!("{},{}", coordinate(*x), coordinate(*y)))
                .collect();
            marks += &Element::svg("polygon")
                .attr("class", "cut")
                .attr("points", points.join(" "))
                .attr("fill", INK)
                .to_string();
        }
    }
    Element::svg("g")
        .attr("class", "errorbar")
        .raw(&marks)
        .to_string()
}

/// The length of the arrowhead that ends an interval cut at the plot's edge.
const ARROW: f64 = 7.0;

/// Where a label `chars` long at `font` px may start (anchored at its start) at `x` without
/// leaving the plot: `x`, or as far right as it fits.
pub fn label_x(px: &Pixels, x: f64, chars: usize, font: f64) -> f64 {
    let (_, right) = px.left_right();
    x.min(right - 0.62 * font * chars as f64 - 2.0)
}

/// A vertical bar from 0 to `value` in band `index` of a categorical x axis.
fn vertical_bar(
    px: &Pixels,
    index: usize,
    value: f64,
    fill: &str,
    class: &str,
    tooltip: String,
) -> Element {
    let width = 0.6 * px.x_scale();
    let (zero, top) = (px.y(0.0), px.y(value));
    Element::svg("rect")
        .attr("class", class)
        .at("x", px.x(index as f64) - width / 2.0)
        .at("y", zero.min(top))
        .at("width", width)
        .at("height", (zero - top).abs())
        .attr("fill", fill)
        .title(tooltip)
}

/// A dashed reference line across the plot at value `at`, horizontal (at a y) or vertical;
/// `label` is its tooltip, and is printed beside it when `printed`.
pub fn rule(
    px: &Pixels,
    at: f64,
    horizontal: bool,
    (class, colour): (&str, &str),
    label: &str,
    printed: bool,
) -> String {
    let (left, right) = px.left_right();
    let (bottom, top) = px.bottom_top();
    let (line, text) = if horizontal {
        let y = px.y(at);
        (
            (left, y, right, y),
            Element::svg("text")
                .at("x", right - 4.0)
                .at("y", y - 5.0)
                .attr("text-anchor", "end"),
        )
    } else {
        let x = px.x(at);
        (
            (x, bottom, x, top),
            Element::svg("text")
                .at("x", x + 4.0)
                .at("y", top + 12.0)
                .attr("text-anchor", "start"),
        )
    };
    Element::svg("g")
        .attr("class", class)
        .title(label)
        .raw(&format!(
            "{}{}",
            Element::svg("line")
                .at("x1", line.0)
                .at("y1", line.1)
                .at("x2", line.2)
                .at("y2", line.3)
                .attr("stroke", colour)
                .attr("stroke-width", 1.6)
                .attr("stroke-dasharray", "6 4"),
            if printed {
                text.attr("font-size", 12)
                    .attr("fill", colour)
                    .text(label)
                    .to_string()
            } else {
                String::new()
            }
        ))
        .to_string()
}

/// F(M), F(C) and F(∅) as bars with their intervals, on an axis that also holds those of
/// `axes` (the other side of a comparison, which then shares it) and names the task's
/// `metric`.
pub fn scores(report: &Report, axes: &[&Report], metric: &str) -> String {
    let names = ["F(M)", "F(C)", "F(∅)"].map(String::from);
    let figures = [
        (&report.model_score, "#5b6b7d", "full model"),
        (&report.circuit_score, ACCENT, "circuit"),
        (&report.empty_score, "#b8c1cc", "every head knocked out"),
    ];
    let others = axes
        .iter()
        .flat_map(|r| [&r.model_score, &r.circuit_score, &r.empty_score]);
    let (low, high) = extent(figures.iter().map(|f| f.0).chain(others).chain([&Estimate {
        value: 0.0,
        interval: None,
    }]));
    let title = format!(
        "F(M), F(C) and F(∅), {:.0} % intervals",
        100.0 * report.confidence
    );
    chart(
        &Frame {
            class: "scores",
            title: &title,
            legend: Vec::new(),
            width: 400,
            height: 340,
            x: Axis {
                label: "",
                scale: Scale::Categories(&names),
            },
            y: Axis {
                label: &format!("F: {metric}, mean over prompts"),
                scale: Scale::Values {
                    range: headroom(padded(low, high, 0.06), 0.06),
                    format: number_tick,
                },
            },
        },
        |px| {
            let mut out = String::new();
            for (i, (estimate, colour, what)) in figures.iter().enumerate() {
                if !estimate.value.is_finite() {
                    continue;
                }
                let tooltip = format!("{} ({what}): {}", names[i], said(estimate, number));
                out += &vertical_bar(px, i, estimate.value, colour, "bar", tooltip).to_string();
                out += &interval_mark(estimate.interval, px.x(i as f64), true, px);
                let above = estimate
                    .interval
                    .map_or(estimate.value, |i| i.high.max(estimate.value));
                out += &Element::svg("text")
                    .attr("class", "value")
                    .at("x", px.x(i as f64))
                    .at("y", px.y(above.max(0.0)) - 7.0)
                    .attr("text-anchor", "middle")
                    .attr("font-size", 13)
                    .attr("fill", INK)
                    .text(&number(estimate.value))
                    .to_string();
            }
            out
        },
    )
}

/// Per-class knockouts as the paper draws them: for each class K (the completeness sets
/// chosen as a class), F(M\K) and F(C\K) side by side with their intervals, a pair of
/// horizontal bars per class (the first on top), on an axis that also holds those of `axes`
/// (the other side of a comparison) and names the task's `metric`. Nothing when no class
/// was knocked out.
pub fn class_knockouts(report: &Report, axes: &[&Report], metric: &str) -> String {
    fn classes(r: &Report) -> Vec<&KSet> {
        r.completeness
            .sets
            .iter()
            .filter(|s| s.origin.starts_with("class "))
            .collect()
    }
    let sets = classes(report);
    if sets.is_empty() {
        return String::new();
    }
    // plotters counts categories upwards; the first class goes on top.
    let names: Vec<String> = sets
        .iter()
        .rev()
        .map(|s| s.origin.trim_start_matches("class ").to_string())
        .collect();
    let others: Vec<&KSet> = axes.iter().flat_map(|r| classes(r)).collect();
    let zero = Estimate {
        value: 0.0,
        interval: None,
    };
    let (low, high) = extent(
        sets.iter()
            .chain(&others)
            .flat_map(|s| [&s.model, &s.circuit])
            .chain([&zero]),
    );
    let sides = [
        ("F(M\\K): the model without K", "#5b6b7d"),
        ("F(C\\K): the circuit without K", ACCENT),
    ];
    let legend = sides
        .iter()
        .map(|(label, colour)| Key::new(*colour, Swatch::Square, *label))
        .collect();
    let title = format!(
        "Each class knocked out, {:.0} % intervals",
        100.0 * report.confidence
    );
    let label = format!("F: {metric}, mean over prompts");
    chart(
        &Frame {
            class: "knockouts",
            title: &title,
            legend,
            width: 720,
            height: 120 + 44 * names.len() as u32,
            x: Axis {
                label: &label,
                scale: Scale::Values {
                    range: padded(low, high, 0.06),
                    format: number_tick,
                },
            },
            y: Axis {
                label: "",
                scale: Scale::Categories(&names),
            },
        },
        |px| {
            let mut out = String::new();
            let thickness = 0.34 * px.y_scale();
            for (i, set) in sets.iter().enumerate() {
                let band = (sets.len() - 1 - i) as f64;
                for (j, (estimate, (what, colour))) in
                    [&set.model, &set.circuit].iter().zip(sides).enumerate()
                {
                    if !estimate.value.is_finite() {
                        continue;
                    }
                    // The model's bar above the circuit's.
                    let centre = px.y(band) + (j as f64 - 0.5) * thickness;
                    let (base, end) = (px.x(0.0), px.x(estimate.value));
                    let tooltip = format!("{}: {what} {}", set.origin, said(estimate, number));
                    out += &Element::svg("rect")
                        .attr("class", "bar")
                        .at("x", base.min(end))
                        .at("y", centre - thickness / 2.0)
                        .at("width", (base - end).abs())
                        .at("height", thickness)
                        .attr("fill", colour)
                        .title(tooltip)
                        .to_string();
                    out += &interval_mark(estimate.interval, centre, false, px);
                }
            }
            out
        },
    )
}

/// Faithfulness per group (or family) as horizontal bars with intervals, the first group
/// at the top, and a line at 100 %, where the circuit scores as the model does; the axis
/// also holds the groups of `axes` (the other side of a comparison, which then shares it).
pub fn groups(
    title: &str,
    class: &str,
    groups: &[GroupFigures],
    axes: &[&[GroupFigures]],
) -> String {
    let shown = &groups[..groups.len().min(MAX_GROUP_BARS)];
    // plotters counts categories upwards; the first group goes on top.
    let names: Vec<String> = shown.iter().rev().map(|g| g.name.clone()).collect();
    let others = axes.iter().flat_map(|g| &g[..g.len().min(MAX_GROUP_BARS)]);
    let (low, high) = axis_range(
        shown.iter().chain(others).map(|g| &g.faithfulness),
        &[0.0, 1.0],
    );
    let height = 110 + 28 * shown.len() as u32;
    chart(
        &Frame {
            class,
            title,
            legend: Vec::new(),
            width: 720,
            height,
            x: Axis {
                label: "faithfulness F(C) / F(M) over the group's prompts (dashed: 100 %)",
                scale: Scale::Values {
                    // Room on the right for the printed values.
                    range: headroom(padded(low, high, 0.04), 0.2),
                    format: percent_tick,
                },
            },
            y: Axis {
                label: "",
                scale: Scale::Categories(&names),
            },
        },
        |px| {
            let mut out = rule(
                px,
                1.0,
                false,
                ("reference", MUTED),
                "100 %: F(C) = F(M)",
                false,
            );
            for (i, group) in shown.iter().enumerate() {
                let band = (shown.len() - 1 - i) as f64;
                let e = &group.faithfulness;
                if !e.value.is_finite() {
                    continue;
                }
                let thickness = 0.6 * px.y_scale();
                let (zero, end) = (px.x(0.0), px.x(e.value));
                let tooltip = format!(
                    "{}: faithfulness {}; F(C) {}, F(M) {}; {} prompts",
                    group.name,
                    said(e, percent),
                    said(&group.circuit, number),
                    said(&group.model, number),
                    group.prompts
                );
                out += &Element::svg("rect")
                    .attr("class", "bar")
                    .at("x", zero.min(end))
                    .at("y", px.y(band) - thickness / 2.0)
                    .at("width", (end - zero).abs())
                    .at("height", thickness)
                    .attr("fill", tint(ACCENT, 0.25))
                    .title(tooltip)
                    .to_string();
                out += &interval_mark(e.interval, px.y(band), false, px);
                let right = e.interval.map_or(e.value, |i| i.high.max(e.value));
                let right = right.max(0.0).min(px.x_range().end);
                let shown = percent(e.value);
                out += &Element::svg("text")
                    .attr("class", "value")
                    .attr("stroke", "#ffffff")
                    .attr("stroke-width", 3)
                    .attr("paint-order", "stroke")
                    .at(
                        "x",
                        label_x(px, px.x(right) + 6.0, shown.chars().count(), 12.5),
                    )
                    .at("y", px.y(band) + 4.5)
                    .attr("font-size", 12.5)
                    .attr("fill", INK)
                    .text(&shown)
                    .to_string();
            }
            out
        },
    )
}

/// Each head's minimality as a fraction of F(M), a horizontal bar per head (the first on
/// top, so the chart keeps its width and its labels their size however many heads there
/// are), coloured by class; the threshold heads are flagged below as a line, and the file's
/// own `expect minimality >= x` (`expected`), where it states one, as another. The axis
/// also holds the heads of `axes` (the other side of a comparison, which then shares it).
pub fn minimality(
    report: &Report,
    colours: &BTreeMap<String, &'static str>,
    (threshold, expected): (f64, Option<f64>),
    axes: &[&Report],
) -> String {
    // plotters counts categories upwards; the first head goes on top.
    let names: Vec<String> = report
        .minimality
        .iter()
        .rev()
        .map(|m| m.head.to_string())
        .collect();
    let also: Vec<f64> = [0.0, threshold].into_iter().chain(expected).collect();
    let others = axes.iter().flat_map(|r| &r.minimality);
    let (_, high) = axis_range(
        report.minimality.iter().chain(others).map(|m| &m.relative),
        &also,
    );
    let height = 130 + 24 * names.len() as u32;
    let title = format!(
        "Minimality per head, {:.0} % intervals",
        100.0 * report.confidence
    );
    let colour_of = |class: &str| colours.get(class).copied().unwrap_or(ACCENT);
    let threshold_label = format!("threshold {} of F(M)", percent_tick(threshold, 4));
    let expected_label =
        expected.map(|x| format!("expect minimality ≥ {} of F(M)", percent_tick(x, 4)));
    let mut legend: Vec<Key> = Vec::new();
    for m in &report.minimality {
        if !legend.iter().any(|k| k.label == m.class) {
            legend.push(Key::new(
                colour_of(&m.class),
                Swatch::Square,
                m.class.clone(),
            ));
        }
    }
    legend.push(Key::new(WARN, Swatch::Dashed, threshold_label.clone()));
    if let Some(label) = &expected_label {
        legend.push(Key::new(INK, Swatch::Dashed, label.clone()));
    }
    chart(
        &Frame {
            class: "minimality",
            title: &title,
            legend,
            width: 720,
            height,
            x: Axis {
                label: "minimality of head v, fraction of F(M)",
                scale: Scale::Values {
                    // Room on the right for the flags.
                    range: headroom(padded(0.0, high.max(0.0), 0.0), 0.08),
                    format: percent_tick,
                },
            },
            y: Axis {
                label: "head v (layer.head)",
                scale: Scale::Categories(&names),
            },
        },
        |px| {
            let mut out = rule(
                px,
                threshold,
                false,
                ("threshold", WARN),
                &threshold_label,
                false,
            );
            if let (Some(x), Some(label)) = (expected, &expected_label) {
                out += &rule(px, x, false, ("expected", INK), label, false);
            }
            let last = report.minimality.len().saturating_sub(1);
            for (i, m) in report.minimality.iter().enumerate() {
                out += &head_marks(px, (last - i) as f64, m, colour_of(&m.class));
            }
            out
        },
    )
}

/// One head's minimality in band `band`: its bar (pale and ringed when flagged, with a `!`
/// just after it) and its interval.
fn head_marks(px: &Pixels, band: f64, m: &HeadMinimality, colour: &str) -> String {
    let e = &m.relative;
    if !e.value.is_finite() {
        return String::new();
    }
    let flag = if m.flagged {
        ", below the threshold"
    } else {
        ""
    };
    let tooltip = format!(
        "{} ({}): {} of F(M), score {}; K = {}{flag}",
        m.head,
        m.class,
        said(e, percent),
        number(m.score.value),
        m.origin
    );
    let class = if m.flagged { "bar flagged" } else { "bar" };
    // A flagged bar: paler, outlined in the warning colour.
    let fill = if m.flagged {
        tint(colour, 0.6)
    } else {
        colour.to_string()
    };
    let thickness = 0.6 * px.y_scale();
    let shown = px.x_range();
    let value = e.value.clamp(shown.start, shown.end);
    let (zero, end) = (px.x(0.0), px.x(value));
    let mut bar = Element::svg("rect")
        .attr("class", class)
        .at("x", zero.min(end))
        .at("y", px.y(band) - thickness / 2.0)
        .at("width", (end - zero).abs())
        .at("height", thickness)
        .attr("fill", &fill)
        .title(tooltip);
    if m.flagged {
        bar = bar.attr("stroke", WARN).attr("stroke-width", 2);
    }
    let mut out = bar.to_string();
    out += &interval_mark(e.interval, px.y(band), false, px);
    if m.flagged {
        // Just after the bar, on a halo over the interval's line.
        out += &Element::svg("text")
            .attr("class", "flag")
            .attr("stroke", "#ffffff")
            .attr("stroke-width", 3)
            .attr("paint-order", "stroke")
            .at("x", label_x(px, zero.max(end) + 5.0, 1, 13.0))
            .at("y", px.y(band) + 4.5)
            .attr("font-size", 13)
            .attr("font-weight", "bold")
            .attr("fill", WARN)
            .text("!")
            .to_string();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::bootstrap::Interval;

    #[test]
    fn ticks_print_as_few_decimals_as_they_need() {
        assert_eq!(number_tick(0.0, 3), "0");
        assert_eq!(number_tick(-0.0001, 3), "0");
        assert_eq!(number_tick(-0.0001, 4), "-0.0001");
        assert_eq!(number_tick(0.015, 3), "0.015");
        assert_eq!(number_tick(7.0, 1), "7");
        assert_eq!(number_tick(2.5, 1), "2.5");
        assert_eq!(number_tick(1250.0, 0), "1250");
        assert_eq!(percent_tick(0.125, 3), "12.5 %");
        assert_eq!(percent_tick(1.0, 1), "100 %");
        assert_eq!(percent_tick(-0.0, 1), "0 %");
        assert_eq!(percent_tick(0.00015, 5), "0.015 %");
    }

    #[test]
    fn small_figures_keep_three_significant_digits() {
        assert_eq!(number(1.23456), "1.235");
        assert_eq!(number(0.5), "0.500");
        assert_eq!(number(0.0), "0.000");
        assert_eq!(number(0.000123456), "0.000123");
        assert_eq!(number(-0.000123456), "-0.000123");
        assert_eq!(number(0.0123456), "0.0123");
        assert_eq!(number(f64::NAN), "—");
        assert_eq!(percent(0.5), "50.0 %");
        assert_eq!(percent(0.01), "1.0 %");
        assert_eq!(percent(-0.0567), "-5.7 %");
        assert_eq!(percent(0.005), "0.500 %");
        assert_eq!(percent(0.000123), "0.0123 %");
        assert_eq!(percent(0.0), "0.0 %");
    }

    #[test]
    fn ratio_axes_cut_intervals_that_would_squash_the_values() {
        let at = |value: f64, low: f64, high: f64| Estimate {
            value,
            interval: Some(Interval { low, high }),
        };
        // Intervals near the values are shown whole.
        let near = [at(0.9, 0.8, 1.0), at(1.1, 1.0, 1.2)];
        assert_eq!(axis_range(near.iter(), &[0.0, 1.0]), (0.0, 1.2));
        // An interval a thousand times wider is cut two spreads beyond the values.
        let wild = [at(0.9, -800.0, 1000.0), at(1.1, 1.0, 1.2)];
        let (low, high) = axis_range(wild.iter(), &[0.0, 1.0]);
        assert!(
            (low + 2.2).abs() < 1e-9 && (high - 3.3).abs() < 1e-9,
            "{low} {high}"
        );
    }
}
