//! `circuitcheck diff` for people and machines: a changelog for the terminal, a pull-request
//! comment in Markdown (summary line, table, collapsible details), and JSON (schema version 1).
//!
//! Both text forms share one list of sections and lines, so they always say the same thing:
//! `-` removed, `+` added, `~` changed, removals first.

use std::collections::BTreeSet;
use std::fmt::Write;

use serde::Serialize;

use crate::diff::{CircuitDiff, ClassHeads};
use crate::dsl::{Channel, Class, Edge, Head, MinimalitySet, MlpEntry, Node, Positions};
use crate::report::text::style::{BOLD, GREEN, RED, Style, YELLOW};

/// What the two sides are called in the output (paths, `REV:path`, `a/…` and `b/…`).
pub struct Labels<'a> {
    pub old: &'a str,
    pub new: &'a str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sign {
    Removed,
    Added,
    Changed,
}

impl Sign {
    fn symbol(self) -> char {
        match self {
            Sign::Removed => '-',
            Sign::Added => '+',
            Sign::Changed => '~',
        }
    }

    /// ANSI colour: red, green, yellow.
    fn color(self) -> anstyle::Style {
        match self {
            Sign::Removed => RED,
            Sign::Added => GREEN,
            Sign::Changed => YELLOW,
        }
    }
}

struct Line {
    sign: Sign,
    text: String,
}

/// How many things of a section changed one way ("2 classes removed").
struct Tally {
    count: usize,
    verb: &'static str,
    /// The Markdown table's column.
    sign: Sign,
}

struct Section {
    title: &'static str,
    noun: (&'static str, &'static str),
    tallies: Vec<Tally>,
    lines: Vec<Line>,
}

impl Section {
    fn new(title: &'static str, noun: (&'static str, &'static str)) -> Self {
        Self {
            title,
            noun,
            tallies: Vec::new(),
            lines: Vec::new(),
        }
    }

    fn line(&mut self, sign: Sign, text: String) {
        self.lines.push(Line { sign, text });
    }

    fn tally(&mut self, count: usize, verb: &'static str, sign: Sign) {
        if count > 0 {
            self.tallies.push(Tally { count, verb, sign });
        }
    }

    fn count(&self, sign: Sign) -> usize {
        self.tallies
            .iter()
            .filter(|t| t.sign == sign)
            .map(|t| t.count)
            .sum()
    }
}

pub fn render_terminal(diff: &CircuitDiff, labels: &Labels, color: bool) -> String {
    let paint = |style: anstyle::Style, text: &str| Style { color }.paint(style, text);
    let sections = sections(diff);
    let mut out = String::new();
    let _ = writeln!(out, "{}", paint(BOLD, &format!("--- {}", labels.old)));
    let _ = writeln!(out, "{}", paint(BOLD, &format!("+++ {}", labels.new)));
    let _ = writeln!(out, "{}", summary(diff, &sections));
    for section in &sections {
        let _ = writeln!(out, "\n{}", paint(BOLD, section.title));
        for line in &section.lines {
            let text = format!("{} {}", line.sign.symbol(), line.text);
            let _ = writeln!(out, "  {}", paint(line.sign.color(), &text));
        }
    }
    out
}

pub fn render_markdown(diff: &CircuitDiff, labels: &Labels) -> String {
    let sections = sections(diff);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "#### circuitcheck diff: `{}` → `{}`\n",
        labels.old, labels.new
    );
    let _ = writeln!(out, "**{}**", summary(diff, &sections));
    if sections.is_empty() {
        out.push('\n');
        return out;
    }
    let _ = writeln!(out, "\n| | removed | added | changed |");
    let _ = writeln!(out, "| :-- | --: | --: | --: |");
    for section in &sections {
        let cell = |sign| match section.count(sign) {
            0 => String::new(),
            n => n.to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            section.title,
            cell(Sign::Removed),
            cell(Sign::Added),
            cell(Sign::Changed)
        );
    }
    // A `diff` code block: GitHub colours the `-` and `+` lines.
    let _ = writeln!(
        out,
        "\n<details>\n<summary>All changes</summary>\n\n```diff"
    );
    for (index, section) in sections.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "@@ {} @@", section.title);
        for line in &section.lines {
            let _ = writeln!(out, "{} {}", line.sign.symbol(), line.text);
        }
    }
    // The blank line ends the HTML block, so diffs of several files can be concatenated.
    let _ = writeln!(out, "```\n\n</details>\n");
    out
}

