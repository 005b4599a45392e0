"""Ranking metrics of leave-one-out evaluation: HR@k and NDCG@k from each user's rank of
the held-out item (one list of metric keys for every table of the project)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

from lcrec_mini.core.errors import DataError

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


def seeded_difference(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]]) -> tuple[float, float]:
    """(mean of ``a`` minus mean of ``b``, its standard error) when each side was trained
    with one or more seeds and evaluated on the same users: ``a[s][u]`` is user ``u``'s
    value (HR or NDCG) under ``a``'s training seed ``s``.

    The standard error combines the two sources of noise: a new sample of users and a new
    training run. Users are paired (the same users on both sides); seeds are independent
    retrainings, on each side as many as there are:

        SE^2 = SE_users^2 + Var_s(mean_u a[s]) / S_a + Var_s(mean_u b[s]) / S_b

    where SE_users is the paired standard error over users of the seed-averaged per-user
    difference. The seed terms are the variance of each side's seed means (a side with one
    seed adds none: its retraining noise is then not counted). They also hold a little user
    noise, so the sum is on the safe side."""
    if not a or not b or not all(len(x) == len(a[0]) for x in (*a, *b)) or not a[0]:
        raise DataError("seeded_difference: every seed of both sides needs a value for each of the same users")
    n = len(a[0])
    ma = [sum(col) / len(a) for col in zip(*a)]  # per user, averaged over a's seeds
    mb = [sum(col) / len(b) for col in zip(*b)]
    d = sum(ma) / n - sum(mb) / n
    se2 = paired_se(ma, mb) ** 2 if n > 1 else 0.0
    for side in (a, b):
        if len(side) > 1:
            means = [sum(s) / n for s in side]
            mu = sum(means) / len(means)
            se2 += sum((m - mu) ** 2 for m in means) / (len(means) - 1) / len(means)
    return d, math.sqrt(se2)


#: the three verdicts of a claim tested with a difference and its standard error
HOLDS, DOES_NOT_HOLD, NOT_RESOLVED = "holds", "does not hold", "not resolved"


def verdict(diffs: Sequence[tuple[float, float | None]], z: float = 2.0) -> str:
    """The verdict on a claim that every difference in ``diffs`` is positive: "holds" when
    each is more than ``z`` standard errors above 0, "does not hold" when one is more than
    ``z`` standard errors below 0, "not resolved" otherwise (an interval that holds 0, or
    a difference without a standard error)."""
    if any(se is not None and d + z * se < 0 for d, se in diffs):
        return DOES_NOT_HOLD
    if diffs and all(se is not None and d - z * se > 0 for d, se in diffs):
        return HOLDS
    return NOT_RESOLVED
