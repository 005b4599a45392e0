"""Collisions and code usage of an index [N items, L levels]: plain counting, no model."""

from __future__ import annotations

import numpy as np


def collision_rate(codes: np.ndarray) -> float:
    """Share of items whose index is not unique beyond its first holder: 1 - unique/N."""
    if len(codes) == 0:
        return 0.0
    return 1.0 - len(np.unique(codes, axis=0)) / len(codes)


def collision_groups(codes: np.ndarray) -> list[np.ndarray]:
    """Groups (item ids, ascending) of two or more items sharing one index."""
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(counts)[:-1]
    return [g for g in np.split(order, bounds) if len(g) > 1]


def level_stats(codes: np.ndarray, k: int) -> list[dict[str, float]]:
    """Per level: distinct codes used, entropy of the code distribution (bits), perplexity."""
    out = []
    for l in range(codes.shape[1]):
        counts = np.bincount(codes[:, l], minlength=k)
        p = counts[counts > 0] / counts.sum()
        h = float(-(p * np.log2(p)).sum())
        out.append({"level": l + 1, "used": int((counts > 0).sum()), "of": k, "entropy_bits": round(h, 4), "perplexity": round(2**h, 2)})
    return out
