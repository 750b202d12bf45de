//! `circuitcheck graph FILE --format dot|json`

use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::cli::Outcome;
use crate::dsl::{Diagnostic, FileSystem, Loader};
use crate::graph::{HypothesisGraph, dot, json};
use crate::report::text::diagnostics;

#[derive(clap::Args)]
pub struct Args {
    /// Circuit file
    file: PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value = "dot")]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Dot,
    Json,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let env = Catalog;
    let mut loader = Loader::new(&env, &FileSystem);
    let circuit = loader.load(&args.file).circuit.clone();
    let Some(circuit) = circuit else {
        let found: Vec<&Diagnostic> = loader.files().flat_map(|f| f.diagnostics.iter()).collect();
        let color = diagnostics::use_color(&std::io::stderr());
        eprint!("{}", diagnostics::render_human(&found, color));
        eprintln!(
            "graph: {} has errors ({})",
            args.file.display(),
            diagnostics::summary(&found)
        );
        return Ok(Outcome::Error);
    };
    let graph = HypothesisGraph::build(&circuit);
    match args.format {
        Format::Dot => print!("{}", dot::to_dot(&circuit, &graph)),
        Format::Json => print!("{}", json::to_json(&circuit, &graph)),
    }
    Ok(Outcome::Success)
}
