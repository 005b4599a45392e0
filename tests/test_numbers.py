"""One run's numbers everywhere: the main results table as the README, the evaluation
chapter and notebook 06 print it must agree, number for number. Each of them names the
`cpu` run as its source; a page that shows another run's numbers says so and is not read
here."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10")
MODELS = {"LC-Rec": "lcrec", "SASRec": "sasrec", "most popular": "most_popular"}
NUMBER = re.compile(r"^-?\d*\.\d+$")


def _rows(lines: list[str], sep: str) -> dict[tuple[str, str], float]:
    """(model, metric) -> value from table rows whose first cell names one of MODELS and
    whose next five cells are the metrics in METRICS order."""
    out: dict[tuple[str, str], float] = {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split(sep)]
        if len(cells) < 6:
            continue
        model = next((key for name, key in MODELS.items() if cells[0].startswith(name)), None)
        values = cells[1:6]
        if model and all(NUMBER.match(v) for v in values):
            out.update({(model, m): float(v) for m, v in zip(METRICS, values)})
    return out


def markdown_table(text: str) -> dict[tuple[str, str], float]:
    return _rows([ln for ln in text.splitlines() if ln.startswith("|")], "|")


def notebook_tables(path: Path) -> dict[tuple[str, str], float]:
    """The plain-text tables in a committed notebook's outputs (``Table.__repr__``)."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    out: dict[tuple[str, str], float] = {}
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            text = o.get("text") or o.get("data", {}).get("text/plain") or ""
            text = "".join(text) if isinstance(text, list) else text
            out.update(_rows([ln for ln in text.splitlines() if " | " in ln], "|"))
    return out


def sources() -> dict[str, dict[tuple[str, str], float]]:
    return {
        "README.md": markdown_table((ROOT / "README.md").read_text(encoding="utf-8")),
        "book/generation.md": markdown_table((ROOT / "book" / "generation.md").read_text(encoding="utf-8")),
        "notebooks/06_evaluate.ipynb": notebook_tables(ROOT / "notebooks" / "06_evaluate.ipynb"),
    }


def disagreements(found: dict[str, dict[tuple[str, str], float]]) -> list[str]:
    """Every (model, metric) that two sources give differently (at the 4 decimals shown)."""
    keys = {k for table in found.values() for k in table}
    out = []
    for key in sorted(keys):
        values = {src: round(t[key], 4) for src, t in found.items() if key in t}
        if len(set(values.values())) > 1:
            out.append(f"{key[0]} {key[1]}: " + ", ".join(f"{s} {v}" for s, v in values.items()))
    return out


def test_the_main_results_are_the_same_number_everywhere():
    found = sources()
    for src, table in found.items():
        assert len(table) == len(MODELS) * len(METRICS), f"{src}: read {len(table)} of 15 numbers"
    assert disagreements(found) == []


def test_an_edited_number_is_caught():
    found = sources()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    lcrec = found["README.md"][("lcrec", "ndcg@10")]
    shown = f"{lcrec:.4f}"
    assert shown in readme
    edited = readme.replace(shown, f"{lcrec + 0.0011:.4f}", 1)
    found["README.md"] = markdown_table(edited)
    assert disagreements(found) == [f"lcrec ndcg@10: README.md {round(lcrec + 0.0011, 4)}, "
                                    f"book/generation.md {round(lcrec, 4)}, notebooks/06_evaluate.ipynb {round(lcrec, 4)}"]
