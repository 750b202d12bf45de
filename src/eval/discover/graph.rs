//! Edge attribution scores as the graph EAP-IG's and MIB's tools read (`Graph.to_json`):
//! every edge of the model's graph under its EAP-IG name, in the full graph's order, and the
//! file that holds them with the discovered circuit's edges marked `in_graph`.

use std::collections::{BTreeSet, HashMap};

use crate::eval::edge_attribution::EdgeScores;
use crate::graph::eap::file::{self, Written};
use crate::graph::eap::{Component, GraphEdge, ReadGraph, ScoredEdge, Shape};
use crate::model::Config;

/// The graph of the loaded model's shape.
pub fn shape_of(config: &Config) -> Shape {
    Shape {
        layers: config.n_layer as u32,
        heads: config.n_head as u32,
        parallel_attn_mlp: config.parallel_residual,
    }
}

/// Every edge of `shape`'s graph with its score, in the full graph's order (which breaks
/// ties in rankings, as for a file read back); `Err` names an edge the scores lack or one
/// they have that the graph does not (either is a bug).
pub fn scored_graph(scores: &EdgeScores, shape: Shape) -> Result<ReadGraph, String> {
    let by_edge: HashMap<GraphEdge, f64> = scores
        .edges
        .iter()
        .map(|e| (GraphEdge::between(e.sender, e.receiver), e.score))
        .collect();
    let all = shape.edges();
    if let Some(extra) = by_edge.keys().find(|e| !shape.has_edge(e)) {
        return Err(format!("the scores have an edge the graph lacks: {extra}"));
    }
    let edges = all
        .into_iter()
        .map(|edge| {
            by_edge
                .get(&edge)
                .map(|score| ScoredEdge {
                    edge,
                    score: Some(*score),
                    in_graph: false,
                })
                .ok_or_else(|| format!("no score for the edge {edge}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ReadGraph {
        shape,
        nodes: Default::default(),
        edges,
    })
}

/// The graph file of every score, with `selected` (the circuit's edges) and their ends
/// `in_graph`: what `curve` and `import` read back.
pub fn scores_json(graph: &ReadGraph, d_model: u64, selected: &[ScoredEdge]) -> String {
    let chosen: BTreeSet<GraphEdge> = selected.iter().map(|e| e.edge).collect();
    let ends: BTreeSet<Component> = chosen.iter().flat_map(|e| [e.from, e.to]).collect();
    let scores: HashMap<GraphEdge, f64> = graph
        .edges
        .iter()
        .map(|e| (e.edge, e.score.unwrap_or(f64::NAN)))
        .collect();
    file::write(&Written {
        shape: graph.shape,
        d_model,
        in_graph: &|c: Component| ends.contains(&c),
        edge_in_graph: &|e: &GraphEdge| chosen.contains(e),
        class_of: &|_: Component| None,
        score: &|e: &GraphEdge| scores.get(e).copied().unwrap_or(f64::NAN),
    })
}
