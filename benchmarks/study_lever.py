"""A lever measured against the study's main configuration, with the study's training seeds.

The study's main configuration (``index-lcrec-all``: LC-Rec indices, all six tasks, the
study's token budget, every training seed of the study) is one side; the lever changes one
thing in it. This script trains only the lever's side, in the study's folder (the stages
the two share are copied, not rebuilt), with each of the study's seeds, and compares the two
on all test users: NDCG@10 and HR@10 averaged over the seeds, their difference with a
standard error over users (paired) and seeds (each side's spread of seed means), and the
verdict (not resolved when two standard errors hold 0). The levers:

``cf-sasrec``
    The item vectors that the RQ-VAE quantises are text embeddings with a collaborative
    part appended (``embed.cf_dims`` dimensions). The ``cpu`` preset takes that part from
    item co-occurrence (``embed.cf_source=cooccurrence``). LETTER (Wang et al., CIKM 2024)
    takes it from a trained sequential recommender instead; here that is our SASRec's item
    table (``embed.cf_source=sasrec``, trained inside the embed stage, about 3 minutes).
``bf16``
    The study tunes in float32 on every processor; this side tunes under bf16 autocast
    (``tune.precision=bf16``), as the main run does on a processor with native bf16. It
    says whether bf16 costs quality beyond the noise of a retraining. It needs native bf16
    (AVX-512 BF16 or AMX) or a GPU: emulated bf16 is what no preset runs.
``seqrec-time``
    Do the five alignment tasks cost recommendation quality against tuning on ``seqrec``
    alone for the same time? The study compares the two at equal tokens; this side trains
    ``seqrec`` alone for the minutes the study's all-task runs took (the tokens that the
    study's seqrec-only runs tune in that time), so the comparison is at equal time.

    python benchmarks/study_lever.py --lever cf-sasrec --study-dir runs/study-cpu   # after `lcrec-mini study --preset cpu`
    python benchmarks/study_lever.py --lever bf16 --study-dir runs/study-cpu
    python benchmarks/study_lever.py --lever seqrec-time --study-dir runs/study-cpu

Resumable: every stage of a finished seed is up to date and skipped; the rows are rebuilt
from the run folders each time (``<study-dir>/lever-<name>.json`` keeps the comparison).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.analyses.claims import seed_means, whole_tunes  # noqa: E402
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
from lcrec_mini.core.runtime import cpu_has_native_bf16, cpu_line  # noqa: E402
from lcrec_mini.generate.metrics import per_user, seeded_difference, verdict  # noqa: E402

MAIN = next(r for r in study_runs() if r.name == MAIN_RUN)
KEYS = ("ndcg@10", "hr@10")


class Lever(NamedTuple):
    run: StudyRun  # the study's main configuration with the lever's change
    study_label: str  # the study's side, as the table names it
    label: str  # the lever's side
    title: str
    note: str  # what the two sides share, under the table
    out: str  # the table's file in benchmarks/results
    needs_bf16: bool = False
    #: train on as many minutes as the study's main runs instead of as many tokens: the tokens
    #: are the study's budget times this configuration's tuning rate (tokens per second, from
    #: the study's runs named here) over the main runs' seconds
    match_time_of: str | None = None


LEVERS = {
    "cf-sasrec": Lever(
        StudyRun("cf-sasrec-all", "lever", {**MAIN.overrides, "embed.cf_source": "sasrec"},
                 "LC-Rec indices with SASRec's item table as the collaborative part, all tasks"),
        "co-occurrence (study)", "SASRec table",
        "Collaborative part of the item vectors: SASRec's item table against co-occurrence",
        "Each side's item vectors, RQ-VAE and indices are built once and shared by its training seeds, so the "
        "standard error counts retrained models, not rebuilt indices.", "cf_lever.md"),
    "bf16": Lever(
        StudyRun("bf16-lcrec-all", "lever", {**MAIN.overrides, "tune.precision": "bf16"},
                 "LC-Rec indices, all tasks, tuned under bf16 autocast"),
        "float32 (study)", "bf16",
        "Tuning under bf16 autocast against float32",
        "The two sides share the data, the indices and the task examples; only the tuner's arithmetic differs. "
        "Their speed ratio is measured side by side by `benchmarks/bench_tune.py`, not from these runs.",
        "bf16_quality.md", needs_bf16=True),
    "seqrec-time": Lever(
        StudyRun("seqrec-time-lcrec", "lever", {"index.method": "lcrec", "tasks.tasks": ["seqrec"]},
                 "LC-Rec indices, seqrec only, tuned for as long as the all-task runs"),
        "all six tasks (study)", "seqrec only",
        "Six tasks against seqrec alone at equal tuning time",
        "The seqrec-only side trains for the minutes the study's all-task runs took (the tokens those "
        "minutes buy at the study's seqrec-only tuning rate), so the two sides cost the same time; the "
        "study's own comparison of the two (the alignment claim) is at equal tokens.",
        "seqrec_equal_time.md", match_time_of="index-lcrec-seq"),
}


def check_study(study_dir: Path, seeds: list[int], preset: str) -> dict[str, Any]:
    """The study's results (``results.json``), refused before any training unless they are
    of ``preset`` at its study budget and hold ``index-lcrec-all`` with every seed asked
    for and per-user ranks to pair the users with."""
    res_path = study_dir / "results.json"
    if not res_path.exists():
        sys.exit(f"study_lever: {res_path} not found; run the study first (`lcrec-mini study --preset {preset}`)")
    results = read_json(res_path)
    budget = study_budget(preset)
    if results.get("preset") != preset or results.get("budget") != budget:
        sys.exit(f"study_lever: {res_path} is a study of preset {results.get('preset')!r} with budget "
                 f"{results.get('budget')}, not --preset {preset!r} with {budget}")
    row = results.get("runs", {}).get(MAIN_RUN)
    have = sorted(int(s) for s in (row or {}).get("seeds", {}))
    missing = [s for s in seeds if s not in have]
    if missing:
        sys.exit(f"study_lever: {res_path} has {MAIN_RUN} with training seeds {have or 'none'}, not {missing}; "
                 "let the study finish those seeds first (it is the other side of every lever)")
    check_paired({str(s): row["seeds"][str(s)] for s in seeds}, f"{res_path}: {MAIN_RUN}")
    return results


def check_paired(seeds: dict[str, dict[str, Any]], what: str, n_users: int | None = None) -> int:
    """Every seed's per-user ranks, all of one length (``n_users`` when given): the users are
    paired across the two sides, so a row without them would drop the pairing and the seeds
    from the standard error. Returns the number of users."""
    lengths = {len(r["ranks"]) if r.get("ranks") is not None else None for r in seeds.values()}
    if None in lengths or len(lengths) != 1 or (n_users is not None and lengths != {n_users}):
        sys.exit(f"study_lever: {what}: every seed needs per-user ranks of the same {n_users or ''} test users "
                 f"(found lengths {sorted(lengths, key=str)}); evaluate with one template on all test users")
    return lengths.pop()


def side(seeds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"seeds": seeds, **seed_means(seeds)}


def compare(lever: dict[str, Any], study: dict[str, Any]) -> dict[str, Any]:
    """Both sides' seed means and, per metric, the lever's side minus the study's with its
    standard error (users paired, seeds as retrainings: :func:`seeded_difference`) and the verdict."""
    out: dict[str, Any] = {"seeds": sorted(int(s) for s in lever["seeds"]), "n_users": lever.get("n_users")}
    for key in KEYS:
        a = [per_user(r["ranks"], key) for r in lever["seeds"].values()]
        b = [per_user(r["ranks"], key) for r in study["seeds"].values()]
        d, se = seeded_difference(a, b)
        out[key] = {"lever": lever[key], "study": study[key], "difference": d, "se": se,
                    "verdict": verdict([(d, se)])}
    return out


def time_matched_tokens(results: dict[str, Any], rate_of: str, seeds: list[int]) -> tuple[int, float, float]:
    """(tokens, seconds, tokens per second): the tokens that ``rate_of``'s tuning rate buys in
    the median tuning seconds of the study's main runs, both from the study's rows of
    ``seeds`` (a tune resumed from a checkpoint timed only its tail and is left out)."""
    def whole(name: str) -> list[dict[str, Any]]:
        return whole_tunes(results["runs"].get(name, {}).get("seeds", {}).get(str(s)) for s in seeds)

    main, other = whole(MAIN_RUN), whole(rate_of)
    if not main or not other:
        sys.exit(f"study_lever: the study's results hold no whole tuning time of {MAIN_RUN if not main else rate_of} "
                 f"for seeds {seeds}; let the study finish it first (the time match needs both)")
    seconds = float(np.median([r["tune_seconds"] for r in main]))
    rate = float(np.median([r["tune_tokens"] / r["tune_seconds"] for r in other]))
    return round(seconds * rate), seconds, rate


def tune_minutes(rows: dict[str, dict[str, Any]]) -> str:
    """Each seed's tuning minutes as its run recorded them (slash-separated)."""
    return " / ".join(f"{r['tune_seconds'] / 60:.1f}" if r.get("tune_seconds") is not None else "-" for r in rows.values())


