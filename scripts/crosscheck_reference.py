#!/usr/bin/env python3
"""Cross-checks the test suite's f64 reference transformer (tests/common/reference.rs)
against Hugging Face transformers on the tiny random GPT-NeoX, Llama, Qwen2 and Gemma-2 models of
`circuitcheck::testing::TinyModel`.

Not run in CI: it needs `pip install torch transformers safetensors` (CPU is enough).

    python3 scripts/crosscheck_reference.py [DIR]

1. `cargo run --example write_tiny_models -- DIR` writes one model directory per variant
   (config.json, model.safetensors, vocab.json, merges.txt).
2. For each, transformers' `AutoModelForCausalLM` (eager attention) computes the logits of
   a few token rows in float32, in float64, and in float64 throughout (transformers
   computes the rotary tables, RMSNorm and the attention softmax in float32 even for a
   float64 model, and Gemma-2's embedding scale √d_model is a float32 buffer;
   `exact_float64` and `float64_softmax` replace them), written to
   `DIR/<variant>/hf_logits.json`.
3. The ignored test `common::reference::checks::hugging_face_logits_match` runs the
   reference on the same rows and prints, per variant, the largest absolute difference of
   the logits against each run; it fails above 1e-3 (float32), 1e-4 (float64) or 1e-10
   (float64 throughout).
"""

import json
import math
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


def float64_softmax(softmax):
    """transformers' eager attention takes its softmax in float32 whatever the dtype."""

    def wrapped(x, *args, dtype=None, **kwargs):
        return softmax(x, *args, dtype=None if x.dtype == torch.float64 else dtype, **kwargs)

    return wrapped


def exact_float64(model, config):
    """Makes the float64 run float64 throughout: transformers computes the rotary tables and
    RMSNorm in float32 whatever the model's dtype (the softmax: see `float64_softmax`). The
    rotary frequencies are recomputed in float64 by the same formula (Llama-3's
    `rope_scaling` written out here from `_compute_llama3_parameters`), so that this run
    differs from the reference by rounding only. Gemma-2's RMSNorm scales by (1 + w), and its
    embedding scale √d_model is recomputed in float64."""
    gemma = config["model_type"] == "gemma2"
    for module in model.modules():
        if type(module).__name__.endswith("RMSNorm"):

            def rms(x, module=module):
                variance = x.pow(2).mean(-1, keepdim=True)
                if gemma:
                    return (1.0 + module.weight) * (x * torch.rsqrt(variance + module.eps))
                return module.weight * (x * torch.rsqrt(variance + module.variance_epsilon))

            module.forward = rms
    base = model.gpt_neox if hasattr(model, "gpt_neox") else model.model
    if gemma:
        scale = torch.tensor(config["hidden_size"] ** 0.5, dtype=torch.float64)
        base.embed_tokens.embed_scale = scale
    rotary = base.rotary_emb
    dim = 2 * rotary.inv_freq.numel()
    theta = config.get("rotary_emb_base", config.get("rope_theta", 10000.0))
    inv = 1.0 / theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    scaling = config.get("rope_scaling") or {}
    if scaling.get("rope_type") == "llama3":
        factor, old = scaling["factor"], scaling["original_max_position_embeddings"]
        low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > old / low, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        inv = torch.where(medium, smoothed, scaled)
    assert torch.allclose(inv.float(), rotary.inv_freq.float(), rtol=1e-6), "same frequencies"

    def forward(x, position_ids):
        freqs = position_ids[..., None].double() * inv
        emb = torch.cat((freqs, freqs), dim=-1)
        scale = rotary.attention_scaling
        return (emb.cos() * scale).to(x.dtype), (emb.sin() * scale).to(x.dtype)

    rotary.forward = forward


def hf_logits(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    tokenizer_size = len(json.loads((model_dir / "vocab.json").read_text()))
    token_rows = rows(tokenizer_size)
    out = {"rows": token_rows}
    runs = [
        ("float32", torch.float32, False),
        ("float64", torch.float64, False),
        ("float64_exact", torch.float64, True),
    ]
    for name, dtype, exact in runs:
        model = AutoModelForCausalLM.from_pretrained(
            model_dir, dtype=torch.float32, attn_implementation="eager"
        ).to(dtype)
        model.eval()
        if exact:
            exact_float64(model, config)
        logits = []
        softmax = torch.nn.functional.softmax
        if exact:
            torch.nn.functional.softmax = float64_softmax(softmax)
        with torch.no_grad():
            for row in token_rows:
                ids = torch.tensor([row])
                logits.append(model(input_ids=ids).logits[0].double().tolist())
        torch.nn.functional.softmax = softmax
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
