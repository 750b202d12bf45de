//! Completeness as Wang et al. plot it: for every K tried, F(C\K) against F(M\K) with both
//! intervals, and the line y = x where a complete circuit's points lie.

use crate::eval::schema::{KSet, Report};
use crate::report::html::charts::{extent, interval_mark, number, number_tick, said};
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
