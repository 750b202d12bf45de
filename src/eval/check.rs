//! The evaluation of a circuit, after Wang et al. (2022): the faithfulness of the circuit,
//! its completeness over sets K of knocked-out heads, each head's minimality, bootstrap
//! intervals for every figure, and the file's expectations as pass/fail rows.

use std::collections::BTreeSet;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::dsl::{Circuit, Expectation, Head, Metric};
use crate::eval::bootstrap::{Bootstrap, Mean, mean};
use crate::eval::reference::ReferenceActivations;
use crate::eval::runner::Runner;
use crate::eval::schema::{
    Completeness, Estimate, ExpectationResult, Faithfulness, GroupFigures, HeadMinimality, KSet,
    Options, PerPrompt, REPORT_VERSION, ReferenceCounts, Report,
};
use crate::eval::variant::{Scope, Variant};
use crate::model::Transformer;
use crate::model::error::Result;
use crate::task::Dataset;

/// A K set and how it was chosen.
type Candidate = (String, BTreeSet<Head>);

/// Progress callbacks: a phase name, then variants as they are scored.
pub trait Progress {
    fn phase(&mut self, name: &str, variants: usize);
    fn advance(&mut self, variants: usize);
    /// The work done so far, before each phase and at the end: forward passes, and positions
    /// computed through one layer (a full pass over prompts of n tokens in all is n · layers).
    fn work(&mut self, _passes: usize, _positions: usize) {}
}

/// Progress that shows nothing.
pub struct Silent;

impl Progress for Silent {
    fn phase(&mut self, _: &str, _: usize) {}
    fn advance(&mut self, _: usize) {}
}

pub fn check(
    model: &Transformer,
    dataset: &Dataset,
    reference: &ReferenceActivations,
    circuit: &Circuit,
    options: &Options,
    progress: &mut dyn Progress,
) -> Result<Report> {
    let progress = std::cell::RefCell::new(progress);
    let mut evaluation = Evaluation::new(model, dataset, reference, circuit, options, &progress);
    let (_, group) = used_groups(dataset);
    let scores = evaluation.faithfulness(group)?;
    let (completeness, _) = evaluation.completeness()?;
    let minimality = evaluation.minimality(&scores.model)?;
    evaluation.report_work();
    let mut report = Report {
        version: REPORT_VERSION,
        circuit: circuit.name.clone(),
        model: circuit.model.clone(),
        task: dataset.task.clone(),
        ablation: options.ablation,
        level: options.level,
        prompts: dataset.prompts.len(),
        reference: ReferenceCounts::of(dataset),
        seed: options.seed,
        confidence: options.confidence,
        model_score: evaluation.estimate(&|m| m(&scores.model)),
        circuit_score: evaluation.estimate(&|m| m(&scores.circuit)),
        empty_score: evaluation.estimate(&|m| m(&scores.empty)),
        faithfulness: evaluation.faithfulness_figures(&scores),
        groups: breakdown(by_group(dataset), &scores, options),
        families: breakdown(by_family(dataset), &scores, options),
        completeness,
        minimality,
        expectations: Vec::new(),
        per_prompt: scores,
        forward_passes: evaluation.passes(),
    };
    report.expectations = circuit
        .expectations
        .iter()
        .map(|e| judge(e, &report))
        .collect();
    Ok(report)
}

/// What `suggest` starts from (GRAMMAR.md, "What suggest computes"): F(M) and F(C) per
/// prompt, and the worst K of the completeness `check` reports, found as `check` finds it
/// (same steps, same draws), with F(C \ K) and F(M \ K) per prompt.
pub struct Baseline {
    pub model: Vec<f64>,
    pub circuit: Vec<f64>,
    pub worst: KSet,
    pub worst_circuit: Vec<f64>,
    pub worst_model: Vec<f64>,
}

/// The [`Baseline`] of `circuit`: `check`'s faithfulness and completeness steps, without
/// minimality.
pub fn baseline(
    model: &Transformer,
    dataset: &Dataset,
    reference: &ReferenceActivations,
    circuit: &Circuit,
    options: &Options,
    progress: &mut dyn Progress,
) -> Result<Baseline> {
    let progress = std::cell::RefCell::new(progress);
    let mut evaluation = Evaluation::new(model, dataset, reference, circuit, options, &progress);
    let (_, group) = used_groups(dataset);
    let scores = evaluation.faithfulness(group)?;
    let (completeness, mut per_k) = evaluation.completeness()?;
    let at = completeness.worst;
    let worst_model = per_k.swap_remove(2 * at + 1);
    let worst_circuit = per_k.swap_remove(2 * at);
    Ok(Baseline {
        model: scores.model,
        circuit: scores.circuit,
        worst: completeness.sets[at].clone(),
        worst_circuit,
        worst_model,
    })
}

