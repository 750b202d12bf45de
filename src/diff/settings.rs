//! The header: name, model, task, ablation, level.

use serde::Serialize;

use crate::dsl::Circuit;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
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
            (Setting::Task, Some(circuit.task.clone())),
            (
                Setting::Ablation,
                circuit.ablation.map(|a| a.name().to_string()),
            ),
            (Setting::Level, circuit.level.map(|l| l.name().to_string())),
        ]
    };
    values(old)
        .into_iter()
        .zip(values(new))
        .filter(|((_, old), (_, new))| old != new)
        .map(|((setting, old), (_, new))| SettingChange { setting, old, new })
        .collect()
}
