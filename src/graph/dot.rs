//! Graphviz DOT: classes drawn bottom-up in the layer order of the model, `embed` at the
//! bottom and `logits` at the top, each class ranked with the lowest layer it has a head in,
//! each MLP an edge names with its layer.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use petgraph::visit::EdgeRef;

use crate::dsl::Circuit;
use crate::graph::{GraphEdge, GraphNode, HypothesisGraph};

pub fn to_dot(circuit: &Circuit, graph: &HypothesisGraph) -> String {
    let mut out = String::new();
    writeln!(out, "digraph {} {{", quote(&circuit.name)).unwrap();
    writeln!(out, "  rankdir=BT;").unwrap();
    writeln!(out, "  newrank=true;").unwrap();
    writeln!(
        out,
        "  label={}; labelloc=t;",
        quote(&format!(
            "{} — {} on {}",
            circuit.name, circuit.model, circuit.task
        ))
    )
    .unwrap();
    writeln!(out, "  node [shape=box, style=\"rounded,filled\", fillcolor=\"#eef3fb\", fontname=\"Helvetica\"];").unwrap();
    writeln!(out, "  edge [fontname=\"Helvetica\", fontsize=10];").unwrap();

    ruler(&mut out, circuit, graph);

    writeln!(
        out,
        "  embed [label=\"embed\", shape=ellipse, fillcolor=\"#f5f5f5\"];"
    )
    .unwrap();
    writeln!(
        out,
        "  logits [label=\"logits\", shape=ellipse, fillcolor=\"#f5f5f5\"];"
    )
    .unwrap();
    for class in &circuit.classes {
        let heads: Vec<String> = class.heads.iter().map(|h| h.to_string()).collect();
        let title = class.description.as_deref().unwrap_or(&class.name);
        let label = format!("{title}\n{}\nat {}", heads.join(" "), class.positions);
        writeln!(out, "  {} [label={}];", quote(&class.name), quote(&label)).unwrap();
    }
    for layer in graph.mlps.keys() {
        writeln!(
            out,
            "  \"mlp.{layer}\" [label=\"mlp.{layer}\", shape=hexagon, fillcolor=\"#eaf6ec\"];"
        )
        .unwrap();
    }
    edges(&mut out, graph);
    writeln!(out, "}}").unwrap();
    out
}

/// A ruler of layers keeps the ranks in model order even where no edge forces it.
fn ruler(out: &mut String, circuit: &Circuit, graph: &HypothesisGraph) {
    let mut ranks: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    for class in &circuit.classes {
        if let Some(first) = class.heads.first() {
            ranks
                .entry(first.layer)
                .or_default()
                .push(class.name.clone());
        }
    }
    for layer in graph.mlps.keys() {
        ranks
            .entry(*layer)
            .or_default()
            .push(format!("mlp.{layer}"));
    }
    let last_layer = circuit
        .heads()
        .iter()
        .map(|h| h.layer)
        .chain(graph.mlps.keys().copied())
        .max()
        .unwrap_or(0);
    writeln!(out, "  subgraph ruler {{").unwrap();
    writeln!(
        out,
        "    node [shape=plaintext, style=\"\", fontcolor=\"#888888\"];"
    )
    .unwrap();
    writeln!(out, "    edge [style=invis];").unwrap();
    let mut ruler = vec!["\"embeddings\"".to_string()];
    ruler.extend((0..=last_layer).map(|layer| format!("\"layer {layer}\"")));
    ruler.push("\"unembed\"".to_string());
    writeln!(out, "    {};", ruler.join(" -> ")).unwrap();
    writeln!(out, "  }}").unwrap();
    writeln!(out, "  {{ rank=same; \"embeddings\"; embed; }}").unwrap();
    writeln!(out, "  {{ rank=same; \"unembed\"; logits; }}").unwrap();
    for (layer, names) in &ranks {
        let names: Vec<String> = names.iter().map(|n| quote(n)).collect();
        writeln!(
            out,
            "  {{ rank=same; \"layer {layer}\"; {}; }}",
            names.join("; ")
        )
        .unwrap();
    }
}

/// The edges between class, head, `embed` and `logits` nodes, with the channel a head reads;
/// heads named directly in edges get a node of their own.
fn edges(out: &mut String, graph: &HypothesisGraph) {
    for edge in graph.graph.edge_references() {
        let GraphEdge::Reads(channel) = edge.weight() else {
            continue;
        };
        let endpoint = |index| match &graph.graph[index] {
            GraphNode::Head { head, .. } => quote(&head.to_string()),
            _ => quote(&graph.node_id(index)),
        };
        let from = endpoint(edge.source());
        let to = endpoint(edge.target());
        match channel {
            Some(channel) => writeln!(out, "  {from} -> {to} [label=\"{}\"];", channel.letter()),
            None => writeln!(out, "  {from} -> {to};"),
        }
        .unwrap();
    }
    for (head, index) in &graph.heads {
        let named = graph
            .graph
            .edges(*index)
            .any(|e| matches!(e.weight(), GraphEdge::Reads(_)))
            || graph
                .graph
                .edges_directed(*index, petgraph::Direction::Incoming)
                .any(|e| matches!(e.weight(), GraphEdge::Reads(_)));
        if named {
            writeln!(
                out,
                "  {} [label={}, fillcolor=\"#fff4e0\"];",
                quote(&head.to_string()),
                quote(&head.to_string())
            )
            .unwrap();
        }
    }
}

fn quote(text: &str) -> String {
    format!(
        "\"{}\"",
        text.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    )
}