def table(cmp: dict[str, Any], preset: str, tokens: int, data_seed: int, minutes: float,
          lever: Lever = LEVERS["cf-sasrec"], tune: tuple[str, str] | None = None,
          lever_tokens: int | None = None) -> str:
    """The comparison as a markdown table; ``tune``: each side's tuning minutes per seed
    (the study's, the lever's); ``lever_tokens``: the lever side's tokens per run where
    they are not the study's."""
    seeds = ", ".join(map(str, cmp["seeds"]))
    lines = [f"**{lever.title}** (preset {preset}, LC-Rec indices, all six tasks, ~{tokens:,} training tokens per "
             f"run, data seed {data_seed}, training seeds {seeds}, all {cmp['n_users']} test users; means over the "
             "seeds; SE over users (paired) and seeds (each side's spread of seed means))", "",
             f"| metric | {lever.study_label} | {lever.label} | {lever.label} - {lever.study_label.split(' (')[0]} "
             "| SE | verdict |",
             "|---|---:|---:|---:|---:|---|"]
    for key in KEYS:
        c = cmp[key]
        lines.append(f"| {key.upper()} | {c['study']:.4f} | {c['lever']:.4f} | {c['difference']:+.4f} | "
                     f"{c['se']:.4f} | {c['verdict']} |")
    lines += ["", f"{lever.note} {lever.label} side: {minutes:.1f} min of stages for its {len(cmp['seeds'])} runs "
                  "(a stage its seeds share counted once); the other side is the study's `index-lcrec-all`."]
    if lever_tokens is not None and lever_tokens != tokens:
        lines += ["", f"{lever.label} side: ~{lever_tokens:,} training tokens per run."]
    if tune:
        lines += ["", f"Tuning minutes per seed, as each run recorded them: {lever.study_label} {tune[0]}; "
                      f"{lever.label} {tune[1]}."]
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
    ap.add_argument("--lever", default="cf-sasrec", choices=sorted(LEVERS))
    ap.add_argument("--study-dir", default="runs/study-cpu")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--seeds", type=int, nargs="+", default=list(STUDY_SEEDS))
    ap.add_argument("--out", default=None, help="the table's file (default benchmarks/results/<the lever's>)")
    args = ap.parse_args()
    lever = LEVERS[args.lever]
    study_dir = Path(args.study_dir)
    out = Path(args.out or Path(__file__).parent / "results" / lever.out)
    if len(set(args.seeds)) < 3:
        sys.exit(f"study_lever: --seeds {args.seeds}: a comparison of two training configurations needs at least "
                 "3 different seeds")
    if args.preset not in STUDY_BUDGETS:
        sys.exit(f"study_lever: --preset {args.preset!r}: expected one of {', '.join(STUDY_BUDGETS)}")
    if not out.parent.is_dir():
        sys.exit(f"study_lever: --out {out}: the folder {out.parent} does not exist")
    if lever.needs_bf16 and not cpu_has_native_bf16() and not _cuda():
        sys.exit(f"study_lever: --lever {args.lever} needs native bf16 (AVX-512 BF16 or AMX) or a GPU; this machine: "
                 f"{cpu_line()}")
    results = check_study(study_dir, args.seeds, args.preset)  # before any work
    study = side({str(s): results["runs"][MAIN_RUN]["seeds"][str(s)] for s in args.seeds})

    from lcrec_mini.analyses.study import _metrics_row, _tune_and_eval  # torch and transformers: after the checks

    budget = tokens = STUDY_BUDGETS[args.preset].tokens
    if lever.match_time_of:
        tokens, seconds, rate = time_matched_tokens(results, lever.match_time_of, args.seeds)
        print(f"{lever.label}: {tokens:,} tokens, {rate:.0f} tokens/s for the main runs' {seconds:.0f} s", flush=True)
    rows, dirs = {}, []
    for seed in args.seeds:  # each stage skips itself when up to date: a finished seed costs nothing
        print(f"== {run_name(lever.run, seed)}: {lever.run.label}, training seed {seed}", flush=True)
        rd = _tune_and_eval(args.preset, study_dir, lever.run, seed, tokens, ("tune", "eval"), print)
        rows[str(seed)] = _metrics_row(rd)
        dirs.append(rd)
    check_paired(rows, f"{lever.run.name} runs", check_paired(study["seeds"], MAIN_RUN))
    cmp = compare(side(rows), study)
    write_json(study_dir / f"lever-{args.lever}.json", {"preset": args.preset, "lever": args.lever,
                                                        "budget_tokens": budget, "lever_tokens": tokens, **cmp})
    text = table(cmp, args.preset, budget, results.get("seed", 42), stage_minutes(dirs), lever,
                 (tune_minutes(study["seeds"]), tune_minutes(rows)), tokens)
    print(text)
    out.write_text(text)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


if __name__ == "__main__":
    main()
