//! Syntax tree (+ the resolved circuit it extends) → checked `Circuit`, collecting every
//! problem of the file in one pass instead of stopping at the first.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::dsl::ast::{self, *};
use crate::dsl::circuit::*;
use crate::dsl::diagnostic::{Code, Diagnostic, Fix, Source, list_words};
use crate::dsl::environment::{Environment, ModelShape, TaskProblem};

/// Where the classes and heads of a resolved circuit were written, so a variant's
/// diagnostics can say where something it clashes with came from.
#[derive(Clone, Debug, Default)]
pub struct Origins {
    /// Class name → (file, span of its name).
    pub classes: BTreeMap<String, (String, Span)>,
    /// Head → (file, span).
    pub heads: BTreeMap<Head, (String, Span)>,
}

/// The circuit a variant starts from.
pub struct Base<'a> {
    pub circuit: &'a Circuit,
    pub origins: &'a Origins,
}

pub struct Analysis {
    /// Present when the file has no errors (warnings allowed).
    pub circuit: Option<Circuit>,
    pub origins: Origins,
    pub diagnostics: Vec<Diagnostic>,
}

struct WorkingClass {
    name: String,
    description: Option<String>,
    positions: Positions,
    heads: BTreeSet<Head>,
}

struct Analyzer<'a> {
    source: &'a Source,
    env: &'a dyn Environment,
    base: Option<Base<'a>>,
    diagnostics: Vec<Diagnostic>,
    shape: Option<(String, ModelShape)>,
    /// The task file the header names, as the loader read it (or why it could not).
    task_file: Option<Result<TaskRef, String>>,
    task: Option<(TaskRef, Vec<String>)>,
    classes: Vec<WorkingClass>,
    /// Class name → index in `classes`, and head → index of its class: lookups per name
    /// and head stay constant-time however many (erroneous) classes a file defines.
    by_name: HashMap<String, usize>,
    owners: HashMap<Head, usize>,
    origins: Origins,
    edges: BTreeSet<Edge>,
    expectations: Vec<Expectation>,
    minimality_sets: Vec<MinimalitySet>,
    mlps: Mlps,
}

/// Checks `file` (whose text is `source`) against `env`, starting from `base` for a variant.
/// `task_file` is the task file its header names (`task "…"`), read by the loader.
pub fn analyze(
    file: &ast::File,
    source: &Source,
    base: Option<Base>,
    env: &dyn Environment,
    task_file: Option<Result<TaskRef, String>>,
) -> Analysis {
    let mut analyzer = Analyzer {
        source,
        env,
        diagnostics: Vec::new(),
        shape: None,
        task_file,
        task: None,
        classes: Vec::new(),
        by_name: HashMap::new(),
        owners: HashMap::new(),
        origins: Origins::default(),
        edges: BTreeSet::new(),
        expectations: Vec::new(),
        minimality_sets: Vec::new(),
        mlps: Mlps::All,
        base: None,
    };
    if let Some(base) = &base {
        analyzer.start_from(base);
    }
    analyzer.base = base;
    let settings = analyzer.settings(&file.header);
    analyzer.removals(file);
    analyzer.class_definitions(file);
    analyzer.additions(file);
    analyzer.mlp_definitions(file);
    analyzer.edge_definitions(file);
    analyzer.expectation_definitions(file);
    analyzer.minimality_definitions(file);
    analyzer.finish(file, settings)
}

/// Settings after inheritance: name, model, task, ablation, level.
struct Settings {
    model: Option<String>,
    task: Option<TaskRef>,
    ablation: Option<Ablation>,
    level: Option<Level>,
}

