"""Stages: skipped when up to date, byte-identical reruns, no partial output on failure."""

import json
import os
from pathlib import Path

import pytest

from lcrec_mini.core.cli import main
from lcrec_mini.core.config import make_config
from lcrec_mini.core.stage import run_stage
from lcrec_mini.data.stage import OUTPUTS, run_data


def snapshot(folder):
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_second_run_is_skipped_and_files_are_untouched(tmp_path):
    cfg = make_config("smoke")
    first = run_data(cfg, tmp_path, log=lambda m: None)
    before = snapshot(tmp_path / "data")
    second = run_data(cfg, tmp_path, log=lambda m: None)
    assert not first.skipped and second.skipped
    assert snapshot(tmp_path / "data") == before
    assert set(OUTPUTS) <= set(before)


def test_forced_rerun_and_fresh_folder_are_byte_identical(tmp_path):
    cfg = make_config("smoke")
    run_data(cfg, tmp_path / "a", log=lambda m: None)
    run_data(cfg, tmp_path / "b", log=lambda m: None)
    a = {k: v[0] for k, v in snapshot(tmp_path / "a" / "data").items()}
    run_data(cfg, tmp_path / "a", force=True, log=lambda m: None)
    again = {k: v[0] for k, v in snapshot(tmp_path / "a" / "data").items()}
    b = {k: v[0] for k, v in snapshot(tmp_path / "b" / "data").items()}
    assert a == again == b


def test_changed_config_reruns_the_stage(tmp_path):
    run_data(make_config("smoke"), tmp_path, log=lambda m: None)
    res = run_data(make_config("smoke", set_items=["data.max_users=50"]), tmp_path, log=lambda m: None)
    assert not res.skipped
    st = json.loads((tmp_path / "data" / "stats.json").read_text())
    assert st["users"] <= 50
    meta = json.loads((tmp_path / "data" / "config.json").read_text())
    assert meta["config"]["data"]["max_users"] == 50 and meta["lcrec_mini_version"]


def test_failed_stage_keeps_previous_output_and_leaves_no_temp(tmp_path):
    cfg = make_config("smoke")
    run_data(cfg, tmp_path, log=lambda m: None)
    before = snapshot(tmp_path / "data")

    def build(out):
        (out / "items.json").write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_stage("data", make_config("smoke", set_items=["seed=1"]), tmp_path, build, ["items.json"])
    assert snapshot(tmp_path / "data") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "log.jsonl"]


