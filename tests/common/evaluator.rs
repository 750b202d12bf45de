//! An independent evaluator: F(M), F(C), F(∅) and every knockout variant computed by plain
//! loops over prompts, heads and positions with the f64 reference GPT-2, written from the
//! definitions in grammar/GRAMMAR.md ("What a check computes") and sharing no code with
//! `circuitcheck::eval`. It takes the circuit as declared (classes, MLPs, edges) and the
//! dataset, and nothing the evaluator under test derives from them.

#![allow(clippy::needless_range_loop, clippy::type_complexity, dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use circuitcheck::dsl::{Channel, Circuit, Mlps, Node, Positions};
use circuitcheck::task::{Dataset, MetricKind, Prompt};

use super::reference::{Matrix, RefPatch, Reference, Sender};

pub type HeadId = (usize, usize);

/// How knocked-out components are replaced.
#[derive(Clone, Debug)]
pub enum Scheme {
    /// Mean over the reference prompts of the prompt's group, per position.
    Mean,
    /// Mean over every position of every reference prompt.
    GlobalMean,
    /// The activations of one reference prompt per prompt (the given assignment).
    Resample(Vec<usize>),
    Zero,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    Node,
    Edge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Model,
    Circuit,
    Empty,
}

/// Replacement activations for one prompt.
#[derive(Clone)]
pub struct Replacement {
    pub heads: Vec<Vec<Matrix>>, // [layer][head][t][d]
    pub mlps: Vec<Matrix>,       // [layer][t][d]
    pub embed: Matrix,           // [t][d]
}

/// The circuit as the file declares it, in plain terms.
pub struct Declared {
    /// Head → the position names where it keeps its output (`None`: every position).
    heads: BTreeMap<HeadId, Option<BTreeSet<String>>>,
    /// `None`: every MLP everywhere; else the listed (layer, positions).
    mlps: Option<Vec<(usize, Option<BTreeSet<String>>)>>,
    /// (sender, receiver, channel 0 = q, 1 = k, 2 = v).
    edges: BTreeSet<(Sender, HeadId, usize)>,
    /// (sender, receiving MLP's layer).
    mlp_from: BTreeSet<(Sender, usize)>,
    logits_from: BTreeSet<Sender>,
    /// The MLPs named in an edge, as sender or receiver.
    wired: BTreeSet<usize>,
}

fn names(positions: &Positions) -> Option<BTreeSet<String>> {
    match positions {
        Positions::All => None,
        Positions::Named(names) => Some(names.clone()),
    }
}

impl Declared {
    pub fn new(circuit: &Circuit) -> Self {
        let mut heads = BTreeMap::new();
        let mut members: BTreeMap<String, Vec<HeadId>> = BTreeMap::new();
        for class in &circuit.classes {
            for head in &class.heads {
                let id = (head.layer as usize, head.head as usize);
                heads.insert(id, names(&class.positions));
                members.entry(class.name.clone()).or_default().push(id);
            }
        }
        let expand = |node: &Node| -> Vec<Sender> {
            match node {
                Node::Embed => vec![Sender::Embed],
                Node::Head(h) => vec![Sender::Head(h.layer as usize, h.head as usize)],
                Node::Class(name) => members[name]
                    .iter()
                    .map(|(l, h)| Sender::Head(*l, *h))
                    .collect(),
                Node::Mlp(layer) => vec![Sender::Mlp(*layer as usize)],
                Node::Logits => vec![],
            }
        };
        let mut edges = BTreeSet::new();
        let mut mlp_from = BTreeSet::new();
        let mut logits_from = BTreeSet::new();
        let mut wired = BTreeSet::new();
        for edge in &circuit.edges {
            for node in [&edge.from, &edge.to] {
                if let Node::Mlp(layer) = node {
                    wired.insert(*layer as usize);
                }
            }
            for sender in expand(&edge.from) {
                if edge.to == Node::Logits {
                    logits_from.insert(sender);
                    continue;
                }
                if let Node::Mlp(layer) = edge.to {
                    mlp_from.insert((sender, layer as usize));
                    continue;
                }
                let channels: Vec<usize> = match edge.channel {
                    Some(Channel::Q) => vec![0],
                    Some(Channel::K) => vec![1],
                    Some(Channel::V) => vec![2],
                    None => vec![0, 1, 2],
                };
                for receiver in expand(&edge.to) {
                    let Sender::Head(l, h) = receiver else {
                        panic!("the other receivers are heads")
                    };
                    for c in &channels {
                        edges.insert((sender, (l, h), *c));
                    }
                }
            }
        }
        let mlps = match &circuit.mlps {
            Mlps::All => None,
            Mlps::Listed(entries) => Some(
                entries
                    .iter()
                    .map(|e| (e.layer as usize, names(&e.positions)))
                    .collect(),
            ),
        };
        Self {
            heads,
            mlps,
            edges,
            mlp_from,
            logits_from,
            wired,
        }
    }
}

