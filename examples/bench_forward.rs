//! Forward-pass speed on a GPT-2-small-shaped model with random weights (no download):
//! 100 IOI-length prompts of 16 tokens, reading two logits at the last position, with no
//! intervention and with all but 26 heads replaced everywhere.
//!
//!     cargo run --release --no-default-features --example bench_forward

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use circuitcheck::model::{
    Batch, Capture, Config, HeadPatch, Interventions, Objective, Readout, Transformer,
};
use circuitcheck::testing::random_weights;

const ROWS: usize = 100;
const SEQ: usize = 16;
const RUNS: usize = 5;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn time(label: &str, flops: f64, mut pass: impl FnMut()) {
    pass(); // warm-up
    let seconds: Vec<f64> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            pass();
            start.elapsed().as_secs_f64()
        })
        .collect();
    let median = median(seconds);
    println!(
        "{label:<34} median {:>7.1} ms   {:>6.1} GFLOP/s ({:.1} GFLOP of needed work)",
        median * 1e3,
        flops / median / 1e9,
        flops / 1e9
    );
}

fn main() -> candle_core::Result<()> {
    circuitcheck::model::reuse_freed_memory();
    let device = Device::Cpu;
    let config = Config::gpt2_small();
    let tensors = random_weights(&config, &device)?;
    let model = Transformer::new(
        VarBuilder::from_tensors(tensors, DType::F32, &device),
        config.clone(),
    )
    .expect("model builds");
    let sequences: Vec<Vec<u32>> = (0..ROWS)
        .map(|r| {
            (0..SEQ)
                .map(|t| ((r * 131 + t * 977) % 50257) as u32)
                .collect()
        })
        .collect();
    let batch = Batch::new(&sequences, &device).expect("batch");
    let readout = Readout::Tokens {
        positions: vec![SEQ - 1; ROWS],
        tokens: Tensor::from_vec([5335u32, 1757].repeat(ROWS), (ROWS, 2), &device)?,
    };

    let (d, m, h, l) = (
        config.n_embd as f64,
        config.d_mlp() as f64,
        config.n_head as f64,
        config.n_layer as f64,
    );
    let tokens = (ROWS * SEQ) as f64;
    // Per token and layer: q, k, v and output projections, attention (causal: half the
    // score matrix on average), MLP.
    let attention = |heads: f64| {
        heads / h * (2.0 * d * 3.0 * d + 2.0 * 2.0 * SEQ as f64 / 2.0 * d + 2.0 * d * d)
    };
    let per_layer = |heads: f64| attention(heads) + 2.0 * 2.0 * d * m;
    let full_flops = tokens * l * per_layer(h);
    println!(
        "GPT-2-small shapes, {ROWS} prompts × {SEQ} tokens, {} threads",
        candle_core::utils::get_num_threads()
    );
    time("forward, no intervention", full_flops, || {
        model
            .forward(&batch, &Interventions::none(), Capture::default(), &readout)
            .expect("forward");
    });

    // 26 heads kept (spread like the IOI circuit: about two per layer), the rest replaced.
    let kept: Vec<(usize, usize)> = (0..26).map(|i| (i * 12 / 26, (i * 5) % 12)).collect();
    let mut heads = Vec::new();
    for layer in 0..config.n_layer {
        let mut keep = vec![0f32; ROWS * SEQ * config.n_head];
        for chunk in keep.chunks_mut(config.n_head) {
            for (l, h) in &kept {
                if *l == layer {
                    chunk[*h] = 1.0;
                }
            }
        }
        heads.push(Some(HeadPatch {
            keep: Tensor::from_vec(keep, (ROWS, SEQ, config.n_head), &device)?,
            replaced: (Tensor::randn(0f32, 1.0, (ROWS, SEQ, config.n_embd), &device)? * 0.02)?,
            senders: Default::default(),
        }));
    }
    let patched = Interventions {
        heads,
        ..Default::default()
    };
    let kept_flops: f64 = (0..config.n_layer)
        .map(|layer| {
            let n = kept.iter().filter(|(l, _)| *l == layer).count() as f64;
            tokens * per_layer(n)
        })
        .sum();
    time("forward, 26 heads kept, 118 replaced", kept_flops, || {
        model
            .forward(&batch, &patched, Capture::default(), &readout)
            .expect("forward");
    });
    // What ranking search candidates costs: the same pass, differentiable, and its gradient
    // (the backward pass does about twice the forward's work).
    let objective = Objective::Logits(Tensor::from_vec(
        [1f32, -1.0].repeat(ROWS),
        (ROWS, 2),
        &device,
    )?);
    time("attribution (forward + backward)", 3.0 * full_flops, || {
        model
            .attribution(&batch, &Interventions::none(), &readout, &objective)
            .expect("attribution");
    });
    Ok(())
}
