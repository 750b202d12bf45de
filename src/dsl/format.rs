//! The canonical text of a `.circuit` file. Two files that say the same thing format to the
//! same text: the header first, then removals, MLPs, classes (ordered by their first head),
//! additions, edges (regrouped from the set of single edges they denote), minimality sets and
//! expectations, each sorted. Comments travel with the statement they are attached to.
//! Formatting works on the syntax tree alone, so it never needs the files a variant extends.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::dsl::ast::*;
use crate::dsl::circuit::{Channel, Head};
use crate::dsl::parser::quote;

pub fn format(file: &File) -> String {
    let order = NodeOrder::new(file);
    let mut out = String::new();
    for comment in &file.leading_comments {
        push_comment(&mut out, "", comment);
    }
    header(&mut out, &file.header);

    let mut groups: Vec<Vec<Line>> = vec![Vec::new(); 8];
    let mut edges = EdgeGroups::default();
    let mut removed_edges = EdgeGroups::default();
    for statement in &file.statements {
        let comments = statement.comments.clone();
        match &statement.kind {
            StatementKind::RemoveEdge(def) => removed_edges.add(def, comments),
            StatementKind::Edge(def) => edges.add(def, comments),
            kind => {
                if let Some((group, key, text)) = statement_line(kind, &order) {
                    groups[group].push(Line {
                        key,
                        text,
                        comments,
                    });
                }
            }
        }
    }
    groups[1] = removed_edges.lines(&order, "remove edge");
    groups[5] = edges.lines(&order, "edge");

    for group in groups {
        push_group(&mut out, group);
    }
    if !file.trailing_comments.is_empty() {
        out.push('\n');
        for comment in &file.trailing_comments {
            push_comment(&mut out, "", comment);
        }
    }
    out
}

/// A statement's group (the canonical order of sections), its sort key within the group and
/// its canonical text; `None` for edges, which `EdgeGroups` groups.
fn statement_line(kind: &StatementKind, order: &NodeOrder) -> Option<(usize, SortKey, String)> {
    Some(match kind {
        StatementKind::RemoveClass(name) => (
            0,
            SortKey::Text(format!("0 {}", name.value)),
            format!("remove class {}", name.value),
        ),
        StatementKind::RemoveHead(head) => (
            0,
            SortKey::Text(format!("1 {:05}.{:05}", head.value.layer, head.value.head)),
            format!("remove head {}", head.value),
        ),
        StatementKind::RemoveExpect { metric, comparison } => {
            let mut text = format!("remove expect {}", metric_text(&metric.value));
            if let Some(comparison) = comparison {
                write!(text, " {}", comparison.symbol()).unwrap();
            }
            (0, SortKey::Text(format!("3 {text}")), text)
        }
        StatementKind::Mlp(def) => {
            let text = mlp_text(def);
            (2, SortKey::Text(text.clone()), text)
        }
        StatementKind::Class(def) => {
            let text = class_text(def);
            (3, order.class_key(&def.name.value), text)
        }
        StatementKind::Add { heads, class } => {
            let mut heads: Vec<Head> = heads.iter().map(|h| h.value).collect();
            heads.sort();
            let text = format!("add {} to {}", join(&heads), class.value);
            (4, SortKey::Text(text.clone()), text)
        }
        StatementKind::Minimality(def) => {
            let mut given: Vec<&NodeRef> = def.given.iter().map(|m| &m.value).collect();
            given.sort_by_key(|node| order.node_key(node));
            given.dedup();
            let members: Vec<String> = given.iter().map(|node| node_text(node)).collect();
            let text = format!(
                "minimality {} given {{ {} }}",
                def.head.value,
                members.join(" ")
            );
            (
                6,
                SortKey::Text(format!(
                    "{:05}.{:05} {text}",
                    def.head.value.layer, def.head.value.head
                )),
                text,
            )
        }
        StatementKind::Expect(def) => {
            // Finite (the parser refuses numbers beyond f64), so `{}` writes digits that
            // read back as the same value, never `inf`.
            let text = format!(
                "expect {} {} {}",
                metric_text(&def.metric.value),
                def.comparison.symbol(),
                def.value.value
            );
            (7, SortKey::Text(text.clone()), text)
        }
        StatementKind::RemoveEdge(_) | StatementKind::Edge(_) => return None,
    })
}

