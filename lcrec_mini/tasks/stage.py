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

Each task (its templates, builder and renderer) is one object of ``registry.TASKS``;
this module draws them in order with one seeded generator and writes the files.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lcrec_mini.core.config import Config
from lcrec_mini.core.errors import DataError
from lcrec_mini.core.stage import StageResult, read_json, run_stage, write_json
from lcrec_mini.data import splits
from lcrec_mini.data.readers import iter_json_lines
from lcrec_mini.data.stage import load_dataset
from lcrec_mini.index.stage import check_unique, parse_tokens
from lcrec_mini.tasks.base import TrainingData, UserText
from lcrec_mini.tasks.context import CONTEXT, TaskContext
from lcrec_mini.tasks.registry import TASKS, templates
from lcrec_mini.tasks.seqrec import seqrec_targets
from lcrec_mini.tasks.usertext import user_texts

OUTPUTS = ("train.jsonl", "valid.jsonl", "test.jsonl", "stats.json", CONTEXT)


def render(ex: dict[str, Any], ctx: TaskContext, template: int | None = None) -> tuple[str, str]:
    """(prompt, response) of example ``ex`` with template number ``template`` (default: its own)."""
    pool = templates(ex["task"], ex.get("variant", ""))
    return TASKS[ex["task"]].render(ex, ctx, pool[(ex["template"] if template is None else template) % len(pool)])


def _evaluation(d: TrainingData, queries: dict, rng: np.random.Generator) -> dict[str, list[dict]]:
    """Validation and test examples: seqrec for every user (LC-Rec's prompts), then the
    intention-based prediction of the test item (itemsearch, intention alone / with history)."""
    out: dict[str, list[dict]] = {"valid": [], "test": []}

    def add(split: str, task: str, variant: str = "", **kw: Any) -> None:
        pool = templates(task, variant)
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
    draws every sample, variant and template, in a fixed order: the tasks' plans, then
    their examples (in ``registry.TASKS`` order), then the templates, then the
    validation and test examples."""
    rng = np.random.default_rng(seed)
    d = TrainingData(items, sequences, max_history)
    chosen = [(name, task, getattr(tc, f"{name}_samples", 0)) for name, task in TASKS.items() if name in tc.tasks]

    # user texts: preferences from the training part; queries for the training targets the
    # tasks planned and for every test target
    planned = {name: task.plan(d, n, rng) for name, task, n in chosen}
    query_keys = [(u, d.seq_of(u)[t]) for pos in planned.values() for u, t in pos]
    query_keys += [(int(u), splits.test_case(s)[1]) for u, s in sequences.items()]
    wants_prefs = any(task.needs_preferences for _, task, _ in chosen)
    text = UserText(*user_text(d.train_part if wants_prefs else {}, sorted(set(query_keys))))

    train: list[dict] = []
    for name, task, n in chosen:
        train += task.build(d, n, rng, text, tc, planned[name])
    for ex in train:
        ex["template"] = int(rng.integers(len(templates(ex["task"], ex["variant"]))))
    return {"train": train, **_evaluation(d, text.queries, rng)}


def check_codes_match(codes: dict[str, list[str]], items: dict[str, Any], where: str) -> None:
    if len(codes) != len(items) or set(codes) != set(items):
        missing = sorted(set(items) - set(codes), key=int)[:3]
        extra = sorted(set(codes) - set(items), key=lambda s: (len(s), s))[:3]
        raise DataError(
            f"{where}: the codes do not match data/items.json ({len(codes)} codes, {len(items)} items; "
            f"items without a code: {missing}, codes of unknown items: {extra}); rerun `lcrec-mini index`"
        )


def run_tasks(cfg: Config, run_dir: str | Path, force: bool = False, log: Callable[[str], None] = print) -> StageResult:
    tc = cfg.tasks
    run_dir = Path(run_dir)

    def build(out: Path) -> None:
        ds = load_dataset(run_dir)

        codes_path = run_dir / "index" / "codes.json"
        codes = read_json(codes_path)
        check_codes_match(codes, ds.items, str(codes_path))
        arr = parse_tokens(codes, str(codes_path))
        check_unique(arr, str(codes_path))
        max_history = tc.max_history
        istats = read_json(run_dir / "index" / "stats.json")
        ctx = TaskContext.from_codes(ds.items, arr, tc.max_text_chars, istats["codebook_size"], max_history,
                                     tc.history_separator)

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

    return [obj for _, obj in iter_json_lines(path)]
