"""The study's pure parts: its plan, its estimate, and the verdicts computed from numbers."""

import pytest

from lcrec_mini.analyses.plan import ABLATION_ROWS, PCA_RUN, STUDY_SEEDS, run_name, study_runs
from lcrec_mini.analyses.study import (
    co_interaction,
    estimate_seconds,
    run_config,
    title_overlap,
    users_of_items,
)
from lcrec_mini.book.tables import claim_rows as claims


def test_plan_covers_every_comparison_once():
    runs = study_runs()
    names = [r.name for r in runs]
    assert len(names) == len(set(names)) == 9
    assert {f"index-{m}-{t}" for m in ("lcrec", "rqvae", "random") for t in ("seq", "all")} <= set(names)
    assert all(r in names for r, _ in ABLATION_ROWS)
    assert run_config("cpu", runs[0]).eval.max_users == 0  # every test user
    # every configuration with at least 3 training seeds; the seed reaches tune.seed only
    assert len(STUDY_SEEDS) >= 3 and len(set(STUDY_SEEDS)) == len(STUDY_SEEDS)
    cfgs = [run_config("cpu", runs[0], s, steps=70) for s in STUDY_SEEDS]
    assert [c.tune.seed for c in cfgs] == list(STUDY_SEEDS) and {c.seed for c in cfgs} == {42}
    assert {c.fingerprint("tasks") for c in cfgs} == {cfgs[0].fingerprint("tasks")}  # shared up to tasks
    assert len({c.fingerprint("tune") for c in cfgs}) == len(STUDY_SEEDS)
    assert cfgs[0].tune.max_steps == 70 and cfgs[0].tune.snapshot_steps == []
    assert run_config("cpu", PCA_RUN, 42).tune.index_init == "mean"


def test_equal_tokens_give_the_longer_examples_fewer_steps(monkeypatch, tmp_path):
    from lcrec_mini.analyses import study

    cfg = run_config("cpu", study_runs()[0], 42)
    monkeypatch.setattr(study, "mean_example_tokens", lambda run_dir, cfg: 100.0)
    long = study.steps_for_tokens(cfg, tmp_path, 56_000)
    monkeypatch.setattr(study, "mean_example_tokens", lambda run_dir, cfg: 50.0)
    short = study.steps_for_tokens(cfg, tmp_path, 56_000)
    assert long == 70 and short == 140  # batch 8: 56,000 / (100 x 8), / (50 x 8)
    assert study.steps_for_tokens(cfg, tmp_path, 10) == cfg.tune.embed_warmup_steps + 1


def test_cpu_study_is_planned_within_five_hours():
    est = estimate_seconds("cpu")
    runs = {run_name(r, s) for r in study_runs() for s in STUDY_SEEDS}
    pca = {run_name(PCA_RUN, s) for s in STUDY_SEEDS}  # the token PCA with every training seed too
    assert set(est) == runs | pca | {"intention", "token_pca", "case_studies"}
    assert sum(est.values()) <= 5 * 3600


def test_title_overlap():
    assert title_overlap("Star Wars", "Star Wars") == 1.0
    assert title_overlap("Star Trek", "Star Wars") == pytest.approx(0.5)
    assert title_overlap("", "Star Wars") == 0.0 and title_overlap("Alien", "Heat") == 0.0
    # articles do not count: a generic "The ..." title shares nothing with "Return of the Jedi"
    assert title_overlap("The Big Sleep", "Return of the Jedi") == 0.0
    assert title_overlap("English Patient, The", "The English Patient") == 1.0
    assert title_overlap("The", "The") == 0.0  # nothing left to compare


def test_co_interaction_is_the_mean_jaccard_of_user_sets():
    users_of = users_of_items({"u1": [1, 2, 3], "u2": [1, 4], "u3": [5, 2]})
    # item 1: {u1, u2}; item 2: {u1, u3} -> 1/3; item 4: {u2} -> 1/2; item 5: {u3} -> 0
    assert co_interaction(users_of, 1, [2, 4, 5]) == pytest.approx((1 / 3 + 1 / 2 + 0) / 3)
    assert co_interaction(users_of, 5, []) == 0.0


