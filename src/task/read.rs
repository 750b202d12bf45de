//! Reading a task file: the TOML into a checked [`Task`](super::Task), one step per part of
//! the file (metric, explicit prompts, lists, templates, answers, positions, reference).
//! Every problem is a `task::invalid` diagnostic pointing into the TOML, with what to do
//! about it where there is something to say.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Range;
use std::sync::Arc;

use miette::NamedSource;
use toml::Spanned;

use super::error::{InvalidTask, Source, SyntaxError};
use super::spec::{
    AnswerSpec, ComparedSpec, ExplicitPrompt, ExtraReference, ListSpec, RangeSpec, TaskFile,
};
use super::template::{self, Anchor, Segment};
use super::{Answer, Comparison, Generated, MetricKind, TaskError, Template};

/// The most words a range list makes: far more than any task draws from.
pub const MAX_RANGE: u64 = 100_000;

/// The TOML, deserialised; its syntax errors point at the offending text.
pub fn parse(name: &str, text: &str) -> Result<(Source, TaskFile), TaskError> {
    let source: Source = NamedSource::new(name, Arc::<str>::from(text));
    let file: TaskFile = toml::from_str(text).map_err(|e| {
        TaskError::Syntax(Box::new(SyntaxError {
            message: format!("{name}: {}", e.message()),
            span: e.span().map(|s| (s.start, s.end - s.start).into()),
            src: source.clone(),
        }))
    })?;
    Ok((source, file))
}

/// A parsed task file and the source its diagnostics point into.
pub struct Reader<'a> {
    source: Source,
    file: &'a TaskFile,
}

/// An explicit task's position names, prompts and extra reference prompts.
pub type ExplicitParts = (Vec<String>, Vec<ExplicitPrompt>, Vec<ExtraReference>);

/// Placeholder → the words it draws from, and the name of their list.
type PlaceholderWords = (BTreeMap<String, Vec<String>>, BTreeMap<String, String>);

impl<'a> Reader<'a> {
    pub fn new(source: Source, file: &'a TaskFile) -> Self {
        Self { source, file }
    }

    fn invalid(
        &self,
        span: Range<usize>,
        message: String,
        label: &str,
        help: Option<String>,
    ) -> TaskError {
        TaskError::Invalid(Box::new(InvalidTask {
            message,
            src: self.source.clone(),
            span: (span.start, span.end - span.start).into(),
            label: label.to_string(),
            help,
        }))
    }

    pub fn metric(&self) -> Result<MetricKind, TaskError> {
        match self.file.metric.get_ref().as_str() {
            "logit-difference" => Ok(MetricKind::LogitDifference),
            "probability-difference" => Ok(MetricKind::ProbabilityDifference),
            other => Err(self.invalid(
                self.file.metric.span(),
                format!("unknown metric `{other}`"),
                "not a metric",
                Some("`metric` is `logit-difference` or `probability-difference`".into()),
            )),
        }
    }

    // ── explicit prompts ──────────────────────────────────────────────────────────────