fn at(positions: &Option<BTreeSet<String>>, prompt: &Prompt, t: usize) -> bool {
    match positions {
        None => true,
        Some(names) => names.iter().any(|n| prompt.positions.get(n) == Some(&t)),
    }
}

pub struct Evaluator<'a> {
    model: &'a Reference,
    dataset: &'a Dataset,
    circuit: Declared,
    level: Level,
    replacements: Vec<Replacement>,
    /// A deliberate mistake, for tests that show a wrong definition is caught: wired MLPs
    /// read the ordinary stream instead of their own.
    pub mutant_mlps_read_the_stream: bool,
}

impl<'a> Evaluator<'a> {
    pub fn new(
        model: &'a Reference,
        dataset: &'a Dataset,
        circuit: &Circuit,
        scheme: &Scheme,
        level: Level,
    ) -> Self {
        let replacements = replacements(model, dataset, scheme);
        Self {
            model,
            dataset,
            circuit: Declared::new(circuit),
            level,
            replacements,
            mutant_mlps_read_the_stream: false,
        }
    }

    /// Each prompt's score with `scope` minus the heads in `k` knocked out everywhere.
    pub fn scores(&self, scope: Scope, k: &BTreeSet<HeadId>) -> Vec<f64> {
        self.dataset
            .prompts
            .iter()
            .enumerate()
            .map(|(i, prompt)| self.score(i, prompt, scope, k))
            .collect()
    }

    pub fn mean(&self, scope: Scope, k: &BTreeSet<HeadId>) -> f64 {
        let scores = self.scores(scope, k);
        scores.iter().sum::<f64>() / scores.len() as f64
    }

    fn score(&self, i: usize, prompt: &Prompt, scope: Scope, k: &BTreeSet<HeadId>) -> f64 {
        let m = self.model;
        let seq = prompt.tokens.len();
        let replacement = &self.replacements[i];
        let keeps = |l: usize, h: usize, t: usize| -> bool {
            if k.contains(&(l, h)) {
                return false;
            }
            match scope {
                Scope::Model => true,
                Scope::Empty => false,
                Scope::Circuit => self
                    .circuit
                    .heads
                    .get(&(l, h))
                    .is_some_and(|positions| at(positions, prompt, t)),
            }
        };
        let mut patch = RefPatch::default();
        for l in 0..m.layers {
            for h in 0..m.heads {
                for t in 0..seq {
                    if !keeps(l, h, t) {
                        patch
                            .heads
                            .insert((l, h, t), replacement.heads[l][h][t].clone());
                    }
                }
            }
        }
        if let (Some(listed), false) = (&self.circuit.mlps, scope == Scope::Model) {
            for l in 0..m.layers {
                for t in 0..seq {
                    let kept = listed
                        .iter()
                        .any(|(layer, positions)| *layer == l && at(positions, prompt, t));
                    if !kept {
                        patch.mlps.insert((l, t), replacement.mlps[l][t].clone());
                    }
                }
            }
        }
        if self.level == Level::Edge && scope != Scope::Model {
            // Senders: the embeddings, every circuit head (a knocked-out head's Δ is 0) and
            // every wired MLP (Δ 0 where it is replaced).
            let senders: Vec<Sender> = std::iter::once(Sender::Embed)
                .chain(self.circuit.heads.keys().map(|(l, h)| Sender::Head(*l, *h)))
                .chain(self.circuit.wired.iter().map(|l| Sender::Mlp(*l)))
                .collect();
            for l in &self.circuit.wired {
                patch
                    .mlp_replacement
                    .insert(*l, replacement.mlps[*l][..seq].to_vec());
                let missing: Vec<Sender> = senders
                    .iter()
                    .filter(|s| !self.circuit.mlp_from.contains(&(**s, *l)))
                    .copied()
                    .collect();
                if !self.mutant_mlps_read_the_stream {
                    patch.mlp_unconnected.insert(*l, missing);
                }
            }
            patch.embed_replacement = replacement.embed.clone();
            for (l, h) in self.circuit.heads.keys() {
                for t in 0..seq {
                    if keeps(*l, *h, t) {
                        patch
                            .sender_replacement
                            .insert((*l, *h, t), replacement.heads[*l][*h][t].clone());
                    }
                }
                for c in 0..3 {
                    let missing: Vec<Sender> = senders
                        .iter()
                        .filter(|s| !self.circuit.edges.contains(&(**s, (*l, *h), c)))
                        .copied()
                        .collect();
                    patch.unconnected.insert((*l, *h, c), missing);
                }
            }
            patch.logits_unconnected = senders
                .iter()
                .filter(|s| !self.circuit.logits_from.contains(s))
                .copied()
                .collect();
        }
        let end = prompt.positions["END"];
        let out = m.run_at(&prompt.tokens, &patch, &[end]);
        metric(self.dataset.metric, &out.logits[end], prompt)
    }
}

