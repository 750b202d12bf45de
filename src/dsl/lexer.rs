//! The one lexer of the `.circuit` language, for the readers that cannot wait for a parse:
//! `trivia` (comments), the language server's `outline`, `completion` and
//! `semantic_tokens`, and the tests that count comments. It follows `grammar/circuit.pest`
//! (whitespace, `#` comments, strings, numbers and heads, names, `->` and comparisons; a
//! unit test in `parser` holds it to the grammar) and never fails: every byte of any text
//! belongs to exactly one token, in order.

use crate::dsl::ast::Span;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A run of the grammar's `WHITESPACE`: spaces, tabs, `\r` and `\n`.
    Whitespace,
    /// `#` up to the end of the line (the `\n` not included).
    Comment,
    /// A quoted string with its quotes (`\"` and `\\` escape); one left open ends before
    /// the end of its line.
    String,
    /// A name or keyword: an ASCII letter or `_`, then letters, digits, `_`, and `-` or `+`
    /// between them (`gpt2-small`, `S1+1`; never the `-` of `->`).
    Word,
    /// Digits, with a fraction when a digit follows the dot: a number or a head (`9.9`).
    Number,
    /// `->`.
    Arrow,
    /// `>=`, `<=`, `>` or `<`.
    Comparison,
    /// Any other ASCII character, alone (`{`, `}`, `,`, `.`, `(`, `-`, ...).
    Punct,
    /// A character the grammar has no use for outside strings and comments (non-ASCII).
    Other,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub span: Span,
}

impl Token {
    pub fn text<'a>(&self, text: &'a str) -> &'a str {
        &text[self.span.start..self.span.end]
    }
}

/// The grammar's `WHITESPACE`.
pub const WHITESPACE: [char; 4] = [' ', '\t', '\r', '\n'];

/// The tokens of `text`, in order; their spans cover it without gap or overlap.
pub fn lex(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let (kind, length) = next(&text[start..]);
        let length = length.max(1);
        out.push(Token {
            kind,
            span: Span {
                start,
                end: start + length,
            },
        });
        start += length;
    }
    out
}

/// The kind and byte length of the token `rest` starts with.
fn next(rest: &str) -> (TokenKind, usize) {
    let bytes = rest.as_bytes();
    match bytes[0] {
        b' ' | b'\t' | b'\r' | b'\n' => (
            TokenKind::Whitespace,
            rest.find(|c: char| !WHITESPACE.contains(&c))
                .unwrap_or(rest.len()),
        ),
        b'#' => (TokenKind::Comment, rest.find('\n').unwrap_or(rest.len())),
        b'"' => (TokenKind::String, string_length(rest)),
        b'-' if rest.starts_with("->") => (TokenKind::Arrow, 2),
        b'>' | b'<' => (
            TokenKind::Comparison,
            1 + usize::from(bytes.get(1) == Some(&b'=')),
        ),
        b'0'..=b'9' => (TokenKind::Number, number_length(rest)),
        c if c.is_ascii_alphabetic() || c == b'_' => (TokenKind::Word, word_length(rest)),
        c if c.is_ascii() => (TokenKind::Punct, 1),
        _ => (
            TokenKind::Other,
            rest.chars().next().map_or(1, char::len_utf8),
        ),
    }
}

/// Up to the closing quote (`\"` escapes one), or the end of the line (a string never
/// holds a line break).
fn string_length(rest: &str) -> usize {
    let mut escaped = false;
    for (i, c) in rest.char_indices().skip(1) {
        match c {
            '\n' => return i,
            '"' if !escaped => return i + 1,
            _ => escaped = !escaped && c == '\\',
        }
    }
    rest.len()
}

/// `12`, `0.8`, `9.9`: digits, and a fraction when a digit follows the dot.
fn number_length(rest: &str) -> usize {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let whole = digits(rest);
    match rest[whole..].strip_prefix('.') {
        Some(fraction) if fraction.starts_with(|c: char| c.is_ascii_digit()) => {
            whole + 1 + digits(fraction)
        }
        _ => whole,
    }
}

/// Letters, digits, `_`, and `-` or `+` before a letter or digit.
fn word_length(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let joined = (matches!(c, b'-' | b'+')
            && bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphanumeric()))
            // A dot before a digit, as in model names (`qwen2.5-0.5b`); `b.k` stays apart.
            || (c == b'.' && bytes.get(i + 1).is_some_and(|n| n.is_ascii_digit()));
        if !(c.is_ascii_alphanumeric() || c == b'_' || joined) {
            break;
        }
        i += 1;
    }
    i
}

