//! `circuitcheck curve`: every point and both areas against the independent evaluator
//! (tests/common/curve.rs) on a tiny GPT-2 and a scores file generated here; pruning, the two
//! rankings, the full graph as the model, and refusals.

use std::collections::BTreeSet;

use circuitcheck::dsl::Ablation;
use circuitcheck::graph::eap::{GraphEdge, Shape};
use circuitcheck::task::ReferenceSize;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Value, json};

use crate::common::curve::{self, FRACTIONS};
use crate::common::verify::{model_and_dataset, number, reference_of, scheme};
use crate::common::{circuitcheck, write_tiny_ioi_model};

/// The tiny GPT-2 of the fixtures: 3 layers of 4 heads, d_model 32.
const TINY: Shape = Shape {
    layers: 3,
    heads: 4,
    parallel_attn_mlp: false,
};

const PROMPTS: usize = 6;

/// A scores file over TINY's full graph, each edge scored by `score`.
fn scores_file(score: impl Fn(usize, &GraphEdge) -> f64) -> Value {
    let edges: serde_json::Map<String, Value> = TINY
        .edges()
        .iter()
        .enumerate()
        .map(|(i, e)| {
            (
                e.to_string(),
                json!({"score": score(i, e), "in_graph": false}),
            )
        })
        .collect();
    let nodes: serde_json::Map<String, Value> = TINY
        .components()
        .iter()
        .map(|c| (c.to_string(), json!({"in_graph": false})))
        .collect();
    json!({"cfg": {"n_layers": 3, "n_heads": 4, "parallel_attn_mlp": false, "d_model": 32},
           "nodes": nodes, "edges": edges})
}

/// Seeded scores in [−1, 1), with every edge into the logits and out of the input raised,
/// so that the small fractions hold paths from the input to the logits.
fn random_scores(seed: u64) -> Value {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let draws: Vec<f64> = TINY
        .edges()
        .iter()
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    scores_file(|i, e| {
        let end = e.from.to_string() == "input" || e.to.to_string() == "logits";
        draws[i] + if end { 0.5 } else { 0.0 }
    })
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new(seed: u64, scores: &Value) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        write_tiny_ioi_model(&dir.path().join("model"), seed);
        std::fs::write(dir.path().join("scores.json"), scores.to_string()).unwrap();
        Setup { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    fn run(&self, extra: &[&str]) -> crate::common::Run {
        let (scores, model) = (self.path("scores.json"), self.path("model"));
        let n = PROMPTS.to_string();
        circuitcheck(
            &[
                &[
                    "curve",
                    &scores,
                    "--task",
                    "ioi",
                    "--model",
                    &model,
                    "--n",
                    &n,
                    "--bootstrap",
                    "50",
                    "--no-cache",
                    "--quiet",
                ],
                extra,
            ]
            .concat(),
        )
    }

    fn json(&self, extra: &[&str]) -> Value {
        let run = self.run(&[&["--format", "json"], extra].concat());
        assert_eq!(run.code, 0, "{}", run.transcript());
        serde_json::from_str(&run.stdout).expect("JSON report")
    }
}

/// Scores (logit differences of a few hundredths on the random model) within 1e-5 absolute
/// or relative, the float32 engine's error on them; f within that error carried through
/// (F(C) − F(∅)) / (F(M) − F(∅)) (`scale` is |F(M) − F(∅)|).
const SCORE_TOLERANCE: f64 = 1e-5;

fn assert_close(actual: f64, expected: f64, what: &str) {
    assert_within(
        actual,
        expected,
        SCORE_TOLERANCE * expected.abs().max(1.0),
        what,
    );
}

fn assert_normalized(actual: f64, expected: f64, scale: f64, what: &str) {
    let tolerance = SCORE_TOLERANCE * (2.0 + 2.0 * expected.abs()) / scale;
    assert_within(actual, expected, tolerance, what);
}

fn assert_within(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: curve says {actual}, the reference {expected}"
    );
}

