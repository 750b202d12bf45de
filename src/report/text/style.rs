//! Terminal styling: ANSI colours (`anstyle`) when writing to a terminal, plain text
//! otherwise, and columns aligned by display width (`unicode-width`).

use anstyle::{AnsiColor, Effects};
use unicode_width::UnicodeWidthStr;

pub const BOLD: anstyle::Style = anstyle::Style::new().effects(Effects::BOLD);
pub const DIM: anstyle::Style = anstyle::Style::new().effects(Effects::DIMMED);
pub const RED: anstyle::Style = AnsiColor::Red.on_default();
pub const GREEN: anstyle::Style = AnsiColor::Green.on_default();
pub const YELLOW: anstyle::Style = AnsiColor::Yellow.on_default();

#[derive(Clone, Copy, Debug)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub fn paint(self, style: anstyle::Style, text: &str) -> String {
        if self.color {
            format!("{style}{text}{style:#}")
        } else {
            text.to_string()
        }
    }
}

/// Aligns rows of cells into columns: the first column left-aligned, the others right.
pub fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let widths: Vec<usize> = (0..rows.iter().map(Vec::len).max().unwrap_or(0))
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, cell)| {
                    let pad = widths[c] - cell.width();
                    if c == 0 {
                        format!("{cell}{}", " ".repeat(pad))
                    } else {
                        format!("{}{cell}", " ".repeat(pad))
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_are_the_ansi_codes_and_plain_text_has_none() {
        let on = Style { color: true };
        assert_eq!(on.paint(BOLD, "x"), "\x1b[1mx\x1b[0m");
        assert_eq!(on.paint(DIM, "x"), "\x1b[2mx\x1b[0m");
        assert_eq!(on.paint(RED, "x"), "\x1b[31mx\x1b[0m");
        assert_eq!(on.paint(GREEN, "x"), "\x1b[32mx\x1b[0m");
        assert_eq!(on.paint(YELLOW, "x"), "\x1b[33mx\x1b[0m");
        assert_eq!(Style { color: false }.paint(RED, "x"), "x");
    }

    #[test]
    fn columns_align_by_display_width() {
        let rows = vec![
            vec!["F(C\\K)".to_string(), "−0.5".to_string()],
            vec!["全".to_string(), "12.25".to_string()],
        ];
        assert_eq!(columns(&rows), vec!["F(C\\K)   −0.5", "全      12.25"]);
    }
}
