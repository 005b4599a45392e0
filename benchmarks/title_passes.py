"""How many readings of every index does the model need before it names the item?

The paper's Fig. 5a: from the first 1, 2, ..., L tokens of an item's index the tuned
model writes text that comes closer to the item's title as the prefix grows. In the
`cpu` run (one epoch, every index read back once) the titles are not learned: word F1
with the true title stays under .02 at every prefix length. This script isolates the
task that teaches them: it tunes the cpu preset's model on ``index2item`` alone (with the
title as every answer, ``--passes`` rows per item, shuffled into one epoch as the tuner
does; ``seqrec`` keeps 8 windows because every run must hold it), keeps the adapter at
each pass's worth of steps, and scores each snapshot as the case studies do: over the
``--items`` most popular items, the word F1 of the greedy title with the true title at
each prefix length (mean and standard error over the items), the full index against the
first code (paired over the items), and the share of distinct full-index titles.

    python benchmarks/title_passes.py --run-dir runs/cpu --passes 6

The snapshots share one learning-rate schedule (warm-up, then linear decay over all
passes), so the point after pass k is not a k-pass run; it says where the titles start.
Writes ``benchmarks/results/title_passes.md`` (the CPU named) and its JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.analyses.study import prefix_title_scores  # noqa: E402
from lcrec_mini.baselines.stage import popular_items  # noqa: E402
from lcrec_mini.core.config import make_config  # noqa: E402
from lcrec_mini.core.presets import PRESETS  # noqa: E402
from lcrec_mini.core.run import Run  # noqa: E402
from lcrec_mini.core.runtime import cpu_line  # noqa: E402
from lcrec_mini.core.stage import read_json  # noqa: E402
from lcrec_mini.tasks.config import TEXT_VARIANTS  # noqa: E402
from lcrec_mini.tasks.stage import run_tasks  # noqa: E402
from lcrec_mini.tune.stage import load_tuned, run_tune  # noqa: E402


def score(run_dir: Path, model_dir: Path | None, items: list[int], cache_dir: str) -> dict:
    """The case studies' Fig. 5a scores (``prefix_title_scores``) of one adapter, with the
    full index minus the first code (paired over the items) and four examples."""
    run = Run(run_dir)
    tok, model = load_tuned(run_dir, cache_dir, "cpu", model_dir=model_dir)
    cs = prefix_title_scores(model, tok, run.codes, run.dataset, items, read_json(run_dir / "tune" / "tune_meta.json"))
    diff = np.array([g["rows"][-1]["overlap_with_title"] - g["rows"][0]["overlap_with_title"]
                     for g in cs["prefix_generation"]])
    return {"f1": cs["mean_title_overlap_by_prefix_length"], "f1_se": cs["title_overlap_se_by_prefix_length"],
            "full_minus_first": float(diff.mean()), "full_minus_first_se": float(diff.std(ddof=1) / math.sqrt(len(diff))),
            "distinct": cs["distinct_title_share"],
            "examples": [{"title": g["title"], "generated": [r["generated title"] for r in g["rows"]]}
                         for g in cs["prefix_generation"][:4]]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="cpu", help="the preset whose tuner is used (default: cpu)")
    ap.add_argument("--run-dir", default="runs/cpu", help="a run of that preset with data/, embed/ and index/")
    ap.add_argument("--work", default="/tmp/title-passes", help="scratch run folder")
    ap.add_argument("--passes", type=int, default=6)
    ap.add_argument("--items", type=int, default=100)
    ap.add_argument("--seed", type=int, default=42, help="training seed (tune.seed)")
    ap.add_argument("--variants", nargs="+", default=["title"], choices=list(TEXT_VARIANTS),
                    help="the index2item answers drawn for each row (tasks.index2item_variants; default: the title)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "title_passes.md"))
    args = ap.parse_args()
    src, work = Path(args.run_dir), Path(args.work)
    if args.passes < 1 or args.items < 2:
        sys.exit(f"title_passes: --passes {args.passes} / --items {args.items}: expected at least 1 pass and 2 items")
    if args.preset not in PRESETS:
        sys.exit(f"title_passes: --preset {args.preset!r}: expected one of {', '.join(PRESETS)}")
    if not Path(args.out).parent.is_dir():
        sys.exit(f"title_passes: --out {args.out}: its folder does not exist")
    for s in ("data", "embed", "index"):
        if not (src / s / "config.json").exists():
            sys.exit(f"title_passes: {src / s} is missing; run `lcrec-mini run --preset {args.preset} --run-dir {src}` first")
    if not (work / "index").exists():
        work.mkdir(parents=True, exist_ok=True)
        for s in ("data", "embed", "index"):
            shutil.copytree(src / s, work / s)
    elif (work / "index" / "config.json").read_text() != (src / "index" / "config.json").read_text():
        sys.exit(f"title_passes: {work} holds the stages of another run than {src}; give another --work")
    sets = ["tasks.tasks=[seqrec,index2item]", "tasks.seqrec_samples=8", "tasks.index2item_samples=0",
            f"tasks.index2item_variants=[{','.join(args.variants)}]", f"tasks.index2item_passes={args.passes}", "tune.epochs=1",
            "tune.max_steps=0", f"tune.seed={args.seed}", "tune.eval_samples=4"]
    cfg = make_config(args.preset, set_items=sets)
    run_tasks(cfg, work, log=print)
    rows = sum(read_json(work / "tasks" / "stats.json")["examples"]["train"].values())
    batch = cfg.tune.batch_size * cfg.tune.grad_accum
    steps = math.ceil(rows / batch)
    if steps < args.passes:
        sys.exit(f"title_passes: {rows} rows make {steps} steps of {batch}, fewer than --passes {args.passes}")
    marks = [round(steps * k / args.passes) for k in range(1, args.passes)]
    cfg = make_config(args.preset, set_items=sets + [f"tune.snapshot_steps={marks}", f"tune.eval_steps={10 * steps}",
                                                     f"tune.save_steps={10 * steps}"])
    t0 = time.perf_counter()
    run_tune(cfg, work, log=print)
    stats = read_json(work / "tune" / "train_stats.json")
    print(f"tuned in {time.perf_counter() - t0:.0f} s; scoring {args.passes} points", flush=True)
    ds = Run(work).dataset
    items = popular_items(ds, args.items)
    points = []
    snaps = {int(d.name.split("-")[1]): d for d in (work / "tune" / "snapshots").glob("step-*")}
    for k in range(1, args.passes + 1):
        step = marks[k - 1] if k < args.passes else stats["steps"]
        model_dir = snaps.get(step) if k < args.passes else None
        if k < args.passes and model_dir is None:
            sys.exit(f"title_passes: snapshot step-{step} missing in {work / 'tune' / 'snapshots'}")
        t1 = time.perf_counter()
        p = {"passes": k, "step": step, **score(work, model_dir, items, cfg.data.cache_dir)}
        points.append(p)
        print(f"passes {k} (step {step}): F1 {[round(x, 4) for x in p['f1']]}, full - first "
              f"{p['full_minus_first']:+.4f} (SE {p['full_minus_first_se']:.4f}), distinct {p['distinct']:.2f} "
              f"({time.perf_counter() - t1:.0f} s)", flush=True)
    L = len(points[0]["f1"])
    lines = [f"**title_passes** on {cpu_line()}", "",
             f"{cfg.tune.model} ({cfg.tune.method}, the {args.preset} preset's tuner, precision {stats.get('precision')}), tuned on "
             f"`index2item` alone with {'the title as every answer' if args.variants == ['title'] else 'answers drawn from ' + ' / '.join(args.variants)}: {args.passes} rows per item ({rows:,} rows with 8 "
             f"seqrec windows, {stats['steps']} steps of {batch} in {stats['train_seconds']:.0f} s, training seed "
             f"{args.seed}); each row below is the adapter after that many passes' worth of steps (one "
             f"learning-rate schedule over all of them). Scored over the {args.items} most popular items: word F1 "
             "of the greedy title with the true title at each prefix length (SE over the items), the full index "
             "minus the first code (paired), and the share of distinct full-index titles.", "",
             "| passes | step | " + " | ".join(f"F1, {d} code{'s' if d > 1 else ''}" for d in range(1, L + 1))
             + " | full - first (SE) | distinct |",
             "|---:|---:|" + "---:|" * L + "---:|---:|"]
    for p in points:
        lines.append(f"| {p['passes']} | {p['step']} | " + " | ".join(
            f"{m:.3f} ({s:.3f})" for m, s in zip(p["f1"], p["f1_se"]))
            + f" | {p['full_minus_first']:+.3f} ({p['full_minus_first_se']:.3f}) | {p['distinct']:.2f} |")
    last = points[-1]["examples"]
    lines += ["", "After the last pass: " + "; ".join(
        f"{e['title']} -> " + " / ".join(f'"{g}"' for g in e["generated"]) for e in last)]
    out = Path(args.out)
    out.write_text("\n".join(lines) + "\n")
    out.with_suffix(".json").write_text(json.dumps({"cpu": cpu_line(), "args": vars(args), "rows": rows,
                                                   "train": stats, "points": points}, indent=1) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
