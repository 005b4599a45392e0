"""The paper's analyses as one resumable study: ``lcrec-mini study --preset P``.

Runs (each a full pipeline in ``<study_dir>/<run>``, sharing the stages whose config is
the same by copying them from an earlier run):

- indexing methods x tasks (paper Fig. 2): ``random`` / ``rqvae`` (no uniform semantic
  mapping) / ``lcrec`` indices, each tuned on ``seqrec`` only and on all tasks;
- task ablation (the paper's ablation table): ``seqrec``, then + ``item2index`` and
  ``index2item``, + ``fusionseqrec``, + ``itemsearch``, + ``preferenceobtain``;

then, on the all-task LC-Rec run: intention-based prediction (``itemsearch`` test
prompts with the intention alone and with the history; paper Fig. 3), token-embedding
PCA before and after tuning (Fig. 4), and case studies (Fig. 5): titles generated from
index prefixes of growing length, related items by index prefix vs by text.

Every run of one study gets the same step budget (``STUDY_BUDGETS``), so the comparisons
are at equal compute; the budgets are chosen so that the ``cpu`` study fits 150 minutes
on a 2-core CPU. ``study_dir/results.json`` is rewritten after each part, and a part
whose result is there is skipped when the study is started again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import Config, make_config
from .metrics import METRIC_KEYS
from .prompts import TASKS
from .stage import read_json, write_json

ALL_TASKS = list(TASKS)

#: per-run budgets: tune steps (same for every run), test users evaluated, and seconds
#: per tune step / per evaluated user measured on this project's 2-core CPU (cpu preset:
#: SmolLM2-135M, LoRA, batch 8; beam 20), used for the printed estimate
STUDY_BUDGETS: dict[str, dict[str, Any]] = {
    "smoke": {"tune.max_steps": 4, "eval.max_users": 12, "s_per_step": 0.3, "s_per_user": 0.02, "s_fixed": 15},
    # cpu: 80 steps per run (seqrec windows 4.2 s per step, the task mix slower) and all
    # 943 test users (0.30 s per user with 20 beams), so every difference has the full
    # sample behind it; planned within 150 minutes on 2 cores
    "cpu": {"tune.max_steps": 80, "eval.max_users": 0, "s_per_step": 5.0, "s_per_user": 0.30, "s_fixed": 40},
    "colab": {"tune.max_steps": 1500, "eval.max_users": 0, "s_per_step": 0.5, "s_per_user": 0.05, "s_fixed": 120},
    "paper": {"tune.max_steps": 0, "eval.max_users": 0, "s_per_step": 2.0, "s_per_user": 0.2, "s_fixed": 600},
}


@dataclass
class StudyRun:
    name: str
    group: str  # "indexing" | "ablation"
    overrides: dict[str, Any] = field(default_factory=dict)
    label: str = ""


def study_runs() -> list[StudyRun]:
    """The study's pipeline runs, in the order they run (donors of shared stages first)."""
    runs = []
    for method in ("lcrec", "rqvae", "random"):
        for tasks, tl in ((["seqrec"], "SEQ"), (ALL_TASKS, "w/ ALIGN")):
            runs.append(StudyRun(f"index-{method}-{'seq' if tl == 'SEQ' else 'all'}", "indexing",
                                 {"index.method": method, "tasks.tasks": tasks}, f"{method} indices, {tl}"))
    steps = [(["seqrec", "item2index", "index2item"], "+ index-language"),
             (["seqrec", "item2index", "index2item", "fusionseqrec"], "+ fusion"),
             (["seqrec", "item2index", "index2item", "fusionseqrec", "itemsearch"], "+ intention")]
    for tasks, label in steps:
        runs.append(StudyRun(f"tasks-{len(tasks)}", "ablation", {"index.method": "lcrec", "tasks.tasks": tasks}, label))
    return runs


