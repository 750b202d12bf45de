//! How much the choices of a measurement move the faithfulness of one circuit (after Miller,
//! Chughtai & Saunders 2024): F(C) / F(M) over a grid of ablation schemes, levels, positions
//! (as written, or every position) and reference-set sizes, each cell with the ratio of mean
//! scores and its interval, and the per-prompt ratios' median and quartiles; and at the
//! circuit's own settings, faithfulness per family and per template of the task.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::dsl::{Ablation, Circuit, Level, Mlps, Positions};
use crate::eval::bootstrap::{Bootstrap, quantile};
use crate::eval::check::{Bucket, Progress, by_family, by_group};
use crate::eval::reference::ReferenceActivations;
use crate::eval::runner::Runner;
use crate::eval::schema::{Estimate, ReferenceCounts};
use crate::eval::session::Session;
use crate::eval::variant::Variant;
use crate::task::{Dataset, ReferenceLimit, ReferenceSize};

/// Version of the JSON report; bump on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

/// Where the circuit's heads (and listed MLPs) keep their outputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PositionsChoice {
    /// At the positions the file gives each class.
    AsWritten,
    /// At every position.
    All,
}

impl PositionsChoice {
    pub fn name(self) -> &'static str {
        match self {
            PositionsChoice::AsWritten => "as written",
            PositionsChoice::All => "all",
        }
    }

    /// The circuit with its classes (and listed MLPs) at these positions.
    pub fn apply(self, circuit: &Circuit) -> Circuit {
        let mut circuit = circuit.clone();
        if self == PositionsChoice::All {
            for class in &mut circuit.classes {
                class.positions = Positions::All;
            }
            if let Mlps::Listed(entries) = &mut circuit.mlps {
                for entry in entries {
                    entry.positions = Positions::All;
                }
            }
        }
        circuit
    }
}

/// The choices a sensitivity report varies.
#[derive(Clone, Debug)]
pub struct Grid {
    pub ablations: Vec<Ablation>,
    pub levels: Vec<Level>,
    pub positions: Vec<PositionsChoice>,
    pub sizes: Vec<ReferenceSize>,
}

impl Default for Grid {
    /// Every scheme, both levels, both position choices, and 2, 5, 10, 25 and the
    /// counterparts of every prompt of the group, as reference prompts per group.
    fn default() -> Self {
        Self {
            ablations: vec![
                Ablation::Mean,
                Ablation::Resample,
                Ablation::GlobalMean,
                Ablation::Zero,
            ],
            levels: vec![Level::Node, Level::Edge],
            positions: vec![PositionsChoice::AsWritten, PositionsChoice::All],
            sizes: vec![
                ReferenceSize::Exactly(2),
                ReferenceSize::Exactly(5),
                ReferenceSize::Exactly(10),
                ReferenceSize::Exactly(25),
                ReferenceSize::Counterparts,
            ],
        }
    }
}

impl Grid {
    /// The default grid for a task that has only the reference prompts it lists (`limit`,
    /// see [`crate::task::Task::reference_limit`]; `None`: a generated task, which draws as
    /// many as asked): the sizes every group can give, the counterparts and, where the file
    /// lists more, all it lists.
    pub fn for_reference(limit: Option<ReferenceLimit>) -> Self {
        let mut grid = Self::default();
        if let Some(limit) = limit {
            grid.sizes.retain(|size| match size {
                ReferenceSize::Exactly(n) | ReferenceSize::AtLeast(n) => *n <= limit.fewest,
                ReferenceSize::Counterparts | ReferenceSize::Listed => true,
            });
            if limit.extra {
                grid.sizes.push(ReferenceSize::Listed);
            }
        }
        grid
    }
}

/// Faithfulness measured one way.
#[derive(Clone, Debug, Serialize)]
pub struct Cell {
    pub ablation: Ablation,
    pub level: Level,
    pub positions: PositionsChoice,
    /// The reference set asked for; `null` for zero ablation, which uses none.
    pub reference: Option<ReferenceSize>,
    pub reference_counts: Option<ReferenceCounts>,
    pub circuit_score: Estimate,
    pub faithfulness: Faithfulness,
}

/// F(C) / F(M): the ratio of mean scores with its interval, and the distribution of the
/// per-prompt ratios F(C)_p / F(M)_p.
#[derive(Clone, Debug, Serialize)]
pub struct Faithfulness {
    pub ratio: Estimate,
    pub median: f64,
    /// First and third quartiles.
    pub quartiles: [f64; 2],
}

