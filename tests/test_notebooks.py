"""Every notebook runs under papermill with ``preset=smoke``, each alone in a new empty
folder (as a fresh Colab runtime would); each test then checks what its notebook
produced: stage files, figures, tables, text."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def outputs(nb) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


def figures(nb) -> int:
    return sum(1 for o in outputs(nb) if "image/png" in o.get("data", {}))


def html_text(nb) -> str:
    return "\n".join(o.get("data", {}).get("text/html", "") if isinstance(o.get("data", {}).get("text/html", ""), str)
                     else "".join(o["data"]["text/html"]) for o in outputs(nb))


def stream_text(nb) -> str:
    return "\n".join(o.get("text", "") for o in outputs(nb) if o.get("output_type") == "stream")


def errors(nb) -> list[str]:
    return [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs(nb) if o.get("output_type") == "error"]


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> tuple[dict[str, Path], dict[str, nbformat.NotebookNode]]:
    """Every notebook opened alone, as a fresh Colab runtime opens it: copied into a new
    empty folder and run there to its end with preset=smoke and a run folder of its own,
    so the stages it needs run first. Returns each notebook's run folder and output."""
    import shutil

    import papermill as pm

    runs: dict[str, Path] = {}
    done: dict[str, nbformat.NotebookNode] = {}
    for path in NOTEBOOKS:
        folder = tmp_path_factory.mktemp(path.stem)
        shutil.copy(path, folder / path.name)
        runs[path.stem] = folder / "runs" / "smoke"
        out = folder / f"out-{path.name}"
        pm.execute_notebook(
            str(folder / path.name), str(out), parameters={"preset": "smoke", "run_dir": str(runs[path.stem])},
            cwd=str(folder), kernel_name="python3", progress_bar=False, log_output=False,
        )
        done[path.stem] = nbformat.read(out, as_version=4)
    return runs, done


def test_every_notebook_has_badge_setup_and_parameters():
    assert len(NOTEBOOKS) == 10
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        first = nb.cells[0].source
        assert "colab.research.google.com/github/" in first and f"notebooks/{path.name}" in first, path.name
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: {len(tagged)} cells tagged parameters"
        assert all(f"{k} =" in tagged[0].source for k in ("preset", "run_dir", "overrides")), path.name
        setup = nb.cells[1].source
        assert "find_spec(\"lcrec_mini\") is None" in setup and "pip" in setup, path.name
        assert "torch==" not in setup and "\"torch\"" not in setup, f"{path.name}: the setup cell must not reinstall torch"


def test_committed_notebooks_take_the_readers_parameters(tmp_path):
    """A reader (Jupyter, Colab) edits the parameters cell and runs the notebook from the
    top: the values they typed must be the ones the notebook uses. Each committed notebook
    is opened as committed, its parameters cell rewritten, its cells run up to the one
    that builds the config, then a probe reads what the kernel holds."""
    from nbclient import NotebookClient

    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        tags = [t for c in nb.cells for t in c.metadata.get("tags", [])]
        assert "injected-parameters" not in tags, f"{path.name} keeps papermill's injected cell"
        p = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
        setup_at = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "setup(" in c.source)
        assert setup_at == p + 1, f"{path.name}: the cell after the parameters must build the config"
        rd = tmp_path / path.stem
        nb.cells[p].source = f'preset = "smoke"\nrun_dir = {str(rd)!r}\noverrides = {{"eval.beams": 3}}\n'
        probe = nbformat.v4.new_code_cell('print("PROBE", env.cfg.preset, env.run_dir, env.cfg.eval.beams)')
        nb.cells = nb.cells[: setup_at + 1] + [probe]
        for c in nb.cells:
            if c.cell_type == "code":
                c.outputs = []
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
        assert f"PROBE smoke {rd} 3" in text, f"{path.name}: the kernel holds {text!r}, not the reader's parameters"
        assert rd.is_dir(), f"{path.name}: the reader's run folder was not created"


def test_notebooks_ran_without_errors(executed):
    _, nbs = executed
    assert set(nbs) == {p.stem for p in NOTEBOOKS}
    for name, nb in nbs.items():
        assert not errors(nb), f"{name}: {errors(nb)}"
        assert "preset 'smoke'" in stream_text(nb), f"{name}: the setup cell did not report the preset"
    # opened alone, a notebook runs the stages it needs first and says so
    assert "[data] not in" in stream_text(nbs["02_embed"]) and "the embed stage needs it" in stream_text(nbs["02_embed"])
    assert "[tasks] not in" in stream_text(nbs["07_token_pca"])


def test_overview_shows_presets_and_config(executed):
    nb = executed[1]["00_overview"]
    html = html_text(nb)
    assert "presets" in html and all(p in html for p in ("smoke", "cpu", "colab", "paper"))
    # what the smoke preset changes from the defaults, as a table, not the whole config
    assert "what preset &#x27;smoke&#x27;" in html or "what preset 'smoke'" in html
    assert "tune.model" in html and "tiny" in html and "index:" not in stream_text(nb)


