"""Shared fixtures: a loopback file server with HTTP Range support, and Amazon-format files."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


class _Handler(BaseHTTPRequestHandler):
    root: Path
    log: list
    etags: dict  # relative path -> value of X-Linked-ETag to send

    def log_message(self, *args):  # keep test output quiet
        pass

    def do_GET(self):
        rel = self.path.lstrip("/")
        self.log.append((rel, self.headers.get("Range")))
        path = self.root / rel
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        if rel in self.etags:
            self.send_header("X-Linked-ETag", f'"{self.etags[rel]}"')
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def file_server(tmp_path):
    """Serve ``tmp_path/www`` on 127.0.0.1; yields (base_url, root, request_log, etags)."""
    root = tmp_path / "www"
    root.mkdir()
    log: list = []
    etags: dict = {}
    handler = type("H", (_Handler,), {"root": root, "log": log, "etags": etags})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, log, etags
    finally:
        server.shutdown()
        server.server_close()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- Amazon fixtures in the exact upstream formats -------------------------------------------

#: 6 users x 6 items, every user and item with >= 5 interactions after filtering, plus
#: noise that the preprocessing must remove: a repeated pair, an item without metadata,
#: an item with an empty title, and a user and an item below the 5-core threshold.
CORE_USERS = [f"A{n:03d}USER" for n in range(6)]
CORE_ITEMS = [f"B00ITEM{n:03d}" for n in range(6)]


def amazon_interactions() -> list[tuple[str, str, float, int]]:
    """(user, item, rating, unix seconds) in file order."""
    rows = []
    t = 1_400_000_000
    for u, user in enumerate(CORE_USERS):
        for k in range(6):
            item = CORE_ITEMS[(u + k) % 6]
            rows.append((user, item, 5.0, t + 100 * u + k))
    rows.append((CORE_USERS[0], CORE_ITEMS[0], 4.0, t + 999))  # repeated pair (later)
    for u in range(3):  # an item rated by only 3 users: removed by the 5-core filter
        rows.append((CORE_USERS[u], "B00RARE000", 3.0, t + 50))
    rows.append(("A999LONELY", CORE_ITEMS[1], 2.0, t + 7))  # a user with a single rating
    for u in range(5):  # an item without metadata
        rows.append((CORE_USERS[u], "B00NOMETA0", 4.0, t + 60))
    for u in range(5):  # an item whose title is empty after cleaning
        rows.append((CORE_USERS[u], "B00NOTITLE", 4.0, t + 70))
    return rows


def amazon_meta_2018() -> list[dict]:
    meta = []
    for n, asin in enumerate(CORE_ITEMS):
        meta.append(
            {
                "asin": asin,
                "title": f"Guitar &amp; Strings <b>No. {n}</b>",
                "description": [f"A fine <i>thing</i> number {n}.", "Second  line\n here."],
                "category": ["Musical Instruments", "Guitars", '<span class="a">junk</span>'],
                "brand": "by\nAcme",
                "price": "$9.99",
            }
        )
    meta.append({"asin": "B00RARE000", "title": "Rare", "description": [], "category": []})
    meta.append({"asin": "B00NOTITLE", "title": "<br/>", "description": ["x"], "category": []})
    meta.append(dict(meta[0]))  # duplicated asin: the first wins
    return meta


def write_amazon2018(root: Path, category: str = "Musical_Instruments") -> dict[str, Path]:
    ratings = root / "categoryFilesSmall" / f"{category}.csv"
    meta = root / "metaFiles2" / f"meta_{category}.json.gz"
    ratings.parent.mkdir(parents=True, exist_ok=True)
    meta.parent.mkdir(parents=True, exist_ok=True)
    with open(ratings, "w") as f:  # no header; item,user,rating,timestamp
        for user, item, r, t in amazon_interactions():
            f.write(f"{item},{user},{r},{t}\n")
    with gzip.open(meta, "wt", encoding="utf-8") as f:
        for m in amazon_meta_2018():
            f.write(json.dumps(m) + "\n")
    return {"ratings": ratings, "meta": meta}


def write_amazon2023(root: Path, category: str = "All_Beauty") -> dict[str, Path]:
    ratings = root / "benchmark" / "0core" / "rating_only" / f"{category}.csv"
    meta = root / "raw" / "meta_categories" / f"meta_{category}.jsonl"
    ratings.parent.mkdir(parents=True, exist_ok=True)
    meta.parent.mkdir(parents=True, exist_ok=True)
    with open(ratings, "w") as f:  # header; user_id,parent_asin,rating,timestamp (ms)
        f.write("user_id,parent_asin,rating,timestamp\n")
        for user, item, r, t in amazon_interactions():
            f.write(f"{user},{item},{r},{t * 1000}\n")
    with open(meta, "w", encoding="utf-8") as f:
        for m in amazon_meta_2018():
            m = dict(m)
            m["parent_asin"] = m.pop("asin")
            m["categories"] = m.pop("category")
            m["store"] = "Acme"
            m.pop("brand", None)
            f.write(json.dumps(m) + "\n")
    return {"ratings": ratings, "meta": meta}
