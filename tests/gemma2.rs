//! The candle Gemma-2 against the independent f64 reference (tests/common/reference.rs) on a
//! tiny random Gemma-2: plain logits, knocked-out heads (whose replacements stand before the
//! post-attention norm) and a replaced MLP (whose replacement stands after its post-norm).

use crate::common;

use candle_core::{Device, Tensor};
use circuitcheck::model::{
    Batch, Capture, HeadPatch, Interventions, LoadedModel, MlpPatch, ModelFiles, Readout,
};
use circuitcheck::testing::TinyModel;
use common::reference::{RefPatch, Reference, replacement_value};

const ROWS: [&[u32]; 3] = [
    &[5, 90, 300, 17, 260, 44, 301],
    &[260, 261, 262, 263, 264],
    &[1, 2, 3, 4, 5, 6, 7, 8, 9],
];

struct Fixture {
    _dir: tempfile::TempDir,
    loaded: LoadedModel,
    reference: Reference,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    TinyModel::gemma2().write(dir.path()).unwrap();
    let loaded = LoadedModel::load(ModelFiles::in_dir(dir.path()).unwrap(), &Device::Cpu).unwrap();
    let reference = Reference::load_dir(dir.path());
    Fixture {
        _dir: dir,
        loaded,
        reference,
    }
}

/// Every position's logits of one row, `[seq][vocab]`.
fn logits(f: &Fixture, row: &[u32], interventions: &Interventions) -> Vec<Vec<f32>> {
    let batch = Batch::new(&[row.to_vec()], &Device::Cpu).unwrap();
    let out = f
        .loaded
        .model
        .forward(&batch, interventions, Capture::default(), &Readout::All)
        .unwrap();
    let mut rows: Vec<Vec<Vec<f32>>> = out.logits.unwrap().to_vec3().unwrap();
    rows.remove(0)
}

/// The largest |candle − reference| over every logit.
fn difference(got: &[Vec<f32>], expected: &[Vec<f64>]) -> f64 {
    assert_eq!(got.len(), expected.len(), "positions");
    got.iter()
        .zip(expected)
        .flat_map(|(g, e)| {
            assert_eq!(g.len(), e.len(), "vocabulary");
            g.iter().zip(e).map(|(g, e)| (*g as f64 - e).abs())
        })
        .fold(0.0, f64::max)
}

#[test]
fn gemma2_logits_match_the_reference() {
    let f = fixture();
    for row in ROWS {
        let expected = f.reference.run(row, &RefPatch::default()).logits;
        let found = difference(&logits(&f, row, &Interventions::none()), &expected);
        assert!(found < 1e-4, "{row:?}: {found}");
    }
}

/// Heads 0.1 (at position 3) and every head but 2.0 (everywhere) knocked out, and layer 1's
/// MLP replaced at position 2.
#[test]
fn gemma2_node_patches_match_the_reference() {
    let f = fixture();
    let row = ROWS[0];
    let (seq, d, heads) = (row.len(), f.reference.d, f.reference.heads);
    let device = Device::Cpu;
    let mut reference = RefPatch::default();
    let mut interventions = Interventions {
        heads: vec![None; f.reference.layers],
        mlps: vec![None; f.reference.layers],
        ..Default::default()
    };
    for l in [0, 2] {
        let mut keep = vec![1f32; seq * heads];
        let mut replaced = vec![0f32; seq * d];
        for t in 0..seq {
            for h in 0..heads {
                if (l == 0 && h == 1 && t == 3) || (l == 2 && h != 0) {
                    let value = replacement_value(l, h, t, d);
                    keep[t * heads + h] = 0.0;
                    for j in 0..d {
                        replaced[t * d + j] += value[j] as f32;
                    }
                    reference.heads.insert((l, h, t), value);
                }
            }
        }
        interventions.heads[l] = Some(HeadPatch {
            keep: Tensor::from_vec(keep, (1, seq, heads), &device).unwrap(),
            replaced: Tensor::from_vec(replaced, (1, seq, d), &device).unwrap(),
            senders: Default::default(),
        });
    }
    let mut keep = vec![1f32; seq];
    let mut replacement = vec![0f32; seq * d];
    keep[2] = 0.0;
    let value: Vec<f64> = (0..d).map(|j| j as f64 * 0.05 - 0.7).collect();
    for j in 0..d {
        replacement[2 * d + j] = value[j] as f32;
    }
    reference.mlps.insert((1, 2), value);
    interventions.mlps[1] = Some(MlpPatch {
        keep: Tensor::from_vec(keep, (1, seq, 1), &device).unwrap(),
        replacement: Tensor::from_vec(replacement, (1, seq, d), &device).unwrap(),
    });
    let expected = f.reference.run(row, &reference).logits;
    let plain = f.reference.run(row, &RefPatch::default()).logits;
    let got = logits(&f, row, &interventions);
    let found = difference(&got, &expected);
    assert!(found < 1e-4, "{found}");
    // The patches matter: the unpatched logits are far from these.
    let moved = difference(&got, &plain);
    assert!(moved > 0.1, "{moved}");
}
