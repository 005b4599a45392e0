"""Figures and small HTML tables for the notebooks; every function returns what it draws.

Plot functions take stage outputs (already loaded) and return a matplotlib ``Figure``;
the notebooks display it. :class:`Table` renders as HTML in Jupyter and as aligned
text elsewhere, so no pandas is needed.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Any, Sequence

import numpy as np

from lcrec_mini.generate.metrics import METRIC_KEYS

#: an index token inside table text (lcrec_mini.index.tokens writes them)
INDEX_TOKEN = re.compile(r"(<[a-z]_\d+>)")

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


class Table:
    """Rows of dicts shown as an HTML table in a notebook and as text in a terminal."""

    def __init__(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, caption: str = ""):
        self.rows = list(rows)
        self.columns = list(columns or (self.rows[0].keys() if self.rows else []))
        self.caption = caption

    @staticmethod
    def _fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 10 else f"{v:,.1f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return "" if v is None else str(v)

    @staticmethod
    def _cell_html(text: str) -> str:
        """Escaped text in which every index token is kept whole: a line may break between
        ``<a_9>`` and ``<b_29>``, never inside one."""
        parts = INDEX_TOKEN.split(text)
        out = []
        for i, part in enumerate(parts):
            if i % 2:  # a token (the pattern's one group)
                out.append(f'<span class="ix">{html.escape(part)}</span><wbr>')
            else:
                out.append(html.escape(part))
        return "".join(out)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{self._cell_html(self._fmt(r.get(c)))}</td>" for c in self.columns) + "</tr>"
            for r in self.rows
        )
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f'<table class="lcrec-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        cells = [[self._fmt(r.get(c)) for c in self.columns] for r in self.rows]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(self.columns)]
        lines = [" | ".join(c.ljust(w) for c, w in zip(self.columns, widths)), "-+-".join("-" * w for w in widths)]
        lines += [" | ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
        return ("\n".join([self.caption] + lines)) if self.caption else "\n".join(lines)


# -- data ---------------------------------------------------------------------------


def plot_long_tail(sequences: Sequence[Sequence[int]], n_items: int):
    """Interactions per item, most popular first (log scale), and sequence lengths."""
    plt = _plt()
    counts = np.bincount(np.concatenate([np.asarray(s) for s in sequences]), minlength=n_items)
    ranked = np.sort(counts)[::-1]
    share = np.cumsum(ranked) / ranked.sum()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(np.arange(1, n_items + 1), ranked, color=PALETTE[0])
    ax1.set_yscale("log")
    ax1.set_xlabel("item rank by popularity")
    ax1.set_ylabel("interactions (log)")
    top = int(np.ceil(0.1 * n_items))
    ax1.axvline(top, color=PALETTE[3], ls="--", lw=1)
    ax1.text(top * 1.05, ranked.max() / 2, f"top 10% of items:\n{100 * share[top - 1]:.1f}% of interactions", fontsize=8)
    ax1.set_title("long tail of item popularity")
    lengths = [len(s) for s in sequences]
    ax2.hist(lengths, bins=40, color=PALETTE[1])
    ax2.set_xlabel("interactions per user")
    ax2.set_ylabel("users")
    ax2.set_title(f"sequence lengths (median {int(np.median(lengths))})")
    fig.tight_layout()
    return fig


# -- embeddings and indices -----------------------------------------------------------


def pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[N, D] -> ([N, 2] coordinates on the first two principal axes, explained variance ratios)."""
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype=np.float64)
    pca = PCA(n_components=2, svd_solver="full").fit(x)
    vt = pca.components_
    # a deterministic sign per axis: the largest loading is positive
    signs = np.sign(vt[np.arange(2), np.abs(vt).argmax(1)])
    return pca.transform(x) * signs, pca.explained_variance_ratio_


