//! The MLP list: the default (every MLP at every position) against a list, and the listed
//! (layer, positions) entries added and removed; a layer listed once before and once after at
//! other positions has its positions changed.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::diff::Change;
use crate::dsl::{MlpEntry, Mlps, Positions};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MlpChanges {
    /// Whether each side keeps every MLP (the default), when that differs.
    pub every_mlp: Option<Change<bool>>,
    /// Listed entries; the default side counts as listing none.
    pub removed: Vec<MlpEntry>,
    pub added: Vec<MlpEntry>,
    pub changed: Vec<MlpPositions>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MlpPositions {
    pub layer: u32,
    pub old: Positions,
    pub new: Positions,
}

impl MlpChanges {
    pub fn is_empty(&self) -> bool {
        self.every_mlp.is_none()
            && self.removed.is_empty()
            && self.added.is_empty()
            && self.changed.is_empty()
    }
}

pub fn diff(old: &Mlps, new: &Mlps) -> MlpChanges {
    let listed = |mlps: &Mlps| -> BTreeSet<MlpEntry> {
        match mlps {
            Mlps::All => BTreeSet::new(),
            Mlps::Listed(entries) => entries.iter().cloned().collect(),
        }
    };
    let is_every = |mlps: &Mlps| matches!(mlps, Mlps::All);
    let (old_entries, new_entries) = (listed(old), listed(new));
    let mut removed: Vec<MlpEntry> = old_entries.difference(&new_entries).cloned().collect();
    let mut added: Vec<MlpEntry> = new_entries.difference(&old_entries).cloned().collect();
    let mut changed = Vec::new();
    let layers: BTreeSet<u32> = removed.iter().map(|e| e.layer).collect();
    for layer in layers {
        let listed = |entries: &[MlpEntry]| entries.iter().filter(|e| e.layer == layer).count();
        if listed(&removed) == 1 && listed(&added) == 1 {
            let take = |entries: &mut Vec<MlpEntry>| {
                let index = entries
                    .iter()
                    .position(|e| e.layer == layer)
                    .expect("counted");
                entries.remove(index).positions
            };
            changed.push(MlpPositions {
                layer,
                old: take(&mut removed),
                new: take(&mut added),
            });
        }
    }
    MlpChanges {
        every_mlp: (is_every(old) != is_every(new)).then(|| Change {
            old: is_every(old),
            new: is_every(new),
        }),
        removed,
        added,
        changed,
    }
}
