//! The TOML schema of a task file (see tasks/ioi.toml and docs/tasks.md), as written, with
//! spans.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFile {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub metric: Spanned<String>,
    /// Generated tasks: `NAME = REF`; explicit prompts: `NAME`.
    pub positions: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub answer: Option<Spanned<AnswerSpec>>,
    #[serde(default)]
    pub distractor: Option<Spanned<AnswerSpec>>,
    /// Whether answer and distractor words are read as the next token with a space before
    /// them (`" Mary"`, the default) or without (`"33"` continuing `" 17"`).
    #[serde(default)]
    pub leading_space: Option<bool>,
    #[serde(default)]
    pub distinct: Vec<Vec<Spanned<String>>>,
    #[serde(default)]
    pub placeholders: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub lists: BTreeMap<String, Spanned<ListSpec>>,
    #[serde(default)]
    pub families: Vec<Family>,
    #[serde(default)]
    pub reference: Option<ReferenceSpec>,
    #[serde(default)]
    pub prompts: Vec<Spanned<ExplicitPrompt>>,
    /// Explicit tasks: reference prompts beyond each prompt's counterpart.
    #[serde(default)]
    pub extra_references: Vec<Spanned<ExtraReference>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub name: String,
    pub templates: Spanned<Vec<Spanned<String>>>,
}

/// A word list: words as written, or a range of numbers.
#[derive(Debug)]
pub enum ListSpec {
    Words(Vec<String>),
    Range(RangeSpec),
}

/// `{ from = 2, to = 98, digits = 2 }`: the numbers from `from` to `to`, both included, in
/// increasing order, zero-padded to `digits` digits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    pub from: u32,
    pub to: u32,
    #[serde(default)]
    pub digits: Option<u8>,
}

/// An array is a list of words, a table a range.
impl<'de> Deserialize<'de> for ListSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ListVisitor;
        impl<'de> Visitor<'de> for ListVisitor {
            type Value = ListSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of words or a range `{ from = 0, to = 99, digits = 2 }`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<ListSpec, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(ListSpec::Words)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ListSpec, A::Error> {
                RangeSpec::deserialize(MapAccessDeserializer::new(map)).map(ListSpec::Range)
            }
        }
        deserializer.deserialize_any(ListVisitor)
    }
}

/// What the metric compares at the end of a prompt.
#[derive(Debug)]
pub enum AnswerSpec {
    /// `answer = "A"`: the word filling a placeholder.
    Placeholder(String),
    /// `answer = { list = "two_digits", above = "YY" }`: words of a list compared with the
    /// word filling a placeholder.
    Compared(ComparedSpec),
}

/// The words of `list` above, at least, below or at most the word filling a placeholder,
/// in the list's order. Exactly one comparison is given.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparedSpec {
    pub list: Spanned<String>,
    #[serde(default)]
    pub above: Option<Spanned<String>>,
    #[serde(default)]
    pub at_least: Option<Spanned<String>>,
    #[serde(default)]
    pub below: Option<Spanned<String>>,
    #[serde(default)]
    pub at_most: Option<Spanned<String>>,
}

/// A string names a placeholder, a table compares a list with one.
impl<'de> Deserialize<'de> for AnswerSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AnswerVisitor;
        impl<'de> Visitor<'de> for AnswerVisitor {
            type Value = AnswerSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a placeholder (\"A\") or a comparison `{ list = \"years\", above = \"YY\" }`",
                )
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<AnswerSpec, E> {
                Ok(AnswerSpec::Placeholder(value.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AnswerSpec, A::Error> {
                ComparedSpec::deserialize(MapAccessDeserializer::new(map)).map(AnswerSpec::Compared)
            }
        }
        deserializer.deserialize_any(AnswerVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// Placeholder occurrences that get fresh words: `A` (first), `B#2` (second).
    #[serde(default)]
    pub resample: Vec<Spanned<String>>,
    /// Placeholders whose every occurrence becomes a fixed word: `{ YY = "01" }`.
    #[serde(default)]
    pub set: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// A prompt given in full, with its reference counterpart (the form `task export` writes).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExplicitPrompt {
    pub text: String,
    pub reference: String,
    pub answer: Vec<String>,
    pub distractor: Vec<String>,
    pub group: String,
    /// Position name → token index.
    pub positions: BTreeMap<String, usize>,
}

/// A reference prompt beyond the counterparts, for the group it names (what `task export`
/// writes when a check's reference set draws more than the counterparts). It takes the token
/// layout and the positions of its group's prompts.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ExtraReference {
    pub group: String,
    pub text: String,
}
