//! The evaluation of a circuit, after Wang et al. (2022): the faithfulness of the circuit,
//! its completeness over sets K of knocked-out heads, each head's minimality, bootstrap
//! intervals for every figure, and the file's expectations as pass/fail rows.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::dsl::{Ablation, Circuit, Expectation, Head, Level, Metric};
use crate::eval::bootstrap::{Bootstrap, Interval, Mean, mean};
use crate::eval::reference::ReferenceActivations;
use crate::eval::runner::Runner;
use crate::eval::variant::{Scope, Variant};
use crate::model::Gpt2;
use crate::model::error::Result;
use crate::task::Dataset;

/// A K set and how it was chosen.
type Candidate = (String, BTreeSet<Head>);

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

#[derive(Clone, Debug, Serialize)]
pub struct PerPrompt {
    pub model: Vec<f64>,
    pub circuit: Vec<f64>,
    pub empty: Vec<f64>,
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
    pub seed: u64,
    pub confidence: f64,
    /// F(M)
    pub model_score: Estimate,
    /// F(C)
    pub circuit_score: Estimate,
    /// F(∅)
    pub empty_score: Estimate,
    pub faithfulness: Faithfulness,
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

/// Progress callbacks: a phase name, then variants as they are scored.
pub trait Progress {
    fn phase(&mut self, name: &str, variants: usize);
    fn advance(&mut self, variants: usize);
}

/// Progress that shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn phase(&mut self, _: &str, _: usize) {}
    fn advance(&mut self, _: usize) {}
}

