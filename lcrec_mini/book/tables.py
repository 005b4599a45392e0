"""The notebooks' tables: :class:`Table` (HTML in Jupyter, aligned text elsewhere, no
pandas) and one builder per table a notebook shows, each reading stage outputs."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path
from typing import Any, Sequence

from lcrec_mini.analyses.claims import INDEX_METHODS, Claim, check_claims, intention_rows, tune_minutes
from lcrec_mini.analyses.probes import EMPTY_AT_ONCE, PREFIX_COLUMNS, related_items
from lcrec_mini.core.config import Config, make_config, valid_keys
from lcrec_mini.core.presets import PRESETS
from lcrec_mini.core.run import Run
from lcrec_mini.core.stage import read_json
from lcrec_mini.generate.metrics import METRIC_KEYS
from lcrec_mini.index.stage import densest_prefix, prefix_members
from lcrec_mini.index.tokens import index_str
from lcrec_mini.tasks.config import TasksConfig
from lcrec_mini.tasks.registry import TASKS
from lcrec_mini.tasks.stage import build_examples, render
from lcrec_mini.tasks.usertext import user_texts

#: an index token inside table text (lcrec_mini.index.tokens writes them)
INDEX_TOKEN = re.compile(r"(<[a-z]_\d+>)")

class Table:
    """Rows of dicts shown as an HTML table in a notebook and as text in a terminal."""

    def __init__(self, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, caption: str = ""):
        self.rows = list(rows)
        self.columns = list(columns or (self.rows[0].keys() if self.rows else []))
        self.caption = caption

    @staticmethod
    def _fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 10 else f"{v:,.1f}"
        if isinstance(v, int) and not isinstance(v, bool):
            return f"{v:,}"
        return "" if v is None else str(v)

    @staticmethod
    def _cell_html(text: str) -> str:
        """Escaped text in which every index token is kept whole: a line may break between
        ``<a_9>`` and ``<b_29>``, never inside one, and after the ``/`` or ``:`` of a name."""
        parts = INDEX_TOKEN.split(text)
        out = []
        for i, part in enumerate(parts):
            if i % 2:  # a token (the pattern's one group)
                out.append(f'<span class="ix">{html.escape(part)}</span><wbr>')
            else:  # long names (models, data sources) may break after a slash or a colon
                out.append(html.escape(part).replace("/", "/<wbr>").replace(":", ":<wbr>"))
        return "".join(out)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{self._cell_html(self._fmt(r.get(c)))}</td>" for c in self.columns) + "</tr>"
            for r in self.rows
        )
        cap = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f'<table class="lcrec-table">{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __repr__(self) -> str:
        cells = [[self._fmt(r.get(c)) for c in self.columns] for r in self.rows]
        widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(self.columns)]
        lines = [" | ".join(c.ljust(w) for c, w in zip(self.columns, widths)), "-+-".join("-" * w for w in widths)]
        lines += [" | ".join(v.ljust(w) for v, w in zip(row, widths)) for row in cells]
        return ("\n".join([self.caption] + lines)) if self.caption else "\n".join(lines)


PRESET_KEYS = ("data.source", "embed.model", "index.levels", "index.codebook_size", "index.epochs", "tune.model",
               "tune.method", "tune.epochs", "eval.beams")


def preset_table():
    """The settings that differ most between presets, one column per preset."""
    cfgs = {p: make_config(p).to_dict() for p in PRESETS}

    def get(d: dict, key: str):
        sec, k = key.split(".", 1)
        return d.get(sec, {}).get(k)

    rows = [{"setting": k, **{p: get(c, k) for p, c in cfgs.items()}} for k in PRESET_KEYS]
    return Table(rows, ["setting", *cfgs], caption="presets (lcrec_mini/core/presets.py)")


def changed_settings_table(cfg) -> Table:
    """The settings of ``cfg`` that differ from the defaults (what its preset and overrides
    change), one row each: the key, the default, this run's value."""
    base = Config()
    rows = []
    for key in valid_keys(cfg):
        here, default = _get(cfg, key), _get(base, key)
        if key != "preset" and here != default:
            rows.append({"setting": key, "default": _short(default), "this run": _short(here)})
    return Table(rows, ["setting", "default", "this run"],
                 caption=f"what preset {cfg.preset!r} (and any overrides) change from the defaults")


