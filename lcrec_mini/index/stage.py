"""The ``index`` stage: item embeddings -> unique discrete indices (``index/codes.json``).

Methods (``index.method``):

- ``lcrec``: RQ-VAE trained with uniform semantic mapping (Sinkhorn at the last
  level), then the collision fix-up: Sinkhorn over each group of items that share an
  index, repeated, then the final deterministic step.
- ``rqvae``: the same RQ-VAE without uniform semantic mapping (plain nearest codes in
  training, no Sinkhorn fix-up); only the final step separates items.
- ``rqkmeans``: residual k-means on the embeddings themselves (no training), then the
  final step.
- ``random``: L random codes per item, drawn without repeats (the paper's baseline).

The final step guarantees zero collisions: in each group of items sharing an index,
the item nearest to the group's last code keeps it; every other item (in id order)
takes the nearest last-level code that is still free under its prefix. If its prefix
is full (all K last codes taken), it keeps one code fewer of its prefix and searches
the next-nearest prefixes the same way (depth first, nearest first). Such a search
always ends, because K^L >= number of items is checked before anything runs.
Items with identical text have identical embeddings, so no model can separate them;
this step does.

Where things live: the RQ-VAE, its training loop and checkpoints in ``rqvae.py``; the
four methods in ``methods.py``; both fix-ups in ``fixup.py``; collision and code-usage
counts in ``collisions.py``; the token strings in ``tokens.py``. This module holds the
stage and the index file's I/O.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from lcrec_mini.core.config import Config
from lcrec_mini.core.errors import DataError
from lcrec_mini.core.runtime import pick_device
from lcrec_mini.core.stage import StageResult, read_json, run_stage, write_json, write_json_rows
from lcrec_mini.index.collisions import collision_groups, collision_rate, level_stats
from lcrec_mini.index.config import IndexConfig
from lcrec_mini.index.embed import load_embeddings
from lcrec_mini.index.fixup import final_fixup, sinkhorn_fixup
from lcrec_mini.index.methods import METHODS
from lcrec_mini.index.rqvae import RQVAE, save_rqvae
from lcrec_mini.index.tokens import code_token, index_str, parse_code_token, row_tokens

OUTPUTS = ("codes.json", "stats.json", "history.json")


# -- index bookkeeping ------------------------------------------------------------------


def prefix_members(codes: np.ndarray, prefix) -> np.ndarray:
    """Ids of the items whose index starts with ``prefix`` (all items for an empty prefix)."""
    m = np.ones(len(codes), dtype=bool)
    for l, c in enumerate(prefix):
        m &= codes[:, l] == c
    return np.flatnonzero(m)


def densest_prefix(codes: np.ndarray, depth: int) -> tuple[int, ...]:
    """The prefix of length ``depth`` chosen greedily: the most populated code at each level
    among the items under the codes chosen so far (ties: lowest code)."""
    prefix: list[int] = []
    for l in range(depth):
        prefix.append(int(np.bincount(codes[prefix_members(codes, prefix), l]).argmax()))
    return tuple(prefix)


def code_tokens(codes: np.ndarray) -> dict[str, list[str]]:
    """[N, L] ints -> LC-Rec's ``{"0": ["<a_12>", "<b_3>", ...]}``."""
    return {str(i): row_tokens(row) for i, row in enumerate(codes)}


def parse_tokens(codes: dict[str, list[str]], where: str = "codes.json") -> np.ndarray:
    """Inverse of :func:`code_tokens`, checking keys, letters and lengths."""
    n = len(codes)
    if list(codes) != [str(i) for i in range(n)]:
        raise DataError(f"{where}: keys must be \"0\"..\"{n - 1}\" in order")
    out = None
    for i, toks in codes.items():
        row = []
        for l, t in enumerate(toks):
            parsed = parse_code_token(t)
            if parsed is None or parsed[0] != l:
                raise DataError(f"{where} key {i!r}: token {t!r} at level {l + 1}; expected {code_token(l, 'N')}")
            row.append(parsed[1])
        if out is None:
            out = np.zeros((n, len(row)), dtype=np.int64)
        if len(row) != out.shape[1]:
            raise DataError(f"{where} key {i!r}: {len(row)} tokens, expected {out.shape[1]}")
        out[int(i)] = row
    return out if out is not None else np.zeros((0, 0), dtype=np.int64)


# -- methods ----------------------------------------------------------------------------


