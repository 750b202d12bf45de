//! Text → syntax tree, with the pest grammar in `grammar/circuit.pest`. Comments are
//! collected by `trivia` and attached to the statements they sit next to.

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;
use pest_derive::Parser;

use crate::dsl::ast::*;
use crate::dsl::circuit::{Channel, Comparison, Head};
use crate::dsl::diagnostic::{Code, Diagnostic, Source};
use crate::dsl::trivia;

#[derive(Parser)]
#[grammar = "../grammar/circuit.pest"]
struct CircuitParser;

/// Parses one file. A syntax error stops parsing: it is reported alone, with what was
/// expected at that point.
pub fn parse(source: &Source) -> Result<File, Box<Diagnostic>> {
    let text: &str = source.inner();
    pest::set_error_detail(true);
    let mut pairs = CircuitParser::parse(Rule::file, text).map_err(|e| syntax_error(source, e))?;
    let file = pairs.next().expect("the file rule always yields one pair");
    let mut header = None;
    let mut statements = Vec::new();
    for pair in file.into_inner() {
        match pair.as_rule() {
            Rule::header => header = Some(header_from(pair)),
            Rule::EOI => {}
            _ => statements.push(statement_from(pair, source)?),
        }
    }
    let mut file = File {
        leading_comments: Vec::new(),
        header: header.expect("the grammar requires a header"),
        statements,
        trailing_comments: Vec::new(),
    };
    trivia::attach_comments(text, &mut file);
    Ok(file)
}

/// The words the grammar reserves (its `keyword` rule), which no name may be; a unit test
/// holds this list to `circuit.pest`.
pub const KEYWORDS: [&str; 15] = [
    "circuit",
    "extends",
    "class",
    "edge",
    "mlp",
    "expect",
    "minimality",
    "remove",
    "add",
    "at",
    "to",
    "given",
    "head",
    "all",
    "none",
];

/// The keywords a statement after the header starts with.
pub const STATEMENT_KEYWORDS: [&str; 7] = [
    "class",
    "edge",
    "mlp",
    "expect",
    "minimality",
    "remove",
    "add",
];

/// Statements a recovering parse skips before it gives up on the rest of the file: each
/// skip parses the file again, so a file of thousands of broken lines stays cheap.
const MAX_SKIPPED: usize = 64;

/// The syntax tree of the statements that parse, for a file that does not parse as a whole
/// (the language server's navigation while a line is half-typed). A statement that fails
/// is skipped up to the next line starting with a statement keyword; spans are those of the
/// real text. `None` when the header itself does not parse. `parse` stays the only judge
/// of a file: this never reports anything.
pub fn parse_partial(source: &Source) -> Option<File> {
    let text: &str = source.inner();
    let starts = statement_starts(text);
    let mut blanked = text.to_string();
    for skipped in 0.. {
        let attempt: Source = miette::NamedSource::new(source.name(), blanked.as_str().into());
        let error = match parse(&attempt) {
            Ok(file) => return Some(file),
            Err(error) => error,
        };
        if skipped > MAX_SKIPPED {
            break;
        }
        let (start, mut end) = skipped_range(&blanked, &starts, error.span.start)?;
        if skipped == MAX_SKIPPED {
            end = text.len();
        }
        blank(&mut blanked, start, end);
    }
    None
}

/// What to skip for an error at `at`: the statement it is in; only the line, when the
/// error is at the first word of a line inside a statement (a stray line); or the last
/// statement before, when it is at a statement's keyword (an unclosed `{` or a half-typed
/// edge fails only at the next keyword) unless that keyword ends the file. `None` when the
/// header is at fault.
fn skipped_range(text: &str, starts: &[usize], at: usize) -> Option<(usize, usize)> {
    let index = starts
        .partition_point(|&start| start <= at)
        .checked_sub(1)?;
    let next = |i: usize| starts.get(i + 1).copied().unwrap_or(text.len());
    let last = index + 1 == starts.len() && only_trivia(&text[at..]);
    if at <= first_word_end(text, starts[index]) && !last {
        let before = (0..index)
            .rev()
            .find(|&i| !only_trivia(&text[starts[i]..next(i)]))?;
        return Some((starts[before], next(before)));
    }
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    if line_start > starts[index] && at <= first_word_end(text, line_start) {
        return Some((line_start, next(index)));
    }
    Some((starts[index], next(index)))
}

