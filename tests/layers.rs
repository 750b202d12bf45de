//! The pipeline's layering, as ARCHITECTURE.md states it: no module imports a later stage.

use std::collections::BTreeSet;
use std::path::Path;

/// Earlier stages first; a module may use its own stage and the ones before it.
/// `input` reads files for every stage and `output` writes them; `toy` (the toy model's task
/// and trainer) uses the model and the task; `testing` (fixtures and the fuzzer) comes last:
/// it may use every stage and none may use it, since it is built for the tests and examples
/// only.
const STAGES: &[&str] = &[
    "input", "output", "dsl", "graph", "diff", "model", "task", "toy", "catalog", "eval", "report",
    "lsp", "cli", "testing",
];

fn stage_of(module: &str) -> Option<usize> {
    STAGES.iter().position(|s| *s == module)
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_reaches_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = BTreeSet::new();
    let mut unstaged = BTreeSet::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(own) = stage_of(&module) else {
            // The crate roots may use every stage; any other module needs one.
            if module != "lib" && module != "main" {
                unstaged.insert(module);
            }
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (at, _) in text.match_indices("crate::") {
            let used: String = text[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if let Some(stage) = stage_of(&used)
                && stage > own
            {
                violations.insert(format!("{} uses crate::{used}", relative.display()));
            }
        }
    }
    assert!(unstaged.is_empty(), "modules without a stage: {unstaged:?}");
    assert!(violations.is_empty(), "{violations:#?}");
}
