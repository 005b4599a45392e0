"""Browse a finished run: a user's history, their recommendations, and the index tree.

:class:`Explorer` reads only stage files (``data/``, ``index/``, ``tasks/``, ``eval/``),
so it needs no model. In Jupyter it shows ipywidgets (pick a user; pick an index prefix
level by level); everywhere else, including the static book, it renders the same views
as fixed HTML for one user and one prefix.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any

import numpy as np

from lcrec_mini.core.errors import DataError
from lcrec_mini.core.run import Run
from lcrec_mini.data.splits import test_case
from lcrec_mini.index.stage import densest_prefix, prefix_members
from lcrec_mini.index.tokens import code_token, index_str


class Explorer:
    def __init__(self, run_dir: str | Path, top: int = 10):
        self.run = Run(run_dir)
        self.run_dir = self.run.dir
        self.ds = self.run.dataset
        self.codes = self.run.codes
        self.preds = self.run.predictions
        self.users = sorted(self.preds)
        self.top = top
        self.max_history = self.run.max_history  # the history the prompts showed

    # -- plain views (HTML strings) --------------------------------------------------

    def title(self, item: int) -> str:
        return self.ds.items[str(item)].get("title", "")

    def _item_row(self, rank: Any, item: int, extra: str | None = None, mark: bool = False) -> str:
        """One table row: rank, index, title, and a fourth cell only when ``extra`` is given."""
        style = ' style="background:#e6f4ea;font-weight:bold"' if mark else ""
        last = f"<td>{extra}</td>" if extra is not None else ""
        return (
            f"<tr{style}><td>{rank}</td><td><code style='white-space:nowrap'>{html.escape(index_str(self.codes[item]))}</code></td>"
            f"<td>{html.escape(self.title(item))}</td>{last}</tr>"
        )

    def user_html(self, user: int) -> str:
        """History (the prompt's items, oldest first) and top recommendations of one test user."""
        if user not in self.preds:
            raise DataError(f"user {user} has no prediction in {self.run_dir / 'eval' / 'predictions.jsonl'}")
        p = self.preds[user]
        seq = self.ds.sequences[str(user)]
        history = test_case(seq)[0][-self.max_history :]
        target = p["target"]
        rank = p.get("rank")
        hist_rows = "".join(self._item_row(i + 1, it) for i, it in enumerate(history))
        rec_rows = "".join(
            self._item_row(i + 1, it, f"{sc:.3f}", mark=it == target)
            for i, (it, sc) in enumerate(zip(p["ranked"][: self.top], p["scores"][: self.top]))
        )
        verdict = f"held-out item at rank {rank}" if rank else f"held-out item not in the top {len(p['ranked'])}"
        head = "<tr><th>#</th><th>index</th><th>title</th>{}</tr>"
        return (
            f"<div class='lcrec-explorer'><h4>User {user}: {len(seq)} interactions; {verdict}</h4>"
            f"<p>Held-out (test) item: <code>{html.escape(index_str(self.codes[target]))}</code> "
            f"{html.escape(self.title(target))}</p>"
            f"<div style='display:flex;gap:2em;flex-wrap:wrap'>"
            f"<div><b>History shown to the model (last {len(history)}, oldest first)</b>"
            f"<table>{head.format('')}{hist_rows}</table></div>"
            f"<div><b>Top {self.top} recommendations (beam score = summed log-probability)</b>"
            f"<table>{head.format('<th>score</th>')}{rec_rows}</table></div></div></div>"
        )

    def prefix_items(self, prefix: tuple[int, ...]) -> list[int]:
        return prefix_members(self.codes, prefix).tolist()

    def prefix_html(self, prefix: tuple[int, ...], limit: int = 25) -> str:
        """Items whose index starts with ``prefix``, and how they split at the next level."""
        items = self.prefix_items(prefix)
        label = index_str(prefix) if prefix else "(root)"
        out = [f"<h4>Prefix <code>{html.escape(label)}</code>: {len(items)} items</h4>"]
        depth = len(prefix)
        if depth < self.codes.shape[1] and items:
            nxt = np.bincount(self.codes[items, depth], minlength=1)
            parts = [f"<code>{html.escape(code_token(depth, c))}</code>: {n}" for c, n in enumerate(nxt) if n]
            out.append(f"<p>next level: {len(parts)} branches &mdash; " + ", ".join(parts[:40]) + (" ..." if len(parts) > 40 else "") + "</p>")
        rows = "".join(self._item_row(i + 1, it) for i, it in enumerate(items[:limit]))
        more = f"<p>... and {len(items) - limit} more</p>" if len(items) > limit else ""
        out.append(f"<table><tr><th>#</th><th>index</th><th>title</th></tr>{rows}</table>{more}")
        return "<div class='lcrec-explorer'>" + "".join(out) + "</div>"

    def default_user(self, seed: int = 0) -> int:
        """A test user drawn with a fixed seed, without looking at how the model did for
        them (picking the best-ranked one would show the model at its best)."""
        return self.users[int(np.random.default_rng(seed).integers(len(self.users)))]

    def default_prefix(self) -> tuple[int, ...]:
        """The most populated level-1 code, then its most populated level-2 code."""
        return densest_prefix(self.codes, 2)

    def static_html(self, user: int | None = None, prefix: tuple[int, ...] | None = None) -> str:
        u = self.default_user() if user is None else user
        pre = self.default_prefix() if prefix is None else prefix
        return self.user_html(u) + "<hr/>" + self.prefix_html(pre)

    # -- widgets ---------------------------------------------------------------------

    def widget(self):
        """ipywidgets: a user picker with the user view, and per-level prefix pickers."""
        import ipywidgets as W

        user_pick = W.Dropdown(options=self.users, value=self.default_user(), description="user")
        user_out = W.HTML(self.user_html(user_pick.value))
        user_pick.observe(lambda ch: setattr(user_out, "value", self.user_html(ch["new"])), names="value")

        levels = self.codes.shape[1]
        pickers = [W.Dropdown(description=f"level {l + 1}") for l in range(levels)]
        tree_out = W.HTML()

        busy = [False]  # our own option changes must not trigger another refresh

        def refresh(start: int = 0) -> None:
            busy[0] = True
            try:
                prefix: list[int] = []
                open_level = True  # every level above chose a code
                for l, pk in enumerate(pickers):
                    if l >= start:
                        if open_level:
                            counts = np.bincount(self.codes[self.prefix_items(tuple(prefix)), l], minlength=1)
                            opts = [("(any)", -1)] + [(f"{code_token(l, c)} ({n})", c) for c, n in enumerate(counts) if n]
                        else:
                            opts = [("(any)", -1)]
                        keep = pk.value if pk.value in [v for _, v in opts] else -1
                        pk.options = opts
                        pk.value = keep
                    if open_level and pk.value is not None and pk.value >= 0:
                        prefix.append(pk.value)
                    else:
                        open_level = False
                tree_out.value = self.prefix_html(tuple(prefix))
            finally:
                busy[0] = False

        for l, pk in enumerate(pickers):
            pk.observe(lambda ch, l=l: None if busy[0] else refresh(start=l + 1), names="value")
        refresh()
        return W.Tab(
            children=[W.VBox([user_pick, user_out]), W.VBox([W.HBox(pickers), tree_out])],
            titles=("recommendations", "index tree"),
        )

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        """Jupyter shows the widget; the book (which drops widget views) shows fixed HTML."""
        # the run folder relative to the working directory: no machine's path in a saved notebook
        bundle: dict[str, Any] = {"text/plain": f"Explorer({os.path.relpath(self.run_dir)})", "text/html": self.static_html()}
        try:
            w = self.widget()
        except Exception:  # noqa: BLE001 - no ipywidgets (or no kernel): the static views still show
            return bundle
        wb = w._repr_mimebundle_() or {}
        bundle.update({k: v for k, v in wb.items() if k != "text/plain"})
        return bundle
