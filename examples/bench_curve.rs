//! `curve` at MIB's ten edge fractions on a model with random weights of GPT-2 small's shape
//! (a generated IOI tokenizer), 100 IOI prompts, random edge scores over its full graph of
//! 32,491 edges: both rankings' circuits scored exactly at level edge, timed.
//!
//!     cargo run --release --no-default-features --example bench_curve [-- N]

use std::time::Instant;

use candle_core::Device;
use circuitcheck::dsl::{Level, ModelShape, TaskRef};
use circuitcheck::eval::check::Silent;
use circuitcheck::eval::curve::{Naming, curve, empty_circuit};
use circuitcheck::eval::schema::Options;
use circuitcheck::eval::session::{Evaluator, Session, Settings};
use circuitcheck::graph::eap::{Cfg, GraphFile, ReadGraph};
use circuitcheck::testing::write_hub_shaped;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    circuitcheck::model::reuse_freed_memory();
    let n: usize = std::env::args().nth(1).map_or(Ok(100), |a| a.parse())?;
    let dir = tempfile::tempdir()?;
    write_hub_shaped(dir.path(), "gpt2-small", None)?;
    let cfg = Cfg {
        n_layers: 12,
        n_heads: 12,
        parallel_attn_mlp: false,
        d_model: Some(768),
    };
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let edges = cfg
        .shape()
        .edges()
        .into_iter()
        .map(|e| {
            let entry =
                serde_json::json!({"score": rng.random_range(-1.0..1.0), "in_graph": false});
            (e.to_string(), entry)
        })
        .collect::<serde_json::Map<_, _>>();
    let text = serde_json::json!({"cfg": {"n_layers": 12, "n_heads": 12,
        "parallel_attn_mlp": false, "d_model": 768}, "nodes": {}, "edges": edges})
    .to_string();
    let graph = ReadGraph::read(&GraphFile::parse(&text)?).map_err(|p| format!("{p:?}"))?;
    let task = TaskRef::Builtin("ioi".into());
    let placeholder = empty_circuit("gpt2-small", task.clone());
    let start = Instant::now();
    let settings = Settings {
        model_dir: Some(dir.path().to_path_buf()),
        device: Device::Cpu,
        task: Some(task.clone()),
        prompts: Some(n),
        reference: None,
        cache_dir: None,
        options: Options {
            level: Level::Edge,
            ..Options::default()
        },
        quiet: true,
    };
    let evaluator = Evaluator::new(Session::open(&placeholder, dir.path(), settings)?)?;
    let loaded = start.elapsed().as_secs_f64();
    let naming = Naming {
        model: "gpt2-small",
        task: &task,
        shape: ModelShape {
            layers: 12,
            heads: 12,
            parallel_residual: false,
        },
    };
    let start = Instant::now();
    let report = curve(&evaluator, &graph, "random.json", &naming, &mut Silent)?;
    let took = start.elapsed().as_secs_f64();
    println!(
        "curve of {} edges, {n} IOI prompts: model and reference values {loaded:.2} s, the ten fractions × two rankings {took:.2} s",
        report.total_edges
    );
    println!(
        "CPR {:.3}, CMD {:.3}",
        report.cpr.area.value, report.cmd.area.value
    );
    Ok(())
}
