//! One batch's interventions: the keep-masks of every row's variant, and the replacement
//! values from the reference activations, summed row by row on the host (so a row's numbers
//! never depend on the rows beside it).

use std::collections::BTreeMap;

use candle_core::{Device, Tensor};

use crate::dsl::Head;
use crate::eval::reference::ReferenceActivations;
use crate::eval::variant::{Kept, Layout, Plan, Variant};
use crate::model::error::Result;
use crate::model::{EdgePatch, EdgeSender, HeadPatch, Interventions, MlpPatch, mask_tensor};

/// One row of a batch: a variant on one prompt, at some of its positions.
#[derive(Clone, Debug)]
pub struct Row {
    /// Index into the batch's variants.
    pub variant: usize,
    /// Index into the runner's prompts (and the plan's layouts).
    pub prompt: usize,
    /// The position of each column, ascending (0, 1, … for a full pass); those past the
    /// prompt's end are padding.
    pub positions: Vec<usize>,
}

/// The circuit's edges as connection lists over senders (embeddings first, then heads and
/// wired MLPs).
#[derive(Clone, Debug)]
pub struct Wiring {
    pub senders: Vec<EdgeSender>,
    pub receivers: BTreeMap<(usize, usize), [Vec<bool>; 3]>,
    pub mlp_receivers: BTreeMap<usize, Vec<bool>>,
    pub logits: Vec<bool>,
}

/// What every batch of one runner shares.
pub struct Patcher<'a> {
    pub plan: &'a Plan,
    pub layouts: &'a [Layout],
    pub reference: &'a ReferenceActivations,
    /// The reference source of each of the runner's prompts.
    pub sources: Vec<usize>,
    pub wiring: Option<&'a Wiring>,
    pub device: &'a Device,
}

