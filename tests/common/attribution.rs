//! An independent evaluator of discover's edge scores, written from GRAMMAR.md's "What
//! discover scores" over the f64 reference, sharing no code with `circuitcheck::eval`: a
//! score is dF_{s→r}/dε at ε = 0, F_{s→r}(ε) being F when receiver r reads x_r − ε·Δ_s,
//! taken by central differences; EAP-IG's averages it over the path's points, where the
//! model runs from the embeddings e' + α·Δ_embed.
//!
//! Removing part of one edge is an edge-level patch of the reference: r is unconnected from
//! s alone, and s's "replacement" is its output on the run less ε·Δ_s, so r sees
//! x_r − ε·Δ_s exactly. The reference wires head inputs and the logits; an MLP as sender or
//! receiver is reached through [`Attribution::sender_total`]: shifting s's output for
//! every reader at once changes F by the sum of its edges' scores, to first order.

#![allow(clippy::needless_range_loop, dead_code)]

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use circuitcheck::task::Dataset;

use super::evaluator::{Replacement, Scheme, metric, replacements};
use super::reference::{Matrix, RefOutput, RefPatch, Reference, Sender};

/// What writes to the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Writer {
    Embed,
    Head(usize, usize),
    Mlp(usize),
}

/// What reads it: a head's channel (0 = q, 1 = k, 2 = v), an MLP, or the logits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reader {
    Head(usize, usize, usize),
    Mlp(usize),
    Logits,
}

/// The step of the central differences: small against Δ, large against f64 rounding.
const H: f64 = 1e-4;

pub struct Attribution<'a> {
    model: &'a Reference,
    dataset: &'a Dataset,
    replacements: Vec<Replacement>,
    /// Each prompt's unpatched run.
    real: Vec<RefOutput>,
    /// Each prompt's unpatched run at a point of the path, by (prompt, α's bits).
    on_path: RefCell<HashMap<(usize, u64), Rc<RefOutput>>>,
}

impl<'a> Attribution<'a> {
    pub fn new(model: &'a Reference, dataset: &'a Dataset, scheme: &Scheme) -> Self {
        let real = dataset
            .prompts
            .iter()
            .map(|p| model.run_at(&p.tokens, &RefPatch::default(), &[]))
            .collect();
        Self {
            model,
            dataset,
            replacements: replacements(model, dataset, scheme),
            real,
            on_path: RefCell::default(),
        }
    }

    /// Prompt `i`'s unpatched run from the path's embeddings at α.
    fn run_on_path(&self, i: usize, alpha: f64) -> Rc<RefOutput> {
        let key = (i, alpha.to_bits());
        if let Some(out) = self.on_path.borrow().get(&key) {
            return out.clone();
        }
        let patch = RefPatch {
            embeddings: Some(self.path(i, alpha)),
            ..RefPatch::default()
        };
        let out = Rc::new(
            self.model
                .run_at(&self.dataset.prompts[i].tokens, &patch, &[]),
        );
        self.on_path.borrow_mut().insert(key, out.clone());
        out
    }

    /// Δ_s of prompt `i`: its real output less its replacement, `[t][d]`.
    pub fn delta(&self, i: usize, s: Writer) -> Matrix {
        let (real, replacement) = (&self.real[i], &self.replacements[i]);
        let (a, b) = match s {
            Writer::Embed => (&real.embeddings, &replacement.embed),
            Writer::Head(l, h) => (&real.results[l][h], &replacement.heads[l][h]),
            Writer::Mlp(l) => (&real.mlps[l], &replacement.mlps[l]),
        };
        a.iter()
            .zip(b)
            .map(|(x, y)| x.iter().zip(y).map(|(u, v)| u - v).collect())
            .collect()
    }

    /// The path's embeddings at α: e' + α·Δ_embed.
    fn path(&self, i: usize, alpha: f64) -> Matrix {
        let replacement = &self.replacements[i].embed;
        let delta = self.delta(i, Writer::Embed);
        replacement
            .iter()
            .zip(&delta)
            .map(|(e, d)| e.iter().zip(d).map(|(a, b)| a + alpha * b).collect())
            .collect()
    }

    /// `m` less ε·`delta`.
    fn shifted(m: &Matrix, delta: &Matrix, eps: f64) -> Matrix {
        m.iter()
            .zip(delta)
            .map(|(x, d)| x.iter().zip(d).map(|(a, b)| a - eps * b).collect())
            .collect()
    }

    fn metric_of(&self, i: usize, patch: &RefPatch) -> f64 {
        let prompt = &self.dataset.prompts[i];
        let end = prompt.positions["END"];
        let out = self.model.run_at(&prompt.tokens, patch, &[end]);
        metric(self.dataset.metric, &out.logits[end], prompt)
    }

