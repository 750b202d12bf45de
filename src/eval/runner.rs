//! Runs knockout variants through the model and returns each prompt's score. Does as little
//! work as it can, always with the same result:
//! - each variant is computed once (memoised);
//! - the bases M and C run first, and a variant that only knocks out heads from layer L on
//!   resumes from its base's residual stream at L;
//! - at node level, C \ K differs from C only from the first position where C keeps a head of
//!   K: only that window at the end of each prompt is recomputed, reading the earlier
//!   positions' keys and values from C's pass (attention is causal);
//! - several variants share one batch, and only the answer logits are read.

use std::collections::{BTreeMap, HashMap};

use candle_core::Tensor;

use crate::dsl::{Channel, Circuit, Head, Level, Node};
use crate::eval::patch::{Patcher, Row, Wiring};
use crate::eval::reference::ReferenceActivations;
use crate::eval::variant::{Layout, Plan, Scope, Variant};
use crate::model::{self, error::Result};
use crate::model::{Batch, Capture, Gpt2, KeyValues, Readout, Window};
use crate::task::{Dataset, MetricKind};

/// Upper bounds on one forward pass: token positions, and rows (a window pass's rows each
/// read every position's keys and values).
const MAX_TOKENS: usize = 4096;
const MAX_ROWS: usize = 512;

pub struct Runner<'a> {
    model: &'a Gpt2,
    dataset: &'a Dataset,
    reference: &'a ReferenceActivations,
    /// The prompts this runner scores (a subset for searches), as dataset indices.
    prompts: Vec<usize>,
    layouts: Vec<Layout>,
    plan: Plan,
    wiring: Option<Wiring>,
    level: Level,
    /// The longest of the runner's prompts: full passes are this wide.
    seq: usize,
    memo: HashMap<Variant, Vec<f64>>,
    bases: HashMap<Scope, BasePass>,
    /// Recompute only the changed window of C's variants (on by default; off gives the plain
    /// path, to compare with).
    pub windows: bool,
    /// Forward passes run so far (for tests and progress), and how many of them recomputed
    /// a window only.
    pub passes: usize,
    pub window_passes: usize,
    /// Called after each batch with the number of variants it scored.
    pub on_progress: Option<Box<dyn FnMut(usize) + 'a>>,
}

/// What a base pass leaves for the variants built on it.
struct BasePass {
    /// The residual stream entering each layer, `[prompts, seq, d_model]`.
    residuals: Vec<Tensor>,
    /// The keys and values of every head it computed (C at node level, for windows).
    key_values: Option<KeyValues>,
}

/// How a variant is computed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Route {
    /// From the embeddings.
    Full,
    /// From its base's residual stream at a layer.
    Resume(Scope, usize),
    /// From C's residual stream at a layer, only the last `width` positions of each prompt
    /// from its first changed one (`starts`, per prompt).
    Window {
        layer: usize,
        width: usize,
        starts: Vec<usize>,
    },
}

impl Wiring {
    fn new(circuit: &Circuit) -> Self {
        let heads: Vec<Head> = circuit.heads().into_iter().collect();
        let senders: Vec<(usize, usize)> = heads
            .iter()
            .map(|h| (h.layer as usize, h.head as usize))
            .collect();
        let slot = |sender: Option<Head>| {
            sender.map_or(0, |h| {
                1 + heads
                    .iter()
                    .position(|x| *x == h)
                    .expect("edges join circuit heads")
            })
        };
        let mut receivers = BTreeMap::new();
        for head in &heads {
            let empty = vec![false; senders.len() + 1];
            receivers.insert(
                (head.layer as usize, head.head as usize),
                [empty.clone(), empty.clone(), empty],
            );
        }
        for (sender, receiver, channel) in circuit.head_edges() {
            let index = match channel {
                Channel::Q => model::Channel::Q,
                Channel::K => model::Channel::K,
                Channel::V => model::Channel::V,
            } as usize;
            let key = (receiver.layer as usize, receiver.head as usize);
            if let Some(lists) = receivers.get_mut(&key) {
                lists[index][slot(sender)] = true;
            }
        }
        let mut logits = vec![false; senders.len() + 1];
        for edge in &circuit.edges {
            if edge.to != Node::Logits {
                continue;
            }
            match &edge.from {
                Node::Embed => logits[0] = true,
                node => {
                    for head in circuit.heads_of(node) {
                        logits[slot(Some(head))] = true;
                    }
                }
            }
        }
        Self {
            senders,
            receivers,
            logits,
        }
    }
}

