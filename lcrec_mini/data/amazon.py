"""Amazon Reviews 2018 and 2023: download (cached, resumable, verified) and read.

Amazon 2018 (McAuley lab, "amazon_v2"), relative to ``data.amazon2018_base_url``:
  ``categoryFilesSmall/<Category>.csv``  ratings only, no header: item,user,rating,timestamp(s)
  ``metaFiles2/meta_<Category>.json.gz`` one JSON object per line: asin, title,
                                         description (list), category (list), brand, ...
No checksums are published for these files.

Amazon 2023 (``McAuley-Lab/Amazon-Reviews-2023`` on the Hugging Face hub), by explicit
file path relative to ``data.amazon2023_base_url``:
  ``benchmark/0core/rating_only/<Category>.csv`` header user_id,parent_asin,rating,timestamp(ms)
  ``raw/meta_categories/meta_<Category>.jsonl``  parent_asin, title, description (list),
                                                 categories (list), store, ...
The hub sends each file's SHA-256 (``X-Linked-ETag``); :func:`fetch` verifies it.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Callable

from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.core.runtime import default_cache_dir
from lcrec_mini.data.config import DataConfig
from lcrec_mini.data.download import fetch
from lcrec_mini.data.raw import RawData
from lcrec_mini.data.readers import clean_categories, clean_text, iter_json_lines, iter_lines

AMAZON2018_CATEGORIES = (
    "AMAZON_FASHION All_Beauty Appliances Arts_Crafts_and_Sewing Automotive Books "
    "CDs_and_Vinyl Cell_Phones_and_Accessories Clothing_Shoes_and_Jewelry Digital_Music "
    "Electronics Gift_Cards Grocery_and_Gourmet_Food Home_and_Kitchen Industrial_and_Scientific "
    "Kindle_Store Luxury_Beauty Magazine_Subscriptions Movies_and_TV Musical_Instruments "
    "Office_Products Patio_Lawn_and_Garden Pet_Supplies Prime_Pantry Software Sports_and_Outdoors "
    "Tools_and_Home_Improvement Toys_and_Games Video_Games"
).split()

AMAZON2023_CATEGORIES = (
    "All_Beauty Amazon_Fashion Appliances Arts_Crafts_and_Sewing Automotive Baby_Products "
    "Beauty_and_Personal_Care Books CDs_and_Vinyl Cell_Phones_and_Accessories "
    "Clothing_Shoes_and_Jewelry Digital_Music Electronics Gift_Cards Grocery_and_Gourmet_Food "
    "Handmade_Products Health_and_Household Health_and_Personal_Care Home_and_Kitchen "
    "Industrial_and_Scientific Kindle_Store Magazine_Subscriptions Movies_and_TV "
    "Musical_Instruments Office_Products Patio_Lawn_and_Garden Pet_Supplies Software "
    "Sports_and_Outdoors Subscription_Boxes Tools_and_Home_Improvement Toys_and_Games "
    "Video_Games Unknown"
).split()

#: SHA-256 of files whose sums are published (none are, for Amazon 2018, as of 2026).
KNOWN_SHA256: dict[str, str] = {}


def check_category(category: str, valid: list[str], version: str) -> str:
    if category in valid:
        return category

    close = difflib.get_close_matches(category, valid, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ConfigError(
        f"unknown Amazon {version} category {category!r}.{hint} Valid categories: {', '.join(valid)}"
    )


def _files_2018(category: str) -> dict[str, str]:
    return {
        "ratings": f"categoryFilesSmall/{category}.csv",
        "meta": f"metaFiles2/meta_{category}.json.gz",
    }


def _files_2023(category: str) -> dict[str, str]:
    return {
        "ratings": f"benchmark/0core/rating_only/{category}.csv",
        "meta": f"raw/meta_categories/meta_{category}.jsonl",
    }


def download_files(base_url: str, rel_paths: dict[str, str], cache: Path, timeout: float) -> dict[str, Path]:
    out = {}
    for key, rel in rel_paths.items():
        url = f"{base_url.rstrip('/')}/{rel}"
        out[key] = fetch(url, cache / rel, sha256=KNOWN_SHA256.get(rel), timeout=timeout)
    return out


def read_ratings_csv(path: Path, columns: tuple[str, str, str], header: str | None) -> list[tuple[str, str, float]]:
    """``columns`` names, in file order, which fields are ``user``, ``item`` and ``time``.

    ``header``: the first field of a header line, if the file may start with one.
    """
    rows: list[tuple[str, str, float]] = []
    iu, ii, it = (columns.index(c) for c in ("user", "item", "time"))
    for lineno, line in iter_lines(path):
        if not line:
            continue
        f = line.split(",")
        if lineno == 1 and header is not None and f[0] == header:
            continue
        try:
            if len(f) != 4:
                raise ValueError
            rows.append((f[iu], f[ii], float(f[it])))
        except ValueError:
            raise DataError(
                f"{path} line {lineno}: expected 4 comma-separated fields "
                f"({', '.join(columns)} with rating as the 3rd), got {line!r}"
            ) from None
    return rows


def read_meta(path: Path, id_key: str, fields: dict[str, str]) -> tuple[dict[str, dict[str, Any]], dict[str, int]]:
    """Item metadata keyed by ``id_key``; items whose cleaned title is empty are dropped.

    ``fields`` maps our names (title, description, categories, brand) to the source's.
    LC-Rec keeps such items with the title ".", which makes ``index2item`` targets
    meaningless; we drop them instead and count them in ``stats.json``.
    """
    items: dict[str, dict[str, Any]] = {}
    notes = {"meta_lines": 0, "meta_duplicates": 0, "items_without_title": 0}
    for lineno, obj in iter_json_lines(path):
        notes["meta_lines"] += 1
        key = obj.get(id_key)
        if not isinstance(key, str) or not key:
            raise DataError(f"{path} line {lineno}: expected a string field {id_key!r}")
        if key in items:
            notes["meta_duplicates"] += 1
            continue
        title = clean_text(obj.get(fields["title"]))
        if not title:
            notes["items_without_title"] += 1
            continue
        brand = obj.get(fields["brand"]) or ""
        items[key] = {
            "title": title,
            "description": clean_text(obj.get(fields["description"])),
            "categories": clean_categories(obj.get(fields["categories"])),
            "brand": clean_text(brand.replace("by\n", "") if isinstance(brand, str) else brand),
        }
    return items, notes


def _load(
    version: str,
    category: str,
    cfg: DataConfig,
    valid: list[str],
    files: Callable[[str], dict[str, str]],
    base_url: str,
    reader: Callable[[dict[str, Path]], RawData],
) -> RawData:
    check_category(category, valid, version)
    cache = default_cache_dir(cfg.cache_dir) / f"amazon{version}"
    paths = download_files(base_url, files(category), cache, cfg.download_timeout_s)
    raw = reader(paths)
    raw.name = f"amazon{version}:{category}"
    raw.files = [str(p) for p in paths.values()]
    return raw


def load_amazon2018(category: str, cfg: DataConfig) -> RawData:
    def reader(paths: dict[str, Path]) -> RawData:
        inter = read_ratings_csv(paths["ratings"], ("item", "user", "rating", "time"), header=None)
        items, notes = read_meta(
            paths["meta"], "asin", {"title": "title", "description": "description", "categories": "category", "brand": "brand"}
        )
        return RawData("", inter, items, notes=notes)

    return _load("2018", category, cfg, AMAZON2018_CATEGORIES, _files_2018, cfg.amazon2018_base_url, reader)


def load_amazon2023(category: str, cfg: DataConfig) -> RawData:
    def reader(paths: dict[str, Path]) -> RawData:
        inter = read_ratings_csv(paths["ratings"], ("user", "item", "rating", "time"), header="user_id")
        items, notes = read_meta(
            paths["meta"],
            "parent_asin",
            {"title": "title", "description": "description", "categories": "categories", "brand": "store"},
        )
        return RawData("", inter, items, notes=notes)

    return _load("2023", category, cfg, AMAZON2023_CATEGORIES, _files_2023, cfg.amazon2023_base_url, reader)
