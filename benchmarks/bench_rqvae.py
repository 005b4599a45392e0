"""RQ-VAE indexing: epoch time and collision rates, on ML-100K and on 100,000 items.

Every method runs on the same embeddings in the same process, so the ratios (epoch
time of LC-Rec's RQ-VAE with Sinkhorn vs the plain RQ-VAE) are measured side by side.

    python benchmarks/bench_rqvae.py                       # both catalogues
    python benchmarks/bench_rqvae.py --synthetic-items 20000 --synthetic-epochs 3

ML-100K embeddings come from ``<run-dir>/embed/items.npy`` (run ``make run`` or
``lcrec-mini embed`` first; the script runs data+embed itself when they are missing).
The synthetic catalogue is a mixture of Gaussians in 384 dimensions (MiniLM's size)
with 1% exact duplicates, as real catalogues list some items twice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lcrec_mini.core.config import make_config  # noqa: E402
from lcrec_mini.core.runtime import cpu_line  # noqa: E402
from lcrec_mini.index.stage import build_index  # noqa: E402


def ml100k_embeddings(run_dir: Path) -> np.ndarray:
    path = run_dir / "embed" / "items.npy"
    if not path.exists():
        from lcrec_mini.data.stage import run_data
        from lcrec_mini.index.embed import run_embed

        cfg = make_config("cpu")
        run_data(cfg, run_dir)
        run_embed(cfg, run_dir)
    return np.load(path)


def synthetic(n: int, d: int = 384, clusters: int = 1000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 0.25, (clusters, d)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    x = centers[labels] + rng.normal(0, 0.08, (n, d)).astype(np.float32)
    dup = rng.choice(n, n // 100, replace=False)
    x[dup] = x[rng.integers(0, n, len(dup))]
    return x.astype(np.float32)


def run(name: str, x: np.ndarray, sets: list[str], methods: list[str]) -> list[dict]:
    rows = []
    for method in methods:
        cfg = make_config("cpu", set_items=[*sets, f"index.method={method}"]).index
        t0 = time.perf_counter()
        codes, st, hist, _ = build_index(x, cfg, seed=42, device="cpu", log=lambda m: None)
        wall = time.perf_counter() - t0
        # the first epoch carries one-off costs (allocations); report the mean of the rest
        secs = [h["seconds"] for h in hist[1:]] or [h["seconds"] for h in hist]
        rows.append(
            {
                "catalogue": name,
                "method": method,
                "items": len(x),
                "LxK": f"{cfg.levels}x{cfg.codebook_size}",
                "epochs": len(hist),
                "s_per_epoch": float(np.mean(secs)) if secs else float("nan"),
                "coll_before": st["collision_rate_before_fixup"],
                "coll_after_sk": st["sinkhorn_fixup"]["collision_rate_after"],
                "coll_final": st["collision_rate_after_fixup"],
                "moved_sk": st["sinkhorn_fixup"]["items_moved"],
                "moved_final": sum(st["final_step"].values()),
                "used": "/".join(str(s["used"]) for s in st["per_level"]),
                "wall_s": wall,
            }
        )
        print(f"  {name} {method}: {wall:.1f} s", file=sys.stderr, flush=True)
    base = {r["catalogue"]: r["s_per_epoch"] for r in rows if r["method"] == "rqvae"}
    for r in rows:
        b = base.get(r["catalogue"])
        r["epoch_ratio"] = r["s_per_epoch"] / b if b and r["s_per_epoch"] == r["s_per_epoch"] else float("nan")
    return rows


def print_table(rows: list[dict]) -> None:
    cols = [
        ("catalogue", "{}"), ("method", "{}"), ("items", "{:,}"), ("LxK", "{}"), ("epochs", "{}"),
        ("s_per_epoch", "{:.3f}"), ("epoch_ratio", "{:.2f}"), ("coll_before", "{:.4f}"),
        ("coll_after_sk", "{:.4f}"), ("coll_final", "{:.4f}"), ("moved_sk", "{}"), ("moved_final", "{}"),
        ("used", "{}"), ("wall_s", "{:.1f}"),
    ]
    cells = [[c for c, _ in cols]] + [
        ["-" if (isinstance(r[c], float) and r[c] != r[c]) else f.format(r[c]) for c, f in cols] for r in rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    for n, row in enumerate(cells):
        print(" | ".join(v.rjust(w) for v, w in zip(row, widths)))
        if n == 0:
            print("-+-".join("-" * w for w in widths))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", default="runs/cpu")
    ap.add_argument("--ml-epochs", type=int, default=200)
    ap.add_argument("--synthetic-items", type=int, default=100_000)
    ap.add_argument("--synthetic-epochs", type=int, default=5)
    ap.add_argument("--methods", default="lcrec,rqvae,rqkmeans,random")
    args = ap.parse_args()
    methods = args.methods.split(",")
    print(
        f"# bench_rqvae: {cpu_line()}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads",
    )
    rows = run(
        "ml-100k", ml100k_embeddings(Path(args.run_dir)), [f"index.epochs={args.ml_epochs}"], methods
    )
    if args.synthetic_items:
        x = synthetic(args.synthetic_items)
        sets = [
            f"index.epochs={args.synthetic_epochs}", "index.levels=4", "index.codebook_size=256",
            "index.batch_size=1024", f"index.eval_every={max(1, args.synthetic_epochs)}",
        ]
        rows += run(f"synthetic-{args.synthetic_items // 1000}k", x, sets, methods)
    print_table(rows)
    print("\nepoch_ratio: seconds per epoch relative to the plain RQ-VAE (rqvae) on the same catalogue;")
    print("coll_*: collision rate before the fix-up, after the Sinkhorn rounds, after the final step.")


if __name__ == "__main__":
    main()
