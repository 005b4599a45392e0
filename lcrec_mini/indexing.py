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
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .config import Config, IndexConfig
from .errors import ConfigError, DataError
from .tokens import code_token, index_str, parse_code_token, row_tokens  # noqa: F401  (index_str: re-exported)
from .rqvae import RQVAE, kmeans, sinkhorn
from .stage import StageResult, read_json, run_stage, write_json, write_json_rows

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


# -- residual codebooks -----------------------------------------------------------------


def residual_codes(z: torch.Tensor, codebooks: list[torch.Tensor]) -> np.ndarray:
    """Nearest code at each level of the residual of ``z`` [N, e] -> [N, L]."""
    r = z.clone()
    out = []
    for cb in codebooks:
        idx = torch.cdist(r, cb).argmin(1)
        out.append(idx)
        r = r - cb[idx]
    return torch.stack(out, 1).cpu().numpy().astype(np.int64)


def _residual(z: torch.Tensor, codebooks: list[torch.Tensor], codes: np.ndarray, depth: int) -> torch.Tensor:
    """What is left of ``z`` [B, e] after its first ``depth`` codes ``codes`` [B, >=depth]."""
    r = z.clone()
    for l in range(depth):
        r = r - codebooks[l][torch.as_tensor(codes[:, l])]
    return r


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
            r = _residual(z[flat], codebooks, codes[flat], len(codebooks) - 1)
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
            r = _residual(z[g], codebooks, codes[g], len(codebooks) - 1)
            d = (r - codebooks[-1][torch.as_tensor(codes[g, -1])]).pow(2).sum(1)
            keeper = int(g[int(torch.argmin(d))])  # argmin: ties -> lowest id
        else:
            keeper = int(g[0])
        for item in (int(i) for i in g if int(i) != keeper):
            for keep in range(levels - 1, -1, -1):
                prefix = tuple(int(c) for c in codes[item, :keep])
                r = None
                if z is not None and codebooks is not None:
                    r = _residual(z[item : item + 1], codebooks, codes[item : item + 1], keep)[0]
                found = search(r, keep, prefix)
                if found is not None:
                    break
            else:  # pragma: no cover - excluded by the K^L >= N check
                raise RuntimeError("no free index left")
            moved["moved_in_prefix" if keep == levels - 1 else "moved_to_other_prefix"] += 1
            codes[item] = found
            taken.add(found)
    return codes, moved


# -- methods ----------------------------------------------------------------------------


def _warmup_lambda(warmup_steps: int) -> Callable[[int], float]:
    return lambda step: min(1.0, (step + 1) / max(1, warmup_steps))


def train_rqvae(
    x: np.ndarray,
    ic: IndexConfig,
    seed: int,
    use_sk: bool,
    device: str = "cpu",
) -> tuple[RQVAE, list[dict[str, Any]]]:
    """Train an RQ-VAE on ``x`` [N, d]; returns the model and a per-epoch history."""
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    xt = torch.as_tensor(x, dtype=torch.float32)
    model = RQVAE(
        x.shape[1], list(ic.layers), ic.e_dim, ic.levels, ic.codebook_size, ic.beta,
        ic.sk_epsilon if use_sk else 0.0, ic.sk_iters, ic.dropout,
    )
    model.init_codebooks(xt, ic.kmeans_iters, g)
    model.to(device)
    xd = xt.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=ic.lr, weight_decay=ic.weight_decay)
    steps_per_epoch = math.ceil(len(x) / ic.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, _warmup_lambda(ic.warmup_epochs * steps_per_epoch))
    history: list[dict[str, Any]] = []
    bar = tqdm(range(ic.epochs), desc="RQ-VAE", unit="epoch", mininterval=1.0)
    for epoch in bar:
        t_epoch = time.perf_counter()
        model.train()
        perm = torch.randperm(len(x), generator=g).to(device)
        tot = rec = qua = 0.0
        for s in range(0, len(x), ic.batch_size):
            out = model(xd[perm[s : s + ic.batch_size]], use_sk=use_sk)
            loss = out.recon_loss + ic.quant_weight * out.quant_loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            b = len(perm[s : s + ic.batch_size])
            tot, rec, qua = tot + loss.item() * b, rec + out.recon_loss.item() * b, qua + out.quant_loss.item() * b
        rec_e = {
            "epoch": epoch + 1,
            "loss": tot / len(x),
            "recon": rec / len(x),
            "quant": qua / len(x),
            "seconds": time.perf_counter() - t_epoch,
        }
        if (epoch + 1) % ic.eval_every == 0 or epoch + 1 == ic.epochs:
            model.eval()
            codes = residual_codes(model.latents(xd), [cb.detach() for cb in model.codebooks])
            rec_e["collision_rate"] = collision_rate(codes)
            rec_e["used"] = [s["used"] for s in level_stats(codes, ic.codebook_size)]
            bar.set_postfix(loss=f"{rec_e['loss']:.4f}", coll=f"{rec_e['collision_rate']:.3f}", refresh=False)
        history.append({k: (round(v, 6) if isinstance(v, float) else v) for k, v in rec_e.items()})
    return model.cpu().eval(), history


