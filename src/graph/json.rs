//! The hypothesis graph as JSON (schema version 1): nodes with their kind, edges with their
//! kind and channel.

use petgraph::visit::EdgeRef;
use serde::Serialize;

use crate::dsl::{Channel, Circuit, Positions};
use crate::graph::{GraphEdge, GraphNode, HypothesisGraph};

#[derive(Serialize)]
struct JsonGraph<'a> {
    version: u32,
    circuit: &'a str,
    model: &'a str,
    task: &'a str,
    nodes: Vec<JsonNode>,
    edges: Vec<JsonEdge>,
}

#[derive(Serialize)]
struct JsonNode {
    id: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    layer: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    head: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    positions: Option<Positions>,
}

#[derive(Serialize)]
struct JsonEdge {
    from: String,
    to: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<Channel>,
}

pub fn to_json(circuit: &Circuit, graph: &HypothesisGraph) -> String {
    let nodes = graph
        .graph
        .node_indices()
        .map(|index| {
            let id = graph.node_id(index);
            let blank = JsonNode {
                id,
                kind: "",
                class: None,
                description: None,
                layer: None,
                head: None,
                positions: None,
            };
            match &graph.graph[index] {
                GraphNode::Embed => JsonNode {
                    kind: "embed",
                    ..blank
                },
                GraphNode::Logits => JsonNode {
                    kind: "logits",
                    ..blank
                },
                GraphNode::Class {
                    description,
                    positions,
                    ..
                } => JsonNode {
                    kind: "class",
                    description: description.clone(),
                    positions: Some(positions.clone()),
                    ..blank
                },
                GraphNode::Mlp { layer } => JsonNode {
                    kind: "mlp",
                    layer: Some(*layer),
                    ..blank
                },
                GraphNode::Head {
                    head,
                    class,
                    positions,
                } => JsonNode {
                    kind: "head",
                    class: Some(class.clone()),
                    layer: Some(head.layer),
                    head: Some(head.head),
                    positions: Some(positions.clone()),
                    ..blank
                },
            }
        })
        .collect();
    let edges = graph
        .graph
        .edge_references()
        .map(|edge| {
            let (kind, channel) = match edge.weight() {
                GraphEdge::Member => ("member", None),
                GraphEdge::Reads(channel) => ("reads", *channel),
            };
            JsonEdge {
                from: graph.node_id(edge.source()),
                to: graph.node_id(edge.target()),
                kind,
                channel,
            }
        })
        .collect();
    let document = JsonGraph {
        version: 1,
        circuit: &circuit.name,
        model: &circuit.model,
        task: circuit.task.name_or_path(),
        nodes,
        edges,
    };
    serde_json::to_string_pretty(&document).expect("serialising plain data cannot fail") + "\n"
}