#[derive(Serialize)]
struct JsonDiff<'a> {
    version: u32,
    old: &'a str,
    new: &'a str,
    summary: String,
    /// Whether anything other than names and descriptions changed (the exit code's 1).
    changes_meaning: bool,
    #[serde(flatten)]
    diff: &'a CircuitDiff,
}

pub fn render_json(diff: &CircuitDiff, labels: &Labels) -> String {
    let report = JsonDiff {
        version: 1,
        old: labels.old,
        new: labels.new,
        summary: summary(diff, &sections(diff)),
        changes_meaning: diff.changes_meaning(),
        diff,
    };
    serde_json::to_string_pretty(&report).expect("serialising plain data cannot fail") + "\n"
}

/// "1 setting changed, 2 classes removed; heads 26 → 16", or "no changes".
fn summary(diff: &CircuitDiff, sections: &[Section]) -> String {
    let mut parts = Vec::new();
    for section in sections {
        for tally in &section.tallies {
            let noun = if tally.count == 1 {
                section.noun.0
            } else {
                section.noun.1
            };
            parts.push(format!("{} {noun} {}", tally.count, tally.verb));
        }
    }
    if parts.is_empty() {
        return "no changes".to_string();
    }
    let mut out = parts.join(", ");
    if diff.head_count.old != diff.head_count.new {
        let _ = write!(
            out,
            "; heads {} → {}",
            diff.head_count.old, diff.head_count.new
        );
    }
    if !diff.changes_meaning() {
        out.push_str(" (no change in meaning)");
    }
    out
}

/// The non-empty sections, in changelog order.
fn sections(diff: &CircuitDiff) -> Vec<Section> {
    [
        settings(diff),
        classes(diff),
        heads(diff),
        mlps(diff),
        edges(diff),
        minimality_sets(diff),
        expectations(diff),
    ]
    .into_iter()
    .filter(|section| !section.lines.is_empty())
    .collect()
}

fn settings(diff: &CircuitDiff) -> Section {
    let mut section = Section::new("Settings", ("setting", "settings"));
    for change in &diff.settings {
        let value = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not set)".into());
        section.line(
            Sign::Changed,
            format!(
                "{}: {} → {}",
                change.setting.name(),
                value(&change.old),
                value(&change.new)
            ),
        );
    }
    section.tally(diff.settings.len(), "changed", Sign::Changed);
    section
}

fn classes(diff: &CircuitDiff) -> Section {
    let changes = &diff.classes;
    let mut section = Section::new("Classes", ("class", "classes"));
    for class in &changes.removed {
        section.line(Sign::Removed, class_statement(class));
    }
    for class in &changes.added {
        section.line(Sign::Added, class_statement(class));
    }
    for rename in &changes.renamed {
        section.line(
            Sign::Changed,
            format!("class {} renamed to {}", rename.old, rename.new),
        );
    }
    for change in &changes.positions {
        section.line(
            Sign::Changed,
            format!("class {} at {} → {}", change.class, change.old, change.new),
        );
    }
    for change in &changes.descriptions {
        let text = |d: &Option<String>| d.as_deref().map_or("(none)".into(), quoted);
        section.line(
            Sign::Changed,
            format!(
                "class {} description: {} → {}",
                change.class,
                text(&change.old),
                text(&change.new)
            ),
        );
    }
    let mut changed: Vec<&str> = (changes.positions.iter().map(|c| c.class.as_str()))
        .chain(changes.descriptions.iter().map(|c| c.class.as_str()))
        .collect();
    changed.sort_unstable();
    changed.dedup();
    section.tally(changes.removed.len(), "removed", Sign::Removed);
    section.tally(changes.added.len(), "added", Sign::Added);
    section.tally(changes.renamed.len(), "renamed", Sign::Changed);
    section.tally(changed.len(), "changed", Sign::Changed);
    section
}

