//! What a forward pass is asked to change, capture and read out. Interventions are masks and
//! tensors over the whole batch (rows may belong to different variants), never per-element
//! callbacks.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};

use crate::model::error::{ModelError, Result};

/// Right-padded token sequences.
#[derive(Clone, Debug)]
pub struct Batch {
    /// `[rows, seq]`, u32.
    pub tokens: Tensor,
    pub lengths: Vec<usize>,
}

impl Batch {
    pub fn new(sequences: &[Vec<u32>], device: &Device) -> Result<Self> {
        let seq = sequences.iter().map(Vec::len).max().unwrap_or(0);
        if seq == 0 {
            return Err(ModelError::Input(
                "a batch needs at least one non-empty sequence".into(),
            ));
        }
        let mut flat = Vec::with_capacity(sequences.len() * seq);
        for sequence in sequences {
            flat.extend_from_slice(sequence);
            flat.extend(std::iter::repeat_n(0, seq - sequence.len()));
        }
        Ok(Self {
            tokens: Tensor::from_vec(flat, (sequences.len(), seq), device)?,
            lengths: sequences.iter().map(Vec::len).collect(),
        })
    }

    pub fn rows(&self) -> usize {
        self.lengths.len()
    }

    pub fn seq(&self) -> usize {
        self.tokens.dims()[1]
    }
}

/// Node-level patch of one layer's attention heads: where `keep` is 1 the head's real result
/// (z·W_O, without b_O) is used, where it is 0 its replacement is.
#[derive(Clone, Debug)]
pub struct HeadPatch {
    /// `[rows, seq, heads]`, f32 in {0, 1}.
    pub keep: Tensor,
    /// What the replaced heads write together, Σ_h (1 − keep_h)·replacement_h,
    /// `[rows, seq, d_model]`: summed by the caller, which knows which heads are replaced.
    pub replaced: Tensor,
    /// Edge level: each sending head's own replacement `[rows, seq, d_model]`, by head index
    /// (its Δ is its real result minus this where it is kept).
    pub senders: BTreeMap<usize, Tensor>,
}

impl HeadPatch {
    /// The patch with `f` applied to each of its tensors (all `[rows, seq, …]`).
    pub fn map(&self, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        Ok(Self {
            keep: f(&self.keep)?,
            replaced: f(&self.replaced)?,
            senders: self
                .senders
                .iter()
                .map(|(h, t)| Ok((*h, f(t)?)))
                .collect::<Result<_>>()?,
        })
    }

    /// The patch at one column per row (see [`at_columns`]).
    pub fn at_columns(&self, columns: &[usize]) -> Result<Self> {
        self.map(|t| at_columns(t, columns))
    }
}

/// Node-level patch of one layer's MLP output.
#[derive(Clone, Debug)]
pub struct MlpPatch {
    /// `[rows, seq, 1]`, f32 in {0, 1}.
    pub keep: Tensor,
    /// `[rows, seq, d_model]`.
    pub replacement: Tensor,
}

impl MlpPatch {
    /// The patch with `f` applied to each of its tensors (all `[rows, seq, …]`).
    pub fn map(&self, f: impl Fn(&Tensor) -> Result<Tensor>) -> Result<Self> {
        Ok(Self {
            keep: f(&self.keep)?,
            replacement: f(&self.replacement)?,
        })
    }

    /// The patch at one column per row (see [`at_columns`]).
    pub fn at_columns(&self, columns: &[usize]) -> Result<Self> {
        self.map(|t| at_columns(t, columns))
    }
}

/// Row r's column `columns[r]` of a `[rows, seq, …]` tensor, as `[rows, 1, …]`.
pub fn at_columns(t: &Tensor, columns: &[usize]) -> Result<Tensor> {
    let dims = t.dims();
    let [rows, seq, ..] = *dims else {
        return Err(ModelError::Input("columns of a tensor without rows".into()));
    };
    if columns.len() != rows || columns.iter().any(|c| *c >= seq) {
        return Err(ModelError::Input(
            "one column per row, inside the sequence".into(),
        ));
    }
    let width: usize = dims[2..].iter().product();
    let picks: Vec<u32> = columns
        .iter()
        .enumerate()
        .map(|(r, c)| (r * seq + c) as u32)
        .collect();
    let picked = t
        .reshape((rows * seq, width))?
        .index_select(&Tensor::new(picks, t.device())?, 0)?;
    let mut shape = vec![rows, 1];
    shape.extend_from_slice(&dims[2..]);
    Ok(picked.reshape(shape)?)
}

