"""Where one training step of the ``cpu`` preset spends its time, fp32 against bf16 autocast.

Builds the tuner's model (LoRA, index rows) on a finished run's tasks, draws a few seeded
batches of 8 training examples, times forward + backward of the project's loss in each
precision (interleaved, two rounds) and prints PyTorch's profile of the operators that
took the most time. A probe for reading, not a timed target: ``bench_tune.py`` measures
the tuner's throughput.

    python benchmarks/profile_tune_step.py --run-dir runs/cpu
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.core.config import make_config  # noqa: E402
from lcrec_mini.core.runtime import cpu_line  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", default="runs/cpu", help="a finished cpu-preset run (its tasks/ and index/)")
    ap.add_argument("--batches", type=int, default=6)
    ap.add_argument("--rows", type=int, default=18, help="operators shown per profile")
    args = ap.parse_args()
    run_dir = Path(args.run_dir)
    if not (run_dir / "tasks" / "train.jsonl").exists():
        sys.exit(f"profile_tune_step: {run_dir / 'tasks' / 'train.jsonl'} not found; run "
                 f"`lcrec-mini run --preset cpu --run-dir {run_dir}` first")
    from torch.profiler import ProfilerActivity, profile

    from lcrec_mini.tasks.context import TaskContext
    from lcrec_mini.tasks.stage import read_examples
    from lcrec_mini.tune.llm import end_of_response
    from lcrec_mini.tune.objective import lm_loss
    from lcrec_mini.tune.stage import collate, prepare_model, task_datasets

    cfg = make_config("cpu")
    ctx = TaskContext.load(run_dir)
    codes = ctx.codes()
    titles = [ctx.items[str(i)].get("title") or "" for i in range(ctx.n_items)]
    tok, model, ids = prepare_model(cfg, ctx.levels, ctx.codebook_size, "cpu", codes, titles)
    train, _ = task_datasets(cfg, read_examples(run_dir, "train"), read_examples(run_dir, "valid")[:10], ctx, codes,
                             tok, ids, end_of_response(tok), None)
    col = collate(tok.pad_token_id)
    rng = np.random.default_rng(0)
    batches = [col([train[int(i)] for i in rng.choice(len(train), 8, replace=False)]) for _ in range(args.batches)]
    index_range = (int(ids[0]), int(ids[-1])) if cfg.tune.index_softmax else None
    params = [p for p in model.parameters() if p.requires_grad]
    model.train()

    def step(b, bf16: bool) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = lm_loss(model, b, None, index_range)
        loss.backward()
        for p in params:
            p.grad = None

    print(f"{cpu_line()}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"tokens per batch (padded rows of 8): {[int(b['attention_mask'].numel()) for b in batches]}")
    times: dict[str, list[float]] = {"fp32": [], "bf16": []}
    for _ in range(2):
        for name in times:
            step(batches[0], name == "bf16")  # warm-up
            t0 = time.perf_counter()
            for b in batches[1:]:
                step(b, name == "bf16")
            times[name].append((time.perf_counter() - t0) / (len(batches) - 1))
    for name, v in times.items():
        print(f"{name}: " + ", ".join(f"{t:.2f}" for t in v) + " s per step (two rounds)")
    print("fp32 / bf16 step time per round: " + ", ".join(f"{f / b:.2f}" for f, b in zip(times["fp32"], times["bf16"])))
    for name in times:
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for b in batches[1:4]:
                step(b, name == "bf16")
        print(f"\n==== {name}: three steps")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
