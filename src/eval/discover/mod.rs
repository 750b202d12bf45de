//! `circuitcheck discover`: a circuit found by attribution and checked exactly. Every edge
//! of the model's graph is scored by EAP or EAP-IG (`edge_attribution`); the circuit is the
//! top N edges by signed score, pruned as EAP-IG prunes them, N given or found by
//! `search` as the fewest reaching a faithfulness; each candidate's faithfulness
//! F(C)/F(M) is computed exactly, as `check` computes it at level edge. `positions` then
//! restricts each head to the task's named positions where it acts, and `text` writes the
//! circuit. grammar/GRAMMAR.md, "What discover scores" and docs/formats.md define it all.

pub mod graph;
pub mod positions;
pub mod search;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::dsl::{Ablation, Circuit, Head, Level, Positions};
use crate::eval::check::Progress;
use crate::eval::curve::{Naming, empty_circuit};
use crate::eval::edge_attribution::{Method, score_edges};
use crate::eval::runner::Runner;
use crate::eval::session::Evaluator;
use crate::eval::variant::Variant;
use crate::graph::eap::import::Header;
use crate::graph::eap::prune::prune;
use crate::graph::eap::{GraphEdge, Ranking, ReadGraph, ScoredEdge, Selection};

/// Version of the JSON report; bump on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// How many edges the circuit takes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "rule", rename_all = "lowercase")]
pub enum Target {
    /// The top N edges by score (`--edges N`).
    Edges { edges: usize },
    /// The fewest top edges whose circuit reaches this faithfulness (`--faithfulness F`).
    Faithfulness { faithfulness: f64 },
}

/// What `discover` is asked.
pub struct Request<'a> {
    pub method: Method,
    pub target: Target,
    /// Signed (EAP-IG's convention: the edges that help F first), or by |score|.
    pub ranking: Ranking,
    /// `--positions`: the threshold, as a fraction of F(M).
    pub positions: Option<f64>,
    pub naming: &'a Naming<'a>,
}

/// One size tried: the top `edges` edges, pruned to `pruned_edges`, scored exactly.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    pub edges: usize,
    pub pruned_edges: usize,
    /// F(C), the task's mean metric with the circuit.
    pub circuit_score: f64,
    /// F(C)/F(M).
    pub faithfulness: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct DiscoverReport {
    pub version: u32,
    pub model: String,
    pub task: String,
    pub prompts: usize,
    pub ablation: Ablation,
    pub seed: u64,
    /// `eap` or `eap-ig`.
    pub method: &'static str,
    /// The IG path's steps (1 for EAP).
    pub steps: usize,
    /// E: the edges of the model's graph, every one scored.
    pub total_edges: usize,
    /// F(M).
    pub model_score: f64,
    pub target: Target,
    /// `signed` or `absolute`.
    pub ranking: &'static str,
    /// Every size scored, in the order tried.
    pub tried: Vec<Candidate>,
    /// The size taken; `None` when no size reaches the faithfulness asked.
    pub chosen: Option<Candidate>,
    /// `--positions`: what each head was found to do at each position.
    pub positions: Option<positions::PositionsReport>,
    /// The circuit's text, as written (`None` when none was found).
    pub circuit: Option<String>,
}

/// What `discover` found.
pub struct Discovered {
    pub report: DiscoverReport,
    /// Every edge with its score.
    pub graph: ReadGraph,
    /// The circuit's edges (pruned): empty when none was found.
    pub selected: Vec<ScoredEdge>,
    /// Each head's positions (`--positions`); empty without it.
    pub head_positions: BTreeMap<Head, Positions>,
    /// With `--positions`: the circuit before them (its classes name the restricted ones).
    pub base: Option<Circuit>,
}

impl Discovered {
    /// The circuit as `.circuit` text, named `name`, its task as `task` (a header writes it),
    /// with comments saying how it was found; `None` when none was found.
    pub fn circuit_text(&self, name: &str, task: &str) -> Option<String> {
        text::circuit_text(self, name, task, self.report.ablation)
    }
}

