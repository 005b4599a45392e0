"""Screenshots of built book pages, as a reader at 1,280 px sees them (headless Chromium).

    python tools/screenshots.py [--out DIR] [--height PX] PAGE...   # e.g. notebooks/03_index
    python tools/screenshots.py --check PAGE...    # report clipped tables and output lines

Serves ``_build/html`` on a loopback port (so the page loads its assets as in a
browser) and writes ``DIR/<page name>.png`` for each page: one tall image of the
page's top ``--height`` pixels. Needs ``chromium`` (Debian's package) and a built book
(``make book``).
"""

from __future__ import annotations

import argparse
import functools
import html as html_lib
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: loads every page in an iframe of the reader's width and reports, per page, each table,
#: code block or cell output that is wider than the space the page gives it (it would scroll or be
#: cut): what a reader at that width cannot see at once
CHECK_HTML = """<!doctype html><html><body>
<script>
var pages = %(pages)s, width = %(width)d, done = 0, report = {};
function inspect(name, doc) {
  var bad = [];
  var els = doc.querySelectorAll('main table, main pre');
  Array.prototype.forEach.call(els, function (el) {
    var over = el.scrollWidth - el.clientWidth;
    var node = el.parentElement;
    while (node && node.tagName !== 'MAIN') {
      over = Math.max(over, node.scrollWidth - node.clientWidth);
      node = node.parentElement;
    }
    if (over > 2) {
      var text = (el.innerText || '').replace(/\\s+/g, ' ').slice(0, 80);
      bad.push(el.tagName.toLowerCase() + ' ' + over + 'px too wide: ' + text);
    }
  });
  report[name] = bad;
}
pages.forEach(function (p) {
  var f = document.createElement('iframe');
  f.style.width = width + 'px'; f.style.height = '900px';
  f.onload = function () {
    setTimeout(function () {
      inspect(p, f.contentDocument);
      if (++done === pages.length) document.body.setAttribute('data-report', JSON.stringify(report));
    }, 1500);
  };
  f.src = p + '.html';
  document.body.appendChild(f);
});
</script></body></html>"""


def serve(html: Path) -> http.server.ThreadingHTTPServer:
    """``html`` on a loopback port, in a thread, quietly."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # no request log on the terminal
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(html)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def clipped(html: Path, pages: list[str], browser: str, width: int = 1280) -> dict[str, list[str]]:
    """Per page, the tables and cell outputs wider than the page gives them at ``width`` px."""
    probe = html / "_clip_probe.html"
    probe.write_text(CHECK_HTML % {"pages": json.dumps(pages), "width": width}, encoding="utf-8")
    server = serve(html)
    try:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             f"--window-size={width + 40},900", "--virtual-time-budget=60000", "--dump-dom",
             f"http://127.0.0.1:{server.server_port}/_clip_probe.html"],
            capture_output=True, text=True, timeout=300,
        )
    finally:
        server.shutdown()
        probe.unlink()
    m = re.search(r'data-report="([^"]*)"', proc.stdout)
    if not m:
        raise RuntimeError(f"the clipping probe did not report; chromium said: {proc.stderr[-2000:]}")
    return json.loads(html_lib.unescape(m.group(1)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pages", nargs="+", help="page paths inside the built book, without .html")
    ap.add_argument("--out", default="screenshots")
    ap.add_argument("--height", type=int, default=9000)
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--check", action="store_true", help="report clipped tables and outputs instead of screenshots")
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
    if a.check:
        bad = {p: v for p, v in clipped(html, a.pages, browser, a.width).items() if v}
        for p, v in bad.items():
            print(f"{p}:\n  " + "\n  ".join(v))
        print(f"{len(bad)} of {len(a.pages)} pages have clipped tables or outputs at {a.width} px")
        return 1 if bad else 0
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    server = serve(html)
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
