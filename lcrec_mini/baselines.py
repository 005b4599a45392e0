"""Baselines on exactly LC-Rec's split and metric code: most-popular and SASRec.

Both rank the whole catalogue for each test user (history = the sequence without its
last item, capped at ``max_len``; target = the last item) and are scored by
:func:`lcrec_mini.evaluation.rank_metrics`, like the LLM. Seen items are not removed
from the ranking, as in LC-Rec's generative evaluation.

SASRec (Kang & McAuley, ICDM 2018), our implementation: item and position
embeddings, causal self-attention blocks, next-item prediction at every position
with a full softmax over the catalogue, early-stopped on validation NDCG@10. Each
epoch trains on one window of ``max_len`` + 1 items per user ending at a random
position (``sasrec_windows = "random"``, redrawn every epoch), on each user's most
recent ``max_len`` + 1 training items (``"last"``, as the SASRec paper), or on windows
tiling every training sequence (``"all"``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .config import Config
from .data.splits import test_case, train_part, valid_case
from .errors import ConfigError
from .metrics import METRIC_KEYS, rank_metrics, rank_of
from .stage import StageResult, read_json, run_stage, write_json, write_timing

OUTPUTS = ("metrics.json", "ranks.json")  # and timing.json (not required: older runs lack it)


def most_popular(train_seqs: list[list[int]], n_items: int, k: int = 20) -> list[int]:
    """The ``k`` items with most training interactions (ties: lower id first)."""
    counts = np.bincount(np.concatenate([np.asarray(s, dtype=np.int64) for s in train_seqs if s]), minlength=n_items)
    return np.lexsort((np.arange(n_items), -counts))[:k].tolist()


def popular_items(ds, n: int) -> list[int]:
    """The ``n`` items of a dataset with the most interactions, all of each user's (ties: lower id)."""
    return most_popular(list(ds.sequences.values()), ds.n_items, n)


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


def sasrec_rank(model: SASRec, histories: list[list[int]], k: int = 20, batch: int = 256) -> list[list[int]]:
    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(histories), batch):
            x = _pad_left(histories[s : s + batch], model.max_len)
            scores = model.logits(model(x)[:, -1])
            out += scores.topk(min(k, scores.shape[1]), dim=1).indices.tolist()
    return out


def train_sasrec(
    train_seqs: list[list[int]],
    valid: list[tuple[list[int], int]],
    n_items: int,
    bc,
    seed: int,
) -> tuple[SASRec, list[dict[str, Any]]]:
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = SASRec(n_items, bc.sasrec_hidden, bc.sasrec_layers, bc.sasrec_heads, bc.sasrec_dropout, bc.max_len, bc.sasrec_init_std)
    opt = torch.optim.Adam(model.parameters(), lr=bc.sasrec_lr)
    if bc.sasrec_windows not in ("random", "last", "all"):
        raise ConfigError(f"baselines.sasrec_windows: {bc.sasrec_windows!r}; expected random, last or all")
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
        ranked = sasrec_rank(model, [h for h, _ in valid])
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


def run_baselines(cfg: Config, run_dir: str | Path, force: bool = False, log: Callable[[str], None] = print) -> StageResult:
    bc = cfg.baselines

    def build(out: Path) -> None:
        from .data import load_dataset

        t0 = time.perf_counter()
        ds = load_dataset(run_dir)
        seqs = [ds.sequences[u] for u in ds.sequences]
        n = ds.n_items
        test, valid = sasrec_cases(seqs, bc.max_len)
        results: dict[str, Any] = {}
        pop = most_popular([test_case(s)[0] for s in seqs], n)
        ranks = {"users": [int(u) for u in ds.sequences], "most_popular": [rank_of(t, pop) for _, t in test]}
        results["most_popular"] = rank_metrics(ranks["most_popular"])
        model, hist = train_sasrec([train_part(s) for s in seqs], valid, n, bc, cfg.seed)
        ranked = sasrec_rank(model, [h for h, _ in test])
        ranks["sasrec"] = [rank_of(t, r) for (_, t), r in zip(test, ranked)]
        results["sasrec"] = {
            **rank_metrics(ranks["sasrec"]),
            "epochs": hist[-1]["epoch"],  # epochs trained (validations: every sasrec_eval_every)
            "best_valid_ndcg@10": max(h["valid_ndcg@10"] for h in hist),
        }
        results.update({"n_users": len(test), "preset": cfg.preset, "seed": cfg.seed, "max_len": bc.max_len})
        write_json(out / "metrics.json", results)
        write_timing(out, time.perf_counter() - t0)
        write_json(out / "ranks.json", ranks, indent=None)  # per test user: rows on any subset of users
        write_json(out / "sasrec_history.json", hist, indent=None)
        log(format_baselines(results))

    res = run_stage("baselines", cfg, run_dir, build, OUTPUTS, force=force, log=log)
    if res.skipped:
        log(format_baselines(read_json(res.out_dir / "metrics.json")))
    return res


