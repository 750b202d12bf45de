//! Every family circuitcheck runs (GPT-NeoX with parallel and sequential blocks, Llama with
//! grouped-query attention and Llama-3's rope scaling, Qwen2 with q/k/v biases, Gemma-2), as
//! tiny random models in their Hugging Face layouts: the real `check`'s every figure against
//! the independent f64 evaluator, at node and edge level (Gemma-2: node level only), on IOI
//! prompts of different lengths.

use crate::common;

use std::collections::BTreeSet;

use circuitcheck::dsl::Ablation;
use circuitcheck::task::ReferenceSize;
use circuitcheck::testing::{TinyModel, tokenizer_size};
use common::evaluator::Evaluator;
use common::fixture::Fixture;
use common::ioi_words;
use common::verify::{model_and_dataset, reference_of, scheme, verify_report};

/// Classes at named positions and at `all`, MLPs at positions, edges on single channels and
/// on all: 1.0 and 1.1 share a key/value head in the grouped-query models, and their keys
/// are wired from different senders (`embed`, `a`).
const CIRCUIT: &str = "circuit families {
  model qwen2.5-0.5b
  task ioi
}

mlp 0 at all
mlp 1 at S2, END

class a at S2 { 0.0 0.3 }
class b at END, S1+1 { 1.0 }
class e at END { 1.1 }
class c at all { 1.2 }
class d at END { 2.1 2.3 }

edge embed -> a, b.k, c.v, d.q
edge a -> b.q, d.v, e.k
edge b, c -> d.k
edge e -> d.q
edge d, 1.2 -> logits
";

/// MLPs as edge endpoints, with edges a parallel residual allows (a head reaches MLPs of
/// later layers only): `mlp.0` from the embeddings, `mlp.1` from a class and `mlp.0`, `mlp.2`
/// with no incoming edge; MLPs listed at some positions.
const MLP_CIRCUIT: &str = "circuit wired {
  model qwen2.5-0.5b
  task ioi
}

mlp 0 at all
mlp 1 at S2, END
mlp 2 at END

class a at S2 { 0.0 0.3 }
class b at END, S1+1 { 1.0 }
class d at END { 2.1 2.3 }

edge embed -> a, mlp.0
edge a -> mlp.1, b.v
edge mlp.0 -> mlp.1, b.k
edge mlp.1 -> d
edge b -> d.q
edge d, mlp.1, mlp.2 -> logits
";

const PROMPTS: usize = 6;

fn families() -> Vec<(&'static str, TinyModel)> {
    let words = ioi_words();
    // The IOI words make a larger tokenizer than the defaults': pad above it.
    let padded = Some(tokenizer_size(&words).div_ceil(64) * 64);
    vec![
        (
            "gpt-neox, parallel, rotary on a quarter of each head, padded vocabulary",
            TinyModel {
                words: words.clone(),
                vocab_size: padded,
                seed: 1,
                ..TinyModel::neox()
            },
        ),
        (
            "gpt-neox, sequential, rotary on half",
            TinyModel {
                words: words.clone(),
                vocab_size: None,
                rotary_pct: 0.5,
                parallel_residual: false,
                seed: 2,
                ..TinyModel::neox()
            },
        ),
        (
            "llama, 4 query heads on 2 key/value heads, llama-3 rope scaling",
            TinyModel {
                words: words.clone(),
                seed: 3,
                ..TinyModel::llama()
            },
        ),
        (
            "qwen2, q/k/v biases, tied, padded vocabulary",
            TinyModel {
                words,
                vocab_size: padded,
                seed: 4,
                ..TinyModel::qwen2()
            },
        ),
    ]
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= 1e-4 * expected.abs().max(1.0),
        "{what}: check says {actual}, the reference {expected}"
    );
}

fn check_every_family(level: &str, ablation: &str, seed: u64) {
    check_families(level, ablation, seed, families());
}

fn check_families(level: &str, ablation: &str, seed: u64, models: Vec<(&str, TinyModel)>) {
    check_circuit(CIRCUIT, level, ablation, seed, models);
}