/// Faithfulness within one family or one template of the task.
#[derive(Clone, Debug, Serialize)]
pub struct Breakdown {
    pub name: String,
    pub prompts: usize,
    /// F(M) over these prompts.
    pub model_score: Estimate,
    /// F(C) over these prompts.
    pub circuit_score: Estimate,
    pub faithfulness: Faithfulness,
}

#[derive(Clone, Debug, Serialize)]
pub struct SensitivityReport {
    pub version: u32,
    pub circuit: String,
    pub model: String,
    pub task: String,
    pub prompts: usize,
    pub seed: u64,
    pub confidence: f64,
    /// F(M): the same in every cell.
    pub model_score: Estimate,
    pub cells: Vec<Cell>,
    /// The settings the breakdowns use (the file's, or the command line's).
    pub baseline: Baseline,
    pub families: Vec<Breakdown>,
    pub templates: Vec<Breakdown>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub ablation: Ablation,
    pub level: Level,
    pub reference: ReferenceSize,
}

/// The knobs of one sensitivity report besides the grid.
#[derive(Clone, Debug)]
pub struct Settings {
    pub baseline: Baseline,
    pub seed: u64,
    pub bootstrap_resamples: usize,
    pub confidence: f64,
}

/// The grid measured on `session`'s model and prompts, each reference set made and its
/// replacement values computed (or read from the cache) as the cells ask for them.
pub fn sensitivity(
    session: &Session,
    circuit: &Circuit,
    grid: &Grid,
    settings: &Settings,
    progress: &mut dyn Progress,
) -> miette::Result<SensitivityReport> {
    let model = &session.loaded.model;
    let baseline = &settings.baseline;
    let plan = plan(grid, baseline);
    let planned_cells: usize = plan
        .iter()
        .flat_map(|(_, schemes)| schemes)
        .map(|scheme| scheme.cells.len())
        .sum();
    progress.phase("sensitivity", 1 + planned_cells);
    let mut f_model: Option<Vec<f64>> = None;
    let mut bootstrap: Option<Bootstrap> = None;
    let mut cells = Vec::new();
    let mut baseline_scores: Option<(Dataset, Vec<f64>)> = None;
    // Zero ablation uses no reference set: one cell per level and positions.
    let mut zero: BTreeMap<(Level, PositionsChoice), (Vec<f64>, Option<ReferenceCounts>)> =
        BTreeMap::new();
    for (size, schemes) in &plan {
        let dataset = session.with_reference(*size)?;
        let bootstrap = bootstrap.get_or_insert_with(|| {
            Bootstrap::new(
                dataset.prompts.len(),
                settings.bootstrap_resamples,
                settings.seed,
                settings.confidence,
            )
        });
        // Every scheme of one size reads the same reference prompts: one pass for all. Each
        // scheme's values go with its cells (its lazily made head results can be a hundred
        // megabytes).
        let ablations: Vec<Ablation> = schemes.iter().map(|scheme| scheme.ablation).collect();
        let mut references = session.activations_each(&dataset, &ablations)?;
        if !reads_mlp_replacements(circuit) {
            references
                .iter_mut()
                .for_each(ReferenceActivations::release_mlps);
        }
        for (scheme, reference) in schemes.iter().zip(references) {
            let ablation = scheme.ablation;
            for &(level, positions, in_grid) in &scheme.cells {
                let scores = match zero.get(&(level, positions)) {
                    Some((scores, _)) if ablation == Ablation::Zero => scores.clone(),
                    _ => {
                        let shaped = positions.apply(circuit);
                        let all: Vec<usize> = (0..dataset.prompts.len()).collect();
                        let mut runner =
                            Runner::new(model, &dataset, &reference, &shaped, level, all);
                        // A cell scores M and C and nothing that extends them.
                        runner.roots = false;
                        // F(M) knocks out nothing: one cell gives it for all.
                        if f_model.is_none() {
                            f_model = Some(runner.scores(&[Variant::model()])?.remove(0));
                        }
                        runner.scores(&[Variant::circuit()])?.remove(0)
                    }
                };
                progress.advance(1);
                if ablation == Ablation::Zero {
                    zero.insert((level, positions), (scores.clone(), None));
                }
                let fm = f_model.as_ref().expect("set by the first cell");
                if ablation == baseline.ablation
                    && level == baseline.level
                    && positions == PositionsChoice::AsWritten
                    && *size == baseline.reference
                {
                    baseline_scores = Some((dataset.clone(), scores.clone()));
                }
                if !in_grid {
                    continue;
                }
                let uses_reference = ablation != Ablation::Zero;
                cells.push(Cell {
                    ablation,
                    level,
                    positions,
                    reference: uses_reference.then_some(*size),
                    reference_counts: uses_reference.then(|| ReferenceCounts::of(&dataset)),
                    circuit_score: bootstrap.estimate(&|m| m(&scores)),
                    faithfulness: faithfulness(bootstrap, fm, &scores),
                });
            }
        }
    }
    put_in_grid_order(&mut cells, grid);
    let fm = f_model.unwrap_or_default();
    let bootstrap = bootstrap.expect("the grid has a size");
    let (dataset, fc) = baseline_scores.expect("the plan holds the baseline cell");
    let breakdown = |buckets| breakdown(buckets, &fm, &fc, settings);
    Ok(SensitivityReport {
        version: REPORT_VERSION,
        circuit: circuit.name.clone(),
        model: circuit.model.clone(),
        task: dataset.task.clone(),
        prompts: dataset.prompts.len(),
        seed: settings.seed,
        confidence: settings.confidence,
        model_score: bootstrap.estimate(&|m| m(&fm)),
        cells,
        baseline: baseline.clone(),
        families: breakdown(by_family(&dataset)),
        templates: breakdown(by_group(&dataset)),
    })
}

