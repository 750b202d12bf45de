//! Classes added, removed, renamed, re-positioned and re-described; heads added to, removed
//! from and moved between classes. Heads of a class that was added or removed as a whole are
//! not listed again: the class line shows them.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::diff::matching::ClassMatching;
use crate::dsl::{Circuit, Class, Head, Positions};

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ClassChanges {
    pub removed: Vec<Class>,
    pub added: Vec<Class>,
    pub renamed: Vec<Rename>,
    /// Named by their new name.
    pub positions: Vec<PositionsChange>,
    pub descriptions: Vec<DescriptionChange>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Rename {
    pub old: String,
    pub new: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PositionsChange {
    pub class: String,
    pub old: Positions,
    pub new: Positions,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DescriptionChange {
    pub class: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct HeadChanges {
    /// Heads that changed class, in head order.
    pub moved: Vec<HeadMove>,
    /// Heads taken out of a class that is still there, by class (new name).
    pub removed: Vec<ClassHeads>,
    /// Heads put into a class that was already there, by class.
    pub added: Vec<ClassHeads>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeadMove {
    pub head: Head,
    /// The class it left: its new name if the class is still there, else its old one.
    pub from: String,
    pub to: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassHeads {
    pub class: String,
    pub heads: BTreeSet<Head>,
}

impl HeadChanges {
    pub fn is_empty(&self) -> bool {
        self.moved.is_empty() && self.removed.is_empty() && self.added.is_empty()
    }
}

pub fn diff_classes(matching: &ClassMatching) -> ClassChanges {
    let mut changes = ClassChanges {
        removed: matching.removed.iter().map(|c| (*c).clone()).collect(),
        added: matching.added.iter().map(|c| (*c).clone()).collect(),
        ..ClassChanges::default()
    };
    for (old, new) in &matching.pairs {
        if old.name != new.name {
            changes.renamed.push(Rename {
                old: old.name.clone(),
                new: new.name.clone(),
            });
        }
        if old.positions != new.positions {
            changes.positions.push(PositionsChange {
                class: new.name.clone(),
                old: old.positions.clone(),
                new: new.positions.clone(),
            });
        }
        if old.description != new.description {
            changes.descriptions.push(DescriptionChange {
                class: new.name.clone(),
                old: old.description.clone(),
                new: new.description.clone(),
            });
        }
    }
    changes
}

pub fn diff_heads(old: &Circuit, new: &Circuit, matching: &ClassMatching) -> HeadChanges {
    let mut changes = HeadChanges::default();
    for head in old.heads().union(&new.heads()) {
        match (old.class_of(*head), new.class_of(*head)) {
            (Some(from), Some(to)) => {
                if matching.new_name(&from.name) != Some(to.name.as_str()) {
                    changes.moved.push(HeadMove {
                        head: *head,
                        from: matching.current_name(&from.name).to_string(),
                        to: to.name.clone(),
                    });
                }
            }
            (Some(from), None) => {
                if let Some(class) = matching.new_name(&from.name) {
                    add_to(&mut changes.removed, class, *head);
                }
            }
            (None, Some(to)) => {
                if !matching.added.iter().any(|class| class.name == to.name) {
                    add_to(&mut changes.added, &to.name, *head);
                }
            }
            (None, None) => unreachable!("the head comes from one of the circuits"),
        }
    }
    // By class in the new circuit's order, so the lines follow the class list.
    let order = |group: &ClassHeads| new.classes.iter().position(|c| c.name == group.class);
    changes.removed.sort_by_key(order);
    changes.added.sort_by_key(order);
    changes
}

fn add_to(groups: &mut Vec<ClassHeads>, class: &str, head: Head) {
    match groups.iter_mut().find(|group| group.class == class) {
        Some(group) => {
            group.heads.insert(head);
        }
        None => groups.push(ClassHeads {
            class: class.to_string(),
            heads: BTreeSet::from([head]),
        }),
    }
}
