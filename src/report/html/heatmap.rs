//! A heat map for HTML reports: rows × columns of values, each cell coloured and its value
//! printed, with a colour scale beside it. Values of both signs get a diverging scale
//! (blue below zero, red above, white at zero, symmetric); values of one sign a sequential
//! one (viridis). Both read in greyscale and with the common colour-vision deficiencies.
//! Hand-written SVG: cells with centred text and a stepped colour bar are simpler to draw
//! directly than through plotters' axes, which add nothing to a grid of labelled cells.

use crate::report::html::markup::{Element, coordinate};
use crate::report::html::svg::{self, INK, MUTED, rgb};

// The layout, in pixels. Text is measured by its characters: about 7.4 px each at the
// labels' 12.5 px, 8.2 px at the title's 15 px bold.
const CHAR: f64 = 7.4;
const TITLE_CHAR: f64 = 8.2;
/// The band the title sits in, above the column labels, and the title's baseline in it.
const TITLE_HEIGHT: f64 = 34.0;
const TITLE_BASELINE: f64 = 22.0;
/// Space on the left of the title and of the figure, and between a label and the grid.
const INSET: f64 = 8.0;
const CELL_HEIGHT: f64 = 28.0;
/// A cell is as wide as its widest value plus this, and at least `MIN_CELL_WIDTH`.
const CELL_PADDING: f64 = 14.0;
const MIN_CELL_WIDTH: f64 = 44.0;
/// From a row's centre down to the baseline of the text on it.
const BASELINE_DROP: f64 = 4.5;
const ROW_LABEL_PADDING: f64 = 16.0;
/// Upright column labels take this band; a label wider than its cell less
/// `SLANT_CLEARANCE` turns 45°, and its band grows to `SLANT_RISE` of the label's length
/// (sin 45° ≈ 0.71) plus `SLANT_PADDING`.
const COLUMN_LABEL_HEIGHT: f64 = 24.0;
const SLANT_CLEARANCE: f64 = 6.0;
const SLANT_RISE: f64 = 0.72;
const SLANT_PADDING: f64 = 18.0;
/// The colour bar: its gap from the grid, width, least height, steps; its labels' offset
/// from its left edge, and the room kept beside them.
const BAR_GAP: f64 = 24.0;
const BAR_WIDTH: f64 = 16.0;
const MIN_BAR_HEIGHT: f64 = 120.0;
const BAR_STEPS: usize = 24;
const BAR_LABEL_X: f64 = 22.0;
const BAR_LABEL_MARGIN: f64 = 8.0;
const RIGHT_PADDING: f64 = 12.0;
const BOTTOM_PADDING: f64 = 16.0;
/// Where the colour bar's labels stand: low, middle, high.
const BAR_LABELS: [f64; 3] = [0.0, 0.5, 1.0];

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
    draw(title, rows, columns, values, format, None)
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
    draw(title, rows, columns, values, format, Some(None))
}

/// `diverging_heatmap` whose colours reach their ends at ±`limit` (at least the values'
/// own reach), so that heat maps shown together share one scale.
pub fn diverging_heatmap_within(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
    format: fn(f64) -> String,
    limit: f64,
) -> String {
    draw(title, rows, columns, values, format, Some(Some(limit)))
}

/// Where everything of a heat map goes.
struct Layout {
    cell_width: f64,
    /// The grid's top-left corner.
    left: f64,
    top: f64,
    slanted: bool,
    bar_x: f64,
    bar_height: f64,
    width: f64,
    height: f64,
}

impl Layout {
    fn new(
        title: &str,
        (rows, columns): (&[String], &[String]),
        widest_value: f64,
        scale_labels: &[String],
    ) -> Self {
        let widest = |texts: &[String]| texts.iter().map(|t| chars(t)).fold(0.0, f64::max);
        let cell_width = (widest_value * CHAR + CELL_PADDING).max(MIN_CELL_WIDTH);
        let left = widest(rows) * CHAR + ROW_LABEL_PADDING;
        let widest_column = widest(columns) * CHAR;
        // Column labels turn 45° when they do not fit over their cells.
        let slanted = widest_column > cell_width - SLANT_CLEARANCE;
        let column_labels = if slanted {
            widest_column * SLANT_RISE + SLANT_PADDING
        } else {
            COLUMN_LABEL_HEIGHT
        };
        let top = TITLE_HEIGHT + column_labels;
        let grid_width = cell_width * columns.len() as f64;
        let grid_height = CELL_HEIGHT * rows.len() as f64;
        let bar_x = left + grid_width + BAR_GAP;
        let bar_height = grid_height.max(MIN_BAR_HEIGHT);
        let width =
            bar_x + BAR_WIDTH + BAR_LABEL_MARGIN + widest(scale_labels) * CHAR + RIGHT_PADDING;
        let width = width.max(chars(title) * TITLE_CHAR + 2.0 * INSET);
        let height = top + bar_height.max(grid_height) + BOTTOM_PADDING;
        Self {
            cell_width,
            left,
            top,
            slanted,
            bar_x,
            bar_height,
            width,
            height,
        }
    }
}

