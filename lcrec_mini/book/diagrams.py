"""The book's diagrams and worked examples, drawn from a real run by the package's own code.

Each ``*_example`` function computes what a worked example shows (one item through the
RQ-VAE, one colliding group through Sinkhorn, a few items' trie, one user's beams) with
the functions the stages use; each ``plot_*`` function draws it. ``tools/make_figures.py``
writes them for the book's chapters; the notebooks call them too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lcrec_mini.book.figures import PALETTE, _plt
from lcrec_mini.core.run import Run
from lcrec_mini.core.stage import UPSTREAM
from lcrec_mini.data import splits
from lcrec_mini.generate.decoding import BeamResult, IndexTrie, beam_search, exclusion_keys
from lcrec_mini.generate.metrics import ndcg_of, rank_of
from lcrec_mini.generate.stage import eval_decoding
from lcrec_mini.index.embed import load_embeddings
from lcrec_mini.index.rqvae import load_rqvae, residual_codes, sinkhorn
from lcrec_mini.index.tokens import code_token, index_str, index_vocabulary
from lcrec_mini.tasks.seqrec import windows
from lcrec_mini.tasks.stage import read_examples, render
from lcrec_mini.tune.llm import format_prompt

#: each stage's files, as the code guide lists them
STAGE_FILES = {
    "data": ["items.json", "sequences.json", "stats.json"],
    "embed": ["items.npy", "meta.json"],
    "index": ["codes.json", "rqvae.pt", "stats.json"],
    "tasks": ["train/valid/test.jsonl", "context.json"],
    "tune": ["model/", "train_stats.json", "history.json"],
    "eval": ["metrics.json", "predictions.jsonl"],
    "baselines": ["metrics.json", "ranks.json"],
}


def plot_pipeline():
    """The seven stages, the files each writes, and which stage reads which: the method's
    stages left to right on top, the model's evaluation and the baselines below."""
    plt = _plt()
    pos = {"data": (0, 1), "embed": (1, 1), "index": (2, 1), "tasks": (3, 1), "tune": (3, 0), "eval": (2, 0),
           "baselines": (0, 0)}
    fig, ax = plt.subplots(figsize=(7.4, 4.3))
    w, h = 0.86, 0.6
    for name, (x, y) in pos.items():
        color = PALETTE[2] if name == "baselines" else PALETTE[0]
        ax.add_patch(plt.Rectangle((x - w / 2, y - h / 2), w, h, facecolor=color, alpha=0.12, edgecolor=color, lw=1.5))
        ax.text(x, y + h / 2 - 0.07, name, ha="center", va="top", fontsize=10, weight="bold")
        ax.text(x, y + h / 2 - 0.22, "\n".join(STAGE_FILES[name]), ha="center", va="top", fontsize=7.5, family="monospace")
    for name, ups in UPSTREAM.items():
        for u in ups:
            (x0, y0), (x1, y1) = pos[u], pos[name]
            side = 1 if x1 > x0 else -1
            if y0 == y1 and abs(x1 - x0) > 1:  # skips a stage: an arc above the row
                start, end, rad = (x0, y0 + h / 2), (x1, y1 + h / 2), -0.2
            elif y0 == y1:  # side to side, either way along a row
                start, end, rad = (x0 + side * w / 2, y0), (x1 - side * w / 2, y1), 0.0
            elif x0 == x1:  # straight down
                start, end, rad = (x0, y0 - h / 2), (x1, y1 + h / 2), 0.0
            else:  # down and across
                start, end, rad = (x0, y0 - h / 2), (x1 - side * w / 2 * 0.6, y1 + h / 2), 0.0
            ax.annotate("", xy=end, xytext=start,
                        arrowprops={"arrowstyle": "-|>", "color": "#555555", "lw": 1.1,
                                    "connectionstyle": f"arc3,rad={rad}"})
    ax.text(1, 0, "LC-Rec and the\nbaselines: the same\ntest users and metrics", ha="center", va="center", fontsize=8.5)
    ax.set_xlim(-0.5, 3.5)
    ax.set_ylim(-0.4, 1.75)
    ax.axis("off")
    ax.set_title("each stage reads the folders of the stages before it and writes its own", fontsize=10)
    fig.tight_layout()
    return fig


