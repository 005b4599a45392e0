"""The paper's claims tested on a study's results: numbers and verdicts, no prose.

Each claim is a :class:`Claim`: the paper's statement, where it is made, the values and
differences (each with its standard error over test users and training seeds) that
decide it, and the verdict (:func:`lcrec_mini.generate.metrics.verdict`: a difference
more than two standard errors from 0 holds or does not; within them, "not resolved"), or
why it could not be tested. ``book.tables.claims_table`` writes the evidence in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lcrec_mini.analyses.plan import ABLATION_ROWS
from lcrec_mini.generate.metrics import (
    DOES_NOT_HOLD,
    HOLDS,
    METRIC_KEYS,
    NOT_RESOLVED,
    per_user,
    seeded_difference,
    verdict,
)

INDEX_METHODS = ("lcrec", "rqvae", "random")


@dataclass
class Claim:
    key: str  # indexing | alignment | ablation | intention | token_pca | prefix_titles | related_items
    claim: str
    source: str
    verdict: str
    values: dict[str, Any] = field(default_factory=dict)
    differences: dict[str, tuple[float, float | None]] = field(default_factory=dict)
    n_seeds: int = 1
    n_users: int | None = None


def n_seeds(row: dict[str, Any]) -> int:
    return row.get("n_seeds", len(row.get("seeds", {})) or 1)


def _per_seed(row: dict[str, Any], key: str) -> list[list[float]] | None:
    """Per training seed, each test user's value of ``key`` (None: no per-user ranks)."""
    seeds = list(row["seeds"].values()) if "seeds" in row else [row]
    if any(r.get("ranks") is None for r in seeds):
        return None
    return [per_user(r["ranks"], key) for r in seeds]


def difference(a: dict[str, Any], b: dict[str, Any], key: str) -> tuple[float, float | None]:
    """(a - b in ``key``, its standard error). With per-user ranks on both sides (one row
    per training seed under ``"seeds"``, or one row), users paired and seeds counted as
    retrainings (:func:`lcrec_mini.generate.metrics.seeded_difference`); otherwise the unpaired bound
    sqrt(2 p (1 - p) / n), which holds for any per-user value in [0, 1] (its variance is
    at most p (1 - p)); a mean of 0 on n users is counted as 3/n (the "rule of three")."""
    ua, ub = _per_seed(a, key), _per_seed(b, key)
    if ua is not None and ub is not None and len(ua[0]) == len(ub[0]) and len(ua[0]) > 1:
        return seeded_difference(ua, ub)
    d = a[key] - b[key]
    if not a.get("n_users") or not b.get("n_users"):
        return d, None
    n = min(a["n_users"], b["n_users"])
    p = max((a[key] + b[key]) / 2, 3 / n)
    return d, float(np.sqrt(2 * p * (1 - p) / n))


def seeded_verdict(rows: list[dict[str, Any]], diffs: list[tuple[float, float | None]]) -> str:
    """:func:`verdict` for comparisons of training configurations, which need at least two
    training seeds on each side (else the retraining noise is not in the standard error)."""
    seeds = min(n_seeds(r) for r in rows)
    return verdict(diffs) if seeds >= 2 else f"{NOT_RESOLVED} ({seeds} training seed{'s' if seeds != 1 else ''})"