#: the ablation's rows, in order: run name and label (the first and last come from the indexing runs)
ABLATION_ROWS = [("index-lcrec-seq", "seqrec only"), ("tasks-3", "+ item2index, index2item"),
                 ("tasks-4", "+ fusionseqrec"), ("tasks-5", "+ itemsearch"), ("index-lcrec-all", "+ preferenceobtain (all)")]
MAIN_RUN = "index-lcrec-all"


def run_config(preset: str, run: StudyRun, extra: dict[str, Any] | None = None) -> Config:
    b = STUDY_BUDGETS[preset]
    over = {k: v for k, v in b.items() if "." in k and v}
    # one validation pass at the end of tuning instead of every eval_steps
    if over.get("tune.max_steps"):
        over["tune.eval_steps"] = over["tune.max_steps"]
        over["tune.save_steps"] = max(1, over["tune.max_steps"] // 2)
        over["tune.snapshot_steps"] = []  # the compute curve's snapshots are the main run's, not the study's
    over.update(run.overrides)
    over.update(extra or {})
    return make_config(preset, overrides=over)


def estimate_seconds(preset: str) -> dict[str, float]:
    """Rough wall time per part, from the measured per-step and per-user costs."""
    b = STUDY_BUDGETS[preset]
    base = make_config(preset)
    steps = b["tune.max_steps"] or 2000
    users = b["eval.max_users"] or 1000
    per_run = b["s_fixed"] + steps * b["s_per_step"] + users * b["s_per_user"] * (base.eval.beams / 20)
    est = {r.name: per_run for r in study_runs()}
    est["intention"] = 2 * users * b["s_per_user"] + b["s_fixed"]
    est["token_pca"] = b["s_fixed"]
    est["case_studies"] = b["s_fixed"] + 10
    return est


SHARED_STAGES = ("data", "embed", "index", "tasks")  # tune and eval differ from run to run


def _copy_shared_stage(study_dir: Path, target: Path, stage: str, cfg: Config) -> None:
    """Copy ``stage`` from an earlier run of the study whose output this run would rebuild
    identically (same fingerprint); ``run_stage`` then finds it up to date."""
    import shutil

    from .stage import UPSTREAM, read_stage_config, stage_fingerprint, upstream_fingerprint

    if stage not in SHARED_STAGES or (target / stage / "config.json").exists():
        return
    try:
        fp = stage_fingerprint(cfg, stage, {u: upstream_fingerprint(target, u) for u in UPSTREAM[stage]})
    except Exception:  # noqa: BLE001 - an upstream stage is not there yet: nothing to match
        return
    for donor in sorted(p for p in study_dir.iterdir() if p.is_dir() and p != target):
        meta = read_stage_config(donor / stage)
        if meta is not None and meta.get("fingerprint") == fp:
            shutil.copytree(donor / stage, target / stage)
            return


def _metrics_row(run_dir: Path) -> dict[str, Any]:
    from .run import Run

    run = Run(run_dir)
    m, ist, ts = run.metrics, run.index_stats, run.json("tune", "train_stats.json")
    return {
        **{k: m[k] for k in (*METRIC_KEYS, "n_users", "invalid_rate")},
        # per-user ranks pair two runs' differences; with all templates the metrics are a
        # mean over templates and the predictions hold the first one only, so none then
        "ranks": _ranks(run) if m.get("templates", 1) == 1 else None,
        "collision_rate_before_fixup": ist["collision_rate_before_fixup"],
        "collision_rate_final": ist["collision_rate_after_fixup"],
        "tune_steps": ts["steps"], "tune_examples": ts["examples"], "final_eval_loss": ts.get("final_eval_loss"),
    }


def _ranks(run) -> list[int | None]:
    """Each test user's rank of the held-out item (None: not in the top 20), in the order
    of the test users: every run of a study evaluates the same users in the same order,
    so two runs' lists give paired differences."""
    return [p["rank"] for p in run.predictions.values()]


def _add_missing_ranks(study_dir: Path, results: dict[str, Any]) -> bool:
    """Per-user ranks for runs recorded before results kept them (read from each run's
    predictions); True when something was added."""
    from .run import Run

    added = False
    for name, row in results.get("runs", {}).items():
        run = Run(study_dir / name)
        if "ranks" not in row and run.has("eval", "predictions.jsonl") and run.metrics.get("templates", 1) == 1:
            row["ranks"] = _ranks(run)
            added = True
    return added


def _intention(run_dir: Path, cfg: Config, users: int) -> dict[str, Any]:
    """HR/NDCG of itemsearch test prompts: the intention alone, and with the history."""
    from .runtime import pick_device
    from .evaluation import Ranker, rank_metrics, rank_of
    from .llm import format_prompt
    from .tasks import read_examples, render

    rk = Ranker.load(run_dir, cfg, pick_device(cfg.eval.device))
    tests = [e for e in read_examples(run_dir, "test") if e["task"] == "itemsearch"]
    out: dict[str, Any] = {}
    for variant in ("query", "query+history"):
        ex = [e for e in tests if e.get("variant") == variant]
        ex = ex[:users] if users else ex
        texts = [format_prompt(rk.tok, render(e, rk.ctx)[0], rk.meta.get("system")) for e in ex]
        ranked = rk.rank(texts, cfg.eval.beams, cfg.eval.batch_size, desc=f"intention ({variant})")
        ranks = [rank_of(e["item"], r.items) for e, r in zip(ex, ranked)]
        out[variant] = {**rank_metrics(ranks), "n_users": len(ex), "ranks": ranks}
    # the same users' seqrec prompts (history alone) from the run's own evaluation
    from .run import Run

    ranks = _ranks(Run(run_dir))[: users or None]
    out["history"] = {**rank_metrics(ranks), "n_users": len(ranks), "ranks": ranks}
    del rk
    return out


def _token_pca(run_dir: Path, cfg: Config, fig_dir: Path) -> dict[str, Any]:
    import matplotlib.pyplot as plt  # no backend switch: inside a notebook that would hide later figures

    from .analysis import load_embedding_weights, plot_token_pca, token_embedding_pca, word_token_ids
    from .run import Run

    run = Run(run_dir)
    weights, tok, _ = load_embedding_weights(run_dir, cfg.data.cache_dir)
    index_ids = tok.convert_tokens_to_ids(run.vocabulary)
    word_ids = word_token_ids(tok, 2000, seed=cfg.seed, vocab_limit=min(index_ids))
    res = token_embedding_pca(weights, word_ids, index_ids)
    fig = plot_token_pca(res, run.levels, run.codebook_size)
    fig.savefig(fig_dir / "token_pca.png", dpi=110)
    plt.close(fig)
    return {k: {"centroid_gap": v["centroid_gap"], "index_spread": v["index_spread"]} for k, v in res.items()}


def title_overlap(a: str, b: str) -> float:
    """Word-level F1 between two titles (lower-cased, alphanumeric words)."""
    import re

    wa, wb = re.findall(r"[a-z0-9]+", a.lower()), re.findall(r"[a-z0-9]+", b.lower())
    if not wa or not wb:
        return 0.0
    common = sum(min(wa.count(w), wb.count(w)) for w in set(wa))
    if not common:
        return 0.0
    p, r = common / len(wa), common / len(wb)
    return 2 * p * r / (p + r)


def users_of_items(sequences: dict[str, list[int]]) -> dict[int, set[str]]:
    users_of: dict[int, set[str]] = {}
    for u, seq in sequences.items():
        for i in set(seq):
            users_of.setdefault(i, set()).add(u)
    return users_of


def co_interaction(users_of: dict[int, set[str]], item: int, others: list[int]) -> float:
    """Mean Jaccard overlap between the users of ``item`` and the users of each of ``others``:
    how much the same people chose them (collaborative relatedness)."""
    mine = users_of.get(item, set())
    vals = []
    for o in others:
        theirs = users_of.get(o, set())
        union = len(mine | theirs)
        vals.append(len(mine & theirs) / union if union else 0.0)
    return float(np.mean(vals)) if vals else 0.0


def _case_studies(run_dir: Path, cfg: Config, n_items: int) -> dict[str, Any]:
    from .analysis import prefix_titles, related_items
    from .baselines import popular_items
    from .embed import text_embeddings
    from .run import Run
    from .runtime import pick_device

    run = Run(run_dir)
    ds, codes = run.dataset, run.codes
    emb = text_embeddings(run_dir, ds.n_items)
    meta = run.json("tune", "tune_meta.json")
    tok, model = run.tuned(cfg.data.cache_dir, pick_device(cfg.eval.device))
    items = popular_items(ds, n_items)
    gen = []
    for it in items:
        rows = prefix_titles(model, tok, codes, it, meta.get("system"), meta.get("end_of_response"))
        title = ds.items[str(it)]["title"]
        for r in rows:
            r["overlap_with_title"] = title_overlap(r.get("text", r["generated title"]), title)
        gen.append({"item": it, "title": title, "rows": rows})
    overlap_by_len = [float(np.mean([g["rows"][d]["overlap_with_title"] for g in gen])) for d in range(codes.shape[1])]
    # related items: did the same users choose them? (collaborative relatedness, Jaccard of
    # user sets); a seeded sample of items of every popularity, not only the head
    users_of = users_of_items(ds.sequences)
    rng = np.random.default_rng(cfg.seed)
    sample = sorted(rng.choice(ds.n_items, size=min(200, ds.n_items), replace=False).tolist())
    rel = [related_items(codes, emb, it, 5) for it in sample]
    by_index = np.array([co_interaction(users_of, it, r["by_index"]) for it, r in zip(sample, rel)])
    by_text = np.array([co_interaction(users_of, it, r["by_text"]) for it, r in zip(sample, rel)])
    co_index, co_text = float(by_index.mean()), float(by_text.mean())
    diff_se = float((by_index - by_text).std(ddof=1) / np.sqrt(len(sample)))  # paired: the same items
    return {"prefix_generation": gen, "mean_title_overlap_by_prefix_length": overlap_by_len,
            "related_items": {"items": len(sample), "co_interaction_by_index": co_index, "co_interaction_by_text": co_text,
                              "difference_se": diff_se,
                              "examples": [{"item": it, **r} for it, r in zip(sample[:3], rel[:3])]}}


def run_study(preset: str, study_dir: str | Path | None = None, only: list[str] | None = None,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) every part of the study; returns and writes ``results.json``."""
    from .stage import STAGES, run_named_stage

    study_dir = Path(study_dir or f"runs/study-{preset}")
    study_dir.mkdir(parents=True, exist_ok=True)
    res_path = study_dir / "results.json"
    results: dict[str, Any] = read_json(res_path) if res_path.exists() else {}
    budget = {k: v for k, v in STUDY_BUDGETS[preset].items() if "." in k}
    if results.get("preset", preset) != preset or results.get("budget", budget) != budget:
        from .errors import ConfigError

        raise ConfigError(
            f"{res_path} holds a study of preset {results.get('preset')!r} with budget {results.get('budget')}, "
            f"not {preset!r} with {budget}: its numbers cannot be mixed with this one's; use another --run-dir "
            "or delete that results.json (the run folders beside it are reused where their config matches)"
        )
    base = make_config(preset)
    results.update({"preset": preset, "seed": base.seed, "model": base.tune.model, "data": base.data.source,
                    "budget": budget})
    results.setdefault("runs", {})
    results.setdefault("wall_seconds", {})
    if _add_missing_ranks(study_dir, results):
        write_json(res_path, results)
    est = estimate_seconds(preset)
    todo = [n for n in est if (not only or n in only) and n not in results["wall_seconds"]]
    log(f"Study {preset}: {len(est)} parts, {len(todo)} to run; estimated {sum(est[n] for n in todo) / 60:.0f} min "
        f"(of {sum(est.values()) / 60:.0f} min for the whole study) -> {os.path.relpath(study_dir)}")

    def save() -> None:
        write_json(res_path, results)

    for run in study_runs():
        if run.name not in todo:
            continue
        t0 = time.perf_counter()
        log(f"== {run.name}: {run.label}")
        rd = study_dir / run.name
        rd.mkdir(exist_ok=True)
        cfg = run_config(preset, run)
        for stage in STAGES:
            if stage == "baselines":  # the same split for every run: see the main pipeline's run
                continue
            _copy_shared_stage(study_dir, rd, stage, cfg)
            run_named_stage(stage, cfg, rd, False)
        results["runs"][run.name] = {"group": run.group, "label": run.label, **_metrics_row(rd)}
        results["wall_seconds"][run.name] = round(time.perf_counter() - t0, 1)
        save()
    main = study_dir / MAIN_RUN
    main_cfg = run_config(preset, next(r for r in study_runs() if r.name == MAIN_RUN))
    users = STUDY_BUDGETS[preset]["eval.max_users"]
    fig_dir = study_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    for part, fn in (("intention", lambda: _intention(main, main_cfg, users)),
                     ("token_pca", lambda: _token_pca(main, main_cfg, fig_dir)),
                     ("case_studies", lambda: _case_studies(main, main_cfg, 3))):
        if part not in todo:
            continue
        if not (main / "eval" / "metrics.json").exists():
            log(f"[{part}] needs the run {MAIN_RUN}; skipped")
            continue
        t0 = time.perf_counter()
        log(f"== {part}")
        results[part] = fn()
        results["wall_seconds"][part] = round(time.perf_counter() - t0, 1)
        save()
    log(f"Study {preset} done: {os.path.relpath(res_path)}")  # relative: no machine path in a page
    return results


# -- reading the results ----------------------------------------------------------------


def difference(a: dict[str, Any], b: dict[str, Any], key: str) -> tuple[float, float | None]:
    """(a - b in ``key``, its standard error). Paired over the same test users when both
    rows hold per-user ranks; otherwise the unpaired bound sqrt(2 p (1 - p) / n), which
    holds for any per-user value in [0, 1] (its variance is at most p (1 - p)); a mean of
    0 on n users is counted as 3/n (the "rule of three")."""
    from .metrics import paired_se, per_user

    d = a[key] - b[key]
    ra, rb = a.get("ranks"), b.get("ranks")
    if ra is not None and rb is not None and len(ra) == len(rb) and len(ra) > 1:
        return d, paired_se(per_user(ra, key), per_user(rb, key))
    if not a.get("n_users") or not b.get("n_users"):
        return d, None
    n = min(a["n_users"], b["n_users"])
    p = max((a[key] + b[key]) / 2, 3 / n)
    return d, float(np.sqrt(2 * p * (1 - p) / n))


def _fmt(d: float, se: float | None) -> str:
    return f"{d:+.4f} (SE {se:.4f})" if se is not None else f"{d:+.4f} (SE n/a)"


def _row(claim: str, source: str, evidence: str, held: bool | None,
         deciding: tuple[float, float | None] | None = None) -> dict[str, Any]:
    """One claim's row: "yes" / "no" / "n/a", and "(within noise)" when the deciding
    difference is smaller than two standard errors."""
    verdict = "n/a" if held is None else ("yes" if held else "no")
    if held is not None and deciding is not None and deciding[1] and abs(deciding[0]) < 2 * deciding[1]:
        verdict += " (within noise)"
    return {"paper's claim": claim, "paper": source, "our evidence": evidence, "held here": verdict}


def _indexing_claims(runs: dict[str, Any]) -> list[dict[str, Any]]:
    methods = ("lcrec", "rqvae", "random")
    if not all(f"index-{x}-{t}" in runs for x in methods for t in ("seq", "all")):
        return []
    diffs = {(t, o): difference(runs[f"index-lcrec-{t}"], runs[f"index-{o}-{t}"], "hr@5")
             for t in ("seq", "all") for o in ("rqvae", "random")}
    worst = min(diffs.values(), key=lambda v: v[0])
    ev = "; ".join(f"{t}: " + ", ".join(f"{x} {runs[f'index-{x}-{t}']['hr@5']:.4f}" for x in methods)
                   for t in ("seq", "all"))
    ev += "; LC-Rec minus " + ", ".join(f"{o} ({t}) {_fmt(*v)}" for (t, o), v in diffs.items())
    out = [_row("LC-Rec indices beat RQ-VAE indices without uniform mapping and random indices", "Fig. 2 (Games)",
                f"HR@5 {ev}", worst[0] > 0, worst)]
    align = {x: difference(runs[f"index-{x}-all"], runs[f"index-{x}-seq"], "hr@5") for x in methods}
    worst = min(align.values(), key=lambda v: v[0])
    ev2 = ", ".join(f"{x} {runs[f'index-{x}-seq']['hr@5']:.4f} -> {runs[f'index-{x}-all']['hr@5']:.4f} "
                    f"{_fmt(*align[x])}" for x in methods)
    out.append(_row("The alignment tasks improve on seqrec-only tuning, for every indexing method", "Fig. 2 (Games)",
                    f"HR@5 seqrec only -> all tasks: {ev2}", worst[0] > 0, worst))
    return out


def _ablation_claims(runs: dict[str, Any]) -> list[dict[str, Any]]:
    if not all(r in runs for r, _ in ABLATION_ROWS):
        return []
    rows = [runs[r] for r, _ in ABLATION_ROWS]
    steps = [difference(b, a, "ndcg@10") for a, b in zip(rows, rows[1:])]
    total = difference(rows[-1], rows[0], "ndcg@10")
    ups = sum(d > 0 for d, _ in steps)
    return [_row("Each group of alignment tasks adds to the performance", "ablation table",
                 "NDCG@10 " + " -> ".join(f"{r['ndcg@10']:.4f}" for r in rows)
                 + f" ({ups} of {len(steps)} steps up; steps " + ", ".join(_fmt(*d) for d in steps)
                 + f"; all tasks minus seqrec only {_fmt(*total)})",
                 total[0] > 0 and ups == len(steps), min(steps, key=lambda v: v[0]))]


def _intention_claims(it: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not it:
        return []
    both = difference(it["query+history"], it["query"], "hr@10")
    alone = difference(it["query"], it["history"], "hr@10")
    return [_row("The tuned model recommends from a user's intention; with the history it does better", "Fig. 3",
                 f"HR@10 intention alone {it['query']['hr@10']:.4f}, intention + history {it['query+history']['hr@10']:.4f}, "
                 f"history alone {it['history']['hr@10']:.4f}; intention + history minus intention alone {_fmt(*both)}, "
                 f"intention alone minus history alone {_fmt(*alone)}",
                 both[0] > 0 and it["query"]["hr@10"] > 0, both)]


def _pca_claims(pca: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not pca:
        return []
    b, a = pca["before tuning"], pca["after tuning"]
    # the claim is about what tuning does to rows that start apart from the words (the
    # reference starts them at random). Rows that already start spread among the words
    # (tune.index_init=semantic scales them to the words' spread) cannot show that move.
    started_among = b["index_spread"] >= 0.5
    return [_row("After tuning, index tokens spread among the word tokens instead of forming their own cluster", "Fig. 4",
                 f"spread (words = 1) {b['index_spread']:.2f} -> {a['index_spread']:.2f}; centroid gap "
                 f"{b['centroid_gap']:.2f} -> {a['centroid_gap']:.2f} (every index token and 2,000 word tokens of one "
                 "model: a measurement, not a sample, so no standard error)"
                 + ("; the rows start among the words (semantic init), so this run cannot test the claim"
                    if started_among else ""),
                 None if started_among else (a["index_spread"] > b["index_spread"] and a["index_spread"] >= 0.5))]


def _case_study_claims(cs: dict[str, Any] | None) -> list[dict[str, Any]]:
    if not cs:
        return []
    ov = cs["mean_title_overlap_by_prefix_length"]
    per_item = [[g["rows"][d]["overlap_with_title"] for d in range(len(ov))] for g in cs.get("prefix_generation", [])]
    se = None
    if len(per_item) > 1:
        from .metrics import paired_se

        se = paired_se([p[-1] for p in per_item], [p[0] for p in per_item])
    rel = cs["related_items"]
    d = rel["co_interaction_by_index"] - rel["co_interaction_by_text"]
    return [
        _row("Longer index prefixes generate text closer to the item's title (coarse to fine)", "Fig. 5a",
             "word F1 with the true title by prefix length: " + ", ".join(f"{v:.2f}" for v in ov)
             + f"; full index minus first code {_fmt(ov[-1] - ov[0], se)} over {len(per_item)} items",
             ov[-1] > ov[0], (ov[-1] - ov[0], se)),
        _row("Items related by index are more useful for recommendation than text-only neighbours", "Fig. 5b",
             f"overlap (Jaccard) of the users of an item and of its 5 related items: by index "
             f"{rel['co_interaction_by_index']:.4f}, by text {rel['co_interaction_by_text']:.4f}; by index minus by text "
             f"{_fmt(d, rel.get('difference_se'))} over {rel['items']} random items",
             d > 0, (d, rel.get("difference_se"))),
    ]


def claims(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each claim of the paper we test, our evidence (numbers from ``results``, every
    difference with its standard error), and whether it held: "yes" / "no", and "(within
    noise)" when the deciding difference is smaller than two standard errors."""
    runs = results.get("runs", {})
    return (_indexing_claims(runs) + _ablation_claims(runs) + _intention_claims(results.get("intention"))
            + _pca_claims(results.get("token_pca")) + _case_study_claims(results.get("case_studies")))


def plot_indexing(results: dict[str, Any], keys: tuple[str, ...] = ("hr@5", "ndcg@5")):
    """Paper Fig. 2 at our scale: HR@5 and NDCG@5 per indexing method, seqrec only vs all tasks."""
    import matplotlib.pyplot as plt

    from .viz import PALETTE

    runs = results["runs"]
    methods = [("random", "random"), ("rqvae", "RQ-VAE, no uniform mapping"), ("lcrec", "LC-Rec")]
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.6))
    x = np.arange(len(methods))
    for ax, key in zip(np.atleast_1d(axes), keys):
        for j, (t, lab) in enumerate((("seq", "SEQ (seqrec only)"), ("all", "w/ ALIGN (all tasks)"))):
            vals = [runs.get(f"index-{mm}-{t}", {}).get(key, 0.0) for mm, _ in methods]
            bars = ax.bar(x + (j - 0.5) * 0.38, vals, 0.38, label=lab, color=PALETTE[j])
            ax.bar_label(bars, fmt="%.3f", fontsize=6, padding=1)  # a bar of 0 still shows its value
        ax.set_xticks(x, [l for _, l in methods], fontsize=8)
        ax.set_title(key.upper())
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_ablation(results: dict[str, Any], keys: tuple[str, ...] = ("hr@10", "ndcg@10")):
    import matplotlib.pyplot as plt

    from .viz import PALETTE

    runs = results["runs"]
    rows = [(lab, runs[r]) for r, lab in ABLATION_ROWS if r in runs]
    fig, ax = plt.subplots(figsize=(8, 3.6))
    for j, key in enumerate(keys):
        ax.plot(range(len(rows)), [r[key] for _, r in rows], "o-", label=key.upper(), color=PALETTE[j])
    ax.set_xticks(range(len(rows)), [lab for lab, _ in rows], rotation=15, fontsize=8)
    ax.set_ylabel("score")
    ax.legend()
    ax.set_title("task ablation (same step budget per run)")
    fig.tight_layout()
    return fig
