"""Metrics against hand-computed values, and the evaluate stage on the smoke preset."""

import json
import math

import pytest

from lcrec_mini.config import make_config
from lcrec_mini.errors import DataError
from lcrec_mini.evaluation import rank_metrics, rank_of


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


def test_smoke_evaluate_writes_metrics_and_predictions(tmp_path):
    from lcrec_mini.cli import main

    assert main(["run", "--preset", "smoke", "--run-dir", str(tmp_path)]) == 0
    m = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    for k in ("hr@1", "hr@5", "hr@10", "ndcg@5", "ndcg@10", "n_users", "invalid_rate", "preset", "model", "seed"):
        assert k in m
    assert m["n_users"] == 20 and m["invalid_rate"] == 0.0 and m["preset"] == "smoke"
    preds = [json.loads(l) for l in (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 20 and all(len(p["ranked"]) == 20 for p in preds)
    assert all(p["scores"] == sorted(p["scores"], reverse=True) for p in preds)