# -- one item through the RQ-VAE --------------------------------------------------------------


def residual_example(run_dir: str | Path, item: int, top: int = 5) -> dict[str, Any]:
    """Item ``item`` through the trained RQ-VAE: at each level its residual's norm, the
    ``top`` nearest codes with their distances, the code it got and what is left."""
    run = Run(run_dir)
    model = load_rqvae(run.dir / "index" / "rqvae.pt")
    x = torch.as_tensor(load_embeddings(run.dir)[item : item + 1], dtype=torch.float32)
    with torch.no_grad():
        r = model.latents(x)
        levels = []
        for level, cb in enumerate(model.codebooks):
            d = torch.cdist(r, cb)[0]
            order = d.argsort()[:top]
            code = int(order[0])
            after = r - cb[code]
            levels.append({"level": level + 1, "residual_norm": float(r.norm()), "code": code,
                           "token": code_token(level, code), "nearest": [(int(c), float(d[c])) for c in order],
                           "left_norm": float(after.norm())})
            r = after
    codes = run.codes[item]
    return {"item": item, "title": run.context.text(item, "title"), "index": index_str(codes), "levels": levels,
            "stored_codes": [int(c) for c in codes], "embedding_dim": int(x.shape[1]), "latent_dim": int(r.shape[1])}


