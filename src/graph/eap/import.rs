//! Edges of a graph → the text of a `.circuit` file, in canonical form. Heads become
//! classes (`classes`), `input` becomes `embed`; edges are written at class level where they
//! hold for every pair of heads, else per head, each line with its edges' scores as a
//! comment. An MLP with every edge from and to the circuit's components is listed and named
//! in no edge (`mlp L at all`: it reads the whole stream and is read by everything); any
//! other MLP is wired, its edges written (`edge 2.3 -> mlp.2`). A graph whose edges are every
//! edge among its nodes is a `level node` circuit. Each of these means exactly the graph.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use miette::NamedSource;

use crate::dsl::ast::{Endpoint, NodeRef, StatementKind};
use crate::dsl::{Channel, Head, format, parser};
use crate::graph::eap::classes::{self, Classes};
use crate::graph::eap::names::{Component, GraphEdge};
use crate::graph::eap::select::ScoredEdge;
use crate::graph::eap::shape::Shape;

/// What the header of the imported circuit says, and what is known of its classes.
pub struct Header<'a> {
    /// Comment lines put before `circuit` (where the circuit came from).
    pub comments: &'a [String],
    pub name: &'a str,
    pub model: &'a str,
    /// As the header writes it: a built-in task's name, or a task file's path in quotes.
    pub task: &'a str,
    /// Class names the file gives its heads (circuitcheck's exports do).
    pub named_classes: &'a BTreeMap<Head, String>,
}

/// The circuit the edges state, as canonical `.circuit` text.
pub fn circuit_text(shape: &Shape, selected: &[ScoredEdge], header: &Header) -> String {
    let edges: BTreeSet<GraphEdge> = selected.iter().map(|e| e.edge).collect();
    let scores: HashMap<GraphEdge, f64> = selected
        .iter()
        .filter_map(|e| Some((e.edge, e.score?)))
        .collect();
    let components: BTreeSet<Component> = edges.iter().flat_map(|e| [e.from, e.to]).collect();
    let heads: BTreeSet<Head> = components
        .iter()
        .filter_map(|c| match c {
            Component::Head(head) => Some(*head),
            _ => None,
        })
        .collect();
    let mlps: BTreeSet<u32> = components
        .iter()
        .filter_map(|c| match c {
            Component::Mlp(layer) => Some(*layer),
            _ => None,
        })
        .collect();
    let kept = Kept { heads, mlps };
    let unwired = unwired_mlps(shape, &kept, &edges);
    let touches_unwired = |e: &GraphEdge| {
        [e.from, e.to]
            .iter()
            .any(|c| matches!(c, Component::Mlp(m) if unwired.contains(m)))
    };
    // The edges the file states: those of an unwired MLP follow from the `mlp` line.
    let wiring: BTreeSet<GraphEdge> = edges
        .iter()
        .filter(|e| !touches_unwired(e))
        .copied()
        .collect();
    let node_level = edges.len() == kept.complete_edge_count(shape);
    let classes = classes::named_in_file(&kept.heads, header.named_classes)
        .unwrap_or_else(|| classes::by_layer_and_role(&kept.heads, &wiring, node_level));

    let mut text = String::new();
    for comment in header.comments {
        text.push_str(&format!("# {comment}\n"));
    }
    let level = if node_level { "node" } else { "edge" };
    text.push_str(&format!(
        "circuit {} {{\n  model {}\n  task {}\n  level {level}\n}}\n",
        header.name, header.model, header.task
    ));
    text.push_str(&mlp_line(shape, &kept.mlps));
    let mut members: BTreeMap<&str, Vec<Head>> = BTreeMap::new();
    for (head, class) in &classes {
        members.entry(class.as_str()).or_default().push(*head);
    }
    for (class, heads) in &members {
        let heads: Vec<String> = heads.iter().map(Head::to_string).collect();
        text.push_str(&format!("class {class} at all {{ {} }}\n", heads.join(" ")));
    }
    if !node_level {
        for line in cover(&wiring, &classes) {
            text.push_str(&format!("edge {line}\n"));
        }
    }
    let canonical = canonical(&text);
    canonical_with_scores(&canonical, &classes, &scores)
}

/// The heads and MLPs an imported circuit keeps: those its edges touch.
struct Kept {
    heads: BTreeSet<Head>,
    mlps: BTreeSet<u32>,
}

impl Kept {
    fn senders(&self) -> impl Iterator<Item = Component> + '_ {
        std::iter::once(Component::Input)
            .chain(self.heads.iter().map(|h| Component::Head(*h)))
            .chain(self.mlps.iter().map(|m| Component::Mlp(*m)))
    }

    fn receivers(&self) -> impl Iterator<Item = Component> + '_ {
        self.senders()
            .skip(1)
            .chain(std::iter::once(Component::Logits))
    }

    /// Every edge of the graph from a kept sender to a kept receiver: a node-level circuit.
    fn complete_edge_count(&self, shape: &Shape) -> usize {
        let mut count = 0;
        for from in self.senders() {
            for to in self.receivers() {
                if shape.reads(from, to) {
                    count += Shape::inputs_of(to).len();
                }
            }
        }
        count
    }
}

