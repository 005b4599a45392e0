"""One reader of a run folder: ``Run(run_dir)`` gives each stage's output, loaded on
first use and kept.

The stages themselves read only their declared upstream folders (``stage.UPSTREAM``);
this reader is for what looks at a finished run (the study and its analyses, the explorer,
the results tables, the notebooks on tokens and case studies), so those do not re-assemble
dataset, codes, vocabulary or tuned model by hand.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from lcrec_mini.core.errors import DataError
from lcrec_mini.core.stage import read_json
from lcrec_mini.data.stage import load_dataset
from lcrec_mini.index.stage import load_codes
from lcrec_mini.index.tokens import index_vocabulary
from lcrec_mini.tasks.context import TaskContext
from lcrec_mini.tune.stage import load_tuned


class Run:
    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self._tuned: dict[tuple[str, str], tuple[Any, Any]] = {}

    def __repr__(self) -> str:
        return f"Run({str(self.dir)!r})"

    def json(self, stage: str, name: str) -> Any:
        """``<run_dir>/<stage>/<name>`` parsed (an error naming the file when it is missing)."""
        return read_json(self.dir / stage / name)

    def has(self, stage: str, name: str = "config.json") -> bool:
        return (self.dir / stage / name).exists()

    # -- data and index ------------------------------------------------------------

    @cached_property
    def dataset(self):
        """``data.Dataset``: items, sequences, stats."""
        return load_dataset(self.dir)

    @cached_property
    def codes(self) -> np.ndarray:
        """The index [N items, L levels], checked: one row per item, no two alike."""
        return load_codes(self.dir, int(self.index_stats["items"]))

    @cached_property
    def index_stats(self) -> dict[str, Any]:
        return self.json("index", "stats.json")

    @property
    def levels(self) -> int:
        return int(self.index_stats["levels"])

    @property
    def codebook_size(self) -> int:
        return int(self.index_stats["codebook_size"])

    @cached_property
    def vocabulary(self) -> list[str]:
        """Every index token, level-major (``<a_0>`` .. the last level's last code)."""
        return index_vocabulary(self.levels, self.codebook_size)

    # -- tasks, tuning, evaluation ---------------------------------------------------

    @cached_property
    def context(self):
        """``tasks.TaskContext``: item text and index strings as the prompts show them."""
        return TaskContext.load(self.dir)

    @cached_property
    def max_history(self) -> int:
        """The history cap the prompts were built with: the tasks stage's (the data stage's
        split setting when the tasks stage has not run)."""
        if self.has("tasks", "stats.json"):
            return int(self.json("tasks", "stats.json")["max_history"])
        return int(self.dataset.stats["split"]["max_history"])

    def tuned(self, cache_dir: str = "", device: str = "cpu") -> tuple[Any, Any]:
        """(tokenizer, model) of the tune stage, LoRA merged; loaded once per device."""
        key = (cache_dir, device)
        if key not in self._tuned:
            self._tuned[key] = load_tuned(self.dir, cache_dir, device)
        return self._tuned[key]

    @cached_property
    def metrics(self) -> dict[str, Any]:
        return self.json("eval", "metrics.json")

    @cached_property
    def predictions(self) -> dict[int, dict[str, Any]]:
        """Test user -> their prediction (target, rank, top items and scores)."""
        path = self.dir / "eval" / "predictions.jsonl"
        if not path.exists():
            raise DataError(f"{path}: missing; run `lcrec-mini eval --run-dir {self.dir}` first")
        rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        return {p["user"]: p for p in rows}