/// Where the first word after `from` (and the spaces there) ends.
fn first_word_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let word = rest.trim_start_matches([' ', '\t']);
    let length = word
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(word.len());
    from + (rest.len() - word.len()) + length
}

/// Offsets of the lines whose first word is a statement keyword (comments and strings
/// never span lines, so a line start is never inside one).
fn statement_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let start = offset + line.len() - line.trim_start_matches([' ', '\t']).len();
        let end = first_word_end(text, start);
        // `mlp.3` on a line of its own continues an edge; it starts no statement.
        let endpoint = text[end..].starts_with('.');
        if STATEMENT_KEYWORDS.contains(&&text[start..end]) && !endpoint {
            starts.push(start);
        }
        offset += line.len();
    }
    starts
}

/// True for text of whitespace and comments only.
fn only_trivia(text: &str) -> bool {
    text.lines()
        .all(|line| line.trim().is_empty() || line.trim_start().starts_with('#'))
}

/// Replaces a range by spaces, keeping line breaks and the length, so every span after it
/// stays where it was.
fn blank(text: &mut String, start: usize, end: usize) {
    let replaced: String = text[start..end]
        .chars()
        .flat_map(|c| {
            let fill = if c == '\n' { '\n' } else { ' ' };
            std::iter::repeat_n(fill, c.len_utf8())
        })
        .collect();
    text.replace_range(start..end, &replaced);
}

fn span_of(pair: &Pair<Rule>) -> Span {
    let span = pair.as_span();
    Span {
        start: span.start(),
        end: span.end(),
    }
}

fn spanned_str(pair: &Pair<Rule>) -> Spanned<String> {
    Spanned::new(pair.as_str().to_string(), span_of(pair))
}

/// A statement's span without the whitespace and comments pest lets a trailing repetition
/// swallow (`edge a -> b  # note` must not own the next line's comment).
fn statement_span(pair: &Pair<Rule>, text: &str) -> Span {
    let full = span_of(pair);
    let last_leaf = pair
        .clone()
        .into_inner()
        .flatten()
        .filter(|p| p.clone().into_inner().next().is_none())
        .map(|p| p.as_span().end())
        .max()
        .unwrap_or(full.end);
    let rest = &text[last_leaf..full.end];
    let trimmed = rest.trim_start();
    let end = if trimmed.starts_with('}') {
        last_leaf + (rest.len() - trimmed.len()) + 1
    } else {
        last_leaf
    };
    Span {
        start: full.start,
        end: end.max(full.start),
    }
}

fn header_from(pair: Pair<Rule>) -> Header {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = spanned_str(&inner.next().expect("header name"));
    let mut extends = None;
    let mut settings = Vec::new();
    for item in inner {
        match item.as_rule() {
            Rule::extends => {
                let string = item.into_inner().next().expect("extends path");
                extends = Some(Spanned::new(unquote(string.as_str()), span_of(&string)));
            }
            Rule::setting => {
                let mut parts = item.into_inner();
                let key_pair = parts.next().expect("setting key");
                let key = match key_pair.as_str() {
                    "model" => SettingKey::Model,
                    "task" => SettingKey::Task,
                    "ablation" => SettingKey::Ablation,
                    _ => SettingKey::Level,
                };
                let value = parts.next().expect("setting value");
                let quoted = value.as_rule() == Rule::string;
                let text = if quoted {
                    unquote(value.as_str())
                } else {
                    value.as_str().to_string()
                };
                settings.push(Setting {
                    key: Spanned::new(key, span_of(&key_pair)),
                    value: Spanned::new(text, span_of(&value)),
                    quoted,
                    comments: Comments::default(),
                });
            }
            rule => unreachable!("unexpected {rule:?} in header"),
        }
    }
    Header {
        name,
        extends,
        settings,
        inner_comments: Vec::new(),
        span,
    }
}