/// The kept MLPs that can be written unwired (listed, named in no edge): those with every
/// edge from the kept senders and to the kept receivers, which is what an unwired MLP reads
/// and is read by. The others are wired, their edges written out; an MLP wired only to
/// unwired ones would be named in no edge, so those become wired too, their edges written.
fn unwired_mlps(shape: &Shape, kept: &Kept, edges: &BTreeSet<GraphEdge>) -> BTreeSet<u32> {
    let mut unwired: BTreeSet<u32> = kept
        .mlps
        .iter()
        .copied()
        .filter(|&layer| {
            whole_mlp_edges(shape, kept, layer)
                .iter()
                .all(|e| edges.contains(e))
        })
        .collect();
    loop {
        let mut stranded = BTreeSet::new();
        for &wired in kept.mlps.difference(&unwired) {
            let others: Vec<Component> = edges
                .iter()
                .filter_map(|e| match (e.from, e.to) {
                    (Component::Mlp(m), other) | (other, Component::Mlp(m)) if m == wired => {
                        Some(other)
                    }
                    _ => None,
                })
                .collect();
            if others
                .iter()
                .all(|c| matches!(c, Component::Mlp(m) if unwired.contains(m)))
            {
                stranded.extend(others.iter().filter_map(|c| match c {
                    Component::Mlp(m) => Some(*m),
                    _ => None,
                }));
            }
        }
        if stranded.is_empty() {
            return unwired;
        }
        unwired.retain(|m| !stranded.contains(m));
    }
}

/// Every edge an unwired MLP has: from each kept sender before it, to each kept receiver
/// after it.
fn whole_mlp_edges(shape: &Shape, kept: &Kept, layer: u32) -> Vec<GraphEdge> {
    let mlp = Component::Mlp(layer);
    let into = kept
        .senders()
        .filter(|&from| shape.reads(from, mlp))
        .map(|from| GraphEdge {
            from,
            to: mlp,
            channel: None,
        });
    let out_of = kept
        .receivers()
        .filter(|&to| shape.reads(mlp, to))
        .flat_map(|to| {
            Shape::inputs_of(to)
                .into_iter()
                .map(move |channel| GraphEdge {
                    from: mlp,
                    to,
                    channel,
                })
        });
    into.chain(out_of).collect()
}

/// `mlp` line: none when every MLP is kept (the default), `mlp none` when none is.
fn mlp_line(shape: &Shape, mlps: &BTreeSet<u32>) -> String {
    if mlps.len() == shape.layers as usize {
        return String::new();
    }
    if mlps.is_empty() {
        return "mlp none\n".to_string();
    }
    let layers: Vec<String> = mlps.iter().map(u32::to_string).collect();
    format!("mlp {} at all\n", layers.join(" "))
}

/// One side of an edge as the language writes it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum End {
    Embed,
    Logits,
    Class(String),
    Head(Head),
    Mlp(u32),
}

impl End {
    fn text(&self) -> String {
        match self {
            End::Embed => "embed".into(),
            End::Logits => "logits".into(),
            End::Class(name) => name.clone(),
            End::Head(head) => head.to_string(),
            End::Mlp(layer) => format!("mlp.{layer}"),
        }
    }
}

/// The group an edge end belongs to (its class, or embed / logits alone), and the group's
/// members.
fn group_of(component: Component, classes: &Classes) -> End {
    match component {
        Component::Head(head) => End::Class(classes[&head].clone()),
        other => end_of(other),
    }
}

fn members(group: &End, classes: &Classes) -> Vec<End> {
    match group {
        End::Class(name) => classes
            .iter()
            .filter(|(_, class)| *class == name)
            .map(|(head, _)| End::Head(*head))
            .collect(),
        other => vec![other.clone()],
    }
}

fn end_of(component: Component) -> End {
    match component {
        Component::Head(head) => End::Head(head),
        Component::Mlp(layer) => End::Mlp(layer),
        Component::Input => End::Embed,
        Component::Logits => End::Logits,
    }
}

