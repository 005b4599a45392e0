"""The benchmark scripts refuse inputs they would silently mismeasure."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def load(name: str):
    sys.path.insert(0, str(BENCH))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    finally:
        sys.path.remove(str(BENCH))


def fake_run(tmp_path: Path, cf_dims: int) -> Path:
    for s in ("data", "embed", "index"):
        (tmp_path / s).mkdir()
    cfg = {"stage": "embed", "config": {"seed": 42, "embed": {"cf_dims": cf_dims}}}
    (tmp_path / "embed" / "config.json").write_text(json.dumps(cfg))
    return tmp_path


def test_levers_refuse_indices_other_than_text_only(tmp_path):
    levers = load("levers")
    with pytest.raises(SystemExit, match=r"cf_dims=64.*cf_dims=0"):
        levers.check_source(fake_run(tmp_path, 64))


def test_levers_accept_text_only_indices_and_say_so(tmp_path):
    levers = load("levers")
    src = fake_run(tmp_path, 0)
    levers.check_source(src)
    line = levers.provenance(src)
    assert "text-only indices" in line and "Measured at commit" in line


def test_levers_name_a_missing_stage(tmp_path):
    levers = load("levers")
    (tmp_path / "data").mkdir()
    with pytest.raises(SystemExit, match="embed is missing"):
        levers.check_source(tmp_path)