/// One check in progress: a runner over every prompt, one over the search prompts, the
/// bootstrap draws and the seeded choices, shared by its steps.
struct Evaluation<'a, 'p> {
    model: &'a Transformer,
    dataset: &'a Dataset,
    reference: &'a ReferenceActivations,
    circuit: &'a Circuit,
    options: &'a Options,
    heads: Vec<Head>,
    bootstrap: Bootstrap,
    rng: ChaCha8Rng,
    full: Runner<'a>,
    /// Made when the first search starts, its prompts drawn after the random K sets.
    searcher: Option<Runner<'a>>,
    progress: &'a std::cell::RefCell<&'p mut dyn Progress>,
}

impl<'a, 'p> Evaluation<'a, 'p> {
    fn new(
        model: &'a Transformer,
        dataset: &'a Dataset,
        reference: &'a ReferenceActivations,
        circuit: &'a Circuit,
        options: &'a Options,
        progress: &'a std::cell::RefCell<&'p mut dyn Progress>,
    ) -> Self {
        let n = dataset.prompts.len();
        let mut full = Runner::new(
            model,
            dataset,
            reference,
            circuit,
            options.level,
            (0..n).collect(),
        );
        full.on_progress = Some(Box::new(|k| progress.borrow_mut().advance(k)));
        Self {
            model,
            dataset,
            reference,
            circuit,
            options,
            heads: circuit.heads().into_iter().collect(),
            bootstrap: Bootstrap::new(
                n,
                options.bootstrap_resamples,
                options.seed,
                options.confidence,
            ),
            rng: ChaCha8Rng::seed_from_u64(options.seed),
            full,
            searcher: None,
            progress,
        }
    }

