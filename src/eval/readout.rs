//! How a pass reads the task's metric: which logits (the readout) and, for passes that take
//! gradients, the metric as weights on them (the objective). Shared by the runner and edge
//! attribution, so both read the same F.

use candle_core::{Device, Tensor};

use crate::model::error::Result;
use crate::model::{Objective, Readout};
use crate::task::{Dataset, MetricKind, Prompt};

/// The readout of rows that hold `prompts`, each with the column that holds its `END`:
/// the answer and distractor logits at `END` for logit differences, every logit there for
/// probability differences.
pub fn readout(
    metric: MetricKind,
    prompts: &[(&Prompt, usize)],
    device: &Device,
) -> Result<Readout> {
    let positions: Vec<usize> = prompts.iter().map(|(_, column)| *column).collect();
    Ok(match metric {
        MetricKind::LogitDifference => {
            let tokens: Vec<u32> = prompts
                .iter()
                .flat_map(|(p, _)| [p.answer[0], p.distractor[0]])
                .collect();
            Readout::Tokens {
                positions,
                tokens: Tensor::from_vec(tokens, (prompts.len(), 2), device)?,
            }
        }
        MetricKind::ProbabilityDifference => Readout::Full { positions },
    })
}

/// The metric as weights on [`readout`]'s logits: logit differences weigh the answer's logit
/// +1 and the distractor's −1; probability differences weigh the softmax over the
/// vocabulary, +1 on answer tokens and −1 on distractor tokens.
pub fn objective(
    dataset: &Dataset,
    prompts: &[&Prompt],
    vocab: usize,
    device: &Device,
) -> Result<Objective> {
    let rows = prompts.len();
    Ok(match dataset.metric {
        MetricKind::LogitDifference => Objective::Logits(Tensor::from_vec(
            [1f32, -1.0].repeat(rows),
            (rows, 2),
            device,
        )?),
        MetricKind::ProbabilityDifference => {
            let mut weights = vec![0f32; rows * vocab];
            for (r, prompt) in prompts.iter().enumerate() {
                for id in &prompt.answer {
                    weights[r * vocab + *id as usize] += 1.0;
                }
                for id in &prompt.distractor {
                    weights[r * vocab + *id as usize] -= 1.0;
                }
            }
            Objective::Probabilities(Tensor::from_vec(weights, (rows, vocab), device)?)
        }
    })
}
