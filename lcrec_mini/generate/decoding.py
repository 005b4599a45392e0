"""Generation constrained to valid item indices.

A catalogue of N items with L-level indices defines a prefix trie. It is stored as
tensors, built once: for each depth d = 1..L the sorted unique integer keys of all
index prefixes of length d (a prefix (c_1..c_d) is the mixed-radix number
c_1 K^(d-1) + ... + c_d). At step d a beam with prefix key p may continue with code
c exactly when p*K + c is among the keys of depth d+1: one ``searchsorted`` over a
[beams, K] grid, no Python loop over beams or items. Memory: at most N int64 keys per
depth.

Two ways to use it:

- :class:`TrieLogitsProcessor` for ``model.generate`` (any decoding strategy);
  ``mode="level"`` reproduces the reference code, which only restricts each position to
  that level's tokens (beams may then name items that do not exist);
- :func:`beam_search`, specialised to fixed-length indices: the prompt is encoded once
  per user, its KV cache copied to the beams (``generate`` encodes the prompt once per
  beam), then L constrained steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lcrec_mini.core.errors import DataError


@dataclass
class IndexTrie:
    """Valid index prefixes as sorted key tensors, plus the token id of every code."""

    levels: int
    codebook_size: int
    keys: list[torch.Tensor]  # depth d (1..L) -> sorted unique prefix keys, int64
    token_ids: torch.Tensor  # [L, K]: token id of code c at level l

    @classmethod
    def build(cls, codes: np.ndarray, token_ids: torch.Tensor | np.ndarray, codebook_size: int) -> "IndexTrie":
        codes = np.asarray(codes, dtype=np.int64)
        n, levels = codes.shape
        if len(np.unique(codes, axis=0)) != n:
            dup = n - len(np.unique(codes, axis=0))
            raise DataError(f"the catalogue has {dup} duplicated indices; every item needs its own index")
        keys, key = [], np.zeros(n, dtype=np.int64)
        for d in range(levels):
            key = key * codebook_size + codes[:, d]
            keys.append(torch.from_numpy(np.unique(key)))
        tid = torch.as_tensor(token_ids, dtype=torch.long)
        if tid.shape != (levels, codebook_size) or not (tid == tid[:, :1] + torch.arange(codebook_size)).all():
            raise DataError(f"index token ids must be [levels={levels}, K={codebook_size}], contiguous per level")
        return cls(levels, codebook_size, keys, tid)

    def nbytes(self) -> int:
        return sum(k.numel() * k.element_size() for k in self.keys) + self.token_ids.numel() * 8

    def allowed(self, prefix_keys: torch.Tensor, depth: int) -> torch.Tensor:
        """[B] prefix keys of length ``depth`` -> [B, K] bool: which codes may follow."""
        k = self.codebook_size
        cand = prefix_keys[:, None] * k + torch.arange(k, device=prefix_keys.device)[None, :]
        table = self.keys[depth].to(prefix_keys.device)
        pos = torch.searchsorted(table, cand).clamp(max=len(table) - 1)
        return table[pos] == cand

    def codes_of(self, token_ids: torch.Tensor) -> torch.Tensor:
        """[B, d] generated index tokens -> [B, d] codes (-1 where a token is not the level's)."""
        d = token_ids.shape[1]
        base = self.token_ids[:d, 0].to(token_ids.device)  # each level's ids are contiguous (checked in build)
        codes = token_ids - base[None, :]
        ok = (codes >= 0) & (codes < self.codebook_size)
        return torch.where(ok, codes, torch.full_like(codes, -1))

    def prefix_keys(self, codes: torch.Tensor) -> torch.Tensor:
        key = torch.zeros(codes.shape[0], dtype=torch.long, device=codes.device)
        for d in range(codes.shape[1]):
            key = key * self.codebook_size + codes[:, d]
        return key

    def contains(self, codes: torch.Tensor) -> torch.Tensor:
        """[B, L] full codes -> [B] bool: is it an item of the catalogue?"""
        if (codes < 0).any():
            valid = (codes >= 0).all(1)
        else:
            valid = torch.ones(codes.shape[0], dtype=torch.bool, device=codes.device)
        key = self.prefix_keys(codes.clamp(min=0))
        table = self.keys[-1].to(codes.device)
        pos = torch.searchsorted(table, key).clamp(max=len(table) - 1)
        return valid & (table[pos] == key)


def exclusion_keys(item_keys: torch.Tensor, histories) -> torch.Tensor:
    """[U, M] full index keys of each prompt's items, -1 as padding: ``beam_search``'s
    ``exclude``. ``item_keys``: [N] every item's full key (:meth:`IndexTrie.prefix_keys` of
    the catalogue's codes, computed once); ``histories``: item ids per prompt."""
    out = torch.full((len(histories), max(1, max((len(h) for h in histories), default=0))), -1, dtype=torch.long)
    for i, items in enumerate(histories):
        out[i, : len(items)] = item_keys[list(items)]
    return out


def contiguous_token_ids(first_id: int, levels: int, k: int) -> torch.Tensor:
    """Token ids when the index tokens were added level-major in one block."""
    return torch.arange(first_id, first_id + levels * k).view(levels, k)


class TrieLogitsProcessor:
    """Masks every token that would leave the trie (``mode="trie"``) or the level's
    token set (``mode="level"``, the reference behaviour). Tensor operations only."""

    def __init__(self, trie: IndexTrie, prompt_length: int, mode: str = "trie"):
        if mode not in ("trie", "level"):
            raise ValueError(f"mode must be trie or level, got {mode!r}")
        self.trie, self.prompt_length, self.mode = trie, prompt_length, mode

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        depth = input_ids.shape[1] - self.prompt_length
        out = torch.full_like(scores, float("-inf"))
        if depth >= self.trie.levels:
            return out
        tok = self.trie.token_ids[depth].to(scores.device)
        cand = scores[:, tok]
        if self.mode == "trie":
            if depth == 0:
                prefix = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
            else:
                codes = self.trie.codes_of(input_ids[:, self.prompt_length :])
                prefix = self.trie.prefix_keys(codes.clamp(min=0))
            ok = self.trie.allowed(prefix, depth)
            cand = torch.where(ok, cand, torch.full_like(cand, float("-inf")))
        out[:, tok] = cand
        return out


@dataclass
class BeamResult:
    codes: torch.Tensor  # [U, beams, L] (-1 for empty beams)
    scores: torch.Tensor  # [U, beams] summed log-probabilities


@torch.inference_mode()
def beam_search(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, trie: IndexTrie, beams: int = 20,
                trace: list[BeamResult] | None = None, softmax: str = "vocabulary",
                exclude: torch.Tensor | None = None) -> BeamResult:
    """Top-``beams`` catalogue items per prompt by beam search over the index trie.

    ``input_ids``/``attention_mask``: [U, T], left-padded prompts. ``trace``, when given,
    receives the beams kept after each level (prefix codes and scores), for a picture of
    the search. ``softmax``: each step's log-probabilities over the whole vocabulary
    (``vocabulary``) or over the index tokens of every level (``index``, the
    normalisation ``tune.index_softmax`` trains with). ``exclude``: [U, M] full index keys
    (:meth:`IndexTrie.prefix_keys` of the items' codes, -1 as padding) that prompt ``u``'s
    beams may not end on, e.g. the items its history names (``eval.exclude_history``).
    """
    if softmax not in ("vocabulary", "index"):
        raise ValueError(f"softmax = {softmax!r}; expected 'vocabulary' or 'index'")
    u = input_ids.shape[0]
    k, levels = trie.codebook_size, trie.levels
    device = input_ids.device
    position_ids = (attention_mask.cumsum(1) - 1).clamp(min=0)
    out = model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, use_cache=True, logits_to_keep=1)
    cache = out.past_key_values
    tok = trie.token_ids.to(device)
    over = tok.reshape(-1).sort().values if softmax == "index" else None  # the rows normalised over

    def level_logp(logits: torch.Tensor, depth: int) -> torch.Tensor:
        """log p of level ``depth``'s K tokens at each row of ``logits`` [N, V]."""
        if over is None:
            return torch.log_softmax(logits.float(), -1)[:, tok[depth]]
        return torch.log_softmax(logits[:, over].float(), -1)[:, torch.searchsorted(over, tok[depth])]

    def banned(prefix: torch.Tensor, depth: int, per_row: int) -> torch.Tensor:
        """[R, K]: which codes would end a row's beam on an item its prompt excludes (rows are
        prompt-major, ``per_row`` beams per prompt); only the last level ends an item."""
        if exclude is None or depth != levels - 1:
            return torch.zeros(prefix.shape[0], k, dtype=torch.bool, device=device)
        full = prefix[:, None] * k + torch.arange(k, device=device)[None, :]  # [R, K] item keys
        ex = exclude.to(device).repeat_interleave(per_row, 0)  # [R, M]
        return (full[:, :, None] == ex[:, None, :]).any(-1)

    zero = torch.zeros(u, dtype=torch.long, device=device)
    step = level_logp(out.logits[:, -1], 0)  # [U, K]
    ok = trie.allowed(zero, 0) & ~banned(zero, 0, 1)
    step = torch.where(ok, step, torch.full_like(step, float("-inf")))
    width = min(beams, k)
    scores, code0 = step.topk(width, dim=1)  # [U, W]
    codes = code0.unsqueeze(-1)  # [U, W, 1]
    if trace is not None:
        trace.append(BeamResult(codes.clone(), scores.clone()))
    # every beam starts from its user's prompt: copy the cache rows, not the computation
    cache.batch_repeat_interleave(width)
    mask = attention_mask.repeat_interleave(width, 0)
    pos = position_ids[:, -1:].repeat_interleave(width, 0)
    last = tok[0][code0].reshape(-1, 1)
    for depth in range(1, levels):
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
        pos = pos + 1
        out = model(input_ids=last, attention_mask=mask, position_ids=pos, past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        logp = level_logp(out.logits[:, -1], depth)  # [U*W, K]
        prefix = trie.prefix_keys(codes.reshape(u * codes.shape[1], -1).clamp(min=0))
        ok = trie.allowed(prefix, depth) & ~banned(prefix, depth, codes.shape[1]) & torch.isfinite(scores.reshape(-1, 1))
        total = scores.reshape(-1, 1) + torch.where(ok, logp, torch.full_like(logp, float("-inf")))
        w_prev = codes.shape[1]
        new_width = min(beams, w_prev * k)
        scores, flat = total.view(u, w_prev * k).topk(new_width, dim=1)
        beam_idx, code = flat // k, flat % k
        codes = torch.cat([codes.gather(1, beam_idx.unsqueeze(-1).expand(-1, -1, codes.shape[2])), code.unsqueeze(-1)], 2)
        rows = (beam_idx + torch.arange(u, device=device)[:, None] * w_prev).reshape(-1)
        cache.reorder_cache(rows)
        mask, pos = mask[rows], pos[rows]
        last = tok[depth][code].reshape(-1, 1)
        if trace is not None:
            trace.append(BeamResult(codes.clone(), scores.clone()))
    codes = torch.where(torch.isfinite(scores).unsqueeze(-1), codes, torch.full_like(codes, -1))
    return BeamResult(codes, scores)
