"""RQ-VAE with uniform semantic mapping (LC-Rec, Section III-A).

An MLP encoder maps an item embedding x [d_in] to a latent z [e]. L codebooks of K
vectors each quantize z *residually*: level 1 picks the code nearest to z, level 2
the code nearest to what is left (z - c1), and so on. The item's index is the tuple
of picked codes (c1, ..., cL); the decoder rebuilds x from z_q = c1 + ... + cL.

Loss (per batch)::

    L = ||x - x_hat||^2 + (1/L) * sum_l ( ||sg[r_l] - e_l||^2 + beta * ||r_l - sg[e_l]||^2 )

with r_l the residual entering level l, e_l its code, sg the stop-gradient and
beta = 0.25 (commitment weight). Gradients pass the quantizer unchanged
(straight-through estimator).

Uniform semantic mapping: at the last level, the assignment of a batch's residuals to
codes is a balanced optimal-transport problem solved by Sinkhorn-Knopp, so every code
receives about B/K items and items sharing a prefix are pushed apart.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from lcrec_mini.core.errors import DataError
from lcrec_mini.index.collisions import collision_rate, level_stats
from lcrec_mini.index.config import IndexConfig


def sinkhorn(cost: torch.Tensor, epsilon: float = 0.003, iters: int = 50) -> torch.Tensor:
    """Entropic optimal transport plan for ``cost`` [..., B, K] with uniform marginals.

    Returns P [..., B, K] (float64) whose rows sum to 1/B and columns to 1/K (the
    column constraint is exact after the last step, the rows converge with ``iters``).
    Each cost matrix is rescaled to [0, 1] first, so ``epsilon`` is relative to its
    spread; the iterations run in log space so that a small ``epsilon`` cannot
    overflow. Leading dimensions are independent problems (a batch of groups).
    """
    c = cost.detach().double()
    lo = c.amin(dim=(-2, -1), keepdim=True)
    hi = c.amax(dim=(-2, -1), keepdim=True)
    log_k = -((c - lo) / (hi - lo).clamp(min=1e-12)) / epsilon
    b, k = c.shape[-2:]
    log_u = torch.zeros(c.shape[:-1], dtype=c.dtype, device=c.device)
    log_v = torch.zeros(c.shape[:-2] + (k,), dtype=c.dtype, device=c.device)
    for _ in range(iters):
        log_u = -math.log(b) - torch.logsumexp(log_k + log_v.unsqueeze(-2), dim=-1)
        log_v = -math.log(k) - torch.logsumexp(log_k + log_u.unsqueeze(-1), dim=-2)
    return torch.exp(log_u.unsqueeze(-1) + log_k + log_v.unsqueeze(-2))


def kmeans(x: torch.Tensor, k: int, iters: int = 50, generator: torch.Generator | None = None) -> torch.Tensor:
    """k-means centroids [k, d] of ``x`` [N, d]: scikit-learn's ``KMeans`` (k-means++ seeding,
    Lloyd's iterations, one initialisation), on the CPU whatever ``x``'s device.

    Its seed is drawn from ``generator``, so one seeded generator makes every call of a run
    reproducible. With fewer points than k, the spare centroids are copies of points drawn
    at random (they stay unused until training moves them); with fewer *distinct* points
    than k, scikit-learn's duplicate centroids play the same part.
    """
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    n = x.shape[0]
    if n == 0:
        raise ValueError("k-means on an empty set")
    seed = int(torch.randint(2**31 - 1, (1,), generator=generator).item())
    data = x.detach().cpu().float().numpy()
    fit_k = min(k, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points than k
        km = KMeans(n_clusters=fit_k, init="k-means++", n_init=1, max_iter=iters, random_state=seed).fit(data)
    c = km.cluster_centers_.astype(np.float32)
    if fit_k < k:
        spare = np.random.default_rng(seed).integers(n, size=k - fit_k)
        c = np.concatenate([c, data[spare]])
    return torch.as_tensor(c, device=x.device)


def mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


@dataclass
class RQOutput:
    x_hat: torch.Tensor  # [B, d_in]
    codes: torch.Tensor  # [B, L] long
    recon_loss: torch.Tensor
    quant_loss: torch.Tensor


class RQVAE(nn.Module):
    """MLP encoder -> L residual codebooks of K codes (dim e) -> MLP decoder."""

    def __init__(
        self,
        in_dim: int,
        layers: list[int],
        e_dim: int,
        levels: int,
        codebook_size: int,
        beta: float = 0.25,
        sk_epsilon: float = 0.003,
        sk_iters: int = 50,
        dropout: float = 0.0,
    ):
        super().__init__()
        self.levels, self.codebook_size, self.e_dim = levels, codebook_size, e_dim
        self.beta, self.sk_epsilon, self.sk_iters = beta, sk_epsilon, sk_iters
        self.encoder = mlp([in_dim, *layers, e_dim], dropout)
        self.decoder = mlp([e_dim, *reversed(layers), in_dim], dropout)
        self.codebooks = nn.ParameterList(
            [nn.Parameter(torch.randn(codebook_size, e_dim) * 0.01) for _ in range(levels)]
        )

    # -- quantization -------------------------------------------------------------------
    def level_distances(self, r: torch.Tensor, level: int) -> torch.Tensor:
        """Squared distances [B, K] of residuals ``r`` [B, e] to the codes of ``level``."""
        cb = self.codebooks[level]
        return (r.pow(2).sum(1, keepdim=True) - 2 * r @ cb.t() + cb.pow(2).sum(1)[None, :]).clamp(min=0)

    def quantize(self, z: torch.Tensor, use_sk: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (z_q with straight-through gradients [B, e], codes [B, L], quantization loss)."""
        r = z
        z_q = torch.zeros_like(z)
        codes, losses = [], []
        for level in range(self.levels):
            d = self.level_distances(r, level)
            last = level == self.levels - 1
            if use_sk and last and self.sk_epsilon > 0 and r.shape[0] > 1:
                idx = sinkhorn(d, self.sk_epsilon, self.sk_iters).argmax(1)
            else:
                idx = d.argmin(1)
            e = self.codebooks[level][idx]
            losses.append(F.mse_loss(e, r.detach()) + self.beta * F.mse_loss(r, e.detach()))
            e_st = r + (e - r).detach()  # straight-through: forward e, backward identity
            z_q = z_q + e_st
            r = r - e.detach()
            codes.append(idx)
        return z_q, torch.stack(codes, 1), torch.stack(losses).mean()

    def forward(self, x: torch.Tensor, use_sk: bool = True) -> RQOutput:
        z = self.encoder(x)
        z_q, codes, q_loss = self.quantize(z, use_sk)
        x_hat = self.decoder(z_q)
        return RQOutput(x_hat, codes, F.mse_loss(x_hat, x), q_loss)

    @torch.no_grad()
    def init_codebooks(self, x: torch.Tensor, iters: int, generator: torch.Generator) -> None:
        """k-means initialisation, level by level, on the residuals of ``x``'s latents."""
        r = self.encoder(x)
        for level in range(self.levels):
            c = kmeans(r, self.codebook_size, iters, generator)
            self.codebooks[level].data.copy_(c)
            r = r - c[self.level_distances(r, level).argmin(1)]

    @torch.no_grad()
    def latents(self, x: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
        return torch.cat([self.encoder(x[s : s + batch_size]) for s in range(0, len(x), batch_size)])

    def config(self) -> dict:
        enc = [m for m in self.encoder if isinstance(m, nn.Linear)]
        return {
            "in_dim": enc[0].in_features,
            "layers": [m.out_features for m in enc[:-1]],
            "e_dim": self.e_dim,
            "levels": self.levels,
            "codebook_size": self.codebook_size,
            "beta": self.beta,
            "sk_epsilon": self.sk_epsilon,
            "sk_iters": self.sk_iters,
        }


# -- residual codes of a trained model ----------------------------------------------------


def residual_codes(z: torch.Tensor, codebooks: list[torch.Tensor]) -> np.ndarray:
    """Nearest code at each level of the residual of ``z`` [N, e] -> [N, L]."""
    r = z.clone()
    out = []
    for cb in codebooks:
        idx = torch.cdist(r, cb).argmin(1)
        out.append(idx)
        r = r - cb[idx]
    return torch.stack(out, 1).cpu().numpy().astype(np.int64)


def residual_after(z: torch.Tensor, codebooks: list[torch.Tensor], codes: np.ndarray, depth: int) -> torch.Tensor:
    """What is left of ``z`` [B, e] after its first ``depth`` codes ``codes`` [B, >=depth]."""
    r = z.clone()
    for l in range(depth):
        r = r - codebooks[l][torch.as_tensor(codes[:, l])]
    return r


# -- training and checkpoints ----------------------------------------------------------------


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
