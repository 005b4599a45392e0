"""The book: it builds offline with zero warnings, serves every asset itself, and a real
browser (headless Chromium, Debian's package) typesets its maths and loads its figures."""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PROBE_PAGE = "notebooks/03_index.html"  # maths in its prose, figures in its outputs

PROBE_JS = r"""
<script>
window.addEventListener('load', function () {
  function report() {
    var imgs = Array.prototype.slice.call(document.querySelectorAll('main img, article img'));
    var figs = imgs.filter(function (i) { return /_images\/.*\.png/.test(i.src); });
    var res = {
      mathjax: !!(window.MathJax && window.MathJax.version),
      math: document.querySelectorAll('mjx-container').length,
      math_errors: document.querySelectorAll('mjx-merror').length,
      images: imgs.length,
      images_loaded: imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length,
      figures: figs.length,
      figures_loaded: figs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length
    };
    document.body.setAttribute('data-probe', JSON.stringify(res));
  }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    MathJax.startup.promise.then(report, report);
  } else { setTimeout(report, 3000); }
});
</script>
"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    """Build the book once (MathJax fetched first if missing) into a temporary folder."""
    if not (ROOT / "_mathjax" / "mathjax" / "tex-chtml.js").exists():
        subprocess.run(["make", "-s", "mathjax"], cwd=ROOT, check=True)
    out = tmp_path_factory.mktemp("book")
    proc = subprocess.run(
        [str(BIN / "jupyter-book"), "build", "--warningiserror", "--keep-going", "--path-output", str(out), str(ROOT)],
        cwd=ROOT, capture_output=True, text=True,
    )
    log = proc.stdout + proc.stderr
    warnings = [l for l in log.splitlines() if "WARNING" in l or "ERROR" in l]
    assert proc.returncode == 0 and not warnings, "book build failed or warned:\n" + "\n".join(warnings or log.splitlines()[-30:])
    return out / "_build" / "html"


def test_book_has_every_chapter_and_notebook(built_book):
    toc = (ROOT / "_toc.yml").read_text()
    files = re.findall(r"file:\s*(\S+)", toc) + [re.search(r"root:\s*(\S+)", toc).group(1)]
    for f in files:
        assert (built_book / f"{f}.html").exists(), f"{f}.html missing from the build"
    nbs = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert nbs and all(f"notebooks/{n}" in files for n in nbs), "a notebook is not in _toc.yml"


def test_every_page_asset_is_served_by_the_build(built_book):
    external = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(https?:)?//", re.I)
    offenders = []
    for page in built_book.rglob("*.html"):
        if "_static" in page.parts or "mathjax" in page.parts:
            continue
        for m in external.finditer(page.read_text(encoding="utf-8", errors="replace")):
            offenders.append(f"{page.relative_to(built_book)}: {m.group(0)[:120]}")
    assert not offenders, "pages load assets from outside the build:\n" + "\n".join(offenders[:20])
    assert (built_book / "mathjax" / "tex-chtml.js").exists()


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="needs Debian's chromium (installed by .ci/run; required under CI)")
def test_browser_typesets_maths_and_loads_figures(built_book):
    assert chromium(), "chromium is not installed (apt-get install chromium)"
    page = built_book / PROBE_PAGE
    html = page.read_text(encoding="utf-8")
    assert "$" in html or "\\(" in html, f"{PROBE_PAGE} has no maths to typeset"
    probe = page.with_name("_probe.html")
    probe.write_text(html.replace("</body>", PROBE_JS + "</body>"), encoding="utf-8")

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_book))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/{PROBE_PAGE.rsplit('/', 1)[0]}/_probe.html"
        proc = subprocess.run(
            [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--virtual-time-budget=20000", "--dump-dom", url],
            capture_output=True, text=True, timeout=120,
        )
    finally:
        server.shutdown()
    m = re.search(r"data-probe=\"([^\"]*)\"", proc.stdout)
    assert m, f"the probe did not report; chromium said: {proc.stderr[-2000:]}"
    res = json.loads(m.group(1).replace("&quot;", '"'))
    assert res["mathjax"], res
    assert res["math"] >= 1 and res["math_errors"] == 0, res
    assert res["images_loaded"] == res["images"], res
    assert res["figures"] >= 2 and res["figures_loaded"] == res["figures"], res  # the notebook's plots


def test_pages_have_the_buttons_the_config_asks_for(built_book):
    """No download button (disabled in _config.yml), the repository and Colab ones kept."""
    page = (built_book / "notebooks" / "03_index.html").read_text(encoding="utf-8")
    assert "btn-download" not in page and "Download this page" not in page
    assert "github.com/lcrec-mini/lcrec-mini" in page
    assert "colab.research.google.com" in page


def test_no_build_machine_path_in_the_book_or_the_notebooks(built_book):
    machine = re.compile(r"/(work|root|tmp|home)/")
    hits = [str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("*.ipynb") if machine.search(p.read_text())]
    hits += [str(p.relative_to(built_book)) for p in built_book.rglob("*.html")
             if machine.search(p.read_text(encoding="utf-8", errors="replace"))]
    assert not hits, f"machine paths in: {hits}"


@pytest.mark.skipif(chromium() is None and not os.environ.get("CI"), reason="needs Debian's chromium (installed by .ci/run; required under CI)")
def test_no_table_or_output_is_clipped_at_1280_px(built_book):
    """A reader at 1,280 px sees every table and cell output whole: none is wider than
    the column the page gives it (tools/screenshots.py --check)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from screenshots import clipped

    toc = (ROOT / "_toc.yml").read_text()
    pages = re.findall(r"file:\s*(\S+)", toc)
    bad = {p: v for p, v in clipped(built_book, pages, chromium()).items() if v}
    assert not bad, "clipped at 1,280 px:\n" + "\n".join(f"{p}: {v}" for p, v in bad.items())
