//! What the checker is asked to find: `expect` bounds (one per metric and direction, so a
//! bound is identified by both) and the `minimality ... given` sets (compared as resolved
//! heads, so they are immune to class renames). A head with one set before and one after has
//! that set changed; several sets for one head are compared as sets.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::dsl::{Circuit, Comparison, Expectation, Head, Metric, MinimalitySet};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ExpectationChanges {
    pub removed: Vec<Expectation>,
    pub added: Vec<Expectation>,
    /// Same metric and direction, another bound.
    pub changed: Vec<ValueChange>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ValueChange {
    pub metric: Metric,
    pub comparison: Comparison,
    pub old: f64,
    pub new: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MinimalitySetChanges {
    pub removed: Vec<MinimalitySet>,
    pub added: Vec<MinimalitySet>,
    pub changed: Vec<GivenChange>,
}

/// The one `given` set of a head, before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GivenChange {
    pub head: Head,
    pub old: BTreeSet<Head>,
    pub new: BTreeSet<Head>,
}

impl ExpectationChanges {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty() && self.changed.is_empty()
    }
}

impl MinimalitySetChanges {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty() && self.changed.is_empty()
    }
}

/// In metric order (faithfulness first, per-head minimality last).
pub fn diff_expectations(old: &Circuit, new: &Circuit) -> ExpectationChanges {
    let key = |e: &Expectation| (e.metric.clone(), e.comparison);
    let find = |circuit: &Circuit, wanted: &Expectation| {
        circuit
            .expectations
            .iter()
            .find(|e| key(e) == key(wanted))
            .cloned()
    };
    let mut changes = ExpectationChanges::default();
    for expectation in &old.expectations {
        match find(new, expectation) {
            None => changes.removed.push(expectation.clone()),
            Some(now) if now.value != expectation.value => changes.changed.push(ValueChange {
                metric: now.metric,
                comparison: now.comparison,
                old: expectation.value,
                new: now.value,
            }),
            Some(_) => {}
        }
    }
    for expectation in &new.expectations {
        if find(old, expectation).is_none() {
            changes.added.push(expectation.clone());
        }
    }
    changes.removed.sort_by_key(key);
    changes.added.sort_by_key(key);
    changes
        .changed
        .sort_by_key(|c| (c.metric.clone(), c.comparison));
    changes
}

pub fn diff_minimality_sets(old: &Circuit, new: &Circuit) -> MinimalitySetChanges {
    let old_sets: BTreeSet<&MinimalitySet> = old.minimality_sets.iter().collect();
    let new_sets: BTreeSet<&MinimalitySet> = new.minimality_sets.iter().collect();
    let mut removed: Vec<MinimalitySet> = old_sets
        .difference(&new_sets)
        .map(|s| (*s).clone())
        .collect();
    let mut added: Vec<MinimalitySet> = new_sets
        .difference(&old_sets)
        .map(|s| (*s).clone())
        .collect();
    let mut changed = Vec::new();
    let heads: BTreeSet<Head> = removed.iter().map(|s| s.head).collect();
    for head in heads {
        let of_head = |sets: &[MinimalitySet]| sets.iter().filter(|s| s.head == head).count();
        if of_head(&removed) == 1 && of_head(&added) == 1 {
            let take = |sets: &mut Vec<MinimalitySet>| {
                let index = sets.iter().position(|s| s.head == head).expect("counted");
                sets.remove(index).given
            };
            changed.push(GivenChange {
                head,
                old: take(&mut removed),
                new: take(&mut added),
            });
        }
    }
    MinimalitySetChanges {
        removed,
        added,
        changed,
    }
}
