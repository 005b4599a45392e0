"""The notebooks' figures: each function takes stage outputs (already loaded) and returns
a matplotlib ``Figure``; the notebook displays it."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from lcrec_mini.analyses.plan import ABLATION_ROWS
from lcrec_mini.generate.metrics import METRIC_KEYS
from lcrec_mini.index.tokens import code_token

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


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


def plot_prefix_overlap(cs: dict[str, Any]):
    """Paper Fig. 5a as a picture: the word F1 between the generated and the true title
    against the index prefix shown (mean over the items, bars of 2 standard errors)."""
    import matplotlib.pyplot as plt

    ov = cs["mean_title_overlap_by_prefix_length"]
    se = cs.get("title_overlap_se_by_prefix_length") or [0.0] * len(ov)
    x = list(range(1, len(ov) + 1))
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.errorbar(x, ov, yerr=[2 * s for s in se], fmt="o-", color=PALETTE[0], capsize=4)
    ax.set_xticks(x, [f"first {d}" if d < len(ov) else "full index" for d in x])
    ax.set_xlabel("index tokens shown to the model")
    ax.set_ylabel("word F1 with the true title\n(articles left out)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    share = cs.get("distinct_title_share")
    extra = f"; {share:.0%} of full-index titles distinct" if share is not None else ""
    ax.set_title(f"{cs.get('items', len(cs['prefix_generation']))} most popular items{extra}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_token_pca(result: dict[str, Any], levels: int, codebook_size: int):
    """One panel per model: word tokens grey, index tokens coloured by level."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(result), figsize=(5.2 * len(result), 4.4), squeeze=False)

    def draw(ax, r, labels: bool) -> None:
        ax.scatter(r["words"][:, 0], r["words"][:, 1], s=4, alpha=0.35, color="#999999",
                   label="word tokens" if labels else None)
        for l in range(levels):
            pts = r["index"][l * codebook_size : (l + 1) * codebook_size]
            ax.scatter(pts[:, 0], pts[:, 1], s=9, alpha=0.8, color=PALETTE[l % len(PALETTE)],
                       label=f"index tokens {code_token(l, '*')}" if labels else None)

    for ax, (name, r) in zip(axes[0], result.items()):
        draw(ax, r, True)
        # index tokens packed into a small part of the words' cloud: an inset zoomed on them,
        # so their own spread (or its absence) can be seen; the main panel keeps the frame
        lo, hi = np.percentile(r["words"], [2, 98], axis=0)
        ilo, ihi = r["index"].min(0), r["index"].max(0)
        zoom = float(np.min((hi - lo) / np.maximum(ihi - ilo, 1e-9)))
        title = f"{name}: centroid gap {r['centroid_gap']:.2f}, spread {r['index_spread']:.2f}"
        if zoom > 5:
            pad = 0.15 * np.maximum(ihi - ilo, 1e-6 * (hi - lo))
            ins = ax.inset_axes([0.6, 0.6, 0.38, 0.38])
            draw(ins, r, False)
            ins.set_xlim(ilo[0] - pad[0], ihi[0] + pad[0])
            ins.set_ylim(ilo[1] - pad[1], ihi[1] + pad[1])
            ins.tick_params(labelsize=6)
            ins.set_title(f"index tokens, zoomed {zoom:.0f}x", fontsize=7)
            ax.indicate_inset_zoom(ins, edgecolor="#555555")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("PC1 of the word tokens")
        ax.set_ylabel("PC2 of the word tokens")
        ax.legend(fontsize=7, markerscale=2, loc="lower left")
    fig.tight_layout()
    return fig


def plot_indexing(results: dict[str, Any], keys: tuple[str, ...] = ("hr@5", "ndcg@5")):
    """Paper Fig. 2 at our scale: HR@5 and NDCG@5 per indexing method, seqrec only vs all tasks."""
    import matplotlib.pyplot as plt

    runs = results["runs"]
    methods = [("random", "random"), ("rqvae", "RQ-VAE, no uniform mapping"), ("lcrec", "LC-Rec")]
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6))
    x = np.arange(len(methods))
    for ax, key in zip(np.atleast_1d(axes), keys):
        for j, (t, lab) in enumerate((("seq", "SEQ (seqrec only)"), ("all", "w/ ALIGN (all tasks)"))):
            vals = [runs.get(f"index-{mm}-{t}", {}).get(key, 0.0) for mm, _ in methods]
            bars = ax.bar(x + (j - 0.5) * 0.38, vals, 0.38, label=lab, color=PALETTE[j])
            ax.bar_label(bars, fmt="%.3f", fontsize=6, padding=1)  # a bar of 0 still shows its value
        ax.set_xticks(x, [l for _, l in methods], fontsize=8)
        ax.set_title(key.upper())
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_ablation(results: dict[str, Any], keys: tuple[str, ...] = ("hr@10", "ndcg@10")):
    import matplotlib.pyplot as plt

    runs = results["runs"]
    rows = [(lab, runs[r]) for r, lab in ABLATION_ROWS if r in runs]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for j, key in enumerate(keys):
        ax.plot(range(len(rows)), [r[key] for _, r in rows], "o-", label=key.upper(), color=PALETTE[j])
    ax.set_xticks(range(len(rows)), [lab for lab, _ in rows], rotation=15, fontsize=8)
    ax.set_ylabel("score")
    ax.legend()
    ax.set_title("task ablation (same training tokens per run; means over the training seeds)")
    fig.tight_layout()
    return fig
