//! The faithfulness curve of `curve --html`: normalized faithfulness f at each of MIB's edge
//! fractions, one line per ranking (signed for CPR, absolute for CMD), each point with its
//! interval; the fractions are evenly spaced bands, as they are nearly so on a log axis.

use crate::eval::curve::{CurveReport, Series};
use crate::report::html::charts::{extent, interval_mark, number, number_tick, said};
use crate::report::html::markup::Element;
use crate::report::html::plot::{Axis, Frame, Key, Scale, Swatch, chart, padded};
use crate::report::html::svg::MUTED;

const SIGNED: &str = "#0072B2";
const ABSOLUTE: &str = "#E69F00";

pub fn curve(report: &CurveReport) -> String {
    let labels: Vec<String> = report
        .cpr
        .points
        .iter()
        .map(|p| format!("{} %", 100.0 * p.fraction))
        .collect();
    let series = [("CPR", &report.cpr, SIGNED), ("CMD", &report.cmd, ABSOLUTE)];
    let (low, high) = extent(
        series
            .iter()
            .flat_map(|(_, s, _)| s.points.iter().map(|p| &p.normalized)),
    );
    let range = padded(low.min(0.0), high.max(1.0), 0.06);
    let legend = series
        .iter()
        .map(|(name, s, colour)| {
            Key::new(
                *colour,
                Swatch::Line,
                format!(
                    "ranked {} ({name} {})",
                    s.ranking.describe(),
                    said(&s.area, number)
                ),
            )
        })
        .chain(std::iter::once(Key::new(
            MUTED,
            Swatch::Dashed,
            "f = 1: the model",
        )))
        .collect();
    let title = format!(
        "Normalized faithfulness at each fraction of the {} edges, {:.0} % intervals",
        report.total_edges,
        100.0 * report.confidence
    );
    chart(
        &Frame {
            class: "curve",
            title: &title,
            legend,
            width: 720,
            height: 440,
            x: Axis {
                label: "edges taken (fraction of the full graph)",
                scale: Scale::Categories(&labels),
            },
            y: Axis {
                label: "f = (F(C) − F(∅)) / (F(M) − F(∅))",
                scale: Scale::Values {
                    range: range.clone(),
                    format: number_tick,
                },
            },
        },
        |px| {
            let (left, right) = px.left_right();
            let mut out = Element::svg("line")
                .attr("class", "model-line")
                .at("x1", left)
                .at("y1", px.y(1.0))
                .at("x2", right)
                .at("y2", px.y(1.0))
                .attr("stroke", MUTED)
                .attr("stroke-width", 1.2)
                .attr("stroke-dasharray", "6 4")
                .title("f = 1: the full model")
                .to_string();
            for (name, s, colour) in series {
                out += &line(s, name, colour, px);
            }
            out
        },
    )
}

fn line(
    series: &Series,
    name: &str,
    colour: &str,
    px: &crate::report::html::plot::Pixels,
) -> String {
    let shown = px.y_range();
    let at = |i: usize, v: f64| (px.x(i as f64), px.y(v.clamp(shown.start, shown.end)));
    let points: Vec<String> = series
        .points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.normalized.value.is_finite())
        .map(|(i, p)| {
            let (x, y) = at(i, p.normalized.value);
            format!("{x:.2},{y:.2}")
        })
        .collect();
    let mut out = Element::svg("polyline")
        .attr("class", "series")
        .attr("data-ranking", name)
        .attr("points", points.join(" "))
        .attr("fill", "none")
        .attr("stroke", colour)
        .attr("stroke-width", 2.0)
        .to_string();
    for (i, p) in series.points.iter().enumerate() {
        if !p.normalized.value.is_finite() {
            continue;
        }
        let (x, y) = at(i, p.normalized.value);
        out += &interval_mark(p.normalized.interval, x, true, px);
        let tooltip = format!(
            "{} % ({name}, ranked {}): {} edges, {} after pruning; F(C) {}, f {}",
            100.0 * p.fraction,
            series.ranking.describe(),
            p.edges,
            p.pruned_edges,
            said(&p.circuit_score, number),
            said(&p.normalized, number)
        );
        out += &Element::svg("circle")
            .attr("class", "point")
            .at("cx", x)
            .at("cy", y)
            .at("r", 4.5)
            .attr("fill", colour)
            .attr("stroke", "#ffffff")
            .attr("stroke-width", 1.0)
            .title(tooltip)
            .to_string();
    }
    out
}
