//! `circuitcheck import` and `export`: EAP-IG's graph files (the MIB circuit track's format)
//! to circuits and back. Graph files are generated here, over the full graph of a shape.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use circuitcheck::graph::eap::{GraphEdge, Shape};
use serde_json::{Value, json};

use crate::common::{Run, circuitcheck};

const GPT2_SMALL: Shape = Shape {
    layers: 12,
    heads: 12,
    parallel_attn_mlp: false,
};

const TOY: Shape = Shape {
    layers: 2,
    heads: 4,
    parallel_attn_mlp: false,
};

/// A graph file of `shape`: every edge listed, those of `in_graph` marked, scores as given
/// (0 otherwise); a node is in the graph when one of its marked edges touches it.
fn graph_file(shape: Shape, d_model: u64, in_graph: &[&str], scores: &[(&str, f64)]) -> Value {
    let marked: BTreeSet<&str> = in_graph.iter().copied().collect();
    let scores: BTreeMap<&str, f64> = scores.iter().copied().collect();
    let mut touched = BTreeSet::new();
    let mut edges = serde_json::Map::new();
    for edge in shape.edges() {
        let name = edge.to_string();
        if marked.contains(name.as_str()) {
            touched.extend([edge.from.to_string(), edge.to.to_string()]);
        }
        let score = scores.get(name.as_str()).copied().unwrap_or(0.0);
        edges.insert(
            name.clone(),
            json!({"score": score, "in_graph": marked.contains(name.as_str())}),
        );
    }
    assert_eq!(edges.len(), shape.edges().len());
    for name in &marked {
        assert!(edges.contains_key(*name), "{name} is an edge of the shape");
    }
    let nodes: serde_json::Map<String, Value> = shape
        .components()
        .iter()
        .map(|c| {
            let name = c.to_string();
            let in_graph = touched.contains(&name) || name == "logits";
            (name, json!({"in_graph": in_graph}))
        })
        .collect();
    json!({
        "cfg": {"n_layers": shape.layers, "n_heads": shape.heads,
                "parallel_attn_mlp": shape.parallel_attn_mlp, "d_model": d_model},
        "nodes": nodes,
        "edges": edges,
    })
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn run(args: &[&Path]) -> Run {
    let args: Vec<&str> = args.iter().map(|a| a.to_str().unwrap()).collect();
    circuitcheck(&args)
}

fn p(text: &str) -> &Path {
    Path::new(text)
}

/// The edges a graph file marks in_graph.
fn marked_edges(graph: &Value) -> BTreeSet<String> {
    graph["edges"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, e)| e["in_graph"] == true)
        .map(|(name, _)| name.clone())
        .collect()
}

#[test]
fn the_full_graph_of_gpt2_small_has_158_nodes_and_32491_edges() {
    assert_eq!(GPT2_SMALL.components().len(), 158);
    let names: BTreeSet<String> = GPT2_SMALL
        .edges()
        .iter()
        .map(GraphEdge::to_string)
        .collect();
    assert_eq!(GPT2_SMALL.edges().len(), 32_491);
    assert_eq!(names.len(), 32_491, "no edge twice");
    for name in [
        "a0.h1->a5.h5<k>",
        "m3->a7.h2<q>",
        "a2.h3->m2",
        "input->m0",
        "m11->logits",
        "input->logits",
    ] {
        assert!(names.contains(name), "{name}");
    }
    for absent in [
        "a2.h3->a2.h4<q>",
        "m2->a2.h0<q>",
        "m2->m2",
        "a0.h0->logits<q>",
    ] {
        assert!(!names.contains(absent), "{absent}");
    }
    // Parallel attention and MLP (GPT-NeoX): an MLP does not read its own layer's 12 heads.
    let parallel = Shape {
        parallel_attn_mlp: true,
        ..GPT2_SMALL
    };
    let names: BTreeSet<String> = parallel.edges().iter().map(GraphEdge::to_string).collect();
    assert_eq!(names.len(), 32_491 - 12 * 12);
    assert!(!names.contains("a2.h3->m2") && names.contains("a1.h3->m2"));
}

