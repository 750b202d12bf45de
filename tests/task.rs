//! Tasks (`src/task/`): named positions checked by hand, seeded determinism with pinned
//! prompts, the p_ABC reference distribution of REFERENCE.md, template groups, the export
//! round trip, every diagnostic, the `task` subcommand, the built-in greater-than task (year
//! ranges, answers compared with a placeholder, a reference with a set word) and the explicit
//! greater-than example.
//!
//! Tests that need the real GPT-2 tokenizer read its directory from
//! `CIRCUITCHECK_TOKENIZER_DIR` (CI: `../shared/gpt2-tokenizer`) and skip without it; the
//! rest run on the toy model's tokenizer or on a tiny generated BPE.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use circuitcheck::model::Tokenizer;
use circuitcheck::task::{
    Dataset, MetricKind, Prompt, ReferenceLimit, ReferenceSize, Task, TaskError, export_toml,
};
use circuitcheck::testing::write_tiny_tokenizer;
use common::circuitcheck;
use miette::Diagnostic;

const TOKENIZER_ENV: &str = "CIRCUITCHECK_TOKENIZER_DIR";

// ── fixtures ─────────────────────────────────────────────────────────────────────────────

/// The real GPT-2 tokenizer, loaded once; `None` (and a note) without the env var.
fn gpt2(test: &str) -> Option<&'static Tokenizer> {
    static GPT2: OnceLock<Option<Tokenizer>> = OnceLock::new();
    let tokenizer = GPT2.get_or_init(|| {
        let dir = std::env::var_os(TOKENIZER_ENV)?;
        Some(Tokenizer::from_dir(Path::new(&dir)).expect("the GPT-2 tokenizer loads"))
    });
    if tokenizer.is_none() {
        eprintln!("{TOKENIZER_ENV} not set: skipping {test}");
    }
    tokenizer.as_ref()
}

fn gpt2_dir() -> String {
    std::env::var(TOKENIZER_ENV).expect("checked by gpt2()")
}

/// The toy induction model's word-level tokenizer (one token per capital letter).
fn toy() -> &'static Tokenizer {
    static TOY: OnceLock<Tokenizer> = OnceLock::new();
    TOY.get_or_init(|| {
        Tokenizer::from_dir(Path::new("models/toy-induction")).expect("the toy tokenizer loads")
    })
}

/// A tiny byte-level BPE in which the given words are single tokens (with and without a
/// leading space) and everything else falls apart into bytes.
fn tiny(words: &[&str]) -> Tokenizer {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_tokenizer(dir.path(), words).unwrap();
    Tokenizer::from_dir(dir.path()).unwrap()
}

/// A tiny BPE holding every word of tasks/ioi.toml's lists, so IOI runs without GPT-2.
fn tiny_ioi() -> &'static Tokenizer {
    static TINY: OnceLock<Tokenizer> = OnceLock::new();
    TINY.get_or_init(|| {
        let words: Vec<String> = ioi_lists().into_values().flatten().collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        tiny(&words)
    })
}

/// `[lists]` of tasks/ioi.toml.
fn ioi_lists() -> BTreeMap<String, Vec<String>> {
    let file: toml::Table = std::fs::read_to_string("tasks/ioi.toml")
        .unwrap()
        .parse()
        .unwrap();
    file["lists"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(name, words)| {
            let words = words.as_array().unwrap();
            let words = words.iter().map(|w| w.as_str().unwrap().to_string());
            (name.clone(), words.collect())
        })
        .collect()
}

fn ioi() -> Task {
    Task::builtin("ioi").expect("ioi is built in")
}

fn induction() -> Task {
    Task::builtin("induction").expect("induction is built in")
}

fn at(prompt: &Prompt, name: &str) -> usize {
    *prompt
        .positions
        .get(name)
        .unwrap_or_else(|| panic!("no position {name} in {:?}", prompt.text))
}

/// The text of the token at a named position.
fn word_at(tok: &Tokenizer, prompt: &Prompt, name: &str) -> String {
    tok.token_text(prompt.tokens[at(prompt, name)])
}

fn code(err: &TaskError) -> String {
    err.code().map(|c| c.to_string()).unwrap_or_default()
}

/// The source text under each labelled span of a diagnostic.
fn labelled<'a>(err: &TaskError, src: &'a str) -> Vec<&'a str> {
    err.labels()
        .map(|labels| {
            labels
                .map(|l| &src[l.offset()..l.offset() + l.len()])
                .collect()
        })
        .unwrap_or_default()
}

/// A diagnostic as the CLI renders it, without colours and at a fixed width.
fn render(err: TaskError) -> String {
    let mut out = String::new();
    miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .render_report(&mut out, &err)
        .unwrap();
    out
}

fn task_err(text: &str) -> TaskError {
    Task::from_source("bad.toml", text).expect_err("the task is invalid")
}

// ── 1. positions, checked by hand ────────────────────────────────────────────────────────

#[test]
fn ioi_positions_on_the_papers_example() {
    let Some(tok) = gpt2("ioi_positions_on_the_papers_example") else {
        return;
    };
    assert_eq!(tok.single_token(" Mary"), Some(5335));
    assert_eq!(tok.single_token(" John"), Some(1757));
    // REFERENCE.md's example, as a one-prompt task with IOI's positions.
    let task = Task::from_source(
        "example.toml",
        r#"
name = "example"
metric = "logit-difference"
answer = "A"
distractor = "B"
positions = ["IO = A", "S1 = B", "S1+1 = B+1", "S2 = B#2", "END = end"]
[placeholders]
A = "io"
B = "subject"
[[families]]
name = "ABBA"
templates = ["When [A] and [B] went to the store, [B] gave a drink to"]
[lists]
io = ["Mary"]
subject = ["John"]
"#,
    )
    .unwrap();
    let dataset = task.dataset(tok, 1, 0).unwrap();
    let prompt = &dataset.prompts[0];
    assert_eq!(
        prompt.text,
        "When Mary and John went to the store, John gave a drink to"
    );
    // When ␣Mary ␣and ␣John ␣went ␣to ␣the ␣store , ␣John ␣gave ␣a ␣drink ␣to
    //  0    1     2    3     4     5   6    7     8  9     10    11 12     13
    let expected = [("IO", 1), ("S1", 3), ("S1+1", 4), ("S2", 9), ("END", 13)];
    let positions: BTreeMap<String, usize> =
        expected.iter().map(|(n, i)| (n.to_string(), *i)).collect();
    assert_eq!(prompt.positions, positions);
    assert_eq!(prompt.tokens.len(), 14);
    assert_eq!(prompt.tokens[1], 5335);
    assert_eq!(prompt.tokens[3], 1757);
    assert_eq!(prompt.tokens[9], 1757);
    assert_eq!(word_at(tok, prompt, "S1+1"), " went");
    assert_eq!(word_at(tok, prompt, "END"), " to");
    assert_eq!(prompt.answer, [5335]);
    assert_eq!(prompt.distractor, [1757]);
    assert_eq!(prompt.end(), 13);
}

#[test]
fn ioi_positions_on_generated_prompts() {
    let Some(tok) = gpt2("ioi_positions_on_generated_prompts") else {
        return;
    };
    let dataset = ioi().dataset(tok, 200, 0).unwrap();
    // The first three prompts (texts pinned below), read by eye.
    let by_hand = [
        (" Tyler", " Paul", " and", " to"),
        (" Jesse", " Aaron", " were", " to"),
        (" Lindsay", " Travis", " and", " to"),
    ];
    for (prompt, (io, s, after_s1, end)) in dataset.prompts.iter().zip(by_hand) {
        assert_eq!(word_at(tok, prompt, "IO"), io, "{}", prompt.text);
        assert_eq!(word_at(tok, prompt, "S1"), s, "{}", prompt.text);
        assert_eq!(word_at(tok, prompt, "S1+1"), after_s1, "{}", prompt.text);
        assert_eq!(word_at(tok, prompt, "S2"), s, "{}", prompt.text);
        assert_eq!(word_at(tok, prompt, "END"), end, "{}", prompt.text);
        assert_eq!(tok.token_text(prompt.answer[0]), io);
        assert_eq!(tok.token_text(prompt.distractor[0]), s);
    }
    // And on every prompt: IO is the answer, S1 and S2 the distractor, S1+1 follows S1,
    // S1 < S2, IO comes before S2, END is the last token (" to" in every template).
    let names = &ioi_lists()["names"];
    for prompt in &dataset.prompts {
        let token = |name: &str| prompt.tokens[at(prompt, name)];
        assert_eq!(prompt.answer.len(), 1);
        assert_eq!(prompt.distractor.len(), 1);
        assert_eq!(token("IO"), prompt.answer[0], "{}", prompt.text);
        assert_eq!(token("S1"), prompt.distractor[0], "{}", prompt.text);
        assert_eq!(token("S2"), prompt.distractor[0], "{}", prompt.text);
        assert_ne!(prompt.answer, prompt.distractor, "{}", prompt.text);
        assert_eq!(at(prompt, "S1+1"), at(prompt, "S1") + 1);
        assert!(at(prompt, "S1") < at(prompt, "S2"));
        assert!(at(prompt, "IO") < at(prompt, "S2"));
        assert_eq!(at(prompt, "END"), prompt.tokens.len() - 1);
        assert_eq!(word_at(tok, prompt, "END"), " to");
        // The IO and subject are names of the list, each one token with its space.
        for name in ["IO", "S1"] {
            let word = word_at(tok, prompt, name);
            assert!(names.contains(&word[1..].to_string()), "{word:?}");
            assert!(word.starts_with(' '));
        }
        // The subject occurs twice and the IO once: the IO is "only mention before the end".
        let count = |id: u32| prompt.tokens.iter().filter(|t| **t == id).count();
        assert_eq!(count(prompt.answer[0]), 1, "{}", prompt.text);
        assert_eq!(count(prompt.distractor[0]), 2, "{}", prompt.text);
    }
}

