//! Charts framed by plotters: it lays out the title, the axes with their ticks, labels and
//! descriptions, and the grid, into SVG. The marks (bars, points, intervals, reference lines)
//! are then written by each chart as SVG elements of their own, placed through the frame's
//! pixel mapping: plotters' SVG backend can give an element neither a class nor a tooltip,
//! and with both a reader can hover a bar for its figures and a test can count the bars.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use crate::report::html::markup::Element;
use crate::report::html::svg::{self, INK};

/// One chart: its size, title, legend and axes.
pub struct Frame<'a> {
    /// CSS classes of the `<svg>`, after `chart`: what the chart is (`minimality`, …).
    pub class: &'a str,
    pub title: &'a str,
    /// Drawn under the title, in as many rows as it needs (the chart grows to hold them).
    pub legend: Vec<Key>,
    pub width: u32,
    pub height: u32,
    pub x: Axis<'a>,
    pub y: Axis<'a>,
}

/// A legend entry: a colour, how it is drawn, what it means.
pub struct Key {
    pub colour: String,
    pub swatch: Swatch,
    pub label: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Swatch {
    Square,
    Line,
    Dashed,
}

impl Key {
    pub fn new(colour: impl Into<String>, swatch: Swatch, label: impl Into<String>) -> Self {
        Self {
            colour: colour.into(),
            swatch,
            label: label.into(),
        }
    }

    /// Its width in the legend: swatch, label at about 7.5 px a character, spacing.
    fn width(&self) -> f64 {
        22.0 + 7.5 * self.label.chars().count() as f64 + 18.0
    }
}

const LEGEND_ROW: f64 = 20.0;

pub struct Axis<'a> {
    /// The axis description, drawn beside it.
    pub label: &'a str,
    pub scale: Scale<'a>,
}

pub enum Scale<'a> {
    /// Numbers over a range, ticks where plotters puts them.
    Values {
        range: Range<f64>,
        /// A tick label: the value, with the decimals (in the data's unit) the ticks need.
        format: fn(f64, usize) -> String,
    },
    /// One band per name, centred on 0, 1, 2, …
    Categories(&'a [String]),
}

