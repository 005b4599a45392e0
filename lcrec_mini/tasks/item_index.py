"""item2index and index2item: an item's text -> its index, and its index -> its text.

The two directions of the paper's mutual alignment. Each item of the catalogue is a row
(``tasks.index_passes`` rows per epoch; ``tasks.index2item_passes`` for index2item alone),
with one of the text variants it has drawn for it: its title, its description, or both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lcrec_mini.tasks.base import Task, TrainingData, UserText, sample

ITEM2INDEX = {
    "title": [
        'Which item has the title "{title}"?',
        'Give the index of the item called "{title}".',
        'What is the identifier of "{title}"?',
    ],
    "description": [
        "Which item matches this description: {description}",
        "Find the item described as follows: {description}",
    ],
    "both": [
        'An item is titled "{title}" and described as: {description} What is its index?',
        'Title: "{title}". Description: {description} Give the index of this item.',
    ],
}

INDEX2ITEM = {
    "title": [
        "What is the title of item {index}?",
        "Name the item {index}.",
        "Tell me the title of {index}.",
    ],
    "description": [
        "Describe item {index}.",
        "What is item {index} about?",
    ],
    "both": [
        "Give the title and a description of item {index}.",
        "What are the title and the description of {index}?",
    ],
}


class _ItemIndex(Task):
    def build(self, d: TrainingData, n: int, rng: np.random.Generator, text: UserText, tc: Any,
              planned: list[tuple[int, int]]) -> list[dict]:
        """``tasks.index_passes`` rows per item that has a title, each with one of the text
        variants it has drawn for it. Kept whole (``tasks.<task>_samples = 0``), every item
        of the catalogue is aligned with its index that many times per epoch."""
        rows = []
        for _ in range(tc.item_passes(self.name)):
            for i in sorted(d.items, key=int):
                if not d.has(int(i), "title"):
                    continue
                variants = self.variants(tc) if d.has(int(i), "description") else ["title"]
                rows.append({"task": self.name, "variant": variants[int(rng.integers(len(variants)))], "item": int(i)})
        return sample(rng, rows, n)

    def variants(self, tc: Any) -> list[str]:
        """The text variants a row of this task draws from, for an item with a description."""
        return ["title", "description", "both"]  # tasks.config.TEXT_VARIANTS (importing it would close a cycle)

    @staticmethod
    def fields(ex: dict[str, Any], ctx: Any) -> dict[str, str]:
        item = ex["item"]
        return {"title": ctx.text(item, "title"), "description": ctx.text(item, "description"), "index": ctx.index[item]}


class Item2Index(_ItemIndex):
    name = "item2index"
    templates = ITEM2INDEX

    def render(self, ex: dict[str, Any], ctx: Any, template: str) -> tuple[str, str]:
        return template.format(**self.fields(ex, ctx)), ctx.index[ex["item"]]


class Index2Item(_ItemIndex):
    name = "index2item"
    templates = INDEX2ITEM

    def variants(self, tc: Any) -> list[str]:
        return list(tc.index2item_variants)

    def render(self, ex: dict[str, Any], ctx: Any, template: str) -> tuple[str, str]:
        f = self.fields(ex, ctx)
        t, desc = f["title"], f["description"]
        return template.format(**f), {"title": t, "description": desc, "both": f"{t}. {desc}"}[ex["variant"]]