impl<'a> Runner<'a> {
    pub fn new(
        model: &'a Gpt2,
        dataset: &'a Dataset,
        reference: &'a ReferenceActivations,
        circuit: &Circuit,
        level: Level,
        prompts: Vec<usize>,
    ) -> Self {
        let config = model.config();
        let layouts: Vec<Layout> = prompts
            .iter()
            .map(|p| Layout {
                len: dataset.prompts[*p].tokens.len(),
                positions: dataset.prompts[*p].positions.clone(),
            })
            .collect();
        let seq = layouts.iter().map(|l| l.len).max().unwrap_or(1);
        Self {
            model,
            dataset,
            reference,
            plan: Plan::new(
                circuit,
                config.n_layer as u32,
                config.n_head as u32,
                &layouts,
            ),
            layouts,
            prompts,
            wiring: (level == Level::Edge).then(|| Wiring::new(circuit)),
            level,
            seq,
            memo: HashMap::new(),
            bases: HashMap::new(),
            windows: true,
            passes: 0,
            window_passes: 0,
            on_progress: None,
        }
    }

    pub fn prompts(&self) -> &[usize] {
        &self.prompts
    }

    /// Each prompt's score under each variant.
    pub fn scores(&mut self, variants: &[Variant]) -> Result<Vec<Vec<f64>>> {
        let mut todo: Vec<Variant> = Vec::new();
        for variant in variants {
            if !self.memo.contains_key(variant) && !todo.contains(variant) {
                todo.push(variant.clone());
            }
        }
        // Bases first: the other variants of their scope build on them.
        for scope in [Scope::Model, Scope::Circuit] {
            if todo.iter().any(|v| v.scope == scope)
                && !self.bases.contains_key(&scope)
                && self.can_resume(scope)
            {
                let base = Variant::new(scope, Default::default());
                self.run_base(&base)?;
                todo.retain(|v| *v != base);
                self.report(1);
            }
        }
        let mut groups: BTreeMap<Route, Vec<Variant>> = BTreeMap::new();
        for variant in todo {
            groups
                .entry(self.route(&variant))
                .or_default()
                .push(variant);
        }
        for (route, group) in groups {
            let width = match &route {
                Route::Window { width, .. } => *width,
                _ => self.seq,
            };
            let per_pass = (MAX_TOKENS / (self.prompts.len() * width).max(1))
                .min(MAX_ROWS / self.prompts.len().max(1))
                .max(1);
            for chunk in group.chunks(per_pass) {
                let scores = self.run_batch(chunk, &route).map_err(|e| {
                    let names: Vec<String> = chunk.iter().map(Variant::to_string).collect();
                    e.context(format!(
                        "scoring {} on {} prompts ({route:?})",
                        names.join(", "),
                        self.prompts.len()
                    ))
                })?;
                for (variant, scores) in chunk.iter().zip(scores) {
                    self.memo.insert(variant.clone(), scores);
                }
                self.report(chunk.len());
            }
        }
        Ok(variants.iter().map(|v| self.memo[v].clone()).collect())
    }

    fn report(&mut self, n: usize) {
        if let Some(progress) = self.on_progress.as_mut() {
            progress(n);
        }
    }

    /// Edge-level passes need the embeddings, so only the full model (never wired) resumes.
    fn can_resume(&self, scope: Scope) -> bool {
        self.level == Level::Node || scope == Scope::Model
    }

