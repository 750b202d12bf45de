//! A circuit → the graph file of its model's shape, with `in_graph` set on the circuit's
//! nodes and edges (every score 0: the file states a circuit, not an attribution). At node
//! level every edge among the kept components is in the graph; at edge level the circuit's
//! edges are (those of MLPs named in edges included), and each kept MLP no edge names (which
//! reads the whole stream and is read by everything) with every edge from and to the kept
//! components. The format has no token positions: a
//! class or MLP kept at some positions only is exported as kept everywhere, with a warning.

use std::collections::{BTreeSet, HashSet};

use crate::dsl::{Circuit, Level, Mlps, Positions};
use crate::graph::eap::file::{self, Written};
use crate::graph::eap::names::{Component, GraphEdge};
use crate::graph::eap::shape::Shape;

pub struct Exported {
    pub json: String,
    /// What the file cannot say (positions), one line each.
    pub warnings: Vec<String>,
}

/// The graph file of `circuit` on a model of `shape` and width `d_model`.
pub fn graph_json(circuit: &Circuit, shape: &Shape, d_model: u64) -> Exported {
    let mlps: BTreeSet<u32> = match &circuit.mlps {
        Mlps::All => (0..shape.layers).collect(),
        Mlps::Listed(entries) => entries.iter().map(|e| e.layer).collect(),
    };
    let kept: BTreeSet<Component> = std::iter::once(Component::Input)
        .chain(circuit.heads().into_iter().map(Component::Head))
        .chain(mlps.iter().map(|&m| Component::Mlp(m)))
        .collect();
    let is_kept = |c: Component| c == Component::Logits || kept.contains(&c);
    let among_kept = |e: &GraphEdge| kept.contains(&e.from) && is_kept(e.to);
    let edges: HashSet<GraphEdge> = match circuit.level.unwrap_or(Level::Node) {
        Level::Node => shape.edges().into_iter().filter(among_kept).collect(),
        Level::Edge => {
            let wired = circuit.wired_mlps();
            let unwired_end = |c: Component| matches!(c, Component::Mlp(m) if !wired.contains(&m));
            let mut edges: HashSet<GraphEdge> = shape
                .edges()
                .into_iter()
                .filter(|e| among_kept(e) && (unwired_end(e.from) || unwired_end(e.to)))
                .collect();
            edges.extend(wiring(circuit));
            edges
        }
    };
    let senders: HashSet<Component> = edges.iter().map(|e| e.from).collect();
    let in_graph = |c: Component| match c {
        Component::Input => senders.contains(&c),
        other => is_kept(other),
    };
    let edge_in_graph = |e: &GraphEdge| edges.contains(e);
    let class_of = |c: Component| match c {
        Component::Head(head) => circuit.class_of(head).map(|class| class.name.clone()),
        _ => None,
    };
    let json = file::write(&Written {
        shape: *shape,
        d_model,
        in_graph: &in_graph,
        edge_in_graph: &edge_in_graph,
        class_of: &class_of,
        score: &|_: &GraphEdge| 0.0,
    });
    Exported {
        json,
        warnings: position_warnings(circuit),
    }
}

/// The circuit's edges, one per sender, receiver and channel.
fn wiring(circuit: &Circuit) -> Vec<GraphEdge> {
    circuit
        .wires()
        .into_iter()
        .map(|(sender, receiver)| GraphEdge::between(sender, receiver))
        .collect()
}

fn position_warnings(circuit: &Circuit) -> Vec<String> {
    let mut warnings: Vec<String> = circuit
        .classes
        .iter()
        .filter(|class| class.positions != Positions::All)
        .map(|class| {
            format!(
                "class {} acts at {} only; the graph format has no positions, so it is exported as kept at every position",
                class.name, class.positions
            )
        })
        .collect();
    if let Mlps::Listed(entries) = &circuit.mlps {
        warnings.extend(
            entries
                .iter()
                .filter(|entry| entry.positions != Positions::All)
                .map(|entry| {
                    format!(
                        "MLP {} is kept at {} only; the graph format has no positions, so it is exported as kept at every position",
                        entry.layer, entry.positions
                    )
                }),
        );
    }
    warnings
}
