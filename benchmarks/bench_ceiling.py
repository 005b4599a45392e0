"""How close the tuner runs to what this machine can compute.

Measured in one process, nothing else running:

  1. the machine's fp32 matrix-multiply rate: one large GEMM (2048^3), and GEMMs of the
     shapes SmolLM2-135M's projections have on a batch of 8 x 117 tokens;
  2. SmolLM2-135M-Instruct + LoRA (r 8, the seven projections, as the cpu preset) in a
     plain PyTorch loop on a fixed batch of 8 x 117 random tokens: forward only, and one
     training step (forward, backward, AdamW) with the loss on every position scored
     against 96 index rows (the index-only softmax) or against the whole vocabulary.

The ceiling is the FLOPs a step needs (forward ~2 N per token for N non-embedding
weights plus attention; a LoRA backward ~the same again, since frozen weights need no
weight gradient) at the large-GEMM rate: no implementation on this machine runs faster.
Writes ``benchmarks/results/bench_ceiling.md``.

    python benchmarks/bench_ceiling.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.core.runtime import cpu_line  # noqa: E402

BATCH, SEQ, N_INDEX = 8, 117, 96


def timed(fn, reps: int) -> float:
    fn()  # warm-up
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def gemm_gflops(m: int, k: int, n: int, reps: int = 5) -> float:
    a, b = torch.randn(m, k), torch.randn(k, n)
    return 2 * m * k * n / timed(lambda: a @ b, reps) / 1e9


def main() -> None:
    from peft import LoraConfig, get_peft_model

    from lcrec_mini.index.tokens import index_vocabulary
    from lcrec_mini.tune.llm import add_index_tokens, load_causal_lm

    torch.manual_seed(0)
    tokens = BATCH * SEQ
    big = gemm_gflops(2048, 2048, 2048)
    tok, model = load_causal_lm("smollm2")
    c = model.config
    d, f, layers = c.hidden_size, c.intermediate_size, c.num_hidden_layers
    kv = d * c.num_key_value_heads // c.num_attention_heads
    shapes = [(tokens, d, d), (tokens, d, kv), (tokens, d, f), (tokens, f, d)]
    model_gemm = statistics.median(gemm_gflops(*s) for s in shapes)
    ids = add_index_tokens(tok, model, index_vocabulary(3, 32))
    model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.05, task_type="CAUSAL_LM",
                                             target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                             "up_proj", "down_proj"]))
    n_lin = layers * (2 * d * d + 2 * d * kv + 3 * d * f)  # the projections' weights
    attn = layers * 2 * 2 * SEQ * d  # QK^T and AV per token, mean causal length ~SEQ/2, x2 flops
    fwd_flops = 2 * n_lin + attn / 2
    x = torch.randint(0, min(ids), (BATCH, SEQ))
    inner = model.base_model.model
    rows = torch.tensor(ids)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def forward():
        with torch.no_grad():
            inner.model(input_ids=x)

    def step(index_only: bool):
        h = inner.model(input_ids=x).last_hidden_state
        if index_only:
            logits = h @ inner.get_output_embeddings().weight[rows].t()
            y = torch.randint(0, N_INDEX, (BATCH, SEQ))
        else:
            logits = inner.lm_head(h)
            y = torch.randint(0, logits.shape[-1], (BATCH, SEQ))
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad()

    model.train()
    t_fwd = timed(forward, 5)
    t_ix = timed(lambda: step(True), 5)
    t_full = timed(lambda: step(False), 5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # how the step scales with cores: one thread against all of them
    t_ix1 = timed(lambda: step(True), 3)
    gemm1 = gemm_gflops(2048, 2048, 2048, 3)
    torch.set_num_threads(threads)
    ceiling_fwd = big * 1e9 / fwd_flops
    ceiling_train = big * 1e9 / (2 * fwd_flops)
    rows_md = [
        ("forward only", tokens / t_fwd, ceiling_fwd),
        ("train step, index-only softmax", tokens / t_ix, ceiling_train),
        ("train step, full vocabulary", tokens / t_full, ceiling_train),
    ]
    lines = [
        f"**bench_ceiling** on {cpu_line()}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"float32; SmolLM2-135M-Instruct + LoRA r 8, a batch of {BATCH} x {SEQ} tokens",
        "",
        f"- fp32 GEMM 2048^3: **{big:.0f} GFLOP/s**; GEMMs of the model's projection shapes on {tokens} tokens: "
        f"{model_gemm:.0f} GFLOP/s (median of {len(shapes)} shapes)",
        f"- FLOPs per token: forward {fwd_flops / 1e6:.0f} M (projections {2 * n_lin / 1e6:.0f} M, attention "
        f"{attn / 2e6:.0f} M); a LoRA training step about twice that",
        "",
        "| loop | tokens/s | ceiling at the 2048^3 GEMM rate | share of the ceiling |",
        "|---|---:|---:|---:|",
    ]
    for name, got, ceil in rows_md:
        lines.append(f"| {name} | {got:.0f} | {ceil:.0f} | {got / ceil:.0%} |")
    lines += ["", f"Scaling with cores: the index-only training step runs at {tokens / t_ix1:.0f} tokens/s on 1 thread and "
              f"{tokens / t_ix:.0f} on {threads} ({t_ix1 / t_ix:.2f}x; the 2048^3 GEMM {gemm1:.0f} -> {big:.0f} GFLOP/s, "
              f"{big / gemm1:.2f}x)."]
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(__file__).parent / "results" / "bench_ceiling.md"
    out.write_text(text)


if __name__ == "__main__":
    main()