def plot_residual_example(ex: dict[str, Any]):
    """Per level: the distances to the nearest codes (the chosen one dark), and the norm of
    the residual before and after."""
    plt = _plt()
    L = len(ex["levels"])
    cols = 2
    rows = -(-(L + 1) // cols)
    fig, grid = plt.subplots(rows, cols, figsize=(7.4, 2.6 * rows))
    axes = list(np.ravel(grid))
    for ax in axes[L + 1:]:
        ax.axis("off")
    for ax, lv in zip(axes, ex["levels"]):
        codes = [c for c, _ in lv["nearest"]]
        dist = [d for _, d in lv["nearest"]]
        colors = [PALETTE[0] if i == 0 else "#BBBBBB" for i in range(len(codes))]
        ax.barh(range(len(codes))[::-1], dist, color=colors)
        ax.set_yticks(range(len(codes))[::-1], [code_token(lv["level"] - 1, c) for c in codes], fontsize=9)
        ax.set_xlabel("distance to the residual", fontsize=9)
        ax.set_title(f"level {lv['level']}: takes {lv['token']}", fontsize=9)
    ax = axes[L]
    norms = [ex["levels"][0]["residual_norm"]] + [lv["left_norm"] for lv in ex["levels"]]
    ax.plot(range(len(norms)), norms, "o-", color=PALETTE[3])
    ax.set_xticks(range(len(norms)), ["z"] + [f"after {lv['level']}" for lv in ex["levels"]], fontsize=9)
    ax.set_ylabel("residual norm", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.set_title("what is left to encode", fontsize=9)
    fig.suptitle(f"item {ex['item']}, \"{ex['title']}\" -> {ex['index']}", fontsize=10)
    fig.tight_layout()
    return fig


# -- Sinkhorn on one colliding group ----------------------------------------------------------


def sinkhorn_example(run_dir: str | Path, epsilon: float = 0.003, iters: int = 50, max_size: int = 6) -> dict[str, Any]:
    """The largest group (at most ``max_size``) of items with different embeddings whose
    nearest codes collide at every level, and the last-level codes Sinkhorn gives them:
    the distances of each item's last residual to the codes, nearest vs Sinkhorn."""
    run = Run(run_dir)
    model = load_rqvae(run.dir / "index" / "rqvae.pt")
    emb = load_embeddings(run.dir)
    with torch.no_grad():
        z = model.latents(torch.as_tensor(emb, dtype=torch.float32))
        codes = residual_codes(z, [cb for cb in model.codebooks])
        groups: dict[tuple, list[int]] = {}
        for i, c in enumerate(map(tuple, codes)):
            groups.setdefault(c, []).append(i)
        distinct = [g for g in groups.values() if len(g) > 1 and len({emb[i].tobytes() for i in g}) == len(g)]
        if not distinct:
            return {}
        group = max(distinct, key=len)[:max_size]
        r = z[group]
        for level in range(len(model.codebooks) - 1):
            r = r - model.codebooks[level][codes[group, level]]
        d = torch.cdist(r, model.codebooks[-1]) ** 2
        nearest = d.argmin(1)
        plan = sinkhorn(d, epsilon, iters)
        balanced = plan.argmax(1)
    shown = sorted(set(nearest.tolist()) | set(balanced.tolist()) | set(d.mean(0).argsort()[:8].tolist()))
    return {"items": [int(i) for i in group], "titles": [run.context.text(i, "title") for i in group],
            "prefix": [int(c) for c in codes[group[0], :-1]],
            "codes_shown": shown, "distances": d[:, shown].numpy().tolist(), "nearest": nearest.tolist(),
            "sinkhorn": balanced.tolist(), "final": [int(c) for c in run.codes[group, -1]], "levels": len(model.codebooks)}


def plot_sinkhorn_example(ex: dict[str, Any]):
    """Distances of the group's last residuals to the last-level codes: x the nearest code
    (the same for all: a collision), o Sinkhorn's choice (one code each)."""
    plt = _plt()
    d = np.array(ex["distances"])
    shown = ex["codes_shown"]
    fig, ax = plt.subplots(figsize=(7.4, 2.1 + 0.5 * len(ex["items"])))
    im = ax.imshow(d, cmap="Blues_r", aspect="auto")
    last = ex["levels"] - 1
    for row, (n, s) in enumerate(zip(ex["nearest"], ex["sinkhorn"])):
        ax.plot(shown.index(n), row, "x", color=PALETTE[3], ms=11, mew=2.5, label="nearest code" if row == 0 else None)
        ax.plot(shown.index(s), row, "o", mfc="none", color="black", ms=13, mew=1.8, label="Sinkhorn" if row == 0 else None)
    ax.set_xticks(range(len(shown)), [code_token(last, c) for c in shown], fontsize=9, rotation=45)
    ax.set_yticks(range(len(ex["items"])), [t if len(t) <= 26 else t[:25] + "…" for t in ex["titles"]], fontsize=9)
    fig.colorbar(im, ax=ax, label="squared distance", fraction=0.04)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.38), ncol=2, fontsize=9, frameon=False)
    prefix = "".join(code_token(l, c) for l, c in enumerate(ex["prefix"]))
    ax.set_title(f"{len(ex['items'])} items whose nearest codes all give {prefix}{code_token(last, ex['nearest'][0])}",
                 fontsize=9)
    fig.tight_layout()
    return fig


# -- the trie of a few items ------------------------------------------------------------------


