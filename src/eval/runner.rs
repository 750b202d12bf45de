//! Runs knockout variants through the model and returns each prompt's score. Prompts of
//! different lengths are scored in separate groups (`group`), each padded only to its own
//! longest prompt, so no pass spends its work on padding; a prompt's score never depends on
//! its group.

use crate::dsl::{Circuit, Head, Level};
use crate::eval::reference::ReferenceActivations;
use crate::eval::variant::Variant;
use crate::model::{Transformer, error::Result};
use crate::task::Dataset;

mod group;

use group::Group;

/// What one more pass costs beyond its positions, in positions: reading every weight
/// matrix once, and each operation's fixed cost (measured on GPT-2 small, 2 cores: a pass
/// over 76 positions takes as long as one over 136 would at the rate of large ones).
const PASS_COST: usize = 64;

pub struct Runner<'a> {
    /// The prompts this runner scores (a subset for searches), as dataset indices.
    prompts: Vec<usize>,
    /// Each group, with its prompts as indices into `prompts`.
    groups: Vec<(Vec<usize>, Group<'a>)>,
    /// Recompute only the changed window of C's variants (on by default; off gives the plain
    /// path, to compare with).
    pub windows: bool,
    /// Keep M's and C's passes as bases for the variants that extend them (on by default;
    /// a caller that scores M and C alone turns it off: each base holds every layer's stream
    /// for every prompt).
    pub roots: bool,
    /// Called as variants are scored, with how many more are done (over every prompt).
    pub on_progress: Option<Box<dyn FnMut(usize) + 'a>>,
}

impl<'a> Runner<'a> {
    pub fn new(
        model: &'a Transformer,
        dataset: &'a Dataset,
        reference: &'a ReferenceActivations,
        circuit: &Circuit,
        level: Level,
        prompts: Vec<usize>,
    ) -> Self {
        Self::with_pass_cost(
            model, dataset, reference, circuit, level, prompts, PASS_COST,
        )
    }

    /// A runner whose groups take `pass_cost` (in positions) as the cost of one more pass:
    /// 0 gives each length its own group; a cost above every prompt's length, one group.
    pub fn with_pass_cost(
        model: &'a Transformer,
        dataset: &'a Dataset,
        reference: &'a ReferenceActivations,
        circuit: &Circuit,
        level: Level,
        prompts: Vec<usize>,
        pass_cost: usize,
    ) -> Self {
        let groups = by_length(&prompts, pass_cost, |p| dataset.prompts[p].tokens.len())
            .into_iter()
            .map(|members| {
                let own = members.iter().map(|i| prompts[*i]).collect();
                let group = Group::new(model, dataset, reference, circuit, level, own);
                (members, group)
            })
            .collect();
        Self {
            prompts,
            groups,
            windows: true,
            roots: true,
            on_progress: None,
        }
    }

    pub fn prompts(&self) -> &[usize] {
        &self.prompts
    }

    /// Forward passes run so far.
    pub fn passes(&self) -> usize {
        self.groups.iter().map(|(_, g)| g.passes).sum()
    }

    /// Of those, the passes that recomputed a window at the end of each prompt.
    pub fn window_passes(&self) -> usize {
        self.groups.iter().map(|(_, g)| g.window_passes).sum()
    }

    /// Positions computed through one layer, summed over every pass so far.
    pub fn work(&self) -> usize {
        self.groups.iter().map(|(_, g)| g.work).sum()
    }

    /// Each prompt's score under each variant.
    pub fn scores(&mut self, variants: &[Variant]) -> Result<Vec<Vec<f64>>> {
        let mut scores = vec![vec![0f64; self.prompts.len()]; variants.len()];
        let total = self.prompts.len();
        let mut progress = Progress::new(self.on_progress.as_mut(), total);
        for (members, group) in &mut self.groups {
            group.windows = self.windows;
            group.roots = self.roots;
            let mut report = |done: usize| progress.advance(done * members.len());
            let own = group.scores(variants, &mut report)?;
            for (all, own) in scores.iter_mut().zip(own) {
                for (at, score) in members.iter().zip(own) {
                    all[*at] = score;
                }
            }
        }
        Ok(scores)
    }

    /// Scores `variants` and keeps their passes as bases for the variants that extend them
    /// (a greedy search's current K, before it tries each next head).
    pub fn keep_bases(&mut self, variants: &[Variant]) -> Result<()> {
        let total = self.prompts.len();
        let mut progress = Progress::new(self.on_progress.as_mut(), total);
        for (members, group) in &mut self.groups {
            group.windows = self.windows;
            group.roots = self.roots;
            let mut report = |done: usize| progress.advance(done * members.len());
            group.keep_bases(variants, &mut report)?;
        }
        Ok(())
    }

