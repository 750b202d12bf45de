//! Edge attribution over the whole graph of a GPT-2-small-shaped model with random weights
//! on the IOI task: EAP and EAP-IG(5) timed, after the reference activations. GPT-2's
//! tokenizer files come from `$CIRCUITCHECK_TOKENIZER_DIR` where it is set; otherwise the
//! tokenizer is a generated BPE in which every IOI word is one token.
//!
//!     cargo run --release --no-default-features --example bench_discover [-- N [STEPS]]

use std::path::PathBuf;
use std::time::Instant;

use candle_core::Device;
use circuitcheck::dsl::Ablation;
use circuitcheck::eval::edge_attribution::{Method, score_edges};
use circuitcheck::eval::reference::ReferenceActivations;
use circuitcheck::model::{LoadedModel, ModelFiles};
use circuitcheck::task::Task;
use circuitcheck::testing::write_hub_shaped;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    circuitcheck::model::reuse_freed_memory();
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let steps: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let dir = tempfile::tempdir()?;
    let tokenizer = std::env::var_os("CIRCUITCHECK_TOKENIZER_DIR").map(PathBuf::from);
    write_hub_shaped(dir.path(), "gpt2-small", tokenizer.as_deref())?;
    let threads = candle_core::utils::get_num_threads();
    println!("GPT-2-small shapes (random weights), {n} IOI prompts, {threads} threads");
    let loaded = LoadedModel::load(ModelFiles::in_dir(dir.path())?, &Device::Cpu)?;
    let dataset = Task::load("ioi")?.dataset(&loaded.tokenizer, n, 0)?;
    let start = Instant::now();
    let reference = ReferenceActivations::compute(&loaded.model, &dataset, Ablation::Mean, 0)?;
    println!("  reference       {:>8.2} s", start.elapsed().as_secs_f64());
    for method in [Method::Eap, Method::EapIg { steps }] {
        let start = Instant::now();
        let scores = score_edges(&loaded.model, &dataset, &reference, method, |_| {})?;
        println!(
            "  {:<15} {:>8.2} s  ({} edges, F(M) {:.3})",
            format!("{method:?}"),
            start.elapsed().as_secs_f64(),
            scores.edges.len(),
            scores.value
        );
    }
    Ok(())
}
