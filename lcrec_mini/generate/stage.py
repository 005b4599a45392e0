"""Full-ranking metrics and the ``eval`` stage.

For a user whose held-out item sits at rank r (1-based) of the generated list:

    HR@k   = 1 if r <= k else 0
    NDCG@k = 1 / log2(r + 1) if r <= k else 0

(one relevant item, so the ideal DCG is 1). Averaged over all test users; a user
whose item is not in the list contributes 0. Every recommender of this project
(LC-Rec, the baselines) is scored by :func:`rank_metrics`, so numbers are comparable.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from lcrec_mini.core.config import Config
from lcrec_mini.core.errors import DataError
from lcrec_mini.core.run import Run
from lcrec_mini.core.runtime import pick_device
from lcrec_mini.core.stage import StageResult, read_json, read_stage_config, run_stage, write_json, write_timing
from lcrec_mini.generate.config import EvalConfig
from lcrec_mini.generate.decoding import IndexTrie, beam_search, exclusion_keys
from lcrec_mini.generate.metrics import rank_metrics, rank_of
from lcrec_mini.index.tokens import index_vocabulary
from lcrec_mini.tasks.context import TaskContext
from lcrec_mini.tasks.registry import templates
from lcrec_mini.tasks.stage import read_examples, render
from lcrec_mini.tune.llm import format_prompt
from lcrec_mini.tune.stage import load_tuned

OUTPUTS = ("metrics.json", "predictions.jsonl", "timing.json")


def run_evaluate(cfg: Config, run_dir: str | Path, force: bool = False, log: Callable[[str], None] = print) -> StageResult:
    """Beam search (``eval.beams``) over the index trie for every ``seqrec`` test user."""
    ec = cfg.eval
    run_dir = Path(run_dir)

    def build(out: Path) -> None:
        t0 = time.perf_counter()
        tests = [e for e in read_examples(run_dir, "test") if e["task"] == "seqrec"]
        if ec.max_users > 0:
            tests = tests[: ec.max_users]
        if not tests:
            raise DataError(f"{run_dir / 'tasks' / 'test.jsonl'}: no seqrec test examples (the test split is empty; "
                            "rebuild it with `lcrec-mini tasks --force`)")
        rk = Ranker.load(run_dir, cfg, pick_device(ec.device))
        metrics, preds = score_tests(rk, tests, ec)
        meta = rk.meta
        metrics.update(
            {
                "preset": cfg.preset,
                "model": meta["base_model"],
                "method": meta["method"],
                "seed": cfg.seed,
            }
        )
        with open(out / "predictions.jsonl", "w", encoding="utf-8") as f:
            for p in preds:
                f.write(json.dumps(p) + "\n")
        write_json(out / "metrics.json", metrics)
        write_timing(out, time.perf_counter() - t0)
        log(format_metrics(metrics))

    res = run_stage("eval", cfg, run_dir, build, OUTPUTS, force=force, log=log)
    if res.skipped:
        log(format_metrics(read_json(res.out_dir / "metrics.json")))
    return res


def eval_decoding(run_dir: str | Path) -> dict[str, Any]:
    """How ``run_dir``'s eval stage decoded: its beams (None without an eval stage), its
    ``softmax`` and ``exclude_history`` (their defaults for runs made before they existed)."""
    ec = ((read_stage_config(Path(run_dir) / "eval") or {}).get("config") or {}).get("eval", {})
    return {"beams": ec.get("beams"), "softmax": ec.get("softmax", "vocabulary"),
            "exclude_history": ec.get("exclude_history", False)}


@dataclass
class Ranked:
    items: list[int]  # catalogue items, best first
    scores: list[float]  # their beam scores (summed log-probabilities)
    invalid: int  # beams that named no catalogue item (0 with the trie)
    beams: int  # finished beams


@dataclass
class Ranker:
    """A tuned model with its catalogue trie: ranks the whole catalogue for prompts."""

    tok: Any
    model: Any
    trie: Any  # decoding.IndexTrie
    lookup: dict[tuple, int]  # index codes -> item id
    ctx: Any  # tasks.TaskContext, to render prompts
    meta: dict[str, Any]  # tune/tune_meta.json
    softmax: str = "vocabulary"  # eval.softmax: what each beam step is normalised over
    exclude_history: bool = False  # eval.exclude_history: no beam ends on an item of its prompt's history

    @classmethod
    def load(cls, run_dir: str | Path, cfg: Config, device: str, model_dir: str | Path | None = None) -> "Ranker":
        """The tuned model of ``run_dir`` (or ``model_dir``) with the index and item text
        the tasks stage wrote (``tasks/context.json``)."""
        run_dir = Path(run_dir)
        ctx = TaskContext.load(run_dir)
        codes, k = ctx.codes(), ctx.codebook_size
        tok, model = load_tuned(run_dir, cfg.data.cache_dir, device, model_dir)
        token_ids = torch.tensor(tok.convert_tokens_to_ids(index_vocabulary(codes.shape[1], k))).view(codes.shape[1], k)
        return cls(tok, model, IndexTrie.build(codes, token_ids, k), {tuple(c): i for i, c in enumerate(codes.tolist())},
                   ctx, read_json(run_dir / "tune" / "tune_meta.json"), cfg.eval.softmax, cfg.eval.exclude_history)

    def rank(self, texts: Sequence[str], beams: int, batch_size: int, desc: str = "rank",
             histories: Sequence[Sequence[int]] | None = None) -> list[Ranked]:
        """Trie-constrained beam search for every (already chat-formatted) prompt, in batches;
        ``histories``: the items each prompt names, which its beams may not end on when the
        ranker follows ``eval.exclude_history``."""
        device = next(self.model.parameters()).device
        exclude = histories if self.exclude_history else None
        item_keys = self.trie.prefix_keys(torch.as_tensor(self.ctx.codes(), dtype=torch.long)) if exclude else None
        self.tok.padding_side = "left"
        out: list[Ranked] = []
        for s in tqdm(range(0, len(texts), batch_size), desc=desc, unit="batch"):
            enc = self.tok(list(texts[s : s + batch_size]), return_tensors="pt", padding=True,
                           add_special_tokens=False).to(device)
            ex = exclusion_keys(item_keys, exclude[s : s + batch_size]) if exclude else None
            res = beam_search(self.model, enc["input_ids"], enc["attention_mask"], self.trie, beams=beams,
                              softmax=self.softmax, exclude=ex)
            for cs, sc in zip(res.codes.tolist(), res.scores.tolist()):
                found = [(self.lookup.get(tuple(c)), x) for c, x in zip(cs, sc) if x != float("-inf")]
                ok = [(i, x) for i, x in found if i is not None]
                out.append(Ranked([i for i, _ in ok], [x for _, x in ok], len(found) - len(ok), len(found)))
        return out


def score_tests(rk: "Ranker", tests: list[dict[str, Any]], ec: EvalConfig) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Rank the catalogue for every seqrec test example with LC-Rec's prompt (its drawn
    template, or every template with ``ec.all_templates``): (metrics, predictions). With
    ``eval.exclude_history`` (the ranker's) no beam ends on an item of the prompt's history."""
    tok, meta = rk.tok, rk.meta
    n_templates = len(templates("seqrec")) if ec.all_templates else 1
    system = meta.get("system")
    per_template: list[list[int | None]] = []
    preds: list[dict[str, Any]] = []
    invalid = total_beams = 0
    for t in range(n_templates):
        texts = [format_prompt(tok, render(e, rk.ctx, t if ec.all_templates else e["template"])[0], system) for e in tests]
        ranked_all = rk.rank(texts, ec.beams, ec.batch_size, desc=f"evaluate (template {t + 1}/{n_templates})",
                             histories=[e["history"] for e in tests])
        ranks: list[int | None] = []
        for e, r in zip(tests, ranked_all):
            invalid += r.invalid
            total_beams += r.beams
            pos = rank_of(e["item"], r.items)
            ranks.append(pos)
            if t == 0:
                preds.append({"user": e["user"], "target": e["item"], "rank": pos, "ranked": r.items[:20],
                              "scores": [round(x, 4) for x in r.scores[:20]]})
        per_template.append(ranks)
    metrics: dict[str, Any] = {name: float(np.mean([rank_metrics(r)[name] for r in per_template]))
                               for name in rank_metrics(per_template[0])}
    metrics.update({"n_users": len(tests), "invalid_rate": invalid / max(total_beams, 1), "beams": ec.beams,
                    "templates": n_templates, "exclude_history": rk.exclude_history})
    return metrics, preds


def history_in_top(run_dir: str | Path, k: int = 10) -> float:
    """How many of each test user's top ``k`` (``eval/predictions.jsonl``) are items of the
    history its seqrec prompt showed, averaged over the users: what ``eval.exclude_history``
    forbids (0 for a run ranked with it)."""
    shown = {e["user"]: set(e["history"]) for e in read_examples(Path(run_dir), "test") if e["task"] == "seqrec"}
    preds = Run(run_dir).predictions
    if not preds:
        raise DataError(f"{Path(run_dir) / 'eval' / 'predictions.jsonl'} holds no predictions; run `lcrec-mini eval` first")
    return sum(len(set(p["ranked"][:k]) & shown[u]) for u, p in preds.items()) / len(preds)


def format_metrics(m: dict[str, Any]) -> str:
    keys = [k for k in m if k.startswith(("hr@", "ndcg@"))]
    return (
        f"Evaluation ({m.get('model')}, preset {m.get('preset')}, seed {m.get('seed')}, {m.get('n_users')} users, "
        f"beam {m.get('beams')}): " + ", ".join(f"{k} {m[k]:.4f}" for k in keys) + f"; invalid {m.get('invalid_rate', 0):.4f}"
    )
