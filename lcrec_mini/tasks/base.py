"""What every task is made of, and the registry of tasks.

A task is one object (:class:`Task`): its name, its instruction templates (by variant),
``build`` (its training examples, drawn from the training parts of the sequences) and
``render`` (an example and a template -> the prompt and the response). The six tasks of
the paper live one per module beside this one; ``registry.TASKS`` lists them in the
order the tasks stage builds them (that order is part of what a seed reproduces).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lcrec_mini.data import splits

#: the short system message put before every prompt of a chat model
SYSTEM = "You are a recommender system. Items are named by index tokens such as <a_1><b_2><c_3>."


@dataclass
class UserText:
    """The user-side text some tasks need (``usertext.py``): a preference per user and
    a query per (user, item)."""

    preferences: dict[int, str]
    queries: dict[tuple[int, int], str]


class TrainingData:
    """What every task's builder reads: item text, the sequences, their training parts
    and training positions, and the history cap."""

    def __init__(self, items: dict[str, dict], sequences: dict[str, list[int]], max_history: int):
        self.items, self.sequences, self.max_history = items, sequences, max_history
        self.positions: list[tuple[int, int]] = []  # (user, t): target seq[t], history seq[:t]
        self.train_part: dict[int, list[int]] = {}
        for uid, seq in sequences.items():
            u = int(uid)
            self.train_part[u] = splits.train_part(seq)
            self.positions += [(u, t) for t in splits.train_positions(seq)]

    def draw_positions(self, n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        """``n`` training positions drawn without replacement (0: all), in their order."""
        if not self.positions:
            return []
        n = n if n > 0 else len(self.positions)
        return [self.positions[i] for i in np.sort(rng.choice(len(self.positions), min(n, len(self.positions)), replace=False))]

    def cap(self, h: list[int]) -> list[int]:
        """A history cut to its last ``max_history`` items."""
        return list(h[-self.max_history:]) if self.max_history > 0 else list(h)

    def seq_of(self, u: int) -> list[int]:
        return self.sequences[str(u)]

    def has(self, item: int, field: str) -> bool:
        return bool(str(self.items[str(item)].get(field) or "").strip())


def sample(rng: np.random.Generator, rows: list[dict], n: int) -> list[dict]:
    """``n`` of ``rows`` drawn without repeats, in their order (all when ``n`` is 0 or more than they are)."""
    if n <= 0 or n >= len(rows):
        return rows
    keep = np.sort(rng.choice(len(rows), n, replace=False))
    return [rows[i] for i in keep]


class Task:
    """One instruction task. Subclasses set ``name`` and ``templates`` and write
    ``build`` and ``render``; ``plan`` is for a task that needs user text for the
    examples it will build (it runs before the user text is generated)."""

    name: str = ""
    #: variant -> instruction templates (a task without variants uses the variant "")
    templates: dict[str, list[str]] = {}
    #: whether its examples need each user's preference text (``usertext.py``)
    needs_preferences: bool = False

    def plan(self, d: TrainingData, n: int, rng: np.random.Generator) -> list[tuple[int, int]]:
        """Training positions (user, t) whose target's query text this task's examples will
        need; none by default."""
        return []

    def build(self, d: TrainingData, n: int, rng: np.random.Generator, text: UserText, tc: Any,
              planned: list[tuple[int, int]]) -> list[dict]:
        """Training examples (``n``: ``tasks.<name>_samples``, 0 = all; ``planned``: what
        :meth:`plan` returned), their templates not drawn yet."""
        raise NotImplementedError

    def render(self, ex: dict[str, Any], ctx: Any, template: str) -> tuple[str, str]:
        """(prompt, response) of ``ex`` with the instruction ``template``
        (``ctx``: the :class:`~lcrec_mini.tasks.context.TaskContext`)."""
        raise NotImplementedError
