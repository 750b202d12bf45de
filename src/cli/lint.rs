//! `circuitcheck lint FILE...`

use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::cli::Outcome;
use crate::dsl::{Code, Diagnostic, FileSystem, Loader};
use crate::report::text::diagnostics;

#[derive(clap::Args)]
pub struct Args {
    /// Circuit files to check
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let env = Catalog;
    let mut loader = Loader::new(&env, &FileSystem);
    for file in &args.files {
        loader.load(file);
    }
    let found: Vec<&Diagnostic> = loader.files().flat_map(|f| f.diagnostics.iter()).collect();
    match args.format {
        Format::Human => {
            let color = diagnostics::use_color(&std::io::stderr());
            eprint!("{}", diagnostics::render_human(&found, color));
            let files = loader.files().count();
            let noun = if files == 1 { "file" } else { "files" };
            eprintln!("lint: {files} {noun}, {}", diagnostics::summary(&found));
        }
        Format::Json => {
            let names = loader.files().map(|f| f.source.name()).collect();
            print!("{}", diagnostics::render_json(names, &found));
        }
    }
    let unreadable = found.iter().any(|d| d.code == Code::ReadFailed);
    Ok(if unreadable {
        Outcome::Error
    } else if found.iter().any(|d| d.is_error()) {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
