//! `circuitcheck import GRAPH.json [--top N | --min-score S] [--absolute] [--model NAME]
//! --task TASK [-o PATH]`: a circuit found by EAP-IG, ACDC or MIB's tools as a `.circuit`.

use std::collections::BTreeMap;
use std::io;
use std::path::{Component as PathPart, Path, PathBuf};

use crate::catalog::{self, Catalog, KnownModel};
use crate::cli::Outcome;
use crate::dsl::loader::normalize;
use crate::dsl::{Diagnostic, FileSystem, Head, Loader, Severity, Sources, TaskRef};
use crate::graph::eap::import::{self, Header};
use crate::graph::eap::{
    Component, GraphFile, Problem, Ranking, ReadGraph, Selection, file::GRAPH_LIMIT,
};
use crate::report::text::diagnostics;

#[derive(clap::Args)]
#[command(after_help = "\
The circuit is written in canonical form, at level edge (level node when its edges are every \
edge among its components), every class at all positions; docs/formats.md describes the \
mapping. The graph does not say which task it was found on: --task is required.")]
pub struct Args {
    /// A graph file (JSON of EAP-IG's Graph.to_json, as the MIB circuit track uses)
    file: PathBuf,
    /// Take the N best-scoring edges instead of those marked in_graph
    #[arg(long, value_name = "N", conflicts_with = "min_score")]
    top: Option<usize>,
    /// Take every edge scoring at least S instead of those marked in_graph
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    min_score: Option<f64>,
    /// Rank edges by the magnitude of their score (with --top or --min-score)
    #[arg(long)]
    absolute: bool,
    /// The model the graph was made on (default: the known model whose shape its cfg gives)
    #[arg(long, value_name = "NAME")]
    model: Option<String>,
    /// The task the circuit is for: a built-in task's name or a task file (.toml)
    #[arg(long, value_name = "TASK")]
    task: Option<String>,
    /// Write the circuit to PATH instead of standard output
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,
}

pub fn run(args: &Args) -> miette::Result<Outcome> {
    match import(args) {
        Ok(outcome) => Ok(outcome),
        Err(problems) => {
            report(&args.file, &problems);
            Ok(Outcome::Error)
        }
    }
}

/// What went wrong: the graph's problems, or a plain message.
enum Failure {
    Graph(Vec<Problem>),
    Message(String),
}

fn report(file: &Path, failure: &Failure) {
    match failure {
        Failure::Message(message) => eprintln!("error: {message}"),
        Failure::Graph(problems) => {
            const SHOWN: usize = 20;
            let color = diagnostics::use_color(&io::stderr());
            for problem in problems.iter().take(SHOWN) {
                eprint!("{}", diagnostics::render_error(problem, color));
            }
            if problems.len() > SHOWN {
                eprintln!("… and {} more", problems.len() - SHOWN);
            }
            eprintln!(
                "import: {} cannot be imported ({} problem{})",
                file.display(),
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
        }
    }
}

fn import(args: &Args) -> Result<Outcome, Failure> {
    let text = crate::input::read_text_up_to(&args.file, GRAPH_LIMIT).map_err(|error| {
        Failure::Message(format!("cannot read {}: {error}", args.file.display()))
    })?;
    let file = GraphFile::parse(&text).map_err(|error| {
        Failure::Graph(vec![Problem::Syntax {
            reason: error.to_string(),
        }])
    })?;
    let model = model(args.model.as_deref(), &file)?;
    let task = task(args)?;
    let graph = ReadGraph::read(&file).map_err(Failure::Graph)?;
    let selection = match (args.top, args.min_score) {
        (Some(n), _) => Selection::Top(n),
        (None, Some(min)) => Selection::MinScore(min),
        (None, None) => Selection::InGraph,
    };
    let ranking = if args.absolute {
        Ranking::Absolute
    } else {
        Ranking::Signed
    };
    let selected = graph.select(selection, ranking).map_err(Failure::Graph)?;
    let source_name = args.file.file_name().unwrap_or_default().to_string_lossy();
    let comments = vec![format!(
        "Imported from {source_name} (EAP-IG graph): {}.",
        selection.describe(ranking)
    )];
    let named_classes: BTreeMap<Head, String> = graph
        .nodes
        .iter()
        .filter_map(|(component, entry)| match component {
            Component::Head(head) => Some((*head, entry.class.clone()?)),
            _ => None,
        })
        .collect();
    let name = circuit_name(args.output.as_deref().unwrap_or(&args.file));
    let header = Header {
        comments: &comments,
        name: &name,
        model: model.name,
        task: &task,
        named_classes: &named_classes,
    };
    let circuit = import::circuit_text(&graph.shape, &selected, &header);
    if !checks(&circuit, args.output.as_deref()) {
        return Ok(Outcome::Error);
    }
    match &args.output {
        Some(path) => crate::output::write_whole(path, circuit.as_bytes()).map_err(|error| {
            Failure::Message(format!("cannot write {}: {error}", path.display()))
        })?,
        None => print!("{circuit}"),
    }
    Ok(Outcome::Success)
}

/// `--model`, checked against the graph's cfg; else the one known model the cfg describes.
fn model(name: Option<&str>, file: &GraphFile) -> Result<&'static KnownModel, Failure> {
    let cfg = &file.cfg;
    let found = format!(
        "{} layers of {} heads{}{}",
        cfg.n_layers,
        cfg.n_heads,
        cfg.d_model
            .map(|d| format!(", d_model {d}"))
            .unwrap_or_default(),
        if cfg.parallel_attn_mlp {
            ", parallel attention and MLP"
        } else {
            ""
        }
    );
    let names =
        |models: &[&KnownModel]| models.iter().map(|m| m.name).collect::<Vec<_>>().join(", ");
    if let Some(name) = name {
        let Some(known) = catalog::model(name) else {
            return Err(Failure::Message(format!(
                "unknown model `{name}`; known models: {}",
                names(&catalog::MODELS.iter().collect::<Vec<_>>())
            )));
        };
        if !known.matches(cfg) {
            return Err(Failure::Graph(vec![Problem::ShapeMismatch {
                model: known.name.to_string(),
                found,
                expected: describe(known),
            }]));
        }
        return Ok(known);
    }
    match catalog::models_matching(cfg).as_slice() {
        [one] => Ok(*one),
        [] => Err(Failure::Message(format!(
            "no known model has the graph's shape ({found}); known models: {}",
            names(&catalog::MODELS.iter().collect::<Vec<_>>())
        ))),
        several => Err(Failure::Message(format!(
            "the graph's shape ({found}) fits several models: {}; say which with --model",
            names(several)
        ))),
    }
}

