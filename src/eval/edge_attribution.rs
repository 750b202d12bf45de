//! Scores for every edge of the model's graph by attribution, EAP or EAP-IG, as GRAMMAR.md's
//! "What discover scores" defines them: score(s, r) = mean over prompts of
//! Σ_t Δ_s · ∂F/∂x_r, the gradient averaged over the IG path's steps (positive: the edge
//! carries what F needs, as in EAP-IG's and MIB's files).
//!
//! Per chunk of prompts: one plain pass of the model gives every sender's Δ (its output less
//! its replacement from the reference activations), stacked as rows of a matrix D ordered
//! embed, layer 0's heads, MLP 0, layer 1's heads, …, so that the senders a receiver reads
//! are a prefix of D's rows. Each step's gradient pass then gives ∂F/∂x_r of every receiver,
//! and each layer's scores are one product of that prefix with the layer's gradients.

use candle_core::{DType, Device, Tensor};

use crate::dsl::{Channel, Head};
use crate::eval::readout;
use crate::eval::reference::{ReferenceActivations, Table};
use crate::model::error::{ModelError, Result};
use crate::model::{Batch, Capture, Config, Transformer};
use crate::task::{Dataset, Prompt};

/// Token positions per chunk of prompts: bounds the gradient pass's memory and Δ's.
const CHUNK_TOKENS: usize = 512;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// Gradients of the real run.
    Eap,
    /// Gradients averaged over `steps` points α = k / steps, k = 1..=steps, of the path from
    /// the replacement embeddings to the real ones.
    EapIg { steps: usize },
}

impl Method {
    /// The path's points, the real run (α = 1) first: it also gives the senders' outputs.
    fn alphas(self) -> Vec<f64> {
        match self {
            Method::Eap => vec![1.0],
            Method::EapIg { steps } => std::iter::once(1.0)
                .chain((1..steps).map(|k| k as f64 / steps as f64))
                .collect(),
        }
    }
}

