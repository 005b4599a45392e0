import numpy as np
import pytest

from lcrec_mini.core.errors import DataError
from lcrec_mini.data.preprocess import kcore, preprocess
from lcrec_mini.data.raw import RawData
from lcrec_mini.data.splits import leave_one_out
from lcrec_mini.data.stats import dataset_stats


def meta(*ids):
    return {i: {"title": f"t{i}"} for i in ids}


def test_kcore_is_iterative():
    # k=2. Item 2 has one user (2) -> removed in round 1; user 2 is then left with one
    # interaction -> removed in round 2; round 3 finds nothing more to remove.
    users = np.array([0, 0, 1, 1, 2, 2])
    items = np.array([0, 1, 0, 1, 1, 2])
    keep, rounds = kcore(users, items, 2, 2)
    assert set(zip(users[keep].tolist(), items[keep].tolist())) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert rounds == 3
    # one pass only would have kept (2, 1): the filter must iterate
    one_pass = (np.bincount(users)[users] >= 2) & (np.bincount(items)[items] >= 2)
    assert one_pass.sum() == 5
    keep3, _ = kcore(users, items, 3, 3)
    assert not keep3.any()


def test_ties_keep_the_file_order_and_ids_are_numeric_order():
    rows = [
        ("10", "2", 5.0), ("10", "10", 5.0), ("10", "9", 5.0),  # all at t=5: file order
        ("9", "9", 1.0), ("9", "2", 3.0), ("9", "10", 2.0),
    ]
    p = preprocess(RawData("x", rows, meta("2", "9", "10")), 1, 1)
    # ids in numeric raw-id order: items 2->0, 9->1, 10->2; users 9->0, 10->1
    assert [p.items[str(k)]["source_id"] for k in range(3)] == ["2", "9", "10"]
    assert p.user_source_ids == ["9", "10"]
    assert p.sequences == {"0": [1, 2, 0], "1": [0, 2, 1]}
    assert p.notes["users_with_tied_last_two"] == 1


def test_repeated_pairs_keep_the_first_and_items_without_metadata_drop():
    rows = [("u", "a", 1.0), ("u", "b", 2.0), ("u", "a", 3.0), ("u", "ghost", 4.0), ("u", "c", 5.0)]
    p = preprocess(RawData("x", rows, meta("a", "b", "c")), 1, 1)
    assert p.sequences == {"0": [0, 1, 2]}
    assert p.notes["duplicate_pairs"] == 1
    assert p.notes["interactions_without_metadata"] == 1
    assert p.notes["raw_interactions"] == 5


def test_max_users_keeps_the_first_users_then_refilters():
    rows = [(str(u), str(i), float(i)) for u in range(6) for i in range(4)]
    p = preprocess(RawData("x", rows, meta(*map(str, range(4)))), 2, 2, max_users=3)
    assert len(p.sequences) == 3 and p.user_source_ids == ["0", "1", "2"]


def test_nothing_left_is_a_clear_error():
    rows = [("u", "a", 1.0)]
    with pytest.raises(DataError, match="no interactions left after the 5/5-core"):
        preprocess(RawData("x", rows, meta("a")), 5, 5)
    with pytest.raises(DataError, match="no interactions were read"):
        preprocess(RawData("x", [], {}), 5, 5)


def test_leave_one_out_targets_and_history_cap():
    seqs = {"0": list(range(30)), "1": [5, 6, 7]}
    s = leave_one_out(seqs, max_history=20)
    test = {e.user: e for e in s["test"]}
    valid = {e.user: e for e in s["valid"]}
    assert test[0].target == 29 and test[0].history == tuple(range(9, 29))
    assert valid[0].target == 28 and valid[0].history == tuple(range(8, 28))
    assert test[1].target == 7 and test[1].history == (5, 6)
    assert valid[1].target == 6 and valid[1].history == (5,)
    train0 = [e for e in s["train"] if e.user == 0]
    # no valid/test target is ever a training target of the same user
    assert [e.target for e in train0] == list(range(1, 28))
    assert all(len(e.history) <= 20 for e in s["train"])
    assert [e for e in s["train"] if e.user == 1] == []
    with pytest.raises(DataError, match="key '2': 2 interactions"):
        leave_one_out({"2": [1, 2]})


def test_stats_hand_computed():
    items = {str(i): {"title": "t"} for i in range(10)}
    seqs = {"0": [0, 0, 0, 1, 2], "1": [0, 3, 4], "2": [0, 5, 6, 7]}
    st = dataset_stats("x", items, seqs, {}, 20)
    assert st["users"] == 3 and st["items"] == 10 and st["interactions"] == 12
    assert st["density"] == round(12 / 30, 6)
    # top 10% of 10 items = item 0 with 5 of 12 interactions
    assert st["top10pct_items_share"] == round(5 / 12, 4)
    assert st["items_never_interacted"] == 2
    assert st["sequence_length"]["min"] == 3 and st["sequence_length"]["max"] == 5
    assert st["split"]["train_targets"] == 2 + 0 + 1
