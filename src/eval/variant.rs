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

/// Everything needed to turn variants into keep-masks for a batch of prompts.
#[derive(Clone, Debug)]
pub struct Plan {
    pub layers: u32,
    pub heads: u32,
    /// Padded sequence length of the batch.
    pub seq: usize,
    /// Circuit heads → the positions of their class.
    pub circuit: BTreeMap<Head, Positions>,
    pub mlps: Mlps,
}

impl Plan {
    pub fn new(circuit: &Circuit, layers: u32, heads: u32, seq: usize) -> Self {
        let circuit_heads = circuit
            .classes
            .iter()
            .flat_map(|class| class.heads.iter().map(|h| (*h, class.positions.clone())))
            .collect();
        Self {
            layers,
            heads,
            seq,
            circuit: circuit_heads,
            mlps: circuit.mlps.clone(),
        }
    }

    /// Keep-mask of head outputs, `[rows, seq, layers, heads]` row-major: 1 where the head's
    /// real output is used at that position, 0 where it is knocked out.
    pub fn head_mask(&self, variant: &Variant, layouts: &[Layout]) -> Vec<f32> {
        let (layers, heads, seq) = (self.layers as usize, self.heads as usize, self.seq);
        let mut mask = vec![0f32; layouts.len() * seq * layers * heads];
        for (row, layout) in layouts.iter().enumerate() {
            for layer in 0..self.layers {
                for head in 0..self.heads {
                    let h = Head::new(layer, head);
                    if variant.knocked_out.contains(&h) {
                        continue;
                    }
                    let keep = |p: usize| -> bool {
                        match variant.scope {
                            Scope::Model => true,
                            Scope::Empty => false,
                            Scope::Circuit => match self.circuit.get(&h) {
                                None => false,
                                Some(Positions::All) => true,
                                Some(Positions::Named(names)) => {
                                    names.iter().any(|n| layout.positions.get(n) == Some(&p))
                                }
                            },
                        }
                    };
                    for p in 0..layout.len.min(seq) {
                        if keep(p) {
                            let at =
                                ((row * seq + p) * layers + layer as usize) * heads + head as usize;
                            mask[at] = 1.0;
                        }
                    }
                }
            }
        }
        mask
    }

    /// Keep-mask of MLP outputs, `[rows, seq, layers]`, or `None` when every MLP is kept
    /// (the default, which needs no intervention at all). The full model keeps all MLPs.
    pub fn mlp_mask(&self, variant: &Variant, layouts: &[Layout]) -> Option<Vec<f32>> {
        let Mlps::Listed(entries) = &self.mlps else {
            return None;
        };
        if variant.scope == Scope::Model {
            return None;
        }
        let (layers, seq) = (self.layers as usize, self.seq);
        let mut mask = vec![0f32; layouts.len() * seq * layers];
        for (row, layout) in layouts.iter().enumerate() {
            for entry in entries {
                for p in 0..layout.len.min(seq) {
                    let keep = match &entry.positions {
                        Positions::All => true,
                        Positions::Named(names) => {
                            names.iter().any(|n| layout.positions.get(n) == Some(&p))
                        }
                    };
                    if keep {
                        mask[(row * seq + p) * layers + entry.layer as usize] = 1.0;
                    }
                }
            }
        }
        Some(mask)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsl::{Circuit, Class};

    fn tiny_circuit() -> Circuit {
        Circuit {
            name: "t".into(),
            model: "m".into(),
            task: crate::dsl::TaskRef::Builtin("t".into()),
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

    fn layout() -> Layout {
        Layout {
            len: 3,
            positions: [("S2".to_string(), 1)].into(),
        }
    }

    #[test]
    fn circuit_heads_keep_their_positions_only() {
        let plan = Plan::new(&tiny_circuit(), 2, 2, 4);
        let mask = plan.head_mask(&Variant::circuit(), &[layout()]);
        let at = |p: usize, l: usize, h: usize| mask[(p * 2 + l) * 2 + h];
        assert_eq!([at(0, 0, 1), at(1, 0, 1), at(2, 0, 1)], [0.0, 1.0, 0.0]);
        assert_eq!(
            [at(0, 1, 0), at(1, 1, 0), at(2, 1, 0), at(3, 1, 0)],
            [1.0, 1.0, 1.0, 0.0]
        );
        assert_eq!(mask.iter().sum::<f32>(), 4.0);
    }

    #[test]
    fn knocked_out_heads_are_off_everywhere() {
        let plan = Plan::new(&tiny_circuit(), 2, 2, 3);
        let full = plan.head_mask(&Variant::model(), &[layout()]);
        assert_eq!(full.iter().sum::<f32>(), 12.0);
        let without = plan.head_mask(&Variant::model().without([Head::new(1, 0)]), &[layout()]);
        assert_eq!(without.iter().sum::<f32>(), 9.0);
        assert!(
            plan.head_mask(&Variant::empty(), &[layout()])
                .iter()
                .all(|v| *v == 0.0)
        );
    }
}
