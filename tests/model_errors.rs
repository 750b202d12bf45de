//! Bad model directories fail with the diagnostic that names the problem, never a panic.

use std::path::Path;

use candle_core::Device;
use circuitcheck::model::{LoadedModel, ModelError, ModelFiles};
use circuitcheck::testing::TinyGpt2;

fn tiny() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    TinyGpt2::default().write(dir.path()).unwrap();
    dir
}

fn load(dir: &Path) -> Result<LoadedModel, ModelError> {
    LoadedModel::load(ModelFiles::in_dir(dir)?, &Device::Cpu)
}

fn code(error: &ModelError) -> String {
    miette::Diagnostic::code(error).unwrap().to_string()
}

#[test]
fn a_good_directory_loads() {
    let dir = tiny();
    let loaded = load(dir.path()).unwrap();
    assert_eq!(loaded.model.config().n_layer, 3);
}

#[test]
fn missing_weights() {
    let dir = tempfile::tempdir().unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::missing-file");
    assert!(
        error.to_string().ends_with("model.safetensors is missing"),
        "{error}"
    );
}

#[test]
fn wrong_shape_names_the_tensor() {
    let dir = tiny();
    let config = dir.path().join("config.json");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("\"n_positions\": 64", "\"n_positions\": 128");
    std::fs::write(&config, text).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::shape");
    assert!(error.to_string().contains("tensor `wpe.weight`"), "{error}");
    assert!(
        error
            .to_string()
            .contains("has shape [64, 32], expected [128, 32]"),
        "{error}"
    );
}

#[test]
fn missing_tensor_is_listed() {
    let dir = tiny();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let kept: Vec<(String, safetensors::tensor::TensorView)> = file
        .tensors()
        .into_iter()
        .filter(|(name, _)| name != "h.1.mlp.c_fc.bias")
        .collect();
    let rewritten = safetensors::serialize(kept, None).unwrap();
    std::fs::write(&path, rewritten).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::missing-tensor");
    assert!(
        error
            .to_string()
            .ends_with("lacks 1 tensor(s): h.1.mlp.c_fc.bias"),
        "{error}"
    );
}

#[test]
fn corrupt_header() {
    let dir = tiny();
    let path = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..16].copy_from_slice(b"garbage!");
    std::fs::write(&path, bytes).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::unreadable");
}

#[test]
fn truncated_file() {
    let dir = tiny();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 100]).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::unreadable");
}

#[test]
fn tokenizer_that_does_not_fit_the_vocabulary() {
    let dir = tiny();
    circuitcheck::testing::write_tiny_tokenizer(dir.path(), &["Mary", "John"]).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::tokenizer-mismatch");
}

#[test]
fn missing_tokenizer() {
    let dir = tiny();
    std::fs::remove_file(dir.path().join("vocab.json")).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "tokenizer::missing");
}

#[test]
fn nothing_found_lists_every_place_tried() {
    let home = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_circuitcheck"))
        .args(["model", "info"])
        .env_remove("CIRCUITCHECK_MODEL")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_CACHE")
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("model::not-found"), "{stderr}");
    assert!(
        stderr.contains("models--openai-community--gpt2"),
        "{stderr}"
    );
    assert!(stderr.contains("download from the hub"), "{stderr}");
    assert!(stderr.contains("--model DIR"), "{stderr}");
}

#[test]
fn model_info_describes_a_directory() {
    let dir = tiny();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_circuitcheck"))
        .args(["model", "info", "--model"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("layers       3"), "{stdout}");
    assert!(stdout.contains("dtype        f32"), "{stdout}");
}
