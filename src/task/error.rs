//! Problems with task files and the datasets made from them, as diagnostics pointing into
//! the TOML source where they can.

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

use crate::model::tokenizer::TokenizerError;

pub type Source = NamedSource<std::sync::Arc<str>>;

#[derive(Debug, Error, Diagnostic)]
pub enum TaskError {
    #[error("unknown task `{name}`")]
    #[diagnostic(
        code("task::unknown-task"),
        help("built-in tasks: {known}; or give the path of a task file (.toml)")
    )]
    Unknown { name: String, known: String },

    #[error("cannot read {path}: {reason}")]
    #[diagnostic(code("task::read-failed"))]
    Read { path: String, reason: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Syntax(Box<SyntaxError>),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Invalid(Box<InvalidTask>),

    #[error("{count} word(s) are not a single token: {offenders}")]
    #[diagnostic(
        code("task::multi-token"),
        help(
            "named positions need one token per word; remove these words or pick single-token ones"
        )
    )]
    MultiToken { count: usize, offenders: String },

    #[error("asked for {asked} prompts, but the task has only {available} distinct prompts")]
    #[diagnostic(
        code("task::too-many-prompts"),
        help("ask for fewer prompts (--n), or add words or templates")
    )]
    TooManyPrompts { asked: usize, available: u128 },

    #[error("asked for {asked} prompts, but the task file lists only {available}")]
    #[diagnostic(
        code("task::too-many-prompts"),
        help("leave out --n to use every prompt the file lists, or ask for at most {available}")
    )]
    TooManyListedPrompts { asked: usize, available: usize },

    #[error(
        "asked for {asked} reference prompts per group, but group `{group}` of the task file has only {available} (its prompts' counterparts and its extra reference prompts)"
    )]
    #[diagnostic(
        code("task::too-few-references"),
        help(
            "ask for at most {available} (--reference-n), or leave it out to use every reference prompt the file lists; `task export --reference-n N` writes a file with N per group"
        )
    )]
    TooFewReferences {
        group: String,
        asked: usize,
        available: usize,
    },

    #[error(
        "the extra reference prompt {text:?} of group `{group}` has {tokens} tokens, the group's prompts {expected}"
    )]
    #[diagnostic(
        code("task::reference-layout"),
        help(
            "a group's mean is taken position by position: its reference prompts share the token layout of its prompts"
        )
    )]
    ExtraReference {
        group: String,
        text: String,
        tokens: usize,
        expected: usize,
    },

    #[error("asked for {asked} prompts; a dataset has 1 to {limit}")]
    #[diagnostic(
        code("task::prompt-count"),
        help("ask for fewer prompts (--n): a few hundred already give tight intervals")
    )]
    PromptCount { asked: usize, limit: usize },

    #[error("prompt {index}: {message}")]
    #[diagnostic(code("task::prompt"))]
    Prompt { index: usize, message: String },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Tokenizer(#[from] TokenizerError),
}

/// The TOML itself does not parse. Boxed in [`TaskError`] to keep `Result`s small.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(
    code("task::syntax"),
    help("see tasks/ioi.toml for a complete example")
)]
pub struct SyntaxError {
    pub message: String,
    #[source_code]
    pub src: Source,
    #[label("here")]
    pub span: Option<SourceSpan>,
}

/// The TOML parses but says something a task cannot mean.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code("task::invalid"))]
pub struct InvalidTask {
    pub message: String,
    #[source_code]
    pub src: Source,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
    #[help]
    pub help: Option<String>,
}