/// Why no circuit can be given for the request.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum DiscoverError {
    #[error("--edges {asked} is more than the {total} edges of the model's graph")]
    #[diagnostic(
        code("discover::too-many-edges"),
        help("take at most every edge of the graph")
    )]
    TooManyEdges { asked: usize, total: usize },
    #[error(
        "the top {edges} edges hold no path from the input to the logits: pruned, nothing is left"
    )]
    #[diagnostic(
        code("discover::empty"),
        help("take more edges (--edges), or give a faithfulness to reach (--faithfulness)")
    )]
    Empty { edges: usize },
    #[error("the graph's edges and the scores disagree (a bug: please report it): {0}")]
    #[diagnostic(code("discover::internal"))]
    Internal(String),
}

/// Scores every edge on `evaluator`'s model and prompts, and takes the circuit `request`
/// asks for.
pub fn discover(
    evaluator: &Evaluator,
    request: &Request,
    progress: &mut dyn Progress,
) -> miette::Result<Discovered> {
    let session = &evaluator.session;
    let model = &session.loaded.model;
    let dataset = &evaluator.dataset;
    let config = model.config();
    let steps = match request.method {
        Method::Eap => 1,
        Method::EapIg { steps } => steps,
    };
    let shape = graph::shape_of(config);
    let total = shape.edges().len();
    if let Target::Edges { edges } = request.target
        && edges > total
    {
        return Err(DiscoverError::TooManyEdges {
            asked: edges,
            total,
        }
        .into());
    }
    progress.phase("scoring edges", dataset.prompts.len() * steps);
    let scores = score_edges(model, dataset, evaluator.reference(), request.method, |n| {
        progress.advance(n)
    })?;
    let graph = graph::scored_graph(&scores, shape).map_err(DiscoverError::Internal)?;
    let mut scorer = Scorer::new(evaluator, &graph, request.naming, request.ranking)?;
    let chosen = match request.target {
        Target::Edges { edges } => {
            progress.phase("faithfulness", 1);
            let candidate = scorer.candidate(edges)?;
            progress.advance(1);
            if candidate.pruned_edges == 0 {
                return Err(DiscoverError::Empty { edges }.into());
            }
            Some(edges)
        }
        Target::Faithfulness { faithfulness } => {
            search::fewest(total, faithfulness, |n| -> miette::Result<f64> {
                progress.phase("faithfulness search", 1);
                let candidate = scorer.candidate(n)?;
                progress.advance(1);
                Ok(candidate.faithfulness)
            })?
        }
    };
    let chosen_candidate = chosen.map(|n| scorer.tried[&n].clone());
    let selected = chosen.map(|n| scorer.edges(n)).unwrap_or_default();
    let (positions, head_positions, base) = match (request.positions, chosen) {
        (Some(threshold), Some(_)) => {
            let base = scorer.circuit(&selected)?;
            let found = positions::find(
                evaluator,
                &base,
                threshold,
                scorer.model_score,
                request.naming,
                &graph,
                &selected,
                progress,
            )?;
            (Some(found.report), found.heads, Some(base))
        }
        _ => (None, BTreeMap::new(), None),
    };
    let report = DiscoverReport {
        version: REPORT_VERSION,
        model: request.naming.model.to_string(),
        task: dataset.task.clone(),
        prompts: dataset.prompts.len(),
        ablation: session.options.ablation,
        seed: session.options.seed,
        method: match request.method {
            Method::Eap => "eap",
            Method::EapIg { .. } => "eap-ig",
        },
        steps,
        total_edges: total,
        model_score: scorer.model_score,
        target: request.target,
        ranking: match request.ranking {
            Ranking::Signed => "signed",
            Ranking::Absolute => "absolute",
        },
        tried: scorer
            .order
            .iter()
            .map(|n| scorer.tried[n].clone())
            .collect(),
        chosen: chosen_candidate,
        positions,
        circuit: None,
    };
    Ok(Discovered {
        report,
        graph,
        selected,
        head_positions,
        base,
    })
}

