//! Completeness as Wang et al. plot it: for every K tried, F(C\K) against F(M\K) with both
//! intervals, and the line y = x where a complete circuit's points lie.

use crate::eval::schema::{KSet, Report};
use crate::report::html::charts::{
    axis_range, extent, headroom, interval_mark, label_x, number, number_tick, said,
};
use crate::report::html::markup::Element;
use crate::report::html::plot::{Axis, Frame, Key, Scale, Swatch, chart, padded};
use crate::report::html::svg::{INK, MUTED, WARN};

/// How a K was chosen, for its colour: `empty`, `class`, `random`, `greedy` (or `given`).
fn kind(set: &KSet) -> &str {
    set.origin.split(' ').next().unwrap_or("")
}

fn colour(kind: &str) -> &'static str {
    match kind {
        "empty" => INK,
        "class" => "#0072B2",
        "random" => "#E69F00",
        _ => "#009E73",
    }
}

fn heads(set: &KSet) -> String {
    if set.heads.is_empty() {
        return "∅".into();
    }
    set.heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The scatter, on axes that also hold the sets of `axes` (the other side of a comparison,
/// which then shares them) and name the task's `metric`.
pub fn completeness(report: &Report, axes: &[&Report], metric: &str) -> String {
    let sets = &report.completeness.sets;
    let others = axes.iter().flat_map(|r| &r.completeness.sets);
    let (low, high) = extent(
        sets.iter()
            .chain(others)
            .flat_map(|s| [&s.circuit, &s.model]),
    );
    // One range for both axes, so y = x is the diagonal.
    let range = padded(low.min(0.0), high.max(0.0), 0.06);
    let mut legend: Vec<Key> = Vec::new();
    for set in sets {
        let k = kind(set);
        if !legend.iter().any(|key| key.label == k) {
            legend.push(Key::new(colour(k), Swatch::Square, k));
        }
    }
    legend.push(Key::new(WARN, Swatch::Square, "ringed: the worst K"));
    legend.push(Key::new(MUTED, Swatch::Dashed, "y = x"));
    let title = format!(
        "Completeness: F(C\\K) against F(M\\K) for {} sets K, {:.0} % intervals",
        sets.len(),
        100.0 * report.confidence
    );
    chart(
        &Frame {
            class: "completeness",
            title: &title,
            legend,
            width: 600,
            height: 560,
            x: Axis {
                label: &format!("F(M\\K): the model without K ({metric})"),
                scale: Scale::Values {
                    range: range.clone(),
                    format: number_tick,
                },
            },
            y: Axis {
                label: &format!("F(C\\K): the circuit without K ({metric})"),
                scale: Scale::Values {
                    range: range.clone(),
                    format: number_tick,
                },
            },
        },
        |px| {
            let (a, b) = (range.start, range.end);
            let mut out = Element::svg("line")
                .attr("class", "diagonal")
                .at("x1", px.x(a))
                .at("y1", px.y(a))
                .at("x2", px.x(b))
                .at("y2", px.y(b))
                .attr("stroke", MUTED)
                .attr("stroke-width", 1.4)
                .attr("stroke-dasharray", "6 4")
                .title("y = x: F(C\\K) = F(M\\K)")
                .to_string();
            for (i, set) in sets.iter().enumerate() {
                let (x, y) = (set.model.value, set.circuit.value);
                if !x.is_finite() || !y.is_finite() {
                    continue;
                }
                let (cx, cy) = (px.x(x), px.y(y));
                out += &interval_mark(set.model.interval, cy, false, px);
                out += &interval_mark(set.circuit.interval, cx, true, px);
                let worst = i == report.completeness.worst;
                let tooltip = format!(
                    "K = {} ({}): F(C\\K) {}, F(M\\K) {}, incompleteness {}{}",
                    set.origin,
                    heads(set),
                    said(&set.circuit, number),
                    said(&set.model, number),
                    said(&set.incompleteness, number),
                    if worst { " (the worst)" } else { "" }
                );
                // The worst K wears a ring in the warning colour.
                let (stroke, stroke_width) = if worst { (WARN, 3.0) } else { ("#ffffff", 1.2) };
                let point = Element::svg("circle")
                    .attr("class", if worst { "point worst" } else { "point" })
                    .attr("data-k", &set.origin)
                    .at("cx", cx)
                    .at("cy", cy)
                    .at("r", 5.5)
                    .attr("fill", colour(kind(set)))
                    .attr("fill-opacity", 0.9)
                    .attr("stroke", stroke)
                    .attr("stroke-width", stroke_width)
                    .title(tooltip);
                out += &point.to_string();
            }
            out
        },
    )
}

/// The paper's other view of completeness: each K's incompleteness |F(C\K) − F(M\K)| as a
/// bar with its paired interval (both scores on the same resampled prompts, so it is
/// tighter than the two intervals of the scatter), the first K on top, the worst ringed. The
/// axis also holds the sets of `axes` (the other side of a comparison, which then shares it).
pub fn incompleteness(report: &Report, axes: &[&Report], metric: &str) -> String {
    let sets = &report.completeness.sets;
    // plotters counts categories upwards; the first K goes on top.
    let names: Vec<String> = sets.iter().rev().map(|s| s.origin.clone()).collect();
    let others = axes.iter().flat_map(|r| &r.completeness.sets);
    let (low, high) = axis_range(sets.iter().chain(others).map(|s| &s.incompleteness), &[0.0]);
    let mut legend: Vec<Key> = Vec::new();
    for set in sets {
        let k = kind(set);
        if !legend.iter().any(|key| key.label == k) {
            legend.push(Key::new(colour(k), Swatch::Square, k));
        }
    }
    legend.push(Key::new(WARN, Swatch::Square, "outlined: the worst K"));
    let title = format!(
        "Incompleteness per K, {:.0} % paired intervals",
        100.0 * report.confidence
    );
    let label = format!("|F(C\\K) − F(M\\K)| ({metric})");
    chart(
        &Frame {
            class: "incompleteness",
            title: &title,
            legend,
            width: 600,
            height: 120 + 26 * names.len() as u32,
            x: Axis {
                label: &label,
                scale: Scale::Values {
                    // Room on the right for the printed values.
                    range: headroom(padded(low.min(0.0), high, 0.04), 0.25),
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
            let shown = px.x_range();
            for (i, set) in sets.iter().enumerate() {
                let e = &set.incompleteness;
                if !e.value.is_finite() {
                    continue;
                }
                let band = (sets.len() - 1 - i) as f64;
                let worst = i == report.completeness.worst;
                let thickness = 0.6 * px.y_scale();
                let (zero, end) = (px.x(0.0), px.x(e.value.clamp(shown.start, shown.end)));
                let tooltip = format!(
                    "K = {} ({}): incompleteness {}; F(C\\K) {}, F(M\\K) {}{}",
                    set.origin,
                    heads(set),
                    said(e, number),
                    said(&set.circuit, number),
                    said(&set.model, number),
                    if worst { " (the worst)" } else { "" }
                );
                let mut bar = Element::svg("rect")
                    .attr("class", if worst { "bar worst" } else { "bar" })
                    .at("x", zero.min(end))
                    .at("y", px.y(band) - thickness / 2.0)
                    .at("width", (end - zero).abs())
                    .at("height", thickness)
                    .attr("fill", colour(kind(set)))
                    .attr("fill-opacity", 0.85);
                if worst {
                    bar = bar.attr("stroke", WARN).attr("stroke-width", 2.5);
                }
                out += &bar.title(tooltip).to_string();
                out += &interval_mark(e.interval, px.y(band), false, px);
                // After the bar's end, on a halo over the interval's line.
                let value = number(e.value);
                out += &Element::svg("text")
                    .attr("class", "value")
                    .attr("stroke", "#ffffff")
                    .attr("stroke-width", 3)
                    .attr("paint-order", "stroke")
                    .at(
                        "x",
                        label_x(px, end.max(zero) + 6.0, value.chars().count(), 12.5),
                    )
                    .at("y", px.y(band) + 4.5)
                    .attr("font-size", 12.5)
                    .attr("fill", INK)
                    .text(&value)
                    .to_string();
            }
            out
        },
    )
}
