//! What every drawing of the HTML report shares: the `<svg>` element around it, and the
//! palette.

use crate::report::html::markup::{Element, coordinate};

/// The opening of an inline `<svg>` (no namespace, which inline SVG in HTML does not need):
/// its classes, a scalable size, and the title as its accessible name, then as its first
/// child. The caller adds the drawing and closes it.
pub fn root(class: &str, width: f64, height: f64, title: &str) -> Element {
    let (width, height) = (coordinate(width), coordinate(height));
    Element::svg("svg")
        .attr("class", class)
        .attr("viewBox", format!("0 0 {width} {height}"))
        .attr("width", &width)
        .attr("height", &height)
        .attr("role", "img")
        .attr("aria-label", title)
        .newline()
        .line(Element::svg("title").text(title))
}

/// The white background of a drawing.
pub fn background() -> Element {
    Element::svg("rect")
        .attr("width", "100%")
        .attr("height", "100%")
        .attr("fill", "#ffffff")
}

/// Paul Tol's "muted" qualitative colours, told apart with the common colour-vision
/// deficiencies; classes take them in order and reuse them past the ninth.
pub const PALETTE: [&str; 9] = [
    "#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933",
    "#AA4499",
];

pub fn palette(index: usize) -> &'static str {
    PALETTE[index % PALETTE.len()]
}

/// The colours of the marks that are not classes.
pub const INK: &str = "#1f2328";
pub const MUTED: &str = "#6e7781";
pub const ACCENT: &str = "#0072B2";
pub const WARN: &str = "#D55E00";

/// `colour` (`#rrggbb`) mixed with white: `amount` 0 is the colour, 1 is white.
pub fn tint(colour: &str, amount: f64) -> String {
    let [r, g, b] = rgb(colour);
    let mix = |c: u8| (f64::from(c) + (255.0 - f64::from(c)) * amount.clamp(0.0, 1.0)).round();
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(r) as u8,
        mix(g) as u8,
        mix(b) as u8
    )
}

/// The channels of `#rrggbb` (black for anything else).
pub fn rgb(colour: &str) -> [u8; 3] {
    let hex = colour.trim_start_matches('#');
    let channel = |i: usize| {
        hex.get(i..i + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0)
    };
    if hex.len() == 6 {
        [channel(0), channel(2), channel(4)]
    } else {
        [0, 0, 0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tints_move_towards_white() {
        assert_eq!(tint("#000000", 0.5), "#808080");
        assert_eq!(tint("#0072B2", 0.0), "#0072b2");
        assert_eq!(tint("#0072B2", 1.0), "#ffffff");
    }
}
