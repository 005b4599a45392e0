"""The ``embed`` stage: item text -> one vector per item (``embed/items.npy``).

As in LC-Rec's code, each text field of an item (title, description; for ML-100K
title, year, genres) is embedded on its own, mean-pooled over the attention mask,
and the fields' vectors are averaged. A field that is empty for an item is left out
of that item's average. Any Hugging Face encoder or decoder works; the offline
defaults are all-MiniLM-L6-v2 (``minilm``) and SmolLM2 itself (``smollm2``), the
paper's choice of embedding items with the LLM that will be tuned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer

from lcrec_mini.baselines.sasrec import sasrec_cases, train_sasrec
from lcrec_mini.core.config import Config
from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.core.models import hub_error_hint, resolve_model
from lcrec_mini.core.runtime import pick_device
from lcrec_mini.core.stage import StageResult, read_json, run_stage, write_json
from lcrec_mini.data.splits import train_part
from lcrec_mini.data.stage import load_dataset

OUTPUTS = ("items.npy", "meta.json")


def field_text(item: dict[str, Any], field: str) -> str:
    v = item.get(field, "")
    if isinstance(v, list):
        v = ", ".join(str(x) for x in v)
    return str(v or "").strip()


def load_encoder(name: str, cache_dir: str, device: str):
    """Tokenizer and base model (no LM head) in eval mode, float32 on CPU."""
    path = resolve_model(name, cache_dir)
    try:
        tok = AutoTokenizer.from_pretrained(path)
        dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        model = AutoModel.from_pretrained(path, dtype=dtype)
    except OSError as e:
        raise hub_error_hint(name, e) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "right"
    return tok, model.to(device).eval()


def mean_pool(hidden, mask):
    """``hidden`` [B, T, d], ``mask`` [B, T] -> [B, d]: the mean of unmasked positions."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1)


