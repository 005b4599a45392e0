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

Resumable: every stage of a finished seed is up to date and skipped; the rows are rebuilt
from the run folders each time (``<study-dir>/cf_lever.json`` keeps the comparison).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.analyses.claims import seed_means  # noqa: E402
from lcrec_mini.analyses.plan import (  # noqa: E402
    MAIN_RUN,
    STUDY_BUDGETS,
    STUDY_SEEDS,
    StudyRun,
    run_name,
    study_budget,
    study_runs,
)
from lcrec_mini.core.stage import logged_seconds, read_json, read_stage_config, write_json  # noqa: E402
from lcrec_mini.core.runtime import cpu_line  # noqa: E402
from lcrec_mini.generate.metrics import per_user, seeded_difference, verdict  # noqa: E402

MAIN = next(r for r in study_runs() if r.name == MAIN_RUN)
#: the study's main configuration with the collaborative dimensions from SASRec's item table
CF_RUN = StudyRun("cf-sasrec-all", "lever", {**MAIN.overrides, "embed.cf_source": "sasrec"},
                  "LC-Rec indices with SASRec's item table as the collaborative part, all tasks")
KEYS = ("ndcg@10", "hr@10")


def check_study(study_dir: Path, seeds: list[int], preset: str) -> dict[str, Any]:
    """The study's results (``results.json``), refused before any training unless they are
    of ``preset`` at its study budget and hold ``index-lcrec-all`` with every seed asked
    for and per-user ranks to pair the users with."""
    res_path = study_dir / "results.json"
    if not res_path.exists():
        sys.exit(f"cf_lever: {res_path} not found; run the study first (`lcrec-mini study --preset {preset}`)")
    results = read_json(res_path)
    budget = study_budget(preset)
    if results.get("preset") != preset or results.get("budget") != budget:
        sys.exit(f"cf_lever: {res_path} is a study of preset {results.get('preset')!r} with budget "
                 f"{results.get('budget')}, not --preset {preset!r} with {budget}")
    row = results.get("runs", {}).get(MAIN_RUN)
    have = sorted(int(s) for s in (row or {}).get("seeds", {}))
    missing = [s for s in seeds if s not in have]
    if missing:
        sys.exit(f"cf_lever: {res_path} has {MAIN_RUN} with training seeds {have or 'none'}, not {missing}; "
                 "let the study finish those seeds first (it is the co-occurrence side of this comparison)")
    check_paired({str(s): row["seeds"][str(s)] for s in seeds}, f"{res_path}: {MAIN_RUN}")
    return results


def check_paired(seeds: dict[str, dict[str, Any]], what: str, n_users: int | None = None) -> int:
    """Every seed's per-user ranks, all of one length (``n_users`` when given): the users are
    paired across the two sides, so a row without them would drop the pairing and the seeds
    from the standard error. Returns the number of users."""
    lengths = {len(r["ranks"]) if r.get("ranks") is not None else None for r in seeds.values()}
    if None in lengths or len(lengths) != 1 or (n_users is not None and lengths != {n_users}):
        sys.exit(f"cf_lever: {what}: every seed needs per-user ranks of the same {n_users or ''} test users "
                 f"(found lengths {sorted(lengths, key=str)}); evaluate with one template on all test users")
    return lengths.pop()


def side(seeds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"seeds": seeds, **seed_means(seeds)}


def compare(sasrec: dict[str, Any], cooc: dict[str, Any]) -> dict[str, Any]:
    """Both sides' seed means and, per metric, SASRec minus co-occurrence with its standard
    error (users paired, seeds as retrainings: :func:`seeded_difference`) and the verdict."""
    out: dict[str, Any] = {"seeds": sorted(int(s) for s in sasrec["seeds"]), "n_users": sasrec.get("n_users")}
    for key in KEYS:
        a = [per_user(r["ranks"], key) for r in sasrec["seeds"].values()]
        b = [per_user(r["ranks"], key) for r in cooc["seeds"].values()]
        d, se = seeded_difference(a, b)
        out[key] = {"sasrec": sasrec[key], "cooccurrence": cooc[key], "difference": d, "se": se,
                    "verdict": verdict([(d, se)])}
    return out