def _get(obj, key: str):
    for part in key.split("."):
        obj = getattr(obj, part)
    return obj


def _short(v) -> str:
    if isinstance(v, str) and (not v or v != v.strip()):
        return json.dumps(v)  # an empty value or one with edge spaces, visibly: "" and ", "
    text = ", ".join(map(str, v)) if isinstance(v, list) else str(v)
    return _clip(text, 60)


def stats_table(stats: dict[str, Any]):
    raw, sl = stats["raw"], stats["sequence_length"]
    rows = [
        {"": "users", "raw": raw["users"], "after filtering": stats["users"]},
        {"": "items", "raw": raw["items"], "after filtering": stats["items"]},
        {"": "interactions", "raw": raw["interactions"], "after filtering": stats["interactions"]},
        {"": "density", "raw": "", "after filtering": f"{100 * stats['density']:.3f}%"},
        {"": "interactions held by the top 10% of items", "raw": "", "after filtering": f"{100 * stats['top10pct_items_share']:.1f}%"},
        {"": "sequence length min / median / mean / max", "raw": "",
         "after filtering": f"{sl['min']} / {sl['median']:g} / {sl['mean']:.1f} / {sl['max']}"},
    ]
    return Table(rows, caption=f"source {stats['source']}")


def first_label(item: dict[str, Any]) -> str:
    """An item's first genre or category (for colouring plots)."""
    g = item.get("genres")
    if isinstance(g, list) and g:
        return str(g[0])
    cats = item.get("categories") or ""
    if isinstance(cats, list):
        return str(cats[0]) if cats else "(none)"
    return cats.split(",")[0].strip() or "(none)"


def items_table(ds, items, codes=None):
    rows = []
    for i in items:
        it = ds.items[str(int(i))]
        row = {"item": int(i), "title": it.get("title", "")}
        if codes is not None:
            row["index"] = index_str(codes[int(i)])
        row["description"] = (it.get("description") or "")[:90]
        rows.append(row)
    return Table(rows)


def collision_table(stats: dict[str, Any]):
    n = stats["items"]
    sk, fin = stats["sinkhorn_fixup"], stats["final_step"]
    rows = [
        {"step": "nearest codes (no uniform mapping)", "collision rate": stats["collision_rate_before_fixup"],
         "items moved": 0},
        {"step": f"Sinkhorn-Knopp on the last level ({sk['rounds']} rounds)", "collision rate": sk["collision_rate_after"],
         "items moved": sk["items_moved"]},
        {"step": "final step (nearest free code)", "collision rate": stats["collision_rate_after_fixup"],
         "items moved": fin["moved_in_prefix"] + fin["moved_to_other_prefix"]},
    ]
    return Table(rows, caption=f"{n:,} items; collision rate = share of items whose index another item also has")


def prefix_table(ds, codes, depth: int, limit: int = 12):
    """Items of the most populated prefix of length ``depth`` (chosen greedily level by level)."""
    prefix = densest_prefix(codes, depth)
    items = prefix_members(codes, prefix)
    t = items_table(ds, items[:limit], codes)
    label = index_str(prefix)
    t.caption = f"{len(items)} items start with {label}" + (f"; the first {limit}" if len(items) > limit else "")
    return t


def task_count_table(run_dir):
    st = read_json(Path(run_dir) / "tasks" / "stats.json")
    tasks = sorted({t for split in st["examples"].values() for t in split})
    rows = [{"task": t, **{s: st["examples"][s].get(t, 0) for s in ("train", "valid", "test")}} for t in tasks]
    return Table(rows, caption=f"examples per task and split (user texts: {st.get('user_text')}, "
                               f"histories up to {st.get('max_history')} items)")


