//! The transformer every family runs as, written for interventions: pre-norm blocks
//! (attention and MLP in sequence, or in parallel as GPT-NeoX's), where every head's result,
//! every MLP output and every head's q/k/v input can be replaced per row and position (see
//! `intervention`). What differs between families (norms, MLPs, position embeddings, how the
//! checkpoint names and lays out its weights) is in `gpt2`, `neox` and `llama`, each loading
//! a checkpoint into the `Weights` below.

use candle_core::{D, DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;

use crate::model::config::{Config, Family};
use crate::model::error::{ModelError, Result};
use crate::model::intervention::*;
use crate::model::layers::{Angles, Mlp, Norm};
use crate::model::locate::ModelFiles;
use crate::model::{gemma2, gpt2, llama, neox, weights};

mod edge_gradients;
pub use edge_gradients::EdgeGradients;

/// One block in the common layout every family loads into.
pub struct Block {
    /// This block's index in the stack.
    pub layer: usize,
    pub ln_1: Norm,
    /// `[d_model, 3·n_head·d_head]` (input-major), columns q | k | v, head-major inside; with
    /// grouped-query attention each query head has its key/value head's columns (see
    /// GRAMMAR.md: each receiving query head computes its own key and value).
    pub c_attn_w: Tensor,
    pub c_attn_b: Tensor,
    /// `[n_head·d_head, d_model]`: rows are the heads' z components, head-major.
    pub c_proj_w: Tensor,
    pub c_proj_b: Tensor,
    pub ln_2: Norm,
    pub mlp: Mlp,
    /// Gemma-2's norms of the attention block's and the MLP's outputs, before each is added
    /// to the stream; a head's result and its replacement are the attention's before it.
    pub post_norms: Option<(Norm, Norm)>,
}

/// A checkpoint in the common layout.
pub struct Weights {
    pub token_embedding: Tensor,
    /// Learned position embeddings (GPT-2); rotary families have none.
    pub position_embedding: Option<Tensor>,
    pub blocks: Vec<Block>,
    pub final_norm: Norm,
    /// `[vocab, d_model]`: the token embedding when tied.
    pub unembed: Tensor,
}

pub struct Transformer {
    config: Config,
    weights: Weights,
    device: Device,
    /// Training needs gradients through every op; inference takes the fused kernels.
    differentiable: bool,
}

impl Transformer {
    /// Loads the weights in `files` (validated against the config) onto `device`.
    pub fn load(files: &ModelFiles, device: &Device) -> Result<Self> {
        let config = match &files.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ModelError::Config {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                serde_json::from_str(&text).map_err(|e| ModelError::Config {
                    path: path.clone(),
                    reason: e.to_string(),
                })?
            }
            None => Config::gpt2_small(),
        };
        let vb = weights::load(files, &config, device)?;
        Self::new(vb, config)
    }

    /// Builds the model from tensors named as in a Hugging Face checkpoint of its family.
    pub fn new(vb: VarBuilder, config: Config) -> Result<Self> {
        Self::build(vb, config, false)
    }

    /// A model whose every operation has a gradient, for training (slower).
    pub fn trainable(vb: VarBuilder, config: Config) -> Result<Self> {
        Self::build(vb, config, true)
    }

    fn build(vb: VarBuilder, config: Config, differentiable: bool) -> Result<Self> {
        let weights = match config.family {
            Family::Gpt2 => gpt2::load(&vb, &config)?,
            Family::NeoX => neox::load(&vb, &config)?,
            Family::Llama | Family::Qwen2 => llama::load(&vb, &config)?,
            Family::Gemma2 => gemma2::load(&vb, &config)?,
        };
        Ok(Self {
            weights,
            device: vb.device().clone(),
            config,
            differentiable,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The embeddings the first block reads, `[rows, seq, d_model]`: token plus position
    /// embeddings, or the token embeddings alone where positions are rotary.
    pub fn embed(&self, batch: &Batch) -> Result<Tensor> {
        let seq = batch.seq();
        if seq > self.config.n_positions {
            return Err(ModelError::Input(format!(
                "sequences of {seq} tokens exceed the context of {}",
                self.config.n_positions
            )));
        }
        let (rows, d) = (batch.rows(), self.config.n_embd);
        let ids = batch.tokens.flatten_all()?;
        let max_id = ids.max(0)?.to_scalar::<u32>()? as usize;
        if max_id >= self.config.vocab_size {
            return Err(ModelError::Input(format!(
                "token id {max_id} is outside the vocabulary of {}",
                self.config.vocab_size
            )));
        }
        let tokens = self
            .weights
            .token_embedding
            .index_select(&ids, 0)?
            .reshape((rows, seq, d))?;
        if let Some(gemma) = &self.config.gemma
            && seq > gemma.sliding_window
        {
            return Err(ModelError::Input(format!(
                "sequences of {seq} tokens exceed Gemma-2's sliding window of {}",
                gemma.sliding_window
            )));
        }
        Ok(match &self.weights.position_embedding {
            Some(positions) => tokens.broadcast_add(&positions.narrow(0, 0, seq)?)?,
            // Gemma scales its embeddings by √d_model.
            None if self.config.gemma.is_some() => (tokens * (d as f64).sqrt())?,
            None => tokens,
        })
    }

    /// A full pass from the embeddings.
    pub fn forward(
        &self,
        batch: &Batch,
        interventions: &Interventions,
        capture: Capture,
        readout: &Readout,
    ) -> Result<Output> {
        let embeddings = self.embed(batch)?;
        let mask = causal_mask(batch.seq(), &self.device)?;
        let pass = Pass {
            differentiable: self.differentiable,
            start: 0,
            end: self.config.n_layer,
            embeddings: Some(embeddings.clone()),
            mask,
            angles: self.angles(batch.rows(), batch.seq())?,
            window: None,
            probes: Vec::new(),
            receivers: None,
            interventions,
            capture,
        };
        self.run(&pass, embeddings, readout)
    }

    /// A pass that starts at `layer` from a residual stream captured earlier (with the same
    /// interventions on the layers before it). Edge-level patches need the embeddings, so
    /// they start from layer 0.
    pub fn forward_from(
        &self,
        layer: usize,
        residual: Tensor,
        interventions: &Interventions,
        capture: Capture,
        readout: &Readout,
    ) -> Result<Output> {
        if interventions.edges.is_some() && layer > 0 {
            return Err(ModelError::Input(
                "edge-level passes start at layer 0".into(),
            ));
        }
        let (rows, seq, _) = residual.dims3()?;
        let pass = Pass {
            differentiable: self.differentiable,
            start: layer,
            end: self.config.n_layer,
            embeddings: None,
            mask: causal_mask(seq, &self.device)?,
            angles: self.angles(rows, seq)?,
            window: None,
            probes: Vec::new(),
            receivers: None,
            interventions,
            capture,
        };
        self.run(&pass, residual, readout)
    }

    /// A pass over some positions of each row (see [`Window`]), from `layer` on, with
    /// `residual` the stream entering that layer at the window's positions,
    /// `[rows, width, d_model]`. Interventions, the readout positions and captured residuals
    /// are the window's columns; captured keys and values cover every position. Node level
    /// only: edge-level patches need every position.
    pub fn forward_window(
        &self,
        layer: usize,
        residual: Tensor,
        window: &Window,
        interventions: &Interventions,
        capture: Capture,
        readout: &Readout,
    ) -> Result<Output> {
        if interventions.edges.is_some() {
            return Err(ModelError::Input(
                "edge-level passes compute every position".into(),
            ));
        }
        let (rows, width, _) = residual.dims3()?;
        if window.positions.len() != rows
            || window.base_rows.len() != rows
            || window.joins.len() != rows
            || window.positions.iter().any(|p| p.len() != width)
        {
            return Err(ModelError::Input(
                "a window needs a base row, a first layer and a position per column for each row"
                    .into(),
            ));
        }
        if window.joins.first() != Some(&layer) || !window.joins.is_sorted() {
            return Err(ModelError::Input(
                "a window's rows join in order, the first at the pass's first layer".into(),
            ));
        }
        let seq = window
            .base
            .layers
            .iter()
            .flatten()
            .map(|(_, keys, _)| keys.dim(1))
            .next()
            .transpose()?
            .unwrap_or(width);
        // Rows join at their own first layer: each span of layers runs over the rows that
        // have joined, and hands its stream on with the next rows' appended.
        let mut starts: Vec<usize> = window.joins.to_vec();
        starts.dedup();
        if starts.len() > 1 && (capture.residuals || capture.key_values || capture.head_results) {
            return Err(ModelError::Input(
                "a window whose rows join at different layers captures nothing".into(),
            ));
        }
        let mut x: Option<Tensor> = None;
        for (span, start) in starts.iter().enumerate() {
            let end = starts.get(span + 1).copied().unwrap_or(self.config.n_layer);
            let joined = window.joins.partition_point(|j| j <= start);
            let before = x.as_ref().map_or(Ok(0), |x| x.dim(0))?;
            let arriving = residual.narrow(0, before, joined - before)?;
            let stream = match x.take() {
                Some(x) => Tensor::cat(&[x, arriving], 0)?,
                None => arriving,
            };
            let positions = &window.positions[..joined];
            let own = Window {
                positions,
                base_rows: &window.base_rows[..joined],
                joins: &window.joins[..joined],
                base: window.base,
            };
            let last = end == self.config.n_layer;
            let narrowed;
            let interventions = if joined == rows {
                interventions
            } else {
                narrowed = interventions.first_rows(joined)?;
                &narrowed
            };
            let pass = Pass {
                differentiable: self.differentiable,
                start: *start,
                end,
                embeddings: None,
                mask: window_mask(positions, width, seq, &self.device)?,
                angles: self.angles_at(positions)?,
                window: Some(&own),
                probes: Vec::new(),
                receivers: None,
                interventions,
                capture: if last {
                    capture
                } else {
                    Capture {
                        residuals: true,
                        ..Default::default()
                    }
                },
            };
            let mut output =
                self.run(&pass, stream, if last { readout } else { &Readout::None })?;
            if last {
                return Ok(output);
            }
            x = output.residuals.pop();
        }
        Err(ModelError::Internal("a window pass ran no layer".into()))
    }

    /// The rotary angles of a pass whose rows hold the positions 0 to `seq`; `None` for
    /// families with learned positions.
    fn angles(&self, rows: usize, seq: usize) -> Result<Option<Angles>> {
        self.angles_at(&vec![(0..seq).collect(); rows])
    }

    /// The rotary angles of a pass whose row r holds the positions `positions[r]`.
    fn angles_at(&self, positions: &[Vec<usize>]) -> Result<Option<Angles>> {
        let Some(rotary) = &self.config.rotary else {
            return Ok(None);
        };
        Ok(Some(Angles::new(rotary, positions, &self.device)?))
    }

    /// W_O of `layer`, `[heads · d_head, d_model]`: head h's result is its z times rows
    /// h·d_head to (h + 1)·d_head (the output bias is added once per layer, not per head).
    pub fn head_output_weights(&self, layer: usize) -> Result<Tensor> {
        let block = self
            .weights
            .blocks
            .get(layer)
            .ok_or_else(|| ModelError::Input(format!("the model has no layer {layer}")))?;
        Ok(block.c_proj_w.clone())
    }

    /// First-order attribution for a pass: runs it with every operation differentiable and
    /// returns F (`objective` of the readout, averaged over rows), ∂F/∂(each layer's attention
    /// output) and every head's result. Knocking out head h of layer l, which writes r
    /// somewhere and would write its replacement r' instead, then changes F by about
    /// Σ (r' − r)·∂F/∂out_l over those positions.
    pub fn attribution(
        &self,
        batch: &Batch,
        interventions: &Interventions,
        readout: &Readout,
        objective: &Objective,
    ) -> Result<Attribution> {
        let embeddings = self.embed(batch)?;
        let (rows, seq, d) = embeddings.dims3()?;
        let probes = (0..self.config.n_layer)
            .map(|_| candle_core::Var::zeros((rows, seq, d), DType::F32, &self.device))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let pass = Pass {
            differentiable: true,
            start: 0,
            end: self.config.n_layer,
            embeddings: Some(embeddings.clone()),
            mask: causal_mask(seq, &self.device)?,
            angles: self.angles(rows, seq)?,
            window: None,
            probes: probes.iter().map(|p| p.as_tensor().clone()).collect(),
            receivers: None,
            interventions,
            capture: Capture {
                head_results: true,
                ..Default::default()
            },
        };
        let output = self.run(&pass, embeddings, readout)?;
        let logits = output
            .logits
            .ok_or_else(|| ModelError::Input("attribution needs a readout".into()))?;
        let value = (objective.total(&logits)? / rows as f64)?;
        let grads = value.backward()?;
        let gradients = probes
            .iter()
            .map(|p| {
                grads.get(p.as_tensor()).cloned().map_or_else(
                    || Ok(Tensor::zeros((rows, seq, d), DType::F32, &self.device)?),
                    Ok,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Attribution {
            value: value.to_scalar::<f32>()? as f64,
            gradients,
            results: output.head_results.iter().map(Tensor::detach).collect(),
        })
    }

    fn run(&self, pass: &Pass, mut x: Tensor, readout: &Readout) -> Result<Output> {
        let (interventions, capture) = (pass.interventions, pass.capture);
        let mut output = Output::default();
        if capture.residuals || capture.embeddings {
            output.embeddings = pass.embeddings.clone();
        }
        if interventions.edges.is_some() && self.config.gemma.is_some() {
            // A head's share of a normed sum is not a difference it adds to the stream.
            return Err(ModelError::Input(
                "edge level is not defined for Gemma-2, whose attention output is normed \
                 before it joins the stream; use --level node"
                    .into(),
            ));
        }
        // Δ of every edge sender: the embeddings first, then the heads and MLPs, filled in as
        // the pass reaches them.
        let mut deltas: Vec<Option<Tensor>> = Vec::new();
        if let Some(edges) = &interventions.edges {
            let embeddings = pass
                .embeddings
                .as_ref()
                .ok_or_else(|| ModelError::Input("edge-level passes need the embeddings".into()))?;
            deltas.push(Some(
                embeddings
                    .sub(&edges.embed_replacement)?
                    .broadcast_mul(&edges.rows)?,
            ));
            deltas.extend(edges.senders.iter().map(|_| None));
        }
        let (rows, seq, _) = x.dims3()?;
        let readout_queries = self.readout_queries(pass, readout, rows, seq)?;
        let mut narrowed = false;
        for block in self.weights.blocks[..pass.end].iter().skip(pass.start) {
            let layer = block.layer;
            if capture.residuals {
                output.residuals.push(x.clone());
            }
            let queries = readout_queries
                .as_ref()
                .filter(|_| layer + 1 == self.config.n_layer);
            let attention = self.attention(block, &x, pass, &mut deltas, queries)?;
            if let Some(queries) = queries {
                x = at_columns(&x, &queries.columns)?;
                narrowed = true;
            }
            if let Some(results) = attention.results {
                output.head_results.push(results);
            }
            if let Some(z) = attention.z {
                output.head_z.push(z);
            }
            if let Some(pattern) = attention.pattern {
                output.patterns.push(pattern);
            }
            if capture.key_values {
                output.key_values.layers.push(attention.key_values);
            }
            let mut attention_out = attention.out;
            if let Some(probe) = pass.probes.get(layer) {
                attention_out = (attention_out + probe)?;
            }
            if let Some((after_attention, _)) = &block.post_norms {
                attention_out = after_attention.forward(&attention_out, pass.differentiable)?;
            }
            // In parallel the MLP reads the block's input; in sequence, the stream after
            // attention.
            let mlp_input = if self.config.parallel_residual {
                let input = x.clone();
                x = (x + attention_out)?;
                input
            } else {
                x = (x + attention_out)?;
                x.clone()
            };
            let mlp_input = match &interventions.edges {
                Some(edges) => self.mlp_stream(layer, mlp_input, &deltas, edges)?,
                None => mlp_input,
            };
            let mlp_input = match pass.receivers {
                Some(probes) => (mlp_input + &probes.mlps[layer])?,
                None => mlp_input,
            };
            let normed = block.ln_2.forward(&mlp_input, pass.differentiable)?;
            let mut mlp_out = block.mlp.forward(&normed, pass.differentiable)?;
            if let Some((_, after_mlp)) = &block.post_norms {
                mlp_out = after_mlp.forward(&mlp_out, pass.differentiable)?;
            }
            if capture.mlp_outputs {
                output.mlp_outputs.push(mlp_out.clone());
            }
            if let Some(patch) = interventions.mlp(layer) {
                let narrowed;
                let patch = match queries {
                    Some(queries) => {
                        narrowed = patch.at_columns(&queries.columns)?;
                        &narrowed
                    }
                    None => patch,
                };
                mlp_out = blend(&mlp_out, &patch.keep, &patch.replacement)?;
            }
            if let Some(edges) = &interventions.edges
                && let Some(slot) = edges.slot(EdgeSender::Mlp(layer))
            {
                let replacement = edges.mlp_replacements.get(&layer).ok_or_else(|| {
                    ModelError::Input(format!("edge sender mlp.{layer} needs its replacement"))
                })?;
                let narrowed;
                let replacement = match queries {
                    Some(queries) => {
                        narrowed = at_columns(replacement, &queries.columns)?;
                        &narrowed
                    }
                    None => replacement,
                };
                deltas[slot] = Some(mlp_out.sub(replacement)?.broadcast_mul(&edges.rows)?);
            }
            x = (x + mlp_out)?;
        }
        if capture.residuals {
            output.residuals.push(x.clone());
        }
        if let Some(edges) = &interventions.edges {
            x = subtract_unconnected(&x, &deltas, &edges.logits)?;
        }
        if let Some(probes) = pass.receivers {
            x = (x + &probes.logits)?;
        }
        // A narrowed last layer leaves one column per row: the readout's.
        let at_first = vec![0; rows];
        let readout = match readout {
            Readout::Tokens { tokens, .. } if narrowed => Readout::Tokens {
                positions: at_first,
                tokens: tokens.clone(),
            },
            Readout::Full { .. } if narrowed => Readout::Full {
                positions: at_first,
            },
            readout => readout.clone(),
        };
        let (rows, seq, _) = x.dims3()?;
        output.logits = self.readout(&x, rows, seq, &readout, pass.differentiable)?;
        Ok(output)
    }

    /// The queries of the last layer, where only the readout's need computing: the stream
    /// after the last layer is read at the readout's column of each row and nowhere else,
    /// unless the pass captures per-position outputs of that layer or records gradients.
    /// (Keys and values, made from the layer's input, cover every position.)
    fn readout_queries(
        &self,
        pass: &Pass,
        readout: &Readout,
        rows: usize,
        seq: usize,
    ) -> Result<Option<Queries>> {
        let capture = pass.capture;
        let plain = !pass.differentiable
            && pass.probes.is_empty()
            && pass.receivers.is_none()
            && pass.end == self.config.n_layer
            && !(capture.head_results || capture.head_z || capture.patterns || capture.mlp_outputs);
        let columns = match readout {
            Readout::Tokens { positions, .. } | Readout::Full { positions } => positions,
            Readout::None | Readout::All => return Ok(None),
        };
        if !plain || seq < 2 || columns.len() != rows || columns.iter().any(|c| *c >= seq) {
            return Ok(None);
        }
        let picks = index(columns, &self.device)?;
        let mask = match pass.mask.rank() {
            // Causal `[seq, seq]`: the readout column's row.
            2 => pass.mask.index_select(&picks, 0)?,
            // A window's `[rows, 1, width, seq]`: each row's readout column.
            _ => at_columns(&pass.mask.squeeze(1)?, columns)?.squeeze(1)?,
        };
        let seq_keys = mask.dim(D::Minus1)?;
        Ok(Some(Queries {
            columns: columns.clone(),
            mask: mask.reshape((rows, 1, 1, seq_keys))?,
        }))
    }

    /// The stream a wired MLP reads: `input` less the Δ of every sender it holds that is not
    /// connected to the MLP (with a parallel residual, the input holds no head of its own
    /// layer). MLPs without connections read `input`.
    fn mlp_stream(
        &self,
        layer: usize,
        input: Tensor,
        deltas: &[Option<Tensor>],
        edges: &EdgePatch,
    ) -> Result<Tensor> {
        let Some(connections) = edges.mlp_receivers.get(&layer) else {
            return Ok(input);
        };
        let parallel = self.config.parallel_residual;
        let mut out = input;
        for (slot, (delta, connected)) in deltas.iter().zip(connections).enumerate() {
            let own_layer_head =
                slot > 0 && matches!(edges.senders[slot - 1], EdgeSender::Head(l, _) if l == layer);
            if let (Some(delta), false) = (delta, *connected)
                && !(parallel && own_layer_head)
            {
                out = out.sub(delta)?;
            }
        }
        Ok(out)
    }

    fn attention(
        &self,
        block: &Block,
        x: &Tensor,
        pass: &Pass,
        deltas: &mut [Option<Tensor>],
        queries: Option<&Queries>,
    ) -> Result<Attention> {
        let (layer, interventions, capture) = (block.layer, pass.interventions, pass.capture);
        let (rows, seq, d) = x.dims3()?;
        let (n_head, d_head) = (self.config.n_head, self.config.d_head());
        let patch = interventions.head(layer);
        // Keys and values come from every position, so every head that any position keeps is
        // computed (a base's captured keys and values serve windows at any column).
        let active = active_heads(patch, &capture, n_head)?;
        let narrowed_patch = match (patch, queries) {
            (Some(patch), Some(queries)) => Some(patch.at_columns(&queries.columns)?),
            _ => None,
        };
        let patch = narrowed_patch.as_ref().or(patch);
        let width = if queries.is_some() { 1 } else { seq };
        let edges = interventions.edges.as_ref();
        let senders_here: Vec<(usize, usize)> = edges
            .map(|e| {
                e.senders
                    .iter()
                    .enumerate()
                    .filter_map(|(i, sender)| match sender {
                        EdgeSender::Head(l, h) if *l == layer => Some((i + 1, *h)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut out = match patch {
            Some(patch) => patch.replaced.broadcast_add(&block.c_proj_b)?,
            None => Tensor::zeros((rows, width, d), DType::F32, &self.device)?
                .broadcast_add(&block.c_proj_b)?,
        };
        if active.is_empty() {
            narrow_deltas(deltas, queries)?;
            return Ok(Attention {
                out,
                results: None,
                z: None,
                pattern: None,
                key_values: None,
            });
        }

        let normed = block.ln_1.forward(x, pass.differentiable)?;
        let (q, k, v) = match edges {
            Some(edges) if edges.receivers.keys().any(|(l, _)| *l == layer) => {
                self.qkv_per_receiver(block, x, &normed, &active, deltas, pass)?
            }
            _ => self.qkv(block, &normed, &active)?,
        };
        narrow_deltas(deltas, queries)?;
        let (q, k, v) = match pass.receivers {
            Some(probes) => {
                let [pq, pk, pv] = &probes.qkv[layer];
                ((q + pq)?, (k + pk)?, (v + pv)?)
            }
            None => (q, k, v),
        };
        let (q, k) = match &pass.angles {
            Some(angles) => (
                angles.apply(&q, pass.differentiable)?,
                angles.apply(&k, pass.differentiable)?,
            ),
            None => (q, k),
        };
        let (k, v) = match pass.window {
            Some(window) => self.with_prefix(layer, window, &active, &k, &v)?,
            None => (k, v),
        };
        let (q, mask) = match queries {
            Some(queries) => (at_columns(&q, &queries.columns)?, &queries.mask),
            None => (q, &pass.mask),
        };
        let (z, pattern) = self.attend(&q, &k, &v, mask, pass.differentiable)?; // z: [rows, width, active, d_head]
        let key_values = capture.key_values.then(|| (active.clone(), k, v));
        let a = active.len();
        let w_o = self.output_weights(block, &active)?;
        let keep_active = match patch {
            Some(patch) if a == n_head => Some(patch.keep.clone()),
            Some(patch) => Some(patch.keep.index_select(&index(&active, &self.device)?, 2)?),
            None => None,
        };
        let z_kept = match &keep_active {
            Some(keep) => z.broadcast_mul(&keep.unsqueeze(3)?)?,
            None => z.clone(),
        };
        let real = z_kept.reshape((rows * width, a * d_head))?.matmul(&w_o)?;
        out = (out + real.reshape((rows, width, d))?)?;

        let need_results = capture.head_results || !senders_here.is_empty();
        let results = if need_results {
            Some(per_head_results(&z, &w_o, d)?)
        } else {
            None
        };
        if !senders_here.is_empty() {
            let (Some(results), Some(patch), Some(edges)) = (&results, patch, edges) else {
                return Err(ModelError::Input(format!(
                    "edge senders in layer {layer} need a head patch (their replacement values)"
                )));
            };
            for (sender, head) in &senders_here {
                let Some(slot) = active.iter().position(|h| h == head) else {
                    continue;
                };
                deltas[*sender] = Some(sender_delta(results, slot, patch, edges, layer, *head)?);
            }
        }
        let results = if capture.head_results { results } else { None };
        Ok(Attention {
            out,
            results,
            z: capture.head_z.then_some(z),
            pattern: capture.patterns.then_some(pattern),
            key_values,
        })
    }

    /// Scaled dot-product causal attention (Gemma-2's scores scaled by its own scalar and
    /// soft-capped); inputs and output `[rows, seq, heads, d_head]`, with the pattern
    /// `[rows, heads, seq, seq]`.
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: &Tensor,
        differentiable: bool,
    ) -> Result<(Tensor, Tensor)> {
        let q = q.transpose(1, 2)?.contiguous()?;
        let k = k.transpose(1, 2)?.contiguous()?;
        let v = v.transpose(1, 2)?.contiguous()?;
        let scale = match &self.config.gemma {
            Some(gemma) => gemma.query_pre_attn_scalar,
            None => self.config.d_head() as f64,
        };
        let mut scores = (q.matmul(&k.t()?)? / scale.sqrt())?;
        if let Some(gemma) = &self.config.gemma {
            scores = soft_cap(&scores, gemma.attn_logit_softcapping)?;
        }
        let scores = scores.broadcast_add(mask)?;
        let pattern = if differentiable {
            candle_nn::ops::softmax(&scores, D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let z = pattern.matmul(&v)?.transpose(1, 2)?.contiguous()?;
        Ok((z, pattern))
    }

    /// The rows of W_O that the active heads write through, `[active · d_head, d]`.
    fn output_weights(&self, block: &Block, active: &[usize]) -> Result<Tensor> {
        let (n_head, d_head) = (self.config.n_head, self.config.d_head());
        if active.len() == n_head {
            return Ok(block.c_proj_w.clone());
        }
        let rows: Vec<u32> = active
            .iter()
            .flat_map(|h| (h * d_head..(h + 1) * d_head).map(|i| i as u32))
            .collect();
        Ok(block
            .c_proj_w
            .index_select(&Tensor::new(rows, &self.device)?, 0)?)
    }

    /// Keys and values over every position for a window pass: the window's own at the
    /// positions it recomputes, the base pass's elsewhere, `[rows, seq, active, d_head]` each.
    fn with_prefix(
        &self,
        layer: usize,
        window: &Window,
        active: &[usize],
        k: &Tensor,
        v: &Tensor,
    ) -> Result<(Tensor, Tensor)> {
        let (rows, width, a, d_head) = k.dims4()?;
        let Some((base_heads, base_k, base_v)) =
            window.base.layers.get(layer).and_then(Option::as_ref)
        else {
            return Err(ModelError::Input(format!(
                "the base pass computed no heads in layer {layer}"
            )));
        };
        let slots: Vec<usize> = active
            .iter()
            .map(|h| base_heads.iter().position(|b| b == h))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                ModelError::Input(format!(
                    "a window pass computes heads of layer {layer} the base pass did not"
                ))
            })?;
        let (base_count, seq) = (base_k.dim(0)?, base_k.dim(1)?);
        let heads = index(&slots, &self.device)?;
        let merge = |base: &Tensor, own: &Tensor| -> Result<Tensor> {
            let base = base
                .index_select(&heads, 2)?
                .reshape((base_count * seq, a * d_head))?;
            let own = own.reshape((rows * width, a * d_head))?;
            Ok(
                merge_positions(&base, &own, window.positions, window.base_rows, seq)?
                    .reshape((rows, seq, a, d_head))?,
            )
        };
        Ok((merge(base_k, k)?, merge(base_v, v)?))
    }

    /// q, k, v of the `active` heads from one shared input, each `[rows, seq, active, d_head]`.
    fn qkv(
        &self,
        block: &Block,
        normed: &Tensor,
        active: &[usize],
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (rows, seq, d) = normed.dims3()?;
        let (n_head, d_head) = (self.config.n_head, self.config.d_head());
        let a = active.len();
        let (w, b) = if a == n_head {
            (block.c_attn_w.clone(), block.c_attn_b.clone())
        } else {
            let width = n_head * d_head;
            let columns: Vec<u32> = (0..3)
                .flat_map(|part| {
                    active.iter().flat_map(move |h| {
                        let start = part * width + h * d_head;
                        (start..start + d_head).map(|i| i as u32)
                    })
                })
                .collect();
            let columns = Tensor::new(columns, &self.device)?;
            (
                block.c_attn_w.index_select(&columns, 1)?,
                block.c_attn_b.index_select(&columns, 0)?,
            )
        };
        let qkv = normed
            .reshape((rows * seq, d))?
            .matmul(&w)?
            .broadcast_add(&b)?;
        let part = |i: usize| -> Result<Tensor> {
            Ok(qkv
                .narrow(1, i * a * d_head, a * d_head)?
                .reshape((rows, seq, a, d_head))?)
        };
        Ok((part(0)?, part(1)?, part(2)?))
    }

    /// q, k, v where receivers of edges read their own residual stream per channel.
    fn qkv_per_receiver(
        &self,
        block: &Block,
        x: &Tensor,
        normed: &Tensor,
        active: &[usize],
        deltas: &[Option<Tensor>],
        pass: &Pass,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (layer, differentiable) = (block.layer, pass.differentiable);
        let edges = pass
            .interventions
            .edges
            .as_ref()
            .ok_or_else(|| ModelError::Input("edge receivers need an edge patch".into()))?;
        let (rows, seq, d) = x.dims3()?;
        let (n_head, d_head) = (self.config.n_head, self.config.d_head());
        // A receiver hears few senders: its stream is x less every Δ, plus the Δs it hears.
        // The heads of one class share their connections, and an edge without a channel gives
        // q, k and v the same ones: each distinct set's stream is made (and normed) once, and
        // each stream goes through one product with the columns of every (channel, head) that
        // reads it. Stream 0 is the ordinary one.
        let unheard = deltas
            .iter()
            .flatten()
            .try_fold(x.clone(), |acc, delta| acc.sub(delta))?;
        let mut streams: Vec<(Option<&[bool]>, Tensor)> = vec![(None, normed.clone())];
        let mut source = vec![[0usize; 3]; active.len()];
        for (i, head) in active.iter().enumerate() {
            let Some(connections) = edges.receivers.get(&(layer, *head)) else {
                continue;
            };
            for (channel, heard) in connections.iter().enumerate() {
                let heard = heard.as_slice();
                source[i][channel] = match streams.iter().position(|(set, _)| *set == Some(heard)) {
                    Some(at) => at,
                    None => {
                        let own = add_connected(&unheard, deltas, heard)?;
                        streams.push((Some(heard), block.ln_1.forward(&own, differentiable)?));
                        streams.len() - 1
                    }
                };
            }
        }
        let mut pieces: [Vec<Option<Tensor>>; 3] =
            std::array::from_fn(|_| vec![None; active.len()]);
        for (at, (_, input)) in streams.iter().enumerate() {
            let readers: Vec<(usize, usize)> = (0..3)
                .flat_map(|channel| {
                    let source = &source;
                    (0..active.len())
                        .filter(move |i| source[*i][channel] == at)
                        .map(move |i| (channel, i))
                })
                .collect();
            if readers.is_empty() {
                continue;
            }
            let columns: Vec<u32> = readers
                .iter()
                .flat_map(|(channel, i)| {
                    let start = channel * n_head * d_head + active[*i] * d_head;
                    (start..start + d_head).map(|c| c as u32)
                })
                .collect();
            let columns = Tensor::new(columns, &self.device)?;
            let y = input
                .reshape((rows * seq, d))?
                .matmul(&block.c_attn_w.index_select(&columns, 1)?)?
                .broadcast_add(&block.c_attn_b.index_select(&columns, 0)?)?;
            for (j, (channel, i)) in readers.into_iter().enumerate() {
                pieces[channel][i] = Some(
                    y.narrow(1, j * d_head, d_head)?
                        .reshape((rows, seq, 1, d_head))?,
                );
            }
        }
        let [q, k, v] = pieces.map(|channel| channel.into_iter().flatten().collect::<Vec<_>>());
        Ok((
            Tensor::cat(&q, 2)?,
            Tensor::cat(&k, 2)?,
            Tensor::cat(&v, 2)?,
        ))
    }

    fn readout(
        &self,
        x: &Tensor,
        rows: usize,
        seq: usize,
        readout: &Readout,
        differentiable: bool,
    ) -> Result<Option<Tensor>> {
        let d = self.config.n_embd;
        let at_positions = |positions: &[usize]| -> Result<Tensor> {
            let picked = at_columns(x, positions)?.squeeze(1)?; // [rows, d]
            self.weights.final_norm.forward(&picked, differentiable)
        };
        let logits = match readout {
            Readout::None => None,
            Readout::Tokens { positions, tokens } => {
                let finals = at_positions(positions)?; // [rows, d]
                let k = tokens.dims2()?.1;
                let unembed = self
                    .weights
                    .unembed
                    .index_select(&tokens.flatten_all()?, 0)?
                    .reshape((rows, k, d))?;
                Some(unembed.matmul(&finals.unsqueeze(2)?)?.squeeze(2)?)
            }
            Readout::Full { positions } => {
                Some(at_positions(positions)?.matmul(&self.weights.unembed.t()?)?)
            }
            Readout::All => {
                let finals = self
                    .weights
                    .final_norm
                    .forward(x, differentiable)?
                    .reshape((rows * seq, d))?;
                let logits = finals.matmul(&self.weights.unembed.t()?)?;
                Some(logits.reshape((rows, seq, self.config.vocab_size))?)
            }
        };
        // Gemma-2 soft-caps its logits, each on its own: capping the few read is capping all.
        match (logits, &self.config.gemma) {
            (Some(logits), Some(gemma)) => {
                Ok(Some(soft_cap(&logits, gemma.final_logit_softcapping)?))
            }
            (logits, _) => Ok(logits),
        }
    }
}

/// What every layer of one pass shares: how it runs (from which layer, over which
/// positions), what it changes and what it records.
struct Pass<'a> {
    /// Plain, differentiable ops instead of the fused inference kernels.
    differentiable: bool,
    start: usize,
    /// The layer after the last one the pass computes (`n_layer` for a whole pass).
    end: usize,
    /// The embeddings, when the pass starts from them.
    embeddings: Option<Tensor>,
    /// Additive attention mask: `[seq, seq]` causal, or `[rows, 1, width, seq]` for a window.
    mask: Tensor,
    /// Rotary families: each row's positions' angles.
    angles: Option<Angles>,
    window: Option<&'a Window<'a>>,
    /// Attribution passes: a zero added to each layer's attention output, whose gradient is
    /// the output's.
    probes: Vec<Tensor>,
    /// Edge-attribution passes: zeros added to every head's q, k, v and every MLP's and the
    /// logits' input (see `edge_gradients`).
    receivers: Option<&'a edge_gradients::ReceiverProbes>,
    interventions: &'a Interventions,
    capture: Capture,
}

/// What F weighs, for attribution: the readout's logits, or their softmax over the
/// vocabulary, each `[rows, k]` times `[rows, k]` weights.
pub enum Objective {
    Logits(Tensor),
    Probabilities(Tensor),
}

impl Objective {
    /// The objective summed over the readout's rows.
    fn total(&self, logits: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Objective::Logits(weights) => (logits * weights)?,
            Objective::Probabilities(weights) => {
                (candle_nn::ops::softmax(logits, D::Minus1)? * weights)?
            }
        }
        .sum_all()?)
    }
}

/// See [`Transformer::attribution`].
pub struct Attribution {
    pub value: f64,
    /// Per layer, ∂F/∂(the attention block's output), `[rows, seq, d_model]`.
    pub gradients: Vec<Tensor>,
    /// Per layer, every head's result, `[rows, seq, heads, d_model]`.
    pub results: Vec<Tensor>,
}

/// The last layer's queries where only the readout's are computed.
struct Queries {
    /// Each row's readout column.
    columns: Vec<usize>,
    /// Their additive mask, `[rows, 1, 1, seq]`.
    mask: Tensor,
}

struct Attention {
    /// The attention block's contribution to the residual stream, `[rows, seq, d]`.
    out: Tensor,
    /// The heads computed and their keys and values, when captured.
    key_values: Option<(Vec<usize>, Tensor, Tensor)>,
    /// Per-head results when captured, `[rows, seq, heads, d]`.
    results: Option<Tensor>,
    /// Per-head z when captured, `[rows, seq, heads, d_head]`.
    z: Option<Tensor>,
    /// `[rows, heads, seq, seq]`, when captured.
    pattern: Option<Tensor>,
}

fn index(values: &[usize], device: &Device) -> Result<Tensor> {
    let values: Vec<u32> = values.iter().map(|v| *v as u32).collect();
    Ok(Tensor::new(values, device)?)
}

/// `[seq, seq]` additive mask: 0 on and below the diagonal, −∞ above.
fn causal_mask(seq: usize, device: &Device) -> Result<Tensor> {
    let values: Vec<f32> = (0..seq)
        .flat_map(|i| (0..seq).map(move |j| if j <= i { 0.0 } else { f32::NEG_INFINITY }))
        .collect();
    Ok(Tensor::from_vec(values, (seq, seq), device)?)
}

/// Once the last layer's keys and values are made, the senders' Δs are read at the readout's
/// columns only.
fn narrow_deltas(deltas: &mut [Option<Tensor>], queries: Option<&Queries>) -> Result<()> {
    if let Some(queries) = queries {
        for delta in deltas.iter_mut().flatten() {
            *delta = at_columns(delta, &queries.columns)?;
        }
    }
    Ok(())
}

/// c·tanh(x / c).
fn soft_cap(x: &Tensor, c: f64) -> Result<Tensor> {
    Ok(((x / c)?.tanh()? * c)?)
}

/// keep · real + (1 − keep) · replacement.
fn blend(real: &Tensor, keep: &Tensor, replacement: &Tensor) -> Result<Tensor> {
    let kept = real.broadcast_mul(keep)?;
    let dropped = replacement.broadcast_mul(&(1.0 - keep)?)?;
    Ok((kept + dropped)?)
}

/// The stream minus Δ of every sender this input is not connected to.
/// `unheard` (the stream less every sender's Δ) plus the Δ of each sender `connected` marks.
fn add_connected(
    unheard: &Tensor,
    deltas: &[Option<Tensor>],
    connected: &[bool],
) -> Result<Tensor> {
    let mut out = unheard.clone();
    for (delta, connected) in deltas.iter().zip(connected) {
        if let (Some(delta), true) = (delta, connected) {
            out = out.add(delta)?;
        }
    }
    Ok(out)
}

fn subtract_unconnected(
    x: &Tensor,
    deltas: &[Option<Tensor>],
    connected: &[bool],
) -> Result<Tensor> {
    let mut out = x.clone();
    for (delta, connected) in deltas.iter().zip(connected) {
        if let (Some(delta), false) = (delta, connected) {
            out = out.sub(delta)?;
        }
    }
    Ok(out)
}

/// A model with the tokenizer that came with it.
pub struct LoadedModel {
    pub model: Transformer,
    pub tokenizer: crate::model::Tokenizer,
    pub files: ModelFiles,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel")
            .field("files", &self.files)
            .field("config", &self.model.config)
            .finish()
    }
}

impl LoadedModel {
    /// Loads weights and tokenizer from `files`, checking that they agree on the vocabulary.
    pub fn load(files: ModelFiles, device: &Device) -> Result<Self> {
        let model = Transformer::load(&files, device)?;
        let tokenizer = crate::model::Tokenizer::from_dir(&files.dir)?;
        // A vocabulary larger than the tokenizer is padding (Pythia's, Qwen2's); a tokenizer
        // larger than the vocabulary gives ids the model has no embedding for.
        if tokenizer.vocab_size() > model.config.vocab_size {
            return Err(ModelError::TokenizerMismatch {
                tokenizer_size: tokenizer.vocab_size(),
                vocab_size: model.config.vocab_size,
            });
        }
        Ok(Self {
            model,
            tokenizer,
            files,
        })
    }
}

/// The heads a layer must compute: those whose output is replaced everywhere need no
/// attention at all, unless their results or patterns are captured.
fn active_heads(patch: Option<&HeadPatch>, capture: &Capture, n_head: usize) -> Result<Vec<usize>> {
    Ok(
        match (
            patch,
            capture.head_results || capture.head_z || capture.patterns,
        ) {
            (Some(patch), false) => {
                let used: Vec<f32> = patch.keep.sum((0, 1))?.to_vec1()?;
                (0..n_head).filter(|h| used[*h] > 0.0).collect()
            }
            _ => (0..n_head).collect(),
        },
    )
}

/// The additive mask of a window pass, `[rows, 1, width, seq]`: column i of row r is
/// position `positions[r][i]` and sees the positions up to there.
fn window_mask(
    positions: &[Vec<usize>],
    width: usize,
    seq: usize,
    device: &Device,
) -> Result<Tensor> {
    let rows = positions.len();
    let mut mask = vec![f32::NEG_INFINITY; rows * width * seq];
    for (r, positions) in positions.iter().enumerate() {
        for (i, position) in positions.iter().enumerate() {
            let visible = (position + 1).min(seq);
            mask[(r * width + i) * seq..(r * width + i) * seq + visible].fill(0.0);
        }
    }
    Ok(Tensor::from_vec(mask, (rows, 1, width, seq), device)?)
}

/// Per-head results z_h · W_O[h]: `[active, rows·seq, d_head] × [active, d_head, d]`,
/// returned as `[rows, seq, active, d]`.
fn per_head_results(z: &Tensor, w_o: &Tensor, d: usize) -> Result<Tensor> {
    let (rows, seq, a, d_head) = z.dims4()?;
    let z_heads =
        z.transpose(1, 2)?
            .transpose(0, 1)?
            .contiguous()?
            .reshape((a, rows * seq, d_head))?;
    let w_heads = w_o.reshape((a, d_head, d))?;
    let r = z_heads.matmul(&w_heads)?.reshape((a, rows, seq, d))?;
    Ok(r.permute((1, 2, 0, 3))?.contiguous()?)
}

/// What an edge sender adds beyond its replacement, where it is kept, on the rows the
/// edge patch covers: `[rows, seq, d]`.
fn sender_delta(
    results: &Tensor,
    slot: usize,
    patch: &HeadPatch,
    edges: &EdgePatch,
    layer: usize,
    head: usize,
) -> Result<Tensor> {
    let real = results.i((.., .., slot, ..))?;
    let replacement = patch.senders.get(&head).ok_or_else(|| {
        ModelError::Input(format!(
            "edge sender {layer}.{head} needs its replacement in the head patch"
        ))
    })?;
    let keep = patch.keep.i((.., .., head))?.unsqueeze(2)?;
    let keep = keep.broadcast_mul(&edges.rows)?;
    Ok(real.sub(replacement)?.broadcast_mul(&keep)?)
}