def _runs(lcrec_all=0.05):
    def row(v):
        return {"hr@5": v, "ndcg@5": v / 2, "hr@10": v * 1.5, "ndcg@10": v, "n_seeds": 3}
    runs = {f"index-{m}-{t}": row(v) for m, t, v in [("lcrec", "seq", 0.03), ("rqvae", "seq", 0.02), ("random", "seq", 0.01),
                                                     ("lcrec", "all", lcrec_all), ("rqvae", "all", 0.03), ("random", "all", 0.02)]}
    runs.update({"tasks-3": row(0.035), "tasks-4": row(0.04), "tasks-5": row(0.045)})
    return runs


def test_claims_verdicts_follow_the_numbers():
    res = {"runs": _runs(),
           "intention": {k: {"hr@10": v} for k, v in (("query", 0.1), ("query+history", 0.2), ("history", 0.05))},
           "token_pca": {"by_seed": {s: {"before tuning": {"centroid_gap": 1.0, "index_spread": 0.1},
                                         "after tuning": {"centroid_gap": 0.5, "index_spread": a}}
                                     for s, a in (("42", 0.6), ("43", 0.7), ("44", 0.65))}},
           "case_studies": {"mean_title_overlap_by_prefix_length": [0.1, 0.3, 0.6],
                            "related_items": {"items": 50, "co_interaction_by_index": 0.4, "co_interaction_by_text": 0.6}}}
    for r in res["runs"].values():
        r["n_users"] = 1_000_000
    for k in res["intention"].values():
        k["n_users"] = 1_000_000
    res["case_studies"]["prefix_generation"] = [{"item": i, "title": "t", "rows": [
        {"overlap_with_title": v + 0.01 * (i % 3)} for v in (0.1, 0.3, 0.6)]} for i in range(40)]
    res["case_studies"]["related_items"]["difference_se"] = 0.01
    verdicts = [c["held here"] for c in claims(res)]
    assert verdicts == ["holds", "holds", "holds", "holds", "holds", "holds", "does not hold"]
    # LC-Rec with all tasks below RQ-VAE: the indexing claim and the monotone ablation fail
    res["runs"] = _runs(lcrec_all=0.025)
    for r in res["runs"].values():
        r["n_users"] = 1_000_000
    v2 = [c["held here"] for c in claims(res)]
    assert v2[:3] == ["does not hold"] * 3  # indexing methods, alignment tasks, ablation
    res["runs"]["index-lcrec-all"]["hr@5"] = 0.04  # above rqvae (0.03), below nothing: indexing holds again
    assert claims(res)[0]["held here"] == "holds"
    # Fig. 5a on 3 items: too few to decide
    res["case_studies"]["prefix_generation"] = res["case_studies"]["prefix_generation"][:3]
    assert claims(res)[5]["held here"].startswith("too few items (3)")


def test_an_interval_that_holds_zero_is_not_resolved():
    runs = _runs()
    for r in runs.values():
        r["n_users"] = 50  # 2 SE of a difference near HR 0.03 on 50 users is about 0.07
    verdicts = [c["held here"] for c in claims({"runs": runs})]
    assert verdicts[:3] == ["not resolved"] * 3
    for r in runs.values():
        r["n_users"] = 1_000_000
    assert [c["held here"] for c in claims({"runs": runs})][:3] == ["holds"] * 3
    runs["tasks-4"]["n_seeds"] = 1  # one training run of a configuration: its luck is not measured
    assert [c["held here"] for c in claims({"runs": runs})][:3] == ["holds", "holds", "not resolved (1 training seed)"]


def test_seeds_count_in_the_standard_error():
    """Two configurations whose users agree within each seed but whose seeds disagree: the
    users alone would call the difference certain; with the seeds it is not resolved."""
    from lcrec_mini.analyses.claims import difference
    from lcrec_mini.generate.metrics import seeded_difference

    n = 400
    hits = lambda k: [1 if u < k else None for u in range(n)]  # noqa: E731  HR@5 = k / n
    a = {"seeds": {"42": {"ranks": hits(60), "n_users": n}, "43": {"ranks": hits(20), "n_users": n},
                   "44": {"ranks": hits(40), "n_users": n}}, "hr@5": 0.1, "n_users": n}
    b = {"seeds": {"42": {"ranks": hits(30), "n_users": n}}, "hr@5": 0.075, "n_users": n}
    d, se = difference(a, b, "hr@5")
    assert d == pytest.approx(40 / n - 30 / n)
    _, se_users = seeded_difference([[sum(col) / 3 for col in zip(*[[1.0 if u < k else 0.0 for u in range(n)]
                                                                     for k in (60, 20, 40)])]],
                                    [[1.0 if u < 30 else 0.0 for u in range(n)]])
    seed_var = ((0.15 - 0.1) ** 2 + (0.05 - 0.1) ** 2 + 0) / 2 / 3
    assert se == pytest.approx((se_users ** 2 + seed_var) ** 0.5)
    assert se > 2 * se_users


