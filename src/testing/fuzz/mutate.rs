//! Byte-level mutations of seed inputs: bit flips, inserted, deleted and duplicated spans,
//! splices from other seeds, and tokens known to make trouble (huge numbers, `inf`, long
//! lines, odd Unicode, deep nesting, `extends` lines), some of them per target.

use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use crate::testing::fuzz::{Target, structure};

/// Inputs are kept below this size, so one input takes milliseconds.
pub const MAX_LEN: usize = 1 << 18;

const PUNCTUATION: &[u8] = b" \n\t{}[]\",.#=-+";

/// Tokens worth trying in any text input.
const COMMON: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "0.5",
    "4294967295",
    "4294967296",
    "18446744073709551616",
    "99999999999999999999999999999999999999",
    "1e400",
    "inf",
    "-inf",
    "NaN",
    "nan",
    "1.",
    ".5",
    "é",
    "😀",
    "\u{202e}",
    "\u{0}",
    "\u{7f}",
    "\u{85}",
    "\u{feff}",
    "\r",
    "\r\n",
    "\t",
    "\n",
    "漢字",
    "e\u{301}",
    "\\",
    "\\\"",
    "\"",
    "'",
    "#",
    "{",
    "}",
    "[",
    "]",
    "(",
    ")",
    ",",
    ".",
    "=",
    " ",
];

const CIRCUIT: &[&str] = &[
    "circuit x {\n",
    "circuit x extends \"ioi.circuit\" {\n",
    "extends \"/dev/zero\"",
    "extends \"fuzz.circuit\"",
    "extends \"ioi-naive.circuit\"",
    "extends \"\"",
    "extends \"../../etc/passwd\"",
    "model gpt2-small",
    "model toy-induction",
    "task ioi",
    "task induction",
    "ablation mean",
    "level edge",
    "class ",
    "edge ",
    "mlp ",
    "mlp none",
    "mlp all at all",
    "expect ",
    "minimality ",
    "remove class ",
    "remove head ",
    "remove edge ",
    "remove expect ",
    "add ",
    " to ",
    " at ",
    " all",
    " given ",
    "->",
    ".q",
    ".k",
    ".v",
    "embed",
    "logits",
    "9.9",
    "0.0",
    "11.11",
    "12.0",
    "99999999999.1",
    "S2",
    "END",
    "S1+1",
    "IO",
    "faithfulness",
    "minimality(9.9)",
    "incompleteness",
    ">=",
    "<",
    "{ 9.9 }",
    "name_mover",
    "induction",
    "\"desc\"",
    "# comment\n",
];

const TASK: &str = "[A] [B] [[families]] [[prompts]] [placeholders] [lists] [reference] \
    templates templates\u{20}=\u{20}[] text\u{20}=\u{20}\"\" answer\u{20}=\u{20}[] \
    distractor\u{20}=\u{20}[] B#2 B+1 B-1 B#0 end name metric logit-difference \
    probability-difference positions distinct resample group \" Mary\" \"\" \" \"";

const JSON: &[&str] = &[
    "null",
    "true",
    "[]",
    "{}",
    "\"n_head\": 0",
    "\"n_layer\": 1000000000000",
    "\"n_inner\": 0",
    "1e999",
    "-5",
    "\"type\": \"BPE\"",
    "\"type\": \"WordPiece\"",
    "\"type\": \"Unigram\"",
    "\"type\": \"WordLevel\"",
    "\"merges\": []",
    "\"vocab\": {}",
    "\"continuing_subword_prefix\": \"##\"",
    "\"unk_token\": \"<unk>\"",
    "\"byte_fallback\": true",
    "\"dropout\": 2.0",
    "\"dtype\":\"F16\"",
    "\"dtype\":\"BOOL\"",
    "\"dtype\":\"F64\"",
    "\"shape\":[]",
    "\"shape\":[4294967296,4294967296]",
    "\"data_offsets\":[0,0]",
    "\"data_offsets\":[0,18446744073709551615]",
    "\"__metadata__\":{}",
];

/// Tokens for `target`.
fn dictionary(target: Target) -> Vec<&'static str> {
    let mut words = COMMON.to_vec();
    match target {
        Target::Circuit | Target::Format => words.extend_from_slice(CIRCUIT),
        Target::Task => words.extend(TASK.split(' ')),
        Target::Config | Target::Tokenizer | Target::Safetensors => words.extend_from_slice(JSON),
    }
    words
}

pub struct Mutator {
    target: Target,
    words: Vec<&'static str>,
}

