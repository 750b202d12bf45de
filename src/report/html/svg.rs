//! Hand-written SVG and HTML, piece by piece: escaping, elements with their attributes, and
//! the palette every chart of the HTML report shares.

use std::fmt::{self, Display, Write as _};

/// Text for HTML and SVG, in element content or in a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate for an attribute: two decimals at most, and never `NaN` or `inf` (which
/// would make the element invalid: such marks are not drawn, but a stray one lands at 0).
pub fn coordinate(value: f64) -> String {
    if !value.is_finite() {
        return "0".to_string();
    }
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// One element: `Tag::new("rect").at("x", 3.0).set("class", "bar").title("…")`.
pub struct Tag {
    name: &'static str,
    attributes: String,
    title: Option<String>,
    content: String,
}

impl Tag {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            attributes: String::new(),
            title: None,
            content: String::new(),
        }
    }

    /// An attribute, escaped.
    pub fn set(mut self, key: &str, value: impl Display) -> Self {
        let _ = write!(self.attributes, " {key}=\"{}\"", escape(&value.to_string()));
        self
    }

    /// A numeric attribute (a coordinate or a length).
    pub fn at(self, key: &str, value: f64) -> Self {
        self.set(key, coordinate(value))
    }

    /// A tooltip: SVG's `<title>` child, which browsers show on hover and screen readers read.
    pub fn title(mut self, text: impl Into<String>) -> Self {
        self.title = Some(text.into());
        self
    }

    /// Text content, escaped.
    pub fn text(mut self, text: &str) -> Self {
        self.content.push_str(&escape(text));
        self
    }

    /// Markup content, as it is.
    pub fn raw(mut self, markup: &str) -> Self {
        self.content.push_str(markup);
        self
    }
}

impl Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}{}", self.name, self.attributes)?;
        if self.title.is_none() && self.content.is_empty() {
            return f.write_str("/>");
        }
        f.write_str(">")?;
        if let Some(title) = &self.title {
            write!(f, "<title>{}</title>", escape(title))?;
        }
        write!(f, "{}</{}>", self.content, self.name)
    }
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
    fn escaping_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn tags_escape_attributes_and_text() {
        let tag = Tag::new("text")
            .at("x", 1.005)
            .set("class", "a\"b")
            .title("<t>")
            .text("1 < 2");
        assert_eq!(
            tag.to_string(),
            "<text x=\"1\" class=\"a&quot;b\"><title>&lt;t&gt;</title>1 &lt; 2</text>"
        );
        assert_eq!(
            Tag::new("line").at("y", -0.001).to_string(),
            "<line y=\"0\"/>"
        );
        assert_eq!(coordinate(f64::NAN), "0");
        assert_eq!(coordinate(12.5), "12.5");
    }

    #[test]
    fn tints_move_towards_white() {
        assert_eq!(tint("#000000", 0.5), "#808080");
        assert_eq!(tint("#0072B2", 0.0), "#0072b2");
        assert_eq!(tint("#0072B2", 1.0), "#ffffff");
    }
}