/// The edges of the model's graph join the same ends as a circuit's edges.
pub use crate::dsl::{Receiver, Sender};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EdgeScore {
    pub sender: Sender,
    pub receiver: Receiver,
    pub score: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct EdgeScores {
    pub method: Method,
    /// F(M), the task's mean metric on the full model.
    pub value: f64,
    /// Every edge of the graph, receivers by layer (heads' q of every head, then k, v; the
    /// MLP), then the logits; each receiver's senders in stream order.
    pub edges: Vec<EdgeScore>,
}

/// Every sender in stream order: the embeddings, then per layer its heads and its MLP.
pub fn senders(config: &Config) -> Vec<Sender> {
    let mut senders = vec![Sender::Embed];
    for layer in 0..config.n_layer as u32 {
        senders.extend((0..config.n_head as u32).map(|h| Sender::Head(Head::new(layer, h))));
        senders.push(Sender::Mlp(layer));
    }
    senders
}

/// How many of [`senders`] (a prefix) `receiver` reads.
pub fn reach(config: &Config, receiver: Receiver) -> usize {
    let per_layer = config.n_head + 1;
    match receiver {
        Receiver::Head(head, _) => 1 + head.layer as usize * per_layer,
        Receiver::Mlp(layer) if config.parallel_residual => 1 + layer as usize * per_layer,
        Receiver::Mlp(layer) => 1 + layer as usize * per_layer + config.n_head,
        Receiver::Logits => 1 + config.n_layer * per_layer,
    }
}

/// The receivers of `layer` in score order: every head's q, then k, then v; the MLP.
fn layer_receivers(config: &Config, layer: u32) -> Vec<Receiver> {
    let heads = config.n_head as u32;
    [Channel::Q, Channel::K, Channel::V]
        .into_iter()
        .flat_map(|c| (0..heads).map(move |h| Receiver::Head(Head::new(layer, h), c)))
        .chain(std::iter::once(Receiver::Mlp(layer)))
        .collect()
}

/// Scores every edge of `model`'s graph on `dataset`'s prompts, with the replacements of
/// `reference` (computed for this dataset). `on_progress` hears of each gradient pass, with
/// the number of prompts it covered.
pub fn score_edges(
    model: &Transformer,
    dataset: &Dataset,
    reference: &ReferenceActivations,
    method: Method,
    mut on_progress: impl FnMut(usize),
) -> Result<EdgeScores> {
    if let Method::EapIg { steps: 0 } = method {
        return Err(ModelError::Input("EAP-IG needs at least one step".into()));
    }
    if dataset.prompts.is_empty() {
        return Err(ModelError::Input("edge attribution needs prompts".into()));
    }
    let config = model.config();
    let layers = config.n_layer;
    let mut sums = Sums {
        layers: (0..layers as u32)
            .map(|l| {
                let receivers = layer_receivers(config, l);
                vec![0f64; reach(config, Receiver::Mlp(l)) * receivers.len()]
            })
            .collect(),
        logits: vec![0f64; reach(config, Receiver::Logits)],
        value: 0.0,
    };
    for chunk in chunks(&dataset.prompts) {
        let prompts: Vec<&Prompt> = chunk.iter().map(|i| &dataset.prompts[*i]).collect();
        let sources: Vec<usize> = chunk
            .iter()
            .map(|i| reference.source_of_prompt[*i])
            .collect();
        let mut chunk_run = Chunk::new(model, dataset, reference, &prompts, &sources)?;
        for alpha in method.alphas() {
            chunk_run.step(alpha, &mut sums)?;
            on_progress(prompts.len());
        }
    }
    let steps = method.alphas().len() as f64;
    let n = dataset.prompts.len() as f64;
    let all = senders(config);
    let mut edges = Vec::new();
    for layer in 0..layers as u32 {
        let receivers = layer_receivers(config, layer);
        let width = receivers.len();
        for (j, receiver) in receivers.iter().enumerate() {
            for (i, sender) in all.iter().enumerate().take(reach(config, *receiver)) {
                edges.push(EdgeScore {
                    sender: *sender,
                    receiver: *receiver,
                    score: sums.layers[layer as usize][i * width + j] / (n * steps),
                });
            }
        }
    }
    for (sender, sum) in all.iter().zip(&sums.logits) {
        edges.push(EdgeScore {
            sender: *sender,
            receiver: Receiver::Logits,
            score: sum / (n * steps),
        });
    }
    Ok(EdgeScores {
        method,
        value: sums.value / n,
        edges,
    })
}

/// Σ over prompts and steps of Δ_s · ∂F/∂x_r: per layer `[reach of its MLP, receivers]`
/// row-major (head receivers read a prefix of those rows), and the logits'.
struct Sums {
    layers: Vec<Vec<f64>>,
    logits: Vec<f64>,
    /// F at α = 1, summed over prompts.
    value: f64,
}

/// Consecutive prompts, as many as fit in [`CHUNK_TOKENS`] positions padded to the longest.
fn chunks(prompts: &[Prompt]) -> Vec<Vec<usize>> {
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut longest = 0;
    for (i, prompt) in prompts.iter().enumerate() {
        let len = prompt.tokens.len();
        let fits = chunks
            .last()
            .is_some_and(|c| (c.len() + 1) * longest.max(len) <= CHUNK_TOKENS);
        if fits {
            longest = longest.max(len);
            chunks.last_mut().expect("a chunk").push(i);
        } else {
            longest = len;
            chunks.push(vec![i]);
        }
    }
    chunks
}

/// One chunk of prompts: its batch, its readout, and (after the real run) its senders' Δs.
struct Chunk<'a> {
    model: &'a Transformer,
    batch: Batch,
    readout: crate::model::Readout,
    objective: crate::model::Objective,
    embeddings: Tensor,
    /// Δ of the embeddings (0 past each prompt's end).
    embed_delta: Tensor,
    /// `[senders, rows·seq·d]`, after the real run.
    deltas: Option<Tensor>,
    /// `[rows, seq, 1]`: 1 inside each prompt.
    inside: Tensor,
    reference: &'a ReferenceActivations,
    sources: &'a [usize],
    lengths: Vec<usize>,
}

impl<'a> Chunk<'a> {
    fn new(
        model: &'a Transformer,
        dataset: &Dataset,
        reference: &'a ReferenceActivations,
        prompts: &[&Prompt],
        sources: &'a [usize],
    ) -> Result<Self> {
        let device = model.device();
        let lengths: Vec<usize> = prompts.iter().map(|p| p.tokens.len()).collect();
        let seq = lengths.iter().copied().max().unwrap_or(1);
        if seq > reference.seq() {
            return Err(ModelError::Input(
                "the reference activations are shorter than the prompts".into(),
            ));
        }
        let tokens: Vec<Vec<u32>> = prompts.iter().map(|p| p.tokens.clone()).collect();
        let batch = Batch::new(&tokens, device)?;
        let ends: Vec<(&Prompt, usize)> = prompts.iter().map(|p| (*p, p.end())).collect();
        let readout = readout::readout(dataset.metric, &ends, device)?;
        let objective = readout::objective(dataset, prompts, model.config().vocab_size, device)?;
        let inside: Vec<f32> = lengths
            .iter()
            .flat_map(|len| (0..seq).map(move |t| if t < *len { 1.0 } else { 0.0 }))
            .collect();
        let inside = Tensor::from_vec(inside, (prompts.len(), seq, 1), device)?;
        let embeddings = model.embed(&batch)?;
        let replaced = replacement(&[&reference.embeddings], sources, seq, device)?.squeeze(0)?;
        let embed_delta = (&embeddings - replaced)?.broadcast_mul(&inside)?;
        Ok(Self {
            model,
            batch,
            readout,
            objective,
            embeddings,
            embed_delta,
            deltas: None,
            inside,
            reference,
            sources,
            lengths,
        })
    }

