"""The tuning objective: which tokens are scored, and against which rows.

LC-Rec's loss is the causal LM loss on the response tokens only. Two levers change
what one forward pass buys (each a config key; both off is LC-Rec's setting):

- **All-position targets** (``tasks.seqrec_format = "window"``): a seqrec example is a
  window of a user's training sequence, and the loss is taken on the index tokens of
  *every* history item as well as the response. In one causal pass, item ``j`` of the
  history is predicted from the instruction and items ``1..j-1``: ~21 next-item
  targets per example instead of one. :func:`label_history` sets those labels.
- **Index-only softmax** (``tune.index_softmax``): a position whose target is an index
  token is scored against the index-token rows alone (96 rows on the cpu preset)
  instead of the whole 49k-word vocabulary: the constrained decoder can only emit
  index tokens anyway, and the vocabulary projection is most of the output cost.
  Text targets (index2item, preferences) keep the full vocabulary.
  With ``z`` the final hidden state and ``E`` the output rows,

      log p(y | z) = z.E_y - log sum_{v in index tokens} exp(z.E_v)

Both go through the model's own ``forward`` (the final hidden states are read by a
hook on the decoder's last norm), so DDP wrappers see an ordinary step.
"""

from __future__ import annotations

from typing import Any

import torch

from lcrec_mini.core.errors import ConfigError, DataError


def label_history(input_ids: list[int], labels: list[int], history_ids: list[int], index_ids: set[int]) -> list[int]:
    """``labels`` with the history items' index tokens of the prompt made targets.

    The history is the last run of index tokens before the response (the system turn,
    which may name an example index, comes first), so the last ``len(history_ids)``
    index tokens of the prompt must be exactly the history's tokens; a prompt cut at
    its start keeps the labels of the items that survive.
    """
    prompt_end = next((i for i, y in enumerate(labels) if y != -100), len(labels))
    pos = [i for i in range(prompt_end) if input_ids[i] in index_ids]
    k = min(len(pos), len(history_ids))
    pos = pos[len(pos) - k :]
    want = history_ids[len(history_ids) - k :]
    if [input_ids[i] for i in pos] != want:
        raise DataError("the prompt's index tokens do not match the example's history; "
                        "was the history rendered with another index?")
    out = list(labels)
    for i in pos:
        out[i] = input_ids[i]
    return out


def unwrap(model):
    """The model inside DDP / DeepSpeed wrappers (peft's PeftModel is kept)."""
    while hasattr(model, "module") and type(model).__name__ in ("DistributedDataParallel", "DeepSpeedEngine"):
        model = model.module
    return model


def final_norm(model) -> torch.nn.Module:
    """The decoder's last norm, whose output feeds the LM head."""
    m = unwrap(model)
    base = m.get_base_model() if hasattr(m, "get_base_model") else m
    norm = getattr(getattr(base, "model", None), "norm", None)
    if norm is None:
        raise ConfigError(f"tune.index_softmax needs a decoder with a final norm at .model.norm; "
                          f"{type(base).__name__} has none (set tune.index_softmax=false)")
    return norm


def index_rows(model, lo: int, hi: int) -> torch.Tensor:
    """The output-embedding rows of tokens ``lo..hi`` as the model uses them now
    (with peft's trainable-token deltas when the rows are trained through them)."""
    out = unwrap(model).get_output_embeddings()
    layer = getattr(out, "token_adapter", None)
    if layer is not None and not layer.merged and layer.active_adapters:
        name = layer.active_adapters[0]
        if list(layer.token_indices[name]) == list(range(lo, hi + 1)):
            return layer.trainable_tokens_delta[name]
        return layer.get_merged_weights(layer.active_adapters)[lo : hi + 1]
    weight = layer.base_layer.weight if layer is not None else out.weight
    if weight.numel() == 0 or weight.shape[0] <= hi:
        raise ConfigError("tune.index_softmax reads the index rows outside the model's forward, but they are "
                          "partitioned (DeepSpeed ZeRO-3); set tune.index_softmax=false or use ZeRO-2")
    return weight[lo : hi + 1]


def lm_loss(
    model, inputs: dict[str, torch.Tensor], num_items: Any = None, index_range: tuple[int, int] | None = None
) -> torch.Tensor:
    """Summed cross-entropy over every labelled token / ``num_items``.

    Rows are left-padded; text targets sit in the responses at the end, so logits over
    the vocabulary are computed only for the last positions that hold one
    (``logits_to_keep``). With ``index_range = (lo, hi)`` the index-token targets are
    scored against rows ``lo..hi`` only, from the final hidden states; without it every
    target uses the full vocabulary (then only response labels are expected).
    """
    labels, mask = inputs["labels"], inputs["attention_mask"]
    T = labels.shape[1]
    position_ids = (mask.cumsum(1) - 1).clamp(min=0)
    tgt = labels[:, 1:]  # the token that position t predicts is labels[t + 1]
    scored = tgt != -100
    is_idx = scored & (tgt >= index_range[0]) & (tgt <= index_range[1]) if index_range else torch.zeros_like(scored)
    is_txt = scored & ~is_idx
    captured: dict[str, torch.Tensor] = {}
    hook = None
    if index_range:
        # the final hidden states of every position; the LM head is then applied to the
        # positions that need it only (text targets anywhere in the batch), so a mixed
        # batch pays the vocabulary projection for its text tokens alone
        keep = 1
        hook = final_norm(model).register_forward_hook(lambda _m, _i, o: captured.__setitem__("h", o))
    else:
        cols = is_txt.any(0).nonzero()
        keep = T - int(cols[0]) if len(cols) else 1  # logits from the first text-predicting position
    try:
        out = model(input_ids=inputs["input_ids"], attention_mask=mask, position_ids=position_ids, logits_to_keep=keep)
    finally:
        if hook is not None:
            hook.remove()
    loss = out.logits.new_zeros((), dtype=torch.float32)
    if index_range:
        lo, hi = index_range
        h = captured["h"][:, :-1]
        if bool(is_idx.any()):
            with torch.autocast(h.device.type, enabled=False):  # 96 rows: scored in fp32 under bf16 autocast too
                logits = h[is_idx].float() @ index_rows(model, lo, hi).float().t()
            loss = loss + torch.nn.functional.cross_entropy(logits, tgt[is_idx] - lo, reduction="sum")
        if bool(is_txt.any()):
            logits = unwrap(model).get_output_embeddings()(h[is_txt]).float()
            loss = loss + torch.nn.functional.cross_entropy(logits, tgt[is_txt], reduction="sum")
    elif bool(is_txt.any()):
        logits = out.logits[:, :-1].float()
        t, sel = tgt[:, T - keep :], is_txt[:, T - keep :]
        loss = loss + torch.nn.functional.cross_entropy(logits[sel], t[sel], reduction="sum")
    denom = num_items if num_items is not None else scored.sum().clamp(min=1)
    if isinstance(denom, torch.Tensor):
        denom = denom.to(loss.device)
    return loss / denom
