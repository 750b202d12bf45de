//! The language server (`circuitcheck lsp`): the checker's diagnostics and their quick
//! fixes, formatting, hover, navigation, completion, rename, the document's outline and
//! semantic highlighting, for editors, over stdio. It sits beside `report`: it
//! reads circuits through `dsl` (open buffers before the disk) and answers in LSP terms.

mod code_actions;
mod completion;
mod diagnostics;
mod document;
mod document_symbols;
mod formatting;
mod hover;
mod navigation;
mod outline;
mod semantic_tokens;
mod server;
mod symbols;
mod transport;
mod workspace;

use crate::catalog::{Catalog, load_task};
use crate::dsl::{Environment, TaskRef};
use crate::task::Task;

/// Serves one client on stdin/stdout until it says `exit`. True when it asked for a
/// `shutdown` first, as the protocol wants for a clean exit.
pub fn serve_stdio() -> bool {
    let (connection, transport) = transport::stdio();
    let clean = server::run(&connection);
    drop(connection);
    transport.finish();
    clean
}

/// The models and tasks a circuit can name. The only place the server picks them, so
/// moving the built-in environment changes one line.
fn environment() -> &'static dyn Environment {
    &Catalog
}

/// A task a circuit names, for what it says about its positions.
fn task(task: &TaskRef) -> Option<Task> {
    load_task(task).ok()
}

/// Server-side log: the client shows stderr as the server's output.
fn log(message: impl std::fmt::Display) {
    eprintln!("circuitcheck lsp: {message}");
}
