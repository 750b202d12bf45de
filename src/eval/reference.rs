//! Replacement values for knocked-out components, from the task's reference distribution:
//! per template and position means (the paper's), global means, resampled activations, or
//! zero.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Tensor};
use rand::SeedableRng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::dsl::Ablation;
use crate::model::error::Result;
use crate::model::{Batch, Capture, Gpt2, Interventions, ModelError, Readout};
use crate::task::Dataset;

/// Replacement activations for every head result, MLP output and the embeddings. The first
/// dimension of each tensor is a *source*; `source_of_prompt` says which source replaces
/// the components of each dataset prompt.
#[derive(Clone, Debug)]
pub struct ReferenceActivations {
    pub ablation: Ablation,
    /// Per layer `[sources, seq, heads, d_model]`.
    pub heads: Vec<Tensor>,
    /// Per layer `[sources, seq, d_model]`.
    pub mlps: Vec<Tensor>,
    /// `[sources, seq, d_model]`.
    pub embeddings: Tensor,
    pub source_of_prompt: Vec<usize>,
}

/// Reference prompts per forward pass while collecting activations.
const CHUNK: usize = 32;

impl ReferenceActivations {
    /// Runs the model over the reference prompts and reduces their activations as `ablation`
    /// asks. `seed` picks the reference prompt of each prompt for `Resample`.
    pub fn compute(model: &Gpt2, dataset: &Dataset, ablation: Ablation, seed: u64) -> Result<Self> {
        let device = model.device().clone();
        let config = model.config();
        let (layers, heads, d) = (config.n_layer, config.n_head, config.n_embd);
        let seq = dataset
            .prompts
            .iter()
            .map(|p| p.tokens.len())
            .max()
            .unwrap_or(0);
        let n = dataset.reference.len();
        let (sources, source_of_prompt, weights) = match ablation {
            Ablation::Mean => {
                let groups = dataset.groups.len();
                let of_prompt: Vec<usize> = dataset.prompts.iter().map(|p| p.group).collect();
                // Each reference prompt adds 1/(size of its group) to its group's mean.
                let mut sizes = vec![0usize; groups];
                for prompt in &dataset.reference {
                    sizes[prompt.group] += 1;
                }
                let weights = dataset
                    .reference
                    .iter()
                    .map(|p| vec![(p.group, 1.0 / sizes[p.group] as f64)])
                    .collect();
                (groups, of_prompt, weights)
            }
            Ablation::GlobalMean => (1, vec![0; dataset.prompts.len()], vec![vec![(0, 1.0)]; n]),
            Ablation::Resample => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed);
                let of_prompt = dataset
                    .prompts
                    .iter()
                    .map(|prompt| {
                        let same: Vec<usize> = (0..n)
                            .filter(|j| dataset.reference[*j].group == prompt.group)
                            .collect();
                        *same
                            .choose(&mut rng)
                            .expect("each prompt has its own reference")
                    })
                    .collect();
                (n, of_prompt, (0..n).map(|j| vec![(j, 1.0)]).collect())
            }
            Ablation::Zero => {
                return Ok(Self {
                    ablation,
                    heads: vec![Tensor::zeros((1, seq, heads, d), DType::F32, &device)?; layers],
                    mlps: vec![Tensor::zeros((1, seq, d), DType::F32, &device)?; layers],
                    embeddings: Tensor::zeros((1, seq, d), DType::F32, &device)?,
                    source_of_prompt: vec![0; dataset.prompts.len()],
                });
            }
        };
        let mut head_sums = vec![vec![0f64; sources * seq * heads * d]; layers];
        let mut mlp_sums = vec![vec![0f64; sources * seq * d]; layers];
        let mut embed_sums = vec![0f64; sources * seq * d];
        // Global means average over positions too: count valid positions per source.
        let mut position_counts = vec![0f64; sources * seq];
        let capture = Capture {
            head_results: true,
            mlp_outputs: true,
            residuals: true,
            ..Default::default()
        };
        for start in (0..n).step_by(CHUNK) {
            let chunk = &dataset.reference[start..(start + CHUNK).min(n)];
            let tokens: Vec<Vec<u32>> = chunk.iter().map(|p| p.tokens.clone()).collect();
            let mut padded = tokens.clone();
            for row in &mut padded {
                row.resize(seq, 0);
            }
            let batch = Batch::new(&padded, &device)?;
            let out = model.forward(&batch, &Interventions::none(), capture, &Readout::None)?;
            let embeddings = out
                .embeddings
                .as_ref()
                .ok_or_else(|| ModelError::Input("no embeddings".into()))?;
            for (offset, prompt) in chunk.iter().enumerate() {
                let len = prompt.tokens.len();
                // This prompt's rows of a captured `[rows, seq, …]` tensor, flattened.
                let own = |t: &Tensor| -> Result<Vec<f32>> {
                    Ok(t.get(offset)?.narrow(0, 0, len)?.flatten_all()?.to_vec1()?)
                };
                let head_values = out
                    .head_results
                    .iter()
                    .map(own)
                    .collect::<Result<Vec<_>>>()?;
                let mlp_values = out
                    .mlp_outputs
                    .iter()
                    .map(own)
                    .collect::<Result<Vec<_>>>()?;
                let embed_values = own(embeddings)?;
                let positions: Vec<(usize, usize)> = match ablation {
                    Ablation::GlobalMean => (0..len).map(|p| (p, 0)).collect(),
                    _ => (0..len).map(|p| (p, p)).collect(),
                };
                for &(source, weight) in &weights[start + offset] {
                    for &(p, _) in &positions {
                        position_counts[source * seq + p] += weight;
                    }
                    let targets = head_sums
                        .iter_mut()
                        .zip(&head_values)
                        .map(|(sums, values)| (sums, values, heads * d))
                        .chain(
                            mlp_sums
                                .iter_mut()
                                .zip(&mlp_values)
                                .map(|(sums, values)| (sums, values, d)),
                        )
                        .chain(std::iter::once((&mut embed_sums, &embed_values, d)));
                    for (sums, values, width) in targets {
                        accumulate(
                            sums, values, source, seq, width, &positions, weight, ablation,
                        );
                    }
                }
            }
        }
        let finish = |sums: Vec<f64>, width: usize, shape: &[usize]| -> Result<Tensor> {
            let values: Vec<f32> = match ablation {
                // Sums over all valid positions of all prompts, divided by their number.
                Ablation::GlobalMean => {
                    let total: f64 = position_counts.iter().sum();
                    let mean: Vec<f64> = sums[..width].iter().map(|v| v / total).collect();
                    (0..seq)
                        .flat_map(|_| mean.iter().map(|v| *v as f32))
                        .collect()
                }
                _ => sums.iter().map(|v| *v as f32).collect(),
            };
            Ok(Tensor::from_vec(values, shape, &device)?)
        };
        let heads_out = head_sums
            .into_iter()
            .map(|sums| finish(sums, heads * d, &[sources, seq, heads, d]))
            .collect::<Result<Vec<_>>>()?;
        let mlps_out = mlp_sums
            .into_iter()
            .map(|sums| finish(sums, d, &[sources, seq, d]))
            .collect::<Result<Vec<_>>>()?;
        let embeddings = finish(embed_sums, d, &[sources, seq, d])?;
        Ok(Self {
            ablation,
            heads: heads_out,
            mlps: mlps_out,
            embeddings,
            source_of_prompt,
        })
    }

    fn sources_of(&self, prompts: &[usize], device: &Device) -> Result<Tensor> {
        let ids: Vec<u32> = prompts
            .iter()
            .map(|p| self.source_of_prompt[*p] as u32)
            .collect();
        Ok(Tensor::new(ids, device)?)
    }

    /// Rows of `source` (`[sources, seq, …]`) for batch rows that are the given prompts, cut
    /// to the batch's padded length `seq` (a subset of prompts may be shorter than the
    /// longest prompt of the dataset the activations were computed for).
    fn select(&self, source: &Tensor, prompts: &[usize], seq: usize) -> Result<Tensor> {
        let stored = source.dim(1)?;
        if seq > stored {
            return Err(ModelError::Internal(format!(
                "a batch of {seq} positions asks for replacements computed for {stored}"
            )));
        }
        let picked = source.index_select(&self.sources_of(prompts, source.device())?, 0)?;
        Ok(picked.narrow(1, 0, seq)?.contiguous()?)
    }

    /// Head replacements for batch rows that are the given prompts, `[rows, seq, heads, d]`.
    pub fn head_replacement(&self, layer: usize, prompts: &[usize], seq: usize) -> Result<Tensor> {
        self.select(&self.heads[layer], prompts, seq)
    }

    /// MLP replacements, `[rows, seq, d]`.
    pub fn mlp_replacement(&self, layer: usize, prompts: &[usize], seq: usize) -> Result<Tensor> {
        self.select(&self.mlps[layer], prompts, seq)
    }

    /// Embedding replacements, `[rows, seq, d]`.
    pub fn embed_replacement(&self, prompts: &[usize], seq: usize) -> Result<Tensor> {
        self.select(&self.embeddings, prompts, seq)
    }

    /// The tensors to cache (everything but `source_of_prompt`, which is cheap to rebuild
    /// and is stored as a tensor too, to keep the cache self-contained).
    pub fn to_tensors(&self) -> Result<BTreeMap<String, Tensor>> {
        let mut out = BTreeMap::new();
        for (layer, tensor) in self.heads.iter().enumerate() {
            out.insert(format!("heads.{layer:03}"), tensor.clone());
        }
        for (layer, tensor) in self.mlps.iter().enumerate() {
            out.insert(format!("mlps.{layer:03}"), tensor.clone());
        }
        out.insert("embeddings".into(), self.embeddings.clone());
        let sources: Vec<f32> = self.source_of_prompt.iter().map(|s| *s as f32).collect();
        let len = sources.len();
        out.insert(
            "source_of_prompt".into(),
            Tensor::from_vec(sources, len, self.embeddings.device())?,
        );
        Ok(out)
    }

    pub fn from_tensors(
        ablation: Ablation,
        mut tensors: BTreeMap<String, Tensor>,
        layers: usize,
    ) -> Option<Self> {
        let heads = (0..layers)
            .map(|l| tensors.remove(&format!("heads.{l:03}")))
            .collect::<Option<Vec<_>>>()?;
        let mlps = (0..layers)
            .map(|l| tensors.remove(&format!("mlps.{l:03}")))
            .collect::<Option<Vec<_>>>()?;
        let embeddings = tensors.remove("embeddings")?;
        let sources: Vec<f32> = tensors.remove("source_of_prompt")?.to_vec1().ok()?;
        Some(Self {
            ablation,
            heads,
            mlps,
            embeddings,
            source_of_prompt: sources.iter().map(|s| *s as usize).collect(),
        })
    }
}