def test_interrupt_leaves_no_temp(tmp_path):
    def build(out):
        (out / "x").write_text("partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_stage("data", make_config("smoke"), tmp_path, build, ["x"])
    assert list(tmp_path.iterdir()) == []


def test_a_stage_that_forgets_an_output_fails(tmp_path):
    with pytest.raises(RuntimeError, match=r"did not write \['b'\]"):
        run_stage("data", make_config("smoke"), tmp_path, lambda out: (out / "a").write_text("1"), ["a", "b"])
    assert not (tmp_path / "data").exists()


def test_cli_data_prints_summary_and_skips_second_time(tmp_path, capsys):
    assert main(["data", "--preset", "smoke", "--run-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Dataset ml-100k" in out and "943" in out and "after filter" in out
    assert main(["data", "--preset", "smoke", "--run-dir", str(tmp_path)]) == 0
    assert "skipped" in capsys.readouterr().out


def test_cli_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["data", "--run-dir", str(tmp_path), "--set", "data.nope=1"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'data.nope'" in err and "data.source" in err
    assert not (tmp_path / "data").exists()


def test_cli_config_lists_keys(capsys):
    assert main(["config", "--keys"]) == 0
    keys = capsys.readouterr().out.split()
    assert "data.source" in keys and "seed" in keys


def test_cli_run_chains_stages(tmp_path, capsys):
    """`run` runs every stage once, in pipeline order, each reading the one before; the
    second `run` skips them all and prints the same results table."""
    from lcrec_mini.core.stage import STAGES, read_stage_config

    folders = list(STAGES)  # one name per stage: the CLI command is the folder's name
    assert main(["run", "--preset", "smoke", "--run-dir", str(tmp_path)]) == 0
    first = capsys.readouterr().out
    log = [json.loads(line)["stage"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log == folders
    for f in folders:
        meta = read_stage_config(tmp_path / f)
        assert meta is not None and meta["preset"] == "smoke", f
    tasks_fp = read_stage_config(tmp_path / "tasks")["fingerprint"]
    assert read_stage_config(tmp_path / "tune")["upstream"] == {"tasks": tasks_fp}
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert 0 <= metrics["hr@10"] <= 1 and metrics["invalid_rate"] == 0.0
    assert "most popular" in first and "SASRec" in first
    assert main(["run", "--preset", "smoke", "--run-dir", str(tmp_path)]) == 0
    second = capsys.readouterr()
    assert (second.out + second.err).count("up to date") == len(STAGES)
    assert len((tmp_path / "log.jsonl").read_text().splitlines()) == len(STAGES)
    # the paper's analyses of this run: intention on every evaluated user, case studies
    assert main(["analyze", "--preset", "smoke", "--run-dir", str(tmp_path), "--items", "4"]) == 0
    out = capsys.readouterr().out
    it = json.loads((tmp_path / "analyses" / "intention.json").read_text())
    assert set(it) - {"made_by"} == {"query", "query+history", "history"}
    assert {it[k]["n_users"] for k in ("query", "query+history", "history")} == {metrics["n_users"]}
    cs = json.loads((tmp_path / "analyses" / "case_studies.json").read_text())
    assert cs["items"] == len(cs["prefix_generation"]) == 4 and 0 < cs["distinct_title_share"] <= 1
    assert len(cs["title_overlap_se_by_prefix_length"]) == 3
    assert "Fig. 3:" in out and "Fig. 5a: too few items (4)" in out
    assert main(["analyze", "--preset", "smoke", "--run-dir", str(tmp_path), "--items", "4"]) == 0
    assert capsys.readouterr().out.count("kept from") == 2


def test_out_of_order_stage_names_the_one_command_with_the_preset(tmp_path, capsys):
    from lcrec_mini.core.cli import main

    run_dir = tmp_path / "empty"
    rc = main(["eval", "--preset", "smoke", "--run-dir", str(run_dir)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert f"run `lcrec-mini run --preset smoke --run-dir {run_dir}`" in err
    assert "lacks data, embed, index, tasks, tune" in err
    assert not run_dir.exists()  # nothing made in a folder the stage could not run in
    # only the stage right before is missing: that stage's own command
    main(["data", "--preset", "smoke", "--run-dir", str(run_dir)])
    capsys.readouterr()
    assert main(["embed", "--preset", "smoke", "--run-dir", str(run_dir)]) == 0
    capsys.readouterr()
    assert main(["tasks", "--preset", "smoke", "--run-dir", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert f"run `lcrec-mini index --preset smoke --run-dir {run_dir}` first" in err


def test_a_stage_without_its_inputs_names_the_command_that_builds_them(tmp_path, capsys):
    from lcrec_mini.core.cli import main

    main(["data", "--preset", "smoke", "--run-dir", str(tmp_path)])
    capsys.readouterr()
    assert main(["eval", "--preset", "smoke", "--run-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "has not been run" in err and "lcrec-mini run --preset smoke" in err


# -- bad inputs: one line, rc 2, in under 2 s, nothing computed -----------------------------


def _cli(args, capsys):
    import time

    from lcrec_mini.core.cli import main

    t0 = time.perf_counter()
    rc = main(args)
    err = capsys.readouterr().err.strip()
    return rc, err, time.perf_counter() - t0


def test_a_run_folder_that_is_a_file_is_refused(tmp_path, capsys):
    f = tmp_path / "notafolder"
    f.write_text("x")
    rc, err, sec = _cli(["run", "--preset", "smoke", "--run-dir", str(f)], capsys)
    assert rc == 2 and len(err.splitlines()) == 1 and sec < 2, err
    assert f"run folder {f}: a file of that name exists" in err
    assert f.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_run_folder_is_refused(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        rc, err, sec = _cli(["data", "--preset", "smoke", "--run-dir", str(ro / "run")], capsys)
    finally:
        ro.chmod(0o700)
    assert rc == 2 and len(err.splitlines()) == 1 and sec < 2, err
    assert "is not writable" in err and not (ro / "run").exists()


def test_the_writability_check_follows_the_permissions(tmp_path, monkeypatch):
    """The same check as above, run as root too: os.access saying no is an error."""
    from lcrec_mini.core.errors import DataError
    from lcrec_mini.core.stage import check_run_dir

    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(DataError, match="is not writable by this user"):
        check_run_dir(tmp_path / "run")


def test_a_second_writer_is_refused_and_a_stale_lock_taken_over(tmp_path, capsys):
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (run_dir / ".lock").write_text(f"{holder.pid}\n")
        rc, err, sec = _cli(["data", "--preset", "smoke", "--run-dir", str(run_dir)], capsys)
        assert rc == 2 and len(err.splitlines()) == 1 and sec < 2, err
        assert f"in use by process {holder.pid}" in err and f"tail --pid={holder.pid}" in err
        assert not (run_dir / "data").exists()
    finally:
        holder.kill()
        holder.wait()
    # the holder is gone: its lock is stale, taken over, and released at the end
    rc, err, _ = _cli(["data", "--preset", "smoke", "--run-dir", str(run_dir)], capsys)
    assert rc == 0 and f"process {holder.pid} no longer runs; taking over its lock" in err
    assert (run_dir / "data" / "items.json").exists() and not (run_dir / ".lock").exists()


def test_an_index_too_small_for_the_items_is_refused_before_embedding(tmp_path, capsys):
    run_dir = tmp_path / "run"
    sets = ["--set", "index.levels=1", "--set", "index.codebook_size=16"]
    rc, err, sec = _cli(["run", "--preset", "smoke", "--run-dir", str(run_dir), *sets], capsys)
    assert rc == 2 and sec < 2, err
    assert err.splitlines()[-1].startswith("lcrec-mini: error: index.codebook_size^index.levels = 16^1 = 16 indices")
    assert (run_dir / "data" / "items.json").exists() and not (run_dir / "embed").exists()


def test_a_notebook_stage_runs_the_stages_it_needs_first(tmp_path, capsys):
    """A notebook opened alone (a fresh Colab runtime) finds an empty run folder: the
    stages its stage reads run first, each announced, then the stage itself."""
    from lcrec_mini.book.notebook import setup, stage

    env = setup("smoke", tmp_path / "run", quiet=True)
    res = stage("index", env)
    out = capsys.readouterr().out
    assert not res.skipped and (tmp_path / "run" / "index" / "codes.json").exists()
    assert "[data] not in" in out and "the index stage needs it, so it runs first" in out
    assert "[embed] not in" in out and "[embed] done in" in out
    assert out.index("[data] not in") < out.index("[embed] not in")
    # the same stage again: one short line, no skip notice, no summary printed twice
    stage("index", env)
    again = capsys.readouterr().out.strip().splitlines()
    assert again == [f"[index] up to date in {Path(os.path.relpath(tmp_path / 'run')) / 'index'}"], again
