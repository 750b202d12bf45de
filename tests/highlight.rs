//! The TextMate grammar of editors/vscode: valid JSON whose regexes compile, and whose
//! patterns give every keyword of the language a scope, in a sample that uses every
//! construct. (editors/vscode/test/highlight.mjs checks the same sample with VS Code's own
//! TextMate engine, outside CI.)

use std::sync::Arc;

use circuitcheck::dsl::ast::SettingKey;
use circuitcheck::dsl::circuit::{Ablation, Level, Metric};
use circuitcheck::dsl::parser;
use fancy_regex::Regex;
use miette::NamedSource;
use serde_json::Value;

const GRAMMAR: &str = include_str!("../editors/vscode/syntaxes/circuit.tmLanguage.json");
const SAMPLE: &str = include_str!("../editors/vscode/test/sample.circuit");
const PEST: &str = include_str!("../grammar/circuit.pest");
const DOCUMENTATION: &str = include_str!("../grammar/GRAMMAR.md");

fn grammar() -> Value {
    serde_json::from_str(GRAMMAR).expect("the grammar is valid JSON")
}

type Rule = serde_json::Map<String, Value>;

/// A span of a line and the scope a pattern gave it.
#[derive(Debug)]
struct Scoped {
    line: usize,
    start: usize,
    end: usize,
    scope: String,
}

/// A small TextMate tokenizer, with the rules VS Code's follows: at each position the
/// pattern that matches earliest wins, the first listed on a tie, and an open region's
/// `end` before its patterns. It knows what this grammar uses: `match`, `begin`/`end`,
/// `captures`, `name`, `patterns` and `include` of the repository.
struct Tokenizer {
    grammar: Value,
    compiled: std::collections::HashMap<String, Regex>,
}

impl Tokenizer {
    fn new() -> Tokenizer {
        Tokenizer {
            grammar: grammar(),
            compiled: Default::default(),
        }
    }

    fn regex(&mut self, source: &str) -> Regex {
        self.compiled
            .entry(source.to_string())
            .or_insert_with(|| Regex::new(source).unwrap_or_else(|e| panic!("`{source}`: {e}")))
            .clone()
    }

    /// The rules a `patterns` list stands for, includes expanded.
    fn rules(&self, patterns: &Value) -> Vec<Rule> {
        let mut out = Vec::new();
        for pattern in patterns.as_array().into_iter().flatten() {
            let pattern = match pattern.get("include").and_then(Value::as_str) {
                Some(name) => {
                    let name = name.strip_prefix('#').expect("repository includes only");
                    &self.grammar["repository"][name]
                }
                None => pattern,
            };
            let rule = pattern.as_object().expect("patterns are objects");
            if rule.contains_key("match") || rule.contains_key("begin") {
                out.push(rule.clone());
            } else {
                out.extend(self.rules(&pattern["patterns"]));
            }
        }
        out
    }

    fn tokenize(&mut self, text: &str) -> Vec<Scoped> {
        let mut out = Vec::new();
        let mut regions: Vec<Rule> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let mut position = 0;
            while position <= line.len() {
                let Some(next) = self.next_match(&regions, number, line, position) else {
                    break;
                };
                out.extend(next.scoped);
                if next.ends {
                    regions.pop();
                } else if let Some(rule) = next.begins {
                    regions.push(rule);
                } else if next.end == next.start {
                    // An empty match would match here again forever.
                    break;
                }
                position = next.end;
            }
        }
        out
    }

    /// The pattern that matches first from `position`: the open region's end, or one of
    /// its patterns (the grammar's at the top level).
    fn next_match(
        &mut self,
        regions: &[Rule],
        number: usize,
        line: &str,
        position: usize,
    ) -> Option<Match> {
        let patterns = match regions.last() {
            Some(region) => region.get("patterns").cloned().unwrap_or(Value::Null),
            None => self.grammar["patterns"].clone(),
        };
        let mut candidates: Vec<(Rule, &str)> = Vec::new();
        if let Some(region) = regions.last() {
            candidates.push((region.clone(), "end"));
        }
        for rule in self.rules(&patterns) {
            let kind = if rule.contains_key("match") {
                "match"
            } else {
                "begin"
            };
            candidates.push((rule, kind));
        }
        let mut best: Option<Match> = None;
        for (rule, kind) in candidates {
            let regex = self.regex(rule[kind].as_str().unwrap());
            let Some(found) = regex.captures_from_pos(line, position).unwrap() else {
                continue;
            };
            let whole = found.get(0).unwrap();
            if best.as_ref().is_some_and(|b| b.start <= whole.start()) {
                continue;
            }
            let scope = |start, end, name: &str| Scoped {
                line: number,
                start,
                end,
                scope: name.to_string(),
            };
            let mut scoped = Vec::new();
            if kind == "match"
                && let Some(name) = rule.get("name").and_then(Value::as_str)
            {
                scoped.push(scope(whole.start(), whole.end(), name));
            }
            let captures = match kind {
                "match" => "captures",
                "begin" => "beginCaptures",
                _ => "endCaptures",
            };
            for (group, capture) in rule
                .get(captures)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                if let Some(m) = found.get(group.parse().unwrap()) {
                    scoped.push(scope(m.start(), m.end(), capture["name"].as_str().unwrap()));
                }
            }
            best = Some(Match {
                start: whole.start(),
                end: whole.end(),
                scoped,
                begins: (kind == "begin").then(|| rule.clone()),
                ends: kind == "end",
            });
        }
        best
    }
}