def test_data_notebook(executed):
    runs, nbs = executed
    run_dir, nb = runs["01_data"], nbs["01_data"]
    stats = json.loads((run_dir / "data" / "stats.json").read_text())
    assert figures(nb) == 1
    html = html_text(nb)
    assert f"{stats['users']:,}" in html and "Toy Story" in html


def test_embed_notebook(executed):
    runs, nbs = executed
    run_dir, nb = runs["02_embed"], nbs["02_embed"]
    assert (run_dir / "embed" / "items.npy").exists()
    assert figures(nb) == 1
    assert "nearest by text to:" in stream_text(nb)


def test_index_notebook(executed):
    runs, nbs = executed
    run_dir, nb = runs["03_index"], nbs["03_index"]
    assert (run_dir / "index" / "codes.json").exists()
    assert figures(nb) == 2  # training curves, code usage
    html = html_text(nb)
    assert "Sinkhorn-Knopp on the last level" in html and "items start with" in html
    assert "collision rate " in stream_text(nb) and "after Sinkhorn" in stream_text(nb)


def test_tasks_notebook(executed):
    _, nbs = executed
    html = html_text(nbs["04_tasks"])
    for task in ("seqrec", "item2index", "index2item", "fusionseqrec", "itemsearch", "preferenceobtain"):
        assert task in html
    # the tokens as the model reads them: one block per task the smoke run trains, scored ones marked
    blocks = re.findall(r"<b>(\w+)[^<]*</b>: (\d+) tokens, (\d+) scored", html)
    assert {b[0] for b in blocks} >= {"seqrec", "item2index", "index2item"}, blocks
    assert all(0 < int(scored) < int(n) for _, n, scored in blocks)


def test_tune_notebook(executed):
    runs, nbs = executed
    run_dir, nb = runs["05_tune"], nbs["05_tune"]
    assert (run_dir / "tune" / "model").is_dir()
    assert figures(nb) == 1
    assert "tokens_per_second" in html_text(nb)