/// An input of a receiving head: its position in each receiver's connection lists of an
/// [`EdgePatch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Q = 0,
    K = 1,
    V = 2,
}

/// A sender of an [`EdgePatch`] besides the embeddings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum EdgeSender {
    /// `(layer, head)`.
    Head(usize, usize),
    /// A layer's MLP.
    Mlp(usize),
}

/// Edge-level patch (ACDC / auto-circuit style). Each sender s contributes
/// Δ_s = (its node-level output) − (its replacement) to the residual stream. A receiver's
/// input through a channel, a wired MLP's input, or the stream the logits read, subtracts Δ_s
/// for every sender it is not connected to (among those its stream holds), so it sees that
/// sender's replacement instead.
#[derive(Clone, Debug)]
pub struct EdgePatch {
    /// Sending heads and MLPs. Heads with no real output anywhere need not be listed.
    pub senders: Vec<EdgeSender>,
    /// The embeddings' replacement `[rows, seq, d_model]`: the embeddings are sender
    /// `EMBED` in the connection lists.
    pub embed_replacement: Tensor,
    /// Each sending MLP's replacement `[rows, seq, d_model]`, by layer (its Δ is its output,
    /// after any [`MlpPatch`], minus this).
    pub mlp_replacements: BTreeMap<usize, Tensor>,
    /// Receiving `(layer, head)` → for q, k and v: is it connected to each sender (the
    /// embeddings first, then `senders` in order)? Heads not listed read the ordinary stream.
    pub receivers: BTreeMap<(usize, usize), [Vec<bool>; 3]>,
    /// Receiving MLPs by layer → their connections, same order. MLPs not listed read the
    /// ordinary stream.
    pub mlp_receivers: BTreeMap<usize, Vec<bool>>,
    /// Connections of the logits, same order.
    pub logits: Vec<bool>,
    /// `[rows, 1, 1]`, f32 in {0, 1}: the rows this wiring applies to. Other rows of the
    /// batch (variants of the full model) see every sender, as at node level.
    pub rows: Tensor,
}

impl EdgePatch {
    pub const EMBED: usize = 0;

    /// The slot of a sender in the connection lists.
    pub fn slot(&self, sender: EdgeSender) -> Option<usize> {
        self.senders
            .iter()
            .position(|s| *s == sender)
            .map(|i| i + 1)
    }
}

/// Everything a pass changes.
#[derive(Clone, Debug, Default)]
pub struct Interventions {
    /// Per layer; `None` runs the layer's heads unchanged.
    pub heads: Vec<Option<HeadPatch>>,
    /// Per layer; `None` keeps the MLP.
    pub mlps: Vec<Option<MlpPatch>>,
    pub edges: Option<EdgePatch>,
}

impl Interventions {
    pub fn none() -> Self {
        Self::default()
    }

    pub fn head(&self, layer: usize) -> Option<&HeadPatch> {
        self.heads.get(layer).and_then(Option::as_ref)
    }

    pub fn mlp(&self, layer: usize) -> Option<&MlpPatch> {
        self.mlps.get(layer).and_then(Option::as_ref)
    }

    /// The node-level patches of the first `rows` rows.
    pub fn first_rows(&self, rows: usize) -> Result<Self> {
        if self.edges.is_some() {
            return Err(ModelError::Input(
                "edge-level patches cover every row of a pass".into(),
            ));
        }
        let first = |t: &Tensor| Ok(t.narrow(0, 0, rows)?);
        let heads = self
            .heads
            .iter()
            .map(|patch| patch.as_ref().map(|p| p.map(first)).transpose())
            .collect::<Result<_>>()?;
        let mlps = self
            .mlps
            .iter()
            .map(|patch| patch.as_ref().map(|p| p.map(first)).transpose())
            .collect::<Result<_>>()?;
        Ok(Self {
            heads,
            mlps,
            edges: None,
        })
    }
}

/// A pass that recomputes only some positions of each row, from some layer on: row r's
/// columns are its positions `positions[r]`; every other position is as it was in a base
/// pass, which gave its keys and values ([`Capture::key_values`]). A variant that differs
/// from the base only from position p on (a head knocked out where the base keeps it only at
/// p and later) needs nothing before p, attention being causal; and after p only the
/// positions where some head is kept, and the readout's: elsewhere no head reads another
/// position, so the stream is as the base's.
#[derive(Clone, Copy, Debug)]
pub struct Window<'a> {
    /// The positions each row recomputes, ascending, as many for every row; a row's columns
    /// past its prompt's end are padding (any positions past it).
    pub positions: &'a [Vec<usize>],
    /// Each row's row in the base pass.
    pub base_rows: &'a [usize],
    /// The layer at which each row joins the pass, ascending: before it the row is as the
    /// base has it (its stream at that layer is what the pass is given).
    pub joins: &'a [usize],
    pub base: &'a KeyValues,
}

