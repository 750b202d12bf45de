//! The JSON of `Graph.to_json` (EAP-IG, and the MIB circuit track's submissions):
//! `{"cfg": {...}, "nodes": {NAME: {"in_graph": ..}}, "edges": {NAME: {"score": ..,
//! "in_graph": ..}}}`. Python's `json.dump` writes a NaN score as a bare `NaN`, which is not
//! JSON; such scores are read as unscored.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;

use crate::graph::eap::names::{Component, GraphEdge};
use crate::graph::eap::shape::Shape;

/// The largest graph file read: Llama-3.1-8B's full graph (1.6 million edges, each scored)
/// is about 120 MB.
pub const GRAPH_LIMIT: u64 = 256 << 20;

#[derive(Clone, Debug, Deserialize)]
pub struct GraphFile {
    pub cfg: Cfg,
    pub nodes: BTreeMap<String, NodeEntry>,
    pub edges: BTreeMap<String, EdgeEntry>,
}

/// The model's shape as the file states it; other keys are ignored.
#[derive(Clone, Copy, Debug, Deserialize)]
pub struct Cfg {
    pub n_layers: u32,
    pub n_heads: u32,
    pub parallel_attn_mlp: bool,
    #[serde(default)]
    pub d_model: Option<u64>,
}

impl Cfg {
    pub fn shape(&self) -> Shape {
        Shape {
            layers: self.n_layers,
            heads: self.n_heads,
            parallel_attn_mlp: self.parallel_attn_mlp,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
pub struct NodeEntry {
    pub in_graph: bool,
    /// MIB's files score nodes too; EAP-IG's own give only `in_graph`.
    #[serde(default)]
    pub score: Option<f64>,
    /// Neuron-level graphs: which of the node's d_model neurons are in the graph.
    #[serde(default)]
    pub neurons: Option<Vec<bool>>,
    /// circuitcheck's own addition on export: the class a head belongs to.
    #[serde(default)]
    pub class: Option<String>,
}

#[derive(Clone, Copy, Debug, Deserialize)]
pub struct EdgeEntry {
    #[serde(default)]
    pub score: Option<f64>,
    pub in_graph: bool,
}

impl GraphFile {
    /// Reads the text of a graph file (bare `NaN` and `Infinity` read as unscored).
    pub fn parse(text: &str) -> serde_json::Result<Self> {
        serde_json::from_str(&non_finite_as_null(text))
    }
}

/// The text with Python's non-JSON number words (`NaN`, `Infinity`, `-Infinity`) outside
/// strings replaced by `null`.
fn non_finite_as_null(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains("NaN") && !text.contains("Infinity") {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if let Some(word) = ["NaN", "-Infinity", "Infinity"]
            .into_iter()
            .find(|w| rest.starts_with(w))
        {
            out.push_str("null");
            rest = &rest[word.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out.into()
}

/// A graph to write: the shape, which nodes and edges are in it, and the class of each head
/// in it.
pub struct Written<'a> {
    pub shape: Shape,
    pub d_model: u64,
    pub in_graph: &'a dyn Fn(Component) -> bool,
    pub edge_in_graph: &'a dyn Fn(&GraphEdge) -> bool,
    pub class_of: &'a dyn Fn(Component) -> Option<String>,
    /// Each edge's score (an export's are all 0).
    pub score: &'a dyn Fn(&GraphEdge) -> f64,
}

/// The file as `Graph.to_json` writes it (keys in its order, `json.dump`'s separators), with
/// each edge's score (the shortest text that reads back as the same f64; a score that is not
/// finite as `NaN`, as Python writes it) and no node scores; heads in the graph also carry
/// their `class`.
pub fn write(graph: &Written) -> String {
    let shape = graph.shape;
    let mut out = String::new();
    write!(
        out,
        "{{\"cfg\": {{\"n_layers\": {}, \"n_heads\": {}, \"parallel_attn_mlp\": {}, \"d_model\": {}}}, \"nodes\": {{",
        shape.layers, shape.heads, shape.parallel_attn_mlp, graph.d_model
    )
    .unwrap();
    for (i, component) in shape.components().into_iter().enumerate() {
        let separator = if i == 0 { "" } else { ", " };
        let in_graph = (graph.in_graph)(component);
        write!(
            out,
            "{separator}\"{component}\": {{\"in_graph\": {in_graph}"
        )
        .unwrap();
        if let Some(class) = (graph.class_of)(component).filter(|_| in_graph) {
            let class = serde_json::to_string(&class).expect("a string serialises");
            write!(out, ", \"class\": {class}").unwrap();
        }
        out.push('}');
    }
    out.push_str("}, \"edges\": {");
    for (i, edge) in shape.edges().iter().enumerate() {
        let separator = if i == 0 { "" } else { ", " };
        let in_graph = (graph.edge_in_graph)(edge);
        let score = score_text((graph.score)(edge));
        write!(
            out,
            "{separator}\"{edge}\": {{\"score\": {score}, \"in_graph\": {in_graph}}}"
        )
        .unwrap();
    }
    out.push_str("}}\n");
    out
}

/// A score as JSON: the shortest decimal that reads back as the same f64 (`0.0`, `1e-7`).
fn score_text(score: f64) -> String {
    if score.is_finite() {
        serde_json::to_string(&score).expect("a finite number serialises")
    } else {
        "NaN".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_non_finite_numbers_read_as_unscored() {
        let text = r#"{"cfg": {"n_layers": 1, "n_heads": 1, "parallel_attn_mlp": false},
            "nodes": {"a0.h0": {"in_graph": true, "score": NaN}, "NaN \"Infinity": {"in_graph": false}},
            "edges": {"input->logits": {"score": -Infinity, "in_graph": true}}}"#;
        let file = GraphFile::parse(text).unwrap();
        assert_eq!(file.nodes["a0.h0"].score, None);
        assert!(file.nodes.contains_key("NaN \"Infinity"));
        assert_eq!(file.edges["input->logits"].score, None);
    }
}
