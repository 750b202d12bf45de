//! `circuitcheck graph`: the hypothesis graph of the IOI circuit as JSON and as DOT.

use crate::common;

use common::circuitcheck;

#[test]
fn json_graph_of_the_ioi_circuit() {
    let run = circuitcheck(&["graph", "circuits/ioi.circuit", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let graph: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(graph["version"], 1);
    let nodes = graph["nodes"].as_array().unwrap();
    let count = |kind: &str| nodes.iter().filter(|n| n["kind"] == kind).count();
    assert_eq!(
        (
            count("class"),
            count("head"),
            count("embed"),
            count("logits")
        ),
        (7, 26, 1, 1)
    );
    let head = nodes.iter().find(|n| n["id"] == "h9.9").unwrap();
    assert_eq!(head["class"], "name_mover");
    assert_eq!(head["positions"], serde_json::json!({"named": ["END"]}));

    let edges = graph["edges"].as_array().unwrap();
    let reads: Vec<(String, String, String)> = edges
        .iter()
        .filter(|e| e["kind"] == "reads")
        .map(|e| {
            let channel = e["channel"].as_str().unwrap_or("-").to_string();
            (
                e["from"].as_str().unwrap().into(),
                e["to"].as_str().unwrap().into(),
                channel,
            )
        })
        .collect();
    assert!(reads.contains(&("previous_token".into(), "induction".into(), "k".into())));
    assert!(reads.contains(&("name_mover".into(), "logits".into(), "-".into())));
    // embed: q, k, v of 4 classes and k, v of the 3 movers (18); 1 prev→induction, 2 into
    // s_inhibition, 3 s_inhibition→movers, 3 →logits
    assert!(reads.contains(&("embed".into(), "name_mover".into(), "k".into())));
    assert_eq!(reads.len(), 27);
    assert_eq!(edges.iter().filter(|e| e["kind"] == "member").count(), 26);
}

#[test]
fn dot_graph_is_layered_and_renders() {
    let run = circuitcheck(&["graph", "circuits/ioi.circuit", "--format", "dot"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dot = run.stdout;
    assert!(dot.starts_with("digraph \"ioi\" {"));
    assert!(
        dot.contains("{ rank=same; \"layer 9\"; \"backup_name_mover\"; \"name_mover\"; }"),
        "{dot}"
    );
    assert!(dot.contains("\"previous_token\" -> \"induction\" [label=\"k\"];"));
    assert!(dot.contains("\"layer 11\" -> \"unembed\""));
    // Render with graphviz where it is installed (CI installs it).
    let Ok(mut child) = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        eprintln!("graphviz `dot` not installed: skipping the rendering check");
        return;
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("<svg"));
}

#[test]
fn graph_of_a_broken_file_reports_its_errors() {
    let run = circuitcheck(&["graph", "tests/lint/empty-class.circuit"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("circuit::empty-class"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

/// MLPs named in edges are nodes of their own: `mlp.L` in JSON (kind `mlp`, its layer) and
/// in DOT (ranked with its layer), with their edges; the HTML drawing gives each a column.
#[test]
fn mlps_named_in_edges_are_nodes() {
    let run = circuitcheck(&["graph", "tests/diff/mlp-edges.circuit", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let graph: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let nodes = graph["nodes"].as_array().unwrap();
    let mlps: Vec<&serde_json::Value> = nodes.iter().filter(|n| n["kind"] == "mlp").collect();
    assert_eq!(
        mlps,
        [
            &serde_json::json!({"id": "mlp.6", "kind": "mlp", "layer": 6}),
            &serde_json::json!({"id": "mlp.10", "kind": "mlp", "layer": 10}),
        ]
    );
    let edges = graph["edges"].as_array().unwrap();
    let reads = |from: &str, to: &str| {
        edges
            .iter()
            .filter(|e| e["from"] == from && e["to"] == to)
            .map(|e| e["channel"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(reads("induction", "mlp.6"), [serde_json::Value::Null]);
    assert_eq!(reads("mlp.6", "mlp.10"), [serde_json::Value::Null]);
    assert_eq!(reads("mlp.6", "s_inhibition"), [serde_json::json!("v")]);
    assert_eq!(reads("mlp.10", "logits"), [serde_json::Value::Null]);

    let run = circuitcheck(&["graph", "tests/diff/mlp-edges.circuit", "--format", "dot"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dot = run.stdout;
    assert!(
        dot.contains("{ rank=same; \"layer 6\"; \"mlp.6\"; }"),
        "{dot}"
    );
    assert!(
        dot.contains("\"mlp.6\" [label=\"mlp.6\", shape=hexagon"),
        "{dot}"
    );
    assert!(dot.contains("\"induction\" -> \"mlp.6\";"), "{dot}");
    assert!(
        dot.contains("\"mlp.6\" -> \"s_inhibition\" [label=\"v\"];"),
        "{dot}"
    );
    assert!(dot.contains("\"mlp.10\" -> \"logits\";"), "{dot}");
}
