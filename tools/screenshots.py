"""Screenshots of built book pages, as a reader at 1,280 px sees them (headless Chromium).

    python tools/screenshots.py [--out DIR] [--height PX] PAGE...   # e.g. notebooks/03_index

Serves ``_build/html`` on a loopback port (so the page loads its assets as in a
browser) and writes ``DIR/<page name>.png`` for each page: one tall image of the
page's top ``--height`` pixels. Needs ``chromium`` (Debian's package) and a built book
(``make book``).
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="+", help="page paths inside the built book, without .html")
    ap.add_argument("--out", default="screenshots")
    ap.add_argument("--height", type=int, default=9000)
    ap.add_argument("--width", type=int, default=1280)
    a = ap.parse_args()
    html = ROOT / "_build" / "html"
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    missing = [p for p in a.pages if not (html / f"{p}.html").exists()]
    if missing:
        print(f"not in {html}: {missing}; build the book first (make book)", file=sys.stderr)
        return 2
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no request log on the terminal
            pass

    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for page in a.pages:
            png = out / f"{Path(page).name}.png"
            subprocess.run(
                [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--hide-scrollbars", f"--window-size={a.width},{a.height}", "--virtual-time-budget=20000",
                 f"--screenshot={png.resolve()}", f"http://127.0.0.1:{server.server_port}/{page}.html"],
                capture_output=True, timeout=180, check=True,
            )
            print(f"{png} ({png.stat().st_size // 1024} KiB)")
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
