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


def test_levers_table_gives_each_levers_own_effect_and_where_it_was_trained(tmp_path):
    levers = load("levers")
    (tmp_path / "src").mkdir()
    src = fake_run(tmp_path / "src", 0)
    ranks = {"today": [None, None, None, None], "+ all-position": [1, None, None, None],
             "+ index softmax": [1, 1, None, None]}  # per user: the rank of the held-out item
    for name, rs in ranks.items():
        d = tmp_path / "work" / levers.variant_dir(name)
        (d / "eval").mkdir(parents=True)
        (d / "tune").mkdir()
        (d / "eval" / "metrics.json").write_text(json.dumps({"hr@10": sum(r is not None for r in rs) / 4,
                                                             "ndcg@10": sum(r is not None for r in rs) / 4}))
        (d / "eval" / "predictions.jsonl").write_text(
            "".join(json.dumps({"user": u, "rank": r}) + "\n" for u, r in enumerate(rs)))
        (d / "tune" / "train_stats.json").write_text(json.dumps({"steps": 10, "tokens_per_second": 100.0,
                                                                 "train_seconds": 50.0}))
        (d / "commit.txt").write_text("abc1234\n")
    text = levers.table(tmp_path / "work", 5000, src)
    rows = {r.split(" | ")[0].strip("| "): [c.strip(" |") for c in r.split(" | ")]
            for r in text.splitlines() if r.startswith("| ") and "variant" not in r}
    assert rows["today"][5:] == ["", "", "", ""]
    assert rows["+ all-position"][5] == "+0.2500" and rows["+ all-position"][7] == "+0.2500"
    # the second lever: +0.5 over today, but its own effect is +0.25 over the row above
    assert rows["+ index softmax"][5] == "+0.5000" and rows["+ index softmax"][7] == "+0.2500"
    assert rows["+ index softmax"][2] == "5,000"
    assert "Variants trained at commit abc1234" in text and "text-only indices" in text