    /// The position names and the prompts of a task that lists its prompts.
    pub fn explicit(&self, metric: MetricKind) -> Result<ExplicitParts, TaskError> {
        let file = self.file;
        if !file.families.is_empty() {
            return Err(self.invalid(
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
            self.explicit_prompt(prompt, &names, metric)?;
        }
        let prompts = file.prompts.iter().map(|p| p.get_ref().clone()).collect();
        let extra = self.extra_references()?;
        Ok((names, prompts, extra))
    }

    /// Extra reference prompts name a group of the listed prompts and have some text.
    fn extra_references(&self) -> Result<Vec<ExtraReference>, TaskError> {
        let groups: BTreeSet<&str> = self
            .file
            .prompts
            .iter()
            .map(|p| p.get_ref().group.as_str())
            .collect();
        for extra in &self.file.extra_references {
            let reference = extra.get_ref();
            if reference.text.trim().is_empty() {
                return Err(self.invalid(
                    extra.span(),
                    "this reference prompt's `text` is empty".into(),
                    "reference prompt",
                    Some(
                        "the model reads the reference prompt like any other: give it some text"
                            .into(),
                    ),
                ));
            }
            if !groups.contains(reference.group.as_str()) {
                return Err(self.invalid(
                    extra.span(),
                    format!("no prompt is in group `{}`", reference.group),
                    "reference prompt",
                    Some(format!(
                        "an extra reference prompt adds to the mean of a group of the prompts: {}",
                        groups.iter().copied().collect::<Vec<_>>().join(", ")
                    )),
                ));
            }
        }
        Ok(self
            .file
            .extra_references
            .iter()
            .map(|e| e.get_ref().clone())
            .collect())
    }

    fn explicit_prompt(
        &self,
        prompt: &Spanned<ExplicitPrompt>,
        names: &[String],
        metric: MetricKind,
    ) -> Result<(), TaskError> {
        if let Some((message, help)) = explicit_problem(prompt.get_ref(), metric) {
            return Err(self.invalid(prompt.span(), message, "prompt", Some(help)));
        }
        if let Some(name) = names
            .iter()
            .find(|n| !prompt.get_ref().positions.contains_key(*n))
        {
            return Err(self.invalid(
                prompt.span(),
                format!("this prompt does not give position `{name}`"),
                "prompt",
                Some("every prompt gives a token index for every named position".into()),
            ));
        }
        Ok(())
    }

    // ── generated prompts ─────────────────────────────────────────────────────────────

    /// A task that generates its prompts from templates and word lists.
    pub fn generated(&self, metric: MetricKind) -> Result<Generated, TaskError> {
        self.require_families()?;
        if let Some(extra) = self.file.extra_references.first() {
            return Err(self.invalid(
                extra.span(),
                "a task that generates its prompts draws its own reference prompts".into(),
                "extra reference prompt",
                Some("`[[extra_references]]` belong to tasks that list their `[[prompts]]`; set the size of a generated task's reference set with --reference-n".into()),
            ));
        }
        let (words, list_of) = self.placeholder_words()?;
        let (templates, families) = self.templates()?;
        let answer = self.answer("answer", &self.file.answer, metric, &words)?;
        let distractor = self.answer("distractor", &self.file.distractor, metric, &words)?;
        self.answers_occur(&templates)?;
        let (position_names, anchors) = self.positions(&templates)?;
        let resample = self.resample(&templates)?;
        let set = self.set(&templates, &resample, &[&answer, &distractor])?;
        let distinct = self.distinct()?;
        Ok(Generated {
            position_names,
            anchors,
            answer,
            distractor,
            leading_space: self.file.leading_space.unwrap_or(true),
            words,
            list_of,
            distinct,
            templates,
            families,
            resample,
            set,
        })
    }

    fn require_families(&self) -> Result<(), TaskError> {
        if self.file.families.is_empty() {
            return Err(self.invalid(
                self.file.positions.span(),
                "the task has neither `[[families]]` of templates nor `[[prompts]]`".into(),
                "no prompts come from this task",
                None,
            ));
        }
        Ok(())
    }

    // ── lists ─────────────────────────────────────────────────────────────────────────

    /// Each placeholder's words, from the list it names.
    fn placeholder_words(&self) -> Result<PlaceholderWords, TaskError> {
        let mut words = BTreeMap::new();
        let mut list_of = BTreeMap::new();
        for (placeholder, list) in &self.file.placeholders {
            let Some(entries) = self.file.lists.get(list.get_ref()) else {
                return Err(self.unknown_list(
                    list,
                    format!(
                        "placeholder `{placeholder}` draws from `{}`, which is not in [lists]",
                        list.get_ref()
                    ),
                ));
            };
            words.insert(
                placeholder.clone(),
                self.list_words(list.get_ref(), entries)?,
            );
            list_of.insert(placeholder.clone(), list.get_ref().clone());
        }
        Ok((words, list_of))
    }

    fn unknown_list(&self, name: &Spanned<String>, message: String) -> TaskError {
        let lists: Vec<&str> = self.file.lists.keys().map(String::as_str).collect();
        self.invalid(
            name.span(),
            message,
            "unknown list",
            Some(format!("lists: {}", lists.join(", "))),
        )
    }

    /// The words of one list: as written, or the numbers of a range.
    fn list_words(&self, name: &str, list: &Spanned<ListSpec>) -> Result<Vec<String>, TaskError> {
        let words = match list.get_ref() {
            ListSpec::Words(words) => words.clone(),
            ListSpec::Range(range) => self.range_words(name, range, list.span())?,
        };
        if words.is_empty() {
            return Err(self.invalid(
                list.span(),
                format!("list `{name}` is empty"),
                "empty",
                None,
            ));
        }
        // Templates give the spaces between words; a word's own spaces would shift its
        // token away from the named position.
        if let Some(word) = words
            .iter()
            .find(|w| w.is_empty() || w.trim() != w.as_str())
        {
            return Err(self.invalid(
                list.span(),
                format!(
                    "list `{name}` has the word {word:?}, which is empty or has spaces around it"
                ),
                "in this list",
                Some("write bare words: the templates put the spaces between them".into()),
            ));
        }
        Ok(words)
    }

    /// `{ from, to, digits }` as words: the numbers in increasing order, zero-padded.
    fn range_words(
        &self,
        name: &str,
        range: &RangeSpec,
        span: Range<usize>,
    ) -> Result<Vec<String>, TaskError> {
        let RangeSpec { from, to, digits } = *range;
        if from > to {
            return Err(self.invalid(
                span,
                format!(
                    "the range of list `{name}` is empty: `from = {from}` is above `to = {to}`"
                ),
                "empty range",
                Some("a range holds the numbers from `from` to `to`, both included".into()),
            ));
        }
        let count = u64::from(to - from) + 1;
        if count > MAX_RANGE {
            return Err(self.invalid(
                span,
                format!("the range of list `{name}` holds {count} numbers; a list holds at most {MAX_RANGE}"),
                "too many numbers",
                Some("narrow the range: a task draws only a few hundred prompts".into()),
            ));
        }
        let width = to.to_string().len();
        if let Some(digits) = digits.filter(|d| usize::from(*d) < width) {
            return Err(self.invalid(
                span,
                format!("`digits = {digits}` is narrower than `to = {to}`, which has {width} digits"),
                "digits",
                Some(format!(
                    "`digits` pads every number with zeros to one width: give at least {width}, or leave it out"
                )),
            ));
        }
        let width = usize::from(digits.unwrap_or(0));
        Ok((from..=to).map(|n| format!("{n:0width$}")).collect())
    }

    // ── templates ─────────────────────────────────────────────────────────────────────

    /// Every template, and per family the indices of its templates.
    fn templates(&self) -> Result<(Vec<Template>, Vec<Vec<usize>>), TaskError> {
        let mut templates = Vec::new();
        let mut families = Vec::new();
        for family in &self.file.families {
            if family.templates.get_ref().is_empty() {
                return Err(self.invalid(
                    family.templates.span(),
                    format!("family `{}` has no templates", family.name),
                    "no templates",
                    Some("give the family at least one template, or remove it".into()),
                ));
            }
            let mut members = Vec::new();
            for (k, text) in family.templates.get_ref().iter().enumerate() {
                members.push(templates.len());
                templates.push(Template {
                    name: format!("{} {}", family.name, k + 1),
                    segments: self.template(text)?,
                });
            }
            families.push(members);
        }
        Ok((templates, families))
    }

    fn template(&self, text: &Spanned<String>) -> Result<Vec<Segment>, TaskError> {
        let segments = template::parse(text.get_ref())
            .map_err(|reason| self.invalid(text.span(), reason, "in this template", None))?;
        for segment in &segments {
            if let Segment::Slot(name) = segment
                && !self.known(name)
            {
                return Err(self.invalid(
                    text.span(),
                    format!(
                        "template uses placeholder `[{name}]`, which [placeholders] does not declare"
                    ),
                    "unknown placeholder",
                    self.placeholder_help(),
                ));
            }
        }
        Ok(segments)
    }

    fn known(&self, name: &str) -> bool {
        self.file.placeholders.contains_key(name)
    }

    fn placeholder_help(&self) -> Option<String> {
        let names: Vec<&str> = self.file.placeholders.keys().map(String::as_str).collect();
        Some(format!("declared placeholders: {}", names.join(", ")))
    }

    fn require_placeholder(&self, name: &Spanned<String>, what: &str) -> Result<String, TaskError> {
        if !self.known(name.get_ref()) {
            return Err(self.invalid(
                name.span(),
                format!("{what} `{}` is not a placeholder", name.get_ref()),
                "unknown placeholder",
                self.placeholder_help(),
            ));
        }
        Ok(name.get_ref().clone())
    }

    /// Named positions, answers and reference occurrences exist in every template.
    fn occurs_everywhere(
        &self,
        templates: &[Template],
        placeholder: &str,
        nth: usize,
        span: Range<usize>,
    ) -> Result<(), TaskError> {
        for t in templates {
            if template::occurrences(&t.segments, placeholder) < nth {
                return Err(self.invalid(
                    span,
                    format!("template `{}` has fewer than {nth} `[{placeholder}]`", t.name),
                    "does not occur in every template",
                    Some("named positions, the answer, the distractor and the reference's resampled or set placeholders must exist in every template".into()),
                ));
            }
        }
        Ok(())
    }

    // ── answers ───────────────────────────────────────────────────────────────────────

    /// `answer` or `distractor`: the word of a placeholder, or words of a list compared
    /// with one.
    fn answer(
        &self,
        which: &str,
        spec: &Option<Spanned<AnswerSpec>>,
        metric: MetricKind,
        words: &BTreeMap<String, Vec<String>>,
    ) -> Result<Answer, TaskError> {
        let Some(spec) = spec else {
            return Err(self.invalid(
                self.file.metric.span(),
                format!("a generated task names its `{which}` placeholder"),
                &format!("no {which}"),
                None,
            ));
        };
        match spec.get_ref() {
            AnswerSpec::Placeholder(name) => {
                let name = Spanned::new(spec.span(), name.clone());
                Ok(Answer::Word(self.require_placeholder(&name, which)?))
            }
            AnswerSpec::Compared(compared) => {
                self.compared(which, compared, spec.span(), metric, words)
            }
        }
    }

    /// `{ list = "two_digits", above = "YY" }`, checked for every word `YY` can take.
    fn compared(
        &self,
        which: &str,
        spec: &ComparedSpec,
        span: Range<usize>,
        metric: MetricKind,
        words: &BTreeMap<String, Vec<String>>,
    ) -> Result<Answer, TaskError> {
        if metric == MetricKind::LogitDifference {
            return Err(self.invalid(
                span,
                format!("`{which}` is a set of words, but `logit-difference` compares one answer token with one distractor token"),
                "a set of words",
                Some(format!("name one placeholder (`{which} = \"A\"`), or use `metric = \"probability-difference\"`")),
            ));
        }
        let (comparison, placeholder) = self.comparison(which, spec, span)?;
        let placeholder =
            self.require_placeholder(placeholder, &format!("`{which}` compares with"))?;
        let Some(list) = self.file.lists.get(spec.list.get_ref()) else {
            return Err(self.unknown_list(
                &spec.list,
                format!(
                    "`{which}` takes words from `{}`, which is not in [lists]",
                    spec.list.get_ref()
                ),
            ));
        };
        let name = spec.list.get_ref();
        let (words_in_order, index) = self.ordered_words(name, list)?;
        let answer = Answer::Compared {
            list: name.clone(),
            words: words_in_order,
            index,
            placeholder: placeholder.clone(),
            comparison,
        };
        let origin = format!("`{placeholder}` can be");
        for word in &words[&placeholder] {
            self.comparable(which, &answer, word, &origin, spec.list.span())?;
        }
        Ok(answer)
    }

    /// The one comparison of a compared answer, and the placeholder it names.
    fn comparison<'s>(
        &self,
        which: &str,
        spec: &'s ComparedSpec,
        span: Range<usize>,
    ) -> Result<(Comparison, &'s Spanned<String>), TaskError> {
        let given: Vec<(Comparison, &Spanned<String>)> = [
            (Comparison::Above, &spec.above),
            (Comparison::AtLeast, &spec.at_least),
            (Comparison::Below, &spec.below),
            (Comparison::AtMost, &spec.at_most),
        ]
        .into_iter()
        .filter_map(|(comparison, placeholder)| Some((comparison, placeholder.as_ref()?)))
        .collect();
        match given.as_slice() {
            [one] => Ok(*one),
            _ => Err(self.invalid(
                span,
                format!("`{which}` gives {} comparisons; it needs exactly one of `above`, `at_least`, `below`, `at_most`", given.len()),
                "one comparison",
                Some(format!("e.g. `{which} = {{ list = \"years\", above = \"YY\" }}`: the words of `years` after the one filling `YY`")),
            )),
        }
    }

    /// A compared list's words, each once (their order is what the comparison reads), and
    /// each word's index.
    fn ordered_words(
        &self,
        name: &str,
        list: &Spanned<ListSpec>,
    ) -> Result<(Vec<String>, HashMap<String, usize>), TaskError> {
        let words = self.list_words(name, list)?;
        let mut index = HashMap::with_capacity(words.len());
        for (i, word) in words.iter().enumerate() {
            if index.insert(word.clone(), i).is_some() {
                return Err(self.invalid(
                    list.span(),
                    format!("list `{name}` has the word {word:?} twice, but a comparison reads its order"),
                    "in this list",
                    Some("list each word once, in the order `above` and `below` go by".into()),
                ));
            }
        }
        Ok((words, index))
    }

    /// With the compared placeholder filled by `word`, the answer has a place for it and
    /// holds at least one word.
    fn comparable(
        &self,
        which: &str,
        answer: &Answer,
        word: &str,
        origin: &str,
        span: Range<usize>,
    ) -> Result<(), TaskError> {
        let Answer::Compared {
            list,
            placeholder,
            comparison,
            ..
        } = answer
        else {
            return Ok(());
        };
        match answer.compared_words(word) {
            None => Err(self.invalid(
                span,
                format!("{origin} {word:?}, which list `{list}` does not hold"),
                &format!("compared with `{placeholder}`"),
                Some(format!("`{which}` finds the word filling `{placeholder}` in `{list}` and takes the words {}: the list must hold every word `{placeholder}` can be", comparison.describe())),
            )),
            Some([]) => Err(self.invalid(
                span,
                format!("with `{placeholder}` = {word:?}, `{which}` holds no word: nothing in `{list}` is {}", comparison.describe()),
                &format!("compared with `{placeholder}`"),
                Some("the metric needs a token on each side: change the list, or what the placeholder draws from".into()),
            )),
            Some(_) => Ok(()),
        }
    }

    /// The placeholders the answers read occur in every template.
    fn answers_occur(&self, templates: &[Template]) -> Result<(), TaskError> {
        for spec in [&self.file.answer, &self.file.distractor]
            .into_iter()
            .flatten()
        {
            let (placeholder, span) = match spec.get_ref() {
                AnswerSpec::Placeholder(name) => (name, spec.span()),
                AnswerSpec::Compared(compared) => {
                    let (_, name) = self
                        .comparison("answer", compared, spec.span())
                        .expect("checked with the answer");
                    (name.get_ref(), name.span())
                }
            };
            self.occurs_everywhere(templates, placeholder, 1, span)?;
        }
        Ok(())
    }

    // ── positions ─────────────────────────────────────────────────────────────────────

    /// `NAME = ANCHOR` per named position, in the file's order.
    fn positions(&self, templates: &[Template]) -> Result<(Vec<String>, Vec<Anchor>), TaskError> {
        let mut names = Vec::new();
        let mut anchors = Vec::new();
        for entry in self.file.positions.get_ref() {
            let (name, anchor) = self.position(entry)?;
            if let Anchor::Occurrence {
                placeholder, nth, ..
            } = &anchor
            {
                self.occurs_everywhere(templates, placeholder, *nth, entry.span())?;
            }
            names.push(name);
            anchors.push(anchor);
        }
        Ok((names, anchors))
    }

    fn position(&self, entry: &Spanned<String>) -> Result<(String, Anchor), TaskError> {
        let Some((name, anchor_text)) = entry.get_ref().split_once('=') else {
            return Err(self.invalid(
                entry.span(),
                format!("`{}` is not `NAME = PLACEHOLDER`", entry.get_ref()),
                "position",
                Some("e.g. \"S2 = B#2\" or \"END = end\"".into()),
            ));
        };
        let anchor = template::parse_anchor(anchor_text)
            .map_err(|reason| self.invalid(entry.span(), reason, "position", None))?;
        if let Anchor::Occurrence { placeholder, .. } = &anchor
            && !self.known(placeholder)
        {
            return Err(self.invalid(
                entry.span(),
                format!(
                    "position `{}` refers to `{placeholder}`, which is not a placeholder",
                    name.trim()
                ),
                "unknown placeholder",
                self.placeholder_help(),
            ));
        }
        Ok((name.trim().to_string(), anchor))
    }

    // ── reference ─────────────────────────────────────────────────────────────────────

    /// `[reference] resample`: placeholder occurrences that get fresh words.
    fn resample(&self, templates: &[Template]) -> Result<Vec<(String, usize)>, TaskError> {
        let mut resample = Vec::new();
        for entry in self.file.reference.iter().flat_map(|r| &r.resample) {
            match template::parse_anchor(entry.get_ref()) {
                Ok(Anchor::Occurrence {
                    placeholder,
                    nth,
                    offset: 0,
                }) if self.known(&placeholder) => {
                    self.occurs_everywhere(templates, &placeholder, nth, entry.span())?;
                    resample.push((placeholder, nth));
                }
                _ => {
                    return Err(self.invalid(
                        entry.span(),
                        format!("`{}` is not a placeholder occurrence", entry.get_ref()),
                        "cannot resample this",
                        self.placeholder_help(),
                    ));
                }
            }
        }
        Ok(resample)
    }

    /// `[reference] set`: placeholders whose every occurrence takes a fixed word.
    fn set(
        &self,
        templates: &[Template],
        resample: &[(String, usize)],
        answers: &[&Answer; 2],
    ) -> Result<BTreeMap<String, String>, TaskError> {
        let mut set = BTreeMap::new();
        for (placeholder, set_word) in self.file.reference.iter().flat_map(|r| &r.set) {
            let name = self.require_placeholder(placeholder, "[reference] sets")?;
            if resample.iter().any(|(p, _)| *p == name) {
                return Err(self.invalid(
                    placeholder.span(),
                    format!("[reference] both resamples and sets `{name}`"),
                    "resampled and set",
                    Some(
                        "a reference word is either drawn afresh or fixed: drop one of the two"
                            .into(),
                    ),
                ));
            }
            let word = self.set_word(&name, set_word)?;
            self.occurs_everywhere(templates, &name, 1, placeholder.span())?;
            for (which, answer) in ["answer", "distractor"].into_iter().zip(answers) {
                let origin = format!("[reference] sets `{name}` to");
                if matches!(answer, Answer::Compared { placeholder: compared, .. } if *compared == name)
                {
                    self.comparable(which, answer, &word, &origin, set_word.span())?;
                }
            }
            set.insert(name, word);
        }
        Ok(set)
    }

    fn set_word(&self, name: &str, word: &Spanned<String>) -> Result<String, TaskError> {
        let text = word.get_ref();
        if text.is_empty() || text.trim() != text {
            return Err(self.invalid(
                word.span(),
                format!(
                    "[reference] sets `{name}` to {text:?}, which is empty or has spaces around it"
                ),
                "set word",
                Some("write a bare word: the templates put the spaces around it".into()),
            ));
        }
        Ok(text.clone())
    }

    // ── distinct ──────────────────────────────────────────────────────────────────────

    /// Groups of placeholders that never take the same word in one prompt.
    fn distinct(&self) -> Result<Vec<BTreeSet<String>>, TaskError> {
        self.file
            .distinct
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|member| self.require_placeholder(member, "distinct member"))
                    .collect()
            })
            .collect()
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