/// A section of the canonical text, sorted, after a blank line; comments before a line
/// (other than the first) get a blank line of their own.
fn push_group(out: &mut String, mut group: Vec<Line>) {
    if group.is_empty() {
        return;
    }
    group.sort_by(|a, b| a.key.cmp(&b.key));
    out.push('\n');
    for (i, line) in group.iter().enumerate() {
        if i > 0 && !line.comments.before.is_empty() {
            out.push('\n');
        }
        for comment in &line.comments.before {
            push_comment(out, "", comment);
        }
        out.push_str(&line.text);
        if let Some(trailing) = &line.comments.trailing {
            push_trailing(out, trailing);
        }
        out.push('\n');
    }
}

#[derive(Clone)]
struct Line {
    key: SortKey,
    text: String,
    comments: Comments,
}

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Node(NodeKey),
    Edge(
        (NodeKey, Option<Channel>),
        (NodeKey, Option<Channel>),
        String,
    ),
    Text(String),
}

fn push_comment(out: &mut String, indent: &str, text: &str) {
    if text.is_empty() {
        writeln!(out, "{indent}#").unwrap();
    } else {
        writeln!(out, "{indent}# {text}").unwrap();
    }
}

fn push_trailing(out: &mut String, text: &str) {
    if text.is_empty() {
        out.push_str("  #");
    } else {
        write!(out, "  # {text}").unwrap();
    }
}

fn header(out: &mut String, header: &Header) {
    write!(out, "circuit {}", header.name.value).unwrap();
    if let Some(extends) = &header.extends {
        write!(out, " extends {}", quote(&extends.value)).unwrap();
    }
    out.push_str(" {\n");
    let mut settings: Vec<&Setting> = header.settings.iter().collect();
    settings.sort_by_key(|setting| setting.key.value);
    for setting in settings {
        for comment in &setting.comments.before {
            push_comment(out, "  ", comment);
        }
        let value = if setting.quoted {
            quote(&setting.value.value)
        } else {
            setting.value.value.clone()
        };
        write!(out, "  {} {value}", setting.key.value.keyword()).unwrap();
        if let Some(trailing) = &setting.comments.trailing {
            push_trailing(out, trailing);
        }
        out.push('\n');
    }
    for comment in &header.inner_comments {
        push_comment(out, "  ", comment);
    }
    out.push_str("}\n");
}

fn join<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|item| item.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

fn positions_text(def: &PositionsDef) -> String {
    match def {
        PositionsDef::All(_) => "all".to_string(),
        PositionsDef::Named(names) => {
            let names: BTreeSet<&str> = names.iter().map(|n| n.value.as_str()).collect();
            names.into_iter().collect::<Vec<_>>().join(", ")
        }
    }
}

fn class_text(def: &ClassDef) -> String {
    let mut text = format!("class {}", def.name.value);
    if let Some(description) = &def.description {
        write!(text, " {}", quote(description)).unwrap();
    }
    let mut heads: Vec<Head> = def.heads.iter().map(|h| h.value).collect();
    heads.sort();
    write!(text, " at {} {{", positions_text(&def.positions)).unwrap();
    if heads.is_empty() {
        text.push_str(" }");
    } else {
        write!(text, " {} }}", join(&heads)).unwrap();
    }
    text
}

fn mlp_text(def: &MlpDef) -> String {
    match def {
        MlpDef::None(_) => "mlp none".to_string(),
        MlpDef::Layers { layers, positions } => {
            let layers = match layers {
                MlpLayers::All(_) => "all".to_string(),
                MlpLayers::Listed(layers) => {
                    let layers: BTreeSet<u32> = layers.iter().map(|l| l.value).collect();
                    join(&layers.into_iter().collect::<Vec<_>>())
                }
            };
            format!("mlp {layers} at {}", positions_text(positions))
        }
    }
}

