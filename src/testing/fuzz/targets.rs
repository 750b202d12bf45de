//! What each fuzz target does with one input: the library calls a user's file goes
//! through, and the properties that must hold of the result. A property that fails is an
//! `Err`; a panic is caught by the runner; `Ok` says whether the input was accepted (how
//! deep it went). Errors the library reports are fine: they are
//! rendered, since rendering must not panic either.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::catalog::Catalog;
use crate::dsl::{Circuit, Diagnostic, Loader, Sources, format, lexer, parser};
use crate::graph::{HypothesisGraph, dot, json};
use crate::model::{Config, ModelFiles, Tokenizer, Transformer, weights};
use crate::report::text::diagnostics::{render_error, render_human, render_json};
use crate::report::text::diff::{Labels, render_markdown, render_terminal};
use crate::task::{Dataset, ReferenceSize, Task, export_toml};
use crate::testing::fuzz::seeds;

/// Where the circuit under test sits among the in-memory files (`extends "ioi.circuit"`
/// finds the repository's circuits beside it).
const FUZZED: &str = "fuzz.circuit";

/// What the targets share across inputs: a tokenizer for tasks, the circuits a fuzzed
/// circuit may extend, and a scratch directory for the loaders that read files.
pub struct Context {
    pub tokenizer: Tokenizer,
    bases: BTreeMap<PathBuf, String>,
    /// The IOI circuit, to diff valid fuzzed circuits against.
    ioi: Circuit,
    work: PathBuf,
    /// Inputs seen, to run the slower whole-directory loads on a fraction of them.
    count: u64,
}

impl Context {
    pub fn new(work: PathBuf) -> io::Result<Self> {
        std::fs::create_dir_all(&work)?;
        let tokenizer_dir = work.join("tokenizer");
        let words = seeds::task_words();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        crate::testing::write_tiny_tokenizer(&tokenizer_dir, &words)?;
        let tokenizer = Tokenizer::from_dir(&tokenizer_dir).map_err(io::Error::other)?;
        let bases = seeds::repository_circuits()
            .into_iter()
            .map(|(name, text)| (PathBuf::from(name), text))
            .collect();
        // A valid tiny model to load fuzzed configs and weights against.
        seeds::tiny_model().write(&work.join("model"))?;
        let ioi = load(&bases, "circuit x extends \"ioi.circuit\" {\n}\n")
            .0
            .ok_or_else(|| io::Error::other("circuits/ioi.circuit does not load"))?;
        Ok(Self {
            tokenizer,
            bases,
            ioi,
            work,
            count: 0,
        })
    }
}

/// The fuzzed file and the repository's circuits, in memory.
struct Memory<'a> {
    bases: &'a BTreeMap<PathBuf, String>,
    text: &'a str,
}

impl Sources for Memory<'_> {
    fn read(&self, path: &Path) -> io::Result<String> {
        if path == Path::new(FUZZED) {
            return Ok(self.text.to_string());
        }
        self.bases
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in memory"))
    }
}

/// Loads `text` as a circuit file; its diagnostics and those of the files it extends.
fn load(bases: &BTreeMap<PathBuf, String>, text: &str) -> (Option<Circuit>, Vec<Diagnostic>) {
    let env = Catalog;
    let sources = Memory { bases, text };
    let mut loader = Loader::new(&env, &sources);
    let circuit = loader.load(Path::new(FUZZED)).circuit.clone();
    let found = loader
        .files()
        .flat_map(|f| f.diagnostics.iter().cloned())
        .collect();
    (circuit, found)
}

/// Parse, analyse (with `extends`), render every diagnostic; for a valid circuit, its graph
/// and its diff against the IOI circuit.
pub fn circuit(context: &mut Context, input: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(input);
    let (circuit, found) = load(&context.bases, &text);
    let shown: Vec<&Diagnostic> = found.iter().collect();
    render_human(&shown, false);
    render_json(vec![FUZZED], &shown);
    if circuit.is_some() == found.iter().any(Diagnostic::is_error) {
        return Err("a circuit came out of a file with errors, or none out of one without".into());
    }
    if let Some(circuit) = circuit {
        let graph = HypothesisGraph::build(&circuit);
        dot::to_dot(&circuit, &graph);
        json::to_json(&circuit, &graph);
        let change = crate::diff::diff(&context.ioi, &circuit);
        let labels = Labels {
            old: "ioi.circuit",
            new: FUZZED,
        };
        render_terminal(&change, &labels, false);
        render_markdown(&change, &labels);
        if !crate::diff::diff(&circuit, &circuit).is_empty() {
            return Err("a circuit differs from itself".into());
        }
        return Ok(true);
    }
    Ok(false)
}

