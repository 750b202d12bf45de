//! A heat map for HTML reports: rows × columns of values, each cell coloured and its value
//! printed, with a colour scale beside it. Values of both signs get a diverging scale
//! (blue below zero, red above, white at zero, symmetric); values of one sign a sequential
//! one (viridis). Both read in greyscale and with the common colour-vision deficiencies.
//! Hand-written SVG: cells with centred text and a stepped colour bar are simpler to draw
//! directly than through plotters' axes, which add nothing to a grid of labelled cells.

use std::fmt::Write as _;

use crate::report::html::markup::{Element, coordinate};
use crate::report::html::svg::{self, INK, MUTED, rgb};

const CELL_HEIGHT: f64 = 28.0;
const CHAR: f64 = 7.4;
const TITLE: f64 = 34.0;
const BAR_STEPS: usize = 24;

/// Viridis at nine evenly spaced points.
const VIRIDIS: [&str; 9] = [
    "#440154", "#472d7b", "#3b528b", "#2c728e", "#21918c", "#28ae80", "#5ec962", "#addc30",
    "#fde725",
];
/// ColorBrewer's RdBu, from negative (blue) through white to positive (red).
const DIVERGING: [&str; 9] = [
    "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7", "#fddbc7", "#f4a582", "#d6604d",
    "#b2182b",
];

/// How values map to colours.
#[derive(Clone, Copy, Debug, PartialEq)]
enum ColourScale {
    /// low → high, viridis.
    Sequential { low: f64, high: f64 },
    /// −limit → 0 → +limit.
    Diverging { limit: f64 },
}

impl ColourScale {
    fn of(values: &[f64]) -> Self {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if low < 0.0 && high > 0.0 {
            ColourScale::Diverging {
                limit: low.abs().max(high),
            }
        } else if low.is_finite() {
            ColourScale::Sequential { low, high }
        } else {
            ColourScale::Sequential {
                low: 0.0,
                high: 1.0,
            }
        }
    }

    /// −limit → 0 → +limit, the limit the largest magnitude.
    fn diverging(values: &[f64]) -> Self {
        let limit = values.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        ColourScale::Diverging {
            limit: if limit > 0.0 { limit } else { 1.0 },
        }
    }

    /// Where `value` sits on the scale, 0 to 1.
    fn position(&self, value: f64) -> f64 {
        let t = match *self {
            ColourScale::Sequential { low, high } if high > low => (value - low) / (high - low),
            ColourScale::Sequential { .. } => 0.5,
            ColourScale::Diverging { limit } => 0.5 + value / (2.0 * limit),
        };
        t.clamp(0.0, 1.0)
    }

    fn colour(&self, value: f64) -> String {
        let stops = match self {
            ColourScale::Sequential { .. } => &VIRIDIS,
            ColourScale::Diverging { .. } => &DIVERGING,
        };
        interpolate(stops, self.position(value))
    }

    /// The value at scale position `t`.
    fn value_at(&self, t: f64) -> f64 {
        match *self {
            ColourScale::Sequential { low, high } => low + t * (high - low),
            ColourScale::Diverging { limit } => (2.0 * t - 1.0) * limit,
        }
    }
}

fn interpolate(stops: &[&str], t: f64) -> String {
    let at = t * (stops.len() - 1) as f64;
    let i = (at.floor() as usize).min(stops.len() - 2);
    let f = at - i as f64;
    let (a, b) = (rgb(stops[i]), rgb(stops[i + 1]));
    let mix = |k: usize| (f64::from(a[k]) + (f64::from(b[k]) - f64::from(a[k])) * f).round() as u8;
    format!("#{:02x}{:02x}{:02x}", mix(0), mix(1), mix(2))
}

/// Dark text on light cells, white on dark ones (relative luminance, WCAG's formula).
fn text_colour(fill: &str) -> &'static str {
    let linear = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.03928 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let [r, g, b] = rgb(fill);
    let luminance = 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    // Where white and INK give the same contrast.
    if luminance > 0.18 { INK } else { "#ffffff" }
}

