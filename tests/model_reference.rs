//! The candle GPT-2 against an independent slow reference: plain f64 loops written from the
//! GPT-2 definition, reading the same safetensors file with the `safetensors` crate and
//! sharing no code with the model.

#![allow(clippy::needless_range_loop)]

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, IndexOp, Tensor};
use circuitcheck::model::{
    Batch, Capture, EdgePatch, EdgeSender, HeadPatch, Interventions, MlpPatch, ModelFiles, Readout,
    Transformer,
};
use circuitcheck::testing::TinyGpt2;
use common::reference::{RefPatch, Reference, Sender, replacement_value};

// ── fixtures and comparisons ───────────────────────────────────────────────────────────

struct Fixture {
    _dir: tempfile::TempDir,
    model: Transformer,
    reference: Reference,
    rows: Vec<Vec<u32>>,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let tiny = TinyGpt2::default();
    let config = tiny.write(dir.path()).unwrap();
    let files = ModelFiles::in_dir(dir.path()).unwrap();
    let model = Transformer::load(&files, &Device::Cpu).unwrap();
    let reference = Reference::load(&files.weights, config.n_layer, config.n_head, config.n_embd);
    let rows = vec![
        vec![5, 90, 300, 17, 260, 44, 301],
        vec![260, 261, 262, 263, 264],
        vec![1, 2, 3, 4, 5, 6, 7, 8, 9],
    ];
    Fixture {
        _dir: dir,
        model,
        reference,
        rows,
    }
}

fn assert_close(actual: f64, expected: f64, what: &str) {
    let tolerance = 1e-4 * expected.abs().max(1.0);
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs {expected}"
    );
}

/// Every position's logits of a patched pass, `[rows][seq][vocab]`.
fn all_logits(f: &Fixture, batch: &Batch, interventions: &Interventions) -> Vec<Vec<Vec<f32>>> {
    let out = f
        .model
        .forward(batch, interventions, Capture::default(), &Readout::All)
        .unwrap();
    vec3(&out.logits.unwrap())
}

/// One row's logits against the reference's, every `step`-th vocabulary entry.
fn assert_logits_close(got: &[Vec<f32>], expected: &[Vec<f64>], step: usize, what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: positions");
    for (t, (got, expected)) in got.iter().zip(expected).enumerate() {
        for v in (0..expected.len()).step_by(step) {
            assert_close(got[v] as f64, expected[v], &format!("{what} {t} {v}"));
        }
    }
}

fn vec3(t: &Tensor) -> Vec<Vec<Vec<f32>>> {
    t.to_vec3().unwrap()
}

#[test]
fn logits_match_the_reference() {
    let f = fixture();
    let batch = Batch::new(&f.rows, &Device::Cpu).unwrap();
    let out = f
        .model
        .forward(
            &batch,
            &Interventions::none(),
            Capture::default(),
            &Readout::All,
        )
        .unwrap();
    let logits = vec3(&out.logits.unwrap());
    for (r, row) in f.rows.iter().enumerate() {
        let expected = f.reference.run(row, &RefPatch::default());
        for t in 0..row.len() {
            for v in (0..expected.logits[t].len()).step_by(7) {
                assert_close(
                    logits[r][t][v] as f64,
                    expected.logits[t][v],
                    &format!("logit {r} {t} {v}"),
                );
            }
        }
    }
}

#[test]
fn token_readout_equals_full_readout() {
    let f = fixture();
    let batch = Batch::new(&f.rows, &Device::Cpu).unwrap();
    let positions: Vec<usize> = f.rows.iter().map(|r| r.len() - 1).collect();
    let tokens = Tensor::new(&[[3u32, 300], [260, 5], [9, 9]], &Device::Cpu).unwrap();
    let none = Interventions::none();
    let picked = f
        .model
        .forward(
            &batch,
            &none,
            Capture::default(),
            &Readout::Tokens {
                positions: positions.clone(),
                tokens,
            },
        )
        .unwrap();
    let full = f
        .model
        .forward(
            &batch,
            &none,
            Capture::default(),
            &Readout::Full { positions },
        )
        .unwrap();
    let picked: Vec<Vec<f32>> = picked.logits.unwrap().to_vec2().unwrap();
    let full: Vec<Vec<f32>> = full.logits.unwrap().to_vec2().unwrap();
    for (r, ids) in [[3usize, 300], [260, 5], [9, 9]].iter().enumerate() {
        for (k, id) in ids.iter().enumerate() {
            assert_close(picked[r][k] as f64, full[r][*id] as f64, "token readout");
        }
    }
}

