"""fusionseqrec: sequential recommendation across the two languages. A history of
indices -> the next item's title or description, or a history of titles -> the next
item's index."""

from __future__ import annotations

from typing import Any

import numpy as np

from lcrec_mini.tasks.base import Task, TrainingData, UserText

TEMPLATES = {
    # history of indices -> the next item's text
    "index2title": [
        "A user interacted with {history}, in this order. What is the title of the item they will choose next?",
        "After {history}, which item will this user pick? Answer with its title.",
    ],
    "index2description": [
        "A user interacted with {history}, in this order. Describe the item they will choose next.",
        "Given the history {history}, what will the next item be like?",
    ],
    # history of titles -> the next item's index
    "title2index": [
        "A user interacted with these items, in order: {history}. Which item will they choose next? Answer with its index.",
        "History of titles: {history}. Give the index of the next item for this user.",
    ],
}


class FusionSeqRec(Task):
    name = "fusionseqrec"
    templates = TEMPLATES

    def build(self, d: TrainingData, n: int, rng: np.random.Generator, text: UserText, tc: Any,
              planned: list[tuple[int, int]]) -> list[dict]:
        out = []
        for u, t in d.draw_positions(n, rng):
            target = d.seq_of(u)[t]
            variants = ["index2title", "title2index"] + (["index2description"] if d.has(target, "description") else [])
            v = variants[int(rng.integers(len(variants)))]
            out.append({"task": self.name, "variant": v, "user": u, "item": target, "history": d.cap(d.seq_of(u)[:t])})
        return out

    def render(self, ex: dict[str, Any], ctx: Any, template: str) -> tuple[str, str]:
        v, item = ex["variant"], ex["item"]
        prompt = template.format(history=ctx.history(ex["history"], as_titles=v == "title2index"))
        if v == "title2index":
            return prompt, ctx.index[item]
        return prompt, ctx.text(item, "title" if v == "index2title" else "description")