/// The head-level edges as edge statements `FROM -> TO[.c]`: per (sender group, receiver
/// group, channel) block, the whole block as one class edge when every pair is there; else
/// the receivers every sender of the group reaches (`CLASS -> 9.9`); else the senders that
/// reach every receiver (`9.9 -> CLASS`); the rest per pair.
fn cover(edges: &BTreeSet<GraphEdge>, classes: &Classes) -> Vec<String> {
    type Block = (End, End, Option<Channel>);
    let mut blocks: BTreeMap<Block, BTreeSet<(End, End)>> = BTreeMap::new();
    for edge in edges {
        blocks
            .entry((
                group_of(edge.from, classes),
                group_of(edge.to, classes),
                edge.channel,
            ))
            .or_default()
            .insert((end_of(edge.from), end_of(edge.to)));
    }
    let mut lines = Vec::new();
    let mut line = |from: &End, to: &End, channel: Option<Channel>| {
        let channel = channel
            .map(|c| format!(".{}", c.letter()))
            .unwrap_or_default();
        lines.push(format!("{} -> {}{channel}", from.text(), to.text()));
    };
    for ((from_group, to_group, channel), mut pairs) in blocks {
        let senders = members(&from_group, classes);
        let receivers = members(&to_group, classes);
        if pairs.len() == senders.len() * receivers.len() {
            line(&from_group, &to_group, channel);
            continue;
        }
        let full_receivers: Vec<&End> = receivers
            .iter()
            .filter(|r| {
                senders
                    .iter()
                    .all(|s| pairs.contains(&(s.clone(), (*r).clone())))
            })
            .collect();
        for receiver in &full_receivers {
            line(&from_group, receiver, channel);
            pairs.retain(|(_, r)| r != *receiver);
        }
        if full_receivers.is_empty() {
            for sender in &senders {
                if receivers
                    .iter()
                    .all(|r| pairs.contains(&(sender.clone(), r.clone())))
                {
                    line(sender, &to_group, channel);
                    pairs.retain(|(s, _)| s != sender);
                }
            }
        }
        for (from, to) in &pairs {
            line(from, to, channel);
        }
    }
    lines
}

/// The text in canonical form. It was made from a graph checked against the model's shape,
/// so it parses; a failure here is a bug, not bad input.
fn canonical(text: &str) -> String {
    let source = NamedSource::new("imported", Arc::<str>::from(text));
    let file = parser::parse(&source).expect("an imported circuit parses");
    format::format(&file)
}

/// The canonical text with each edge line's scores as a comment at its end (formatted
/// again, which keeps each comment on its line).
fn canonical_with_scores(
    text: &str,
    classes: &Classes,
    scores: &HashMap<GraphEdge, f64>,
) -> String {
    if scores.values().all(|&s| s == 0.0) {
        return text.to_string();
    }
    let source = NamedSource::new("imported", Arc::<str>::from(text));
    let file = parser::parse(&source).expect("canonical text parses");
    let mut annotated = text.to_string();
    for statement in file.statements.iter().rev() {
        let StatementKind::Edge(def) = &statement.kind else {
            continue;
        };
        let mut found = Vec::new();
        for source in &def.sources {
            for target in &def.targets {
                for edge in expand(&source.value, &target.value, classes) {
                    found.extend(scores.get(&edge));
                }
            }
        }
        let Some(comment) = score_comment(&found) else {
            continue;
        };
        let end = annotated[statement.span.end..]
            .find('\n')
            .map_or(annotated.len(), |at| statement.span.end + at);
        annotated.insert_str(end, &format!("  # {comment}"));
    }
    canonical(&annotated)
}

/// The graph edges an edge statement's (sender, receiver) stands for.
fn expand(source: &Endpoint, target: &Endpoint, classes: &Classes) -> Vec<GraphEdge> {
    let components = |node: &NodeRef| -> Vec<Component> {
        match node {
            NodeRef::Embed => vec![Component::Input],
            NodeRef::Logits => vec![Component::Logits],
            NodeRef::Head(head) => vec![Component::Head(*head)],
            NodeRef::Mlp(layer) => vec![Component::Mlp(*layer)],
            NodeRef::Class(name) => classes
                .iter()
                .filter(|(_, class)| *class == name)
                .map(|(head, _)| Component::Head(*head))
                .collect(),
        }
    };
    let mut out = Vec::new();
    for from in components(&source.node) {
        for to in components(&target.node) {
            let channels = match (to, target.channel) {
                (_, Some(channel)) => vec![Some(channel)],
                (to, None) => Shape::inputs_of(to),
            };
            out.extend(
                channels
                    .into_iter()
                    .map(|channel| GraphEdge { from, to, channel }),
            );
        }
    }
    out
}

fn score_comment(scores: &[&f64]) -> Option<String> {
    match scores {
        [] => None,
        [one] => Some(format!("score {}", score_text(**one))),
        many => {
            let min = many.iter().map(|s| **s).fold(f64::INFINITY, f64::min);
            let max = many.iter().map(|s| **s).fold(f64::NEG_INFINITY, f64::max);
            Some(format!(
                "{} edges, scores {} to {}",
                many.len(),
                score_text(min),
                score_text(max)
            ))
        }
    }
}

/// A score to four significant digits.
pub fn score_text(score: f64) -> String {
    if score == 0.0 {
        return "0".into();
    }
    let magnitude = score.abs().log10().floor() as i32;
    if !(-3..4).contains(&magnitude) {
        return format!("{score:.3e}");
    }
    let decimals = (3 - magnitude).max(0) as usize;
    let text = format!("{score:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}
