//! EAP-IG's `Graph.prune`, which MIB applies after taking the top N edges: it drops, until
//! nothing changes, every node without an incoming edge (the input excepted) or without an
//! outgoing one, and every edge whose sender or receiver was dropped. What survives is exactly
//! the edges on some path from the input to the logits, computed here by reachability.

use std::collections::BTreeSet;

use crate::graph::eap::names::Component;
use crate::graph::eap::select::ScoredEdge;

/// The edges of `edges` on a path from the input to the logits, in their order.
pub fn prune(edges: &[ScoredEdge]) -> Vec<ScoredEdge> {
    // Every edge goes forward in the stream's order: one pass by sender settles what the
    // input reaches, one back by receiver what reaches the logits.
    let mut sorted: Vec<&ScoredEdge> = edges.iter().collect();
    sorted.sort_by_key(|e| order(e.edge.from));
    let mut from_input: BTreeSet<Component> = BTreeSet::from([Component::Input]);
    for e in &sorted {
        if from_input.contains(&e.edge.from) {
            from_input.insert(e.edge.to);
        }
    }
    sorted.sort_by_key(|e| std::cmp::Reverse(order(e.edge.to)));
    let mut to_logits: BTreeSet<Component> = BTreeSet::from([Component::Logits]);
    for e in &sorted {
        if to_logits.contains(&e.edge.to) {
            to_logits.insert(e.edge.from);
        }
    }
    edges
        .iter()
        .filter(|e| from_input.contains(&e.edge.from) && to_logits.contains(&e.edge.to))
        .copied()
        .collect()
}

/// A component's place in the order the stream is written: the input, each layer's heads,
/// then its MLP, the logits. Every edge goes forward in it.
fn order(component: Component) -> (u32, u32) {
    match component {
        Component::Input => (0, 0),
        Component::Head(head) => (1 + 2 * head.layer, 0),
        Component::Mlp(layer) => (2 + 2 * layer, 0),
        Component::Logits => (u32::MAX, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::eap::names::GraphEdge;

    fn edges(names: &[&str]) -> Vec<ScoredEdge> {
        names
            .iter()
            .map(|n| ScoredEdge {
                edge: GraphEdge::parse(n).unwrap(),
                score: Some(1.0),
                in_graph: false,
            })
            .collect()
    }

    #[test]
    fn keeps_the_edges_on_paths_from_the_input_to_the_logits() {
        let given = edges(&[
            "input->a0.h0<q>",
            "a0.h0->m0",
            "m0->a1.h1<v>",
            "a1.h1->logits",
            // a0.h1 reads nothing: dropped, with the edge it sends.
            "a0.h1->a1.h0<k>",
            // a1.h0 is read by nothing.
            "input->a1.h0<q>",
            "m0->m1",
        ]);
        let kept: Vec<String> = prune(&given).iter().map(|e| e.edge.to_string()).collect();
        assert_eq!(
            kept,
            [
                "input->a0.h0<q>",
                "a0.h0->m0",
                "m0->a1.h1<v>",
                "a1.h1->logits"
            ]
        );
        assert!(prune(&edges(&["input->a0.h0<q>", "a0.h0->a1.h0<k>"])).is_empty());
    }
}
