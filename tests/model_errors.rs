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
    assert!(error.to_string().contains("(truncated?)"), "{error}");
}

#[test]
fn a_header_longer_than_the_file() {
    let dir = tiny();
    let path = dir.path().join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    let length = bytes.len() as u64;
    bytes[..8].copy_from_slice(&length.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::unreadable");
    assert!(
        error.to_string().contains("more than the file holds"),
        "{error}"
    );
    // Shorter than a header's length at all.
    std::fs::write(&path, &bytes[..5]).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::unreadable");
    assert!(error.to_string().contains("too short"), "{error}");
}

#[test]
fn tokenizer_that_does_not_fit_the_vocabulary() {
    let dir = tiny();
    // More words than the model has embeddings for.
    let words: Vec<String> = (0..100).map(|i| format!("w{i}")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    circuitcheck::testing::write_tiny_tokenizer(dir.path(), &words).unwrap();
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

/// Rewrites one field of the tiny model's config.json.
fn with_config(field: &str, value: &str) -> tempfile::TempDir {
    let dir = tiny();
    let path = dir.path().join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config[field] = serde_json::from_str(value).unwrap();
    std::fs::write(&path, config.to_string()).unwrap();
    dir
}

#[test]
fn impossible_configs_are_refused_before_anything_is_allocated() {
    let cases = [
        ("n_head", "0", "`n_head` is 0"),
        ("n_head", "5", "`n_head` (5) does not divide `n_embd` (32)"),
        ("vocab_size", "0", "`vocab_size` is 0"),
        ("n_embd", "0", "`n_embd` is 0"),
        ("n_positions", "0", "`n_positions` is 0"),
        ("n_inner", "0", "`n_inner` is 0"),
        // Used to abort: millions of expected tensor names before any check.
        ("n_layer", "1000000000000", "`n_layer` is 1000000000000"),
        ("n_layer", "0", "`n_layer` is 0"),
        ("layer_norm_epsilon", "-1.0", "`layer_norm_epsilon` is -1"),
        ("vocab_size", "18446744073709551615", "overflows"),
    ];
    for (field, value, message) in cases {
        let dir = with_config(field, value);
        let error = load(dir.path()).unwrap_err();
        assert_eq!(code(&error), "model::config", "{field} = {value}: {error}");
        assert!(error.to_string().contains(message), "{error}");
    }
}

#[test]
fn a_config_with_more_layers_than_the_weights_lists_a_few_missing_tensors() {
    let dir = with_config("n_layer", "1000");
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::missing-tensor", "{error}");
    let message = error.to_string();
    assert!(message.contains("lacks 11964 tensor(s)"), "{message}");
    assert!(message.ends_with("and 11952 more"), "{message}");
}

#[test]
fn config_and_weights_that_are_not_regular_files() {
    let dir = tiny();
    let config = dir.path().join("config.json");
    std::fs::remove_file(&config).unwrap();
    std::fs::create_dir(&config).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::config", "{error}");
    assert!(error.to_string().contains("a directory"), "{error}");

    let dir = tiny();
    let weights = dir.path().join("model.safetensors");
    std::fs::remove_file(&weights).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &weights).unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "model::unreadable", "{error}");
    assert!(error.to_string().contains("not a regular file"), "{error}");
}

#[test]
fn garbage_tokenizer_files_are_refused() {
    // The tokenizers crate panics on a merge whose join is not in the vocabulary.
    let dir = tiny();
    std::fs::write(dir.path().join("vocab.json"), r#"{"ab": 0, "cd": 1}"#).unwrap();
    std::fs::write(dir.path().join("merges.txt"), "#version: 0.2\nab cd\n").unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "tokenizer::invalid", "{error}");
    assert!(
        error
            .to_string()
            .contains("`abcd` is not in the vocabulary"),
        "{error}"
    );

    std::fs::write(dir.path().join("vocab.json"), "[1, 2, 3]").unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "tokenizer::invalid", "{error}");

    std::fs::write(
        dir.path().join("tokenizer.json"),
        r#"{"model": {"type": "BPE", "vocab": {"ab": 0, "cd": 1}, "merges": [["ab", "cd"]]}}"#,
    )
    .unwrap();
    let error = load(dir.path()).unwrap_err();
    assert_eq!(code(&error), "tokenizer::invalid", "{error}");
    assert!(error.to_string().contains("merge 1"), "{error}");
}

#[test]
fn stored_dtype_of_garbage_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    for bytes in [
        &b""[..],
        &[0xff; 8][..],
        &[8, 0, 0, 0, 0, 0, 0, 0, b'{', b'}'][..],
        &[2, 0, 0, 0, 0, 0, 0, 0, b'[', b']'][..],
    ] {
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(circuitcheck::model::weights::stored_dtype(&path), None);
    }
}

/// A checkpoint split into shards with an index, as large models are published, loads to the
/// same model as the one file; a shard the index names but the directory lacks is an error.
#[test]
fn a_sharded_checkpoint_loads_as_the_single_file_does() {
    use candle_core::Tensor;
    use circuitcheck::model::{Batch, Capture, Interventions, Readout};
    let single = tiny();
    let sharded = tempfile::tempdir().unwrap();
    for file in ["config.json", "vocab.json", "merges.txt"] {
        std::fs::copy(single.path().join(file), sharded.path().join(file)).unwrap();
    }
    let tensors =
        candle_core::safetensors::load(single.path().join("model.safetensors"), &Device::Cpu)
            .unwrap();
    let mut names: Vec<&String> = tensors.keys().collect();
    names.sort();
    let (first, second) = names.split_at(names.len() / 2);
    let mut weight_map = serde_json::Map::new();
    for (shard, part) in [
        ("model-00001-of-00002.safetensors", first),
        ("model-00002-of-00002.safetensors", second),
    ] {
        let part: std::collections::HashMap<String, Tensor> = part
            .iter()
            .map(|name| ((*name).clone(), tensors[*name].clone()))
            .collect();
        candle_core::safetensors::save(&part, sharded.path().join(shard)).unwrap();
        for name in part.keys() {
            weight_map.insert(name.clone(), shard.into());
        }
    }
    let index = serde_json::json!({ "metadata": {}, "weight_map": weight_map });
    let index_path = sharded.path().join("model.safetensors.index.json");
    std::fs::write(&index_path, index.to_string()).unwrap();

    let logits = |dir: &Path| -> Vec<Vec<Vec<f32>>> {
        let loaded = load(dir).unwrap();
        let batch = Batch::new(&[vec![1, 5, 9, 2]], &Device::Cpu).unwrap();
        let out = loaded
            .model
            .forward(
                &batch,
                &Interventions::none(),
                Capture::default(),
                &Readout::All,
            )
            .unwrap();
        out.logits.unwrap().to_vec3().unwrap()
    };
    let files = ModelFiles::in_dir(sharded.path()).unwrap();
    assert_eq!(files.weights, index_path);
    assert_eq!(files.weight_files().unwrap().len(), 2);
    assert_eq!(logits(sharded.path()), logits(single.path()));

    std::fs::remove_file(sharded.path().join("model-00002-of-00002.safetensors")).unwrap();
    let error = load(sharded.path()).unwrap_err();
    assert_eq!(code(&error), "model::missing-file");
}