fn heads(diff: &CircuitDiff) -> Section {
    let changes = &diff.heads;
    let mut section = Section::new("Heads", ("head", "heads"));
    for group in &changes.removed {
        section.line(
            Sign::Removed,
            format!("{} from {}", head_list(&group.heads), group.class),
        );
    }
    for group in &changes.added {
        section.line(
            Sign::Added,
            format!("{} to {}", head_list(&group.heads), group.class),
        );
    }
    // One line per (from, to), heads in order.
    let mut moves: Vec<((&str, &str), Vec<Head>)> = Vec::new();
    for change in &changes.moved {
        let key = (change.from.as_str(), change.to.as_str());
        match moves.iter_mut().find(|(k, _)| *k == key) {
            Some((_, heads)) => heads.push(change.head),
            None => moves.push((key, vec![change.head])),
        }
    }
    for ((from, to), heads) in moves {
        section.line(
            Sign::Changed,
            format!("{} moved from {from} to {to}", head_list(&heads)),
        );
    }
    let count = |groups: &[ClassHeads]| groups.iter().map(|g| g.heads.len()).sum();
    section.tally(count(&changes.removed), "removed", Sign::Removed);
    section.tally(count(&changes.added), "added", Sign::Added);
    section.tally(changes.moved.len(), "moved", Sign::Changed);
    section
}

fn mlps(diff: &CircuitDiff) -> Section {
    let changes = &diff.mlps;
    let mut section = Section::new("MLPs", ("MLP", "MLPs"));
    if let Some(every) = &changes.every_mlp {
        // The default itself changed: say so first, then list what the list side holds.
        let listed = if every.old {
            &changes.added
        } else {
            &changes.removed
        };
        let listed = if listed.is_empty() {
            "no MLP (mlp none)"
        } else {
            "only the listed MLPs"
        };
        let every_mlp = "every MLP at every position";
        let (old, new) = if every.old {
            (every_mlp, listed)
        } else {
            (listed, every_mlp)
        };
        section.line(Sign::Changed, format!("{old} → {new}"));
        section.noun = ("MLP list", "MLP lists");
        section.tally(1, "changed", Sign::Changed);
    } else {
        section.tally(changes.removed.len(), "removed", Sign::Removed);
        section.tally(changes.added.len(), "added", Sign::Added);
    }
    for entries in mlp_statements(&changes.removed) {
        section.line(Sign::Removed, entries);
    }
    for entries in mlp_statements(&changes.added) {
        section.line(Sign::Added, entries);
    }
    for change in &changes.changed {
        section.line(
            Sign::Changed,
            format!("mlp {} at {} → {}", change.layer, change.old, change.new),
        );
    }
    section.tally(changes.changed.len(), "changed", Sign::Changed);
    section
}

fn edges(diff: &CircuitDiff) -> Section {
    let mut section = Section::new("Edges", ("edge", "edges"));
    let removed = edge_statements(&diff.edges.removed);
    let added = edge_statements(&diff.edges.added);
    section.tally(removed.len(), "removed", Sign::Removed);
    section.tally(added.len(), "added", Sign::Added);
    for edge in removed {
        section.line(Sign::Removed, edge);
    }
    for edge in added {
        section.line(Sign::Added, edge);
    }
    section
}