fn statement_from(pair: Pair<Rule>, source: &Source) -> Result<Statement, Box<Diagnostic>> {
    let span = statement_span(&pair, source.inner());
    let rule = pair.as_rule();
    let mut inner = pair.into_inner();
    let kind = match rule {
        Rule::class => StatementKind::Class(class_from(inner)),
        Rule::edge => StatementKind::Edge(edge_from(inner)),
        Rule::mlp => StatementKind::Mlp(mlp_from(inner.next().expect("mlp body"), inner)),
        Rule::expect => {
            let metric = metric_from(inner.next().expect("metric"));
            let comparison = comparison_from(&inner.next().expect("comparison"));
            let number = inner.next().expect("number");
            let value = number_from(&number, source)?;
            StatementKind::Expect(ExpectDef {
                metric,
                comparison,
                value: Spanned::new(value, span_of(&number)),
            })
        }
        Rule::minimality => {
            let head = head_from(&inner.next().expect("head"));
            let given = inner.map(|member| node_from(&member)).collect();
            StatementKind::Minimality(MinimalityDef { head, given })
        }
        Rule::remove => remove_from(inner.next().expect("remove body")),
        Rule::add => {
            let mut heads = Vec::new();
            let mut class = None;
            for item in inner {
                match item.as_rule() {
                    Rule::head => heads.push(head_from(&item)),
                    _ => class = Some(spanned_str(&item)),
                }
            }
            StatementKind::Add {
                heads,
                class: class.expect("add names a class"),
            }
        }
        rule => unreachable!("unexpected statement {rule:?}"),
    };
    Ok(Statement {
        kind,
        comments: Comments::default(),
        span,
    })
}

/// A bound's value. Digits beyond f64's range would read as infinity, which `fmt` would
/// write as `inf`, which the grammar does not admit: refused here, like a syntax error.
fn number_from(pair: &Pair<Rule>, source: &Source) -> Result<f64, Box<Diagnostic>> {
    let text = pair.as_str();
    let value: f64 = text.parse().expect("the grammar admits only numbers");
    if value.is_finite() {
        return Ok(value);
    }
    let shown: String = text.chars().take(24).collect();
    let ellipsis = if shown.len() < text.len() { "…" } else { "" };
    Err(Box::new(
        Diagnostic::new(
            Code::BadNumber,
            source,
            span_of(pair),
            format!("the number `{shown}{ellipsis}` ({} digits) is too large", text.len()),
            "beyond a 64-bit float",
        )
        .with_help("bounds are compared as 64-bit floats, which reach about 1.8 × 10^308: write fewer digits"),
    ))
}

fn class_from(mut inner: pest::iterators::Pairs<Rule>) -> ClassDef {
    let name = spanned_str(&inner.next().expect("class name"));
    let mut description = None;
    let mut positions = None;
    let mut heads = Vec::new();
    for item in inner {
        match item.as_rule() {
            Rule::string => description = Some(unquote(item.as_str())),
            Rule::positions => positions = Some(positions_from(item)),
            Rule::head => heads.push(head_from(&item)),
            rule => unreachable!("unexpected {rule:?} in class"),
        }
    }
    ClassDef {
        name,
        description,
        positions: positions.expect("the grammar requires `at`"),
        heads,
    }
}

fn edge_from(mut inner: pest::iterators::Pairs<Rule>) -> EdgeDef {
    let sources = endpoints_from(inner.next().expect("sources"));
    let targets = endpoints_from(inner.next().expect("targets"));
    EdgeDef { sources, targets }
}

fn remove_from(pair: Pair<Rule>) -> StatementKind {
    let rule = pair.as_rule();
    let mut inner = pair.into_inner();
    match rule {
        Rule::remove_class => StatementKind::RemoveClass(spanned_str(&inner.next().expect("name"))),
        Rule::remove_head => StatementKind::RemoveHead(head_from(&inner.next().expect("head"))),
        Rule::remove_edge => StatementKind::RemoveEdge(edge_from(inner)),
        Rule::remove_expect => StatementKind::RemoveExpect {
            metric: metric_from(inner.next().expect("metric")),
            comparison: inner.next().map(|pair| comparison_from(&pair)),
        },
        rule => unreachable!("unexpected {rule:?} in remove"),
    }
}