def test_token_pca_zooms_on_index_tokens_packed_into_a_dot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lcrec_mini.analyses.probes import token_embedding_pca
    from lcrec_mini.book.figures import plot_token_pca

    rng = np.random.default_rng(0)
    words = rng.normal(size=(300, 16))
    packed = words.mean(0) + 1e-3 * rng.normal(size=(8, 16))  # 2 levels x 4 codes, one dot
    spread = rng.normal(size=(8, 16))
    w = {"before tuning": np.vstack([words, packed]), "after tuning": np.vstack([words, spread])}
    res = token_embedding_pca(w, list(range(300)), list(range(300, 308)))
    assert res["before tuning"]["index_spread"] < 0.01 < 0.5 < res["after tuning"]["index_spread"]
    fig = plot_token_pca(res, 2, 4)
    before, after = fig.axes[0], fig.axes[1]
    assert len(before.child_axes) == 1 and "zoomed" in before.child_axes[0].get_title()
    assert len(after.child_axes) == 0  # spread like the words: no zoom needed
    plt.close(fig)


def test_indexing_chart_labels_every_bar_even_a_zero():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lcrec_mini.book.figures import plot_indexing

    runs = {f"index-{m}-{t}": {"hr@5": 0.0 if m == "random" else 0.02, "ndcg@5": 0.01}
            for m in ("lcrec", "rqvae", "random") for t in ("seq", "all")}
    fig = plot_indexing({"runs": runs})
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert len(labels) == 6 and labels.count("0.000") == 2
    plt.close(fig)


def test_empty_generations_are_named_in_the_case_study_tables():
    from lcrec_mini.analyses.probes import EMPTY_AT_ONCE
    from lcrec_mini.book.tables import prefix_generation_tables

    res = {"case_studies": {"prefix_generation": [{"item": 3, "title": "Star Wars", "rows": [
        {"prefix length": 1, "prefix": "<a_1>", "generated title": "", "text": ""},
        {"prefix length": 2, "prefix": "<a_1><b_2>", "generated title": "Star Trek", "text": "Star Trek"}]}],
        "related_items": {"items": 5, "co_interaction_by_index": 0.1, "co_interaction_by_text": 0.05}}}
    t = prefix_generation_tables(res)[0]
    assert [r["generated title"] for r in t.rows] == [EMPTY_AT_ONCE, "Star Trek"]
    assert t.columns == ["prefix length", "prefix", "generated title"]


def test_differences_are_paired_over_the_same_users_when_ranks_are_kept():
    from lcrec_mini.analyses.claims import difference

    n = 400
    base = [1 if u % 10 == 0 else None for u in range(n)]  # HR@5 0.10
    better = list(base)
    for u in range(1, 13):  # 12 more users hit: +0.03
        better[u * 10 + 1] = 2
    a = {"hr@5": 0.13, "n_users": n, "ranks": better}
    b = {"hr@5": 0.10, "n_users": n, "ranks": base}
    d, se = difference(a, b, "hr@5")
    assert d == pytest.approx(0.03) and se == pytest.approx((0.03 * 0.97 / (n - 1)) ** 0.5, rel=1e-6)
    d2, se2 = difference({k: v for k, v in a.items() if k != "ranks"}, b, "hr@5")
    assert se2 > 2 * se  # unpaired: the shared hits count as noise
    rows = {"runs": {**_runs()}}
    for name, r in rows["runs"].items():
        r.update({"n_users": n, "ranks": base if name != "index-lcrec-seq" else better})
    ev = claims(rows)[0]["our evidence"]
    assert "SE" in ev and "LC-Rec minus rqvae (seq)" in ev


