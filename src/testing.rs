//! Fixtures for tests and examples: tiny tokenizer (and later model) files generated on
//! the fly in the real on-disk formats, so tests load them through the same code users do.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// GPT-2's reversible map from bytes to printable characters (`bytes_to_unicode`).
pub fn byte_to_char() -> [char; 256] {
    let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).collect();
    printable.extend(0xA1..=0xAC);
    printable.extend(0xAE..=0xFF);
    let mut map = ['\0'; 256];
    let mut next = 0u32;
    for b in 0..256u32 {
        let c = if printable.contains(&b) {
            b
        } else {
            next += 1;
            255 + next
        };
        map[b as usize] = char::from_u32(c).expect("valid code point");
    }
    map
}

/// Writes a GPT-2-style byte-level BPE (`vocab.json` + `merges.txt`) into `dir` in which
/// every word of `words` is a single token both as written and with a leading space
/// (`"Mary"` and `" Mary"`). The vocabulary holds the 256 byte symbols, the merge chains of
/// the words and `<|endoftext|>` last.
pub fn write_tiny_tokenizer(dir: &Path, words: &[&str]) -> io::Result<()> {
    let chars = byte_to_char();
    let symbols = |text: &str| -> Vec<String> {
        text.bytes()
            .map(|b| chars[b as usize].to_string())
            .collect()
    };
    let mut vocab: BTreeMap<String, u32> = BTreeMap::new();
    let mut ordered: Vec<String> = Vec::new();
    let mut add = |token: String, vocab: &mut BTreeMap<String, u32>| {
        if !vocab.contains_key(&token) {
            vocab.insert(token.clone(), ordered.len() as u32);
            ordered.push(token);
        }
    };
    for c in chars {
        add(c.to_string(), &mut vocab);
    }
    // Space-prefixed chains rank before bare chains, so " Mary" always merges to one token.
    let mut merges: Vec<(String, String)> = Vec::new();
    for spaced in [true, false] {
        for word in words {
            let text = if spaced {
                format!(" {word}")
            } else {
                word.to_string()
            };
            let parts = symbols(&text);
            let mut prefix = parts[0].clone();
            for part in &parts[1..] {
                let merged = format!("{prefix}{part}");
                if !vocab.contains_key(&merged) {
                    merges.push((prefix.clone(), part.clone()));
                    add(merged.clone(), &mut vocab);
                }
                prefix = merged;
            }
        }
    }
    add("<|endoftext|>".to_string(), &mut vocab);
    std::fs::create_dir_all(dir)?;
    let vocab_json = serde_json::to_string_pretty(&vocab).map_err(io::Error::other)?;
    std::fs::write(dir.join("vocab.json"), vocab_json)?;
    let mut merges_txt = String::from("#version: 0.2\n");
    for (a, b) in merges {
        merges_txt.push_str(&format!("{a} {b}\n"));
    }
    std::fs::write(dir.join("merges.txt"), merges_txt)
}
