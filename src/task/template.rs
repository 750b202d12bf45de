//! Templates (`Then, [B] and [A] went to the [PLACE].`) and references to placeholder
//! occurrences in them (`B`, `B#2`, `B+1`, `end`).

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Text(String),
    Slot(String),
}

/// Splits a template into text and `[PLACEHOLDER]` slots.
pub fn parse(template: &str) -> Result<Vec<Segment>, String> {
    let mut segments = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        if open > 0 {
            segments.push(Segment::Text(rest[..open].to_string()));
        }
        let close = rest[open..].find(']').ok_or_else(|| {
            format!(
                "`[` at byte {} is never closed",
                template.len() - rest.len() + open
            )
        })?;
        let name = &rest[open + 1..open + close];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`[{name}]` is not a placeholder name"));
        }
        segments.push(Segment::Slot(name.to_string()));
        rest = &rest[open + close + 1..];
    }
    if !rest.is_empty() {
        segments.push(Segment::Text(rest.to_string()));
    }
    Ok(segments)
}

/// A placeholder occurrence, optionally shifted by a number of tokens; or the last token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    End,
    Occurrence {
        placeholder: String,
        /// 1-based.
        nth: usize,
        offset: i64,
    },
}

pub fn parse_anchor(text: &str) -> Result<Anchor, String> {
    let text = text.trim();
    if text == "end" {
        return Ok(Anchor::End);
    }
    let (base, offset) = match text.find(['+', '-']) {
        Some(i) => {
            // Digits only (no second sign), and few enough to add to a token index.
            let digits = &text[i + 1..];
            let offset: i64 = digits
                .parse::<u16>()
                .ok()
                .filter(|_| digits.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| format!("bad offset in `{text}`"))?
                .into();
            (
                &text[..i],
                if &text[i..i + 1] == "-" {
                    -offset
                } else {
                    offset
                },
            )
        }
        None => (text, 0),
    };
    let (placeholder, nth) = match base.split_once('#') {
        Some((p, n)) => (
            p,
            n.parse::<usize>()
                .map_err(|_| format!("bad occurrence in `{text}`"))?,
        ),
        None => (base, 1),
    };
    if placeholder.is_empty() || nth == 0 {
        return Err(format!(
            "`{text}` is not `PLACEHOLDER`, `PLACEHOLDER#k`, `PLACEHOLDER+n` or `end`"
        ));
    }
    Ok(Anchor::Occurrence {
        placeholder: placeholder.to_string(),
        nth,
        offset,
    })
}

/// The text `parse_anchor` reads: `end`, `B`, `B#2`, `B+1`.
impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Anchor::End => f.write_str("end"),
            Anchor::Occurrence {
                placeholder,
                nth,
                offset,
            } => {
                f.write_str(placeholder)?;
                if *nth > 1 {
                    write!(f, "#{nth}")?;
                }
                match offset.cmp(&0) {
                    std::cmp::Ordering::Greater => write!(f, "+{offset}"),
                    std::cmp::Ordering::Less => write!(f, "{offset}"),
                    std::cmp::Ordering::Equal => Ok(()),
                }
            }
        }
    }
}

/// How many times each placeholder occurs in a template.
pub fn occurrences(segments: &[Segment], placeholder: &str) -> usize {
    segments
        .iter()
        .filter(|s| matches!(s, Segment::Slot(p) if p == placeholder))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_split_into_text_and_slots() {
        let segments = parse("Then, [B] and [A] went").unwrap();
        assert_eq!(
            segments,
            [
                Segment::Text("Then, ".into()),
                Segment::Slot("B".into()),
                Segment::Text(" and ".into()),
                Segment::Slot("A".into()),
                Segment::Text(" went".into())
            ]
        );
        assert!(parse("a [B").is_err());
        assert!(parse("a [] b").is_err());
    }

    #[test]
    fn anchors() {
        assert_eq!(parse_anchor("end").unwrap(), Anchor::End);
        assert_eq!(
            parse_anchor("B#2").unwrap(),
            Anchor::Occurrence {
                placeholder: "B".into(),
                nth: 2,
                offset: 0
            }
        );
        assert_eq!(
            parse_anchor("B+1").unwrap(),
            Anchor::Occurrence {
                placeholder: "B".into(),
                nth: 1,
                offset: 1
            }
        );
        assert!(parse_anchor("#2").is_err());
        assert!(parse_anchor("B#0").is_err());
    }
}