    fn route(&self, variant: &Variant) -> Route {
        let Some(layer) = variant.knocked_out.iter().map(|h| h.layer as usize).min() else {
            return Route::Full;
        };
        if !self.bases.contains_key(&variant.scope) {
            return Route::Full;
        }
        if variant.scope == Scope::Circuit && self.windows {
            let starts: Vec<usize> = (0..self.prompts.len())
                .map(|p| {
                    let end = self.dataset.prompts[self.prompts[p]].end();
                    self.plan
                        .first_difference(&variant.knocked_out, p)
                        .map_or(end, |first| first.min(end))
                })
                .collect();
            let width = (0..self.prompts.len())
                .map(|p| self.layouts[p].len - starts[p])
                .max()
                .unwrap_or(self.seq);
            if width < self.seq {
                return Route::Window {
                    layer,
                    width,
                    starts,
                };
            }
        }
        Route::Resume(variant.scope, layer)
    }

    /// Runs a base variant, keeping what the variants built on it need.
    fn run_base(&mut self, variant: &Variant) -> Result<()> {
        let rows = self.rows(1, &vec![0; self.prompts.len()]);
        let interventions =
            self.patcher()
                .interventions(std::slice::from_ref(variant), &rows, self.seq)?;
        let capture = Capture {
            residuals: true,
            key_values: variant.scope == Scope::Circuit && self.level == Level::Node,
            ..Default::default()
        };
        let output = self.model.forward(
            &self.batch(&rows)?,
            &interventions,
            capture,
            &self.readout(&rows)?,
        )?;
        self.passes += 1;
        let scores = self.scores_from(&output.logits, &rows)?;
        self.memo.insert(variant.clone(), scores);
        let key_values = capture.key_values.then_some(output.key_values);
        self.bases.insert(
            variant.scope,
            BasePass {
                residuals: output.residuals,
                key_values,
            },
        );
        Ok(())
    }

