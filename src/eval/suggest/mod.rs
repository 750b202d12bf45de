//! `suggest`: the heads, MLPs or edges outside a circuit that would most bring it closer to
//! the model (GRAMMAR.md, "What suggest computes"). Candidates are ranked by EAP attribution,
//! the best few scored exactly as `check` scores a circuit, each as the variant that adds
//! it, and the best that improve can be written as one variant file.

pub mod candidates;
pub mod statements;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::catalog::Catalog;
use crate::dsl::{Ablation, Circuit, Environment, Head, Level, Loader, Sources, loader};
use crate::eval::bootstrap::{Bootstrap, Mean, mean};
use crate::eval::check::{Progress, baseline};
use crate::eval::edge_attribution::{Method, score_edges};
use crate::eval::runner::Runner;
use crate::eval::schema::Estimate;
use crate::eval::session::Evaluator;
use crate::eval::variant::{Scope, Variant};
use candidates::{Addition, Graph};

/// Version of the JSON report; bump on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// What to suggest: the circuit's file, how many candidates to score exactly, how many
/// improving ones to write and where.
pub struct Request<'a> {
    pub file: &'a Path,
    pub candidates: usize,
    pub take: usize,
    pub write: Option<&'a Path>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SuggestReport {
    pub version: u32,
    pub circuit: String,
    pub model: String,
    pub task: String,
    pub ablation: Ablation,
    pub level: Level,
    pub prompts: usize,
    pub seed: u64,
    pub confidence: f64,
    /// F(M)
    pub model_score: Estimate,
    /// F(C)
    pub circuit_score: Estimate,
    /// F(C) / F(M)
    pub faithfulness: Estimate,
    /// K*, check's worst K set, with C's figures at it.
    pub worst: WorstSet,
    /// Candidates in all, before ranking.
    pub considered: usize,
    /// The best-ranked candidates, scored exactly, by reduction (largest first).
    pub candidates: Vec<Suggestion>,
    /// The variant `--write` wrote, with its figures; `None` without `--write` or when no
    /// candidate improves.
    pub written: Option<Written>,
}

#[derive(Clone, Debug, Serialize)]
pub struct WorstSet {
    /// How check chose it: `empty`, `class NAME`, `random N`, `greedy`.
    pub origin: String,
    pub heads: Vec<Head>,
    /// F(M \ K*)
    pub model: Estimate,
    /// F(C \ K*)
    pub circuit: Estimate,
    /// |F(C \ K*) − F(M \ K*)|
    pub incompleteness: Estimate,
}

/// The figures of C with additions.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    /// F(C + x)
    pub circuit_score: Estimate,
    /// F(C + x) / F(M)
    pub faithfulness: Estimate,
    /// F(C + x) / F(M) − F(C) / F(M), paired
    pub faithfulness_change: Estimate,
    /// |F((C + x) \ K*) − F(M \ K*)|
    pub incompleteness: Estimate,
    /// |F(C \ K*) − F(M \ K*)| − |F((C + x) \ K*) − F(M \ K*)|, paired: positive improves
    pub reduction: Estimate,
}

#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    /// `head`, `mlp` or `edge`.
    pub kind: &'static str,
    /// `L.H`, `mlp.L` or `SENDER -> RECEIVER`.
    pub addition: String,
    /// a(x), the EAP attribution it was ranked by.
    pub attribution: f64,
    /// Its place in the ranking by attribution, from 1.
    pub attribution_rank: usize,
    #[serde(flatten)]
    pub figures: Figures,
    /// The reduction is positive.
    pub improves: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Written {
    /// The path as given.
    pub path: String,
    /// The circuit's name in the file.
    pub name: String,
    pub additions: Vec<String>,
    #[serde(flatten)]
    pub figures: Figures,
    /// The file's text (not in the JSON).
    #[serde(skip)]
    pub text: String,
}

