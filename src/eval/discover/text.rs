//! The discovered circuit as `.circuit` text: `import`'s canonical text of its edges
//! (classes by layer and role, exact edges, scores as comments), with the ablation it was
//! measured under, heads restricted to positions split into classes of their own
//! (`l0_to_logits_at_end`), and comments saying how it was found.

use std::collections::BTreeMap;
use std::sync::Arc;

use miette::NamedSource;

use crate::dsl::{Ablation, Circuit, Head, Positions, format, parser};
use crate::eval::discover::{Discovered, Target};
use crate::graph::eap::import::{self, Header};
use crate::graph::eap::{ScoredEdge, Shape};

/// The circuit of `selected` with `positions` (heads of `base`, the circuit without them),
/// no comments and no ablation: what `--positions` scores.
pub fn body(
    shape: &Shape,
    selected: &[ScoredEdge],
    model: &str,
    task: &str,
    base: &Circuit,
    positions: &BTreeMap<Head, Positions>,
) -> String {
    let header = Header {
        comments: &[],
        name: "discovered",
        model,
        task,
        named_classes: &BTreeMap::new(),
    };
    write(shape, selected, &header, Some(base), positions, None)
}

/// The whole file; `None` when no circuit was found.
pub fn circuit_text(
    discovered: &Discovered,
    name: &str,
    task: &str,
    ablation: Ablation,
) -> Option<String> {
    let report = &discovered.report;
    report.chosen.as_ref()?;
    let comments = comments(discovered);
    let header = Header {
        comments: &comments,
        name,
        model: &report.model,
        task,
        named_classes: &BTreeMap::new(),
    };
    Some(write(
        &discovered.graph.shape,
        &discovered.selected,
        &header,
        discovered.base.as_ref(),
        &discovered.head_positions,
        Some(ablation),
    ))
}

fn write(
    shape: &Shape,
    selected: &[ScoredEdge],
    header: &Header,
    base: Option<&Circuit>,
    positions: &BTreeMap<Head, Positions>,
    ablation: Option<Ablation>,
) -> String {
    let mut named: BTreeMap<Head, String> = BTreeMap::new();
    let mut restricted: BTreeMap<String, String> = BTreeMap::new();
    if let (Some(base), false) = (base, positions.is_empty()) {
        for class in &base.classes {
            for head in &class.heads {
                let name = match positions.get(head) {
                    Some(Positions::Named(at)) => {
                        let suffix: Vec<String> = at.iter().map(|p| name_part(p)).collect();
                        let name = format!("{}_at_{}", class.name, suffix.join("_"));
                        restricted.insert(name.clone(), positions[head].to_string());
                        name
                    }
                    _ => class.name.clone(),
                };
                named.insert(*head, name);
            }
        }
    }
    let header = Header {
        named_classes: &named,
        ..*header
    };
    let mut text = import::circuit_text(shape, selected, &header);
    for (class, at) in &restricted {
        text = text.replace(
            &format!("class {class} at all {{"),
            &format!("class {class} at {at} {{"),
        );
    }
    if let Some(ablation) = ablation.filter(|a| *a != Ablation::Mean) {
        text = with_ablation(&text, ablation);
    }
    canonical(&text)
}

/// A position's name as part of a class name: `S1+1` → `s1_plus_1`.
fn name_part(position: &str) -> String {
    position
        .to_lowercase()
        .replace('+', "_plus_")
        .replace('-', "_minus_")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// The header's `ablation` line, after its `task` line.
fn with_ablation(text: &str, ablation: Ablation) -> String {
    let mut out = String::with_capacity(text.len() + 20);
    let mut added = false;
    for line in text.lines() {
        out.push_str(line);
        out.push('\n');
        if !added && line.starts_with("  task ") {
            out.push_str(&format!("  ablation {}\n", ablation.name()));
            added = true;
        }
    }
    out
}

fn canonical(text: &str) -> String {
    let source = NamedSource::new("discovered", Arc::<str>::from(text));
    let file = parser::parse(&source).expect("a discovered circuit parses");
    format::format(&file)
}

/// How the circuit was found, as comment lines.
fn comments(discovered: &Discovered) -> Vec<String> {
    let r = &discovered.report;
    let method = match r.method {
        "eap" => "EAP".to_string(),
        _ => format!("EAP-IG ({} steps)", r.steps),
    };
    let percent = |f: f64| format!("{:.1} %", 100.0 * f);
    let by = if r.ranking == "absolute" {
        "|score|"
    } else {
        "score"
    };
    let mut lines = vec![
        format!(
            "Discovered by `circuitcheck discover`: {method} scores of all {} edges of the model's graph,",
            r.total_edges
        ),
        format!(
            "on task {} ({} prompts, seed {}, {} ablation).",
            r.task,
            r.prompts,
            r.seed,
            r.ablation.name()
        ),
    ];
    match r.target {
        Target::Edges { edges } => lines.push(format!(
            "Selection: the top {edges} edges by {by}, pruned as EAP-IG prunes them."
        )),
        Target::Faithfulness { faithfulness } => {
            lines.push(format!(
                "Selection: the fewest top edges by {by}, pruned as EAP-IG prunes them, whose circuit reaches faithfulness {}",
                percent(faithfulness)
            ));
            lines.push(
                "(doubling then bisection over N, assuming faithfulness grows with N). Sizes tried:"
                    .to_string(),
            );
            for c in &r.tried {
                lines.push(format!(
                    "  top {} -> {} edges, faithfulness {}",
                    c.edges,
                    c.pruned_edges,
                    percent(c.faithfulness)
                ));
            }
        }
    }
    if let Some(chosen) = &r.chosen {
        lines.push(format!(
            "Chosen: the top {} edges, {} after pruning; faithfulness F(C)/F(M) = {} (F(C) = {:.4}, F(M) = {:.4}), at level edge.",
            chosen.edges,
            chosen.pruned_edges,
            percent(chosen.faithfulness),
            chosen.circuit_score,
            r.model_score
        ));
    }
    if let Some(p) = &r.positions {
        lines.push(format!(
            "Positions: each head kept at the named positions where keeping it there alone recovers more than {} of F(M) over knocking it out;",
            percent(p.threshold)
        ));
        lines.push(format!(
            "with them, faithfulness = {} (F(C) = {:.4}).",
            percent(p.faithfulness),
            p.circuit_score
        ));
    }
    lines
}