fn metric_text(metric: &MetricRef) -> String {
    match metric.head {
        Some(head) => format!("{}({head})", metric.name),
        None => metric.name.clone(),
    }
}

fn node_text(node: &NodeRef) -> String {
    match node {
        NodeRef::Embed => "embed".to_string(),
        NodeRef::Logits => "logits".to_string(),
        NodeRef::Class(name) => name.clone(),
        NodeRef::Head(head) => head.to_string(),
        NodeRef::Mlp(layer) => format!("mlp.{layer}"),
    }
}

fn endpoint_text(endpoint: &Endpoint) -> String {
    match endpoint.channel {
        Some(channel) => format!("{}.{}", node_text(&endpoint.node), channel.letter()),
        None => node_text(&endpoint.node),
    }
}

/// Sort key of a node: `embed` first, `logits` last, heads and classes by (first) head, an
/// MLP after the heads of its layer, classes the file does not define (a variant's base
/// classes) by name after those.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct NodeKey(u8, Option<Head>, String);

struct NodeOrder {
    first_heads: BTreeMap<String, Option<Head>>,
}

impl NodeOrder {
    fn new(file: &File) -> Self {
        let mut first_heads = BTreeMap::new();
        for statement in &file.statements {
            if let StatementKind::Class(def) = &statement.kind {
                let first = def.heads.iter().map(|h| h.value).min();
                first_heads.entry(def.name.value.clone()).or_insert(first);
            }
        }
        Self { first_heads }
    }

    fn node_key(&self, node: &NodeRef) -> NodeKey {
        match node {
            NodeRef::Embed => NodeKey(0, None, String::new()),
            NodeRef::Head(head) => NodeKey(1, Some(*head), String::new()),
            NodeRef::Mlp(layer) => NodeKey(1, Some(Head::new(*layer, u32::MAX)), "mlp".into()),
            NodeRef::Class(name) => match self.first_heads.get(name) {
                Some(first) => NodeKey(1, *first, name.clone()),
                None => NodeKey(2, None, name.clone()),
            },
            NodeRef::Logits => NodeKey(3, None, String::new()),
        }
    }

    fn class_key(&self, name: &str) -> SortKey {
        SortKey::Node(self.node_key(&NodeRef::Class(name.to_string())))
    }

    fn endpoint_key(&self, endpoint: &Endpoint) -> (NodeKey, Option<Channel>) {
        (self.node_key(&endpoint.node), endpoint.channel)
    }
}

/// Edge statements as the set of single edges they denote, regrouped canonically.
#[derive(Default)]
struct EdgeGroups {
    /// (sender as written, receiver node, receiver channel; `None` only where none can be
    /// expanded, i.e. for the logits and MLPs) → the statements that stated it.
    singles: BTreeMap<(Endpoint, NodeRef, Option<Channel>), BTreeSet<usize>>,
    comments: Vec<Comments>,
}

impl EdgeGroups {
    fn add(&mut self, def: &EdgeDef, comments: Comments) {
        let index = self.comments.len();
        self.comments.push(comments);
        for source in &def.sources {
            for target in &def.targets {
                let channels: Vec<Option<Channel>> =
                    match (&target.value.node, target.value.channel) {
                        (_, Some(channel)) => vec![Some(channel)],
                        (NodeRef::Logits | NodeRef::Mlp(_), None) => vec![None],
                        (_, None) => Channel::ALL.iter().copied().map(Some).collect(),
                    };
                for channel in channels {
                    self.singles
                        .entry((source.value.clone(), target.value.node.clone(), channel))
                        .or_default()
                        .insert(index);
                }
            }
        }
    }

