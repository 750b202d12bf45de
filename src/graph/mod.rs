//! The hypothesis as a petgraph graph: `embed`, `logits`, one node per class with a node
//! per head beneath it (joined by `Member` edges), one per MLP an edge names, and the
//! circuit's edges with their channel. `dot` and `json` export it.

pub mod dot;
pub mod eap;
pub mod json;

use std::collections::BTreeMap;

use petgraph::graph::{DiGraph, NodeIndex};

use crate::dsl::{Channel, Circuit, Head, Node, Positions};

#[derive(Clone, Debug, PartialEq)]
pub enum GraphNode {
    Embed,
    Logits,
    Class {
        name: String,
        description: Option<String>,
        positions: Positions,
    },
    Head {
        head: Head,
        class: String,
        positions: Positions,
    },
    /// A layer's MLP, named in an edge.
    Mlp {
        layer: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphEdge {
    /// Class → one of its heads.
    Member,
    /// Sender → receiver, through a channel (`None` into the logits or an MLP).
    Reads(Option<Channel>),
}

pub struct HypothesisGraph {
    pub graph: DiGraph<GraphNode, GraphEdge>,
    pub embed: NodeIndex,
    pub logits: NodeIndex,
    pub classes: BTreeMap<String, NodeIndex>,
    pub heads: BTreeMap<Head, NodeIndex>,
    pub mlps: BTreeMap<u32, NodeIndex>,
}

impl HypothesisGraph {
    pub fn build(circuit: &Circuit) -> Self {
        let mut graph = DiGraph::new();
        let embed = graph.add_node(GraphNode::Embed);
        let mut classes = BTreeMap::new();
        let mut heads = BTreeMap::new();
        for class in &circuit.classes {
            let class_index = graph.add_node(GraphNode::Class {
                name: class.name.clone(),
                description: class.description.clone(),
                positions: class.positions.clone(),
            });
            classes.insert(class.name.clone(), class_index);
            for head in &class.heads {
                let head_index = graph.add_node(GraphNode::Head {
                    head: *head,
                    class: class.name.clone(),
                    positions: class.positions.clone(),
                });
                graph.add_edge(class_index, head_index, GraphEdge::Member);
                heads.insert(*head, head_index);
            }
        }
        let mlps = circuit
            .wired_mlps()
            .into_iter()
            .map(|layer| (layer, graph.add_node(GraphNode::Mlp { layer })))
            .collect();
        let logits = graph.add_node(GraphNode::Logits);
        let mut this = Self {
            graph,
            embed,
            logits,
            classes,
            heads,
            mlps,
        };
        for edge in &circuit.edges {
            let from = this.index(&edge.from);
            let to = this.index(&edge.to);
            this.graph
                .add_edge(from, to, GraphEdge::Reads(edge.channel));
        }
        this
    }

    /// The graph node of a circuit node (which the analyzer has checked exists).
    pub fn index(&self, node: &Node) -> NodeIndex {
        match node {
            Node::Embed => self.embed,
            Node::Logits => self.logits,
            Node::Class(name) => self.classes[name],
            Node::Head(head) => self.heads[head],
            Node::Mlp(layer) => self.mlps[layer],
        }
    }

    /// Stable identifier of a node in exports: `embed`, `logits`, the class name, `h9.9`
    /// for a head, or `mlp.3` for an MLP.
    pub fn node_id(&self, index: NodeIndex) -> String {
        match &self.graph[index] {
            GraphNode::Embed => "embed".to_string(),
            GraphNode::Logits => "logits".to_string(),
            GraphNode::Class { name, .. } => name.clone(),
            GraphNode::Head { head, .. } => format!("h{head}"),
            GraphNode::Mlp { layer } => format!("mlp.{layer}"),
        }
    }
}
