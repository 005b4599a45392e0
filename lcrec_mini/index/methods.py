"""The indexing methods (``index.method``): embeddings -> codes [N items, L levels].

Each method returns an :class:`Indexed`; the index stage then applies the collision
fix-ups (``fixup.py``) and writes the codes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from lcrec_mini.core.errors import ConfigError
from lcrec_mini.index.rqvae import RQVAE, kmeans, load_rqvae, residual_codes, train_rqvae

if TYPE_CHECKING:
    from lcrec_mini.index.config import IndexConfig


@dataclass
class Indexed:
    """What an indexing method returns: codes [N, L] before any fix-up, and (for the
    methods that have them) the latents and codebooks the fix-ups measure distances in."""

    codes: np.ndarray
    z: torch.Tensor | None = None
    codebooks: list[torch.Tensor] | None = None
    model: RQVAE | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)


def _rqvae_codes(x: np.ndarray, ic: IndexConfig, seed: int, device: str, log: Callable[[str], None]) -> Indexed:
    """``lcrec`` (uniform semantic mapping in training) and ``rqvae`` (without): an RQ-VAE,
    trained here or loaded from ``index.checkpoint``, then its nearest codes."""
    history: list[dict[str, Any]] = []
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
        mse = round(float(torch.nn.functional.mse_loss(x_hat, xt)), 6)
    return Indexed(codes, z, codebooks, model, history,
                 {"reconstruction_mse": mse, "epochs": 0 if ic.checkpoint else ic.epochs})


def _rqkmeans_codes(x: np.ndarray, ic: IndexConfig, seed: int, device: str, log: Callable[[str], None]) -> Indexed:
    """Residual k-means on the embeddings themselves: no training."""
    g = torch.Generator().manual_seed(seed)
    z = torch.as_tensor(x, dtype=torch.float32)
    codebooks, r = [], z.clone()
    for _ in range(ic.levels):
        c = kmeans(r, ic.codebook_size, ic.kmeans_iters, g)
        codebooks.append(c)
        r = r - c[torch.cdist(r, c).argmin(1)]
    return Indexed(residual_codes(z, codebooks), z, codebooks, stats={"reconstruction_mse": round(float(r.pow(2).mean()), 6)})


def _random_codes(x: np.ndarray, ic: IndexConfig, seed: int, device: str, log: Callable[[str], None]) -> Indexed:
    """L random codes per item, no index drawn twice (the paper's random baseline)."""
    rng = np.random.default_rng(seed)
    K, L = ic.codebook_size, ic.levels
    flat = rng.choice(K**L, size=len(x), replace=False)
    return Indexed(np.stack([(flat // K ** (L - 1 - l)) % K for l in range(L)], 1))


#: index.method -> the function that computes its codes. A new indexer is a function here,
#: one entry in this table and its name in ``config.METHOD_NAMES`` (a test checks they agree)
METHODS: dict[str, Callable[..., Indexed]] = {
    "lcrec": _rqvae_codes, "rqvae": _rqvae_codes, "rqkmeans": _rqkmeans_codes, "random": _random_codes,
}
