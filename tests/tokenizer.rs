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
