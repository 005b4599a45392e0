"""MovieLens-100K, read from the copy shipped inside the ``recbole==1.2.1`` wheel.

RecBole's atomic files are tab-separated with a typed header:
``ml-100k.inter``: ``user_id:token item_id:token rating:float timestamp:float``;
``ml-100k.item``: ``item_id:token movie_title:token_seq release_year:token class:token_seq``.
Every rating counts as an interaction (as in LC-Rec). Item text is the title, the
release year and the genres.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from lcrec_mini.core.errors import DataError
from lcrec_mini.data.raw import RawData
from lcrec_mini.data.readers import iter_lines

RECBOLE_DIR = "recbole/dataset_example/ml-100k"


def ml100k_dir() -> Path:
    """The folder holding ``ml-100k.inter`` and ``ml-100k.item`` inside the recbole wheel."""
    try:
        dist = importlib.metadata.distribution("recbole")
    except importlib.metadata.PackageNotFoundError:
        raise DataError(
            "MovieLens-100K is read from the recbole wheel, which is not installed. "
            "Install it without its dependencies: pip install --no-deps recbole==1.2.1"
        ) from None
    folder = Path(dist.locate_file(RECBOLE_DIR))
    if not (folder / "ml-100k.inter").exists():
        raise DataError(f"{folder}: ml-100k.inter not found in recbole {dist.version}; expected recbole==1.2.1")
    return folder


def _header(path: Path, line: str, expected: list[str]) -> dict[str, int]:
    cols = [c.split(":")[0] for c in line.split("\t")]
    missing = [c for c in expected if c not in cols]
    if missing:
        raise DataError(f"{path} line 1: header {line!r} lacks columns {missing}")
    return {c: cols.index(c) for c in expected}


def read_inter(path: Path) -> list[tuple[str, str, float]]:
    rows: list[tuple[str, str, float]] = []
    col: dict[str, int] = {}
    for lineno, line in iter_lines(path):
        if lineno == 1:
            col = _header(path, line, ["user_id", "item_id", "timestamp"])
            continue
        if not line:
            continue
        f = line.split("\t")
        try:
            rows.append((f[col["user_id"]], f[col["item_id"]], float(f[col["timestamp"]])))
        except (IndexError, ValueError):
            raise DataError(
                f"{path} line {lineno}: expected tab-separated user_id, item_id, rating, timestamp; got {line!r}"
            ) from None
    return rows


def read_items(path: Path) -> dict[str, dict]:
    items: dict[str, dict] = {}
    col: dict[str, int] = {}
    for lineno, line in iter_lines(path):
        if lineno == 1:
            col = _header(path, line, ["item_id", "movie_title", "release_year", "class"])
            continue
        if not line:
            continue
        f = line.split("\t")
        if len(f) <= max(col.values()):
            raise DataError(f"{path} line {lineno}: expected 4 tab-separated fields, got {len(f)}")
        title = f[col["movie_title"]].strip()
        if not title:
            raise DataError(f"{path} line {lineno}: item {f[col['item_id']]} has no title")
        year = f[col["release_year"]].strip()
        year = year if year.isdigit() else ""
        genres = [g for g in f[col["class"]].split() if g and g != "unknown"]
        desc = f"A {year} film" if year else "A film"
        desc += f" ({', '.join(genres)})." if genres else "."
        items[f[col["item_id"]]] = {
            "title": title,
            "description": desc,
            "categories": ", ".join(genres),
            "year": year,
            "genres": genres,
        }
    return items


def load_ml100k() -> RawData:
    folder = ml100k_dir()
    inter, item = folder / "ml-100k.inter", folder / "ml-100k.item"
    return RawData(
        name="ml-100k",
        interactions=read_inter(inter),
        items=read_items(item),
        files=[str(inter), str(item)],
        text_fields=["title", "year", "genres"],
    )
