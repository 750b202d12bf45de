//! Scores knockout variants on prompts of one length (see [`super::Runner`], which splits a
//! dataset into such groups so no pass computes padding). Does as little work as it can,
//! always with the same result:
//! - each variant is computed once (memoised);
//! - variants build on *bases*, passes whose residual streams (and keys and values) are kept:
//!   M and C always, and whichever variants a search is about to extend (`keep_bases`). A
//!   variant that knocks out, beyond its base's K, heads from layer L on resumes from the
//!   base's residual stream at L;
//! - at node level, C \ K differs from its base C \ K' only from the first position where
//!   the base keeps a head of K \ K': only that window at the end of each prompt is
//!   recomputed, reading the earlier positions' keys and values from the base (attention is
//!   causal);
//! - at node level ∅ keeps no head, so no position reads another: only the readout's
//!   positions are computed;
//! - several variants share one batch, and only the answer logits are read.

use std::collections::{BTreeMap, HashMap};

use candle_core::Tensor;

use crate::dsl::{Channel, Circuit, Head, Level, Receiver, Sender};
use crate::eval::patch::{Patcher, Row, Wiring};
use crate::eval::reference::ReferenceActivations;
use crate::eval::variant::{Layout, Plan, Scope, Variant};
use crate::model::{self, error::Result};
use crate::model::{Batch, Capture, EdgeSender, KeyValues, Readout, Transformer, Window};
use crate::task::{Dataset, MetricKind, Prompt};

/// Upper bounds on one forward pass: token positions (which also bound the memory a pass
/// holds), and rows (a window pass's rows each read every position's keys and values).
const MAX_TOKENS: usize = 1024;
const MAX_ROWS: usize = 512;

/// Positions per pass that only scores, at edge level (see `rows_per_pass`).
const MAX_EDGE_TOKENS: usize = 256;

/// Bases kept besides M and C (each holds every layer's residual stream for every prompt);
/// the least recently made goes first. A greedy step's candidates resume from the current
/// K's pair, never from an earlier step's.
const MAX_EXTRA_BASES: usize = 2;

pub(super) struct Group<'a> {
    model: &'a Transformer,
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
    /// M and C first (when made), then the extra bases, oldest first.
    bases: Vec<BasePass>,
    /// Recompute only the changed window of C's variants (on by default; off gives the plain
    /// path, to compare with).
    pub windows: bool,
    /// Keep M's and C's passes as bases when their scope is scored (see [`super::Runner`]).
    pub roots: bool,
    /// Forward passes run so far (for tests and progress), and how many of them recomputed
    /// a window only.
    pub passes: usize,
    pub window_passes: usize,
    /// Positions computed through one layer, summed over passes (a full pass over prompts of
    /// n tokens in all computes n · layers).
    pub work: usize,
}

/// What a base pass leaves for the variants built on it.
struct BasePass {
    variant: Variant,
    /// Names the base in routes (indices shift as bases come and go).
    id: usize,
    /// The residual stream entering each layer, `[prompts, seq, d_model]`.
    residuals: Vec<Tensor>,
    /// The keys and values of every head it computed (C's variants at node level, for
    /// windows).
    key_values: Option<KeyValues>,
}

/// How a variant is computed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Route {
    /// From the embeddings.
    Full,
    /// From a base's residual stream at a layer.
    Resume { base: usize, layer: usize },
    /// From a base's residual streams, only some positions of each row (as many for each,
    /// padded): from its first changed one on, those where a head is kept and the
    /// readout's; each row from its own first changed layer (`joins`, ascending), rows
    /// variant by variant, prompt by prompt.
    Window {
        base: usize,
        joins: Vec<usize>,
        columns: Vec<Vec<usize>>,
    },
    /// From the embeddings, only the readout's positions (per row, as for windows): a pass
    /// in which no head is kept, where each position reads only itself.
    Readout { columns: Vec<Vec<usize>> },
}

