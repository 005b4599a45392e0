"""The stage contract: each stage reads only the folders of the stages ``UPSTREAM``
declares for it. Every stage is run on a folder that holds nothing but copies of its
declared upstream stages (from one complete smoke run) and must succeed; with one of
them removed it must refuse, naming the command that builds it."""

import shutil

import pytest

from lcrec_mini.core.config import make_config
from lcrec_mini.core.errors import DataError
from lcrec_mini.core.stage import STAGES, UPSTREAM, read_stage_config, run_named_stage


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("full")
    cfg = make_config("smoke")
    for stage in STAGES:
        run_named_stage(stage, cfg, run_dir, False)
    return cfg, run_dir


def test_every_stage_is_declared():
    assert set(STAGES) == set(UPSTREAM)


#: the output files that are a function of the stage's inputs alone (no timings inside)
DETERMINISTIC = {"data": None, "embed": None, "index": ("codes.json", "rqvae.pt"), "tasks": None}


@pytest.mark.parametrize("stage", STAGES)
def test_stage_runs_on_its_declared_upstreams_alone(full_run, tmp_path, stage):
    cfg, src = full_run
    folder = stage  # one name: CLI command, folder and config section
    for up in UPSTREAM[folder]:
        shutil.copytree(src / up, tmp_path / up)
    res = run_named_stage(stage, cfg, tmp_path, False)
    assert not res.skipped and read_stage_config(tmp_path / folder)["fingerprint"] == res.fingerprint
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and not p.name.startswith(".")) == \
        sorted(set(UPSTREAM[folder]) | {folder} | ({"cache"} if (tmp_path / "cache").exists() else set()))
    if folder in DETERMINISTIC:  # the same bytes as in the complete run: nothing else was read
        names = DETERMINISTIC[folder] or sorted(p.name for p in (src / folder).iterdir() if p.is_file())
        differ = [n for n in names if (tmp_path / folder / n).read_bytes() != (src / folder / n).read_bytes()]
        assert not differ, f"{folder}: {differ} differ from the complete run's"


MISSING = [(s, up) for s in STAGES for up in UPSTREAM[s]]


@pytest.mark.parametrize("stage,missing", MISSING, ids=[f"{s}-without-{u}" for s, u in MISSING])
def test_stage_without_a_declared_upstream_names_the_command(full_run, tmp_path, stage, missing):
    cfg, src = full_run
    for up in UPSTREAM[stage]:
        if up != missing:
            shutil.copytree(src / up, tmp_path / up)
    with pytest.raises(DataError, match=rf"stage '{missing}' has not been run.*lcrec-mini (run|{missing}) --preset smoke"):
        run_named_stage(stage, cfg, tmp_path, False)
    assert not (tmp_path / stage).exists()


def test_the_code_page_states_each_stages_reads_and_writes():
    """book/code.md's stage table says what UPSTREAM and each stage's OUTPUTS say."""
    import importlib
    import re
    from pathlib import Path

    from lcrec_mini.core.stage import STAGE_RUNNERS

    page = (Path(__file__).resolve().parents[1] / "book" / "code.md").read_text()
    rows = {m.group(1): (m.group(2), m.group(3), m.group(4))
            for m in re.finditer(r"^\| `(\w+)` \| `(\w+)/` \| ([^|]*) \| ([^|]*) \|$", page, re.M)}
    assert set(rows) == set(STAGES)
    for stage, (folder, reads, writes) in rows.items():
        assert folder == stage  # one name per stage
        if UPSTREAM[folder]:
            assert re.findall(r"`(\w+)/`", reads) == list(UPSTREAM[folder]), stage
        outputs = importlib.import_module(STAGE_RUNNERS[stage][0]).OUTPUTS
        assert set(outputs) <= set(re.findall(r"`([\w.]+)`", writes)), stage