    /// The runner over the search prompts.
    fn searcher(&mut self) -> &mut Runner<'a> {
        if self.searcher.is_none() {
            let n = self.dataset.prompts.len();
            let prompts = search_prompts(n, self.options, &mut self.rng);
            let mut runner = Runner::new(
                self.model,
                self.dataset,
                self.reference,
                self.circuit,
                self.options.level,
                prompts,
            );
            let progress = self.progress;
            runner.on_progress = Some(Box::new(move |k| progress.borrow_mut().advance(k)));
            self.searcher = Some(runner);
        }
        self.searcher.as_mut().expect("made above")
    }

    fn phase(&self, name: &str, variants: usize) {
        self.report_work();
        self.progress.borrow_mut().phase(name, variants);
    }

    fn report_work(&self) {
        let positions = self.full.work() + self.searcher.as_ref().map_or(0, Runner::work);
        self.progress.borrow_mut().work(self.passes(), positions);
    }

    fn estimate(&self, statistic: &dyn Fn(Mean) -> f64) -> Estimate {
        self.bootstrap.estimate(statistic)
    }

    fn passes(&self) -> usize {
        self.full.passes() + self.searcher.as_ref().map_or(0, Runner::passes)
    }

    /// F(M), F(C) and F(∅) per prompt; `group` is each prompt's.
    fn faithfulness(&mut self, group: Vec<usize>) -> Result<PerPrompt> {
        self.phase("faithfulness", 3);
        let mut base =
            self.full
                .scores(&[Variant::model(), Variant::circuit(), Variant::empty()])?;
        let (empty, circuit, model) = (base.remove(2), base.remove(1), base.remove(0));
        Ok(PerPrompt {
            model,
            circuit,
            empty,
            group,
        })
    }

    fn faithfulness_figures(&self, scores: &PerPrompt) -> Faithfulness {
        let (fm, fc, fe) = (&scores.model, &scores.circuit, &scores.empty);
        Faithfulness {
            gap: self.estimate(&|m| (m(fm) - m(fc)).abs()),
            ratio: self.estimate(&|m| m(fc) / m(fm)),
            normalized: self.estimate(&|m| (m(fc) - m(fe)) / (m(fm) - m(fe))),
        }
    }

    /// F(C \ K) and F(M \ K) for K = ∅, each class, random sets and a greedy search; and
    /// each K's per-prompt scores, F(C \ K) then F(M \ K).
    fn completeness(&mut self) -> Result<(Completeness, Vec<Vec<f64>>)> {
        let mut candidates: Vec<Candidate> = vec![("empty".into(), BTreeSet::new())];
        for class in &self.circuit.classes {
            candidates.push((format!("class {}", class.name), class.heads.clone()));
        }
        for i in 0..self.options.random_sets {
            if let Some(set) = self.random_set(&candidates) {
                candidates.push((format!("random {}", i + 1), set));
            }
        }
        let budget = self.options.greedy_budget.min(self.heads.len());
        let shortlist = self.options.shortlist;
        let ranked = shortlist > 0 && shortlist < self.heads.len();
        let per_step = if ranked {
            shortlist + 2
        } else {
            self.heads.len()
        };
        self.phase("completeness search", 2 * per_step * budget);
        if budget > 0 {
            let heads = self.heads.clone();
            let greedy = greedy(
                self.searcher(),
                &heads,
                budget,
                |k: BTreeSet<Head>| {
                    [
                        Variant::new(Scope::Circuit, k.clone()),
                        Variant::new(Scope::Model, k),
                    ]
                },
                true,
                shortlist,
            )?;
            if candidates.iter().all(|(_, k)| *k != greedy) {
                candidates.push(("greedy".into(), greedy));
            }
        }
        self.phase("completeness", 2 * candidates.len());
        let variants: Vec<Variant> = candidates
            .iter()
            .flat_map(|(_, k)| {
                [
                    Variant::new(Scope::Circuit, k.clone()),
                    Variant::new(Scope::Model, k.clone()),
                ]
            })
            .collect();
        let scores = self.full.scores(&variants)?;
        let sets: Vec<KSet> = candidates
            .iter()
            .enumerate()
            .map(|(i, (origin, k))| {
                let (c, m) = (&scores[2 * i], &scores[2 * i + 1]);
                KSet {
                    origin: origin.clone(),
                    heads: k.iter().copied().collect(),
                    circuit: self.estimate(&|f| f(c)),
                    model: self.estimate(&|f| f(m)),
                    incompleteness: self.estimate(&|f| (f(c) - f(m)).abs()),
                    ranked: ranked && origin == "greedy",
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
        Ok((Completeness { sets, worst }, scores))
    }

    /// A random K: each head in with probability ½, redrawn (a bounded number of times)
    /// while the set is empty or one already tried, so every row of the table is a new K.
    fn random_set(&mut self, tried: &[Candidate]) -> Option<BTreeSet<Head>> {
        (0..100).find_map(|_| {
            let set: BTreeSet<Head> = self
                .heads
                .iter()
                .copied()
                .filter(|_| self.rng.random_bool(0.5))
                .collect();
            let new = !set.is_empty() && tried.iter().all(|(_, k)| *k != set);
            new.then_some(set)
        })
    }

    /// Each head's largest |F(C \ (K ∪ {v})) − F(C \ K)| over K = ∅, its class, the file's
    /// `given` sets and a greedy search.
    fn minimality(&mut self, f_model: &[f64]) -> Result<Vec<HeadMinimality>> {
        let budget = self.options.minimality_budget;
        self.phase(
            "minimality search",
            self.heads.len() * self.heads.len() * budget,
        );
        let mut choices: Vec<(Head, Vec<Candidate>)> = Vec::new();
        for head in self.heads.clone() {
            let class = self
                .circuit
                .class_of(head)
                .expect("circuit heads have a class");
            let mut ks: Vec<Candidate> = vec![("empty".into(), BTreeSet::new())];
            let own: BTreeSet<Head> = class.heads.iter().copied().filter(|h| *h != head).collect();
            if !own.is_empty() {
                ks.push((format!("class {}", class.name), own));
            }
            for set in self
                .circuit
                .minimality_sets
                .iter()
                .filter(|s| s.head == head)
            {
                ks.push(("given".into(), set.given.clone()));
            }
            if budget > 0 {
                let others: Vec<Head> = self.heads.iter().copied().filter(|h| *h != head).collect();
                let found = greedy(
                    self.searcher(),
                    &others,
                    budget,
                    |k: BTreeSet<Head>| {
                        let without = Variant::new(Scope::Circuit, k);
                        [without.without([head]), without]
                    },
                    false,
                    0,
                )?;
                ks.push(("greedy".into(), found));
            }
            ks.dedup_by(|a, b| a.1 == b.1);
            choices.push((head, ks));
        }
        let total: usize = choices.iter().map(|(_, ks)| 2 * ks.len()).sum();
        self.phase("minimality", total);
        let variants: Vec<Variant> = choices
            .iter()
            .flat_map(|(head, ks)| {
                ks.iter().flat_map(move |(_, k)| {
                    let without = Variant::new(Scope::Circuit, k.clone());
                    [without.without([*head]), without]
                })
            })
            .collect();
        let scores = self.full.scores(&variants)?;
        let fm = f_model;
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
            let score = self.estimate(&|m| (m(without_v) - m(with_v)).abs());
            let relative = self.estimate(&|m| (m(without_v) - m(with_v)).abs() / m(fm).abs());
            minimality.push(HeadMinimality {
                head: *head,
                class: self
                    .circuit
                    .class_of(*head)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                flagged: score.value / f_model.abs() < self.options.minimality_threshold,
                score,
                relative,
                origin: ks[i].0.clone(),
                k: ks[i].1.iter().copied().collect(),
            });
            at += 2 * ks.len();
        }
        Ok(minimality)
    }
}

/// The names of the groups that hold prompts, ordered by family and then by template number
/// (`BABA 2` before `BABA 10`), and each prompt's index among them.
fn used_groups(dataset: &Dataset) -> (Vec<String>, Vec<usize>) {
    let mut used = vec![false; dataset.groups.len()];
    for prompt in &dataset.prompts {
        used[prompt.group] = true;
    }
    let mut order: Vec<usize> = (0..dataset.groups.len()).filter(|g| used[*g]).collect();
    order.sort_by_cached_key(|g| {
        let name = &dataset.groups[*g];
        let family = family_of(name);
        let number: Option<u64> = name[family.len()..].trim().parse().ok();
        (family.to_string(), number, name.clone())
    });
    let mut index = vec![0; dataset.groups.len()];
    for (at, group) in order.iter().enumerate() {
        index[*group] = at;
    }
    let names = order.iter().map(|g| dataset.groups[*g].clone()).collect();
    let of_prompt = dataset.prompts.iter().map(|p| index[p.group]).collect();
    (names, of_prompt)
}

/// A group's family: its name without the template number that generated tasks append
/// (`BABA 10` → `BABA`); a group named otherwise (an explicit task's) is its own family.
fn family_of(group: &str) -> &str {
    match group.rsplit_once(' ') {
        Some((family, k))
            if !family.is_empty() && !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()) =>
        {
            family
        }
        _ => group,
    }
}

