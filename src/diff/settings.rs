//! The header: name, model, task, ablation, level.

use serde::Serialize;

use crate::dsl::Circuit;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Setting {
    Name,
    Model,
    Task,
    Ablation,
    Level,
}

impl Setting {
    pub fn name(self) -> &'static str {
        match self {
            Setting::Name => "name",
            Setting::Model => "model",
            Setting::Task => "task",
            Setting::Ablation => "ablation",
            Setting::Level => "level",
        }
    }
}

/// A setting before and after; `None` where the file leaves it to the command line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SettingChange {
    pub setting: Setting,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// In header order, the circuit's name first.
pub fn diff(old: &Circuit, new: &Circuit) -> Vec<SettingChange> {
    let values = |circuit: &Circuit| {
        [
            (Setting::Name, Some(circuit.name.clone())),
            (Setting::Model, Some(circuit.model.clone())),
            (Setting::Task, Some(circuit.task.to_string())),
            (
                Setting::Ablation,
                circuit.ablation.map(|a| a.name().to_string()),
            ),
            (Setting::Level, circuit.level.map(|l| l.name().to_string())),
        ]
    };
    let mut changes: Vec<SettingChange> = values(old)
        .into_iter()
        .zip(values(new))
        .filter(|((_, old), (_, new))| old != new)
        .map(|((setting, old), (_, new))| SettingChange { setting, old, new })
        .collect();
    // The same task file with other content is a changed task too.
    if old.task != new.task && old.task.to_string() == new.task.to_string() {
        let at = changes
            .iter()
            .position(|c| c.setting > Setting::Task)
            .unwrap_or(changes.len());
        changes.insert(
            at,
            SettingChange {
                setting: Setting::Task,
                old: Some(old.task.to_string()),
                new: Some(format!("{} (the file changed)", new.task)),
            },
        );
    }
    changes
}