/// Where passes start that can share a batch: the embeddings (every position, or the
/// readout's), a base at a layer, or a base's windows (at any layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Shared {
    Full,
    Resume { base: usize, layer: usize },
    Window { base: usize },
    Readout,
}

impl Route {
    fn shared(&self) -> Shared {
        match self {
            Route::Full => Shared::Full,
            Route::Resume { base, layer } => Shared::Resume {
                base: *base,
                layer: *layer,
            },
            Route::Window { base, .. } => Shared::Window { base: *base },
            Route::Readout { .. } => Shared::Readout,
        }
    }

    /// The first layer the route's pass computes.
    fn first_layer(&self) -> usize {
        match self {
            Route::Resume { layer, .. } => *layer,
            Route::Window { joins, .. } => joins.first().copied().unwrap_or(0),
            Route::Full | Route::Readout { .. } => 0,
        }
    }
}

impl Wiring {
    /// Senders: the circuit's heads, then the MLPs its edges name; every circuit head
    /// receives (what it is not wired to, it sees replaced), and so does every wired MLP.
    fn new(circuit: &Circuit) -> Self {
        let wired = circuit.wired_mlps();
        let senders: Vec<EdgeSender> = circuit
            .heads()
            .iter()
            .map(|h| EdgeSender::Head(h.layer as usize, h.head as usize))
            .chain(wired.iter().map(|layer| EdgeSender::Mlp(*layer as usize)))
            .collect();
        let slots: HashMap<Sender, usize> = std::iter::once((Sender::Embed, 0))
            .chain(senders.iter().enumerate().map(|(i, sender)| {
                let sender = match *sender {
                    EdgeSender::Head(l, h) => Sender::Head(Head::new(l as u32, h as u32)),
                    EdgeSender::Mlp(l) => Sender::Mlp(l as u32),
                };
                (sender, i + 1)
            }))
            .collect();
        let empty = vec![false; senders.len() + 1];
        let mut receivers: BTreeMap<(usize, usize), [Vec<bool>; 3]> = circuit
            .heads()
            .iter()
            .map(|h| {
                let lists = [empty.clone(), empty.clone(), empty.clone()];
                ((h.layer as usize, h.head as usize), lists)
            })
            .collect();
        let mut mlp_receivers: BTreeMap<usize, Vec<bool>> = wired
            .iter()
            .map(|layer| (*layer as usize, empty.clone()))
            .collect();
        let mut logits = empty.clone();
        for (sender, receiver) in circuit.wires() {
            let slot = slots[&sender];
            let list = match receiver {
                Receiver::Head(head, channel) => {
                    let index = match channel {
                        Channel::Q => model::Channel::Q,
                        Channel::K => model::Channel::K,
                        Channel::V => model::Channel::V,
                    } as usize;
                    receivers
                        .get_mut(&(head.layer as usize, head.head as usize))
                        .map(|lists| &mut lists[index])
                }
                Receiver::Mlp(layer) => mlp_receivers.get_mut(&(layer as usize)),
                Receiver::Logits => Some(&mut logits),
            };
            if let Some(list) = list {
                list[slot] = true;
            }
        }
        Self {
            senders,
            receivers,
            mlp_receivers,
            logits,
        }
    }
}