def task_examples_table(run_dir, width: int = 260):
    """The first training example of every (task, variant), prompt and response; column
    ``in this run`` says whether the run trains on it. Tasks a run leaves out (e.g.
    ``--set tasks.tasks=[seqrec]``) are shown too, built here from the run's data and index
    with the template user texts, so the reader sees all six."""
    run_dir = Path(run_dir)
    seen, rows = set(), []

    def add(e: dict, prompt: str, response: str, trained: bool) -> None:
        key = (e["task"], e.get("variant", ""))
        if key in seen:
            return
        seen.add(key)
        rows.append({"task": e["task"], "variant": key[1], "in this run": "yes" if trained else "no",
                     "prompt": _clip(prompt, width), "response": response})

    with open(run_dir / "tasks" / "train.jsonl", encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            add(e, e.get("prompt", ""), e.get("response", ""), True)
    for e, prompt, response in _left_out_task_examples(run_dir, {t for t, _ in seen}):
        add(e, prompt, response, False)
    rows.sort(key=lambda r: (r["in this run"] != "yes", r["task"], r["variant"]))
    return Table(rows)


def _clip(text: str, width: int) -> str:
    """``text`` cut to about ``width`` characters at a space or after an index token, never
    inside a word or a token."""
    if len(text) <= width:
        return text
    cut = text[:width]
    at = max(cut.rfind(" "), cut.rfind(">") + 1 if cut.rfind(">") > cut.rfind("<") else -1)
    return (cut[:at] if at > 0 else cut).rstrip(", ") + " ..."


def _left_out_task_examples(run_dir: Path, trained: set[str]) -> list[tuple[dict, str, str]]:
    """A few rendered training examples of each task the run's tasks stage left out."""
    missing = [t for t in TASKS if t not in trained]
    if not missing:
        return []
    run = Run(run_dir)
    stage_cfg = run.json("tasks", "config.json").get("config", {})
    known = {f.name for f in dataclasses.fields(TasksConfig)}
    tc = TasksConfig(**{k: v for k, v in stage_cfg.get("tasks", {}).items() if k in known})
    tc = dataclasses.replace(tc, tasks=missing, user_text="template",
                             **{f"{t}_samples": 4 for t in missing if f"{t}_samples" in known})
    ds, ctx = run.dataset, run.context  # the run's item text and index, as its prompts show them

    def ut(histories, query_items):
        return user_texts("template", ds.items, histories, query_items, run_dir)

    train = build_examples(ds.items, ds.sequences, tc, ctx.max_history, int(stage_cfg.get("seed", 0)), ut)["train"]
    return [(e, *render(e, ctx)) for e in train]


def train_stats_table(ts: dict[str, Any]):
    keys = ["model", "method", "examples", "epochs", "steps", "mean_example_tokens", "tokens_per_second",
            "first_loss", "last_loss", "final_eval_loss", "device", "world_size", "wall_seconds"]
    rows = [{"": k, "value": ts.get(k)} for k in keys if k in ts]
    p = ts.get("parameters", {})
    if p:
        rows.append({"": "trainable parameters", "value": f"{p['trainable']:,} of {p['total']:,}"})
    return Table(rows)


def results_caption(run_dir) -> str:
    ev = read_json(Path(run_dir) / "eval" / "metrics.json")
    ds = read_json(Path(run_dir) / "data" / "stats.json")
    return (f"{ds['source']}, preset {ev['preset']}, model {ev['model']} ({ev['method']}), seed {ev['seed']}, "
            f"{ev['n_users']} test users, beam {ev['beams']}, invalid beams {ev['invalid_rate']:.3f}"
            + (", no list holds an item of its model's input history" if ev.get("exclude_history") else ""))


def related_table(ds, codes, emb, item: int, k: int = 5):
    r = related_items(codes, emb, item, k)
    rows = [{"by index prefix": f"{ds.items[str(a)]['title']} {index_str(codes[a])}", "shared codes": s,
             "by text embedding": f"{ds.items[str(b)]['title']} {index_str(codes[b])}"}
            for a, s, b in zip(r["by_index"], r["shared_prefix"], r["by_text"])]
    return Table(rows, caption=f"related to: {ds.items[str(item)]['title']} {index_str(codes[item])}")


def study_runs_table(results: dict[str, Any]):
    """One row per configuration: its metrics averaged over its training seeds, the seeds,
    the median tuning minutes of one run and the minutes of all its runs; the tune steps or
    the test users that every run shares go to the caption (per row only where they differ)."""
    runs = results.get("runs", {})
    steps = {s["tune_steps"] for r in runs.values() for s in r["seeds"].values()}
    users = {r["n_users"] for r in runs.values()}
    # minutes of a part include any earlier work of it that was redone in part (superseded_wall_seconds:
    # e.g. a run whose evaluation was redone under a new eval rule, its tune kept)
    wall = dict(results["wall_seconds"])
    for part, sec in results.get("superseded_wall_seconds", {}).items():
        wall[part] = wall.get(part, 0) + sec
    rows = []
    for name, r in runs.items():
        row = {"run": name, "what": r["label"], "seeds": r["n_seeds"], "HR@5": r["hr@5"], "HR@10": r["hr@10"],
               "NDCG@10": r["ndcg@10"]}
        if len(steps) > 1:  # each a column only where the rows differ (the table fits a page)
            row["tune steps"] = "/".join(str(s["tune_steps"]) for s in r["seeds"].values())
        if len(users) > 1:
            row["test users"] = r["n_users"]
        minutes = sum(wall.get(f"{name}-s{s}", 0) for s in r["seeds"]) / 60
        tune = tune_minutes(r)
        rows.append({**row, "tune min (median)": "" if tune is None else f"{tune:.1f}", "minutes": f"{minutes:.1f}"})
    for part in sorted(k for k in wall if k not in ("intention", "token_pca", "case_studies")
                       and k.rsplit("-s", 1)[0] not in runs):
        rows.append({"run": part, "what": "tuned for the token PCA", "minutes": f"{wall[part] / 60:.1f}"})
    for part in ("intention", "token_pca", "case_studies"):
        if part in wall:
            rows.append({"run": part, "what": "analysis", "minutes": f"{wall[part] / 60:.1f}"})
    total = sum(wall.values())
    same = (f"; every run {steps.pop()} tune steps" if len(steps) == 1 else "") + \
        (f"; every run evaluated on {users.pop()} test users" if len(users) == 1 else "")
    seeds = ", ".join(str(s) for s in results.get("budget", {}).get("seeds", []))
    # a study resumed on other machines: how many processor models trained its rows (their tuning
    # minutes then differ by machine too); each row's processor is in results.json, not on the page
    cpus = {s["cpu"].split(";")[0] for r in runs.values() for s in r["seeds"].values() if s.get("cpu")}
    on = (f"; tuned on {len(cpus)} processor models (minutes differ by machine; each row's `cpu` in results.json)"
          if len(cpus) > 1 else "; tuned on one processor model" if cpus else "")
    return Table(rows, caption=f"preset {results['preset']}, model {results['model']}, data {results['data']}, "
                               f"data seed {results['seed']}, training seeds {seeds}{same}{on}; "
                               f"metrics are means over the seeds; total {total / 60:.1f} min")


def intention_table(results: dict[str, Any]):
    """Paper Fig. 3: one row per prompt kind, metrics averaged over the training seeds."""
    rows = intention_rows(results["intention"])
    names = {"history": "history alone (seqrec prompt)", "query": "intention alone", "query+history": "intention + history"}
    return Table([{"prompt": names[k], **{m: rows[k][m] for m in METRIC_KEYS}, "seeds": rows[k]["n_seeds"],
                   "users": rows[k]["n_users"]} for k in ("history", "query", "query+history")])


def prefix_generation_tables(results: dict[str, Any], shown: int = 3) -> list:
    """The titles generated from growing index prefixes for the first ``shown`` items, then
    the related-items summary."""
    cs = results["case_studies"]
    gens = cs["prefix_generation"][:shown]
    rows = [[{**r, "generated title": r["generated title"] or EMPTY_AT_ONCE} for r in g["rows"]] for g in gens]
    out = [Table(rs, PREFIX_COLUMNS, caption=f"item {g['item']}: {g['title']}") for rs, g in zip(rows, gens)]
    rel = cs["related_items"]
    out.append(Table([{"related items": "by index prefix", "users in common (Jaccard)": rel["co_interaction_by_index"]},
                      {"related items": "by text embedding", "users in common (Jaccard)": rel["co_interaction_by_text"]}],
                     caption=f"5 related items of each of {rel['items']} random items: overlap of their users"))
    return out


# -- the paper's claims, in words ------------------------------------------------------------


def _diff(d: float, se: float | None) -> str:
    """A difference with its standard error."""
    return f"{d:+.4f} (SE {se:.4f})" if se is not None else f"{d:+.4f} (SE n/a)"


def _sample(c: Claim) -> str:
    """'3 seeds x 943 users': what a difference was measured on."""
    return f"{c.n_seeds} seed{'s' if c.n_seeds != 1 else ''} x {c.n_users if c.n_users is not None else '?'} users"


def _tune_time(v: dict[str, Any]) -> str:
    """Equal tokens are not equal time: the alignment claim's tuning minutes, when recorded."""
    if "tune minutes (seq)" not in v:
        return ""
    seq, alls = v["tune minutes (seq)"], v["tune minutes (all)"]
    return (f"; tuning took {alls:.1f} min with all tasks against {seq:.1f} with seqrec only "
            f"({alls / seq - 1:+.0%}; medians over the seeds, means over the indexings)")


def claim_evidence(c: Claim) -> str:
    """The numbers behind one claim, in a sentence."""
    v, d = c.values, c.differences
    if c.key == "indexing":
        ev = "; ".join(f"{t}: " + ", ".join(f"{x} {v[f'{x} ({t})']:.4f}" for x in INDEX_METHODS) for t in ("seq", "all"))
        ev += "; LC-Rec minus " + ", ".join(f"{k.split(' - ')[1]} {_diff(*dv)}" for k, dv in d.items())
        return f"HR@5 {ev} ({_sample(c)} per configuration)"
    if c.key == "alignment":
        return ("HR@5 seqrec only -> all tasks, at equal training tokens: "
                + ", ".join(f"{x} {v[f'{x} (seq)']:.4f} -> {v[f'{x} (all)']:.4f} {_diff(*d[f'{x}: all - seq'])}"
                            for x in INDEX_METHODS) + f" ({_sample(c)} per configuration)" + _tune_time(v))
    if c.key == "ablation":
        steps = [dv for k, dv in d.items() if k != "all - seqrec only"]
        return ("NDCG@10 " + " -> ".join(f"{x:.4f}" for x in v.values())
                + f" ({sum(x > 0 for x, _ in steps)} of {len(steps)} steps up; steps " + ", ".join(_diff(*s) for s in steps)
                + f"; all tasks minus seqrec only {_diff(*d['all - seqrec only'])}; {_sample(c)} per configuration)")
    if c.key == "intention":
        return (f"HR@10 intention alone {v['query']:.4f}, intention + history {v['query+history']:.4f}, "
                f"history alone {v['history']:.4f}; intention + history minus intention alone "
                f"{_diff(*d['intention + history - intention alone'])}, intention alone minus history alone "
                f"{_diff(*d['intention alone - history alone'])} ({_sample(c)})")
    if c.key == "token_pca":
        seeds = f"{c.n_seeds} training seed{'s' if c.n_seeds != 1 else ''}"
        return (f"spread of the index tokens (the words' = 1) {v['spread before']:.2f} -> {v['spread after']:.2f}, "
                f"after minus before {_diff(*d['spread after - before'])}; centroid gap {v['gap before']:.2f} -> "
                f"{v['gap after']:.2f} (every index token and 2,000 word tokens; means over {seeds}, SE over the seeds)"
                + ("; the rows start among the words (semantic init), so this run cannot test the claim"
                   if v["started among the words"] else ""))
    if c.key == "prefix_titles":
        share = v.get("distinct titles")
        distinct = f"; {share:.0%} of the full-index titles distinct" if share is not None else ""
        over = f"{c.n_users} items" + (f" x {c.n_seeds} training seeds (items paired, SE over items and seeds)"
                                       if c.n_seeds > 1 else "")
        return ("word F1 with the true title (articles left out) by prefix length: " + ", ".join(f"{x:.2f}" for x in v["word F1 by prefix length"])
                + f"; full index minus first code {_diff(*d['full index - first code'])} over {over}{distinct}")
    if c.key == "related_items":
        return (f"overlap (Jaccard) of the users of an item and of its 5 related items: by index {v['by index']:.4f}, "
                f"by text {v['by text']:.4f}; by index minus by text {_diff(*d['by index - by text'])} "
                f"over {c.n_users} random items")
    return "; ".join(f"{k} {_diff(*dv)}" for k, dv in d.items())


def claim_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per claim the results can test: the claim, where the paper makes it, our
    evidence and whether it held here."""
    return [{"paper's claim": c.claim, "paper": c.source, "our evidence": claim_evidence(c), "held here": c.verdict}
            for c in check_claims(results)]


def claims_table(results: dict[str, Any], caption: str = "") -> Table:
    return Table(claim_rows(results), ["paper's claim", "paper", "our evidence", "held here"], caption=caption)