    /// Lets go of the bases `keep_bases` kept (M and C stay): a finished search's bases
    /// serve no later variant, and each holds every layer's stream.
    pub fn release_bases(&mut self) {
        for (_, group) in &mut self.groups {
            group.release_bases();
        }
    }

    /// First-order estimates of how much knocking out each of `heads` on top of `variant`
    /// changes F, the mean score over this runner's prompts: each group's estimate of its own
    /// mean, weighted by its share of the prompts.
    pub fn attribution(&mut self, variant: &Variant, heads: &[Head]) -> Result<Vec<f64>> {
        let mut estimates = vec![0f64; heads.len()];
        let total = self.prompts.len() as f64;
        for (members, group) in &mut self.groups {
            let share = members.len() as f64 / total;
            for (sum, estimate) in estimates.iter_mut().zip(group.attribution(variant, heads)?) {
                *sum += share * estimate;
            }
        }
        Ok(estimates)
    }
}

/// Indices into `prompts`, grouped by the prompts' lengths (shortest first) so that the
/// positions a full pass over each group computes, padding included, plus `pass_cost` per
/// group, are fewest.
fn by_length(prompts: &[usize], pass_cost: usize, len: impl Fn(usize) -> usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..prompts.len()).collect();
    order.sort_by_key(|i| (len(prompts[*i]), *i));
    let lens: Vec<usize> = order.iter().map(|i| len(prompts[*i])).collect();
    // Groups end where the length changes; best[k]: the least cost of the first k prompts,
    // and where its last group starts.
    let n = order.len();
    let mut best: Vec<(usize, usize)> = vec![(0, 0); n + 1];
    for end in 1..=n {
        if end < n && lens[end] == lens[end - 1] {
            continue;
        }
        best[end] = (0..end)
            .filter(|start| *start == 0 || lens[*start] != lens[start - 1])
            .map(|start| {
                let padded = (end - start) * lens[end - 1];
                (
                    best[start]
                        .0
                        .saturating_add(pass_cost)
                        .saturating_add(padded),
                    start,
                )
            })
            .min()
            .expect("a group starts at 0");
    }
    let mut groups = Vec::new();
    let mut end = n;
    while end > 0 {
        let start = best[end].1;
        let mut group = order[start..end].to_vec();
        group.sort();
        groups.push(group);
        end = start;
    }
    groups.reverse();
    groups
}

/// Progress in whole variants from groups that each report variants over their own prompts.
struct Progress<'p, 'a> {
    callback: Option<&'p mut Box<dyn FnMut(usize) + 'a>>,
    total: usize,
    /// Variants × prompts done, and whole variants reported.
    done: usize,
    reported: usize,
}

impl<'p, 'a> Progress<'p, 'a> {
    fn new(callback: Option<&'p mut Box<dyn FnMut(usize) + 'a>>, total: usize) -> Self {
        Self {
            callback,
            total: total.max(1),
            done: 0,
            reported: 0,
        }
    }

    fn advance(&mut self, prompt_variants: usize) {
        self.done += prompt_variants;
        let whole = self.done / self.total;
        if whole > self.reported {
            if let Some(callback) = self.callback.as_mut() {
                callback(whole - self.reported);
            }
            self.reported = whole;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_share_a_group_where_padding_costs_less_than_a_pass() {
        // 40 prompts of 10 tokens, 40 of 20, and two of 11: padding the two to 20 costs 18
        // positions, padding the 40 to 11 costs 40, a group of their own 64.
        let lens: Vec<usize> = [vec![10; 40], vec![20; 40], vec![11; 2]].concat();
        let prompts: Vec<usize> = (0..lens.len()).collect();
        let groups = by_length(&prompts, PASS_COST, |p| lens[p]);
        assert_eq!(
            groups,
            vec![(0..40).collect(), (40..82).collect::<Vec<_>>()]
        );
    }

    #[test]
    fn a_few_prompts_make_one_group() {
        let lens = [3, 4, 5];
        let groups = by_length(&[0, 1, 2], PASS_COST, |p| lens[p]);
        assert_eq!(groups, vec![vec![0, 1, 2]]);
        let apart = by_length(&[0, 1, 2], 0, |p| lens[p]);
        assert_eq!(apart, vec![vec![0], vec![1], vec![2]]);
    }
}
