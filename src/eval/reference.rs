//! Replacement values for knocked-out components, from the task's reference distribution:
//! per template and position means (the paper's), global means, resampled activations, or
//! zero.

use std::borrow::Cow;
use std::sync::OnceLock;

use candle_core::Tensor;
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::dsl::Ablation;
use crate::eval::cache::{Array, Arrays};
use crate::model::error::Result;
use crate::model::{Batch, Capture, Interventions, ModelError, Output, Readout, Transformer};
use crate::task::Dataset;

/// Replacement values per source and position, `width` floats each, in host memory: every
/// batch takes its rows from here, and sums over heads are made row by row, so a variant's
/// figures never depend on the batch it runs in.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub sources: usize,
    pub seq: usize,
    pub width: usize,
    /// `[sources, seq, width]`, row-major.
    pub values: Vec<f32>,
}

impl Table {
    fn from_sums(sums: &[f64], sources: usize, seq: usize, width: usize) -> Self {
        Self::new(
            sums.iter().map(|v| *v as f32).collect(),
            sources,
            seq,
            width,
        )
    }

    fn new(values: Vec<f32>, sources: usize, seq: usize, width: usize) -> Self {
        Self {
            sources,
            seq,
            width,
            values,
        }
    }

    /// The values of `source` at `position`.
    pub fn at(&self, source: usize, position: usize) -> &[f32] {
        let start = (source * self.seq + position) * self.width;
        &self.values[start..start + self.width]
    }

    fn as_array(&self) -> Array<'_> {
        Array {
            shape: vec![self.sources, self.seq, self.width],
            values: Cow::Borrowed(&self.values),
        }
    }

    fn from_array(array: Array<'static>) -> Option<Self> {
        let &[sources, seq, width] = array.shape.as_slice() else {
            return None;
        };
        Some(Self::new(array.values.into_owned(), sources, seq, width))
    }
}

/// Replacement activations for every head result, MLP output and the embeddings, per
/// *source*; `source_of_prompt` says which source replaces the components of each dataset
/// prompt (its group's mean, the one global mean, its resampled reference prompt, zero).
#[derive(Clone, Debug)]
pub struct ReferenceActivations {
    pub ablation: Ablation,
    /// Per layer, each head's replacement z (its attention output before W_O): width
    /// heads × d_head, head-major.
    pub head_z: Vec<Table>,
    /// Per layer, W_O `[heads · d_head, d_model]`, which maps a head's z to its result.
    output_weights: Vec<Tensor>,
    /// Per layer and head, its replacement result (width d_model), made from its z when first
    /// asked for ([`Self::head`]): a check reads few heads' own results, and every head's
    /// would take d_model / d_head times the memory of their z.
    results: Vec<Vec<OnceLock<Table>>>,
    /// Per layer, the sum of every head's replacement (width d_model): what a layer whose
    /// heads are all replaced writes, summed before rounding.
    pub head_sums: Vec<Table>,
    /// Per layer, width d_model.
    pub mlps: Vec<Table>,
    /// Width d_model.
    pub embeddings: Table,
    pub source_of_prompt: Vec<usize>,
}

/// Reference prompts per forward pass while collecting activations.
const CHUNK: usize = 32;

/// Global means: sums over every valid position of every prompt, divided by their number,
/// the same at every position.
fn average_over_positions(sums: &mut [f64], seq: usize, position_count: f64) {
    let width = sums.len() / seq;
    let mean: Vec<f64> = sums[..width].iter().map(|v| v / position_count).collect();
    for row in sums.chunks_mut(width) {
        row.copy_from_slice(&mean);
    }
}

/// One layer's (or the embeddings') reduced values, `[sources, seq, width]`.
enum Values {
    /// Weighted sums, in f64: several reference prompts add into each source.
    Sums(Vec<f64>),
    /// Each source is one reference prompt's own values, with weight 1 (resample), kept as
    /// they are: the same f32 values the sums would round back to, in half the memory (up to
    /// one source per prompt).
    Copies(Vec<f32>),
}

impl Values {
    fn zeros(len: usize, copies: bool) -> Self {
        if copies {
            Values::Copies(vec![0f32; len])
        } else {
            Values::Sums(vec![0f64; len])
        }
    }

