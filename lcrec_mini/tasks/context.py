"""What rendering a prompt needs, written by the tasks stage (``tasks/context.json``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lcrec_mini.core.errors import DataError
from lcrec_mini.core.stage import read_json, write_json
from lcrec_mini.index.stage import check_unique, parse_tokens
from lcrec_mini.index.tokens import index_str, split_index

CONTEXT = "context.json"  # what tune and evaluate need to render prompts


@dataclass
class TaskContext:
    """What rendering a prompt needs: item text, each item's index as one string, the
    text cap; written by the tasks stage (``tasks/context.json``), so tune and evaluate
    render exactly what the tasks stage rendered and read nothing of data/ or index/."""

    items: dict[str, dict[str, Any]]
    index: list[str]  # item id -> "<a_1><b_2><c_3>"
    max_text_chars: int = 200
    codebook_size: int = 0  # codes per level (the index vocabulary is levels x codebook_size)
    max_history: int = 0  # history cap the examples were built with
    separator: str = ", "  # between the indices of a history (``tasks.history_separator``)

    @classmethod
    def from_codes(cls, items: dict[str, dict[str, Any]], codes: np.ndarray, max_text_chars: int = 200,
                   codebook_size: int = 0, max_history: int = 0, separator: str = ", ") -> "TaskContext":
        """From an index array [N, L] (as :func:`lcrec_mini.index.stage.load_codes` returns it)."""
        return cls(items, [index_str(row) for row in codes], max_text_chars, codebook_size, max_history, separator)

    @property
    def n_items(self) -> int:
        return len(self.index)

    def codes(self) -> np.ndarray:
        """The index as an array [N, L] of code numbers, parsed back from the strings."""
        codes = parse_tokens({str(i): split_index(s) for i, s in enumerate(self.index)}, CONTEXT)
        check_unique(codes, CONTEXT)
        return codes

    @property
    def levels(self) -> int:
        return len(split_index(self.index[0])) if self.index else 0

    def save(self, path: str | Path) -> None:
        write_json(path, {"max_text_chars": self.max_text_chars, "codebook_size": self.codebook_size,
                          "max_history": self.max_history, "separator": self.separator, "index": self.index,
                          "items": self.items}, indent=None)

    @classmethod
    def load(cls, run_dir: str | Path) -> "TaskContext":
        """The context the tasks stage of ``run_dir`` wrote."""
        path = Path(run_dir) / "tasks" / CONTEXT
        if not path.exists():
            raise DataError(f"{path}: not found; run `lcrec-mini tasks --run-dir {run_dir}` first")
        d = read_json(path)
        missing = [k for k in ("max_text_chars", "codebook_size", "max_history", "index", "items") if k not in d]
        if missing:
            raise DataError(f"{path}: keys {missing} missing; rebuild it with `lcrec-mini tasks --force`")
        # "separator" came later: a context written before it joined histories with ", "
        return cls(d["items"], d["index"], d["max_text_chars"], d["codebook_size"], d["max_history"],
                   d.get("separator", ", "))

    def text(self, item: int, field: str) -> str:
        t = str(self.items[str(item)].get(field) or "").strip()
        if len(t) > self.max_text_chars:
            t = t[: self.max_text_chars].rsplit(" ", 1)[0] + " ..."
        return t

    def history(self, ids: list[int], as_titles: bool = False) -> str:
        if as_titles:
            return ", ".join(f'"{self.text(i, "title")}"' for i in ids)
        return self.separator.join(self.index[i] for i in ids)
