//! Edge attribution at the model level (GRAMMAR.md, "What discover scores"): one
//! differentiable pass that gives ∂F/∂x_r for every receiver r of the graph, each head's
//! q, k and v input, each MLP's input and the logits' stream, as if each read its own copy of
//! the stream. Zeros ("probes") are added where each receiver's own path starts: after each
//! head's q, k, v projection, to the MLP's input and to the final stream. A head channel's
//! gradient with respect to the stream before its norm is then the projection's and the
//! norm's vector-Jacobian product, computed per layer on demand, so the pass never holds
//! 3·heads copies of the stream.

use candle_core::{DType, Tensor, Var};

use super::{Objective, Pass, Transformer, causal_mask};
use crate::model::error::{ModelError, Result};
use crate::model::intervention::{Batch, Capture, Interventions, Output, Readout};

/// The zeros a pass adds for the gradients of every receiver.
pub struct ReceiverProbes {
    /// Per layer: added to q, k and v before rotary, `[rows, seq, heads, d_head]` each.
    pub qkv: Vec<[Tensor; 3]>,
    /// Per layer: added to the MLP's input before its norm, `[rows, seq, d_model]`.
    pub mlps: Vec<Tensor>,
    /// Added to the final stream before the final norm, `[rows, seq, d_model]`.
    pub logits: Tensor,
}

/// See [`Transformer::edge_gradients`].
pub struct EdgeGradients {
    /// F summed over the batch's rows (callers average over all their prompts).
    pub value: f64,
    /// What the pass captured besides (head results, MLP outputs, embeddings).
    pub output: Output,
    /// The stream entering each layer, which its heads read, `[rows, seq, d_model]`.
    residuals: Vec<Tensor>,
    /// Per layer, ∂F/∂(q, k, v) before rotary, `[rows, seq, heads, d_head]` each.
    qkv: Vec<[Tensor; 3]>,
    /// Per layer, ∂F/∂(the MLP's input before its norm), `[rows, seq, d_model]`.
    pub mlps: Vec<Tensor>,
    /// ∂F/∂(the final stream before the final norm), `[rows, seq, d_model]`.
    pub logits: Tensor,
}

impl Transformer {
    /// A differentiable pass of the unmodified model from `embeddings` (the batch's own when
    /// `None`), returning F (the objective summed over rows), what `capture` asks for, and
    /// the gradient of F with respect to every receiver's input (see
    /// [`Transformer::head_input_gradients`] for the heads'). Not defined for Gemma-2, whose
    /// heads write through a norm.
    pub fn edge_gradients(
        &self,
        batch: &Batch,
        embeddings: Option<Tensor>,
        capture: Capture,
        readout: &Readout,
        objective: &Objective,
    ) -> Result<EdgeGradients> {
        if self.config.gemma.is_some() {
            return Err(ModelError::Input(
                "edge attribution is not defined for Gemma-2, whose attention output is \
                 normed before it joins the stream"
                    .into(),
            ));
        }
        let embeddings = match embeddings {
            Some(given) => given,
            None => self.embed(batch)?,
        };
        let (rows, seq, d) = embeddings.dims3()?;
        let (layers, heads, d_head) = (
            self.config.n_layer,
            self.config.n_head,
            self.config.d_head(),
        );
        let zeros = |shape: &[usize]| Var::zeros(shape, DType::F32, &self.device);
        let qkv_vars = (0..layers)
            .map(|_| -> candle_core::Result<[Var; 3]> {
                let shape = [rows, seq, heads, d_head];
                Ok([zeros(&shape)?, zeros(&shape)?, zeros(&shape)?])
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mlp_vars = (0..layers)
            .map(|_| zeros(&[rows, seq, d]))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let logit_var = zeros(&[rows, seq, d])?;
        let probes = ReceiverProbes {
            qkv: qkv_vars
                .iter()
                .map(|vars| vars.each_ref().map(|v| v.as_tensor().clone()))
                .collect(),
            mlps: mlp_vars.iter().map(|v| v.as_tensor().clone()).collect(),
            logits: logit_var.as_tensor().clone(),
        };
        let interventions = Interventions::none();
        let pass = Pass {
            differentiable: true,
            start: 0,
            end: self.config.n_layer,
            embeddings: Some(embeddings.clone()),
            mask: causal_mask(seq, &self.device)?,
            angles: self.angles(rows, seq)?,
            window: None,
            probes: Vec::new(),
            receivers: Some(&probes),
            interventions: &interventions,
            capture: Capture {
                residuals: true,
                ..capture
            },
        };
        let mut output = self.run(&pass, embeddings, readout)?;
        let logits = output
            .logits
            .take()
            .ok_or_else(|| ModelError::Input("edge attribution needs a readout".into()))?;
        let value = objective.total(&logits)?;
        let grads = value.backward()?;
        let gradient = |var: &Var| -> Result<Tensor> {
            match grads.get(var.as_tensor()) {
                Some(g) => Ok(g.clone()),
                None => Ok(var.as_tensor().zeros_like()?),
            }
        };
        let qkv = qkv_vars
            .iter()
            .map(|vars| -> Result<[Tensor; 3]> {
                Ok([
                    gradient(&vars[0])?,
                    gradient(&vars[1])?,
                    gradient(&vars[2])?,
                ])
            })
            .collect::<Result<Vec<_>>>()?;
        let mlps = mlp_vars.iter().map(gradient).collect::<Result<Vec<_>>>()?;
        let residuals = output.residuals.iter().map(Tensor::detach).collect();
        output.residuals = Vec::new();
        output.head_results = output.head_results.iter().map(Tensor::detach).collect();
        output.mlp_outputs = output.mlp_outputs.iter().map(Tensor::detach).collect();
        if !capture.residuals {
            output.embeddings = None;
        }
        output.embeddings = output.embeddings.as_ref().map(Tensor::detach);
        Ok(EdgeGradients {
            value: value.to_scalar::<f32>()? as f64,
            output,
            residuals,
            qkv,
            mlps,
            logits: gradient(&logit_var)?,
        })
    }

    /// ∂F/∂x_r for every head channel r of `layer`, x_r being the stream entering the layer
    /// before the head's norm: `[3·heads, rows, seq, d_model]`, the q inputs of heads 0, 1, …
    /// first, then the k inputs, then the v inputs.
    pub fn head_input_gradients(&self, gradients: &EdgeGradients, layer: usize) -> Result<Tensor> {
        let block = &self.weights.blocks[layer];
        let x = &gradients.residuals[layer];
        let (rows, seq, d) = x.dims3()?;
        let (heads, d_head) = (self.config.n_head, self.config.d_head());
        let per_channel = gradients.qkv[layer]
            .iter()
            .enumerate()
            .map(|(channel, g)| -> Result<Tensor> {
                // [heads, rows·seq, d_head] × [heads, d_head, d]: each head's columns.
                let g = g
                    .reshape((rows * seq, heads, d_head))?
                    .transpose(0, 1)?
                    .contiguous()?;
                let w = block
                    .c_attn_w
                    .narrow(1, channel * heads * d_head, heads * d_head)?
                    .reshape((d, heads, d_head))?
                    .permute((1, 2, 0))?
                    .contiguous()?;
                Ok(g.matmul(&w)?)
            })
            .collect::<Result<Vec<_>>>()?;
        let upstream = Tensor::cat(&per_channel, 0)?.reshape((3 * heads, rows, seq, d))?;
        block.ln_1.input_gradient(x, &upstream)
    }
}
