//! What each forward pass of an evaluation keeps real: the full model M, the circuit C or the
//! empty circuit ∅, each with a set K of heads knocked out everywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use crate::dsl::{Circuit, Head, Mlps, Positions};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Every head at every position.
    Model,
    /// The circuit's heads at their classes' positions.
    Circuit,
    /// No head at all (the circuit's MLPs only).
    Empty,
}

/// One knockout variant: `scope \ knocked_out`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Variant {
    pub scope: Scope,
    pub knocked_out: BTreeSet<Head>,
}

impl Variant {
    pub fn model() -> Self {
        Self::new(Scope::Model, BTreeSet::new())
    }

    pub fn circuit() -> Self {
        Self::new(Scope::Circuit, BTreeSet::new())
    }

    pub fn empty() -> Self {
        Self::new(Scope::Empty, BTreeSet::new())
    }

    pub fn new(scope: Scope, knocked_out: BTreeSet<Head>) -> Self {
        Self { scope, knocked_out }
    }

    pub fn without(&self, heads: impl IntoIterator<Item = Head>) -> Self {
        let mut knocked_out = self.knocked_out.clone();
        knocked_out.extend(heads);
        Self::new(self.scope, knocked_out)
    }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scope = match self.scope {
            Scope::Model => "M",
            Scope::Circuit => "C",
            Scope::Empty => "∅",
        };
        f.write_str(scope)?;
        if !self.knocked_out.is_empty() {
            let heads: Vec<String> = self.knocked_out.iter().map(|h| h.to_string()).collect();
            write!(f, " \\ {{{}}}", heads.join(", "))?;
        }
        Ok(())
    }
}

/// The token layout of one prompt: its length and the index of each named position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub len: usize,
    pub positions: BTreeMap<String, usize>,
}

impl Layout {
    /// The positions `positions` names in this prompt, sorted (`None` for `all`).
    fn resolve(&self, positions: &Positions) -> Option<Vec<usize>> {
        match positions {
            Positions::All => None,
            Positions::Named(names) => {
                let mut at: Vec<usize> = names
                    .iter()
                    .filter_map(|n| self.positions.get(n).copied())
                    .collect();
                at.sort();
                at.dedup();
                Some(at)
            }
        }
    }
}

/// Where a component keeps its real output in one prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kept {
    Everywhere,
    Nowhere,
    /// At these positions (sorted), replaced at every other.
    At(Vec<usize>),
}

impl Kept {
    pub fn at(&self, position: usize) -> bool {
        match self {
            Kept::Everywhere => true,
            Kept::Nowhere => false,
            Kept::At(positions) => positions.binary_search(&position).is_ok(),
        }
    }

    fn from(resolved: Option<Vec<usize>>) -> Self {
        match resolved {
            None => Kept::Everywhere,
            Some(at) if at.is_empty() => Kept::Nowhere,
            Some(at) => Kept::At(at),
        }
    }
}

/// What every variant keeps where, for the prompts of one evaluation: the circuit's heads
/// and MLPs with their positions resolved per prompt.
#[derive(Clone, Debug)]
pub struct Plan {
    pub layers: u32,
    pub heads: u32,
    /// Circuit head → where its class keeps it, per prompt (indexed like the layouts).
    circuit: BTreeMap<Head, Vec<Kept>>,
    /// Listed MLPs: per layer, per prompt, where the circuit keeps it; `None` when every MLP
    /// is kept (no MLP is ever patched).
    mlps: Option<Vec<Vec<Kept>>>,
}

impl Plan {
    pub fn new(circuit: &Circuit, layers: u32, heads: u32, layouts: &[Layout]) -> Self {
        let resolve = |positions: &Positions| -> Vec<Kept> {
            layouts
                .iter()
                .map(|layout| Kept::from(layout.resolve(positions)))
                .collect()
        };
        let circuit_heads = circuit
            .classes
            .iter()
            .flat_map(|class| {
                let kept = resolve(&class.positions);
                class.heads.iter().map(move |h| (*h, kept.clone()))
            })
            .collect();
        let mlps = match &circuit.mlps {
            Mlps::All => None,
            Mlps::Listed(entries) => Some(
                (0..layers)
                    .map(|layer| {
                        layouts
                            .iter()
                            .map(|layout| {
                                let mut union = Vec::new();
                                for entry in entries.iter().filter(|e| e.layer == layer) {
                                    match layout.resolve(&entry.positions) {
                                        None => return Kept::Everywhere,
                                        Some(at) => union.extend(at),
                                    }
                                }
                                union.sort();
                                union.dedup();
                                Kept::from(Some(union))
                            })
                            .collect()
                    })
                    .collect(),
            ),
        };
        Self {
            layers,
            heads,
            circuit: circuit_heads,
            mlps,
        }
    }