def comparison_rows(run_dir: str | Path) -> list[dict[str, Any]]:
    """One row per model (``model``, the metric keys, ``test users``): LC-Rec, SASRec, most
    popular. When LC-Rec was evaluated on fewer test users (``eval.max_users``), the
    baselines are scored on those same users (from ``baselines/ranks.json``), so every
    row of the table is measured on the same people."""
    run_dir = Path(run_dir)
    rows: list[dict[str, Any]] = []
    ev, bl = run_dir / "eval" / "metrics.json", run_dir / "baselines" / "metrics.json"
    users: list[int] | None = None
    if ev.exists():
        m = read_json(ev)
        rows.append({"model": f"LC-Rec ({m['model']}, {m['method']})", **{k: m[k] for k in METRIC_KEYS},
                     "test users": m["n_users"]})
        if (run_dir / "eval" / "predictions.jsonl").exists():
            from .run import Run

            users = list(Run(run_dir).predictions)
    if bl.exists():
        b = read_json(bl)
        ranks_path = run_dir / "baselines" / "ranks.json"
        rescore = users is not None and len(users) != b["n_users"] and ranks_path.exists()
        r = read_json(ranks_path) if rescore else None
        for name, label in (("sasrec", "SASRec"), ("most_popular", "most popular")):
            metrics, n = {k: b[name][k] for k in METRIC_KEYS}, b["n_users"]
            if r is not None:
                by_user = dict(zip(r["users"], r[name]))
                metrics = {k: v for k, v in rank_metrics([by_user[u] for u in users]).items() if k in METRIC_KEYS}
                n = len(users)
            rows.append({"model": label, **metrics, "test users": n})
    return rows


def paired_differences(run_dir: str | Path, keys: tuple[str, ...] = ("ndcg@10", "hr@10")) -> list[dict[str, Any]]:
    """LC-Rec minus each baseline, per test user and paired (the users LC-Rec was
    evaluated on): one row per baseline with ``baseline``, ``users`` and, per key, the
    mean difference and the standard error of that mean. Empty when the per-user ranks
    (``eval/predictions.jsonl``, ``baselines/ranks.json``) are not both there."""
    from .metrics import paired_se, per_user

    run_dir = Path(run_dir)
    pred, ranks_path = run_dir / "eval" / "predictions.jsonl", run_dir / "baselines" / "ranks.json"
    if not (pred.exists() and ranks_path.exists()):
        return []
    from .run import Run

    ours = Run(run_dir).predictions
    r = read_json(ranks_path)
    rows = []
    for name, label in (("sasrec", "SASRec"), ("most_popular", "most popular")):
        by_user = dict(zip(r["users"], r.get(name, [])))
        users = [u for u in ours if u in by_user]
        if len(users) < 2:
            continue
        row: dict[str, Any] = {"baseline": label, "users": len(users)}
        for k in keys:
            a, b = per_user([ours[u]["rank"] for u in users], k), per_user([by_user[u] for u in users], k)
            row[k] = (sum(a) / len(a) - sum(b) / len(b), paired_se(a, b))
        rows.append(row)
    return rows


def comparison_table(run_dir: str | Path) -> str:
    """LC-Rec (eval/metrics.json) beside the baselines (baselines/metrics.json), each row
    with the number of test users it was measured on."""
    run_dir = Path(run_dir)
    rows = comparison_rows(run_dir)
    if not rows:
        return ""
    ev, bl = run_dir / "eval" / "metrics.json", run_dir / "baselines" / "metrics.json"
    meta = read_json(ev) if ev.exists() else read_json(bl)
    same = len({r["test users"] for r in rows}) == 1
    users = f", {rows[0]['test users']} test users, the same for every row" if same else ""
    head = f"Results on {run_dir} (preset {meta['preset']}, seed {meta['seed']}{users})"
    lines = [head, f"  {'model':<32}" + "".join(f"{k:>9}" for k in METRIC_KEYS) + f"{'users':>7}"]
    for r in rows:
        lines.append(f"  {r['model']:<32}" + "".join(f"{r[k]:>9.4f}" for k in METRIC_KEYS) + f"{r['test users']:>7}")
    diffs = paired_differences(run_dir)
    if diffs:
        lines.append(f"LC-Rec minus each baseline, per user and paired ({diffs[0]['users']} users; SE: standard error of the difference)")
        for d in diffs:
            parts = [f"{k.upper()} {d[k][0]:+.4f} (SE {d[k][1]:.4f}"
                     + (f", {d[k][0] / d[k][1]:+.1f} SE)" if d[k][1] > 0 else ")") for k in ("ndcg@10", "hr@10")]
            lines.append(f"  - {d['baseline']:<14}" + "   ".join(parts))
    return "\n".join(lines)


def format_baselines(r: dict[str, Any]) -> str:
    lines = [f"Baselines ({r['n_users']} users, preset {r['preset']}, seed {r['seed']})"]
    for name in ("most_popular", "sasrec"):
        m = r[name]
        lines.append(f"  {name:<13}" + ", ".join(f"{k} {m[k]:.4f}" for k in METRIC_KEYS))
    return "\n".join(lines)