#[test]
fn head_results_mlp_outputs_and_patterns_match_the_reference() {
    let f = fixture();
    let row = &f.rows[0];
    let batch = Batch::new(std::slice::from_ref(row), &Device::Cpu).unwrap();
    let capture = Capture {
        head_results: true,
        mlp_outputs: true,
        residuals: true,
        patterns: true,
        ..Default::default()
    };
    let out = f
        .model
        .forward(&batch, &Interventions::none(), capture, &Readout::None)
        .unwrap();
    let expected = f.reference.run(row, &RefPatch::default());
    for l in 0..3 {
        let results = out.head_results[l].i(0).unwrap(); // [seq, heads, d]
        let results: Vec<Vec<Vec<f32>>> = results.to_vec3().unwrap();
        let mlp: Vec<Vec<f32>> = out.mlp_outputs[l].i(0).unwrap().to_vec2().unwrap();
        let patterns: Vec<Vec<Vec<f32>>> = out.patterns[l].i(0).unwrap().to_vec3().unwrap();
        for h in 0..4 {
            for t in 0..row.len() {
                for s in 0..row.len() {
                    let expected = expected.patterns[l][h][t][s];
                    assert_close(patterns[h][t][s] as f64, expected, "attention pattern");
                }
            }
        }
        for t in 0..row.len() {
            for h in 0..4 {
                for j in 0..32 {
                    assert_close(
                        results[t][h][j] as f64,
                        expected.results[l][h][t][j],
                        "head result",
                    );
                }
            }
            for j in 0..32 {
                assert_close(mlp[t][j] as f64, expected.mlps[l][t][j], "mlp output");
            }
        }
    }
    assert_eq!(out.residuals.len(), 4);
}

/// Node-level patch of every layer's heads: head (1, 2) replaced at position 3 only, and every
/// head of layer 2 but head 0 replaced everywhere (so those are not computed at all).
fn node_patch(f: &Fixture, rows: &[Vec<u32>]) -> (Interventions, RefPatch) {
    let seq = rows.iter().map(Vec::len).max().unwrap();
    let mut reference = RefPatch::default();
    let mut heads = Vec::new();
    for l in 0..3 {
        let mut keep = vec![1f32; rows.len() * seq * 4];
        let mut replaced_sum = vec![0f32; rows.len() * seq * 32];
        for r in 0..rows.len() {
            for t in 0..seq {
                for h in 0..4 {
                    let replaced = (l == 1 && h == 2 && t == 3) || (l == 2 && h != 0);
                    let value = replacement_value(l, h, t, 32);
                    if replaced {
                        keep[(r * seq + t) * 4 + h] = 0.0;
                        for j in 0..32 {
                            replaced_sum[(r * seq + t) * 32 + j] += value[j] as f32;
                        }
                        if r == 0 {
                            reference.heads.insert((l, h, t), value);
                        }
                    }
                }
            }
        }
        let device = f.model.device();
        heads.push(Some(HeadPatch {
            keep: Tensor::from_vec(keep, (rows.len(), seq, 4), device).unwrap(),
            replaced: Tensor::from_vec(replaced_sum, (rows.len(), seq, 32), device).unwrap(),
            senders: BTreeMap::new(),
        }));
    }
    (
        Interventions {
            heads,
            ..Default::default()
        },
        reference,
    )
}

#[test]
fn replacing_heads_changes_only_what_the_reference_predicts() {
    let f = fixture();
    let rows = vec![f.rows[0].clone()];
    let batch = Batch::new(&rows, &Device::Cpu).unwrap();
    let (interventions, reference_patch) = node_patch(&f, &rows);
    let patched = all_logits(&f, &batch, &interventions);
    let clean = vec3(
        &f.model
            .forward(
                &batch,
                &Interventions::none(),
                Capture::default(),
                &Readout::All,
            )
            .unwrap()
            .logits
            .unwrap(),
    );
    let expected = f.reference.run(&rows[0], &reference_patch);
    for t in 0..rows[0].len() {
        for v in (0..expected.logits[t].len()).step_by(5) {
            assert_close(
                patched[0][t][v] as f64,
                expected.logits[t][v],
                &format!("patched logit {t} {v}"),
            );
        }
    }
    // Layer 2's replacement reaches every position; layer 1's head (at position 3) alone
    // would not change positions 0..3, so check that with a single-head patch.
    let mut single = interventions.clone();
    single.heads[2] = None;
    let only = all_logits(&f, &batch, &single);
    for t in 0..3 {
        assert_eq!(only[0][t], clean[0][t], "position {t} precedes the patch");
    }
    assert_ne!(only[0][3], clean[0][3]);
    assert_ne!(only[0][6], clean[0][6]);
}

