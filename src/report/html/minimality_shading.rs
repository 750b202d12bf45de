//! Each head's chip on the hypothesis graph filled by its minimality as a fraction of F(M),
//! in five steps of one hue, darker for a head that matters more; a key names the steps.
//! The steps are fixed, so that two pages shade alike.

use std::collections::BTreeMap;

use crate::dsl::Head;
use crate::eval::schema::Report;
use crate::report::html::layered::text_width;
use crate::report::html::markup::Element;
use crate::report::html::svg::INK;

/// Each measured head's minimality as a fraction of F(M).
pub type Measured = BTreeMap<Head, f64>;

/// The key's height and its text size; a swatch's side.
pub(crate) const KEY_HEIGHT: f64 = 24.0;
const KEY_SIZE: f64 = 12.0;
const SWATCH: f64 = 14.0;

/// The steps: below each bound (a fraction of F(M)), a fill (ColorBrewer's YlOrBr), the
/// ink readable on it, and the step's name in the key.
const STEPS: [(f64, &str, &str, &str); 5] = [
    (0.01, "#ffffd4", INK, "< 1 %"),
    (0.05, "#fed98e", INK, "1–5 %"),
    (0.10, "#fe9929", INK, "5–10 %"),
    (0.25, "#cc4c02", "#ffffff", "10–25 %"),
    (f64::INFINITY, "#8c2d04", "#ffffff", "≥ 25 %"),
];

/// Each head's minimality in `report`, as a fraction of F(M).
pub fn measured(report: &Report) -> Measured {
    report
        .minimality
        .iter()
        .map(|m| (m.head, m.relative.value))
        .collect()
}

/// The fill of a chip whose head's minimality is `fraction` of F(M), and its text's ink.
pub fn fill(fraction: f64) -> (&'static str, &'static str) {
    let step = STEPS
        .iter()
        .find(|(bound, ..)| fraction < *bound)
        .unwrap_or(&STEPS[STEPS.len() - 1]);
    (step.1, step.2)
}

/// The key to the chips' fills, its top at `(x, y)`, on a line; and its width.
pub(crate) fn key(x: f64, y: f64) -> (String, f64) {
    let baseline = y + KEY_SIZE;
    let label = |at: f64, words: &str| {
        Element::svg("text")
            .at("x", at)
            .at("y", baseline)
            .at("font-size", KEY_SIZE)
            .attr("fill", INK)
            .text(words)
    };
    let title = "Head minimality, of F(M):";
    let mut group = Element::svg("g")
        .attr("class", "key minimality")
        .child(label(x, title));
    let mut at = x + text_width(title, KEY_SIZE, false) + 6.0;
    for (_, fill, _, words) in STEPS {
        group = group.child(
            Element::svg("rect")
                .at("x", at)
                .at("y", baseline - SWATCH + 2.0)
                .at("width", SWATCH)
                .at("height", SWATCH)
                .at("rx", 3.0)
                .attr("fill", fill)
                .attr("stroke", "#8c2d04"),
        );
        at += SWATCH + 4.0;
        group = group.child(label(at, words));
        at += text_width(words, KEY_SIZE, false) + 10.0;
    }
    (format!("{group}\n"), at - x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Darker for more, each step at its bound, past the last the last.
    #[test]
    fn a_chip_is_filled_by_its_minimality_step() {
        assert_eq!(fill(-0.2), ("#ffffd4", INK));
        assert_eq!(fill(0.0099), ("#ffffd4", INK));
        assert_eq!(fill(0.01), ("#fed98e", INK));
        assert_eq!(fill(0.07), ("#fe9929", INK));
        assert_eq!(fill(0.2), ("#cc4c02", "#ffffff"));
        assert_eq!(fill(0.25), ("#8c2d04", "#ffffff"));
        assert_eq!(fill(3.0), ("#8c2d04", "#ffffff"));
    }
}
