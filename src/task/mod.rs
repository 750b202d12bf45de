//! Tasks: prompt distributions with named positions, answers and reference distributions,
//! described as data. A task file (TOML) either generates prompts from templates and word
//! lists (`tasks/ioi.toml`) or lists them explicitly, each with its reference counterpart
//! (what `task export` writes).

pub mod dataset;
pub mod error;
mod generate;
mod read;
pub mod spec;
pub mod template;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use rand::SeedableRng;
use serde::Serialize;

pub use dataset::{Dataset, MetricKind, Prompt};
pub use error::TaskError;
use spec::{ExplicitPrompt, ExtraReference};
use template::{Anchor, Segment};

use crate::model::Tokenizer;

const BUILTIN: &[(&str, &str)] = &[
    ("ioi", include_str!("../../tasks/ioi.toml")),
    ("induction", include_str!("../../tasks/induction.toml")),
    (
        "greater-than",
        include_str!("../../tasks/greater-than.toml"),
    ),
];

/// The most prompts one dataset holds: far more than any check needs, few enough to make
/// in seconds.
pub const MAX_PROMPTS: usize = 100_000;

/// Prompts a generated task makes when no number is asked for.
pub const DEFAULT_PROMPTS: usize = 100;

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
}

/// The TOML of a built-in task.
pub fn builtin_text(name: &str) -> Option<&'static str> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

/// Whether a task argument names a file (`.toml`, or an existing file) rather than a
/// built-in task.
pub fn is_task_file(argument: &str) -> bool {
    argument.ends_with(".toml") || Path::new(argument).is_file()
}

/// The text of a task file.
pub fn read_task_file(path: &Path) -> Result<String, TaskError> {
    crate::input::read_text(path).map_err(|e| TaskError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// How many reference prompts each group's replacement values rest on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "n")]
pub enum ReferenceSize {
    /// The counterparts of the group's prompts, topped up with more drawn from its template
    /// to at least this many (the default, 5: a mean of fewer is noise).
    AtLeast(usize),
    /// Exactly this many per group: the counterparts first, then more drawn.
    Exactly(usize),
    /// The counterparts of the group's prompts only (the paper's p_ABC, one per prompt).
    Counterparts,
    /// Every reference prompt the task has: the counterparts, and the extra reference
    /// prompts an explicit task file lists (the default of explicit tasks, whose file
    /// carries the reference set it was exported with).
    Listed,
}

impl std::str::FromStr for ReferenceSize {
    type Err = String;

    /// `counterparts`, `listed`, or a number (exactly that many per group).
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "counterparts" => Ok(ReferenceSize::Counterparts),
            "listed" => Ok(ReferenceSize::Listed),
            _ => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_REFERENCE).contains(&n) => Ok(ReferenceSize::Exactly(n)),
                Ok(n) => Err(format!(
                    "{n} is outside 1–{MAX_REFERENCE}: a group's mean rests on at least one reference prompt, and {MAX_REFERENCE} is plenty"
                )),
                Err(_) => Err(format!(
                    "`{text}` is neither a whole number, `counterparts` (each prompt's own counterpart, as the paper) nor `listed` (every reference prompt the task has)"
                )),
            },
        }
    }
}

impl Default for ReferenceSize {
    fn default() -> Self {
        ReferenceSize::AtLeast(MIN_REFERENCE)
    }
}

/// The reference prompts an explicit task file gives a dataset's groups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReferenceLimit {
    /// The fewest any group has (its counterparts and its extra reference prompts).
    pub fewest: usize,
    /// Some group has extra reference prompts beyond its counterparts.
    pub extra: bool,
}

/// Below this many reference prompts a group's mean is worth a warning.
pub const MIN_REFERENCE: usize = 5;

/// The most reference prompts a group's mean can be asked to rest on.
pub const MAX_REFERENCE: usize = 1000;

