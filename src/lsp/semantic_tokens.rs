//! Highlighting (`textDocument/semanticTokens/full`) for editors that have no use for the
//! TextMate grammar (Neovim, Helix). The text is read word by word, so a half-typed line is
//! coloured too; a name takes its role (class, position, metric, setting value) from the
//! statements that parse, else from the class names the file and its bases define.

use std::collections::HashMap;

use lsp_types::{SemanticToken, SemanticTokenType, SemanticTokens, SemanticTokensLegend, Url};

use crate::dsl::ast::{SettingKey, Span};
use crate::dsl::lexer::{self, TokenKind};
use crate::dsl::parser::KEYWORDS;
use crate::lsp::document::Lines;
use crate::lsp::symbols::{Symbol, classes, symbols};
use crate::lsp::workspace::Workspace;

/// The token types, in the legend's order (a token's type is its index here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Keyword,
    Namespace,
    Class,
    /// A head, `9.9`.
    Variable,
    /// A task position.
    EnumMember,
    /// A metric of `expect`.
    Function,
    /// A setting's value, a channel.
    Property,
    Number,
    String,
    Comment,
    Operator,
}

const TYPES: [SemanticTokenType; 11] = [
    SemanticTokenType::KEYWORD,
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::CLASS,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::ENUM_MEMBER,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::NUMBER,
    SemanticTokenType::STRING,
    SemanticTokenType::COMMENT,
    SemanticTokenType::OPERATOR,
];

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: Vec::new(),
    }
}

pub fn semantic_tokens(workspace: &Workspace, uri: &Url) -> Option<SemanticTokens> {
    let document = workspace.document(uri)?;
    let chain = workspace.chain(&document.path);
    let text = document.text.as_str();
    let mut roles: HashMap<usize, Kind> = HashMap::new();
    let mut header_end = None;
    if let Some(file) = &chain.files[0].syntax {
        roles.insert(file.header.name.span.start, Kind::Namespace);
        header_end = Some(file.header.span.end);
        for (symbol, span) in symbols(file) {
            if let Some(kind) = role(&symbol) {
                roles.insert(span.start, kind);
            }
        }
    }
    let classes: Vec<String> = classes(&chain).into_iter().map(|(name, _)| name).collect();
    // Without a tree, settings are known by their place: before the header's `}`.
    let header_end = header_end.unwrap_or_else(|| text.find('}').unwrap_or(text.len()));
    let mut tokens = Vec::new();
    for (span, lexeme) in lex(text) {
        let kind = match lexeme {
            Lexeme::Word => {
                let word = &text[span.start..span.end];
                let known = roles.get(&span.start).copied();
                known.or_else(|| word_kind(word, span.start < header_end, &classes))
            }
            Lexeme::Fixed(kind) => Some(kind),
        };
        if let Some(kind) = kind {
            tokens.push((span, kind));
        }
    }
    Some(SemanticTokens {
        result_id: None,
        data: encode(text, &tokens),
    })
}

fn role(symbol: &Symbol) -> Option<Kind> {
    Some(match symbol {
        Symbol::Class { .. } => Kind::Class,
        Symbol::Head(_) | Symbol::Mlp(_) => Kind::Variable,
        Symbol::Position(_) => Kind::EnumMember,
        Symbol::Metric(_) => Kind::Function,
        Symbol::SettingKey(_) | Symbol::Embed | Symbol::Logits => Kind::Keyword,
        Symbol::SettingValue(..) => Kind::Property,
        Symbol::Extends(_) => return None,
    })
}

