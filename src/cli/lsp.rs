//! `circuitcheck lsp`: the language server, on stdin and stdout.

use crate::cli::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// Accepted for clients that announce the transport; stdio is the only one
    #[arg(long, hide = true)]
    stdio: bool,
}

/// Exit 0 after `shutdown` and `exit`, 1 when the client left without `shutdown` (as the
/// protocol asks).
pub fn run(_args: &Args) -> miette::Result<Outcome> {
    Ok(if crate::lsp::serve_stdio() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
