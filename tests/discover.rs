//! Edge attribution over the model's whole graph (EAP and EAP-IG, GRAMMAR.md's "What
//! discover scores") against the independent f64 evaluator (tests/common/attribution.rs):
//! each score against the reference's central difference of F with the edge's Δ scaled,
//! each sender's total (MLP receivers included) against shifting its output for every
//! reader, on IOI prompts of different token lengths, in the families with different norms,
//! residuals and attention; then against exact removal, and on the toy model.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use circuitcheck::dsl::{Ablation, Channel, Head};
use circuitcheck::eval::edge_attribution::{
    EdgeScore, EdgeScores, Method, Receiver, Sender, score_edges,
};
use circuitcheck::eval::reference::ReferenceActivations;
use circuitcheck::model::LoadedModel;
use circuitcheck::task::{Dataset, ReferenceSize};
use circuitcheck::testing::TinyModel;
use common::attribution::{Attribution, Reader, Writer};
use common::verify::{model_and_dataset, reference_of, scheme};

const PROMPTS: usize = 5;

fn writer(s: Sender) -> Writer {
    match s {
        Sender::Embed => Writer::Embed,
        Sender::Head(h) => Writer::Head(h.layer as usize, h.head as usize),
        Sender::Mlp(l) => Writer::Mlp(l as usize),
    }
}

fn reader(r: Receiver) -> Reader {
    match r {
        Receiver::Head(h, c) => {
            let channel = match c {
                Channel::Q => 0,
                Channel::K => 1,
                Channel::V => 2,
            };
            Reader::Head(h.layer as usize, h.head as usize, channel)
        }
        Receiver::Logits => Reader::Logits,
        Receiver::Mlp(l) => Reader::Mlp(l as usize),
    }
}

struct Scored {
    loaded: LoadedModel,
    dataset: Dataset,
    scores: EdgeScores,
}

fn scored(dir: &Path, ablation: Ablation, method: Method, seed: u64) -> Scored {
    let (loaded, dataset) = model_and_dataset(dir, "ioi", PROMPTS, seed, ReferenceSize::default());
    let lengths: BTreeSet<usize> = dataset.prompts.iter().map(|p| p.tokens.len()).collect();
    assert!(lengths.len() > 1, "groups of different token lengths");
    let reference = ReferenceActivations::compute(&loaded.model, &dataset, ablation, seed).unwrap();
    let mut passes = 0;
    let scores = score_edges(&loaded.model, &dataset, &reference, method, |n| passes += n).unwrap();
    let steps = match method {
        Method::Eap => 1,
        Method::EapIg { steps } => steps,
    };
    assert_eq!(
        passes,
        steps * PROMPTS,
        "one gradient pass per prompt and step"
    );
    Scored {
        loaded,
        dataset,
        scores,
    }
}

/// Every edge that `chosen` picks (MLPs sending and receiving too), and every sender's total, against
/// the reference's derivatives.
fn assert_matches_reference(
    s: &Scored,
    ablation: Ablation,
    seed: u64,
    steps: usize,
    chosen: impl Fn(&EdgeScore) -> bool,
) {
    let reference = reference_of(&s.loaded);
    let attribution = Attribution::new(&reference, &s.dataset, &scheme(ablation, &s.dataset, seed));
    let close = |actual: f64, expected: f64, scale: f64, what: &str| {
        assert!(
            (actual - expected).abs() <= 2e-4 * scale,
            "{what}: discover says {actual}, the reference {expected} (scale {scale})"
        );
    };
    let value = attribution.value();
    close(s.scores.value, value, value.abs().max(1.0), "F(M)");
    let scale = s
        .scores
        .edges
        .iter()
        .map(|e| e.score.abs())
        .fold(1e-2, f64::max);
    let mut compared = 0;
    for edge in s.scores.edges.iter().filter(|e| chosen(e)) {
        let expected = attribution.edge_score(writer(edge.sender), reader(edge.receiver), steps);
        close(edge.score, expected, scale, &format!("{edge:?}"));
        compared += 1;
    }
    assert!(compared > 10, "only {compared} edges compared");
    let senders: BTreeSet<Sender> = s.scores.edges.iter().map(|e| e.sender).collect();
    for sender in senders {
        let total: f64 = s
            .scores
            .edges
            .iter()
            .filter(|e| e.sender == sender)
            .map(|e| e.score)
            .sum();
        let expected = attribution.sender_total(writer(sender), steps);
        close(
            total,
            expected,
            scale,
            &format!("the edges of {sender:?} together"),
        );
    }
}

