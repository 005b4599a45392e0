"""Analyses of a finished run: the LLM's token embeddings, and what item indices mean.

- :func:`token_embedding_pca`: input embeddings of the index tokens and of ordinary
  word tokens projected on the same two principal axes (the paper's Fig. 4 asks whether
  tuning moves the index tokens into the region of the words).
- :func:`prefix_titles`: the tuned model names an item from the first 1, 2, ..., L
  tokens of its index (the paper's Fig. 5a: coarse to fine).
- :func:`related_items`: items sharing the longest index prefix with an item, beside
  the nearest items by text embedding alone (the paper's Fig. 5b).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lcrec_mini.core.run import Run
from lcrec_mini.index.tokens import index_str
from lcrec_mini.tasks.registry import templates
from lcrec_mini.tune.llm import format_prompt, load_causal_lm
from lcrec_mini.tune.stage import init_index_rows, load_tuned


def word_token_ids(tok, n: int, seed: int = 0, vocab_limit: int | None = None) -> list[int]:
    """``n`` random ordinary word tokens: alphabetic, at least 3 letters, not special."""
    vocab = tok.get_vocab()
    special = set(tok.all_special_ids)
    limit = vocab_limit or len(vocab)
    cands = []
    for t, i in vocab.items():
        if i in special or i >= limit:
            continue
        w = tok.convert_tokens_to_string([t]).strip()
        if len(w) >= 3 and w.isascii() and w.isalpha():
            cands.append(i)
    cands.sort()
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(cands, size=min(n, len(cands)), replace=False).tolist())


def token_embedding_pca(weights: dict[str, np.ndarray], word_ids: list[int], index_ids: list[int]) -> dict[str, Any]:
    """Project index and word token embeddings of several models on shared-per-model PCA axes.

    ``weights``: name -> [V, D] input embedding matrix. For each model the axes are fitted
    on the word tokens only, so the words' cloud is the frame in which the index tokens
    are placed. Returns per model the 2-D coordinates and two summaries:
    ``centroid_gap`` (distance between the index tokens' and the words' centroids, in
    units of the words' RMS radius) and ``index_spread`` (the index tokens' RMS radius in
    the same unit): both small when index tokens live among the words.
    """
    from sklearn.decomposition import PCA

    out: dict[str, Any] = {}
    for name, w in weights.items():
        words = np.asarray(w[word_ids], dtype=np.float64)
        idx = np.asarray(w[index_ids], dtype=np.float64)
        pca = PCA(n_components=2, svd_solver="full").fit(words)  # the words' axes
        mu = pca.mean_
        radius = float(np.sqrt(((words - mu) ** 2).sum(1).mean()))
        out[name] = {
            "words": pca.transform(words),
            "index": pca.transform(idx),
            "explained": pca.explained_variance_ratio_.tolist(),
            "centroid_gap": float(np.linalg.norm(idx.mean(0) - mu) / radius),
            "index_spread": float(np.sqrt(((idx - idx.mean(0)) ** 2).sum(1).mean()) / radius),
        }
    return out


def prefix_titles(model, tok, codes: np.ndarray, item: int, system: str | None = None,
                  end_of_response: str | None = None, max_new_tokens: int = 24) -> list[dict[str, Any]]:
    """Greedy answers of the index2item question for the first 1..L tokens of ``item``'s index."""
    template = templates("index2item", "title")[0]
    rows = []
    device = next(model.parameters()).device
    stop = tok.convert_tokens_to_ids(end_of_response) if end_of_response else tok.eos_token_id
    for d in range(1, codes.shape[1] + 1):
        prefix = index_str(codes[item, :d])
        text = format_prompt(tok, template.format(index=prefix), system)
        enc = tok(text, return_tensors="pt", add_special_tokens=False).to(device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=stop,
                                 pad_token_id=tok.pad_token_id)
        new = out[0, enc["input_ids"].shape[1]:]
        gen = tok.decode(new, skip_special_tokens=True).strip()
        shown = gen or (EMPTY_AT_ONCE if len(new) <= 1 else EMPTY_NO_WORDS)
        rows.append({"prefix length": d, "prefix": prefix, "generated title": shown, "text": gen})
    return rows


#: what the case-study tables show for an empty generation, instead of a blank cell
EMPTY_AT_ONCE = "(nothing: the model ended its answer at the first token)"
EMPTY_NO_WORDS = "(nothing readable: only special tokens were generated)"
#: the columns a case-study table shows (``text`` is the raw generation, scored by the study)
PREFIX_COLUMNS = ("prefix length", "prefix", "generated title")


def text_similarity(emb: np.ndarray, item: int) -> np.ndarray:
    """[N] cosine similarity of every item's embedding to ``item``'s (``-inf`` for itself)."""
    e = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-12)
    cos = e @ e[item]
    cos[item] = -np.inf
    return cos


def text_neighbours(emb: np.ndarray, item: int, k: int = 5) -> list[int]:
    """The ``k`` items nearest to ``item`` by cosine of the text embeddings."""
    return np.argsort(-text_similarity(emb, item), kind="stable")[:k].tolist()


def related_items(codes: np.ndarray, emb: np.ndarray, item: int, k: int = 5) -> dict[str, list[int]]:
    """``k`` items by longest shared index prefix (ties: nearest in text) and ``k`` by text cosine."""
    cos = text_similarity(emb, item)
    by_text = np.argsort(-cos, kind="stable")[:k].tolist()
    shared = (np.cumprod(codes == codes[item], axis=1)).sum(1)
    shared[item] = -1
    order = np.lexsort((-cos, -shared))  # most shared prefix first, then text similarity
    return {"by_index": order[:k].tolist(), "by_text": by_text, "shared_prefix": shared[order[:k]].tolist()}


def load_embedding_weights(run_dir: str | Path, cache_dir: str = "") -> tuple[dict[str, np.ndarray], Any, dict]:
    """Input embeddings before tuning (the base model with the index rows as tuning started
    them: ``tune.index_init``, same seed) and after (the tuned model, LoRA merged);
    returns (weights, tokenizer, tune meta)."""
    run = Run(run_dir)
    meta = run.json("tune", "tune_meta.json")
    init = meta["index_init"]  # how the rows were started
    codes = titles = None
    if init == "semantic":  # from what the tune stage read: the tasks stage's context
        ctx = run.context
        codes = ctx.codes()
        titles = [ctx.items[str(i)].get("title") or "" for i in range(ctx.n_items)]
    tok0, base = load_causal_lm(meta["base_model"], cache_dir, seed=meta["seed"])
    init_index_rows(tok0, base, init, run.levels, run.codebook_size, meta["train_seed"], codes, titles)
    before = base.get_input_embeddings().weight.detach().float().numpy().copy()
    del base
    tok, tuned = load_tuned(run_dir, cache_dir)
    after = tuned.get_input_embeddings().weight.detach().float().numpy().copy()
    del tuned
    return {"before tuning": before, "after tuning": after}, tok, meta