/// `fmt`: the formatted text parses, formatting it again changes nothing, it means what
/// the input meant (or has errors exactly when the input has), and keeps every comment.
pub fn format(context: &mut Context, input: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(input);
    let source = miette::NamedSource::new(FUZZED, std::sync::Arc::<str>::from(text.as_ref()));
    let file = match parser::parse(&source) {
        Ok(file) => file,
        Err(diagnostic) => {
            render_human(&[&diagnostic], false);
            return Ok(false);
        }
    };
    let once = format::format(&file);
    let source = miette::NamedSource::new(FUZZED, std::sync::Arc::<str>::from(once.as_str()));
    let reparsed = parser::parse(&source)
        .map_err(|d| format!("the formatted text does not parse: {d}\n---\n{once}"))?;
    let twice = format::format(&reparsed);
    if twice != once {
        return Err(format!(
            "formatting twice differs from once\n--- once\n{once}--- twice\n{twice}"
        ));
    }
    let (before, _) = load(&context.bases, &text);
    let (after, found) = load(&context.bases, &once);
    if before != after {
        let messages: Vec<String> = found.iter().map(|d| d.to_string()).collect();
        return Err(format!(
            "formatting changed the meaning: {before:?}\n→ {after:?}\n{messages:?}\n--- formatted\n{once}"
        ));
    }
    if comments(&text) != comments(&once) {
        return Err(format!(
            "formatting lost or added a comment\n--- formatted\n{once}"
        ));
    }
    Ok(before.is_some())
}

/// Every comment of a circuit text (a `#` outside a quoted description), counted, as
/// `fmt` writes it: `# text`, trailing space dropped.
fn comments(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (_, body) in lexer::comments(text) {
        *out.entry(body.to_string()).or_default() += 1;
    }
    out
}

/// A task file: checked, then made into small datasets (and one too large), which must
/// keep the dataset contract and survive export and re-import.
pub fn task(context: &mut Context, input: &[u8]) -> Result<bool, String> {
    let text = String::from_utf8_lossy(input);
    let task = match Task::from_source("fuzz.toml", &text) {
        Ok(task) => task,
        Err(error) => {
            render_error(&error, false);
            return Ok(false);
        }
    };
    let seed = input.len() as u64;
    let mut made = false;
    for n in [1, 3, 1 + (seed as usize % 16), usize::MAX] {
        let dataset = match task.dataset(&context.tokenizer, n, seed) {
            Ok(dataset) => dataset,
            Err(error) => {
                render_error(&error, false);
                continue;
            }
        };
        keeps_the_contract(&dataset, n)?;
        made = true;
        let size = task.default_reference_size();
        let reference = match task.reference_set(&context.tokenizer, &dataset, size, seed) {
            Ok(reference) => reference,
            Err(error) => {
                render_error(&error, false);
                continue;
            }
        };
        let exported = export_toml(&dataset, &reference, &context.tokenizer, task.description());
        if let Ok(again) = Task::from_source("exported.toml", &exported)
            && let Ok(dataset) = again.dataset(&context.tokenizer, n, seed)
        {
            keeps_the_contract(&dataset, n)?;
            // The export carries the reference set it was made with (where its text
            // tokenizes as it did).
            let listed = match again.reference_set(
                &context.tokenizer,
                &dataset,
                ReferenceSize::Listed,
                seed,
            ) {
                Ok(listed) => listed,
                Err(error) => {
                    render_error(&error, false);
                    continue;
                }
            };
            if listed.len() != reference.len() {
                return Err(format!(
                    "exported {} reference prompts, read back {}",
                    reference.len(),
                    listed.len()
                ));
            }
        }
    }
    Ok(made)
}

