//! The command-line interface: one file per subcommand; this one parses arguments and
//! turns outcomes into exit codes (0 fine, 1 the check found problems, 2 bad usage or input).

mod check;
mod curve;
mod diff;
mod discover;
mod export;
mod fmt;
mod graph;
mod import;
mod lint;
mod lsp;
mod model;
mod output;
mod sensitivity;
mod suggest;
mod task;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "circuitcheck",
    version,
    about = "Check circuit hypotheses about GPT-2 against the model",
    long_about = "Check circuit hypotheses about GPT-2 against the model.\n\n\
        A hypothesis is a `.circuit` file (see grammar/GRAMMAR.md): attention heads grouped \
        in classes, the token positions where they act and the edges between them."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Test a circuit against the model: faithfulness, completeness, minimality
    Check(check::Args),
    /// Faithfulness measured every way that moves it: ablation, level, positions, reference size
    Sensitivity(check::Args),
    /// Heads, MLPs or edges to add that most bring the circuit closer to the model
    Suggest(suggest::Args),
    /// Faithfulness of a scored graph's top edges at MIB's edge fractions, and CPR and CMD
    Curve(curve::Args),
    /// Find a circuit: score every edge by EAP or EAP-IG, take the best, checked exactly
    Discover(discover::Args),
    /// Parse and check circuit files, without the model
    Lint(lint::Args),
    /// Rewrite circuit files in canonical form
    Fmt(fmt::Args),
    /// Export the hypothesis graph of a circuit (graphviz DOT or JSON)
    Graph(graph::Args),
    /// Write a circuit found by EAP-IG, ACDC or MIB's tools (their graph JSON) as a .circuit
    Import(import::Args),
    /// Write a circuit as the graph file EAP-IG and MIB's tools score
    Export(export::Args),
    /// Compare two circuits (files or git revisions) structurally, as a changelog
    Diff(diff::Args),
    /// Serve editors over the Language Server Protocol (stdio)
    Lsp(lsp::Args),
    /// Inspect the model circuitcheck would use
    #[command(subcommand)]
    Model(model::Command),
    /// Show or export a task's prompts
    #[command(subcommand)]
    Task(task::Command),
    /// Train the toy induction model (models/toy-induction)
    #[command(hide = true)]
    TrainToy(train::Args),
}

/// What a command reports back: exit 0, 1 or 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Error,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> Self {
        ExitCode::from(match outcome {
            Outcome::Success => 0,
            Outcome::Failure => 1,
            Outcome::Error => 2,
        })
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let outcome = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Sensitivity(args) => sensitivity::run(&args),
        Command::Suggest(args) => suggest::run(&args),
        Command::Curve(args) => curve::run(&args),
        Command::Discover(args) => discover::run(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Fmt(args) => fmt::run(&args),
        Command::Graph(args) => graph::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Lsp(args) => lsp::run(&args),
        Command::Model(command) => model::run(&command),
        Command::Task(command) => task::run(&command),
        Command::TrainToy(args) => train::run(&args),
    };
    match outcome {
        Ok(outcome) => outcome.into(),
        Err(report) => {
            let color = crate::report::text::diagnostics::use_color(&std::io::stderr());
            eprint!(
                "{}",
                crate::report::text::diagnostics::render_error(report.as_ref(), color)
            );
            ExitCode::from(2)
        }
    }
}