#[test]
fn export_writes_the_models_full_graph_with_the_circuit_in_it() {
    let run = circuitcheck(&["export", "circuits/ioi.circuit", "--format", "eap-json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let graph: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        graph["cfg"],
        json!({"n_layers": 12, "n_heads": 12, "parallel_attn_mlp": false, "d_model": 768})
    );
    assert_eq!(graph["nodes"].as_object().unwrap().len(), 158);
    assert_eq!(graph["edges"].as_object().unwrap().len(), 32_491);
    assert_eq!(
        graph["nodes"]["a9.h9"],
        json!({"in_graph": true, "class": "name_mover"})
    );
    assert_eq!(graph["nodes"]["a0.h0"], json!({"in_graph": false}));
    assert_eq!(graph["nodes"]["m4"], json!({"in_graph": true}));
    // Level node: every edge among the 26 heads, the 12 MLPs, the input and the logits.
    let edge = |name: &str| graph["edges"][name]["in_graph"].as_bool().unwrap();
    assert!(edge("a0.h1->a5.h5<k>") && edge("m3->a7.h3<q>") && edge("a9.h9->logits"));
    assert!(edge("input->a0.h1<q>") && edge("a0.h1->m0") && edge("input->logits"));
    assert!(!edge("a0.h0->logits") && !edge("a0.h1->a5.h4<q>"));
    let heads = 26;
    let expected = complete_edges(&GPT2_SMALL, &ioi_heads(), 12);
    assert_eq!(marked_edges(&graph).len(), expected, "{heads} heads");
    assert!(
        graph["edges"]
            .as_object()
            .unwrap()
            .values()
            .all(|e| e["score"] == 0.0)
    );
    assert!(run.stderr.contains(
        "warning: class duplicate_token acts at S2 only; the graph format has no positions, so it is exported as kept at every position"
    ), "{}", run.stderr);
}

fn ioi_heads() -> Vec<(u32, u32)> {
    vec![
        (0, 1),
        (0, 10),
        (3, 0),
        (2, 2),
        (4, 11),
        (5, 5),
        (5, 8),
        (5, 9),
        (6, 9),
        (7, 3),
        (7, 9),
        (8, 6),
        (8, 10),
        (9, 0),
        (9, 7),
        (10, 1),
        (10, 2),
        (10, 6),
        (10, 10),
        (11, 2),
        (11, 9),
        (9, 6),
        (9, 9),
        (10, 0),
        (10, 7),
        (11, 10),
    ]
}

/// Edges among the input, these heads, every MLP (of a sequential model) and the logits,
/// counted from the definition: a head reads the layers below, an MLP also its own heads.
fn complete_edges(shape: &Shape, heads: &[(u32, u32)], _mlps: u32) -> usize {
    let per_layer = |layer: u32| heads.iter().filter(|h| h.0 == layer).count();
    let mut total = 0;
    let mut written = 1; // the input
    for layer in 0..shape.layers {
        total += 3 * per_layer(layer) * written; // into this layer's heads
        written += per_layer(layer);
        total += written; // into this layer's MLP
        written += 1;
    }
    total + written // into the logits
}

/// Circuits at all positions, exported and imported: the same circuit.
#[test]
fn import_of_an_export_is_the_same_circuit() {
    let ioi_classes = "
class duplicate_token at all { 0.1 0.10 3.0 }
class previous_token at all { 2.2 4.11 }
class induction at all { 5.5 5.8 5.9 6.9 }
class s_inhibition at all { 7.3 7.9 8.6 8.10 }
class backup_name_mover at all { 9.0 9.7 10.1 10.2 10.6 10.10 11.2 11.9 }
class name_mover at all { 9.6 9.9 10.0 }
class negative_name_mover at all { 10.7 11.10 }
";
    let ioi_edges = "
edge embed -> duplicate_token, previous_token, induction, s_inhibition, backup_name_mover.k, backup_name_mover.v, name_mover.k, name_mover.v, negative_name_mover.k, negative_name_mover.v
edge duplicate_token, induction -> s_inhibition.v
edge previous_token -> induction.k
edge s_inhibition -> backup_name_mover.q, name_mover.q, negative_name_mover.q
edge backup_name_mover, name_mover, negative_name_mover -> logits
";
    let header = |level: &str| {
        format!("circuit ioi {{\n  model gpt2-small\n  task ioi\n  level {level}\n}}\n")
    };
    let circuits = [
        // Edge level, channels, no MLP.
        format!("{}mlp none\n{ioi_classes}{ioi_edges}", header("edge")),
        // Edge level, every MLP (the default), and edges of single heads.
        format!(
            "{}{ioi_classes}{ioi_edges}edge 5.5 -> 9.9.q, logits\nedge embed -> 10.7.q\n",
            header("edge")
        ),
        // Edge level with some MLPs.
        format!(
            "{}mlp 0 5 11 at all\n{ioi_classes}{ioi_edges}",
            header("edge")
        ),
        // Node level, every MLP, and some MLPs.
        format!("{}{ioi_classes}", header("node")),
        format!("{}mlp 1 2 at all\n{ioi_classes}", header("node")),
        // MLPs named in edges (wired) beside unwired ones.
        format!(
            "{}mlp 0 2 5 11 at all\n{ioi_classes}{ioi_edges}\
             edge embed -> mlp.0\nedge mlp.0 -> induction.v\nedge 2.2 -> mlp.2\n\
             edge mlp.2 -> mlp.11\nedge mlp.11 -> logits\n",
            header("edge")
        ),
        // The toy model, at edge level.
        "circuit toy {\n  model toy-induction\n  task induction\n  level edge\n}\n\
         mlp none\n\
         class copy at all { 0.0 0.1 0.2 }\nclass weak_copy at all { 0.3 }\n\
         edge embed -> copy, weak_copy\nedge copy, weak_copy -> logits\n"
            .to_string(),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, circuit) in circuits.iter().enumerate() {
        let original = write(dir.path(), &format!("c{i}.circuit"), circuit);
        let exported = dir.path().join(format!("c{i}.json"));
        let reimported = dir.path().join(format!("back{i}.circuit"));
        let run_export = run(&[
            p("export"),
            &original,
            p("--format"),
            p("eap-json"),
            p("-o"),
            &exported,
        ]);
        assert_eq!(run_export.code, 0, "{circuit}\n{}", run_export.stderr);
        let task = if circuit.contains("toy") {
            "induction"
        } else {
            "ioi"
        };
        let run_import = run(&[
            p("import"),
            &exported,
            p("--task"),
            p(task),
            p("-o"),
            &reimported,
        ]);
        assert_eq!(run_import.code, 0, "{circuit}\n{}", run_import.stderr);
        let back = std::fs::read_to_string(&reimported).unwrap();
        let diff = run(&[p("diff"), &original, &reimported]);
        assert_eq!(
            diff.code, 0,
            "{circuit}\nimported as\n{back}\n{}",
            diff.stdout
        );
        // And the import's own export is the same file.
        let again = run(&[p("export"), &reimported, p("--format"), p("eap-json")]);
        assert_eq!(again.stdout, std::fs::read_to_string(&exported).unwrap());
    }
}

/// A toy-shaped graph file (2 layers of 4 heads, toy-induction's) in a directory of its own.
fn toy_file(dir: &Path, name: &str, graph: &Value) -> PathBuf {
    write(dir, name, &graph.to_string())
}

fn import_toy(graph: &Value, extra: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let file = toy_file(dir.path(), "graph.json", graph);
    let mut args = vec![p("import"), file.as_path(), p("--task"), p("induction")];
    args.extend(extra.iter().map(|a| p(a)));
    run(&args)
}

const SMALL_CIRCUIT: [&str; 7] = [
    "input->a0.h0<v>",
    "input->a0.h1<v>",
    "a0.h0->logits",
    "a0.h1->logits",
    "a0.h0->a1.h2<k>",
    "a0.h1->a1.h2<k>",
    "a1.h2->logits",
];

const SMALL_SCORES: [(&str, f64); 8] = [
    ("input->a0.h0<v>", 0.42),
    ("input->a0.h1<v>", 0.4),
    ("a0.h0->logits", 1.25),
    ("a0.h1->logits", 0.98),
    ("a0.h0->a1.h2<k>", 0.3),
    ("a0.h1->a1.h2<k>", 0.2),
    ("a1.h2->logits", 0.75),
    ("input->a1.h3<q>", -2.5),
];

#[test]
fn import_prints_a_small_circuit_exactly() {
    let graph = graph_file(TOY, 64, &SMALL_CIRCUIT, &SMALL_SCORES);
    let run = import_toy(&graph, &[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "\
# Imported from graph.json (EAP-IG graph): the edges marked in_graph.
circuit graph {
  model toy-induction
  task induction
  level edge
}

mlp none

class l0_to_logits_k at all { 0.0 0.1 }
class l1_to_logits at all { 1.2 }

edge embed -> l0_to_logits_k.v  # 2 edges, scores 0.4 to 0.42
edge l0_to_logits_k -> l1_to_logits.k  # 2 edges, scores 0.2 to 0.3
edge l0_to_logits_k, l1_to_logits -> logits  # 3 edges, scores 0.75 to 1.25
"
    );
    assert_eq!(run.stderr, "");
}

/// The edges of an imported circuit, read back through its export.
fn edges_of(circuit: &str, dir: &Path) -> BTreeSet<String> {
    let path = write(dir, "imported.circuit", circuit);
    let exported = run(&[p("export"), &path, p("--format"), p("eap-json")]);
    assert_eq!(exported.code, 0, "{circuit}\n{}", exported.stderr);
    marked_edges(&serde_json::from_str(&exported.stdout).unwrap())
}

#[test]
fn top_n_and_thresholds_rank_signed_or_absolute_scores() {
    let dir = tempfile::tempdir().unwrap();
    let graph = graph_file(TOY, 64, &SMALL_CIRCUIT, &SMALL_SCORES);
    let cases: [(&[&str], &[&str], &str); 5] = [
        (
            &["--top", "2"],
            &["a0.h0->logits", "a0.h1->logits"],
            "the top 2 edges by score",
        ),
        (
            &["--top", "2", "--absolute"],
            &["input->a1.h3<q>", "a0.h0->logits"],
            "the top 2 edges by |score|",
        ),
        (
            &["--min-score", "0.75"],
            &["a0.h0->logits", "a0.h1->logits", "a1.h2->logits"],
            "the edges with score >= 0.75",
        ),
        (
            &["--min-score", "0.9", "--absolute"],
            &["input->a1.h3<q>", "a0.h0->logits", "a0.h1->logits"],
            "the edges with |score| >= 0.9",
        ),
        (&["--min-score", "-3"], &[], "the edges with score >= -3"),
    ];
    for (flags, expected, described) in cases {
        let run = import_toy(&graph, flags);
        assert_eq!(run.code, 0, "{flags:?}: {}", run.stderr);
        assert!(
            run.stdout.starts_with(&format!(
                "# Imported from graph.json (EAP-IG graph): {described}.\n"
            )),
            "{}",
            run.stdout
        );
        let edges = edges_of(&run.stdout, dir.path());
        if expected.is_empty() {
            // Every edge scores at least -3: all of the toy's 12 + 40 + ... edges, MLPs whole.
            assert_eq!(edges.len(), TOY.edges().len(), "{}", run.stdout);
            assert!(run.stdout.contains("level node"), "{}", run.stdout);
        } else {
            let expected: BTreeSet<String> = expected.iter().map(|e| e.to_string()).collect();
            assert_eq!(edges, expected, "{flags:?}\n{}", run.stdout);
        }
    }
}

#[test]
fn import_refuses_what_it_cannot_represent_naming_it() {
    let base = graph_file(TOY, 64, &SMALL_CIRCUIT, &SMALL_SCORES);
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut graph = base.clone();
        edit(&mut graph);
        graph
    };
    let cases: Vec<(Value, Vec<&str>, &str)> = vec![
        (
            with(&|g| g["nodes"]["a2.h0"] = json!({"in_graph": false})),
            vec![],
            "unknown node `a2.h0`: outside the graph's 2 layers of 4 heads",
        ),
        (
            with(&|g| g["edges"]["a1.h0->a0.h2<q>"] = json!({"score": 0.0, "in_graph": false})),
            vec![],
            "unknown edge `a1.h0->a0.h2<q>`: `a0.h2` does not read what `a1.h0` writes",
        ),
        (
            with(&|g| g["edges"]["a0.h0->a1.h2"] = json!({"score": 0.0, "in_graph": true})),
            vec![],
            "unknown edge `a0.h0->a1.h2`: a channel <q>, <k> or <v> goes after a receiving head, and only there",
        ),
        (
            base.clone(),
            vec!["--model", "gpt2-small"],
            "the graph's cfg (2 layers of 4 heads, d_model 64) does not match gpt2-small (12 layers of 12 heads, d_model 768)",
        ),
        (
            with(&|g| g["nodes"]["a0.h0"]["neurons"] = json!([true, false, true])),
            vec![],
            "node `a0.h0` keeps 2 of its 3 neurons: a neuron-level circuit",
        ),
        (
            with(&|g| g["nodes"]["a1.h1"]["in_graph"] = json!(true)),
            vec![],
            "node `a1.h1` is in the graph, but none of its edges is",
        ),
        (
            base.clone(),
            vec!["--top", "1000"],
            "asked for the top 1000 edges, but the graph has only 110 scored edges",
        ),
        (
            base.clone(),
            vec!["--min-score", "10"],
            "no edge selected: no edge scores 10 or more",
        ),
    ];
    for (graph, flags, expected) in cases {
        let run = import_toy(&graph, &flags);
        assert_eq!(run.code, 2, "{expected}\n{}", run.stdout);
        // miette wraps long messages; compare without the wrapping.
        let squeeze = |text: &str| text.replace("│", "").split_whitespace().collect::<String>();
        assert!(
            squeeze(&run.stderr).contains(&squeeze(expected)),
            "{expected}\n{}",
            run.stderr
        );
        assert!(run.stderr.contains("cannot be imported"), "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
}

#[test]
fn import_says_what_it_needs_to_know() {
    let dir = tempfile::tempdir().unwrap();
    let toy = toy_file(
        dir.path(),
        "toy.json",
        &graph_file(TOY, 64, &SMALL_CIRCUIT, &[]),
    );
    let no_task = run(&[p("import"), &toy]);
    assert_eq!(no_task.code, 2);
    assert!(no_task.stderr.starts_with(
        "error: a graph file does not say which task its circuit is for: give --task NAME or --task FILE.toml (built in: "
    ), "{}", no_task.stderr);

    let pythia = Shape {
        layers: 6,
        heads: 8,
        parallel_attn_mlp: true,
    };
    let ambiguous = toy_file(
        dir.path(),
        "pythia.json",
        &graph_file(pythia, 512, &["a0.h0->logits"], &[]),
    );
    let run_ambiguous = run(&[p("import"), &ambiguous, p("--task"), p("ioi")]);
    assert_eq!(run_ambiguous.code, 2);
    assert_eq!(
        run_ambiguous.stderr,
        "error: the graph's shape (6 layers of 8 heads, d_model 512, parallel attention and MLP) fits several models: pythia-70m, pythia-70m-deduped; say which with --model\n"
    );
    let chosen = run(&[
        p("import"),
        &ambiguous,
        p("--task"),
        p("ioi"),
        p("--model"),
        p("pythia-70m-deduped"),
    ]);
    assert_eq!(chosen.code, 0, "{}", chosen.stderr);
    assert!(chosen.stdout.contains("model pythia-70m-deduped"));

    let odd = Shape {
        layers: 3,
        heads: 3,
        parallel_attn_mlp: false,
    };
    let unknown = toy_file(
        dir.path(),
        "odd.json",
        &graph_file(odd, 30, &["a0.h0->logits"], &[]),
    );
    let run_unknown = run(&[p("import"), &unknown, p("--task"), p("ioi")]);
    assert_eq!(run_unknown.code, 2);
    assert!(run_unknown.stderr.starts_with(
        "error: no known model has the graph's shape (3 layers of 3 heads, d_model 30); known models: gpt2-small, "
    ), "{}", run_unknown.stderr);

    let not_json = write(dir.path(), "bad.json", "{\"cfg\": ");
    let run_bad = run(&[p("import"), &not_json, p("--task"), p("ioi")]);
    assert_eq!(run_bad.code, 2);
    assert!(run_bad.stderr.contains("eap::syntax"), "{}", run_bad.stderr);
}

/// A discovered-looking circuit on GPT-2 small: the IOI wiring with irregular extras, its
/// scores made up. Heads come back grouped by layer and role, the edges exactly.
#[test]
fn classes_group_heads_by_layer_and_role_and_keep_the_edges_exact() {
    let mut marked: Vec<String> = Vec::new();
    let movers = ["a9.h6", "a9.h9", "a10.h0"];
    let inhibition = ["a7.h3", "a7.h9", "a8.h6", "a8.h10"];
    let induction = ["a5.h5", "a5.h8", "a6.h9"];
    for mover in movers {
        marked.push(format!("{mover}->logits"));
        for s in inhibition {
            marked.push(format!("{s}->{mover}<q>"));
        }
        marked.push(format!("input->{mover}<k>"));
        marked.push(format!("input->{mover}<v>"));
    }
    for s in inhibition {
        for i in induction {
            marked.push(format!("{i}->{s}<v>"));
        }
    }
    for i in induction {
        marked.push(format!("a4.h11->{i}<k>"));
        marked.push(format!("input->{i}<q>"));
    }
    marked.push("input->a4.h11<q>".into());
    // Irregular: one inhibition head also read by the logits, two movers not reading embed's v.
    marked.push("a8.h10->logits".into());
    marked.retain(|e| e != "input->a10.h0<v>" && e != "input->a9.h6<v>");
    let names: Vec<&str> = marked.iter().map(String::as_str).collect();
    let scores: Vec<(&str, f64)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| (*name, ((i * 37 % 101) as f64 - 20.0) / 100.0))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "ioi-eap.json",
        &graph_file(GPT2_SMALL, 768, &names, &scores).to_string(),
    );
    let run_import = run(&[p("import"), &file, p("--task"), p("ioi")]);
    assert_eq!(run_import.code, 0, "{}", run_import.stderr);
    let classes: Vec<&str> = run_import
        .stdout
        .lines()
        .filter(|l| l.starts_with("class "))
        .collect();
    assert_eq!(
        classes,
        [
            "class l4_to_k at all { 4.11 }",
            "class l5_to_v at all { 5.5 5.8 }",
            "class l6_to_v at all { 6.9 }",
            "class l7_to_q at all { 7.3 7.9 }",
            "class l8_to_q at all { 8.6 }",
            "class l8_to_logits_q at all { 8.10 }",
            "class l9_to_logits at all { 9.6 9.9 }",
            "class l10_to_logits at all { 10.0 }",
        ],
        "{}",
        run_import.stdout
    );
    for line in [
        // 10.0 does not read embed's v: its class is the only one with k alone.
        // And 9.6 neither: its class's v comes from embed for 9.9 alone.
        "edge embed -> l4_to_k.q, l5_to_v.q, l6_to_v.q, l9_to_logits.k, 9.9.v, l10_to_logits.k  # 8 edges, scores -0.17 to 0.64",
        "edge l7_to_q, l8_to_q, l8_to_logits_q -> l9_to_logits.q, l10_to_logits.q  # 12 edges, scores -0.1 to 0.74",
        "edge l8_to_logits_q, l9_to_logits, l10_to_logits -> logits  # 4 edges, scores -0.2 to 0.73",
    ] {
        assert!(
            run_import.stdout.contains(&format!("\n{line}\n")),
            "{line}\n{}",
            run_import.stdout
        );
    }
    let expected: BTreeSet<String> = marked.iter().cloned().collect();
    assert_eq!(edges_of(&run_import.stdout, dir.path()), expected);
}

/// An MLP with every edge from and to the circuit's components is listed and named in no
/// edge; one with some of them is wired, its edges written; one whose only edges are with
/// unwired MLPs makes those wired too (else it would be named in no edge). Each exactly.
#[test]
fn mlps_are_listed_whole_or_wired_with_their_edges() {
    let dir = tempfile::tempdir().unwrap();
    let whole_m0 = [
        "input->m0",
        "a0.h0->m0",
        "a0.h1->m0",
        "m0->a1.h2<q>",
        "m0->a1.h2<k>",
        "m0->a1.h2<v>",
        "m0->logits",
    ];
    let cases: [(&[&str], &[&str]); 3] = [
        (&whole_m0, &["mlp 0 at all"]),
        (
            // m0 still has all its edges (m0->m1 too): listed; m1 wired.
            &["a0.h0->m1", "m1->logits", "m0->m1"],
            &["edge l0_to_logits_mlp_k -> mlp.1", "mlp.1 -> logits"],
        ),
        (
            &["m0->m1"],
            &[
                "edge embed, l0_to_logits_mlp_k -> mlp.0",
                "edge mlp.0 -> l1_to_logits, mlp.1\n",
            ],
        ),
    ];
    for (extra, lines) in cases {
        let mut marked: Vec<&str> = SMALL_CIRCUIT.to_vec();
        marked.extend(whole_m0.iter().filter(|_| extra != whole_m0));
        marked.extend(extra);
        marked.sort();
        marked.dedup();
        let graph = graph_file(TOY, 64, &marked, &[]);
        let run = import_toy(&graph, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        for line in lines {
            assert!(run.stdout.contains(line), "{line}\n{}", run.stdout);
        }
        let expected: BTreeSet<String> = marked.iter().map(|e| e.to_string()).collect();
        assert_eq!(
            edges_of(&run.stdout, dir.path()),
            expected,
            "{}",
            run.stdout
        );
    }
}
