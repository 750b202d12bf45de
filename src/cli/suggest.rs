//! `circuitcheck suggest FILE`: the heads, MLPs or edges outside the circuit that would most
//! bring it closer to the model, ranked by attribution and the best scored exactly
//! (GRAMMAR.md, "What suggest computes"); `--write PATH` writes the best as a variant. Exit 0,
//! or 2 on bad input.

use std::path::{Path, PathBuf};

use crate::cli::Outcome;
use crate::cli::check::{Bar, EvalArgs, load_circuit, progress_bar, warn};
use crate::cli::output::{Format, Renderers};
use crate::dsl::loader::normalize;
use crate::eval::suggest::{Request, SuggestReport, suggest};
use crate::report::text::{suggest as render, warnings};

#[derive(clap::Args)]
#[command(after_help = "\
Candidates: heads in no class (each added as a class of its own at all positions, wired to \
the circuit when it states edges), MLPs the file's `mlp` lines leave out, and at level edge \
the missing edges between the circuit's members. They are ranked by EAP attribution toward \
F(M); the best --candidates are scored exactly: faithfulness, and the incompleteness at the \
worst K set check finds for the circuit. grammar/GRAMMAR.md, \"What suggest computes\", \
defines every figure.")]
pub struct Args {
    /// Circuit file
    pub file: PathBuf,
    /// Candidates to score exactly, the best ranked by attribution
    #[arg(long, default_value_t = 8, value_parser = at_least_one)]
    pub candidates: usize,
    /// Write a variant `NAME_suggested extends "FILE"` with the best candidates that improve
    #[arg(long, value_name = "PATH")]
    pub write: Option<PathBuf>,
    /// How many improving candidates --write adds
    #[arg(long, default_value_t = 1, value_parser = at_least_one)]
    pub take: usize,
    /// Output format
    #[arg(long, value_enum, default_value = "terminal")]
    pub format: Format,
    /// No progress bar
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub eval: EvalArgs,
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("give at least 1".to_string()),
        Ok(n) if n <= 100_000 => Ok(n),
        Ok(n) => Err(format!("{n} is more than 100000")),
        Err(_) => Err(format!("`{text}` is not a whole number")),
    }
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let Some(circuit) = load_circuit(&args.file) else {
        return Ok(Outcome::Error);
    };
    if let Some(path) = &args.write {
        writable(path, &args.file)?;
    }
    let (evaluator, _) = args.eval.evaluator(&circuit, &args.file, args.quiet)?;
    let request = Request {
        file: &args.file,
        candidates: args.candidates,
        take: args.take,
        write: args.write.as_deref(),
    };
    let bar = progress_bar(args.quiet);
    let report = suggest(&evaluator, &circuit, &request, &mut Bar(bar.clone()));
    bar.finish_and_clear();
    let report = report?;
    warn(warnings::model_fails_task(
        &report.model_score,
        report.confidence,
    ));
    let written = match (&args.write, &report.written) {
        (Some(path), Some(written)) => crate::output::write_whole(path, written.text.as_bytes())
            .map_err(|e| {
                miette::miette!(
                    code = "suggest::write",
                    help = "the report above is complete; run again with another --write path",
                    "cannot write {}: {e}",
                    path.display()
                )
            }),
        (Some(path), None) => {
            eprintln!(
                "warning: no scored candidate reduces the incompleteness at K*: nothing written \
                 to {}",
                path.display()
            );
            Ok(())
        }
        _ => Ok(()),
    };
    publish(args.format, &report)?;
    written?;
    Ok(Outcome::Success)
}

fn publish(format: Format, report: &SuggestReport) -> miette::Result<()> {
    let renderers = Renderers {
        terminal: render::render_terminal,
        json: render::render_json,
        markdown: render::render_markdown,
    };
    format.publish(report, renderers, None, String::new)
}

/// `--write PATH` can be written, and is not the circuit's own file: tried before any work.
fn writable(path: &Path, file: &Path) -> miette::Result<()> {
    let refuse = |why: String| {
        miette::miette!(
            code = "suggest::write",
            help = "give --write a new .circuit path in a directory you can write to",
            "cannot write the suggested variant to {}: {why}",
            path.display()
        )
    };
    if path.is_dir() {
        return Err(refuse("it is a directory".into()));
    }
    if path.file_name().is_none() {
        return Err(refuse("it names no file".into()));
    }
    let same = |a: &Path, b: &Path| match (std::path::absolute(a), std::path::absolute(b)) {
        (Ok(a), Ok(b)) => normalize(&a) == normalize(&b),
        _ => false,
    };
    let same_file = match (path.canonicalize(), file.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same(path, file) || same_file {
        return Err(refuse(format!(
            "it is the circuit's own file, which the variant extends ({})",
            file.display()
        )));
    }
    crate::output::try_directory_of(path).map_err(|e| refuse(e.to_string()))
}
