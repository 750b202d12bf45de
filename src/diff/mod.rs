//! What changed between two circuit hypotheses, computed on the resolved `Circuit`s and never
//! on text: comments, layout, statement order and how a variant is split across files never
//! show. `diff` is a pure function; reading the two sides (files, git revisions) is `side`
//! and `git`, showing the result is `report::text::diff`.
//!
//! Classes are matched first (`matching`: by name, then renames by shared heads), and every
//! later section speaks of classes by their new names, so a rename shows once, as a rename.

mod classes;
mod edges;
mod expectations;
pub mod git;
mod matching;
mod mlps;
mod settings;
pub mod side;

use serde::Serialize;

use crate::dsl::Circuit;

pub use classes::{ClassChanges, ClassHeads, DescriptionChange, HeadChanges, HeadMove};
pub use classes::{PositionsChange, Rename};
pub use edges::EdgeChanges;
pub use expectations::{ExpectationChanges, GivenChange, MinimalitySetChanges, ValueChange};
pub use matching::RENAME_MIN_SHARED;
pub use mlps::{MlpChanges, MlpPositions};
pub use settings::{Setting, SettingChange};

/// Everything that differs between two resolved circuits, section by section, each in the
/// order of the circuits (classes bottom-up through the model).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CircuitDiff {
    pub settings: Vec<SettingChange>,
    pub classes: ClassChanges,
    pub heads: HeadChanges,
    pub mlps: MlpChanges,
    pub edges: EdgeChanges,
    pub minimality_sets: MinimalitySetChanges,
    pub expectations: ExpectationChanges,
    /// How many heads the circuit has, before and after.
    pub head_count: Change<usize>,
}

/// A value before and after.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Change<T> {
    pub old: T,
    pub new: T,
}

pub fn diff(old: &Circuit, new: &Circuit) -> CircuitDiff {
    let matching = matching::match_classes(old, new);
    CircuitDiff {
        settings: settings::diff(old, new),
        classes: classes::diff_classes(&matching),
        heads: classes::diff_heads(old, new, &matching),
        mlps: mlps::diff(&old.mlps, &new.mlps),
        edges: edges::diff(old, new, &matching),
        minimality_sets: expectations::diff_minimality_sets(old, new),
        expectations: expectations::diff_expectations(old, new),
        head_count: Change {
            old: old.heads().len(),
            new: new.heads().len(),
        },
    }
}

impl CircuitDiff {
    /// The circuits are the same, names and descriptions included.
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty()
            && self.classes.renamed.is_empty()
            && self.classes.descriptions.is_empty()
            && !self.changes_meaning()
    }

    /// Something changed that the checker would see: heads, positions, wiring, MLPs, model,
    /// task, ablation, level, bounds. Names (the circuit's, classes') and descriptions only
    /// label the hypothesis, so changing only them does not count.
    pub fn changes_meaning(&self) -> bool {
        self.settings
            .iter()
            .any(|change| change.setting != Setting::Name)
            || !self.classes.added.is_empty()
            || !self.classes.removed.is_empty()
            || !self.classes.positions.is_empty()
            || !self.heads.is_empty()
            || !self.mlps.is_empty()
            || !self.edges.is_empty()
            || !self.minimality_sets.is_empty()
            || !self.expectations.is_empty()
    }
}