/// The suggestions for `circuit` (read from `request.file`) on `evaluator`'s prompts.
pub fn suggest(
    evaluator: &Evaluator,
    circuit: &Circuit,
    request: &Request,
    progress: &mut dyn Progress,
) -> miette::Result<SuggestReport> {
    let session = &evaluator.session;
    session.fits(circuit)?;
    let model = &session.loaded.model;
    let config = model.config();
    let options = &session.options;
    let level = options.level;
    let dataset = &evaluator.dataset;
    let reference = evaluator.reference();
    let (mut layers, mut heads) = (config.n_layer as u32, config.n_head as u32);
    if let Some(shape) = Catalog.model_shape(&circuit.model) {
        // A circuit's file is checked against the shape of the model it names.
        layers = layers.min(shape.layers);
        heads = heads.min(shape.heads);
    }

    progress.phase("attribution", dataset.prompts.len());
    let scored = score_edges(model, dataset, reference, Method::Eap, |n| {
        progress.advance(n)
    })?;
    let graph = Graph::new(&scored);
    let all = candidates::candidates(circuit, level, layers, heads, &graph);
    if all.is_empty() {
        miette::bail!(
            code = "suggest::no-candidates",
            help = "suggest adds heads in no class, MLPs the `mlp` lines leave out and, at \
                    level edge, edges between the circuit's members; this circuit leaves none",
            "circuit `{}` has nothing to add: every head of the model is in a class{}",
            circuit.name,
            match level {
                Level::Node => ", and every MLP is kept (at node level edges change nothing)",
                Level::Edge => ", every MLP is kept and every edge between its members is there",
            }
        );
    }
    let considered = all.len();

    let base = baseline(model, dataset, reference, circuit, options, progress)?;
    let n = dataset.prompts.len();
    let bootstrap = Bootstrap::new(
        n,
        options.bootstrap_resamples,
        options.seed,
        options.confidence,
    );
    let estimate = |statistic: &dyn Fn(Mean) -> f64| bootstrap.estimate(statistic);
    let (fm, fc) = (&base.model, &base.circuit);
    let gap = mean(fm) - mean(fc);
    let ranked = candidates::ranked(circuit, layers, &graph, all, gap);
    let chosen: Vec<(Addition, f64)> = ranked.into_iter().take(request.candidates).collect();
    let k: std::collections::BTreeSet<Head> = base.worst.heads.iter().copied().collect();

    // C + additions, loaded as `check` would load the variant, scored at C and at C \ K*.
    let score = |additions: &[Addition], at: &Path, extends: &str, name: &str| {
        let text = statements::variant_text(circuit, name, extends, additions, &graph)?;
        let added = load(at, &text)?;
        let mut runner = Runner::new(model, dataset, reference, &added, level, (0..n).collect());
        let mut variants = vec![Variant::circuit()];
        if !k.is_empty() {
            variants.push(Variant::new(Scope::Circuit, k.clone()));
        }
        let mut scores = runner.scores(&variants)?;
        let at_k = scores.pop().expect("one variant at least");
        let whole = scores.pop().unwrap_or_else(|| at_k.clone());
        let (ck, mk) = (&base.worst_circuit, &base.worst_model);
        let incompleteness = |m: Mean, c: &[f64]| (m(c) - m(mk)).abs();
        let figures = Figures {
            circuit_score: estimate(&|m| m(&whole)),
            faithfulness: estimate(&|m| m(&whole) / m(fm)),
            faithfulness_change: estimate(&|m| m(&whole) / m(fm) - m(fc) / m(fm)),
            incompleteness: estimate(&|m| incompleteness(m, &at_k)),
            reduction: estimate(&|m| incompleteness(m, ck) - incompleteness(m, &at_k)),
        };
        Ok::<_, miette::Report>((figures, text))
    };

    let name = format!("{}_suggested", circuit.name);
    let beside = request.file.with_file_name(".suggest-candidate.circuit");
    let file_name = request
        .file
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    progress.phase("candidates", 2 * chosen.len());
    let mut suggestions = Vec::new();
    for (rank, (addition, attribution)) in chosen.iter().enumerate() {
        let (figures, _) = score(&[*addition], &beside, &file_name, &name)?;
        progress.advance(2);
        suggestions.push((
            *addition,
            Suggestion {
                kind: addition.kind(),
                addition: addition.to_string(),
                attribution: *attribution,
                attribution_rank: rank + 1,
                improves: figures.reduction.value > 0.0,
                figures,
            },
        ));
    }
    suggestions.sort_by(|a, b| {
        b.1.figures
            .reduction
            .value
            .total_cmp(&a.1.figures.reduction.value)
    });

    let mut written = None;
    if let Some(path) = request.write {
        let take: Vec<Addition> = suggestions
            .iter()
            .filter(|(_, s)| s.improves)
            .take(request.take)
            .map(|(a, _)| *a)
            .collect();
        if !take.is_empty() {
            progress.phase("written variant", 2);
            let extends = relative(path, request.file)?;
            let (figures, text) = score(&take, path, &extends, &name)?;
            progress.advance(2);
            written = Some(Written {
                path: path.display().to_string(),
                name: name.clone(),
                additions: take.iter().map(|a| a.to_string()).collect(),
                figures,
                text,
            });
        }
    }

    let worst = WorstSet {
        origin: base.worst.origin.clone(),
        heads: base.worst.heads.clone(),
        model: base.worst.model,
        circuit: base.worst.circuit,
        incompleteness: base.worst.incompleteness,
    };
    Ok(SuggestReport {
        version: REPORT_VERSION,
        circuit: circuit.name.clone(),
        model: circuit.model.clone(),
        task: dataset.task.clone(),
        ablation: options.ablation,
        level,
        prompts: n,
        seed: options.seed,
        confidence: options.confidence,
        model_score: estimate(&|m| m(fm)),
        circuit_score: estimate(&|m| m(fc)),
        faithfulness: estimate(&|m| m(fc) / m(fm)),
        worst,
        considered,
        candidates: suggestions.into_iter().map(|(_, s)| s).collect(),
        written,
    })
}

