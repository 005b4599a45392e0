"""Downloads: cached, resumable, verified, and clear when there is no network.

A file is fetched into ``<dest>.part`` and renamed to ``dest`` only when complete
(and its SHA-256 matches, where one is known), so an interrupted download never
looks finished. The next call resumes the ``.part`` file with an HTTP Range
request. A checksum comes from the caller (a published sum) or, on the Hugging Face
hub, from the ``X-Linked-ETag`` header, which is the SHA-256 of an LFS file.

With ``LCREC_MINI_OFFLINE=1`` or ``HF_HUB_OFFLINE=1`` no connection is attempted.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

from tqdm.auto import tqdm

from lcrec_mini.core.errors import DownloadError

CHUNK = 1 << 20


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def offline() -> bool:
    return any(os.environ.get(v, "") not in ("", "0") for v in ("LCREC_MINI_OFFLINE", "HF_HUB_OFFLINE"))


def _offline_help(url: str, dest: Path) -> str:
    return (
        f"To use this data without a network, download {url} elsewhere and put it at {dest} "
        f"(or point --set data.cache_dir=... to a folder that holds it). "
        f"The offline default needs no download: --set data.source=ml-100k."
    )


def _open(url: str, dest: Path, have: int, timeout: float):
    """The server's response, asking for the bytes after ``have`` when a ``.part`` file
    holds some; None when that file is already complete (HTTP 416)."""
    headers = {"User-Agent": "lcrec-mini"}
    if have:
        headers["Range"] = f"bytes={have}-"
    req = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(req, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # the .part file is already complete
            return None
        raise DownloadError(
            f"{url}: the server answered HTTP {e.code} {e.reason}. "
            f"Check the name (category, file) in the URL. " + _offline_help(url, dest)
        ) from None
    except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise DownloadError(
            f"cannot download {url}: {reason}. This machine seems to have no network access "
            f"to that host. " + _offline_help(url, dest)
        ) from None


def _stream(resp, url: str, dest: Path, part: Path, have: int, progress: bool) -> None:
    """Write the response body to ``part`` (appending when the server resumed), with a
    progress bar; an interrupted or short download leaves ``part`` to resume from."""
    resumed = resp.status == 206
    if not resumed:
        have = 0
    length = resp.headers.get("Content-Length")
    total = have + int(length) if length and length.isdigit() else None
    with open(part, "ab" if resumed else "wb") as f, tqdm(
        total=total, initial=have, unit="B", unit_scale=True, desc=dest.name, disable=not progress,
    ) as bar:
        while True:
            try:
                block = resp.read(CHUNK)
            except (socket.timeout, ConnectionError, OSError) as e:
                raise DownloadError(
                    f"download of {url} stopped after {f.tell()} bytes: {e}. Run again to resume from {part}."
                ) from None
            if not block:
                break
            f.write(block)
            bar.update(len(block))
    if total is not None and part.stat().st_size < total:
        raise DownloadError(
            f"download of {url} ended early ({part.stat().st_size} of {total} bytes). "
            f"Run again to resume from {part}."
        )


def fetch(
    url: str,
    dest: str | Path,
    sha256: str | None = None,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` unless it is already there; return ``dest``.

    Raises :class:`DownloadError` naming the URL and the destination when the
    network cannot be reached, the server answers with an error, or the checksum
    does not match (the bad file is removed so the next call downloads it again).
    """
    dest = Path(dest)
    if dest.exists():
        if sha256 and sha256_file(dest) != sha256.lower():
            raise DownloadError(
                f"{dest}: cached file does not match its SHA-256 {sha256}; delete it to download it again"
            )
        return dest
    if offline():
        raise DownloadError(f"offline mode (LCREC_MINI_OFFLINE/HF_HUB_OFFLINE): not downloading {url}. " + _offline_help(url, dest))
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    resp = _open(url, dest, have, timeout)
    expected = sha256
    if resp is not None:
        with resp:
            etag = (resp.headers.get("X-Linked-ETag") or "").strip('"')
            if not expected and re.fullmatch(r"[0-9a-f]{64}", etag):
                expected = etag
            _stream(resp, url, dest, part, have, progress)
    if expected:
        got = sha256_file(part)
        if got != expected.lower():
            part.unlink()
            raise DownloadError(
                f"{url}: SHA-256 mismatch (expected {expected}, got {got}); the file was removed, "
                f"run again to download it anew"
            )
    part.rename(dest)
    return dest
