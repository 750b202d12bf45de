//! Writes a GPT-2-shaped model with random weights into a directory, in the Hugging Face
//! layout, with the GPT-2 tokenizer files from `$CIRCUITCHECK_TOKENIZER_DIR`: everything
//! `circuitcheck check --model DIR` needs, without downloading GPT-2. The numbers it gives
//! mean nothing; the shapes, the tokenizer, the task and the work are the real ones.
//!
//!     cargo run --release --example random_gpt2 -- DIR [gpt2-small|gpt2-medium|…]

use std::path::PathBuf;

use circuitcheck::catalog;
use circuitcheck::model::Config;
use circuitcheck::testing::write_random_gpt2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: random_gpt2 DIR [MODEL]")?);
    let name = args.next().unwrap_or_else(|| "gpt2-small".into());
    let known = catalog::model(&name)
        .filter(|m| !m.hub.is_empty())
        .ok_or_else(|| format!("{name} is not a GPT-2 of the hub (gpt2-small, gpt2-medium, …)"))?;
    // Widths of the GPT-2 family, by depth.
    let n_embd = match known.shape.layers {
        6 | 12 => 768,
        24 => 1024,
        36 => 1280,
        _ => 1600,
    };
    let small = Config::gpt2_small();
    let (layers, heads) = (known.shape.layers as usize, known.shape.heads as usize);
    let config = Config::gpt2(small.vocab_size, small.n_positions, n_embd, layers, heads);
    let tokenizer = std::env::var_os("CIRCUITCHECK_TOKENIZER_DIR")
        .map(PathBuf::from)
        .ok_or(
            "set CIRCUITCHECK_TOKENIZER_DIR to a directory with GPT-2's vocab.json and merges.txt",
        )?;
    write_random_gpt2(&dir, &config, &tokenizer)?;
    println!("wrote {name}-shaped random weights to {}", dir.display());
    Ok(())
}
