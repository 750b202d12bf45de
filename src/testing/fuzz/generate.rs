//! Circuits generated from the grammar: every construct, with names, heads, positions and
//! numbers mostly plausible and sometimes not, so inputs get past the parser and exercise
//! the analyzer, the formatter and `extends`.

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;

const BASES: &[&str] = &[
    "ioi.circuit",
    "ioi-naive.circuit",
    "toy-induction.circuit",
    "fuzz.circuit",
    "missing.circuit",
];
const CLASSES: &[&str] = &[
    "a",
    "b",
    "c",
    "name_mover",
    "induction",
    "s_inhibition",
    "copy_after_match",
    "x_1",
];
const POSITIONS: &[&str] = &["IO", "S1", "S1+1", "S2", "END", "A1", "B2", "X", "S1-1"];
const METRICS: &[&str] = &[
    "faithfulness",
    "faithfulness_gap",
    "normalized_faithfulness",
    "incompleteness",
    "minimality",
    "unknown_metric",
];
const COMPARISONS: &[&str] = &[">=", "<=", ">", "<"];

/// Whitespace between tokens: mostly one space, sometimes line breaks, tabs or comments.
fn gap(rng: &mut ChaCha8Rng) -> &'static str {
    [" ", " ", " ", "  ", "\n  ", "\t", " # note\n", "\r\n"]
        .choose(rng)
        .expect("not empty")
}

fn head(rng: &mut ChaCha8Rng) -> String {
    let (layers, heads) = if rng.random_bool(0.9) {
        (12, 12)
    } else {
        (14, 14)
    };
    format!(
        "{}.{}",
        rng.random_range(0..layers),
        rng.random_range(0..heads)
    )
}

fn class(rng: &mut ChaCha8Rng) -> String {
    CLASSES.choose(rng).expect("not empty").to_string()
}

fn positions(rng: &mut ChaCha8Rng) -> String {
    if rng.random_bool(0.3) {
        return "all".into();
    }
    let count = rng.random_range(1..=3);
    // Mostly IOI's own positions.
    let known = if rng.random_bool(0.9) {
        5
    } else {
        POSITIONS.len()
    };
    let names: Vec<&str> = (0..count)
        .map(|_| *POSITIONS[..known].choose(rng).expect("not empty"))
        .collect();
    names.join(&format!(",{}", gap(rng)))
}

fn node(rng: &mut ChaCha8Rng, sending: bool) -> String {
    let base = match rng.random_range(0..10) {
        0 => "embed".to_string(),
        1 => "logits".to_string(),
        2..=4 => head(rng),
        _ => class(rng),
    };
    if !sending && rng.random_bool(0.3) {
        let channel = ["q", "k", "v"].choose(rng).expect("not empty");
        format!("{base}.{channel}")
    } else {
        base
    }
}

fn endpoints(rng: &mut ChaCha8Rng, sending: bool) -> String {
    let count = rng.random_range(1..=3);
    (0..count)
        .map(|_| node(rng, sending))
        .collect::<Vec<_>>()
        .join(&format!(",{}", gap(rng)))
}

fn number(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..10) {
        0 => "-1".into(),
        1 => format!("1{}", "0".repeat(rng.random_range(300..320))),
        2 => "0".into(),
        _ => format!("{}.{:02}", rng.random_range(0..3), rng.random_range(0..100)),
    }
}

fn metric(rng: &mut ChaCha8Rng) -> String {
    let name = METRICS.choose(rng).expect("not empty");
    if rng.random_bool(0.2) {
        format!("{name}({})", head(rng))
    } else {
        name.to_string()
    }
}

fn statement(rng: &mut ChaCha8Rng) -> String {
    match rng.random_range(0..12) {
        0..=2 => {
            let description = if rng.random_bool(0.3) {
                " \"A \\\"quoted\\\" description # not a comment\""
            } else {
                ""
            };
            let heads: Vec<String> = (0..rng.random_range(0..5)).map(|_| head(rng)).collect();
            format!(
                "class {}{description} at {} {{{}{}{}}}",
                class(rng),
                positions(rng),
                gap(rng),
                heads.join(gap(rng)),
                gap(rng)
            )
        }
        3..=4 => format!(
            "edge {}{}->{}{}",
            endpoints(rng, true),
            gap(rng),
            gap(rng),
            endpoints(rng, false)
        ),
        5 => match rng.random_range(0..3) {
            0 => "mlp none".into(),
            1 => format!("mlp all at {}", positions(rng)),
            _ => format!("mlp {} at {}", rng.random_range(0..14), positions(rng)),
        },
        6 => format!(
            "expect {} {} {}",
            metric(rng),
            COMPARISONS.choose(rng).expect("not empty"),
            number(rng)
        ),
        7 => {
            let members: Vec<String> = (0..rng.random_range(0..3))
                .map(|_| {
                    if rng.random_bool(0.5) {
                        head(rng)
                    } else {
                        class(rng)
                    }
                })
                .collect();
            format!("minimality {} given {{ {} }}", head(rng), members.join(" "))
        }
        8 => format!("remove class {}", class(rng)),
        9 => format!("remove head {}", head(rng)),
        10 => match rng.random_range(0..2) {
            0 => format!(
                "remove edge {} -> {}",
                endpoints(rng, true),
                endpoints(rng, false)
            ),
            _ => format!(
                "remove expect {} {}",
                metric(rng),
                COMPARISONS.choose(rng).expect("not empty")
            ),
        },
        _ => format!("add {} {} to {}", head(rng), head(rng), class(rng)),
    }
}