#[test]
fn induction_positions() {
    let tok = toy();
    let dataset = induction().dataset(tok, 100, 0).unwrap();
    assert_eq!(dataset.position_names, ["X1", "A1", "B1", "A2", "END"]);
    for prompt in &dataset.prompts {
        let token = |name: &str| prompt.tokens[at(prompt, name)];
        assert_eq!(prompt.tokens.len(), 8, "{}", prompt.text);
        assert_eq!(token("A1"), token("A2"), "{}", prompt.text);
        assert_eq!(at(prompt, "B1"), at(prompt, "A1") + 1);
        assert_eq!(at(prompt, "X1"), 0);
        assert_eq!(at(prompt, "A2"), 7);
        assert_eq!(at(prompt, "END"), 7);
        assert_eq!(prompt.answer, [token("B1")], "{}", prompt.text);
        assert_eq!(prompt.distractor, [token("X1")], "{}", prompt.text);
        // Every letter differs but the repeated A.
        let distinct: BTreeSet<u32> = prompt.tokens.iter().copied().collect();
        assert_eq!(distinct.len(), 7, "{}", prompt.text);
        // The letters are single letters of the text, one token each.
        let letters: Vec<&str> = prompt.text.split(' ').collect();
        for (id, letter) in prompt.tokens.iter().zip(&letters) {
            assert_eq!(tok.token_text(*id), *letter);
        }
    }
}

// ── 2. determinism, with pinned prompts ──────────────────────────────────────────────────

fn json(dataset: &Dataset) -> String {
    serde_json::to_string(dataset).unwrap()
}

#[test]
fn same_seed_same_dataset_other_seed_other_dataset() {
    for (task, tok) in [(ioi(), tiny_ioi()), (induction(), toy())] {
        let a = task.dataset(tok, 50, 7).unwrap();
        let b = task.dataset(tok, 50, 7).unwrap();
        assert_eq!(json(&a), json(&b), "{}", task.name());
        let c = task.dataset(tok, 50, 8).unwrap();
        assert_ne!(json(&a), json(&c), "{}", task.name());
        // A smaller N gives a prefix of the same prompts.
        let d = task.dataset(tok, 10, 7).unwrap();
        assert_eq!(d.prompts[..], a.prompts[..10]);
        assert_eq!(d.reference[..], a.reference[..10]);
    }
    if let Some(tok) = gpt2("the real-tokenizer half of the determinism test") {
        let a = ioi().dataset(tok, 50, 7).unwrap();
        assert_eq!(json(&a), json(&ioi().dataset(tok, 50, 7).unwrap()));
        assert_ne!(json(&a), json(&ioi().dataset(tok, 50, 8).unwrap()));
    }
}

/// (group, prompt, reference) of the first three IOI prompts for seed 0: ChaCha8 draws, the
/// same on every platform. The drawing does not depend on the tokenizer.
const IOI_SEED_0: [(&str, &str, &str); 3] = [
    (
        "BABA 10",
        "While Paul and Tyler were commuting to the school, Paul gave a computer to",
        "While Mark and Dustin were commuting to the school, Jennifer gave a computer to",
    ),
    (
        "ABBA 3",
        "Then, Jesse and Aaron were working at the hospital. Aaron decided to give a basketball to",
        "Then, Bryan and Lisa were working at the hospital. Courtney decided to give a basketball to",
    ),
    (
        "BABA 8",
        "When Travis and Lindsay got a kiss at the school, Travis decided to give the kiss to",
        "When Vanessa and Jesse got a kiss at the school, Katherine decided to give the kiss to",
    ),
];

const INDUCTION_SEED_0: [(&str, &str, &str); 3] = [
    ("gap 3", "S T L M R N B M", "S T L M R N B E"),
    ("gap 4", "P N J W V Y K V", "P N J W V Y K T"),
    ("gap 4", "E N X Y S L M S", "E N X Y S L M P"),
];

fn first_three(dataset: &Dataset) -> Vec<(&str, &str, &str)> {
    dataset
        .prompts
        .iter()
        .zip(&dataset.reference)
        .take(3)
        .map(|(p, r)| {
            (
                dataset.groups[p.group].as_str(),
                p.text.as_str(),
                r.text.as_str(),
            )
        })
        .collect()
}

#[test]
fn pinned_prompts_for_seed_0() {
    let dataset = ioi().dataset(tiny_ioi(), 3, 0).unwrap();
    assert_eq!(first_three(&dataset), IOI_SEED_0);
    let dataset = induction().dataset(toy(), 3, 0).unwrap();
    assert_eq!(first_three(&dataset), INDUCTION_SEED_0);
    // The induction tokens: A..Z are ids 0..25.
    let ids: Vec<u32> = "STLMRNBM".bytes().map(|b| (b - b'A') as u32).collect();
    assert_eq!(dataset.prompts[0].tokens, ids);
    let Some(tok) = gpt2("the real-tokenizer half of the pinned prompts") else {
        return;
    };
    let dataset = ioi().dataset(tok, 3, 0).unwrap();
    assert_eq!(first_three(&dataset), IOI_SEED_0);
    assert_eq!(
        dataset.prompts[0].tokens,
        tok.encode(IOI_SEED_0[0].1).unwrap()
    );
    assert_eq!(dataset.prompts[0].tokens.len(), 15);
}

// ── 3. p_ABC ─────────────────────────────────────────────────────────────────────────────

#[test]
fn reference_is_p_abc() {
    let Some(tok) = gpt2("reference_is_p_abc") else {
        return;
    };
    let dataset = ioi().dataset(tok, 200, 0).unwrap();
    assert_eq!(dataset.reference.len(), 200);
    let names: BTreeSet<u32> = ioi_lists()["names"]
        .iter()
        .map(|n| tok.single_token(&format!(" {n}")).unwrap())
        .collect();
    let mut kept_a_name = 0;
    for (prompt, reference) in dataset.prompts.iter().zip(&dataset.reference) {
        let text = &prompt.text;
        assert_eq!(reference.tokens.len(), prompt.tokens.len(), "{text}");
        assert_eq!(reference.group, prompt.group, "{text}");
        assert_eq!(reference.positions, prompt.positions, "{text}");
        assert_eq!(reference.tokens, tok.encode(&reference.text).unwrap());
        let swapped: BTreeSet<usize> = ["IO", "S1", "S2"].iter().map(|n| at(prompt, n)).collect();
        for (i, (p, r)) in prompt.tokens.iter().zip(&reference.tokens).enumerate() {
            if !swapped.contains(&i) {
                assert_eq!(p, r, "token {i} of {text:?} vs {:?}", reference.text);
            }
        }
        // IO, S1 and S2 become three distinct names of the list ...
        let new: Vec<u32> = ["IO", "S1", "S2"]
            .iter()
            .map(|n| reference.tokens[at(reference, n)])
            .collect();
        assert!(
            new.iter().all(|id| names.contains(id)),
            "{}",
            reference.text
        );
        let distinct: BTreeSet<u32> = new.iter().copied().collect();
        assert_eq!(distinct.len(), 3, "{}", reference.text);
        // ... so the reference sentence has no repeated name (no token of the list twice).
        let in_reference: Vec<u32> = reference
            .tokens
            .iter()
            .copied()
            .filter(|t| names.contains(t))
            .collect();
        assert_eq!(in_reference.len(), 3, "{}", reference.text);
        // REFERENCE.md asks only for three distinct random names: a new name may happen to
        // be one of the prompt's own (counted, not forbidden).
        if new
            .iter()
            .any(|id| *id == prompt.answer[0] || *id == prompt.distractor[0])
        {
            kept_a_name += 1;
        }
    }
    // Draws cover the list: most references share no name with their prompt.
    assert!(
        kept_a_name < 40,
        "{kept_a_name} of 200 references reuse a name"
    );
}

// ── 4. groups ────────────────────────────────────────────────────────────────────────────

