//! The result of `discover` for people (a summary on standard error beside the circuit) and
//! for machines (JSON, `eval::discover::DiscoverReport` serialised).

use crate::eval::discover::{DiscoverReport, Target};
use crate::report::text::check::percent;

pub fn render_json(report: &DiscoverReport) -> String {
    serde_json::to_string_pretty(report).expect("reports serialise") + "\n"
}

/// A few lines: what was scored, the sizes tried with their faithfulness, the size chosen.
pub fn render_summary(report: &DiscoverReport) -> String {
    let method = match report.method {
        "eap" => "EAP".to_string(),
        _ => format!("EAP-IG, {} steps", report.steps),
    };
    let mut out = format!(
        "discover on {}, task {}: {} edges scored ({method}), {} prompts, seed {}, {} ablation; F(M) = {:.4}\n",
        report.model,
        report.task,
        report.total_edges,
        report.prompts,
        report.seed,
        report.ablation.name(),
        report.model_score
    );
    if report.model_score <= 0.0 {
        out.push_str(
            "warning: F(M) is not positive: F(C)/F(M) does not say how much of the task a circuit keeps\n",
        );
    }
    let by = if report.ranking == "absolute" {
        "|score|"
    } else {
        "score"
    };
    let rule = match report.target {
        Target::Edges { edges } => format!("the top {edges} edges by {by}, pruned"),
        Target::Faithfulness { faithfulness } => format!(
            "the fewest top edges by {by}, pruned, reaching faithfulness {} (doubling, then bisection)",
            percent(faithfulness)
        ),
    };
    out.push_str(&format!("selection: {rule}\n"));
    out.push_str("   top N   edges   F(C)/F(M)\n");
    for c in &report.tried {
        let chosen = report.chosen.as_ref().is_some_and(|x| x.edges == c.edges);
        out.push_str(&format!(
            "  {:>6}  {:>6}  {:>10}{}\n",
            c.edges,
            c.pruned_edges,
            percent(c.faithfulness),
            if chosen { "  ← chosen" } else { "" }
        ));
    }
    match &report.chosen {
        Some(c) => out.push_str(&format!(
            "chosen: top {} edges, {} after pruning, faithfulness {} (F(C) = {:.4})\n",
            c.edges,
            c.pruned_edges,
            percent(c.faithfulness),
            c.circuit_score
        )),
        None => out.push_str("no size tried reaches the faithfulness asked\n"),
    }
    if let Some(p) = &report.positions {
        for head in &p.heads {
            let at = if head.positions.is_empty() {
                "all".to_string()
            } else {
                head.positions.join(", ")
            };
            out.push_str(&format!(
                "  head {:>6} at {at}  (without it {})\n",
                head.head,
                percent(head.without)
            ));
        }
        out.push_str(&format!(
            "with positions: faithfulness {} (F(C) = {:.4})\n",
            percent(p.faithfulness),
            p.circuit_score
        ));
    }
    out
}
