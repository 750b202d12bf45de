//! What `suggest` may add to a circuit, and how attribution ranks it (GRAMMAR.md, "What
//! suggest computes"): heads in no class, MLPs a file's `mlp` lines leave out, and at edge
//! level the graph's edges between the circuit's senders and receivers that the file lacks.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::dsl::{Circuit, Head, Level, Mlps, Receiver, Sender};
use crate::eval::edge_attribution::EdgeScores;

/// One addition to a circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Addition {
    /// A head in no class, as a class of its own at every position.
    Head(Head),
    /// An MLP the file's `mlp` lines leave out, at every position.
    Mlp(u32),
    /// A single edge (edge level).
    Edge(Sender, Receiver),
}

impl Addition {
    /// `head`, `mlp` or `edge`.
    pub fn kind(self) -> &'static str {
        match self {
            Addition::Head(_) => "head",
            Addition::Mlp(_) => "mlp",
            Addition::Edge(..) => "edge",
        }
    }
}

impl fmt::Display for Addition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addition::Head(head) => write!(f, "{head}"),
            Addition::Mlp(layer) => write!(f, "mlp.{layer}"),
            Addition::Edge(sender, receiver) => {
                write!(
                    f,
                    "{} -> {}",
                    sender_name(*sender),
                    receiver_name(*receiver)
                )
            }
        }
    }
}

/// A sender as an edge names it.
pub fn sender_name(sender: Sender) -> String {
    match sender {
        Sender::Embed => "embed".to_string(),
        Sender::Head(head) => head.to_string(),
        Sender::Mlp(layer) => format!("mlp.{layer}"),
    }
}

/// A receiver as an edge names it (a head with its channel).
pub fn receiver_name(receiver: Receiver) -> String {
    match receiver {
        Receiver::Head(head, channel) => format!("{head}.{}", channel.letter()),
        Receiver::Mlp(layer) => format!("mlp.{layer}"),
        Receiver::Logits => "logits".to_string(),
    }
}

/// Every edge of the model's graph with its EAP score, in the language's terms.
pub struct Graph {
    pub scores: BTreeMap<(Sender, Receiver), f64>,
}

impl Graph {
    pub fn new(scored: &EdgeScores) -> Self {
        let scores = scored
            .edges
            .iter()
            .map(|e| ((e.sender, e.receiver), e.score))
            .collect();
        Self { scores }
    }

    /// `sender` writes before `receiver` reads.
    pub fn has(&self, sender: Sender, receiver: Receiver) -> bool {
        self.scores.contains_key(&(sender, receiver))
    }

    fn score(&self, sender: Sender, receiver: Receiver) -> f64 {
        self.scores.get(&(sender, receiver)).copied().unwrap_or(0.0)
    }
}

/// The circuit's senders: the embeddings, its heads, its wired MLPs.
pub fn circuit_senders(circuit: &Circuit) -> Vec<Sender> {
    std::iter::once(Sender::Embed)
        .chain(circuit.heads().into_iter().map(Sender::Head))
        .chain(circuit.wired_mlps().into_iter().map(Sender::Mlp))
        .collect()
}

/// The circuit's receivers at edge level: its heads' q, k and v, its wired MLPs, the logits.
pub fn circuit_receivers(circuit: &Circuit) -> Vec<Receiver> {
    head_channels(circuit)
        .chain(circuit.wired_mlps().into_iter().map(Receiver::Mlp))
        .chain(std::iter::once(Receiver::Logits))
        .collect()
}

fn head_channels(circuit: &Circuit) -> impl Iterator<Item = Receiver> {
    circuit.heads().into_iter().flat_map(|head| {
        crate::dsl::Channel::ALL
            .into_iter()
            .map(move |c| Receiver::Head(head, c))
    })
}

/// R(C), what attribution sums over: the circuit heads' q, k and v, every MLP the circuit
/// keeps (at any position), the logits.
fn readers(circuit: &Circuit, layers: u32) -> Vec<Receiver> {
    let kept: Vec<u32> = match &circuit.mlps {
        Mlps::All => (0..layers).collect(),
        Mlps::Listed(entries) => entries
            .iter()
            .map(|e| e.layer)
            .collect::<BTreeSet<u32>>()
            .into_iter()
            .collect(),
    };
    head_channels(circuit)
        .chain(kept.into_iter().map(Receiver::Mlp))
        .chain(std::iter::once(Receiver::Logits))
        .collect()
}

/// Every candidate, in the order ties keep: heads, MLPs, edges, each in model order.
/// `layers` × `heads` is the model's shape.
pub fn candidates(
    circuit: &Circuit,
    level: Level,
    layers: u32,
    heads: u32,
    graph: &Graph,
) -> Vec<Addition> {
    let inside = circuit.heads();
    let mut out: Vec<Addition> = (0..layers)
        .flat_map(|l| (0..heads).map(move |h| Head::new(l, h)))
        .filter(|h| !inside.contains(h))
        .map(Addition::Head)
        .collect();
    if let Mlps::Listed(entries) = &circuit.mlps {
        out.extend(
            (0..layers)
                .filter(|l| entries.iter().all(|e| e.layer != *l))
                .map(Addition::Mlp),
        );
    }
    if level == Level::Edge {
        let wires = circuit.wires();
        let receivers = circuit_receivers(circuit);
        for s in circuit_senders(circuit) {
            for r in &receivers {
                if graph.has(s, *r) && !wires.contains(&(s, *r)) {
                    out.push(Addition::Edge(s, *r));
                }
            }
        }
    }
    out
}

/// a(x): for a head or an MLP, its scores into the circuit's readers it reaches; for an
/// edge, its own score.
pub fn attribution(circuit: &Circuit, layers: u32, graph: &Graph, addition: Addition) -> f64 {
    let from = match addition {
        Addition::Edge(s, r) => return graph.score(s, r),
        Addition::Head(head) => Sender::Head(head),
        Addition::Mlp(layer) => Sender::Mlp(layer),
    };
    readers(circuit, layers)
        .into_iter()
        .map(|r| graph.score(from, r))
        .sum()
}

/// The candidates ranked by a(x)·sign(g), highest first (a stable sort: ties keep their
/// order), each with its attribution; `gap` is g = F(M) − F(C).
pub fn ranked(
    circuit: &Circuit,
    layers: u32,
    graph: &Graph,
    candidates: Vec<Addition>,
    gap: f64,
) -> Vec<(Addition, f64)> {
    let sign = if gap < 0.0 { -1.0 } else { 1.0 };
    let mut scored: Vec<(Addition, f64)> = candidates
        .into_iter()
        .map(|x| (x, attribution(circuit, layers, graph, x)))
        .collect();
    scored.sort_by(|a, b| (sign * b.1).total_cmp(&(sign * a.1)));
    scored
}

/// How a head candidate is wired when the circuit states edges: the circuit's senders it
/// reads, and the circuit's receivers that read it.
pub fn wiring(circuit: &Circuit, head: Head, graph: &Graph) -> (Vec<Sender>, Vec<Receiver>) {
    if circuit.edges.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let probe = Receiver::Head(head, crate::dsl::Channel::Q);
    let into = circuit_senders(circuit)
        .into_iter()
        .filter(|s| graph.has(*s, probe))
        .collect();
    let out = circuit_receivers(circuit)
        .into_iter()
        .filter(|r| graph.has(Sender::Head(head), *r))
        .collect();
    (into, out)
}
