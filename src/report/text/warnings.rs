//! The warnings a run gives about its own figures: the terminal prints them on standard
//! error (`warning: TEXT`), and every HTML page shows them above its verdict, so the page
//! never claims more than the terminal.

use crate::eval::schema::Estimate;
use crate::eval::session::small_groups as groups_below_minimum;
use crate::report::text::check::number;
use crate::task::{Dataset, MIN_REFERENCE};

/// As the paper's code does: a mean over fewer than a handful of reference prompts is noise.
pub fn small_groups(dataset: &Dataset) -> Option<String> {
    let small: Vec<String> = groups_below_minimum(dataset)
        .into_iter()
        .map(|(name, count)| format!("{name} ({count})"))
        .collect();
    (!small.is_empty()).then(|| {
        format!(
            "the replacement values of {} group(s) rest on fewer than {MIN_REFERENCE} reference prompts: {}; raise --reference-n (a task file has only the reference prompts it lists: `task export --reference-n N` writes N per group)",
            small.len(),
            small.join(", ")
        )
    })
}

/// Ratios to F(M) (faithfulness, the normalized score, minimality's share of F(M)) mean
/// nothing when F(M) may be 0: the model does not reliably do the task, and every ratio's
/// interval is huge or flips sign.
pub fn model_fails_task(model_score: &Estimate, confidence: f64) -> Option<String> {
    let interval = model_score.interval?;
    (interval.low <= 0.0 && interval.high >= 0.0).then(|| {
        format!(
            "F(M) is {} and its {:.0} % interval [{}, {}] includes 0: the model does not reliably do this task, so ratios to F(M) (faithfulness, normalized, minimality's share of F(M)) are not meaningful; compare |F(M) − F(C)| and check the model and the task",
            number(model_score.value),
            100.0 * confidence,
            number(interval.low),
            number(interval.high)
        )
    })
}