#[test]
fn mlp_patch_matches_the_reference() {
    let f = fixture();
    let row = f.rows[1].clone();
    let seq = row.len();
    let batch = Batch::new(std::slice::from_ref(&row), &Device::Cpu).unwrap();
    let mut reference = RefPatch::default();
    let mut keep = vec![1f32; seq];
    let mut replacement = vec![0f32; seq * 32];
    keep[2] = 0.0;
    let value: Vec<f64> = (0..32).map(|j| (j as f64) * 0.01).collect();
    for j in 0..32 {
        replacement[2 * 32 + j] = value[j] as f32;
    }
    reference.mlps.insert((1, 2), value);
    let device = f.model.device();
    let mut mlps = vec![None, None, None];
    mlps[1] = Some(MlpPatch {
        keep: Tensor::from_vec(keep, (1, seq, 1), device).unwrap(),
        replacement: Tensor::from_vec(replacement, (1, seq, 32), device).unwrap(),
    });
    let interventions = Interventions {
        mlps,
        ..Default::default()
    };
    let logits = all_logits(&f, &batch, &interventions);
    let expected = f.reference.run(&row, &reference);
    assert_logits_close(&logits[0], &expected.logits, 11, "mlp-patched logit");
}

#[test]
fn rows_of_a_batch_are_independent_and_padding_is_harmless() {
    let f = fixture();
    let batch = Batch::new(&f.rows, &Device::Cpu).unwrap();
    let together = vec3(
        &f.model
            .forward(
                &batch,
                &Interventions::none(),
                Capture::default(),
                &Readout::All,
            )
            .unwrap()
            .logits
            .unwrap(),
    );
    let alone_batch = Batch::new(&f.rows[1..2], &Device::Cpu).unwrap();
    let alone = vec3(
        &f.model
            .forward(
                &alone_batch,
                &Interventions::none(),
                Capture::default(),
                &Readout::All,
            )
            .unwrap()
            .logits
            .unwrap(),
    );
    for t in 0..f.rows[1].len() {
        for v in 0..alone[0][t].len() {
            assert!((together[1][t][v] - alone[0][t][v]).abs() < 1e-4);
        }
    }
}

#[test]
fn starting_from_a_captured_residual_gives_the_same_logits() {
    let f = fixture();
    let batch = Batch::new(&f.rows, &Device::Cpu).unwrap();
    let (interventions, _) = node_patch(&f, &f.rows);
    let capture = Capture {
        residuals: true,
        ..Default::default()
    };
    let full = f
        .model
        .forward(&batch, &interventions, capture, &Readout::All)
        .unwrap();
    let resumed = f
        .model
        .forward_from(
            2,
            full.residuals[2].clone(),
            &interventions,
            Capture::default(),
            &Readout::All,
        )
        .unwrap();
    let a = vec3(full.logits.as_ref().unwrap());
    let b = vec3(resumed.logits.as_ref().unwrap());
    assert_eq!(a, b);
}

