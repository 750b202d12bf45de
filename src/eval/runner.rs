//! Runs knockout variants through the model and returns each prompt's score. Does as little
//! work as it can: each variant is computed once (memoised), variants of M and C that only
//! knock out heads from layer L on start from the cached residual stream at L, several
//! variants share one batch, and only the answer logits are read.

use std::collections::HashMap;

use candle_core::Tensor;

use crate::dsl::{Channel, Circuit, Head, Level, Mlps, Node};
use crate::eval::reference::ReferenceActivations;
use crate::eval::variant::{Layout, Plan, Scope, Variant};
use crate::model::{self, error::Result};
use crate::model::{
    Batch, Capture, EdgePatch, Gpt2, HeadPatch, Interventions, MlpPatch, Readout, mask_tensor,
};
use crate::task::{Dataset, MetricKind};

/// Upper bound on rows (variants × prompts) in one forward pass.
const MAX_ROWS: usize = 256;

pub struct Runner<'a> {
    model: &'a Gpt2,
    dataset: &'a Dataset,
    reference: &'a ReferenceActivations,
    /// The prompts this runner scores (a subset for searches).
    prompts: Vec<usize>,
    layouts: Vec<Layout>,
    plan: Plan,
    level: Level,
    edges: Option<EdgeTemplate>,
    memo: HashMap<Variant, Vec<f64>>,
    /// Residual streams entering each layer for the bases M and C, per prompt row.
    residuals: HashMap<Scope, Vec<Tensor>>,
    /// Forward passes run so far (for tests and progress).
    pub passes: usize,
    /// Called after each batch with the number of variants it scored.
    pub on_progress: Option<Box<dyn FnMut(usize) + 'a>>,
}

/// The circuit's edges as connection lists over senders (embeddings first, then heads).
#[derive(Clone, Debug)]
struct EdgeTemplate {
    senders: Vec<(usize, usize)>,
    receivers: std::collections::BTreeMap<(usize, usize), [Vec<bool>; 3]>,
    logits: Vec<bool>,
}