fn describe(model: &KnownModel) -> String {
    format!(
        "{} layers of {} heads, d_model {}{}",
        model.shape.layers,
        model.shape.heads,
        model.d_model,
        if model.shape.parallel_residual {
            ", parallel attention and MLP"
        } else {
            ""
        }
    )
}

/// The header's `task`: a built-in task's name, or a task file's path relative to the
/// directory the circuit is written to, in quotes.
fn task(args: &Args) -> Result<String, Failure> {
    let Some(argument) = &args.task else {
        return Err(Failure::Message(format!(
            "a graph file does not say which task its circuit is for: give --task NAME or --task FILE.toml (built in: {})",
            crate::task::builtin_names().join(", ")
        )));
    };
    match catalog::task_argument(argument) {
        Ok(TaskRef::Builtin(name)) => Ok(name),
        Ok(TaskRef::File { path, .. }) => {
            let relative = match &args.output {
                Some(output) => relative_to(output, Path::new(&path)),
                None => PathBuf::from(&path),
            };
            Ok(format!(
                "\"{}\"",
                relative.to_string_lossy().replace('\\', "/")
            ))
        }
        Err(error) => Err(Failure::Message(error.to_string())),
    }
}

/// `target` as a path from the directory of `file` (both as the current directory sees
/// them); `target` itself when either cannot be resolved.
pub(super) fn relative_to(file: &Path, target: &Path) -> PathBuf {
    let directory = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (Ok(from), Ok(to)) = (directory.canonicalize(), target.canonicalize()) else {
        return target.to_path_buf();
    };
    let from: Vec<PathPart> = from.components().collect();
    let to: Vec<PathPart> = to.components().collect();
    let shared = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in shared..from.len() {
        out.push("..");
    }
    for part in &to[shared..] {
        out.push(part);
    }
    out
}

/// A circuit's name from a file's: its stem, with what a name cannot hold as `_`.
pub(super) fn circuit_name(path: &Path) -> String {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let mut name: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        name.insert_str(0, "circuit_");
    }
    if crate::dsl::parser::KEYWORDS.contains(&name.as_str()) {
        name.push_str("_circuit");
    }
    name
}

/// The imported text as a circuit file where it will be written: its warnings shown,
/// false (with its errors shown) if it does not check, which would be a bug of the import.
fn checks(text: &str, output: Option<&Path>) -> bool {
    let path = output.map_or_else(|| PathBuf::from("imported.circuit"), Path::to_path_buf);
    let sources = Imported {
        path: path.clone(),
        text,
    };
    let mut loader = Loader::new(&Catalog, &sources);
    let ok = loader.load(&path).circuit.is_some();
    let found: Vec<&Diagnostic> = loader.files().flat_map(|f| f.diagnostics.iter()).collect();
    if !found.is_empty() {
        let color = diagnostics::use_color(&io::stderr());
        eprint!("{}", diagnostics::render_human(&found, color));
    }
    if !ok || found.iter().any(|d| d.severity() == Severity::Error) {
        eprintln!("import: the imported circuit does not check (a bug: please report it)");
        return false;
    }
    true
}

/// The imported text at its path, the file system for anything else (a task file).
struct Imported<'a> {
    path: PathBuf,
    text: &'a str,
}

impl Sources for Imported<'_> {
    fn read(&self, path: &Path) -> io::Result<String> {
        if normalize(path) == normalize(&self.path) {
            Ok(self.text.to_string())
        } else {
            FileSystem.read(path)
        }
    }
}
