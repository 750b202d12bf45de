//! Why a graph file cannot become a circuit (or a circuit a graph file): each names the node
//! or edge at fault. Nothing is dropped silently; what cannot be represented is refused.

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic, PartialEq)]
pub enum Problem {
    #[error("not an EAP-IG graph file: {reason}")]
    #[diagnostic(
        code("eap::syntax"),
        help(
            "the file should be the JSON of EAP-IG's Graph.to_json: {{\"cfg\": .., \"nodes\": .., \"edges\": ..}}"
        )
    )]
    Syntax { reason: String },

    #[error("unknown node `{name}`: {why}")]
    #[diagnostic(
        code("eap::unknown-node"),
        help("nodes are input, a{{L}}.h{{H}}, m{{L}} and logits, within the file's cfg")
    )]
    UnknownNode { name: String, why: String },

    #[error("unknown edge `{name}`: {why}")]
    #[diagnostic(
        code("eap::unknown-edge"),
        help(
            "edges are SENDER->RECEIVER, with <q>, <k> or <v> after a receiving head, from a component to one that reads it"
        )
    )]
    UnknownEdge { name: String, why: String },

    #[error("the graph's cfg ({found}) does not match {model} ({expected})")]
    #[diagnostic(
        code("eap::shape-mismatch"),
        help("give the model the graph was made on with --model")
    )]
    ShapeMismatch {
        model: String,
        found: String,
        expected: String,
    },

    #[error("node `{name}` keeps {kept} of its {total} neurons: a neuron-level circuit")]
    #[diagnostic(
        code("eap::neurons"),
        help("circuitcheck's circuits keep or knock out whole heads and MLPs")
    )]
    Neurons {
        name: String,
        kept: usize,
        total: usize,
    },

    #[error("node `{name}` is in the graph, but none of its edges is")]
    #[diagnostic(
        code("eap::lone-node"),
        help(
            "a circuit's components are the ends of its edges; take the node out of the graph or add its edges"
        )
    )]
    LoneNode { name: String },

    #[error("asked for the top {asked} edges, but the graph has only {available} scored edges")]
    #[diagnostic(code("eap::too-few-edges"))]
    TooFewEdges { asked: usize, available: usize },

    #[error("no edge selected: {why}")]
    #[diagnostic(
        code("eap::empty"),
        help("a circuit needs at least one edge; lower --min-score or raise --top")
    )]
    Empty { why: String },
}
