"""Baselines on exactly LC-Rec's split and metric code: most-popular and SASRec.

Both rank the whole catalogue for each test user (history = the sequence without its
last item, capped at ``max_len``; target = the last item) and are scored by
:func:`lcrec_mini.generate.stage.rank_metrics`, like the LLM. Seen items are not removed
from the ranking, as in LC-Rec's generative evaluation, unless ``eval.exclude_history``
is set: then both leave out the items of SASRec's input (the history's last
``baselines.max_len`` items), as LC-Rec's beams leave out those of its prompt.

SASRec itself (model and training) is in :mod:`lcrec_mini.baselines.sasrec`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lcrec_mini.baselines.sasrec import sasrec_cases, sasrec_rank, train_sasrec
from lcrec_mini.core.config import Config
from lcrec_mini.core.run import Run
from lcrec_mini.core.stage import StageResult, read_json, run_stage, write_json, write_timing
from lcrec_mini.data.splits import test_case, train_part
from lcrec_mini.data.stage import load_dataset
from lcrec_mini.generate.metrics import METRIC_KEYS, paired_se, per_user, rank_metrics, rank_of

OUTPUTS = ("metrics.json", "ranks.json", "timing.json")


def most_popular(train_seqs: list[list[int]], n_items: int, k: int = 20) -> list[int]:
    """The ``k`` items with most training interactions (ties: lower id first)."""
    counts = np.bincount(np.concatenate([np.asarray(s, dtype=np.int64) for s in train_seqs if s]), minlength=n_items)
    return np.lexsort((np.arange(n_items), -counts))[:k].tolist()


def popular_lists(train_seqs: list[list[int]], histories: list[list[int]], n_items: int, k: int = 20,
                  exclude_history: bool = False) -> list[list[int]]:
    """Most popular for each history: the same ``k`` items, or with ``exclude_history`` the
    ``k`` most popular of those not in that history."""
    if not exclude_history:
        return [most_popular(train_seqs, n_items, k)] * len(histories)
    order = most_popular(train_seqs, n_items, n_items)
    out = []
    for h in histories:
        seen = set(h)
        out.append([i for i in order[: k + len(seen)] if i not in seen][:k])
    return out


def popular_items(ds, n: int) -> list[int]:
    """The ``n`` items of a dataset with the most interactions, all of each user's (ties: lower id)."""
    return most_popular(list(ds.sequences.values()), ds.n_items, n)


def run_baselines(cfg: Config, run_dir: str | Path, force: bool = False, log: Callable[[str], None] = print) -> StageResult:
    bc = cfg.baselines

    def build(out: Path) -> None:
        t0 = time.perf_counter()
        ds = load_dataset(run_dir)
        seqs = [ds.sequences[u] for u in ds.sequences]
        n = ds.n_items
        test, valid = sasrec_cases(seqs, bc.max_len)
        exclude = cfg.eval.exclude_history
        results: dict[str, Any] = {}
        pops = popular_lists([test_case(s)[0] for s in seqs], [h for h, _ in test], n, exclude_history=exclude)
        ranks = {"users": [int(u) for u in ds.sequences],
                 "most_popular": [rank_of(t, pop) for (_, t), pop in zip(test, pops)]}
        results["most_popular"] = rank_metrics(ranks["most_popular"])
        model, hist = train_sasrec([train_part(s) for s in seqs], valid, n, bc, cfg.seed, exclude_history=exclude)
        ranked = sasrec_rank(model, [h for h, _ in test], exclude_history=exclude)
        ranks["sasrec"] = [rank_of(t, r) for (_, t), r in zip(test, ranked)]
        results["sasrec"] = {
            **rank_metrics(ranks["sasrec"]),
            "epochs": hist[-1]["epoch"],  # epochs trained (validations: every sasrec_eval_every)
            "best_valid_ndcg@10": max(h["valid_ndcg@10"] for h in hist),
        }
        results.update({"n_users": len(test), "preset": cfg.preset, "seed": cfg.seed, "max_len": bc.max_len,
                        "exclude_history": exclude})
        write_json(out / "metrics.json", results)
        write_timing(out, time.perf_counter() - t0)
        write_json(out / "ranks.json", ranks, indent=None)  # per test user: rows on any subset of users
        write_json(out / "sasrec_history.json", hist, indent=None)
        log(format_baselines(results))

    res = run_stage("baselines", cfg, run_dir, build, OUTPUTS, force=force, log=log)
    if res.skipped:
        log(format_baselines(read_json(res.out_dir / "metrics.json")))
    return res