impl Scale<'_> {
    fn range(&self) -> Range<f64> {
        match self {
            Scale::Values { range, .. } => range.clone(),
            Scale::Categories(names) => -0.5..names.len().max(1) as f64 - 0.5,
        }
    }

    /// The decimals the tick labels need: see `tick_decimals`.
    fn decimals(&self) -> usize {
        match self {
            Scale::Values { range, .. } => {
                tick_decimals(&RangedCoordf64::from(range.clone()).key_points(TICKS))
            }
            Scale::Categories(_) => 0,
        }
    }

    fn label(&self, value: f64, decimals: usize) -> String {
        match self {
            Scale::Values { format, .. } => format(value, decimals),
            Scale::Categories(names) => {
                let index = value.round();
                if (value - index).abs() < 1e-6 && index >= 0.0 {
                    names.get(index as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            }
        }
    }
}

/// The ticks plotters labels on an axis of values at most (its default).
const TICKS: usize = 11;

/// The fewest decimals that write every tick as it is (ticks are round numbers) and tell
/// every two neighbouring ticks apart: 0.0001 apart, ticks need 4.
pub fn tick_decimals(ticks: &[f64]) -> usize {
    let size = ticks
        .iter()
        .filter(|t| t.is_finite())
        .fold(f64::MIN_POSITIVE, |m, t| m.max(t.abs()));
    let round = |value: f64, decimals: usize| {
        let factor = 10f64.powi(decimals as i32);
        (value * factor).round() / factor
    };
    (0..MAX_DECIMALS)
        .find(|&d| {
            ticks
                .iter()
                .all(|&t| (round(t, d) - t).abs() <= 1e-9 * size)
                && ticks.windows(2).all(|w| round(w[0], d) != round(w[1], d))
        })
        .unwrap_or(MAX_DECIMALS)
}

const MAX_DECIMALS: usize = 15;

/// An axis as plotters sees it: a linear f64 range whose ticks are plotters' own for values,
/// and the band centres for categories.
#[derive(Clone)]
struct Coordinate {
    range: Range<f64>,
    categories: Option<usize>,
}

impl Ranged for Coordinate {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        RangedCoordf64::from(self.range.clone()).map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        match self.categories {
            Some(n) => (0..n).map(|i| i as f64).collect(),
            None => RangedCoordf64::from(self.range.clone()).key_points(hint),
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// Where data lands in the SVG, in pixels, matching plotters' axes.
pub struct Pixels {
    x: (Range<f64>, Range<f64>),
    y: (Range<f64>, Range<f64>),
}

impl Pixels {
    pub fn x(&self, value: f64) -> f64 {
        linear(&self.x, value)
    }

    pub fn y(&self, value: f64) -> f64 {
        linear(&self.y, value)
    }

    /// The plotting area's left and right edges.
    pub fn left_right(&self) -> (f64, f64) {
        (self.x.1.start, self.x.1.end)
    }

    /// The plotting area's bottom and top edges (bottom is the larger).
    pub fn bottom_top(&self) -> (f64, f64) {
        (self.y.1.start, self.y.1.end)
    }

    /// Pixels per unit along x (for band widths).
    pub fn x_scale(&self) -> f64 {
        (self.x.1.end - self.x.1.start) / (self.x.0.end - self.x.0.start)
    }

    pub fn y_scale(&self) -> f64 {
        (self.y.1.start - self.y.1.end) / (self.y.0.end - self.y.0.start)
    }

    /// The data ranges the axes show.
    pub fn x_range(&self) -> Range<f64> {
        self.x.0.clone()
    }

    pub fn y_range(&self) -> Range<f64> {
        self.y.0.clone()
    }
}

fn linear((data, pixels): &(Range<f64>, Range<f64>), value: f64) -> f64 {
    pixels.start + (value - data.start) / (data.end - data.start) * (pixels.end - pixels.start)
}

/// A range that plotters can draw: finite, not empty, padded by `pad` of its width.
pub fn padded(low: f64, high: f64, pad: f64) -> Range<f64> {
    let (low, high) = match (low.is_finite(), high.is_finite()) {
        (true, true) if low <= high => (low, high),
        (true, _) => (low, low),
        (_, true) => (high, high),
        _ => (0.0, 1.0),
    };
    let width = if high > low {
        high - low
    } else {
        low.abs().max(1.0)
    };
    (low - pad * width)..(high + pad * width)
}

/// The chart: plotters' frame, then `marks(pixels)` drawn over it. Returns an `<svg>` element
/// for inline use in HTML, with the title as its accessible name.
pub fn chart(frame: &Frame, marks: impl FnOnce(&Pixels) -> String) -> String {
    let (x_range, y_range) = (frame.x.scale.range(), frame.y.scale.range());
    let rows = legend_rows(&frame.legend, f64::from(frame.width) - 24.0);
    let legend_height = if rows.is_empty() {
        0.0
    } else {
        rows.len() as f64 * LEGEND_ROW + 4.0
    };
    let height = frame.height + legend_height as u32;
    let mut svg = String::new();
    let pixels;
    let legend_top;
    {
        let root = SVGBackend::with_string(&mut svg, (frame.width, height)).into_drawing_area();
        root.fill(&WHITE).expect("drawing into a String");
        let titled = root
            .titled(frame.title, ("sans-serif", 20).into_font().color(&ink()))
            .expect("drawing into a String");
        legend_top = f64::from(titled.get_pixel_range().1.start);
        let (_, plot) = titled.split_vertically(legend_height as i32);
        let longest = |scale: &Scale| match scale {
            Scale::Categories(names) => names.iter().map(|n| n.chars().count()).max().unwrap_or(1),
            Scale::Values { range, format } => {
                let decimals = scale.decimals();
                format(range.start, decimals)
                    .chars()
                    .count()
                    .max(format(range.end, decimals).chars().count())
            }
        };
        // Room for the tick labels (about 8 px a character at 13 px) and the description.
        let y_area = (longest(&frame.y.scale) as u32 * 8 + 38).clamp(56, 280);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(y_area)
            .build_cartesian_2d(
                Coordinate {
                    range: x_range.clone(),
                    categories: categories(&frame.x.scale),
                },
                Coordinate {
                    range: y_range.clone(),
                    categories: categories(&frame.y.scale),
                },
            )
            .expect("drawing into a String");
        let (x_decimals, y_decimals) = (frame.x.scale.decimals(), frame.y.scale.decimals());
        let x_label = |v: &f64| frame.x.scale.label(*v, x_decimals);
        let y_label = |v: &f64| frame.y.scale.label(*v, y_decimals);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(frame.x.label)
            .y_desc(frame.y.label)
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(("sans-serif", 16).into_font().color(&ink()))
            .axis_desc_style(("sans-serif", 16).into_font().color(&ink()))
            .max_light_lines(4)
            .bold_line_style(RGBColor(0, 0, 0).mix(0.12))
            .light_line_style(RGBColor(0, 0, 0).mix(0.05))
            .axis_style(RGBColor(0x6e, 0x77, 0x81));
        // Category axes: a label per band, no grid line through the bars.
        if let Some(n) = categories(&frame.x.scale) {
            mesh.disable_x_mesh().x_labels(n.max(1));
        }
        if let Some(n) = categories(&frame.y.scale) {
            mesh.disable_y_mesh().y_labels(n.max(1));
        }
        mesh.draw().expect("drawing into a String");
        let at = |x: f64, y: f64| {
            let (px, py) = chart.backend_coord(&(x, y));
            (f64::from(px), f64::from(py))
        };
        let (x0, y0) = at(x_range.start, y_range.start);
        let (x1, y1) = at(x_range.end, y_range.end);
        pixels = Pixels {
            x: (x_range.clone(), x0..x1),
            y: (y_range.clone(), y0..y1),
        };
        root.present().expect("drawing into a String");
    }
    let drawn = marks(&pixels) + &legend(&rows, 12.0, legend_top);
    inline(&svg, frame, height, &drawn)
}

/// The legend's keys in rows that fit `width`.
fn legend_rows(keys: &[Key], width: f64) -> Vec<Vec<&Key>> {
    let mut rows: Vec<Vec<&Key>> = Vec::new();
    let mut used = f64::INFINITY;
    for key in keys {
        if used + key.width() > width {
            rows.push(Vec::new());
            used = 0.0;
        }
        rows.last_mut().expect("pushed above").push(key);
        used += key.width();
    }
    rows
}

fn legend(rows: &[Vec<&Key>], left: f64, top: f64) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as f64 * LEGEND_ROW + 14.0;
        let mut x = left;
        for key in row {
            let swatch = match key.swatch {
                Swatch::Square => Element::svg("rect")
                    .at("x", x + 4.0)
                    .at("y", y - 10.0)
                    .at("width", 12.0)
                    .at("height", 12.0)
                    .attr("fill", &key.colour),
                Swatch::Line | Swatch::Dashed => {
                    let line = Element::svg("line")
                        .at("x1", x)
                        .at("y1", y - 4.0)
                        .at("x2", x + 18.0)
                        .at("y2", y - 4.0)
                        .attr("stroke", &key.colour)
                        .attr("stroke-width", 2);
                    if key.swatch == Swatch::Dashed {
                        line.attr("stroke-dasharray", "5 3")
                    } else {
                        line
                    }
                }
            };
            out += &swatch.to_string();
            out += &Element::svg("text")
                .at("x", x + 22.0)
                .at("y", y)
                .attr("font-size", 13)
                .attr("fill", INK)
                .text(&key.label)
                .to_string();
            x += key.width();
        }
    }
    if out.is_empty() {
        return out;
    }
    Element::svg("g")
        .attr("class", "legend")
        .raw(&out)
        .to_string()
        + "\n"
}

fn categories(scale: &Scale) -> Option<usize> {
    match scale {
        Scale::Categories(names) => Some(names.len()),
        Scale::Values { .. } => None,
    }
}

fn ink() -> RGBColor {
    let [r, g, b] = svg::rgb(INK);
    RGBColor(r, g, b)
}

/// plotters' document inside our own `<svg>` (`svg::root`), the marks at the end.
fn inline(plotted: &str, frame: &Frame, height: u32, marks: &str) -> String {
    let body = plotted.find('>').map_or("", |end| &plotted[end + 1..]);
    let body = body.trim_end().strip_suffix("</svg>").unwrap_or(body);
    let class = format!("chart {}", frame.class);
    svg::root(
        &class,
        f64::from(frame.width),
        f64::from(height),
        frame.title,
    )
    .raw(body)
    .line(
        Element::svg("g")
            .attr("class", "marks")
            .newline()
            .raw(marks),
    )
    .to_string()
        + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_land_on_plotters_axes() {
        let names = ["a".to_string(), "b".to_string()];
        let mut seen = None;
        let svg = chart(
            &Frame {
                class: "test",
                title: "A <title>",
                legend: vec![Key::new("#000000", Swatch::Square, "a key")],
                width: 400,
                height: 300,
                x: Axis {
                    label: "x",
                    scale: Scale::Categories(&names),
                },
                y: Axis {
                    label: "y",
                    scale: Scale::Values {
                        range: 0.0..10.0,
                        format: |v, _| format!("{v:.0}"),
                    },
                },
            },
            |px| {
                seen = Some((px.x(0.0), px.x(1.0), px.y(0.0), px.y(10.0)));
                "<circle class=\"mark\"/>".to_string()
            },
        );
        let (a, b, bottom, top) = seen.unwrap();
        assert!(a < b && top < bottom, "{a} {b} {bottom} {top}");
        assert!(svg.starts_with("<svg class=\"chart test\""), "{svg}");
        assert!(svg.contains("<title>A &lt;title&gt;</title>"));
        assert!(svg.contains("<g class=\"marks\">\n<circle class=\"mark\"/><g class=\"legend\">"));
        assert!(svg.contains(">a key</text>"));
        assert!(!svg.contains("http"), "no namespace URL: {svg}");
        // The category names are the x tick labels, the y ticks plotters' own.
        assert!(
            svg.contains(">\na\n</text>") || svg.contains(">a</text>"),
            "{svg}"
        );
        assert_eq!(svg.matches("<svg").count(), 1);
    }

    #[test]
    fn ticks_get_the_decimals_that_tell_them_apart() {
        assert_eq!(tick_decimals(&[0.0, 0.2, 0.4, 0.6]), 1);
        assert_eq!(tick_decimals(&[0.0, 250.0, 500.0]), 0);
        assert_eq!(tick_decimals(&[-0.0002, -0.0001, 0.0, 0.0001]), 4);
        assert_eq!(tick_decimals(&[0.1 + 0.2, 0.4]), 1);
        assert_eq!(tick_decimals(&[]), 0);
        // Plotters' own ticks over a range of 0.001.
        let ticks = RangedCoordf64::from(-0.0011..0.0002).key_points(TICKS);
        let decimals = tick_decimals(&ticks);
        let labels: Vec<String> = ticks.iter().map(|t| format!("{t:.decimals$}")).collect();
        let mut distinct = labels.clone();
        distinct.dedup();
        assert!(ticks.len() > 2 && distinct == labels, "{labels:?}");
    }

    #[test]
    fn padded_ranges_are_never_empty() {
        assert_eq!(padded(0.0, 1.0, 0.1), -0.1..1.1);
        let flat = padded(2.0, 2.0, 0.1);
        assert!(flat.start < flat.end);
        assert_eq!(padded(f64::NAN, f64::INFINITY, 0.0), 0.0..1.0);
    }
}