fn mlp_from(first: Pair<Rule>, mut rest: pest::iterators::Pairs<Rule>) -> MlpDef {
    if first.as_rule() == Rule::none {
        return MlpDef::None(span_of(&first));
    }
    let layer_pairs: Vec<Pair<Rule>> = first.into_inner().collect();
    let layers = match layer_pairs.first().map(|pair| pair.as_rule()) {
        Some(Rule::all) => MlpLayers::All(span_of(&layer_pairs[0])),
        _ => MlpLayers::Listed(
            layer_pairs
                .iter()
                .map(|pair| Spanned::new(parse_number(pair.as_str()), span_of(pair)))
                .collect(),
        ),
    };
    let positions = positions_from(rest.next().expect("mlp positions"));
    MlpDef::Layers { layers, positions }
}

fn positions_from(pair: Pair<Rule>) -> PositionsDef {
    let items: Vec<Pair<Rule>> = pair.into_inner().collect();
    match items.first().map(|item| item.as_rule()) {
        Some(Rule::all) => PositionsDef::All(span_of(&items[0])),
        _ => PositionsDef::Named(items.iter().map(spanned_str).collect()),
    }
}

fn endpoints_from(pair: Pair<Rule>) -> Vec<Spanned<Endpoint>> {
    pair.into_inner()
        .map(|endpoint| {
            let span = span_of(&endpoint);
            let mut parts = endpoint.into_inner();
            let node = node_from(&parts.next().expect("node")).value;
            let channel = parts.next().map(|channel| match channel.as_str() {
                "q" => Channel::Q,
                "k" => Channel::K,
                _ => Channel::V,
            });
            Spanned::new(Endpoint { node, channel }, span)
        })
        .collect()
}

/// A `node` or `member` pair: a head, an MLP, `embed`, `logits` or a class name.
fn node_from(pair: &Pair<Rule>) -> Spanned<NodeRef> {
    let inner = pair.clone().into_inner().next().expect("node content");
    let node = match (inner.as_rule(), inner.as_str()) {
        (Rule::head, _) => NodeRef::Head(head_from(&inner).value),
        (Rule::mlp_node, text) => NodeRef::Mlp(parse_number(&text["mlp.".len()..])),
        (_, "embed") => NodeRef::Embed,
        (_, "logits") => NodeRef::Logits,
        (_, name) => NodeRef::Class(name.to_string()),
    };
    Spanned::new(node, span_of(pair))
}

fn metric_from(pair: Pair<Rule>) -> Spanned<MetricRef> {
    let span = span_of(&pair);
    let mut inner = pair.into_inner();
    let name = inner.next().expect("metric name").as_str().to_string();
    let head = inner.next().map(|head| head_from(&head).value);
    Spanned::new(MetricRef { name, head }, span)
}

fn comparison_from(pair: &Pair<Rule>) -> Comparison {
    Comparison::from_symbol(pair.as_str()).expect("the grammar admits only comparisons")
}

fn head_from(pair: &Pair<Rule>) -> Spanned<Head> {
    let (layer, head) = pair.as_str().split_once('.').expect("layer.head");
    Spanned::new(
        Head::new(parse_number(layer), parse_number(head)),
        span_of(pair),
    )
}

/// Numbers too large for u32 saturate: the range check reports them as outside the model.
fn parse_number(digits: &str) -> u32 {
    digits.parse().unwrap_or(u32::MAX)
}

