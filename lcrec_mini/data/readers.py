"""Line readers that say where a file went wrong (file, line, what was expected)."""

from __future__ import annotations

import gzip
import html
import json
import re
import zlib
from pathlib import Path
from typing import Any, Iterator

from lcrec_mini.core.errors import DataError


def open_text(path: str | Path):
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def iter_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """``(line number, line without newline)``; a truncated .gz or bad UTF-8 is a DataError."""
    path = Path(path)
    lineno = 0
    try:
        with open_text(path) as f:
            for lineno, line in enumerate(f, 1):
                yield lineno, line.rstrip("\r\n")
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(
            f"{path}: truncated or corrupt gzip file (read {lineno} lines, then: {e}). "
            f"Delete it (rm '{path}') so that it is downloaded again."
        ) from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path} line {lineno + 1}: not UTF-8 text ({e.reason})") from None


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """One JSON object per line (JSON Lines), skipping blank lines."""
    for lineno, line in iter_lines(path):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"{path} line {lineno}: not valid JSON ({e.msg} at column {e.colno}); "
                f"expected one JSON object per line"
            ) from None
        if not isinstance(obj, dict):
            raise DataError(f"{path} line {lineno}: expected a JSON object, got {type(obj).__name__}")
        yield lineno, obj


_TAG = re.compile(r"<[^>]*>")
_SPACE = re.compile(r"\s+")
#: LC-Rec drops item text of 2000 characters or more (mostly scraped page junk).
MAX_TEXT_CHARS = 2000


def clean_text(value: Any) -> str:
    """Item text as LC-Rec cleans it: HTML entities decoded, tags removed, whitespace
    collapsed; a list is cleaned element-wise and joined; junk of >= 2000 chars -> ''.
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        parts = [clean_text(v) for v in value]
        text = " ".join(p for p in parts if p)
    else:
        text = html.unescape(str(value))
        text = _TAG.sub(" ", text)
        text = text.replace('"', "")
        text = _SPACE.sub(" ", text).strip()
    if len(text) >= MAX_TEXT_CHARS:
        return ""
    return text


def clean_categories(value: Any) -> str:
    """Category path as one string; entries holding HTML (scraping residue) end the path."""
    if not value:
        return ""
    if isinstance(value, str):
        value = [value]
    out = []
    for v in value:
        if not isinstance(v, str) or "<" in v:
            break
        v = clean_text(v)
        if v:
            out.append(v)
    return ", ".join(out)
