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

Every configuration is trained with several training seeds (``STUDY_SEEDS``, the
``tune.seed`` of each run; data, index and task examples stay those of the run's
``seed``; a CPU study tunes in fp32 on every processor), so every verdict counts how
much a retrained model moves as well as how much the test users do
(:func:`lcrec_mini.generate.metrics.seeded_difference`). Every run of one study trains
on the same number of tokens (``STUDY_BUDGETS``; the steps are that budget over the
run's mean example length), so the comparisons are at equal training tokens, not at
equal time: the same tokens can take the all-task runs longer than the seqrec-only ones
(shorter examples, text targets scored against the whole vocabulary). Each run records
its tuning seconds and its processor, and the results say by how much.

``study_dir/results.json`` is rewritten after each run, and a run or part whose result
is there is skipped when the study is started again, so the study runs in pieces, on one
machine or several: the main configuration and the analyses run first (they need its
trained models; one whose folder is gone is trained again), and every other part needs
only ``results.json``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from transformers import AddedToken

from lcrec_mini.analyses.claims import check_claims, per_item_f1, seed_means
from lcrec_mini.analyses.plan import (
    MAIN_RUN,
    PCA_RUN,
    STUDY_BUDGETS,
    STUDY_SEEDS,
    StudyRun,
    run_name,
    study_budget,
    study_runs,
)
from lcrec_mini.analyses.probes import (
    load_embedding_weights,
    prefix_titles,
    related_items,
    token_embedding_pca,
    word_token_ids,
)
from lcrec_mini.baselines.stage import popular_items
from lcrec_mini.book.figures import plot_token_pca
from lcrec_mini.core.config import Config, make_config
from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.core.run import Run
from lcrec_mini.core.runtime import cpu_line, pick_device
from lcrec_mini.core.stage import (
    UPSTREAM,
    read_json,
    read_stage_config,
    run_named_stage,
    stage_fingerprint,
    upstream_fingerprint,
    write_json,
)
from lcrec_mini.generate.metrics import METRIC_KEYS, rank_metrics, rank_of
from lcrec_mini.generate.stage import Ranker
from lcrec_mini.index.embed import text_embeddings
from lcrec_mini.index.tokens import index_vocabulary
from lcrec_mini.tasks.base import SYSTEM
from lcrec_mini.tasks.context import TaskContext
from lcrec_mini.tasks.stage import read_examples, render
from lcrec_mini.tune.llm import format_prompt, load_tokenizer


def run_config(preset: str, run: StudyRun, seed: int | None = None, steps: int = 0,
               extra: dict[str, Any] | None = None) -> Config:
    """The config of ``run`` with training seed ``seed`` and ``steps`` optimizer steps (0: the
    preset's own); one validation pass at the end and no snapshots."""
    over: dict[str, Any] = dict(STUDY_BUDGETS[preset].overrides())
    if steps:
        over.update({"tune.max_steps": steps, "tune.eval_steps": steps, "tune.save_steps": max(1, steps // 2)})
    over["tune.snapshot_steps"] = []  # the compute curve's snapshots are the main run's, not the study's
    if seed is not None:
        over["tune.seed"] = seed
    over.update(run.overrides)
    over.update(extra or {})
    return make_config(preset, overrides=over)


def steps_for_tokens(cfg: Config, run_dir: Path, tokens: int) -> int:
    """Optimizer steps that train on about ``tokens`` tokens of ``run_dir``'s training
    examples (their mean length, counted as the tuned model sees them), at least one more
    than the embedding warm-up."""
    if tokens <= 0:
        return 0
    per_example = mean_example_tokens(run_dir, cfg)
    steps = math.ceil(tokens / (per_example * cfg.tune.batch_size * cfg.tune.grad_accum))
    return max(steps, cfg.tune.embed_warmup_steps + 1)


def mean_example_tokens(run_dir: Path, cfg: Config, n: int = 800) -> float:
    """Mean tokens per training example of ``run_dir`` (a seeded sample of ``n``, rendered
    as the tasks stage wrote them; every index token counts one, as in the tuned model)."""
    examples = read_examples(run_dir, "train")
    ctx = TaskContext.load(run_dir)
    tok = load_tokenizer(cfg.tune.model, cfg.data.cache_dir)
    tok.add_tokens([AddedToken(t, lstrip=True, normalized=False) for t in index_vocabulary(ctx.levels, ctx.codebook_size)])
    system = SYSTEM if cfg.tune.system_prompt else None
    pick = np.random.default_rng(0).choice(len(examples), min(n, len(examples)), replace=False)
    return float(np.mean([len(tok(format_prompt(tok, examples[i]["prompt"], system) + examples[i]["response"],
                                  add_special_tokens=False)["input_ids"]) for i in pick]))


def estimate_seconds(preset: str) -> dict[str, float]:
    """Rough wall time per part, from the measured per-token and per-user costs."""
    b = STUDY_BUDGETS[preset]
    base = make_config(preset)
    tokens = b.tokens or 2_000_000
    users = b.users or 1000
    per_run = b.s_fixed + tokens * b.s_per_token + users * b.s_per_user * (base.eval.beams / 20)
    est = {run_name(r, s): per_run for r in study_runs() for s in STUDY_SEEDS}
    est.update({run_name(PCA_RUN, s): b.s_fixed + tokens * b.s_per_token for s in STUDY_SEEDS})
    est["intention"] = len(STUDY_SEEDS) * (2 * users * b.s_per_user + b.s_fixed)
    est["token_pca"] = b.s_fixed
    est["case_studies"] = len(STUDY_SEEDS) * (b.s_fixed + 100 * 3 * 0.5)
    return est


SHARED_STAGES = ("data", "embed", "index", "tasks")  # tune and eval differ from run to run


def _copy_shared_stage(study_dir: Path, target: Path, stage: str, cfg: Config) -> None:
    """Copy ``stage`` from an earlier run of the study whose output this run would rebuild
    identically (same fingerprint); ``run_stage`` then finds it up to date."""
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
        "tune_seconds": ts["train_seconds"], "tune_tokens": round(ts["tokens_per_second"] * ts["train_seconds"]),
        # a tune resumed from a checkpoint counts only the seconds after the resume
        "tune_resumed_from_step": ts.get("resumed_from_step", 0),
        # the pieces of a study can run on different machines: which one trained this row
        "cpu": cpu_line(),
    }


def _ranks(run) -> list[int | None]:
    """Each test user's rank of the held-out item (None: not in the top 20), in the order
    of the test users: every run of a study evaluates the same users in the same order,
    so two runs' lists give paired differences."""
    return [p["rank"] for p in run.predictions.values()]


def intention(run_dir: Path, cfg: Config, users: int = 0) -> dict[str, Any]:
    """Paper Fig. 3: HR/NDCG of the itemsearch test prompts of ``run_dir``'s tuned model,
    the intention alone and with the history, beside the history alone (its seqrec
    evaluation), for the first ``users`` test users (0: all)."""
    rk = Ranker.load(run_dir, cfg, pick_device(cfg.eval.device))
    tests = [e for e in read_examples(run_dir, "test") if e["task"] == "itemsearch"]
    out: dict[str, Any] = {}
    for variant in ("query", "query+history"):
        ex = [e for e in tests if e.get("variant") == variant]
        ex = ex[:users] if users else ex
        texts = [format_prompt(rk.tok, render(e, rk.ctx)[0], rk.meta.get("system")) for e in ex]
        # as the eval stage ranks: with eval.exclude_history no item of the prompt's history
        # (the query-alone prompts name none)
        ranked = rk.rank(texts, cfg.eval.beams, cfg.eval.batch_size, desc=f"intention ({variant})",
                         histories=[e["history"] for e in ex])
        ranks = [rank_of(e["item"], r.items) for e, r in zip(ex, ranked)]
        out[variant] = {**rank_metrics(ranks), "n_users": len(ex), "ranks": ranks}
    # the same users' seqrec prompts (history alone) from the run's own evaluation

    ranks = _ranks(Run(run_dir))[: users or None]
    out["history"] = {**rank_metrics(ranks), "n_users": len(ranks), "ranks": ranks}
    del rk
    return out


def _token_pca(run_dir: Path, cfg: Config, fig_dir: Path | None = None) -> dict[str, Any]:
    """Centroid gap and spread of the index tokens before and after tuning in ``run_dir``
    (the figure to ``fig_dir/token_pca.png`` when given)."""
    run = Run(run_dir)
    weights, tok, _ = load_embedding_weights(run_dir, cfg.data.cache_dir)
    index_ids = tok.convert_tokens_to_ids(run.vocabulary)
    word_ids = word_token_ids(tok, 2000, seed=cfg.seed, vocab_limit=min(index_ids))
    res = token_embedding_pca(weights, word_ids, index_ids)
    if fig_dir is not None:
        import matplotlib.pyplot as plt  # no backend switch: inside a notebook that would hide later figures

        fig = plot_token_pca(res, run.levels, run.codebook_size)
        fig.savefig(fig_dir / "token_pca.png", dpi=110)
        plt.close(fig)
    return {k: {"centroid_gap": v["centroid_gap"], "index_spread": v["index_spread"]} for k, v in res.items()}


def token_pca_seeds(run_dirs: dict[int, Path], cfg: Config, fig_dir: Path) -> dict[str, Any]:
    """:func:`_token_pca` of the PCA run of every training seed: the first seed's numbers at
    the top (its figure is drawn), every seed's under ``by_seed``."""
    by_seed = {str(s): _token_pca(d, cfg, fig_dir if i == 0 else None) for i, (s, d) in enumerate(run_dirs.items())}
    return {**next(iter(by_seed.values())), "by_seed": by_seed}


#: words left out of the title F1, as SQuAD's evaluation leaves them out of answers: an
#: article matches nearly any title ("The Big Sleep" against "Return of the Jedi" would
#: score 0.29), so a model that writes a generic "The ..." title would seem to know items
TITLE_STOPWORDS = frozenset({"a", "an", "the"})


def title_words(title: str) -> list[str]:
    """A title's words for the F1: lower-cased alphanumeric runs, articles left out."""
    return [w for w in re.findall(r"[a-z0-9]+", title.lower()) if w not in TITLE_STOPWORDS]


def title_overlap(a: str, b: str) -> float:
    """Word-level F1 between two titles (:func:`title_words` of each: lower-cased,
    alphanumeric, without articles)."""
    wa, wb = title_words(a), title_words(b)
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


def prefix_title_scores(model, tok, codes: np.ndarray, ds, items: list[int], meta: dict[str, Any]) -> dict[str, Any]:
    """Paper Fig. 5a on one tuned model: the title it generates from the first 1..L tokens
    of the index of each item of ``items``, scored by word F1 against the true title (mean
    and standard error over the items per prefix length), and the share of distinct
    full-index titles (does the model tell the items apart?). ``meta``: the tune stage's
    ``tune_meta.json`` (the system message and end-of-response token the model was tuned with)."""
    gen = []
    for it in items:
        rows = prefix_titles(model, tok, codes, it, meta.get("system"), meta.get("end_of_response"))
        title = ds.items[str(it)]["title"]
        for r in rows:
            r["overlap_with_title"] = title_overlap(r.get("text", r["generated title"]), title)
        gen.append({"item": it, "title": title, "rows": rows})
    f1 = np.array([[g["rows"][d]["overlap_with_title"] for d in range(codes.shape[1])] for g in gen])
    full = [g["rows"][-1].get("text", "").strip().lower() for g in gen]
    return {"prefix_generation": gen, "mean_title_overlap_by_prefix_length": [float(v) for v in f1.mean(0)],
            "title_overlap_se_by_prefix_length": [float(v) for v in f1.std(0, ddof=1) / np.sqrt(len(gen))]
            if len(gen) > 1 else None,
            "distinct_title_share": len(set(full)) / len(full) if full else 0.0, "items": len(gen)}


def case_studies(run_dir: Path, cfg: Config, n_items: int = 100) -> dict[str, Any]:
    """Paper Fig. 5 on ``run_dir``'s tuned model: (a) the title it generates from the first
    1..L tokens of the index of each of the ``n_items`` most popular items, scored by word
    F1 against the true title (mean and standard error over the items per prefix length;
    the share of distinct full-index titles says whether the model tells items apart);
    (b) whether items that share index prefixes were chosen by the same users more than
    items close by text."""
    run = Run(run_dir)
    ds, codes = run.dataset, run.codes
    emb = text_embeddings(run_dir, ds.n_items)
    meta = run.json("tune", "tune_meta.json")
    tok, model = run.tuned(cfg.data.cache_dir, pick_device(cfg.eval.device))
    fig5a = prefix_title_scores(model, tok, codes, ds, popular_items(ds, n_items), meta)
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
    return {**fig5a,
            "related_items": {"items": len(sample), "co_interaction_by_index": co_index, "co_interaction_by_text": co_text,
                              "difference_se": diff_se,
                              "examples": [{"item": it, **r} for it, r in zip(sample[:3], rel[:3])]}}


def _tune_and_eval(preset: str, study_dir: Path, run: StudyRun, seed: int, tokens: int, stages: tuple[str, ...],
                   log: Callable[[str], None]) -> Path:
    """One configuration with one training seed: the stages up to tasks (copied from an
    earlier run of the study where the config is the same), the token budget turned into
    steps on this run's examples, then tune (and eval)."""
    rd = study_dir / run_name(run, seed)
    rd.mkdir(exist_ok=True)
    cfg = run_config(preset, run, seed)
    for stage in SHARED_STAGES:
        _copy_shared_stage(study_dir, rd, stage, cfg)
        run_named_stage(stage, cfg, rd, False)
    cfg = run_config(preset, run, seed, steps_for_tokens(cfg, rd, tokens))
    for stage in stages:
        run_named_stage(stage, cfg, rd, False)
    return rd


def run_study(preset: str, study_dir: str | Path | None = None, only: list[str] | None = None,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) every part of the study; returns and writes ``results.json``."""
    study_dir = Path(study_dir or f"runs/study-{preset}")
    study_dir.mkdir(parents=True, exist_ok=True)
    res_path = study_dir / "results.json"
    results: dict[str, Any] = read_json(res_path) if res_path.exists() else {}
    b = STUDY_BUDGETS[preset]
    budget = study_budget(preset)
    old = results.get("budget", budget)
    if results.get("preset", preset) != preset or old != budget:
        if "settings" not in old:
            why = "records no preset settings (it was written before they were recorded), so it cannot be checked"
        else:
            differ = ["preset"] if results.get("preset", preset) != preset else []
            for k in sorted(set(budget) | set(old)):
                if k == "settings":
                    differ += [f"settings.{s}" for s in sorted(set(budget[k]) | set(old[k]))
                               if old[k].get(s) != budget[k].get(s)]
                elif old.get(k) != budget.get(k):
                    differ.append(k)
            why = f"differs from today's {preset!r} in {', '.join(differ)}"
        raise ConfigError(
            f"{res_path} holds a study of preset {results.get('preset')!r} that {why} (budget {old}): its numbers "
            "cannot be mixed with this one's; use another --run-dir or delete that results.json (the run folders "
            "beside it are reused where their config matches)"
        )
    base = make_config(preset)
    results.update({"preset": preset, "seed": base.seed, "model": base.tune.model, "data": base.data.source,
                    "budget": budget})
    results.setdefault("runs", {})
    results.setdefault("wall_seconds", {})
    for name, entry in results["runs"].items():  # rows written before the field existed: from their run folder
        for seed, row in entry.get("seeds", {}).items():
            stats = study_dir / f"{name}-s{seed}" / "tune" / "train_stats.json"
            if "tune_resumed_from_step" not in row and stats.exists():
                row["tune_resumed_from_step"] = read_json(stats).get("resumed_from_step", 0)
    est = estimate_seconds(preset)
    todo = [n for n in est if (not only or n in only or n.rsplit("-s", 1)[0] in only) and n not in results["wall_seconds"]]
    pca_names = {s: run_name(PCA_RUN, s) for s in STUDY_SEEDS}
    if "token_pca" in todo:  # the analysis needs its runs
        todo += [n for n in pca_names.values() if n not in todo and n not in results["wall_seconds"]]
    log(f"Study {preset}: {len(est)} parts, {len(todo)} to run; estimated {sum(est[n] for n in todo) / 60:.0f} min "
        f"(of {sum(est.values()) / 60:.0f} min for the whole study) -> {os.path.relpath(study_dir)}")

    def save() -> None:
        write_json(res_path, results)

    main_run = next(r for r in study_runs() if r.name == MAIN_RUN)

    def tune_part(run: StudyRun, seed: int) -> None:
        name = run_name(run, seed)
        if name not in todo:
            return
        t0 = time.perf_counter()
        log(f"== {name}: {run.label}, training seed {seed}")
        rd = _tune_and_eval(preset, study_dir, run, seed, b.tokens, ("tune", "eval"), log)
        entry = results["runs"].setdefault(run.name, {"group": run.group, "label": run.label, "seeds": {}})
        entry["seeds"][str(seed)] = _metrics_row(rd)
        entry.update(seed_means(entry["seeds"]))
        results["wall_seconds"][name] = round(time.perf_counter() - t0, 1)
        save()

    # The main configuration's seeds, the token-PCA runs and the analyses first: the analyses
    # need those trained models, which a session that ends can lose, while every other part
    # needs only results.json to be resumed on another machine. Then a whole seed of every
    # other configuration at a time, so a study cut short compares like with like.
    for seed in STUDY_SEEDS:
        tune_part(main_run, seed)
    main_cfgs = {s: run_config(preset, main_run, s) for s in STUDY_SEEDS}
    fig_dir = study_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    for seed, pca_name in pca_names.items():
        if pca_name not in todo:
            continue
        t0 = time.perf_counter()
        log(f"== {pca_name}: {PCA_RUN.label}, training seed {seed} (tuned only)")
        _tune_and_eval(preset, study_dir, PCA_RUN, seed, b.tokens, ("tune",), log)
        results["wall_seconds"][pca_name] = round(time.perf_counter() - t0, 1)
        save()
    main_dirs = {s: study_dir / f"{MAIN_RUN}-s{s}" for s in STUDY_SEEDS}
    def intentions() -> dict[str, Any]:
        done = results.setdefault("intention_by_seed", {})
        for s in STUDY_SEEDS:  # each seed kept as it finishes: an interruption loses one seed at most
            if str(s) not in done:
                log(f"   intention, training seed {s}")
                done[str(s)] = intention(main_dirs[s], main_cfgs[s], b.users)
                save()
        return results.pop("intention_by_seed")

    def case_studies_seeds() -> dict[str, Any]:
        """The case studies of the main configuration's model of every training seed: the
        first seed's in full (its generations are shown), every seed's per-item F1 under
        ``by_seed`` (the Fig. 5a verdict pairs the items and counts the seeds)."""
        done = results.setdefault("case_studies_by_seed", {})
        for s in STUDY_SEEDS:  # each seed kept as it finishes
            if str(s) not in done:
                log(f"   case studies, training seed {s}")
                done[str(s)] = case_studies(main_dirs[s], main_cfgs[s], 100)
                save()
        by_seed = results.pop("case_studies_by_seed")
        # the other seeds' generations are not shown: their F1 and share of distinct titles are enough
        return {**by_seed[str(STUDY_SEEDS[0])],
                "by_seed": {s: {"f1": per_item_f1(v), "distinct_title_share": v["distinct_title_share"]}
                            for s, v in by_seed.items()}}

    pca_dirs = {s: study_dir / n for s, n in pca_names.items()}
    # the quickest first: a session that ends during the long intention part (all test users
    # twice, three seeds) leaves the others done
    parts = (("token_pca", lambda: token_pca_seeds(pca_dirs, main_cfgs[STUDY_SEEDS[0]], fig_dir)),
             ("case_studies", case_studies_seeds),
             ("intention", intentions))
    for part, fn in parts:
        if part not in todo:
            continue
        if part == "token_pca":
            need = {s: (PCA_RUN, pca_dirs[s] / "tune" / "tune_meta.json", ("tune",)) for s in STUDY_SEEDS}
        else:  # the seeds this analysis has not kept yet (an interrupted one keeps each seed as it finishes)
            kept = results.get(f"{part}_by_seed", {})
            need = {s: (main_run, main_dirs[s] / "eval" / "metrics.json", ("tune", "eval"))
                    for s in STUDY_SEEDS if str(s) not in kept}
        for s, (run, path, stages) in need.items():
            if not path.exists() and run_name(run, s) in results["wall_seconds"]:
                # trained in an earlier session whose folders are gone: trained again (its
                # row in results.json stays the one recorded then)
                log(f"   {part} needs {run_name(run, s)}, whose folder is not here: training it again")
                _tune_and_eval(preset, study_dir, run, s, b.tokens, stages, log)
                results.setdefault("retrained_for_analyses", []).append(run_name(run, s))
        missing = [run_name(run, s) for s, (run, path, _) in need.items() if not path.exists()]
        if missing:
            log(f"[{part}] needs the runs {', '.join(missing)}; skipped")
            continue
        t0 = time.perf_counter()
        log(f"== {part}")
        results[part] = fn()
        results["wall_seconds"][part] = round(time.perf_counter() - t0, 1)
        save()
    for seed in STUDY_SEEDS:
        for run in study_runs():
            if run.name != MAIN_RUN:
                tune_part(run, seed)
    log(f"Study {preset} done: {os.path.relpath(res_path)}")  # relative: no machine path in a page
    return results


def analyze_run(cfg: Config, run_dir: str | Path, n_items: int = 100, force: bool = False,
                log: Callable[[str], None] = print) -> dict[str, Any]:
    """The paper's analyses of one finished run (``lcrec-mini analyze``): intention-based
    prediction on all its test users (Fig. 3) and the case studies (Fig. 5) over its
    ``n_items`` most popular items, with the verdicts; each part is written to
    ``<run_dir>/analyses/<part>.json`` as it finishes and kept (``force`` redoes them)."""
    run_dir = Path(run_dir)
    if not (run_dir / "eval" / "metrics.json").exists():
        raise DataError(f"{run_dir / 'eval' / 'metrics.json'}: not found; the analyses need a finished run "
                        f"(`lcrec-mini run --preset {cfg.preset} --run-dir {run_dir}`)")

    out = run_dir / "analyses"
    out.mkdir(exist_ok=True)
    results: dict[str, Any] = {}
    model = {"eval": (read_stage_config(run_dir / "eval") or {}).get("fingerprint")}  # the eval's upstream: the tune
    for part, fn, what in (("intention", lambda: intention(run_dir, cfg, cfg.eval.max_users),
                            {"beams": cfg.eval.beams, "users": cfg.eval.max_users,
                             # the default is left out, so that analyses made before the key existed stay valid
                             **({"softmax": cfg.eval.softmax} if cfg.eval.softmax != "vocabulary" else {})}),
                           ("case_studies", lambda: case_studies(run_dir, cfg, n_items), {"items": n_items})):
        path = out / f"{part}.json"
        made_by = {**model, **what}
        if path.exists() and not force and read_json(path).get("made_by") == made_by:
            log(f"[analyze] {part}: kept from {os.path.relpath(path)}")
            results[part] = read_json(path)
            continue
        t0 = time.perf_counter()
        log(f"[analyze] {part} ...")
        results[part] = {**fn(), "made_by": made_by}
        write_json(path, results[part])
        log(f"[analyze] {part}: {time.perf_counter() - t0:.0f} s")
    for c in check_claims(results):
        log(f"  {c.source}: {c.verdict} ({c.claim})")
    return results