@contextlib.contextmanager
def deterministic():
    """Deterministic kernels while indexing: on CPU, the backward pass of codebook
    look-ups accumulates in parallel in a varying order otherwise, and two runs with the
    same seed would give different codes."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def build_index(
    x: np.ndarray, ic: IndexConfig, seed: int, device: str = "cpu", log: Callable[[str], None] = print
) -> tuple[np.ndarray, dict[str, Any], list[dict[str, Any]], RQVAE | None]:
    """Run ``ic.method`` on embeddings ``x``; returns (codes [N, L], stats, history, model)."""
    with deterministic():
        return _build_index(x, ic, seed, device, log)


def _build_index(
    x: np.ndarray, ic: IndexConfig, seed: int, device: str, log: Callable[[str], None]
) -> tuple[np.ndarray, dict[str, Any], list[dict[str, Any]], RQVAE | None]:
    n = len(x)
    ic.check_capacity(n)
    t0 = time.perf_counter()
    stats: dict[str, Any] = {"method": ic.method, "items": n, "levels": ic.levels, "codebook_size": ic.codebook_size}
    # items whose embeddings are identical (same text): only the final step can separate them
    stats["items_with_identical_embeddings"] = int(sum(len(g) for g in collision_groups(x)))
    out = METHODS[ic.method](x, ic, seed, device, log)
    codes, z, codebooks, model, history = out.codes, out.z, out.codebooks, out.model, out.history
    stats.update(out.stats)

    stats["collision_rate_before_fixup"] = round(collision_rate(codes), 6)
    stats["items_colliding_before_fixup"] = int(sum(len(g) for g in collision_groups(codes)))
    stats["per_level_before_fixup"] = level_stats(codes, ic.codebook_size)
    moved_sk, rounds = 0, 0
    if ic.method == "lcrec" and ic.fix_rounds > 0:
        assert z is not None and codebooks is not None
        codes, moved_sk, rounds = sinkhorn_fixup(z, codebooks, codes, ic.sk_epsilon, ic.sk_iters, ic.fix_rounds)
    stats["sinkhorn_fixup"] = {
        "rounds": rounds,
        "items_moved": moved_sk,
        "collision_rate_after": round(collision_rate(codes), 6),
    }
    codes, moved = final_fixup(z, codebooks, codes, ic.codebook_size)
    stats["final_step"] = moved
    stats["collision_rate_after_fixup"] = collision_rate(codes)
    if stats["collision_rate_after_fixup"] != 0.0:  # pragma: no cover - the final step forbids it
        raise RuntimeError("collisions remain after the final step")
    stats["per_level"] = level_stats(codes, ic.codebook_size)
    stats["wall_seconds"] = round(time.perf_counter() - t0, 2)
    return codes, stats, history, model


# -- the stage --------------------------------------------------------------------------


def run_index(cfg: Config, run_dir: str | Path, force: bool = False, log: Callable[[str], None] = print) -> StageResult:
    ic = cfg.index

    def build(out: Path) -> None:
        # one row per item: embed/meta.json records the catalogue size the embed stage read
        n_items = read_json(Path(run_dir) / "embed" / "meta.json").get("n_items")
        x = load_embeddings(run_dir, n_items)
        device = pick_device(ic.device)
        log(f"[index] {ic.method}: {len(x)} items, {ic.levels} levels x {ic.codebook_size} codes")
        codes, stats, history, model = build_index(x, ic, cfg.seed, device=device, log=log)
        write_json_rows(out / "codes.json", code_tokens(codes))
        write_json(out / "stats.json", stats)
        write_json(out / "history.json", history, indent=None)
        if model is not None:
            save_rqvae(model, out / "rqvae.pt")
        log(format_index_summary(stats))

    res = run_stage("index", cfg, run_dir, build, OUTPUTS, force=force, log=log)
    if res.skipped:
        log(format_index_summary(read_json(res.out_dir / "stats.json")))
    return res


def load_codes(run_dir: str | Path, n_items: int | None = None) -> np.ndarray:
    path = Path(run_dir) / "index" / "codes.json"
    codes = parse_tokens(read_json(path), str(path))
    if n_items is not None and len(codes) != n_items:
        raise DataError(f"{path}: {len(codes)} items, but data/items.json has {n_items}; rerun index")
    check_unique(codes, str(path))
    return codes


def check_unique(codes: np.ndarray, where: str) -> None:
    """Every item has its own index (what the trie and the item lookup rely on)."""
    uniq, counts = np.unique(codes, axis=0, return_counts=True)
    if len(uniq) != len(codes):
        row = int(np.flatnonzero(counts > 1)[0])
        same = np.flatnonzero((codes == uniq[row]).all(1)).tolist()
        raise DataError(
            f"{where}: {len(codes) - len(uniq)} items share an index with another item, e.g. items "
            f"{same[:5]} all have {index_str(uniq[row])}; every item needs its own index "
            "(rebuild it with `lcrec-mini index --force`, then `lcrec-mini tasks --force`)"
        )


def format_index_summary(stats: dict[str, Any]) -> str:
    lines = [
        f"Index {stats['method']}: {stats['items']} items, {stats['levels']} levels x {stats['codebook_size']} codes",
        f"  collision rate {stats['collision_rate_before_fixup']:.4f} before the fix-up "
        f"({stats['items_colliding_before_fixup']} items in shared indices)",
        f"    {stats['sinkhorn_fixup']['collision_rate_after']:.4f} after Sinkhorn "
        f"({stats['sinkhorn_fixup']['items_moved']} moved in {stats['sinkhorn_fixup']['rounds']} rounds)",
        f"    {stats['collision_rate_after_fixup']:.4f} after the final step "
        f"({stats['final_step']['moved_in_prefix']} moved in prefix, "
        f"{stats['final_step']['moved_to_other_prefix']} to another prefix)",
    ]
    for s in stats["per_level"]:
        lines.append(
            f"  level {s['level']}: {s['used']}/{s['of']} codes used, entropy {s['entropy_bits']:.2f} bits, "
            f"perplexity {s['perplexity']:.1f}"
        )
    if "reconstruction_mse" in stats:
        lines.append(f"  reconstruction MSE {stats['reconstruction_mse']:.5f}; {stats['wall_seconds']} s")
    return "\n".join(lines)