/// The prompts of one group, or of one family of groups.
pub(crate) struct Bucket {
    pub name: String,
    pub family: String,
    /// Indices of its prompts, ascending.
    pub prompts: Vec<usize>,
}

/// The prompts of each group that holds any, in the order of `used_groups` (which
/// `PerPrompt::group` indexes).
pub(crate) fn by_group(dataset: &Dataset) -> Vec<Bucket> {
    let (names, of_prompt) = used_groups(dataset);
    let mut buckets: Vec<Bucket> = names
        .into_iter()
        .map(|name| Bucket {
            family: family_of(&name).to_string(),
            name,
            prompts: Vec::new(),
        })
        .collect();
    for (prompt, group) in of_prompt.iter().enumerate() {
        buckets[*group].prompts.push(prompt);
    }
    buckets
}

/// The prompts of each family, in the order of their first group in `by_group`.
pub(crate) fn by_family(dataset: &Dataset) -> Vec<Bucket> {
    let mut families: Vec<Bucket> = Vec::new();
    for group in by_group(dataset) {
        match families.iter_mut().find(|f| f.name == group.family) {
            Some(family) => family.prompts.extend(group.prompts),
            None => families.push(Bucket {
                name: group.family.clone(),
                family: group.family,
                prompts: group.prompts,
            }),
        }
    }
    for family in &mut families {
        family.prompts.sort_unstable();
    }
    families
}

