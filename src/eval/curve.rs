//! Faithfulness at MIB's edge fractions (docs/formats.md, "What curve computes"): at each
//! fraction p the ⌊p·E⌋ best-ranked edges of a scored graph, pruned as EAP-IG prunes them,
//! become a circuit as `import` writes it, scored exactly; normalized faithfulness f(p), and
//! the areas CPR (under f, signed ranking) and CMD (under |1 − f|, absolute ranking), every
//! figure with a bootstrap interval from the same draws.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::dsl::{
    Ablation, Circuit, Environment, Level, Loader, Mlps, ModelShape, Sources, TaskProblem, TaskRef,
};
use crate::eval::bootstrap::{Bootstrap, Mean};
use crate::eval::check::Progress;
use crate::eval::runner::Runner;
use crate::eval::schema::Estimate;
use crate::eval::session::Evaluator;
use crate::eval::variant::Variant;
use crate::graph::eap::import::{self, Header};
use crate::graph::eap::prune::prune;
use crate::graph::eap::{GraphEdge, Ranking, ReadGraph, ScoredEdge, Selection};

/// Version of the JSON report; bump on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// The fractions of the full graph's edges MIB evaluates (`evaluate_area_under_curve`).
pub const FRACTIONS: [f64; 10] = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];

/// The edges taken at `fraction` of `total`: the f64 product rounded down, as Python's
/// The circuit with no edges: what the session is opened on (its model and task).
pub fn empty_circuit(model: &str, task: TaskRef) -> Circuit {
    Circuit {
        name: "curve".to_string(),
        model: model.to_string(),
        task,
        ablation: None,
        level: Some(Level::Edge),
        classes: Vec::new(),
        mlps: Mlps::Listed(Vec::new()),
        edges: BTreeSet::new(),
        expectations: Vec::new(),
        minimality_sets: Vec::new(),
    }
}

/// `int(pct * n)`.
pub fn edges_at(fraction: f64, total: usize) -> usize {
    (fraction * total as f64).floor() as usize
}

/// One fraction of one ranking.
#[derive(Clone, Debug, Serialize)]
pub struct Point {
    pub fraction: f64,
    /// N = ⌊fraction · E⌋, the edges taken.
    pub edges: usize,
    /// The edges left after pruning: the circuit's.
    pub pruned_edges: usize,
    pub circuit_score: Estimate,
    /// (F(C) − F(∅)) / (F(M) − F(∅)).
    pub normalized: Estimate,
}

/// The points of one ranking and the area computed from them.
#[derive(Clone, Debug, Serialize)]
pub struct Series {
    pub ranking: RankingName,
    pub points: Vec<Point>,
    /// CPR (signed ranking) or CMD (absolute ranking).
    pub area: Estimate,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RankingName {
    Signed,
    Absolute,
}

impl RankingName {
    fn of(ranking: Ranking) -> Self {
        match ranking {
            Ranking::Signed => RankingName::Signed,
            Ranking::Absolute => RankingName::Absolute,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            RankingName::Signed => "by score",
            RankingName::Absolute => "by |score|",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct CurveReport {
    pub version: u32,
    /// The graph file, as given.
    pub graph: String,
    pub model: String,
    pub task: String,
    pub prompts: usize,
    pub ablation: Ablation,
    pub seed: u64,
    pub confidence: f64,
    /// E: the edges of the model's full graph.
    pub total_edges: usize,
    pub model_score: Estimate,
    pub empty_score: Estimate,
    /// Edges ranked by signed score; its area is CPR.
    pub cpr: Series,
    /// Edges ranked by |score|; its area is CMD.
    pub cmd: Series,
}

/// Why a graph file cannot be evaluated as a curve.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CurveError {
    #[error(
        "{missing} of the full graph's {total} edges have no score in the file (first: {first})"
    )]
    #[diagnostic(
        code("curve::unscored"),
        help(
            "a curve ranks every edge of the model's graph: the file must give each a finite score"
        )
    )]
    Unscored {
        missing: usize,
        total: usize,
        first: String,
    },
}

/// Every edge of the full graph with its score; the error names those without one.
pub fn check_scored(graph: &ReadGraph) -> Result<usize, CurveError> {
    let all = graph.shape.edges();
    let scored: BTreeSet<GraphEdge> = graph
        .edges
        .iter()
        .filter(|e| e.score.is_some())
        .map(|e| e.edge)
        .collect();
    let missing: Vec<&GraphEdge> = all.iter().filter(|e| !scored.contains(e)).collect();
    match missing.first() {
        None => Ok(all.len()),
        Some(first) => Err(CurveError::Unscored {
            missing: missing.len(),
            total: all.len(),
            first: first.to_string(),
        }),
    }
}

