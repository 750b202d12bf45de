//! `circuitcheck diff OLD NEW [--format terminal|markdown|json]`, and the same as git's
//! external diff driver (`--git-external-diff`, seven arguments from git).

use std::path::{Path, PathBuf};

use crate::catalog::Catalog;
use crate::cli::Outcome;
use crate::cli::check::{EvalArgs, evaluate, html_run, run_warnings};
use crate::cli::output::{Format, HtmlOutput};
use crate::diff::git::{GitRevision, GivenText};
use crate::diff::side::Side;
use crate::diff::{self, CircuitDiff};
use crate::dsl::{Circuit, Diagnostic, FileSystem, Loader, Sources};
use crate::report::html;
use crate::report::text::diff::{Labels, render_json, render_markdown, render_terminal};
use crate::report::text::style::Style;
use crate::report::text::{comparison, diagnostics};

#[derive(clap::Args)]
#[command(after_help = "\
OLD and NEW are circuit files, or REV:path for a file in a git revision of the repository \
containing the current directory (HEAD~1:circuits/ioi.circuit; the path is relative to the \
repository root unless it starts with ./ or ../). A path that exists on disk is always a file. \
Variants are compared fully resolved, each side's `extends` read from the same revision.

Exit status: 0 no change in meaning (names and descriptions may differ), 1 changes, \
2 errors in either side or unusable arguments.")]
pub struct Args {
    /// The circuit before: a file or REV:path
    #[arg(required_unless_present = "git_external_diff")]
    old: Option<String>,
    /// The circuit after: a file or REV:path
    #[arg(required_unless_present = "git_external_diff")]
    new: Option<String>,
    /// Output format (markdown: a pull-request comment)
    #[arg(long, value_enum, default_value = "terminal")]
    format: Format,
    /// Colour the terminal format (auto: on a terminal, unless NO_COLOR is set)
    #[arg(long, value_enum, default_value = "auto")]
    color: Color,
    /// Act as git's external diff driver: take the seven arguments git passes
    /// (diff.circuit.command = "circuitcheck diff --git-external-diff"); `extends` bases are
    /// read from the working tree; exits 0 unless a side has errors
    #[arg(
        long,
        num_args = 7,
        value_names = ["PATH", "OLD_FILE", "OLD_HEX", "OLD_MODE", "NEW_FILE", "NEW_HEX", "NEW_MODE"],
        conflicts_with_all = ["old", "new"]
    )]
    git_external_diff: Option<Vec<String>>,
    /// Also check both circuits against the model (one model, dataset and reference
    /// activations; the settings of NEW unless given) and compare the results
    #[arg(long, conflicts_with = "git_external_diff")]
    eval: bool,
    /// With --eval, exit 1 only on a regression: NEW further from the model than OLD (a
    /// larger |F(M) − F(C)|, beyond the intervals), or failing an expectation (0 otherwise)
    #[arg(long, value_enum, requires = "eval")]
    fail_on: Option<FailOn>,
    /// With --eval: no progress bars
    #[arg(long, short)]
    quiet: bool,
    /// With --eval, also write both reports side by side as one self-contained HTML page
    /// to PATH
    #[arg(long, value_name = "PATH", requires = "eval")]
    html: Option<PathBuf>,
    #[command(flatten, next_help_heading = "Evaluation (with --eval)")]
    evaluation: EvalArgs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FailOn {
    Regression,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Color {
    Auto,
    Always,
    Never,
}

/// One side, ready to load.
struct Input {
    sources: Box<dyn Sources>,
    path: PathBuf,
    label: String,
}

/// What git's external diff driver calls a file that does not exist on that side.
const GIT_NO_FILE: &str = "/dev/null";

pub fn run(args: &Args) -> miette::Result<Outcome> {
    if let Some(note) = args.git_external_diff.as_deref().and_then(added_or_deleted) {
        print!("{note}");
        return Ok(Outcome::Success);
    }
    let inputs = match &args.git_external_diff {
        Some(git_args) => git_inputs(git_args),
        None => side_inputs(
            args.old.as_deref().expect("clap requires OLD"),
            args.new.as_deref().expect("clap requires NEW"),
        ),
    };
    let (old, new, shared) = match inputs {
        Ok(inputs) => inputs,
        Err(message) => {
            eprintln!("error: {message}");
            return Ok(Outcome::Error);
        }
    };
    let env = Catalog;
    let (old_circuit, new_circuit, found) = load(&env, &old, &new, shared);
    let (Some(old_circuit), Some(new_circuit)) = (old_circuit.as_ref(), new_circuit.as_ref())
    else {
        report_errors(&found, &old, &new, &old_circuit, &new_circuit);
        return Ok(Outcome::Error);
    };

    let diff = diff::diff(old_circuit, new_circuit);
    let labels = Labels {
        old: &old.label,
        new: &new.label,
    };
    let mut text = render(&diff, &labels, args);
    let mut regression = false;
    let mut page = None;
    if args.eval {
        let html_output = args.html.as_deref().map(HtmlOutput::open).transpose()?;
        let (evaluator, warnings) =
            args.evaluation
                .evaluator(new_circuit, &new.path, args.quiet)?;
        let old_report = evaluate(&evaluator, old_circuit, args.quiet)?;
        let new_report = evaluate(&evaluator, new_circuit, args.quiet)?;
        // F(M) is the same on both sides.
        let warnings = run_warnings(warnings, &new_report);
        regression = comparison::is_regression(&old_report, &new_report);
        match args.format {
            Format::Terminal => {
                text += &comparison::render_terminal(
                    &old_report,
                    &new_report,
                    Style {
                        color: use_color(args.color),
                    },
                )
            }
            Format::Markdown => text += &comparison::render_markdown(&old_report, &new_report),
            Format::Json => text = comparison::attach_json(&text, &old_report, &new_report),
        }
        if let Some(output) = html_output {
            let side = |label, report, circuit| html::Side {
                label,
                report,
                circuit,
            };
            let html = html::comparison_page(
                &side(&old.label, &old_report, old_circuit),
                &side(&new.label, &new_report, new_circuit),
                &html_run(&evaluator.session, &warnings),
                &render_terminal(&diff, &labels, false),
            );
            page = Some((output, html));
        }
    }
    print!("{text}");
    // Written after printing: a page that cannot be written loses nothing of the run.
    if let Some((output, html)) = page {
        output.write(&html)?;
    }
    if args.fail_on.is_some() {
        return Ok(if regression {
            Outcome::Failure
        } else {
            Outcome::Success
        });
    }
    Ok(if args.git_external_diff.is_some() {
        // Before git 2.46 any other status makes git stop with "external diff died".
        Outcome::Success
    } else if diff.changes_meaning() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}

fn use_color(color: Color) -> bool {
    match color {
        Color::Auto => diagnostics::use_color(&std::io::stdout()),
        Color::Always => true,
        Color::Never => false,
    }
}

fn render(diff: &CircuitDiff, labels: &Labels, args: &Args) -> String {
    match args.format {
        Format::Terminal => render_terminal(diff, labels, use_color(args.color)),
        Format::Markdown => render_markdown(diff, labels),
        Format::Json => render_json(diff, labels),
    }
}

/// (old, new, whether one loader can read both: a base they share is then reported once).
fn side_inputs(old: &str, new: &str) -> Result<(Input, Input, bool), String> {
    let resolve = |argument: &str| {
        Side::parse(argument)
            .resolve()
            .map_err(|error| format!("cannot use {argument}: {error}"))
    };
    let (old, new) = (resolve(old)?, resolve(new)?);
    let shared = matches!((&old, &new), (Side::File(_), Side::File(_)));
    Ok((input(old), input(new), shared))
}

fn input(side: Side) -> Input {
    match side {
        Side::File(path) => Input {
            label: path.to_string_lossy().into_owned(),
            sources: Box::new(FileSystem),
            path,
        },
        Side::Revision { revision, path } => {
            let sources = GitRevision { revision };
            Input {
                label: sources.name(&path),
                sources: Box::new(sources),
                path,
            }
        }
    }
}

/// git passes: path old-file old-hex old-mode new-file new-hex new-mode, with the old and
/// new files being temporary copies (or the working file), run from the repository root.
fn git_inputs(git_args: &[String]) -> Result<(Input, Input, bool), String> {
    let [path, old_file, _, _, new_file, _, _] = git_args else {
        unreachable!("clap takes exactly seven values");
    };
    let given = |file: &str, prefix: &str| -> Result<Input, String> {
        let text = crate::input::read_text(Path::new(file))
            .map_err(|error| format!("cannot read {file} for {path}: {error}"))?;
        let label = format!("{prefix}/{path}");
        Ok(Input {
            sources: Box::new(GivenText {
                path: path.into(),
                text,
                label: label.clone(),
            }),
            path: path.into(),
            label,
        })
    };
    Ok((given(old_file, "a")?, given(new_file, "b")?, false))
}

/// A file git adds or deletes has one version only: nothing to compare, say what happened.
fn added_or_deleted(git_args: &[String]) -> Option<String> {
    let [path, old_file, _, _, new_file, _, _] = git_args else {
        return None;
    };
    if old_file == GIT_NO_FILE {
        Some(format!(
            "--- {GIT_NO_FILE}\n+++ b/{path}\nnew circuit file\n"
        ))
    } else if new_file == GIT_NO_FILE {
        Some(format!(
            "--- a/{path}\n+++ {GIT_NO_FILE}\ncircuit file deleted\n"
        ))
    } else {
        None
    }
}

fn load(
    env: &Catalog,
    old: &Input,
    new: &Input,
    shared: bool,
) -> (Option<Circuit>, Option<Circuit>, Vec<Diagnostic>) {
    let diagnostics_of = |loader: &Loader| -> Vec<Diagnostic> {
        loader
            .files()
            .flat_map(|f| f.diagnostics.iter().cloned())
            .collect()
    };
    if shared {
        let mut loader = Loader::new(env, old.sources.as_ref());
        let old_circuit = loader.load(&old.path).circuit.clone();
        let new_circuit = loader.load(&new.path).circuit.clone();
        return (old_circuit, new_circuit, diagnostics_of(&loader));
    }
    let mut old_loader = Loader::new(env, old.sources.as_ref());
    let mut new_loader = Loader::new(env, new.sources.as_ref());
    let old_circuit = old_loader.load(&old.path).circuit.clone();
    let new_circuit = new_loader.load(&new.path).circuit.clone();
    let mut found = diagnostics_of(&old_loader);
    found.extend(diagnostics_of(&new_loader));
    (old_circuit, new_circuit, found)
}

/// As `lint` shows them, then which side could not be compared.
fn report_errors(
    found: &[Diagnostic],
    old: &Input,
    new: &Input,
    old_circuit: &Option<Circuit>,
    new_circuit: &Option<Circuit>,
) {
    let found: Vec<&Diagnostic> = found.iter().collect();
    let color = diagnostics::use_color(&std::io::stderr());
    eprint!("{}", diagnostics::render_human(&found, color));
    let broken: Vec<&str> = [(old, old_circuit), (new, new_circuit)]
        .into_iter()
        .filter(|(_, circuit)| circuit.is_none())
        .map(|(input, _)| input.label.as_str())
        .collect();
    let verb = if broken.len() == 1 { "has" } else { "have" };
    eprintln!(
        "diff: {} {verb} errors ({})",
        broken.join(" and "),
        diagnostics::summary(&found)
    );
}
