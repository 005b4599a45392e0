"""Each tuning lever's effect on quality at a fixed budget, same seed and test users.

Cumulative variants on a cpu-preset run folder (data/, embed/, index/ are reused):

  lcrec-format     LC-Rec's format as the cpu preset had it (prefix seqrec + task mix)
  + all-position   seqrec as sliding windows, loss on every item's index tokens
  + index softmax  index targets scored against the index rows only
  + semantic init  index rows from their items' title embeddings, spread like the words
  + warm-up        the first steps train the index rows alone, at a higher rate

Every variant trains on the same number of tokens (``--tokens``; the step count is
that budget over the variant's mean example length) with each training seed of
``--seeds`` (``tune.seed``; at least 3 for a verdict), then the eval stage ranks the
whole catalogue for all test users with LC-Rec's seqrec prompts. Reported: HR@10 and
NDCG@10 averaged over the seeds, and each NDCG@10 difference from ``lcrec-format`` and from the
row above (that lever's own effect), with two standard errors over users and seeds
(:func:`lcrec_mini.generate.metrics.seeded_difference`) and the verdict of the lever's own step.

    python benchmarks/levers.py --run-dir runs/cpu-text --tokens 120000 --seeds 42 43 44
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_tune import OLD_CPU_FORMAT  # noqa: E402  (this folder is on sys.path when run as a script)

from lcrec_mini.analyses.study import mean_example_tokens  # noqa: E402
from lcrec_mini.core.config import make_config  # noqa: E402
from lcrec_mini.core.runtime import cpu_line  # noqa: E402
from lcrec_mini.generate.metrics import ndcg_of, seeded_difference, verdict  # noqa: E402
from lcrec_mini.generate.stage import run_evaluate  # noqa: E402
from lcrec_mini.tasks.stage import run_tasks  # noqa: E402
from lcrec_mini.tune.stage import run_tune  # noqa: E402

LCREC_FORMAT = OLD_CPU_FORMAT
ALLPOS = ["tasks.seqrec_format=window", "tasks.max_history=20", "tasks.seqrec_samples=0"]
LEVERS = {
    "lcrec-format": LCREC_FORMAT,
    "+ all-position": LCREC_FORMAT + ALLPOS,
    "+ index softmax": LCREC_FORMAT + ALLPOS + ["tune.index_softmax=true"],
    "+ semantic init": LCREC_FORMAT + ALLPOS + ["tune.index_softmax=true", "tune.index_init=semantic"],
    "+ warm-up": LCREC_FORMAT + ALLPOS + ["tune.index_softmax=true", "tune.index_init=semantic",
                                   "tune.embed_warmup_steps=10", "tune.index_lr=0.005"],
}


def quiet(_m: str) -> None:
    pass


def per_user_ndcg(run_dir: Path) -> dict[int, float]:
    out = {}
    for line in (run_dir / "eval" / "predictions.jsonl").read_text().splitlines():
        p = json.loads(line)
        out[p["user"]] = ndcg_of(p["rank"])
    return out


def source_cf_dims(src: Path) -> int:
    return json.loads((src / "embed" / "config.json").read_text())["config"]["embed"].get("cf_dims", 0)


def check_source(src: Path) -> None:
    """Refuse, before any work, a run folder whose indices are not the ones the variants are configured for."""
    for s in ("data", "embed", "index"):
        if not (src / s).is_dir():
            sys.exit(f"levers: {src / s} is missing; the variants reuse a finished run's data, embed and index stages")
    want = make_config("cpu", set_items=LCREC_FORMAT).embed.cf_dims
    have = source_cf_dims(src)
    if have != want:
        sys.exit(f"levers: {src / 'embed' / 'config.json'} has embed.cf_dims={have}, the variants are measured on "
                 f"embed.cf_dims={want}; make such a run first (`lcrec-mini S --preset cpu --set embed.cf_dims={want} "
                 f"--run-dir runs/cpu-text` for S in data, embed, index) and pass --run-dir runs/cpu-text")


def git_commit() -> str:
    """The short commit of this checkout, with "+" when tracked files are modified."""
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True, cwd=Path(__file__).parent).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=Path(__file__).parent).stdout.strip()
        return commit + ("+" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"


def provenance(src: Path, trained: list[str] | None = None) -> str:
    """Which code and which indices produced the table (the indices are the source run's).
    ``trained``: the commits the variants were trained at (each variant's ``commit.txt``)."""
    commit = git_commit()
    cf = source_cf_dims(src)
    kind = "text-only indices (`embed.cf_dims=0`)" if not cf else f"indices with `embed.cf_dims={cf}`"
    at = sorted(set(trained or []))
    if at and at != [commit]:
        when = f"Variants trained at commit {', '.join(at)} (table written at {commit})"
    else:
        when = f"Measured at commit {commit}"
    return f"{when} on the data, embeddings and {kind} of `{src}`."


def table(work: Path, tokens: int, src: Path, seeds: list[int]) -> str:
    """The markdown table of the finished variants, in lever order: each row's NDCG@10
    (mean over the seeds) against ``lcrec-format`` and against the row above (that lever's own
    effect), each with two standard errors over the same test users and the seeds."""
    lines = [f"**Tuning levers** at a fixed budget of ~{tokens:,} training tokens (cpu preset, SmolLM2-135M LoRA, "
             f"data seed 42, training seeds {', '.join(map(str, seeds))}, all test users; cumulative: each row adds its "
             "lever to the row above; means over the seeds, 2 SE over users and seeds)", "",
             "| variant | steps | tokens | HR@10 | NDCG@10 | NDCG@10 - lcrec-format | 2 SE | this lever: NDCG@10 - row above "
             "| 2 SE | verdict |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    base = prev = None
    trained = []
    for name in LEVERS:
        dirs = [work / variant_dir(name) / f"s{seed}" for seed in seeds]
        if not all((d / "eval" / "metrics.json").exists() for d in dirs):
            continue
        ms = [json.loads((d / "eval" / "metrics.json").read_text()) for d in dirs]
        st = json.loads((dirs[0] / "tune" / "train_stats.json").read_text())
        trained += [(d / "commit.txt").read_text().strip() for d in dirs if (d / "commit.txt").exists()]
        n_tok = int(st["tokens_per_second"] * st["train_seconds"])
        per_seed = [per_user_ndcg(d) for d in dirs]
        users = sorted(per_seed[0])
        mine = [[p[u] for u in users] for p in per_seed]
        base = mine if base is None and name == "lcrec-format" else base
        cells = []
        for ref in (base, prev):
            if ref is None or ref is mine:
                cells += ["", ""]
                continue
            d, se = seeded_difference(mine, ref)
            cells += [f"{d:+.4f}", f"{2 * se:.4f}"]
        own = verdict([seeded_difference(mine, prev)]) if prev is not None else ""
        hr = sum(m["hr@10"] for m in ms) / len(ms)
        nd = sum(m["ndcg@10"] for m in ms) / len(ms)
        lines.append(f"| {name} | {st['steps']} | {n_tok:,} | {hr:.4f} | {nd:.4f} | " + " | ".join(cells) + f" | {own} |")
        prev = mine
    lines += ["", provenance(src, trained), "", f"Processor: {cpu_line()}."]
    return "\n".join(lines) + "\n"


def variant_dir(name: str) -> str:
    return name.replace("+ ", "").replace(" ", "-")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--run-dir", default="runs/cpu-text",
                    help="a finished run with text-only indices (embed.cf_dims=0)")
    ap.add_argument("--work", default="runs/levers")
    ap.add_argument("--tokens", type=int, default=120_000, help="training tokens per variant")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44], help="training seeds (tune.seed) per variant")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "levers.md"))
    args = ap.parse_args()
    src, work = Path(args.run_dir), Path(args.work)
    check_source(src)
    names = args.only or list(LEVERS)
    for seed in args.seeds:  # every variant of one seed first: a run cut short compares like with like
        for name in names:
            d = work / variant_dir(name) / f"s{seed}"
            if (d / "eval" / "metrics.json").exists():
                continue  # resumable: a finished variant is kept
            for s in ("data", "embed", "index"):
                if not (d / s).exists():
                    shutil.copytree(src / s, d / s)
            sets = LEVERS[name] + [f"tune.seed={seed}"]
            cfg = make_config("cpu", set_items=sets)
            run_tasks(cfg, d, log=quiet)
            steps = max(1, round(args.tokens / (cfg.tune.batch_size * mean_example_tokens(d, cfg))))
            cfg = make_config("cpu", set_items=sets + [f"tune.max_steps={steps}", f"tune.save_steps={steps}",
                                                       f"tune.eval_steps={steps}", "tune.snapshot_steps=[]"])
            t0 = time.perf_counter()
            run_tune(cfg, d, log=print)
            run_evaluate(cfg, d, log=print)
            (d / "commit.txt").write_text(git_commit() + "\n")  # the code this variant was trained at
            print(f"{name} seed {seed}: {steps} steps, {time.perf_counter() - t0:.0f} s", flush=True)
    text = table(work, args.tokens, src, args.seeds)
    print(text)
    Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