/// A checked task, ready to make datasets.
#[derive(Debug, Clone)]
pub struct Task {
    name: String,
    description: Option<String>,
    metric: MetricKind,
    position_names: Vec<String>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Generated(Box<Generated>),
    Explicit {
        prompts: Vec<ExplicitPrompt>,
        extra: Vec<ExtraReference>,
    },
}

#[derive(Debug, Clone)]
struct Template {
    /// `FAMILY k`, 1-based within the family.
    name: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone)]
struct Generated {
    position_names: Vec<String>,
    anchors: Vec<Anchor>,
    answer: Answer,
    distractor: Answer,
    /// Answer and distractor words are read as the next token with a space before them.
    leading_space: bool,
    /// Placeholder → the words it draws from.
    words: BTreeMap<String, Vec<String>>,
    /// Placeholder → its list's name (placeholders of one list may clash).
    list_of: BTreeMap<String, String>,
    distinct: Vec<BTreeSet<String>>,
    templates: Vec<Template>,
    /// Template indices per family; prompts take the families in turn.
    families: Vec<Vec<usize>>,
    resample: Vec<(String, usize)>,
    /// Placeholder → the word all its occurrences take in the reference prompt.
    set: BTreeMap<String, String>,
}

/// What one side of the metric reads at the end of a prompt.
#[derive(Debug, Clone)]
enum Answer {
    /// The word filling this placeholder.
    Word(String),
    /// The words of a list on one side of the word filling `placeholder`, in the list's
    /// order (each word once).
    Compared {
        list: String,
        words: Vec<String>,
        /// Word → its index in `words`.
        index: HashMap<String, usize>,
        placeholder: String,
        comparison: Comparison,
    },
}

impl Answer {
    /// The words of a compared answer when its placeholder is filled by `word`; `None`
    /// where the list does not hold `word`, or for a placeholder's word.
    fn compared_words(&self, word: &str) -> Option<&[String]> {
        let Answer::Compared {
            words,
            index,
            comparison,
            ..
        } = self
        else {
            return None;
        };
        Some(comparison.select(words, *index.get(word)?))
    }
}

#[derive(Debug, Clone, Copy)]
enum Comparison {
    Above,
    AtLeast,
    Below,
    AtMost,
}

impl Comparison {
    /// The words on this side of `words[index]`.
    fn select(self, words: &[String], index: usize) -> &[String] {
        match self {
            Comparison::Above => &words[index + 1..],
            Comparison::AtLeast => &words[index..],
            Comparison::Below => &words[..index],
            Comparison::AtMost => &words[..=index],
        }
    }

    /// "after it in the list", for diagnostics.
    fn describe(self) -> &'static str {
        match self {
            Comparison::Above => "after it in the list",
            Comparison::AtLeast => "from it on in the list",
            Comparison::Below => "before it in the list",
            Comparison::AtMost => "up to it in the list",
        }
    }
}