def plot_embedding_map(emb: np.ndarray, labels: Sequence[str] | None = None, title: str = "item embeddings", top: int = 8):
    """PCA of item embeddings, coloured by a label (e.g. first genre); the ``top`` labels get colours."""
    plt = _plt()
    coords, var = pca_2d(emb)
    fig, ax = plt.subplots(figsize=(6.5, 5))
    if labels is None:
        ax.scatter(coords[:, 0], coords[:, 1], s=6, alpha=0.6, color=PALETTE[0])
    else:
        common = [l for l, _ in Counter(labels).most_common(top)]
        other = np.array([l not in common for l in labels])
        ax.scatter(coords[other, 0], coords[other, 1], s=5, alpha=0.3, color="#BBBBBB", label="other")
        for i, lab in enumerate(common):
            m = np.array([l == lab for l in labels])
            ax.scatter(coords[m, 0], coords[m, 1], s=7, alpha=0.7, color=PALETTE[i % len(PALETTE)], label=lab)
        ax.legend(fontsize=7, markerscale=2, loc="best")
    ax.set_xlabel(f"PC1 ({100 * var[0]:.1f}% of variance)")
    ax.set_ylabel(f"PC2 ({100 * var[1]:.1f}% of variance)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_index_history(history: Sequence[dict[str, Any]]):
    """RQ-VAE training: losses (log scale) and the collision rate / codes used per level."""
    plt = _plt()
    if not history:  # random / rqkmeans indices, or a given checkpoint: nothing was trained
        fig, ax = plt.subplots(figsize=(6, 1.2))
        ax.axis("off")
        ax.text(0.5, 0.5, "no RQ-VAE training in this run (index.method random / rqkmeans, or a checkpoint)", ha="center")
        return fig
    ep = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax1.plot(ep, [h["loss"] for h in history], label="total", color=PALETTE[0])
    ax1.plot(ep, [h["recon"] for h in history], label="reconstruction", color=PALETTE[1], ls="--")
    ax1.plot(ep, [max(h["quant"], 1e-12) for h in history], label="quantisation (all levels)", color=PALETTE[2])
    ax1.set_yscale("log")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss (log)")
    ax1.legend(fontsize=8)
    ax1.set_title("RQ-VAE losses")
    ax2.plot(ep, [h["collision_rate"] for h in history], color=PALETTE[3], label="collision rate")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("share of items sharing an index", color=PALETTE[3])
    ax2.set_ylim(0, 1)
    ax3 = ax2.twinx()
    levels = len(history[0]["used"])
    for l in range(levels):
        ax3.plot(ep, [h["used"][l] for h in history], lw=1, ls=":", color=PALETTE[(4 + l) % len(PALETTE)], label=f"codes used, level {l + 1}")
    ax3.set_ylabel("codes used")
    lines = ax2.get_lines() + ax3.get_lines()
    ax2.legend(lines, [l.get_label() for l in lines], fontsize=8, loc="center right")
    ax2.set_title("collisions (before the fix-up) and code usage")
    fig.tight_layout()
    return fig


def plot_code_usage(codes: np.ndarray, codebook_size: int):
    """Items per code at every level, codes sorted by count: flat bars = balanced codebook."""
    plt = _plt()
    levels = codes.shape[1]
    fig, axes = plt.subplots(1, levels, figsize=(3.4 * levels, 3), sharey=False)
    axes = np.atleast_1d(axes)
    for l, ax in enumerate(axes):
        cnt = np.sort(np.bincount(codes[:, l], minlength=codebook_size))[::-1]
        ax.bar(np.arange(codebook_size), cnt, width=1.0, color=PALETTE[l % len(PALETTE)])
        ax.axhline(len(codes) / codebook_size, color="k", lw=0.8, ls="--")
        ax.set_title(f"level {l + 1}: {int((cnt > 0).sum())}/{codebook_size} codes used", fontsize=9)
        ax.set_xlabel("code (sorted by count)")
    axes[0].set_ylabel("items")
    fig.tight_layout()
    return fig


# -- tuning and results -------------------------------------------------------------


def plot_training_curve(history: Sequence[dict[str, Any]]):
    """Training and validation loss on response tokens against the optimizer step."""
    plt = _plt()
    tr = [(h["step"], h["loss"]) for h in history if "loss" in h]
    ev = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    if tr:
        ax.plot(*zip(*tr), label="training loss", color=PALETTE[0])
    if ev:
        ax.plot(*zip(*ev), "o-", label="validation loss (seqrec)", color=PALETTE[3])
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on response tokens")
    ax.legend()
    ax.set_title("alignment tuning")
    fig.tight_layout()
    return fig


def plot_metrics(rows: Sequence[dict[str, Any]], keys: Sequence[str] = METRIC_KEYS):
    """Grouped bars: one group per metric, one bar per model (rows need ``model`` + metric keys)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(len(rows), 1)
    x = np.arange(len(keys))
    for i, r in enumerate(rows):
        ax.bar(x + i * width - 0.4 + width / 2, [r.get(k, 0.0) for k in keys], width, label=r["model"], color=PALETTE[i % len(PALETTE)])
    ax.set_xticks(x, [k.upper() for k in keys])
    ax.set_ylabel("score (higher is better)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
