//! Everything circuitcheck shows a person or a machine, in two rooms: `text` (diagnostics,
//! diffs, check and sensitivity reports for the terminal, Markdown and JSON) and `html` (the
//! self-contained HTML page, its charts and drawings, built with one escaping markup builder).

pub mod html;
pub mod text;