/// The pruned top-N edges of `graph` at each fraction, by `ranking`.
pub fn circuit_edges(graph: &ReadGraph, ranking: Ranking, total: usize) -> Vec<Vec<ScoredEdge>> {
    FRACTIONS
        .iter()
        .map(|&p| match edges_at(p, total) {
            0 => Vec::new(),
            n => prune(
                &graph
                    .select(Selection::Top(n), ranking)
                    .expect("every edge is scored"),
            ),
        })
        .collect()
}

/// What the circuits say of themselves: the model's name, the task as a header writes it.
pub struct Naming<'a> {
    pub model: &'a str,
    pub task: &'a TaskRef,
    /// The loaded model's shape, which the circuits are checked against.
    pub shape: ModelShape,
}

/// The curve of `graph` on `evaluator`'s model and prompts.
pub fn curve(
    evaluator: &Evaluator,
    graph: &ReadGraph,
    graph_name: &str,
    naming: &Naming,
    progress: &mut dyn Progress,
) -> miette::Result<CurveReport> {
    let total = check_scored(graph)?;
    let signed = circuit_edges(graph, Ranking::Signed, total);
    let absolute = circuit_edges(graph, Ranking::Absolute, total);
    let mut distinct: Vec<BTreeSet<GraphEdge>> = vec![BTreeSet::new()];
    for edges in signed.iter().chain(&absolute) {
        let set: BTreeSet<GraphEdge> = edges.iter().map(|e| e.edge).collect();
        if !distinct.contains(&set) {
            distinct.push(set);
        }
    }
    progress.phase("curve", distinct.len() + 1);
    let session = &evaluator.session;
    let model = &session.loaded.model;
    let dataset = &evaluator.dataset;
    let all: Vec<usize> = (0..dataset.prompts.len()).collect();
    let mut scores: BTreeMap<BTreeSet<GraphEdge>, Vec<f64>> = BTreeMap::new();
    let mut model_scores = None;
    for set in distinct {
        let edges: Vec<ScoredEdge> = graph
            .edges
            .iter()
            .filter(|e| set.contains(&e.edge))
            .copied()
            .collect();
        let circuit = circuit_of(graph, &edges, naming)?;
        let level = circuit.level.unwrap_or(Level::Edge);
        let mut runner = Runner::new(
            model,
            dataset,
            evaluator.reference(),
            &circuit,
            level,
            all.clone(),
        );
        if model_scores.is_none() {
            model_scores = Some(runner.scores(&[Variant::model()])?.remove(0));
            progress.advance(1);
        }
        scores.insert(set, runner.scores(&[Variant::circuit()])?.remove(0));
        progress.advance(1);
    }
    let fm = model_scores.expect("the empty circuit is always scored");
    let fe = scores[&BTreeSet::new()].clone();
    let options = &session.options;
    let bootstrap = Bootstrap::new(
        all.len(),
        options.bootstrap_resamples,
        options.seed,
        options.confidence,
    );
    let per_fraction = |circuits: &[Vec<ScoredEdge>]| -> Vec<Vec<f64>> {
        circuits
            .iter()
            .map(|edges| scores[&edges.iter().map(|e| e.edge).collect::<BTreeSet<_>>()].clone())
            .collect()
    };
    let series = |ranking: Ranking, circuits: &[Vec<ScoredEdge>], area: Area| {
        let fc = per_fraction(circuits);
        // `+ 0.0`: F(C) = F(∅) reads 0, not −0, when F(M) < F(∅).
        let normalized = |m: Mean, fc: &[f64]| (m(fc) - m(&fe)) / (m(&fm) - m(&fe)) + 0.0;
        let points = FRACTIONS
            .iter()
            .zip(circuits)
            .zip(&fc)
            .map(|((&fraction, edges), fc)| Point {
                fraction,
                edges: edges_at(fraction, total),
                pruned_edges: edges.len(),
                circuit_score: bootstrap.estimate(&|m| m(fc)),
                normalized: bootstrap.estimate(&|m| normalized(m, fc)),
            })
            .collect();
        let area_of = |m: Mean| {
            let f: Vec<f64> = fc.iter().map(|fc| normalized(m, fc)).collect();
            area.of(&f)
        };
        Series {
            ranking: RankingName::of(ranking),
            points,
            area: bootstrap.estimate(&area_of),
        }
    };
    Ok(CurveReport {
        version: REPORT_VERSION,
        graph: graph_name.to_string(),
        model: naming.model.to_string(),
        task: dataset.task.clone(),
        prompts: all.len(),
        ablation: options.ablation,
        seed: options.seed,
        confidence: options.confidence,
        total_edges: total,
        model_score: bootstrap.estimate(&|m| m(&fm)),
        empty_score: bootstrap.estimate(&|m| m(&fe)),
        cpr: series(Ranking::Signed, &signed, Area::Under),
        cmd: series(Ranking::Absolute, &absolute, Area::FromOne),
    })
}

