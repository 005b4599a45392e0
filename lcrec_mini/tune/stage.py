"""The ``tune`` stage: alignment tuning of the LLM on the tasks' examples.

The model learns the index tokens added to its vocabulary from all tasks at once
(mixed batches). The objective is the usual causal LM loss on the **response tokens
only**:

    L = - sum_t log p(y_t | prompt, y_<t)

It runs on the Hugging Face ``Trainer``: LoRA through peft (the new token rows are
trained as well, through ``trainable_token_indices``) or full fine-tuning; bf16 on a GPU;
optional gradient checkpointing; validation loss; a checkpoint every ``save_steps``
in ``<run_dir>/.tune-work-<fingerprint>/``, from which an interrupted run resumes.
The same entry point runs under ``torchrun`` / ``accelerate launch`` on several
processes (DDP; gloo on CPU).

CPU speed: the vocabulary projection (49k x 576 for SmolLM2) is a large part of a
small model's cost. With ``response_only_logits`` the loss computes logits only at
the positions that are scored (the response, at the end of left-padded rows), not at
every prompt token.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.trainer_utils import get_last_checkpoint

from lcrec_mini.book.figures import plot_training_curve
from lcrec_mini.core.config import Config
from lcrec_mini.core.errors import ConfigError, DataError
from lcrec_mini.core.runtime import pick_device
from lcrec_mini.core.stage import (
    UPSTREAM,
    StageResult,
    read_json,
    run_stage,
    stage_fingerprint,
    upstream_fingerprint,
    write_json,
)
from lcrec_mini.index.tokens import index_vocabulary
from lcrec_mini.tasks.base import SYSTEM
from lcrec_mini.tasks.context import TaskContext
from lcrec_mini.tasks.registry import templates
from lcrec_mini.tasks.seqrec import seqrec_targets
from lcrec_mini.tasks.stage import read_examples, render
from lcrec_mini.tune.llm import (
    add_index_tokens,
    check_index_tokens,
    end_of_response,
    format_prompt,
    keep_layers,
    load_causal_lm,
    match_spread,
    semantic_index_rows,
    set_index_rows,
)
from lcrec_mini.tune.objective import label_history
from lcrec_mini.tune.trainer import LCRecTrainer, Snapshots, resolve_precision, training_arguments

OUTPUTS = ("tune_meta.json", "history.json", "train_stats.json")


# -- data -------------------------------------------------------------------------------------


def encode_example(
    tok, prompt: str, response: str, max_length: int, eor: str, system: str | None = SYSTEM,
    history_ids: list[int] | None = None, index_ids: set[int] | None = None,
) -> dict[str, list[int]]:
    """Token ids and labels: labels are -100 on every prompt token (no loss there).

    A too long example loses the start of its prompt, never its response. With
    ``history_ids`` (the index-token ids of the history items, in order) the example is
    an all-position one: the history's index tokens in the prompt are targets too, and
    the response is its index alone (no end-of-turn target: decoding is fixed-length).
    """
    p = tok(format_prompt(tok, prompt, system), add_special_tokens=False)["input_ids"]
    r = tok(response + ("" if history_ids is not None else eor), add_special_tokens=False)["input_ids"]
    if len(p) + len(r) > max_length:
        p = p[-max(1, max_length - len(r)) :]
        r = r[: max_length - len(p)]
    ids, labels = p + r, [-100] * len(p) + r
    if history_ids is not None:
        labels = label_history(ids, labels, history_ids, index_ids or set())
    return {"input_ids": ids, "labels": labels}


class TaskDataset(torch.utils.data.Dataset):
    """``epochs`` passes over the examples; each pass draws every example's template anew
    from the training seed (``seed=None``: the templates the tasks stage drew)."""

    def __init__(
        self, examples: list[dict], ctx: TaskContext, tok, max_length: int, eor: str, seed: int | None,
        epochs: int = 1, system: str | None = SYSTEM, item_tokens: list[list[int]] | None = None,
        index_only_responses: bool = False,
    ):
        self.examples, self.ctx, self.tok, self.system = examples, ctx, tok, system
        self.max_length, self.eor, self.seed, self.epochs = max_length, eor, seed, max(1, epochs)
        #: item id -> its index-token ids (needed by all-position examples)
        self.item_tokens = item_tokens
        self.index_ids = {t for row in item_tokens for t in row} if item_tokens else set()
        #: score seqrec responses on their index tokens only (no end-of-turn target), as the
        #: all-position format trains them: the validation loss of a window-trained model
        self.index_only_responses = index_only_responses

    def __len__(self) -> int:
        return len(self.examples) * self.epochs

    def template(self, i: int) -> int:
        """Pass e draws example j's template from the generator seeded (seed, e, j); with
        ``seed=None`` (validation) every example keeps the template the tasks stage drew."""
        epoch, j = divmod(i, len(self.examples))
        ex = self.examples[j]
        if self.seed is None:
            return ex["template"]
        pool = templates(ex["task"], ex.get("variant", ""))
        return int(np.random.default_rng([self.seed, epoch, j]).integers(len(pool)))

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        if not 0 <= i < len(self):
            raise IndexError(i)  # iteration by index (as some samplers do) must end
        ex = self.examples[i % len(self.examples)]
        prompt, response = render(ex, self.ctx, self.template(i))
        hist = None
        if ex.get("targets") == "all":
            if self.item_tokens is None:
                raise DataError("all-position examples need the items' index-token ids (item_tokens)")
            hist = [t for item in ex["history"] for t in self.item_tokens[item]]
        elif self.index_only_responses and ex["task"] == "seqrec":
            hist = []
        return encode_example(self.tok, prompt, response, self.max_length, self.eor, self.system, hist, self.index_ids)

    def targets(self) -> int:
        """Next-item targets in one pass (an all-position example holds one per item)."""
        return seqrec_targets(self.examples)

    def lengths(self) -> list[int]:
        """Token counts of pass 0 (the other passes differ only in template wording),
        repeated for each pass; counted once (it tokenizes every example)."""
        if getattr(self, "_pass_lengths", None) is None:
            self._pass_lengths = [len(self[i]["input_ids"]) for i in range(len(self.examples))]
        return self._pass_lengths * self.epochs


def collate(pad_id: int):
    """Pad on the left, so that every response ends at the last position of its row."""

    def fn(batch: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        n = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), n), pad_id, dtype=torch.long)
        labels = torch.full((len(batch), n), -100, dtype=torch.long)
        mask = torch.zeros((len(batch), n), dtype=torch.long)
        for k, b in enumerate(batch):
            m = len(b["input_ids"])
            ids[k, n - m :] = torch.tensor(b["input_ids"])
            labels[k, n - m :] = torch.tensor(b["labels"])
            mask[k, n - m :] = 1
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}

    return fn


# -- model ------------------------------------------------------------------------------------


def init_index_rows(tok, model, index_init: str, n_levels: int, codebook_size: int, seed: int,
                    codes: np.ndarray | None = None, item_texts: list[str] | None = None) -> list[int]:
    """Add the index tokens to ``tok`` and ``model`` and set their first rows as
    ``tune.index_init`` says (see :func:`prepare_model`); returns their ids. The token-PCA
    analysis calls it too, so its "before tuning" rows are the ones tuning started from."""
    vocab_rows = model.get_input_embeddings().weight.detach().clone()
    ids = add_index_tokens(tok, model, index_vocabulary(n_levels, codebook_size), seed=seed)
    if index_init == "semantic":
        if codes is None or item_texts is None:
            raise ConfigError("tune.index_init=semantic needs the items' codes and texts")
        text_ids = [tok(t, add_special_tokens=False)["input_ids"] for t in item_texts]
        rows, used = semantic_index_rows(vocab_rows, text_ids, codes, codebook_size)
        set_index_rows(model, ids, match_spread(rows, used, vocab_rows, n_levels, codebook_size), used)
    return ids


def prepare_model(cfg: Config, n_levels: int, codebook_size: int, device: str, codes=None, item_texts=None):
    """(tokenizer, model ready to train, ids of the index tokens).

    ``tune.index_init``: ``mean`` starts every index row at the vocabulary mean plus
    small noise; ``semantic`` starts each code's row at the (residual) mean of the word
    embeddings of the texts of the items that carry it, spread like the words
    (:func:`lcrec_mini.tune.llm.semantic_index_rows`, :func:`lcrec_mini.tune.llm.match_spread`);
    that needs ``codes`` [N, L] and ``item_texts`` (one string per item id).
    """
    tc = cfg.tune
    tok, model = load_causal_lm(tc.model, cfg.data.cache_dir, seed=cfg.seed)  # the base model: the run's seed
    keep_layers(model, tc.num_layers)
    seed = train_seed(cfg)  # what training draws: the index rows' noise, LoRA's matrices
    torch.manual_seed(seed)
    ids = init_index_rows(tok, model, tc.index_init, n_levels, codebook_size, seed, codes, item_texts)
    if tc.method == "lora":
        from peft import LoraConfig, get_peft_model

        names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
        targets = [t for t in tc.lora_target_modules if t in names]
        if not targets:
            raise ConfigError(
                f"tune.lora_target_modules {tc.lora_target_modules} match no module of {tc.model}; "
                f"linear layers there: {sorted(n for n in names if 'proj' in n)}"
            )
        lcfg = LoraConfig(
            task_type="CAUSAL_LM",
            r=tc.lora_r,
            lora_alpha=tc.lora_alpha,
            lora_dropout=tc.lora_dropout,
            target_modules=targets,
            trainable_token_indices={"embed_tokens": ids},
        )
        model = get_peft_model(model, lcfg)
    if tc.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if hasattr(model, "enable_input_require_grads"):
            model.enable_input_require_grads()
    return tok, model, ids


def index_row_params(model, token_ids: list[int], full: bool) -> list:
    """The parameters that hold the index-token rows, for their own optimizer group.

    LoRA: peft's trainable-token deltas. Full tuning (``full``): the
    embedding matrix itself, with a gradient hook that keeps only the index rows' gradient,
    so the word rows stay as pretrained and the index rows train at ``tune.index_lr``
    (AdamW leaves a parameter entry whose gradient is always zero unchanged when weight
    decay is 0, as it is in that group)."""
    rows = [p for n, p in model.named_parameters() if "trainable_tokens_delta" in n and p.requires_grad]
    if rows or not full:
        return rows
    w = model.get_input_embeddings().weight
    keep = torch.zeros(w.shape[0], 1, dtype=w.dtype, device=w.device)
    keep[torch.as_tensor(token_ids, device=w.device)] = 1.0
    # the mask follows the gradient's device: the Trainer moves the model (to a GPU) after this
    w.register_hook(lambda g: g * keep.to(device=g.device, dtype=g.dtype))
    return [w]


def count_parameters(model) -> dict[str, int]:
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


# -- checkpoints ------------------------------------------------------------------------------


def check_resume(path: str, fp: str) -> str:
    """A checkpoint given by ``tune.resume_from`` must come from a run of the same config."""
    p = Path(path)
    if not (p / "trainer_state.json").exists():
        raise DataError(f"{p}: not a Trainer checkpoint folder (no trainer_state.json)")
    meta_path = p.parent / "lcrec_fingerprint.json"
    if not meta_path.exists():
        raise DataError(f"{meta_path}: missing; cannot tell which config made checkpoint {p}")
    meta = json.loads(meta_path.read_text())
    if meta.get("fingerprint") != fp:
        raise DataError(
            f"{p}: checkpoint of another config (fingerprint {meta.get('fingerprint')}, this run {fp}); "
            f"its config is in {meta_path}. Resume only with the same config, or drop tune.resume_from."
        )
    return str(p)


def load_tuned(run_dir: str | Path, cache_dir: str = "", device: str = "cpu", model_dir: str | Path | None = None):
    """(tokenizer, model) of ``<run_dir>/tune`` (or of ``model_dir``, e.g. a snapshot
    ``tune/snapshots/step-N``), LoRA merged, checked against the index."""
    tune_dir = Path(run_dir) / "tune"
    model_dir = Path(model_dir) if model_dir else tune_dir / "model"
    meta = read_json(tune_dir / "tune_meta.json")
    ctx = TaskContext.load(run_dir)

    tok = AutoTokenizer.from_pretrained(str(tune_dir / "model"))
    check_index_tokens(tok, index_vocabulary(ctx.levels, ctx.codebook_size), str(tune_dir / "model"))
    if meta["method"] == "full":
        model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    else:
        from peft import PeftModel

        _, base = load_causal_lm(meta["base_model"], cache_dir, seed=meta["seed"])
        keep_layers(base, meta["num_layers"])
        base.resize_token_embeddings(len(tok), mean_resizing=False)
        model = PeftModel.from_pretrained(base, str(model_dir)).merge_and_unload()
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok, model.to(device).eval()


# -- the stage --------------------------------------------------------------------------------


def world() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def work_dir_for(run_dir: Path, fp: str) -> Path:
    return run_dir / f".tune-work-{fp}"


def _loss_plot(history: list[dict], path: Path) -> None:
    """The notebook's training-curve figure, saved beside the model. Closed right away:
    inside a notebook it is not displayed twice, and no backend is switched."""
    import matplotlib.pyplot as plt

    fig = plot_training_curve(history)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def rows_apart(tc) -> bool:
    """Whether the index-token rows get their own optimizer group and schedule: when
    ``tune.index_lr`` or ``tune.embed_warmup_steps`` is set (LoRA: peft's token deltas;
    full tuning: the embedding matrix with word rows frozen, see :func:`index_row_params`)."""
    return bool(tc.index_lr or tc.embed_warmup_steps)


def train_seed(cfg: Config) -> int:
    """The seed of everything training draws (``tune.seed``; unset, the run's ``seed``)."""
    return cfg.seed if cfg.tune.seed is None else cfg.tune.seed


#: the tasks that pair an item's index with its text, both ways (``tune.index_phase``)
INDEX_LANGUAGE = ("item2index", "index2item")


def phase_blocks(tasks: list[str], epochs: int, phase: str) -> list[list[int]] | None:
    """The order of the training rows under ``tune.index_phase``: None for ``mixed`` (one
    shuffle over everything); else, for each epoch, the rows of the index-language tasks
    as one block and the others as another, in the order ``phase`` says. ``tasks``: the
    task of each example of one pass (row ``e * len(tasks) + j`` is example j in pass e)."""
    if phase == "mixed":
        return None
    n = len(tasks)
    blocks = []
    for e in range(max(1, epochs)):
        lang = [e * n + j for j, t in enumerate(tasks) if t in INDEX_LANGUAGE]
        rest = [e * n + j for j, t in enumerate(tasks) if t not in INDEX_LANGUAGE]
        blocks += [lang, rest] if phase == "first" else [rest, lang]
    return blocks


def trainer_options(tc, lengths: list[int], token_ids: list[int], model, cpu_bf16: bool = False,
                    tasks: list[str] | None = None) -> dict[str, Any]:
    """:class:`~lcrec_mini.tune.trainer.LCRecTrainer`'s own arguments, from ``tune.*``, for
    this run's index tokens; ``tasks``: the task of each training example (one pass), which
    ``tune.index_phase`` orders by."""
    apart = rows_apart(tc)
    return {
        "lengths": lengths,
        "blocks": phase_blocks(tasks, tc.epochs, tc.index_phase) if tasks else None,
        "index_range": (int(token_ids[0]), int(token_ids[-1])) if tc.index_softmax else None,
        "response_only_logits": tc.response_only_logits or tc.index_softmax,
        "row_params": index_row_params(model, token_ids, tc.method == "full") if apart else None,
        "index_lr": tc.index_lr or None,
        "warmup_rows_steps": tc.embed_warmup_steps,
        "cpu_bf16": cpu_bf16,
    }


def task_datasets(cfg: Config, train_ex: list[dict], valid_ex: list[dict], ctx: TaskContext, codes: np.ndarray, tok,
              token_ids: list[int],
              eor: str, system: str | None):
    """(training dataset, validation dataset): the validation set is a seeded sample of
    ``tune.eval_samples`` validation users."""
    tc = cfg.tune
    K = ctx.codebook_size
    item_tokens = [[token_ids[lvl * K + int(c)] for lvl, c in enumerate(row)] for row in codes]
    train = TaskDataset(train_ex, ctx, tok, tc.max_length, eor, train_seed(cfg), tc.epochs, system, item_tokens)
    rng = np.random.default_rng(cfg.seed)
    vsel = sorted(rng.choice(len(valid_ex), min(tc.eval_samples, len(valid_ex)), replace=False).tolist())
    windowed = any(ex.get("targets") == "all" for ex in train_ex)
    valid = TaskDataset([valid_ex[i] for i in vsel], ctx, tok, tc.max_length, eor, None, 1, system, item_tokens,
                        index_only_responses=windowed)
    return train, valid


def _sort_adapter_configs(out: Path) -> None:
    """PEFT writes ``target_modules`` from a set, in an order that changes from process to
    process (string hashing); sorted, two runs of the same config write the same bytes."""
    for f in out.rglob("adapter_config.json"):
        meta = json.loads(f.read_text())
        if isinstance(meta.get("target_modules"), list):
            meta["target_modules"] = sorted(meta["target_modules"])
            f.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


@dataclass
class Tuned:
    """One finished training run of the tune stage: what the files beside the model
    (statistics, reload metadata, history, loss plot) are written from."""

    cfg: Config
    trainer: Any
    model: Any
    tok: Any
    train: "TaskDataset"
    n_examples: int
    token_ids: list[int]
    resumed_at: int  # the step training resumed from (0: a fresh run)
    train_seconds: float
    wall_seconds: float
    eval_metrics: dict[str, Any]
    device: str
    world_size: int
    precision: str
    system: str | None
    eor: str

    def stats(self) -> dict[str, Any]:
        """``train_stats.json``: throughput counted over the steps this process ran."""
        tc, history = self.cfg.tune, self.trainer.state.log_history
        lengths = self.train.lengths()
        seen = (self.trainer.state.global_step - self.resumed_at) * tc.batch_size * tc.grad_accum * self.world_size
        tokens = int(np.mean(lengths) * min(seen, len(lengths)))
        targets = self.train.targets() * tc.epochs * min(seen, len(lengths)) / max(1, len(lengths))
        return {
            "model": tc.model,
            "method": tc.method,
            "steps": self.trainer.state.global_step,
            "resumed_from_step": self.resumed_at,
            "examples": self.n_examples,
            "epochs": tc.epochs,
            "train_seconds": round(self.train_seconds, 1),
            "tokens_per_second": round(tokens / max(self.train_seconds, 1e-9), 1),
            "next_item_targets": int(targets),
            "targets_per_second": round(targets / max(self.train_seconds, 1e-9), 2),
            "mean_example_tokens": round(float(np.mean(lengths)), 1),
            "first_loss": next((h["loss"] for h in history if "loss" in h), None),
            "last_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None),
            "final_eval_loss": self.eval_metrics.get("eval_loss"),
            "parameters": count_parameters(self.model),
            "device": self.device,
            "precision": self.precision,
            "world_size": self.world_size,
            "wall_seconds": round(self.wall_seconds, 1),
        }

    def meta(self) -> dict[str, Any]:
        """``tune_meta.json``: what reloading the model and prompting it needs."""
        tc = self.cfg.tune
        return {
            "base_model": tc.model,
            "method": tc.method,
            "index_token_ids": [int(self.token_ids[0]), int(self.token_ids[-1])],
            "n_index_tokens": len(self.token_ids),
            "system": self.system,
            "end_of_response": self.eor,
            "seed": self.cfg.seed,
            "train_seed": train_seed(self.cfg),
            "precision": self.precision,
            "index_init": tc.index_init,
            "num_layers": tc.num_layers,
        }

    def write(self, out: Path, work: Path, log: Callable[[str], None]) -> None:
        """Everything but the model (saved by the caller): tokenizer, history, snapshots,
        statistics, metadata, the loss plot."""
        history = self.trainer.state.log_history
        self.tok.save_pretrained(str(out / "model"))
        # a pickle of the arguments: never needed, and never to be unpickled
        (out / "model" / "training_args.bin").unlink(missing_ok=True)
        write_json(out / "history.json", history, indent=None)
        if (work / "snapshots").is_dir():
            shutil.copytree(work / "snapshots", out / "snapshots",
                            ignore=shutil.ignore_patterns("*.tmp", "training_args.bin"))
        _sort_adapter_configs(out)
        stats = self.stats()
        write_json(out / "train_stats.json", stats)
        write_json(out / "tune_meta.json", self.meta())
        _loss_plot(history, out / "loss.png")
        log(format_tune_summary(stats))


def run_tune(
    cfg: Config,
    run_dir: str | Path,
    force: bool = False,
    log: Callable[[str], None] = print,
    callbacks: list | None = None,
) -> StageResult:
    """The ``tune`` stage: the LLM with the index tokens added, tuned on ``tasks/train.jsonl``;
    resumes from its last checkpoint when interrupted (checkpoints in a work folder named
    by the stage's fingerprint, so another config never resumes them)."""
    tc = cfg.tune
    run_dir = Path(run_dir)
    rank, world_size = world()
    fp = stage_fingerprint(cfg, "tune", {u: upstream_fingerprint(run_dir, u, cfg.preset) for u in UPSTREAM["tune"]})
    work = work_dir_for(run_dir, fp)

    def build(out: Path) -> None:
        t0 = time.perf_counter()
        ctx = TaskContext.load(run_dir)  # item text and index strings, as the tasks stage rendered them
        train_ex = read_examples(run_dir, "train")
        valid_ex = read_examples(run_dir, "valid")
        if not train_ex:
            raise DataError(f"{run_dir / 'tasks' / 'train.jsonl'}: no training examples")
        torch.manual_seed(train_seed(cfg))
        device = pick_device(tc.device)
        titles = [ctx.items[str(i)].get("title") or "" for i in range(ctx.n_items)]
        codes = ctx.codes()  # parsed and checked once: the model's init and the datasets use it
        tok, model, token_ids = prepare_model(cfg, ctx.levels, ctx.codebook_size, device, codes, titles)
        eor = end_of_response(tok)
        system = SYSTEM if tc.system_prompt else None
        train, valid = task_datasets(cfg, train_ex, valid_ex, ctx, codes, tok, token_ids, eor, system)
        work.mkdir(parents=True, exist_ok=True)
        (work / "lcrec_fingerprint.json").write_text(json.dumps({"fingerprint": fp, "config": cfg.to_dict()}))
        precision = resolve_precision(tc.precision, device)
        args, total_steps = training_arguments(tc, work, device, world_size, train_seed(cfg), len(train), precision)
        snapshots = [Snapshots(tc.snapshot_steps, work / "snapshots")] if tc.snapshot_steps else []
        trainer = LCRecTrainer(model=model, args=args, train_dataset=train, eval_dataset=valid,
                               data_collator=collate(tok.pad_token_id), callbacks=(callbacks or []) + snapshots,
                               **trainer_options(tc, train.lengths(), token_ids, model, device == "cpu" and precision == "bf16",
                                                  [ex["task"] for ex in train_ex]))
        last = check_resume(tc.resume_from, fp) if tc.resume_from else (get_last_checkpoint(str(work)) if work.exists() else None)
        if last:
            log(f"[tune] resuming from {last}")
        log(
            f"[tune] {tc.model} ({tc.method}), {len(train_ex):,} examples x {tc.epochs} epochs, "
            f"{total_steps} steps of {tc.batch_size * tc.grad_accum * world_size}, on {device} "
            f"(world size {world_size}); parameters {count_parameters(model)}"
        )
        t_train = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=last)
        train_s = time.perf_counter() - t_train
        metrics = trainer.evaluate()  # every process takes part in the evaluation and the save
        trainer.save_model(str(out / "model"))  # every process calls it; the main one writes
        if trainer.is_world_process_zero():
            resumed_at = int(Path(last).name.split("-")[-1]) if last else 0
            Tuned(cfg, trainer, model, tok, train, len(train_ex), token_ids, resumed_at, train_s, time.perf_counter() - t0,
                  metrics, device, world_size, precision, system, eor).write(out, work, log)
        trainer.accelerator.wait_for_everyone()  # no process leaves before the files are written
        del result

    res = run_stage(
        "tune", cfg, run_dir, build, OUTPUTS, force=force, log=log,
        main_process=rank == 0, shared_tmp=world_size > 1,
    )
    if not res.skipped and rank == 0:
        shutil.rmtree(work, ignore_errors=True)  # the stage is complete: checkpoints are no longer needed
    elif res.skipped:
        log(format_tune_summary(read_json(res.out_dir / "train_stats.json")))
    return res


def format_tune_summary(s: dict[str, Any]) -> str:
    fl, ll, ev = s.get("first_loss"), s.get("last_loss"), s.get("final_eval_loss")
    f = lambda v: f"{v:.3f}" if isinstance(v, (int, float)) else "-"  # noqa: E731
    return (
        f"Tuned {s['model']} ({s['method']}): {s['steps']} steps on {s['examples']:,} examples in "
        f"{s['train_seconds']} s, {s['tokens_per_second']} tokens/s, {s.get('targets_per_second', '-')} next-item targets/s; training loss {f(fl)} -> {f(ll)}, "
        f"validation loss {f(ev)}"
    )
