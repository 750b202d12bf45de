//! `fmt` is canonical, idempotent and never changes meaning. Checked on the repository's
//! circuits and on generated circuits written in many equivalent ways.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use circuitcheck::catalog::Catalog;
use circuitcheck::dsl::lexer::{TokenKind, lex};
use circuitcheck::dsl::{Circuit, Loader, format, parser};
use common::{Memory, circuitcheck};
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn format_text(text: &str) -> String {
    let source = miette::NamedSource::new("t.circuit", Arc::<str>::from(text));
    let file = parser::parse(&source).unwrap_or_else(|e| panic!("{e}\n{text}"));
    format::format(&file)
}

fn resolve(text: &str) -> Circuit {
    let memory = Memory::file("t.circuit", text);
    let env = Catalog;
    let mut loader = Loader::new(&env, &memory);
    let loaded = loader.load(Path::new("t.circuit"));
    let messages: Vec<String> = loaded.diagnostics.iter().map(|d| d.to_string()).collect();
    loaded
        .circuit
        .clone()
        .unwrap_or_else(|| panic!("{messages:?}\n{text}"))
}

/// Every comment of the text (a `#` outside a quoted description), counted.
fn comments(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for token in lex(text) {
        if token.kind == TokenKind::Comment {
            *out.entry(token.text(text).to_string()).or_default() += 1;
        }
    }
    out
}

#[test]
fn repository_circuits_are_formatted() {
    let run = circuitcheck(&[
        "fmt",
        "--check",
        "circuits/ioi.circuit",
        "circuits/ioi-naive.circuit",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

#[test]
fn check_reports_unformatted_files_and_fmt_fixes_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.circuit");
    let messy = "circuit x {\ntask ioi\n   model gpt2-small }\nclass b at END {9.9 9.6}\nclass a at S2 { 5.5 }\nedge a->b.q\n";
    std::fs::write(&path, messy).unwrap();
    let path_arg = path.to_str().unwrap();
    let run = circuitcheck(&["fmt", "--check", path_arg]);
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("not in canonical form"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        messy,
        "--check changes nothing"
    );

    let run = circuitcheck(&["fmt", path_arg]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let formatted = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        formatted,
        "circuit x {\n  model gpt2-small\n  task ioi\n}\n\nclass a at S2 { 5.5 }\nclass b at END { 9.6 9.9 }\n\nedge a -> b.q\n"
    );
    assert_eq!(circuitcheck(&["fmt", "--check", path_arg]).code, 0);
}

#[test]
fn syntax_errors_leave_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.circuit");
    std::fs::write(&path, "circuit x {\n}\nclass\n").unwrap();
    let run = circuitcheck(&["fmt", path.to_str().unwrap()]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("circuit::syntax"));
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "circuit x {\n}\nclass\n"
    );
}

