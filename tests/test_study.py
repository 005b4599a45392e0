"""The study's pure parts: its plan, its estimate, and the verdicts computed from numbers."""

import pytest

from lcrec_mini.study import (ABLATION_ROWS, claims, co_interaction, estimate_seconds, run_config, study_runs,
                              title_overlap, users_of_items)


def test_plan_covers_every_comparison_once():
    runs = study_runs()
    names = [r.name for r in runs]
    assert len(names) == len(set(names)) == 9
    assert {f"index-{m}-{t}" for m in ("lcrec", "rqvae", "random") for t in ("seq", "all")} <= set(names)
    assert all(r in names for r, _ in ABLATION_ROWS)
    # equal budgets: every run tunes the same number of steps
    steps = {run_config("cpu", r).tune.max_steps for r in runs}
    assert steps == {80}
    assert run_config("cpu", runs[0]).eval.max_users == 0  # every test user


def test_cpu_study_is_planned_within_150_minutes():
    est = estimate_seconds("cpu")
    assert set(est) == {r.name for r in study_runs()} | {"intention", "token_pca", "case_studies"}
    assert sum(est.values()) <= 150 * 60


def test_title_overlap():
    assert title_overlap("Star Wars", "Star Wars") == 1.0
    assert title_overlap("Star Trek", "Star Wars") == pytest.approx(0.5)
    assert title_overlap("", "Star Wars") == 0.0 and title_overlap("Alien", "Heat") == 0.0


def test_co_interaction_is_the_mean_jaccard_of_user_sets():
    users_of = users_of_items({"u1": [1, 2, 3], "u2": [1, 4], "u3": [5, 2]})
    # item 1: {u1, u2}; item 2: {u1, u3} -> 1/3; item 4: {u2} -> 1/2; item 5: {u3} -> 0
    assert co_interaction(users_of, 1, [2, 4, 5]) == pytest.approx((1 / 3 + 1 / 2 + 0) / 3)
    assert co_interaction(users_of, 5, []) == 0.0


def _runs(lcrec_all=0.05):
    def row(v):
        return {"hr@5": v, "ndcg@5": v / 2, "hr@10": v * 1.5, "ndcg@10": v}
    runs = {f"index-{m}-{t}": row(v) for m, t, v in [("lcrec", "seq", 0.03), ("rqvae", "seq", 0.02), ("random", "seq", 0.01),
                                                     ("lcrec", "all", lcrec_all), ("rqvae", "all", 0.03), ("random", "all", 0.02)]}
    runs.update({"tasks-3": row(0.035), "tasks-4": row(0.04), "tasks-5": row(0.045)})
    return runs


def test_claims_verdicts_follow_the_numbers():
    res = {"runs": _runs(),
           "intention": {k: {"hr@10": v} for k, v in (("query", 0.1), ("query+history", 0.2), ("history", 0.05))},
           "token_pca": {"before tuning": {"centroid_gap": 1.0, "index_spread": 0.1},
                         "after tuning": {"centroid_gap": 0.5, "index_spread": 0.6}},
           "case_studies": {"mean_title_overlap_by_prefix_length": [0.1, 0.3, 0.6],
                            "related_items": {"items": 50, "co_interaction_by_index": 0.4, "co_interaction_by_text": 0.6}}}
    verdicts = [c["held here"] for c in claims(res)]
    assert verdicts == ["yes", "yes", "yes", "yes", "yes", "yes", "no"]
    # LC-Rec with all tasks below RQ-VAE: the indexing claim and the monotone ablation fail
    res["runs"] = _runs(lcrec_all=0.025)
    v2 = [c["held here"] for c in claims(res)]
    assert v2[:3] == ["no", "no", "no"]  # indexing methods, alignment tasks, ablation
    res["runs"]["index-lcrec-all"]["hr@5"] = 0.04  # above rqvae (0.03), below nothing: indexing holds again
    assert claims(res)[0]["held here"] == "yes"


def test_small_differences_on_few_users_are_flagged_as_noise():
    runs = _runs()
    for r in runs.values():
        r["n_users"] = 50  # 2 SE of a difference near HR 0.03 on 50 users is about 0.07
    verdicts = [c["held here"] for c in claims({"runs": runs})]
    assert verdicts[:3] == ["yes (within noise)"] * 3
    for r in runs.values():
        r["n_users"] = 1_000_000
    assert [c["held here"] for c in claims({"runs": runs})][:3] == ["yes"] * 3


def test_token_pca_zooms_on_index_tokens_packed_into_a_dot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from lcrec_mini.analysis import plot_token_pca, token_embedding_pca

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

    from lcrec_mini.study import plot_indexing

    runs = {f"index-{m}-{t}": {"hr@5": 0.0 if m == "random" else 0.02, "ndcg@5": 0.01}
            for m in ("lcrec", "rqvae", "random") for t in ("seq", "all")}
    fig = plot_indexing({"runs": runs})
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert len(labels) == 6 and labels.count("0.000") == 2
    plt.close(fig)


def test_empty_generations_are_named_in_the_case_study_tables():
    from lcrec_mini.analysis import EMPTY_AT_ONCE
    from lcrec_mini.notebook import prefix_generation_tables

    res = {"case_studies": {"prefix_generation": [{"item": 3, "title": "Star Wars", "rows": [
        {"prefix length": 1, "prefix": "<a_1>", "generated title": "", "text": ""},
        {"prefix length": 2, "prefix": "<a_1><b_2>", "generated title": "Star Trek", "text": "Star Trek"}]}],
        "related_items": {"items": 5, "co_interaction_by_index": 0.1, "co_interaction_by_text": 0.05}}}
    t = prefix_generation_tables(res)[0]
    assert [r["generated title"] for r in t.rows] == [EMPTY_AT_ONCE, "Star Trek"]
    assert t.columns == ["prefix length", "prefix", "generated title"]


def test_differences_are_paired_over_the_same_users_when_ranks_are_kept():
    from lcrec_mini.study import difference

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
    assert c["held here"] == "n/a" and "cannot test the claim" in c["our evidence"]
    pca["before tuning"]["index_spread"] = 0.05
    assert claims({"runs": {}, "token_pca": pca})[0]["held here"] == "yes"