/// Figures over the prompts of each bucket. Each bucket has its own bootstrap (the check's
/// seed, its own prompts), so the figures of the whole dataset stay as they were: nothing
/// else draws from their generators.
fn breakdown(buckets: Vec<Bucket>, scores: &PerPrompt, options: &Options) -> Vec<GroupFigures> {
    buckets
        .into_iter()
        .map(
            |Bucket {
                 name,
                 family,
                 prompts,
             }| {
                let pick = |xs: &[f64]| prompts.iter().map(|i| xs[*i]).collect::<Vec<f64>>();
                let (fm, fc) = (pick(&scores.model), pick(&scores.circuit));
                let bootstrap = Bootstrap::new(
                    prompts.len(),
                    options.bootstrap_resamples,
                    options.seed,
                    options.confidence,
                );
                let estimate = |statistic: &dyn Fn(Mean) -> f64| bootstrap.estimate(statistic);
                GroupFigures {
                    name,
                    family,
                    prompts: prompts.len(),
                    model: estimate(&|m| m(&fm)),
                    circuit: estimate(&|m| m(&fc)),
                    faithfulness: estimate(&|m| m(&fc) / m(&fm)),
                }
            },
        )
        .collect()
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

/// Greedy search for K: up to `budget` times, add to K the candidate whose pair of variants
/// differs most in mean score. Returns the K with the largest difference seen; with
/// `beat_empty`, ∅ unless some K beats K = ∅ (completeness, where ∅ is a K of its own).
/// Each step keeps the current K's pair as bases, so every candidate resumes from them;
/// the search lets go of them when it ends.
/// With a `shortlist` shorter than the candidates, each step first ranks them all by
/// attribution (one differentiable pass per side of the pair) and scores only that many.
fn greedy(
    runner: &mut Runner,
    candidates: &[Head],
    budget: usize,
    pair: impl Fn(BTreeSet<Head>) -> [Variant; 2],
    beat_empty: bool,
    shortlist: usize,
) -> Result<BTreeSet<Head>> {
    let difference = |scores: &[Vec<f64>]| (mean(&scores[0]) - mean(&scores[1])).abs();
    let mut k = BTreeSet::new();
    let mut best_k = BTreeSet::new();
    let mut best = f64::NEG_INFINITY;
    if beat_empty {
        best = difference(&runner.scores(&pair(BTreeSet::new()))?);
    }
    for _ in 0..budget {
        let mut options: Vec<Head> = candidates
            .iter()
            .copied()
            .filter(|h| !k.contains(h))
            .collect();
        if options.is_empty() {
            break;
        }
        let current = pair(k.clone());
        runner.keep_bases(&current)?;
        if shortlist > 0 && shortlist < options.len() {
            options = shortlisted(runner, &current, options, shortlist)?;
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
            .map(|i| (i, difference(&scores[2 * i..2 * i + 2])))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .expect("options is not empty");
        k.insert(options[index]);
        if value > best {
            best = value;
            best_k = k.clone();
        }
    }
    runner.release_bases();
    Ok(best_k)
}

/// The `keep` candidates predicted to make the pair differ most: the difference now, plus
/// each candidate's first-order effect on either side.
fn shortlisted(
    runner: &mut Runner,
    pair: &[Variant; 2],
    options: Vec<Head>,
    keep: usize,
) -> Result<Vec<Head>> {
    let now = runner.scores(pair)?;
    let gap = mean(&now[0]) - mean(&now[1]);
    let first = runner.attribution(&pair[0], &options)?;
    let second = runner.attribution(&pair[1], &options)?;
    let mut ranked: Vec<(f64, Head)> = options
        .iter()
        .enumerate()
        .map(|(i, h)| ((gap + first[i] - second[i]).abs(), *h))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut chosen: Vec<Head> = ranked.into_iter().take(keep).map(|(_, h)| h).collect();
    chosen.sort();
    Ok(chosen)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::MetricKind;

    fn dataset(groups: &[&str], of_prompt: &[usize]) -> Dataset {
        let prompt = |group: usize| crate::task::Prompt {
            text: String::new(),
            tokens: vec![0],
            positions: Default::default(),
            group,
            answer: vec![0],
            distractor: vec![1],
        };
        Dataset {
            task: "t".into(),
            metric: MetricKind::LogitDifference,
            position_names: Vec::new(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            prompts: of_prompt.iter().map(|g| prompt(*g)).collect(),
            reference: Vec::new(),
        }
    }

    #[test]
    fn families_are_group_names_without_their_template_number() {
        assert_eq!(family_of("BABA 3"), "BABA");
        assert_eq!(family_of("ABBA long 12"), "ABBA long");
        assert_eq!(family_of("year-span"), "year-span");
        assert_eq!(family_of(" 3"), " 3");
    }

    #[test]
    fn buckets_follow_family_then_template_number_and_skip_empty_groups() {
        let d = dataset(
            &["BABA 10", "ABBA 2", "BABA 2", "unused 1", "ABBA 10"],
            &[0, 1, 2, 0, 4, 2, 1],
        );
        let groups = by_group(&d);
        let names: Vec<&str> = groups.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["ABBA 2", "ABBA 10", "BABA 2", "BABA 10"]);
        assert_eq!(groups[0].prompts, [1, 6]);
        assert_eq!(groups[3].prompts, [0, 3]);
        let families = by_family(&d);
        let names: Vec<(&str, &[usize])> = families
            .iter()
            .map(|b| (b.name.as_str(), b.prompts.as_slice()))
            .collect();
        assert_eq!(
            names,
            [("ABBA", &[1, 4, 6][..]), ("BABA", &[0, 2, 3, 5][..])]
        );
    }
}
