//! The committed toy model (models/toy-induction) does its task, and the trainer that made
//! it still makes a model as good.

use std::path::Path;

use candle_core::Device;
use circuitcheck::model::{LoadedModel, ModelFiles};
use circuitcheck::toy::{TrainOptions, accuracy, save, train};

fn committed() -> LoadedModel {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/toy-induction");
    LoadedModel::load(ModelFiles::in_dir(&dir).unwrap(), &Device::Cpu).unwrap()
}

#[test]
fn the_committed_model_does_induction() {
    let model = committed();
    let accuracy = accuracy(&model.model, &model.tokenizer, 500, 1).unwrap();
    assert!(accuracy > 0.95, "accuracy {accuracy}");
}

#[test]
fn the_committed_files_are_small() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/toy-induction");
    let total: u64 = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum();
    assert!(total < 1 << 20, "{total} bytes");
}

/// Minutes in release: `cargo test --release --no-default-features --test main -- --ignored toy::`
/// (CI runs it). Bytes may differ across CPUs; the accuracy should not fall.
#[test]
#[ignore]
fn retraining_with_the_same_seed_reproduces_the_accuracy() {
    let varmap = train(&TrainOptions::default(), |_, _| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    save(&varmap, dir.path()).unwrap();
    let retrained =
        LoadedModel::load(ModelFiles::in_dir(dir.path()).unwrap(), &Device::Cpu).unwrap();
    let again = accuracy(&retrained.model, &retrained.tokenizer, 500, 1).unwrap();
    let model = committed();
    let before = accuracy(&model.model, &model.tokenizer, 500, 1).unwrap();
    assert!(again > 0.95, "retrained accuracy {again}");
    // As good as the committed model, within 10 of 500 prompts; better is fine (this machine
    // retrains to 0.98 where the committed model, trained on another CPU, scores 0.96).
    assert!(
        again >= before - 0.02 - 1e-9,
        "retrained {again}, committed {before}"
    );
}