    /// Adds `weight × row` at `target` (for copies, whose weight is 1, sets it).
    fn add(&mut self, target: usize, row: &[f32], weight: f64) {
        match self {
            Values::Sums(sums) => {
                for (sum, value) in sums[target..target + row.len()].iter_mut().zip(row) {
                    *sum += weight * *value as f64;
                }
            }
            Values::Copies(values) => values[target..target + row.len()].copy_from_slice(row),
        }
    }

    fn into_table(self, sources: usize, seq: usize, width: usize) -> Table {
        match self {
            Values::Sums(sums) => Table::from_sums(&sums, sources, seq, width),
            Values::Copies(values) => Table::new(values, sources, seq, width),
        }
    }
}

impl ReferenceActivations {
    /// Runs the model over the reference prompts and reduces their activations as `ablation`
    /// asks. `seed` picks the reference prompt of each prompt for `Resample`.
    pub fn compute(
        model: &Transformer,
        dataset: &Dataset,
        ablation: Ablation,
        seed: u64,
    ) -> Result<Self> {
        let mut each = Self::compute_each(model, dataset, &[ablation], seed)?;
        each.pop()
            .ok_or_else(|| ModelError::Internal("no reference values computed".into()))
    }

    /// [`Self::compute`] for each of `ablations`, from one pass over the reference prompts
    /// any of them reads (the schemes differ only in how they reduce the activations).
    pub fn compute_each(
        model: &Transformer,
        dataset: &Dataset,
        ablations: &[Ablation],
        seed: u64,
    ) -> Result<Vec<Self>> {
        let device = model.device().clone();
        let config = model.config();
        let (layers, heads, d) = (config.n_layer, config.n_head, config.n_embd);
        let d_head = config.d_head();
        let seq = dataset
            .prompts
            .iter()
            .chain(&dataset.reference)
            .map(|p| p.tokens.len())
            .max()
            .unwrap_or(0);
        let n = dataset.reference.len();
        // Heads are averaged as their z, and the averages mapped through W_O after: the map
        // is linear, and a z is 1/d_head-th the size of a result.
        let mut reductions = ablations
            .iter()
            .map(|ablation| {
                let sources = Sources::of(dataset, *ablation, seed)?;
                // A resample source is one drawn reference prompt, with weight 1.
                let copies = *ablation == Ablation::Resample;
                Ok(Reduction {
                    ablation: *ablation,
                    sums: Sums::new(layers, sources.count, seq, heads * d_head, d, copies),
                    sources,
                    position_count: 0.0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let capture = Capture {
            head_z: true,
            mlp_outputs: true,
            embeddings: true,
            ..Default::default()
        };
        // Shortest first, so each chunk is padded only to its own longest prompt.
        let mut needed: Vec<usize> = (0..n)
            .filter(|j| reductions.iter().any(|r| !r.sources.weights[*j].is_empty()))
            .collect();
        needed.sort_by_key(|j| dataset.reference[*j].tokens.len());
        for chunk in needed.chunks(CHUNK) {
            let longest = chunk
                .iter()
                .map(|j| dataset.reference[*j].tokens.len())
                .max()
                .unwrap_or(0);
            let padded: Vec<Vec<u32>> = chunk
                .iter()
                .map(|j| {
                    let mut row = dataset.reference[*j].tokens.clone();
                    row.resize(longest, 0);
                    row
                })
                .collect();
            let batch = Batch::new(&padded, &device)?;
            let out = model.forward(&batch, &Interventions::none(), capture, &Readout::None)?;
            let embeddings = out
                .embeddings
                .as_ref()
                .ok_or_else(|| ModelError::Internal("no embeddings captured".into()))?;
            for (offset, j) in chunk.iter().enumerate() {
                let len = dataset.reference[*j].tokens.len();
                let values = PromptValues::of(&out, embeddings, offset, len)?;
                for reduction in &mut reductions {
                    reduction.add(&values, *j, len);
                }
            }
        }
        reductions
            .into_iter()
            .map(|reduction| reduction.finish(model, seq))
            .collect()
    }

    /// Head `head` of `layer`'s replacement result, width d_model.
    pub fn head(&self, layer: usize, head: usize) -> Result<&Table> {
        let (Some(slot), Some(z), Some(weights)) = (
            self.results.get(layer).and_then(|heads| heads.get(head)),
            self.head_z.get(layer),
            self.output_weights.get(layer),
        ) else {
            return Err(ModelError::Internal(format!(
                "the reference values have no head {layer}.{head}"
            )));
        };
        if let Some(table) = slot.get() {
            return Ok(table);
        }
        let table = head_result(z, weights, head, self.results[layer].len())?;
        Ok(slot.get_or_init(|| table))
    }

    /// Lets go of the MLPs' replacement values, for a holder whose circuits neither list nor
    /// wire an MLP (a hundred resampled prompts' MLP outputs take as much memory as their
    /// heads' z); a pass that asks for them afterwards fails.
    pub fn release_mlps(&mut self) {
        self.mlps = Vec::new();
    }

    /// Layer `layer`'s MLP replacement values, unless let go of.
    pub fn mlp(&self, layer: usize) -> Result<&Table> {
        self.mlps.get(layer).ok_or_else(|| {
            ModelError::Internal(format!(
                "the MLP replacement values of layer {layer} were let go of"
            ))
        })
    }

    /// The longest prompt the activations cover.
    pub fn seq(&self) -> usize {
        self.embeddings.seq
    }

    /// The tables as arrays to cache, borrowed (`source_of_prompt` too, to keep the cache
    /// self-contained).
    pub fn to_arrays(&self) -> Arrays<'_> {
        let mut out = Arrays::new();
        for (layer, table) in self.head_z.iter().enumerate() {
            out.insert(format!("head_z.{layer:03}"), table.as_array());
            out.insert(
                format!("head_sums.{layer:03}"),
                self.head_sums[layer].as_array(),
            );
        }
        for (layer, table) in self.mlps.iter().enumerate() {
            out.insert(format!("mlps.{layer:03}"), table.as_array());
        }
        out.insert("embeddings".into(), self.embeddings.as_array());
        let sources: Vec<f32> = self.source_of_prompt.iter().map(|s| *s as f32).collect();
        out.insert(
            "source_of_prompt".into(),
            Array {
                shape: vec![sources.len()],
                values: Cow::Owned(sources),
            },
        );
        out
    }

    /// The activations [`Self::to_arrays`] gave, for `model` (whose W_O maps the heads' z);
    /// `None` where they do not fit it.
    pub fn from_arrays(
        ablation: Ablation,
        mut arrays: Arrays<'static>,
        model: &Transformer,
    ) -> Option<Self> {
        let config = model.config();
        let (layers, heads) = (config.n_layer, config.n_head);
        let mut table = |name: &str| Table::from_array(arrays.remove(name)?);
        let mut per_layer = |prefix: &str| -> Option<Vec<Table>> {
            (0..layers)
                .map(|l| table(&format!("{prefix}.{l:03}")))
                .collect()
        };
        let head_z = per_layer("head_z")?;
        let head_sums = per_layer("head_sums")?;
        let mlps = per_layer("mlps")?;
        let embeddings = table("embeddings")?;
        let sources = arrays.remove("source_of_prompt")?.values;
        let output_weights = (0..layers)
            .map(|layer| model.head_output_weights(layer))
            .collect::<Result<Vec<_>>>()
            .ok()?;
        let fits = head_z
            .iter()
            .zip(&output_weights)
            .all(|(z, w)| w.dim(0).is_ok_and(|rows| rows == z.width));
        if !fits {
            return None;
        }
        Some(Self {
            ablation,
            head_z,
            output_weights,
            results: empty_results(layers, heads),
            head_sums,
            mlps,
            embeddings,
            source_of_prompt: sources.iter().map(|s| *s as usize).collect(),
        })
    }
}

/// One scheme's reduction of the reference activations, filled prompt by prompt.
struct Reduction {
    ablation: Ablation,
    sources: Sources,
    sums: Sums,
    /// Global means average over positions too: the valid positions added.
    position_count: f64,
}

impl Reduction {
    /// Adds reference prompt `j`, of `len` tokens, to the sources it weighs in.
    fn add(&mut self, values: &PromptValues, j: usize, len: usize) {
        let weights = &self.sources.weights[j];
        if weights.is_empty() {
            return;
        }
        let positions: Vec<(usize, usize)> = match self.ablation {
            Ablation::GlobalMean => (0..len).map(|p| (p, 0)).collect(),
            _ => (0..len).map(|p| (p, p)).collect(),
        };
        self.position_count += len as f64;
        for &(source, weight) in weights {
            self.sums.add(values, source, &positions, weight);
        }
    }

    /// The replacement values.
    fn finish(mut self, model: &Transformer, seq: usize) -> Result<ReferenceActivations> {
        let config = model.config();
        let (layers, heads, d) = (config.n_layer, config.n_head, config.n_embd);
        let d_head = config.d_head();
        let sources = self.sources.count;
        if self.ablation == Ablation::GlobalMean {
            for values in self.sums.every_mut() {
                if let Values::Sums(sums) = values {
                    average_over_positions(sums, seq, self.position_count);
                }
            }
        }
        let Sums {
            heads: z_sums,
            mlps: mlp_sums,
            embeddings: embed_sums,
            ..
        } = self.sums;
        // Heads are kept as their z; the sum of every head's result is made here, in f64,
        // one head at a time, from the same products `head` gives.
        let mut head_z = Vec::with_capacity(layers);
        let mut output_weights = Vec::with_capacity(layers);
        let mut head_totals = Vec::with_capacity(layers);
        for (layer, z) in z_sums.into_iter().enumerate() {
            let z = z.into_table(sources, seq, heads * d_head);
            let weights = model.head_output_weights(layer)?;
            let mut total = vec![0f64; sources * seq * d];
            for head in 0..heads {
                let result = head_result(&z, &weights, head, heads)?;
                for (sum, value) in total.iter_mut().zip(&result.values) {
                    *sum += f64::from(*value);
                }
            }
            head_totals.push(Table::from_sums(&total, sources, seq, d));
            head_z.push(z);
            output_weights.push(weights);
        }
        Ok(ReferenceActivations {
            ablation: self.ablation,
            head_z,
            output_weights,
            results: empty_results(layers, heads),
            head_sums: head_totals,
            mlps: mlp_sums
                .into_iter()
                .map(|values| values.into_table(sources, seq, d))
                .collect(),
            embeddings: embed_sums.into_table(sources, seq, d),
            source_of_prompt: self.sources.of_prompt,
        })
    }
}

/// No head's result made yet.
fn empty_results(layers: usize, heads: usize) -> Vec<Vec<OnceLock<Table>>> {
    (0..layers)
        .map(|_| (0..heads).map(|_| OnceLock::new()).collect())
        .collect()
}

/// Head `head`'s result from a table of `heads` heads' z: its z times its rows of W_O.
fn head_result(z: &Table, output_weights: &Tensor, head: usize, heads: usize) -> Result<Table> {
    let d_head = z.width / heads.max(1);
    let columns: Vec<f32> = z
        .values
        .chunks(z.width)
        .flat_map(|row| row[head * d_head..(head + 1) * d_head].iter().copied())
        .collect();
    let z_head = Tensor::from_vec(
        columns,
        (z.sources * z.seq, d_head),
        output_weights.device(),
    )?;
    let weights = output_weights.narrow(0, head * d_head, d_head)?;
    let values: Vec<f32> = z_head.matmul(&weights)?.flatten_all()?.to_vec1()?;
    Ok(Table {
        sources: z.sources,
        seq: z.seq,
        width: output_weights.dim(1)?,
        values,
    })
}

/// What the replacement values are made of: `count` sources, the source of each prompt,
/// and what each reference prompt adds to which source, with which weight.
struct Sources {
    count: usize,
    of_prompt: Vec<usize>,
    weights: Vec<Vec<(usize, f64)>>,
}

impl Sources {
    fn of(dataset: &Dataset, ablation: Ablation, seed: u64) -> Result<Self> {
        let n = dataset.reference.len();
        Ok(match ablation {
            Ablation::Mean => {
                // Each reference prompt adds 1/(size of its group) to its group's mean.
                let mut sizes = vec![0usize; dataset.groups.len()];
                for prompt in &dataset.reference {
                    sizes[prompt.group] += 1;
                }
                Self {
                    count: dataset.groups.len(),
                    of_prompt: dataset.prompts.iter().map(|p| p.group).collect(),
                    weights: dataset
                        .reference
                        .iter()
                        .map(|p| vec![(p.group, 1.0 / sizes[p.group] as f64)])
                        .collect(),
                }
            }
            Ablation::GlobalMean => Self {
                count: 1,
                of_prompt: vec![0; dataset.prompts.len()],
                weights: vec![vec![(0, 1.0)]; n],
            },
            Ablation::Resample => {
                // Only the reference prompts drawn are sources, numbered as first drawn.
                let mut slot = vec![None; n];
                let mut used = 0;
                let of_prompt = resample(dataset, seed)?
                    .iter()
                    .map(|j| {
                        *slot[*j].get_or_insert_with(|| {
                            used += 1;
                            used - 1
                        })
                    })
                    .collect();
                Self {
                    count: used,
                    of_prompt,
                    weights: slot
                        .iter()
                        .map(|s| s.map(|s| vec![(s, 1.0)]).unwrap_or_default())
                        .collect(),
                }
            }
            Ablation::Zero => Self {
                count: 1,
                of_prompt: vec![0; dataset.prompts.len()],
                weights: vec![Vec::new(); n],
            },
        })
    }
}

/// For each prompt, the reference prompt (an index into `dataset.reference`) of its group
/// whose activations replace its own under resample ablation, drawn with `seed`.
pub fn resample(dataset: &Dataset, seed: u64) -> Result<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    dataset
        .prompts
        .iter()
        .enumerate()
        .map(|(i, prompt)| {
            let same: Vec<usize> = (0..dataset.reference.len())
                .filter(|j| dataset.reference[*j].group == prompt.group)
                .collect();
            same.choose(&mut rng).copied().ok_or_else(|| {
                ModelError::Internal(format!("prompt {i} has no reference prompt in its group"))
            })
        })
        .collect()
}

/// Adds `weight × values` (`[len, width]`) into `sums` (`[sources, seq, width]`) at `source`,
/// each value at position `from` into position `to`.
/// Weighted sums of the activations of reference prompts, per source, position and layer.
struct Sums {
    heads: Vec<Values>,
    mlps: Vec<Values>,
    embeddings: Values,
    seq: usize,
    d: usize,
    head_width: usize,
}

/// One reference prompt's captured activations, its own rows only, flattened.
struct PromptValues {
    /// Per layer, each head's z.
    heads: Vec<Vec<f32>>,
    mlps: Vec<Vec<f32>>,
    embeddings: Vec<f32>,
}

impl PromptValues {
    /// Row `offset` of a batch's captures, its first `len` positions.
    fn of(out: &Output, embeddings: &Tensor, offset: usize, len: usize) -> Result<Self> {
        let own = |t: &Tensor| -> Result<Vec<f32>> {
            Ok(t.get(offset)?.narrow(0, 0, len)?.flatten_all()?.to_vec1()?)
        };
        Ok(Self {
            heads: out.head_z.iter().map(own).collect::<Result<_>>()?,
            mlps: out.mlp_outputs.iter().map(own).collect::<Result<_>>()?,
            embeddings: own(embeddings)?,
        })
    }
}

impl Sums {
    /// Sums of `head_width` floats per position for the heads of each layer, `d` for the
    /// MLPs and the embeddings.
    /// `copies`: each source is one reference prompt's own values, with weight 1.
    fn new(
        layers: usize,
        sources: usize,
        seq: usize,
        head_width: usize,
        d: usize,
        copies: bool,
    ) -> Self {
        let zeros = |width: usize| Values::zeros(sources * seq * width, copies);
        Self {
            heads: (0..layers).map(|_| zeros(head_width)).collect(),
            mlps: (0..layers).map(|_| zeros(d)).collect(),
            embeddings: zeros(d),
            seq,
            d,
            head_width,
        }
    }

    /// Adds `weight` times a prompt's values to `source`'s sums, each `(from, to)` of
    /// `positions` adding the prompt's position `from` into the sums' position `to`.
    fn add(
        &mut self,
        values: &PromptValues,
        source: usize,
        positions: &[(usize, usize)],
        weight: f64,
    ) {
        let (seq, d, head_width) = (self.seq, self.d, self.head_width);
        let targets = self
            .heads
            .iter_mut()
            .zip(&values.heads)
            .map(|(sums, values)| (sums, values, head_width))
            .chain(
                self.mlps
                    .iter_mut()
                    .zip(&values.mlps)
                    .map(|(sums, values)| (sums, values, d)),
            )
            .chain(std::iter::once((
                &mut self.embeddings,
                &values.embeddings,
                d,
            )));
        for (sums, values, width) in targets {
            accumulate(sums, values, source, seq, width, positions, weight);
        }
    }

    fn every_mut(&mut self) -> impl Iterator<Item = &mut Values> {
        self.heads
            .iter_mut()
            .chain(self.mlps.iter_mut())
            .chain(std::iter::once(&mut self.embeddings))
    }
}

fn accumulate(
    sums: &mut Values,
    values: &[f32],
    source: usize,
    seq: usize,
    width: usize,
    positions: &[(usize, usize)],
    weight: f64,
) {
    for &(from, to) in positions {
        let target = (source * seq + to) * width;
        sums.add(target, &values[from * width..(from + 1) * width], weight);
    }
}

/// The source of everything cached activations depend on besides their inputs: this file,
/// the model, the cache's format and the dependencies' versions. Part of the cache key, so
/// changing the computation invalidates old entries without anyone remembering to.
const COMPUTATION: &[&str] = &[
    include_str!("reference.rs"),
    include_str!("cache.rs"),
    include_str!("../model/transformer.rs"),
    include_str!("../model/layers.rs"),
    include_str!("../model/gpt2.rs"),
    include_str!("../model/neox.rs"),
    include_str!("../model/llama.rs"),
    include_str!("../model/gemma2.rs"),
    include_str!("../model/intervention.rs"),
    include_str!("../model/weights.rs"),
    include_str!("../model/config.rs"),
    include_str!("../task/dataset.rs"),
    include_str!("../../Cargo.lock"),
];

/// Reference activations from the cache when a valid entry exists, else computed and
/// stored. Returns what the cache lookup found (for reports and tests).
pub fn load_or_compute(
    model: &Transformer,
    model_identity: &str,
    dataset: &Dataset,
    ablation: Ablation,
    seed: u64,
    cache: &crate::eval::cache::Cache,
) -> Result<(ReferenceActivations, crate::eval::cache::Lookup)> {
    load_or_compute_each(model, model_identity, dataset, &[ablation], seed, cache)?
        .pop()
        .ok_or_else(|| ModelError::Internal("no reference values computed".into()))
}

/// [`load_or_compute`] for each of `ablations`; those the cache lacks are computed together,
/// from one pass over the reference prompts.
pub fn load_or_compute_each(
    model: &Transformer,
    model_identity: &str,
    dataset: &Dataset,
    ablations: &[Ablation],
    seed: u64,
    cache: &crate::eval::cache::Cache,
) -> Result<Vec<(ReferenceActivations, crate::eval::cache::Lookup)>> {
    use crate::eval::cache::Cache;
    let dataset_json = serde_json::to_vec(dataset).expect("datasets serialise");
    let key = |ablation: Ablation| {
        Cache::key(&[
            COMPUTATION.concat().as_bytes(),
            model_identity.as_bytes(),
            &dataset_json,
            ablation.name().as_bytes(),
            // Only resampling draws with the seed (the dataset, which the seed also made, is
            // part of the key already).
            &(if ablation == Ablation::Resample {
                seed
            } else {
                0
            })
            .to_le_bytes(),
        ])
    };
    let mut found = Vec::with_capacity(ablations.len());
    let mut missing = Vec::new();
    for ablation in ablations {
        let (lookup, arrays) = cache.load(&key(*ablation));
        let cached = arrays.and_then(|a| ReferenceActivations::from_arrays(*ablation, a, model));
        if cached.is_none() {
            missing.push(*ablation);
        }
        found.push((cached, lookup));
    }
    let mut computed =
        ReferenceActivations::compute_each(model, dataset, &missing, seed)?.into_iter();
    found
        .into_iter()
        .map(|(cached, lookup)| match cached {
            Some(activations) => Ok((activations, lookup)),
            None => {
                let activations = computed.next().ok_or_else(|| {
                    ModelError::Internal("fewer reference values computed than asked".into())
                })?;
                if let Err(reason) =
                    cache.store(&key(activations.ablation), &activations.to_arrays())
                {
                    eprintln!("warning: could not cache reference activations: {reason}");
                }
                Ok((activations, lookup))
            }
        })
        .collect()
}