/// What the tokenizer found next.
struct Match {
    start: usize,
    end: usize,
    scoped: Vec<Scoped>,
    /// The region it opens.
    begins: Option<Rule>,
    /// Whether it closes the open region.
    ends: bool,
}

/// The scopes given exactly to `line[start..end]` of the tokenized text.
fn scopes_at(tokens: &[Scoped], line: usize, start: usize, end: usize) -> Vec<&str> {
    tokens
        .iter()
        .filter(|t| t.line == line && t.start == start && t.end == end)
        .map(|t| t.scope.as_str())
        .collect()
}

/// A word as a whole token: not inside a longer name, `>` not inside `>=` or `->`.
fn token(word: &str) -> Regex {
    let pattern = if word
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
    {
        format!(r"(?<![\w-]){}(?![\w-])", fancy_regex::escape(word))
    } else {
        format!(r"(?<![-<>=]){}(?![=>])", fancy_regex::escape(word))
    };
    Regex::new(&pattern).unwrap()
}

/// Where a word occurs in the sample, outside comments and descriptions: (line number,
/// start, end).
fn occurrences(word: &str) -> Vec<(usize, usize, usize)> {
    let regex = token(word);
    let strings = Regex::new(r#""(\\.|[^"\\])*""#).unwrap();
    SAMPLE
        .lines()
        .enumerate()
        .flat_map(|(number, line)| {
            let code = &line[..line.find('#').unwrap_or(line.len())];
            // Blank the strings out, keeping the offsets.
            let code = strings
                .replace_all(code, |c: &fancy_regex::Captures| " ".repeat(c[0].len()))
                .into_owned();
            let found: Vec<_> = regex
                .find_iter(&code)
                .map(|m| m.unwrap())
                .map(|m| (number, m.start(), m.end()))
                .collect();
            found
        })
        .collect()
}

/// The quoted words of a rule of circuit.pest, which may go on over indented lines
/// (`keyword = @{ ("circuit" | ...) }`).
fn pest_words(rule: &str) -> Vec<String> {
    let mut lines = PEST
        .lines()
        .skip_while(|line| !line.starts_with(&format!("{rule} ")));
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("circuit.pest has no rule {rule}"));
    let rest = lines.take_while(|line| line.starts_with(' ') || line.starts_with('}'));
    let body: Vec<&str> = std::iter::once(first).chain(rest).collect();
    Regex::new(r#""([^"]+)""#)
        .unwrap()
        .captures_iter(&body.join("\n"))
        .map(|c| c.unwrap()[1].to_string())
        .collect()
}

#[test]
fn the_grammar_is_json_whose_regexes_compile_and_includes_resolve() {
    let grammar = grammar();
    assert_eq!(grammar["scopeName"], "source.circuit");
    assert_eq!(grammar["fileTypes"], serde_json::json!(["circuit"]));
    let mut tokenizer = Tokenizer::new();
    let mut patterns = 0;
    fn walk(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(object) => {
                for key in ["match", "begin", "end"] {
                    if let Some(source) = object.get(key).and_then(Value::as_str) {
                        found.push(source.to_string());
                    }
                }
                object.values().for_each(|value| walk(value, found));
            }
            Value::Array(items) => items.iter().for_each(|value| walk(value, found)),
            _ => {}
        }
    }
    let mut sources = Vec::new();
    walk(&grammar, &mut sources);
    for source in &sources {
        tokenizer.regex(source);
        patterns += 1;
    }
    assert!(patterns > 25, "{patterns} patterns");
    let includes = Regex::new(r##""include": "#([\w-]+)""##).unwrap();
    for include in includes.captures_iter(GRAMMAR) {
        let name = &include.unwrap()[1];
        assert!(
            grammar["repository"].get(name).is_some(),
            "#{name} is not in the repository"
        );
    }
}

#[test]
fn the_sample_uses_the_real_syntax() {
    let source = NamedSource::new("sample.circuit", Arc::<str>::from(SAMPLE));
    parser::parse(&source).expect("the sample parses");
}

/// Scopes a keyword may have; a class name's or no scope at all means the keyword is not
/// recognised.
const KEYWORD_SCOPES: [&str; 5] = [
    "keyword.",
    "constant.language.",
    "support.",
    "storage.modifier.",
    "variable.parameter.",
];

#[test]
fn every_keyword_of_the_language_gets_a_keyword_scope() {
    let mut words: Vec<String> = pest_words("keyword");
    words.extend(pest_words("setting_key"));
    words.extend(pest_words("channel"));
    words.extend(pest_words("comparison"));
    words.extend(["embed", "logits", "->"].map(String::from));
    words.extend(Metric::NAMES.map(String::from));
    assert!(words.len() > 30, "{words:?}");
    for key in SettingKey::ALL {
        assert!(words.contains(&key.keyword().to_string()));
    }
    let tokens = Tokenizer::new().tokenize(SAMPLE);
    for word in &words {
        assert!(
            token(word).is_match(DOCUMENTATION).unwrap(),
            "GRAMMAR.md does not list `{word}`"
        );
        let found = occurrences(word);
        assert!(!found.is_empty(), "the sample never uses `{word}`");
        for (line, start, end) in found {
            let scopes = scopes_at(&tokens, line, start, end);
            assert!(
                scopes.iter().any(|scope| KEYWORD_SCOPES
                    .iter()
                    .any(|prefix| scope.starts_with(prefix))),
                "`{word}` on line {} has no keyword scope (has {scopes:?})",
                line + 1
            );
        }
    }
}

/// A file sets each only once, so each value is tried in a header of its own.
#[test]
fn every_setting_value_gets_a_scope() {
    let values = Ablation::NAMES
        .map(|name| ("ablation", name, "constant.language.ablation.circuit"))
        .into_iter()
        .chain(Level::NAMES.map(|name| ("level", name, "constant.language.level.circuit")));
    for (key, value, scope) in values {
        assert!(token(value).is_match(DOCUMENTATION).unwrap());
        let line = format!("  {key} {value}");
        let tokens = Tokenizer::new().tokenize(&format!("circuit c {{\n{line}\n}}\n"));
        let start = line.len() - value.len();
        assert_eq!(
            scopes_at(&tokens, 1, start, line.len()),
            [scope],
            "`{line}`"
        );
    }
}

#[test]
fn constructs_get_their_scopes() {
    let tokens = Tokenizer::new().tokenize(SAMPLE);
    for (line, text, scope) in [
        (2, "sample", "entity.name.type.circuit.circuit"),
        (2, "# a variant", "comment.line.number-sign.circuit"),
        (3, "gpt2-small", "string.unquoted.setting-value.circuit"),
        (10, "10.7", "constant.numeric.head.circuit"),
        (11, "name_mover", "entity.name.type.class.circuit"),
        (15, "0", "constant.numeric.layer.circuit"),
        (15, "all", "constant.language.all.circuit"),
        (17, "S2", "variable.other.enummember.position.circuit"),
        (20, "\\\"", "constant.character.escape.circuit"),
        (20, "\\\\", "constant.character.escape.circuit"),
        (21, "S1+1", "variable.other.enummember.position.circuit"),
        (27, "4.4", "constant.numeric.head.circuit"),
        (35, "-0.5", "constant.numeric.circuit"),
        (37, "minimality", "support.function.metric.circuit"),
        (37, "9.9", "constant.numeric.head.circuit"),
        (40, "mlp.3", "support.constant.node.mlp.circuit"),
        (40, "mlp.4", "support.constant.node.mlp.circuit"),
    ] {
        let code = SAMPLE.lines().nth(line - 1).unwrap();
        let start = token(text)
            .find(code)
            .unwrap()
            .unwrap_or_else(|| panic!("line {line} has no `{text}`"))
            .start();
        let scopes = scopes_at(&tokens, line - 1, start, start + text.len());
        assert!(
            scopes.contains(&scope),
            "`{text}` on line {line} should be {scope}, has {scopes:?}"
        );
    }
}