/// Every comment, as `fmt` writes its text: where it starts, and what follows the `#` (one
/// leading space and any trailing whitespace dropped).
pub fn comments(text: &str) -> impl Iterator<Item = (usize, &str)> {
    lex(text)
        .into_iter()
        .filter(|token| token.kind == TokenKind::Comment)
        .map(move |token| {
            let body = text[token.span.start + 1..token.span.end].trim_end();
            (token.span.start, body.strip_prefix(' ').unwrap_or(body))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(TokenKind, &str)> {
        lex(text)
            .into_iter()
            .filter(|t| t.kind != TokenKind::Whitespace)
            .map(|t| (t.kind, t.text(text)))
            .collect()
    }

    #[test]
    fn a_statement() {
        use TokenKind::*;
        assert_eq!(
            kinds("edge n_m, 9.9.q->b.k # to b\nexpect faithfulness >= -0.8"),
            [
                (Word, "edge"),
                (Word, "n_m"),
                (Punct, ","),
                (Number, "9.9"),
                (Punct, "."),
                (Word, "q"),
                (Arrow, "->"),
                (Word, "b"),
                (Punct, "."),
                (Word, "k"),
                (Comment, "# to b"),
                (Word, "expect"),
                (Word, "faithfulness"),
                (Comparison, ">="),
                (Punct, "-"),
                (Number, "0.8"),
            ]
        );
        assert_eq!(
            kinds("model qwen2.5-0.5b b.k"),
            [
                (Word, "model"),
                (Word, "qwen2.5-0.5b"),
                (Word, "b"),
                (Punct, "."),
                (Word, "k"),
            ]
        );
        assert_eq!(
            kinds("model gpt2-small at S1+1, a-->b 9. x"),
            [
                (Word, "model"),
                (Word, "gpt2-small"),
                (Word, "at"),
                (Word, "S1+1"),
                (Punct, ","),
                (Word, "a"),
                (Punct, "-"),
                (Arrow, "->"),
                (Word, "b"),
                (Number, "9"),
                (Punct, "."),
                (Word, "x"),
            ]
        );
    }

    #[test]
    fn strings_hold_hashes_and_escapes() {
        use TokenKind::*;
        let text = r#"class a "b # not \"a\" comment\\" at END # but this is"#;
        assert_eq!(kinds(text)[2], (String, r#""b # not \"a\" comment\\""#));
        assert_eq!(
            comments(text).collect::<Vec<_>>(),
            [(text.find("# but").unwrap(), "but this is")]
        );
    }

    #[test]
    fn comments_end_at_the_line_end() {
        let text = "a # one  \r\n#two\n#\nb";
        assert_eq!(
            comments(text).collect::<Vec<_>>(),
            [(2, "one"), (11, "two"), (16, "")]
        );
        assert_eq!(lex(text).last().map(|t| t.text(text)), Some("b"));
    }

    #[test]
    fn unterminated_strings_end_at_the_line() {
        use TokenKind::*;
        assert_eq!(
            kinds("\"open # x\nb"),
            [(String, "\"open # x"), (Word, "b")]
        );
        assert_eq!(
            kinds("\"a\\\nb\""),
            [(String, "\"a\\"), (Word, "b"), (String, "\"")]
        );
        assert_eq!(kinds("\"esc\\"), [(String, "\"esc\\")]);
        assert_eq!(kinds("\""), [(String, "\"")]);
    }

    #[test]
    fn unicode_is_one_token_a_character() {
        use TokenKind::*;
        assert_eq!(
            kinds("é\u{a0}x😀 \"ü # ß\" # ünï"),
            [
                (Other, "é"),
                (Other, "\u{a0}"),
                (Word, "x"),
                (Other, "😀"),
                (String, "\"ü # ß\""),
                (Comment, "# ünï"),
            ]
        );
    }

    #[test]
    fn any_text_is_covered_without_panicking() {
        let samples = [
            "",
            "circuit c extends \"b.circuit\" {\n  task ioi\n}\nclass a at all { 9.9 }\n",
            "\"\\",
            "#",
            "->-><=>=<>\u{0}\u{7f}\t\r\n",
            "é\"é\\é#é\né",
            "9.9.9..1-2+3_a+-b",
        ];
        for sample in samples {
            for (cut, _) in sample.char_indices().chain([(sample.len(), ' ')]) {
                let text = &sample[..cut];
                let tokens = lex(text);
                let mut at = 0;
                for token in &tokens {
                    assert_eq!(token.span.start, at, "{text:?}");
                    assert!(token.span.end > at, "{text:?}");
                    at = token.span.end;
                }
                assert_eq!(at, text.len(), "{text:?}");
                comments(text).for_each(drop);
            }
        }
    }
}