impl EdgeTemplate {
    fn new(circuit: &Circuit) -> Self {
        let heads: Vec<Head> = circuit.heads().into_iter().collect();
        let senders: Vec<(usize, usize)> = heads
            .iter()
            .map(|h| (h.layer as usize, h.head as usize))
            .collect();
        let slot = |sender: Option<Head>| {
            sender.map_or(0, |h| 1 + heads.iter().position(|x| *x == h).unwrap())
        };
        let mut receivers = std::collections::BTreeMap::new();
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
        let seq = prompts
            .iter()
            .map(|p| dataset.prompts[*p].tokens.len())
            .max()
            .unwrap_or(1);
        let layouts = prompts
            .iter()
            .map(|p| Layout {
                len: dataset.prompts[*p].tokens.len(),
                positions: dataset.prompts[*p].positions.clone(),
            })
            .collect();
        Self {
            model,
            dataset,
            reference,
            prompts,
            layouts,
            plan: Plan::new(circuit, config.n_layer as u32, config.n_head as u32, seq),
            level,
            edges: (level == Level::Edge).then(|| EdgeTemplate::new(circuit)),
            memo: HashMap::new(),
            residuals: HashMap::new(),
            passes: 0,
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
        // Bases first: their residual streams let the others skip their unchanged prefix.
        for base in [Scope::Model, Scope::Circuit] {
            let needs_base = todo
                .iter()
                .any(|v| v.scope == base && !v.knocked_out.is_empty());
            if (needs_base
                || todo
                    .iter()
                    .any(|v| v.scope == base && v.knocked_out.is_empty()))
                && !self.residuals.contains_key(&base)
                && self.can_resume(base)
            {
                let variant = Variant::new(base, Default::default());
                let (scores, residuals) = self.run_one_with_residuals(&variant)?;
                self.memo.insert(variant.clone(), scores);
                self.residuals.insert(base, residuals);
                todo.retain(|v| *v != variant);
                self.report(1);
            }
        }
        // Group by where the pass can start, then batch.
        let mut groups: HashMap<(Scope, usize), Vec<Variant>> = HashMap::new();
        for variant in todo {
            let start = self.start_layer(&variant);
            let key = if start > 0 {
                (variant.scope, start)
            } else {
                (Scope::Empty, 0)
            };
            groups.entry(key).or_default().push(variant);
        }
        let mut keys: Vec<(Scope, usize)> = groups.keys().copied().collect();
        keys.sort();
        let per_pass = (MAX_ROWS / self.prompts.len().max(1)).max(1);
        for key in keys {
            let group = &groups[&key];
            for chunk in group.chunks(per_pass) {
                let scores = self.run_batch(chunk, key.0, key.1)?;
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

    /// Edge-level passes need the embeddings, so they always start at layer 0.
    fn can_resume(&self, scope: Scope) -> bool {
        self.level == Level::Node || scope == Scope::Model
    }

    /// The layer a variant's pass can start from, using its base's cached residual stream.
    fn start_layer(&self, variant: &Variant) -> usize {
        if !self.residuals.contains_key(&variant.scope) {
            return 0;
        }
        variant
            .knocked_out
            .iter()
            .map(|h| h.layer as usize)
            .min()
            .unwrap_or(0)
    }

    fn run_one_with_residuals(&mut self, variant: &Variant) -> Result<(Vec<f64>, Vec<Tensor>)> {
        let (batch, rows) = self.batch_for(1)?;
        let interventions = self.interventions(std::slice::from_ref(variant), &rows)?;
        let capture = Capture {
            residuals: true,
            ..Default::default()
        };
        let output = self
            .model
            .forward(&batch, &interventions, capture, &self.readout(&rows)?)?;
        self.passes += 1;
        let scores = self.scores_from(output.logits.as_ref().expect("readout requested"), &rows)?;
        Ok((scores, output.residuals))
    }

    /// Token rows for `copies` stacked variants, and the prompt index of each row.
    fn batch_for(&self, copies: usize) -> Result<(Batch, Vec<usize>)> {
        let seq = self.plan.seq;
        let mut sequences = Vec::new();
        let mut rows = Vec::new();
        for _ in 0..copies {
            for p in &self.prompts {
                let mut tokens = self.dataset.prompts[*p].tokens.clone();
                tokens.resize(seq, 0);
                sequences.push(tokens);
                rows.push(*p);
            }
        }
        Ok((Batch::new(&sequences, self.model.device())?, rows))
    }

    fn run_batch(
        &mut self,
        variants: &[Variant],
        base: Scope,
        start: usize,
    ) -> Result<Vec<Vec<f64>>> {
        self.try_batch(variants, base, start).map_err(|e| {
            let names: Vec<String> = variants.iter().map(Variant::to_string).collect();
            e.context(format!(
                "scoring {} on {} prompts × {} positions from layer {start}",
                names.join(", "),
                self.prompts.len(),
                self.plan.seq
            ))
        })
    }

    fn try_batch(
        &mut self,
        variants: &[Variant],
        base: Scope,
        start: usize,
    ) -> Result<Vec<Vec<f64>>> {
        let (batch, rows) = self.batch_for(variants.len())?;
        let interventions = self.interventions(variants, &rows)?;
        let readout = self.readout(&rows)?;
        let output = if start > 0 {
            let residual = &self.residuals[&base][start];
            let stacked = Tensor::cat(&vec![residual.clone(); variants.len()], 0)?;
            self.model.forward_from(
                &batch,
                start,
                stacked,
                &interventions,
                Capture::default(),
                &readout,
            )?
        } else {
            self.model
                .forward(&batch, &interventions, Capture::default(), &readout)?
        };
        self.passes += 1;
        let all = self.scores_from(output.logits.as_ref().expect("readout requested"), &rows)?;
        Ok(all
            .chunks(self.prompts.len())
            .map(<[f64]>::to_vec)
            .collect())
    }

    fn interventions(&self, variants: &[Variant], rows: &[usize]) -> Result<Interventions> {
        let device = self.model.device();
        let (layers, heads, seq) = (
            self.plan.layers as usize,
            self.plan.heads as usize,
            self.plan.seq,
        );
        let mut masks: Vec<f32> = Vec::with_capacity(rows.len() * seq * layers * heads);
        for variant in variants {
            masks.extend(self.plan.head_mask(variant, &self.layouts));
        }
        // MLPs need a patch only where the circuit lists them; the full model keeps all.
        let mlp_masks: Option<Vec<f32>> = matches!(self.plan.mlps, Mlps::Listed(_)).then(|| {
            variants
                .iter()
                .flat_map(|variant| {
                    self.plan
                        .mlp_mask(variant, &self.layouts)
                        .unwrap_or_else(|| vec![1.0; self.prompts.len() * seq * layers])
                })
                .collect()
        });
        let all_kept = masks.iter().all(|m| *m == 1.0);
        let mut out = Interventions::none();
        if !all_kept || self.edges.is_some() {
            let mask = Tensor::from_vec(masks, (rows.len(), seq, layers, heads), device)?;
            for layer in 0..layers {
                let keep = mask.narrow(2, layer, 1)?.squeeze(2)?.contiguous()?;
                let replaced =
                    keep.sum_all()?.to_scalar::<f32>()? < (rows.len() * seq * heads) as f32;
                out.heads.push(if replaced || self.edges.is_some() {
                    Some(HeadPatch {
                        keep,
                        replacement: self.reference.head_replacement(layer, rows, seq)?,
                    })
                } else {
                    None
                });
            }
        }
        if let Some(mask) = mlp_masks {
            let mask = Tensor::from_vec(mask, (rows.len(), seq, layers), device)?;
            for layer in 0..layers {
                let keep = mask.narrow(2, layer, 1)?.contiguous()?;
                out.mlps.push(Some(MlpPatch {
                    keep,
                    replacement: self.reference.mlp_replacement(layer, rows, seq)?,
                }));
            }
        }
        // The wiring applies to the circuit's variants; the full model's rows keep every edge.
        let wired: Vec<bool> = variants
            .iter()
            .flat_map(|v| std::iter::repeat_n(v.scope != Scope::Model, self.prompts.len()))
            .collect();
        if let (Some(edges), true) = (&self.edges, wired.contains(&true)) {
            out.edges = Some(EdgePatch {
                senders: edges.senders.clone(),
                embed_replacement: self.reference.embed_replacement(rows, seq)?,
                receivers: edges.receivers.clone(),
                logits: edges.logits.clone(),
                rows: mask_tensor(&wired, &[rows.len(), 1, 1], device)?,
            });
        }
        Ok(out)
    }

    fn readout(&self, rows: &[usize]) -> Result<Readout> {
        let positions: Vec<usize> = rows
            .iter()
            .map(|p| self.dataset.prompts[*p].end())
            .collect();
        Ok(match self.dataset.metric {
            MetricKind::LogitDifference => {
                let tokens: Vec<u32> = rows
                    .iter()
                    .flat_map(|p| {
                        let prompt = &self.dataset.prompts[*p];
                        [prompt.answer[0], prompt.distractor[0]]
                    })
                    .collect();
                Readout::Tokens {
                    positions,
                    tokens: Tensor::from_vec(tokens, (rows.len(), 2), self.model.device())?,
                }
            }
            MetricKind::ProbabilityDifference => Readout::Full { positions },
        })
    }

    fn scores_from(&self, logits: &Tensor, rows: &[usize]) -> Result<Vec<f64>> {
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
                    .map(|(p, probs)| {
                        let prompt = &self.dataset.prompts[*p];
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
