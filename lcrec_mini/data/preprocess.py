"""From raw interactions to LC-Rec's sequences, deterministically.

Steps (LC-Rec's, except that every order is defined):
1. drop interactions on items without metadata;
2. order each user's interactions by time; **ties keep the original file order**
   (a stable sort on ``(timestamp, file position)``). LC-Rec goes through a Python
   set here, so its tie order changes between runs; in ML-100K 415 of 943 users
   rated their last two items in the same second, so the test item depends on it;
3. drop repeated user-item pairs, keeping the first;
4. iterative k-core: remove users and items with fewer than k interactions until
   none is left to remove;
5. optionally keep the first ``max_users`` users (smoke runs) and filter again;
6. dense ids: users and items numbered 0..n-1 in the order of their raw ids
   (numerically when every raw id is a number, else as strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lcrec_mini.core.errors import DataError
from lcrec_mini.data.raw import RawData


@dataclass
class Processed:
    items: dict[str, dict[str, Any]]  # "0".."N-1" -> metadata (+ "source_id")
    sequences: dict[str, list[int]]  # "0".."U-1" -> chronological item ids
    user_source_ids: list[str]
    notes: dict[str, int]


def _id_order(ids: list[str]) -> list[str]:
    if all(i.isdigit() for i in ids):
        return sorted(ids, key=int)
    return sorted(ids)


def kcore(users: np.ndarray, items: np.ndarray, k_user: int, k_item: int) -> tuple[np.ndarray, int]:
    """Boolean mask of interactions kept by the iterative k-core filter, and the rounds."""
    keep = np.ones(len(users), dtype=bool)
    rounds = 0
    while True:
        rounds += 1
        uc = np.bincount(users[keep], minlength=users.max(initial=-1) + 1)
        ic = np.bincount(items[keep], minlength=items.max(initial=-1) + 1)
        new = keep & (uc[users] >= k_user) & (ic[items] >= k_item)
        if new.sum() == keep.sum():
            return new, rounds
        keep = new


def _tied_last_two(users: np.ndarray, times: np.ndarray) -> int:
    """Users (rows sorted by user, then time) whose last two time stamps are equal."""
    last = np.flatnonzero(np.r_[users[1:] != users[:-1], True])
    prev = last - 1
    ok = (prev >= 0) & (users[np.maximum(prev, 0)] == users[last])
    return int((ok & (times[last] == times[np.maximum(prev, 0)])).sum())


def _dense_ids(raw: RawData, U: np.ndarray, I: np.ndarray, i_order: list[str]):
    """Items and users renumbered 0..N-1 in raw-id order: (items, sequences, user codes kept).
    ``U``, ``I`` are sorted by user, then time."""
    if raw.preprocessed:
        # LC-Rec's ids are already dense; keep every item so that its index file still fits
        ids = [int(i) if i.isdigit() else -1 for i in i_order]
        if ids != list(range(len(ids))):
            raise DataError(f"{raw.name}: item ids must be 0..N-1 as in LC-Rec's files, got {i_order[:5]}...")
        item_codes = np.arange(len(i_order))
    else:
        item_codes = np.unique(I)
    user_codes = np.unique(U)
    item_new = np.full(len(i_order), -1, dtype=np.int64)
    item_new[item_codes] = np.arange(len(item_codes))

    items = {}
    for new, code in enumerate(item_codes):
        src = i_order[code]
        items[str(new)] = {**raw.items[src], "source_id": src}
    sequences: dict[str, list[int]] = {}
    starts = np.flatnonzero(np.r_[True, U[1:] != U[:-1]])
    ends = np.r_[starts[1:], len(U)]
    for new, (s, e) in enumerate(zip(starts, ends)):
        sequences[str(new)] = item_new[I[s:e]].tolist()
    return items, sequences, user_codes


def preprocess(
    raw: RawData,
    min_user: int = 5,
    min_item: int = 5,
    max_users: int | None = None,
) -> Processed:
    notes: dict[str, int] = dict(raw.notes)
    if not raw.interactions:
        raise DataError(f"{raw.name}: no interactions were read from {', '.join(raw.files) or 'the source'}")
    users_raw = [u for u, _, _ in raw.interactions]
    items_raw = [i for _, i, _ in raw.interactions]
    times = np.fromiter((t for _, _, t in raw.interactions), dtype=np.float64, count=len(raw.interactions))
    notes["raw_users"] = len(set(users_raw))
    notes["raw_items"] = len(set(items_raw) | set(raw.items)) if raw.preprocessed else len(set(items_raw))
    notes["raw_interactions"] = len(raw.interactions)

    has_meta = np.fromiter((i in raw.items for i in items_raw), dtype=bool, count=len(items_raw))
    notes["interactions_without_metadata"] = int((~has_meta).sum())

    # integer codes in raw-id order, so that every later sort is deterministic
    u_order = _id_order(sorted(set(users_raw)))
    i_order = _id_order(sorted(set(items_raw) | set(raw.items)))
    u_code = {u: n for n, u in enumerate(u_order)}
    i_code = {i: n for n, i in enumerate(i_order)}
    U = np.fromiter((u_code[u] for u in users_raw), dtype=np.int64, count=len(users_raw))
    I = np.fromiter((i_code[i] for i in items_raw), dtype=np.int64, count=len(items_raw))
    pos = np.arange(len(U))

    U, I, times, pos = U[has_meta], I[has_meta], times[has_meta], pos[has_meta]
    # by user, then time, then file position (lexsort: last key is the primary one)
    order = np.lexsort((pos, times, U))
    U, I, times, pos = U[order], I[order], times[order], pos[order]

    if raw.preprocessed:
        notes["duplicate_pairs"] = 0
    else:
        pair = U * (len(i_order) + 1) + I
        _, first = np.unique(pair, return_index=True)
        first.sort()
        notes["duplicate_pairs"] = int(len(U) - len(first))
        U, I, times = U[first], I[first], times[first]

    notes["users_with_tied_last_two_before_filter"] = 0 if raw.preprocessed else _tied_last_two(U, times)

    if raw.preprocessed:
        keep, rounds = np.ones(len(U), dtype=bool), 0
    else:
        keep, rounds = kcore(U, I, min_user, min_item)
    notes["kcore_rounds"] = rounds
    notes["kcore_removed_interactions"] = int((~keep).sum())
    U, I, times = U[keep], I[keep], times[keep]

    if max_users is not None and max_users > 0:
        kept_users = np.unique(U)[:max_users]
        m = np.isin(U, kept_users)
        U, I, times = U[m], I[m], times[m]
        if not raw.preprocessed:
            keep, _ = kcore(U, I, min_user, min_item)
            U, I, times = U[keep], I[keep], times[keep]
        notes["max_users"] = int(max_users)

    if len(U) == 0:
        raise DataError(
            f"{raw.name}: no interactions left after the {min_user}/{min_item}-core filter "
            f"(read {notes['raw_interactions']}); lower data.min_user_interactions / data.min_item_interactions"
        )

    items, sequences, user_codes = _dense_ids(raw, U, I, i_order)
    # users whose last two interactions share a time stamp: their test item is decided
    # by the tie order (meaningless for preprocessed sources, which carry no times)
    notes["users_with_tied_last_two"] = 0 if raw.preprocessed else _tied_last_two(U, times)
    return Processed(items, sequences, [u_order[c] for c in user_codes], notes)
