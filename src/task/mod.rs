//! Tasks: prompt distributions with named positions, answers and reference distributions,
//! described as data. A task file (TOML) either generates prompts from templates and word
//! lists (`tasks/ioi.toml`) or lists them explicitly, each with its reference counterpart
//! (what `task export` writes).

pub mod dataset;
pub mod error;
mod generate;
pub mod spec;
pub mod template;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use miette::NamedSource;

pub use dataset::{Dataset, MetricKind, Prompt};
pub use error::TaskError;
use error::{InvalidTask, Source, SyntaxError};
use spec::{ExplicitPrompt, TaskFile};
use template::{Anchor, Segment};

use crate::model::Tokenizer;

const BUILTIN: &[(&str, &str)] = &[
    ("ioi", include_str!("../../tasks/ioi.toml")),
    ("induction", include_str!("../../tasks/induction.toml")),
];

/// The most prompts one dataset holds: far more than any check needs, few enough to make
/// in seconds.
pub const MAX_PROMPTS: usize = 100_000;

pub fn builtin_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|(name, _)| *name).collect()
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
    Explicit(Vec<ExplicitPrompt>),
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
    answer: String,
    distractor: String,
    /// Placeholder → the words it draws from.
    words: BTreeMap<String, Vec<String>>,
    /// Placeholder → its list's name (placeholders of one list may clash).
    list_of: BTreeMap<String, String>,
    distinct: Vec<BTreeSet<String>>,
    templates: Vec<Template>,
    /// Template indices per family; prompts take the families in turn.
    families: Vec<Vec<usize>>,
    resample: Vec<(String, usize)>,
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
            Kind::Explicit(prompts) => {
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

    pub fn from_source(name: &str, text: &str) -> Result<Task, TaskError> {
        let source: Source = NamedSource::new(name, Arc::<str>::from(text));
        let file: TaskFile = toml::from_str(text).map_err(|e| {
            TaskError::Syntax(Box::new(SyntaxError {
                message: format!("{name}: {}", e.message()),
                span: e.span().map(|s| (s.start, s.end - s.start).into()),
                src: source.clone(),
            }))
        })?;
        let invalid =
            |span: std::ops::Range<usize>, message: String, label: &str, help: Option<String>| {
                TaskError::Invalid(Box::new(InvalidTask {
                    message,
                    src: source.clone(),
                    span: (span.start, span.end - span.start).into(),
                    label: label.to_string(),
                    help,
                }))
            };
        let metric = match file.metric.get_ref().as_str() {
            "logit-difference" => MetricKind::LogitDifference,
            "probability-difference" => MetricKind::ProbabilityDifference,
            other => {
                return Err(invalid(
                    file.metric.span(),
                    format!("unknown metric `{other}`"),
                    "not a metric",
                    Some("`metric` is `logit-difference` or `probability-difference`".into()),
                ));
            }
        };
        if !file.prompts.is_empty() {
            if !file.families.is_empty() {
                return Err(invalid(
                    file.positions.span(),
                    "a task either lists prompts or generates them from families, not both".into(),
                    "in a task with both",
                    None,
                ));
            }
            let names: Vec<String> = file
                .positions
                .get_ref()
                .iter()
                .map(|p| p.get_ref().trim().to_string())
                .collect();
            for prompt in &file.prompts {
                if let Some((message, help)) = explicit_problem(prompt.get_ref(), metric) {
                    return Err(invalid(prompt.span(), message, "prompt", Some(help)));
                }
                let missing: Vec<&String> = names
                    .iter()
                    .filter(|n| !prompt.get_ref().positions.contains_key(*n))
                    .collect();
                if let Some(name) = missing.first() {
                    return Err(invalid(
                        prompt.span(),
                        format!("this prompt does not give position `{name}`"),
                        "prompt",
                        Some("every prompt gives a token index for every named position".into()),
                    ));
                }
            }
            return Ok(Task {
                name: file.name,
                description: file.description,
                metric,
                position_names: names,
                kind: Kind::Explicit(file.prompts.into_iter().map(|p| p.into_inner()).collect()),
            });
        }

        // ── generated ──────────────────────────────────────────────────────────────────
        if file.families.is_empty() {
            return Err(invalid(
                file.positions.span(),
                "the task has neither `[[families]]` of templates nor `[[prompts]]`".into(),
                "no prompts come from this task",
                None,
            ));
        }
        let mut words = BTreeMap::new();
        let mut list_of = BTreeMap::new();
        for (placeholder, list) in &file.placeholders {
            let Some(entries) = file.lists.get(list.get_ref()) else {
                return Err(invalid(
                    list.span(),
                    format!(
                        "placeholder `{placeholder}` draws from `{}`, which is not in [lists]",
                        list.get_ref()
                    ),
                    "unknown list",
                    Some(format!(
                        "lists: {}",
                        file.lists.keys().cloned().collect::<Vec<_>>().join(", ")
                    )),
                ));
            };
            if entries.get_ref().is_empty() {
                return Err(invalid(
                    entries.span(),
                    format!("list `{}` is empty", list.get_ref()),
                    "empty",
                    None,
                ));
            }
            // Templates give the spaces between words; a word's own spaces would shift its
            // token away from the named position.
            if let Some(word) = entries
                .get_ref()
                .iter()
                .find(|w| w.is_empty() || w.trim() != w.as_str())
            {
                return Err(invalid(
                    entries.span(),
                    format!(
                        "list `{}` has the word {word:?}, which is empty or has spaces around it",
                        list.get_ref()
                    ),
                    "in this list",
                    Some("write bare words: the templates put the spaces between them".into()),
                ));
            }
            words.insert(placeholder.clone(), entries.get_ref().clone());
            list_of.insert(placeholder.clone(), list.get_ref().clone());
        }
        let known = |name: &str| file.placeholders.contains_key(name);
        let placeholder_help = Some(format!(
            "declared placeholders: {}",
            file.placeholders
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let mut templates = Vec::new();
        let mut families = Vec::new();
        for family in &file.families {
            if family.templates.get_ref().is_empty() {
                return Err(invalid(
                    family.templates.span(),
                    format!("family `{}` has no templates", family.name),
                    "no templates",
                    Some("give the family at least one template, or remove it".into()),
                ));
            }
            let mut members = Vec::new();
            for (k, text) in family.templates.get_ref().iter().enumerate() {
                let segments = template::parse(text.get_ref())
                    .map_err(|reason| invalid(text.span(), reason, "in this template", None))?;
                for segment in &segments {
                    if let Segment::Slot(name) = segment
                        && !known(name)
                    {
                        return Err(invalid(
                            text.span(),
                            format!(
                                "template uses placeholder `[{name}]`, which [placeholders] does not declare"
                            ),
                            "unknown placeholder",
                            placeholder_help.clone(),
                        ));
                    }
                }
                members.push(templates.len());
                templates.push(Template {
                    name: format!("{} {}", family.name, k + 1),
                    segments,
                });
            }
            families.push(members);
        }
        let require = |spanned: &toml::Spanned<String>, what: &str| -> Result<String, TaskError> {
            let name = spanned.get_ref().clone();
            if !known(&name) {
                return Err(invalid(
                    spanned.span(),
                    format!("{what} `{name}` is not a placeholder"),
                    "unknown placeholder",
                    placeholder_help.clone(),
                ));
            }
            Ok(name)
        };
        let answer = match &file.answer {
            Some(a) => require(a, "answer")?,
            None => {
                return Err(invalid(
                    file.metric.span(),
                    "a generated task names its `answer` placeholder".into(),
                    "no answer",
                    None,
                ));
            }
        };
        let distractor = match &file.distractor {
            Some(d) => require(d, "distractor")?,
            None => {
                return Err(invalid(
                    file.metric.span(),
                    "a generated task names its `distractor` placeholder".into(),
                    "no distractor",
                    None,
                ));
            }
        };
        let occurs_everywhere = |placeholder: &str,
                                 nth: usize,
                                 span: std::ops::Range<usize>|
         -> Result<(), TaskError> {
            for t in &templates {
                if template::occurrences(&t.segments, placeholder) < nth {
                    return Err(invalid(
                        span.clone(),
                        format!("template `{}` has fewer than {nth} `[{placeholder}]`", t.name),
                        "does not occur in every template",
                        Some("named positions, the answer, the distractor and resampled occurrences must exist in every template".into()),
                    ));
                }
            }
            Ok(())
        };
        // Each prompt's answer and distractor are the words filling these placeholders.
        for (placeholder, spanned) in [(&answer, &file.answer), (&distractor, &file.distractor)] {
            if let Some(spanned) = spanned {
                occurs_everywhere(placeholder, 1, spanned.span())?;
            }
        }
        let mut position_names = Vec::new();
        let mut anchors = Vec::new();
        for entry in file.positions.get_ref() {
            let Some((name, anchor_text)) = entry.get_ref().split_once('=') else {
                return Err(invalid(
                    entry.span(),
                    format!("`{}` is not `NAME = PLACEHOLDER`", entry.get_ref()),
                    "position",
                    Some("e.g. \"S2 = B#2\" or \"END = end\"".into()),
                ));
            };
            let anchor = template::parse_anchor(anchor_text)
                .map_err(|reason| invalid(entry.span(), reason, "position", None))?;
            if let Anchor::Occurrence {
                placeholder, nth, ..
            } = &anchor
            {
                if !known(placeholder) {
                    return Err(invalid(
                        entry.span(),
                        format!(
                            "position `{}` refers to `{placeholder}`, which is not a placeholder",
                            name.trim()
                        ),
                        "unknown placeholder",
                        placeholder_help.clone(),
                    ));
                }
                occurs_everywhere(placeholder, *nth, entry.span())?;
            }
            position_names.push(name.trim().to_string());
            anchors.push(anchor);
        }
        let mut resample = Vec::new();
        for entry in file.reference.iter().flat_map(|r| &r.resample) {
            match template::parse_anchor(entry.get_ref()) {
                Ok(Anchor::Occurrence {
                    placeholder,
                    nth,
                    offset: 0,
                }) if known(&placeholder) => {
                    occurs_everywhere(&placeholder, nth, entry.span())?;
                    resample.push((placeholder, nth));
                }
                _ => {
                    return Err(invalid(
                        entry.span(),
                        format!("`{}` is not a placeholder occurrence", entry.get_ref()),
                        "cannot resample this",
                        placeholder_help.clone(),
                    ));
                }
            }
        }
        let mut distinct = Vec::new();
        for group in &file.distinct {
            let mut set = BTreeSet::new();
            for member in group {
                set.insert(require(member, "distinct member")?);
            }
            distinct.push(set);
        }
        Ok(Task {
            name: file.name,
            description: file.description,
            metric,
            position_names: position_names.clone(),
            kind: Kind::Generated(Box::new(Generated {
                position_names,
                anchors,
                answer,
                distractor,
                words,
                list_of,
                distinct,
                templates,
                families,
                resample,
            })),
        })
    }
}

/// What makes an explicit prompt unusable, with what to do about it.
fn explicit_problem(prompt: &ExplicitPrompt, metric: MetricKind) -> Option<(String, String)> {
    for (field, text) in [("text", &prompt.text), ("reference", &prompt.reference)] {
        if text.trim().is_empty() {
            return Some((
                format!("this prompt's `{field}` is empty"),
                "the model reads the next token after the prompt: give it some text".into(),
            ));
        }
    }
    for (field, tokens) in [
        ("answer", &prompt.answer),
        ("distractor", &prompt.distractor),
    ] {
        match (metric, tokens.len()) {
            (_, 0) => {
                return Some((
                    format!("this prompt's `{field}` lists no token"),
                    "the metric compares the answer's tokens with the distractor's: list at least one".into(),
                ));
            }
            (MetricKind::LogitDifference, n) if n > 1 => {
                return Some((
                    format!(
                        "this prompt's `{field}` lists {n} tokens, but `logit-difference` compares one answer token with one distractor token"
                    ),
                    "list one token each, or use `metric = \"probability-difference\"`".into(),
                ));
            }
            _ => {}
        }
    }
    None
}

/// The dataset in the explicit form a task file can list (what `task export` writes).
pub fn export_toml(dataset: &Dataset, tokenizer: &Tokenizer, description: Option<&str>) -> String {
    #[derive(serde::Serialize)]
    struct Export<'a> {
        name: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        description: Option<&'a str>,
        metric: MetricKind,
        positions: &'a [String],
        prompts: Vec<ExplicitPrompt>,
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
    let export = Export {
        name: &dataset.task,
        description,
        metric: dataset.metric,
        positions: &dataset.position_names,
        prompts,
    };
    let header =
        "# Exported by `circuitcheck task export`: every prompt with its reference counterpart.\n";
    format!(
        "{header}{}",
        toml::to_string(&export).expect("exports serialise")
    )
}