def test_token_pca_claim_is_not_tested_when_the_rows_start_among_the_words():
    pca = {"before tuning": {"centroid_gap": 0.02, "index_spread": 1.0},
           "after tuning": {"centroid_gap": 0.09, "index_spread": 1.03}}
    (c,) = claims({"runs": {}, "token_pca": pca})
    assert c["held here"] == "not testable here" and "cannot test the claim" in c["our evidence"]
    pca["before tuning"]["index_spread"] = 0.05
    # one training seed: no standard error, so no verdict either way
    assert claims({"runs": {}, "token_pca": pca})[0]["held here"] == "not resolved (1 training seed)"


def _pca(after: list[float], before: float = 0.05) -> dict:
    return {"by_seed": {str(42 + i): {"before tuning": {"centroid_gap": 1.0, "index_spread": before},
                                      "after tuning": {"centroid_gap": 0.2, "index_spread": a}}
                        for i, a in enumerate(after)}}


def test_token_pca_claim_counts_the_training_seeds():
    (c,) = claims({"runs": {}, "token_pca": _pca([0.9, 1.0, 0.95])})
    assert c["held here"] == "holds" and "3 training seeds" in c["our evidence"] and "(SE " in c["our evidence"]
    # one seed moves them, two do not: the seeds' spread holds zero
    assert claims({"runs": {}, "token_pca": _pca([0.9, 0.05, 0.04])})[0]["held here"] == "not resolved"
    # every seed moves them a little, but they stay a cluster of their own
    assert claims({"runs": {}, "token_pca": _pca([0.2, 0.22, 0.21])})[0]["held here"] == "does not hold"


def test_prefix_title_verdict_pairs_the_items_and_counts_the_seeds():
    import numpy as np

    rng = np.random.default_rng(0)
    rel = {"items": 50, "co_interaction_by_index": 0.4, "co_interaction_by_text": 0.3, "difference_se": 0.01}

    def cs(full_gain: list[float]) -> dict:
        by_seed = {str(42 + i): {"f1": [[0.1, 0.1, 0.1 + g + 0.01 * rng.normal()] for _ in range(60)],
                                 "distinct_title_share": 0.5} for i, g in enumerate(full_gain)}
        return {"mean_title_overlap_by_prefix_length": [0, 0, 0], "related_items": rel, "by_seed": by_seed,
                "prefix_generation": []}

    c = claims({"runs": {}, "case_studies": cs([0.2, 0.21, 0.19])})[0]
    assert c["held here"] == "holds" and "60 items x 3 training seeds" in c["our evidence"]
    # every item agrees within a seed, but the seeds disagree in sign: not resolved
    assert claims({"runs": {}, "case_studies": cs([0.2, -0.2, 0.01])})[0]["held here"] == "not resolved"


def test_alignment_evidence_says_how_much_longer_equal_tokens_took():
    """Runs train on equal tokens; the all-task runs' tuning is slower per token (shorter
    examples, full-vocabulary text targets), so the claim says by how much."""
    runs = _runs()
    for name, r in runs.items():
        secs = 300.0 if name.endswith("-all") else 240.0
        # one seed slowed down by other work on the machine: the median ignores it
        r["seeds"] = {s: {"tune_seconds": secs + d} for s, d in (("42", -6), ("43", 0), ("44", 600))}
    row = next(c for c in claims({"runs": runs}) if c["paper's claim"].startswith("The alignment tasks"))
    assert "tuning took 5.0 min with all tasks against 4.0 with seqrec only (+25%" in row["our evidence"]
    # a tune resumed from a checkpoint counted only the seconds after the resume: left out
    for r in runs.values():
        for s in ("42", "43"):
            r["seeds"][s]["tune_resumed_from_step"] = 30
    row = next(c for c in claims({"runs": runs}) if c["paper's claim"].startswith("The alignment tasks"))
    assert "tuning took 15.0 min with all tasks against 14.0 with seqrec only (+7%" in row["our evidence"]
    del runs["index-random-seq"]["seeds"]["44"]["tune_seconds"]  # no whole time left for one: nothing said
    row = next(c for c in claims({"runs": runs}) if c["paper's claim"].startswith("The alignment tasks"))
    assert "tuning took" not in row["our evidence"]