#[test]
fn groups_are_templates_with_one_layout_each() {
    let tokenizers: Vec<(&str, &Tokenizer)> = [("tiny", tiny_ioi())]
        .into_iter()
        .chain(gpt2("the real-tokenizer half of the groups test").map(|t| ("gpt2", t)))
        .collect();
    for (which, tok) in tokenizers {
        let dataset = ioi().dataset(tok, 200, 0).unwrap();
        assert!(dataset.groups.iter().any(|g| g.starts_with("BABA ")));
        assert!(dataset.groups.iter().any(|g| g.starts_with("ABBA ")));
        for group in &dataset.groups {
            let (family, k) = group.split_once(' ').unwrap();
            assert!(["BABA", "ABBA"].contains(&family), "{group}");
            assert!((1..=15).contains(&k.parse::<usize>().unwrap()), "{group}");
        }
        let unique: BTreeSet<&String> = dataset.groups.iter().collect();
        assert_eq!(unique.len(), dataset.groups.len(), "group names repeat");
        // The paper's mixed dataset: BABA and ABBA in equal measure.
        let family = |p: &Prompt| dataset.groups[p.group].split(' ').next().unwrap();
        let baba = dataset
            .prompts
            .iter()
            .filter(|p| family(p) == "BABA")
            .count();
        assert_eq!(baba, 100, "{which}");
        // Every group index is valid and used; one group, one token layout.
        let mut layout: BTreeMap<usize, (usize, &BTreeMap<String, usize>)> = BTreeMap::new();
        for prompt in dataset.prompts.iter().chain(&dataset.reference) {
            assert!(prompt.group < dataset.groups.len());
            let seen = layout
                .entry(prompt.group)
                .or_insert((prompt.tokens.len(), &prompt.positions));
            assert_eq!(
                *seen,
                (prompt.tokens.len(), &prompt.positions),
                "{which}: {} breaks the layout of group {}",
                prompt.text,
                dataset.groups[prompt.group]
            );
        }
        assert_eq!(layout.len(), dataset.groups.len());
        // BABA: S1 comes before IO; ABBA: IO before S1.
        for prompt in &dataset.prompts {
            let io_first = at(prompt, "IO") < at(prompt, "S1");
            assert_eq!(io_first, family(prompt) == "ABBA", "{}", prompt.text);
        }
    }
}

