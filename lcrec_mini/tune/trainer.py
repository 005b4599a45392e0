"""The Trainer: Hugging Face's, with LC-Rec's loss and the index rows' own schedule.

:class:`LCRecTrainer` takes, beside the Trainer's own arguments, what this project
changes: the loss (``objective.lm_loss``: response tokens, or every index token of a
window, optionally scored against the index rows only), batches grouped by the lengths
already known, the index-token rows in their own optimizer group (their own learning
rate, and a warm-up during which they alone train), and bf16 autocast on a CPU with
native bf16. :func:`training_arguments` maps ``tune.*`` to the Trainer's arguments;
:func:`resolve_precision` decides bf16 or fp32 for this machine.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
import time
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from lcrec_mini.core.errors import ConfigError
from lcrec_mini.core.runtime import cpu_flags, cpu_has_native_bf16
from lcrec_mini.tune.objective import lm_loss


class LCRecTrainer(Trainer):
    """The Trainer with this project's loss, sampler, optimizer groups and CPU autocast.

    ``lengths``: tokens per training example (group-by-length batches without rendering
    every example again to measure it). ``index_range``: (first, last) index-token id for
    the index-only softmax (None: the full vocabulary). ``response_only_logits``: logits
    only where a target is scored. ``row_params``: the parameters holding the index-token
    rows when they get their own optimizer group and schedule (None: one group for
    everything), trained at ``index_lr`` (None: the Trainer's rate) and alone for the
    first ``warmup_rows_steps`` steps. ``cpu_bf16``: bf16 autocast around the training
    loss on a CPU, with the frozen weights of the linear layers held in bf16 during the
    training steps (:class:`FrozenBf16`: the same products, without casting every weight
    at every step). ``blocks``: the training examples in groups that come one after
    another (each shuffled, or grouped by length, on its own: :class:`BlockSampler`);
    None: one shuffle over all of them.
    """

    def __init__(self, *args, lengths: list[int] | None = None, blocks: list[list[int]] | None = None,
                 index_range: tuple[int, int] | None = None, response_only_logits: bool = True,
                 row_params: list | None = None, index_lr: float | None = None, warmup_rows_steps: int = 0,
                 cpu_bf16: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.lengths = lengths
        self.blocks = blocks
        self.index_range = index_range
        self.response_only_logits = response_only_logits
        self.row_params = row_params or None
        self.index_lr = index_lr
        self.warmup_rows_steps = warmup_rows_steps
        self.cpu_bf16 = cpu_bf16
        self.frozen_bf16 = FrozenBf16(self.model) if cpu_bf16 else None
        save_rows_not_vocabulary(self.model)

    def training_step(self, *args, **kwargs):
        if self.frozen_bf16 is not None:
            self.frozen_bf16.to_bf16()
        return super().training_step(*args, **kwargs)

    def evaluate(self, *args, **kwargs):
        if self.frozen_bf16 is not None:
            self.frozen_bf16.to_fp32()  # the validation loss in fp32, as before; the next step casts again
        return super().evaluate(*args, **kwargs)

    def autocast_smart_context_manager(self, cache_enabled: bool | None = True):
        # training steps only: the validation loss stays in fp32, comparable across precisions
        if self.cpu_bf16 and self.model.training:
            return torch.autocast("cpu", dtype=torch.bfloat16, cache_enabled=cache_enabled)
        return super().autocast_smart_context_manager(cache_enabled)

    def _get_train_sampler(self, train_dataset=None):
        if self.blocks is not None:
            grouped = self.args.train_sampling_strategy == "group_by_length"
            return BlockSampler(self.blocks, self.lengths if grouped else None,
                                self.args.train_batch_size * self.args.gradient_accumulation_steps)
        # group by length with the lengths we already know, instead of the default,
        # which would render and tokenize every example once more to measure it
        if self.args.train_sampling_strategy == "group_by_length" and self.lengths is not None:
            return LengthGroupedSampler(self.args.train_batch_size * self.args.gradient_accumulation_steps,
                                        lengths=self.lengths)
        return super()._get_train_sampler(train_dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not self.response_only_logits:
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        loss = lm_loss(model, inputs, num_items_in_batch, self.index_range)
        return (loss, {"loss": loss}) if return_outputs else loss

    def create_optimizer(self, model=None):
        if self.optimizer is None and self.row_params is not None:
            rows = {id(p) for p in self.row_params}
            rest = [p for p in self.model.parameters() if p.requires_grad and id(p) not in rows]
            groups = [
                {"params": rest, "lr": self.args.learning_rate, "weight_decay": self.args.weight_decay},
                {"params": list(self.row_params), "lr": self.index_lr or self.args.learning_rate, "weight_decay": 0.0},
            ]
            self.optimizer = torch.optim.AdamW(groups, lr=self.args.learning_rate)
            return self.optimizer
        return super().create_optimizer(model)

    def create_scheduler(self, num_training_steps, optimizer=None):
        if self.lr_scheduler is None and self.row_params is not None:
            opt = optimizer or self.optimizer
            w = self.warmup_rows_steps
            ws = self.args.get_warmup_steps(num_training_steps)

            def cosine(step: int, start: int = 0) -> float:
                s, total = step - start, max(1, num_training_steps - start)
                if s < 0:
                    return 0.0
                if s < ws:
                    return (s + 1) / max(1, ws)
                return 0.5 * (1 + math.cos(math.pi * min(1.0, (s - ws) / max(1, total - ws))))

            # group 0 (LoRA or the whole model) waits for the rows' warm-up; group 1 (the rows) never waits
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(opt, [lambda s: cosine(s, w), lambda s: cosine(s)])
            return self.lr_scheduler
        return super().create_scheduler(num_training_steps, optimizer)


class FrozenBf16:
    """The frozen weights of a model's linear layers, switched between fp32 and a bf16 copy.

    Under CPU autocast every ``linear`` casts its fp32 weight to bf16 before the product,
    at every forward pass: for SmolLM2 ~100 M weights read and written again per step (the
    rest of the casts a bf16 step makes are of activations, which stay). A frozen weight
    never changes, so its bf16 copy can be made once: the product autocast then computes is
    the same, bit for bit (the same rounding to bf16, the same kernel), and the fp32 tensors
    are kept to be put back for evaluation and for what follows the tune. Trainable weights
    (LoRA's matrices, full tuning) stay in fp32 and are cast by autocast as before; embedding
    matrices (and an output layer tied to one) are left alone: a lookup is not autocast, and
    the index rows are scored from them in fp32."""

    def __init__(self, model: torch.nn.Module):
        skip = {id(m.weight) for m in model.modules() if isinstance(m, torch.nn.Embedding)}
        self.params = [m.weight for name, m in model.named_modules()
                       if isinstance(m, torch.nn.Linear) and not m.weight.requires_grad and "lm_head" not in name
                       and m.weight.dtype == torch.float32 and id(m.weight) not in skip]
        self.fp32: list[torch.Tensor] | None = None

    def to_bf16(self) -> None:
        if self.fp32 is None:
            self.fp32 = [p.data for p in self.params]
            for p in self.params:
                p.data = p.data.to(torch.bfloat16)

    def to_fp32(self) -> None:
        if self.fp32 is not None:
            for p, data in zip(self.params, self.fp32):
                p.data = data
            self.fp32 = None


class BlockSampler(torch.utils.data.Sampler):
    """The examples of ``blocks[0]``, then those of ``blocks[1]``, ...: each block shuffled
    on its own, or with ``lengths`` grouped by length as the Trainer groups a whole dataset
    (shuffled, then sorted within mega-batches). The shuffles draw from torch's global
    generator, which the Trainer seeds, as its own samplers do: a resumed run sees the same order."""

    def __init__(self, blocks: list[list[int]], lengths: list[int] | None, batch_size: int):
        self.blocks, self.lengths, self.batch_size = blocks, lengths, batch_size

    def __len__(self) -> int:
        return sum(len(b) for b in self.blocks)

    def __iter__(self):
        order: list[int] = []
        for b in self.blocks:
            if not b:
                continue
            if self.lengths is None:
                pick = torch.randperm(len(b)).tolist()
            else:
                pick = get_length_grouped_indices([self.lengths[i] for i in b], self.batch_size)
            order += [b[j] for j in pick]
        return iter(order)


def save_rows_not_vocabulary(model) -> None:
    """Make a LoRA model's ``save_pretrained`` leave the embedding matrices out.

    peft saves the whole input and output embeddings (2 x 49,248 x 576 floats for SmolLM2,
    227 MB) whenever the vocabulary was resized, though with ``trainable_token_indices``
    only the index rows train and the adapter already holds them in full
    (``trainable_tokens_delta``, written into the matrix by the merge). Every checkpoint,
    snapshot and final adapter is then ~10 MB instead of ~237 MB, and the tune of the
    ``cpu`` preset no longer spends seconds at every checkpoint writing the same matrices.
    Reloading (:func:`lcrec_mini.tune.stage.load_tuned`) grows the base vocabulary and
    merges the adapter, which puts the trained rows back. Only for tied input and output
    embeddings (SmolLM2, Qwen2.5-0.5B): an untied output matrix keeps its new rows at their
    seeded start, which only the saved matrix holds. Full tuning saves everything."""
    if not hasattr(model, "peft_config") or isinstance(model.save_pretrained, functools.partial):
        return
    config = model.get_base_model().config
    if getattr(config.get_text_config(), "tie_word_embeddings", False):
        model.save_pretrained = functools.partial(model.save_pretrained, save_embedding_layers=False)


class Snapshots(TrainerCallback):
    """Saves the model (the adapter, for LoRA) at the given steps into ``folder/step-N``;
    kept in the work folder, so an interrupted run keeps what it saved."""

    def __init__(self, steps: list[int], folder: Path):
        self.wanted = set(int(s) for s in steps)
        self.folder = folder
        self.t0 = time.perf_counter()

    def on_train_begin(self, args, state, control, **kw):
        self.t0 = time.perf_counter()  # training seconds of a resumed run restart here

    def on_step_end(self, args, state, control, model=None, **kw):
        if state.global_step in self.wanted and state.is_world_process_zero and model is not None:
            target = self.folder / f"step-{state.global_step}"
            tmp = target.with_name(target.name + ".tmp")
            model.save_pretrained(str(tmp))
            (tmp / "snapshot.json").write_text(json.dumps(
                {"step": state.global_step, "train_seconds": round(time.perf_counter() - self.t0, 1)}))
            shutil.rmtree(target, ignore_errors=True)
            tmp.rename(target)
        return control


def resolve_precision(precision: str, device: str) -> str:
    """``tune.precision`` for this machine: ``auto`` is bf16 on a GPU that supports it and on
    a CPU with native bf16 instructions, fp32 elsewhere (emulated bf16 is slower than fp32)."""
    if precision == "bf16" and device == "mps":
        raise ConfigError("tune.precision = 'bf16' on mps: bf16 autocast is used on cuda and cpu only; "
                          "expected auto or fp32 there")
    if precision in ("bf16", "fp32"):
        return precision
    if device.startswith("cuda"):
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if device == "cpu" and cpu_has_native_bf16(cpu_flags()) else "fp32"


def training_arguments(tc, work: Path, device: str, world_size: int, seed: int, n_train: int, precision: str = "fp32"):
    """The Trainer's arguments from ``tune.*``: cosine schedule, warm-up as a share of the
    steps, checkpoints in ``work`` (resumable), bf16 autocast when ``precision`` says so
    (on a CPU the Trainer subclass enters the autocast itself: :class:`LCRecTrainer`)."""
    use_cuda = device.startswith("cuda")
    args = TrainingArguments(
        output_dir=str(work),
        per_device_train_batch_size=tc.batch_size,
        per_device_eval_batch_size=tc.batch_size,
        gradient_accumulation_steps=tc.grad_accum,
        learning_rate=tc.lr,
        weight_decay=tc.weight_decay,
        warmup_steps=0,
        lr_scheduler_type="cosine",
        num_train_epochs=1,  # the dataset already holds `epochs` passes
        max_steps=tc.max_steps if tc.max_steps > 0 else -1,
        logging_steps=tc.logging_steps,
        eval_strategy="steps",
        eval_steps=tc.eval_steps,
        save_strategy="steps",
        save_steps=tc.save_steps,
        save_total_limit=2,
        prediction_loss_only=True,
        bf16=use_cuda and precision == "bf16",
        use_cpu=not use_cuda,
        seed=seed,
        data_seed=seed,
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length" if tc.group_by_length else "random",
        ddp_backend=None if use_cuda else ("gloo" if world_size > 1 else None),
        ddp_find_unused_parameters=False if world_size > 1 else None,
        disable_tqdm=False,
        deepspeed=tc.deepspeed or None,
    )
    steps_per_pass = math.ceil(n_train / (tc.batch_size * tc.grad_accum * world_size))
    total_steps = tc.max_steps if tc.max_steps > 0 else steps_per_pass
    args.warmup_steps = int(tc.warmup_ratio * total_steps)
    return args, total_steps