pub fn check(
    model: &Gpt2,
    dataset: &Dataset,
    reference: &ReferenceActivations,
    circuit: &Circuit,
    options: &Options,
    progress: &mut dyn Progress,
) -> Result<Report> {
    let n = dataset.prompts.len();
    let heads: Vec<Head> = circuit.heads().into_iter().collect();
    let bootstrap = Bootstrap::new(
        n,
        options.bootstrap_resamples,
        options.seed,
        options.confidence,
    );
    let progress = std::cell::RefCell::new(progress);
    let mut full = Runner::new(
        model,
        dataset,
        reference,
        circuit,
        options.level,
        (0..n).collect(),
    );
    full.on_progress = Some(Box::new(|k| progress.borrow_mut().advance(k)));

    progress.borrow_mut().phase("faithfulness", 3);
    let base = full.scores(&[Variant::model(), Variant::circuit(), Variant::empty()])?;
    let (fm, fc, fe) = (&base[0], &base[1], &base[2]);
    let estimate = |stat: &dyn Fn(Mean) -> f64| Estimate {
        value: stat(&mean),
        interval: bootstrap.interval(stat),
    };
    let faithfulness = Faithfulness {
        gap: estimate(&|m| (m(fm) - m(fc)).abs()),
        ratio: estimate(&|m| m(fc) / m(fm)),
        normalized: estimate(&|m| (m(fc) - m(fe)) / (m(fm) - m(fe))),
    };

    // ── completeness ────────────────────────────────────────────────────────────────────
    let mut candidates: Vec<Candidate> = vec![("empty".into(), BTreeSet::new())];
    for class in &circuit.classes {
        candidates.push((format!("class {}", class.name), class.heads.clone()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    // Random K: each head in with probability ½, redrawn (a bounded number of times) while
    // the set is empty or one already tried, so every row of the table is a new K.
    for i in 0..options.random_sets {
        let fresh = (0..100).find_map(|_| {
            let set: BTreeSet<Head> = heads
                .iter()
                .copied()
                .filter(|_| rng.random_bool(0.5))
                .collect();
            let new = !set.is_empty() && candidates.iter().all(|(_, k)| *k != set);
            new.then_some(set)
        });
        if let Some(set) = fresh {
            candidates.push((format!("random {}", i + 1), set));
        }
    }
    let search = search_prompts(n, options, &mut rng);
    let mut searcher = Runner::new(model, dataset, reference, circuit, options.level, search);
    searcher.on_progress = Some(Box::new(|k| progress.borrow_mut().advance(k)));
    progress.borrow_mut().phase(
        "completeness search",
        2 * heads.len() * options.greedy_budget.min(heads.len()),
    );
    let greedy = greedy_completeness(&mut searcher, &heads, options.greedy_budget)?;
    if candidates.iter().all(|(_, k)| *k != greedy) {
        candidates.push(("greedy".into(), greedy));
    }
    progress
        .borrow_mut()
        .phase("completeness", 2 * candidates.len());
    let variants: Vec<Variant> = candidates
        .iter()
        .flat_map(|(_, k)| {
            [
                Variant::new(Scope::Circuit, k.clone()),
                Variant::new(Scope::Model, k.clone()),
            ]
        })
        .collect();
    let scores = full.scores(&variants)?;
    let sets: Vec<KSet> = candidates
        .iter()
        .enumerate()
        .map(|(i, (origin, k))| {
            let (c, m) = (&scores[2 * i], &scores[2 * i + 1]);
            KSet {
                origin: origin.clone(),
                heads: k.iter().copied().collect(),
                circuit: estimate(&|f| f(c)),
                model: estimate(&|f| f(m)),
                incompleteness: estimate(&|f| (f(c) - f(m)).abs()),
            }
        })
        .collect();
    let worst = (0..sets.len())
        .max_by(|a, b| {
            sets[*a]
                .incompleteness
                .value
                .total_cmp(&sets[*b].incompleteness.value)
        })
        .unwrap_or(0);

    // ── minimality ──────────────────────────────────────────────────────────────────────
    progress.borrow_mut().phase(
        "minimality search",
        heads.len() * heads.len() * options.minimality_budget,
    );
    let mut choices: Vec<(Head, Vec<Candidate>)> = Vec::new();
    for head in &heads {
        let class = circuit.class_of(*head).expect("circuit heads have a class");
        let mut ks: Vec<Candidate> = vec![("empty".into(), BTreeSet::new())];
        let own: BTreeSet<Head> = class.heads.iter().copied().filter(|h| h != head).collect();
        if !own.is_empty() {
            ks.push((format!("class {}", class.name), own));
        }
        for set in circuit.minimality_sets.iter().filter(|s| s.head == *head) {
            ks.push(("given".into(), set.given.clone()));
        }
        if options.minimality_budget > 0 {
            let found = greedy_minimality(&mut searcher, &heads, *head, options.minimality_budget)?;
            ks.push(("greedy".into(), found));
        }
        ks.dedup_by(|a, b| a.1 == b.1);
        choices.push((*head, ks));
    }
    let total: usize = choices.iter().map(|(_, ks)| 2 * ks.len()).sum();
    progress.borrow_mut().phase("minimality", total);
    let variants: Vec<Variant> = choices
        .iter()
        .flat_map(|(head, ks)| {
            ks.iter().flat_map(move |(_, k)| {
                let without = Variant::new(Scope::Circuit, k.clone());
                [without.without([*head]), without]
            })
        })
        .collect();
    let scores = full.scores(&variants)?;
    let f_model = mean(fm);
    let mut minimality = Vec::new();
    let mut at = 0;
    for (head, ks) in &choices {
        let mut best: Option<(f64, usize)> = None;
        for (i, _) in ks.iter().enumerate() {
            let value = (mean(&scores[at + 2 * i]) - mean(&scores[at + 2 * i + 1])).abs();
            if best.is_none_or(|(b, _)| value > b) {
                best = Some((value, i));
            }
        }
        let (_, i) = best.expect("every head has K = ∅");
        let (without_v, with_v) = (&scores[at + 2 * i], &scores[at + 2 * i + 1]);
        let score = estimate(&|m| (m(without_v) - m(with_v)).abs());
        let relative = estimate(&|m| (m(without_v) - m(with_v)).abs() / m(fm).abs());
        minimality.push(HeadMinimality {
            head: *head,
            class: circuit
                .class_of(*head)
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            flagged: score.value / f_model.abs() < options.minimality_threshold,
            score,
            relative,
            origin: ks[i].0.clone(),
            k: ks[i].1.iter().copied().collect(),
        });
        at += 2 * ks.len();
    }

    let completeness = Completeness { sets, worst };
    let mut report = Report {
        version: REPORT_VERSION,
        circuit: circuit.name.clone(),
        model: circuit.model.clone(),
        task: dataset.task.clone(),
        ablation: options.ablation,
        level: options.level,
        prompts: n,
        seed: options.seed,
        confidence: options.confidence,
        model_score: estimate(&|m| m(fm)),
        circuit_score: estimate(&|m| m(fc)),
        empty_score: estimate(&|m| m(fe)),
        faithfulness,
        completeness,
        minimality,
        expectations: Vec::new(),
        per_prompt: PerPrompt {
            model: fm.clone(),
            circuit: fc.clone(),
            empty: fe.clone(),
        },
        forward_passes: 0,
    };
    report.expectations = circuit
        .expectations
        .iter()
        .map(|e| judge(e, &report))
        .collect();
    report.forward_passes = full.passes + searcher.passes;
    Ok(report)
}

/// Prompts for the searches: all of them when few, else a seeded sample.
fn search_prompts(n: usize, options: &Options, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    if options.search_prompts >= n {
        return all;
    }
    all.shuffle(rng);
    let mut chosen = all[..options.search_prompts].to_vec();
    chosen.sort();
    chosen
}

/// Grows K one head at a time, keeping the head that raises |F(C\K) − F(M\K)| most.
fn greedy_completeness(
    runner: &mut Runner,
    heads: &[Head],
    budget: usize,
) -> Result<BTreeSet<Head>> {
    let empty = {
        let s = runner.scores(&[Variant::circuit(), Variant::model()])?;
        (mean(&s[0]) - mean(&s[1])).abs()
    };
    greedy(runner, heads, budget, empty, |k| {
        [
            Variant::new(Scope::Circuit, k.clone()),
            Variant::new(Scope::Model, k),
        ]
    })
}

/// Grows K (without `head`) one head at a time, keeping the head that makes knocking out
/// `head` matter most.
fn greedy_minimality(
    runner: &mut Runner,
    heads: &[Head],
    head: Head,
    budget: usize,
) -> Result<BTreeSet<Head>> {
    let others: Vec<Head> = heads.iter().copied().filter(|h| *h != head).collect();
    greedy(runner, &others, budget, f64::NEG_INFINITY, |k| {
        let without = Variant::new(Scope::Circuit, k);
        [without.without([head]), without]
    })
}

/// The greedy search both use: up to `budget` times, add to K the candidate whose pair of
/// variants differs most in mean score; returns the K with the largest difference seen, or
/// ∅ if none beat `floor` (the difference at K = ∅, where it matters).
fn greedy(
    runner: &mut Runner,
    candidates: &[Head],
    budget: usize,
    floor: f64,
    pair: impl Fn(BTreeSet<Head>) -> [Variant; 2],
) -> Result<BTreeSet<Head>> {
    let mut k = BTreeSet::new();
    let mut best_k = BTreeSet::new();
    let mut best = floor;
    for _ in 0..budget {
        let options: Vec<Head> = candidates
            .iter()
            .copied()
            .filter(|h| !k.contains(h))
            .collect();
        if options.is_empty() {
            break;
        }
        let variants: Vec<Variant> = options
            .iter()
            .flat_map(|h| {
                let mut set = k.clone();
                set.insert(*h);
                pair(set)
            })
            .collect();
        let scores = runner.scores(&variants)?;
        let (index, value) = (0..options.len())
            .map(|i| (i, (mean(&scores[2 * i]) - mean(&scores[2 * i + 1])).abs()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("options is not empty");
        k.insert(options[index]);
        if value > best {
            best = value;
            best_k = k.clone();
        }
    }
    Ok(best_k)
}

/// The value an expectation bounds, and whether the bound holds.
fn judge(expectation: &Expectation, report: &Report) -> ExpectationResult {
    let value = match &expectation.metric {
        Metric::Faithfulness => Some(report.faithfulness.ratio.value),
        Metric::FaithfulnessGap => Some(report.faithfulness.gap.value),
        Metric::NormalizedFaithfulness => Some(report.faithfulness.normalized.value),
        Metric::Incompleteness => Some(
            report.completeness.sets[report.completeness.worst]
                .incompleteness
                .value,
        ),
        Metric::Minimality(Some(head)) => report
            .minimality
            .iter()
            .find(|m| m.head == *head)
            .map(|m| m.relative.value),
        Metric::Minimality(None) => report
            .minimality
            .iter()
            .map(|m| m.relative.value)
            .min_by(f64::total_cmp),
    };
    let passed =
        value.is_some_and(|v| v.is_finite() && expectation.comparison.holds(v, expectation.value));
    ExpectationResult {
        expectation: expectation.to_string(),
        value,
        passed,
    }
}
