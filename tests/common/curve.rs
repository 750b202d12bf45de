//! The curve of docs/formats.md ("What curve computes"), computed independently for the
//! tests: top N by a plain sort, EAP-IG's pruning as its loop (drop nodes without an edge in
//! or out, then edges of dropped nodes, until nothing changes), each pruned edge set as a
//! circuit of one class per head with every MLP it touches wired, scored by the f64
//! evaluator; the areas by the trapezoid rule.

#![allow(dead_code)]

use std::collections::BTreeSet;

use circuitcheck::dsl::{
    Circuit, Class, Edge, Head, Level as DslLevel, MlpEntry, Mlps, Node, Positions, TaskRef,
};
use circuitcheck::graph::eap::{Component, GraphEdge};

use super::evaluator::{Evaluator, Scheme, Scope};
use super::reference::Reference;
use circuitcheck::task::Dataset;

pub const FRACTIONS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];

/// The `n` edges of largest key, ties in the given order.
pub fn top(edges: &[(GraphEdge, f64)], n: usize, absolute: bool) -> Vec<GraphEdge> {
    let key = |s: f64| if absolute { s.abs() } else { s };
    let mut order: Vec<usize> = (0..edges.len()).collect();
    order.sort_by(|a, b| key(edges[*b].1).total_cmp(&key(edges[*a].1)));
    order[..n].iter().map(|i| edges[*i].0).collect()
}

/// EAP-IG's `Graph.prune`, literally: a fixpoint over nodes and edges.
pub fn prune(edges: &[GraphEdge]) -> BTreeSet<GraphEdge> {
    let mut kept: BTreeSet<GraphEdge> = edges.iter().copied().collect();
    loop {
        let nodes: BTreeSet<Component> = kept
            .iter()
            .flat_map(|e| [e.from, e.to])
            .filter(|node| {
                let has_out = *node == Component::Logits || kept.iter().any(|e| e.from == *node);
                let has_in = *node == Component::Input || kept.iter().any(|e| e.to == *node);
                has_in && has_out
            })
            .collect();
        let next: BTreeSet<GraphEdge> = kept
            .iter()
            .filter(|e| nodes.contains(&e.from) && nodes.contains(&e.to))
            .copied()
            .collect();
        if next == kept {
            return kept;
        }
        kept = next;
    }
}

fn node(component: Component) -> Node {
    match component {
        Component::Input => Node::Embed,
        Component::Head(head) => Node::Head(head),
        Component::Mlp(layer) => Node::Mlp(layer),
        Component::Logits => Node::Logits,
    }
}

/// The edges as a circuit at level edge: each head its own class at every position, every
/// MLP an edge touches listed (and so wired), no other.
pub fn circuit(edges: &BTreeSet<GraphEdge>) -> Circuit {
    let components: BTreeSet<Component> = edges.iter().flat_map(|e| [e.from, e.to]).collect();
    let classes = components
        .iter()
        .filter_map(|c| match c {
            Component::Head(h) => Some(Class {
                name: format!("h{}_{}", h.layer, h.head),
                description: None,
                positions: Positions::All,
                heads: BTreeSet::from([Head::new(h.layer, h.head)]),
            }),
            _ => None,
        })
        .collect();
    let mlps = components
        .iter()
        .filter_map(|c| match c {
            Component::Mlp(layer) => Some(MlpEntry {
                layer: *layer,
                positions: Positions::All,
            }),
            _ => None,
        })
        .collect();
    Circuit {
        name: "reference".into(),
        model: "gpt2-small".into(),
        task: TaskRef::Builtin("ioi".into()),
        ablation: None,
        level: Some(DslLevel::Edge),
        classes,
        mlps: Mlps::Listed(mlps),
        edges: edges
            .iter()
            .map(|e| Edge {
                from: node(e.from),
                to: node(e.to),
                channel: e.channel,
            })
            .collect(),
        expectations: Vec::new(),
        minimality_sets: Vec::new(),
    }
}

/// Each prompt's score for the circuit `edges` make.
pub fn scores(
    model: &Reference,
    dataset: &Dataset,
    scheme: &Scheme,
    edges: &BTreeSet<GraphEdge>,
) -> Vec<f64> {
    let circuit = circuit(edges);
    Evaluator::new(
        model,
        dataset,
        &circuit,
        scheme,
        super::evaluator::Level::Edge,
    )
    .scores(Scope::Circuit, &BTreeSet::new())
}

/// The trapezoid rule over the fractions as x, of `f` or of |1 − f|.
pub fn area(f: &[f64], from_one: bool) -> f64 {
    let y = |v: f64| if from_one { (1.0 - v).abs() } else { v };
    (0..FRACTIONS.len() - 1)
        .map(|i| (FRACTIONS[i + 1] - FRACTIONS[i]) * (y(f[i]) + y(f[i + 1])) / 2.0)
        .sum()
}

pub fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}