    fn patcher(&self) -> Patcher<'_> {
        Patcher {
            plan: &self.plan,
            layouts: &self.layouts,
            reference: self.reference,
            sources: self
                .prompts
                .iter()
                .map(|p| self.reference.source_of_prompt[*p])
                .collect(),
            wiring: self.wiring.as_ref(),
            device: self.model.device(),
        }
    }

    /// One row per prompt for each of `copies` variants, starting at `starts[prompt]`.
    fn rows(&self, copies: usize, starts: &[usize]) -> Vec<Row> {
        (0..copies)
            .flat_map(|variant| {
                (0..self.prompts.len()).map(move |prompt| Row {
                    variant,
                    prompt,
                    start: starts[prompt],
                })
            })
            .collect()
    }

    /// The rows' prompts as right-padded tokens.
    fn batch(&self, rows: &[Row]) -> Result<Batch> {
        let sequences: Vec<Vec<u32>> = rows
            .iter()
            .map(|row| {
                let mut tokens = self.dataset.prompts[self.prompts[row.prompt]]
                    .tokens
                    .clone();
                tokens.resize(self.seq, 0);
                tokens
            })
            .collect();
        Batch::new(&sequences, self.model.device())
    }

    fn run_batch(&mut self, variants: &[Variant], route: &Route) -> Result<Vec<Vec<f64>>> {
        let starts = match route {
            Route::Window { starts, .. } => starts.clone(),
            _ => vec![0; self.prompts.len()],
        };
        let rows = self.rows(variants.len(), &starts);
        let readout = self.readout(&rows)?;
        let output = match route {
            Route::Full => {
                let interventions = self.patcher().interventions(variants, &rows, self.seq)?;
                self.model.forward(
                    &self.batch(&rows)?,
                    &interventions,
                    Capture::default(),
                    &readout,
                )?
            }
            Route::Resume(scope, layer) => {
                let interventions = self.patcher().interventions(variants, &rows, self.seq)?;
                let residual = &self.bases[scope].residuals[*layer];
                let stacked = Tensor::cat(&vec![residual.clone(); variants.len()], 0)?;
                self.model.forward_from(
                    *layer,
                    stacked,
                    &interventions,
                    Capture::default(),
                    &readout,
                )?
            }
            Route::Window { layer, width, .. } => {
                self.window_passes += 1;
                let interventions = self.patcher().interventions(variants, &rows, *width)?;
                let base = &self.bases[&Scope::Circuit];
                let key_values = base.key_values.as_ref().ok_or_else(|| {
                    model::ModelError::Internal("the circuit's pass kept no keys".into())
                })?;
                // Each row's window of C's residual stream at the layer.
                let residual = &base.residuals[*layer];
                let (d, seq) = (residual.dim(2)?, self.seq);
                let picks: Vec<u32> = rows
                    .iter()
                    .flat_map(|row| {
                        (0..*width)
                            .map(move |i| (row.prompt * seq + (row.start + i).min(seq - 1)) as u32)
                    })
                    .collect();
                let picks = Tensor::from_vec(picks, rows.len() * width, self.model.device())?;
                let window_residual = residual
                    .reshape((self.prompts.len() * self.seq, d))?
                    .index_select(&picks, 0)?
                    .reshape((rows.len(), *width, d))?;
                let row_starts: Vec<usize> = rows.iter().map(|r| r.start).collect();
                let base_rows: Vec<usize> = rows.iter().map(|r| r.prompt).collect();
                let window = Window {
                    starts: &row_starts,
                    base_rows: &base_rows,
                    base: key_values,
                };
                self.model.forward_window(
                    *layer,
                    window_residual,
                    &window,
                    &interventions,
                    &readout,
                )?
            }
        };
        self.passes += 1;
        let all = self.scores_from(&output.logits, &rows)?;
        Ok(all
            .chunks(self.prompts.len())
            .map(<[f64]>::to_vec)
            .collect())
    }

    /// The answer logits at each row's `END`, as a column of the row's pass.
    fn readout(&self, rows: &[Row]) -> Result<Readout> {
        let prompt = |row: &Row| &self.dataset.prompts[self.prompts[row.prompt]];
        let positions: Vec<usize> = rows.iter().map(|r| prompt(r).end() - r.start).collect();
        Ok(match self.dataset.metric {
            MetricKind::LogitDifference => {
                let tokens: Vec<u32> = rows
                    .iter()
                    .flat_map(|r| [prompt(r).answer[0], prompt(r).distractor[0]])
                    .collect();
                Readout::Tokens {
                    positions,
                    tokens: Tensor::from_vec(tokens, (rows.len(), 2), self.model.device())?,
                }
            }
            MetricKind::ProbabilityDifference => Readout::Full { positions },
        })
    }

    fn scores_from(&self, logits: &Option<Tensor>, rows: &[Row]) -> Result<Vec<f64>> {
        let logits = logits
            .as_ref()
            .ok_or_else(|| model::ModelError::Internal("the pass read no logits".into()))?;
        match self.dataset.metric {
            MetricKind::LogitDifference => {
                let values: Vec<Vec<f32>> = logits.to_vec2()?;
                Ok(values
                    .iter()
                    .map(|pair| (pair[0] - pair[1]) as f64)
                    .collect())
            }
            MetricKind::ProbabilityDifference => {
                let probabilities = candle_nn::ops::softmax_last_dim(logits)?;
                let values: Vec<Vec<f32>> = probabilities.to_vec2()?;
                Ok(rows
                    .iter()
                    .zip(values)
                    .map(|(row, probs)| {
                        let prompt = &self.dataset.prompts[self.prompts[row.prompt]];
                        let mass = |ids: &[u32]| {
                            ids.iter().map(|i| probs[*i as usize] as f64).sum::<f64>()
                        };
                        mass(&prompt.answer) - mass(&prompt.distractor)
                    })
                    .collect())
            }
        }
    }
}
