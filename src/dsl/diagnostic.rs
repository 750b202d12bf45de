//! Problems found in `.circuit` files. Every problem has a stable code (documented in
//! GRAMMAR.md), a primary span with a label, optional secondary labels and a help line, and
//! renders through miette.

use std::fmt;
use std::sync::Arc;

use miette::{LabeledSpan, NamedSource, SourceCode};

use crate::dsl::ast::Span;

/// The text of one file, shared by all diagnostics pointing into it.
pub type Source = NamedSource<Arc<str>>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Stable identifiers of every problem the checker reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Code {
    Syntax,
    BadNumber,
    ReadFailed,
    ExtendsMissing,
    ExtendsCycle,
    ExtendsTooDeep,
    ExtendsInvalid,
    MissingSetting,
    DuplicateSetting,
    UnknownModel,
    UnknownTask,
    TaskMissing,
    TaskInvalid,
    /// Problems inside a task file a circuit names: its TOML does not parse…
    TaskFileSyntax,
    /// …or says something a task cannot mean.
    TaskFileInvalid,
    UnknownSetting,
    DuplicateClass,
    EmptyClass,
    DuplicateHead,
    HeadOutOfRange,
    UnknownPosition,
    UnknownClass,
    BadEndpoint,
    NotInCircuit,
    EdgeOrder,
    UnknownMetric,
    DuplicateExpect,
    RemoveMissing,
    MlpOutOfRange,
    Unreachable,
    Untouched,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Syntax => "circuit::syntax",
            Code::BadNumber => "circuit::bad-number",
            Code::ReadFailed => "circuit::read-failed",
            Code::ExtendsMissing => "circuit::extends-missing",
            Code::ExtendsCycle => "circuit::extends-cycle",
            Code::ExtendsTooDeep => "circuit::extends-too-deep",
            Code::ExtendsInvalid => "circuit::extends-invalid",
            Code::MissingSetting => "circuit::missing-setting",
            Code::DuplicateSetting => "circuit::duplicate-setting",
            Code::UnknownModel => "circuit::unknown-model",
            Code::UnknownTask => "circuit::unknown-task",
            Code::TaskMissing => "circuit::task-missing",
            Code::TaskInvalid => "circuit::task-invalid",
            Code::TaskFileSyntax => "task::syntax",
            Code::TaskFileInvalid => "task::invalid",
            Code::UnknownSetting => "circuit::unknown-setting-value",
            Code::DuplicateClass => "circuit::duplicate-class",
            Code::EmptyClass => "circuit::empty-class",
            Code::DuplicateHead => "circuit::duplicate-head",
            Code::HeadOutOfRange => "circuit::head-out-of-range",
            Code::UnknownPosition => "circuit::unknown-position",
            Code::UnknownClass => "circuit::unknown-class",
            Code::BadEndpoint => "circuit::bad-endpoint",
            Code::NotInCircuit => "circuit::not-in-circuit",
            Code::EdgeOrder => "circuit::edge-order",
            Code::UnknownMetric => "circuit::unknown-metric",
            Code::DuplicateExpect => "circuit::duplicate-expect",
            Code::RemoveMissing => "circuit::remove-missing",
            Code::MlpOutOfRange => "circuit::mlp-out-of-range",
            Code::Unreachable => "circuit::unreachable",
            Code::Untouched => "circuit::untouched-head",
        }
    }

    pub fn severity(self) -> Severity {
        match self {
            Code::Unreachable | Code::Untouched => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Diagnostic {
    pub code: Code,
    pub message: String,
    pub source: Source,
    pub span: Span,
    pub label: String,
    /// Further places worth pointing at ("first defined here").
    pub secondary: Vec<(Span, String)>,
    pub help: Option<String>,
    /// Mechanical repairs, for editors' quick fixes; `lint` does not show them.
    pub fixes: Vec<Fix>,
}

/// A repair a diagnostic suggests: edits of the diagnostic's own file.
#[derive(Clone, Debug, PartialEq)]
pub struct Fix {
    /// What it does, as an editor lists it ("Replace with `B1`").
    pub title: String,
    /// Spans of the file and their replacement texts, not overlapping.
    pub edits: Vec<(Span, String)>,
}

impl Diagnostic {
    pub fn new(
        code: Code,
        source: &Source,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Self {
            code,
            message: message.into(),
            source: source.clone(),
            span,
            label: label.into(),
            secondary: Vec::new(),
            help: None,
            fixes: Vec::new(),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_fix(mut self, title: impl Into<String>, edits: Vec<(Span, String)>) -> Self {
        self.fixes.push(Fix {
            title: title.into(),
            edits,
        });
        self
    }

    pub fn with_secondary(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }

    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// False for problems with no text to show (a file that could not be read).
    fn has_source(&self) -> bool {
        !self.source.inner().is_empty()
    }

    /// The file the diagnostic points into.
    pub fn file_name(&self) -> &str {
        self.source.name()
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code.as_str()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.severity() {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
        })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.has_source().then_some(&self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if !self.has_source() {
            return None;
        }
        let primary = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span);
        let secondary = self
            .secondary
            .iter()
            .map(|(span, label)| LabeledSpan::new_with_span(Some(label.clone()), *span));
        Some(Box::new(std::iter::once(primary).chain(secondary)))
    }
}

/// Joins names as "a, b and c" for messages.
pub fn list_words<T: fmt::Display>(items: &[T]) -> String {
    let words: Vec<String> = items.iter().map(|item| item.to_string()).collect();
    match words.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}