    /// One gradient pass at α, its products with the senders' Δs added to `sums`.
    fn step(&mut self, alpha: f64, sums: &mut Sums) -> Result<()> {
        let model = self.model;
        let config = model.config();
        let real = alpha == 1.0;
        let embeddings = if real {
            self.embeddings.clone()
        } else {
            (&self.embeddings - (&self.embed_delta * (1.0 - alpha))?)?
        };
        let capture = Capture {
            head_results: real,
            mlp_outputs: real,
            ..Default::default()
        };
        let gradients = model.edge_gradients(
            &self.batch,
            Some(embeddings),
            capture,
            &self.readout,
            &self.objective,
        )?;
        if real {
            sums.value += gradients.value;
            self.deltas = Some(self.sender_deltas(&gradients.output)?);
        }
        let deltas = self
            .deltas
            .as_ref()
            .ok_or_else(|| ModelError::Internal("Δs before the real run".into()))?;
        let flat = |g: &Tensor, rows: usize| -> Result<Tensor> { Ok(g.reshape((rows, ()))?) };
        for layer in 0..config.n_layer {
            let mlp_reach = reach(config, Receiver::Mlp(layer as u32));
            let head_reach = reach(
                config,
                Receiver::Head(Head::new(layer as u32, 0), Channel::Q),
            );
            let heads = flat(
                &model.head_input_gradients(&gradients, layer)?,
                3 * config.n_head,
            )?;
            let mlp = flat(&gradients.mlps[layer], 1)?;
            let head_scores = deltas.narrow(0, 0, head_reach)?.matmul(&heads.t()?)?;
            let mlp_scores = deltas.narrow(0, 0, mlp_reach)?.matmul(&mlp.t()?)?;
            let width = 3 * config.n_head + 1;
            let sums = &mut sums.layers[layer];
            for (i, row) in to_rows(&head_scores)?.iter().enumerate() {
                for (j, v) in row.iter().enumerate() {
                    sums[i * width + j] += *v as f64;
                }
            }
            for (i, row) in to_rows(&mlp_scores)?.iter().enumerate() {
                sums[i * width + width - 1] += row[0] as f64;
            }
        }
        let logits = deltas.matmul(&flat(&gradients.logits, 1)?.t()?)?;
        for (sum, row) in sums.logits.iter_mut().zip(to_rows(&logits)?) {
            *sum += row[0] as f64;
        }
        Ok(())
    }

    /// Every sender's Δ on the real run, `[senders, rows·seq·d]` in [`senders`]' order.
    fn sender_deltas(&self, output: &crate::model::Output) -> Result<Tensor> {
        let device = self.model.device();
        let config = self.model.config();
        let (rows, seq, d) = self.embed_delta.dims3()?;
        let heads = config.n_head;
        let inside = self.inside.unsqueeze(0)?;
        let mut parts = vec![self.embed_delta.reshape((1, rows * seq * d))?];
        for layer in 0..config.n_layer {
            let results = output
                .head_results
                .get(layer)
                .ok_or_else(|| ModelError::Internal("no head results captured".into()))?
                .permute((2, 0, 1, 3))?;
            let tables = (0..heads)
                .map(|h| self.reference.head(layer, h))
                .collect::<Result<Vec<_>>>()?;
            let replaced = replacement(&tables, self.sources, seq, device)?;
            let delta = (results - replaced)?.broadcast_mul(&inside)?;
            parts.push(delta.reshape((heads, rows * seq * d))?);
            let mlp = output
                .mlp_outputs
                .get(layer)
                .ok_or_else(|| ModelError::Internal("no MLP outputs captured".into()))?;
            let replaced = replacement(&[&self.reference.mlps[layer]], self.sources, seq, device)?;
            let delta = (mlp.unsqueeze(0)? - replaced)?.broadcast_mul(&inside)?;
            parts.push(delta.reshape((1, rows * seq * d))?);
        }
        debug_assert_eq!(self.lengths.len(), rows);
        Ok(Tensor::cat(&parts, 0)?.to_dtype(DType::F32)?)
    }
}

/// The replacements each of `tables` gives each row's source at positions 0..seq, as
/// `[tables, rows, seq, width]`.
fn replacement(
    tables: &[&Table],
    sources: &[usize],
    seq: usize,
    device: &Device,
) -> Result<Tensor> {
    let width = tables.first().map_or(0, |t| t.width);
    let mut values = Vec::with_capacity(tables.len() * sources.len() * seq * width);
    for table in tables {
        for source in sources {
            for t in 0..seq {
                values.extend_from_slice(table.at(*source, t));
            }
        }
    }
    Ok(Tensor::from_vec(
        values,
        (tables.len(), sources.len(), seq, width),
        device,
    )?)
}

fn to_rows(t: &Tensor) -> Result<Vec<Vec<f32>>> {
    Ok(t.to_vec2()?)
}