pub fn metric(kind: MetricKind, logits: &[f64], prompt: &Prompt) -> f64 {
    match kind {
        MetricKind::LogitDifference => {
            logits[prompt.answer[0] as usize] - logits[prompt.distractor[0] as usize]
        }
        MetricKind::ProbabilityDifference => {
            let max = logits.iter().cloned().fold(f64::MIN, f64::max);
            let total: f64 = logits.iter().map(|v| (v - max).exp()).sum();
            let p = |ids: &[u32]| -> f64 {
                ids.iter()
                    .map(|i| (logits[*i as usize] - max).exp() / total)
                    .sum()
            };
            p(&prompt.answer) - p(&prompt.distractor)
        }
    }
}

/// Every reference prompt's real activations, reduced as `scheme` says, for each prompt.
pub fn replacements(model: &Reference, dataset: &Dataset, scheme: &Scheme) -> Vec<Replacement> {
    let (layers, heads, d) = (model.layers, model.heads, model.d);
    let zero = |seq: usize| Replacement {
        heads: vec![vec![vec![vec![0.0; d]; seq]; heads]; layers],
        mlps: vec![vec![vec![0.0; d]; seq]; layers],
        embed: vec![vec![0.0; d]; seq],
    };
    if let Scheme::Zero = scheme {
        return dataset
            .prompts
            .iter()
            .map(|p| zero(p.tokens.len()))
            .collect();
    }
    let real: Vec<Replacement> = dataset
        .reference
        .iter()
        .map(|r| {
            let out = model.run_at(&r.tokens, &RefPatch::default(), &[]);
            Replacement {
                heads: out.results,
                mlps: out.mlps,
                embed: out.embeddings,
            }
        })
        .collect();
    // Adds `weight × source[t_from]` into `target[t_to]` for every component.
    let accumulate = |target: &mut Replacement,
                      source: &Replacement,
                      t_to: usize,
                      t_from: usize,
                      weight: f64| {
        for l in 0..layers {
            for h in 0..heads {
                for j in 0..d {
                    target.heads[l][h][t_to][j] += weight * source.heads[l][h][t_from][j];
                }
            }
            for j in 0..d {
                target.mlps[l][t_to][j] += weight * source.mlps[l][t_from][j];
            }
        }
        for j in 0..d {
            target.embed[t_to][j] += weight * source.embed[t_from][j];
        }
    };
    match scheme {
        Scheme::Zero => unreachable!(),
        Scheme::Resample(assignment) => assignment.iter().map(|r| real[*r].clone()).collect(),
        Scheme::Mean => {
            let mut means: HashMap<usize, Replacement> = HashMap::new();
            for group in 0..dataset.groups.len() {
                let members: Vec<usize> = (0..dataset.reference.len())
                    .filter(|r| dataset.reference[*r].group == group)
                    .collect();
                if members.is_empty() {
                    continue;
                }
                let seq = dataset.reference[members[0]].tokens.len();
                let mut mean = zero(seq);
                for r in &members {
                    assert_eq!(real[*r].embed.len(), seq, "a group shares one layout");
                    for t in 0..seq {
                        accumulate(&mut mean, &real[*r], t, t, 1.0 / members.len() as f64);
                    }
                }
                means.insert(group, mean);
            }
            dataset
                .prompts
                .iter()
                .map(|p| means[&p.group].clone())
                .collect()
        }
        Scheme::GlobalMean => {
            let count: usize = real.iter().map(|r| r.embed.len()).sum();
            let mut one = zero(1);
            for r in &real {
                for t in 0..r.embed.len() {
                    accumulate(&mut one, r, 0, t, 1.0 / count as f64);
                }
            }
            dataset
                .prompts
                .iter()
                .map(|p| {
                    let mut spread = zero(p.tokens.len());
                    for t in 0..p.tokens.len() {
                        accumulate(&mut spread, &one, t, 0, 1.0);
                    }
                    spread
                })
                .collect()
        }
    }
}
