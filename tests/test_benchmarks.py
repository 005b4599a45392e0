"""The benchmark scripts refuse inputs they would silently mismeasure."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
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
    ranks = {"lcrec-format": [None, None, None, None], "+ all-position": [1, None, None, None],
             "+ index softmax": [1, 1, None, None]}  # per user: the rank of the held-out item
    for (name, rs), seed in [(x, s) for x in ranks.items() for s in (42, 43)]:
        d = tmp_path / "work" / levers.variant_dir(name) / f"s{seed}"
        (d / "eval").mkdir(parents=True)
        (d / "tune").mkdir()
        (d / "eval" / "metrics.json").write_text(json.dumps({"hr@10": sum(r is not None for r in rs) / 4,
                                                             "ndcg@10": sum(r is not None for r in rs) / 4}))
        (d / "eval" / "predictions.jsonl").write_text(
            "".join(json.dumps({"user": u, "rank": r}) + "\n" for u, r in enumerate(rs)))
        (d / "tune" / "train_stats.json").write_text(json.dumps({"steps": 10, "tokens_per_second": 100.0,
                                                                 "train_seconds": 50.0}))
        (d / "commit.txt").write_text("abc1234\n")
    text = levers.table(tmp_path / "work", 5000, src, [42, 43])
    rows = {r.split(" | ")[0].strip("| "): [c.strip(" |") for c in r.split(" | ")]
            for r in text.splitlines() if r.startswith("| ") and "variant" not in r}
    assert rows["lcrec-format"][5:] == ["", "", "", "", ""]
    assert rows["+ all-position"][5] == "+0.2500" and rows["+ all-position"][7] == "+0.2500"
    # the second lever: +0.5 over lcrec-format, but its own effect is +0.25 over the row above
    assert rows["+ index softmax"][5] == "+0.5000" and rows["+ index softmax"][7] == "+0.2500"
    assert rows["+ index softmax"][2] == "5,000"
    assert rows["+ index softmax"][9] == "not resolved"  # 4 users: 2 SE of +0.25 is wider than that
    assert "training seeds 42, 43" in text
    assert "Variants trained at commit abc1234" in text and "text-only indices" in text
    assert text.rstrip().splitlines()[-1].startswith("Processor: ")


def test_compute_curve_averages_seeds_and_counts_them_in_the_error():
    cc = load("compute_curve")
    curves = [{100: {"train_seconds": 60, "ranks": {"1": 1, "2": None, "3": 5}},
               200: {"train_seconds": 120, "ranks": {"1": 1, "2": 3, "3": 5}}},
              {100: {"train_seconds": 62, "ranks": {"1": None, "2": None, "3": 5}},
               200: {"train_seconds": 122, "ranks": {"1": 1, "2": None, "3": 5}},
               300: {"train_seconds": 182, "ranks": {"1": 1, "2": 3, "3": 2}}}]
    rows = cc.aggregate(curves, {"1": None, "2": None, "3": 9}, {"1": 1, "2": 1, "3": 1})
    assert [r["step"] for r in rows] == [100, 200]  # only the steps every seed has
    r = rows[0]
    assert r["seeds"] == 2 and r["minutes"] == pytest.approx(61 / 60)
    by_seed = [(1 + 1 / 2.585) / 3, (1 / 2.585) / 3]  # NDCG@10 of ranks (1, -, 5) and (-, -, 5)
    assert r["ndcg@10_by_seed"] == pytest.approx(by_seed, rel=1e-3)
    assert r["ndcg@10"] == pytest.approx(sum(by_seed) / 2, rel=1e-3)
    assert r["minus_sasrec"] == pytest.approx(r["ndcg@10"] - 1.0, rel=1e-3)
    users_only = np.std([(1 + 0) / 2, 0, 1 / 2.585], ddof=1) / np.sqrt(3)  # seed-averaged per-user NDCG
    seeds_var = np.var(by_seed, ddof=1) / 2
    assert r["se_ndcg@10"] == pytest.approx(np.sqrt(users_only ** 2 + seeds_var), rel=1e-3)
    # a curve rising as log(minutes) reaches its target where the fit says
    rows = [{"minutes": m, "seeds": 2, "ndcg@10_by_seed": [0.01 * np.log(m), 0.02 * np.log(m)]} for m in (10, 20, 40)]
    up, faster = cc.crossing_minutes(rows, 0.05)
    assert up == pytest.approx(np.exp(5)) and faster == pytest.approx(np.exp(2.5))
    flat = [{"minutes": m, "seeds": 1, "ndcg@10_by_seed": [0.03]} for m in (10, 20, 40)]
    assert cc.crossing_minutes(flat, 0.05) == [None]


def _study_row(ranks_by_seed: dict[str, list]) -> dict:
    from lcrec_mini.analyses.claims import seed_means
    from lcrec_mini.generate.metrics import rank_metrics

    seeds = {s: {**rank_metrics(r), "n_users": len(r), "ranks": r} for s, r in ranks_by_seed.items()}
    return {"seeds": seeds, **seed_means(seeds)}


def test_study_lever_refuses_a_study_it_cannot_pair_with(tmp_path):
    lever = load("study_lever")
    with pytest.raises(SystemExit, match="results.json not found"):
        lever.check_study(tmp_path, [42, 43, 44], "cpu")
    budget = lever.study_budget("cpu")  # the record a cpu study writes (tokens, users, seeds, precision)
    row = _study_row({"42": [1, None, 3]})
    res = {"preset": "cpu", "budget": budget, "seed": 42, "runs": {"index-lcrec-all": row}}
    (tmp_path / "results.json").write_text(json.dumps({**res, "preset": "smoke"}))
    with pytest.raises(SystemExit, match="preset 'smoke'"):  # another preset's study: refused
        lever.check_study(tmp_path, [42, 43, 44], "cpu")
    (tmp_path / "results.json").write_text(json.dumps(res))
    with pytest.raises(SystemExit, match=r"training seeds \[42\], not \[43, 44\]"):
        lever.check_study(tmp_path, [42, 43, 44], "cpu")
    assert lever.check_study(tmp_path, [42], "cpu")["seed"] == 42
    # a seed without per-user ranks would drop the pairing from the standard error: refused
    row["seeds"]["42"]["ranks"] = None
    (tmp_path / "results.json").write_text(json.dumps(res))
    with pytest.raises(SystemExit, match="per-user ranks"):
        lever.check_study(tmp_path, [42], "cpu")
    with pytest.raises(SystemExit, match="per-user ranks"):
        lever.check_paired(_study_row({"42": [1, None, 3]})["seeds"], "x", n_users=4)
    # each lever's configuration is the study's main one with one thing changed
    assert lever.LEVERS["cf-sasrec"].run.overrides == {**lever.MAIN.overrides, "embed.cf_source": "sasrec"}
    assert lever.LEVERS["bf16"].run.overrides == {**lever.MAIN.overrides, "tune.precision": "bf16"}


def test_study_lever_verdict_counts_the_seeds():
    lever = load("study_lever")
    users = 400
    same = [1 if u % 4 == 0 else None for u in range(users)]
    cooc = _study_row({s: same for s in ("42", "43", "44")})
    # the SASRec side finds many more held-out items with every seed: holds
    better = _study_row({s: [1 if u % 2 == 0 else None for u in range(users)] for s in ("42", "43", "44")})
    out = lever.compare(better, cooc)
    assert out["seeds"] == [42, 43, 44] and out["ndcg@10"]["verdict"] == "holds"
    # one seed far better, two far worse: the seed spread swamps the mean, so not resolved
    swing = _study_row({"42": [1] * users, "43": [None] * users, "44": same})
    out = lever.compare(swing, cooc)
    assert out["hr@10"]["difference"] > 0 and out["hr@10"]["verdict"] == "not resolved"
    text = lever.table(out, "cpu", 44_000, 42, 30.0)
    assert "| NDCG@10 |" in text and "training seeds 42, 43, 44" in text and "built once" in text
    assert "| metric | co-occurrence (study) | SASRec table | SASRec table - co-occurrence |" in text
    text = lever.table(out, "cpu", 44_000, 42, 30.0, lever.LEVERS["bf16"], ("3.6 / 3.7 / 3.5", "2.5 / 2.4 / 2.6"))
    assert "| metric | float32 (study) | bf16 | bf16 - float32 |" in text and "bf16 2.5 / 2.4 / 2.6" in text
    assert text.rstrip().splitlines()[-1].startswith("Processor: ")  # last: the book's include stops before it


def test_study_lever_matches_time_from_the_studys_own_rates():
    """seqrec-time: the tokens that the seqrec-only runs' rate buys in the all-task runs'
    median tuning time; a resumed tune (which timed only its tail) is left out, and a study
    without both timings is refused by name."""
    lever = load("study_lever")

    def row(seconds, tokens, resumed=0):
        return {"tune_seconds": seconds, "tune_tokens": tokens, "tune_resumed_from_step": resumed}

    res = {"runs": {"index-lcrec-all": {"seeds": {"42": row(200, 40_000), "43": row(20, 4_000, resumed=50),
                                                  "44": row(220, 44_000)}},
                    "index-lcrec-seq": {"seeds": {"42": row(100, 15_000), "43": row(100, 16_000), "44": row(100, 17_000)}}}}
    tokens, seconds, rate = lever.time_matched_tokens(res, "index-lcrec-seq", [42, 43, 44])
    assert (seconds, rate) == (210, 160) and tokens == 210 * 160
    del res["runs"]["index-lcrec-seq"]
    with pytest.raises(SystemExit, match="no whole tuning time of index-lcrec-seq"):
        lever.time_matched_tokens(res, "index-lcrec-seq", [42, 43, 44])
    assert lever.LEVERS["seqrec-time"].run.overrides["tasks.tasks"] == ["seqrec"]


def test_study_lever_minutes_count_every_stage_that_ran_once(tmp_path):
    """The stages' minutes come from each run's log.jsonl (only eval writes a timing.json):
    a stage shared by the seeds (copied, so absent from a copy's log) counts once, a line of
    an older output of the stage (another fingerprint) not at all."""
    lever = load("study_lever")

    def run(name, stages, log):
        d = tmp_path / name
        for st, fp in stages.items():
            (d / st).mkdir(parents=True)
            (d / st / "config.json").write_text(json.dumps({"stage": st, "fingerprint": fp}))
        (d / "log.jsonl").write_text("".join(json.dumps({"stage": st, "fingerprint": fp, "seconds": sec}) + "\n"
                                             for st, fp, sec in log))
        return d

    a = run("s42", {"embed": "e", "tune": "t42", "eval": "v42"},
            [("embed", "e", 120.0), ("tune", "old", 999.0), ("tune", "t42", 300.0), ("eval", "v42", 60.0)])
    b = run("s43", {"embed": "e", "tune": "t43", "eval": "v43"}, [("tune", "t43", 240.0), ("eval", "v43", 60.0)])
    assert lever.stage_minutes([a, b]) == pytest.approx((120 + 300 + 60 + 240 + 60) / 60)


def test_study_lever_refuses_bad_arguments_before_any_work(tmp_path, monkeypatch):
    lever = load("study_lever")
    for argv, msg in ((["--seeds", "42", "42", "42"], "at least 3 different seeds"),
                      (["--preset", "huge"], "--preset 'huge'"),
                      (["--out", str(tmp_path / "no" / "x.md")], "does not exist"),
                      (["--study-dir", str(tmp_path)], "results.json not found")):
        monkeypatch.setattr(sys, "argv", ["study_lever.py", *argv])
        with pytest.raises(SystemExit, match=msg):
            lever.main()
    # bf16 is measured only where it is native (a CPU with AVX-512 BF16 or AMX, or a GPU)
    monkeypatch.setattr(lever, "_cuda", lambda: False)
    for native, msg in ((False, "needs native bf16"), (True, "results.json not found")):
        monkeypatch.setattr(lever, "cpu_has_native_bf16", lambda native=native: native)
        monkeypatch.setattr(sys, "argv", ["study_lever.py", "--lever", "bf16", "--study-dir", str(tmp_path)])
        with pytest.raises(SystemExit, match=msg):
            lever.main()


def test_bench_tune_refuses_a_bad_set_before_any_work(tmp_path, monkeypatch):
    bench = load("bench_tune")
    for sets, msg in ((["tune.bogus=1"], "--set: unknown config key 'tune.bogus'"),
                      (["tune.lora_dropout=7"], "--set: tune.lora_dropout = 7.0: expected a number in")):
        argv = ["bench_tune.py", "--run-dir", str(tmp_path / "none"), "--work", str(tmp_path / "w")]
        monkeypatch.setattr(sys, "argv", argv + [a for kv in sets for a in ("--set", kv)])
        with pytest.raises(SystemExit, match=msg):
            bench.main()
    assert not (tmp_path / "w").exists()


def test_compute_curve_names_a_measured_crossing_only_when_it_lasts():
    cc = load("compute_curve")
    rows = [{"step": s, "minutes": s / 10, "minus_sasrec": d, "se_minus_sasrec": 0.001}
            for s, d in ((100, -0.01), (200, 0.01), (300, -0.01), (400, 0.01), (500, 0.02))]
    assert cc.measured_crossing(rows)["step"] == 400  # 200 is above, but 300 falls back
    assert cc.measured_crossing(rows[:3]) is None


def test_compute_curve_help_does_not_import_torch():
    """--help and the refusals come before torch and transformers (seconds to import)."""
    import subprocess

    script = BENCH / "compute_curve.py"
    code = (f"import runpy, sys\nsys.path.insert(0, {str(BENCH)!r})\nsys.argv = [{str(script)!r}, '--help']\n"
            f"try:\n    runpy.run_path({str(script)!r}, run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False False"


def test_cpu_line_names_the_generation_and_the_kernel_flags():
    """Some virtual machines name only the vendor ("AMD EPYC"): the family and model numbers
    tell Zen 3 from Zen 4, and the flags which kernels (and whether native bf16) PyTorch has."""
    from lcrec_mini.core.runtime import cpu_line

    zen3 = ("processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n"
            "flags\t\t: fpu sse avx2 fma\n\nprocessor\t: 1\ncpu family\t: 25\nmodel\t\t: 1\nmodel name\t: AMD EPYC\n")
    line = cpu_line(zen3)
    assert line.startswith("AMD EPYC (family 25, model 1);") and "flags avx2 fma;" in line
    assert line.endswith("; no native bf16")
    zen4 = zen3.replace("model\t\t: 1\n", "model\t\t: 17\n", 1).replace("fma", "fma avx512f avx512_bf16")
    assert "(family 25, model 17)" in cpu_line(zen4) and "avx512f avx512_bf16" in cpu_line(zen4)
    assert cpu_line(zen4).endswith("; native bf16")
    assert cpu_line("").startswith("unknown CPU;")


def test_compute_curve_reuses_a_point_only_for_the_same_decoder(tmp_path, monkeypatch):
    """A curve point decoded one way is not reused for another, and the final model's point
    comes from the eval stage only when that stage decoded as the curve does."""
    import lcrec_mini.generate.stage as gs
    from lcrec_mini.core.config import make_config

    cc = load("compute_curve")
    rd = tmp_path / "run"
    for d in ("tune/snapshots/step-1", "tune/model", "eval", "tasks"):
        (rd / d).mkdir(parents=True)
    (rd / "tune" / "config.json").write_text(json.dumps({"fingerprint": "fp1"}))
    (rd / "tune" / "train_stats.json").write_text(json.dumps({"steps": 2, "train_seconds": 10.0}))
    (rd / "tune" / "snapshots" / "step-1" / "snapshot.json").write_text(json.dumps({"train_seconds": 5.0}))
    (rd / "tasks" / "test.jsonl").write_text("".join(json.dumps({"task": "seqrec", "user": u}) + "\n" for u in (0, 1)))
    (rd / "eval" / "config.json").write_text(json.dumps({"config": {"eval": {"beams": 20, "softmax": "index",
                                                                              "exclude_history": True}}}))
    (rd / "eval" / "metrics.json").write_text(json.dumps({"n_users": 2, "templates": 1, "hr@10": 1.0, "ndcg@10": 1.0}))
    (rd / "eval" / "predictions.jsonl").write_text("".join(json.dumps({"user": u, "rank": 1}) + "\n" for u in (0, 1)))
    calls = []
    monkeypatch.setattr(gs.Ranker, "load", classmethod(lambda cls, *a, **k: object()))

    def score(rk, tests, ec):
        calls.append(ec.softmax)
        return {"hr@10": 0.5, "ndcg@10": 0.25}, [{"user": 0, "rank": 1}, {"user": 1, "rank": None}]

    monkeypatch.setattr(gs, "score_tests", score)
    vocab = cc.score_points(rd, make_config("cpu"))
    assert calls == ["vocabulary", "vocabulary"]  # the final model too: its eval stage normalised over the index
    assert vocab[2]["metrics"]["ndcg@10"] == 0.25
    calls.clear()
    cc.score_points(rd, make_config("cpu"))
    assert calls == []  # both points kept and reused
    index = cc.score_points(rd, make_config("cpu", {"eval.softmax": "index"}))
    assert calls == ["index"]  # the snapshot scored again; the final point is the eval stage's
    assert index[2]["metrics"]["ndcg@10"] == 1.0
    # the history rule counts as part of the decoder: without it both points are scored again
    calls.clear()
    cc.score_points(rd, make_config("cpu", {"eval.softmax": "index", "eval.exclude_history": False}))
    assert calls == ["index", "index"]


def test_title_passes_refuses_bad_arguments_before_any_work(tmp_path, monkeypatch):
    title_passes = load("title_passes")
    work = tmp_path / "work"
    monkeypatch.setattr(sys, "argv", ["title_passes.py", "--run-dir", str(tmp_path), "--work", str(work), "--passes", "0"])
    with pytest.raises(SystemExit, match="--passes 0 / --items 100: expected at least 1 pass and 2 items"):
        title_passes.main()
    for argv, msg in ((["--preset", "huge"], "--preset 'huge'"), (["--out", str(tmp_path / "no" / "x.md")], "does not exist")):
        monkeypatch.setattr(sys, "argv", ["title_passes.py", "--run-dir", str(tmp_path), "--work", str(work), *argv])
        with pytest.raises(SystemExit, match=msg):
            title_passes.main()
    monkeypatch.setattr(sys, "argv", ["title_passes.py", "--run-dir", str(tmp_path), "--work", str(work)])
    with pytest.raises(SystemExit, match=r"data is missing; run `lcrec-mini run --preset cpu --run-dir"):
        title_passes.main()
    assert not work.exists()


def _seed_run(root: Path, name: str, seed: int | None, ranks: list, dropout: float = 0.0, users: list | None = None) -> Path:
    """A finished run folder as compare_seeds reads it: the tune's config and the eval's ranks."""
    d = root / name
    (d / "tune").mkdir(parents=True)
    (d / "eval").mkdir()
    tune = {"lora_dropout": dropout, "lr": 1e-3, **({} if seed is None else {"seed": seed})}
    (d / "tune" / "config.json").write_text(json.dumps({"stage": "tune", "config": {"seed": 42, "tune": tune}}))
    users = users if users is not None else list(range(len(ranks)))
    (d / "eval" / "predictions.jsonl").write_text(
        "".join(json.dumps({"user": u, "target": 7, "rank": r}) + "\n" for u, r in zip(users, ranks)))
    (d / "baselines").mkdir()
    (d / "baselines" / "ranks.json").write_text(json.dumps({"users": users, "most_popular": [None] * len(ranks),
                                                           "sasrec": [1] * len(ranks)}))
    return d


def test_compare_seeds_counts_the_seeds_in_the_error(tmp_path, capsys):
    cs = load("compare_seeds")
    n = 400
    steady = [1 if u % 4 == 0 else None for u in range(n)]
    runs = [_seed_run(tmp_path, f"s{s}", None if s == 42 else s, steady) for s in (42, 43, 44)]
    spec = ",".join(map(str, runs))
    cs.main(["--a", spec, "--b", "pop", "--label-a", "lc"])
    out = capsys.readouterr().out
    # three equal seeds, a quarter of the users hit at rank 1 against none: holds, seeds named (42: the run's own)
    assert "| NDCG@10 | 0.2500 / 0.2500 / 0.2500 | 0.2500 |" in out and "seeds 42, 43, 44" in out and "| holds |" in out
    # the same mean spread over seeds that disagree: one seed finds everyone, one no one
    swing = [_seed_run(tmp_path, f"w{s}", s, r) for s, r in ((42, [1] * n), (43, [None] * n), (44, steady))]
    rows = cs.compare(cs.read_side(",".join(map(str, swing)), None), cs.read_side("pop", swing[0]))
    assert rows[0]["diff"] > 0 and rows[0]["verdict"] == "not resolved" and rows[0]["se"] > 0.2
    # SASRec finds every held-out item at rank 1: LC-Rec below it
    cs.main(["--a", spec, "--b", "sasrec", "--out", str(tmp_path / "t.md")])
    assert "does not hold" in (tmp_path / "t.md").read_text()


def test_compare_seeds_refuses_what_it_cannot_pair(tmp_path):
    cs = load("compare_seeds")
    ranks = [1, None, 3, None]
    a = _seed_run(tmp_path, "a", 43, ranks)
    for b, msg in ((_seed_run(tmp_path, "dup", 43, ranks), "the same tune.seed"),
                   (_seed_run(tmp_path, "drop", 44, ranks, dropout=0.05), "differs from .* in tune.lora_dropout"),
                   (_seed_run(tmp_path, "other", 45, ranks, users=[9, 8, 7, 6]), "ranked other users"),
                   (tmp_path / "empty", "predictions.jsonl is missing")):
        with pytest.raises(SystemExit, match=msg):
            cs.read_side(f"{a},{b}", None)
    with pytest.raises(SystemExit, match="a baseline goes on --b"):
        cs.main(["--a", "pop", "--b", str(a)])
    with pytest.raises(SystemExit, match="different test users"):
        cs.compare(cs.read_side(str(a), None), cs.read_side(str(_seed_run(tmp_path, "five", 46, ranks + [1])), None))


def test_tune_sasrec_refuses_a_stage_row_of_the_other_ranking_before_any_work(tmp_path, monkeypatch):
    """The sweep ranks as the cpu preset does (the history left out); a `--stage-run` whose
    baselines ranked every item would not compare, and is refused before any training."""
    tune_sasrec = load("tune_sasrec")
    stage = tmp_path / "stage"
    (stage / "baselines").mkdir(parents=True)
    (stage / "baselines" / "metrics.json").write_text(json.dumps({"sasrec": {"best_valid_ndcg@10": 0.1}, "exclude_history": False}))
    monkeypatch.setattr(tune_sasrec, "run_variant", lambda *a, **k: pytest.fail("trained before refusing"))
    monkeypatch.setattr(sys, "argv", ["tune_sasrec.py", "--run-dir", str(tmp_path), "--stage-run", str(stage)])
    with pytest.raises(SystemExit, match="without the history rule"):
        tune_sasrec.main()
    assert not list(tmp_path.glob("sasrec_sweep*.json"))
