//! Running the `circuitcheck` binary from the repository root, as a user would.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use circuitcheck::dsl::Sources;

pub mod attribution;
pub mod curve;
pub mod evaluator;
pub mod fixture;
pub mod reference;
pub mod verify;

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Exit code, stdout and stderr in one text, for snapshots.
    pub fn transcript(&self) -> String {
        format!(
            "exit: {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub fn circuitcheck(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_circuitcheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

/// Circuit files held in memory, for a `Loader`.
pub struct Memory(pub BTreeMap<PathBuf, String>);

impl Memory {
    /// The one file `path`, holding `text`.
    pub fn file(path: &str, text: impl Into<String>) -> Memory {
        Memory(BTreeMap::from([(PathBuf::from(path), text.into())]))
    }
}

impl Sources for Memory {
    fn read(&self, path: &Path) -> io::Result<String> {
        self.0
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not in memory"))
    }
}

/// Every word of tasks/ioi.toml, one token each on a tiny tokenizer.
pub fn ioi_words() -> Vec<String> {
    circuitcheck::testing::task_words("ioi").unwrap()
}

/// A tiny random GPT-2 (3 layers, 4 heads, d 32) whose tokenizer knows every IOI word.
pub fn write_tiny_ioi_model(dir: &std::path::Path, seed: u64) {
    circuitcheck::testing::TinyGpt2 {
        words: ioi_words(),
        seed,
        ..Default::default()
    }
    .write(dir)
    .unwrap();
}

/// Every word the built-in greater-than task needs as one token: its nouns, its template's
/// words and the two-digit numbers "00".."99". With these, a tiny tokenizer splits " 1732"
/// as " 17" + "32", as GPT-2's does.
pub fn greater_than_words() -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tasks/greater-than.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let file: toml::Table = text.parse().unwrap();
    let mut words: std::collections::BTreeSet<String> =
        (0..100).map(|n| format!("{n:02}")).collect();
    for list in file["lists"].as_table().unwrap().values() {
        for word in list.as_array().into_iter().flatten() {
            words.insert(word.as_str().unwrap().to_string());
        }
    }
    for family in file["families"].as_array().unwrap() {
        for template in family["templates"].as_array().unwrap() {
            let text = without_placeholders(template.as_str().unwrap());
            let split = text.split(|c: char| !c.is_alphanumeric());
            words.extend(split.filter(|w| !w.is_empty()).map(str::to_string));
        }
    }
    words.into_iter().collect()
}

/// A template's text with its `[PLACEHOLDER]` slots cut out.
fn without_placeholders(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find(']').expect("closed slot");
        out.push(' ');
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}
