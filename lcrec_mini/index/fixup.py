"""The two collision fix-ups that run after the RQ-VAE (see :mod:`lcrec_mini.index.stage`).

- :func:`sinkhorn_fixup` (LC-Rec): items that share an index are spread over the last
  level's codes by a balanced (Sinkhorn) assignment, nearest first, for a few rounds;
  collisions may remain.
- :func:`final_fixup` (ours): afterwards no two items share an index, and a true prefix
  trie over the catalogue exists.
"""

from __future__ import annotations

import numpy as np
import torch

from lcrec_mini.index.collisions import collision_groups
from lcrec_mini.index.rqvae import residual_after, sinkhorn


def sinkhorn_fixup(
    z: torch.Tensor,
    codebooks: list[torch.Tensor],
    codes: np.ndarray,
    epsilon: float,
    iters: int,
    rounds: int,
) -> tuple[np.ndarray, int, int]:
    """Re-assign the last level of each colliding group by Sinkhorn, ``rounds`` times.

    Within a group (items sharing the full index, hence the prefix), the balanced
    assignment spreads the items over the last level's codes, nearest first.
    Returns (codes, items moved, rounds run).
    """
    codes = codes.copy()
    moved: set[int] = set()
    ran = 0
    for _ in range(rounds):
        groups = collision_groups(codes)
        if not groups:
            break
        ran += 1
        by_size: dict[int, list[np.ndarray]] = {}
        for g in groups:
            by_size.setdefault(len(g), []).append(g)
        for size, gs in sorted(by_size.items()):
            ids = np.stack(gs)  # [G, size]: groups of one size solved as one batch
            flat = ids.reshape(-1)
            r = residual_after(z[flat], codebooks, codes[flat], len(codebooks) - 1)
            d = torch.cdist(r, codebooks[-1]).pow(2).reshape(len(gs), size, -1)
            new = sinkhorn(d, epsilon, iters).argmax(-1).reshape(-1).cpu().numpy()
            changed = new != codes[flat, -1]
            moved.update(int(i) for i in flat[changed])
            codes[flat, -1] = new
    return codes, len(moved), ran


def final_fixup(
    z: torch.Tensor | None, codebooks: list[torch.Tensor] | None, codes: np.ndarray, k: int
) -> tuple[np.ndarray, dict[str, int]]:
    """The deterministic last step: afterwards no two items share an index.

    With ``codebooks`` None (random indices), "nearest" falls back to the lowest free
    code numbers.
    """
    codes = codes.copy()
    n, levels = codes.shape
    taken: set[tuple[int, ...]] = set(map(tuple, codes.tolist()))
    moved = {"moved_in_prefix": 0, "moved_to_other_prefix": 0}

    def order_at(r: torch.Tensor | None, level: int) -> list[int]:
        if r is None or codebooks is None:
            return list(range(k))
        d = (codebooks[level] - r[None, :]).pow(2).sum(1)
        return torch.argsort(d, stable=True).tolist()

    def search(r: torch.Tensor | None, level: int, prefix: tuple[int, ...]) -> tuple[int, ...] | None:
        for c in order_at(r, level):
            cand = prefix + (c,)
            if level == levels - 1:
                if cand not in taken:
                    return cand
            else:
                nxt = None if r is None or codebooks is None else r - codebooks[level][c]
                found = search(nxt, level + 1, cand)
                if found is not None:
                    return found
        return None

    for g in collision_groups(codes):
        if z is not None and codebooks is not None:
            r = residual_after(z[g], codebooks, codes[g], len(codebooks) - 1)
            d = (r - codebooks[-1][torch.as_tensor(codes[g, -1])]).pow(2).sum(1)
            keeper = int(g[int(torch.argmin(d))])  # argmin: ties -> lowest id
        else:
            keeper = int(g[0])
        for item in (int(i) for i in g if int(i) != keeper):
            for keep in range(levels - 1, -1, -1):
                prefix = tuple(int(c) for c in codes[item, :keep])
                r = None
                if z is not None and codebooks is not None:
                    r = residual_after(z[item : item + 1], codebooks, codes[item : item + 1], keep)[0]
                found = search(r, keep, prefix)
                if found is not None:
                    break
            else:  # pragma: no cover - excluded by the K^L >= N check
                raise RuntimeError("no free index left")
            moved["moved_in_prefix" if keep == levels - 1 else "moved_to_other_prefix"] += 1
            codes[item] = found
            taken.add(found)
    return codes, moved
