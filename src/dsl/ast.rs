//! The syntax tree of one `.circuit` file, exactly as written: every name keeps its source
//! span for diagnostics, and nothing is resolved (that is the analyzer's job).

use crate::dsl::circuit::{Channel, Comparison, Head};

/// Byte range into the file's text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.start, span.len()).into()
    }
}

/// A value with the span it was written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Self { value, span }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct File {
    /// Comments before `circuit`.
    pub leading_comments: Vec<String>,
    pub header: Header,
    pub statements: Vec<Statement>,
    /// Comments after the last statement.
    pub trailing_comments: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub name: Spanned<String>,
    pub extends: Option<Spanned<String>>,
    pub settings: Vec<Setting>,
    /// Comments inside the braces after the last setting.
    pub inner_comments: Vec<String>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SettingKey {
    Model,
    Task,
    Ablation,
    Level,
}

impl SettingKey {
    pub const ALL: [SettingKey; 4] = [Self::Model, Self::Task, Self::Ablation, Self::Level];

    pub fn keyword(self) -> &'static str {
        match self {
            Self::Model => "model",
            Self::Task => "task",
            Self::Ablation => "ablation",
            Self::Level => "level",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub key: Spanned<SettingKey>,
    /// The value, unquoted.
    pub value: Spanned<String>,
    /// Written as a string (`task "tasks/mine.toml"`, a path), not a word.
    pub quoted: bool,
    pub comments: Comments,
}

/// Comments attached to a statement: whole lines before it and one at the end of its line.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Comments {
    pub before: Vec<String>,
    pub trailing: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Statement {
    pub kind: StatementKind,
    pub comments: Comments,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StatementKind {
    Class(ClassDef),
    Edge(EdgeDef),
    Mlp(MlpDef),
    Expect(ExpectDef),
    Minimality(MinimalityDef),
    RemoveClass(Spanned<String>),
    RemoveHead(Spanned<Head>),
    RemoveEdge(EdgeDef),
    RemoveExpect {
        metric: Spanned<MetricRef>,
        comparison: Option<Comparison>,
    },
    Add {
        heads: Vec<Spanned<Head>>,
        class: Spanned<String>,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct ClassDef {
    pub name: Spanned<String>,
    pub description: Option<String>,
    pub positions: PositionsDef,
    pub heads: Vec<Spanned<Head>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum PositionsDef {
    All(Span),
    Named(Vec<Spanned<String>>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct EdgeDef {
    pub sources: Vec<Spanned<Endpoint>>,
    pub targets: Vec<Spanned<Endpoint>>,
}

/// One side of an edge as written: a node and, for receivers, an optional channel.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub node: NodeRef,
    pub channel: Option<Channel>,
}

/// A node named in an edge or a minimality set, before resolution.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NodeRef {
    Embed,
    Logits,
    Class(String),
    Head(Head),
    /// `mlp.L`: layer L's MLP.
    Mlp(u32),
}

#[derive(Clone, Debug, PartialEq)]
pub enum MlpDef {
    /// `mlp none`: no MLP is part of the circuit.
    None(Span),
    Layers {
        layers: MlpLayers,
        positions: PositionsDef,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub enum MlpLayers {
    All(Span),
    Listed(Vec<Spanned<u32>>),
}

/// A metric as named in `expect`: `faithfulness`, `minimality(9.9)`, ...
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricRef {
    pub name: String,
    pub head: Option<Head>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExpectDef {
    pub metric: Spanned<MetricRef>,
    pub comparison: Comparison,
    pub value: Spanned<f64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MinimalityDef {
    pub head: Spanned<Head>,
    pub given: Vec<Spanned<NodeRef>>,
}