def seed_means(seeds: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The metrics of one configuration averaged over its training seeds (what tables and
    charts show), with the seeds and users they came from."""
    rows = list(seeds.values())
    out: dict[str, Any] = {k: float(np.mean([r[k] for r in rows])) for k in METRIC_KEYS if all(k in r for r in rows)}
    out.update({"n_seeds": len(rows), "n_users": rows[0].get("n_users")})
    if all("invalid_rate" in r for r in rows):
        out["invalid_rate"] = max(r["invalid_rate"] for r in rows)
    return out


def intention_rows(it: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The intention results as one row per prompt kind (query, query+history, history),
    each with its training seeds under ``"seeds"`` and their mean metrics: from one model
    (``{"query": ...}``) or from several seeds (``{"42": {"query": ...}, ...}``)."""
    per_seed = {"-": it} if "query" in it else it
    out = {}
    for kind in ("query", "query+history", "history"):
        seeds = {s: r[kind] for s, r in per_seed.items()}
        out[kind] = {"seeds": seeds, **seed_means(seeds)}
    return out


def tune_minutes(row: dict[str, Any]) -> float | None:
    """Tuning time of one configuration in minutes: the median over its training seeds, so
    that one run slowed by other work on the machine does not move it. A tune resumed from
    a checkpoint counted only the seconds after the resume and is left out (None when no
    seed has a whole, recorded time). Runs of a study train on equal tokens; this says
    whether that was equal time too."""
    secs = [r["tune_seconds"] for r in whole_tunes(row.get("seeds", {}).values())]
    return float(np.median(secs)) / 60 if secs else None


def whole_tunes(rows) -> list[dict[str, Any]]:
    """The seed rows whose tune time is whole: recorded, and not resumed from a checkpoint
    (a resumed tune timed only the steps after the resume)."""
    return [r for r in rows if r and r.get("tune_seconds") is not None and not r.get("tune_resumed_from_step")]


def _indexing(runs: dict[str, Any]) -> list[Claim]:
    if not all(f"index-{x}-{t}" in runs for x in INDEX_METHODS for t in ("seq", "all")):
        return []
    involved = [runs[f"index-{x}-{t}"] for x in INDEX_METHODS for t in ("seq", "all")]
    base = runs["index-lcrec-seq"]
    values = {f"{x} ({t})": runs[f"index-{x}-{t}"]["hr@5"] for t in ("seq", "all") for x in INDEX_METHODS}
    beats = {f"lcrec - {o} ({t})": difference(runs[f"index-lcrec-{t}"], runs[f"index-{o}-{t}"], "hr@5")
             for t in ("seq", "all") for o in ("rqvae", "random")}
    align = {f"{x}: all - seq": difference(runs[f"index-{x}-all"], runs[f"index-{x}-seq"], "hr@5") for x in INDEX_METHODS}
    common = {"n_seeds": n_seeds(base), "n_users": base.get("n_users")}
    minutes = {t: [tune_minutes(runs[f"index-{x}-{t}"]) for x in INDEX_METHODS] for t in ("seq", "all")}
    timed = ({f"tune minutes ({t})": float(np.mean(m)) for t, m in minutes.items()}
             if all(x is not None for m in minutes.values() for x in m) else {})
    return [
        Claim("indexing", "LC-Rec indices beat RQ-VAE indices without uniform mapping and random indices",
              "Fig. 2 (Games)", seeded_verdict(involved, list(beats.values())), values, beats, **common),
        Claim("alignment", "The alignment tasks improve on seqrec-only tuning, for every indexing method",
              "Fig. 2 (Games)", seeded_verdict(involved, list(align.values())), {**values, **timed}, align, **common),
    ]


def _ablation(runs: dict[str, Any]) -> list[Claim]:
    if not all(r in runs for r, _ in ABLATION_ROWS):
        return []
    rows = [runs[r] for r, _ in ABLATION_ROWS]
    steps = {f"{b} - {a}": difference(runs[b], runs[a], "ndcg@10")
             for (a, _), (b, _) in zip(ABLATION_ROWS, ABLATION_ROWS[1:])}
    total = difference(rows[-1], rows[0], "ndcg@10")
    return [Claim("ablation", "Each group of alignment tasks adds to the performance", "ablation table",
                  seeded_verdict(rows, list(steps.values())),
                  {name: runs[name]["ndcg@10"] for name, _ in ABLATION_ROWS},
                  {**steps, "all - seqrec only": total}, n_seeds(rows[0]), rows[0].get("n_users"))]


def _intention(it: dict[str, Any] | None) -> list[Claim]:
    if not it:
        return []
    rows = intention_rows(it)
    q = rows["query"]
    diffs = {"intention + history - intention alone": difference(rows["query+history"], q, "hr@10"),
             "intention alone - history alone": difference(q, rows["history"], "hr@10")}
    found = (q["hr@10"], float(np.sqrt(max(q["hr@10"], 3 / q["n_users"]) / q["n_users"])))
    return [Claim("intention", "The tuned model recommends from a user's intention; with the history it does better",
                  "Fig. 3", verdict([diffs["intention + history - intention alone"], found]),
                  {k: rows[k]["hr@10"] for k in ("query", "query+history", "history")}, diffs,
                  n_seeds(q), q["n_users"])]


def _token_pca(pca: dict[str, Any] | None) -> list[Claim]:
    """Fig. 4 on the PCA runs: the index tokens' spread (in units of the words' spread)
    before and after tuning, per training seed. The claim is about what tuning does to rows
    that start apart from the words (the reference starts them at random); rows that
    already start spread among the words (``tune.index_init=semantic``) cannot show it. It
    holds when the spread grows by more than two standard errors over the seeds and ends
    among the words (at least half their spread); it does not hold when the spread shrinks
    by more than two, or grows but stays a cluster."""
    if not pca:
        return []
    by_seed = pca.get("by_seed") or {"-": {k: pca[k] for k in ("before tuning", "after tuning")}}
    rows = list(by_seed.values())
    before = np.array([r["before tuning"]["index_spread"] for r in rows])
    after = np.array([r["after tuning"]["index_spread"] for r in rows])
    gaps = {k: float(np.mean([r[k]["centroid_gap"] for r in rows])) for k in ("before tuning", "after tuning")}
    d = float((after - before).mean())
    se = float((after - before).std(ddof=1) / np.sqrt(len(rows))) if len(rows) > 1 else None
    started_among = float(before.mean()) >= 0.5
    if started_among:
        held = "not testable here"
    elif len(rows) < 2:
        held = f"{NOT_RESOLVED} (1 training seed)"
    else:
        held = verdict([(d, se)])
        if held == HOLDS and after.mean() < 0.5:
            held = DOES_NOT_HOLD  # moved, but still a cluster of its own
    return [Claim("token_pca", "After tuning, index tokens spread among the word tokens instead of forming their own cluster",
                  "Fig. 4", held, {"spread before": float(before.mean()), "spread after": float(after.mean()),
                                   "gap before": gaps["before tuning"], "gap after": gaps["after tuning"],
                                   "started among the words": started_among},
                  {"spread after - before": (d, se)}, n_seeds=len(rows))]


def per_item_f1(cs: dict[str, Any]) -> list[list[float]]:
    """Each item's word F1 at each prefix length, from a case study's generations."""
    return [[r["overlap_with_title"] for r in g["rows"]] for g in cs.get("prefix_generation", [])]


def _case_studies(cs: dict[str, Any] | None) -> list[Claim]:
    """Fig. 5a: word F1 of the generated title at each prefix length, per item; the full
    index minus the first code, items paired and (when ``by_seed`` holds several training
    seeds) seeds counted as retrainings. Fig. 5b: users shared with related items, by index
    prefix minus by text (the indices, not the tuned model: one value per item)."""
    if not cs:
        return []
    by_seed = cs.get("by_seed") or {}
    per_seed = [v["f1"] for v in by_seed.values()] or [per_item_f1(cs)]
    n_items, seeds = len(per_seed[0]), len(per_seed)
    ov = [float(x) for x in np.mean([np.mean(f, axis=0) for f in per_seed], axis=0)] if n_items else \
        list(cs["mean_title_overlap_by_prefix_length"])
    if n_items > 1:
        diff = seeded_difference([[p[-1] for p in f] for f in per_seed], [[p[0] for p in f] for f in per_seed])
    else:
        diff = (ov[-1] - ov[0], None)
    shares = [v["distinct_title_share"] for v in by_seed.values()] or [cs.get("distinct_title_share")]
    share = float(np.mean(shares)) if None not in shares else None
    rel = cs["related_items"]
    d = rel["co_interaction_by_index"] - rel["co_interaction_by_text"]
    few = n_items < 30
    return [
        Claim("prefix_titles", "Longer index prefixes generate text closer to the item's title (coarse to fine)", "Fig. 5a",
              f"too few items ({n_items}) to decide" if few else verdict([diff]),
              {"word F1 by prefix length": ov, "distinct titles": share},
              {"full index - first code": diff}, n_seeds=seeds, n_users=n_items),
        Claim("related_items", "Items related by index are more useful for recommendation than text-only neighbours",
              "Fig. 5b", verdict([(d, rel.get("difference_se"))]),
              {"by index": rel["co_interaction_by_index"], "by text": rel["co_interaction_by_text"]},
              {"by index - by text": (d, rel.get("difference_se"))}, n_users=rel["items"]),
    ]


def check_claims(results: dict[str, Any]) -> list[Claim]:
    """Each claim of the paper that ``results`` (a study's, or one run's analyses) can test."""
    runs = results.get("runs", {})
    return (_indexing(runs) + _ablation(runs) + _intention(results.get("intention"))
            + _token_pca(results.get("token_pca")) + _case_studies(results.get("case_studies")))
