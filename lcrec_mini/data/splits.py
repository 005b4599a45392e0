"""Leave-one-out splits, as LC-Rec (and most sequential recommenders) use them.

For a user's chronological sequence ``s`` of length n >= 3:

- train: ``s[:n-2]`` (every prefix of it gives a training target);
- valid: history ``s[:n-2]`` -> target ``s[n-2]``;
- test: history ``s[:n-1]`` -> target ``s[n-1]``.

A history shown to a model keeps only its last ``max_history`` items (LC-Rec: 20).
"""

from __future__ import annotations

from dataclasses import dataclass

from lcrec_mini.core.errors import DataError


@dataclass(frozen=True)
class Example:
    user: int
    history: tuple[int, ...]  # oldest first, at most max_history items
    target: int


def train_part(seq: list[int]) -> list[int]:
    """The part of a sequence that training may see: everything but its last two items."""
    return list(seq[:-2])


def train_positions(seq: list[int]) -> range:
    """Positions t of the training targets ``seq[t]`` (history ``seq[:t]``) of one sequence."""
    return range(1, len(seq) - 2)


def valid_case(seq: list[int]) -> tuple[list[int], int]:
    """The validation case of one sequence: (its training part, the item after it)."""
    return list(seq[:-2]), seq[-2]


def test_case(seq: list[int]) -> tuple[list[int], int]:
    """The test case of one sequence: (every item but the last, the last item)."""
    return list(seq[:-1]), seq[-1]


def cap(history: list[int] | tuple[int, ...], max_history: int) -> tuple[int, ...]:
    return tuple(history[-max_history:]) if max_history > 0 else tuple(history)


def leave_one_out(
    sequences: dict[str, list[int]], max_history: int = 20
) -> dict[str, list[Example]]:
    """``{"train": [...], "valid": [...], "test": [...]}`` of :class:`Example`.

    ``train`` holds one example per position t >= 1 of each training sequence
    (history ``s[:t]``, target ``s[t]``), which is how ``seqrec`` trains.
    """
    out: dict[str, list[Example]] = {"train": [], "valid": [], "test": []}
    for uid, seq in sequences.items():
        if len(seq) < 3:
            raise DataError(
                f"sequences.json key {uid!r}: {len(seq)} interactions; leave-one-out needs at least 3"
            )
        u = int(uid)
        for t in train_positions(seq):
            out["train"].append(Example(u, cap(seq[:t], max_history), seq[t]))
        for split, (history, target) in (("valid", valid_case(seq)), ("test", test_case(seq))):
            out[split].append(Example(u, cap(history, max_history), target))
    return out