def test_runs_table_gives_each_configurations_tuning_minutes():
    from lcrec_mini.book.tables import study_runs_table

    runs = _runs()
    for name, r in runs.items():
        r.update({"label": name, "n_users": 943})
        r["seeds"] = {s: {"tune_seconds": 240.0 + d, "tune_steps": 55} for s, d in (("42", 0), ("43", 60), ("44", 6000))}
    runs["tasks-3"]["seeds"]["43"]["tune_resumed_from_step"] = 30
    table = study_runs_table({"preset": "cpu", "model": "m", "data": "d", "seed": 42, "runs": runs, "wall_seconds": {}})
    minutes = {r["run"]: r["tune min (median)"] for r in table.rows}
    assert minutes["index-lcrec-seq"] == "5.0"  # median of 4, 5 and 104 minutes
    assert minutes["tasks-3"] == "54.0"  # the resumed seed left out: median of 4 and 104
    assert "tuned on" not in table.caption  # rows without a processor: none named
    # what every run shares is said once, in the caption, not in a column of equal cells
    assert "every run 55 tune steps; every run evaluated on 943 test users" in table.caption
    assert not {"tune steps", "test users"} & set(table.rows[0])
    runs["tasks-3"]["seeds"]["42"]["cpu"] = "AMD EPYC (family 25, model 1); 2 cores; flags avx2; no native bf16"
    runs["tasks-4"]["seeds"]["44"]["cpu"] = "AMD EPYC (family 25, model 17); 2 cores; flags avx512_bf16; native bf16"
    caption = study_runs_table({"preset": "cpu", "model": "m", "data": "d", "seed": 42, "runs": runs,
                                "wall_seconds": {}}).caption
    assert "tuned on 2 processor models" in caption and "EPYC" not in caption  # the book names no processor
    runs["tasks-3"]["seeds"]["42"]["cpu"] = runs["tasks-4"]["seeds"]["44"]["cpu"]
    caption = study_runs_table({"preset": "cpu", "model": "m", "data": "d", "seed": 42, "runs": runs,
                                "wall_seconds": {}}).caption
    assert "tuned on one processor model;" in caption
    # a run whose evaluation was redone keeps the minutes of its first tune in its row and the total
    wall = {"index-lcrec-seq-s42": 60.0, "index-lcrec-seq-s43": 60.0}
    t = study_runs_table({"preset": "cpu", "model": "m", "data": "d", "seed": 42, "runs": runs, "wall_seconds": wall,
                          "superseded_wall_seconds": {"index-lcrec-seq-s42": 240.0}})
    assert next(r for r in t.rows if r["run"] == "index-lcrec-seq")["minutes"] == "6.0"
    assert t.caption.endswith("total 6.0 min")


def test_cpu_study_tunes_in_fp32_on_every_processor():
    # its pieces run on whichever machine a session gets: seeds must not differ in arithmetic too
    from lcrec_mini.analyses.plan import study_budget

    cfg = run_config("cpu", study_runs()[0], 43, steps=70)
    assert cfg.tune.precision == "fp32" and study_budget("cpu")["precision"] == "fp32"


def test_a_study_of_another_preset_setting_is_not_resumed(tmp_path):
    # its parts would compare configurations built on two different presets
    import json

    from lcrec_mini.analyses.plan import study_budget
    from lcrec_mini.analyses.study import run_study
    from lcrec_mini.core.errors import ConfigError

    budget = study_budget("smoke")
    assert set(budget["settings"]) == {"data", "embed", "index", "tasks", "tune", "eval"}
    old = {**budget, "settings": {**budget["settings"], "tasks": "0123456789abcdef"}}
    for record, msg in (
        (old, r"that differs from today's 'smoke' in settings.tasks "),
        ({**old, "users": 5}, r"that differs from today's 'smoke' in settings.tasks, users "),
        ({k: v for k, v in budget.items() if k != "settings"}, r"that records no preset settings"),
    ):
        (tmp_path / "results.json").write_text(json.dumps({"preset": "smoke", "budget": record, "runs": {}}))
        with pytest.raises(ConfigError, match=r"results.json holds a study of preset 'smoke' " + msg):
            run_study("smoke", tmp_path, log=lambda m: None)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["results.json"]  # nothing run