impl<'a> Analyzer<'a> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn diag(&self, code: Code, span: Span, message: String, label: String) -> Diagnostic {
        Diagnostic::new(code, self.source, span, message, label)
    }

    fn start_from(&mut self, base: &Base) {
        self.classes = base
            .circuit
            .classes
            .iter()
            .map(|class| WorkingClass {
                name: class.name.clone(),
                description: class.description.clone(),
                positions: class.positions.clone(),
                heads: class.heads.clone(),
            })
            .collect();
        self.reindex();
        self.origins = base.origins.clone();
        self.edges = base.circuit.edges.clone();
        self.expectations = base.circuit.expectations.clone();
        self.minimality_sets = base.circuit.minimality_sets.clone();
        self.mlps = base.circuit.mlps.clone();
    }

    fn settings(&mut self, header: &Header) -> Settings {
        let mut seen: BTreeMap<SettingKey, Span> = BTreeMap::new();
        let mut values: BTreeMap<SettingKey, &Setting> = BTreeMap::new();
        for setting in &header.settings {
            let key = setting.key.value;
            if let Some(first) = seen.get(&key) {
                let diagnostic = self
                    .diag(
                        Code::DuplicateSetting,
                        setting.key.span,
                        format!("`{}` is set twice", key.keyword()),
                        "set again here".into(),
                    )
                    .with_secondary(*first, "first set here")
                    .with_help("keep one of the two lines");
                self.error(diagnostic);
                continue;
            }
            seen.insert(key, setting.key.span);
            values.insert(key, setting);
        }
        for (key, setting) in &values {
            if setting.quoted && *key != SettingKey::Task {
                let diagnostic = self
                    .diag(
                        Code::UnknownSetting,
                        setting.value.span,
                        format!("`{}` is a name, not a quoted path", key.keyword()),
                        "quoted".into(),
                    )
                    .with_help(format!(
                        "write it without quotes: `{} {}`",
                        key.keyword(),
                        setting.value.value
                    ));
                self.error(diagnostic);
            }
        }
        let value = |key: SettingKey| values.get(&key).map(|setting| &setting.value);
        let inherited = self.base.as_ref().map(|base| base.circuit);
        let model = self.model_setting(value(SettingKey::Model), header);
        let task = self.task_setting(values.get(&SettingKey::Task).copied(), header);
        let ablation = match value(SettingKey::Ablation) {
            Some(value) => {
                self.named_setting(value, "ablation", &Ablation::NAMES, Ablation::from_name)
            }
            None => inherited.and_then(|base| base.ablation),
        };
        let level = match value(SettingKey::Level) {
            Some(value) => self.named_setting(value, "level", &Level::NAMES, Level::from_name),
            None => inherited.and_then(|base| base.level),
        };
        Settings {
            model,
            task,
            ablation,
            level,
        }
    }

    fn missing_setting(&mut self, key: &str, header: &Header) {
        let diagnostic = self
            .diag(
                Code::MissingSetting,
                header.name.span,
                format!(
                    "circuit `{}` does not say which {key} it is about",
                    header.name.value
                ),
                format!("no `{key}` here"),
            )
            .with_help(format!(
                "add a line `{key} NAME` inside the braces, or `extends` a file that has one"
            ));
        self.error(diagnostic);
    }

    fn model_setting(
        &mut self,
        value: Option<&Spanned<String>>,
        header: &Header,
    ) -> Option<String> {
        let Some(value) = value else {
            let inherited = self.base.as_ref().map(|base| base.circuit.model.clone());
            if inherited.is_none() {
                self.missing_setting("model", header);
            }
            self.shape = inherited
                .as_ref()
                .and_then(|model| Some((model.clone(), self.env.model_shape(model)?)));
            return inherited;
        };
        match self.env.model_shape(&value.value) {
            Some(shape) => self.shape = Some((value.value.clone(), shape)),
            None => {
                let known = self.env.known_models();
                let diagnostic = self
                    .diag(
                        Code::UnknownModel,
                        value.span,
                        format!("unknown model `{}`", value.value),
                        "not a model circuitcheck knows".into(),
                    )
                    .with_help(format!("known models: {}", list_words(&known)));
                self.error(diagnostic);
            }
        }
        Some(value.value.clone())
    }

    fn task_setting(&mut self, setting: Option<&Setting>, header: &Header) -> Option<TaskRef> {
        let Some(setting) = setting else {
            let inherited = self.base.as_ref().map(|base| base.circuit.task.clone());
            match &inherited {
                None => self.missing_setting("task", header),
                // The base reported its own task's problems.
                Some(task) => {
                    self.task = self
                        .env
                        .task_positions(task)
                        .ok()
                        .map(|positions| (task.clone(), positions));
                }
            }
            return inherited;
        };
        let value = &setting.value;
        let task = if setting.quoted {
            match self.task_file.clone() {
                Some(Ok(task)) => task,
                Some(Err(reason)) => {
                    let diagnostic = self
                        .diag(
                            Code::TaskMissing,
                            value.span,
                            format!("cannot read the task file `{}`: {reason}", value.value),
                            "no such task file".into(),
                        )
                        .with_help("the path is relative to the directory of this file");
                    self.error(diagnostic);
                    return None;
                }
                None => unreachable!("the loader reads the task file of a quoted `task`"),
            }
        } else {
            TaskRef::Builtin(value.value.clone())
        };
        match self.env.task_positions(&task) {
            Ok(positions) => self.task = Some((task.clone(), positions)),
            Err(TaskProblem::Unknown) => {
                let known = self.env.known_tasks();
                let diagnostic = self
                    .diag(
                        Code::UnknownTask,
                        value.span,
                        format!("unknown task `{}`", value.value),
                        "not a task circuitcheck knows".into(),
                    )
                    .with_help(format!(
                        "built-in tasks: {}; or a task file, as a quoted path: `task \"tasks/mine.toml\"`",
                        list_words(&known)
                    ));
                self.error(diagnostic);
            }
            Err(TaskProblem::Invalid(problems)) => {
                let count = problems.iter().filter(|d| d.is_error()).count();
                self.diagnostics.extend(problems);
                let diagnostic = self
                    .diag(
                        Code::TaskInvalid,
                        value.span,
                        format!(
                            "the task file `{}` has {count} error{}",
                            value.value,
                            if count == 1 { "" } else { "s" }
                        ),
                        "this task file has errors".into(),
                    )
                    .with_help("fix the errors reported for the task file first");
                self.error(diagnostic);
            }
        }
        Some(task)
    }

    fn named_setting<T>(
        &mut self,
        value: &Spanned<String>,
        key: &str,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let parsed = parse(&value.value);
        if parsed.is_none() {
            let diagnostic = self
                .diag(
                    Code::UnknownSetting,
                    value.span,
                    format!("unknown {key} `{}`", value.value),
                    "unknown value".into(),
                )
                .with_help(format!("`{key}` is one of {}", list_words(names)));
            self.error(diagnostic);
        }
        parsed
    }

    // ── heads and positions ────────────────────────────────────────────────────────────

    fn check_head_in_model(&mut self, head: &Spanned<Head>) -> bool {
        let Some((model, shape)) = &self.shape else {
            return true;
        };
        let Head { layer, head: index } = head.value;
        if layer < shape.layers && index < shape.heads {
            return true;
        }
        let what = if layer >= shape.layers {
            format!("layer {layer} does not exist")
        } else {
            format!("head {index} does not exist in layer {layer}")
        };
        let diagnostic = self
            .diag(
                Code::HeadOutOfRange,
                head.span,
                format!("head {} is outside {model}", head.value),
                what,
            )
            .with_help(format!(
                "{model} has layers 0–{} with heads 0–{} each",
                shape.layers - 1,
                shape.heads - 1
            ));
        self.error(diagnostic);
        false
    }

    fn positions(&mut self, def: &PositionsDef) -> Positions {
        match def {
            PositionsDef::All(_) => Positions::All,
            PositionsDef::Named(names) => {
                for name in names {
                    self.check_position(name);
                }
                Positions::Named(names.iter().map(|name| name.value.clone()).collect())
            }
        }
    }

    fn check_position(&mut self, name: &Spanned<String>) {
        let Some((task, known)) = &self.task else {
            return;
        };
        let task = task.name_or_path();
        if known.contains(&name.value) {
            return;
        }
        let mut help = format!(
            "task `{task}` names the positions {}, or use `all`",
            list_words(known)
        );
        let close = closest(&name.value, known.iter().map(String::as_str));
        if let Some(close) = close {
            help = format!("did you mean `{close}`? {help}");
        }
        let mut diagnostic = self
            .diag(
                Code::UnknownPosition,
                name.span,
                format!("task `{task}` has no position `{}`", name.value),
                "unknown position".into(),
            )
            .with_help(help);
        if let Some(close) = close {
            diagnostic = replace_with(diagnostic, name.span, close);
        }
        self.error(diagnostic);
    }

    /// Rebuilds the lookups after classes were removed (only a base's, at most one per head).
    fn reindex(&mut self) {
        self.by_name.clear();
        self.owners.clear();
        for (index, class) in self.classes.iter().enumerate() {
            self.by_name.entry(class.name.clone()).or_insert(index);
            for head in &class.heads {
                self.owners.entry(*head).or_insert(index);
            }
        }
    }

    fn class_index(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    fn owner_of(&self, head: Head) -> Option<&WorkingClass> {
        self.owners.get(&head).map(|&index| &self.classes[index])
    }

    /// Adds `head` to class `index` unless it is outside the model or already in a class.
    /// `removable`: the statement lists other heads too, so deleting this one is a fix.
    fn add_head(&mut self, index: usize, head: &Spanned<Head>, removable: bool) {
        if !self.check_head_in_model(head) {
            return;
        }
        if let Some(owner) = self.owner_of(head.value) {
            let owner = owner.name.clone();
            let mut diagnostic = self.diag(
                Code::DuplicateHead,
                head.span,
                format!("head {} is listed twice", head.value),
                format!("already in class `{owner}`"),
            );
            match self.origins.heads.get(&head.value) {
                Some((file, span)) if file == self.source.name() => {
                    diagnostic = diagnostic.with_secondary(*span, "first listed here");
                }
                Some((file, _)) => {
                    diagnostic = diagnostic.with_help(format!(
                        "{file} already puts it in `{owner}`; `remove head {}` first to move it",
                        head.value
                    ));
                }
                None => {}
            }
            if diagnostic.help.is_none() {
                diagnostic = diagnostic.with_help("a head belongs to exactly one class");
            }
            if removable {
                let text: &str = self.source.inner();
                let spaces = text[..head.span.start].len()
                    - text[..head.span.start].trim_end_matches([' ', '\t']).len();
                let span = Span {
                    start: head.span.start - spaces,
                    end: head.span.end,
                };
                let title = format!("Remove this {} (already in `{owner}`)", head.value);
                diagnostic = diagnostic.with_fix(title, vec![(span, String::new())]);
            }
            self.error(diagnostic);
            return;
        }
        self.classes[index].heads.insert(head.value);
        self.owners.insert(head.value, index);
        self.origins
            .heads
            .insert(head.value, (self.source.name().to_string(), head.span));
    }

    // ── statements ─────────────────────────────────────────────────────────────────────

    fn remove_missing(&mut self, span: Span, what: String) {
        let help = match &self.base {
            Some(_) => {
                "`remove` edits the circuit named by `extends`; check the name there".to_string()
            }
            None => "`remove` edits the circuit named by `extends`, and this file extends nothing"
                .to_string(),
        };
        let diagnostic = self
            .diag(
                Code::RemoveMissing,
                span,
                format!("cannot remove {what}: it is not in the circuit"),
                "nothing to remove".into(),
            )
            .with_help(help);
        self.error(diagnostic);
    }

    fn removals(&mut self, file: &ast::File) {
        for statement in &file.statements {
            match &statement.kind {
                StatementKind::RemoveClass(name) => match self.class_index(&name.value) {
                    Some(index) => {
                        let class = self.classes.remove(index);
                        self.reindex();
                        let node = Node::Class(class.name.clone());
                        self.edges.retain(|edge| {
                            edge.from != node
                                && edge.to != node
                                && !matches!(&edge.from, Node::Head(h) if class.heads.contains(h))
                                && !matches!(&edge.to, Node::Head(h) if class.heads.contains(h))
                        });
                        self.forget_heads(&class.heads);
                    }
                    None => self.remove_missing(name.span, format!("class `{}`", name.value)),
                },
                StatementKind::RemoveHead(head) => match self.owners.get(&head.value).copied() {
                    Some(index) => {
                        self.classes[index].heads.remove(&head.value);
                        self.owners.remove(&head.value);
                        if self.classes[index].heads.is_empty() {
                            let name = self.classes[index].name.clone();
                            let diagnostic = self
                                .diag(
                                    Code::EmptyClass,
                                    head.span,
                                    format!("removing {} leaves class `{name}` empty", head.value),
                                    "last head of the class".into(),
                                )
                                .with_help(format!("write `remove class {name}` instead"));
                            self.error(diagnostic);
                        }
                        let node = Node::Head(head.value);
                        self.edges
                            .retain(|edge| edge.from != node && edge.to != node);
                        self.forget_heads(&BTreeSet::from([head.value]));
                    }
                    None => self.remove_missing(head.span, format!("head {}", head.value)),
                },
                StatementKind::RemoveEdge(def) => {
                    for (edge, span) in self.expand_edge(def, false) {
                        if !self.edges.remove(&edge) {
                            self.remove_missing(span, format!("edge `{edge}`"));
                        }
                    }
                }
                StatementKind::RemoveExpect { metric, comparison } => {
                    let Some(resolved) = self.metric(metric) else {
                        continue;
                    };
                    let before = self.expectations.len();
                    self.expectations.retain(|e| {
                        e.metric != resolved || comparison.is_some_and(|c| c != e.comparison)
                    });
                    if self.expectations.len() == before {
                        self.remove_missing(metric.span, format!("`expect {resolved}`"));
                    }
                }
                _ => {}
            }
        }
    }

    /// Drops minimality sets and expectations that name heads no longer in the circuit.
    fn forget_heads(&mut self, heads: &BTreeSet<Head>) {
        self.minimality_sets
            .retain(|set| !heads.contains(&set.head));
        for set in &mut self.minimality_sets {
            set.given.retain(|head| !heads.contains(head));
        }
        self.expectations
            .retain(|e| !matches!(e.metric, Metric::Minimality(Some(h)) if heads.contains(&h)));
        for head in heads {
            self.origins.heads.remove(head);
        }
    }

    fn class_definitions(&mut self, file: &ast::File) {
        for statement in &file.statements {
            let StatementKind::Class(def) = &statement.kind else {
                continue;
            };
            if let Some(index) = self.class_index(&def.name.value) {
                let mut diagnostic = self.diag(
                    Code::DuplicateClass,
                    def.name.span,
                    format!("class `{}` is defined twice", def.name.value),
                    "defined again here".into(),
                );
                match self.origins.classes.get(&self.classes[index].name) {
                    Some((file, span)) if file == self.source.name() => {
                        diagnostic = diagnostic
                            .with_secondary(*span, "first defined here")
                            .with_help("merge the two classes or rename one");
                    }
                    Some((file, _)) => {
                        diagnostic = diagnostic.with_help(format!(
                            "{file} already defines it; `remove class {}` first to redefine it, or `add` heads to it",
                            def.name.value
                        ));
                    }
                    None => {}
                }
                self.error(diagnostic);
                continue;
            }
            if def.heads.is_empty() {
                let diagnostic = self
                    .diag(
                        Code::EmptyClass,
                        def.name.span,
                        format!("class `{}` has no heads", def.name.value),
                        "empty class".into(),
                    )
                    .with_help("list its heads between the braces, e.g. `{ 9.9 9.6 }`");
                self.error(diagnostic);
            }
            let positions = self.positions(&def.positions);
            self.by_name
                .insert(def.name.value.clone(), self.classes.len());
            self.classes.push(WorkingClass {
                name: def.name.value.clone(),
                description: def.description.clone(),
                positions,
                heads: BTreeSet::new(),
            });
            self.origins.classes.insert(
                def.name.value.clone(),
                (self.source.name().to_string(), def.name.span),
            );
            let index = self.classes.len() - 1;
            for head in &def.heads {
                self.add_head(index, head, def.heads.len() > 1);
            }
        }
    }

    fn unknown_class(&mut self, name: &Spanned<String>, context: &str) {
        // A file with thousands of (broken) classes must not cost, or print, them all for
        // each unknown name: suggestions come from the first few hundred.
        let known: Vec<&str> = self
            .classes
            .iter()
            .take(SUGGESTED_FROM)
            .map(|c| c.name.as_str())
            .collect();
        let close = closest(&name.value, known.iter().copied());
        let help = match close {
            Some(close) => format!("did you mean `{close}`?"),
            None if known.is_empty() => "no class is defined yet".to_string(),
            None => {
                let names: Vec<&str> = known.iter().copied().take(12).collect();
                let list = match self.classes.len() - names.len() {
                    0 => list_words(&names),
                    more => format!("{} and {more} more", names.join(", ")),
                };
                format!("the classes are {list}")
            }
        };
        let mut diagnostic = self
            .diag(
                Code::UnknownClass,
                name.span,
                format!(
                    "{context} names class `{}`, which is not defined",
                    name.value
                ),
                "unknown class".into(),
            )
            .with_help(help);
        if let Some(close) = close {
            // The span may go on with a channel (`name_mover.q`); the name comes first.
            let written = Span {
                start: name.span.start,
                end: name.span.start + name.value.len(),
            };
            diagnostic = replace_with(diagnostic, written, close);
        }
        self.error(diagnostic);
    }

    fn additions(&mut self, file: &ast::File) {
        for statement in &file.statements {
            let StatementKind::Add { heads, class } = &statement.kind else {
                continue;
            };
            match self.class_index(&class.value) {
                Some(index) => {
                    for head in heads {
                        self.add_head(index, head, heads.len() > 1);
                    }
                }
                None => self.unknown_class(class, "`add`"),
            }
        }
    }

    fn mlp_definitions(&mut self, file: &ast::File) {
        let mut listed: Option<Vec<MlpEntry>> = None;
        for statement in &file.statements {
            let StatementKind::Mlp(def) = &statement.kind else {
                continue;
            };
            let entries = listed.get_or_insert_with(Vec::new);
            let MlpDef::Layers { layers, positions } = def else {
                continue;
            };
            let positions = self.positions(positions);
            let layers: Vec<u32> = match layers {
                MlpLayers::All(_) => match &self.shape {
                    Some((_, shape)) => (0..shape.layers).collect(),
                    None => Vec::new(),
                },
                MlpLayers::Listed(layers) => layers
                    .iter()
                    .filter(|layer| self.check_mlp_in_model(layer.value, layer.span))
                    .map(|layer| layer.value)
                    .collect(),
            };
            for layer in layers {
                entries.push(MlpEntry {
                    layer,
                    positions: positions.clone(),
                });
            }
        }
        if let Some(mut entries) = listed {
            entries.sort();
            entries.dedup();
            self.mlps = Mlps::Listed(entries);
            self.inherited_mlp_edges(file);
        }
    }

    /// Reports an MLP layer outside the model; true when it is inside (or the model is
    /// unknown).
    fn check_mlp_in_model(&mut self, layer: u32, span: Span) -> bool {
        let Some((model, shape)) = &self.shape else {
            return true;
        };
        if layer < shape.layers {
            return true;
        }
        let diagnostic = self
            .diag(
                Code::MlpOutOfRange,
                span,
                format!("{model} has no MLP in layer {layer}"),
                "no such layer".into(),
            )
            .with_help(format!("{model} has layers 0–{}", shape.layers - 1));
        self.error(diagnostic);
        false
    }

    /// Whether the circuit keeps layer `layer`'s MLP somewhere.
    fn mlp_in_circuit(&self, layer: u32) -> bool {
        match &self.mlps {
            Mlps::All => true,
            Mlps::Listed(entries) => entries.iter().any(|entry| entry.layer == layer),
        }
    }

    /// A variant's `mlp` lines must keep the MLPs the extended circuit's edges name.
    fn inherited_mlp_edges(&mut self, file: &ast::File) {
        let Some(span) = file
            .statements
            .iter()
            .find_map(|statement| match statement.kind {
                StatementKind::Mlp(_) => Some(statement.span),
                _ => None,
            })
        else {
            return;
        };
        let dropped: Vec<String> = self
            .edges
            .iter()
            .filter(|edge| {
                [&edge.from, &edge.to]
                    .iter()
                    .any(|node| matches!(node, Node::Mlp(l) if !self.mlp_in_circuit(*l)))
            })
            .map(|edge| format!("`{edge}`"))
            .collect();
        if dropped.is_empty() {
            return;
        }
        let diagnostic = self
            .diag(
                Code::NotInCircuit,
                span,
                format!(
                    "the extended circuit's edges {} name MLPs these `mlp` lines leave out",
                    list_words(&dropped)
                ),
                "leaves out an MLP an edge names".into(),
            )
            .with_help("list those MLPs too, or `remove edge` the edges");
        self.error(diagnostic);
    }

    /// Resolves a node reference; reports unknown classes and heads outside the circuit.
    fn node(&mut self, node: &NodeRef, span: Span, context: &str) -> Option<Node> {
        match node {
            NodeRef::Embed => Some(Node::Embed),
            NodeRef::Logits => Some(Node::Logits),
            NodeRef::Class(name) => {
                if self.class_index(name).is_some() {
                    Some(Node::Class(name.clone()))
                } else {
                    self.unknown_class(&Spanned::new(name.clone(), span), context);
                    None
                }
            }
            NodeRef::Mlp(layer) => {
                if !self.check_mlp_in_model(*layer, span) {
                    return None;
                }
                if self.mlp_in_circuit(*layer) {
                    return Some(Node::Mlp(*layer));
                }
                let diagnostic = self
                    .diag(
                        Code::NotInCircuit,
                        span,
                        format!("{context} names mlp.{layer}, which the `mlp` lines leave out"),
                        "not in the circuit".into(),
                    )
                    .with_help(format!(
                        "list it (`mlp {layer} at ...`), or drop the `mlp` lines to keep every MLP"
                    ));
                self.error(diagnostic);
                None
            }
            NodeRef::Head(head) => {
                if self.owner_of(*head).is_some() {
                    Some(Node::Head(*head))
                } else {
                    let diagnostic = self
                        .diag(
                            Code::NotInCircuit,
                            span,
                            format!("{context} names head {head}, which is in no class"),
                            "not in the circuit".into(),
                        )
                        .with_help("add the head to a class first");
                    self.error(diagnostic);
                    None
                }
            }
        }
    }

    fn bad_endpoint(&mut self, span: Span, message: String, help: &str) {
        let diagnostic = self
            .diag(Code::BadEndpoint, span, message, "not allowed here".into())
            .with_help(help.to_string());
        self.error(diagnostic);
    }

    /// Expands an edge statement into single edges with the span of their target, reporting
    /// unknown names and misplaced `embed`/`logits`/channels. With `check_order`, also
    /// reports edges that go backwards in layer order.
    fn expand_edge(&mut self, def: &EdgeDef, check_order: bool) -> Vec<(Edge, Span)> {
        let mut sources = Vec::new();
        for source in &def.sources {
            let Endpoint { node, channel } = &source.value;
            if *node == NodeRef::Logits {
                self.bad_endpoint(
                    source.span,
                    "`logits` cannot send an edge".into(),
                    "`logits` is the end of the circuit: it can only receive edges",
                );
                continue;
            }
            if let Some(channel) = channel {
                self.bad_endpoint(
                    source.span,
                    format!("a sender has no channel, but this one says `.{}`", channel.letter()),
                    "a channel names the input of the receiving head: write it on the right of `->`",
                );
                continue;
            }
            if let Some(node) = self.node(node, source.span, "this edge") {
                sources.push((node, source.span));
            }
        }
        let mut out = Vec::new();
        for target in &def.targets {
            let Endpoint { node, channel } = &target.value;
            match node {
                NodeRef::Embed => {
                    self.bad_endpoint(
                        target.span,
                        "`embed` cannot receive an edge".into(),
                        "`embed` is the start of the circuit: it can only send edges",
                    );
                    continue;
                }
                NodeRef::Logits if channel.is_some() => {
                    self.bad_endpoint(
                        target.span,
                        "`logits` has no q, k or v input".into(),
                        "write `-> logits` without a channel",
                    );
                    continue;
                }
                NodeRef::Mlp(layer) if channel.is_some() => {
                    self.bad_endpoint(
                        target.span,
                        format!("mlp.{layer} has no q, k or v input"),
                        "an MLP reads one input: write `-> mlp.L` without a channel",
                    );
                    continue;
                }
                _ => {}
            }
            let Some(to) = self.node(node, target.span, "this edge") else {
                continue;
            };
            let channels: Vec<Option<Channel>> = match (&to, channel) {
                (Node::Logits | Node::Mlp(_), _) => vec![None],
                (_, Some(channel)) => vec![Some(*channel)],
                (_, None) => Channel::ALL.iter().copied().map(Some).collect(),
            };
            for (from, from_span) in &sources {
                if check_order && self.check_order(from, *from_span, &to, target.span) {
                    let single = def.sources.len() == 1 && def.targets.len() == 1;
                    if single && let Some(fix) = self.reversal(from, *from_span, &to, target) {
                        let last = self.diagnostics.len() - 1;
                        self.diagnostics[last].fixes.push(fix);
                    }
                }
                for channel in &channels {
                    let edge = Edge {
                        from: from.clone(),
                        to: to.clone(),
                        channel: *channel,
                    };
                    out.push((edge, target.span));
                }
            }
        }
        out
    }

    fn heads_of(&self, node: &Node) -> Vec<Head> {
        match node {
            Node::Head(head) => vec![*head],
            Node::Class(name) => self
                .class_index(name)
                .map(|index| self.classes[index].heads.iter().copied().collect())
                .unwrap_or_default(),
            Node::Embed | Node::Logits | Node::Mlp(_) => Vec::new(),
        }
    }

    /// When each component of a node writes (as a sender) or reads (as a receiver), on one
    /// scale: a layer's heads at 2·layer; its MLP reads at 2·layer + 1 (after its layer's
    /// attention), or at 2·layer with a parallel residual (the block's input), and writes
    /// at 2·layer + 1. `embed` and `logits` have none: they are always in order.
    fn moments(&self, node: &Node, receiving: bool) -> Vec<(u64, String)> {
        let parallel = self
            .shape
            .as_ref()
            .is_some_and(|(_, shape)| shape.parallel_residual);
        match node {
            Node::Mlp(layer) => {
                let reads_early = receiving && parallel;
                let moment = 2 * u64::from(*layer) + u64::from(!reads_early);
                vec![(moment, node.to_string())]
            }
            _ => self
                .heads_of(node)
                .into_iter()
                .map(|head| (2 * u64::from(head.layer), head.to_string()))
                .collect(),
        }
    }

    /// Reports an edge that does not go forward; true when it did.
    fn check_order(&mut self, from: &Node, from_span: Span, to: &Node, to_span: Span) -> bool {
        let receivers = self.moments(to, true);
        let senders = self.moments(from, false);
        if goes_forward(&senders, &receivers) {
            return false;
        }
        const SHOWN: usize = 6;
        let mut shown = Vec::new();
        let mut broken = 0;
        for (sent, sender) in &senders {
            for (read, receiver) in &receivers {
                if sent >= read {
                    broken += 1;
                    if shown.len() < SHOWN {
                        shown.push(format!("{sender} → {receiver}"));
                    }
                }
            }
        }
        let mut pairs = shown.join(", ");
        if broken > SHOWN {
            pairs.push_str(&format!(" and {} more", broken - SHOWN));
        }
        let diagnostic = self
            .diag(
                Code::EdgeOrder,
                to_span,
                format!("edge `{from} -> {to}` does not go forward through the layers"),
                if matches!(from, Node::Mlp(_)) || matches!(to, Node::Mlp(_)) {
                    format!("read before it is written: {pairs}")
                } else {
                    format!("cannot read from the same or a later layer: {pairs}")
                },
            )
            .with_secondary(from_span, "sender")
            .with_help(order_help(
                from,
                to,
                self.shape
                    .as_ref()
                    .is_some_and(|(_, s)| s.parallel_residual),
            ));
        self.error(diagnostic);
        true
    }

    /// `edge B -> A.c` for a backward `edge A -> B.c`, when that one goes forward.
    fn reversal(
        &self,
        from: &Node,
        from_span: Span,
        to: &Node,
        target: &Spanned<Endpoint>,
    ) -> Option<Fix> {
        if !goes_forward(&self.moments(to, false), &self.moments(from, true)) {
            return None;
        }
        let text: &str = self.source.inner();
        let written = |span: Span| &text[span.start..span.end];
        let receiver = written(target.span);
        let (node, channel) = match target.value.channel {
            Some(_) => receiver.rsplit_once('.')?,
            None => (receiver, ""),
        };
        // An MLP takes no channel: reversed into one, the edge drops it.
        let channel = if matches!(from, Node::Mlp(_)) {
            ""
        } else {
            channel
        };
        let dot = if channel.is_empty() { "" } else { "." };
        Some(Fix {
            title: format!(
                "Reverse the edge: `{node} -> {}{dot}{channel}`",
                written(from_span)
            ),
            edits: vec![
                (from_span, node.to_string()),
                (target.span, format!("{}{dot}{channel}", written(from_span))),
            ],
        })
    }

    fn edge_definitions(&mut self, file: &ast::File) {
        for statement in &file.statements {
            let StatementKind::Edge(def) = &statement.kind else {
                continue;
            };
            for (edge, _) in self.expand_edge(def, true) {
                self.edges.insert(edge);
            }
        }
    }

    fn metric(&mut self, metric: &Spanned<MetricRef>) -> Option<Metric> {
        let MetricRef { name, head } = &metric.value;
        if let Some(resolved) = Metric::from_name(name, *head) {
            if let Metric::Minimality(Some(head)) = resolved
                && self.owner_of(head).is_none()
            {
                let diagnostic = self
                    .diag(
                        Code::NotInCircuit,
                        metric.span,
                        format!("minimality({head}) names a head that is in no class"),
                        "not in the circuit".into(),
                    )
                    .with_help("minimality is measured for heads of the circuit");
                self.error(diagnostic);
                return None;
            }
            return Some(resolved);
        }
        let (message, label, help) = if Metric::NAMES.contains(&name.as_str()) {
            (
                format!("`{name}` is not measured per head"),
                "takes no head",
                format!("only `minimality` takes a head; write `{name}` alone"),
            )
        } else {
            (
                format!("unknown metric `{name}`"),
                "not a metric",
                format!("metrics: {}", list_words(&Metric::NAMES)),
            )
        };
        let diagnostic = self
            .diag(Code::UnknownMetric, metric.span, message, label.into())
            .with_help(help);
        self.error(diagnostic);
        None
    }

    fn expectation_definitions(&mut self, file: &ast::File) {
        let mut own: BTreeMap<(Metric, Comparison), Span> = BTreeMap::new();
        for statement in &file.statements {
            let StatementKind::Expect(def) = &statement.kind else {
                continue;
            };
            let Some(metric) = self.metric(&def.metric) else {
                continue;
            };
            let key = (metric.clone(), def.comparison);
            if let Some(first) = own.get(&key) {
                let diagnostic = self
                    .diag(
                        Code::DuplicateExpect,
                        def.metric.span,
                        format!(
                            "`expect {metric} {}` is stated twice",
                            def.comparison.symbol()
                        ),
                        "stated again here".into(),
                    )
                    .with_secondary(*first, "first stated here")
                    .with_help("keep one bound per metric and direction");
                self.error(diagnostic);
                continue;
            }
            own.insert(key, def.metric.span);
            // A variant's bound replaces the base's bound in the same direction.
            self.expectations
                .retain(|e| !(e.metric == metric && e.comparison == def.comparison));
            self.expectations.push(Expectation {
                metric,
                comparison: def.comparison,
                value: def.value.value,
            });
        }
        self.expectations
            .sort_by(|a, b| (&a.metric, a.comparison).cmp(&(&b.metric, b.comparison)));
    }

    fn minimality_definitions(&mut self, file: &ast::File) {
        for statement in &file.statements {
            let StatementKind::Minimality(def) = &statement.kind else {
                continue;
            };
            let Some(Node::Head(head)) = self.node(
                &NodeRef::Head(def.head.value),
                def.head.span,
                "`minimality`",
            ) else {
                continue;
            };
            let mut given = BTreeSet::new();
            for member in &def.given {
                let Some(node) = self.node(&member.value, member.span, "`minimality ... given`")
                else {
                    continue;
                };
                if matches!(node, Node::Embed | Node::Logits) {
                    self.bad_endpoint(
                        member.span,
                        format!("`{node}` cannot be knocked out"),
                        "K lists heads or classes of the circuit",
                    );
                    continue;
                }
                given.extend(self.heads_of(&node));
            }
            given.remove(&head);
            self.minimality_sets.push(MinimalitySet { head, given });
        }
        self.minimality_sets.sort();
        self.minimality_sets.dedup();
    }

    // ── warnings and assembly ──────────────────────────────────────────────────────────

    fn finish(mut self, file: &ast::File, settings: Settings) -> Analysis {
        if !self.diagnostics.iter().any(Diagnostic::is_error) {
            self.connectivity_warnings(file);
        }
        let has_errors = self.diagnostics.iter().any(Diagnostic::is_error);
        let mut classes: Vec<Class> = self
            .classes
            .into_iter()
            .map(|class| Class {
                name: class.name,
                description: class.description,
                positions: class.positions,
                heads: class.heads,
            })
            .collect();
        classes.sort_by(|a, b| (a.heads.first(), &a.name).cmp(&(b.heads.first(), &b.name)));
        let circuit = match (has_errors, settings.model, settings.task) {
            (false, Some(model), Some(task)) => Some(Circuit {
                name: file.header.name.value.clone(),
                model,
                task,
                ablation: settings.ablation,
                level: settings.level,
                classes,
                mlps: self.mlps,
                edges: self.edges,
                expectations: self.expectations,
                minimality_sets: self.minimality_sets,
            }),
            _ => None,
        };
        Analysis {
            circuit,
            origins: self.origins,
            diagnostics: self.diagnostics,
        }
    }

    /// Warns about classes with no path to the logits and heads that no edge touches. A
    /// circuit without any edge states no wiring, so there is nothing to warn about.
    /// Class-level successor lists (head endpoints count for their class; `LOGITS` for the
    /// logits, `mlp_vertex` for MLPs), and every head on some edge.
    fn class_graph(&self) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<Head>) {
        let class_of = |heads: &[Head], classes: &[WorkingClass]| -> Vec<String> {
            classes
                .iter()
                .filter(|class| heads.iter().any(|h| class.heads.contains(h)))
                .map(|class| class.name.clone())
                .collect()
        };
        let mut successors: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut touched: BTreeSet<Head> = BTreeSet::new();
        for edge in &self.edges {
            let from_heads = self.heads_of(&edge.from);
            let to_heads = self.heads_of(&edge.to);
            touched.extend(&from_heads);
            touched.extend(&to_heads);
            let targets = match &edge.to {
                Node::Logits => vec![LOGITS.to_string()],
                Node::Mlp(layer) => vec![mlp_vertex(*layer)],
                _ => class_of(&to_heads, &self.classes),
            };
            let sources = match &edge.from {
                Node::Mlp(layer) => vec![mlp_vertex(*layer)],
                _ => class_of(&from_heads, &self.classes),
            };
            for from in sources {
                successors
                    .entry(from)
                    .or_default()
                    .extend(targets.iter().cloned());
            }
        }
        (successors, touched)
    }

    fn connectivity_warnings(&mut self, file: &ast::File) {
        if self.edges.is_empty() {
            return;
        }
        let (successors, touched) = self.class_graph();
        let reaches = reaching_logits(&successors);
        let own_classes: BTreeMap<&str, Span> = file
            .statements
            .iter()
            .filter_map(|s| match &s.kind {
                StatementKind::Class(def) => Some((def.name.value.as_str(), def.name.span)),
                _ => None,
            })
            .collect();
        let fallback = file
            .header
            .extends
            .as_ref()
            .map_or(file.header.name.span, |extends| extends.span);
        let mut warnings = Vec::new();
        for class in &self.classes {
            let (span, origin) = match own_classes.get(class.name.as_str()) {
                Some(span) => (*span, String::new()),
                None => (fallback, " (from the extended file)".to_string()),
            };
            if !reaches.contains(&class.name) {
                warnings.push(
                    self.diag(
                        Code::Unreachable,
                        span,
                        format!("class `{}`{origin} cannot reach the logits", class.name),
                        "no path of edges from here to `logits`".into(),
                    )
                    .with_help(format!(
                        "add an edge from `{}` towards `logits`, or remove the class",
                        class.name
                    )),
                );
            }
            let untouched: Vec<Head> = class
                .heads
                .iter()
                .filter(|head| !touched.contains(head))
                .copied()
                .collect();
            if !untouched.is_empty() {
                let (noun, verb) = if untouched.len() == 1 {
                    ("head", "is")
                } else {
                    ("heads", "are")
                };
                warnings.push(
                    self.diag(
                        Code::Untouched,
                        span,
                        format!(
                            "{noun} {} of class `{}`{origin} {verb} on no edge",
                            list_words(&untouched),
                            class.name
                        ),
                        "no edge sends from or to these heads".into(),
                    )
                    .with_help(format!(
                        "connect `{}` with an `edge`, or remove the heads",
                        class.name
                    )),
                );
            }
        }
        self.diagnostics.extend(warnings);
    }
}