/// Scores the circuits of the top N edges exactly, each distinct edge set once.
struct Scorer<'a> {
    evaluator: &'a Evaluator,
    graph: &'a ReadGraph,
    naming: &'a Naming<'a>,
    ranking: Ranking,
    /// F(M).
    model_score: f64,
    /// F(C) by edge set.
    by_set: BTreeMap<BTreeSet<GraphEdge>, f64>,
    tried: BTreeMap<usize, Candidate>,
    /// The sizes in the order they were tried.
    order: Vec<usize>,
}

impl<'a> Scorer<'a> {
    fn new(
        evaluator: &'a Evaluator,
        graph: &'a ReadGraph,
        naming: &'a Naming<'a>,
        ranking: Ranking,
    ) -> miette::Result<Self> {
        let empty = empty_circuit(naming.model, naming.task.clone());
        let model_score = mean(&score(evaluator, &empty, &Variant::model())?);
        Ok(Self {
            evaluator,
            graph,
            naming,
            ranking,
            model_score,
            by_set: BTreeMap::new(),
            tried: BTreeMap::new(),
            order: Vec::new(),
        })
    }

    /// The top `n` edges of the ranking, pruned.
    fn edges(&self, n: usize) -> Vec<ScoredEdge> {
        if n == 0 {
            return Vec::new();
        }
        prune(
            &self
                .graph
                .select(Selection::Top(n), self.ranking)
                .expect("every edge is scored and n is at most their number"),
        )
    }

    /// The circuit `edges` state, checked against the loaded model.
    fn circuit(&self, edges: &[ScoredEdge]) -> miette::Result<Circuit> {
        circuit_of(self.graph, edges, self.naming)
    }

    fn candidate(&mut self, n: usize) -> miette::Result<Candidate> {
        if let Some(known) = self.tried.get(&n) {
            return Ok(known.clone());
        }
        let edges = self.edges(n);
        let set: BTreeSet<GraphEdge> = edges.iter().map(|e| e.edge).collect();
        let circuit_score = match self.by_set.get(&set) {
            Some(known) => *known,
            None => {
                let circuit = self.circuit(&edges)?;
                let value = mean(&score(self.evaluator, &circuit, &Variant::circuit())?);
                self.by_set.insert(set, value);
                value
            }
        };
        let candidate = Candidate {
            edges: n,
            pruned_edges: edges.len(),
            circuit_score,
            faithfulness: circuit_score / self.model_score,
        };
        self.tried.insert(n, candidate.clone());
        self.order.push(n);
        Ok(candidate)
    }
}

/// The circuit `edges` state as `import` writes it (every class at all positions), checked
/// against the loaded model.
pub fn circuit_of(
    graph: &ReadGraph,
    edges: &[ScoredEdge],
    naming: &Naming,
) -> miette::Result<Circuit> {
    let task = naming.task_text();
    let header = Header {
        comments: &[],
        name: "discovered",
        model: naming.model,
        task: &task,
        named_classes: &BTreeMap::new(),
    };
    let text = crate::graph::eap::import::circuit_text(&graph.shape, edges, &header);
    naming.check_text(&text).map_err(|found| {
        DiscoverError::Internal(format!(
            "the circuit of {} edges does not check: {found}",
            edges.len()
        ))
        .into()
    })
}

/// Each prompt's score for `variant` of `circuit`, at the circuit's level (edge, or node for
/// the whole graph), on every prompt.
pub fn score(
    evaluator: &Evaluator,
    circuit: &Circuit,
    variant: &Variant,
) -> miette::Result<Vec<f64>> {
    let all: Vec<usize> = (0..evaluator.dataset.prompts.len()).collect();
    let mut runner = Runner::new(
        &evaluator.session.loaded.model,
        &evaluator.dataset,
        evaluator.reference(),
        circuit,
        circuit.level.unwrap_or(Level::Edge),
        all,
    );
    Ok(runner.scores(std::slice::from_ref(variant))?.remove(0))
}

pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}