def encode_texts(
    texts: list[str],
    tok,
    model,
    batch_size: int = 64,
    max_length: int = 128,
    desc: str = "embed",
) -> np.ndarray:
    """Mean-pooled embeddings [len(texts), d] (float32), batched by length for speed."""
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    out: np.ndarray | None = None
    device = next(model.parameters()).device
    with torch.inference_mode():
        for s in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", mininterval=1.0):
            idx = order[s : s + batch_size]
            batch = tok(
                [texts[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
            ).to(device)
            hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
            vec = mean_pool(hidden.float(), batch["attention_mask"]).cpu().numpy()
            if out is None:
                out = np.zeros((len(texts), vec.shape[1]), dtype=np.float32)
            out[idx] = vec
    assert out is not None
    return out


def embed_items(items: dict[str, dict], fields: list[str], tok, model, batch_size: int, max_length: int) -> np.ndarray:
    """[N, d]: per-field mean-pooled embeddings averaged over the item's non-empty fields."""
    n = len(items)
    total: np.ndarray | None = None
    count = np.zeros((n, 1), dtype=np.float32)
    for f in fields:
        texts = [field_text(items[str(i)], f) for i in range(n)]
        present = [i for i, t in enumerate(texts) if t]
        if not present:
            continue
        vec = encode_texts([texts[i] for i in present], tok, model, batch_size, max_length, desc=f"embed {f}")
        if total is None:
            total = np.zeros((n, vec.shape[1]), dtype=np.float32)
        total[present] += vec
        count[present] += 1
    if total is None or (count == 0).any():
        missing = int((count == 0).sum())
        raise DataError(f"{missing} items have no text in any of the fields {fields}")
    return (total / count).astype(np.float32)


#: largest catalogue for the dense co-occurrence SVD (10,000 items: 800 MB in float64)
CF_MAX_ITEMS = 10_000


def check_cf_dims(dims: int, n_items: int, source: str = "cooccurrence") -> None:
    """``embed.cf_dims`` against the catalogue: fewer dimensions than items, and for the
    co-occurrence source a catalogue small enough for its dense matrix."""
    if dims >= n_items:
        raise ConfigError(f"embed.cf_dims = {dims}: expected fewer than the {n_items} items")
    if dims and source == "cooccurrence" and n_items > CF_MAX_ITEMS:
        raise ConfigError(f"embed.cf_dims = {dims} with {n_items:,} items: the co-occurrence matrix is "
                          f"dense here (at most {CF_MAX_ITEMS:,} items); expected embed.cf_source = sasrec "
                          f"(no such limit) or embed.cf_dims = 0 for this catalogue")


def cooccurrence_vectors(train_seqs: list[list[int]], n_items: int, dims: int, window: int) -> np.ndarray:
    """[n_items, dims] collaborative item vectors: the top singular vectors (scaled by the
    square root of their singular values) of the symmetric co-occurrence matrix of the
    training sequences (items at most ``window`` positions apart), degree-normalised
    (D^-1/2 A D^-1/2, so popular items do not dominate). Deterministic up to the sign of
    each vector, which is fixed so that its largest entry is positive."""
    check_cf_dims(dims, n_items)
    a = np.zeros((n_items, n_items), dtype=np.float64)
    for s in train_seqs:
        s = np.asarray(s, dtype=np.int64)
        for k in range(1, window + 1):
            if len(s) > k:
                np.add.at(a, (s[:-k], s[k:]), 1.0)
    a = a + a.T
    d = a.sum(1) + 1.0
    m = a / np.sqrt(d[:, None] * d[None, :])
    u, sv, _ = np.linalg.svd(m, hermitian=True)
    order = np.argsort(-sv)[:dims]
    u, sv = u[:, order], sv[order]
    sign = np.sign(u[np.abs(u).argmax(0), np.arange(dims)])
    return (u * sign * np.sqrt(np.abs(sv))).astype(np.float32)


def sasrec_vectors(train_seqs: list[list[int]], valid: list[tuple[list[int], int]], n_items: int, dims: int,
                   bc, seed: int) -> np.ndarray:
    """[n_items, dims] collaborative item vectors from a trained SASRec: its item embedding
    table (trained on the training part of the sequences, early-stopped on the validation
    items, as the baseline is), centred and projected on its top ``dims`` principal
    directions (sign fixed as in :func:`cooccurrence_vectors`). The idea of giving the
    tokenizer a sequential recommender's item embeddings is LETTER's (Wang et al., CIKM 2024)."""
    if dims > bc.sasrec_hidden:
        raise ConfigError(f"embed.cf_dims = {dims} with embed.cf_source = 'sasrec': expected at most "
                          f"baselines.sasrec_hidden = {bc.sasrec_hidden} (SASRec's embedding width)")
    model, _ = train_sasrec(train_seqs, valid, n_items, bc, seed)
    with torch.no_grad():
        e = model.item.weight[1:].double().numpy()
    e = e - e.mean(0, keepdims=True)
    _, _, vt = np.linalg.svd(e, full_matrices=False)
    p = e @ vt[:dims].T
    sign = np.sign(p[np.abs(p).argmax(0), np.arange(dims)])
    return (p * sign).astype(np.float32)


def with_cf(text: np.ndarray, cf: np.ndarray, weight: float) -> np.ndarray:
    """[text / |text| , weight * cf / |cf|] per item (an item without co-occurrence keeps a zero cf part)."""
    t = text / np.maximum(np.linalg.norm(text, axis=1, keepdims=True), 1e-12)
    c = cf / np.maximum(np.linalg.norm(cf, axis=1, keepdims=True), 1e-12)
    return np.concatenate([t, weight * c], axis=1).astype(np.float32)


def resolve_fields(cfg_fields: list[str], stats: dict[str, Any]) -> list[str]:
    if cfg_fields:
        return list(cfg_fields)
    return list(stats.get("text_fields") or ["title", "description"])


def run_embed(cfg: Config, run_dir: str | Path, force: bool = False, log: Callable[[str], None] = print) -> StageResult:
    ec = cfg.embed

    def build(out: Path) -> None:
        torch.manual_seed(cfg.seed)
        ds = load_dataset(run_dir)
        fields = resolve_fields(ec.fields, ds.stats)
        unknown = [f for f in fields if not any(f in it for it in ds.items.values())]
        if unknown:
            raise ConfigError(
                f"embed.fields {unknown} appear in no item of {Path(run_dir) / 'data' / 'items.json'}; "
                f"item fields are {sorted(next(iter(ds.items.values())))}"
            )
        check_cf_dims(ec.cf_dims, ds.n_items, ec.cf_source)  # before the encoder runs
        device = pick_device(ec.device)
        log(f"[embed] {ds.n_items} items, fields {fields}, model {ec.model} on {device}")
        tok, model = load_encoder(ec.model, cfg.data.cache_dir, device)
        vecs = embed_items(ds.items, fields, tok, model, ec.batch_size, ec.max_length)
        if not np.isfinite(vecs).all():
            raise DataError(f"model {ec.model} produced non-finite embeddings")
        text_dim = int(vecs.shape[1])
        if ec.cf_dims:
            train_seqs = [train_part(s) for s in ds.sequences.values()]
            if ec.cf_source == "sasrec":
                _, valid = sasrec_cases(list(ds.sequences.values()), cfg.baselines.max_len)
                cf = sasrec_vectors(train_seqs, valid, ds.n_items, ec.cf_dims, cfg.baselines, cfg.seed)
                how = "a SASRec's item embeddings (baselines.sasrec_*), principal directions"
            else:
                cf = cooccurrence_vectors(train_seqs, ds.n_items, ec.cf_dims, ec.cf_window)
                how = f"co-occurrence within {ec.cf_window} positions of the training sequences"
            vecs = with_cf(vecs, cf, ec.cf_weight)
            log(f"[embed] + {ec.cf_dims} collaborative dimensions ({how}, weight {ec.cf_weight})")
        np.save(out / "items.npy", vecs)
        write_json(
            out / "meta.json",
            {
                "model": ec.model,
                "fields": fields,
                "pooling": "mean over attention mask, per field; fields averaged",
                "n_items": int(vecs.shape[0]),
                "dim": int(vecs.shape[1]),
                "dtype": "float32",
                "max_length": ec.max_length,
                "text_dim": text_dim,
                "cf_dims": ec.cf_dims,
                "cf_weight": ec.cf_weight,
                "cf_window": ec.cf_window,
                "cf_source": ec.cf_source,
            },
        )

    stats = Path(run_dir) / "data" / "stats.json"
    if stats.exists():  # the item count is known: refuse an index that cannot hold it before embedding
        cfg.index.check_capacity(int(read_json(stats)["items"]))
    return run_stage("embed", cfg, run_dir, build, OUTPUTS, force=force, log=log)


def load_embeddings(run_dir: str | Path, n_items: int | None = None) -> np.ndarray:
    """``embed/items.npy`` checked: 2-D, finite, one row per item of ``data/items.json``."""
    path = Path(run_dir) / "embed" / "items.npy"
    if not path.exists():
        raise DataError(f"{path}: not found; run `lcrec-mini embed --run-dir {run_dir}` first")
    try:
        x = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise DataError(f"{path}: not a valid .npy array ({e})") from None
    check_embeddings(x, str(path), n_items)
    return x


def text_embeddings(run_dir: str | Path, n_items: int | None = None) -> np.ndarray:
    """The text part of ``embed/items.npy``: without the collaborative dimensions that
    ``embed.cf_dims`` appends (what "similar by text" means in the analyses)."""
    x = load_embeddings(run_dir, n_items)
    meta_path = Path(run_dir) / "embed" / "meta.json"
    dim = read_json(meta_path).get("text_dim", x.shape[1]) if meta_path.exists() else x.shape[1]
    return x[:, :dim]


def check_embeddings(x: np.ndarray, where: str, n_items: int | None = None) -> None:
    if x.ndim != 2:
        raise DataError(f"{where}: expected a 2-D array [items, dim], got shape {x.shape}")
    if n_items is not None and x.shape[0] != n_items:
        raise DataError(f"{where}: {x.shape[0]} rows, but the catalogue (data/items.json) has {n_items} items; rerun embed")
    bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
    if len(bad):
        raise DataError(f"{where}: {len(bad)} rows hold NaN or infinity (first: row {bad[0]}); rerun embed")
