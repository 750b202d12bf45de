//! Which old class is which new class. A class keeps its identity by name; an old class whose
//! name is gone and a new class whose name is new are the same class renamed when they share
//! at least half of the heads the two hold together (Jaccard similarity ≥ 1/2). So
//! `{9.6 9.9 10.0}` → `{9.6 9.9}` is a rename that lost a head, `{10.7}` → `{10.7 11.10}` one
//! that gained a head, but `{10.7}` → `{10.7 11.3 11.10}` is a new class that 10.7 moved to.
//! Among several candidates the most similar pairs are taken first.

use std::collections::BTreeMap;

use crate::dsl::{Circuit, Class};

/// The smallest share of their combined heads two classes must have in common to count as
/// one class renamed: shared / union ≥ 1/2, as (numerator, denominator).
pub const RENAME_MIN_SHARED: (usize, usize) = (1, 2);

pub struct ClassMatching<'a> {
    /// (old, new) for classes on both sides, by name or renamed; in the new circuit's order.
    pub pairs: Vec<(&'a Class, &'a Class)>,
    /// In the old circuit's order.
    pub removed: Vec<&'a Class>,
    /// In the new circuit's order.
    pub added: Vec<&'a Class>,
    /// Old name → new name of every class on both sides.
    new_names: BTreeMap<&'a str, &'a str>,
}

impl<'a> ClassMatching<'a> {
    /// The name an old class has now, if it is still there.
    pub fn new_name(&self, old_name: &str) -> Option<&'a str> {
        self.new_names.get(old_name).copied()
    }

    /// How to call an old class now: its new name, or its old one when it was removed.
    pub fn current_name<'b>(&self, old_name: &'b str) -> &'b str
    where
        'a: 'b,
    {
        self.new_name(old_name).unwrap_or(old_name)
    }
}

pub fn match_classes<'a>(old: &'a Circuit, new: &'a Circuit) -> ClassMatching<'a> {
    let mut new_names: BTreeMap<&str, &str> = BTreeMap::new();
    for class in &old.classes {
        if new.class(&class.name).is_some() {
            new_names.insert(&class.name, &class.name);
        }
    }
    let unmatched_old: Vec<&Class> = old
        .classes
        .iter()
        .filter(|class| new.class(&class.name).is_none())
        .collect();
    let unmatched_new: Vec<&Class> = new
        .classes
        .iter()
        .filter(|class| old.class(&class.name).is_none())
        .collect();

    // (shared, union, old index, new index) for every pair similar enough to be a rename.
    let mut candidates = Vec::new();
    for (i, old_class) in unmatched_old.iter().enumerate() {
        for (j, new_class) in unmatched_new.iter().enumerate() {
            let shared = old_class.heads.intersection(&new_class.heads).count();
            let union = old_class.heads.union(&new_class.heads).count();
            let (numerator, denominator) = RENAME_MIN_SHARED;
            if shared > 0 && shared * denominator >= union * numerator {
                candidates.push((shared, union, i, j));
            }
        }
    }
    // Most similar first (compare shared/union without division), then more shared heads,
    // then circuit order, so the outcome never depends on iteration accidents.
    candidates.sort_by(|a, b| {
        (b.0 * a.1)
            .cmp(&(a.0 * b.1))
            .then(b.0.cmp(&a.0))
            .then((a.2, a.3).cmp(&(b.2, b.3)))
    });
    let mut taken_old = vec![false; unmatched_old.len()];
    let mut taken_new = vec![false; unmatched_new.len()];
    for (_, _, i, j) in candidates {
        if !taken_old[i] && !taken_new[j] {
            taken_old[i] = true;
            taken_new[j] = true;
            new_names.insert(&unmatched_old[i].name, &unmatched_new[j].name);
        }
    }

    let renamed_to: BTreeMap<&str, &Class> = old
        .classes
        .iter()
        .filter_map(|class| {
            let new_name = new_names.get(class.name.as_str())?;
            Some((*new_name, class))
        })
        .collect();
    let pairs = new
        .classes
        .iter()
        .filter_map(|class| Some((*renamed_to.get(class.name.as_str())?, class)))
        .collect();
    let removed = old
        .classes
        .iter()
        .filter(|class| !new_names.contains_key(class.name.as_str()))
        .collect();
    let added = new
        .classes
        .iter()
        .filter(|class| !renamed_to.contains_key(class.name.as_str()))
        .collect();
    ClassMatching {
        pairs,
        removed,
        added,
        new_names,
    }
}
