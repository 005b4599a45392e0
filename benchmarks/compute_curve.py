"""LC-Rec's quality against its tuning budget, beside SASRec and most-popular, over
several training seeds.

The cpu preset keeps the adapter at a few steps of its tune (``tune.snapshot_steps``,
in ``tune/snapshots/step-N``). This script ranks the whole catalogue for all test users
with each snapshot and with the final model (LC-Rec's seqrec prompts, the same beam
search as the eval stage) of one or more runs that differ only in ``tune.seed``, and
plots NDCG@10 and HR@10 against the minutes of training, with the baselines of the same
data as lines. Each point is the mean over the seeds; its standard error counts the
users and the seeds (:func:`lcrec_mini.generate.metrics.seeded_difference`).

Where the curve meets SASRec: NDCG@10 is fitted as a + b log(minutes) through the last
three points of each seed, and the minutes where the fit reaches SASRec's NDCG@10 are
reported per seed (an extrapolation, labelled as one; none when the fit does not rise),
with their median and range across the seeds as its uncertainty. Those minutes, and the
measured curve's last point, are also put in minutes of a Colab T4 / L4 / A100 (estimates,
labelled so: this machine's measured training FLOP rate against each card's data-sheet
peak at 20% to 50% utilisation, never faster than a floor per optimizer step; see
:func:`gpu_minutes` and ``colab_estimate.py``).

The earlier points are checkpoints of one run whose cosine schedule was planned for
the whole budget, so their learning rate had not decayed yet: each is a lower bound
for a run planned to stop there.

    lcrec-mini run --preset cpu --run-dir runs/cpu                      # training seed 42
    lcrec-mini run --preset cpu --run-dir runs/cpu-s43 --set tune.seed=43
    lcrec-mini run --preset cpu --run-dir runs/cpu-s44 --set tune.seed=44
    python benchmarks/compute_curve.py --run-dir runs/cpu --run-dir runs/cpu-s43 --run-dir runs/cpu-s44

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

import numpy as np  # noqa: E402

from lcrec_mini.core.config import make_config  # noqa: E402
from lcrec_mini.core.runtime import cpu_line  # noqa: E402
from lcrec_mini.core.stage import stage_seconds  # noqa: E402
from lcrec_mini.generate.metrics import per_user, seeded_difference  # noqa: E402

from colab_estimate import GPUS, PASS_SECONDS, SMOL_N, UTILISATION  # noqa: E402  (this folder is on sys.path)

RESULTS = Path(__file__).parent / "results"
#: FLOPs of one LoRA training step per token of SmolLM2-135M: forward 2 N, input gradients
#: 2 N (frozen weights need no weight gradient; bench_ceiling.md: "about twice" the forward)
TRAIN_FLOPS_PER_TOKEN = 4 * SMOL_N
#: the least time a GPU spends on one optimizer step of a small model, whatever its FLOPs:
#: forward, backward and update as three passes of kernel launches (colab_estimate's PASS_SECONDS each)
STEP_FLOOR_S = 3 * PASS_SECONDS


def gpu_minutes(cpu_minutes: float, cpu_tokens_per_s: float, steps: float) -> dict[str, tuple[float, float]]:
    """Estimated minutes of each Colab GPU for the tuning this machine did in ``cpu_minutes``
    at ``cpu_tokens_per_s`` over ``steps`` optimizer steps: the same FLOPs at 50% (first)
    and 20% (second) of the card's data-sheet peak, each at least ``steps`` x
    ``STEP_FLOOR_S``. An estimate from data sheets, not a measurement."""
    flops = cpu_minutes * 60 * cpu_tokens_per_s * TRAIN_FLOPS_PER_TOKEN
    floor = steps * STEP_FLOOR_S
    return {gpu: tuple(max(flops / (tflops * 1e12 * u), floor) / 60 for u in (max(UTILISATION), min(UTILISATION)))
            for gpu, (tflops, _) in GPUS.items()}


def measured_crossing(rows: list[dict]) -> dict | None:
    """The first point from which every later point of the curve is above SASRec by more
    than two standard errors (None: the curve's last point is not)."""
    above = [r["minus_sasrec"] - 2 * r["se_minus_sasrec"] > 0 for r in rows]
    first = None
    for i in range(len(rows) - 1, -1, -1):
        if not above[i]:
            break
        first = rows[i]
    return first


def crossing_summary(cross: list[float | None]) -> tuple[float, float, float] | None:
    """(median, lowest, highest) of the seeds' crossing minutes; None unless every seed's fit rises."""
    if not cross or any(c is None for c in cross):
        return None
    return float(np.median(cross)), float(min(cross)), float(max(cross))


def gpu_line(what: str, cpu_minutes: float, tokens_per_s: float, steps_per_minute: float) -> str:
    steps = cpu_minutes * steps_per_minute
    est = gpu_minutes(cpu_minutes, tokens_per_s, steps)
    floor = steps * STEP_FLOOR_S / 60
    cells = [f"{g} about {lo:.1f} min (the per-step floor)" if hi <= floor * 1.0001 else f"{g} {lo:.1f} to {hi:.1f} min"
             for g, (lo, hi) in est.items()]
    return f"{what}, {steps:,.0f} steps: " + ", ".join(cells)


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


def score_points(run_dir: Path, cfg) -> dict[int, dict]:
    """Rank every test user with each snapshot of ``run_dir``'s tune; each point is kept in
    ``run_dir/curve`` with the tune's fingerprint and the decoder's settings, and reused
    only for the same tune decoded the same way (the final model's point comes from the
    eval stage when that stage decoded as ``cfg.eval`` does)."""
    from lcrec_mini.core.stage import read_stage_config
    from lcrec_mini.generate.stage import Ranker, eval_decoding, score_tests
    from lcrec_mini.tasks.stage import read_examples

    tests = [e for e in read_examples(run_dir, "test") if e["task"] == "seqrec"]
    store = run_dir / "curve"
    store.mkdir(exist_ok=True)
    fp = read_stage_config(run_dir / "tune")["fingerprint"]
    decoder = {"beams": cfg.eval.beams, "softmax": cfg.eval.softmax, "exclude_history": cfg.eval.exclude_history}
    out = {}
    for step, model_dir, seconds in points(run_dir):
        f = store / f"step-{step}.json"
        kept = json.loads(f.read_text()) if f.exists() else {}
        # points kept before the decoder was recorded were decoded with beam 20 over the vocabulary
        # (and before exclude_history existed, without it)
        was = {"beams": 20, "softmax": "vocabulary", "exclude_history": False, **kept.get("decoder", {})}
        if kept.get("tune_fingerprint") == fp and was == decoder:
            out[step] = kept
            continue
        final = model_dir == run_dir / "tune" / "model"
        if final and eval_decoding(run_dir) == decoder and (run_dir / "eval" / "metrics.json").exists():  # ranked already
            metrics = json.loads((run_dir / "eval" / "metrics.json").read_text())
            preds = [json.loads(l) for l in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines() if l]
            if metrics.get("n_users") == len(tests) and metrics.get("templates") == 1:
                out[step] = {"step": step, "train_seconds": seconds, "metrics": metrics, "tune_fingerprint": fp,
                             "decoder": decoder, "ranks": {str(p["user"]): p["rank"] for p in preds}}
                f.write_text(json.dumps(out[step]))
                continue
        t0 = time.perf_counter()
        rk = Ranker.load(run_dir, cfg, "cpu", model_dir=model_dir)
        metrics, preds = score_tests(rk, tests, cfg.eval)
        out[step] = {"step": step, "train_seconds": seconds, "metrics": metrics, "tune_fingerprint": fp,
                     "decoder": decoder, "ranks": {str(p["user"]): p["rank"] for p in preds}}
        f.write_text(json.dumps(out[step]))
        print(f"{run_dir} step {step} ({seconds / 60:.1f} min): HR@10 {metrics['hr@10']:.4f} "
              f"NDCG@10 {metrics['ndcg@10']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
        del rk
    return out


def aggregate(curves: list[dict[int, dict]], popular: dict[str, int | None], sasrec: dict[str, int | None]) -> list[dict]:
    """One row per step that every seed has: ``curves[s][step]`` holds that seed's
    ``train_seconds`` and per-user ``ranks``. NDCG@10 and HR@10 are means over seeds and
    users; each difference from a baseline (one model, the same users) and each level has
    a standard error over users and seeds."""
    steps = sorted(set.intersection(*(set(c) for c in curves)))
    rows = []
    for step in steps:
        users = sorted(curves[0][step]["ranks"], key=int)
        per = {k: [per_user([c[step]["ranks"][u] for u in users], k) for c in curves] for k in ("ndcg@10", "hr@10")}
        row = {"step": step, "minutes": float(np.mean([c[step]["train_seconds"] for c in curves])) / 60,
               "seeds": len(curves), "n_users": len(users)}
        for k, vals in per.items():
            row[k], row[f"se_{k}"] = seeded_difference(vals, [[0.0] * len(users)])
        nd = per["ndcg@10"]
        for name, ranks in (("popular", popular), ("sasrec", sasrec)):
            base = [per_user([ranks[u] for u in users], "ndcg@10")]
            row[f"minus_{name}"], row[f"se_minus_{name}"] = seeded_difference(nd, base)
        row["ndcg@10_by_seed"] = [float(np.mean(v)) for v in nd]
        rows.append(row)
    return rows


def crossing_minutes(rows: list[dict], target: float, last: int = 3) -> list[float | None]:
    """Per seed: the minutes at which a + b log(minutes), fitted through the last ``last``
    points, reaches ``target`` (None when the fit does not rise)."""
    pts = rows[-last:]
    x = np.log([r["minutes"] for r in pts])
    out: list[float | None] = []
    for s in range(pts[0]["seeds"]):
        y = np.array([r["ndcg@10_by_seed"][s] for r in pts])
        b, a = np.polyfit(x, y, 1)
        out.append(float(np.exp((target - a) / b)) if b > 1e-9 else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", action="append", default=[], help="a cpu run; repeat it for each training seed")
    ap.add_argument("--preset", default="cpu")
    a = ap.parse_args()
    run_dirs = [Path(d) for d in (a.run_dir or ["runs/cpu"])]
    cfg = make_config(a.preset)

    for d in run_dirs:
        for stage in ("tune", "baselines"):
            if not (d / stage / "config.json").exists():
                sys.exit(f"compute_curve: {d / stage} is missing; run `lcrec-mini run --preset {a.preset} --run-dir {d}`")
    seeds = [json.loads((d / "tune" / "tune_meta.json").read_text()).get("train_seed") for d in run_dirs]
    if len(set(seeds)) != len(seeds):
        sys.exit(f"compute_curve: the runs must differ in tune.seed; they have training seeds {seeds}")
    curves = [score_points(d, cfg) for d in run_dirs]
    run_dir = run_dirs[0]
    ranks = json.loads((run_dir / "baselines" / "ranks.json").read_text())  # ranked as the eval stage ranks
    pop_rank = {str(u): r for u, r in zip(ranks["users"], ranks["most_popular"])}
    sas_rank = {str(u): r for u, r in zip(ranks["users"], ranks["sasrec"])}
    bl = json.loads((run_dir / "baselines" / "metrics.json").read_text())
    bl_seconds = stage_seconds(run_dir / "baselines") or 0.0
    rows = aggregate(curves, pop_rank, sas_rank)
    cross = crossing_minutes(rows, bl["sasrec"]["ndcg@10"]) if len(rows) >= 3 else []
    n = rows[-1]["n_users"]
    lines = [f"**LC-Rec against its tuning budget** ({cfg.preset} preset, {cfg.tune.model} LoRA, data seed {cfg.seed}, "
             f"training seeds {', '.join(map(str, seeds))}; all {n} test users; minutes of training on this machine; "
             "means over the seeds, standard errors over users and seeds)", "",
             "| steps | minutes | HR@10 | NDCG@10 (SE) | - most popular (SE) | - SASRec (SE) |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['step']} | {r['minutes']:.1f} | {r['hr@10']:.4f} | {r['ndcg@10']:.4f} ({r['se_ndcg@10']:.4f}) "
                     f"| {r['minus_popular']:+.4f} ({r['se_minus_popular']:.4f}) "
                     f"| {r['minus_sasrec']:+.4f} ({r['se_minus_sasrec']:.4f}) |")
    lines += ["", f"Same data: most popular HR@10 {bl['most_popular']['hr@10']:.4f} / NDCG@10 "
              f"{bl['most_popular']['ndcg@10']:.4f}; SASRec {bl['sasrec']['hr@10']:.4f} / {bl['sasrec']['ndcg@10']:.4f} "
              f"(trained in {bl_seconds / 60:.1f} min)."]
    if cross:
        shown = ", ".join("no crossing (the fit does not rise)" if c is None else f"{c:.0f} min" for c in cross)
        lines += ["", "Extrapolated (a + b log minutes through the last three points, per seed) minutes of this "
                  f"machine at which LC-Rec would reach SASRec's NDCG@10: {shown}."]
    measured = measured_crossing(rows)
    lines += ["", f"Measured: LC-Rec is above SASRec by more than two standard errors from {measured['step']} steps "
              f"({measured['minutes']:.1f} min) on." if measured else
              "Measured: no point of the curve is above SASRec by more than two standard errors."]
    stats = [json.loads((d / "tune" / "train_stats.json").read_text()) for d in run_dirs]
    tok_s = float(np.mean([s["tokens_per_second"] for s in stats]))
    # steps per minute of the process that trained them (a resumed tune times only its own steps)
    per_min = float(np.mean([(s["steps"] - s.get("resumed_from_step", 0)) / (s["train_seconds"] / 60) for s in stats]))
    summary = crossing_summary(cross)
    if cfg.tune.model != "smollm2" or cfg.tune.gradient_checkpointing:
        lines += ["", f"(No Colab estimate: it counts {TRAIN_FLOPS_PER_TOKEN / 1e6:.0f} MFLOP per token, SmolLM2-135M "
                  "without gradient checkpointing, not this preset's model.)"]
    else:
        gpu = [gpu_line(f"the whole measured curve ({rows[-1]['minutes']:.0f} min here)", rows[-1]["minutes"], tok_s, per_min)]
        if measured:
            gpu.append(gpu_line(f"the measured crossing ({measured['minutes']:.0f} min here)", measured["minutes"], tok_s,
                                per_min))
        if summary:
            med, lo, hi = summary
            gpu.append(gpu_line(f"the extrapolated crossing (median of the seeds, {med:.0f} min here; the seeds "
                                f"range {lo:.0f} to {hi:.0f})", med, tok_s, per_min))
        peaks = ", ".join(f"{g.split(' (')[0]} {t} TFLOP/s" for g, (t, _) in GPUS.items())
        lines += ["", "Tuning alone on Colab GPUs, **estimated, not measured** (no GPU has run this curve): this "
                  f"machine's {tok_s:.0f} tokens/s x {TRAIN_FLOPS_PER_TOKEN / 1e6:.0f} MFLOP per token (LoRA step of "
                  f"SmolLM2-135M) against each card's dense peak from its data sheet ({peaks}) at an assumed "
                  f"{min(UTILISATION):.0%} to {max(UTILISATION):.0%} utilisation, and an assumed floor of "
                  f"{STEP_FLOOR_S * 1000:.0f} ms per optimizer step (kernel launches; `colab_estimate.py`); model "
                  "loading and evaluation not included: " + "; ".join(gpu) + "."]
    RESULTS.mkdir(exist_ok=True)
    lines += ["", f"Processor: {cpu_line()}."]  # last line: the book's include stops before it
    (RESULTS / "compute_curve.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "compute_curve.json").write_text(json.dumps({"rows": rows, "baselines": {
        k: bl[k] for k in ("most_popular", "sasrec")}, "preset": cfg.preset, "model": cfg.tune.model,
        "seed": cfg.seed, "training_seeds": seeds, "crossing_minutes": cross,
        "crossing_summary": summary, "tokens_per_second": tok_s}, indent=1))
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
        ax.errorbar(x, y, yerr=[2 * r[f"se_{key}"] for r in rows], fmt="none", color="C0", alpha=0.5, capsize=3)
        ax.axhline(bl["sasrec"][key], color="C2", ls="--", label="SASRec")
        ax.axhline(bl["most_popular"][key], color="C3", ls=":", label="most popular")
        ax.set_xlabel("minutes of tuning (2 CPU cores)")
        ax.set_ylabel(key.upper())
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    seeds = rows[-1]["seeds"]
    axes[0].set_title(f"NDCG@10, mean of {seeds} training seeds (bars: 2 SE, users and seeds)", fontsize=9)
    axes[1].set_title("HR@10", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()
