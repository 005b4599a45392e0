"""The ``tasks`` stage: LC-Rec's alignment tasks as instruction examples.

Writes ``tasks/{train,valid,test}.jsonl``: one example per line with the task, its
variant, the user and item ids, the history (item ids, oldest first), the drawn
template and the rendered ``prompt`` and ``response``; ``tasks/stats.json`` (counts per
task and split, the history cap); and ``tasks/context.json`` (:class:`TaskContext`: item
text, index strings, the text and history caps), from which the tune and evaluate stages
render prompts without reading ``data/`` or ``index/``. The tune stage re-renders each
training example with a fresh template every epoch (:func:`render`).

Leakage: every training example is built from a user's sequence without its last two
items (those are the validation and test targets), histories included.

seqrec comes in two formats (``tasks.seqrec_format``): ``prefix``, LC-Rec's, one
example per next-item target with the loss on the response; and ``window``, sliding
windows of the training part whose examples carry ``"targets": "all"``: the tune stage
then takes the loss on the index tokens of every history item and of the response,
all in one causal pass. Both render with the same seqrec templates, so the model is
tested on LC-Rec's prompts either way.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lcrec_mini.core.config import Config
from lcrec_mini.data import splits
from lcrec_mini.core.errors import DataError
from lcrec_mini.tasks.templates import TEMPLATES
from lcrec_mini.core.stage import StageResult, read_json, run_stage, write_json

CONTEXT = "context.json"  # what tune and evaluate need to render prompts (TaskContext)
OUTPUTS = ("train.jsonl", "valid.jsonl", "test.jsonl", "stats.json", CONTEXT)


@dataclass
class TaskContext:
    """What rendering a prompt needs: item text, each item's index as one string, the
    text cap; written by the tasks stage (``tasks/context.json``), so tune and evaluate
    render exactly what the tasks stage rendered and read nothing of data/ or index/."""

    items: dict[str, dict[str, Any]]
    index: list[str]  # item id -> "<a_1><b_2><c_3>"
    max_text_chars: int = 200
    codebook_size: int = 0  # codes per level (the index vocabulary is levels x codebook_size)
    max_history: int = 0  # history cap the examples were built with

    @classmethod
    def from_codes(cls, items: dict[str, dict[str, Any]], codes: np.ndarray, max_text_chars: int = 200,
                   codebook_size: int = 0, max_history: int = 0) -> "TaskContext":
        """From an index array [N, L] (as :func:`lcrec_mini.index.stage.load_codes` returns it)."""
        from lcrec_mini.index.tokens import index_str

        return cls(items, [index_str(row) for row in codes], max_text_chars, codebook_size, max_history)

    @property
    def n_items(self) -> int:
        return len(self.index)

    def codes(self) -> np.ndarray:
        """The index as an array [N, L] of code numbers, parsed back from the strings."""
        from lcrec_mini.index.stage import check_unique, parse_tokens
        from lcrec_mini.index.tokens import split_index

        codes = parse_tokens({str(i): split_index(s) for i, s in enumerate(self.index)}, CONTEXT)
        check_unique(codes, CONTEXT)
        return codes

    @property
    def levels(self) -> int:
        from lcrec_mini.index.tokens import split_index

        return len(split_index(self.index[0])) if self.index else 0

    def save(self, path: str | Path) -> None:
        write_json(path, {"max_text_chars": self.max_text_chars, "codebook_size": self.codebook_size,
                          "max_history": self.max_history, "index": self.index, "items": self.items}, indent=None)

    @classmethod
    def load(cls, run_dir: str | Path) -> "TaskContext":
        """The context the tasks stage of ``run_dir`` wrote."""
        path = Path(run_dir) / "tasks" / CONTEXT
        if not path.exists():
            raise DataError(f"{path}: not found; run `lcrec-mini tasks --run-dir {run_dir}` first")
        d = read_json(path)
        missing = [k for k in ("max_text_chars", "codebook_size", "max_history", "index", "items") if k not in d]
        if missing:
            raise DataError(f"{path}: keys {missing} missing; rebuild it with `lcrec-mini tasks --force`")
        return cls(d["items"], d["index"], d["max_text_chars"], d["codebook_size"], d["max_history"])

    def text(self, item: int, field: str) -> str:
        t = str(self.items[str(item)].get(field) or "").strip()
        if len(t) > self.max_text_chars:
            t = t[: self.max_text_chars].rsplit(" ", 1)[0] + " ..."
        return t

    def history(self, ids: list[int], as_titles: bool = False) -> str:
        if as_titles:
            return ", ".join(f'"{self.text(i, "title")}"' for i in ids)
        return ", ".join(self.index[i] for i in ids)


def render(ex: dict[str, Any], ctx: TaskContext, template: int | None = None) -> tuple[str, str]:
    """(prompt, response) of example ``ex`` with template number ``template``."""
    task, variant = ex["task"], ex.get("variant", "")
    pool = TEMPLATES[task][variant]
    tpl = pool[(ex["template"] if template is None else template) % len(pool)]
    item = ex.get("item")
    fields: dict[str, str] = {}
    if task in ("seqrec", "preferenceobtain") or (task == "itemsearch" and variant == "query+history"):
        fields["history"] = ctx.history(ex["history"])
    if task == "fusionseqrec":
        fields["history"] = ctx.history(ex["history"], as_titles=variant == "title2index")
    if task in ("item2index", "index2item"):
        fields["title"] = ctx.text(item, "title")
        fields["description"] = ctx.text(item, "description")
        fields["index"] = ctx.index[item]
    if task == "itemsearch":
        fields["query"] = ex["query"]
    prompt = tpl.format(**fields)
    if task in ("seqrec", "item2index", "itemsearch") or variant == "title2index":
        response = ctx.index[item]
    elif task == "index2item":
        t, d = ctx.text(item, "title"), ctx.text(item, "description")
        response = {"title": t, "description": d, "both": f"{t}. {d}"}[variant]
    elif task == "fusionseqrec":
        response = ctx.text(item, "title" if variant == "index2title" else "description")
    else:  # preferenceobtain
        response = ex["text"]
    return prompt, response


def windows(seq: list[int], size: int) -> list[list[int]]:
    """Consecutive windows of ``size`` items tiling ``seq`` from its end (the first one
    may be shorter); windows of one item (no history) are left out. With the
    all-position loss every item of a window is a target once per pass, conditioned on
    the instruction and the items before it (the first on the instruction alone)."""
    out = []
    for end in range(len(seq), 1, -size):
        w = list(seq[max(0, end - size) : end])
        if len(w) >= 2:
            out.append(w)
    return out[::-1]


def seqrec_targets(examples: list[dict[str, Any]]) -> int:
    """Next-item targets in one pass over ``examples`` (a window example holds one per item)."""
    return sum(len(ex["history"]) + 1 if ex.get("targets") == "all" else 1 for ex in examples if ex["task"] == "seqrec")


def _sample(rng: np.random.Generator, rows: list[dict], n: int) -> list[dict]:
    if n <= 0 or n >= len(rows):
        return rows
    keep = np.sort(rng.choice(len(rows), n, replace=False))
    return [rows[i] for i in keep]


@dataclass
class _Sequences:
    """What every task's builder reads: item text, the sequences, their training parts and
    training positions, and the history cap."""

    items: dict[str, dict]
    sequences: dict[str, list[int]]
    H: int  # history cap (0: none)

    def __post_init__(self) -> None:
        self.positions: list[tuple[int, int]] = []  # (user, t): target seq[t], history seq[:t]
        self.train_part: dict[int, list[int]] = {}
        for uid, seq in self.sequences.items():
            u = int(uid)
            self.train_part[u] = splits.train_part(seq)
            self.positions += [(u, t) for t in splits.train_positions(seq)]

    def cap(self, h: list[int]) -> list[int]:
        return list(h[-self.H:]) if self.H > 0 else list(h)

    def seq_of(self, u: int) -> list[int]:
        return self.sequences[str(u)]

    def has(self, item: int, field: str) -> bool:
        return bool(str(self.items[str(item)].get(field) or "").strip())


def _seqrec(d: _Sequences, tc) -> list[dict]:
    if tc.seqrec_format == "window":  # whole windows of the training part, every item a target
        return [{"task": "seqrec", "variant": "", "user": u, "item": w[-1], "history": w[:-1], "targets": "all"}
                for u, part in d.train_part.items() for w in windows(part, d.H + 1 if d.H > 0 else len(part))]
    # prefix, LC-Rec's: one example per training position
    return [{"task": "seqrec", "variant": "", "user": u, "item": d.seq_of(u)[t], "history": d.cap(d.seq_of(u)[:t])}
            for u, t in d.positions]


def _item_index(d: _Sequences, task: str, rng: np.random.Generator, passes: int = 1) -> list[dict]:
    """item2index / index2item: ``passes`` rows per item that has a title, each with one of
    the text variants it has (title, description, both) drawn for it. Kept whole
    (``tasks.<task>_samples = 0``), every item of the catalogue is aligned with its index
    ``passes`` times per epoch, in both directions."""
    out = []
    for _ in range(passes):
        for i in sorted(d.items, key=int):
            if not d.has(int(i), "title"):
                continue
            variants = ["title", "description", "both"] if d.has(int(i), "description") else ["title"]
            out.append({"task": task, "variant": variants[int(rng.integers(len(variants)))], "item": int(i)})
    return out


def _fusionseqrec(d: _Sequences, n: int, rng: np.random.Generator) -> list[dict]:
    out = []
    n = n if n > 0 else len(d.positions)
    for k in np.sort(rng.choice(len(d.positions), min(n, len(d.positions)), replace=False)):
        u, t = d.positions[k]
        target = d.seq_of(u)[t]
        variants = ["index2title", "title2index"] + (["index2description"] if d.has(target, "description") else [])
        v = variants[int(rng.integers(len(variants)))]
        out.append({"task": "fusionseqrec", "variant": v, "user": u, "item": target, "history": d.cap(d.seq_of(u)[:t])})
    return out


def _itemsearch(d: _Sequences, search_pos: list[tuple[int, int]], queries: dict, rng: np.random.Generator) -> list[dict]:
    out = []
    for u, t in search_pos:
        target = d.seq_of(u)[t]
        v = ("query", "query+history")[int(rng.integers(2))]
        out.append({"task": "itemsearch", "variant": v, "user": u, "item": target, "history": d.cap(d.seq_of(u)[:t]),
                    "query": queries[(u, target)]})
    return out


def _evaluation(d: _Sequences, queries: dict, rng: np.random.Generator) -> dict[str, list[dict]]:
    """Validation and test examples: seqrec for every user (LC-Rec's prompts), then the
    intention-based prediction of the test item (itemsearch, intention alone / with history)."""
    out: dict[str, list[dict]] = {"valid": [], "test": []}

    def add(split: str, task: str, variant: str = "", **kw: Any) -> None:
        pool = TEMPLATES[task][variant]
        out[split].append({"task": task, "variant": variant, **kw, "template": int(rng.integers(len(pool)))})

    for uid, seq in d.sequences.items():
        u = int(uid)
        (vh, vt), (th, tt) = splits.valid_case(seq), splits.test_case(seq)
        add("valid", "seqrec", user=u, item=vt, history=d.cap(vh))
        add("test", "seqrec", user=u, item=tt, history=d.cap(th))
    for uid, seq in d.sequences.items():
        u = int(uid)
        th, tt = splits.test_case(seq)
        q = queries[(u, tt)]
        add("test", "itemsearch", "query", user=u, item=tt, history=[], query=q)
        add("test", "itemsearch", "query+history", user=u, item=tt, history=d.cap(th), query=q)
    return out


def build_examples(
    items: dict[str, dict],
    sequences: dict[str, list[int]],
    tc,
    max_history: int,
    seed: int,
    user_text: Callable[[dict[int, list[int]], list[tuple[int, int]]], tuple[dict, dict]],
) -> dict[str, list[dict[str, Any]]]:
    """Structured examples per split (templates drawn, not yet rendered). Training
    examples come from the training part of each sequence only; one seeded generator
    draws every sample, variant and template, in a fixed order."""
    rng = np.random.default_rng(seed)
    d = _Sequences(items, sequences, max_history)
    positions = d.positions

    # user texts: preferences from the training part; queries for sampled train targets
    # and for every test target
    n_search = tc.itemsearch_samples if tc.itemsearch_samples > 0 else len(positions)
    search_pos = [positions[i] for i in np.sort(rng.choice(len(positions), min(n_search, len(positions)), replace=False))] if "itemsearch" in tc.tasks and positions else []
    query_keys = [(u, d.seq_of(u)[t]) for u, t in search_pos]
    query_keys += [(int(u), splits.test_case(s)[1]) for u, s in sequences.items()]
    prefs, queries = user_text(d.train_part if "preferenceobtain" in tc.tasks else {}, sorted(set(query_keys)))

    train: list[dict] = []
    if "seqrec" in tc.tasks:
        train += _sample(rng, _seqrec(d, tc), tc.seqrec_samples)
    for task, n in (("item2index", tc.item2index_samples), ("index2item", tc.index2item_samples)):
        if task in tc.tasks:
            train += _sample(rng, _item_index(d, task, rng, tc.index_passes), n)
    if "fusionseqrec" in tc.tasks and positions:
        train += _fusionseqrec(d, tc.fusionseqrec_samples, rng)
    if "itemsearch" in tc.tasks:
        train += _itemsearch(d, search_pos, queries, rng)
    if "preferenceobtain" in tc.tasks:
        rows = [{"task": "preferenceobtain", "variant": "", "user": u, "history": d.cap(h), "text": prefs[u]}
                for u, h in d.train_part.items() if h]
        train += _sample(rng, rows, tc.preferenceobtain_samples)
    for ex in train:
        ex["template"] = int(rng.integers(len(TEMPLATES[ex["task"]][ex["variant"]])))
    return {"train": train, **_evaluation(d, queries, rng)}


def check_codes_match(codes: dict[str, list[str]], items: dict[str, Any], where: str) -> None:
    if len(codes) != len(items) or set(codes) != set(items):
        missing = sorted(set(items) - set(codes), key=int)[:3]
        extra = sorted(set(codes) - set(items), key=lambda s: (len(s), s))[:3]
        raise DataError(
            f"{where}: the codes do not match data/items.json ({len(codes)} codes, {len(items)} items; "
            f"items without a code: {missing}, codes of unknown items: {extra}); rerun `lcrec-mini index`"
        )


def run_tasks(cfg: Config, run_dir: str | Path, force: bool = False, log: Callable[[str], None] = print) -> StageResult:
    from lcrec_mini.data.stage import load_dataset
    from lcrec_mini.tasks.usertext import user_texts

    tc = cfg.tasks
    run_dir = Path(run_dir)

    def build(out: Path) -> None:
        ds = load_dataset(run_dir)
        from lcrec_mini.index.stage import check_unique, parse_tokens

        codes_path = run_dir / "index" / "codes.json"
        codes = read_json(codes_path)
        check_codes_match(codes, ds.items, str(codes_path))
        arr = parse_tokens(codes, str(codes_path))
        check_unique(arr, str(codes_path))
        max_history = tc.max_history or ds.stats["split"]["max_history"]
        istats = read_json(run_dir / "index" / "stats.json")
        ctx = TaskContext.from_codes(ds.items, arr, tc.max_text_chars, istats["codebook_size"], max_history)

        def ut(histories, query_items):
            return user_texts(
                tc.user_text, ds.items, histories, query_items, run_dir,
                tc.user_text_model, cfg.data.cache_dir, log=log,
            )

        examples = build_examples(ds.items, ds.sequences, tc, max_history, cfg.seed, ut)
        counts: dict[str, Any] = {}
        for split, rows in examples.items():
            with open(out / f"{split}.jsonl", "w", encoding="utf-8") as f:
                for ex in rows:
                    prompt, response = render(ex, ctx)
                    f.write(json.dumps({**ex, "prompt": prompt, "response": response}, ensure_ascii=False) + "\n")
            counts[split] = dict(sorted(Counter(ex["task"] for ex in rows).items()))
        write_json(
            out / "stats.json",
            {"examples": counts, "user_text": tc.user_text, "tasks": list(tc.tasks), "max_history": max_history,
             "seqrec_format": tc.seqrec_format,
             "seqrec_targets": seqrec_targets(examples["train"])},
        )
        ctx.save(out / CONTEXT)
        log(format_task_summary(counts))

    res = run_stage("tasks", cfg, run_dir, build, OUTPUTS, force=force, log=log)
    if res.skipped:
        log(format_task_summary(read_json(res.out_dir / "stats.json")["examples"]))
    return res


def format_task_summary(counts: dict[str, dict[str, int]]) -> str:
    lines = ["Tasks (examples per split)"]
    for split, c in counts.items():
        lines.append(f"  {split:<6} " + ", ".join(f"{k} {v:,}" for k, v in c.items()) + f"  (total {sum(c.values()):,})")
    return "\n".join(lines)


def read_examples(run_dir: str | Path, split: str) -> list[dict[str, Any]]:
    path = Path(run_dir) / "tasks" / f"{split}.jsonl"
    if not path.exists():
        raise DataError(f"{path}: not found; run `lcrec-mini tasks --run-dir {run_dir}` first")
    from lcrec_mini.data.readers import iter_json_lines

    return [obj for _, obj in iter_json_lines(path)]