fn chars(text: &str) -> f64 {
    text.chars().count() as f64
}

/// A heat map as an HTML fragment (`<figure class="heatmap">` holding an inline `<svg>`):
/// `values[r][c]` is the value of row `r` and column `c`, `None` (or a missing or
/// non-finite entry) an empty cell; `format` prints values in cells and on the scale.
pub fn heatmap(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
    format: fn(f64) -> String,
) -> String {
    draw(title, rows, columns, values, format, false)
}

/// `heatmap` on the diverging scale whatever the values' signs: for values whose zero
/// means something (a distance from a target), so that colour shows how far each is from it.
pub fn diverging_heatmap(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
    format: fn(f64) -> String,
) -> String {
    draw(title, rows, columns, values, format, true)
}

fn draw(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
    format: fn(f64) -> String,
    diverging: bool,
) -> String {
    let value = |r: usize, c: usize| {
        values
            .get(r)
            .and_then(|row| row.get(c).copied().flatten())
            .filter(|v| v.is_finite())
    };
    let present: Vec<f64> = (0..rows.len())
        .flat_map(|r| (0..columns.len()).filter_map(move |c| value(r, c)))
        .collect();
    let scale = if diverging {
        ColourScale::diverging(&present)
    } else {
        ColourScale::of(&present)
    };
    let widest_value = present
        .iter()
        .map(|v| chars(&format(*v)))
        .fold(1.0, f64::max);
    let cell_width = (widest_value * CHAR + 14.0).max(44.0);
    let row_labels = rows.iter().map(|r| chars(r)).fold(0.0, f64::max) * CHAR + 16.0;
    let widest_column = columns.iter().map(|c| chars(c)).fold(0.0, f64::max) * CHAR;
    // Column labels turn 45° when they do not fit over their cells.
    let slanted = widest_column > cell_width - 6.0;
    let column_labels = if slanted {
        widest_column * 0.72 + 18.0
    } else {
        24.0
    };
    let (left, top) = (row_labels, TITLE + column_labels);
    let grid_width = cell_width * columns.len() as f64;
    let grid_height = CELL_HEIGHT * rows.len() as f64;
    let bar_x = left + grid_width + 24.0;
    let bar_height = grid_height.max(120.0);
    let scale_labels = [0.0, 0.5, 1.0].map(|t| format(scale.value_at(t)));
    let width = bar_x
        + 16.0
        + 8.0
        + scale_labels.iter().map(|l| chars(l)).fold(0.0, f64::max) * CHAR
        + 12.0;
    let width = width.max(chars(title) * 8.2 + 16.0);
    let height = top + bar_height.max(grid_height) + 16.0;

    let mut body = String::new();
    let _ = write!(
        body,
        "{}",
        Element::svg("text")
            .attr("class", "heatmap-title")
            .at("x", 8.0)
            .at("y", 22.0)
            .attr("font-size", 15)
            .attr("font-weight", "bold")
            .attr("fill", INK)
            .text(title)
    );
    for (c, name) in columns.iter().enumerate() {
        let x = left + (c as f64 + 0.5) * cell_width;
        let y = top - 8.0;
        let mut label = Element::svg("text")
            .attr("class", "column-label")
            .at("x", x)
            .at("y", y)
            .attr("font-size", 12.5)
            .attr("fill", INK);
        label = if slanted {
            label.attr(
                "transform",
                format!("rotate(-45 {} {})", coordinate(x), coordinate(y)),
            )
        } else {
            label.attr("text-anchor", "middle")
        };
        body += &label.text(name).to_string();
    }
    for (r, name) in rows.iter().enumerate() {
        body += &Element::svg("text")
            .attr("class", "row-label")
            .at("x", left - 8.0)
            .at("y", top + (r as f64 + 0.5) * CELL_HEIGHT + 4.5)
            .attr("text-anchor", "end")
            .attr("font-size", 12.5)
            .attr("fill", INK)
            .text(name)
            .to_string();
        for (c, column) in columns.iter().enumerate() {
            let (x, y) = (left + c as f64 * cell_width, top + r as f64 * CELL_HEIGHT);
            let (fill, text, ink) = match value(r, c) {
                Some(v) => {
                    let fill = scale.colour(v);
                    let ink = text_colour(&fill);
                    (fill, format(v), ink)
                }
                None => ("#eeeeee".to_string(), "—".to_string(), MUTED),
            };
            let tooltip = format!("{name}, {column}: {text}");
            body += &Element::svg("g")
                .attr("class", "cell")
                .title(tooltip)
                .raw(&format!(
                    "{}{}",
                    Element::svg("rect")
                        .at("x", x)
                        .at("y", y)
                        .at("width", cell_width)
                        .at("height", CELL_HEIGHT)
                        .attr("fill", fill)
                        .attr("stroke", "#ffffff"),
                    Element::svg("text")
                        .at("x", x + cell_width / 2.0)
                        .at("y", y + CELL_HEIGHT / 2.0 + 4.5)
                        .attr("text-anchor", "middle")
                        .attr("font-size", 12.5)
                        .attr("fill", ink)
                        .text(&text)
                ))
                .to_string();
        }
    }
    // The colour scale: high at the top.
    let mut bar = String::new();
    let step = bar_height / BAR_STEPS as f64;
    for i in 0..BAR_STEPS {
        let t = 1.0 - (i as f64 + 0.5) / BAR_STEPS as f64;
        bar += &Element::svg("rect")
            .at("x", bar_x)
            .at("y", top + i as f64 * step)
            .at("width", 16.0)
            .at("height", step + 0.5)
            .attr("fill", scale.colour(scale.value_at(t)))
            .to_string();
    }
    for (label, t) in scale_labels.iter().zip([0.0, 0.5, 1.0]) {
        bar += &Element::svg("text")
            .at("x", bar_x + 22.0)
            .at("y", top + (1.0 - t) * bar_height + 4.5)
            .attr("font-size", 12)
            .attr("fill", INK)
            .text(label)
            .to_string();
    }
    body += &Element::svg("g")
        .attr("class", "colour-scale")
        .title(match scale {
            ColourScale::Diverging { .. } => "colour scale: blue below zero, red above",
            ColourScale::Sequential { .. } => "colour scale: dark low, yellow high",
        })
        .raw(&bar)
        .to_string();
    let drawing = svg::root("heatmap", width, height, title)
        .line(svg::background())
        .raw(&body)
        .newline();
    Element::html("figure")
        .attr("class", "heatmap")
        .newline()
        .line(drawing)
        .to_string()
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_sign_is_sequential_both_signs_diverge_around_zero() {
        assert_eq!(
            ColourScale::of(&[1.0, 3.0]),
            ColourScale::Sequential {
                low: 1.0,
                high: 3.0
            }
        );
        let diverging = ColourScale::of(&[-1.0, 4.0]);
        assert_eq!(diverging, ColourScale::Diverging { limit: 4.0 });
        assert_eq!(diverging.colour(0.0), "#f7f7f7");
        assert_eq!(diverging.colour(4.0), "#b2182b");
        assert_eq!(diverging.colour(-4.0), "#2166ac");
        assert_eq!(ColourScale::of(&[2.0, 2.0]).position(2.0), 0.5);
        assert_eq!(ColourScale::of(&[]).position(0.3), 0.3);
    }

    #[test]
    fn text_stays_readable_on_every_cell() {
        assert_eq!(text_colour("#440154"), "#ffffff");
        assert_eq!(text_colour("#fde725"), INK);
        assert_eq!(text_colour("#f7f7f7"), INK);
        assert_eq!(text_colour("#2166ac"), "#ffffff");
    }
}
