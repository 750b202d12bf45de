//! A checked, fully resolved circuit hypothesis: what every later layer (graph, evaluator,
//! diff, reports) works with. No spans, no `extends`: variants are already applied.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// An attention head, `layer.head`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Head {
    pub layer: u32,
    pub head: u32,
}

impl Head {
    pub fn new(layer: u32, head: u32) -> Self {
        Self { layer, head }
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.layer, self.head)
    }
}

/// Which input of a receiving head an edge feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Q,
    K,
    V,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Q, Channel::K, Channel::V];

    pub fn letter(self) -> &'static str {
        match self {
            Channel::Q => "q",
            Channel::K => "k",
            Channel::V => "v",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Comparison {
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<=")]
    AtMost,
    #[serde(rename = ">")]
    Above,
    #[serde(rename = "<")]
    Below,
}

impl Comparison {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::AtLeast => ">=",
            Comparison::AtMost => "<=",
            Comparison::Above => ">",
            Comparison::Below => "<",
        }
    }

    pub fn from_symbol(symbol: &str) -> Option<Self> {
        Some(match symbol {
            ">=" => Comparison::AtLeast,
            "<=" => Comparison::AtMost,
            ">" => Comparison::Above,
            "<" => Comparison::Below,
            _ => return None,
        })
    }

    pub fn holds(self, value: f64, bound: f64) -> bool {
        match self {
            Comparison::AtLeast => value >= bound,
            Comparison::AtMost => value <= bound,
            Comparison::Above => value > bound,
            Comparison::Below => value < bound,
        }
    }
}

/// The task a circuit is about: one circuitcheck ships, by name (`task ioi`), or a task file
/// (`task "tasks/mine.toml"`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskRef {
    Builtin(String),
    File {
        /// Resolved against the directory of the circuit file that names it.
        path: String,
        /// The file as it was read with the circuit (from the same git revision when the
        /// circuit comes from one), so that a resolved circuit carries everything it means.
        #[serde(skip)]
        text: String,
    },
}

impl TaskRef {
    /// The task's name, or the task file's path.
    pub fn name_or_path(&self) -> &str {
        match self {
            TaskRef::Builtin(name) => name,
            TaskRef::File { path, .. } => path,
        }
    }
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskRef::Builtin(name) => f.write_str(name),
            TaskRef::File { path, .. } => write!(f, "\"{path}\""),
        }
    }
}

/// Token positions where a class (or an MLP) is part of the circuit.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Positions {
    All,
    /// Position names of the task (`IO`, `S1+1`, `END`, ...), sorted.
    Named(BTreeSet<String>),
}

impl fmt::Display for Positions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Positions::All => f.write_str("all"),
            Positions::Named(names) => {
                f.write_str(&names.iter().cloned().collect::<Vec<_>>().join(", "))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Class {
    pub name: String,
    pub description: Option<String>,
    pub positions: Positions,
    /// Sorted by (layer, head).
    pub heads: BTreeSet<Head>,
}

/// A node of the hypothesis graph that an edge can name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Node {
    Embed,
    Class(String),
    Head(Head),
    /// `mlp.L`: layer L's MLP.
    Mlp(u32),
    Logits,
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Embed => f.write_str("embed"),
            Node::Logits => f.write_str("logits"),
            Node::Class(name) => f.write_str(name),
            Node::Head(head) => write!(f, "{head}"),
            Node::Mlp(layer) => write!(f, "mlp.{layer}"),
        }
    }
}

/// One edge: `from` is read by `to` through `channel` (`None` only when `to` is the logits or
/// an MLP).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Edge {
    pub from: Node,
    pub to: Node,
    pub channel: Option<Channel>,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.from, self.to)?;
        if let Some(channel) = self.channel {
            write!(f, ".{}", channel.letter())?;
        }
        Ok(())
    }
}

/// What sends at edge level: the embeddings, a circuit head or a wired MLP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Sender {
    Embed,
    Head(Head),
    Mlp(u32),
}

/// What reads at edge level: one input of a circuit head, a wired MLP, or the logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Receiver {
    Head(Head, Channel),
    Mlp(u32),
    Logits,
}

/// Which MLPs belong to the circuit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mlps {
    /// Every MLP at every position (the paper's default).
    All,
    /// Only these (layer, positions) pairs; empty means no MLP at all.
    Listed(Vec<MlpEntry>),
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MlpEntry {
    pub layer: u32,
    pub positions: Positions,
}

/// The quantity an `expect` line bounds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// F(C) / F(M).
    Faithfulness,
    /// |F(M) − F(C)|.
    FaithfulnessGap,
    /// (F(C) − F(∅)) / (F(M) − F(∅)).
    NormalizedFaithfulness,
    /// The worst incompleteness score |F(C\K) − F(M\K)| over the K sets tried.
    Incompleteness,
    /// A head's minimality score as a fraction of F(M); without a head, the smallest over
    /// all heads.
    Minimality(Option<Head>),
}

impl Metric {
    pub const NAMES: [&'static str; 5] = [
        "faithfulness",
        "faithfulness_gap",
        "normalized_faithfulness",
        "incompleteness",
        "minimality",
    ];

    pub fn from_name(name: &str, head: Option<Head>) -> Option<Self> {
        let metric = match name {
            "faithfulness" => Metric::Faithfulness,
            "faithfulness_gap" => Metric::FaithfulnessGap,
            "normalized_faithfulness" => Metric::NormalizedFaithfulness,
            "incompleteness" => Metric::Incompleteness,
            "minimality" => return Some(Metric::Minimality(head)),
            _ => return None,
        };
        head.is_none().then_some(metric)
    }