def test_the_kept_cpu_study_is_of_todays_cpu_preset():
    # benchmarks/results/study-cpu/results.json is resumed by the next session: a change of the
    # cpu preset's settings makes it another study, which must then be started again
    from pathlib import Path

    from lcrec_mini.analyses.plan import study_budget
    from lcrec_mini.core.stage import read_json

    kept = read_json(Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "study-cpu" / "results.json")
    assert kept["preset"] == "cpu" and kept["budget"] == study_budget("cpu"), (
        "the cpu preset changed since the kept study began: move benchmarks/results/study-cpu aside and start it again")


def test_study_runs_the_main_configuration_and_its_analyses_first_and_retrains_a_lost_model(monkeypatch, tmp_path):
    """A study resumed where the main runs' folders are gone (another session's machine)
    trains them again for the analyses and keeps the rows recorded earlier; the main
    configuration's seeds and the analyses come before every other configuration."""
    import shutil

    from lcrec_mini.analyses import study
    from lcrec_mini.analyses.plan import MAIN_RUN
    from lcrec_mini.core.stage import read_json, write_json

    order, trained = [], []

    def fake_tune_and_eval(preset, study_dir, run, seed, tokens, stages, log):
        rd = study_dir / run_name(run, seed)
        trained.append(run_name(run, seed))
        for st in stages:
            (rd / st).mkdir(parents=True, exist_ok=True)
        (rd / "tune" / "tune_meta.json").write_text("{}")
        if "eval" in stages:
            (rd / "eval" / "metrics.json").write_text("{}")
        return rd

    def fake_row(rd):
        return {"hr@5": 0.1, "ndcg@5": 0.05, "hr@10": 0.2, "ndcg@10": 0.1, "n_users": 3, "ranks": [1, None, 3]}

    monkeypatch.setattr(study, "_tune_and_eval", fake_tune_and_eval)
    monkeypatch.setattr(study, "_metrics_row", fake_row)
    for part in ("intention", "case_studies"):
        monkeypatch.setattr(study, part, lambda rd, cfg, *a, part=part: order.append(part) or {"distinct_title_share": 0.5})
    monkeypatch.setattr(study, "token_pca_seeds", lambda dirs, cfg, fig: order.append("token_pca") or {})
    monkeypatch.setattr(study, "per_item_f1", lambda v: [])
    mains = [run_name(r, s) for r in study_runs() if r.name == MAIN_RUN for s in STUDY_SEEDS]
    # a results.json carried over from another machine: the main runs done, their folders gone
    res = study.run_study("smoke", tmp_path, only=[MAIN_RUN], log=lambda m: None)
    assert trained == mains and set(res["wall_seconds"]) == set(mains)
    kept = read_json(tmp_path / "results.json")
    for name in mains:
        shutil.rmtree(tmp_path / name)
    write_json(tmp_path / "results.json", kept)
    trained.clear()
    res = study.run_study("smoke", tmp_path, log=lambda m: None)
    pca = [run_name(PCA_RUN, s) for s in STUDY_SEEDS]
    first_other = next(i for i, n in enumerate(trained) if n not in mains and n not in pca)
    # the PCA runs, then the lost main runs trained again for the analyses, before any other configuration
    assert trained[:first_other] == pca + mains
    assert order == ["token_pca"] + ["case_studies"] * 3 + ["intention"] * 3  # each over the three seeds, quickest first
    assert res["retrained_for_analyses"] == mains and res["runs"][MAIN_RUN]["seeds"].keys() == {str(s) for s in STUDY_SEEDS}
    assert len(trained) == first_other + (len(study_runs()) - 1) * len(STUDY_SEEDS)
    # an intention part interrupted after its first seed, on a machine without the main runs:
    # only the seeds it has not kept are trained again
    kept = read_json(tmp_path / "results.json")
    kept["wall_seconds"].pop("intention")
    kept["intention_by_seed"] = {str(STUDY_SEEDS[0]): kept.pop("intention")[str(STUDY_SEEDS[0])]}
    for name in mains:
        shutil.rmtree(tmp_path / name)
    write_json(tmp_path / "results.json", kept)
    trained.clear()
    res = study.run_study("smoke", tmp_path, log=lambda m: None)
    assert trained == mains[1:] and set(res["intention"]) == {str(s) for s in STUDY_SEEDS}
