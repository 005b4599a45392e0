"""Published numbers of LC-Rec and its peers, to print beside ours.

Each row is someone else's measurement, labelled with its source, data and model, as
collected in the project's reference notes (``shared/REFERENCES.md``). None of them
was produced by this package; the book prints them only beside a run of ours and says
what differs (data, model size, compute). Under leave-one-out each user has one held-out
item, so a source's recall@k is our HR@k.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lcrec_mini.baselines.stage import comparison_rows
from lcrec_mini.core.stage import read_json

#: (system, data, model and compute, HR@5, HR@10, NDCG@5, NDCG@10, source); None where
#: the source gives no figure
PUBLISHED: list[dict[str, Any]] = [
    # the paper's own main table, as transcribed in WncFht/GenRec (the paper's copies
    # available to this project could not be read): LLaMA-7B, full tuning, beam 20
    *({"system": system, "data": f"Amazon 2018 {data} (LC-Rec's subset)",
       "model": {"LC-Rec": "LLaMA-7B, full tuning", "TIGER": "model not stated in the table"}.get(system, ""),
       "hr@5": hr5, "hr@10": hr10, "ndcg@5": n5, "ndcg@10": n10,
       "source": "LC-Rec paper, Table III, via GenRec's transcription"}
      for data, system, hr5, hr10, n5, n10 in (
          ("Instruments", "LC-Rec", .1002, .1220, .0856, .0926),
          ("Instruments", "TIGER", .0863, .1064, .0738, .0803),
          ("Instruments", "SASRec", .0751, .0947, .0627, .0690),
          ("Arts", "LC-Rec", .1011, .1266, .0828, .0906),
          ("Arts", "SASRec", .0757, .1016, .0508, .0592),
          ("Games", "LC-Rec", .0800, .1174, .0560, .0681),
          ("Games", "SASRec", .0581, .0940, .0365, .0481))),
    {"system": "LC-Rec", "data": "Amazon 2018 Instruments (LC-Rec's subset, 9,922 items)",
     "model": "LLaMA-7B, full tuning, 8 GPUs", "hr@5": .0824, "hr@10": .1006, "ndcg@5": .0712, "ndcg@10": .0772,
     "source": "LETTER (arXiv 2405.07314), main table"},
    {"system": "LC-Rec, a user's reproduction (LETTER code)", "data": "Amazon 2018 Instruments (same subset)",
     "model": "LLaMA-7B", "hr@5": .0651, "hr@10": .0777, "ndcg@5": .0556, "ndcg@10": .0596,
     "source": "LETTER GitHub issue #19"},
    {"system": "semantic-id SFT", "data": "Amazon 2018 Instruments (same interactions)",
     "model": "Qwen2.5-3B, 4 x 256 ids", "hr@5": .0932, "hr@10": .1094, "ndcg@5": .0771, "ndcg@10": .0823,
     "source": "WncFht/GenRec, reference metrics CSV"},
    {"system": "LC-Rec (as a baseline)", "data": "Amazon 2018 Industrial_and_Scientific",
     "model": "as run by MiniOneRec; its LLM not stated in the figure", "hr@5": None, "hr@10": None, "ndcg@5": None, "ndcg@10": .0952,
     "source": "MiniOneRec README, results figure"},
    {"system": "SASRec", "data": "Amazon 2018 Industrial_and_Scientific",
     "model": "as run by MiniOneRec", "hr@5": None, "hr@10": None, "ndcg@5": None, "ndcg@10": .0806,
     "source": "MiniOneRec README, results figure"},
    {"system": "TIGER", "data": "Amazon Beauty", "model": "model not stated in the table", "hr@5": None,
     "hr@10": .0648, "ndcg@5": None, "ndcg@10": .0384, "source": "COBRA (arXiv 2503.02453), Table 2"},
    {"system": "SASRec, tuned", "data": "Amazon Beauty", "model": "", "hr@5": None, "hr@10": .0740,
     "ndcg@5": None, "ndcg@10": .0423, "source": "cornac's TIGER README, as the reference notes list it beside COBRA's Table 2"},
    {"system": "SASRec, RecBole 1.2.1 defaults (stopped at epoch 10, still rising)",
     "data": "MovieLens-100K, this book's split", "model": "SASRec, max length 50", "hr@5": None, "hr@10": .1273,
     "ndcg@5": None, "ndcg@10": .0609, "source": "measured for this project with RecBole (reference notes)"},
    {"system": "SASRec, compact (loss at every position, one window per user per epoch)",
     "data": "MovieLens-100K, this book's split", "model": "SASRec, max length 50, 2 seeds", "hr@5": None,
     "hr@10": .1188, "ndcg@5": None, "ndcg@10": .0557, "source": "measured for this project (reference notes)"},
]

#: the columns a table shows: the @10 metrics, which nearly every source reports (the @5
#: figures stay in PUBLISHED); five columns fit a book page at 1,280 px
KEYS = ("hr@10", "ndcg@10")


def published_rows() -> list[dict[str, Any]]:
    """The published rows, as table rows: system and model in one column, then data,
    HR@10, NDCG@10 and the source."""
    return [{"system (model)": f"{r['system']} ({r['model']})" if r["model"] else r["system"], "data": r["data"],
             **{k: r[k] for k in KEYS},
             "source": r["source"]} for r in PUBLISHED]


def beside_published(run_dir: str | Path) -> list[dict[str, Any]]:
    """This run's rows (LC-Rec, SASRec, most popular, with the users they were measured on),
    then the published rows; one table, every row labelled with who measured it."""
    run_dir = Path(run_dir)
    ev, bl = run_dir / "eval" / "metrics.json", run_dir / "baselines" / "metrics.json"
    rows: list[dict[str, Any]] = []
    ds = read_json(run_dir / "data" / "stats.json") if (run_dir / "data" / "stats.json").exists() else {}
    metas = {p: read_json(p) for p in (ev, bl) if p.exists()}  # each read once, not once per row
    for r in comparison_rows(run_dir):
        meta = metas[ev] if r["model"].startswith("LC-Rec") else metas[bl]
        # eval.exclude_history: this run's lists leave out the history (published ones do not)
        rule = ", history left out" if meta.get("exclude_history") else ""
        rows.append({"system (model)": f"{r['model']} (preset {meta['preset']}, seed {meta['seed']}{rule})",
                     "data": f"{ds.get('source', '?')}, {r['test users']} test users", **{k: r[k] for k in KEYS},
                     "source": "this run"})
    return rows + published_rows()
