//! A task's prompts as the evaluator uses them: token ids, the token index of every named
//! position, the answer and distractor tokens, the template group, and for each prompt its
//! counterpart from the reference distribution (same group, same token layout).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a prompt's score is computed from the next-token logits at `END`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MetricKind {
    /// logit(answer) − logit(distractor); one token on each side.
    LogitDifference,
    /// Σ p(answer tokens) − Σ p(distractor tokens), from the full softmax.
    ProbabilityDifference,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Prompt {
    pub text: String,
    pub tokens: Vec<u32>,
    /// Named position → token index (`IO`, `S1`, `S1+1`, `S2`, `END` for IOI).
    pub positions: BTreeMap<String, usize>,
    /// Index into `Dataset::groups`: prompts of one group share their token layout.
    pub group: usize,
    pub answer: Vec<u32>,
    pub distractor: Vec<u32>,
}

impl Prompt {
    /// Where the next-token logits are read: the last token.
    pub fn end(&self) -> usize {
        self.tokens.len() - 1
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dataset {
    pub task: String,
    pub metric: MetricKind,
    /// Position names in the task's order.
    pub position_names: Vec<String>,
    /// Group names (templates), indexed by `Prompt::group`.
    pub groups: Vec<String>,
    pub prompts: Vec<Prompt>,
    /// `reference[i]` is the reference-distribution counterpart of `prompts[i]`.
    pub reference: Vec<Prompt>,
}
