//! A graph file checked against its shape (`ReadGraph`), and the edges a circuit takes from
//! it: those marked `in_graph`, the top N by score, or those scoring at least a threshold,
//! ranked by signed score or by its magnitude.

use std::collections::{BTreeMap, HashMap};

use crate::graph::eap::file::{EdgeEntry, GraphFile, NodeEntry};
use crate::graph::eap::names::{Component, GraphEdge};
use crate::graph::eap::problem::Problem;
use crate::graph::eap::shape::Shape;

/// One edge of a graph file, with what the file says of it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScoredEdge {
    pub edge: GraphEdge,
    /// `None` when the file gives none (or NaN).
    pub score: Option<f64>,
    pub in_graph: bool,
}

/// A graph file whose every node and edge is one its shape has.
pub struct ReadGraph {
    pub shape: Shape,
    pub nodes: BTreeMap<Component, NodeEntry>,
    /// In the order of the full graph (`Shape::edges`), which breaks ties in rankings.
    pub edges: Vec<ScoredEdge>,
}

/// Which edges of a graph become the circuit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Selection {
    /// The edges the file marks `in_graph`.
    InGraph,
    /// The N best-scoring edges.
    Top(usize),
    /// Every edge scoring at least this.
    MinScore(f64),
}

/// How scores are ranked: as they are, or by magnitude (an edge that hurts the task counts
/// as much as one that helps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ranking {
    Signed,
    Absolute,
}

impl Ranking {
    fn key(self, score: f64) -> f64 {
        match self {
            Ranking::Signed => score,
            Ranking::Absolute => score.abs(),
        }
    }
}

impl Selection {
    /// What was taken, in words: "the top 20 edges by |score|".
    pub fn describe(self, ranking: Ranking) -> String {
        let score = match ranking {
            Ranking::Signed => "score",
            Ranking::Absolute => "|score|",
        };
        match self {
            Selection::InGraph => "the edges marked in_graph".to_string(),
            Selection::Top(n) => format!("the top {n} edges by {score}"),
            Selection::MinScore(min) => format!("the edges with {score} >= {min}"),
        }
    }
}

impl ReadGraph {
    /// Checks every name of the file against the graph of its `cfg`; every problem found.
    pub fn read(file: &GraphFile) -> Result<Self, Vec<Problem>> {
        let shape = file.cfg.shape();
        let mut problems = Vec::new();
        let mut nodes = BTreeMap::new();
        for (name, entry) in &file.nodes {
            match node(&shape, name) {
                Ok(component) => {
                    if let Some(neurons) = &entry.neurons {
                        let kept = neurons.iter().filter(|&&n| n).count();
                        if kept < neurons.len() {
                            problems.push(Problem::Neurons {
                                name: name.clone(),
                                kept,
                                total: neurons.len(),
                            });
                        }
                    }
                    nodes.insert(component, entry.clone());
                }
                Err(problem) => problems.push(problem),
            }
        }
        let mut listed: HashMap<GraphEdge, EdgeEntry> = HashMap::new();
        for (name, entry) in &file.edges {
            match edge(&shape, name) {
                Ok(edge) => {
                    listed.insert(edge, *entry);
                }
                Err(problem) => problems.push(problem),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let edges = shape
            .edges()
            .into_iter()
            .filter_map(|edge| {
                listed.get(&edge).map(|entry| ScoredEdge {
                    edge,
                    score: entry.score.filter(|s| s.is_finite()),
                    in_graph: entry.in_graph,
                })
            })
            .collect();
        Ok(Self {
            shape,
            nodes,
            edges,
        })
    }

    /// The edges `selection` takes, in the full graph's order.
    pub fn select(
        &self,
        selection: Selection,
        ranking: Ranking,
    ) -> Result<Vec<ScoredEdge>, Vec<Problem>> {
        let selected: Vec<ScoredEdge> = match selection {
            Selection::InGraph => {
                let selected: Vec<ScoredEdge> =
                    self.edges.iter().filter(|e| e.in_graph).copied().collect();
                let lone = self.lone_nodes(&selected);
                if !lone.is_empty() {
                    return Err(lone);
                }
                selected
            }
            Selection::Top(n) => self.top(n, ranking).map_err(|p| vec![p])?,
            Selection::MinScore(min) => self
                .edges
                .iter()
                .filter(|e| e.score.is_some_and(|s| ranking.key(s) >= min))
                .copied()
                .collect(),
        };
        if selected.is_empty() {
            let why = match selection {
                Selection::InGraph => "no edge of the graph is marked in_graph".to_string(),
                Selection::Top(_) => "--top 0".to_string(),
                Selection::MinScore(min) => format!("no edge scores {min} or more"),
            };
            return Err(vec![Problem::Empty { why }]);
        }
        Ok(selected)
    }

    fn top(&self, n: usize, ranking: Ranking) -> Result<Vec<ScoredEdge>, Problem> {
        let mut scored: Vec<(usize, f64)> = self
            .edges
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.score.map(|s| (i, ranking.key(s))))
            .collect();
        if n > scored.len() {
            return Err(Problem::TooFewEdges {
                asked: n,
                available: scored.len(),
            });
        }
        // Stable: ties keep the full graph's order.
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut chosen: Vec<usize> = scored[..n].iter().map(|&(i, _)| i).collect();
        chosen.sort_unstable();
        Ok(chosen.into_iter().map(|i| self.edges[i]).collect())
    }

    /// Heads and MLPs the file marks in the graph with none of their edges in it.
    fn lone_nodes(&self, selected: &[ScoredEdge]) -> Vec<Problem> {
        let touched: std::collections::BTreeSet<Component> = selected
            .iter()
            .flat_map(|e| [e.edge.from, e.edge.to])
            .collect();
        self.nodes
            .iter()
            .filter(|(component, entry)| {
                matches!(component, Component::Head(_) | Component::Mlp(_))
                    && entry.in_graph
                    && !touched.contains(component)
            })
            .map(|(component, _)| Problem::LoneNode {
                name: component.to_string(),
            })
            .collect()
    }
}

fn node(shape: &Shape, name: &str) -> Result<Component, Problem> {
    let unknown = |why: String| Problem::UnknownNode {
        name: name.to_string(),
        why,
    };
    let component = Component::parse(name).ok_or_else(|| unknown("not a node name".into()))?;
    if !shape.contains(component) {
        return Err(unknown(format!(
            "outside the graph's {} layers of {} heads",
            shape.layers, shape.heads
        )));
    }
    Ok(component)
}

fn edge(shape: &Shape, name: &str) -> Result<GraphEdge, Problem> {
    let unknown = |why: String| Problem::UnknownEdge {
        name: name.to_string(),
        why,
    };
    let edge = GraphEdge::parse(name).ok_or_else(|| unknown("not an edge name".into()))?;
    for end in [edge.from, edge.to] {
        if !shape.contains(end) {
            return Err(unknown(format!(
                "`{end}` is outside the graph's {} layers of {} heads",
                shape.layers, shape.heads
            )));
        }
    }
    if matches!(edge.to, Component::Head(_)) != edge.channel.is_some() {
        return Err(unknown(
            "a channel <q>, <k> or <v> goes after a receiving head, and only there".into(),
        ));
    }
    if !shape.reads(edge.from, edge.to) {
        return Err(unknown(format!(
            "`{}` does not read what `{}` writes",
            edge.to, edge.from
        )));
    }
    Ok(edge)
}