    /// Where `head` keeps its real result under `variant` in prompt `prompt` (an index into
    /// the layouts the plan was made for).
    pub fn head(&self, variant: &Variant, head: Head, prompt: usize) -> Kept {
        if variant.knocked_out.contains(&head) {
            return Kept::Nowhere;
        }
        match variant.scope {
            Scope::Model => Kept::Everywhere,
            Scope::Empty => Kept::Nowhere,
            Scope::Circuit => self
                .circuit
                .get(&head)
                .map_or(Kept::Nowhere, |kept| kept[prompt].clone()),
        }
    }

    /// Where the MLP of `layer` is kept, or `None` when no MLP is ever patched: the full
    /// model, and circuits that list no MLPs, keep them all.
    pub fn mlp(&self, variant: &Variant, layer: u32, prompt: usize) -> Option<Kept> {
        let mlps = self.mlps.as_ref()?;
        Some(match variant.scope {
            Scope::Model => Kept::Everywhere,
            _ => mlps[layer as usize][prompt].clone(),
        })
    }

    pub fn patches_mlps(&self) -> bool {
        self.mlps.is_some()
    }

    /// Where `variant` keeps some head of layer `layer` or later in prompt `prompt`: the
    /// positions whose stream, from `layer` on, reads other positions.
    pub fn kept_from(&self, variant: &Variant, layer: u32, prompt: usize) -> Kept {
        match variant.scope {
            Scope::Model => return Kept::Everywhere,
            Scope::Empty => return Kept::Nowhere,
            Scope::Circuit => {}
        }
        let mut at = Vec::new();
        for (head, kept) in &self.circuit {
            if head.layer < layer || variant.knocked_out.contains(head) {
                continue;
            }
            match &kept[prompt] {
                Kept::Everywhere => return Kept::Everywhere,
                Kept::Nowhere => {}
                Kept::At(positions) => at.extend(positions),
            }
        }
        at.sort();
        at.dedup();
        Kept::from(Some(at))
    }

    /// The first position at which C \ K differs from C in prompt `prompt`: the first where
    /// the circuit keeps a head of K (`None` when it keeps none, and C \ K is C).
    pub fn first_difference(&self, knocked_out: &BTreeSet<Head>, prompt: usize) -> Option<usize> {
        knocked_out
            .iter()
            .filter_map(|h| match &self.circuit.get(h)?[prompt] {
                Kept::Everywhere => Some(0),
                Kept::Nowhere => None,
                Kept::At(at) => at.first().copied(),
            })
            .min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{Circuit, Class, TaskRef};

    fn tiny_circuit() -> Circuit {
        Circuit {
            name: "t".into(),
            model: "m".into(),
            task: TaskRef::Builtin("t".into()),
            ablation: None,
            level: None,
            classes: vec![
                Class {
                    name: "a".into(),
                    description: None,
                    positions: Positions::Named(["S2".to_string()].into()),
                    heads: [Head::new(0, 1)].into(),
                },
                Class {
                    name: "b".into(),
                    description: None,
                    positions: Positions::All,
                    heads: [Head::new(1, 0)].into(),
                },
            ],
            mlps: Mlps::All,
            edges: Default::default(),
            expectations: vec![],
            minimality_sets: vec![],
        }
    }

    fn layouts() -> Vec<Layout> {
        vec![
            Layout {
                len: 3,
                positions: [("S2".to_string(), 1)].into(),
            },
            Layout {
                len: 5,
                positions: [("S2".to_string(), 3)].into(),
            },
        ]
    }

    #[test]
    fn circuit_heads_keep_their_positions_only() {
        let plan = Plan::new(&tiny_circuit(), 2, 2, &layouts());
        let c = Variant::circuit();
        assert_eq!(plan.head(&c, Head::new(0, 1), 0), Kept::At(vec![1]));
        assert_eq!(plan.head(&c, Head::new(0, 1), 1), Kept::At(vec![3]));
        assert_eq!(plan.head(&c, Head::new(1, 0), 1), Kept::Everywhere);
        assert_eq!(plan.head(&c, Head::new(1, 1), 0), Kept::Nowhere);
        assert_eq!(plan.first_difference(&[Head::new(0, 1)].into(), 1), Some(3));
        assert_eq!(
            plan.first_difference(&[Head::new(0, 1), Head::new(1, 0)].into(), 1),
            Some(0)
        );
        assert_eq!(plan.first_difference(&[Head::new(1, 1)].into(), 0), None);
    }

    #[test]
    fn knocked_out_heads_are_off_everywhere() {
        let plan = Plan::new(&tiny_circuit(), 2, 2, &layouts());
        let m = Variant::model();
        assert_eq!(plan.head(&m, Head::new(1, 1), 0), Kept::Everywhere);
        let without = m.without([Head::new(1, 0)]);
        assert_eq!(plan.head(&without, Head::new(1, 0), 0), Kept::Nowhere);
        assert_eq!(
            plan.head(&Variant::empty(), Head::new(1, 0), 0),
            Kept::Nowhere
        );
        assert!(plan.mlp(&m, 0, 0).is_none());
    }
}
