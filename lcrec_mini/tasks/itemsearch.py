"""itemsearch: a user's intention (a query), alone or with their history -> the index of
the item that fits it. The query comes from ``usertext.py``; the test split holds both
prompts for every user, which is how intention-based prediction (the paper's Fig. 3) is
measured."""

from __future__ import annotations

from typing import Any

import numpy as np

from lcrec_mini.tasks.base import Task, TrainingData, UserText

TEMPLATES = {
    "query": [
        "Find an item for this request: {query}",
        'A user says: "{query}" Which item fits best?',
        "Recommend one item to someone who wants the following: {query}",
    ],
    "query+history": [
        "A user who interacted with {history} is now looking for this: {query} Which item should we recommend?",
        'Given the history {history}, the user asks: "{query}" Which item fits?',
    ],
}


class ItemSearch(Task):
    name = "itemsearch"
    templates = TEMPLATES

    def plan(self, d: TrainingData, n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        """The training positions drawn for this task: their targets need a query."""
        return d.draw_positions(n, rng)

    def build(self, d: TrainingData, n: int, rng: np.random.Generator, text: UserText, tc: Any,
              planned: list[tuple[int, int]]) -> list[dict]:
        out = []
        for u, t in planned:
            target = d.seq_of(u)[t]
            v = ("query", "query+history")[int(rng.integers(2))]
            out.append({"task": self.name, "variant": v, "user": u, "item": target,
                        "history": d.cap(d.seq_of(u)[:t]), "query": text.queries[(u, target)]})
        return out

    def render(self, ex: dict[str, Any], ctx: Any, template: str) -> tuple[str, str]:
        fields = {"query": ex["query"]}
        if ex["variant"] == "query+history":
            fields["history"] = ctx.history(ex["history"])
        return template.format(**fields), ctx.index[ex["item"]]
