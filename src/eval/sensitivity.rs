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
    progress.phase(
        "sensitivity",
        1 + plan.iter().map(|(_, cells)| cells.len()).sum::<usize>(),
    );
    let mut f_model: Option<Vec<f64>> = None;
    let mut bootstrap: Option<Bootstrap> = None;
    let mut cells = Vec::new();
    let mut baseline_scores: Option<(Dataset, Vec<f64>)> = None;
    // Zero ablation uses no reference set: one cell per level and positions.
    let mut zero: BTreeMap<(Level, PositionsChoice), (Vec<f64>, Option<ReferenceCounts>)> =
        BTreeMap::new();
    for (size, planned) in &plan {
        let dataset = session.with_reference(*size)?;
        let bootstrap = bootstrap.get_or_insert_with(|| {
            Bootstrap::new(
                dataset.prompts.len(),
                settings.bootstrap_resamples,
                settings.seed,
                settings.confidence,
            )
        });
        // Every scheme of one size reads the same reference prompts: one pass for all.
        let mut schemes: Vec<Ablation> = Vec::new();
        for (cell, _) in planned {
            if !schemes.contains(&cell.ablation) {
                schemes.push(cell.ablation);
            }
        }
        // Each scheme's values are let go of after its last cell (a scheme's lazily made head
        // results can be a hundred megabytes).
        let mut references: Vec<Option<ReferenceActivations>> = session
            .activations_each(&dataset, &schemes)?
            .into_iter()
            .map(Some)
            .collect();
        for (at, (cell, in_grid)) in planned.iter().enumerate() {
            let PlannedCell {
                ablation,
                level,
                positions,
            } = cell;
            let slot = schemes
                .iter()
                .position(|a| a == ablation)
                .expect("every planned scheme is computed");
            let reference = references[slot]
                .as_ref()
                .expect("a scheme's values are kept until its last cell");
            let scores = match zero.get(&(*level, *positions)) {
                Some((scores, _)) if *ablation == Ablation::Zero => scores.clone(),
                _ => {
                    let shaped = positions.apply(circuit);
                    let all: Vec<usize> = (0..dataset.prompts.len()).collect();
                    let mut runner = Runner::new(model, &dataset, reference, &shaped, *level, all);
                    // F(M) knocks out nothing: one cell gives it for all.
                    if f_model.is_none() {
                        f_model = Some(runner.scores(&[Variant::model()])?.remove(0));
                    }
                    runner.scores(&[Variant::circuit()])?.remove(0)
                }
            };
            progress.advance(1);
            if planned[at + 1..]
                .iter()
                .all(|(c, _)| c.ablation != *ablation)
            {
                references[slot] = None;
            }
            if *ablation == Ablation::Zero {
                zero.insert((*level, *positions), (scores.clone(), None));
            }
            let fm = f_model.as_ref().expect("set by the first cell");
            if *ablation == baseline.ablation
                && *level == baseline.level
                && *positions == PositionsChoice::AsWritten
                && *size == baseline.reference
            {
                baseline_scores = Some((dataset.clone(), scores.clone()));
            }
            if !in_grid {
                continue;
            }
            let uses_reference = *ablation != Ablation::Zero;
            cells.push(Cell {
                ablation: *ablation,
                level: *level,
                positions: *positions,
                reference: uses_reference.then_some(*size),
                reference_counts: uses_reference.then(|| ReferenceCounts::of(&dataset)),
                circuit_score: bootstrap.estimate(&|m| m(&scores)),
                faithfulness: faithfulness(bootstrap, fm, &scores),
            });
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

/// One way of measuring F(C) at a given reference size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PlannedCell {
    ablation: Ablation,
    level: Level,
    positions: PositionsChoice,
}

/// The cells to compute, by reference size, each marked whether the grid shows it: every
/// cell of the grid, and the baseline's (which the breakdowns read) where the grid lacks it,
/// alone at its size when the grid lacks that size.
fn plan(grid: &Grid, baseline: &Baseline) -> Vec<(ReferenceSize, Vec<(PlannedCell, bool)>)> {
    let mut plan: Vec<(ReferenceSize, Vec<(PlannedCell, bool)>)> = grid
        .sizes
        .iter()
        .map(|size| {
            let mut cells = Vec::new();
            for ablation in &grid.ablations {
                for level in &grid.levels {
                    for positions in &grid.positions {
                        let cell = PlannedCell {
                            ablation: *ablation,
                            level: *level,
                            positions: *positions,
                        };
                        cells.push((cell, true));
                    }
                }
            }
            (*size, cells)
        })
        .collect();
    let cell = PlannedCell {
        ablation: baseline.ablation,
        level: baseline.level,
        positions: PositionsChoice::AsWritten,
    };
    match plan
        .iter_mut()
        .find(|(size, _)| *size == baseline.reference)
    {
        Some((_, cells)) if cells.iter().any(|(c, _)| *c == cell) => {}
        Some((_, cells)) => cells.push((cell, false)),
        None => plan.push((baseline.reference, vec![(cell, false)])),
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

    fn cell(ablation: Ablation, level: Level) -> PlannedCell {
        PlannedCell {
            ablation,
            level,
            positions: PositionsChoice::AsWritten,
        }
    }

    fn baseline(level: Level, reference: ReferenceSize) -> Baseline {
        Baseline {
            ablation: Ablation::Mean,
            level,
            reference,
        }
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
        for (_, cells) in &plan[..grid.sizes.len()] {
            assert_eq!(cells.len(), 4 * 2 * 2);
            assert!(cells.iter().all(|(_, shown)| *shown));
        }
        let (_, extra) = plan.last().expect("a plan");
        assert_eq!(extra, &vec![(cell(Ablation::Mean, Level::Node), false)]);
    }

    #[test]
    fn a_baseline_the_grid_holds_adds_no_cell() {
        let grid = Grid::default();
        let plan = plan(&grid, &baseline(Level::Node, ReferenceSize::Exactly(5)));
        assert_eq!(plan.len(), grid.sizes.len());
        for (_, cells) in &plan {
            assert_eq!(cells.len(), 4 * 2 * 2);
            assert!(cells.iter().all(|(_, shown)| *shown));
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
        assert_eq!(at_five.len(), 4 * 2 + 1);
        assert_eq!(
            at_five.last(),
            Some(&(cell(Ablation::Mean, Level::Edge), false))
        );
    }
}
