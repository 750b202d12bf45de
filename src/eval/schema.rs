//! What a check takes and gives: its `Options`, and the `Report` with every figure as an
//! `Estimate` (a value and its bootstrap interval). The report is serialised as it is for
//! `check --format json`, so these types are the schema docs/check-report.md documents.

use serde::Serialize;

use crate::dsl::{Ablation, Head, Level};
use crate::eval::bootstrap::Interval;
use crate::task::Dataset;

/// Version of the JSON report; bump on any incompatible change.
pub const REPORT_VERSION: u32 = 1;

#[derive(Clone, Debug)]
pub struct Options {
    pub ablation: Ablation,
    pub level: Level,
    pub seed: u64,
    /// Random K sets tried for completeness.
    pub random_sets: usize,
    /// Heads the greedy completeness search may add to K.
    pub greedy_budget: usize,
    /// Heads the greedy minimality search may add to K, per head.
    pub minimality_budget: usize,
    /// Prompts the searches run on (the chosen K are then scored on all prompts).
    pub search_prompts: usize,
    /// Candidates the greedy completeness search scores exactly per step, after ranking them
    /// all by attribution (0: score every candidate). Ranking costs two differentiable passes
    /// per step, about eight forward passes over the search prompts: it pays for circuits of
    /// more than a few dozen heads.
    pub shortlist: usize,
    pub bootstrap_resamples: usize,
    pub confidence: f64,
    /// Heads whose minimality is below this fraction of F(M) are flagged.
    pub minimality_threshold: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            ablation: Ablation::Mean,
            level: Level::Node,
            seed: 0,
            random_sets: 5,
            greedy_budget: 3,
            minimality_budget: 1,
            search_prompts: 32,
            shortlist: 0,
            bootstrap_resamples: 1000,
            confidence: 0.95,
            minimality_threshold: 0.01,
        }
    }
}

/// A figure with its bootstrap interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Estimate {
    pub value: f64,
    pub interval: Option<Interval>,
}

#[cfg(test)]
impl Estimate {
    /// `value` with the interval `value ± spread`, for the reports' tests.
    pub fn around(value: f64, spread: f64) -> Self {
        Self {
            value,
            interval: Some(Interval {
                low: value - spread,
                high: value + spread,
            }),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Faithfulness {
    /// |F(M) − F(C)|
    pub gap: Estimate,
    /// F(C) / F(M)
    pub ratio: Estimate,
    /// (F(C) − F(∅)) / (F(M) − F(∅))
    pub normalized: Estimate,
}

#[derive(Clone, Debug, Serialize)]
pub struct KSet {
    /// How the set was chosen: `empty`, `class NAME`, `random N`, `greedy`.
    pub origin: String,
    pub heads: Vec<Head>,
    /// F(C \ K)
    pub circuit: Estimate,
    /// F(M \ K)
    pub model: Estimate,
    /// |F(C \ K) − F(M \ K)|
    pub incompleteness: Estimate,
    /// Found by a search that ranked its candidates by attribution and scored only the best
    /// ranked exactly (the set's own figures are always exact).
    pub ranked: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Completeness {
    pub sets: Vec<KSet>,
    /// Index of the set with the largest incompleteness.
    pub worst: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct HeadMinimality {
    pub head: Head,
    pub class: String,
    /// max over the K tried of |F(C \ (K ∪ {v})) − F(C \ K)|
    pub score: Estimate,
    /// The score as a fraction of F(M).
    pub relative: Estimate,
    /// The K that gave the maximum, and how it was chosen.
    pub origin: String,
    pub k: Vec<Head>,
    /// Below the threshold: the head may not belong in the circuit.
    pub flagged: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExpectationResult {
    pub expectation: String,
    pub value: Option<f64>,
    pub passed: bool,
}

/// What the replacement values rest on: reference prompts in all, and the fewest and most
/// of any group the evaluated prompts belong to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ReferenceCounts {
    pub prompts: usize,
    pub fewest_per_group: usize,
    pub most_per_group: usize,
}

impl ReferenceCounts {
    pub fn of(dataset: &Dataset) -> Self {
        let counts: Vec<usize> = (0..dataset.groups.len())
            .filter(|g| dataset.prompts.iter().any(|p| p.group == *g))
            .map(|g| dataset.reference.iter().filter(|p| p.group == g).count())
            .collect();
        Self {
            prompts: dataset.reference.len(),
            fewest_per_group: counts.iter().copied().min().unwrap_or(0),
            most_per_group: counts.iter().copied().max().unwrap_or(0),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PerPrompt {
    pub model: Vec<f64>,
    pub circuit: Vec<f64>,
    pub empty: Vec<f64>,
    /// Index into `Report::groups` of each prompt's group.
    pub group: Vec<usize>,
}

/// F(M), F(C) and faithfulness over the prompts of one group (a template) or one family of
/// groups, with intervals from a bootstrap over those prompts alone.
#[derive(Clone, Debug, Serialize)]
pub struct GroupFigures {
    pub name: String,
    /// The family the group belongs to; an entry of `Report::families` names itself.
    pub family: String,
    pub prompts: usize,
    /// F(M) over these prompts
    pub model: Estimate,
    /// F(C) over these prompts
    pub circuit: Estimate,
    /// F(C) / F(M) over these prompts
    pub faithfulness: Estimate,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub circuit: String,
    pub model: String,
    pub task: String,
    pub ablation: Ablation,
    pub level: Level,
    pub prompts: usize,
    pub reference: ReferenceCounts,
    pub seed: u64,
    pub confidence: f64,
    /// F(M)
    pub model_score: Estimate,
    /// F(C)
    pub circuit_score: Estimate,
    /// F(∅)
    pub empty_score: Estimate,
    pub faithfulness: Faithfulness,
    /// Faithfulness per group of prompts (per template), by family and template number.
    pub groups: Vec<GroupFigures>,
    /// Faithfulness per family of groups, by name.
    pub families: Vec<GroupFigures>,
    pub completeness: Completeness,
    pub minimality: Vec<HeadMinimality>,
    pub expectations: Vec<ExpectationResult>,
    pub per_prompt: PerPrompt,
    pub forward_passes: usize,
}

impl Report {
    pub fn all_expectations_met(&self) -> bool {
        self.expectations.iter().all(|e| e.passed)
    }
}