/// The graph of a 3-layer, 4-head GPT-2: every sender below every receiver, once.
#[test]
fn the_graph_has_every_edge_once() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_ioi_model(dir.path(), 0);
    let s = scored(dir.path(), Ablation::Mean, Method::Eap, 0);
    let edges: BTreeSet<(Sender, Receiver)> = s
        .scores
        .edges
        .iter()
        .map(|e| (e.sender, e.receiver))
        .collect();
    assert_eq!(edges.len(), s.scores.edges.len(), "no edge twice");
    // Heads of layer l: 3 channels × 4 heads × (embed + 5 per layer below); MLP L: embed,
    // heads ≤ L, MLPs < L; logits: all 16 senders.
    let heads: usize = (0..3).map(|l| 12 * (1 + 5 * l)).sum();
    let mlps: usize = (0..3).map(|l| 1 + 4 * (l + 1) + l).sum();
    assert_eq!(s.scores.edges.len(), heads + mlps + 16);
    assert!(edges.contains(&(Sender::Head(Head::new(1, 3)), Receiver::Mlp(1))));
    assert!(!edges.contains(&(Sender::Mlp(1), Receiver::Head(Head::new(1, 0), Channel::Q))));
    assert!(edges.contains(&(Sender::Mlp(2), Receiver::Logits)));
}

#[test]
fn eap_on_gpt2_matches_the_reference_derivatives() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_ioi_model(dir.path(), 1);
    let s = scored(dir.path(), Ablation::Mean, Method::Eap, 1);
    assert_matches_reference(&s, Ablation::Mean, 1, 1, |_| true);
}

/// GPT-NeoX with a parallel residual (its MLP reads the block's input, so not its own
/// layer's heads) and Llama (RMSNorm, grouped-query attention, rotary), resampled.
#[test]
fn eap_in_other_families_matches_the_reference_derivatives() {
    let words = common::ioi_words();
    let models = [
        TinyModel {
            words: words.clone(),
            seed: 5,
            ..TinyModel::neox()
        },
        TinyModel {
            words,
            seed: 6,
            ..TinyModel::llama()
        },
    ];
    for model in models {
        let dir = tempfile::tempdir().unwrap();
        model.write(dir.path()).unwrap();
        let s = scored(dir.path(), Ablation::Resample, Method::Eap, 2);
        let parallel = s.loaded.model.config().parallel_residual;
        let own_layer = Receiver::Mlp(1);
        let reads_own_heads = s
            .scores
            .edges
            .iter()
            .any(|e| e.receiver == own_layer && e.sender == Sender::Head(Head::new(1, 0)));
        assert_eq!(reads_own_heads, !parallel);
        // Every layer's heads' edges and the logits'.
        assert_matches_reference(&s, Ablation::Resample, 2, 1, |_| true);
    }
}

/// EAP-IG's gradients at the path's three points, against the reference's own average of
/// derivatives at those points.
#[test]
fn eap_ig_matches_the_reference_path_average() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_ioi_model(dir.path(), 3);
    let steps = 3;
    let s = scored(dir.path(), Ablation::Mean, Method::EapIg { steps }, 3);
    let eap = scored(dir.path(), Ablation::Mean, Method::Eap, 3);
    assert_ne!(s.scores.edges, eap.scores.edges, "the path's points count");
    assert_eq!(s.scores.value, eap.scores.value, "F(M) is the real run's");
    let layer_2_or_logits = |e: &EdgeScore| match e.receiver {
        Receiver::Head(h, _) => h.layer == 2,
        _ => true,
    };
    assert_matches_reference(&s, Ablation::Mean, 3, steps, layer_2_or_logits);
}