/// Every position of each row of a window: its own column where `positions[r]` recomputes
/// it, else its base row's (`base_rows[r]`). `base` is `[base rows · seq, w]`, `own`
/// `[rows · width, w]`; the result `[rows · seq, w]`.
pub fn merge_positions(
    base: &Tensor,
    own: &Tensor,
    positions: &[Vec<usize>],
    base_rows: &[usize],
    seq: usize,
) -> Result<Tensor> {
    let base_count = base.dim(0)? / seq.max(1);
    let rows = positions.len();
    let width = positions.first().map_or(0, Vec::len);
    let picks: Vec<u32> = positions
        .iter()
        .zip(base_rows)
        .enumerate()
        .flat_map(|(r, (positions, base_row))| {
            let mut picks: Vec<u32> = (0..seq).map(|j| (base_row * seq + j) as u32).collect();
            for (i, position) in positions.iter().enumerate() {
                if let Some(pick) = picks.get_mut(*position) {
                    *pick = (base_count * seq + r * width + i) as u32;
                }
            }
            picks
        })
        .collect();
    let picks = Tensor::from_vec(picks, rows * seq, base.device())?;
    Ok(Tensor::cat(&[base, own], 0)?.index_select(&picks, 0)?)
}

/// Keys and values of the heads a pass computed, per layer: the heads, and
/// `[rows, seq, heads, d_head]` each.
#[derive(Clone, Debug, Default)]
pub struct KeyValues {
    pub layers: Vec<Option<(Vec<usize>, Tensor, Tensor)>>,
}

/// What a pass records on the way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Capture {
    /// Every head's real result per layer, `[rows, seq, heads, d_model]`.
    pub head_results: bool,
    /// Every head's z per layer (its attention-weighted values, which W_O maps to its
    /// result), `[rows, seq, heads, d_head]`: a result's 1/d_head-th the size, for averages
    /// taken before the (linear) map.
    pub head_z: bool,
    /// Every MLP's real output per layer, `[rows, seq, d_model]`.
    pub mlp_outputs: bool,
    /// The embeddings the pass starts from, `[rows, seq, d_model]` (also with `residuals`).
    pub embeddings: bool,
    /// The residual stream entering each layer (and after the last), `[rows, seq, d_model]`.
    /// After the last it is `[rows, 1, d_model]` at the readout's positions where the last
    /// layer computed only those (a pass that captures nothing else per position there).
    pub residuals: bool,
    /// Every head's attention pattern per layer, `[rows, heads, seq (query), seq (key)]`.
    pub patterns: bool,
    /// The keys and values of the heads computed, for window passes on top of this one.
    pub key_values: bool,
}

/// Which logits a pass returns.
#[derive(Clone, Debug)]
pub enum Readout {
    None,
    /// Logits of the given token ids `[rows, k]` (u32) at one position per row: `[rows, k]`.
    /// Multiplies by only those k rows of the unembedding.
    Tokens {
        positions: Vec<usize>,
        tokens: Tensor,
    },
    /// Full logits at one position per row: `[rows, vocab]`.
    Full {
        positions: Vec<usize>,
    },
    /// Full logits at every position: `[rows, seq, vocab]` (for training and accuracy).
    All,
}

#[derive(Clone, Debug, Default)]
pub struct Output {
    pub logits: Option<Tensor>,
    /// The embeddings (token + position), `[rows, seq, d_model]`, when they or residuals are
    /// captured.
    pub embeddings: Option<Tensor>,
    pub head_results: Vec<Tensor>,
    pub head_z: Vec<Tensor>,
    pub mlp_outputs: Vec<Tensor>,
    pub residuals: Vec<Tensor>,
    pub patterns: Vec<Tensor>,
    pub key_values: KeyValues,
}

/// A {0, 1} f32 tensor from booleans.
pub fn mask_tensor(values: &[bool], shape: &[usize], device: &Device) -> Result<Tensor> {
    let data: Vec<f32> = values.iter().map(|v| if *v { 1.0 } else { 0.0 }).collect();
    Ok(Tensor::from_vec(data, shape, device)?.to_dtype(DType::F32)?)
}