def test_evaluate_notebook(executed):
    runs, nbs = executed
    run_dir, nb = runs["06_evaluate"], nbs["06_evaluate"]
    m = json.loads((run_dir / "eval" / "metrics.json").read_text())
    assert {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10"} <= set(m)
    assert (run_dir / "baselines" / "metrics.json").exists()
    assert figures(nb) == 1
    html = html_text(nb)
    assert "SASRec" in html and "most popular" in html and "preset smoke" in html
    # this run's rows beside the published ones, each published row with its source
    assert html.count("this run") >= 3 and "LETTER (arXiv 2405.07314)" in html and "MiniOneRec README" in html
    assert html.count("Amazon 2018 Instruments") >= 3
    # the paper's own Table III beside them, labelled with its transcription
    assert html.count("LC-Rec paper, Table III, via GenRec&#x27;s transcription") + html.count(
        "LC-Rec paper, Table III, via GenRec's transcription") == 7
    # the explorer: a widget in Jupyter, and fixed HTML for the book in the same output
    bundles = [o["data"] for o in outputs(nb) if "lcrec-explorer" in str(o.get("data", {}).get("text/html", ""))]
    assert bundles and "application/vnd.jupyter.widget-view+json" in bundles[0]
    assert "Top 10 recommendations" in str(bundles[0]["text/html"])


def test_token_pca_notebook(executed):
    nb = executed[1]["07_token_pca"]
    assert figures(nb) == 1
    html = html_text(nb)
    assert "before tuning" in html and "after tuning" in html and "centroid gap" in html


def test_case_studies_notebook(executed):
    runs, nbs = executed
    run_dir, nb = runs["08_case_studies"], nbs["08_case_studies"]
    html = html_text(nb)
    levels = json.loads((run_dir / "index" / "stats.json").read_text())["levels"]
    assert html.count("<caption>item ") == 3  # one table per item shown
    assert "by index prefix" in html and "by text embedding" in html
    assert html.count("<td>") >= 3 * levels * 3
    assert figures(nb) == 1  # word F1 by prefix length
    # the analyses of this run itself, kept in its folder: 100 items, every evaluated user
    cs = json.loads((run_dir / "analyses" / "case_studies.json").read_text())
    assert cs["items"] == 100 and len(cs["mean_title_overlap_by_prefix_length"]) == levels
    it = json.loads((run_dir / "analyses" / "intention.json").read_text())
    assert it["query"]["n_users"] == json.loads((run_dir / "eval" / "metrics.json").read_text())["n_users"]
    assert "intention + history" in html and "Fig. 5a" in html and "(SE " in html


def test_results_notebook_runs_the_study(executed):
    runs, nbs = executed
    run_dir, nb = runs["09_results"], nbs["09_results"]
    res = json.loads((run_dir.parent / "study-smoke" / "results.json").read_text())
    assert len(res["runs"]) == 9 and {"intention", "token_pca", "case_studies"} <= set(res)
    assert all(len(r["seeds"]) == 3 for r in res["runs"].values())  # every configuration with 3 training seeds
    runs = {f"{name}-s{s}" for name, r in res["runs"].items() for s in r["seeds"]}
    pca = {f"pca-mean-init-s{s}" for s in res["budget"]["seeds"]}
    assert set(res["wall_seconds"]) == runs | pca | {"intention", "token_pca", "case_studies"}
    assert len(res["token_pca"]["by_seed"]) == len(res["case_studies"]["by_seed"]) == 3  # every seed analysed
    assert figures(nb) == 3  # indexing methods, ablation, token PCA
    html = html_text(nb)
    assert "paper&#x27;s claim" in html or "paper's claim" in html
    assert html.count("<tr>") >= 9 and "intention + history" in html
    assert "estimated" in stream_text(nb)
    assert "LETTER (arXiv 2405.07314)" in html and "this run" in html  # published numbers beside the main run
    assert "(SE " in html  # verdicts carry their standard errors


def _make_notebooks():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_notebooks", ROOT / "tools" / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_notebooks_are_the_source_and_the_shared_cells_agree(tmp_path):
    """The committed notebooks' shared cells equal the refresher's; refreshing a notebook
    whose setup cell drifted and whose config cell is missing restores both and leaves
    every other cell, outputs included, as it was."""
    mk = _make_notebooks()
    stale = [p.name for p in NOTEBOOKS if mk.refresh(p, write=False)]
    assert not stale, f"shared cells differ in {stale}: run python tools/make_notebooks.py"
    src = ROOT / "notebooks" / "06_evaluate.ipynb"
    before = nbformat.read(src, as_version=4)
    broken = nbformat.read(src, as_version=4)
    broken.cells[1].source = broken.cells[1].source.replace("check=True", "check=False")
    del broken.cells[3]
    path = tmp_path / "06_evaluate.ipynb"
    nbformat.write(broken, path)
    assert mk.refresh(path) is True
    fixed = nbformat.read(path, as_version=4)
    assert [c.source for c in fixed.cells] == [c.source for c in before.cells]
    rest = slice(4, None)
    assert [c.get("outputs") for c in fixed.cells[rest]] == [c.get("outputs") for c in before.cells[rest]]
    assert mk.refresh(path) is False


def test_every_notebook_reads_its_preset_from_one_place():
    """No notebook names a preset of its own: each parameters cell leaves it to
    ``choose_preset`` (settings file, $LCREC_MINI_PRESET, the machine), and each builds its
    config through ``setup(preset, run_dir, overrides)``."""
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
        assert "preset = None" in params.source, path.name
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert "setup(preset, run_dir, overrides)" in code, path.name
        # after setup, the preset in use is env.cfg.preset (the parameter may be None)
        later = [c.source for c in nb.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
                 and "setup(preset, run_dir, overrides)" not in c.source and "find_spec" not in c.source]
        names = {n.id for src in later for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
        assert "preset" not in names, f"{path.name} reads the bare preset parameter after setup"
        assert not any(f'preset = "{p}"' in code or f"preset='{p}'" in code for p in ("cpu", "colab", "smoke", "paper"))


def test_the_preset_is_chosen_once(tmp_path, monkeypatch):
    from lcrec_mini.book import notebook as nbk
    from lcrec_mini.core.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LCREC_MINI_PRESET", raising=False)
    monkeypatch.setattr(nbk, "DRIVE", tmp_path / "no-drive")
    assert nbk.choose_preset(None) == "cpu"  # no GPU here, no settings
    (tmp_path / "lcrec-mini.yaml").write_text("preset: smoke\nruns: shared-runs\noverrides:\n  eval.beams: 5\n")
    sub = tmp_path / "notebooks"
    sub.mkdir()
    monkeypatch.chdir(sub)  # a notebook runs in the notebooks folder; the file is one above
    assert nbk.choose_preset(None) == "smoke" and nbk.choose_preset("cpu") == "cpu"
    env = nbk.setup(None, None, {}, quiet=True)
    assert env.cfg.preset == "smoke" and env.cfg.eval.beams == 5
    assert env.run_dir == (tmp_path / "shared-runs" / "smoke").resolve()
    monkeypatch.setenv("LCREC_MINI_PRESET", "paper")
    assert nbk.choose_preset(None) == "paper"
    (tmp_path / "lcrec-mini.yaml").write_text("preset: smoke\nepochs: 3\n")
    with pytest.raises(ConfigError, match=r"lcrec-mini.yaml: unknown keys \['epochs'\]"):
        nbk.read_settings()


def test_the_checkout_is_found_from_the_package():
    """In a checkout (editable install) a notebook's default run folder is <checkout>/runs."""
    from lcrec_mini.book.notebook import repo_root, resolve_run_dir

    assert repo_root() == ROOT
    assert resolve_run_dir(None, "cpu") == ROOT / "runs" / "cpu"
