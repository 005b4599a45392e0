"""Two training configurations, each trained with several seeds, compared on the same test
users: the mean difference in NDCG@10 and HR@10 and a standard error that counts both the
users and the retrainings.

Each side is a list of finished run folders (``eval/predictions.jsonl``) that differ only in
``tune.seed``; the other side may instead be one of the run's baselines (``pop`` for
most-popular, ``sasrec``), read from the first run's ``baselines/ranks.json``. Users are
paired (every run must have ranked the same users with the same held-out items); each seed
is an independent retraining, so the spread of a side's seed means is added to the paired
users' error (:func:`lcrec_mini.generate.metrics.seeded_difference`). The verdict is
"holds" when the difference is above zero by more than two standard errors, "does not
hold" when below by more, "not resolved" otherwise.

    lcrec-mini run --preset cpu --run-dir runs/cpu-s43 --set tune.seed=43     # and 44
    python benchmarks/compare_seeds.py --a runs/cpu,runs/cpu-s43,runs/cpu-s44 --b pop
    python benchmarks/compare_seeds.py --a runs/new-s42,runs/new-s43,runs/new-s44 \\
        --b runs/cpu,runs/cpu-s43,runs/cpu-s44 --label-a "no dropout" --label-b preset --out cmp.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.generate.metrics import per_user, seeded_difference, verdict  # noqa: E402

BASELINES = {"pop": "most_popular", "sasrec": "sasrec"}
METRICS = ("ndcg@10", "hr@10")


class Refused(SystemExit):
    pass


def _config_without_seed(run: Path) -> dict:
    cfg = json.loads((run / "tune" / "config.json").read_text())["config"]
    tune = dict(cfg.get("tune", {}))
    seed = tune.pop("seed", None)  # none: the run's own seed trained it
    return {"seed": cfg.get("seed") if seed is None else seed, "rest": tune}


def read_side(spec: str, first_run: Path | None) -> dict:
    """One side: {"names", "seeds", "ranks" (one list per seed), "cases"} from a comma-separated
    list of run folders or a baseline name. Refuses, by name, what it cannot pair."""
    if spec in BASELINES:
        if first_run is None:
            raise Refused(f"compare_seeds: --b {spec} needs run folders on --a (the baselines are read from the first)")
        path = first_run / "baselines" / "ranks.json"
        if not path.exists():
            raise Refused(f"compare_seeds: {path} is missing (run `lcrec-mini baselines --run-dir {first_run}`)")
        r = json.loads(path.read_text())
        return {"names": [spec], "seeds": [None], "ranks": [r[BASELINES[spec]]], "users": r.get("users"), "cases": None}
    runs = [Path(p) for p in spec.split(",") if p]
    if not runs:
        raise Refused("compare_seeds: a side needs at least one run folder")
    for run in runs:
        for f in ("eval/predictions.jsonl", "tune/config.json"):
            if not (run / f).exists():
                raise Refused(f"compare_seeds: {run / f} is missing (a finished `lcrec-mini run` is expected)")
    configs = [_config_without_seed(r) for r in runs]
    seeds = [c["seed"] for c in configs]
    if len(set(seeds)) < len(seeds):
        raise Refused(f"compare_seeds: {spec} has runs with the same tune.seed {seeds}: a seed counts once")
    for run, c in zip(runs[1:], configs[1:]):
        other = sorted(k for k in set(c["rest"]) | set(configs[0]["rest"]) if c["rest"].get(k) != configs[0]["rest"].get(k))
        if other:
            raise Refused(f"compare_seeds: {run} differs from {runs[0]} in tune.{other[0]}, not only in tune.seed")
    ranks, cases = [], None
    for run in runs:
        rows = [json.loads(line) for line in (run / "eval" / "predictions.jsonl").read_text().splitlines() if line]
        these = [(r["user"], r["target"]) for r in rows]
        if cases is not None and these != cases:
            raise Refused(f"compare_seeds: {run} ranked other users or held-out items than {runs[0]}")
        cases = these
        ranks.append([r["rank"] for r in rows])
    return {"names": [str(r) for r in runs], "seeds": seeds, "ranks": ranks, "users": [u for u, _ in cases], "cases": cases}


def compare(a: dict, b: dict) -> list[dict]:
    """One row per metric: each side's seed means, their mean, and the difference a - b."""
    if len(a["ranks"][0]) != len(b["ranks"][0]) or (a["users"] and b["users"] and list(a["users"]) != list(b["users"])):
        raise Refused("compare_seeds: the two sides ranked different test users")
    rows = []
    for m in METRICS:
        va = [per_user(r, m) for r in a["ranks"]]
        vb = [per_user(r, m) for r in b["ranks"]]
        n = len(va[0])
        d, se = seeded_difference(va, vb)
        rows.append({"metric": m, "a": [sum(x) / n for x in va], "b": [sum(x) / n for x in vb], "diff": d, "se": se,
                     "verdict": verdict([(d, se)]), "users": n})
    return rows


def table(rows: list[dict], a: dict, b: dict, label_a: str, label_b: str) -> str:
    def seeds(side):
        return ", ".join("-" if s is None else str(s) for s in side["seeds"])

    lines = [f"| metric | {label_a} (seeds {seeds(a)}) | mean | {label_b} (seeds {seeds(b)}) | mean | difference (SE) | verdict |",
             "|---|---|---:|---|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['metric'].upper()} | {' / '.join(f'{x:.4f}' for x in r['a'])} | {sum(r['a']) / len(r['a']):.4f} "
                     f"| {' / '.join(f'{x:.4f}' for x in r['b'])} | {sum(r['b']) / len(r['b']):.4f} "
                     f"| {r['diff']:+.4f} ({r['se']:.4f}) | {r['verdict']} |")
    lines.append("")
    lines.append(f"All {rows[0]['users']} test users, paired; the standard error adds the spread of each side's "
                 "seed means (one retraining per seed) to the paired users' error; verdicts at two standard errors.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--a", required=True, help="comma-separated run folders that differ only in tune.seed")
    ap.add_argument("--b", required=True, help="the same for the other configuration, or pop / sasrec")
    ap.add_argument("--label-a", default="A")
    ap.add_argument("--label-b", default=None)
    ap.add_argument("--out", default=None, help="also write the table to this markdown file")
    args = ap.parse_args(argv)
    if args.a in BASELINES:
        raise Refused("compare_seeds: --a takes run folders; a baseline goes on --b")
    a = read_side(args.a, None)
    b = read_side(args.b, Path(a["names"][0]))
    text = table(compare(a, b), a, b, args.label_a, args.label_b or (args.b if args.b in BASELINES else "B"))
    print(text, end="")
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