impl<'a> Group<'a> {
    pub fn new(
        model: &'a Transformer,
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
            bases: Vec::new(),
            windows: true,
            roots: true,
            passes: 0,
            window_passes: 0,
            work: 0,
        }
    }

    /// Each prompt's score under each variant.
    pub fn scores(
        &mut self,
        variants: &[Variant],
        report: &mut dyn FnMut(usize),
    ) -> Result<Vec<Vec<f64>>> {
        let mut todo: Vec<Variant> = Vec::new();
        for variant in variants {
            if !self.memo.contains_key(variant) && !todo.contains(variant) {
                todo.push(variant.clone());
            }
        }
        // M and C first: the other variants of their scope build on them.
        for scope in [Scope::Model, Scope::Circuit] {
            let root = Variant::new(scope, Default::default());
            if self.roots
                && todo.iter().any(|v| v.scope == scope)
                && self.can_resume(scope)
                && !self.bases.iter().any(|b| b.variant == root)
            {
                self.make_base(&root)?;
                todo.retain(|v| *v != root);
                report(1);
            }
        }
        // Variants that start from the same place share passes; windows from one base do
        // whatever layer they start at, each row joining at its own.
        let mut batches: BTreeMap<Shared, Vec<(Variant, Route)>> = BTreeMap::new();
        for variant in todo {
            let route = self.route(&variant);
            batches
                .entry(route.shared())
                .or_default()
                .push((variant, route));
        }
        for (_, mut members) in batches {
            members.sort_by_key(|(_, route)| route.first_layer());
            let width = members
                .iter()
                .map(|(_, route)| self.width(route))
                .max()
                .unwrap_or(1);
            let per_pass = (MAX_TOKENS / (self.prompts.len() * width).max(1))
                .min(MAX_ROWS / self.prompts.len().max(1))
                .max(1);
            for chunk in members.chunks(per_pass) {
                let variants: Vec<Variant> = chunk.iter().map(|(v, _)| v.clone()).collect();
                let route = self.joined(chunk);
                let scores = self
                    .run_batch(&variants, &route, Capture::default())
                    .map_err(|e| self.context(e, &variants, &route))?
                    .0;
                for (variant, scores) in variants.into_iter().zip(scores) {
                    self.memo.insert(variant, scores);
                }
                report(chunk.len());
            }
        }
        Ok(variants.iter().map(|v| self.memo[v].clone()).collect())
    }

    /// Columns per row of a route's pass (every position for full and resumed passes).
    fn width(&self, route: &Route) -> usize {
        match route {
            Route::Window { columns, .. } | Route::Readout { columns } => {
                columns.first().map_or(0, Vec::len)
            }
            Route::Full | Route::Resume { .. } => self.seq,
        }
    }

    /// One route for the variants of `chunk`, which share a start: their rows one after the
    /// other, each with its own columns (padded to the widest) and first layer.
    fn joined(&self, chunk: &[(Variant, Route)]) -> Route {
        let columns = || {
            let rows = chunk.iter().flat_map(|(_, route)| match route {
                Route::Window { columns, .. } | Route::Readout { columns } => columns.clone(),
                Route::Full | Route::Resume { .. } => Vec::new(),
            });
            self.padded(rows.collect())
        };
        match &chunk[0].1 {
            Route::Window { base, .. } => Route::Window {
                base: *base,
                joins: chunk
                    .iter()
                    .flat_map(|(_, route)| match route {
                        Route::Window { joins, .. } => joins.clone(),
                        _ => Vec::new(),
                    })
                    .collect(),
                columns: columns(),
            },
            Route::Readout { .. } => Route::Readout { columns: columns() },
            route => route.clone(),
        }
    }

    /// Scores `variants` and keeps their passes as bases for the variants that extend them
    /// (a greedy search's current K, before it tries each next head).
    pub fn keep_bases(
        &mut self,
        variants: &[Variant],
        report: &mut dyn FnMut(usize),
    ) -> Result<()> {
        for variant in variants {
            if !self.can_resume(variant.scope) || self.bases.iter().any(|b| b.variant == *variant) {
                continue;
            }
            let root = Variant::new(variant.scope, Default::default());
            if *variant != root && !self.bases.iter().any(|b| b.variant == root) {
                self.make_base(&root)?;
                report(1);
            }
            let scored = self.memo.contains_key(variant);
            self.make_base(variant)?;
            if !scored {
                report(1);
            }
        }
        Ok(())
    }

    /// Drops every base but M and C.
    pub fn release_bases(&mut self) {
        self.bases.retain(|b| b.variant.knocked_out.is_empty());
    }

    /// First-order estimates of how much knocking out each of `heads` on top of `variant`
    /// changes F (the mean score over this runner's prompts), from one differentiable pass
    /// of `variant`: for head h of layer l, Σ (replacement − result)·∂F/∂out_l over the
    /// positions where `variant` keeps h, averaged over prompts. For ranking candidates; every
    /// figure reported is scored exactly.
    pub fn attribution(&mut self, variant: &Variant, heads: &[Head]) -> Result<Vec<f64>> {
        let rows = self.rows(1, None);
        let interventions =
            self.patcher()
                .interventions(std::slice::from_ref(variant), &rows, self.seq)?;
        let readout = self.readout(&rows)?;
        let objective = self.objective(&rows)?;
        let attribution =
            self.model
                .attribution(&self.batch(&rows)?, &interventions, &readout, &objective)?;
        self.passes += 1;
        let d = self.reference.embeddings.width;
        let heads_per_layer = self.plan.heads as usize;
        let mut per_layer: BTreeMap<usize, (Vec<f32>, Vec<f32>)> = BTreeMap::new();
        let mut estimates = Vec::with_capacity(heads.len());
        for head in heads {
            let layer = head.layer as usize;
            let (gradients, results) = match per_layer.entry(layer) {
                std::collections::btree_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::btree_map::Entry::Vacant(entry) => entry.insert((
                    attribution.gradients[layer].flatten_all()?.to_vec1()?,
                    attribution.results[layer].flatten_all()?.to_vec1()?,
                )),
            };
            let h = head.head as usize;
            let table = self.reference.head(layer, h)?;
            let mut total = 0f64;
            for row in &rows {
                let kept = self.plan.head(variant, *head, row.prompt);
                let source = self.reference.source_of_prompt[self.prompts[row.prompt]];
                for t in 0..self.layouts[row.prompt].len {
                    if !kept.at(t) {
                        continue;
                    }
                    let at = row.prompt * self.seq + t;
                    let g = &gradients[at * d..(at + 1) * d];
                    let r = &results
                        [(at * heads_per_layer + h) * d..(at * heads_per_layer + h + 1) * d];
                    let replacement = table.at(source, t);
                    total += (0..d)
                        .map(|j| ((replacement[j] - r[j]) * g[j]) as f64)
                        .sum::<f64>();
                }
            }
            estimates.push(total);
        }
        Ok(estimates)
    }

    fn objective(&self, rows: &[Row]) -> Result<model::Objective> {
        let prompts: Vec<&Prompt> = rows.iter().map(|row| self.prompt(row)).collect();
        crate::eval::readout::objective(
            self.dataset,
            &prompts,
            self.model.config().vocab_size,
            self.model.device(),
        )
    }

    fn prompt(&self, row: &Row) -> &'a Prompt {
        &self.dataset.prompts[self.prompts[row.prompt]]
    }

    fn context(
        &self,
        error: model::ModelError,
        variants: &[Variant],
        route: &Route,
    ) -> model::ModelError {
        let names: Vec<String> = variants.iter().map(Variant::to_string).collect();
        error.context(format!(
            "scoring {} on {} prompts ({route:?})",
            names.join(", "),
            self.prompts.len()
        ))
    }

    /// Edge-level passes need the embeddings, so only the full model (never wired) resumes.
    fn can_resume(&self, scope: Scope) -> bool {
        self.level == Level::Node || scope == Scope::Model
    }

    /// The cheapest way to compute `variant`: from the base it extends by the fewest layers
    /// and positions, else from the embeddings.
    fn route(&self, variant: &Variant) -> Route {
        if variant.scope == Scope::Empty && self.level == Level::Node && self.windows {
            let ends = (0..self.prompts.len()).map(|p| vec![self.end(p)]).collect();
            return Route::Readout {
                columns: self.padded(ends),
            };
        }
        let layers = self.plan.layers as usize;
        let mut best = (layers * self.seq, Route::Full);
        for base in &self.bases {
            if base.variant.scope != variant.scope
                || !base.variant.knocked_out.is_subset(&variant.knocked_out)
                || base.variant.knocked_out.len() == variant.knocked_out.len()
            {
                continue;
            }
            let extra: std::collections::BTreeSet<Head> = variant
                .knocked_out
                .difference(&base.variant.knocked_out)
                .copied()
                .collect();
            let layer = extra.iter().map(|h| h.layer as usize).min().unwrap_or(0);
            let mut route = (
                (layers - layer) * self.seq,
                Route::Resume {
                    base: base.id,
                    layer,
                },
            );
            if base.key_values.is_some() && self.windows {
                let columns: Vec<Vec<usize>> = (0..self.prompts.len())
                    .map(|p| {
                        let end = self.end(p);
                        let start = self
                            .plan
                            .first_difference(&extra, p)
                            .map_or(end, |first| first.min(end));
                        // Where no head of the base from `layer` on is kept, no position is
                        // read: the stream there is the base's.
                        let read = self.plan.kept_from(&base.variant, layer as u32, p);
                        (start..self.layouts[p].len)
                            .filter(|t| *t == end || read.at(*t))
                            .collect()
                    })
                    .collect();
                let columns = self.padded(columns);
                let width = columns.first().map_or(self.seq, Vec::len);
                if width < self.seq {
                    route = (
                        (layers - layer) * width,
                        Route::Window {
                            base: base.id,
                            joins: vec![layer; self.prompts.len()],
                            columns,
                        },
                    );
                }
            }
            if route.0 < best.0 {
                best = route;
            }
        }
        best.1
    }

    /// Runs `variant` alone, by its best route, and keeps its residual streams (and, for C's
    /// variants at node level, its keys and values) as a base.
    fn make_base(&mut self, variant: &Variant) -> Result<()> {
        // A base keeps every position's stream.
        let route = match self.route(variant) {
            Route::Readout { .. } => Route::Full,
            route => route,
        };
        let windows = variant.scope == Scope::Circuit && self.level == Level::Node;
        let capture = Capture {
            residuals: true,
            key_values: windows,
            ..Default::default()
        };
        let (mut scores, output) = self
            .run_batch(std::slice::from_ref(variant), &route, capture)
            .map_err(|e| self.context(e, std::slice::from_ref(variant), &route))?;
        self.memo.insert(variant.clone(), scores.remove(0));
        // A pass from a base covers the layers (and positions) it recomputed; the rest are
        // the base's.
        let (residuals, key_values) = match &route {
            Route::Full => (output.residuals, windows.then_some(output.key_values)),
            Route::Resume { base, layer } => {
                let parent = self.base(*base);
                let mut residuals = parent.residuals[..*layer].to_vec();
                residuals.extend(output.residuals);
                let key_values = windows.then(|| KeyValues {
                    layers: parent
                        .key_values
                        .as_ref()
                        .map_or(Vec::new(), |kv| kv.layers[..*layer].to_vec())
                        .into_iter()
                        .chain(output.key_values.layers)
                        .collect(),
                });
                (residuals, key_values)
            }
            Route::Readout { .. } => {
                return Err(model::ModelError::Internal(
                    "a base is never a readout pass".into(),
                ));
            }
            Route::Window {
                base,
                joins,
                columns,
            } => {
                let layer = &joins[0];
                let parent = self.base(*base);
                let mut residuals = parent.residuals[..*layer].to_vec();
                let recomputed = self.plan.layers as usize - layer;
                for (offset, window) in output.residuals.iter().take(recomputed).enumerate() {
                    residuals.push(self.merge_window(
                        &parent.residuals[layer + offset],
                        window,
                        columns,
                    )?);
                }
                let parent_layers = parent
                    .key_values
                    .as_ref()
                    .map_or(&[][..], |kv| kv.layers.as_slice());
                let mut layers = parent_layers[..*layer].to_vec();
                for (offset, own) in output.key_values.layers.into_iter().enumerate() {
                    layers.push(union_key_values(
                        parent_layers.get(layer + offset).cloned().flatten(),
                        own,
                    )?);
                }
                (residuals, windows.then_some(KeyValues { layers }))
            }
        };
        // The stream after the last layer is never resumed from.
        let residuals = residuals[..self.plan.layers as usize].to_vec();
        let id = self.bases.iter().map(|b| b.id + 1).max().unwrap_or(0);
        let roots = self
            .bases
            .iter()
            .filter(|b| b.variant.knocked_out.is_empty())
            .count();
        if !variant.knocked_out.is_empty() && self.bases.len() - roots >= MAX_EXTRA_BASES {
            let oldest = self
                .bases
                .iter()
                .position(|b| !b.variant.knocked_out.is_empty())
                .expect("extra bases exist");
            self.bases.remove(oldest);
        }
        self.bases.push(BasePass {
            variant: variant.clone(),
            id,
            residuals,
            key_values,
        });
        Ok(())
    }

    fn base(&self, id: usize) -> &BasePass {
        self.bases
            .iter()
            .find(|b| b.id == id)
            .expect("routes name kept bases")
    }

    /// A base's stream `[prompts, seq, d]` with each prompt's window columns
    /// (`[prompts, width, d]`, at the positions `columns` gives) in place.
    fn merge_window(
        &self,
        base: &Tensor,
        window: &Tensor,
        columns: &[Vec<usize>],
    ) -> Result<Tensor> {
        let (prompts, seq, d) = base.dims3()?;
        let width = window.dim(1)?;
        let base_rows: Vec<usize> = (0..prompts).collect();
        Ok(model::merge_positions(
            &base.reshape((prompts * seq, d))?,
            &window.reshape((prompts * width, d))?,
            columns,
            &base_rows,
            seq,
        )?
        .reshape((prompts, seq, d))?)
    }

    /// Prompt `p`'s `END`.
    fn end(&self, p: usize) -> usize {
        self.dataset.prompts[self.prompts[p]].end()
    }

    /// Each row's positions (rows prompt by prompt, variant after variant) padded to the
    /// longest list with positions past the prompt's end.
    fn padded(&self, mut columns: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
        let width = columns.iter().map(Vec::len).max().unwrap_or(0);
        let n = self.prompts.len();
        for (i, positions) in columns.iter_mut().enumerate() {
            let len = self.layouts[i % n].len;
            let missing = width - positions.len();
            positions.extend(len..len + missing);
        }
        columns
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

    /// One row per prompt for each of `copies` variants (variant by variant), each at the
    /// positions `columns` gives for the row (every position when `None`).
    fn rows(&self, copies: usize, columns: Option<&[Vec<usize>]>) -> Vec<Row> {
        let n = self.prompts.len();
        (0..copies * n)
            .map(|i| Row {
                variant: i / n,
                prompt: i % n,
                positions: match columns {
                    Some(columns) => columns[i].clone(),
                    None => (0..self.seq).collect(),
                },
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

    fn run_batch(
        &mut self,
        variants: &[Variant],
        route: &Route,
        capture: Capture,
    ) -> Result<(Vec<Vec<f64>>, model::Output)> {
        let columns = match route {
            Route::Window { columns, .. } | Route::Readout { columns } => Some(columns.as_slice()),
            Route::Full | Route::Resume { .. } => None,
        };
        let rows = self.rows(variants.len(), columns);
        let width = self.width(route);
        let output = match route {
            Route::Full | Route::Resume { .. } => {
                let per_pass = self.rows_per_pass(rows.len(), capture);
                if per_pass >= rows.len() {
                    self.stream_pass(variants, &rows, 0, route, capture)?
                } else {
                    // Scores only: the pieces' logits, one after the other.
                    let mut logits = Vec::new();
                    for (i, piece) in rows.chunks(per_pass).enumerate() {
                        let output =
                            self.stream_pass(variants, piece, i * per_pass, route, capture)?;
                        logits.push(output.logits.ok_or_else(|| {
                            model::ModelError::Internal("the pass read no logits".into())
                        })?);
                    }
                    // Each piece is a pass; the last is counted with every pass below.
                    self.passes += logits.len() - 1;
                    model::Output {
                        logits: Some(Tensor::cat(&logits, 0)?),
                        ..Default::default()
                    }
                }
            }
            Route::Window { .. } | Route::Readout { .. } => {
                let readout = self.readout(&rows)?;
                self.window_passes += 1;
                let interventions = self.patcher().interventions(variants, &rows, width)?;
                let no_keys = KeyValues::default();
                // Each row's columns of the stream entering the first layer computed, and the
                // keys and values of the positions it does not recompute.
                let (joins, residual, base_rows, key_values): (
                    Vec<usize>,
                    Tensor,
                    Vec<usize>,
                    &KeyValues,
                ) = match route {
                    Route::Window { base, joins, .. } => {
                        let base = self.base(*base);
                        let key_values = base.key_values.as_ref().ok_or_else(|| {
                            model::ModelError::Internal("a window's base kept no keys".into())
                        })?;
                        // Each row's columns of the base's stream at the layer it joins.
                        let mut pieces = Vec::new();
                        let mut at = 0;
                        while at < rows.len() {
                            let join = joins[at];
                            let end = at + joins[at..].partition_point(|j| *j == join);
                            pieces.push(self.window_of(
                                &base.residuals[join],
                                &rows[at..end],
                                true,
                            )?);
                            at = end;
                        }
                        let residual = Tensor::cat(&pieces, 0)?;
                        let base_rows = rows.iter().map(|r| r.prompt).collect();
                        (joins.clone(), residual, base_rows, key_values)
                    }
                    _ => {
                        let embeddings = self.model.embed(&self.batch(&rows)?)?;
                        let residual = self.window_of(&embeddings, &rows, false)?;
                        let starts = vec![0; rows.len()];
                        (starts, residual, (0..rows.len()).collect(), &no_keys)
                    }
                };
                let positions: Vec<Vec<usize>> = rows.iter().map(|r| r.positions.clone()).collect();
                let window = Window {
                    positions: &positions,
                    base_rows: &base_rows,
                    joins: &joins,
                    base: key_values,
                };
                self.model.forward_window(
                    joins[0],
                    residual,
                    &window,
                    &interventions,
                    capture,
                    &readout,
                )?
            }
        };
        let layers = self.plan.layers as usize;
        self.work += match route {
            Route::Full => rows.len() * self.seq * layers,
            Route::Resume { layer, .. } => rows.len() * self.seq * (layers - layer),
            Route::Window { joins, .. } => joins.iter().map(|j| width * (layers - j)).sum(),
            Route::Readout { .. } => rows.len() * width * layers,
        };
        self.passes += 1;
        let all = self.scores_from(&output.logits, &rows)?;
        let scores = all
            .chunks(self.prompts.len())
            .map(<[f64]>::to_vec)
            .collect();
        Ok((scores, output))
    }

    /// Rows per pass of a full or resumed pass of `rows` rows: at edge level a pass holds
    /// each sender's replacement and Δ at every position, so a pass that only scores takes
    /// at most `MAX_EDGE_TOKENS` positions (a prompt's score depends on its batch only
    /// through the rounding of the matrix products, about 1e-7 relative).
    fn rows_per_pass(&self, rows: usize, capture: Capture) -> usize {
        if self.level == Level::Edge && capture == Capture::default() {
            (MAX_EDGE_TOKENS / self.seq.max(1)).max(1)
        } else {
            rows
        }
    }

    /// A full or resumed pass of `rows`, the rows from `first` on of the route's variants
    /// one after the other.
    fn stream_pass(
        &self,
        variants: &[Variant],
        rows: &[Row],
        first: usize,
        route: &Route,
        capture: Capture,
    ) -> Result<model::Output> {
        let readout = self.readout(rows)?;
        let interventions = self.patcher().interventions(variants, rows, self.seq)?;
        match route {
            Route::Resume { base, layer } => {
                let residual = &self.base(*base).residuals[*layer];
                let n = self.prompts.len();
                // The base's stream of each row's prompt: a run of prompts, wrapping at each
                // next variant's rows.
                let mut pieces = Vec::new();
                let mut at = first;
                while at < first + rows.len() {
                    let end = (first + rows.len()).min((at / n + 1) * n);
                    pieces.push(residual.narrow(0, at % n, end - at)?);
                    at = end;
                }
                let stream = Tensor::cat(&pieces, 0)?;
                Ok(self
                    .model
                    .forward_from(*layer, stream, &interventions, capture, &readout)?)
            }
            _ => Ok(self
                .model
                .forward(&self.batch(rows)?, &interventions, capture, &readout)?),
        }
    }

    /// Each row's columns of `stream` (`[prompts, seq, d]` with `per_prompt`, one row per
    /// prompt; else `[rows, seq, d]`, one per row), `[rows, width, d]`.
    fn window_of(&self, stream: &Tensor, rows: &[Row], per_prompt: bool) -> Result<Tensor> {
        let (count, seq, d) = stream.dims3()?;
        let width = rows.first().map_or(0, |row| row.positions.len());
        let picks: Vec<u32> = rows
            .iter()
            .enumerate()
            .flat_map(|(r, row)| {
                let source = if per_prompt { row.prompt } else { r };
                row.positions
                    .iter()
                    .map(move |position| (source * seq + (*position).min(seq - 1)) as u32)
            })
            .collect();
        let picks = Tensor::from_vec(picks, rows.len() * width, stream.device())?;
        Ok(stream
            .reshape((count * seq, d))?
            .index_select(&picks, 0)?
            .reshape((rows.len(), width, d))?)
    }

    /// The answer logits at each row's `END`, as a column of the row's pass.
    fn readout(&self, rows: &[Row]) -> Result<Readout> {
        let prompts: Vec<(&Prompt, usize)> = rows
            .iter()
            .map(|row| {
                let end = self.prompt(row).end();
                let column = row
                    .positions
                    .iter()
                    .position(|p| *p == end)
                    .ok_or_else(|| {
                        model::ModelError::Internal("a row of a pass lacks its END".into())
                    })?;
                Ok((self.prompt(row), column))
            })
            .collect::<Result<_>>()?;
        crate::eval::readout::readout(self.dataset.metric, &prompts, self.model.device())
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

/// A window base's keys and values in one layer: those the window recomputed (over every
/// position), and the parent's for the heads it did not compute. Those heads are replaced at
/// every position of the window, here and in every variant extending this one, so no query
/// ever reads their entries past the window's start, which are stale.
fn union_key_values(
    parent: Option<(Vec<usize>, Tensor, Tensor)>,
    own: Option<(Vec<usize>, Tensor, Tensor)>,
) -> Result<Option<(Vec<usize>, Tensor, Tensor)>> {
    let (parent, own) = match (parent, own) {
        (None, own) | (own, None) => return Ok(own),
        (Some(parent), Some(own)) => (parent, own),
    };
    let missing: Vec<usize> = (0..parent.0.len())
        .filter(|i| !own.0.contains(&parent.0[*i]))
        .collect();
    if missing.is_empty() {
        return Ok(Some(own));
    }
    let picks = Tensor::from_vec(
        missing.iter().map(|i| *i as u32).collect::<Vec<u32>>(),
        missing.len(),
        parent.1.device(),
    )?;
    let mut heads = own.0;
    heads.extend(missing.iter().map(|i| parent.0[*i]));
    let keys = Tensor::cat(&[own.1, parent.1.index_select(&picks, 2)?], 2)?;
    let values = Tensor::cat(&[own.2, parent.2.index_select(&picks, 2)?], 2)?;
    Ok(Some((heads, keys, values)))
}
