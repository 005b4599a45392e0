"""Ranking metrics of leave-one-out evaluation: HR@k and NDCG@k from each user's rank of
the held-out item (one list of metric keys for every table of the project)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from .errors import DataError

KS = (1, 5, 10)
#: the metrics every table shows, in order: hr@k for each k, ndcg@k for each k > 1
METRIC_KEYS = tuple(f"hr@{k}" for k in KS) + tuple(f"ndcg@{k}" for k in KS if k > 1)


def rank_of(target: Any, ranked: Sequence[Any]) -> int | None:
    """1-based rank of ``target`` in ``ranked``, or None."""
    for i, x in enumerate(ranked):
        if x == target:
            return i + 1
    return None


def rank_metrics(ranks: Iterable[int | None], ks: Sequence[int] = KS) -> dict[str, float]:
    """``hr@k`` for k in ks, ``ndcg@k`` for k in ks other than 1, from per-user ranks."""
    ranks = list(ranks)
    if not ranks:
        raise DataError("no test users to evaluate")
    out: dict[str, float] = {}
    for k in ks:
        out[f"hr@{k}"] = sum(1 for r in ranks if r is not None and r <= k) / len(ranks)
    for k in ks:
        if k > 1:
            out[f"ndcg@{k}"] = sum(1 / math.log2(r + 1) for r in ranks if r is not None and r <= k) / len(ranks)
    return out


def ndcg_of(rank: int | None, k: int = 10) -> float:
    """One user's NDCG@k from the rank of the held-out item (None: not ranked)."""
    return 1 / math.log2(rank + 1) if rank is not None and rank <= k else 0.0


def per_user(ranks: Sequence[int | None], key: str) -> list[float]:
    """Each user's value of ``key`` (``hr@k`` or ``ndcg@k``) from their rank."""
    k = int(key.split("@")[1])
    if key.startswith("hr@"):
        return [1.0 if r is not None and r <= k else 0.0 for r in ranks]
    return [ndcg_of(r, k) for r in ranks]


def paired_se(a: Sequence[float], b: Sequence[float]) -> float:
    """Standard error of the mean of the per-user differences ``a - b`` (the same users)."""
    d = [x - y for x, y in zip(a, b)]
    mu = sum(d) / len(d)
    return math.sqrt(sum((x - mu) ** 2 for x in d) / max(1, len(d) - 1) / len(d))