    /// Prompt `i`'s metric at path point α with `r` reading x_r − ε·Δ_s.
    pub fn edge_metric(&self, i: usize, alpha: f64, s: Writer, r: Reader, eps: f64) -> f64 {
        let embeddings = self.path(i, alpha);
        let on_path = self.run_on_path(i, alpha);
        let delta = self.delta(i, s);
        let mut patch = RefPatch {
            embeddings: Some(embeddings.clone()),
            embed_replacement: embeddings.clone(),
            ..RefPatch::default()
        };
        let sender: Sender = match s {
            Writer::Embed => {
                patch.embed_replacement = Self::shifted(&embeddings, &delta, eps);
                Sender::Embed
            }
            Writer::Head(l, h) => {
                let shifted = Self::shifted(&on_path.results[l][h], &delta, eps);
                for (t, row) in shifted.into_iter().enumerate() {
                    patch.sender_replacement.insert((l, h, t), row);
                }
                Sender::Head(l, h)
            }
            Writer::Mlp(l) => {
                let shifted = Self::shifted(&on_path.mlps[l], &delta, eps);
                patch.mlp_replacement.insert(l, shifted);
                Sender::Mlp(l)
            }
        };
        match r {
            Reader::Head(l, h, c) => {
                patch.unconnected.insert((l, h, c), vec![sender]);
            }
            Reader::Mlp(l) => {
                patch.mlp_unconnected.insert(l, vec![sender]);
            }
            Reader::Logits => patch.logits_unconnected = vec![sender],
        }
        self.metric_of(i, &patch)
    }

    /// Prompt `i`'s metric at α with s's output less ε·Δ_s for every reader.
    pub fn node_metric(&self, i: usize, alpha: f64, s: Writer, eps: f64) -> f64 {
        let embeddings = self.path(i, alpha);
        let mut patch = RefPatch {
            embeddings: Some(embeddings.clone()),
            ..RefPatch::default()
        };
        let on_path = self.run_on_path(i, alpha);
        let delta = self.delta(i, s);
        match s {
            Writer::Embed => patch.embeddings = Some(Self::shifted(&embeddings, &delta, eps)),
            Writer::Head(l, h) => {
                let shifted = Self::shifted(&on_path.results[l][h], &delta, eps);
                for (t, row) in shifted.into_iter().enumerate() {
                    patch.heads.insert((l, h, t), row);
                }
            }
            Writer::Mlp(l) => {
                let shifted = Self::shifted(&on_path.mlps[l], &delta, eps);
                for (t, row) in shifted.into_iter().enumerate() {
                    patch.mlps.insert((l, t), row);
                }
            }
        }
        self.metric_of(i, &patch)
    }

    fn mean(&self, f: impl Fn(usize) -> f64) -> f64 {
        let n = self.dataset.prompts.len();
        (0..n).map(f).sum::<f64>() / n as f64
    }

    /// The path's points for `steps` (1: EAP, the real run alone).
    fn alphas(steps: usize) -> Vec<f64> {
        (1..=steps).map(|k| k as f64 / steps as f64).collect()
    }

    /// EAP-IG's score of edge s → r with `steps` steps (EAP with 1).
    pub fn edge_score(&self, s: Writer, r: Reader, steps: usize) -> f64 {
        let alphas = Self::alphas(steps);
        alphas
            .iter()
            .map(|alpha| {
                self.mean(|i| {
                    (self.edge_metric(i, *alpha, s, r, -H) - self.edge_metric(i, *alpha, s, r, H))
                        / (2.0 * H)
                })
            })
            .sum::<f64>()
            / alphas.len() as f64
    }

    /// The sum of the scores of every edge s sends, with `steps` steps.
    pub fn sender_total(&self, s: Writer, steps: usize) -> f64 {
        let alphas = Self::alphas(steps);
        alphas
            .iter()
            .map(|alpha| {
                self.mean(|i| {
                    (self.node_metric(i, *alpha, s, -H) - self.node_metric(i, *alpha, s, H))
                        / (2.0 * H)
                })
            })
            .sum::<f64>()
            / alphas.len() as f64
    }

    /// F(M) less F with edge s → r removed (what the edge contributes): what EAP's score
    /// estimates.
    pub fn removal(&self, s: Writer, r: Reader) -> f64 {
        self.mean(|i| self.edge_metric(i, 1.0, s, r, 0.0) - self.edge_metric(i, 1.0, s, r, 1.0))
    }

    /// F(M), the mean metric of the unmodified model.
    pub fn value(&self) -> f64 {
        self.mean(|i| self.metric_of(i, &RefPatch::default()))
    }
}