/// EAP is the first-order estimate of removing an edge: over the edges into the logits and
/// into the last layer's heads, it agrees in sign with exact removal (computed by the
/// reference) on the edges whose removal matters most, and correlates with it.
#[test]
fn eap_estimates_exact_removal() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_ioi_model(dir.path(), 4);
    let s = scored(dir.path(), Ablation::Mean, Method::Eap, 4);
    let reference = reference_of(&s.loaded);
    let attribution = Attribution::new(
        &reference,
        &s.dataset,
        &scheme(Ablation::Mean, &s.dataset, 4),
    );
    let pairs: Vec<(f64, f64)> = s
        .scores
        .edges
        .iter()
        .filter(|e| !matches!(e.sender, Sender::Mlp(_)) && !matches!(e.receiver, Receiver::Mlp(_)))
        .map(|e| {
            (
                e.score,
                attribution.removal(writer(e.sender), reader(e.receiver)),
            )
        })
        .collect();
    let correlation = pearson(&pairs);
    let mut by_removal = pairs.clone();
    by_removal.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    eprintln!(
        "EAP against exact removal over {} edges: r = {correlation:.3}; largest removals \
         (estimate, removal): {:?}",
        pairs.len(),
        &by_removal[..8]
    );
    assert!(correlation > 0.6, "r = {correlation}");
    for (estimate, removal) in by_removal.iter().take(3) {
        assert_eq!(
            estimate.signum(),
            removal.signum(),
            "{estimate} for {removal}"
        );
    }
}

fn pearson(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let cov: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let vx: f64 = pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|(_, y)| (y - my).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

/// On the toy model, whose circuit is heads 0.0–0.3 and the MLPs
/// (circuits/toy-induction.circuit), the edges EAP-IG ranks highest name no other head, and
/// the best one is a circuit head's into the logits, with a positive score (removing it
/// lowers F).
#[test]
fn on_the_toy_model_the_best_edges_run_through_its_circuit() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/toy-induction");
    let (loaded, dataset) = model_and_dataset(&dir, "induction", 60, 0, ReferenceSize::default());
    let reference =
        ReferenceActivations::compute(&loaded.model, &dataset, Ablation::Mean, 0).unwrap();
    let scores = score_edges(
        &loaded.model,
        &dataset,
        &reference,
        Method::EapIg { steps: 5 },
        |_| {},
    )
    .unwrap();
    let mut edges = scores.edges.clone();
    edges.sort_by(|a, b| b.score.abs().total_cmp(&a.score.abs()));
    let circuit: BTreeSet<Head> = (0..4).map(|h| Head::new(0, h)).collect();
    let outside = |e: &EdgeScore| {
        matches!(e.sender, Sender::Head(h) if !circuit.contains(&h))
            || matches!(e.receiver, Receiver::Head(h, _) if !circuit.contains(&h))
    };
    let best = &edges[..5];
    assert!(!best.iter().any(outside), "{best:?}");
    assert!(
        matches!(best[0], EdgeScore { sender: Sender::Head(h), receiver: Receiver::Logits, .. }
            if circuit.contains(&h)),
        "{best:?}"
    );
    // The sign EAP-IG's files use: the circuit's own best edge carries what F needs.
    assert!(best[0].score > 0.0, "{best:?}");
}

/// Bad requests are errors, not panics: EAP-IG with no steps, and Gemma-2, whose heads
/// write through a norm (no edge of theirs is a difference in the stream).
#[test]
fn impossible_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    common::write_tiny_ioi_model(dir.path(), 0);
    let (loaded, dataset) = model_and_dataset(dir.path(), "ioi", 2, 0, ReferenceSize::default());
    let reference =
        ReferenceActivations::compute(&loaded.model, &dataset, Ablation::Zero, 0).unwrap();
    let error = score_edges(
        &loaded.model,
        &dataset,
        &reference,
        Method::EapIg { steps: 0 },
        |_| {},
    )
    .unwrap_err();
    assert!(error.to_string().contains("at least one step"), "{error}");
    let gemma = TinyModel {
        words: common::ioi_words(),
        ..TinyModel::gemma2()
    };
    let dir = tempfile::tempdir().unwrap();
    gemma.write(dir.path()).unwrap();
    let (loaded, dataset) = model_and_dataset(dir.path(), "ioi", 2, 0, ReferenceSize::default());
    let reference =
        ReferenceActivations::compute(&loaded.model, &dataset, Ablation::Zero, 0).unwrap();
    let error = score_edges(&loaded.model, &dataset, &reference, Method::Eap, |_| {}).unwrap_err();
    assert!(error.to_string().contains("Gemma-2"), "{error}");
}