def trie_example(run_dir: str | Path, n_items: int = 9) -> dict[str, Any]:
    """The items under the most populated first code, up to ``n_items`` of them (their
    most populated second codes first): enough to see prefixes shared and split."""
    run = Run(run_dir)
    codes = run.codes
    first = int(np.bincount(codes[:, 0]).argmax())
    under = np.flatnonzero(codes[:, 0] == first)
    seconds = np.bincount(codes[under, 1]).argsort()[::-1][:3]  # the three fullest second codes
    per = max(1, n_items // len(seconds))
    chosen: list[int] = []
    for c2 in seconds:
        chosen += [int(i) for i in under[codes[under, 1] == c2]][:per]
    chosen = sorted(chosen[:n_items], key=lambda i: tuple(codes[i]))
    return {"items": chosen, "codes": [[int(c) for c in codes[i]] for i in chosen],
            "titles": [run.context.text(i, "title") for i in chosen], "under_first": int(len(under)),
            "n_items": int(len(codes))}


def plot_trie_example(ex: dict[str, Any]):
    """Root, then one node per prefix, the leaves labelled with the items' titles."""
    plt = _plt()
    codes, titles = ex["codes"], ex["titles"]
    L = len(codes[0])
    fig, ax = plt.subplots(figsize=(7.4, 1.1 + 0.42 * len(codes)))
    leaf_y = {i: len(codes) - 1 - i for i in range(len(codes))}
    nodes: dict[tuple, float] = {}
    for depth in range(L, 0, -1):
        for i, c in enumerate(codes):
            key = tuple(c[:depth])
            ys = [leaf_y[j] for j, cc in enumerate(codes) if tuple(cc[:depth]) == key]
            nodes[key] = float(np.mean(ys))
    root_y = float(np.mean(list(leaf_y.values())))
    x_of = lambda depth: 1.25 * depth  # noqa: E731
    for key, y in nodes.items():
        depth = len(key)
        parent_y = root_y if depth == 1 else nodes[key[:-1]]
        ax.plot([x_of(depth - 1), x_of(depth)], [parent_y, y], color="#999999", lw=1)
        ax.text(x_of(depth), y, code_token(depth - 1, key[-1]), ha="center", va="center", fontsize=8.5,
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": PALETTE[depth - 1]})
    ax.text(x_of(0), root_y, "start", ha="center", va="center", fontsize=8.5,
            bbox={"boxstyle": "round,pad=0.25", "fc": "#EEEEEE", "ec": "#999999"})
    for i, t in enumerate(titles):
        ax.text(x_of(L) + 0.45, leaf_y[i], t if len(t) <= 36 else t[:35] + "…", ha="left", va="center", fontsize=9)
    ax.set_xlim(-0.5, x_of(L) + 4.6)
    ax.set_ylim(-0.8, len(codes) - 0.2)
    ax.axis("off")
    ax.set_title(f"{len(codes)} of the {ex['under_first']} items under {code_token(0, codes[0][0])}: at each depth\n"
                 "a beam may only take a code that some item's index continues with", fontsize=9.5)
    fig.tight_layout()
    return fig


# -- one user through beam search -------------------------------------------------------------


def beam_example(run_dir: str | Path, user: int, beams: int = 20, cache_dir: str = "", shown: int = 6) -> dict[str, Any]:
    """One test user: the prompt, the beams kept after each level (best ``shown`` of them),
    the ranked list, where the true item fell and its HR@10 / NDCG@10."""
    run = Run(run_dir)
    tok, model = run.tuned(cache_dir)
    ctx, codes = run.context, run.codes
    K = ctx.codebook_size
    ids = torch.tensor(tok.convert_tokens_to_ids(index_vocabulary(codes.shape[1], K))).view(codes.shape[1], K)
    trie = IndexTrie.build(codes, ids, K)
    meta = run.json("tune", "tune_meta.json")
    # the user's test example as the eval stage rendered it (its drawn template), so the
    # ranks here are the ranks in eval/predictions.jsonl
    example = next(e for e in read_examples(run.dir, "test") if e["task"] == "seqrec" and e["user"] == user)
    history, target = example["history"], example["item"]
    prompt = render(example, ctx)[0]
    enc = tok([format_prompt(tok, prompt, meta.get("system"))], return_tensors="pt", add_special_tokens=False)
    trace: list[BeamResult] = []
    dec = eval_decoding(run.dir)  # as the eval stage decoded: its softmax, and the history left out or not
    exclude = None
    if dec["exclude_history"]:
        exclude = exclusion_keys(trie.prefix_keys(torch.as_tensor(codes, dtype=torch.long)), [history])
    res = beam_search(model, enc["input_ids"], enc["attention_mask"], trie, beams=beams, trace=trace,
                      softmax=dec["softmax"], exclude=exclude)
    lookup = {tuple(c): i for i, c in enumerate(codes.tolist())}
    ranked = [lookup[tuple(c)] for c, s in zip(res.codes[0].tolist(), res.scores[0].tolist()) if s != float("-inf")]
    levels = [[{"prefix": "".join(code_token(l, c) for l, c in enumerate(cs)), "score": round(float(s), 3),
                "on_target_path": list(cs) == [int(c) for c in codes[target][: len(cs)]]}
               for cs, s in zip(t.codes[0].tolist()[:shown], t.scores[0].tolist()[:shown])] for t in trace]
    kept_target = [any(list(cs) == [int(c) for c in codes[target][: len(cs)]] for cs in t.codes[0].tolist())
                   for t in trace]
    rank = rank_of(target, ranked)
    return {"user": user, "prompt": prompt, "history_titles": [ctx.text(i, "title") for i in history[-5:]],
            "target": target, "target_title": ctx.text(target, "title"), "target_index": ctx.index[target],
            "levels": levels, "target_prefix_kept": kept_target, "ranked": ranked[:10],
            "ranked_titles": [ctx.text(i, "title") for i in ranked[:10]], "rank": rank,
            "hr@10": float(rank is not None and rank <= 10), "ndcg@10": ndcg_of(rank, 10), "beams": beams}


def first_hit_user(run_dir: str | Path, ranks: tuple[int, ...] = (3, 2, 4, 5, 6, 7, 8, 9, 10, 1)) -> int:
    """A test user to follow: the first (by id) whose item the eval ranked 3rd, else 2nd,
    4th, ... (a hit that is not at the top shows the ranking at work)."""
    preds = Run(run_dir).predictions
    for r in ranks:
        users = sorted(u for u, p in preds.items() if p["rank"] == r)
        if users:
            return users[0]
    return min(preds)


def plot_beam_example(ex: dict[str, Any]):
    """The best beams after each level, the true item's prefix highlighted while it survives."""
    plt = _plt()
    L = len(ex["levels"])
    fig, axes = plt.subplots(1, L, figsize=(7.4, 1.3 + 0.36 * len(ex["levels"][0])))
    for depth, (ax, beams) in enumerate(zip(axes, ex["levels"])):
        for row, b in enumerate(beams):
            y = len(beams) - 1 - row
            color = PALETTE[3] if b["on_target_path"] else "#333333"
            ax.text(0.02, y, b["prefix"], fontsize=9, family="monospace", color=color, va="center",
                    weight="bold" if b["on_target_path"] else "normal")
            ax.text(0.98, y, f"{b['score']:.2f}", fontsize=8.5, ha="right", va="center", color=color)
        kept = "kept" if ex["target_prefix_kept"][depth] else "cut"
        ax.set_title(f"after level {depth + 1} (true prefix {kept})", fontsize=9)
        ax.set_ylim(-0.8, len(beams) - 0.2)
        ax.set_xlim(0, 1)
        ax.axis("off")
    rank = ex["rank"]
    where = f"rank {rank}" if rank else f"not in the top {ex['beams']}"
    fig.suptitle(f"user {ex['user']}: true next item \"{ex['target_title']}\" {ex['target_index']}, {where};\n"
                 f"HR@10 {ex['hr@10']:.0f}, NDCG@10 {ex['ndcg@10']:.3f} (beam score: summed log-probability)",
                 fontsize=9.5)
    fig.tight_layout()
    return fig


# -- one user's sequence: the leave-one-out split and the seqrec windows ---------------------


def sequence_example(run_dir: str | Path, user: int | None = None, lengths: tuple[int, int] = (30, 40)) -> dict[str, Any]:
    """One user's sequence as the data and tasks stages cut it: the training part, the
    validation and test items (:mod:`lcrec_mini.data.splits`), the test case's history
    as the prompt shows it, and the ``seqrec`` windows that tile the training part
    (:func:`lcrec_mini.tasks.seqrec.windows`). ``user=None``: the first user whose
    sequence has between ``lengths`` items (two windows, one of them short)."""
    run = Run(run_dir)
    ds, max_history = run.dataset, run.max_history
    if user is None:
        user = next(int(u) for u in sorted(ds.sequences, key=int) if lengths[0] <= len(ds.sequences[u]) <= lengths[1])
    seq = [int(i) for i in ds.sequences[str(user)]]
    train = splits.train_part(seq)
    _, valid_item = splits.valid_case(seq)
    history, test_item = splits.test_case(seq)
    shown = splits.cap(history, max_history)
    spans = windows(train, max_history + 1)  # contiguous, ending at the training part's end
    starts = list(len(train) - np.cumsum([len(w) for w in spans[::-1]]))[::-1]
    return {"user": user, "length": len(seq), "max_history": max_history, "train_length": len(train),
            "valid_item": valid_item, "test_item": test_item, "test_history_from": len(history) - len(shown),
            "windows": [[int(s), int(s) + len(w)] for s, w in zip(starts, spans)],
            "titles": {str(i): ds.items[str(i)].get("title", "") for i in (valid_item, test_item)}}


def _sequence_row(ax, n: int, y: float, colors: list[str], label: str) -> None:
    from matplotlib.patches import Rectangle

    for t in range(n):
        ax.add_patch(Rectangle((t, y), 0.9, 0.8, color=colors[t]))
    ax.text(-0.6, y + 0.4, label, ha="right", va="center", fontsize=9)


def _sequence_figure(fig, ax, right: float, top: float, title: str):
    """The frame both sequence drawings share: room for the row labels on the left, no axes."""
    ax.set_xlim(-8, right)
    ax.set_ylim(-0.3, top)
    ax.axis("off")
    ax.set_title(title, fontsize=9.5)
    fig.tight_layout()
    return fig


def plot_split_example(ex: dict[str, Any]):
    """The user's items oldest first, coloured by split, and the histories the validation
    and test cases show the model."""
    from matplotlib.patches import Rectangle

    plt = _plt()
    n, tr = ex["length"], ex["train_length"]
    fig, ax = plt.subplots(figsize=(7.4, 2.9))
    colors = [PALETTE[0]] * tr + [PALETTE[1], PALETTE[3]]
    _sequence_row(ax, n, 2.2, colors, f"user {ex['user']}")
    h0 = ex["test_history_from"]
    rows = [(1.1, max(0, tr - ex["max_history"]), tr, tr, PALETTE[1], "validation case"),
            (0.0, h0, n - 1, n - 1, PALETTE[3], "test case")]
    for y, a, b, target, col, name in rows:
        ax.add_patch(Rectangle((a, y + 0.15), b - a - 0.1, 0.5, color="#BBBBBB"))
        ax.add_patch(Rectangle((target, y), 0.9, 0.8, color=col))
        ax.text(-0.6, y + 0.4, name, ha="right", va="center", fontsize=9)
        ax.text((a + b) / 2, y + 0.4, f"history: {b - a} items", ha="center", va="center", fontsize=9)
    ax.text(tr / 2, 3.25, f"training part: items 1-{tr}", ha="center", fontsize=9, color=PALETTE[0])
    ax.text(tr + 0.8, 3.25, "valid", ha="right", fontsize=9, color=PALETTE[1])
    ax.text(tr + 1.1, 3.25, "test", ha="left", fontsize=9, color=PALETTE[3])
    return _sequence_figure(fig, ax, n + 2.5, 3.6,
                            f"leave-one-out: the last item is the test target, the one before it the validation\n"
                            f"target; a history shows the last {ex['max_history']} items before its target")


def plot_windows_example(ex: dict[str, Any]):
    """The training part tiled by seqrec windows from its end; every item of a window is
    a target, predicted from the instruction and the items before it in the window."""
    plt = _plt()
    n, tr = ex["length"], ex["train_length"]
    fig, ax = plt.subplots(figsize=(7.4, 2.5))
    _sequence_row(ax, n, 1.6, [PALETTE[0]] * tr + ["#DDDDDD", "#DDDDDD"], f"user {ex['user']}")
    for k, (a, b) in enumerate(ex["windows"]):
        y = 0.3 if k % 2 else 0.6
        ax.annotate("", xy=(a, y), xytext=(b - 0.1, y), arrowprops={"arrowstyle": "|-|", "color": PALETTE[2]})
        ax.text((a + b) / 2, y - 0.35, f"window {k + 1}: {b - a} targets", ha="center", fontsize=9)
    ax.text(tr + 1, 2.6, "held out", ha="center", fontsize=8, color="#888888")
    return _sequence_figure(fig, ax, n + 1, 2.9,
                            f"seqrec windows of up to {ex['max_history'] + 1} items tile the training part from its "
                            f"end:\n{sum(b - a for a, b in ex['windows'])} targets in {len(ex['windows'])} examples")
