//! `circuitcheck fmt FILE... [--check]`

use std::path::PathBuf;
use std::sync::Arc;

use miette::NamedSource;

use crate::cli::Outcome;
use crate::dsl::{format, parser};
use crate::report::text::diagnostics;

#[derive(clap::Args)]
pub struct Args {
    /// Circuit files to format in place
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Change nothing; exit 1 if a file is not in canonical form
    #[arg(long)]
    check: bool,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    let mut outcome = Outcome::Success;
    let color = diagnostics::use_color(&std::io::stderr());
    for path in &args.files {
        let name = path.to_string_lossy();
        let text = match crate::input::read_text(path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("error: cannot read {name}: {error}");
                outcome = Outcome::Error;
                continue;
            }
        };
        let source = NamedSource::new(name.as_ref(), Arc::<str>::from(text.as_str()));
        let file = match parser::parse(&source) {
            Ok(file) => file,
            Err(diagnostic) => {
                eprint!("{}", diagnostics::render_human(&[&diagnostic], color));
                outcome = Outcome::Error;
                continue;
            }
        };
        let formatted = format::format(&file);
        if formatted == text {
            continue;
        }
        if args.check {
            eprintln!("{name}: not in canonical form (run `circuitcheck fmt {name}`)");
            if outcome == Outcome::Success {
                outcome = Outcome::Failure;
            }
        } else if let Err(error) = crate::output::write_whole(path, formatted.as_bytes()) {
            eprintln!("error: cannot write {name}: {error}");
            outcome = Outcome::Error;
        } else {
            eprintln!("formatted {name}");
        }
    }
    Ok(outcome)
}