#[test]
fn edge_level_inputs_match_the_reference() {
    let f = fixture();
    let row = f.rows[0].clone();
    let seq = row.len();
    let batch = Batch::new(std::slice::from_ref(&row), &Device::Cpu).unwrap();
    let device = f.model.device();
    // Every head has a patch (keep everywhere except head (0, 1) at position 2), replacement
    // values fixed, so Δ = real − replacement for each sender.
    let mut heads = Vec::new();
    let mut reference = RefPatch::default();
    for l in 0..3 {
        let mut keep = vec![1f32; seq * 4];
        let mut replaced_sum = vec![0f32; seq * 32];
        let mut senders = BTreeMap::new();
        for h in 0..4 {
            let mut own = vec![0f32; seq * 32];
            for t in 0..seq {
                let value = replacement_value(l, h, t, 32);
                for j in 0..32 {
                    own[t * 32 + j] = value[j] as f32;
                }
                if l == 0 && h == 1 && t == 2 {
                    keep[t * 4 + h] = 0.0;
                    for j in 0..32 {
                        replaced_sum[t * 32 + j] += value[j] as f32;
                    }
                    reference.heads.insert((l, h, t), value);
                } else {
                    reference.sender_replacement.insert((l, h, t), value);
                }
            }
            senders.insert(h, Tensor::from_vec(own, (1, seq, 32), device).unwrap());
        }
        heads.push(Some(HeadPatch {
            keep: Tensor::from_vec(keep, (1, seq, 4), device).unwrap(),
            replaced: Tensor::from_vec(replaced_sum, (1, seq, 32), device).unwrap(),
            senders,
        }));
    }
    let embed_replacement: Vec<Vec<f64>> = (0..seq)
        .map(|t| (0..32).map(|j| ((t + j) % 3) as f64 * 0.05).collect())
        .collect();
    reference.embed_replacement = embed_replacement.clone();
    // Senders: the heads of layers 0 and 1, then layer 1's MLP.
    let mut senders: Vec<EdgeSender> = (0..2)
        .flat_map(|l| (0..4).map(move |h| EdgeSender::Head(l, h)))
        .collect();
    senders.push(EdgeSender::Mlp(1));
    let sender_key = |i: usize| match i {
        0 => Sender::Embed,
        i => match senders[i - 1] {
            EdgeSender::Head(l, h) => Sender::Head(l, h),
            EdgeSender::Mlp(l) => Sender::Mlp(l),
        },
    };
    let mlp_replacement: Vec<Vec<f64>> = (0..seq)
        .map(|t| {
            (0..32)
                .map(|j| ((t * 2 + j) % 7) as f64 * 0.03 - 0.1)
                .collect()
        })
        .collect();
    reference.mlp_replacement.insert(1, mlp_replacement.clone());
    // Receivers: (1, 0) q misses the embeddings and (0, 1); (2, 3) v misses (1, 2), (0, 0)
    // and layer 1's MLP, which itself misses the embeddings and (1, 3), a head of its layer.
    let mut receivers = BTreeMap::new();
    let all = vec![true; senders.len() + 1];
    let mut mlp = all.clone();
    mlp[0] = false;
    mlp[1 + 4 + 3] = false;
    reference
        .mlp_unconnected
        .insert(1, vec![Sender::Embed, Sender::Head(1, 3)]);
    let mut q = all.clone();
    q[0] = false;
    q[2] = false;
    receivers.insert((1, 0), [q.clone(), all.clone(), all.clone()]);
    let mut v = all.clone();
    v[1 + 4 + 2] = false;
    v[1] = false;
    v[1 + 8] = false;
    receivers.insert((2, 3), [all.clone(), all.clone(), v.clone()]);
    let mut logits = all.clone();
    logits[1 + 4 + 3] = false;
    for ((l, h), channels) in &receivers {
        for (c, connections) in channels.iter().enumerate() {
            let missing: Vec<_> = connections
                .iter()
                .enumerate()
                .filter(|(_, on)| !**on)
                .map(|(i, _)| sender_key(i))
                .collect();
            if !missing.is_empty() {
                reference.unconnected.insert((*l, *h, c), missing);
            }
        }
    }
    reference.logits_unconnected = logits
        .iter()
        .enumerate()
        .filter(|(_, on)| !**on)
        .map(|(i, _)| sender_key(i))
        .collect();
    let flat: Vec<f32> = embed_replacement
        .iter()
        .flatten()
        .map(|v| *v as f32)
        .collect();
    let flat_mlp: Vec<f32> = mlp_replacement
        .iter()
        .flatten()
        .map(|v| *v as f32)
        .collect();
    let edges = EdgePatch {
        senders,
        embed_replacement: Tensor::from_vec(flat, (1, seq, 32), device).unwrap(),
        mlp_replacements: BTreeMap::from([(
            1,
            Tensor::from_vec(flat_mlp, (1, seq, 32), device).unwrap(),
        )]),
        receivers,
        mlp_receivers: BTreeMap::from([(1, mlp)]),
        logits,
        rows: Tensor::ones((1, 1, 1), candle_core::DType::F32, device).unwrap(),
    };
    let interventions = Interventions {
        heads,
        mlps: vec![],
        edges: Some(edges),
    };
    let out = all_logits(&f, &batch, &interventions);
    let expected = f.reference.run(&row, &reference);
    assert_logits_close(&out[0], &expected.logits, 3, "edge logit");
}