/// A word the tree says nothing about (it is in a line that does not parse).
fn word_kind(word: &str, in_header: bool, classes: &[String]) -> Option<Kind> {
    let setting = SettingKey::ALL.iter().any(|key| key.keyword() == word);
    if KEYWORDS.contains(&word) || matches!(word, "embed" | "logits") || (in_header && setting) {
        Some(Kind::Keyword)
    } else if classes.iter().any(|class| class == word) {
        Some(Kind::Class)
    } else if word.starts_with("mlp.") {
        Some(Kind::Variable)
    } else {
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Lexeme {
    /// A name, whose role depends on where it stands.
    Word,
    Fixed(Kind),
}

/// The highlighted pieces of a text, in order: comments, strings, operators, numbers and
/// heads, channels (`.q`), and words; from the lexer's tokens, read in context.
fn lex(text: &str) -> Vec<(Span, Lexeme)> {
    let tokens = lexer::lex(text);
    let mut out: Vec<(Span, Lexeme)> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let piece = token.text(text);
        let following = tokens.get(i + 1).map(|next| (next.kind, next.text(text)));
        let at = token.span.start;
        let (span, lexeme) = match (token.kind, piece, following) {
            (TokenKind::Comment, ..) => (token.span, Some(Kind::Comment)),
            (TokenKind::String, ..) => (token.span, Some(Kind::String)),
            (TokenKind::Arrow | TokenKind::Comparison, ..) => (token.span, Some(Kind::Operator)),
            (TokenKind::Punct, ".", Some((TokenKind::Word, next)))
                if after_name(&out, at) && is_channel(next) =>
            {
                i += 1;
                (span(at, 2), Some(Kind::Property))
            }
            (TokenKind::Punct, "-", Some((TokenKind::Number, next)))
                if after_comparison(text, &out) =>
            {
                i += 1;
                (span(at, 1 + next.len()), Some(Kind::Number))
            }
            (TokenKind::Number, ..) => {
                let number = !piece.contains('.') || after_comparison(text, &out);
                let kind = if number { Kind::Number } else { Kind::Variable };
                (token.span, Some(kind))
            }
            (TokenKind::Word, ..) => {
                out.push((token.span, Lexeme::Word));
                i += 1;
                continue;
            }
            _ => (token.span, None),
        };
        if let Some(kind) = lexeme {
            out.push((span, Lexeme::Fixed(kind)));
        }
        i += 1;
    }
    out
}

fn span(start: usize, length: usize) -> Span {
    Span {
        start,
        end: start + length,
    }
}

/// `q`, `k` or `v` alone.
fn is_channel(word: &str) -> bool {
    matches!(word, "q" | "k" | "v")
}

/// Whether a name or head ends right at `at` (the dot of `name_mover.q`, `9.9.q`).
fn after_name(out: &[(Span, Lexeme)], at: usize) -> bool {
    out.last().is_some_and(|(span, lexeme)| {
        span.end == at && matches!(lexeme, Lexeme::Word | Lexeme::Fixed(Kind::Variable))
    })
}

/// Whether the last piece is a comparison (`expect … >= 0.8`: a number, not a head).
fn after_comparison(text: &str, out: &[(Span, Lexeme)]) -> bool {
    matches!(out.last(), Some((span, Lexeme::Fixed(Kind::Operator)))
        if &text[span.start..span.end] != "->")
}

/// LSP's encoding: each token's line and start relative to the token before, lengths in
/// UTF-16 units (a token never spans lines).
fn encode(text: &str, tokens: &[(Span, Kind)]) -> Vec<SemanticToken> {
    let lines = Lines::new(text);
    let mut out = Vec::with_capacity(tokens.len());
    let (mut line, mut column) = (0, 0);
    for (span, kind) in tokens {
        let start = lines.position(span.start);
        let length: usize = text[span.start..span.end]
            .chars()
            .map(char::len_utf16)
            .sum();
        let delta_line = start.line - line;
        let delta_start = if delta_line == 0 {
            start.character - column
        } else {
            start.character
        };
        out.push(SemanticToken {
            delta_line,
            delta_start,
            length: length as u32,
            token_type: *kind as u32,
            token_modifiers_bitset: 0,
        });
        (line, column) = (start.line, start.character);
    }
    out
}