/// What the evaluator relies on (see `task::dataset`).
fn keeps_the_contract(dataset: &Dataset, n: usize) -> Result<(), String> {
    if dataset.prompts.len() != n || dataset.reference.len() != n {
        return Err(format!(
            "asked for {n} prompts, got {}",
            dataset.prompts.len()
        ));
    }
    for (prompt, reference) in dataset.prompts.iter().zip(&dataset.reference) {
        let fine = !prompt.tokens.is_empty()
            && !prompt.answer.is_empty()
            && !prompt.distractor.is_empty()
            && reference.tokens.len() == prompt.tokens.len()
            && prompt.group < dataset.groups.len()
            && dataset.position_names.iter().all(|name| {
                prompt
                    .positions
                    .get(name)
                    .is_some_and(|&p| p < prompt.tokens.len())
            });
        if !fine {
            return Err(format!("a prompt breaks the dataset contract: {prompt:?}"));
        }
    }
    Ok(())
}

/// `config.json`: a config that reads is valid and its sizes are usable; one input in 32
/// also goes through the whole model load against the tiny model's weights.
pub fn config(context: &mut Context, input: &[u8]) -> Result<bool, String> {
    context.count += 1;
    let text = String::from_utf8_lossy(input);
    let read = serde_json::from_str::<Config>(&text);
    if let Ok(config) = &read {
        if let Some(problem) = config.problem() {
            return Err(format!("an invalid config was read: {problem}"));
        }
        config.d_head();
        config.parameter_count();
        config.expected_tensors();
    }
    if context.count.is_multiple_of(32) {
        let dir = context.work.join("model");
        std::fs::write(dir.join("config.json"), input).map_err(|e| e.to_string())?;
        load_model(&dir);
    }
    Ok(read.is_ok())
}

/// `tokenizer.json`, or `vocab.json` and `merges.txt` (the input split at its first NUL):
/// loaded, then used on a few texts.
pub fn tokenizer(_: &mut Context, input: &[u8]) -> Result<bool, String> {
    let path = Path::new("fuzz");
    let loaded = match input.iter().position(|&b| b == 0) {
        Some(split) => Tokenizer::from_vocab_and_merges_text(
            &String::from_utf8_lossy(&input[..split]),
            &String::from_utf8_lossy(&input[split + 1..]),
            path,
        ),
        None => Tokenizer::from_tokenizer_json_text(&String::from_utf8_lossy(input), path),
    };
    let tokenizer = match loaded {
        Ok(tokenizer) => tokenizer,
        Err(error) => {
            render_error(&error, false);
            return Ok(false);
        }
    };
    let sample: String = String::from_utf8_lossy(input).chars().take(200).collect();
    let texts = [
        "Then, Mary and John went to the store",
        " Mary",
        "",
        "é😀\u{202e}\t\r\n",
        sample.as_str(),
    ];
    for text in texts {
        if let Ok(ids) = tokenizer.encode(text) {
            tokenizer.decode(&ids);
            for id in ids.iter().take(8) {
                tokenizer.token_text(*id);
            }
        }
        let _ = tokenizer.encode_prompt_with_offsets(text);
        tokenizer.single_token(text);
    }
    tokenizer.vocab_size();
    Ok(true)
}

/// `model.safetensors`: its dtype read from the header, then loaded against the tiny
/// model's config (names, shapes, dtypes checked, tensors converted, the model built).
pub fn safetensors(context: &mut Context, input: &[u8]) -> Result<bool, String> {
    let dir = context.work.join("model");
    let path = dir.join("model.safetensors");
    std::fs::write(&path, input).map_err(|e| e.to_string())?;
    weights::stored_dtype(&path);
    Ok(load_model(&dir))
}

/// The whole load of a model directory, as `check` does it; whether it loaded.
fn load_model(dir: &Path) -> bool {
    let loaded = ModelFiles::in_dir(dir).and_then(|files| Transformer::load(&files, &Device::Cpu));
    if let Err(error) = &loaded {
        render_error(error, false);
    }
    loaded.is_ok()
}