impl Mutator {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            words: dictionary(target),
        }
    }

    /// Applies a few mutations (one half the time, two a quarter, ...), drawing splices
    /// from `others`; JSON inputs are often changed value by value instead of byte by byte.
    pub fn mutate(&self, input: &mut Vec<u8>, others: &[Vec<u8>], rng: &mut ChaCha8Rng) {
        let mut times = 1;
        while times < 6 && rng.random_bool(0.5) {
            times += 1;
        }
        for _ in 0..times {
            if rng.random_bool(0.6)
                && let Some(changed) = self.structured(input, rng)
            {
                *input = changed;
            } else {
                self.once(input, others, rng);
            }
        }
        input.truncate(MAX_LEN);
    }

    fn structured(&self, input: &[u8], rng: &mut ChaCha8Rng) -> Option<Vec<u8>> {
        match self.target {
            Target::Config => structure::mutate_text(input, rng),
            Target::Safetensors => structure::mutate_safetensors(input, rng),
            Target::Tokenizer if input.contains(&0) => {
                structure::mutate_vocab_and_merges(input, rng)
            }
            Target::Tokenizer => structure::mutate_text(input, rng),
            _ => None,
        }
    }

    /// A position to change: for weights mostly in the header, where the structure is.
    fn position(&self, input: &[u8], rng: &mut ChaCha8Rng) -> usize {
        let mut end = input.len();
        if self.target == Target::Safetensors && rng.random_bool(0.9) && input.len() > 8 {
            let header = u64::from_le_bytes(input[..8].try_into().expect("8 bytes"));
            end = end.min(8 + usize::try_from(header).unwrap_or(usize::MAX).min(end));
        }
        rng.random_range(0..=end)
    }

    fn span(&self, input: &[u8], rng: &mut ChaCha8Rng) -> (usize, usize) {
        let start = self.position(input, rng);
        let longest = (input.len() - start).min(if rng.random_bool(0.8) { 16 } else { 4096 });
        (start, start + rng.random_range(0..=longest))
    }

    fn once(&self, input: &mut Vec<u8>, others: &[Vec<u8>], rng: &mut ChaCha8Rng) {
        match rng.random_range(0..12) {
            0 if !input.is_empty() => {
                let at = self.position(input, rng).min(input.len() - 1);
                input[at] ^= 1 << rng.random_range(0..8);
            }
            1 if !input.is_empty() => {
                let at = self.position(input, rng).min(input.len() - 1);
                input[at] = rng.random();
            }
            2 => {
                let at = self.position(input, rng);
                let bytes: Vec<u8> = (0..rng.random_range(1..8))
                    .map(|_| match rng.random_range(0..3) {
                        0 => rng.random(),
                        1 => *PUNCTUATION.choose(rng).expect("not empty"),
                        _ => rng.random_range(b'0'..=b'z'),
                    })
                    .collect();
                input.splice(at..at, bytes);
            }
            3 => {
                let (start, end) = self.span(input, rng);
                input.drain(start..end);
            }
            4 => {
                let (start, end) = self.span(input, rng);
                let copy = input[start..end].to_vec();
                let at = self.position(input, rng);
                input.splice(at..at, copy);
            }
            5 if !others.is_empty() => {
                let other = &others[rng.random_range(0..others.len())];
                let from = rng.random_range(0..=other.len());
                let to = (from + rng.random_range(0..=256)).min(other.len());
                let (start, end) = self.span(input, rng);
                input.splice(start..end, other[from..to].iter().copied());
            }
            6 | 7 => {
                let word = self.words[rng.random_range(0..self.words.len())].as_bytes();
                let (start, end) = if rng.random_bool(0.5) {
                    let at = self.position(input, rng);
                    (at, at)
                } else {
                    self.span(input, rng)
                };
                input.splice(start..end, word.iter().copied());
            }
            8 => {
                // A long line or deep nesting: one token many times.
                let word = self.words[rng.random_range(0..self.words.len())].as_bytes();
                let times = rng.random_range(100..=(70_000 / word.len().max(1)).max(100));
                let at = self.position(input, rng);
                let run: Vec<u8> = word.repeat(times);
                input.splice(at..at, run);
            }
            9 => self.swap_lines(input, rng),
            10 if self.target == Target::Safetensors && input.len() >= 8 => {
                // The header length: off by a little, or anything.
                let length = u64::from_le_bytes(input[..8].try_into().expect("8 bytes"));
                let new = match rng.random_range(0..3) {
                    0 => length.wrapping_add(rng.random_range(0..16)).wrapping_sub(8),
                    1 => rng.random_range(0..=input.len() as u64 + 16),
                    _ => rng.random(),
                };
                input[..8].copy_from_slice(&new.to_le_bytes());
            }
            11 => {
                let at = self.position(input, rng);
                input.truncate(at);
            }
            _ => {}
        }
    }

    fn swap_lines(&self, input: &mut Vec<u8>, rng: &mut ChaCha8Rng) {
        let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        if lines.len() < 2 {
            return;
        }
        let (a, b) = (
            rng.random_range(0..lines.len()),
            rng.random_range(0..lines.len()),
        );
        lines.swap(a, b);
        *input = lines.join(&b'\n');
    }
}