/// The logits' node in `class_graph` (no class name can hold a NUL).
const LOGITS: &str = "\u{0}logits";

/// An MLP's node in `class_graph` (no class name can hold a NUL).
fn mlp_vertex(layer: u32) -> String {
    format!("\u{0}mlp.{layer}")
}

/// The classes with a path of edges to the logits.
fn reaching_logits(successors: &BTreeMap<String, BTreeSet<String>>) -> BTreeSet<String> {
    let mut reaches: BTreeSet<String> = BTreeSet::from([LOGITS.to_string()]);
    loop {
        let before = reaches.len();
        for (from, targets) in successors {
            if targets.iter().any(|t| reaches.contains(t)) {
                reaches.insert(from.clone());
            }
        }
        if reaches.len() == before {
            return reaches;
        }
    }
}

/// True when every sender writes before every receiver reads (or either side has no
/// moments: `embed`, `logits`).
fn goes_forward(senders: &[(u64, String)], receivers: &[(u64, String)]) -> bool {
    let latest = senders.iter().map(|(moment, _)| *moment).max();
    let earliest = receivers.iter().map(|(moment, _)| *moment).min();
    !matches!((latest, earliest), (Some(sent), Some(read)) if sent >= read)
}

/// What an edge that does not go forward should respect.
fn order_help(from: &Node, to: &Node, parallel: bool) -> String {
    match (from, to) {
        (Node::Mlp(_), Node::Mlp(_)) => "an MLP reads only the MLPs of lower layers".into(),
        (Node::Mlp(_), _) => "a head reads only the MLPs of layers strictly below it".into(),
        (_, Node::Mlp(_)) if parallel => "with a parallel residual an MLP reads its block's \
            input: only heads of layers strictly below it"
            .into(),
        (_, Node::Mlp(_)) => "an MLP reads the heads of its own layer and of the layers below".into(),
        _ => "a head only reads what layers strictly below it wrote; reverse the edge or move the heads"
            .into(),
    }
}

/// A "did you mean" as a fix: the name replaced by the suggestion.
fn replace_with(diagnostic: Diagnostic, span: Span, suggestion: &str) -> Diagnostic {
    diagnostic.with_fix(
        format!("Replace with `{suggestion}`"),
        vec![(span, suggestion.to_string())],
    )
}

/// Classes among which an unknown class name looks for a typo.
const SUGGESTED_FROM: usize = 256;

/// Names longer than this get no "did you mean": the edit distance is quadratic in length.
const SUGGESTED_LENGTH: usize = 64;

/// The candidate closest to `name` by edit distance, if it is close enough to be a typo.
fn closest<'c>(name: &str, candidates: impl Iterator<Item = &'c str>) -> Option<&'c str> {
    if name.len() > SUGGESTED_LENGTH {
        return None;
    }
    candidates
        .filter(|candidate| candidate.len() <= SUGGESTED_LENGTH)
        .map(|candidate| (strsim::levenshtein(name, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 2.max(candidate.len() / 3))
        .min()
        .map(|(_, candidate)| candidate)
}