/// The circuit of the variant `text`, as if it were the file at `path`.
fn load(path: &Path, text: &str) -> miette::Result<Circuit> {
    let sources = Overlay { path, text };
    let mut loader = Loader::new(&Catalog, &sources);
    loader.load(path).circuit.clone().ok_or_else(|| {
        let found: Vec<String> = loader
            .files()
            .flat_map(|f| f.diagnostics.iter())
            .map(|d| d.to_string())
            .collect();
        miette::miette!(
            "the suggested variant does not check (a bug: please report it): {}\n{text}",
            found.join("; ")
        )
    })
}

/// One file's text at its path; every other file from the file system.
struct Overlay<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Sources for Overlay<'_> {
    fn read(&self, path: &Path) -> std::io::Result<String> {
        if loader::normalize(path) == loader::normalize(self.path) {
            Ok(self.text.to_string())
        } else {
            crate::dsl::FileSystem.read(path)
        }
    }
}

/// `target` as `extends` in a file at `from` names it: relative to `from`'s directory, with
/// `/` between components.
pub fn relative(from: &Path, target: &Path) -> miette::Result<String> {
    let absolute = |p: &Path| -> miette::Result<PathBuf> {
        std::path::absolute(p)
            .map(|a| loader::normalize(&a))
            .map_err(|e| miette::miette!("cannot resolve {}: {e}", p.display()))
    };
    let (from, target) = (absolute(from)?, absolute(target)?);
    let dir = from.parent().unwrap_or(Path::new("/"));
    let (ours, theirs): (Vec<_>, Vec<_>) =
        (dir.components().collect(), target.components().collect());
    let common = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); ours.len() - common];
    parts.extend(
        theirs[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    Ok(parts.join("/"))
}
