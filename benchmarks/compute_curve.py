"""LC-Rec's quality against its tuning budget, beside SASRec and most-popular.

The cpu preset keeps the adapter at a few steps of its tune (``tune.snapshot_steps``,
in ``tune/snapshots/step-N``). This script ranks the whole catalogue for all test users
with each snapshot and with the final model (LC-Rec's seqrec prompts, the same beam
search as the evaluate stage), and plots NDCG@10 and HR@10 against the minutes of
training they had on this machine, with the baselines of the same run as lines.

The earlier points are checkpoints of one run whose cosine schedule was planned for
the whole budget, so their learning rate had not decayed yet: each is a lower bound
for a run planned to stop there.

    python benchmarks/compute_curve.py --run-dir runs/cpu

Results are kept per point in ``<run-dir>/curve/`` (an interrupted run resumes);
the table and figure go to ``benchmarks/results/compute_curve.{md,png,json}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.config import make_config  # noqa: E402
from lcrec_mini.data.splits import test_case  # noqa: E402
from lcrec_mini.metrics import ndcg_of, paired_se  # noqa: E402
from lcrec_mini.stage import stage_seconds  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def points(run_dir: Path) -> list[tuple[int, Path, float]]:
    """(step, model folder, training seconds) of every snapshot and of the final model."""
    tune = run_dir / "tune"
    stats = json.loads((tune / "train_stats.json").read_text())
    out = []
    for d in sorted((tune / "snapshots").glob("step-*"), key=lambda p: int(p.name.split("-")[1])):
        meta = json.loads((d / "snapshot.json").read_text()) if (d / "snapshot.json").exists() else {}
        step = int(d.name.split("-")[1])
        out.append((step, d, meta.get("train_seconds", stats["train_seconds"] * step / stats["steps"])))
    out.append((stats["steps"], tune / "model", stats["train_seconds"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", default="runs/cpu")
    ap.add_argument("--preset", default="cpu")
    a = ap.parse_args()
    run_dir = Path(a.run_dir)
    cfg = make_config(a.preset)

    from lcrec_mini.baselines import most_popular
    from lcrec_mini.data import load_dataset
    from lcrec_mini.evaluation import Ranker, rank_of, score_tests
    from lcrec_mini.tasks import read_examples

    ds = load_dataset(run_dir)
    tests = [e for e in read_examples(run_dir, "test") if e["task"] == "seqrec"]
    store = run_dir / "curve"
    store.mkdir(exist_ok=True)
    for step, model_dir, seconds in points(run_dir):
        f = store / f"step-{step}.json"
        if f.exists():
            continue
        final = model_dir == run_dir / "tune" / "model"
        if final and (run_dir / "eval" / "metrics.json").exists():  # the evaluate stage ranked it already
            metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
            preds = [json.loads(l) for l in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines() if l]
            if metrics.get("n_users") == len(tests) and metrics.get("templates") == 1:
                f.write_text(json.dumps({"step": step, "train_seconds": seconds, "metrics": metrics,
                                         "ranks": {str(p["user"]): p["rank"] for p in preds}}))
                continue
        t0 = time.perf_counter()
        rk = Ranker.load(run_dir, cfg, "cpu", model_dir=model_dir)
        metrics, preds = score_tests(rk, tests, cfg.eval)
        f.write_text(json.dumps({"step": step, "train_seconds": seconds, "metrics": metrics,
                                 "ranks": {str(p["user"]): p["rank"] for p in preds}}))
        print(f"step {step} ({seconds / 60:.1f} min): HR@10 {metrics['hr@10']:.4f} NDCG@10 {metrics['ndcg@10']:.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
        del rk

    if not (run_dir / "baselines" / "metrics.json").exists():
        print(f"{run_dir / 'baselines'}: not there yet; run `lcrec-mini baselines --preset {a.preset} --run-dir {run_dir}`, "
              "then this script again for the table and figure (the points above are kept)")
        return
    seqs = {str(u): s for u, s in ds.sequences.items()}
    pop = most_popular([test_case(s)[0] for s in seqs.values()], ds.n_items)
    pop_rank = {u: rank_of(test_case(s)[1], pop) for u, s in seqs.items()}
    bl = json.loads((run_dir / "baselines" / "metrics.json").read_text())
    bl_seconds = stage_seconds(run_dir / "baselines") or 0.0
    rows = []
    for step, _, _ in points(run_dir):
        r = json.loads((store / f"step-{step}.json").read_text())
        users = list(r["ranks"])
        mine = [ndcg_of(r["ranks"][u]) for u in users]
        base = [ndcg_of(pop_rank[u]) for u in users]
        rows.append({"step": step, "minutes": r["train_seconds"] / 60, "hr@10": r["metrics"]["hr@10"],
                     "ndcg@10": r["metrics"]["ndcg@10"], "invalid_rate": r["metrics"]["invalid_rate"],
                     "minus_popular": sum(mine) / len(mine) - sum(base) / len(base),
                     "se_minus_popular": paired_se(mine, base), "n_users": len(users)})
    n = rows[-1]["n_users"]
    lines = [f"**LC-Rec against its tuning budget** ({cfg.preset} preset, {cfg.tune.model} LoRA, seed {cfg.seed}, "
             f"all {n} test users; minutes of training on this 2-core machine)", "",
             "| steps | minutes | HR@10 | NDCG@10 | NDCG@10 - most popular | SE of the difference |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['step']} | {r['minutes']:.1f} | {r['hr@10']:.4f} | {r['ndcg@10']:.4f} | "
                     f"{r['minus_popular']:+.4f} | {r['se_minus_popular']:.4f} |")
    lines += ["", f"Same run: most popular HR@10 {bl['most_popular']['hr@10']:.4f} / NDCG@10 "
              f"{bl['most_popular']['ndcg@10']:.4f}; SASRec {bl['sasrec']['hr@10']:.4f} / {bl['sasrec']['ndcg@10']:.4f} "
              f"(trained in {bl_seconds / 60:.1f} min)."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "compute_curve.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "compute_curve.json").write_text(json.dumps({"rows": rows, "baselines": {
        k: bl[k] for k in ("most_popular", "sasrec")}, "preset": cfg.preset, "model": cfg.tune.model,
        "seed": cfg.seed}, indent=1))
    print("\n".join(lines))
    plot(rows, bl, RESULTS / "compute_curve.png")


def plot(rows: list[dict], bl: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    x = [r["minutes"] for r in rows]
    for ax, key in zip(axes, ("ndcg@10", "hr@10")):
        y = [r[key] for r in rows]
        ax.plot(x, y, "o-", color="C0", label="LC-Rec (SmolLM2-135M, LoRA)")
        if key == "ndcg@10":
            ax.errorbar(x, y, yerr=[2 * r["se_minus_popular"] for r in rows], fmt="none", color="C0", alpha=0.5,
                        capsize=3)
        ax.axhline(bl["sasrec"][key], color="C2", ls="--", label="SASRec")
        ax.axhline(bl["most_popular"][key], color="C3", ls=":", label="most popular")
        ax.set_xlabel("minutes of tuning (2 CPU cores)")
        ax.set_ylabel(key.upper())
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    axes[0].set_title("NDCG@10 (bars: 2 SE of the difference from most popular)", fontsize=9)
    axes[1].set_title("HR@10", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