impl Task {
    pub fn builtin(name: &str) -> Option<Task> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        Some(
            Task::from_source(&format!("tasks/{name}.toml"), text)
                .expect("built-in tasks are valid"),
        )
    }

    pub fn from_file(path: &Path) -> Result<Task, TaskError> {
        Task::from_source(&path.display().to_string(), &read_task_file(path)?)
    }

    /// A built-in task by name, or a task file by path.
    pub fn load(name_or_path: &str) -> Result<Task, TaskError> {
        if is_task_file(name_or_path) {
            return Task::from_file(Path::new(name_or_path));
        }
        Task::named(name_or_path)
    }

    /// A built-in task by name, or the error that lists them.
    pub fn named(name: &str) -> Result<Task, TaskError> {
        Task::builtin(name).ok_or_else(|| TaskError::Unknown {
            name: name.to_string(),
            known: builtin_names().join(", "),
        })
    }

    /// How many prompts a dataset of this task has when no number is asked for: every
    /// prompt an explicit task lists, or 100 generated (fewer when the templates and words
    /// make fewer distinct prompts).
    pub fn default_prompts(&self) -> usize {
        match &self.kind {
            Kind::Generated(generated) => {
                let distinct = generate::distinct_prompts(generated);
                DEFAULT_PROMPTS.min(usize::try_from(distinct).unwrap_or(usize::MAX))
            }
            Kind::Explicit { prompts, .. } => prompts.len().min(MAX_PROMPTS),
        }
    }

    /// The reference set a check uses when none is asked for: each group's counterparts
    /// topped up to at least 5 for a generated task, what the file lists for an explicit one.
    pub fn default_reference_size(&self) -> ReferenceSize {
        match self.kind {
            Kind::Generated(_) => ReferenceSize::default(),
            Kind::Explicit { .. } => ReferenceSize::Listed,
        }
    }

    /// What an explicit task's file gives `dataset`'s groups to rest on; `None` for a
    /// generated task, which draws as many reference prompts as asked.
    pub fn reference_limit(&self, dataset: &Dataset) -> Option<ReferenceLimit> {
        let Kind::Explicit { extra, .. } = &self.kind else {
            return None;
        };
        let available = |group: usize| {
            let name = &dataset.groups[group];
            dataset
                .reference
                .iter()
                .filter(|p| p.group == group)
                .count()
                + extra.iter().filter(|e| e.group == *name).count()
        };
        let used: BTreeSet<usize> = dataset.prompts.iter().map(|p| p.group).collect();
        Some(ReferenceLimit {
            fewest: used.into_iter().map(available).min().unwrap_or(0),
            extra: dataset
                .groups
                .iter()
                .any(|name| extra.iter().any(|e| e.group == *name)),
        })
    }

    /// The reference set for `dataset` (made by this task with `seed`) at `size`: per
    /// group, the counterparts of its prompts in order, then more: drawn from its template
    /// (generated tasks), or the extra reference prompts the file lists for it (explicit
    /// tasks, which have no more than those).
    pub fn reference_set(
        &self,
        tokenizer: &Tokenizer,
        dataset: &Dataset,
        size: ReferenceSize,
        seed: u64,
    ) -> Result<Vec<Prompt>, TaskError> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        // Another stream than the prompts', so the prompts stay as they are.
        rng.set_stream(1);
        let mut out = Vec::new();
        for (group, name) in dataset.groups.iter().enumerate() {
            let own: Vec<&Prompt> = dataset
                .reference
                .iter()
                .filter(|p| p.group == group)
                .collect();
            let listed = match (&self.kind, own.first()) {
                (Kind::Explicit { extra, .. }, Some(layout)) => {
                    generate::extra_references(extra, name, layout, tokenizer)?
                }
                _ => Vec::new(),
            };
            let wanted = match size {
                ReferenceSize::AtLeast(n) => own.len().max(n),
                ReferenceSize::Exactly(n) => n,
                ReferenceSize::Counterparts => own.len(),
                ReferenceSize::Listed => own.len() + listed.len(),
            };
            out.extend(own.iter().take(wanted).map(|p| (*p).clone()));
            let more = wanted.saturating_sub(own.len());
            match &self.kind {
                Kind::Generated(generated) if more > 0 => {
                    out.extend(generate::more_references(
                        generated, tokenizer, name, group, more, &mut rng,
                    )?);
                }
                Kind::Explicit { .. } => {
                    if let (ReferenceSize::Exactly(n), true) = (size, more > listed.len()) {
                        return Err(TaskError::TooFewReferences {
                            group: name.clone(),
                            asked: n,
                            available: own.len() + listed.len(),
                        });
                    }
                    out.extend(listed.into_iter().take(more));
                }
                Kind::Generated(_) => {}
            }
        }
        Ok(out)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }

    pub fn metric(&self) -> MetricKind {
        self.metric
    }

    /// Named positions in the task's order.
    pub fn position_names(&self) -> Vec<String> {
        self.position_names.clone()
    }

    /// How the task defines a named position, as its file writes it (`S2 = B#2`); `None`
    /// for a name the task does not have, and for explicit prompts, which give each
    /// position per prompt.
    pub fn position_definition(&self, name: &str) -> Option<String> {
        let Kind::Generated(generated) = &self.kind else {
            return None;
        };
        let index = generated.position_names.iter().position(|n| n == name)?;
        Some(format!("{name} = {}", generated.anchors[index]))
    }

    /// `n` prompts and their reference counterparts, the same for the same seed.
    pub fn dataset(
        &self,
        tokenizer: &Tokenizer,
        n: usize,
        seed: u64,
    ) -> Result<Dataset, TaskError> {
        if n == 0 || n > MAX_PROMPTS {
            return Err(TaskError::PromptCount {
                asked: n,
                limit: MAX_PROMPTS,
            });
        }
        let (groups, prompts, reference) = match &self.kind {
            Kind::Generated(generated) => generate::generated(generated, tokenizer, n, seed)?,
            Kind::Explicit { prompts, .. } => {
                generate::explicit(prompts, &self.position_names, tokenizer, n)?
            }
        };
        Ok(Dataset {
            task: self.name.clone(),
            metric: self.metric,
            position_names: self.position_names.clone(),
            groups,
            prompts,
            reference,
        })
    }

    /// A task from the text of its file; `name` names the file in diagnostics.
    pub fn from_source(name: &str, text: &str) -> Result<Task, TaskError> {
        let (source, file) = read::parse(name, text)?;
        let reader = read::Reader::new(source, &file);
        let metric = reader.metric()?;
        let (position_names, kind) = if file.prompts.is_empty() {
            let generated = reader.generated(metric)?;
            let names = generated.position_names.clone();
            (names, Kind::Generated(Box::new(generated)))
        } else {
            let (names, prompts, extra) = reader.explicit(metric)?;
            (names, Kind::Explicit { prompts, extra })
        };
        Ok(Task {
            name: file.name,
            description: file.description,
            metric,
            position_names,
            kind,
        })
    }
}