fn check_circuit(
    circuit: &str,
    level: &str,
    ablation: &str,
    seed: u64,
    models: Vec<(&str, TinyModel)>,
) {
    let (level_kind, ablation_kind) = (
        common::fixture::level(level),
        Ablation::from_name(ablation).unwrap(),
    );
    for (name, model) in models {
        let f = Fixture::with_model(|dir| drop(model.write(dir).unwrap()), circuit);
        let report = f.check(
            PROMPTS,
            3,
            seed,
            &["--level", level, "--ablation", ablation],
        );
        let (loaded, dataset) =
            model_and_dataset(f.dir.path(), "ioi", PROMPTS, seed, ReferenceSize::default());
        let lengths: BTreeSet<usize> = dataset.prompts.iter().map(|p| p.tokens.len()).collect();
        assert!(lengths.len() > 1, "groups of different token lengths");
        let reference = reference_of(&loaded);
        let scheme = scheme(ablation_kind, &dataset, seed);
        let evaluator = Evaluator::new(&reference, &dataset, &f.circuit, &scheme, level_kind);
        eprintln!("{name}: {level} level, {ablation}");
        verify_report(&report, &evaluator, assert_close);
    }
}

#[test]
fn node_level_mean_ablation_in_every_family() {
    check_every_family("node", "mean", 0);
}

#[test]
fn edge_level_mean_ablation_in_every_family() {
    check_every_family("edge", "mean", 1);
}

/// Wired MLPs read their own stream in every family: after their layer's attention, or the
/// block's input with GPT-NeoX's parallel residual.
#[test]
fn mlp_edges_in_every_family() {
    check_circuit(MLP_CIRCUIT, "edge", "mean", 5, families());
    let parallel = families().into_iter().take(1).collect();
    check_circuit(MLP_CIRCUIT, "edge", "resample", 6, parallel);
}

/// With a parallel residual an MLP reads its block's input: an edge from a head of its own
/// layer is refused when the model is opened, even for a model name the catalog does not
/// know to be parallel.
#[test]
fn a_parallel_mlp_cannot_read_its_own_layer() {
    let text = MLP_CIRCUIT.replace(
        "edge a -> mlp.1, b.v",
        "edge a -> mlp.1, b.v\nedge 1.0 -> mlp.1",
    );
    let (_, parallel) = families().remove(0);
    let f = Fixture::with_model(|dir| drop(parallel.write(dir).unwrap()), &text);
    let run = common::circuitcheck(&[
        "check",
        f.circuit_file(),
        "--model",
        f.model(),
        "--level",
        "edge",
        "--no-cache",
        "--quiet",
    ]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("check::edge-order"), "{}", run.stderr);
    assert!(run.stderr.contains("1.0 → mlp.1"), "{}", run.stderr);
    // The same file on the sequential GPT-NeoX is checked, figure for figure.
    let sequential = families().into_iter().skip(1).take(1).collect();
    check_circuit(&text, "edge", "mean", 7, sequential);
}

/// Gemma-2 (heads' results and replacements normed together after attention, MLP outputs
/// after their post-norm, soft-capped scores and logits, d_head ≠ d_model / heads), at node
/// level only: edge level is not defined for it.
#[test]
fn node_level_on_gemma2() {
    for (ablation, seed) in [("mean", 3), ("resample", 4)] {
        let gemma = TinyModel {
            words: ioi_words(),
            seed,
            ..TinyModel::gemma2()
        };
        let name = "gemma2, 4 query heads on 2 key/value heads, soft-capped, tied";
        check_families("node", ablation, seed, vec![(name, gemma)]);
    }
}

/// Resampling draws each prompt's reference prompt: GPT-NeoX in sequence, and Llama with
/// grouped-query attention.
#[test]
fn resampling_at_edge_level() {
    let chosen = families().into_iter().skip(1).take(2).collect();
    check_families("edge", "resample", 2, chosen);
}

/// Gemma-2 norms its attention output before it joins the stream, so a head adds no
/// difference of its own: a check at edge level is refused, saying why, before any work.
#[test]
fn edge_level_on_gemma2_is_refused() {
    let gemma = TinyModel {
        words: ioi_words(),
        ..TinyModel::gemma2()
    };
    let f = Fixture::with_model(|dir| drop(gemma.write(dir).unwrap()), CIRCUIT);
    let run = common::circuitcheck(&[
        "check",
        f.circuit_file(),
        "--model",
        f.model(),
        "--level",
        "edge",
        "--no-cache",
        "--quiet",
    ]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("check::no-edge-level"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--level node"), "{}", run.stderr);
}