def check_capacity(n_items: int, levels: int, k: int) -> None:
    if k**levels < n_items:
        raise ConfigError(
            f"index.codebook_size^index.levels = {k}^{levels} = {k**levels} indices < {n_items} items: "
            f"no unique index is possible; raise index.codebook_size or index.levels"
        )


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
    check_capacity(n, ic.levels, ic.codebook_size)
    t0 = time.perf_counter()
    history: list[dict[str, Any]] = []
    model: RQVAE | None = None
    z: torch.Tensor | None = None
    codebooks: list[torch.Tensor] | None = None
    stats: dict[str, Any] = {"method": ic.method, "items": n, "levels": ic.levels, "codebook_size": ic.codebook_size}
    # items whose embeddings are identical (same text): only the final step can separate them
    stats["items_with_identical_embeddings"] = int(sum(len(g) for g in collision_groups(x)))

    if ic.method in ("lcrec", "rqvae"):
        if ic.checkpoint:
            model = load_rqvae(ic.checkpoint)
            got = model.config()
            want = {"in_dim": x.shape[1], "levels": ic.levels, "codebook_size": ic.codebook_size}
            bad = {k: (got[k], v) for k, v in want.items() if got[k] != v}
            if bad:
                raise ConfigError(
                    f"{ic.checkpoint}: checkpoint does not fit this config: "
                    + ", ".join(f"{k} is {g} there, {w} here" for k, (g, w) in bad.items())
                )
            log(f"[index] using the RQ-VAE in {ic.checkpoint} (no training)")
        else:
            model, history = train_rqvae(x, ic, seed, use_sk=ic.method == "lcrec", device=device)
        with torch.no_grad():
            xt = torch.as_tensor(x, dtype=torch.float32)
            z = model.latents(xt)
            codebooks = [cb.detach().clone() for cb in model.codebooks]
            codes = residual_codes(z, codebooks)
            x_hat = model.decoder(sum(cb[torch.as_tensor(codes[:, l])] for l, cb in enumerate(codebooks)))
            stats["reconstruction_mse"] = round(float(torch.nn.functional.mse_loss(x_hat, xt)), 6)
        stats["epochs"] = 0 if ic.checkpoint else ic.epochs
    elif ic.method == "rqkmeans":
        g = torch.Generator().manual_seed(seed)
        z = torch.as_tensor(x, dtype=torch.float32)
        codebooks, r = [], z.clone()
        for _ in range(ic.levels):
            c = kmeans(r, ic.codebook_size, ic.kmeans_iters, g)
            codebooks.append(c)
            r = r - c[torch.cdist(r, c).argmin(1)]
        codes = residual_codes(z, codebooks)
        stats["reconstruction_mse"] = round(float(r.pow(2).mean()), 6)
    elif ic.method == "random":
        rng = np.random.default_rng(seed)
        flat = rng.choice(ic.codebook_size**ic.levels, size=n, replace=False)
        codes = np.stack([(flat // ic.codebook_size**(ic.levels - 1 - l)) % ic.codebook_size for l in range(ic.levels)], 1)
    else:
        raise ConfigError(f"unknown index.method {ic.method!r}; expected lcrec, rqvae, rqkmeans or random")

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


def save_rqvae(model: RQVAE, path: Path) -> None:
    torch.save({"config": model.config(), "state_dict": model.state_dict()}, path)


def load_rqvae(path: str | Path) -> RQVAE:
    """Load ``index/rqvae.pt`` safely (``weights_only=True``); a clear error if corrupt."""
    path = Path(path)
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        cfg = blob["config"]
        model = RQVAE(
            cfg["in_dim"], cfg["layers"], cfg["e_dim"], cfg["levels"], cfg["codebook_size"],
            cfg["beta"], cfg["sk_epsilon"], cfg["sk_iters"],
        )
        model.load_state_dict(blob["state_dict"])
    except FileNotFoundError:
        raise DataError(f"{path}: checkpoint not found") from None
    except Exception as e:  # torch raises many types for a damaged file
        raise DataError(
            f"{path}: not a valid RQ-VAE checkpoint ({type(e).__name__}: {str(e)[:200]}); "
            f"delete it and rerun `lcrec-mini index --force`"
        ) from None
    return model.eval()


def run_index(cfg: Config, run_dir: str | Path, force: bool = False, log: Callable[[str], None] = print) -> StageResult:
    from .data import load_dataset
    from .embed import load_embeddings
    from .runtime import pick_device

    ic = cfg.index

    def build(out: Path) -> None:
        ds = load_dataset(run_dir)
        x = load_embeddings(run_dir, ds.n_items)
        device = pick_device(ic.device)
        log(f"[index] {ic.method}: {ds.n_items} items, {ic.levels} levels x {ic.codebook_size} codes")
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
    uniq, counts = np.unique(codes, axis=0, return_counts=True)
    if len(uniq) != len(codes):
        row = int(np.flatnonzero(counts > 1)[0])
        same = np.flatnonzero((codes == uniq[row]).all(1)).tolist()
        raise DataError(
            f"{path}: {len(codes) - len(uniq)} items share an index with another item, e.g. items "
            f"{same[:5]} all have {index_str(uniq[row])}; every item needs its own index "
            "(rebuild it with `lcrec-mini index --force`)"
        )
    return codes


def format_index_summary(stats: dict[str, Any]) -> str:
    lines = [
        f"Index {stats['method']}: {stats['items']} items, {stats['levels']} levels x {stats['codebook_size']} codes",
        f"  collision rate: {stats['collision_rate_before_fixup']:.4f} before the fix-up "
        f"({stats['items_colliding_before_fixup']} items in shared indices), "
        f"{stats['sinkhorn_fixup']['collision_rate_after']:.4f} after Sinkhorn "
        f"({stats['sinkhorn_fixup']['items_moved']} moved in {stats['sinkhorn_fixup']['rounds']} rounds), "
        f"{stats['collision_rate_after_fixup']:.4f} after the final step "
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
