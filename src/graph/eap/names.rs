//! The names EAP-IG gives the nodes and edges of a model's graph: `input`, `a{L}.h{H}`,
//! `m{L}`, `logits`; an edge is `SENDER->RECEIVER`, with `<q>`, `<k>` or `<v>` after a
//! receiving head (and only there).

use std::fmt;

use crate::dsl::{Channel, Head, Receiver, Sender};

/// A node of the graph: what writes to the residual stream, or reads it at the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Component {
    Input,
    Head(Head),
    Mlp(u32),
    Logits,
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Component::Input => f.write_str("input"),
            Component::Head(head) => write!(f, "a{}.h{}", head.layer, head.head),
            Component::Mlp(layer) => write!(f, "m{layer}"),
            Component::Logits => f.write_str("logits"),
        }
    }
}

impl Component {
    /// Parses a node name; `None` when it is not one EAP-IG writes.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "input" => return Some(Component::Input),
            "logits" => return Some(Component::Logits),
            _ => {}
        }
        if let Some(layer) = name.strip_prefix('m') {
            return number(layer).map(Component::Mlp);
        }
        let (layer, head) = name.strip_prefix('a')?.split_once(".h")?;
        Some(Component::Head(Head::new(number(layer)?, number(head)?)))
    }

    /// The layer the component sits in (`None` for the input and the logits).
    pub fn layer(self) -> Option<u32> {
        match self {
            Component::Head(head) => Some(head.layer),
            Component::Mlp(layer) => Some(layer),
            Component::Input | Component::Logits => None,
        }
    }
}

/// Digits only, no sign or leading `+` (`u32::from_str` would take `+3`).
fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// One edge of the graph: `from` read by `to`, through `channel` when `to` is a head.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GraphEdge {
    pub from: Component,
    pub to: Component,
    pub channel: Option<Channel>,
}

impl fmt::Display for GraphEdge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{}", self.from, self.to)?;
        if let Some(channel) = self.channel {
            write!(f, "<{}>", channel.letter())?;
        }
        Ok(())
    }
}

impl GraphEdge {
    /// The edge `sender -> receiver` under its graph name: `a0.h1->a5.h5<k>`, `m3->a7.h2<q>`,
    /// `input->m0`.
    pub fn between(sender: Sender, receiver: Receiver) -> Self {
        let from = match sender {
            Sender::Embed => Component::Input,
            Sender::Head(head) => Component::Head(head),
            Sender::Mlp(layer) => Component::Mlp(layer),
        };
        let (to, channel) = match receiver {
            Receiver::Head(head, channel) => (Component::Head(head), Some(channel)),
            Receiver::Mlp(layer) => (Component::Mlp(layer), None),
            Receiver::Logits => (Component::Logits, None),
        };
        GraphEdge { from, to, channel }
    }

    /// Parses an edge name; `None` when it is not `SENDER->RECEIVER[<q|k|v>]` of node names.
    /// Whether the model's graph has the edge is `Shape::has_edge`'s question.
    pub fn parse(name: &str) -> Option<Self> {
        let (from, to) = name.split_once("->")?;
        let (to, channel) = match to.strip_suffix('>').and_then(|t| t.rsplit_once('<')) {
            Some((to, letter)) => {
                let channel = Channel::ALL.into_iter().find(|c| c.letter() == letter)?;
                (to, Some(channel))
            }
            None => (to, None),
        };
        Some(GraphEdge {
            from: Component::parse(from)?,
            to: Component::parse(to)?,
            channel,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_as_written() {
        for name in [
            "a0.h1->a5.h5<k>",
            "m3->a7.h2<q>",
            "a2.h3->m2",
            "input->m0",
            "m11->logits",
        ] {
            assert_eq!(GraphEdge::parse(name).unwrap().to_string(), name);
        }
        for bad in [
            "a0.h1->a5.h5<x>",
            "a0->m1",
            "m+1->logits",
            "input-m0",
            "a1.h2",
        ] {
            assert_eq!(GraphEdge::parse(bad), None, "{bad}");
        }
    }
}
