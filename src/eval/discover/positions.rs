//! `discover --positions`: each head of the discovered circuit kept only at the task's named
//! positions where it acts. For head h and named position P, with every other head as the
//! circuit C has it (at every position):
//!
//! - f(h only at P) = F(C with h kept at P alone, replaced at every other position) / F(M);
//! - f(without h) = F(C \ {h}) / F(M), h replaced everywhere.
//!
//! h acts at P when f(h only at P) − f(without h) > the threshold: keeping it at P alone
//! recovers more than that fraction of F(M). h is written `at` the positions where it acts,
//! or kept `at all` when it acts at none of them alone (what it does is spread over
//! positions, or unnamed ones). Every figure is exact; the circuit with the positions found
//! is scored again, and its faithfulness reported beside the circuit's without them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::dsl::{Circuit, Class, Edge, Head, Node, Positions, Receiver, Sender};
use crate::eval::check::Progress;
use crate::eval::curve::Naming;
use crate::eval::discover::{DiscoverError, mean, score, text};
use crate::eval::session::Evaluator;
use crate::eval::variant::Variant;
use crate::graph::eap::{ReadGraph, ScoredEdge};

#[derive(Clone, Debug, Serialize)]
pub struct PositionsReport {
    /// The least gain in faithfulness that counts as acting at a position.
    pub threshold: f64,
    pub heads: Vec<HeadPositions>,
    /// F(C) and F(C)/F(M) of the circuit with the positions found.
    pub circuit_score: f64,
    pub faithfulness: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct HeadPositions {
    pub head: String,
    /// f(without h).
    pub without: f64,
    /// f(h only at P), per named position P.
    pub only_at: BTreeMap<String, f64>,
    /// Where it is kept: the positions where it acts; empty when it is kept at all.
    pub positions: Vec<String>,
}

pub struct Found {
    pub report: PositionsReport,
    /// The heads restricted to named positions (the others stay at all).
    pub heads: BTreeMap<Head, Positions>,
}

/// The positions where each head of `base` (the circuit of `selected`) acts.
#[allow(clippy::too_many_arguments)]
pub fn find(
    evaluator: &Evaluator,
    base: &Circuit,
    threshold: f64,
    model_score: f64,
    naming: &Naming,
    graph: &ReadGraph,
    selected: &[ScoredEdge],
    progress: &mut dyn Progress,
) -> miette::Result<Found> {
    let names = evaluator.dataset.position_names.clone();
    let heads: Vec<Head> = base.heads().into_iter().collect();
    progress.phase("positions", heads.len() * (names.len() + 1) + 1);
    let faithfulness = |scores: &[f64]| mean(scores) / model_score;
    let mut report = Vec::new();
    let mut found = BTreeMap::new();
    for head in &heads {
        let without = faithfulness(&score(
            evaluator,
            base,
            &Variant::circuit().without([*head]),
        )?);
        progress.advance(1);
        let mut only_at = BTreeMap::new();
        for name in &names {
            let at = Positions::Named(BTreeSet::from([name.clone()]));
            let circuit = with_positions(base, &BTreeMap::from([(*head, at)]));
            only_at.insert(
                name.clone(),
                faithfulness(&score(evaluator, &circuit, &Variant::circuit())?),
            );
            progress.advance(1);
        }
        let acts: Vec<String> = only_at
            .iter()
            .filter(|(_, f)| **f - without > threshold)
            .map(|(name, _)| name.clone())
            .collect();
        if !acts.is_empty() {
            found.insert(
                *head,
                Positions::Named(acts.iter().cloned().collect::<BTreeSet<_>>()),
            );
        }
        report.push(HeadPositions {
            head: head.to_string(),
            without,
            only_at,
            positions: acts,
        });
    }
    // The circuit as it will be written, read back and scored.
    let task = naming.task_text();
    let body = text::body(&graph.shape, selected, naming.model, &task, base, &found);
    let written = naming.check_text(&body).map_err(|why| {
        DiscoverError::Internal(format!("the circuit with positions does not check: {why}"))
    })?;
    let scores = score(evaluator, &written, &Variant::circuit())?;
    progress.advance(1);
    Ok(Found {
        report: PositionsReport {
            threshold,
            heads: report,
            circuit_score: mean(&scores),
            faithfulness: faithfulness(&scores),
        },
        heads: found,
    })
}

/// `base` with each head of `at` in a class of its own at those positions; edges written
/// per head (the same wires).
pub fn with_positions(base: &Circuit, at: &BTreeMap<Head, Positions>) -> Circuit {
    let mut circuit = base.clone();
    circuit.edges = base
        .wires()
        .into_iter()
        .map(|(sender, receiver)| {
            let from = match sender {
                Sender::Embed => Node::Embed,
                Sender::Head(head) => Node::Head(head),
                Sender::Mlp(layer) => Node::Mlp(layer),
            };
            let (to, channel) = match receiver {
                Receiver::Head(head, channel) => (Node::Head(head), Some(channel)),
                Receiver::Mlp(layer) => (Node::Mlp(layer), None),
                Receiver::Logits => (Node::Logits, None),
            };
            Edge { from, to, channel }
        })
        .collect();
    for (head, positions) in at {
        for class in &mut circuit.classes {
            class.heads.remove(head);
        }
        circuit.classes.push(Class {
            name: format!("discover_{}_{}", head.layer, head.head),
            description: None,
            positions: positions.clone(),
            heads: BTreeSet::from([*head]),
        });
    }
    circuit.classes.retain(|class| !class.heads.is_empty());
    circuit
}
