//! The MLP list: the default (every MLP at every position) against a list, and the listed
//! (layer, positions) entries added and removed.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::diff::Change;
use crate::dsl::{MlpEntry, Mlps};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MlpChanges {
    /// Whether each side keeps every MLP (the default), when that differs.
    pub every_mlp: Option<Change<bool>>,
    /// Listed entries; the default side counts as listing none.
    pub removed: Vec<MlpEntry>,
    pub added: Vec<MlpEntry>,
}

impl MlpChanges {
    pub fn is_empty(&self) -> bool {
        self.every_mlp.is_none() && self.removed.is_empty() && self.added.is_empty()
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
    MlpChanges {
        every_mlp: (is_every(old) != is_every(new)).then(|| Change {
            old: is_every(old),
            new: is_every(new),
        }),
        removed: old_entries.difference(&new_entries).cloned().collect(),
        added: new_entries.difference(&old_entries).cloned().collect(),
    }
}
