"""What the ``colab`` preset should cost on a Colab GPU: an estimate, not a measurement.

No GPU has run this code yet, so every figure here is derived, and labelled so on the
page (``book/scaling.md``). The derivation:

1. **Work.** The ``colab`` preset's training tokens are counted from the published
   statistics of LC-Rec's Instruments data (users, items, interactions; REFERENCES) and
   the preset's task sizes, with tokens per example taken from the ``cpu`` run's
   measured examples (``--run-dir``: its ``tasks/train.jsonl``, tokenized as the tuner
   does) and rescaled to 4 index tokens per item. FLOPs per token from Qwen2.5-0.5B's
   published architecture: a LoRA training step costs about 6 N per token with
   gradient checkpointing (forward 2 N, its recomputation 2 N, the input gradients
   2 N; frozen weights need no weight gradient), N the non-embedding weights.
2. **Rate.** The vendor's dense tensor peak of each card (T4 fp16, L4 and A100 bf16)
   times a utilisation. The one utilisation this project has measured is the CPU's:
   the LoRA step reaches 58% of one large GEMM's rate (``bench_ceiling.md``). A model of
   this size with short examples keeps a GPU much further from its peak; the estimate
   gives a range of 20% to 50%.
3. **Memory.** Weights, LoRA state and checkpointed activations of a batch, from the
   same architecture; no allocator overhead.

Evaluation is latency-bound (a few forward passes per batch of users, each small), so
its estimate scales the ``cpu`` run's measured seconds per user by the FLOP ratio and
the ratio of a GPU's rate to the CPU's, with the same utilisation range.

    python benchmarks/colab_estimate.py --run-dir runs/cpu     # writes benchmarks/results/colab_estimate.md
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.core.config import make_config  # noqa: E402
from lcrec_mini.core.stage import read_json, stage_seconds  # noqa: E402

#: LC-Rec's Instruments data (REFERENCES: computed from Instruments.inter.json)
USERS, ITEMS, INTERACTIONS = 24_772, 9_922, 206_153
#: Qwen2.5-0.5B (its model card / config: 24 layers, hidden 896, MLP 4,864, 14 query and
#: 2 key-value heads of 64, vocabulary 151,936); N = non-embedding weights
LAYERS, HIDDEN, MLP, HEAD, KV_HEADS, VOCAB = 24, 896, 4864, 64, 2, 151_936
N = LAYERS * (2 * HIDDEN * HIDDEN + 2 * HIDDEN * KV_HEADS * HEAD + 3 * HIDDEN * MLP)
PARAMS = N + VOCAB * HIDDEN  # tied input and output embeddings
#: dense tensor-core peak, TFLOP/s, from the vendors' data sheets; memory in GiB
GPUS = {"T4 (fp16)": (65, 15), "L4 (bf16)": (121, 22), "A100 40GB (bf16)": (312, 40)}
UTILISATION = (0.20, 0.50)
TEXT_TASKS, TEXT_FACTOR = ("item2index", "index2item", "fusionseqrec"), 2.0
#: the cpu run's measured rates (benchmarks/results/bench_ceiling.md, JOURNAL.md)
CPU_TRAIN_SHARE = 0.58
#: one forward pass of a 24-layer model on a small batch (an assumption: kernel launches
#: and synchronisation, not FLOPs, bound it)
PASS_SECONDS = 0.02
CPU_TOKENS_PER_S = 172.5  # the cpu tuner on a quiet machine (JOURNAL, the SASRec-cf run)
SMOL_N = 106e6  # SmolLM2-135M's non-embedding weights (bench_ceiling: forward 212 M FLOPs per token)


def cpu_tokens_per_task(cpu_cfg, run_dir: Path) -> dict[str, float]:
    """Mean tokens per training example of each task in the cpu run, as the tuner counts them."""
    from lcrec_mini.book.inputs import training_set  # the tokenizer (transformers): only when counting

    train_ex, train, _ = training_set(cpu_cfg, run_dir)
    lengths = defaultdict(list)
    for ex, n in zip(train_ex, train.lengths()):
        lengths[ex["task"]].append(n)
    return {t: statistics.fmean(v) for t, v in lengths.items()}


def colab_tokens(cfg, cpu_cfg, cpu_tokens: dict[str, float]) -> dict[str, tuple[int, float]]:
    """(examples per epoch, tokens per example) of each task under the colab preset ``cfg``,
    from the cpu run's (``cpu_cfg``) tokens per example."""
    tc = cfg.tasks
    train_items = INTERACTIONS - 2 * USERS  # the last two of each user are held out
    items_per_user = train_items / USERS  # ~6.3: nearly every user fits one window of 21
    # an item in a history costs one token per index level plus its separator (if any)
    per_item_cpu = cpu_cfg.index.levels + (1 if cpu_cfg.tasks.history_separator else 0)
    per_item_colab = cfg.index.levels + (1 if cfg.tasks.history_separator else 0)
    extra_levels = cfg.index.levels - cpu_cfg.index.levels  # one index per item2index/index2item example
    overhead = cpu_tokens["seqrec"] - (cpu_cfg.tasks.max_history + 1) * per_item_cpu
    window = overhead + items_per_user * per_item_colab

    def n(samples: int, pool: int) -> int:
        return pool if samples == 0 else min(samples, pool)

    out = {
        "seqrec": (USERS, window),
        "item2index": (n(tc.item2index_samples, ITEMS) * tc.item_passes("item2index"), cpu_tokens["item2index"] + extra_levels),
        "index2item": (n(tc.index2item_samples, ITEMS) * tc.item_passes("index2item"), cpu_tokens["index2item"] + extra_levels),
        "fusionseqrec": (n(tc.fusionseqrec_samples, train_items),
                         cpu_tokens["fusionseqrec"] * window / cpu_tokens["seqrec"]),
        "itemsearch": (n(tc.itemsearch_samples, train_items), cpu_tokens["itemsearch"] * window / cpu_tokens["seqrec"]),
        "preferenceobtain": (n(tc.preferenceobtain_samples, USERS),
                             cpu_tokens["preferenceobtain"] * window / cpu_tokens["seqrec"]),
    }
    return {t: v for t, v in out.items() if t in tc.tasks}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run-dir", default="runs/cpu", help="a finished cpu run (tasks/ and eval/)")
    ap.add_argument("--out", default="benchmarks/results/colab_estimate.md")
    a = ap.parse_args(argv)
    run_dir = Path(a.run_dir)
    cfg, cpu_cfg = make_config("colab"), make_config("cpu")
    per_task = colab_tokens(cfg, cpu_cfg, cpu_tokens_per_task(cpu_cfg, run_dir))
    tokens = sum(k * t for k, t in per_task.values()) * cfg.tune.epochs
    # Amazon's item texts are longer than MovieLens's (a title and up to
    # tasks.max_text_chars of description, where ML-100K has a title and a one-line
    # genre description): the upper bound doubles the examples that carry item text
    tokens_hi = sum(k * t * (TEXT_FACTOR if task in TEXT_TASKS else 1) for task, (k, t) in per_task.items()) \
        * cfg.tune.epochs
    train_flops, train_flops_hi = 6 * N * tokens, 6 * N * tokens_hi

    # evaluation: the cpu run's seconds per user, scaled by FLOPs per user and by rate
    cpu_eval_s = stage_seconds(run_dir / "eval")
    cpu_users = read_json(run_dir / "eval" / "metrics.json")["n_users"]
    cpu_rate = CPU_TOKENS_PER_S * 4 * SMOL_N  # what the cpu tuner achieves, FLOP/s
    eval_flop_ratio = (N / SMOL_N) * (cfg.index.levels / cpu_cfg.index.levels)  # a larger model, more index levels
    # a GPU cannot go below its launch latency: a prompt pass and one pass per level for
    # each batch of users, at PASS_SECONDS each
    levels = cfg.index.levels
    floor = USERS / cfg.eval.batch_size * (levels + 1) * PASS_SECONDS / 60

    bs = cfg.tune.batch_size
    weights_gb = PARAMS * 4 / 2**30  # fp32 master weights (autocast computes in 16 bits)
    acts_gb = LAYERS * bs * cfg.tune.max_length * HIDDEN * 2 / 2**30  # checkpointed layer inputs
    layer_gb = bs * cfg.tune.max_length * (4 * HIDDEN + 3 * MLP) * 2 * 2 / 2**30  # one layer recomputed
    logits_gb = bs * 32 * VOCAB * 4 * 3 / 2**30  # text targets' logits, their softmax and gradient
    mem_gb = weights_gb + acts_gb + layer_gb + logits_gb

    lines = [
        "**colab_estimate** (derived, not measured: no GPU has run this code yet): the `colab` preset "
        f"on LC-Rec's Instruments data ({USERS:,} users, {ITEMS:,} items, {INTERACTIONS:,} interactions), "
        f"Qwen2.5-0.5B-Instruct + LoRA, {cfg.tune.epochs} epochs, batch {bs}, gradient checkpointing.",
        "",
        "| task | examples per epoch | tokens per example |",
        "|---|---:|---:|",
    ]
    for t, (k, per) in per_task.items():
        lines.append(f"| {t} | {k:,} | {per:.0f} |")
    lines += [
        "",
        f"Training: {tokens / 1e6:.1f} M tokens over {cfg.tune.epochs} epochs with MovieLens-length item "
        f"texts, {tokens_hi / 1e6:.1f} M with the item-text tasks twice as long; "
        f"{6 * N / 1e9:.2f} GFLOP per token (6 N, N = {N / 1e6:.0f} M non-embedding weights): "
        f"{train_flops:.2e} to {train_flops_hi:.2e} FLOP. Peak memory of the tune about {mem_gb:.1f} GiB "
        f"(fp32 weights {weights_gb:.1f}, checkpointed activations {acts_gb:.2f}, one layer recomputed "
        f"{layer_gb:.2f}, text logits {logits_gb:.2f}).",
        "",
        "| GPU | its memory | tune: fewer tokens at 50% of peak .. more at 20% | evaluation of all test users |",
        "|---|---:|---:|---:|",
    ]
    for name, (tflops, mem) in GPUS.items():
        lo = train_flops / (tflops * 1e12 * UTILISATION[1]) / 60
        hi = train_flops_hi / (tflops * 1e12 * UTILISATION[0]) / 60
        e = [cpu_eval_s / cpu_users * eval_flop_ratio * cpu_rate / (tflops * 1e12 * u) * USERS / 60
             for u in reversed(UTILISATION)]
        e = [max(x, floor) for x in e]
        ev_txt = f"about {e[0]:.0f} min" if round(e[0]) == round(e[1]) else f"{e[0]:.0f} .. {e[1]:.0f} min"
        lines.append(f"| {name} | {mem} GiB | {lo:.0f} .. {hi:.0f} min | {ev_txt} |")
    lines += ["", f"Evaluation: the cpu run's {cpu_eval_s:.0f} s for {cpu_users} users scaled by FLOPs per user "
              f"(x{eval_flop_ratio:.1f}) and by the GPU's rate against the cpu tuner's, but never below "
              f"{floor:.0f} min: {cfg.eval.batch_size} users per batch, {levels + 1} passes per batch at "
              f"{PASS_SECONDS * 1e3:.0f} ms each.",
              "", f"Utilisation range {UTILISATION[0]:.0%} to {UTILISATION[1]:.0%} of the data-sheet dense peak; "
              f"the cpu tuner's measured share of its own GEMM ceiling is {CPU_TRAIN_SHARE:.0%}."]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
