"""The tuning objective: all-position labels, the index-only softmax, semantic index rows."""

import numpy as np
import pytest
import torch

from lcrec_mini.index.tokens import index_vocabulary
from lcrec_mini.tasks.context import TaskContext
from lcrec_mini.tune.llm import add_index_tokens, load_causal_lm, match_spread, semantic_index_rows
from lcrec_mini.tune.objective import lm_loss
from lcrec_mini.tune.stage import TaskDataset, collate, encode_example

L, K = 3, 16


@pytest.fixture(scope="module")
def tiny():
    tok, model = load_causal_lm("tiny", seed=1)
    ids = add_index_tokens(tok, model, index_vocabulary(L, K))
    return tok, model, ids


def catalogue(n=40, seed=0):
    rng = np.random.default_rng(seed)
    flat = rng.choice(K**L, n, replace=False)
    return np.stack([(flat // K ** (L - 1 - l)) % K for l in range(L)], 1)


def window_dataset(tok, ids, codes, examples, system=None, separator=", "):
    items = {str(i): {"title": f"Film {i}", "description": ""} for i in range(len(codes))}
    ctx = TaskContext.from_codes(items, codes, separator=separator)
    item_tokens = [[ids[l * K + int(c)] for l, c in enumerate(row)] for row in codes]
    return TaskDataset(examples, ctx, tok, 256, "<|im_end|>", 0, 1, system, item_tokens), item_tokens


def test_all_position_labels_are_exactly_the_history_and_response_index_tokens(tiny):
    from lcrec_mini.tasks.base import SYSTEM

    tok, _, ids = tiny
    codes = catalogue()
    hist, target = [3, 17, 5, 30], 8
    ex = {"task": "seqrec", "variant": "", "user": 0, "item": target, "history": hist, "targets": "all", "template": 0}
    lengths = {}
    # the system turn names an example index: never a target; indices back to back (no
    # separator) are labelled alike, and each item costs one token less
    for system, sep in ((None, ", "), (SYSTEM, ", "), (None, "")):
        ds, item_tokens = window_dataset(tok, ids, codes, [ex], system, sep)
        enc = ds[0]
        lengths[system, sep] = len(enc["input_ids"])
        want = [t for i in hist + [target] for t in item_tokens[i]]
        got = [y for y in enc["labels"] if y != -100]
        assert got == want  # every history item and the response, in order; no prompt text, no end-of-turn
        pos = [i for i, y in enumerate(enc["labels"]) if y != -100]
        assert all(enc["input_ids"][i] == enc["labels"][i] for i in pos)
        assert "<|im_end|>" not in tok.convert_ids_to_tokens([enc["labels"][i] for i in pos])
    assert lengths[None, ", "] - lengths[None, ""] == len(hist) - 1  # the "," between two items
    # padding carries no label
    short = dict(ex, history=[3], template=1)
    ds, _ = window_dataset(tok, ids, codes, [ex, short])
    batch = collate(tok.pad_token_id)([ds[0], ds[1]])
    assert ((batch["attention_mask"] == 0) & (batch["labels"] != -100)).sum() == 0
    # a prefix example (LC-Rec's format) still scores its response only
    plain = {k: v for k, v in ex.items() if k != "targets"}
    ds, item_tokens = window_dataset(tok, ids, codes, [plain])
    assert [y for y in ds[0]["labels"] if y != -100][:L] == item_tokens[target]


def test_index_only_loss_equals_the_full_loss_restricted_to_the_index_rows(tiny):
    tok, model, ids = tiny
    codes = catalogue()
    lo, hi = ids[0], ids[-1]
    exs = [{"task": "seqrec", "variant": "", "user": 0, "item": 8, "history": [3, 17, 5], "targets": "all", "template": 2}]
    ds, _ = window_dataset(tok, ids, codes, exs)
    text = encode_example(tok, "What is the title of <a_0><b_1><c_2>?", "Toy Story", 256, "<|im_end|>")
    inputs = collate(tok.pad_token_id)([ds[0], text])
    with torch.no_grad():
        fast = lm_loss(model, inputs, index_range=(lo, hi))
        # reference: full logits everywhere; index targets scored over the index columns only
        position_ids = (inputs["attention_mask"].cumsum(1) - 1).clamp(min=0)
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"], position_ids=position_ids).logits[:, :-1]
    tgt = inputs["labels"][:, 1:]
    total, n = 0.0, 0
    for b in range(tgt.shape[0]):
        for t in range(tgt.shape[1]):
            y = int(tgt[b, t])
            if y == -100:
                continue
            row = logits[b, t]
            if lo <= y <= hi:
                total -= torch.log_softmax(row[lo : hi + 1], 0)[y - lo].item()
            else:
                total -= torch.log_softmax(row, 0)[y].item()
            n += 1
    assert n > 12 and float(fast) == pytest.approx(total / n, rel=1e-4)
    # and with the full vocabulary the same function gives the plain loss
    with torch.no_grad():
        full = lm_loss(model, inputs)
    ref = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=-100)
    assert float(full) == pytest.approx(float(ref), rel=1e-4)


def test_semantic_rows_are_the_residual_means_they_claim():
    torch.manual_seed(0)
    emb = torch.randn(50, 8)
    text_ids = [[1, 2], [3], [4, 5, 6], [7], [8, 9]]
    codes = np.array([[0, 1], [0, 2], [1, 1], [1, 1], [3, 0]])
    rows, used = semantic_index_rows(emb, text_ids, codes, 4)
    t = torch.stack([emb[i].mean(0) for i in text_ids])
    # level 1: the mean of the items' text embeddings under each code
    assert torch.allclose(rows[0], t[[0, 1]].mean(0), atol=1e-6)
    assert torch.allclose(rows[1], t[[2, 3]].mean(0), atol=1e-6)
    assert torch.allclose(rows[3], t[4], atol=1e-6)
    assert used[:4].tolist() == [True, True, False, True] and rows[2].abs().sum() == 0
    # level 2: the mean of what level 1 left over
    resid = t - rows[torch.as_tensor(codes[:, 0])]
    assert torch.allclose(rows[4 + 1], resid[[0, 2, 3]].mean(0), atol=1e-6)
    assert torch.allclose(rows[4 + 2], resid[1], atol=1e-6)
    # spread matched to the words': centred on the vocabulary mean, same RMS radius, same directions
    out = match_spread(rows, used, emb, 2, 4)
    mu = emb.mean(0)
    word_rms = (emb - mu).pow(2).sum(1).mean().sqrt()
    u = used[:4]
    lvl = out[:4][u]
    assert torch.allclose(lvl.mean(0), mu, atol=1e-5)
    assert float((lvl - mu).pow(2).sum(1).mean().sqrt()) == pytest.approx(float(word_rms), rel=1e-5)
    raw = rows[:4][u] - rows[:4][u].mean(0)
    cos = torch.nn.functional.cosine_similarity(lvl - mu, raw, dim=1)
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-5)


def test_a_tiny_all_position_run_learns(tiny):
    """A few steps on window examples with the index-only softmax lower the loss."""
    import copy

    tok, model0, ids = tiny
    model = copy.deepcopy(model0).train()
    codes = catalogue()
    rng = np.random.default_rng(0)
    # sequences that walk the catalogue in a fixed order: learnable transitions
    exs = []
    for u in range(8):
        start = int(rng.integers(30))
        seq = list(range(start, start + 8))
        exs.append({"task": "seqrec", "variant": "", "user": u, "item": seq[-1], "history": seq[:-1], "targets": "all", "template": 0})
    ds, _ = window_dataset(tok, ids, codes, exs)
    inputs = collate(tok.pad_token_id)([ds[i] for i in range(len(exs))])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(25):
        loss = lm_loss(model, inputs, index_range=(ids[0], ids[-1]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses
