"""The data stage's config section."""

from __future__ import annotations

from dataclasses import dataclass

from lcrec_mini.core.settings import ANY, POSITIVE, Allowed, at_least, setting


def _source_ok(v: str) -> bool:
    name, sep, arg = v.partition(":")
    return (name == "ml-100k" and not sep) or (name in ("amazon2018", "amazon2023", "lcrec") and bool(arg.strip()))


SOURCE = Allowed(_source_ok, "ml-100k, amazon2018:<Category>, amazon2023:<Category> or lcrec:<folder>")



@dataclass
class DataConfig:
    """Where the interactions come from and how they are filtered (stage ``data``)."""

    #: ``ml-100k`` | ``amazon2018:<Category>`` | ``amazon2023:<Category>`` | ``lcrec:<folder>``
    source: str = setting("ml-100k", SOURCE)
    #: iterative k-core thresholds (LC-Rec uses 5 and 5)
    min_user_interactions: int = setting(5, at_least(1))
    min_item_interactions: int = setting(5, at_least(1))
    #: longest history a model sees (LC-Rec: 20); the split keeps the full sequence
    max_history: int = setting(20, at_least(1))
    #: keep only the first N users (by id) after filtering, then filter again; for smoke runs
    max_users: int | None = setting(None, Allowed(lambda v: v is None or v >= 2, "none or an integer >= 2"))
    #: where downloads are kept (``$LCREC_MINI_CACHE`` or ``~/.cache/lcrec-mini`` when empty)
    cache_dir: str = setting("", ANY, fingerprint=False, help="download cache folder")
    amazon2018_base_url: str = setting("https://datarepo.eng.ucsd.edu/mcauley_group/data/amazon_v2", ANY, fingerprint=False, help="Amazon 2018 mirror")
    amazon2023_base_url: str = setting("https://huggingface.co/datasets/McAuley-Lab/Amazon-Reviews-2023/resolve/main", ANY, fingerprint=False, help="Amazon 2023 dataset repository (files by explicit path)")
    download_timeout_s: float = setting(60.0, POSITIVE, fingerprint=False, help="seconds without a byte before a download fails")
