//! Writes a model with random weights of the exact shape of a hub model into a directory, in
//! its family's Hugging Face layout: everything `circuitcheck check --model DIR` needs,
//! without a download. The numbers it gives mean nothing; the shapes, the layout and the work
//! are the real ones. GPT-2s use GPT-2's tokenizer files from `$CIRCUITCHECK_TOKENIZER_DIR`
//! where it is set; otherwise the tokenizer is a generated BPE in which every IOI word is one
//! token.
//!
//!     cargo run --release --no-default-features --example random_model -- DIR \
//!         [gpt2-small|gpt2-medium|…|pythia-160m|qwen2.5-0.5b|llama-3.2-1b|gemma-2-2b]

use std::path::PathBuf;

use circuitcheck::testing::write_hub_shaped;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().ok_or("usage: random_model DIR [MODEL]")?);
    let name = args.next().unwrap_or_else(|| "gpt2-small".into());
    let tokenizer = std::env::var_os("CIRCUITCHECK_TOKENIZER_DIR").map(PathBuf::from);
    write_hub_shaped(&dir, &name, tokenizer.as_deref())?;
    println!("wrote {name}-shaped random weights to {}", dir.display());
    Ok(())
}
