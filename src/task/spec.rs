//! The TOML schema of a task file (see tasks/ioi.toml), as written, with spans.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
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
    pub answer: Option<Spanned<String>>,
    #[serde(default)]
    pub distractor: Option<Spanned<String>>,
    #[serde(default)]
    pub distinct: Vec<Vec<Spanned<String>>>,
    #[serde(default)]
    pub placeholders: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub lists: BTreeMap<String, Spanned<Vec<String>>>,
    #[serde(default)]
    pub families: Vec<Family>,
    #[serde(default)]
    pub reference: Option<ReferenceSpec>,
    #[serde(default)]
    pub prompts: Vec<Spanned<ExplicitPrompt>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Family {
    pub name: String,
    pub templates: Spanned<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceSpec {
    /// Placeholder occurrences that get fresh words: `A` (first), `B#2` (second).
    pub resample: Vec<Spanned<String>>,
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