fn minimality_sets(diff: &CircuitDiff) -> Section {
    let changes = &diff.minimality_sets;
    let mut section = Section::new("Minimality sets", ("minimality set", "minimality sets"));
    let statement =
        |set: &MinimalitySet| format!("minimality {} given {}", set.head, head_set(&set.given));
    for set in &changes.removed {
        section.line(Sign::Removed, statement(set));
    }
    for set in &changes.added {
        section.line(Sign::Added, statement(set));
    }
    for change in &changes.changed {
        section.line(
            Sign::Changed,
            format!(
                "minimality {} given {} → {}",
                change.head,
                head_set(&change.old),
                head_set(&change.new)
            ),
        );
    }
    section.tally(changes.removed.len(), "removed", Sign::Removed);
    section.tally(changes.added.len(), "added", Sign::Added);
    section.tally(changes.changed.len(), "changed", Sign::Changed);
    section
}

fn expectations(diff: &CircuitDiff) -> Section {
    let changes = &diff.expectations;
    let mut section = Section::new("Expectations", ("expectation", "expectations"));
    for expectation in &changes.removed {
        section.line(Sign::Removed, format!("expect {expectation}"));
    }
    for expectation in &changes.added {
        section.line(Sign::Added, format!("expect {expectation}"));
    }
    for change in &changes.changed {
        section.line(
            Sign::Changed,
            format!(
                "expect {} {} {} → {}",
                change.metric,
                change.comparison.symbol(),
                change.old,
                change.new
            ),
        );
    }
    section.tally(changes.removed.len(), "removed", Sign::Removed);
    section.tally(changes.added.len(), "added", Sign::Added);
    section.tally(changes.changed.len(), "changed", Sign::Changed);
    section
}

/// A class as its `class` statement.
fn class_statement(class: &Class) -> String {
    let description = class
        .description
        .as_deref()
        .map(|d| format!(" {}", quoted(d)))
        .unwrap_or_default();
    format!(
        "class {}{description} at {} {}",
        class.name,
        class.positions,
        head_set(&class.heads)
    )
}

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `{ 9.6 10.0 }`, or `{ }`.
fn head_set(heads: &BTreeSet<Head>) -> String {
    if heads.is_empty() {
        "{ }".to_string()
    } else {
        format!("{{ {} }}", head_list(heads))
    }
}

fn head_list<'h>(heads: impl IntoIterator<Item = &'h Head>) -> String {
    heads
        .into_iter()
        .map(Head::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Sender and receiver of an edge.
type Endpoints<'e> = (&'e Node, &'e Node);

/// Single edges as statements: all three channels of one sender and receiver as the bare
/// `a -> b`, like the language writes them; otherwise one line per channel.
fn edge_statements(edges: &[Edge]) -> Vec<String> {
    // Grouped in first-seen order, which keeps the diff's bottom-up order.
    let mut by_endpoints: Vec<(Endpoints, Vec<Option<Channel>>)> = Vec::new();
    for edge in edges {
        let key = (&edge.from, &edge.to);
        match by_endpoints.iter_mut().find(|(k, _)| *k == key) {
            Some((_, channels)) => channels.push(edge.channel),
            None => by_endpoints.push((key, vec![edge.channel])),
        }
    }
    let every_channel: Vec<Option<Channel>> = Channel::ALL.into_iter().map(Some).collect();
    let mut out = Vec::new();
    for ((from, to), channels) in by_endpoints {
        if channels == every_channel {
            out.push(format!("{from} -> {to}"));
        } else {
            for channel in channels {
                let edge = Edge {
                    from: from.clone(),
                    to: to.clone(),
                    channel,
                };
                out.push(edge.to_string());
            }
        }
    }
    out
}

/// MLP entries as `mlp` statements, layers with the same positions on one line.
fn mlp_statements(entries: &[MlpEntry]) -> Vec<String> {
    let mut by_positions: Vec<(&Positions, Vec<u32>)> = Vec::new();
    for entry in entries {
        match by_positions
            .iter_mut()
            .find(|(p, _)| *p == &entry.positions)
        {
            Some((_, layers)) => layers.push(entry.layer),
            None => by_positions.push((&entry.positions, vec![entry.layer])),
        }
    }
    by_positions
        .into_iter()
        .map(|(positions, layers)| {
            let layers: Vec<String> = layers.iter().map(u32::to_string).collect();
            format!("mlp {} at {positions}", layers.join(" "))
        })
        .collect()
}
