//! Classes for the heads of an imported circuit. A graph names no classes, so heads are
//! grouped by layer and role, the kinds of input they write to (the logits, MLPs, or the
//! q, k, v of later heads): `l9_to_logits`, `l5_to_k`, `l7_to_qv`. A class only groups; the
//! edges stay exact, written at class level only where they hold for every pair of heads.
//! At node level there is no wiring to tell roles apart, so a class is a layer (`l5`).
//! A file circuitcheck exported names each head's class, and those come back instead.

use std::collections::{BTreeMap, BTreeSet};

use crate::dsl::{Channel, Head, parser};
use crate::graph::eap::names::{Component, GraphEdge};

/// Each head's class name.
pub type Classes = BTreeMap<Head, String>;

/// The classes the file names (`class` on every head of the circuit, each a name the
/// language takes), if it names them all.
pub fn named_in_file(heads: &BTreeSet<Head>, named: &BTreeMap<Head, String>) -> Option<Classes> {
    let classes: Classes = heads
        .iter()
        .map(|head| Some((*head, named.get(head)?.clone())))
        .collect::<Option<_>>()?;
    classes
        .values()
        .all(|name| is_class_name(name))
        .then_some(classes)
}

fn is_class_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !parser::KEYWORDS.contains(&name)
        && !["embed", "logits"].contains(&name)
}

/// Heads grouped by layer and role (edge level), or by layer (node level).
pub fn by_layer_and_role(
    heads: &BTreeSet<Head>,
    edges: &BTreeSet<GraphEdge>,
    node_level: bool,
) -> Classes {
    let mut roles: BTreeMap<Head, Role> = heads.iter().map(|h| (*h, Role::default())).collect();
    if !node_level {
        for edge in edges {
            if let Component::Head(from) = edge.from
                && let Some(role) = roles.get_mut(&from)
            {
                role.add(edge.to, edge.channel);
            }
        }
    }
    roles
        .into_iter()
        .map(|(head, role)| (head, format!("l{}{}", head.layer, role.suffix(node_level))))
        .collect()
}

/// What a head writes to.
#[derive(Default)]
struct Role {
    logits: bool,
    mlp: bool,
    channels: BTreeSet<Channel>,
}

impl Role {
    fn add(&mut self, receiver: Component, channel: Option<Channel>) {
        match receiver {
            Component::Logits => self.logits = true,
            Component::Mlp(_) => self.mlp = true,
            Component::Head(_) => self.channels.extend(channel),
            Component::Input => {}
        }
    }

    fn suffix(&self, node_level: bool) -> String {
        if node_level {
            return String::new();
        }
        let mut parts: Vec<String> = Vec::new();
        if self.logits {
            parts.push("logits".into());
        }
        if self.mlp {
            parts.push("mlp".into());
        }
        if !self.channels.is_empty() {
            parts.push(self.channels.iter().map(|c| c.letter()).collect());
        }
        if parts.is_empty() {
            "_unread".to_string()
        } else {
            format!("_to_{}", parts.join("_"))
        }
    }
}
