//! `circuitcheck export FILE.circuit --format eap-json [-o PATH]`: a circuit as the graph
//! file EAP-IG and the MIB circuit track score.

use std::path::PathBuf;

use crate::catalog::{self, Catalog};
use crate::cli::Outcome;
use crate::dsl::{Diagnostic, FileSystem, Loader};
use crate::graph::eap::export::graph_json;
use crate::report::text::diagnostics;

#[derive(clap::Args)]
#[command(after_help = "\
eap-json: the model's full graph with in_graph set on the circuit's nodes and edges and every \
score 0; each head in the circuit also carries its class, which `circuitcheck import` reads \
back. docs/formats.md describes the mapping.")]
pub struct Args {
    /// Circuit file
    file: PathBuf,
    /// Output format
    #[arg(long, value_enum)]
    format: Format,
    /// Write to PATH instead of standard output
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// EAP-IG's Graph.to_json (the MIB circuit track's format)
    EapJson,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let mut loader = Loader::new(&Catalog, &FileSystem);
    let circuit = loader.load(&args.file).circuit.clone();
    let Some(circuit) = circuit else {
        let found: Vec<&Diagnostic> = loader.files().flat_map(|f| f.diagnostics.iter()).collect();
        let color = diagnostics::use_color(&std::io::stderr());
        eprint!("{}", diagnostics::render_human(&found, color));
        eprintln!(
            "export: {} has errors ({})",
            args.file.display(),
            diagnostics::summary(&found)
        );
        return Ok(Outcome::Error);
    };
    let model = catalog::model(&circuit.model).expect("a checked circuit names a known model");
    let Format::EapJson = args.format;
    let exported = graph_json(&circuit, &model.graph_shape(), model.d_model);
    for warning in &exported.warnings {
        eprintln!("warning: {warning}");
    }
    match &args.output {
        Some(path) => {
            if let Err(error) = crate::output::write_whole(path, exported.json.as_bytes()) {
                eprintln!("error: cannot write {}: {error}", path.display());
                return Ok(Outcome::Error);
            }
        }
        None => print!("{}", exported.json),
    }
    Ok(Outcome::Success)
}
