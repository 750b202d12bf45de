//! The full graph of a model shape, as EAP-IG's `Graph.from_model` builds it: every node,
//! and an edge from every component to every later one that reads the residual stream it
//! writes. A head reads what the layers below it wrote (through its q, k and v: three
//! edges); an MLP also reads its own layer's heads, unless attention and MLP run in parallel
//! on the block's input (`parallel_attn_mlp`, GPT-NeoX); the logits read everything.

use crate::dsl::{Channel, Head};
use crate::graph::eap::names::{Component, GraphEdge};

/// What the graph of a model depends on (`cfg` in the file, less `d_model`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub layers: u32,
    pub heads: u32,
    pub parallel_attn_mlp: bool,
}

impl Shape {
    /// Every node, in EAP-IG's order: `input`, each layer's heads then its MLP, `logits`.
    pub fn components(&self) -> Vec<Component> {
        let mut out = vec![Component::Input];
        for layer in 0..self.layers {
            out.extend((0..self.heads).map(|head| Component::Head(Head::new(layer, head))));
            out.push(Component::Mlp(layer));
        }
        out.push(Component::Logits);
        out
    }

    pub fn contains(&self, component: Component) -> bool {
        match component {
            Component::Input | Component::Logits => true,
            Component::Head(head) => head.layer < self.layers && head.head < self.heads,
            Component::Mlp(layer) => layer < self.layers,
        }
    }

    /// Whether `receiver` reads what `sender` writes (channels aside).
    pub fn reads(&self, sender: Component, receiver: Component) -> bool {
        if !self.contains(sender) || !self.contains(receiver) {
            return false;
        }
        match (sender, receiver) {
            (Component::Logits, _) | (_, Component::Input) => false,
            (Component::Input, _) | (_, Component::Logits) => true,
            (Component::Head(from), Component::Head(to)) => from.layer < to.layer,
            (Component::Mlp(from), Component::Head(to)) => from < to.layer,
            (Component::Mlp(from), Component::Mlp(to)) => from < to,
            (Component::Head(from), Component::Mlp(to)) => {
                from.layer < to || (from.layer == to && !self.parallel_attn_mlp)
            }
        }
    }

    /// Whether the graph has this edge: a receiver that reads the sender, through a channel
    /// exactly when the receiver is a head.
    pub fn has_edge(&self, edge: &GraphEdge) -> bool {
        matches!(edge.to, Component::Head(_)) == edge.channel.is_some()
            && self.reads(edge.from, edge.to)
    }

    /// The edges into `receiver`'s inputs: one per channel for a head, else one.
    pub fn inputs_of(receiver: Component) -> Vec<Option<Channel>> {
        match receiver {
            Component::Head(_) => Channel::ALL.into_iter().map(Some).collect(),
            _ => vec![None],
        }
    }

    /// Every edge, in the order `Graph.from_model` adds them (so `to_json` writes them):
    /// layer by layer, each sender so far into the layer's heads (q, k, v per head), then
    /// into its MLP; the logits last.
    pub fn edges(&self) -> Vec<GraphEdge> {
        let mut out = Vec::new();
        let mut stream = vec![Component::Input];
        for layer in 0..self.layers {
            let heads: Vec<Component> = (0..self.heads)
                .map(|head| Component::Head(Head::new(layer, head)))
                .collect();
            let mlp = Component::Mlp(layer);
            let into_heads = |from: Component, out: &mut Vec<GraphEdge>| {
                for &to in &heads {
                    for channel in Channel::ALL {
                        out.push(GraphEdge {
                            from,
                            to,
                            channel: Some(channel),
                        });
                    }
                }
            };
            let into_mlp = |from: Component| GraphEdge {
                from,
                to: mlp,
                channel: None,
            };
            if self.parallel_attn_mlp {
                for &from in &stream {
                    into_heads(from, &mut out);
                    out.push(into_mlp(from));
                }
                stream.extend(&heads);
            } else {
                for &from in &stream {
                    into_heads(from, &mut out);
                }
                stream.extend(&heads);
                out.extend(stream.iter().map(|&from| into_mlp(from)));
            }
            stream.push(mlp);
        }
        out.extend(stream.iter().map(|&from| GraphEdge {
            from,
            to: Component::Logits,
            channel: None,
        }));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_edge_is_one_the_graph_has() {
        for parallel_attn_mlp in [false, true] {
            let shape = Shape {
                layers: 3,
                heads: 2,
                parallel_attn_mlp,
            };
            let edges = shape.edges();
            assert!(edges.iter().all(|edge| shape.has_edge(edge)));
            let mut all = 0;
            for from in shape.components() {
                for to in shape.components() {
                    if shape.reads(from, to) {
                        all += Shape::inputs_of(to).len();
                    }
                }
            }
            assert_eq!(edges.len(), all);
        }
    }
}