/// Adds `weight × values` (`[len, width]`) into `sums` (`[sources, seq, width]`) at `source`;
/// a global mean folds every position into position 0.
#[allow(clippy::too_many_arguments)]
fn accumulate(
    sums: &mut [f64],
    values: &[f32],
    source: usize,
    seq: usize,
    width: usize,
    positions: &[(usize, usize)],
    weight: f64,
    ablation: Ablation,
) {
    for &(from, to) in positions {
        let to = if ablation == Ablation::GlobalMean {
            0
        } else {
            to
        };
        let target = (source * seq + to) * width;
        let row = &values[from * width..(from + 1) * width];
        for (sum, value) in sums[target..target + width].iter_mut().zip(row) {
            *sum += weight * *value as f64;
        }
    }
}

/// The source of everything cached activations depend on besides their inputs: this file,
/// the model, the cache's format and the dependencies' versions. Part of the cache key, so
/// changing the computation invalidates old entries without anyone remembering to.
const COMPUTATION: &[&str] = &[
    include_str!("reference.rs"),
    include_str!("cache.rs"),
    include_str!("../model/gpt2.rs"),
    include_str!("../model/intervention.rs"),
    include_str!("../model/weights.rs"),
    include_str!("../model/config.rs"),
    include_str!("../task/dataset.rs"),
    include_str!("../../Cargo.lock"),
];

