//! BPE vocabularies and merges checked before the `tokenizers` crate builds from them: it
//! panics on a merge whose parts or result are not in the vocabulary (it copies them into a
//! buffer as long as the longest token), so such files are refused here with a reason.

use std::collections::HashMap;

use serde_json::Value;
use tokenizers::models::bpe::{Merges, Vocab};

/// `vocab.json` (token → id) and `merges.txt` (`#version` line, then `a b` per line).
pub fn parse(vocab: &str, merges: &str) -> Result<(Vocab, Merges), String> {
    let vocab: HashMap<String, u32> =
        serde_json::from_str(vocab).map_err(|e| format!("vocab.json: {e}"))?;
    let mut pairs = Vec::new();
    for (i, line) in merges.lines().enumerate() {
        if line.starts_with("#version") {
            continue;
        }
        match line.split(' ').collect::<Vec<_>>().as_slice() {
            [a, b] => pairs.push((a.to_string(), b.to_string())),
            _ => {
                return Err(format!(
                    "merges.txt line {}: {line:?} is not two tokens separated by one space",
                    i + 1
                ));
            }
        }
    }
    check_merges(
        pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())),
        "",
        |t| vocab.contains_key(t),
    )?;
    Ok((vocab.into_iter().collect(), pairs))
}

/// Checks the merges of a BPE model in a `tokenizer.json`; other models pass unchecked.
pub fn check_tokenizer_json(json: &Value) -> Result<(), String> {
    let Some(model) = json.get("model") else {
        return Ok(());
    };
    let is_bpe = match model.get("type") {
        Some(kind) => kind == "BPE",
        None => model.get("merges").is_some(),
    };
    let (Some(Value::Object(vocab)), Some(Value::Array(merges)), true) =
        (model.get("vocab"), model.get("merges"), is_bpe)
    else {
        // Missing or mistyped parts are the tokenizers crate's to report.
        return Ok(());
    };
    let prefix = model
        .get("continuing_subword_prefix")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut pairs = Vec::with_capacity(merges.len());
    for merge in merges {
        let pair = match merge {
            Value::String(text) => text.split_once(' '),
            Value::Array(parts) => match parts.as_slice() {
                [Value::String(a), Value::String(b)] => Some((a.as_str(), b.as_str())),
                _ => None,
            },
            _ => None,
        };
        // Malformed merges are the tokenizers crate's to report.
        if let Some(pair) = pair {
            pairs.push(pair);
        }
    }
    check_merges(pairs.into_iter(), prefix, |t| vocab.contains_key(t))
}

/// Every merge joins two tokens of the vocabulary into a third (the second token starting
/// with `prefix`, which the join drops).
fn check_merges<'a>(
    merges: impl Iterator<Item = (&'a str, &'a str)>,
    prefix: &str,
    known: impl Fn(&str) -> bool,
) -> Result<(), String> {
    for (i, (a, b)) in merges.enumerate() {
        let problem = if !known(a) {
            format!("`{a}` is not in the vocabulary")
        } else if !known(b) {
            format!("`{b}` is not in the vocabulary")
        } else if let Some(rest) = b.strip_prefix(prefix) {
            let joined = format!("{a}{rest}");
            if known(&joined) {
                continue;
            }
            format!("their join `{joined}` is not in the vocabulary")
        } else {
            format!("`{b}` does not start with the subword prefix `{prefix}`")
        };
        return Err(format!("merge {} (`{a}` + `{b}`): {problem}", i + 1));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_outside_the_vocabulary_are_refused() {
        let vocab = r#"{"a": 0, "b": 1, "ab": 2, "cd": 3}"#;
        assert!(parse(vocab, "#version: 0.2\na b\n").is_ok());
        let error = parse(vocab, "#version: 0.2\nab cd\n").unwrap_err();
        assert!(error.contains("`abcd` is not in the vocabulary"), "{error}");
        let error = parse(vocab, "a  b\n").unwrap_err();
        assert!(error.contains("line 1"), "{error}");
    }

    #[test]
    fn tokenizer_json_merges_are_checked() {
        let json: Value = serde_json::from_str(
            r#"{"model": {"type": "BPE", "vocab": {"ab": 0, "cd": 1}, "merges": ["ab cd"]}}"#,
        )
        .unwrap();
        let error = check_tokenizer_json(&json).unwrap_err();
        assert!(error.contains("merge 1"), "{error}");
    }
}