impl Patcher<'_> {
    /// The interventions for `rows` of `width` columns each, `variants` indexed by the rows.
    pub fn interventions(
        &self,
        variants: &[Variant],
        rows: &[Row],
        width: usize,
    ) -> Result<Interventions> {
        let (layers, heads) = (self.plan.layers as usize, self.plan.heads as usize);
        let d = self.reference.embeddings.width;
        let wired = self.wiring.map(|_| {
            rows.iter()
                .map(|row| variants[row.variant].scope != crate::eval::variant::Scope::Model)
                .collect::<Vec<bool>>()
        });
        let wired_any = wired.as_ref().is_some_and(|w| w.contains(&true));
        let mut out = Interventions::none();
        for layer in 0..layers {
            let (keep, replaced_anywhere) = self.head_keep(layer, variants, rows, width);
            // Edge senders need their own replacement, for Δ, in the rows that are wired.
            let senders: Vec<usize> = match self.wiring {
                Some(wiring) if wired_any => wiring
                    .senders
                    .iter()
                    .filter_map(|sender| match sender {
                        EdgeSender::Head(l, h) if *l == layer => Some(*h),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            if !replaced_anywhere && senders.is_empty() {
                out.heads.push(None);
                continue;
            }
            let replaced = self.replaced(layer, rows, width, &keep, heads, d)?;
            let senders = self.sender_replacements(layer, &senders, rows, width)?;
            out.heads.push(Some(HeadPatch {
                keep: Tensor::from_vec(keep, (rows.len(), width, heads), self.device)?,
                replaced: Tensor::from_vec(replaced, (rows.len(), width, d), self.device)?,
                senders,
            }));
        }
        if self.plan.patches_mlps() {
            for layer in 0..layers {
                out.mlps
                    .push(Some(self.mlp_patch(layer, variants, rows, width)?));
            }
        }
        if let (Some(wiring), Some(wired), true) = (self.wiring, wired, wired_any) {
            let table = &self.reference.embeddings;
            let embed = self.gather(rows, width, d, |s, p| table.at(s, p));
            // Sending MLPs need their replacement for Δ, whether or not an `MlpPatch` has it.
            let mut mlp_replacements = BTreeMap::new();
            for sender in &wiring.senders {
                if let EdgeSender::Mlp(layer) = sender {
                    let table = self.reference.mlp(*layer)?;
                    let values = self.gather(rows, width, d, |s, p| table.at(s, p));
                    let values = Tensor::from_vec(values, (rows.len(), width, d), self.device)?;
                    mlp_replacements.insert(*layer, values);
                }
            }
            out.edges = Some(EdgePatch {
                senders: wiring.senders.clone(),
                embed_replacement: Tensor::from_vec(embed, (rows.len(), width, d), self.device)?,
                mlp_replacements,
                receivers: wiring.receivers.clone(),
                mlp_receivers: wiring.mlp_receivers.clone(),
                logits: wiring.logits.clone(),
                rows: mask_tensor(&wired, &[rows.len(), 1, 1], self.device)?,
            });
        }
        Ok(out)
    }

    /// Which heads of `layer` each row keeps at each of its `width` positions (`[rows, width,
    /// heads]`, 1 for kept), and whether any head is replaced at a valid position.
    fn head_keep(
        &self,
        layer: usize,
        variants: &[Variant],
        rows: &[Row],
        width: usize,
    ) -> (Vec<f32>, bool) {
        let heads = self.plan.heads as usize;
        let mut keep = vec![0f32; rows.len() * width * heads];
        let mut replaced_anywhere = false;
        for (r, row) in rows.iter().enumerate() {
            let kept: Vec<Kept> = (0..heads)
                .map(|h| {
                    let head = Head::new(layer as u32, h as u32);
                    self.plan.head(&variants[row.variant], head, row.prompt)
                })
                .collect();
            for i in 0..width {
                let position = row.positions[i];
                let valid = position < self.layouts[row.prompt].len;
                for (h, kept) in kept.iter().enumerate() {
                    if kept.at(position) {
                        keep[(r * width + i) * heads + h] = 1.0;
                    } else if valid {
                        replaced_anywhere = true;
                    }
                }
            }
        }
        (keep, replaced_anywhere)
    }

    /// Each edge sender's own replacement in `layer`, `[rows, width, d]`, for its Δ.
    fn sender_replacements(
        &self,
        layer: usize,
        senders: &[usize],
        rows: &[Row],
        width: usize,
    ) -> Result<BTreeMap<usize, Tensor>> {
        let d = self.reference.embeddings.width;
        senders
            .iter()
            .map(|h| {
                let table = self.reference.head(layer, *h)?;
                let values = self.gather(rows, width, d, |source, position| {
                    table.at(source, position)
                });
                let values = Tensor::from_vec(values, (rows.len(), width, d), self.device)?;
                Ok((*h, values))
            })
            .collect()
    }

    /// Where each row keeps `layer`'s MLP, and its replacement elsewhere.
    fn mlp_patch(
        &self,
        layer: usize,
        variants: &[Variant],
        rows: &[Row],
        width: usize,
    ) -> Result<MlpPatch> {
        let d = self.reference.embeddings.width;
        let mut keep = vec![0f32; rows.len() * width];
        for (r, row) in rows.iter().enumerate() {
            let kept = self
                .plan
                .mlp(&variants[row.variant], layer as u32, row.prompt)
                .unwrap_or(Kept::Everywhere);
            for i in 0..width {
                if kept.at(row.positions[i]) {
                    keep[r * width + i] = 1.0;
                }
            }
        }
        let table = self.reference.mlp(layer)?;
        let replacement = self.gather(rows, width, d, |s, p| table.at(s, p));
        Ok(MlpPatch {
            keep: Tensor::from_vec(keep, (rows.len(), width, 1), self.device)?,
            replacement: Tensor::from_vec(replacement, (rows.len(), width, d), self.device)?,
        })
    }

    /// Σ_h (1 − keep_h)·replacement_h at every valid position of every row: the replaced heads
    /// added up one by one, or (when most are replaced) the sum over all heads minus the kept
    /// ones, whichever adds fewer vectors. The choice depends only on the row's own mask.
    fn replaced(
        &self,
        layer: usize,
        rows: &[Row],
        width: usize,
        keep: &[f32],
        heads: usize,
        d: usize,
    ) -> Result<Vec<f32>> {
        let sums = &self.reference.head_sums[layer];
        let mut out = vec![0f32; rows.len() * width * d];
        for (r, row) in rows.iter().enumerate() {
            let source = self.sources[row.prompt];
            for i in 0..width {
                let position = row.positions[i];
                if position >= self.layouts[row.prompt].len {
                    continue;
                }
                let mask = &keep[(r * width + i) * heads..(r * width + i + 1) * heads];
                let kept = mask.iter().filter(|k| **k == 1.0).count();
                let target = &mut out[(r * width + i) * d..(r * width + i + 1) * d];
                if heads - kept <= kept {
                    for h in (0..heads).filter(|h| mask[*h] == 0.0) {
                        add(
                            target,
                            self.reference.head(layer, h)?.at(source, position),
                            1.0,
                        );
                    }
                } else {
                    target.copy_from_slice(sums.at(source, position));
                    for h in (0..heads).filter(|h| mask[*h] == 1.0) {
                        add(
                            target,
                            self.reference.head(layer, h)?.at(source, position),
                            -1.0,
                        );
                    }
                }
            }
        }
        Ok(out)
    }

    /// `[rows, width, d]` values of a table at every valid position of every row (zero past
    /// a row's prompt).
    fn gather<'t>(
        &self,
        rows: &[Row],
        width: usize,
        d: usize,
        at: impl Fn(usize, usize) -> &'t [f32],
    ) -> Vec<f32> {
        let mut out = vec![0f32; rows.len() * width * d];
        for (r, row) in rows.iter().enumerate() {
            let source = self.sources[row.prompt];
            for i in 0..width {
                let position = row.positions[i];
                if position < self.layouts[row.prompt].len {
                    out[(r * width + i) * d..(r * width + i + 1) * d]
                        .copy_from_slice(at(source, position));
                }
            }
        }
        out
    }
}

fn add(target: &mut [f32], values: &[f32], sign: f32) {
    for (t, v) in target.iter_mut().zip(values) {
        *t += sign * v;
    }
}