/// A string literal's text: quotes dropped, `\"` and `\\` unescaped. Lenient with a missing
/// closing quote, for text being typed.
pub fn unquote(quoted: &str) -> String {
    let body = quoted.strip_prefix('"').unwrap_or(quoted);
    let body = body.strip_suffix('"').unwrap_or(body);
    let mut out = String::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// Quotes a description for output, escaping what `unquote` unescapes.
pub fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn syntax_error(source: &Source, error: pest::error::Error<Rule>) -> Box<Diagnostic> {
    let text: &str = source.inner();
    // Parse attempts know the furthest position reached and every literal tried there,
    // which says far more than the last rule that failed.
    let (start, mut expected) = match error.parse_attempts() {
        Some(attempts) => {
            let mut expected: Vec<String> = attempts
                .call_stacks()
                .iter()
                .filter_map(|stack| stack.deepest.get_rule().map(|rule| describe(*rule)))
                .filter(|name| !name.is_empty())
                .map(str::to_string)
                .collect();
            expected.extend(
                attempts
                    .expected_tokens()
                    .iter()
                    .map(|token| token.to_string())
                    .filter(|token| is_keyword_like(token))
                    .map(|token| format!("`{token}`")),
            );
            (attempts.max_position, expected)
        }
        None => {
            let start = match error.location {
                InputLocation::Pos(pos) => pos,
                InputLocation::Span((start, _)) => start,
            };
            let expected = match &error.variant {
                ErrorVariant::ParsingError { positives, .. } => positives
                    .iter()
                    .map(|rule| describe(*rule).to_string())
                    .collect(),
                ErrorVariant::CustomError { .. } => Vec::new(),
            };
            (start, expected)
        }
    };
    expected.sort();
    expected.dedup();
    // Point at the offending word, or just after the last word of the file.
    let start = if text[start..].trim().is_empty() {
        text.trim_end().len()
    } else {
        start
    };
    let found_len = text[start..]
        .find(|c: char| c.is_whitespace())
        .unwrap_or(text.len() - start);
    let span = Span {
        start,
        end: start + found_len,
    };
    let found = if found_len == 0 {
        "the end of the file".to_string()
    } else {
        // The label shows where; the message needs no more than the word's start.
        let word = &text[span.start..span.end];
        let shown: String = word.chars().take(40).collect();
        let ellipsis = if shown.len() < word.len() { "…" } else { "" };
        format!("`{shown}{ellipsis}`")
    };
    let label = if expected.is_empty() {
        "unexpected here".to_string()
    } else {
        format!("expected {}", or_list(&expected))
    };
    Box::new(
        Diagnostic::new(
            Code::Syntax,
            source,
            span,
            format!("syntax error: unexpected {found}"),
            label,
        )
        .with_help("see grammar/GRAMMAR.md for every construct of the language, with examples"),
    )
}

/// Punctuation and connecting words the grammar expects between rules; the words of
/// rules themselves (`q`, `>=`, `all`, ...) are named by the rule's description instead.
fn is_keyword_like(token: &str) -> bool {
    matches!(token, "->" | "," | "{" | "}" | "(" | ")" | ".")
        || (token != "all" && KEYWORDS.contains(&token))
}

fn or_list(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::header => "`circuit NAME { ... }`",
        Rule::extends => "`extends \"FILE\"`",
        Rule::setting | Rule::setting_key => "a setting (`model`, `task`, `ablation`, `level`)",
        Rule::positions => "a position name or `all`",
        Rule::position => "a position name",
        Rule::mlp_layers | Rule::layer => "a layer number or `all`",
        Rule::endpoints | Rule::endpoint | Rule::node => {
            "a class name, a head, an MLP (`mlp.L`), `embed` or `logits`"
        }
        Rule::channel => "a channel (`q`, `k` or `v`)",
        Rule::member => "a class name or a head",
        Rule::metric | Rule::metric_name => "a metric name",
        Rule::comparison => "a comparison (`>=`, `<=`, `>`, `<`)",
        Rule::number => "a number",
        Rule::head => "a head (`layer.head`, e.g. `9.9`)",
        Rule::mlp_node => "an MLP (`mlp.L`, e.g. `mlp.3`)",
        Rule::string => "a quoted description",
        Rule::word => "a value",
        Rule::all => "`all`",
        Rule::none => "`none`",
        Rule::ident => "a name",
        Rule::EOI => "the end of the file",
        // Helper rules say nothing a user can act on.
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(text: &str) -> Source {
        miette::NamedSource::new("t.circuit", text.into())
    }

    fn class_names(file: &File) -> Vec<&str> {
        file.statements
            .iter()
            .filter_map(|statement| match &statement.kind {
                StatementKind::Class(def) => Some(def.name.value.as_str()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn keywords_are_the_grammars() {
        let grammar = include_str!("../../grammar/circuit.pest");
        let words = quoted_in_rule(grammar, "keyword = @{", "~ !ident_char");
        assert_eq!(words, KEYWORDS);
        for word in STATEMENT_KEYWORDS {
            assert!(KEYWORDS.contains(&word), "{word}");
            assert!(grammar.contains(&format!("\"{word}\" ~")), "{word}");
        }
    }

    /// The quoted strings of a rule of `grammar` that starts a line with `start`, up to `end`.
    fn quoted_in_rule<'a>(grammar: &'a str, start: &str, end: &str) -> Vec<&'a str> {
        let rule = grammar
            .split(&format!("\n{start}"))
            .nth(1)
            .and_then(|rest| rest.split(end).next())
            .unwrap_or_else(|| panic!("circuit.pest has a rule `{start}`"));
        rule.split('"').skip(1).step_by(2).collect()
    }

    /// Whether `rule` reads all of `piece`.
    fn reads_whole(rule: Rule, piece: &str) -> bool {
        use pest::Parser as _;
        CircuitParser::parse(rule, piece).is_ok_and(|pairs| pairs.as_str() == piece)
    }

    #[test]
    fn the_lexer_follows_the_grammar() {
        use crate::dsl::lexer::{self, TokenKind};
        let grammar = include_str!("../../grammar/circuit.pest");
        let escaped: Vec<String> = lexer::WHITESPACE
            .iter()
            .map(|c| c.escape_default().to_string())
            .collect();
        let written = quoted_in_rule(grammar, "WHITESPACE = _{", "}");
        assert_eq!(written, escaped);
        assert!(grammar.contains("COMMENT    = _{ \"#\" ~ (!\"\\n\" ~ ANY)* }"));
        for word in KEYWORDS {
            let tokens = lexer::lex(word);
            assert_eq!(tokens.len(), 1, "{word}");
            assert_eq!(tokens[0].kind, TokenKind::Word, "{word}");
        }
        // Every string, number, head, name and comparison of the repository's circuits is
        // one token, which the grammar's rule for it reads whole.
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/circuits");
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for token in lexer::lex(&text) {
                let piece = token.text(&text);
                let rules: &[Rule] = match token.kind {
                    TokenKind::String => &[Rule::string],
                    TokenKind::Number => &[Rule::number, Rule::head],
                    TokenKind::Word => &[Rule::word, Rule::position, Rule::mlp_node],
                    TokenKind::Comparison => &[Rule::comparison],
                    _ => continue,
                };
                let read = rules.iter().any(|rule| reads_whole(*rule, piece));
                assert!(read, "{:?} {piece:?}", token.kind);
            }
        }
    }

    #[test]
    fn a_partial_parse_skips_the_statements_that_fail() {
        let header = "circuit c {\n  model gpt2-small\n  task ioi\n}\n";
        // A half-typed last line, an unclosed class before a good one, a stray line and a
        // number too large: each skipped, everything else kept at its own offsets.
        let text = format!(
            "{header}class a at END {{ 9.9 }}\nclass b at END {{ 9.6\nclass c at S2 {{ 5.5 }}\n\
             edgy\nclass d at END {{ 1.1 }}\nexpect faithfulness >= 1{}\nedge a ->\n",
            "0".repeat(400)
        );
        assert!(parse(&source(&text)).is_err());
        let file = parse_partial(&source(&text)).expect("the header parses");
        assert_eq!(class_names(&file), ["a", "c", "d"]);
        let d = &file.statements[2];
        assert_eq!(&text[d.span.start..d.span.end], "class d at END { 1.1 }");
        assert_eq!(file.statements.len(), 3);
        // A keyword alone, in the middle and at the end.
        let lone =
            format!("{header}class a at END {{ 9.9 }}\nedge\nclass b at END {{ 9.6 }}\nedge");
        let file = parse_partial(&source(&lone)).expect("the header parses");
        assert_eq!(class_names(&file), ["a", "b"]);
        // A valid file is parsed as it is; a broken header gives nothing.
        let good = format!("{header}class a at END {{ 9.9 }}\n");
        assert_eq!(parse_partial(&source(&good)), parse(&source(&good)).ok());
        assert_eq!(
            parse_partial(&source("circuit c {\nclass a at END { 9.9 }\n")),
            None
        );
    }

    #[test]
    fn a_partial_parse_of_many_broken_lines_gives_up_on_the_rest() {
        let mut text =
            "circuit c {\n  model gpt2-small\n  task ioi\n}\nclass a at END { 9.9 }\n".to_string();
        for _ in 0..1000 {
            text.push_str("edge a ->\n");
        }
        let file = parse_partial(&source(&text)).expect("the header parses");
        assert_eq!(class_names(&file), ["a"]);
    }
}
