"""An index-side lever toward SASRec, measured with the study's training seeds.

The item vectors that the RQ-VAE quantises are text embeddings with a collaborative part
appended (``embed.cf_dims`` dimensions). The ``cpu`` preset takes that part from item
co-occurrence (``embed.cf_source=cooccurrence``). LETTER (Wang et al., CIKM 2024) takes it
from a trained sequential recommender instead; here that is our SASRec's item table
(``embed.cf_source=sasrec``, trained inside the embed stage, about 3 minutes).

The co-occurrence side is the study's main configuration (``index-lcrec-all``: LC-Rec
indices, all six tasks, the study's token budget, every training seed of the study),
so this script trains only the other side, in the study's folder, with each of the
study's seeds, and compares the two on all test users: NDCG@10 and HR@10 averaged over the
seeds, their difference with a standard error over users (paired) and seeds (each side's
spread of seed means), and the verdict (not resolved when two standard errors hold 0).

    python benchmarks/cf_lever.py --study-dir runs/study-cpu    # after `lcrec-mini study --preset cpu`

Resumable: a seed whose run is finished is kept.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.analyses.claims import difference, seed_means, seeded_verdict  # noqa: E402
from lcrec_mini.analyses.plan import MAIN_RUN, STUDY_BUDGETS, STUDY_SEEDS, StudyRun, run_name, study_runs  # noqa: E402
from lcrec_mini.core.stage import read_json, write_json  # noqa: E402

MAIN = next(r for r in study_runs() if r.name == MAIN_RUN)
#: the study's main configuration with the collaborative dimensions from SASRec's item table
CF_RUN = StudyRun("cf-sasrec-all", "lever", {**MAIN.overrides, "embed.cf_source": "sasrec"},
                  "LC-Rec indices with SASRec's item table as the collaborative part, all tasks")
KEYS = ("ndcg@10", "hr@10")


def check_study(study_dir: Path, seeds: list[int]) -> dict[str, Any]:
    """The study's ``index-lcrec-all`` row, refused (before any training) unless it has
    every seed asked for, with per-user ranks."""
    res_path = study_dir / "results.json"
    if not res_path.exists():
        sys.exit(f"cf_lever: {res_path} not found; run the study first (`lcrec-mini study --preset cpu`)")
    row = read_json(res_path).get("runs", {}).get(MAIN_RUN)
    have = sorted(int(s) for s in (row or {}).get("seeds", {}))
    missing = [s for s in seeds if s not in have]
    if missing:
        sys.exit(f"cf_lever: {res_path} has {MAIN_RUN} with training seeds {have or 'none'}, not {missing}; "
                 "let the study finish those seeds first (it is the co-occurrence side of this comparison)")
    if any(row["seeds"][str(s)].get("ranks") is None for s in seeds):
        sys.exit(f"cf_lever: {res_path}: {MAIN_RUN} has no per-user ranks to pair the users with")
    return {"seeds": {str(s): row["seeds"][str(s)] for s in seeds}, **seed_means({str(s): row["seeds"][str(s)] for s in seeds})}


def compare(sasrec: dict[str, Any], cooc: dict[str, Any]) -> dict[str, Any]:
    """Both sides' seed means and, per metric, SASRec minus co-occurrence with its standard
    error (users paired, seeds as retrainings) and the verdict."""
    out: dict[str, Any] = {"seeds": sorted(int(s) for s in sasrec["seeds"]), "n_users": sasrec.get("n_users")}
    for key in KEYS:
        d, se = difference(sasrec, cooc, key)
        out[key] = {"sasrec": sasrec[key], "cooccurrence": cooc[key], "difference": d, "se": se,
                    "verdict": seeded_verdict([sasrec, cooc], [(d, se)])}
    return out


def table(cmp: dict[str, Any], preset: str, tokens: int, minutes: float) -> str:
    seeds = ", ".join(map(str, cmp["seeds"]))
    lines = [f"**Collaborative part of the item vectors: SASRec's item table against co-occurrence** "
             f"(preset {preset}, LC-Rec indices, all six tasks, ~{tokens:,} training tokens per run, data seed 42, "
             f"training seeds {seeds}, all {cmp['n_users']} test users; means over the seeds; SE over users (paired) "
             "and seeds (each side's spread of seed means))", "",
             "| metric | co-occurrence (study) | SASRec table | SASRec - co-occurrence | SE | verdict |",
             "|---|---:|---:|---:|---:|---|"]
    for key in KEYS:
        c = cmp[key]
        lines.append(f"| {key.upper()} | {c['cooccurrence']:.4f} | {c['sasrec']:.4f} | {c['difference']:+.4f} | "
                     f"{c['se']:.4f} | {c['verdict']} |")
    lines += ["", f"SASRec side: {minutes:.1f} min for its {len(cmp['seeds'])} runs (embed with SASRec, index, "
                  "tasks, tune, eval); the co-occurrence side is the study's `index-lcrec-all`."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--study-dir", default="runs/study-cpu")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(STUDY_SEEDS))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "cf_lever.md"))
    args = ap.parse_args()
    study_dir = Path(args.study_dir)
    if len(args.seeds) < 3:
        sys.exit(f"cf_lever: --seeds {args.seeds}: a comparison of two training configurations needs at least 3 seeds")
    cooc = check_study(study_dir, args.seeds)  # before any work

    from lcrec_mini.analyses.study import _metrics_row, _tune_and_eval  # torch and transformers: after the checks

    state_path = study_dir / "cf_lever.json"
    state = read_json(state_path) if state_path.exists() else {"seeds": {}, "wall_seconds": {}}
    tokens = STUDY_BUDGETS[args.preset].tokens
    for seed in args.seeds:
        if str(seed) in state["seeds"]:
            continue
        t0 = time.perf_counter()
        print(f"== {run_name(CF_RUN, seed)}: {CF_RUN.label}, training seed {seed}", flush=True)
        rd = _tune_and_eval(args.preset, study_dir, CF_RUN, seed, tokens, ("tune", "eval"), print)
        state["seeds"][str(seed)] = _metrics_row(rd)
        state["wall_seconds"][str(seed)] = round(time.perf_counter() - t0, 1)
        write_json(state_path, state)  # each seed kept as it finishes
    sasrec = {"seeds": {str(s): state["seeds"][str(s)] for s in args.seeds}}
    sasrec.update(seed_means(sasrec["seeds"]))
    minutes = sum(state["wall_seconds"][str(s)] for s in args.seeds) / 60
    text = table(compare(sasrec, cooc), args.preset, tokens, minutes)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
