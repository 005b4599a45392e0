"""The book chapters' diagrams and worked examples, drawn from a finished run.

    python tools/make_figures.py --run-dir runs/cpu            # writes book/figures/*.png and *.json

Each figure comes from ``lcrec_mini.book.diagrams`` (the package's own code on the run's
files); the JSON beside it holds the numbers the chapter quotes, so a page and its
figure cannot disagree. The chapters name the run these came from.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lcrec_mini.book import diagrams  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run-dir", default="runs/cpu")
    ap.add_argument("--out", default=str(ROOT / "book" / "figures"))
    ap.add_argument("--item", type=int, default=49, help="the worked item (default: 49, Star Wars on ML-100K)")
    ap.add_argument("--user", type=int, default=None, help="the worked user (default: the first hit in the top 10)")
    ap.add_argument("--skip-model", action="store_true", help="leave out the beam-search example (loads the tuned LLM)")
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def save(name: str, fig, data=None) -> None:
        fig.savefig(out / f"{name}.png", dpi=110)
        plt.close(fig)
        if data is not None:
            (out / f"{name}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {out / name}.png")

    save("pipeline", diagrams.plot_pipeline())
    ex = diagrams.sequence_example(a.run_dir)
    save("split_user", diagrams.plot_split_example(ex), ex)
    save("windows_user", diagrams.plot_windows_example(ex))
    ex = diagrams.residual_example(a.run_dir, a.item)
    save("residual_item", diagrams.plot_residual_example(ex), ex)
    ex = diagrams.sinkhorn_example(a.run_dir)
    if ex:
        save("sinkhorn_group", diagrams.plot_sinkhorn_example(ex), ex)
    ex = diagrams.trie_example(a.run_dir)
    save("trie", diagrams.plot_trie_example(ex), ex)
    if not a.skip_model:
        user = a.user if a.user is not None else diagrams.first_hit_user(a.run_dir)
        ex = diagrams.beam_example(a.run_dir, user)
        save("beams_user", diagrams.plot_beam_example(ex), ex)
    return 0


if __name__ == "__main__":
    sys.exit(main())
