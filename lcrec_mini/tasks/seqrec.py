"""seqrec: a user's history of item indices -> the index of the next item.

Two formats (``tasks.seqrec_format``): ``prefix``, LC-Rec's, one example per next-item
target with the loss on the response; and ``window``, sliding windows of the training
part whose examples carry ``"targets": "all"``: the tune stage then takes the loss on the
index tokens of every history item and of the response, all in one causal pass. Both
render with the same templates, so the model is tested on LC-Rec's prompts either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lcrec_mini.tasks.base import Task, TrainingData, UserText, sample

TEMPLATES = [
    "Here are the items a user interacted with, oldest first: {history}. Which item will the user interact with next?",
    "A user's interactions, in order: {history}. Predict the next item they will choose.",
    "Given this interaction history: {history}, recommend the one item the user is most likely to pick next.",
    "The user engaged with these items one after another: {history}. What comes next?",
    "Based on the sequence {history}, name the next item for this user.",
]


def windows(seq: list[int], size: int) -> list[list[int]]:
    """Consecutive windows of ``size`` items tiling ``seq`` from its end (the first one
    may be shorter); windows of one item (no history) are left out. With the
    all-position loss every item of a window is a target once per pass, conditioned on
    the instruction and the items before it (the first on the instruction alone)."""
    out = []
    for end in range(len(seq), 1, -size):
        w = list(seq[max(0, end - size) : end])
        if len(w) >= 2:
            out.append(w)
    return out[::-1]


def seqrec_targets(examples: list[dict[str, Any]]) -> int:
    """Next-item targets in one pass over ``examples`` (a window example holds one per item)."""
    return sum(len(ex["history"]) + 1 if ex.get("targets") == "all" else 1 for ex in examples if ex["task"] == "seqrec")


class SeqRec(Task):
    name = "seqrec"
    templates = {"": TEMPLATES}

    def build(self, d: TrainingData, n: int, rng: np.random.Generator, text: UserText, tc: Any,
              planned: list[tuple[int, int]]) -> list[dict]:
        if tc.seqrec_format == "window":  # whole windows of the training part, every item a target
            size = d.max_history + 1
            rows = [{"task": "seqrec", "variant": "", "user": u, "item": w[-1], "history": w[:-1], "targets": "all"}
                    for u, part in d.train_part.items() for w in windows(part, size if d.max_history > 0 else len(part))]
        else:  # prefix, LC-Rec's: one example per training position
            rows = [{"task": "seqrec", "variant": "", "user": u, "item": d.seq_of(u)[t],
                     "history": d.cap(d.seq_of(u)[:t])} for u, t in d.positions]
        return sample(rng, rows, n)

    def render(self, ex: dict[str, Any], ctx: Any, template: str) -> tuple[str, str]:
        return template.format(history=ctx.history(ex["history"])), ctx.index[ex["item"]]
