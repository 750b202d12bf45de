//! The one builder of the HTML report's markup, HTML and SVG alike: an element escapes its
//! text and attribute values, and refuses an attribute set twice (a browser keeps only the
//! first, so a second is a bug). Markup built elsewhere (a fragment of this builder, plotters'
//! SVG, the stylesheet) goes in through `raw`, by name.

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

/// How an element closes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `<p></p>`, even when empty.
    Html,
    /// `<meta …>`: no content, no closing tag.
    Void,
    /// `<rect …/>` when empty.
    Svg,
}

/// One element: `Element::svg("rect").at("x", 3.0).attr("class", "bar").title("…")`.
pub struct Element {
    name: &'static str,
    kind: Kind,
    attributes: String,
    keys: Vec<&'static str>,
    title: Option<String>,
    content: String,
}

impl Element {
    fn new(name: &'static str, kind: Kind) -> Self {
        Self {
            name,
            kind,
            attributes: String::new(),
            keys: Vec::new(),
            title: None,
            content: String::new(),
        }
    }

    /// An HTML element.
    pub fn html(name: &'static str) -> Self {
        Self::new(name, Kind::Html)
    }

    /// An HTML void element (`meta`), which has neither content nor a closing tag.
    pub fn void(name: &'static str) -> Self {
        Self::new(name, Kind::Void)
    }

    /// An SVG element, self-closing when it is empty.
    pub fn svg(name: &'static str) -> Self {
        Self::new(name, Kind::Svg)
    }

    /// An attribute, escaped. Panics if the element has it already.
    pub fn attr(mut self, key: &'static str, value: impl Display) -> Self {
        assert!(
            !self.keys.contains(&key),
            "<{}> given the attribute `{key}` twice",
            self.name
        );
        let _ = write!(self.attributes, " {key}=\"{}\"", escape(&value.to_string()));
        self.keys.push(key);
        self
    }

    /// A numeric attribute (a coordinate or a length).
    pub fn at(self, key: &'static str, value: f64) -> Self {
        self.attr(key, coordinate(value))
    }

    /// An attribute whose value is a constant of the program, as it is: for values that
    /// must keep a character `escape` would replace (the `'none'` of a
    /// Content-Security-Policy). The constant may hold no `"`, `&`, `<` or `>`.
    pub fn constant(self, key: &'static str, value: &'static str) -> Self {
        assert!(
            !value.contains(['"', '&', '<', '>']),
            "`{value}` needs escaping"
        );
        assert!(!self.keys.contains(&key), "`{key}` given twice");
        let mut element = self;
        let _ = write!(element.attributes, " {key}=\"{value}\"");
        element.keys.push(key);
        element
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

    /// Prose of the program, as it is: its apostrophes stay (`text` would write `&#39;`).
    /// It may hold no `"`, `&`, `<` or `>`.
    pub fn prose(mut self, text: &'static str) -> Self {
        assert!(
            !text.contains(['"', '&', '<', '>']),
            "`{text}` needs escaping"
        );
        self.content.push_str(text);
        self
    }

    /// A child element.
    pub fn child(mut self, child: Element) -> Self {
        let _ = write!(self.content, "{child}");
        self
    }

    /// A child element on a line of its own (followed by a line break).
    pub fn line(self, child: Element) -> Self {
        self.child(child).newline()
    }

    /// A line break in the content.
    pub fn newline(mut self) -> Self {
        self.content.push('\n');
        self
    }

    /// Markup content, as it is: fragments built with `Element` elsewhere, or plotters' SVG.
    pub fn raw(mut self, markup: &str) -> Self {
        self.content.push_str(markup);
        self
    }
}

impl Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}{}", self.name, self.attributes)?;
        match self.kind {
            Kind::Void => {
                debug_assert!(self.content.is_empty() && self.title.is_none());
                return f.write_str(">");
            }
            Kind::Svg if self.title.is_none() && self.content.is_empty() => {
                return f.write_str("/>");
            }
            _ => f.write_str(">")?,
        }
        if let Some(title) = &self.title {
            write!(f, "<title>{}</title>", escape(title))?;
        }
        write!(f, "{}</{}>", self.content, self.name)
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
    fn elements_escape_attributes_and_text() {
        let tag = Element::svg("text")
            .at("x", 1.005)
            .attr("class", "a\"b")
            .title("<t>")
            .text("1 < 2");
        assert_eq!(
            tag.to_string(),
            "<text x=\"1\" class=\"a&quot;b\"><title>&lt;t&gt;</title>1 &lt; 2</text>"
        );
        assert_eq!(
            Element::svg("line").at("y", -0.001).to_string(),
            "<line y=\"0\"/>"
        );
        assert_eq!(coordinate(f64::NAN), "0");
        assert_eq!(coordinate(12.5), "12.5");
    }

    #[test]
    fn html_elements_close_even_when_empty_and_void_ones_never() {
        assert_eq!(Element::html("th").to_string(), "<th></th>");
        let meta = Element::void("meta").constant("content", "default-src 'none'");
        assert_eq!(meta.to_string(), "<meta content=\"default-src 'none'\">");
        let list = Element::html("ul")
            .newline()
            .line(Element::html("li").text("a"));
        assert_eq!(list.to_string(), "<ul>\n<li>a</li>\n</ul>");
    }

    #[test]
    #[should_panic(expected = "twice")]
    fn a_repeated_attribute_is_refused() {
        let _ = Element::svg("rect")
            .attr("fill", "red")
            .attr("fill", "blue");
    }
}
