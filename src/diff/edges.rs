//! Edges added and removed, compared as written (class or head endpoints, one channel each)
//! after renaming the old circuit's classes to their new names: a rename alone moves no edge.
//! Listed bottom-up through the model, by sender then receiver, like the class list.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::diff::matching::ClassMatching;
use crate::dsl::{Circuit, Edge, Node};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EdgeChanges {
    /// Single edges (one channel each), bottom-up; classes by their current name.
    pub removed: Vec<Edge>,
    pub added: Vec<Edge>,
}

impl EdgeChanges {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

pub fn diff(old: &Circuit, new: &Circuit, matching: &ClassMatching) -> EdgeChanges {
    let rename = |node: &Node| match node {
        Node::Class(name) => Node::Class(matching.current_name(name).to_string()),
        other => other.clone(),
    };
    let old_edges: BTreeSet<Edge> = old
        .edges
        .iter()
        .map(|edge| Edge {
            from: rename(&edge.from),
            to: rename(&edge.to),
            channel: edge.channel,
        })
        .collect();
    let bottom_up = |edges: &mut Vec<Edge>| {
        edges.sort_by_cached_key(|edge| {
            let place = |node: &Node| match node {
                Node::Embed => (0, None),
                Node::Class(name) => {
                    let class = new.class(name).or_else(|| old.class(name));
                    (1, class.and_then(|c| c.heads.first().copied()))
                }
                Node::Head(head) => (1, Some(*head)),
                // After the heads of its layer.
                Node::Mlp(layer) => (1, Some(crate::dsl::Head::new(*layer, u32::MAX))),
                Node::Logits => (2, None),
            };
            (place(&edge.from), place(&edge.to), edge.clone())
        })
    };
    let mut removed: Vec<Edge> = old_edges.difference(&new.edges).cloned().collect();
    let mut added: Vec<Edge> = new.edges.difference(&old_edges).cloned().collect();
    bottom_up(&mut removed);
    bottom_up(&mut added);
    EdgeChanges { removed, added }
}