def table(cmp: dict[str, Any], preset: str, tokens: int, data_seed: int, minutes: float) -> str:
    seeds = ", ".join(map(str, cmp["seeds"]))
    lines = [f"**Collaborative part of the item vectors: SASRec's item table against co-occurrence** "
             f"(preset {preset}, LC-Rec indices, all six tasks, ~{tokens:,} training tokens per run, data seed "
             f"{data_seed}, training seeds {seeds}, all {cmp['n_users']} test users; means over the seeds; SE over "
             "users (paired) and seeds (each side's spread of seed means))", "",
             "| metric | co-occurrence (study) | SASRec table | SASRec - co-occurrence | SE | verdict |",
             "|---|---:|---:|---:|---:|---|"]
    for key in KEYS:
        c = cmp[key]
        lines.append(f"| {key.upper()} | {c['cooccurrence']:.4f} | {c['sasrec']:.4f} | {c['difference']:+.4f} | "
                     f"{c['se']:.4f} | {c['verdict']} |")
    lines += ["", f"Each side's item vectors, RQ-VAE and indices are built once (data seed {data_seed}) and shared "
                  "by its training seeds, so the standard error counts retrained models, not rebuilt indices. "
                  f"SASRec side: {minutes:.1f} min of stages for its {len(cmp['seeds'])} runs (its embed stage, "
                  "with SASRec trained inside it, counted once); the co-occurrence side is the study's "
                  "`index-lcrec-all`."]
    lines += ["", f"Processor: {cpu_line()}."]  # last line: the book's include stops before it
    return "\n".join(lines) + "\n"


def stage_minutes(run_dirs: list[Path]) -> float:
    """Minutes the stages of ``run_dirs`` took, as each run's ``log.jsonl`` records them, a
    stage copied from another run counted once (where it ran: a copy has no line in its log)."""
    seen, total = set(), 0.0
    for d in run_dirs:
        for st in ("embed", "index", "tasks", "tune", "eval"):
            meta = read_stage_config(d / st) or {}
            key = (st, meta.get("fingerprint"))
            seconds = logged_seconds(d, st)
            if key not in seen and seconds is not None:
                seen.add(key)
                total += seconds
    return total / 60


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--study-dir", default="runs/study-cpu")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(STUDY_SEEDS))
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "cf_lever.md"))
    args = ap.parse_args()
    study_dir, out = Path(args.study_dir), Path(args.out)
    if len(set(args.seeds)) < 3:
        sys.exit(f"cf_lever: --seeds {args.seeds}: a comparison of two training configurations needs at least "
                 "3 different seeds")
    if args.preset not in STUDY_BUDGETS:
        sys.exit(f"cf_lever: --preset {args.preset!r}: expected one of {', '.join(STUDY_BUDGETS)}")
    if not out.parent.is_dir():
        sys.exit(f"cf_lever: --out {out}: the folder {out.parent} does not exist")
    results = check_study(study_dir, args.seeds, args.preset)  # before any work
    cooc = side({str(s): results["runs"][MAIN_RUN]["seeds"][str(s)] for s in args.seeds})

    from lcrec_mini.analyses.study import _metrics_row, _tune_and_eval  # torch and transformers: after the checks

    tokens = STUDY_BUDGETS[args.preset].tokens
    rows, dirs = {}, []
    for seed in args.seeds:  # each stage skips itself when up to date: a finished seed costs nothing
        print(f"== {run_name(CF_RUN, seed)}: {CF_RUN.label}, training seed {seed}", flush=True)
        rd = _tune_and_eval(args.preset, study_dir, CF_RUN, seed, tokens, ("tune", "eval"), print)
        rows[str(seed)] = _metrics_row(rd)
        dirs.append(rd)
    sasrec = side(rows)
    check_paired(rows, f"{CF_RUN.name} runs", check_paired(cooc["seeds"], MAIN_RUN))
    cmp = compare(sasrec, cooc)
    write_json(study_dir / "cf_lever.json", {"preset": args.preset, "budget_tokens": tokens, **cmp})
    text = table(cmp, args.preset, tokens, results.get("seed", 42), stage_minutes(dirs))
    print(text)
    out.write_text(text)


if __name__ == "__main__":
    main()