/// Every point and both areas of `report` recomputed from `scores` with the evaluator.
fn verify(setup: &Setup, scores: &Value, report: &Value, ablation: Ablation, seed: u64) {
    let (loaded, dataset) = model_and_dataset(
        &setup.dir.path().join("model"),
        "ioi",
        PROMPTS,
        seed,
        ReferenceSize::default(),
    );
    let model = reference_of(&loaded);
    let scheme = scheme(ablation, &dataset, seed);
    let edges: Vec<(GraphEdge, f64)> = TINY
        .edges()
        .into_iter()
        .map(|e| (e, scores["edges"][e.to_string()]["score"].as_f64().unwrap()))
        .collect();
    let total = edges.len();
    assert_eq!(report["total_edges"], total);
    let fm = curve::mean(&curve::scores(
        &model,
        &dataset,
        &scheme,
        &full_model(&edges),
    ));
    let fe = curve::mean(&curve::scores(&model, &dataset, &scheme, &BTreeSet::new()));
    assert_close(number(&report["model_score"]["value"]), fm, "F(M)");
    assert_close(number(&report["empty_score"]["value"]), fe, "F(∅)");
    for (series, absolute, from_one) in [("cpr", false, false), ("cmd", true, true)] {
        let series = &report[series];
        assert_eq!(
            series["ranking"],
            if absolute { "absolute" } else { "signed" }
        );
        let mut fs = Vec::new();
        for (i, point) in series["points"].as_array().unwrap().iter().enumerate() {
            let n = (FRACTIONS[i] * total as f64) as usize;
            assert_eq!(point["edges"], n);
            let kept = curve::prune(&curve::top(&edges, n, absolute));
            assert_eq!(point["pruned_edges"], kept.len(), "point {i}");
            let fc = curve::mean(&curve::scores(&model, &dataset, &scheme, &kept));
            let f = (fc - fe) / (fm - fe);
            let what = format!("{} at {} %", series["ranking"], 100.0 * FRACTIONS[i]);
            assert_close(number(&point["circuit_score"]["value"]), fc, &what);
            assert_normalized(
                number(&point["normalized"]["value"]),
                f,
                (fm - fe).abs(),
                &what,
            );
            fs.push(f);
        }
        // Each f within its tolerance, and the fractions' trapezoids add up to under 1.
        assert_normalized(
            number(&series["area"]["value"]),
            curve::area(&fs, from_one),
            (fm - fe).abs(),
            "area",
        );
    }
}

/// Every edge: at 100 % the circuit is the whole graph.
fn full_model(edges: &[(GraphEdge, f64)]) -> BTreeSet<GraphEdge> {
    edges.iter().map(|(e, _)| *e).collect()
}

#[test]
fn every_point_and_area_against_the_evaluator() {
    let scores = random_scores(1);
    let setup = Setup::new(3, &scores);
    let report = setup.json(&[]);
    verify(&setup, &scores, &report, Ablation::Mean, 0);
    let report = setup.json(&["--ablation", "resample", "--seed", "2"]);
    verify(&setup, &scores, &report, Ablation::Resample, 2);
}

#[test]
fn the_full_graph_is_the_model() {
    let setup = Setup::new(4, &random_scores(5));
    let report = setup.json(&[]);
    for series in ["cpr", "cmd"] {
        let last = &report[series]["points"][9];
        assert_eq!(last["fraction"], 1.0);
        assert_eq!(last["pruned_edges"], report["total_edges"]);
        assert_eq!(
            last["circuit_score"]["value"],
            report["model_score"]["value"]
        );
        assert_eq!(last["normalized"]["value"], 1.0);
    }
}