/// Classes with distinct names and heads in increasing layers, and edges that mostly go
/// forward between them: the statements of a circuit that may well be valid.
fn wired(rng: &mut ChaCha8Rng, induction: bool) -> Vec<String> {
    let mut names = CLASSES.to_vec();
    names.shuffle(rng);
    let count = rng.random_range(0..=5);
    let mut statements = Vec::new();
    let mut used = std::collections::BTreeSet::new();
    for (i, name) in names.iter().take(count).enumerate() {
        let mut heads = Vec::new();
        for _ in 0..rng.random_range(1..=3) {
            let head = if rng.random_bool(0.9) {
                let (layers, width) = if induction { (2, 4) } else { (12, 12) };
                let layer = (2 * i as u32 + rng.random_range(0..2)) % layers;
                format!("{layer}.{}", rng.random_range(0..width))
            } else {
                head(rng)
            };
            if used.insert(head.clone()) {
                heads.push(head);
            }
        }
        let at = if induction && rng.random_bool(0.8) {
            ["A2", "END", "B1", "all"]
                .choose(rng)
                .expect("not empty")
                .to_string()
        } else {
            positions(rng)
        };
        statements.push(format!("class {name} at {at} {{ {} }}", heads.join(" ")));
    }
    for _ in 0..rng.random_range(0..6) {
        if count == 0 || rng.random_bool(0.2) {
            statements.push(statement(rng));
            continue;
        }
        let from = rng.random_range(0..=count);
        let to = rng.random_range(from..=count);
        let sender = if from == 0 { "embed" } else { names[from - 1] };
        let receiver = if to == count || to == from {
            "logits".to_string()
        } else {
            let channel = [".q", ".k", ".v", ""].choose(rng).expect("not empty");
            format!("{}{channel}", names[to])
        };
        statements.push(format!("edge {sender} -> {receiver}"));
    }
    if count > 0 && rng.random_bool(0.3) {
        statements.push(format!(
            "expect {} {} {}",
            METRICS[..5].choose(rng).expect("not empty"),
            COMPARISONS.choose(rng).expect("not empty"),
            number(rng)
        ));
    }
    statements
}

/// One circuit file: a header (maybe extending a base), then statements, with comments.
pub fn circuit(rng: &mut ChaCha8Rng) -> String {
    let mut text = String::new();
    if rng.random_bool(0.3) {
        text.push_str("# a generated circuit\n");
    }
    text.push_str("circuit generated");
    let extends = rng.random_bool(0.3);
    if extends {
        text.push_str(&format!(
            " extends \"{}\"",
            BASES.choose(rng).expect("not empty")
        ));
    }
    text.push_str(" {\n");
    let induction = rng.random_bool(0.2);
    let mut settings: Vec<&str> = Vec::new();
    if !extends || rng.random_bool(0.3) {
        settings.push(if induction {
            "model toy-induction"
        } else {
            "model gpt2-small"
        });
        settings.push(if induction {
            "task induction"
        } else {
            "task ioi"
        });
    }
    if rng.random_bool(0.3) {
        settings.push(
            ["ablation mean", "ablation zero", "ablation nope"]
                .choose(rng)
                .expect("not empty"),
        );
    }
    if rng.random_bool(0.2) {
        settings.push(["level node", "level edge"].choose(rng).expect("not empty"));
    }
    if rng.random_bool(0.05) {
        settings.push("model gpt2-small");
    }
    settings.shuffle(rng);
    for setting in settings {
        text.push_str(&format!("  {setting}"));
        if rng.random_bool(0.1) {
            text.push_str("  # setting");
        }
        text.push('\n');
    }
    if rng.random_bool(0.1) {
        text.push_str("  # inside the header\n");
    }
    text.push_str("}\n");
    let mut statements = if rng.random_bool(0.7) {
        wired(rng, induction)
    } else {
        Vec::new()
    };
    for _ in 0..rng.random_range(0..if statements.is_empty() { 16 } else { 2 }) {
        statements.push(statement(rng));
    }
    statements.shuffle(rng);
    for (i, statement) in statements.iter().enumerate() {
        if rng.random_bool(0.15) {
            text.push_str(&format!("# before {i}\n"));
        }
        text.push_str(statement);
        if rng.random_bool(0.15) {
            text.push_str(&format!("  # after {i}"));
        }
        text.push_str(gap(rng).trim_end_matches([' ', '\t']));
        text.push('\n');
    }
    if rng.random_bool(0.1) {
        text.push_str("# the end\n");
    }
    text
}
