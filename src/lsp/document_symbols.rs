//! The outline an editor shows (`textDocument/documentSymbol`): the header with its settings,
//! each class with its heads, then the other statements (edges, expectations, …) in order.
//! From the statements that parse, so a half-typed line hides only itself.

use lsp_types::{DocumentSymbol, SymbolKind};

use crate::dsl::ast::{
    ClassDef, EdgeDef, Endpoint, ExpectDef, Header, Span, Spanned, Statement, StatementKind,
};
use crate::dsl::parser::quote;
use crate::lsp::document::{Document, Lines};

pub fn document_symbols(document: &Document) -> Option<Vec<DocumentSymbol>> {
    let file = document.syntax()?;
    let text = document.text.as_str();
    let lines = Lines::new(text);
    let mut out = vec![header(&file.header, &lines)];
    out.extend(
        file.statements
            .iter()
            .map(|statement| statement_symbol(statement, text, &lines)),
    );
    Some(out)
}

/// `deprecated` is a field every constructor must fill, deprecated itself.
#[allow(deprecated)]
fn symbol(
    name: String,
    detail: Option<String>,
    kind: SymbolKind,
    (range, selection): (Span, Span),
    lines: &Lines,
    children: Vec<DocumentSymbol>,
) -> DocumentSymbol {
    DocumentSymbol {
        // Clients refuse an empty name.
        name: if name.is_empty() { "?".into() } else { name },
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: lines.range(range),
        selection_range: lines.range(selection),
        children: (!children.is_empty()).then_some(children),
    }
}

fn header(header: &Header, lines: &Lines) -> DocumentSymbol {
    let settings = header
        .settings
        .iter()
        .map(|setting| {
            let whole = Span {
                start: setting.key.span.start,
                end: setting.value.span.end,
            };
            let value = &setting.value.value;
            let value = if setting.quoted {
                quote(value)
            } else {
                value.clone()
            };
            symbol(
                setting.key.value.keyword().to_string(),
                Some(value),
                SymbolKind::PROPERTY,
                (whole, setting.key.span),
                lines,
                Vec::new(),
            )
        })
        .collect();
    let detail = header
        .extends
        .as_ref()
        .map(|extends| format!("extends {}", quote(&extends.value)));
    symbol(
        format!("circuit {}", header.name.value),
        detail,
        SymbolKind::MODULE,
        (header.span, header.name.span),
        lines,
        settings,
    )
}

fn statement_symbol(statement: &Statement, text: &str, lines: &Lines) -> DocumentSymbol {
    let span = statement.span;
    match &statement.kind {
        StatementKind::Class(def) => class(def, span, lines),
        StatementKind::Edge(def) => {
            let name = edge_text(def, text);
            symbol(
                name,
                None,
                SymbolKind::OPERATOR,
                (span, span),
                lines,
                Vec::new(),
            )
        }
        StatementKind::Expect(def) => {
            let name = expect_text(def, text);
            let selection = def.metric.span;
            symbol(
                name,
                None,
                SymbolKind::CONSTANT,
                (span, selection),
                lines,
                Vec::new(),
            )
        }
        StatementKind::Mlp(_) => statement_text(span, text, SymbolKind::ARRAY, lines),
        StatementKind::Minimality(_) => statement_text(span, text, SymbolKind::FUNCTION, lines),
        StatementKind::Add { .. } => statement_text(span, text, SymbolKind::FIELD, lines),
        StatementKind::RemoveClass(_)
        | StatementKind::RemoveHead(_)
        | StatementKind::RemoveEdge(_)
        | StatementKind::RemoveExpect { .. } => statement_text(span, text, SymbolKind::NULL, lines),
    }
}

fn class(def: &ClassDef, span: Span, lines: &Lines) -> DocumentSymbol {
    let heads = def
        .heads
        .iter()
        .map(|head| {
            let name = head.value.to_string();
            let spans = (head.span, head.span);
            symbol(name, None, SymbolKind::FIELD, spans, lines, Vec::new())
        })
        .collect();
    symbol(
        def.name.value.clone(),
        def.description.clone(),
        SymbolKind::CLASS,
        (span, def.name.span),
        lines,
        heads,
    )
}

/// A statement shown as written, on one line.
fn statement_text(span: Span, text: &str, kind: SymbolKind, lines: &Lines) -> DocumentSymbol {
    let name = written(text, span);
    symbol(name, None, kind, (span, span), lines, Vec::new())
}

/// `a, b -> c.q`.
fn edge_text(def: &EdgeDef, text: &str) -> String {
    let side = |endpoints: &[Spanned<Endpoint>]| {
        endpoints
            .iter()
            .map(|endpoint| written(text, endpoint.span))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("{} -> {}", side(&def.sources), side(&def.targets))
}

/// `faithfulness >= 0.8`.
fn expect_text(def: &ExpectDef, text: &str) -> String {
    format!(
        "{} {} {}",
        written(text, def.metric.span),
        def.comparison.symbol(),
        written(text, def.value.span)
    )
}

/// The text of a span (no strings in it) with its whitespace, line breaks included,
/// collapsed to single spaces, and without comments.
fn written(text: &str, span: Span) -> String {
    text[span.start..span.end]
        .lines()
        .map(|line| line.split('#').next().unwrap_or(""))
        .flat_map(str::split_whitespace)
        .collect::<Vec<_>>()
        .join(" ")
}