/// Whether a check of `circuit` may read MLP replacement values: it lists MLPs (each replaced
/// where it is not listed), or its edges name some (each wired MLP's Δ at edge level).
fn reads_mlp_replacements(circuit: &Circuit) -> bool {
    matches!(circuit.mlps, Mlps::Listed(_)) || !circuit.wired_mlps().is_empty()
}

/// The cells of one ablation scheme at one reference size: level and positions, and whether
/// the grid shows the cell.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Scheme {
    ablation: Ablation,
    cells: Vec<(Level, PositionsChoice, bool)>,
}

/// The cells to compute, by reference size and scheme: every cell of the grid, and the
/// baseline's (which the breakdowns read) where the grid lacks it, alone at its size when
/// the grid lacks that size.
fn plan(grid: &Grid, baseline: &Baseline) -> Vec<(ReferenceSize, Vec<Scheme>)> {
    let shown: Vec<(Level, PositionsChoice, bool)> = grid
        .levels
        .iter()
        .flat_map(|level| grid.positions.iter().map(|p| (*level, *p, true)))
        .collect();
    let mut plan: Vec<(ReferenceSize, Vec<Scheme>)> = grid
        .sizes
        .iter()
        .map(|size| {
            let schemes = grid
                .ablations
                .iter()
                .map(|ablation| Scheme {
                    ablation: *ablation,
                    cells: shown.clone(),
                })
                .collect();
            (*size, schemes)
        })
        .collect();
    let cell = (baseline.level, PositionsChoice::AsWritten);
    let extra = (baseline.level, PositionsChoice::AsWritten, false);
    let at_size = match plan
        .iter()
        .position(|(size, _)| *size == baseline.reference)
    {
        Some(at) => &mut plan[at].1,
        None => {
            plan.push((baseline.reference, Vec::new()));
            &mut plan.last_mut().expect("just pushed").1
        }
    };
    match at_size.iter_mut().find(|s| s.ablation == baseline.ablation) {
        Some(scheme) if scheme.cells.iter().any(|(l, p, _)| (*l, *p) == cell) => {}
        Some(scheme) => scheme.cells.push(extra),
        None => at_size.push(Scheme {
            ablation: baseline.ablation,
            cells: vec![extra],
        }),
    }
    plan
}

/// In the grid's order, the reference size varying fastest; zero ablation has one cell per
/// level and positions, whatever the size.
fn put_in_grid_order(cells: &mut Vec<Cell>, grid: &Grid) {
    let rank = |cell: &Cell| {
        let at = |found: Option<usize>| found.unwrap_or(usize::MAX);
        (
            at(grid.ablations.iter().position(|a| *a == cell.ablation)),
            at(grid.levels.iter().position(|l| *l == cell.level)),
            at(grid.positions.iter().position(|p| *p == cell.positions)),
            at(cell
                .reference
                .and_then(|r| grid.sizes.iter().position(|s| *s == r))),
        )
    };
    cells.sort_by_key(rank);
    cells.dedup_by(|a, b| a.ablation == Ablation::Zero && rank(a) == rank(b));
}