/// Reference activations from the cache when a valid entry exists, else computed and
/// stored. Returns what the cache lookup found (for reports and tests).
pub fn load_or_compute(
    model: &Gpt2,
    model_identity: &str,
    dataset: &Dataset,
    ablation: Ablation,
    seed: u64,
    cache: &crate::eval::cache::Cache,
) -> Result<(ReferenceActivations, crate::eval::cache::Lookup)> {
    use crate::eval::cache::Cache;
    let dataset_json = serde_json::to_vec(dataset).expect("datasets serialise");
    let key = Cache::key(&[
        COMPUTATION.concat().as_bytes(),
        model_identity.as_bytes(),
        &dataset_json,
        ablation.name().as_bytes(),
        &seed.to_le_bytes(),
    ]);
    let layers = model.config().n_layer;
    let (lookup, tensors) = cache.load(&key, model.device());
    if let Some(activations) =
        tensors.and_then(|t| ReferenceActivations::from_tensors(ablation, t, layers))
    {
        return Ok((activations, lookup));
    }
    let activations = ReferenceActivations::compute(model, dataset, ablation, seed)?;
    if let Err(reason) = cache.store(&key, &activations.to_tensors()?) {
        eprintln!("warning: could not cache reference activations: {reason}");
    }
    Ok((activations, lookup))
}
