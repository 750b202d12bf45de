//! Additions as the statements of a variant file: `circuit NAME extends "FILE" { }` with a
//! class per added head (wired to the circuit when it states edges), `mlp` lines, edges; in
//! canonical `fmt` form.

use std::collections::BTreeSet;
use std::sync::Arc;

use miette::NamedSource;

use crate::dsl::{Circuit, Head, Mlps, Receiver, Sender, format, parser};
use crate::eval::suggest::candidates::{Addition, Graph, receiver_name, sender_name, wiring};

/// The variant of `circuit` named `name` that extends `extends` (as the file writes it) with
/// `additions`, formatted.
pub fn variant_text(
    circuit: &Circuit,
    name: &str,
    extends: &str,
    additions: &[Addition],
    graph: &Graph,
) -> miette::Result<String> {
    let mut text = format!("circuit {name} extends {} {{\n}}\n", parser::quote(extends));
    let mlps: Vec<u32> = additions
        .iter()
        .filter_map(|a| match a {
            Addition::Mlp(layer) => Some(*layer),
            _ => None,
        })
        .collect();
    if !mlps.is_empty() {
        // A variant's `mlp` lines replace its base's list: restate it.
        if let Mlps::Listed(entries) = &circuit.mlps {
            for entry in entries {
                text.push_str(&format!("mlp {} at {}\n", entry.layer, entry.positions));
            }
        }
        for layer in mlps {
            text.push_str(&format!("mlp {layer} at all\n"));
        }
    }
    let mut taken: BTreeSet<String> = circuit.classes.iter().map(|c| c.name.clone()).collect();
    for addition in additions {
        match *addition {
            Addition::Head(head) => {
                let class = class_name(head, &taken);
                taken.insert(class.clone());
                text.push_str(&format!("class {class} at all {{ {head} }}\n"));
                let (into, out) = wiring(circuit, head, graph);
                if !into.is_empty() {
                    let senders = sender_list(circuit, &into);
                    text.push_str(&format!("edge {senders} -> {class}\n"));
                }
                if !out.is_empty() {
                    let receivers = receiver_list(circuit, &out);
                    text.push_str(&format!("edge {class} -> {receivers}\n"));
                }
            }
            Addition::Edge(s, r) => {
                text.push_str(&format!(
                    "edge {} -> {}\n",
                    sender_name(s),
                    receiver_name(r)
                ));
            }
            Addition::Mlp(_) => {}
        }
    }
    canonical(&text)
}

/// `suggested_L_H`, or with a number after it when the circuit has a class of that name.
fn class_name(head: Head, taken: &BTreeSet<String>) -> String {
    let base = format!("suggested_{}_{}", head.layer, head.head);
    std::iter::once(base.clone())
        .chain((2..).map(|i| format!("{base}_{i}")))
        .find(|name| !taken.contains(name))
        .expect("an unbounded supply of names")
}

/// Heads by their class's name where the whole class is there, one by one otherwise.
fn grouped(circuit: &Circuit, heads: &BTreeSet<Head>) -> Vec<String> {
    let mut out = Vec::new();
    for class in &circuit.classes {
        let present: Vec<Head> = class
            .heads
            .iter()
            .copied()
            .filter(|h| heads.contains(h))
            .collect();
        if !present.is_empty() && present.len() == class.heads.len() {
            out.push(class.name.clone());
        } else {
            out.extend(present.iter().map(|h| h.to_string()));
        }
    }
    out
}

fn sender_list(circuit: &Circuit, senders: &[Sender]) -> String {
    let heads: BTreeSet<Head> = senders
        .iter()
        .filter_map(|s| match s {
            Sender::Head(h) => Some(*h),
            _ => None,
        })
        .collect();
    let mut names: Vec<String> = Vec::new();
    if senders.contains(&Sender::Embed) {
        names.push("embed".into());
    }
    names.extend(grouped(circuit, &heads));
    names.extend(senders.iter().filter_map(|s| match s {
        Sender::Mlp(layer) => Some(format!("mlp.{layer}")),
        _ => None,
    }));
    names.join(", ")
}

/// Receivers whose q, k and v are all wired (a head's channels share its reach).
fn receiver_list(circuit: &Circuit, receivers: &[Receiver]) -> String {
    let heads: BTreeSet<Head> = receivers
        .iter()
        .filter_map(|r| match r {
            Receiver::Head(h, _) => Some(*h),
            _ => None,
        })
        .collect();
    let mut names = grouped(circuit, &heads);
    names.extend(receivers.iter().filter_map(|r| match r {
        Receiver::Mlp(layer) => Some(format!("mlp.{layer}")),
        Receiver::Logits => Some("logits".to_string()),
        Receiver::Head(..) => None,
    }));
    names.join(", ")
}

/// `text` as `fmt` writes it.
fn canonical(text: &str) -> miette::Result<String> {
    let source = NamedSource::new("suggested.circuit", Arc::<str>::from(text));
    let file = parser::parse(&source).map_err(|d| {
        miette::miette!(
            "the suggested variant does not parse (a bug: please report it): {d}\n{text}"
        )
    })?;
    Ok(format::format(&file))
}
