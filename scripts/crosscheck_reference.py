#!/usr/bin/env python3
"""Cross-checks the test suite's f64 reference transformer (tests/common/reference.rs)
against Hugging Face transformers on the tiny random GPT-NeoX, Llama and Qwen2 models of
`circuitcheck::testing::TinyModel`.

Not run in CI: it needs `pip install torch transformers safetensors` (CPU is enough).

    python3 scripts/crosscheck_reference.py [DIR]

1. `cargo run --example write_tiny_models -- DIR` writes one model directory per variant
   (config.json, model.safetensors, vocab.json, merges.txt).
2. For each, transformers' `AutoModelForCausalLM` (eager attention) computes the logits of
   a few token rows in float32 and in float64, written to `DIR/<variant>/hf_logits.json`.
3. The ignored test `common::reference::checks::hugging_face_logits_match` runs the
   reference on the same rows and prints, per variant, the largest absolute difference of
   the logits against each dtype; it fails above 1e-4 (float64) or 1e-3 (float32).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent


def rows(vocab_size):
    """Token rows: short ones, and one long enough to turn the slow rotary frequencies."""
    return [
        [5, 90, 300, 17, 260, 44, 301],
        [260, 261, 262, 263, 264],
        [1, 2, 3, 4, 5, 6, 7, 8, 9],
        [(i * 37 + 11) % vocab_size for i in range(48)],
    ]


def hf_logits(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    tokenizer_size = len(json.loads((model_dir / "vocab.json").read_text()))
    token_rows = rows(tokenizer_size)
    out = {"rows": token_rows}
    for name, dtype in [("float32", torch.float32), ("float64", torch.float64)]:
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=torch.float32, attn_implementation="eager"
        ).to(dtype)
        model.eval()
        logits = []
        with torch.no_grad():
            for row in token_rows:
                ids = torch.tensor([row])
                logits.append(model(input_ids=ids).logits[0].double().tolist())
        out[name] = logits
        assert len(logits[0][0]) == config["vocab_size"], "padded vocabulary"
    (model_dir / "hf_logits.json").write_text(json.dumps(out))


def main():
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp())
    env = dict(os.environ)
    cargo = ["cargo", "run", "--quiet", "--no-default-features", "--example"]
    subprocess.run(cargo + ["write_tiny_models", "--", str(out_dir)], cwd=ROOT, check=True)
    for model_dir in sorted(p for p in out_dir.iterdir() if (p / "config.json").exists()):
        print(f"transformers: {model_dir.name}", flush=True)
        hf_logits(model_dir)
    env["CIRCUITCHECK_CROSSCHECK_DIR"] = str(out_dir)
    test = ["cargo", "test", "--no-default-features", "--test", "main"]
    test += ["common::reference::checks::hugging_face_logits_match"]
    test += ["--", "--ignored", "--nocapture"]
    sys.exit(subprocess.run(test, cwd=ROOT, env=env).returncode)


if __name__ == "__main__":
    main()