/// The two areas MIB computes, by the trapezoid rule over the fractions as x.
#[derive(Clone, Copy)]
pub enum Area {
    /// Under f: CPR.
    Under,
    /// Under |1 − f|: CMD.
    FromOne,
}

impl Area {
    /// The area of the values `f` at [`FRACTIONS`].
    pub fn of(self, f: &[f64]) -> f64 {
        let y = |v: f64| match self {
            Area::Under => v,
            Area::FromOne => (1.0 - v).abs(),
        };
        FRACTIONS
            .windows(2)
            .zip(f.windows(2))
            .map(|(x, f)| (x[1] - x[0]) * (y(f[0]) + y(f[1])) / 2.0)
            .sum()
    }
}

/// The circuit `edges` state, as `import` writes it, checked against the loaded model.
fn circuit_of(graph: &ReadGraph, edges: &[ScoredEdge], naming: &Naming) -> miette::Result<Circuit> {
    let task = naming.task_text();
    let header = Header {
        comments: &[],
        name: "curve",
        model: naming.model,
        task: &task,
        named_classes: &BTreeMap::new(),
    };
    let text = import::circuit_text(&graph.shape, edges, &header);
    naming.check_text(&text).map_err(|found| {
        miette::miette!(
            "the circuit of {} edges does not check (a bug: please report it): {found}",
            edges.len()
        )
    })
}

impl Naming<'_> {
    /// The task as a circuit's header writes it: a built-in task's name, or a task file's
    /// path in quotes.
    pub fn task_text(&self) -> String {
        match self.task {
            TaskRef::Builtin(name) => name.clone(),
            TaskRef::File { path, .. } => format!("\"{}\"", path.replace('\\', "/")),
        }
    }

    /// `text` as a circuit, checked against the loaded model's shape; else its diagnostics.
    pub fn check_text(&self, text: &str) -> Result<Circuit, String> {
        let path = PathBuf::from("discovered.circuit");
        let sources = Text {
            path: path.clone(),
            text,
        };
        let environment = LoadedModel {
            name: self.model,
            shape: self.shape,
        };
        let mut loader = Loader::new(&environment, &sources);
        loader.load(&path).circuit.clone().ok_or_else(|| {
            let found: Vec<String> = loader
                .files()
                .flat_map(|f| f.diagnostics.iter())
                .map(|d| d.to_string())
                .collect();
            found.join("; ")
        })
    }
}

/// The circuit's text at its path; task files from the file system.
struct Text<'a> {
    path: PathBuf,
    text: &'a str,
}

impl Sources for Text<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if path == self.path {
            Ok(self.text.to_string())
        } else {
            crate::dsl::FileSystem.read(path)
        }
    }
}

/// The catalog, with the loaded model's shape under the circuits' model name (a model
/// directory may hold a shape no known model has).
struct LoadedModel<'a> {
    name: &'a str,
    shape: ModelShape,
}

impl Environment for LoadedModel<'_> {
    fn model_shape(&self, model: &str) -> Option<ModelShape> {
        (model == self.name).then_some(self.shape)
    }

    fn known_models(&self) -> Vec<String> {
        vec![self.name.to_string()]
    }

    fn task_positions(&self, task: &TaskRef) -> Result<Vec<String>, TaskProblem> {
        Catalog.task_positions(task)
    }

    fn known_tasks(&self) -> Vec<String> {
        Catalog.known_tasks()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_counts_round_down_as_python_does() {
        let counts: Vec<usize> = FRACTIONS.iter().map(|&p| edges_at(p, 32491)).collect();
        assert_eq!(
            counts,
            [32, 64, 162, 324, 649, 1624, 3249, 6498, 16245, 32491]
        );
    }

    #[test]
    fn areas_by_the_trapezoid_rule() {
        let ones = [1.0; 10];
        assert!((Area::Under.of(&ones) - 0.999).abs() < 1e-12);
        assert_eq!(Area::FromOne.of(&ones), 0.0);
    }
}