def comparison_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    """One row per model (``model``, the metric keys, ``test users``): LC-Rec, SASRec, most
    popular. When LC-Rec was evaluated on fewer test users (``eval.max_users``), the
    baselines are scored on those same users (from ``baselines/ranks.json``), so every
    row of the table is measured on the same people."""
    run_dir = Path(run_dir)
    rows: list[dict[str, Any]] = []
    ev, bl = run_dir / "eval" / "metrics.json", run_dir / "baselines" / "metrics.json"
    users: list[int] | None = None
    if ev.exists():
        m = read_json(ev)
        rows.append({"model": f"LC-Rec ({m['model']}, {m['method']})", **{k: m[k] for k in METRIC_KEYS},
                     "test users": m["n_users"]})
        if (run_dir / "eval" / "predictions.jsonl").exists():
            users = list(Run(run_dir).predictions)
    if bl.exists():
        b = read_json(bl)
        ranks_path = run_dir / "baselines" / "ranks.json"
        rescore = users is not None and len(users) != b["n_users"] and ranks_path.exists()
        r = read_json(ranks_path) if rescore else None
        for name, label in (("sasrec", "SASRec"), ("most_popular", "most popular")):
            metrics, n = {k: b[name][k] for k in METRIC_KEYS}, b["n_users"]
            if r is not None:
                by_user = dict(zip(r["users"], r[name]))
                metrics = {k: v for k, v in rank_metrics([by_user[u] for u in users]).items() if k in METRIC_KEYS}
                n = len(users)
            rows.append({"model": label, **metrics, "test users": n})
    return rows


def paired_differences(run_dir: str | Path, keys: tuple[str, ...] = ("ndcg@10", "hr@10")) -> list[dict[str, Any]]:
    """LC-Rec minus each baseline, per test user and paired (the users LC-Rec was
    evaluated on): one row per baseline with ``baseline``, ``users`` and, per key, the
    mean difference and the standard error of that mean. Empty when the per-user ranks
    (``eval/predictions.jsonl``, ``baselines/ranks.json``) are not both there."""
    run_dir = Path(run_dir)
    pred, ranks_path = run_dir / "eval" / "predictions.jsonl", run_dir / "baselines" / "ranks.json"
    if not (pred.exists() and ranks_path.exists()):
        return []

    ours = Run(run_dir).predictions
    r = read_json(ranks_path)
    rows = []
    for name, label in (("sasrec", "SASRec"), ("most_popular", "most popular")):
        by_user = dict(zip(r["users"], r.get(name, [])))
        users = [u for u in ours if u in by_user]
        if len(users) < 2:
            continue
        row: dict[str, Any] = {"baseline": label, "users": len(users)}
        for k in keys:
            a, b = per_user([ours[u]["rank"] for u in users], k), per_user([by_user[u] for u in users], k)
            row[k] = (sum(a) / len(a) - sum(b) / len(b), paired_se(a, b))
        rows.append(row)
    return rows


def comparison_table(run_dir: str | Path) -> str:
    """LC-Rec (eval/metrics.json) beside the baselines (baselines/metrics.json), each row
    with the number of test users it was measured on."""
    run_dir = Path(run_dir)
    rows = comparison_rows(run_dir)
    if not rows:
        return ""
    ev, bl = run_dir / "eval" / "metrics.json", run_dir / "baselines" / "metrics.json"
    meta = read_json(ev) if ev.exists() else read_json(bl)
    same = len({r["test users"] for r in rows}) == 1
    users = f", {rows[0]['test users']} test users, the same for every row" if same else ""
    head = f"Results on {run_dir} (preset {meta['preset']}, seed {meta['seed']}{users})"
    lines = [head, f"  {'model':<32}" + "".join(f"{k:>9}" for k in METRIC_KEYS) + f"{'users':>7}"]
    for r in rows:
        lines.append(f"  {r['model']:<32}" + "".join(f"{r[k]:>9.4f}" for k in METRIC_KEYS) + f"{r['test users']:>7}")
    diffs = paired_differences(run_dir)
    if diffs:
        lines.append(f"LC-Rec minus each baseline, per user and paired ({diffs[0]['users']} users; SE: standard error of the difference)")
        for d in diffs:
            parts = [f"{k.upper()} {d[k][0]:+.4f} (SE {d[k][1]:.4f}"
                     + (f", {d[k][0] / d[k][1]:+.1f} SE)" if d[k][1] > 0 else ")") for k in ("ndcg@10", "hr@10")]
            lines.append(f"  - {d['baseline']:<14}" + "   ".join(parts))
    return "\n".join(lines)


def format_baselines(r: dict[str, Any]) -> str:
    lines = [f"Baselines ({r['n_users']} users, preset {r['preset']}, seed {r['seed']})"]
    for name in ("most_popular", "sasrec"):
        m = r[name]
        lines.append(f"  {name:<13}" + ", ".join(f"{k} {m[k]:.4f}" for k in METRIC_KEYS))
    return "\n".join(lines)