    pub fn name(&self) -> &'static str {
        match self {
            Metric::Faithfulness => "faithfulness",
            Metric::FaithfulnessGap => "faithfulness_gap",
            Metric::NormalizedFaithfulness => "normalized_faithfulness",
            Metric::Incompleteness => "incompleteness",
            Metric::Minimality(_) => "minimality",
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Metric::Minimality(Some(head)) => write!(f, "minimality({head})"),
            other => f.write_str(other.name()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    pub metric: Metric,
    pub comparison: Comparison,
    pub value: f64,
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.metric,
            self.comparison.symbol(),
            self.value
        )
    }
}

/// How knocked-out components are replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ablation {
    /// Mean over the reference distribution per template and position (the paper's).
    Mean,
    /// Mean over the whole reference distribution, ignoring templates.
    GlobalMean,
    /// Each prompt takes the activation of a (seeded) random reference prompt.
    Resample,
    Zero,
}

impl Ablation {
    pub const NAMES: [&'static str; 4] = ["mean", "global-mean", "resample", "zero"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "mean" => Ablation::Mean,
            "global-mean" => Ablation::GlobalMean,
            "resample" => Ablation::Resample,
            "zero" => Ablation::Zero,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// Whether knockouts act on nodes (the paper) or on edges (ACDC / auto-circuit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Node,
    Edge,
}

impl Level {
    pub const NAMES: [&'static str; 2] = ["node", "edge"];

    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "node" => Level::Node,
            "edge" => Level::Edge,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// A K set stated in the file for a head's minimality score.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MinimalitySet {
    pub head: Head,
    /// Resolved to heads (classes expanded), sorted.
    pub given: BTreeSet<Head>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Circuit {
    pub name: String,
    pub model: String,
    pub task: TaskRef,
    pub ablation: Option<Ablation>,
    pub level: Option<Level>,
    /// Sorted by their first head, so the list reads bottom-up through the model.
    pub classes: Vec<Class>,
    pub mlps: Mlps,
    /// Edges at the granularity they were written (class or head), channels expanded.
    pub edges: BTreeSet<Edge>,
    pub expectations: Vec<Expectation>,
    pub minimality_sets: Vec<MinimalitySet>,
}

impl Circuit {
    pub fn class(&self, name: &str) -> Option<&Class> {
        self.classes.iter().find(|class| class.name == name)
    }

    /// The class a head belongs to.
    pub fn class_of(&self, head: Head) -> Option<&Class> {
        self.classes
            .iter()
            .find(|class| class.heads.contains(&head))
    }

    /// Every head of the circuit, sorted.
    pub fn heads(&self) -> BTreeSet<Head> {
        self.classes
            .iter()
            .flat_map(|class| class.heads.iter().copied())
            .collect()
    }

    /// The heads a node stands for (a class's heads, a head itself, none for embed/logits).
    pub fn heads_of(&self, node: &Node) -> Vec<Head> {
        match node {
            Node::Head(head) => vec![*head],
            Node::Class(name) => self
                .class(name)
                .map(|class| class.heads.iter().copied().collect())
                .unwrap_or_default(),
            Node::Embed | Node::Logits | Node::Mlp(_) => Vec::new(),
        }
    }

    /// The MLPs named in an edge, as sender or receiver: at edge level they read their own
    /// stream and send their Δ.
    pub fn wired_mlps(&self) -> BTreeSet<u32> {
        self.edges
            .iter()
            .flat_map(|edge| [&edge.from, &edge.to])
            .filter_map(|node| match node {
                Node::Mlp(layer) => Some(*layer),
                _ => None,
            })
            .collect()
    }

    /// Single edges between senders and receivers, classes expanded to their heads.
    pub fn wires(&self) -> BTreeSet<(Sender, Receiver)> {
        let mut out = BTreeSet::new();
        for edge in &self.edges {
            let senders: Vec<Sender> = match &edge.from {
                Node::Embed => vec![Sender::Embed],
                Node::Mlp(layer) => vec![Sender::Mlp(*layer)],
                other => self.heads_of(other).into_iter().map(Sender::Head).collect(),
            };
            let receivers: Vec<Receiver> = match (&edge.to, edge.channel) {
                (Node::Logits, _) => vec![Receiver::Logits],
                (Node::Mlp(layer), _) => vec![Receiver::Mlp(*layer)],
                (other, Some(channel)) => self
                    .heads_of(other)
                    .into_iter()
                    .map(|head| Receiver::Head(head, channel))
                    .collect(),
                (_, None) => Vec::new(),
            };
            for sender in &senders {
                out.extend(receivers.iter().map(|receiver| (*sender, *receiver)));
            }
        }
        out
    }

    /// Head-level edges: (sender or `None` for the embeddings, receiver, channel), with
    /// class edges expanded to every pair of their heads. Edges into the logits are left out.
    pub fn head_edges(&self) -> BTreeSet<(Option<Head>, Head, Channel)> {
        let mut out = BTreeSet::new();
        for edge in &self.edges {
            let Some(channel) = edge.channel else {
                continue;
            };
            let senders: Vec<Option<Head>> = match &edge.from {
                Node::Embed => vec![None],
                other => self.heads_of(other).into_iter().map(Some).collect(),
            };
            for receiver in self.heads_of(&edge.to) {
                for sender in &senders {
                    out.insert((*sender, receiver, channel));
                }
            }
        }
        out
    }
}
