//! Structure-aware mutations of JSON inputs (configs, tokenizer files, the safetensors
//! header): one value of the parsed document replaced, removed or duplicated, then written
//! back, so most inputs still parse and reach the checks behind the parser.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

/// Values that break assumptions about sizes, types and names.
fn interesting(rng: &mut ChaCha8Rng) -> Value {
    match rng.random_range(0..16) {
        0 => json!(0),
        1 => json!(1),
        2 => json!(-1),
        3 => json!(u64::MAX),
        4 => json!(u32::MAX as u64 + 1),
        5 => json!(1e308),
        6 => json!(0.5),
        7 => Value::Null,
        8 => json!(true),
        9 => json!([]),
        10 => json!({}),
        11 => json!(""),
        12 => json!(["F16", "BF16", "F32", "F64", "I8", "BOOL", "U8"].choose(rng)),
        13 => json!(rng.random_range(0..4096)),
        14 => json!([rng.random_range(0..64), rng.random_range(0..64)]),
        _ => json!("h.0.attn.c_attn.weight"),
    }
}

/// Every value in the document, as a path of keys and indices.
fn paths(value: &Value, prefix: &mut Vec<Key>, out: &mut Vec<Vec<Key>>) {
    if out.len() > 4096 {
        return;
    }
    out.push(prefix.clone());
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                prefix.push(Key::Name(key.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(Key::Index(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

#[derive(Clone)]
enum Key {
    Name(String),
    Index(usize),
}

fn at<'v>(value: &'v mut Value, path: &[Key]) -> Option<&'v mut Value> {
    path.iter().try_fold(value, |value, key| match key {
        Key::Name(name) => value.get_mut(name),
        Key::Index(i) => value.get_mut(*i),
    })
}

/// Changes one value of `document`.
pub fn mutate(document: &mut Value, rng: &mut ChaCha8Rng) {
    let mut all = Vec::new();
    paths(document, &mut Vec::new(), &mut all);
    let path = all.choose(rng).cloned().unwrap_or_default();
    let Some((last, parent_path)) = path.split_last() else {
        *document = interesting(rng);
        return;
    };
    let Some(parent) = at(document, parent_path) else {
        return;
    };
    match (parent, last, rng.random_range(0..4)) {
        (Value::Object(map), Key::Name(name), 0) => {
            map.remove(name);
        }
        (Value::Object(map), Key::Name(name), 1) => {
            // Renamed: a prefix dropped or added, or a typo.
            if let Some(child) = map.remove(name) {
                let renamed = match rng.random_range(0..3) {
                    0 => name
                        .strip_prefix("transformer.")
                        .unwrap_or(name)
                        .to_string(),
                    1 => format!("transformer.{name}"),
                    _ => format!("{name}x"),
                };
                map.insert(renamed, child);
            }
        }
        (Value::Array(items), Key::Index(i), 0) if *i < items.len() => {
            items.remove(*i);
        }
        (Value::Array(items), Key::Index(i), 1) if *i < items.len() => {
            let copy = items[*i].clone();
            items.insert(*i, copy);
        }
        (parent, key, _) => {
            let child = match key {
                Key::Name(name) => parent.get_mut(name),
                Key::Index(i) => parent.get_mut(*i),
            };
            if let Some(child) = child {
                *child = match child {
                    Value::Number(n) if rng.random_bool(0.5) => {
                        let n = n.as_u64().unwrap_or(0);
                        json!(n.wrapping_add(rng.random_range(0..3)).wrapping_sub(1))
                    }
                    _ => interesting(rng),
                };
            }
        }
    }
}

/// A JSON text with one value changed; `None` when it does not parse.
pub fn mutate_text(text: &[u8], rng: &mut ChaCha8Rng) -> Option<Vec<u8>> {
    let mut document: Value = serde_json::from_slice(text).ok()?;
    mutate(&mut document, rng);
    serde_json::to_vec(&document).ok()
}

/// A safetensors file with one value of its header changed and the length fixed.
pub fn mutate_safetensors(bytes: &[u8], rng: &mut ChaCha8Rng) -> Option<Vec<u8>> {
    let length = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header = bytes.get(8..8usize.checked_add(length)?)?;
    let mutated = mutate_text(header, rng)?;
    let data = &bytes[8 + length..];
    Some([&(mutated.len() as u64).to_le_bytes()[..], &mutated, data].concat())
}

/// Vocabulary and merges (split at a NUL): a vocabulary value changed, or a merge line
/// replaced by two random vocabulary tokens.
pub fn mutate_vocab_and_merges(bytes: &[u8], rng: &mut ChaCha8Rng) -> Option<Vec<u8>> {
    let split = bytes.iter().position(|&b| b == 0)?;
    let (vocab, merges) = (&bytes[..split], &bytes[split + 1..]);
    if rng.random_bool(0.5) {
        let vocab = mutate_text(vocab, rng)?;
        return Some([&vocab[..], &[0], merges].concat());
    }
    let tokens: Vec<String> = serde_json::from_slice::<serde_json::Map<String, Value>>(vocab)
        .ok()?
        .keys()
        .cloned()
        .collect();
    let mut lines: Vec<String> = String::from_utf8_lossy(merges)
        .lines()
        .map(str::to_string)
        .collect();
    let line = format!("{} {}", tokens.choose(rng)?, tokens.choose(rng)?);
    let at = rng.random_range(0..=lines.len());
    lines.insert(at, line);
    Some([vocab, &[0], lines.join("\n").as_bytes()].concat())
}