#[test]
fn ioi_task_matches_the_papers_word_lists_and_templates() {
    let path = Path::new("../shared/ioi/ioi-dataset.json");
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("{} not found: skipping", path.display());
        return;
    };
    let paper: serde_json::Value = serde_json::from_str(&text).unwrap();
    let strings = |key: &str| -> Vec<String> {
        paper[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    let lists = ioi_lists();
    for key in ["names", "places", "objects"] {
        assert_eq!(lists[key], strings(key), "{key}");
    }
    let file: toml::Table = std::fs::read_to_string("tasks/ioi.toml")
        .unwrap()
        .parse()
        .unwrap();
    let families = file["families"].as_array().unwrap();
    for (family, key) in families.iter().zip(["baba_templates", "abba_templates"]) {
        let ours: Vec<String> = family["templates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| format!("{} [A]", t.as_str().unwrap()))
            .collect();
        assert_eq!(ours, strings(key), "{key}");
    }
}

// ── 5. export round trip ─────────────────────────────────────────────────────────────────

fn round_trip(task: &Task, tok: &Tokenizer, n: usize, seed: u64) {
    let dataset = task.dataset(tok, n, seed).unwrap();
    let size = task.default_reference_size();
    let reference_set = task.reference_set(tok, &dataset, size, seed).unwrap();
    let text = export_toml(&dataset, &reference_set, tok, task.description());
    let back = Task::from_source("exported.toml", &text).unwrap();
    assert_eq!(back.name(), task.name());
    assert_eq!(back.description(), task.description());
    assert_eq!(back.metric(), task.metric());
    assert_eq!(back.position_names(), task.position_names());
    // Explicit prompts ignore the seed.
    let again = back.dataset(tok, n, seed + 1).unwrap();
    assert_eq!(again.prompts, dataset.prompts, "{}", task.name());
    assert_eq!(again.groups, dataset.groups);
    assert_eq!(again.task, dataset.task);
    assert_eq!(again.metric, dataset.metric);
    assert_eq!(again.position_names, dataset.position_names);
    // References come back with their text, tokens, positions and group. The explicit form
    // has one answer and distractor per prompt, which its reference shares; a generated
    // reference has its own (IOI: the resampled names), which the export does not keep.
    assert_eq!(again.reference.len(), dataset.reference.len());
    for ((back, original), prompt) in again
        .reference
        .iter()
        .zip(&dataset.reference)
        .zip(&dataset.prompts)
    {
        let expected = Prompt {
            answer: prompt.answer.clone(),
            distractor: prompt.distractor.clone(),
            ..original.clone()
        };
        assert_eq!(*back, expected, "{}", task.name());
    }
    // The reference set a check draws comes back whole, in its order: the counterparts,
    // then the extra reference prompts of each group.
    let layout = |p: &Prompt| {
        (
            p.text.clone(),
            p.tokens.clone(),
            p.group,
            p.positions.clone(),
        )
    };
    assert_eq!(back.default_reference_size(), ReferenceSize::Listed);
    assert_eq!(back.default_prompts(), n);
    let listed = back
        .reference_set(tok, &again, ReferenceSize::Listed, seed + 1)
        .unwrap();
    assert_eq!(
        listed.iter().map(layout).collect::<Vec<_>>(),
        reference_set.iter().map(layout).collect::<Vec<_>>(),
        "{}",
        task.name()
    );
    // Fewer prompts are a prefix; more than were exported is refused.
    assert_eq!(
        back.dataset(tok, 2, 0).unwrap().prompts,
        dataset.prompts[..2]
    );
    let err = back.dataset(tok, n + 1, seed).unwrap_err();
    assert_eq!(code(&err), "task::too-many-prompts");
    assert!(
        err.help().unwrap().to_string().contains("leave out --n"),
        "the help fits a task file: {err}"
    );
}

#[test]
fn export_round_trip() {
    round_trip(&ioi(), tiny_ioi(), 40, 3);
    round_trip(&induction(), toy(), 40, 3);
    round_trip(&greater_than(), tiny_greater_than(), 40, 3);
    if let Some(tok) = gpt2("the real-tokenizer half of the export round trip") {
        round_trip(&ioi(), tok, 40, 3);
        round_trip(&greater_than(), tok, 40, 3);
    }
}

#[test]
fn export_lists_words_as_tokens() {
    let dataset = induction().dataset(toy(), 1, 0).unwrap();
    let text = export_toml(
        &dataset,
        &dataset.reference,
        toy(),
        Some("induction, one prompt"),
    );
    assert!(text.starts_with("# Exported by `circuitcheck task export`"));
    let file: toml::Table = text.parse().unwrap();
    assert_eq!(file["name"].as_str(), Some("induction"));
    assert_eq!(file["description"].as_str(), Some("induction, one prompt"));
    assert_eq!(file["metric"].as_str(), Some("logit-difference"));
    let prompt = &file["prompts"].as_array().unwrap()[0];
    assert_eq!(prompt["text"].as_str(), Some("S T L M R N B M"));
    assert_eq!(prompt["reference"].as_str(), Some("S T L M R N B E"));
    assert_eq!(prompt["answer"].as_array().unwrap()[0].as_str(), Some("R"));
    assert_eq!(
        prompt["distractor"].as_array().unwrap()[0].as_str(),
        Some("S")
    );
    assert_eq!(prompt["group"].as_str(), Some("gap 3"));
    assert_eq!(prompt["positions"]["B1"].as_integer(), Some(4));
}

// ── 6. errors ────────────────────────────────────────────────────────────────────────────

/// A small valid generated task; the error tests each break one thing in it.
const GOOD: &str = r#"
name = "small"
metric = "logit-difference"
answer = "A"
distractor = "B"
positions = ["IO = A", "S1 = B", "S2 = B#2", "END = end"]
distinct = [["A", "B"]]
[placeholders]
A = "names"
B = "names"
[reference]
resample = ["A", "B#1", "B#2"]
[[families]]
name = "ABBA"
templates = ["Then [A] and [B] went, [B] said to"]
[lists]
names = ["Mary", "John", "Alice"]
"#;

fn small_tokenizer() -> Tokenizer {
    tiny(&[
        "Mary", "John", "Alice", "Bob", "Zoe", "Then", "and", "went", "said", "to",
    ])
}

#[test]
fn the_small_task_is_valid() {
    let task = Task::from_source("good.toml", GOOD).unwrap();
    // 3 × 2 fillings: all six come out, each once.
    let dataset = task.dataset(&small_tokenizer(), 6, 0).unwrap();
    let texts: BTreeSet<&str> = dataset.prompts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(texts.len(), 6);
    for prompt in &dataset.prompts {
        assert_eq!(prompt.tokens[at(prompt, "S1")], prompt.distractor[0]);
    }
}

#[test]
fn syntax_error() {
    let text = GOOD.replace(
        r#"metric = "logit-difference""#,
        "metric = logit-difference",
    );
    let err = task_err(&text);
    assert_eq!(code(&err), "task::syntax");
    assert!(err.to_string().starts_with("bad.toml: "), "{err}");
    let spans = labelled(&err, &text);
    assert_eq!(spans.len(), 1);
    let at = text.find("logit-difference\n").unwrap();
    let label = err.labels().unwrap().next().unwrap();
    assert_eq!(label.offset(), at, "{spans:?}");
}

#[test]
fn unknown_field() {
    let text = GOOD.replace("distinct =", "distinkt =");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::syntax");
    assert!(err.to_string().contains("distinkt"), "{err}");
    assert_eq!(labelled(&err, &text), ["distinkt"]);
}

#[test]
fn unknown_metric() {
    let text = GOOD.replace("\"logit-difference\"", "\"logit-diff\"");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert_eq!(err.to_string(), "unknown metric `logit-diff`");
    assert_eq!(labelled(&err, &text), ["\"logit-diff\""]);
    insta::assert_snapshot!(render(err));
}

#[test]
fn unknown_placeholder_in_a_template() {
    let text = GOOD.replace("said to\"", "said to [C]\"");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert!(err.to_string().contains("`[C]`"), "{err}");
    assert_eq!(
        labelled(&err, &text),
        ["\"Then [A] and [B] went, [B] said to [C]\""]
    );
    assert_eq!(
        err.help().unwrap().to_string(),
        "declared placeholders: A, B"
    );
    insta::assert_snapshot!(render(err));
}

#[test]
fn position_the_template_does_not_contain() {
    // A third occurrence of B that no template has.
    let text = GOOD.replace("\"S2 = B#2\"", "\"S3 = B#3\"");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert!(err.to_string().contains("fewer than 3 `[B]`"), "{err}");
    assert_eq!(labelled(&err, &text), ["\"S3 = B#3\""]);
    // A placeholder nobody declared.
    let text = GOOD.replace("\"S2 = B#2\"", "\"S2 = C#2\"");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert!(err.to_string().contains("`C`"), "{err}");
    assert_eq!(labelled(&err, &text), ["\"S2 = C#2\""]);
    // Not `NAME = ANCHOR` at all.
    let text = GOOD.replace("\"S2 = B#2\"", "\"S2\"");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert_eq!(labelled(&err, &text), ["\"S2\""]);
    // A resampled occurrence that no template has.
    let text = GOOD.replace("\"B#2\"]", "\"B#4\"]");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert_eq!(labelled(&err, &text), ["\"B#4\""]);
}

#[test]
fn answer_must_be_a_placeholder_of_every_template() {
    let text = GOOD.replace("answer = \"A\"", "answer = \"Q\"");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert_eq!(labelled(&err, &text), ["\"Q\""]);
    // Declared but absent from a template: that template has no answer word (this used to
    // pass the check and panic when making the dataset).
    let text = GOOD
        .replace("answer = \"A\"", "answer = \"C\"")
        .replace("B = \"names\"", "B = \"names\"\nC = \"names\"");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert!(err.to_string().contains("fewer than 1 `[C]`"), "{err}");
    assert_eq!(labelled(&err, &text), ["\"C\""]);
    let text = GOOD
        .replace("distractor = \"B\"", "distractor = \"C\"")
        .replace("B = \"names\"", "B = \"names\"\nC = \"names\"")
        .replace(
            "said to\"]",
            "said to\", \"[C] saw [A] and [B], [B] said to\"]",
        );
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert!(err.to_string().contains("template `ABBA 1`"), "{err}");
    assert_eq!(labelled(&err, &text), ["\"C\""]);
}

#[test]
fn words_that_are_not_one_token() {
    let text = GOOD.replace(
        r#"names = ["Mary", "John", "Alice"]"#,
        r#"names = ["Mary", "Bartholomew", "John", "Alice", "Xi Jinping"]"#,
    );
    let task = Task::from_source("multi.toml", &text).unwrap();
    let err = task.dataset(&small_tokenizer(), 2, 0).unwrap_err();
    assert_eq!(code(&err), "task::multi-token");
    match &err {
        TaskError::MultiToken { count, offenders } => {
            assert_eq!(*count, 2);
            assert_eq!(offenders, r#"" Bartholomew", " Xi Jinping""#);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        r#"2 word(s) are not a single token: " Bartholomew", " Xi Jinping""#
    );
    // A word at the start of the text is checked without its space.
    let text = text.replace("\"Then [A] and", "\"[A] and");
    let err = Task::from_source("multi.toml", &text)
        .unwrap()
        .dataset(&small_tokenizer(), 2, 0)
        .unwrap_err();
    match &err {
        TaskError::MultiToken { count, offenders } => {
            assert_eq!(*count, 4, "{offenders}");
            assert!(offenders.contains(r#""Bartholomew""#), "{offenders}");
        }
        other => panic!("{other:?}"),
    }
    // Explicit prompts: an answer that is two tokens.
    let explicit = r#"
name = "explicit"
metric = "logit-difference"
positions = ["END"]
[[prompts]]
text = "Then Mary and John went, John said to"
reference = "Then Alice and Bob went, Zoe said to"
answer = [" Mary and"]
distractor = [" John"]
group = "g"
positions = { END = 8 }
"#;
    let err = Task::from_source("explicit.toml", explicit)
        .unwrap()
        .dataset(&small_tokenizer(), 1, 0)
        .unwrap_err();
    assert_eq!(code(&err), "task::multi-token");
    assert!(err.to_string().contains(r#"" Mary and""#), "{err}");
}

#[test]
fn more_prompts_than_the_task_has() {
    let task = Task::from_source("good.toml", GOOD).unwrap();
    let err = task.dataset(&small_tokenizer(), 7, 0).unwrap_err();
    assert_eq!(code(&err), "task::too-many-prompts");
    assert!(
        matches!(
            err,
            TaskError::TooManyPrompts {
                asked: 7,
                available: 6
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "asked for 7 prompts, but the task has only 6 distinct prompts"
    );
}

/// Without `--n` a generated task makes 100 prompts, or every prompt it can when it can
/// make fewer; an explicit task gives every prompt it lists.
#[test]
fn the_default_number_of_prompts_is_what_the_task_can_give() {
    assert_eq!(ioi().default_prompts(), 100);
    let small = Task::from_source("good.toml", GOOD).unwrap();
    assert_eq!(small.default_prompts(), 6);
    let tok = small_tokenizer();
    let dataset = small.dataset(&tok, small.default_prompts(), 0).unwrap();
    let set = small
        .reference_set(&tok, &dataset, small.default_reference_size(), 0)
        .unwrap();
    let exported = Task::from_source("e.toml", &export_toml(&dataset, &set, &tok, None)).unwrap();
    assert_eq!(exported.default_prompts(), 6);
}

/// An explicit task's reference set: per group its counterparts, then its extra reference
/// prompts; all of them by default, the first N for `Exactly(N)`, and an error naming the
/// group for more than it has.
#[test]
fn an_explicit_task_carries_its_reference_set() {
    let (task, tok) = (induction(), toy());
    let dataset = task.dataset(tok, 6, 2).unwrap();
    let drawn = task
        .reference_set(tok, &dataset, ReferenceSize::Exactly(7), 2)
        .unwrap();
    let file = Task::from_source("e.toml", &export_toml(&dataset, &drawn, tok, None)).unwrap();
    let again = file.dataset(tok, file.default_prompts(), 9).unwrap();
    let texts = |set: &[Prompt], group: usize| -> Vec<String> {
        set.iter()
            .filter(|p| p.group == group)
            .map(|p| p.text.clone())
            .collect()
    };
    let listed = file
        .reference_set(tok, &again, ReferenceSize::Listed, 0)
        .unwrap();
    let three = file
        .reference_set(tok, &again, ReferenceSize::Exactly(3), 0)
        .unwrap();
    let counterparts = file
        .reference_set(tok, &again, ReferenceSize::Counterparts, 0)
        .unwrap();
    for group in 0..again.groups.len() {
        let all = texts(&drawn, group);
        assert_eq!(all.len(), 7);
        assert_eq!(texts(&listed, group), all);
        assert_eq!(texts(&three, group), all[..3]);
        assert_eq!(texts(&counterparts, group), texts(&again.reference, group));
    }
    assert_eq!(
        file.reference_limit(&again),
        Some(ReferenceLimit {
            fewest: 7,
            extra: true
        })
    );
    assert_eq!(task.reference_limit(&dataset), None);
    let err = file
        .reference_set(tok, &again, ReferenceSize::Exactly(8), 0)
        .unwrap_err();
    assert_eq!(code(&err), "task::too-few-references");
    assert!(
        err.to_string()
            .contains(&format!("group `{}`", again.groups[0])),
        "{err}"
    );
}

#[test]
fn extra_reference_prompts_are_checked() {
    let explicit = r#"
name = "explicit"
metric = "logit-difference"
positions = ["END"]

[[prompts]]
text = "Then Mary and John went"
reference = "Then Alice and Bob went"
answer = [" Mary"]
distractor = [" John"]
group = "g"
positions = { END = 4 }
"#;
    let tok = small_tokenizer();
    let with = |extra: &str| format!("{explicit}\n[[extra_references]]\n{extra}\n");
    // Of a group no prompt has.
    let err = Task::from_source(
        "e.toml",
        &with("group = \"h\"\ntext = \"Then Zoe and Bob went\""),
    )
    .unwrap_err();
    assert_eq!(code(&err), "task::invalid");
    assert!(
        err.to_string().contains("no prompt is in group `h`"),
        "{err}"
    );
    // Without text.
    let err = Task::from_source("e.toml", &with("group = \"g\"\ntext = \" \"")).unwrap_err();
    assert!(err.to_string().contains("`text` is empty"), "{err}");
    // Another token layout than its group's: refused when the reference set is made.
    let task = Task::from_source(
        "e.toml",
        &with("group = \"g\"\ntext = \"Then Zoe and Bob went to\""),
    )
    .unwrap();
    let dataset = task.dataset(&tok, 1, 0).unwrap();
    let err = task
        .reference_set(&tok, &dataset, ReferenceSize::Listed, 0)
        .unwrap_err();
    assert_eq!(code(&err), "task::reference-layout");
    // A generated task draws its own.
    let err = Task::from_source(
        "good.toml",
        &format!("{GOOD}\n[[extra_references]]\ngroup = \"ABBA 1\"\ntext = \"x\"\n"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("a task that generates its prompts draws its own reference prompts"),
        "{err}"
    );
}

#[test]
fn explicit_task_errors() {
    let base = r#"
name = "explicit"
metric = "probability-difference"
positions = ["S", "END"]
[[prompts]]
text = "Then Mary and John went, John said to"
reference = "Then Alice and Bob went, Zoe said to"
answer = [" Mary"]
distractor = [" John"]
group = "g"
positions = { S = 3, END = 8 }
"#;
    let tok = small_tokenizer();
    let task = Task::from_source("explicit.toml", base).unwrap();
    assert_eq!(task.metric(), MetricKind::ProbabilityDifference);
    let dataset = task.dataset(&tok, 1, 0).unwrap();
    assert_eq!(word_at(&tok, &dataset.prompts[0], "S"), " John");
    assert_eq!(word_at(&tok, &dataset.reference[0], "S"), " Bob");
    // A prompt that does not give a named position: the label is that prompt's header.
    let second = base.split_at(base.find("[[prompts]]").unwrap()).1;
    let text = format!(
        "{base}{}",
        second.replace("{ S = 3, END = 8 }", "{ END = 8 }")
    );
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert!(err.to_string().contains("position `S`"), "{err}");
    assert_eq!(labelled(&err, &text), ["[[prompts]]"]);
    let label = err.labels().unwrap().next().unwrap();
    assert_eq!(label.offset(), text.rfind("[[prompts]]").unwrap());
    // A position past the last token.
    let text = base.replace("END = 8", "END = 9");
    let err = Task::from_source("explicit.toml", &text)
        .unwrap()
        .dataset(&tok, 1, 0)
        .unwrap_err();
    assert_eq!(code(&err), "task::prompt");
    assert!(err.to_string().contains("END = 9"), "{err}");
    // A reference of another length.
    let text = base.replace("Zoe said to\"", "Zoe said it to\"");
    let err = Task::from_source("explicit.toml", &text)
        .unwrap()
        .dataset(&tok, 1, 0)
        .unwrap_err();
    assert_eq!(code(&err), "task::prompt");
    // Prompts and families together.
    let text = format!("{base}[[families]]\nname = \"F\"\ntemplates = [\"x\"]\n");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    // Neither.
    let text = base.split("[[prompts]]").next().unwrap();
    let err = task_err(text);
    assert_eq!(code(&err), "task::invalid");
    assert_eq!(labelled(&err, text), [r#"["S", "END"]"#]);
}

#[test]
fn unknown_task_and_unreadable_file() {
    assert!(Task::builtin("nosuch").is_none());
    let err = Task::load("nosuch").unwrap_err();
    assert_eq!(code(&err), "task::unknown-task");
    assert_eq!(err.to_string(), "unknown task `nosuch`");
    let help = err.help().unwrap().to_string();
    assert!(help.contains("ioi, induction"), "{help}");
    let err = Task::load("tests/task/does-not-exist.toml").unwrap_err();
    assert_eq!(code(&err), "task::read-failed");
    assert!(err.to_string().contains("does-not-exist.toml"), "{err}");
    // The built-ins load by name and by path, and agree.
    assert_eq!(Task::load("ioi").unwrap().name(), "ioi");
    let by_path = Task::load("tasks/ioi.toml").unwrap();
    let a = by_path.dataset(tiny_ioi(), 5, 0).unwrap();
    assert_eq!(a, ioi().dataset(tiny_ioi(), 5, 0).unwrap());
}

// ── 7. the CLI ───────────────────────────────────────────────────────────────────────────

#[test]
fn cli_show_ioi() {
    if gpt2("cli_show_ioi").is_none() {
        return;
    }
    let dir = gpt2_dir();
    let run = circuitcheck(&[
        "task",
        "show",
        "ioi",
        "--n",
        "2",
        "--seed",
        "0",
        "--tokenizer",
        &dir,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = &run.stdout;
    assert!(
        out.starts_with(
            "task ioi: 2 prompts (seed 0), metric logit-difference, positions IO S1 S1+1 S2 END\n"
        ),
        "{out}"
    );
    for marked in [
        "While ␣Paul⟨S1⟩ ␣and⟨S1+1⟩ ␣Tyler⟨IO⟩ ␣were",
        "␣Paul⟨S2⟩ ␣gave",
        "␣to⟨END⟩",
        "Then , ␣Jesse⟨IO⟩ ␣and ␣Aaron⟨S1⟩ ␣were⟨S1+1⟩",
        "\" Tyler\" (14886)  vs  \" Paul\" (3362)",
        "reference  While Mark and Dustin were commuting to the school, Jennifer gave a computer to",
        "reference  Then, Bryan and Lisa were working at the hospital.",
    ] {
        assert!(out.contains(marked), "{marked:?} not in\n{out}");
    }
    assert_eq!(out.matches("  reference  ").count(), 2);
}

#[test]
fn cli_export_then_show() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cases = vec![("induction", "--model", "models/toy-induction".to_string())];
    if gpt2("the real-tokenizer half of cli_export_then_show").is_some() {
        cases.push(("ioi", "--tokenizer", gpt2_dir()));
    }
    for (task, flag, dir) in cases {
        let file = tmp.path().join(format!("{task}.toml"));
        let file = file.to_str().unwrap();
        let common = ["--n", "4", "--seed", "5", flag, dir.as_str()];
        let export = circuitcheck(&[&["task", "export", task, "-o", file], &common[..]].concat());
        assert_eq!(export.code, 0, "{}", export.stderr);
        assert_eq!(export.stdout, "");
        let from_file = circuitcheck(&[&["task", "show", file], &common[..]].concat());
        let built_in = circuitcheck(&[&["task", "show", task], &common[..]].concat());
        assert_eq!(from_file.code, 0, "{}", from_file.stderr);
        assert_eq!(from_file.stdout, built_in.stdout, "{task}");
        // Without -o the export goes to standard output, byte for byte the file.
        let stdout = circuitcheck(&[&["task", "export", task], &common[..]].concat());
        assert_eq!(stdout.stdout, std::fs::read_to_string(file).unwrap());
    }
}

#[test]
fn cli_unknown_task() {
    let run = circuitcheck(&["task", "show", "nosuch"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("task::unknown-task"), "{}", run.stderr);
    assert!(
        run.stderr.contains("unknown task `nosuch`"),
        "{}",
        run.stderr
    );
    insta::assert_snapshot!(run.transcript());
}

// ── the greater-than example ─────────────────────────────────────────────────────────────

#[test]
fn greater_than_example() {
    let task = Task::load("examples/tasks/greater-than.toml").unwrap();
    assert_eq!(task.name(), "greater-than");
    assert_eq!(task.metric(), MetricKind::ProbabilityDifference);
    assert_eq!(task.position_names(), ["YY", "END"]);
    let Some(tok) = gpt2("the tokenizer half of greater_than_example") else {
        return;
    };
    assert_eq!(
        tok.encode(" 1732")
            .unwrap()
            .iter()
            .map(|t| tok.token_text(*t))
            .collect::<Vec<_>>(),
        [" 17", "32"]
    );
    let dataset = task.dataset(tok, 12, 0).unwrap();
    assert_eq!(dataset.groups, ["year-span"]);
    let all: BTreeSet<u32> = (0..100)
        .map(|y| tok.single_token(&format!("{y:02}")).unwrap())
        .collect();
    assert_eq!(all.len(), 100);
    let mut years = BTreeSet::new();
    for (prompt, reference) in dataset.prompts.iter().zip(&dataset.reference) {
        let text = &prompt.text;
        // "The NOUN lasted from the year 17YY to the year 17"
        let start = text.split("the year 17").nth(1).unwrap();
        let yy: u32 = start[..2].parse().unwrap();
        years.insert(yy);
        assert_eq!(word_at(tok, prompt, "YY"), format!("{yy:02}"), "{text}");
        assert_eq!(tok.token_text(prompt.tokens[at(prompt, "YY") - 1]), " 17");
        assert_eq!(word_at(tok, prompt, "END"), " 17", "{text}");
        assert_eq!(at(prompt, "END"), prompt.tokens.len() - 1);
        assert_eq!(word_at(tok, reference, "YY"), "01");
        assert_eq!(
            reference.text,
            text.replacen(&format!("17{yy:02}"), "1701", 1)
        );
        // Answers are the years after YY, distractors the rest: disjoint, together 00..99.
        let answer: BTreeSet<u32> = prompt.answer.iter().copied().collect();
        let distractor: BTreeSet<u32> = prompt.distractor.iter().copied().collect();
        assert_eq!(answer.len(), prompt.answer.len());
        assert!(answer.is_disjoint(&distractor), "{text}");
        assert_eq!(&answer | &distractor, all, "{text}");
        for id in &prompt.answer {
            assert!(tok.token_text(*id).parse::<u32>().unwrap() > yy);
        }
        for id in &prompt.distractor {
            assert!(tok.token_text(*id).parse::<u32>().unwrap() <= yy);
        }
    }
    assert_eq!(years.len(), 12, "twelve different start years");
    let nouns: BTreeSet<u32> = dataset.prompts.iter().map(|p| p.tokens[1]).collect();
    assert_eq!(nouns.len(), 12, "twelve different nouns");
}

// ── the built-in greater-than task ───────────────────────────────────────────────────────

fn greater_than() -> Task {
    Task::builtin("greater-than").expect("greater-than is built in")
}

/// A tiny BPE holding greater-than's nouns, template words and "00".."99".
fn tiny_greater_than() -> &'static Tokenizer {
    static TINY: OnceLock<Tokenizer> = OnceLock::new();
    TINY.get_or_init(|| {
        let words = common::greater_than_words();
        tiny(&words.iter().map(String::as_str).collect::<Vec<_>>())
    })
}

/// The nouns of tasks/greater-than.toml.
fn greater_than_nouns() -> BTreeSet<String> {
    let file: toml::Table = std::fs::read_to_string("tasks/greater-than.toml")
        .unwrap()
        .parse()
        .unwrap();
    let nouns = file["lists"]["nouns"].as_array().unwrap();
    nouns
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

/// The texts of a token sequence.
fn texts(tok: &Tokenizer, ids: &[u32]) -> Vec<String> {
    ids.iter().map(|id| tok.token_text(*id)).collect()
}

/// The tokenizers the greater-than tests run on: the tiny one always, GPT-2's when given.
fn greater_than_tokenizers(test: &str) -> Vec<(&'static str, &'static Tokenizer)> {
    [("tiny", tiny_greater_than())]
        .into_iter()
        .chain(gpt2(test).map(|t| ("gpt2", t)))
        .collect()
}

#[test]
fn tiny_tokenizer_splits_years_as_gpt2_does() {
    for (which, tok) in greater_than_tokenizers("the GPT-2 half of the year split") {
        for (text, tokens) in [
            (" 1732", [" 17", "32"]),
            (" 1701", [" 17", "01"]),
            (" 1798", [" 17", "98"]),
        ] {
            assert_eq!(texts(tok, &tok.encode(text).unwrap()), tokens, "{which}");
        }
    }
}

#[test]
fn greater_than_prompts() {
    for (which, tok) in greater_than_tokenizers("the GPT-2 half of greater_than_prompts") {
        let dataset = greater_than().dataset(tok, 200, 0).unwrap();
        assert_eq!(dataset.metric, MetricKind::ProbabilityDifference);
        assert_eq!(dataset.position_names, ["YY", "END"]);
        // One template, one token layout.
        assert_eq!(dataset.groups, ["year-span 1"], "{which}");
        let two_digits: Vec<u32> = (0..100)
            .map(|y| tok.single_token(&format!("{y:02}")).unwrap())
            .collect();
        let nouns = greater_than_nouns();
        let mut years = BTreeSet::new();
        for (prompt, reference) in dataset.prompts.iter().zip(&dataset.reference) {
            let text = &prompt.text;
            // The NOUN lasted from the year 17 YY to the year 17
            //  0    1     2      3    4    5   6  7  8  9   10   11
            let words = texts(tok, &prompt.tokens);
            assert_eq!(words.len(), 12, "{which}: {text}");
            assert!(nouns.contains(&words[1][1..]), "{text}");
            assert_eq!(
                prompt.positions,
                BTreeMap::from([("YY".into(), 7), ("END".into(), 11)])
            );
            assert_eq!(words[6], " 17", "{text}");
            assert_eq!(words[11], " 17", "{text}");
            let yy: usize = words[7].parse().unwrap();
            assert!((2..=98).contains(&yy), "{text}");
            assert_eq!(
                *text,
                format!(
                    "The{} lasted from the year 17{yy:02} to the year 17",
                    words[1]
                )
            );
            years.insert(yy);
            // The answers are the two-digit tokens after YY, the distractors the rest, each
            // in order: together "00".."99", once each.
            assert_eq!(prompt.answer, two_digits[yy + 1..], "{text}");
            assert_eq!(prompt.distractor, two_digits[..=yy], "{text}");
            // The reference is the same sentence starting in 1701: one token differs.
            assert_eq!(
                reference.text,
                text.replacen(&format!("17{yy:02} "), "1701 ", 1)
            );
            assert_eq!(reference.tokens, tok.encode(&reference.text).unwrap());
            assert_eq!(reference.positions, prompt.positions);
            assert_eq!(reference.group, prompt.group);
            for (i, (p, r)) in prompt.tokens.iter().zip(&reference.tokens).enumerate() {
                assert_eq!(p == r, i != 7 || yy == 1, "token {i} of {text}");
            }
            assert_eq!(reference.tokens[7], two_digits[1]);
            assert_eq!(reference.answer, two_digits[2..]);
            assert_eq!(reference.distractor, two_digits[..2]);
        }
        assert!(years.len() > 70, "{which}: start years spread over 02..98");
    }
}

/// (group, prompt, reference) of the first three greater-than prompts for seed 0.
const GREATER_THAN_SEED_0: [(&str, &str, &str); 3] = [
    (
        "year-span 1",
        "The regime lasted from the year 1772 to the year 17",
        "The regime lasted from the year 1701 to the year 17",
    ),
    (
        "year-span 1",
        "The treaty lasted from the year 1769 to the year 17",
        "The treaty lasted from the year 1701 to the year 17",
    ),
    (
        "year-span 1",
        "The siege lasted from the year 1720 to the year 17",
        "The siege lasted from the year 1701 to the year 17",
    ),
];

#[test]
fn greater_than_pinned_for_seed_0() {
    for (which, tok) in greater_than_tokenizers("the GPT-2 half of the pinned greater-than") {
        let dataset = greater_than().dataset(tok, 3, 0).unwrap();
        assert_eq!(first_three(&dataset), GREATER_THAN_SEED_0, "{which}");
    }
    let Some(tok) = gpt2("the GPT-2 token ids of the pinned greater-than") else {
        return;
    };
    let dataset = greater_than().dataset(tok, 1, 0).unwrap();
    // The ␣regime ␣lasted ␣from ␣the ␣year ␣17 72 ␣to ␣the ␣year ␣17
    let ids = [
        464, 7142, 15436, 422, 262, 614, 1596, 4761, 284, 262, 614, 1596,
    ];
    assert_eq!(dataset.prompts[0].tokens, ids);
    assert_eq!(dataset.reference[0].tokens[7], 486); // "01"
    assert_eq!(dataset.prompts[0].answer[0], 4790); // "73"
    assert_eq!(dataset.prompts[0].distractor[0], 405); // "00"
}

#[test]
fn greater_than_words_are_gpt2_tokens() {
    let Some(tok) = gpt2("greater_than_words_are_gpt2_tokens") else {
        return;
    };
    for noun in greater_than_nouns() {
        assert!(tok.single_token(&format!(" {noun}")).is_some(), "{noun:?}");
    }
    // Every start year, and the reference's 1701, is " 17" and one two-digit token.
    for yy in 1..=98 {
        let ids = tok.encode(&format!(" 17{yy:02}")).unwrap();
        assert_eq!(texts(tok, &ids), [" 17".to_string(), format!("{yy:02}")]);
    }
}

#[test]
fn greater_than_cli_show_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let words = common::greater_than_words();
    write_tiny_tokenizer(
        dir.path(),
        &words.iter().map(String::as_str).collect::<Vec<_>>(),
    )
    .unwrap();
    let file = dir.path().join("exported.toml");
    let (dir, file) = (dir.path().to_str().unwrap(), file.to_str().unwrap());
    let common = ["--n", "3", "--seed", "0", "--tokenizer", dir];
    let show = circuitcheck(&[&["task", "show", "greater-than"], &common[..]].concat());
    assert_eq!(show.code, 0, "{}", show.stderr);
    let out = &show.stdout;
    assert!(
        out.starts_with(
            "task greater-than: 3 prompts (seed 0), metric probability-difference, positions YY END\n"
        ),
        "{out}"
    );
    for marked in [
        "The ␣regime ␣lasted ␣from ␣the ␣year ␣17 72⟨YY⟩ ␣to ␣the ␣year ␣17⟨END⟩",
        "reference  The regime lasted from the year 1701 to the year 17",
    ] {
        assert!(out.contains(marked), "{marked:?} not in\n{out}");
    }
    let export =
        circuitcheck(&[&["task", "export", "greater-than", "-o", file], &common[..]].concat());
    assert_eq!(export.code, 0, "{}", export.stderr);
    let from_file = circuitcheck(&[&["task", "show", file], &common[..]].concat());
    assert_eq!(from_file.stdout, show.stdout);
}

/// A small generated task with compared answers and a set reference; the error tests
/// each break one thing in it.
const YEARS: &str = r#"
name = "years"
metric = "probability-difference"
answer = { list = "all", above = "YY" }
distractor = { list = "all", at_most = "YY" }
leading_space = false
positions = ["YY = YY", "END = end"]
[placeholders]
NOUN = "nouns"
YY = "years"
[reference]
set = { YY = "01" }
[[families]]
name = "span"
templates = ["The [NOUN] lasted from 17[YY] to 17"]
[lists]
years = { from = 2, to = 8, digits = 2 }
all = { from = 0, to = 9, digits = 2 }
nouns = ["war", "siege"]
"#;

fn years_tokenizer() -> Tokenizer {
    let mut words = vec!["The", "war", "siege", "lasted", "from", "to", "17"];
    let numbers: Vec<String> = (0..10).map(|n| format!("{n:02}")).collect();
    words.extend(numbers.iter().map(String::as_str));
    tiny(&words)
}

#[test]
fn the_years_task_is_valid() {
    let task = Task::from_source("years.toml", YEARS).unwrap();
    assert_eq!(task.position_definition("YY").as_deref(), Some("YY = YY"));
    let tok = years_tokenizer();
    // 2 nouns × 7 years.
    let dataset = task.dataset(&tok, 14, 0).unwrap();
    let id = |word: &str| tok.single_token(word).unwrap();
    for (prompt, reference) in dataset.prompts.iter().zip(&dataset.reference) {
        let yy = word_at(&tok, prompt, "YY");
        let n: usize = yy.parse().unwrap();
        let above: Vec<u32> = (n + 1..10).map(|m| id(&format!("{m:02}"))).collect();
        let at_most: Vec<u32> = (0..=n).map(|m| id(&format!("{m:02}"))).collect();
        assert_eq!(prompt.answer, above, "{}", prompt.text);
        assert_eq!(prompt.distractor, at_most, "{}", prompt.text);
        assert_eq!(word_at(&tok, reference, "YY"), "01");
        assert_eq!(
            reference.text,
            prompt.text.replace(&format!("17{yy}"), "1701")
        );
    }
    let err = task.dataset(&tok, 15, 0).unwrap_err();
    assert!(
        matches!(err, TaskError::TooManyPrompts { available: 14, .. }),
        "{err:?}"
    );
}

#[test]
fn compared_answers_in_the_other_directions() {
    // `below` and `at_least` mirror `above` and `at_most`; word lists compare in their
    // written order; answers may follow a space.
    let text = r#"
name = "months"
metric = "probability-difference"
answer = { list = "months", at_least = "M" }
distractor = { list = "months", below = "M" }
positions = ["M = M", "END = end"]
[placeholders]
M = "summer"
[[families]]
name = "f"
templates = ["From [M] to"]
[lists]
months = ["May", "June", "July", "August"]
summer = ["June", "July"]
"#;
    let tok = tiny(&["From", "to", "May", "June", "July", "August"]);
    let dataset = Task::from_source("months.toml", text)
        .unwrap()
        .dataset(&tok, 2, 0)
        .unwrap();
    let ids = |words: &[&str]| -> Vec<u32> {
        words
            .iter()
            .map(|w| tok.single_token(&format!(" {w}")).unwrap())
            .collect()
    };
    let mut seen = BTreeSet::new();
    for prompt in &dataset.prompts {
        let month = word_at(&tok, prompt, "M");
        seen.insert(month.clone());
        let (answer, distractor) = match month.as_str() {
            " June" => (ids(&["June", "July", "August"]), ids(&["May"])),
            _ => (ids(&["July", "August"]), ids(&["May", "June"])),
        };
        assert_eq!(prompt.answer, answer, "{month}");
        assert_eq!(prompt.distractor, distractor, "{month}");
    }
    assert_eq!(seen.len(), 2);
}

/// A circuit names a task file by its path, relative to the circuit; `lint` shows the task
/// file's problems in the TOML.
#[test]
fn a_circuit_names_a_task_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("tasks")).unwrap();
    let task = dir.path().join("tasks/years.toml");
    std::fs::write(&task, YEARS).unwrap();
    let circuit = dir.path().join("years.circuit");
    std::fs::write(
        &circuit,
        "circuit years {\n  model gpt2-small\n  task \"tasks/years.toml\"\n}\n\n\
         class movers at END { 9.1 }\nclass early at YY { 5.1 }\n\n\
         edge early -> movers\nedge movers -> logits\n",
    )
    .unwrap();
    let circuit = circuit.to_str().unwrap();
    let run = circuitcheck(&["lint", circuit]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    std::fs::write(&task, YEARS.replace(r#"{ YY = "01" }"#, r#"{ YY = "1" }"#)).unwrap();
    let run = circuitcheck(&["lint", circuit]);
    assert_eq!(run.code, 1, "{}", run.transcript());
    for expected in [
        "task::invalid",
        "[reference] sets `YY` to \"1\", which list `all` does not hold",
        "years.toml:12:14",
        "circuit::task-invalid",
    ] {
        assert!(
            run.stderr.contains(expected),
            "{expected:?}: {}",
            run.stderr
        );
    }
}

/// `YEARS` with `from` replaced by `to` gives a `task::invalid` whose message contains
/// `message`, labelled at `label`, with a help line.
fn years_invalid(from: &str, to: &str, message: &str, label: &str) {
    let text = YEARS.replacen(from, to, 1);
    assert_ne!(text, YEARS, "{from:?} is not in YEARS");
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid", "{to}: {err}");
    assert!(err.to_string().contains(message), "{to}: {err}");
    assert_eq!(labelled(&err, &text), [label], "{to}: {err}");
    assert!(err.help().is_some(), "{to}: {err} has no help");
}

#[test]
fn bad_ranges() {
    let years = "years = { from = 2, to = 8, digits = 2 }";
    let empty = "years = { from = 8, to = 2, digits = 2 }";
    years_invalid(
        years,
        empty,
        "is empty: `from = 8` is above `to = 2`",
        &empty[8..],
    );
    let huge = "years = { from = 0, to = 4000000000 }";
    years_invalid(
        years,
        huge,
        "holds 4000000001 numbers; a list holds at most 100000",
        &huge[8..],
    );
    let narrow = "years = { from = 2, to = 100, digits = 2 }";
    years_invalid(
        years,
        narrow,
        "`digits = 2` is narrower than `to = 100`",
        &narrow[8..],
    );
    // A list compared with, checked as it is used.
    let all = "all = { from = 0, to = 9, digits = 2 }";
    let narrow = "all = { from = 0, to = 10, digits = 1 }";
    years_invalid(
        all,
        narrow,
        "`digits = 1` is narrower than `to = 10`",
        &narrow[6..],
    );
    // Without `digits`, numbers are written as they are.
    let text = YEARS.replace("{ from = 2, to = 8, digits = 2 }", "{ from = 2, to = 8 }");
    let err = Task::from_source("years.toml", &text).unwrap_err();
    assert!(err.to_string().contains("`YY` can be \"2\""), "{err}");
}

#[test]
fn lists_and_answers_of_the_wrong_shape() {
    for (from, to, message) in [
        (
            "years = { from = 2, to = 8, digits = 2 }",
            "years = 5",
            "an array of words or a range",
        ),
        ("digits = 2 }", "digit = 2 }", "unknown field `digit`"),
        (
            "answer = { list = \"all\", above = \"YY\" }",
            "answer = 5",
            "a placeholder (\"A\") or a comparison",
        ),
        (
            "above = \"YY\" }",
            "after = \"YY\" }",
            "unknown field `after`",
        ),
    ] {
        let text = YEARS.replacen(from, to, 1);
        let err = task_err(&text);
        assert_eq!(code(&err), "task::syntax", "{to}: {err}");
        assert!(err.to_string().contains(message), "{to}: {err}");
    }
}

#[test]
fn bad_compared_answers() {
    let answer = r#"answer = { list = "all", above = "YY" }"#;
    // A set of words where the metric compares one token with one.
    let logit = YEARS.replace("probability-difference", "logit-difference");
    let err = task_err(&logit);
    assert_eq!(code(&err), "task::invalid");
    assert!(
        err.to_string()
            .contains("`answer` is a set of words, but `logit-difference`"),
        "{err}"
    );
    assert_eq!(labelled(&err, &logit), [&answer[9..]]);
    assert!(
        err.help()
            .unwrap()
            .to_string()
            .contains("probability-difference")
    );
    // No comparison, or two.
    let none = r#"answer = { list = "all" }"#;
    years_invalid(answer, none, "`answer` gives 0 comparisons", &none[9..]);
    let two = r#"answer = { list = "all", above = "YY", below = "YY" }"#;
    years_invalid(answer, two, "`answer` gives 2 comparisons", &two[9..]);
    // A comparison with something that is not a placeholder, or from an unknown list.
    let q = r#"answer = { list = "all", above = "Q" }"#;
    years_invalid(
        answer,
        q,
        "`answer` compares with `Q` is not a placeholder",
        "\"Q\"",
    );
    let al = r#"distractor = { list = "al", at_most = "YY" }"#;
    years_invalid(
        r#"distractor = { list = "all", at_most = "YY" }"#,
        al,
        "`distractor` takes words from `al`, which is not in [lists]",
        "\"al\"",
    );
    // A compared list names each word once.
    let all = "all = { from = 0, to = 9, digits = 2 }";
    let twice = r#"all = ["00", "01", "02", "03", "02"]"#;
    years_invalid(all, twice, "has the word \"02\" twice", &twice[6..]);
    // Every word YY can be is in the list, and leaves a word on each side.
    let short = "all = { from = 3, to = 9, digits = 2 }";
    years_invalid(
        all,
        short,
        "`YY` can be \"02\", which list `all` does not hold",
        "\"all\"",
    );
    let ends = "all = { from = 0, to = 8, digits = 2 }";
    years_invalid(
        all,
        ends,
        "with `YY` = \"08\", `answer` holds no word",
        "\"all\"",
    );
    // The compared placeholder is in every template.
    let template = r#"templates = ["The [NOUN] lasted from 17[YY] to 17"]"#;
    let without =
        r#"templates = ["The [NOUN] lasted from 17[YY] to 17", "The [NOUN] lasted to 17"]"#;
    let text = YEARS.replace(template, without);
    let err = task_err(&text);
    assert!(
        err.to_string()
            .contains("template `span 2` has fewer than 1 `[YY]`"),
        "{err}"
    );
    assert_eq!(labelled(&err, &text), ["\"YY\""]);
    assert_eq!(
        err.labels().unwrap().next().unwrap().offset(),
        text.find("\"YY\"").unwrap()
    );
}

#[test]
fn bad_reference_sets() {
    let set = r#"set = { YY = "01" }"#;
    years_invalid(
        set,
        r#"set = { Q = "01" }"#,
        "[reference] sets `Q` is not a placeholder",
        "Q",
    );
    let both = "resample = [\"YY\"]\nset = { YY = \"01\" }";
    years_invalid(set, both, "[reference] both resamples and sets `YY`", "YY");
    years_invalid(
        set,
        r#"set = { YY = " 01" }"#,
        "sets `YY` to \" 01\", which is empty or has spaces",
        "\" 01\"",
    );
    years_invalid(
        set,
        r#"set = { YY = "" }"#,
        "which is empty or has spaces",
        "\"\"",
    );
    // The set word is compared like any word YY takes.
    years_invalid(
        set,
        r#"set = { YY = "1" }"#,
        "[reference] sets `YY` to \"1\", which list `all` does not hold",
        "\"1\"",
    );
    years_invalid(
        set,
        r#"set = { YY = "09" }"#,
        "with `YY` = \"09\", `answer` holds no word",
        "\"09\"",
    );
    // A set placeholder is in every template.
    let text = YEARS
        .replace("NOUN = \"nouns\"", "NOUN = \"nouns\"\nWHEN = \"nouns\"")
        .replace(set, r#"set = { WHEN = "war" }"#);
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid");
    assert!(err.to_string().contains("fewer than 1 `[WHEN]`"), "{err}");
    assert_eq!(labelled(&err, &text), ["WHEN"]);
    // An empty [reference] is no reference change at all.
    let text = YEARS
        .replace(set, "")
        .replace("from 17[YY]", "from 17[YY] in [NOUN]");
    assert!(Task::from_source("years.toml", &text).is_ok());
}

#[test]
fn set_words_and_bare_answers_must_be_single_tokens() {
    // A set word is checked where the templates put it: " truce" after a space.
    let text = YEARS.replace(
        r#"set = { YY = "01" }"#,
        r#"set = { YY = "01", NOUN = "truce" }"#,
    );
    let task = Task::from_source("years.toml", &text).unwrap();
    let err = task.dataset(&years_tokenizer(), 2, 0).unwrap_err();
    assert_eq!(code(&err), "task::multi-token", "{err}");
    assert_eq!(
        err.to_string(),
        "1 word(s) are not a single token: \" truce\""
    );
    // Answers without a leading space are checked without it: "00" is no token here.
    let task = Task::from_source("years.toml", YEARS).unwrap();
    let mut words = vec!["The", "war", "siege", "lasted", "from", "to", "17"];
    let numbers: Vec<String> = (1..10).map(|n| format!("{n:02}")).collect();
    words.extend(numbers.iter().map(String::as_str));
    let err = task.dataset(&tiny(&words), 2, 0).unwrap_err();
    assert_eq!(err.to_string(), "1 word(s) are not a single token: \"00\"");
    // With a leading space, " 00" and the other answers are what must be tokens.
    let spaced = YEARS.replace("leading_space = false", "leading_space = true");
    let task = Task::from_source("years.toml", &spaced).unwrap();
    let err = task.dataset(&tiny(&words), 2, 0).unwrap_err();
    assert!(err.to_string().starts_with("1 word(s)"), "{err}");
    assert!(err.to_string().ends_with("\" 00\""), "{err}");
}

// ── bad input: errors, never panics or runs without bound ───────────────────────────────

#[test]
fn a_family_without_templates() {
    let text = GOOD.replace(
        r#"templates = ["Then [A] and [B] went, [B] said to"]"#,
        "templates = []",
    );
    let err = task_err(&text);
    assert_eq!(code(&err), "task::invalid", "{err}");
    assert!(err.to_string().contains("has no templates"), "{err}");
    assert_eq!(labelled(&err, &text), ["[]"]);
}

#[test]
fn words_with_spaces_around_them() {
    for word in [" Mary", "Mary ", ""] {
        let text = GOOD.replacen("\"Mary\"", &format!("{word:?}"), 1);
        assert_ne!(text, GOOD);
        let err = task_err(&text);
        assert_eq!(code(&err), "task::invalid", "{err}");
        assert!(err.to_string().contains("spaces around it"), "{err}");
    }
}

#[test]
fn explicit_prompts_without_text_or_answers() {
    let base = r#"
name = "explicit"
metric = "logit-difference"
positions = ["END"]
[[prompts]]
text = "Then Mary and John went, John said to"
reference = "Then Alice and Bob went, Zoe said to"
answer = [" Mary"]
distractor = [" John"]
group = "g"
positions = { END = 8 }
"#;
    assert!(Task::from_source("explicit.toml", base).is_ok());
    let cases = [
        (
            "text = \"Then Mary and John went, John said to\"",
            "text = \"\"",
            "`text` is empty",
        ),
        (
            "reference = \"Then Alice and Bob went, Zoe said to\"",
            "reference = \" \"",
            "`reference` is empty",
        ),
        (
            "answer = [\" Mary\"]",
            "answer = []",
            "`answer` lists no token",
        ),
        (
            "distractor = [\" John\"]",
            "distractor = []",
            "`distractor` lists no token",
        ),
        (
            "answer = [\" Mary\"]",
            "answer = [\" Mary\", \" John\"]",
            "lists 2 tokens",
        ),
    ];
    for (from, to, message) in cases {
        let text = base.replace(from, to);
        let err = task_err(&text);
        assert_eq!(code(&err), "task::invalid", "{err}");
        assert!(err.to_string().contains(message), "{to}: {err}");
        assert_eq!(labelled(&err, &text), ["[[prompts]]"]);
    }
}

#[test]
fn explicit_prompts_of_one_group_share_their_layout() {
    let prompt = |text: &str, end: usize| {
        format!(
            "[[prompts]]\ntext = \"{text}\"\nreference = \"{text}\"\nanswer = [\" Mary\"]\n\
             distractor = [\" John\"]\ngroup = \"g\"\npositions = {{ END = {end} }}\n"
        )
    };
    let text = format!(
        "name = \"e\"\nmetric = \"logit-difference\"\npositions = [\"END\"]\n{}{}",
        prompt("Then Mary and John went, John said to", 8),
        prompt("Then Mary went, John said to", 6)
    );
    let err = Task::from_source("e.toml", &text)
        .unwrap()
        .dataset(&small_tokenizer(), 2, 0)
        .unwrap_err();
    assert_eq!(code(&err), "task::prompt", "{err}");
    assert!(err.to_string().contains("do not line up"), "{err}");
}

#[test]
fn position_offsets_that_overflow_are_refused() {
    for anchor in ["B+9223372036854775807", "B--5", "B+-1", "B+99999"] {
        let text = GOOD.replacen("= B#2\"", &format!("= {anchor}\""), 1);
        assert_ne!(text, GOOD, "{anchor}");
        let err = task_err(&text);
        assert_eq!(code(&err), "task::invalid", "{err}");
        assert!(err.to_string().contains("bad offset"), "{anchor}: {err}");
    }
}

#[test]
fn prompt_counts_are_bounded() {
    let task = Task::from_source("good.toml", GOOD).unwrap();
    for n in [0, 100_001, usize::MAX] {
        let err = task.dataset(&small_tokenizer(), n, 0).unwrap_err();
        assert_eq!(code(&err), "task::prompt-count", "{err}");
    }
    // `task show` of a built-in task with a million prompts used to run for hours.
    let dir = tempfile::tempdir().unwrap();
    circuitcheck::testing::write_tiny_tokenizer(dir.path(), &["Mary"]).unwrap();
    let run = circuitcheck(&[
        "task",
        "show",
        "ioi",
        "--n",
        "1000000",
        "--tokenizer",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("asked for 1000000 prompts; a dataset has 1 to 100000"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("ask for fewer prompts"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_prompt_the_tokenizer_makes_no_token_of() {
    // A BPE without a token for `b` (and no unknown token) drops it: the prompt would have
    // no last token to read the logits at.
    let tokenizer = Tokenizer::from_tokenizer_json_text(
        r#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#,
        std::path::Path::new("tokenizer.json"),
    )
    .unwrap();
    assert_eq!(tokenizer.encode("b").unwrap(), Vec::<u32>::new());
    let text = r#"
name = "e"
metric = "logit-difference"
positions = []
[[prompts]]
text = "b"
reference = "b"
answer = ["a"]
distractor = ["a"]
group = "g"
positions = {}
"#;
    let err = Task::from_source("e.toml", text)
        .unwrap()
        .dataset(&tokenizer, 1, 0)
        .unwrap_err();
    assert_eq!(code(&err), "task::prompt", "{err}");
    assert!(err.to_string().contains("makes no token"), "{err}");
}

#[test]
fn a_template_with_thousands_of_slots_makes_prompts_in_linear_time() {
    // Found by the fuzzer: each slot searched all tokens for its own, so 10,000 slots took
    // 2.5 s per prompt in a debug build (and a fuzzed task 3.9 s in release).
    let template = format!(
        "Then [A] and [B] went{}, [B] said to",
        " [B]".repeat(10_000)
    );
    let text = GOOD.replace("Then [A] and [B] went, [B] said to", &template);
    assert_ne!(text, GOOD);
    let dataset = Task::from_source("slots.toml", &text)
        .unwrap()
        .dataset(&small_tokenizer(), 4, 0)
        .unwrap();
    assert_eq!(dataset.prompts.len(), 4);
    assert!(dataset.prompts[0].tokens.len() > 10_000);
}