    fn lines(self, order: &NodeOrder, keyword: &str) -> Vec<Line> {
        let senders = self.senders_by_receiver();
        // Receivers with the same senders share one statement.
        let mut grouped: BTreeMap<Vec<Endpoint>, (Vec<Endpoint>, Statements)> = BTreeMap::new();
        for (receiver, (sources, statements)) in senders {
            let mut sources: Vec<Endpoint> = sources.into_iter().collect();
            sources.sort_by_key(|s| order.endpoint_key(s));
            let entry = grouped.entry(sources).or_default();
            entry.0.push(receiver);
            entry.1.extend(statements);
        }
        let mut lines: Vec<(Line, Statements)> = grouped
            .into_iter()
            .map(|(sources, (mut receivers, statements))| {
                receivers.sort_by_key(|r| order.endpoint_key(r));
                (edge_line(keyword, &sources, &receivers, order), statements)
            })
            .collect();
        lines.sort_by(|a, b| a.0.key.cmp(&b.0.key));
        attach_comments(&mut lines, self.comments);
        lines.into_iter().map(|(line, _)| line).collect()
    }

    /// Each receiver endpoint's senders, and the statements that wired them. Receiver
    /// channels per (sender, receiver) that cover all three collapse to the bare receiver.
    fn senders_by_receiver(&self) -> BTreeMap<Endpoint, (BTreeSet<Endpoint>, Statements)> {
        let mut channels: BTreeMap<(Endpoint, NodeRef), BTreeMap<Option<Channel>, Statements>> =
            BTreeMap::new();
        for ((source, target, channel), statements) in &self.singles {
            channels
                .entry((source.clone(), target.clone()))
                .or_default()
                .entry(*channel)
                .or_default()
                .extend(statements);
        }
        let mut senders: BTreeMap<Endpoint, (BTreeSet<Endpoint>, Statements)> = BTreeMap::new();
        for ((source, target), by_channel) in channels {
            let full = Channel::ALL
                .iter()
                .all(|c| by_channel.contains_key(&Some(*c)));
            let receivers: Vec<(Endpoint, Statements)> = if full {
                let all = by_channel.into_values().flatten().collect();
                vec![(
                    Endpoint {
                        node: target,
                        channel: None,
                    },
                    all,
                )]
            } else {
                by_channel
                    .into_iter()
                    .map(|(channel, statements)| {
                        (
                            Endpoint {
                                node: target.clone(),
                                channel,
                            },
                            statements,
                        )
                    })
                    .collect()
            };
            for (receiver, statements) in receivers {
                let entry = senders.entry(receiver).or_default();
                entry.0.insert(source.clone());
                entry.1.extend(statements);
            }
        }
        senders
    }
}

type Statements = BTreeSet<usize>;

/// One edge statement: its senders to its receivers, sorted by first sender (so edges read
/// in data-flow order), then by receiver.
fn edge_line(
    keyword: &str,
    sources: &[Endpoint],
    receivers: &[Endpoint],
    order: &NodeOrder,
) -> Line {
    let list = |endpoints: &[Endpoint]| {
        endpoints
            .iter()
            .map(endpoint_text)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let text = format!("{keyword} {} -> {}", list(sources), list(receivers));
    let key = SortKey::Edge(
        order.endpoint_key(&sources[0]),
        order.endpoint_key(&receivers[0]),
        text.clone(),
    );
    Line {
        key,
        text,
        comments: Comments::default(),
    }
}

/// A written statement's comments go with the first line holding one of its edges; as that
/// line holds all of its own edges again when reformatted, this is idempotent.
fn attach_comments(lines: &mut [(Line, Statements)], comments: Vec<Comments>) {
    let mut first_line: BTreeMap<usize, usize> = BTreeMap::new();
    for (at, (_, statements)) in lines.iter().enumerate() {
        for statement in statements {
            first_line.entry(*statement).or_insert(at);
        }
    }
    for (index, comments) in comments.into_iter().enumerate() {
        let Some(&at) = first_line.get(&index) else {
            continue;
        };
        let line = &mut lines[at].0;
        line.comments.before.extend(comments.before);
        match (&line.comments.trailing, comments.trailing) {
            (None, trailing) => line.comments.trailing = trailing,
            (Some(_), Some(extra)) => line.comments.before.push(extra),
            (Some(_), None) => {}
        }
    }
}
