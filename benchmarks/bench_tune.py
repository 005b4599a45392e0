"""The tuner's throughput: tokens/s and next-item targets/s of each training format.

Runs the real ``tune`` stage (HF Trainer, SmolLM2-135M + LoRA on the cpu preset) for a
few optimizer steps per variant on a cpu-preset run folder and reads its
``train_stats.json``:

  (a) lcrec-format LC-Rec's format as the cpu preset had it: the task mix, seqrec one
                 target per example, full-vocabulary loss on responses;
  (b) prefix     seqrec only, one target per example (the format alone, no mix);
  (c) window     seqrec as sliding windows, loss on every item's index tokens
                 (all-position), full vocabulary;
  (d) window+ix  (c) with the index-only softmax;
  (e) preset     the cpu preset as it is now;
  (f) fp32       the cpu preset in fp32 (``tune.precision=fp32``; no row warm-up, so every
                 timed step trains the whole adapter);
  (g) bf16       the cpu preset under bf16 autocast (``tune.precision=bf16``): the ratio
                 (g) / (f) is what native bf16 buys on this CPU (AVX-512 BF16 or AMX;
                 without them bf16 is emulated and slower, and ``auto`` stays in fp32).

Protocol: ``--rounds`` rounds, each running every variant once in a rotated order (so
the machine's slow phases hit all of them); reported are the medians of tokens/s and
targets/s and the median over rounds of each variant's per-round ratio to (a).
Timings include the Trainer's own overhead (data collation, optimizer), not model
loading. Nothing else heavy may run at the same time on a 2-core machine.

    python benchmarks/bench_tune.py --run-dir runs/cpu            # needs data/ embed/ index/
    python benchmarks/bench_tune.py --run-dir runs/cpu --steps 6 --rounds 1
    python benchmarks/bench_tune.py --run-dir runs/cpu --variants "f fp32" "g bf16" --out benchmarks/results/bench_bf16.md
    python benchmarks/bench_tune.py --variants "f fp32" "g bf16" --set tune.lora_dropout=0   # a candidate preset
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.core.config import make_config  # noqa: E402
from lcrec_mini.core.errors import ConfigError  # noqa: E402
from lcrec_mini.core.runtime import cpu_line  # noqa: E402
from lcrec_mini.tasks.stage import run_tasks  # noqa: E402
from lcrec_mini.tune.stage import run_tune  # noqa: E402

#: the tables in benchmarks/results were measured on text-only indices: --run-dir must hold
#: data/embed/index stages built with embed.cf_dims=0 (e.g. `lcrec-mini run --set embed.cf_dims=0`)
WINDOW = ["embed.cf_dims=0", "tasks.seqrec_format=window", "tasks.tasks=[seqrec]", "tasks.seqrec_samples=0"]
#: LC-Rec's format as the cpu preset had it before the levers (also benchmarks/levers.py's "lcrec-format")
OLD_CPU_FORMAT = [
    "embed.cf_dims=0", "tasks.tasks=[seqrec,item2index,index2item,fusionseqrec,itemsearch,preferenceobtain]",
    "tasks.seqrec_format=prefix", "tune.index_softmax=false", "tasks.max_history=10",
    "tasks.seqrec_samples=2700", "tasks.item2index_samples=850", "tasks.index2item_samples=430",
    "tasks.fusionseqrec_samples=260", "tasks.itemsearch_samples=260", "tasks.preferenceobtain_samples=100",
    "tune.index_init=mean", "tune.index_lr=0", "tune.embed_warmup_steps=0",
]
VARIANTS = {
    "a lcrec-format": OLD_CPU_FORMAT,
    "b prefix": ["tasks.seqrec_format=prefix", "tasks.tasks=[seqrec]", "tasks.seqrec_samples=2700",
                 "tasks.max_history=10", "tune.index_softmax=false"],
    "c window": WINDOW + ["tune.index_softmax=false"],
    "d window+ix": WINDOW + ["tune.index_softmax=true"],
    "e preset": [],
    "f fp32": ["tune.precision=fp32", "tune.embed_warmup_steps=0"],
    "g bf16": ["tune.precision=bf16", "tune.embed_warmup_steps=0"],
}


def quiet(_m: str) -> None:
    pass


def run_variant(name: str, src: Path, work: Path, steps: int, batch: int, extra: Sequence[str] = ()) -> dict:
    d = work / name.split()[0]
    if not (d / "index").exists():
        d.mkdir(parents=True, exist_ok=True)
        for s in ("data", "embed", "index"):
            shutil.copytree(src / s, d / s)
    sets = list(extra) + VARIANTS[name] + [f"tune.max_steps={steps}", f"tune.batch_size={batch}", "tune.eval_samples=4",
                             f"tune.eval_steps={10 * steps}", f"tune.save_steps={10 * steps}", "tune.logging_steps=1"]
    cfg = make_config("cpu", set_items=sets)
    run_tasks(cfg, d, log=quiet)
    run_tune(cfg, d, force=True, log=quiet)
    st = json.loads((d / "tune" / "train_stats.json").read_text())
    return {"tok_s": st["tokens_per_second"], "tgt_s": st["targets_per_second"], "mean_tokens": st["mean_example_tokens"],
            "train_s": st["train_seconds"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", default="runs/cpu", help="a cpu-preset run with data/, embed/ and index/")
    ap.add_argument("--work", default="/tmp/bench-tune", help="scratch folder (one run folder per variant)")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                    help="which variants to time (default: all)")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="a config key changed in every variant (repeatable), e.g. tune.lora_dropout=0")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "bench_tune.md"))
    args = ap.parse_args()
    src, work = Path(args.run_dir), Path(args.work)
    try:  # a bad key or value is refused before any model is loaded
        for n in args.variants:
            make_config("cpu", set_items=list(args.sets) + VARIANTS[n])
    except ConfigError as e:
        sys.exit(f"bench_tune: --set: {e}")
    for s in ("data", "embed", "index"):
        if not (src / s / "config.json").exists():
            sys.exit(f"bench_tune: {src / s} is missing; run `lcrec-mini run --preset cpu --run-dir {src}` first")
    names = list(args.variants)
    res: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for n in order:
            t0 = time.perf_counter()
            res[n].append(run_variant(n, src, work, args.steps, args.batch, args.sets))
            print(f"round {r + 1}: {n:<12} {res[n][-1]}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    ref = "a lcrec-format" if "a lcrec-format" in names else names[0]
    lines = [
        f"**bench_tune** on {cpu_line()}",
        "",
        f"SmolLM2-135M-Instruct + LoRA (r 8, 7 projections) on {os.cpu_count()} cores, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; batch {args.batch}, {args.steps} steps per "
        f"variant, {args.rounds} interleaved rounds (medians)",
        "",
        f"| variant | mean tokens / example | tokens/s | next-item targets/s | tokens/s vs ({ref[0]}) "
        f"| targets/s vs ({ref[0]}) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for n in names:
        tok = statistics.median(x["tok_s"] for x in res[n])
        tgt = statistics.median(x["tgt_s"] for x in res[n])
        rt = statistics.median(x["tok_s"] / a["tok_s"] for x, a in zip(res[n], res[ref]))
        rg = statistics.median(x["tgt_s"] / max(a["tgt_s"], 1e-9) for x, a in zip(res[n], res[ref]))
        mt = statistics.median(x["mean_tokens"] for x in res[n])
        lines.append(f"| {n} | {mt:.1f} | {tok:.1f} | {tgt:.2f} | {rt:.2f} | {rg:.1f} |")
    if "f fp32" in names and "g bf16" in names:
        per_round = [g["tok_s"] / f["tok_s"] for g, f in zip(res["g bf16"], res["f fp32"])]
        lines += ["", f"bf16 / fp32 tokens/s: {statistics.median(per_round):.2f} (per round: "
                  + ", ".join(f"{r:.2f}" for r in per_round) + ")"]
    lines += ["", "Variants: " + "; ".join(f"{n}: {' '.join(VARIANTS[n]) or '(the cpu preset)'}" for n in names)]
    if args.sets:
        lines += ["", "In every variant: " + " ".join(args.sets)]
    text = "\n".join(lines) + "\n"
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
