"""The study's plan: which configurations it trains, with which training seeds and budget.

Plain data (no model code), so the figures and tables that show the study's results can
name its runs without loading what runs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lcrec_mini.tasks.registry import TASKS

ALL_TASKS = list(TASKS)

#: the training seeds (``tune.seed``) every configuration of a study is tuned with
STUDY_SEEDS: tuple[int, ...] = (42, 43, 44)


@dataclass(frozen=True)
class Budget:
    """What every run of a study gets: training tokens (0: the preset's own steps) and test
    users (0: all), with the costs that make the printed time estimate (measured on this
    project's 2-core CPUs: SmolLM2-135M, LoRA, batch 8, beam 20)."""

    tokens: int
    users: int
    s_per_token: float
    s_per_user: float
    s_fixed: float
    #: ``tune.precision`` of every run: a CPU study is fp32 on every processor, because its
    #: pieces run on whichever machine a session gets (with native bf16 or without), and one
    #: configuration's seeds must not differ in arithmetic as well as in seed
    precision: str = "auto"

    def overrides(self) -> dict[str, Any]:
        return {"eval.max_users": self.users, "tune.precision": self.precision}


STUDY_BUDGETS: dict[str, Budget] = {
    "smoke": Budget(tokens=1_500, users=12, s_per_token=0.002, s_per_user=0.02, s_fixed=15, precision="fp32"),
    # cpu: ~36,000 tokens per run (about 54 steps of seqrec windows, 3 minutes at ~200
    # tokens/s on an AVX-512 Zen 4/5, 4 at ~150 on a Zen 3) and all 943 test users (0.30 s
    # per user with 20 beams), so every difference has the full sample behind it: 3 seeds of
    # 9 configurations, 3 of the token-PCA run and the analyses of 3 seeds in under 5 hours
    # of 2 cores (the slowest of this project's CPUs included), in resumable pieces
    "cpu": Budget(tokens=36_000, users=0, s_per_token=0.005, s_per_user=0.30, s_fixed=40, precision="fp32"),
    "colab": Budget(tokens=2_000_000, users=0, s_per_token=0.0005, s_per_user=0.05, s_fixed=120),
    "paper": Budget(tokens=0, users=0, s_per_token=0.002, s_per_user=0.2, s_fixed=600),
}


def study_budget(preset: str) -> dict[str, Any]:
    """What a study's ``results.json`` records of its budget: two studies with different
    records cannot be mixed."""
    b = STUDY_BUDGETS[preset]
    return {"tokens": b.tokens, "users": b.users, "seeds": list(STUDY_SEEDS), "precision": b.precision,
            "settings": preset_settings(preset)}


def preset_settings(preset: str) -> dict[str, str]:
    """The fingerprint of each stage's settings in ``preset``: every configuration of a study
    is the preset with a few keys changed, so a study whose preset has changed since (more
    windows, other index2item answers) is another study."""
    from lcrec_mini.core.config import make_config  # settings only, no model code

    cfg = make_config(preset)
    return {s: cfg.fingerprint(s) for s in ("data", "embed", "index", "tasks", "tune", "eval")}


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


#: the token-PCA run (paper Fig. 4): all tasks, the index rows started as LC-Rec starts them
#: (the vocabulary mean plus small noise), so whether tuning moves them among the words can
#: be seen; the main runs' semantic init starts them spread among the words already
PCA_RUN = StudyRun("pca-mean-init", "pca", {"index.method": "lcrec", "tasks.tasks": ALL_TASKS, "tune.index_init": "mean"},
                   "LC-Rec, all tasks, mean init")


#: the ablation's rows, in order: run name and label (the first and last come from the indexing runs)
ABLATION_ROWS = [("index-lcrec-seq", "seqrec only"), ("tasks-3", "+ item2index, index2item"),
                 ("tasks-4", "+ fusionseqrec"), ("tasks-5", "+ itemsearch"), ("index-lcrec-all", "+ preferenceobtain (all)")]
MAIN_RUN = "index-lcrec-all"


def run_name(run: StudyRun, seed: int) -> str:
    """The folder of one configuration tuned with one training seed."""
    return f"{run.name}-s{seed}"
