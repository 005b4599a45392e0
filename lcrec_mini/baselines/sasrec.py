"""SASRec (Kang & McAuley, ICDM 2018), our implementation: item and position
embeddings, causal self-attention blocks, next-item prediction at every position with a
full softmax over the catalogue, early-stopped on validation NDCG@10. Each epoch trains
on one window of ``max_len`` + 1 items per user ending at a random position
(``sasrec_windows = "random"``, redrawn every epoch), on each user's most recent
``max_len`` + 1 training items (``"last"``, as the SASRec paper), or on windows tiling
every training sequence (``"all"``).

The ``baselines`` stage ranks with it; the ``embed`` stage can take its item table as the
collaborative part of the item vectors (``embed.cf_source=sasrec``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from lcrec_mini.data.splits import test_case, valid_case
from lcrec_mini.generate.metrics import rank_metrics, rank_of


class SASRec(nn.Module):
    def __init__(self, n_items: int, hidden: int, layers: int, heads: int, dropout: float, max_len: int,
                 init_std: float = 0.0):
        super().__init__()
        self.item = nn.Embedding(n_items + 1, hidden, padding_idx=0)  # id 0 = padding, item i -> i + 1
        self.pos = nn.Embedding(max_len, hidden)
        block = nn.TransformerEncoderLayer(hidden, heads, hidden * 4, dropout, batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(hidden)
        self.drop = nn.Dropout(dropout)
        self.max_len = max_len
        # init_std > 0: small initial embeddings (RecBole's SASRec uses 0.02). With PyTorch's
        # default N(0, 1) the tied output logits start at ~8 and the first loss at ~34 nats;
        # small ones start at log(n_items) but need more optimizer steps to sharpen
        if init_std > 0:
            for emb in (self.item, self.pos):
                nn.init.normal_(emb.weight, std=init_std)
            with torch.no_grad():
                self.item.weight[0].zero_()

    def forward(self, seq: torch.Tensor) -> torch.Tensor:
        """[B, T] item ids + 1 (0 = pad, left-padded) -> [B, T, hidden]."""
        t = seq.shape[1]
        h = self.drop(self.item(seq) + self.pos(torch.arange(t, device=seq.device))[None])
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool, device=seq.device), 1)
        h = self.blocks(h, mask=causal, src_key_padding_mask=seq == 0)
        return self.norm(h)

    def logits(self, h: torch.Tensor) -> torch.Tensor:
        return h @ self.item.weight[1:].t()  # tied output embeddings, over real items


def _pad_left(seqs: list[list[int]], n: int) -> torch.Tensor:
    out = torch.zeros(len(seqs), n, dtype=torch.long)
    for i, s in enumerate(seqs):
        s = s[-n:]
        if s:
            out[i, n - len(s) :] = torch.tensor(s) + 1
    return out


def sasrec_rank(model: SASRec, histories: list[list[int]], k: int = 20, batch: int = 256,
                exclude_history: bool = False) -> list[list[int]]:
    """The top ``k`` items for each history (its last ``max_len`` items are the input);
    ``exclude_history``: never an item of that input."""
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(histories), batch):
            x = _pad_left(histories[s : s + batch], model.max_len)
            scores = model.logits(model(x)[:, -1])
            if exclude_history:  # x holds item id + 1 (0 = pad): drop column 0 of the seen-mask
                seen = torch.zeros(x.shape[0], scores.shape[1] + 1, dtype=torch.bool).scatter_(1, x, True)
                scores = scores.masked_fill(seen[:, 1:], float("-inf"))
            out += scores.topk(min(k, scores.shape[1]), dim=1).indices.tolist()
    return out


def train_sasrec(
    train_seqs: list[list[int]],
    valid: list[tuple[list[int], int]],
    n_items: int,
    bc,
    seed: int,
    exclude_history: bool = False,
) -> tuple[SASRec, list[dict[str, Any]]]:
    """SASRec trained on ``train_seqs``, early-stopped on validation NDCG@10 (ranked with
    ``exclude_history`` as the test will be); (model, one row per validation)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = SASRec(n_items, bc.sasrec_hidden, bc.sasrec_layers, bc.sasrec_heads, bc.sasrec_dropout, bc.max_len, bc.sasrec_init_std)
    opt = torch.optim.Adam(model.parameters(), lr=bc.sasrec_lr)
    rng = np.random.default_rng(seed)

    def epoch_windows() -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of max_len + 1 item windows: predict items 2..T+1 from 1..T."""
        windows = []
        for s in train_seqs:
            if len(s) < 2:
                continue
            if bc.sasrec_windows == "random":  # one window per user, ending anywhere
                end = int(rng.integers(2, len(s) + 1)) if len(s) > bc.max_len + 1 else len(s)
                windows.append(s[max(0, end - bc.max_len - 1) : end])
                continue
            for end in range(len(s), 1, -bc.max_len):
                windows.append(s[max(0, end - bc.max_len - 1) : end])
                if bc.sasrec_windows == "last":
                    break
        return _pad_left([w[:-1] for w in windows], bc.max_len), _pad_left([w[1:] for w in windows], bc.max_len) - 1

    x_all, y_all = epoch_windows()
    history, best, best_state, bad = [], -1.0, None, 0
    for epoch in tqdm(range(bc.sasrec_epochs), desc="SASRec", unit="epoch", mininterval=1.0):
        model.train()
        if bc.sasrec_windows == "random" and epoch > 0:
            x_all, y_all = epoch_windows()
        perm = torch.randperm(len(x_all), generator=g)
        total = 0.0
        for s in range(0, len(perm), bc.sasrec_batch):
            idx = perm[s : s + bc.sasrec_batch]
            logits = model.logits(model(x_all[idx]))
            loss = nn.functional.cross_entropy(logits.reshape(-1, n_items), y_all[idx].reshape(-1), ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        if (epoch + 1) % max(1, bc.sasrec_eval_every) and epoch + 1 < bc.sasrec_epochs:
            continue
        ranked = sasrec_rank(model, [h for h, _ in valid], exclude_history=exclude_history)
        ndcg = rank_metrics([rank_of(t, r) for (_, t), r in zip(valid, ranked)])["ndcg@10"]
        history.append({"epoch": epoch + 1, "loss": round(total / len(x_all), 5), "valid_ndcg@10": round(ndcg, 5)})
        if ndcg > best:
            best, bad = ndcg, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= bc.sasrec_patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return model, history


def sasrec_cases(seqs: list[list[int]], max_len: int) -> tuple[list[tuple[list[int], int]], list[tuple[list[int], int]]]:
    """(test, valid) cases of the leave-one-out split, histories cut to SASRec's ``max_len``."""
    test = [(h[-max_len:], t) for h, t in map(test_case, seqs)]
    valid = [(h[-max_len:], t) for h, t in map(valid_case, seqs)]
    return test, valid