#[test]
fn prefixed_checkpoints_load_the_same_model() {
    let plain = tempfile::tempdir().unwrap();
    let prefixed = tempfile::tempdir().unwrap();
    TinyGpt2::default().write(plain.path()).unwrap();
    TinyGpt2 {
        prefixed: true,
        ..Default::default()
    }
    .write(prefixed.path())
    .unwrap();
    let load =
        |dir: &Path| Transformer::load(&ModelFiles::in_dir(dir).unwrap(), &Device::Cpu).unwrap();
    let batch = Batch::new(&[vec![1, 2, 3]], &Device::Cpu).unwrap();
    let run = |m: &Transformer| {
        vec3(
            &m.forward(
                &batch,
                &Interventions::none(),
                Capture::default(),
                &Readout::All,
            )
            .unwrap()
            .logits
            .unwrap(),
        )
    };
    assert_eq!(run(&load(plain.path())), run(&load(prefixed.path())));
}

/// Attribution's gradients are the derivatives of F: a small vector added to one layer's
/// attention output at one position (through the head patch's replaced part, every head
/// kept) changes F as ⟨vector, gradient⟩ says, checked by central differences.
#[test]
fn attribution_gradients_match_finite_differences() {
    use circuitcheck::model::Objective;
    let f = fixture();
    let rows = vec![f.rows[0].clone(), f.rows[2].clone()];
    let seq = rows.iter().map(Vec::len).max().unwrap();
    let batch = Batch::new(&rows, &Device::Cpu).unwrap();
    let device = f.model.device();
    let readout = Readout::Tokens {
        positions: rows.iter().map(|r| r.len() - 1).collect(),
        tokens: Tensor::new(&[[3u32, 7], [11, 2]], device).unwrap(),
    };
    let objective = Objective::Logits(Tensor::new(&[[1f32, -1.0], [1.0, -1.0]], device).unwrap());
    // Every head kept, `replaced` carrying the perturbation (zero for the gradients).
    let perturbed = |layer: usize, row: usize, t: usize, direction: &[f32], scale: f32| {
        let heads = (0..3)
            .map(|l| {
                let mut replaced = vec![0f32; rows.len() * seq * 32];
                if l == layer {
                    for j in 0..32 {
                        replaced[(row * seq + t) * 32 + j] = scale * direction[j];
                    }
                }
                Some(HeadPatch {
                    keep: Tensor::ones((rows.len(), seq, 4), candle_core::DType::F32, device)
                        .unwrap(),
                    replaced: Tensor::from_vec(replaced, (rows.len(), seq, 32), device).unwrap(),
                    senders: BTreeMap::new(),
                })
            })
            .collect();
        Interventions {
            heads,
            ..Default::default()
        }
    };
    let zero = vec![0f32; 32];
    let attribution = f
        .model
        .attribution(
            &batch,
            &perturbed(0, 0, 0, &zero, 0.0),
            &readout,
            &objective,
        )
        .unwrap();
    let value = |interventions: &Interventions| -> f64 {
        let logits: Vec<Vec<f32>> = f
            .model
            .forward(&batch, interventions, Capture::default(), &readout)
            .unwrap()
            .logits
            .unwrap()
            .to_vec2()
            .unwrap();
        logits.iter().map(|l| (l[0] - l[1]) as f64).sum::<f64>() / rows.len() as f64
    };
    assert!((attribution.value - value(&perturbed(0, 0, 0, &zero, 0.0))).abs() < 1e-4);
    for (layer, row, t) in [(0, 0, 1), (1, 1, 3), (2, 0, 6), (1, 0, 0)] {
        let direction: Vec<f32> = (0..32)
            .map(|j| ((j * 7 + layer + t) % 5) as f32 - 2.0)
            .collect();
        let gradient: Vec<Vec<Vec<f32>>> = attribution.gradients[layer].to_vec3().unwrap();
        let predicted: f64 = (0..32)
            .map(|j| (direction[j] * gradient[row][t][j]) as f64)
            .sum();
        let h = 1e-2;
        let measured = (value(&perturbed(layer, row, t, &direction, h))
            - value(&perturbed(layer, row, t, &direction, -h)))
            / (2.0 * h as f64);
        assert!(
            (predicted - measured).abs() <= 2e-2 * measured.abs().max(0.05),
            "layer {layer}, row {row}, position {t}: gradient says {predicted}, differences {measured}"
        );
    }
    // Positions after the readout (row 0's padding) cannot matter; the readout's does.
    let first: Vec<Vec<Vec<f32>>> = attribution.gradients[0].to_vec3().unwrap();
    assert!(
        first[0][rows[0].len()..]
            .iter()
            .flatten()
            .all(|g| *g == 0.0)
    );
    assert!(first[0][rows[0].len() - 1].iter().any(|g| *g != 0.0));
}
