"""Dataset statistics and the printed summary."""

from __future__ import annotations

from typing import Any

import numpy as np


def dataset_stats(
    source: str,
    items: dict[str, Any],
    sequences: dict[str, list[int]],
    notes: dict[str, int],
    max_history: int,
    text_fields: list[str] | None = None,
) -> dict[str, Any]:
    lengths = np.array([len(s) for s in sequences.values()])
    n_users, n_items, n_inter = len(sequences), len(items), int(lengths.sum())
    counts = np.bincount(np.concatenate([np.asarray(s) for s in sequences.values()]), minlength=n_items)
    top = np.sort(counts)[::-1][: max(1, int(np.ceil(0.1 * n_items)))]
    q = np.quantile(lengths, [0.1, 0.25, 0.5, 0.75, 0.9])
    return {
        "source": source,
        "raw": {
            "users": notes.get("raw_users"),
            "items": notes.get("raw_items"),
            "interactions": notes.get("raw_interactions"),
        },
        "users": n_users,
        "items": n_items,
        "interactions": n_inter,
        "density": round(n_inter / (n_users * n_items), 6),
        "sequence_length": {
            "min": int(lengths.min()),
            "p10": float(q[0]),
            "p25": float(q[1]),
            "median": float(q[2]),
            "p75": float(q[3]),
            "p90": float(q[4]),
            "max": int(lengths.max()),
            "mean": round(float(lengths.mean()), 3),
        },
        "top10pct_items_share": round(float(top.sum() / n_inter), 4),
        "items_never_interacted": int((counts == 0).sum()),
        "split": {
            "scheme": "leave-one-out: last item = test, second last = valid",
            "train_targets": int(np.maximum(lengths - 3, 0).sum()),
            "valid_users": n_users,
            "test_users": n_users,
            "max_history": max_history,
        },
        "tie_order": "stable sort on (timestamp, original file order)",
        "text_fields": list(text_fields or ["title", "description"]),
        "filtering": {k: v for k, v in sorted(notes.items()) if not k.startswith("raw_")},
    }


def format_summary(stats: dict[str, Any]) -> str:
    raw = stats["raw"]
    sl = stats["sequence_length"]
    f = stats["filtering"]

    def n(x: Any) -> str:
        return f"{x:,}" if isinstance(x, int) else str(x)

    lines = [
        f"Dataset {stats['source']}",
        f"  {'':<14}{'users':>10}{'items':>10}{'interactions':>14}",
        f"  {'raw':<14}{n(raw['users']):>10}{n(raw['items']):>10}{n(raw['interactions']):>14}",
        f"  {'after filter':<14}{n(stats['users']):>10}{n(stats['items']):>10}{n(stats['interactions']):>14}",
        f"  density {stats['density']:.4%}; interactions on the top 10% of items: {stats['top10pct_items_share']:.1%}",
        f"  sequence length: min {sl['min']}, median {sl['median']:g}, mean {sl['mean']:g}, "
        f"p90 {sl['p90']:g}, max {sl['max']}",
        f"  removed: {n(f.get('interactions_without_metadata', 0))} interactions without item metadata, "
        f"{n(f.get('duplicate_pairs', 0))} repeated pairs, "
        f"{n(f.get('kcore_removed_interactions', 0))} by the k-core filter ({f.get('kcore_rounds', 0)} rounds)",
        f"  users whose last two interactions share a time stamp: "
        f"{n(f.get('users_with_tied_last_two_before_filter', 0))} before filtering, "
        f"{n(f.get('users_with_tied_last_two', 0))} after; ties keep the file order",
    ]
    return "\n".join(lines)
