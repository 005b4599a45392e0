"""Metrics against hand-computed values, and the evaluate stage on the smoke preset."""

import contextlib
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from lcrec_mini.core.config import make_config
from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.generate.metrics import rank_metrics, rank_of


def test_metrics_hand_computed():
    # three users: target ranked 1st, 3rd, and not in the list
    ranks = [rank_of(7, [7, 1, 2]), rank_of(5, [1, 2, 5, 9]), rank_of(4, [1, 2, 3])]
    assert ranks == [1, 3, None]
    m = rank_metrics(ranks)
    assert m["hr@1"] == pytest.approx(1 / 3)
    assert m["hr@5"] == pytest.approx(2 / 3) and m["hr@10"] == pytest.approx(2 / 3)
    # NDCG@5 = (1/log2(2) + 1/log2(4) + 0) / 3 = (1 + 0.5) / 3
    assert m["ndcg@5"] == pytest.approx(0.5)
    assert m["ndcg@10"] == pytest.approx(0.5)
    # rank 6: counts for @10 only; 1/log2(7)
    m6 = rank_metrics([6])
    assert m6["hr@5"] == 0 and m6["hr@10"] == 1 and m6["ndcg@10"] == pytest.approx(1 / math.log2(7))
    assert set(m) == {"hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10"}
    with pytest.raises(DataError, match="no test users"):
        rank_metrics([])


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    """One smoke run of every stage; (run_dir, what `lcrec-mini run` printed)."""
    from lcrec_mini.core.cli import main

    run_dir = tmp_path_factory.mktemp("smoke")
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["run", "--preset", "smoke", "--run-dir", str(run_dir)]) == 0
    return run_dir, buf.getvalue()


def copy_run(src, dst, stages=("data", "embed", "index", "tasks", "tune")):
    for d in stages:
        shutil.copytree(src / d, dst / d)
    return dst


def assert_no_eval_output(run_dir):
    assert not (run_dir / "eval").exists()
    assert not list(run_dir.glob(".eval.tmp-*"))