/// The dataset in the explicit form a task file can list (what `task export` writes): every
/// prompt with its counterpart, and the reference prompts of `reference_set` beyond the
/// counterparts as extra reference prompts of their group, so that a check of the file uses
/// the reference set a check of the task would.
pub fn export_toml(
    dataset: &Dataset,
    reference_set: &[Prompt],
    tokenizer: &Tokenizer,
    description: Option<&str>,
) -> String {
    #[derive(serde::Serialize)]
    struct Export<'a> {
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<&'a str>,
        metric: MetricKind,
        positions: &'a [String],
        prompts: Vec<ExplicitPrompt>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        extra_references: Vec<ExtraReference>,
    }
    let words = |ids: &[u32]| {
        ids.iter()
            .map(|id| tokenizer.token_text(*id))
            .collect::<Vec<_>>()
    };
    let prompts = dataset
        .prompts
        .iter()
        .zip(&dataset.reference)
        .map(|(prompt, reference)| ExplicitPrompt {
            text: prompt.text.clone(),
            reference: reference.text.clone(),
            answer: words(&prompt.answer),
            distractor: words(&prompt.distractor),
            group: dataset.groups[prompt.group].clone(),
            positions: prompt.positions.clone(),
        })
        .collect();
    let extra_references = (0..dataset.groups.len())
        .flat_map(|group| {
            let counterparts = dataset
                .reference
                .iter()
                .filter(|p| p.group == group)
                .count();
            reference_set
                .iter()
                .filter(move |p| p.group == group)
                .skip(counterparts)
                .map(move |p| ExtraReference {
                    group: dataset.groups[group].clone(),
                    text: p.text.clone(),
                })
        })
        .collect();
    let export = Export {
        name: &dataset.task,
        description,
        metric: dataset.metric,
        positions: &dataset.position_names,
        prompts,
        extra_references,
    };
    let header = "# Exported by `circuitcheck task export`: every prompt with its reference counterpart,\n# and the reference prompts a check draws beyond them.\n";
    format!(
        "{header}{}",
        toml::to_string(&export).expect("exports serialise")
    )
}