#[test]
fn numbers_beyond_f64_are_refused_and_never_written_as_inf() {
    // `1e400` in digits used to read as infinity and be written back as `inf`, which the
    // grammar rejects: fmt broke a file lint had accepted.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.circuit");
    let text = format!(
        "circuit x {{\n  model gpt2-small\n  task ioi\n}}\n\nclass a at END {{ 9.9 }}\n\nexpect faithfulness >= 1{}\n",
        "0".repeat(400)
    );
    std::fs::write(&path, &text).unwrap();
    let lint = circuitcheck(&["lint", path.to_str().unwrap()]);
    assert_eq!(lint.code, 1, "{}", lint.stderr);
    assert!(
        lint.stderr.contains("circuit::bad-number"),
        "{}",
        lint.stderr
    );
    assert!(
        lint.stderr.contains("(401 digits) is too large"),
        "{}",
        lint.stderr
    );
    let run = circuitcheck(&["fmt", path.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("circuit::bad-number"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
    // The largest numbers that fit still round-trip.
    let fits = text.replace(
        &format!("1{}", "0".repeat(400)),
        &format!("1{}", "0".repeat(300)),
    );
    let formatted = format_text(&fits);
    assert!(!formatted.contains("inf"), "{formatted}");
    assert_eq!(resolve(&formatted), resolve(&fits));
}

/// An MLP sorts by its layer, after the heads of that layer; its edges regroup like heads'.
#[test]
fn mlp_edges_regroup_canonically() {
    let header = "circuit x {\n  model gpt2-small\n  task ioi\n}\nclass a at END { 3.3 }\nclass b at END { 9.9 }\n";
    let a = format!(
        "{header}edge mlp.3 -> logits\nedge mlp.1, a -> mlp.4\nedge mlp.3 -> b.q\nedge mlp.3 -> b.k, b.v\n\
         edge embed -> mlp.1\nedge a -> mlp.3\nedge mlp.4->mlp.10\n"
    );
    let b = format!(
        "{header}edge a, mlp.1 -> mlp.4\nedge a -> mlp.3\nedge embed -> mlp.1\n\
         edge mlp.3 -> b, logits\nedge mlp.4 -> mlp.10\n"
    );
    assert_eq!(resolve(&a), resolve(&b));
    let formatted = format_text(&a);
    assert_eq!(formatted, format_text(&b));
    assert!(
        formatted.ends_with(
            "\n\nedge embed -> mlp.1\nedge mlp.1, a -> mlp.4\nedge a -> mlp.3\n\
             edge mlp.3 -> b, logits\nedge mlp.4 -> mlp.10\n"
        ),
        "{formatted}"
    );
    assert_eq!(format_text(&formatted), formatted);
    assert_eq!(resolve(&formatted), resolve(&a));
}

#[test]
fn edges_regroup_canonically() {
    let a = "circuit x {\n  model gpt2-small\n  task ioi\n}\nclass s at END { 7.3 }\nclass n at END { 9.9 }\nclass b at END { 10.1 }\n\
             edge s -> n.q\nedge s -> n.k, n.v\nedge s -> b.q\nedge n, b -> logits\n";
    let b = "circuit x {\n  model gpt2-small\n  task ioi\n}\nclass b at END { 10.1 }\nclass n at END { 9.9 }\nclass s at END { 7.3 }\n\
             edge s -> b.q, n\nedge b -> logits\nedge n -> logits\n";
    assert_eq!(format_text(a), format_text(b));
    assert!(
        format_text(a).contains("edge s -> n, b.q\n"),
        "{}",
        format_text(a)
    );
}

// ── generated circuits ─────────────────────────────────────────────────────────────────

const POSITIONS: [&str; 5] = ["IO", "S1", "S1+1", "S2", "END"];
const NAMES: [&str; 6] = [
    "name_mover",
    "s_inhibition",
    "induction",
    "prev",
    "dup",
    "x1",
];
const DESCRIPTIONS: [&str; 3] = [
    "Name Movers",
    "with \"quotes\"",
    "back\\slash # not a comment",
];

/// (name, description, positions or `None` for all, heads)
type ClassSpec = (String, Option<String>, Option<Vec<String>>, Vec<(u32, u32)>);
/// (layers, positions or `None` for all)
type MlpSpec = (Vec<u32>, Option<Vec<String>>);

/// A circuit's meaning, generated: classes in layer bands so every forward edge is valid.
#[derive(Clone, Debug)]
struct Spec {
    classes: Vec<ClassSpec>,
    /// (sender class or None for embed, receiver class or None for logits, channels)
    edges: Vec<(Option<usize>, Option<usize>, Vec<char>)>,
    expects: Vec<(String, String, f64)>,
    minimality: Vec<((u32, u32), Vec<usize>)>,
    mlps: Option<Vec<MlpSpec>>,
    /// Edges with an MLP at one end or both, as written: (sender, receivers).
    mlp_edges: Vec<(String, Vec<String>)>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (1usize..=5, any::<u64>()).prop_map(|(n, seed)| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut classes = Vec::new();
        for (i, name) in NAMES.iter().enumerate().take(n) {
            let description = rng
                .random_bool(0.4)
                .then(|| DESCRIPTIONS[rng.random_range(0..3)].to_string());
            let positions = rng.random_bool(0.7).then(|| {
                let mut p: Vec<String> = POSITIONS
                    .iter()
                    .filter(|_| rng.random_bool(0.4))
                    .map(|s| s.to_string())
                    .collect();
                if p.is_empty() {
                    p.push("END".into());
                }
                p
            });
            let mut heads = BTreeSet::new();
            for _ in 0..rng.random_range(1..=4) {
                heads.insert((
                    2 * i as u32 + rng.random_range(0..2),
                    rng.random_range(0..12),
                ));
            }
            classes.push((
                name.to_string(),
                description,
                positions,
                heads.into_iter().collect::<Vec<_>>(),
            ));
        }
        let mut edges = Vec::new();
        for _ in 0..rng.random_range(0..6) {
            let from = rng.random_range(0..=n);
            let from = (from < n).then_some(from);
            let lowest = from.map_or(0, |f| f + 1);
            if lowest > n {
                continue;
            }
            let to = rng.random_range(lowest..=n);
            let to = (to < n).then_some(to);
            let channels = if to.is_none() {
                vec![]
            } else {
                ['q', 'k', 'v']
                    .into_iter()
                    .filter(|_| rng.random_bool(0.6))
                    .collect()
            };
            edges.push((from, to, channels));
        }
        let mut expects = Vec::new();
        for metric in [
            "faithfulness",
            "incompleteness",
            "minimality",
            "faithfulness_gap",
        ] {
            if rng.random_bool(0.5) {
                let op = [">=", "<=", ">", "<"][rng.random_range(0..4)];
                expects.push((
                    metric.to_string(),
                    op.to_string(),
                    rng.random_range(0..1000) as f64 / 100.0,
                ));
            }
        }
        if rng.random_bool(0.3) {
            let (l, h) = classes[0].3[0];
            expects.push((format!("minimality({l}.{h})"), ">=".into(), 0.02));
        }
        let mut minimality = Vec::new();
        if rng.random_bool(0.5) {
            let class = rng.random_range(0..n);
            let head = classes[class].3[0];
            minimality.push((head, (0..n).filter(|_| rng.random_bool(0.5)).collect()));
        }
        let mlps = rng.random_bool(0.3).then(|| {
            (0..rng.random_range(0..3))
                .map(|_| {
                    let layers: Vec<u32> = (0..rng.random_range(1..4))
                        .map(|_| rng.random_range(0..12))
                        .collect();
                    (
                        layers,
                        rng.random_bool(0.5)
                            .then(|| vec!["END".to_string(), "S2".to_string()]),
                    )
                })
                .collect()
        });
        let mlp_edges = mlp_edges(&mut rng, &classes, mlps.as_ref());
        Spec {
            classes,
            edges,
            expects,
            minimality,
            mlps,
            mlp_edges,
        }
    })
}

/// Edges from and to MLPs the circuit keeps (any, or the listed ones), going forward: class
/// i has heads in layers 2i and 2i + 1.
fn mlp_edges(
    rng: &mut ChaCha8Rng,
    classes: &[ClassSpec],
    mlps: Option<&Vec<MlpSpec>>,
) -> Vec<(String, Vec<String>)> {
    let kept: Vec<u32> = match mlps {
        None => (0..12).collect(),
        Some(listed) => listed
            .iter()
            .flat_map(|(layers, _)| layers.clone())
            .collect(),
    };
    let mut out = Vec::new();
    if kept.is_empty() {
        return out;
    }
    for _ in 0..rng.random_range(0..4) {
        let layer = kept[rng.random_range(0..kept.len())];
        let mlp = format!("mlp.{layer}");
        // Into the MLP: the embeddings, a class wholly at or below its layer, a lower MLP.
        let mut senders = vec!["embed".to_string()];
        senders.extend(
            classes
                .iter()
                .enumerate()
                .filter(|(i, _)| 2 * *i as u32 + 1 <= layer)
                .map(|(_, class)| class.0.clone()),
        );
        senders.extend(
            kept.iter()
                .filter(|l| **l < layer)
                .map(|l| format!("mlp.{l}")),
        );
        let sender = senders[rng.random_range(0..senders.len())].clone();
        out.push((sender, vec![mlp.clone()]));
        // Out of it: the logits, classes wholly above it (on a channel or all), higher MLPs.
        let mut receivers = vec!["logits".to_string()];
        for (i, class) in classes.iter().enumerate() {
            if 2 * i as u32 > layer {
                let channel = ["", ".q", ".k", ".v"][rng.random_range(0..4)];
                receivers.push(format!("{}{channel}", class.0));
            }
        }
        receivers.extend(
            kept.iter()
                .filter(|l| **l > layer)
                .map(|l| format!("mlp.{l}")),
        );
        let picked: Vec<String> = receivers
            .iter()
            .filter(|_| rng.random_bool(0.5))
            .cloned()
            .collect();
        if !picked.is_empty() {
            out.push((mlp, picked));
        }
    }
    out
}

/// Writes `spec` as text, in an order and layout chosen by `seed`.
fn render(spec: &Spec, seed: u64, with_comments: bool) -> String {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let gap = |rng: &mut ChaCha8Rng| [" ", "  ", "\n  ", "\t"][rng.random_range(0..4)].to_string();
    let mut statements: Vec<String> = Vec::new();
    for (name, description, positions, heads) in &spec.classes {
        let mut heads = heads.clone();
        heads.shuffle(&mut rng);
        let heads: Vec<String> = heads.iter().map(|(l, h)| format!("{l}.{h}")).collect();
        let positions = match positions {
            None => "all".to_string(),
            Some(p) => {
                let mut p = p.clone();
                p.shuffle(&mut rng);
                p.join(&format!(",{}", gap(&mut rng)))
            }
        };
        let description = description
            .as_ref()
            .map(|d| format!(" \"{}\"", d.replace('\\', "\\\\").replace('"', "\\\"")))
            .unwrap_or_default();
        statements.push(format!(
            "class {name}{description} at {positions} {{{}{}{}}}",
            gap(&mut rng),
            heads.join(&gap(&mut rng)),
            gap(&mut rng)
        ));
    }
    let node =
        |i: &Option<usize>, end: &str| i.map_or(end.to_string(), |i| spec.classes[i].0.clone());
    for (from, to, channels) in &spec.edges {
        let to_name = node(to, "logits");
        let bare = to.is_none() || (channels.len() == 3 && rng.random_bool(0.5));
        let targets: Vec<String> = if bare {
            vec![to_name.clone()]
        } else if channels.is_empty() {
            continue;
        } else {
            channels.iter().map(|c| format!("{to_name}.{c}")).collect()
        };
        if rng.random_bool(0.5) {
            statements.push(format!(
                "edge {}{}->{}{}",
                node(from, "embed"),
                gap(&mut rng),
                gap(&mut rng),
                targets.join(", ")
            ));
        } else {
            for target in targets {
                statements.push(format!("edge {} -> {target}", node(from, "embed")));
            }
        }
    }
    for (sender, receivers) in &spec.mlp_edges {
        if rng.random_bool(0.5) {
            statements.push(format!("edge {sender} -> {}", receivers.join(", ")));
        } else {
            for receiver in receivers {
                statements.push(format!("edge {sender} ->{}{receiver}", gap(&mut rng)));
            }
        }
    }
    for (metric, op, value) in &spec.expects {
        statements.push(format!("expect {metric} {op} {value:?}"));
    }
    for ((l, h), given) in &spec.minimality {
        let members: Vec<String> = given.iter().map(|i| spec.classes[*i].0.clone()).collect();
        statements.push(format!(
            "minimality {l}.{h} given {{ {} }}",
            members.join(" ")
        ));
    }
    if let Some(mlps) = &spec.mlps {
        if mlps.is_empty() {
            statements.push("mlp none".into());
        }
        for (layers, positions) in mlps {
            let layers: Vec<String> = layers.iter().map(|l| l.to_string()).collect();
            let positions = positions
                .as_ref()
                .map_or("all".to_string(), |p| p.join(", "));
            statements.push(format!("mlp {} at {positions}", layers.join(" ")));
        }
    }
    statements.shuffle(&mut rng);
    let mut settings = ["model gpt2-small".to_string(), "task ioi".to_string()];
    settings.shuffle(&mut rng);
    let mut text = String::new();
    if with_comments {
        text.push_str("# generated\n");
    }
    text.push_str(&format!(
        "circuit gen {{{}{}\n}}\n",
        gap(&mut rng),
        settings.join("\n")
    ));
    for (i, statement) in statements.iter().enumerate() {
        if with_comments && rng.random_bool(0.3) {
            text.push_str(&format!("# note {i}\n"));
        }
        text.push_str(statement);
        if with_comments && rng.random_bool(0.2) {
            text.push_str(&format!("  # trailing {i}"));
        }
        text.push('\n');
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn fmt_keeps_meaning_and_comments_and_is_idempotent(spec in spec(), seed in any::<u64>()) {
        let text = render(&spec, seed, true);
        let formatted = format_text(&text);
        prop_assert_eq!(resolve(&formatted), resolve(&text));
        prop_assert_eq!(comments(&formatted), comments(&text), "{}\n---\n{}", text, formatted);
        prop_assert_eq!(format_text(&formatted), formatted);
    }

    #[test]
    fn same_meaning_formats_to_same_text(spec in spec(), a in any::<u64>(), b in any::<u64>()) {
        prop_assert_eq!(format_text(&render(&spec, a, false)), format_text(&render(&spec, b, false)));
    }
}