def test_smoke_evaluate_writes_metrics_and_predictions(smoke_run):
    tmp_path, _ = smoke_run
    m = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    for k in ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "n_users", "invalid_rate", "preset", "model", "seed"):
        assert k in m
    assert m["n_users"] == 20 and m["invalid_rate"] == 0.0 and m["preset"] == "smoke"
    preds = [json.loads(l) for l in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 20 and all(len(p["ranked"]) == 20 for p in preds)
    assert all(p["scores"] == sorted(p["scores"], reverse=True) for p in preds)


def test_most_popular_counts_training_interactions_only():
    from lcrec_mini.baselines.stage import most_popular

    assert most_popular([[0, 1, 1], [1, 2], [2]], n_items=4, k=3) == [1, 2, 0]
    assert most_popular([[3]], n_items=4, k=4) == [3, 0, 1, 2]  # ties: lower id first


def test_popular_lists_leave_out_each_history_only_when_asked():
    from lcrec_mini.baselines.stage import popular_lists

    train = [[0, 1, 1, 2], [1, 2, 3], [2]]  # counts: 2 -> 3, 1 -> 3, 0 -> 1, 3 -> 1
    assert popular_lists(train, [[1], []], n_items=5, k=3) == [[1, 2, 0]] * 2
    assert popular_lists(train, [[1], [2, 0]], n_items=5, k=3, exclude_history=True) == [[2, 0, 3], [1, 3, 4]]


def test_sasrec_leaves_out_its_input_items_when_asked():
    """On a cycle SASRec would rank the item it just saw high as well; with
    ``exclude_history`` no item of its input is in its list, and the rest keep their order."""
    from lcrec_mini.baselines.sasrec import sasrec_rank, train_sasrec

    seqs = [[(u + t) % 10 for t in range(30)] for u in range(20)]
    cfg = make_config("cpu", set_items=["baselines.sasrec_epochs=4", "baselines.max_len=5"]).baselines
    model, _ = train_sasrec([s[:-2] for s in seqs], [(s[:-2][-5:], s[-2]) for s in seqs], 10, cfg, seed=0)
    hists = [s[:-1][-5:] for s in seqs]
    full = sasrec_rank(model, hists, k=10)
    kept = sasrec_rank(model, hists, k=5, exclude_history=True)
    for h, f, k in zip(hists, full, kept):
        assert not set(k) & set(h) and len(k) == 5
        assert k == [i for i in f if i not in h]  # the others in the same order


def test_exclude_history_leaves_the_prompt_items_out_of_every_list(smoke_run, tmp_path):
    """``eval.exclude_history``: no LC-Rec list holds an item of its prompt's history, no
    baseline list an item of SASRec's input; the baselines are redone (their fingerprint
    counts the rule) and every metrics file says which rule ranked it."""
    from lcrec_mini.core.cli import main
    from lcrec_mini.core.config import make_config as mk

    first, _ = smoke_run
    run_dir = copy_run(first, tmp_path / "excl", stages=("data", "embed", "index", "tasks", "tune", "baselines"))
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--preset", "smoke", "--run-dir", str(run_dir), "--set", "eval.exclude_history=true"]) == 0
    assert mk("smoke").fingerprint("baselines") != mk("smoke", set_items=["eval.exclude_history=true"]).fingerprint("baselines")
    tests = {e["user"]: e for e in map(json.loads, (run_dir / "tasks" / "test.jsonl").read_text().splitlines())
             if e["task"] == "seqrec"}
    preds = [json.loads(l) for l in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert preds and all(not set(p["ranked"]) & set(tests[p["user"]]["history"]) for p in preds)
    before = [json.loads(l) for l in (first / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert any(set(p["ranked"]) & set(tests[p["user"]]["history"]) for p in before)  # the rule had work to do
    from lcrec_mini.generate.stage import history_in_top

    assert history_in_top(run_dir) == 0 and history_in_top(first, k=20) > 0
    assert json.loads((run_dir / "eval" / "metrics.json").read_text())["exclude_history"] is True
    b = json.loads((run_dir / "baselines" / "metrics.json").read_text())
    assert b["exclude_history"] is True and json.loads((first / "baselines" / "metrics.json").read_text())["exclude_history"] is False
    # beside published numbers (which rank without the rule) this run's rows say so, the first run's do not
    from lcrec_mini.book.published import beside_published

    ours = [r["system (model)"] for r in beside_published(run_dir) if r["source"] == "this run"]
    assert len(ours) == 3 and all("history left out" in r for r in ours)
    assert not any("history left out" in r["system (model)"] for r in beside_published(first))
    # the book's worked user is decoded as the eval stage decoded: the same list
    from lcrec_mini.book.diagrams import beam_example

    ex = beam_example(run_dir, preds[0]["user"])
    assert ex["ranked"] == preds[0]["ranked"][:10] and ex["rank"] == preds[0]["rank"]
    # most popular: the same list less each user's seen items, so a target can only move up
    now, was = (json.loads((d / "baselines" / "ranks.json").read_text())["most_popular"] for d in (run_dir, first))
    pairs = [(a, b) for a, b in zip(now, was) if a is not None and b is not None]
    assert pairs and all(a <= b for a, b in pairs) and any(a < b for a, b in pairs)


def test_sasrec_learns_a_deterministic_cycle():
    from lcrec_mini.baselines.sasrec import sasrec_rank, train_sasrec

    # every user walks the same cycle 0 -> 1 -> ... -> 9 -> 0: the next item is obvious
    seqs = [[(u + t) % 10 for t in range(30)] for u in range(20)]
    cfg = make_config("cpu", set_items=["baselines.sasrec_epochs=30", "baselines.max_len=5"]).baselines
    valid = [(s[:-2][-5:], s[-2]) for s in seqs]
    model, hist = train_sasrec([s[:-2] for s in seqs], valid, 10, cfg, seed=0)
    ranked = sasrec_rank(model, [s[:-1][-5:] for s in seqs], k=1)
    assert sum(r[0] == s[-1] for r, s in zip(ranked, seqs)) >= 18
    assert hist[-1]["loss"] < hist[0]["loss"]


def test_sasrec_starts_near_the_uniform_loss_and_windows_follow_the_setting():
    import math

    import torch

    from lcrec_mini.baselines.sasrec import SASRec, train_sasrec

    # small initial embeddings: the first loss is about log(n_items), not ~30 nats
    model = SASRec(1000, 64, 2, 2, 0.0, 20, init_std=0.02)
    x = torch.randint(1, 1001, (16, 20))
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(model.logits(model(x)).reshape(-1, 1000), (x - 1).reshape(-1))
    assert abs(float(loss) - math.log(1000)) < 0.1 * math.log(1000)
    seqs = [list(range(u, u + 40)) for u in range(6)]
    valid = [(s[-10:], s[-1]) for s in seqs]
    for mode in ("random", "last", "all"):
        cfg = make_config("cpu", set_items=["baselines.sasrec_epochs=2", "baselines.max_len=8", "baselines.sasrec_eval_every=1",
                                            f"baselines.sasrec_windows={mode}"]).baselines
        _, hist = train_sasrec(seqs, valid, 50, cfg, seed=0)
        assert len(hist) == 2
    with pytest.raises(ConfigError, match="sasrec_windows"):
        train_sasrec(seqs, valid, 50, make_config("cpu", set_items=["baselines.sasrec_windows=some"]).baselines, 0)


def test_run_prints_the_comparison_table(smoke_run):
    tmp_path, out = smoke_run
    assert "LC-Rec (tiny, lora)" in out and "SASRec" in out and "most popular" in out
    b = json.loads((tmp_path / "baselines" / "metrics.json").read_text())
    assert {"most_popular", "sasrec", "n_users"} <= set(b) and b["sasrec"]["epochs"] <= 3


def test_empty_test_split_is_a_clear_error(smoke_run, tmp_path):
    from lcrec_mini.generate.stage import run_evaluate

    run_dir = copy_run(smoke_run[0], tmp_path / "run")
    (run_dir / "tasks" / "test.jsonl").write_text("")
    with pytest.raises(DataError, match=r"test\.jsonl: no seqrec test examples \(the test split is empty"):
        run_evaluate(make_config("smoke"), run_dir, log=lambda m: None)
    assert_no_eval_output(run_dir)


def test_model_vocabulary_without_index_tokens_is_a_clear_error(smoke_run, tmp_path):
    from lcrec_mini.generate.stage import run_evaluate
    from lcrec_mini.tune.llm import load_tokenizer

    run_dir = copy_run(smoke_run[0], tmp_path / "run")
    # a tokenizer that never had the index tokens added, saved over the tuned one
    load_tokenizer("tiny").save_pretrained(str(run_dir / "tune" / "model"))
    with pytest.raises(DataError, match=r"tune/model: the tokenizer lacks \d+ index tokens \(first: <a_0>\)"):
        run_evaluate(make_config("smoke"), run_dir, log=lambda m: None)
    assert_no_eval_output(run_dir)


def test_duplicated_index_is_a_clear_error(smoke_run, tmp_path):
    """Two items with one index are refused where the index is read: by the tasks stage
    (index/codes.json) and by evaluate (the tasks stage's context), before any work."""
    from lcrec_mini.generate.stage import run_evaluate
    from lcrec_mini.tasks.stage import run_tasks

    run_dir = copy_run(smoke_run[0], tmp_path / "run")
    codes = json.loads((run_dir / "index" / "codes.json").read_text())
    codes["3"] = codes["1"]
    (run_dir / "index" / "codes.json").write_text(json.dumps(codes))
    with pytest.raises(DataError, match=r"codes\.json: 1 items share an index with another item, e\.g\. items \[1, 3\]"):
        run_tasks(make_config("smoke"), run_dir, force=True, log=lambda m: None)
    ctx = json.loads((run_dir / "tasks" / "context.json").read_text())  # the tasks stage kept its previous output
    ctx["index"][3] = ctx["index"][1]
    (run_dir / "tasks" / "context.json").write_text(json.dumps(ctx))
    with pytest.raises(DataError, match=r"context\.json: 1 items share an index with another item, e\.g\. items \[1, 3\]"):
        run_evaluate(make_config("smoke"), run_dir, log=lambda m: None)
    assert_no_eval_output(run_dir)


def test_results_table_scores_every_row_on_the_users_lc_rec_was_evaluated_on(smoke_run):
    """The smoke preset evaluates LC-Rec on its first 20 test users and the baselines on
    all 100: the table re-scores the baselines on those 20 from their per-user ranks."""
    from lcrec_mini.baselines.stage import comparison_rows, comparison_table
    from lcrec_mini.generate.metrics import METRIC_KEYS, rank_metrics

    run_dir, printed = smoke_run
    users = [json.loads(line)["user"] for line in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines()]
    everyone = json.loads((run_dir / "baselines" / "metrics.json").read_text())["n_users"]
    assert len(users) == 20 and everyone == 100
    ranks = json.loads((run_dir / "baselines" / "ranks.json").read_text())
    rows = {r["model"]: r for r in comparison_rows(run_dir)}
    for name, label in (("sasrec", "SASRec"), ("most_popular", "most popular")):
        by_user = dict(zip(ranks["users"], ranks[name]))
        want = rank_metrics([by_user[u] for u in users])
        assert rows[label]["test users"] == 20
        assert all(rows[label][k] == pytest.approx(want[k]) for k in METRIC_KEYS)
    assert "20 test users, the same for every row" in comparison_table(run_dir)
    assert "20 test users, the same for every row" in printed


def test_the_table_states_lc_rec_minus_each_baseline_with_its_paired_standard_error(smoke_run):
    """The differences are the table's own rows subtracted (same 20 users), and the SE is
    that of the per-user differences' mean, printed by `lcrec-mini run`."""
    import math

    from lcrec_mini.baselines.stage import comparison_rows, paired_differences

    run_dir, printed = smoke_run
    rows = {r["model"].split(" (")[0]: r for r in comparison_rows(run_dir)}
    preds = [json.loads(line) for line in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines()]
    ranks = json.loads((run_dir / "baselines" / "ranks.json").read_text())
    diffs = {d["baseline"]: d for d in paired_differences(run_dir)}
    assert set(diffs) == {"SASRec", "most popular"}
    for label, name in (("SASRec", "sasrec"), ("most popular", "most_popular")):
        d = diffs[label]
        assert d["users"] == 20
        for k in ("ndcg@10", "hr@10"):
            assert d[k][0] == pytest.approx(rows["LC-Rec"][k] - rows[label][k])
        by_user = dict(zip(ranks["users"], ranks[name]))
        hit = [float(p["rank"] is not None and p["rank"] <= 10) - float(by_user[p["user"]] is not None
                                                                        and by_user[p["user"]] <= 10) for p in preds]
        mu = sum(hit) / len(hit)
        want_se = math.sqrt(sum((x - mu) ** 2 for x in hit) / (len(hit) - 1) / len(hit))
        assert d["hr@10"][1] == pytest.approx(want_se)
        assert f"- {label:<14}NDCG@10 {d['ndcg@10'][0]:+.4f} (SE {d['ndcg@10'][1]:.4f}" in printed
    assert "LC-Rec minus each baseline, per user and paired (20 users" in printed


def test_a_second_run_of_the_seed_writes_byte_identical_metrics(smoke_run, tmp_path):
    """Determinism: the same seed and preset give the same metrics files, byte for byte;
    the wall time (which differs run to run) is kept apart in timing.json."""
    from lcrec_mini.core.cli import main
    from lcrec_mini.core.stage import stage_seconds

    first, _ = smoke_run
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--preset", "smoke", "--run-dir", str(tmp_path)]) == 0
    for stage in ("eval", "baselines"):
        assert (tmp_path / stage / "metrics.json").read_bytes() == (first / stage / "metrics.json").read_bytes(), stage
        assert "wall_seconds" not in json.loads((first / stage / "metrics.json").read_text())
        assert stage_seconds(first / stage) > 0
    assert (tmp_path / "eval" / "predictions.jsonl").read_bytes() == (first / "eval" / "predictions.jsonl").read_bytes()


def test_stage_seconds_reads_timing_json(tmp_path):
    from lcrec_mini.core.stage import stage_seconds

    assert stage_seconds(tmp_path) is None
    (tmp_path / "timing.json").write_text(json.dumps({"wall_seconds": 3.0}))
    assert stage_seconds(tmp_path) == 3.0


def test_the_book_figures_are_drawn_from_a_run(smoke_run, tmp_path):
    """tools/make_figures.py on a finished run: every diagram and the numbers of its worked
    example, and the worked user's rank is the one the eval stage recorded."""
    import importlib.util

    run_dir, _ = smoke_run
    spec = importlib.util.spec_from_file_location("make_figures", Path(__file__).parents[1] / "tools" / "make_figures.py")
    mf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mf)
    assert mf.main(["--run-dir", str(run_dir), "--out", str(tmp_path), "--item", "0"]) == 0
    for name in ("pipeline", "residual_item", "trie", "beams_user"):
        assert (tmp_path / f"{name}.png").stat().st_size > 5_000, name
    item = json.loads((tmp_path / "residual_item.json").read_text())
    assert len(item["levels"]) == len(item["stored_codes"]) == 3
    assert item["levels"][0]["residual_norm"] >= item["levels"][-1]["left_norm"]
    user = json.loads((tmp_path / "beams_user.json").read_text())
    pred = next(json.loads(line) for line in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines()
                if json.loads(line)["user"] == user["user"])
    assert user["rank"] == pred["rank"] and user["ranked"] == pred["ranked"][:10]
    assert len(user["levels"]) == 3 and user["ndcg@10"] == (0.0 if user["rank"] is None or user["rank"] > 10
                                                            else 1 / np.log2(user["rank"] + 1))