#[test]
fn terminal_and_html_say_which_ranking_each_area_used() {
    let setup = Setup::new(4, &random_scores(5));
    let page = setup.path("curve.html");
    let run = setup.run(&["--html", &page]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[1].starts_with("F(M) = "), "{}", run.stdout);
    assert!(lines[1].contains("pruned as EAP-IG prunes them"));
    assert!(
        lines.contains(&"Edges ranked by score (CPR)"),
        "{}",
        run.stdout
    );
    assert!(
        lines.contains(&"Edges ranked by |score| (CMD)"),
        "{}",
        run.stdout
    );
    assert!(
        lines[lines.len() - 2].starts_with("CPR = ")
            && lines[lines.len() - 2]
                .ends_with("(edges ranked by score; trapezoids over the fractions, linear x)"),
        "{}",
        run.stdout
    );
    assert!(
        lines[lines.len() - 1].starts_with("CMD = "),
        "{}",
        run.stdout
    );
    assert!(
        lines
            .iter()
            .any(|l| l.split_whitespace().take(4).eq(["100", "%", "262", "262"])),
        "{}",
        run.stdout
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(html.matches("class=\"series\"").count(), 2);
    assert_eq!(html.matches("class=\"point\"").count(), 20);
    assert!(html.contains("Edges ranked by |score|: CMD"));
}

#[test]
fn negative_scores_split_the_rankings() {
    // Edges into the logits score −2 (large in magnitude, last by sign): the absolute
    // ranking takes them first, the signed one last.
    let scores = scores_file(|i, e| {
        if e.to.to_string() == "logits" {
            -2.0
        } else {
            1.0 / (1 + i) as f64
        }
    });
    let setup = Setup::new(6, &scores);
    let report = setup.json(&[]);
    let pruned = |series: &str, i: usize| report[series]["points"][i]["pruned_edges"].clone();
    // At 5 % (13 edges) the signed ranking's top edges never reach the logits: pruned away.
    assert_eq!(pruned("cpr", 5), 0);
    assert_eq!(report["cpr"]["points"][5]["normalized"]["value"], 0.0);
    // The absolute ranking's are the edges into the logits, of which the input's survives.
    assert_eq!(pruned("cmd", 5), 1);
    verify(&setup, &scores, &report, Ablation::Mean, 0);
}

#[test]
fn pruning_drops_edges_on_no_path() {
    // By score: input→a0.h0<q> (3), a0.h0→logits (2.5), a0.h1→logits (2, a0.h1 reads
    // nothing taken), input→a1.h0<v> (1.5, a1.h0 is read by nothing taken); the rest below.
    let top = [
        ("input->a0.h0<q>", 3.0),
        ("a0.h0->logits", 2.5),
        ("a0.h1->logits", 2.0),
        ("input->a1.h0<v>", 1.5),
    ];
    let scores = scores_file(|i, e| {
        let name = e.to_string();
        top.iter()
            .find(|(n, _)| *n == name)
            .map_or(-(i as f64) / 1000.0, |(_, s)| *s)
    });
    let kept = curve::prune(
        &top.iter()
            .map(|(n, _)| GraphEdge::parse(n).unwrap())
            .collect::<Vec<_>>(),
    );
    let names: Vec<String> = kept.iter().map(|e| e.to_string()).collect();
    assert_eq!(names, ["input->a0.h0<q>", "a0.h0->logits"]);
    let setup = Setup::new(7, &scores);
    let report = setup.json(&[]);
    // 2 % of 262 edges is 5: the four above and the first of the rest (input->a0.h0<q> is
    // edge 0, already taken; the next is input->a0.h0<k>, which a0.h0 reads).
    let point = &report["cpr"]["points"][4];
    assert_eq!(point["edges"], 5);
    assert_eq!(point["pruned_edges"], 3);
    verify(&setup, &scores, &report, Ablation::Mean, 0);
}

#[test]
fn refusals_are_clear() {
    let setup = Setup::new(8, &random_scores(9));
    let write = |value: &Value| {
        std::fs::write(setup.dir.path().join("scores.json"), value.to_string()).unwrap()
    };
    let mut unscored = random_scores(9);
    unscored["edges"]["a0.h1->logits"]["score"] = Value::Null;
    write(&unscored);
    let run = setup.run(&[]);
    assert_eq!(run.code, 2, "{}", run.transcript());
    for part in [
        "curve::unscored",
        "1 of the full graph's 262 edges have no score in the file",
        "a0.h1->logits",
    ] {
        assert!(run.stderr.contains(part), "{}", run.stderr);
    }
    let mut wrong = random_scores(9);
    wrong["cfg"]["d_model"] = json!(64);
    write(&wrong);
    let run = setup.run(&[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("eap::shape-mismatch"), "{}", run.stderr);
    std::fs::write(setup.dir.path().join("scores.json"), "{not json").unwrap();
    let run = setup.run(&[]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("eap::syntax"), "{}", run.stderr);
    let missing = setup.dir.path().join("absent.json");
    let run = circuitcheck(&["curve", missing.to_str().unwrap(), "--task", "ioi"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
    let run = circuitcheck(&["curve", &setup.path("scores.json")]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--task"), "{}", run.stderr);
}
