"""preferenceobtain: a user's history of indices -> a text of their preferences (from
``usertext.py``): the model learns to read a history of index tokens as tastes."""

from __future__ import annotations

from typing import Any

import numpy as np

from lcrec_mini.tasks.base import Task, TrainingData, UserText, sample

TEMPLATES = [
    "Here are the items a user interacted with: {history}. Describe the user's preferences.",
    "From the history {history}, what does this user like?",
    "Summarise the taste of a user whose history is {history}.",
]


class PreferenceObtain(Task):
    name = "preferenceobtain"
    templates = {"": TEMPLATES}
    needs_preferences = True

    def build(self, d: TrainingData, n: int, rng: np.random.Generator, text: UserText, tc: Any,
              planned: list[tuple[int, int]]) -> list[dict]:
        rows = [{"task": self.name, "variant": "", "user": u, "history": d.cap(h), "text": text.preferences[u]}
                for u, h in d.train_part.items() if h]
        return sample(rng, rows, n)

    def render(self, ex: dict[str, Any], ctx: Any, template: str) -> tuple[str, str]:
        return template.format(history=ctx.history(ex["history"])), ex["text"]
