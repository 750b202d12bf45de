//! What a file says about itself that completion and hover need even while it does not
//! parse (it rarely does while being typed): the file it extends, its settings and the
//! classes it defines. From the syntax tree when there is one, else from its tokens.

use crate::dsl::ast::{self, SettingKey, Span, StatementKind};
use crate::dsl::lexer::{TokenKind, lex};
use crate::dsl::parser::{quote, unquote};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outline {
    pub extends: Option<String>,
    /// As written: a quoted value keeps its quotes.
    pub settings: Vec<(SettingKey, String)>,
    /// Class names and descriptions, in the order written.
    pub classes: Vec<(String, Option<String>)>,
}

impl Outline {
    pub fn of(syntax: Option<&ast::File>, text: &str) -> Outline {
        match syntax {
            Some(file) => Outline::from_syntax(file),
            None => Outline::from_tokens(&tokens(text)),
        }
    }

    fn from_syntax(file: &ast::File) -> Outline {
        let header = &file.header;
        Outline {
            extends: header.extends.as_ref().map(|e| e.value.clone()),
            settings: header
                .settings
                .iter()
                .map(|s| {
                    // A quoted value (a task file's path) keeps its quotes, as in the text.
                    let value = if s.quoted {
                        quote(&s.value.value)
                    } else {
                        s.value.value.clone()
                    };
                    (s.key.value, value)
                })
                .collect(),
            classes: file
                .statements
                .iter()
                .filter_map(|statement| match &statement.kind {
                    StatementKind::Class(def) => {
                        Some((def.name.value.clone(), def.description.clone()))
                    }
                    _ => None,
                })
                .collect(),
        }
    }

    /// `circuit NAME [extends "FILE"] { KEY VALUE ... }`, then every `class NAME ["TEXT"]`.
    fn from_tokens(tokens: &[&str]) -> Outline {
        let mut outline = Outline::default();
        if let ["circuit", _, "extends", path, ..] = tokens
            && path.starts_with('"')
        {
            outline.extends = Some(unquote(path));
        }
        let open = tokens.iter().position(|t| *t == "{");
        let close = tokens.iter().position(|t| *t == "}");
        if let (Some(open), Some(close)) = (open, close)
            && open < close
        {
            for pair in tokens[open + 1..close].windows(2) {
                if let Some(key) = SettingKey::ALL.iter().find(|k| k.keyword() == pair[0]) {
                    outline.settings.push((*key, pair[1].to_string()));
                }
            }
        }
        for (i, window) in tokens.windows(2).enumerate() {
            let after_remove = i > 0 && tokens[i - 1] == "remove";
            if window[0] == "class" && !after_remove && is_name(window[1]) {
                let description = tokens
                    .get(i + 2)
                    .filter(|t| t.starts_with('"'))
                    .map(|t| unquote(t));
                outline.classes.push((window[1].to_string(), description));
            }
        }
        outline
    }

    pub fn setting(&self, key: SettingKey) -> Option<&str> {
        self.settings
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, value)| value.as_str())
    }
}

fn is_name(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')
}

/// The tokens of a text: words (`name_mover.q`, `9.9`, `S1+1`, `global-mean`), strings
/// with their quotes, `->`, and single punctuation; comments skipped. The lexer's words,
/// numbers and `.`, `+`, `-` run together here, as completion reads them.
pub fn tokens(text: &str) -> Vec<&str> {
    let mut spans: Vec<Span> = Vec::new();
    let mut joins = false;
    for token in lex(text) {
        let piece = token.text(text);
        let wordy = match token.kind {
            TokenKind::Word | TokenKind::Number => true,
            TokenKind::Punct => piece.starts_with(is_word_char),
            _ => false,
        };
        match token.kind {
            TokenKind::Whitespace | TokenKind::Comment => {}
            _ if wordy && joins => spans.last_mut().expect("a word before").end = token.span.end,
            TokenKind::Punct | TokenKind::Other if piece.starts_with(char::is_whitespace) => {}
            // `>=` is two pieces here.
            TokenKind::Comparison => {
                spans.extend((token.span.start..token.span.end).map(|start| Span {
                    start,
                    end: start + 1,
                }))
            }
            _ => spans.push(token.span),
        }
        joins = wordy;
    }
    spans
        .into_iter()
        .map(|span| &text[span.start..span.end])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_of_a_half_written_file() {
        let text = "circuit v extends \"b\\\"x.circuit\" { # note\n  task ioi\n}\n\
                    class a \"Desc\" at S1+1 { 9.9 }\nedge a->b.q\nremove class c\nclass";
        assert_eq!(
            tokens(text),
            [
                "circuit",
                "v",
                "extends",
                "\"b\\\"x.circuit\"",
                "{",
                "task",
                "ioi",
                "}",
                "class",
                "a",
                "\"Desc\"",
                "at",
                "S1+1",
                "{",
                "9.9",
                "}",
                "edge",
                "a",
                "->",
                "b.q",
                "remove",
                "class",
                "c",
                "class"
            ]
        );
        assert_eq!(
            tokens("a >= -0.8 \u{a0}é\x0c x--> \"b\\\"\n"),
            ["a", ">", "=", "-0.8", "é", "x-", "->", "\"b\\\""]
        );
        let outline = Outline::of(None, text);
        assert_eq!(outline.extends.as_deref(), Some("b\"x.circuit"));
        assert_eq!(outline.setting(SettingKey::Task), Some("ioi"));
        assert_eq!(
            outline.classes,
            [("a".to_string(), Some("Desc".to_string()))]
        );
    }
}
