//! The tokenizer wrapper on a generated tiny BPE and, when `CIRCUITCHECK_TOKENIZER_DIR`
//! points at them, on the real GPT-2 files.

use circuitcheck::model::Tokenizer;
use circuitcheck::testing::write_tiny_tokenizer;

#[test]
fn tiny_tokenizer_makes_each_word_one_token() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_tokenizer(dir.path(), &["Mary", "John", "Then", "store"]).unwrap();
    let tok = Tokenizer::from_dir(dir.path()).unwrap();
    let mary = tok.single_token(" Mary").expect("' Mary' is one token");
    assert!(tok.single_token("Then").is_some());
    let ids = tok.encode("Then Mary and John").unwrap();
    // "and" is not a word of the vocabulary: it falls apart into bytes.
    assert_eq!(ids.len(), 1 + 1 + 4 + 1);
    assert_eq!(ids[1], mary);
    assert_eq!(tok.decode(&ids), "Then Mary and John");
}

#[test]
fn missing_tokenizer_names_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = Tokenizer::from_dir(dir.path()).unwrap_err();
    assert!(err.to_string().starts_with("no tokenizer in "), "{err}");
}

#[test]
fn real_gpt2_tokenizer_ids() {
    let Some(dir) = std::env::var_os("CIRCUITCHECK_TOKENIZER_DIR") else {
        eprintln!("CIRCUITCHECK_TOKENIZER_DIR not set: skipping the real-tokenizer check");
        return;
    };
    let tok = Tokenizer::from_dir(std::path::Path::new(&dir)).unwrap();
    assert_eq!(tok.vocab_size(), 50257);
    assert_eq!(tok.single_token(" Mary"), Some(5335));
    assert_eq!(tok.single_token(" John"), Some(1757));
    assert_eq!(tok.single_token("<|endoftext|>"), Some(50256));
}

/// The tiny BPE as a `tokenizer.json` whose post-processor puts a begin-of-text token before
/// every text, as Llama-3's does.
fn with_begin_of_text(dir: &std::path::Path) -> (Tokenizer, u32) {
    write_tiny_tokenizer(dir, &["Mary", "John", "Then", "and", "went", "to"]).unwrap();
    let vocab: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vocab.json")).unwrap()).unwrap();
    let bos = vocab.len() as u32;
    let merges: Vec<String> = std::fs::read_to_string(dir.join("merges.txt"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("#version"))
        .map(str::to_string)
        .collect();
    let byte_level = serde_json::json!({
        "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": true
    });
    let json = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [{
            "id": bos, "content": "<|begin_of_text|>", "single_word": false, "lstrip": false,
            "rstrip": false, "normalized": false, "special": true
        }],
        "normalizer": null,
        "pre_tokenizer": byte_level,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [
                { "SpecialToken": { "id": "<|begin_of_text|>", "type_id": 0 } },
                { "Sequence": { "id": "A", "type_id": 0 } }
            ],
            "pair": [
                { "SpecialToken": { "id": "<|begin_of_text|>", "type_id": 0 } },
                { "Sequence": { "id": "A", "type_id": 0 } },
                { "Sequence": { "id": "B", "type_id": 1 } }
            ],
            "special_tokens": {
                "<|begin_of_text|>": { "id": "<|begin_of_text|>", "ids": [bos], "tokens": ["<|begin_of_text|>"] }
            }
        },
        "decoder": byte_level,
        "model": {
            "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "",
            "end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false,
            "vocab": vocab, "merges": merges
        }
    });
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    (Tokenizer::from_tokenizer_json(&path).unwrap(), bos)
}

#[test]
fn prompts_start_with_the_tokens_the_tokenizer_puts_before_a_text() {
    let dir = tempfile::tempdir().unwrap();
    let (tok, bos) = with_begin_of_text(dir.path());
    let words = tok.encode("Then Mary and John").unwrap();
    assert!(!words.contains(&bos), "pieces have no special tokens");
    assert_eq!(
        tok.encode_prompt("Then Mary and John").unwrap(),
        [vec![bos], words.clone()].concat()
    );
    let with_offsets = tok.encode_prompt_with_offsets("Then Mary").unwrap();
    assert_eq!(with_offsets[0], (bos, (0, 0)));
    assert_eq!(with_offsets[1].1, (0, 4), "offsets are the text's");
    // A word is still one token.
    assert_eq!(tok.single_token(" Mary"), Some(words[1]));

    // GPT-2's tokenizer puts nothing before a text.
    let plain = tempfile::tempdir().unwrap();
    write_tiny_tokenizer(plain.path(), &["Mary"]).unwrap();
    let gpt2 = Tokenizer::from_dir(plain.path()).unwrap();
    assert_eq!(
        gpt2.encode_prompt(" Mary").unwrap(),
        gpt2.encode(" Mary").unwrap()
    );
}

#[test]
fn a_generated_prompt_starts_with_them_and_its_positions_count_them() {
    let dir = tempfile::tempdir().unwrap();
    let (tok, bos) = with_begin_of_text(dir.path());
    let task = circuitcheck::task::Task::from_source(
        "t.toml",
        r#"
name = "t"
metric = "logit-difference"
answer = "A"
distractor = "B"
positions = ["IO = A", "S = B", "END = end"]
distinct = [["A", "B"]]
[placeholders]
A = "names"
B = "names"
[reference]
resample = ["A", "B"]
[[families]]
name = "f"
templates = ["Then [A] and [B] went to"]
[lists]
names = ["Mary", "John"]
"#,
    )
    .unwrap();
    let dataset = task.dataset(&tok, 2, 0).unwrap();
    for prompt in dataset.prompts.iter().chain(&dataset.reference) {
        assert_eq!(prompt.tokens[0], bos, "{}", prompt.text);
        assert_eq!(prompt.tokens.len(), 1 + 6, "{}", prompt.text);
        assert_eq!(prompt.positions["IO"], 2, "{}", prompt.text);
        assert_eq!(prompt.positions["S"], 4, "{}", prompt.text);
        assert_eq!(prompt.positions["END"], 6, "{}", prompt.text);
    }
}