fn draw(
    title: &str,
    rows: &[String],
    columns: &[String],
    values: &[Vec<Option<f64>>],
    format: fn(f64) -> String,
    // Diverging (with its limit, if given) or automatic.
    diverging: Option<Option<f64>>,
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
    let scale = match diverging {
        Some(limit) => ColourScale::diverging(&[&present[..], &Vec::from_iter(limit)].concat()),
        None => ColourScale::of(&present),
    };
    let widest_value = present
        .iter()
        .map(|v| chars(&format(*v)))
        .fold(1.0, f64::max);
    let scale_labels = BAR_LABELS.map(|t| format(scale.value_at(t)));
    let layout = Layout::new(title, (rows, columns), widest_value, &scale_labels);

    let mut body = heading(title).to_string();
    for (c, name) in columns.iter().enumerate() {
        body += &column_label(&layout, c, name).to_string();
    }
    for (r, name) in rows.iter().enumerate() {
        body += &row_label(&layout, r, name).to_string();
        for (c, column) in columns.iter().enumerate() {
            let shown = value(r, c).map(|v| (scale.colour(v), format(v)));
            let tooltip = format!("{name}, {column}: ");
            body += &cell(&layout, (r, c), shown, tooltip).to_string();
        }
    }
    body += &colour_bar(&layout, &scale, &scale_labels).to_string();
    let drawing = svg::root("heatmap", layout.width, layout.height, title)
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

fn heading(title: &str) -> Element {
    Element::svg("text")
        .attr("class", "heatmap-title")
        .at("x", INSET)
        .at("y", TITLE_BASELINE)
        .attr("font-size", 15)
        .attr("font-weight", "bold")
        .attr("fill", INK)
        .text(title)
}

/// Column `c`'s name over its cells, upright and centred or slanted.
fn column_label(layout: &Layout, c: usize, name: &str) -> Element {
    let x = layout.left + (c as f64 + 0.5) * layout.cell_width;
    let y = layout.top - INSET;
    let label = Element::svg("text")
        .attr("class", "column-label")
        .at("x", x)
        .at("y", y)
        .attr("font-size", 12.5)
        .attr("fill", INK);
    let label = if layout.slanted {
        label.attr(
            "transform",
            format!("rotate(-45 {} {})", coordinate(x), coordinate(y)),
        )
    } else {
        label.attr("text-anchor", "middle")
    };
    label.text(name)
}

/// Row `r`'s name, right-aligned against the grid.
fn row_label(layout: &Layout, r: usize, name: &str) -> Element {
    Element::svg("text")
        .attr("class", "row-label")
        .at("x", layout.left - INSET)
        .at(
            "y",
            layout.top + (r as f64 + 0.5) * CELL_HEIGHT + BASELINE_DROP,
        )
        .attr("text-anchor", "end")
        .attr("font-size", 12.5)
        .attr("fill", INK)
        .text(name)
}

/// The cell of row `r` and column `c`: its colour and printed value, or a grey dash when
/// it has none; the tooltip starts with `tooltip` and ends with what the cell shows.
fn cell(
    layout: &Layout,
    (r, c): (usize, usize),
    shown: Option<(String, String)>,
    tooltip: String,
) -> Element {
    let (x, y) = (
        layout.left + c as f64 * layout.cell_width,
        layout.top + r as f64 * CELL_HEIGHT,
    );
    let (fill, text, ink) = match shown {
        Some((fill, text)) => {
            let ink = text_colour(&fill);
            (fill, text, ink)
        }
        None => ("#eeeeee".to_string(), "—".to_string(), MUTED),
    };
    Element::svg("g")
        .attr("class", "cell")
        .title(tooltip + &text)
        .child(
            Element::svg("rect")
                .at("x", x)
                .at("y", y)
                .at("width", layout.cell_width)
                .at("height", CELL_HEIGHT)
                .attr("fill", fill)
                .attr("stroke", "#ffffff"),
        )
        .child(
            Element::svg("text")
                .at("x", x + layout.cell_width / 2.0)
                .at("y", y + CELL_HEIGHT / 2.0 + BASELINE_DROP)
                .attr("text-anchor", "middle")
                .attr("font-size", 12.5)
                .attr("fill", ink)
                .text(&text),
        )
}

/// The colour scale beside the grid, high at the top, with its labels.
fn colour_bar(layout: &Layout, scale: &ColourScale, labels: &[String]) -> Element {
    let mut bar = Element::svg("g")
        .attr("class", "colour-scale")
        .title(match scale {
            ColourScale::Diverging { .. } => "colour scale: blue below zero, red above",
            ColourScale::Sequential { .. } => "colour scale: dark low, yellow high",
        });
    let step = layout.bar_height / BAR_STEPS as f64;
    for i in 0..BAR_STEPS {
        let t = 1.0 - (i as f64 + 0.5) / BAR_STEPS as f64;
        bar = bar.child(
            Element::svg("rect")
                .at("x", layout.bar_x)
                .at("y", layout.top + i as f64 * step)
                .at("width", BAR_WIDTH)
                .at("height", step + 0.5)
                .attr("fill", scale.colour(scale.value_at(t))),
        );
    }
    for (label, t) in labels.iter().zip(BAR_LABELS) {
        bar = bar.child(
            Element::svg("text")
                .at("x", layout.bar_x + BAR_LABEL_X)
                .at(
                    "y",
                    layout.top + (1.0 - t) * layout.bar_height + BASELINE_DROP,
                )
                .attr("font-size", 12)
                .attr("fill", INK)
                .text(label),
        );
    }
    bar
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