/// The baseline's scores by family or template, each bucket with its own bootstrap.
fn breakdown(buckets: Vec<Bucket>, fm: &[f64], fc: &[f64], settings: &Settings) -> Vec<Breakdown> {
    buckets
        .into_iter()
        .map(|bucket| {
            let pick = |xs: &[f64]| bucket.prompts.iter().map(|i| xs[*i]).collect::<Vec<_>>();
            let (fm, fc) = (pick(fm), pick(fc));
            let local = Bootstrap::new(
                bucket.prompts.len(),
                settings.bootstrap_resamples,
                settings.seed,
                settings.confidence,
            );
            Breakdown {
                name: bucket.name,
                prompts: bucket.prompts.len(),
                model_score: local.estimate(&|m| m(&fm)),
                circuit_score: local.estimate(&|m| m(&fc)),
                faithfulness: faithfulness(&local, &fm, &fc),
            }
        })
        .collect()
}

fn faithfulness(bootstrap: &Bootstrap, fm: &[f64], fc: &[f64]) -> Faithfulness {
    let mut ratios: Vec<f64> = fm
        .iter()
        .zip(fc)
        .map(|(m, c)| c / m)
        .filter(|r| r.is_finite())
        .collect();
    ratios.sort_by(f64::total_cmp);
    Faithfulness {
        ratio: bootstrap.estimate(&|m| m(fc) / m(fm)),
        median: quantile(&ratios, 0.5),
        quartiles: [quantile(&ratios, 0.25), quantile(&ratios, 0.75)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(level: Level, reference: ReferenceSize) -> Baseline {
        Baseline {
            ablation: Ablation::Mean,
            level,
            reference,
        }
    }

    /// Each planned cell at one size, scheme by scheme.
    fn flat(schemes: &[Scheme]) -> Vec<(Ablation, Level, PositionsChoice, bool)> {
        schemes
            .iter()
            .flat_map(|s| {
                s.cells
                    .iter()
                    .map(|(l, p, shown)| (s.ablation, *l, *p, *shown))
            })
            .collect()
    }

    #[test]
    fn a_baseline_size_the_grid_lacks_computes_the_baseline_cell_alone() {
        let grid = Grid::default();
        let plan = plan(&grid, &baseline(Level::Node, ReferenceSize::AtLeast(5)));
        let sizes: Vec<ReferenceSize> = plan.iter().map(|(size, _)| *size).collect();
        assert_eq!(
            sizes,
            [grid.sizes.clone(), vec![ReferenceSize::AtLeast(5)]].concat()
        );
        for (_, schemes) in &plan[..grid.sizes.len()] {
            let cells = flat(schemes);
            assert_eq!(cells.len(), 4 * 2 * 2);
            assert!(cells.iter().all(|(.., shown)| *shown));
        }
        let (_, extra) = plan.last().expect("a plan");
        assert_eq!(
            flat(extra),
            vec![(
                Ablation::Mean,
                Level::Node,
                PositionsChoice::AsWritten,
                false
            )]
        );
    }

    #[test]
    fn a_baseline_the_grid_holds_adds_no_cell() {
        let grid = Grid::default();
        let plan = plan(&grid, &baseline(Level::Node, ReferenceSize::Exactly(5)));
        assert_eq!(plan.len(), grid.sizes.len());
        for (_, schemes) in &plan {
            let cells = flat(schemes);
            assert_eq!(cells.len(), 4 * 2 * 2);
            assert!(cells.iter().all(|(.., shown)| *shown));
        }
    }

    #[test]
    fn a_baseline_level_the_grid_lacks_is_computed_but_not_shown() {
        let grid = Grid {
            levels: vec![Level::Node],
            ..Grid::default()
        };
        let plan = plan(&grid, &baseline(Level::Edge, ReferenceSize::Exactly(5)));
        let (_, at_five) = plan
            .iter()
            .find(|(size, _)| *size == ReferenceSize::Exactly(5))
            .expect("a grid size");
        let cells = flat(at_five);
        assert_eq!(cells.len(), 4 * 2 + 1);
        assert!(cells.contains(&(
            Ablation::Mean,
            Level::Edge,
            PositionsChoice::AsWritten,
            false
        )));
        assert_eq!(cells.iter().filter(|(.., shown)| !*shown).count(), 1);
    }
}
