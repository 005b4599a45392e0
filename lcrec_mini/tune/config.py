"""The tune stage's config section."""

from __future__ import annotations

from dataclasses import dataclass

from lcrec_mini.core.errors import ConfigError
from lcrec_mini.core.settings import (
    ANY,
    CUDA_OR_CPU,
    FRACTION,
    IF_CHANGED,
    NAME,
    NON_NEGATIVE,
    POSITIVE,
    Allowed,
    at_least,
    list_of,
    one_of,
    setting,
)


@dataclass
class TuneConfig:
    """Alignment tuning of the LLM (stage ``tune``)."""

    #: ``smollm2`` | ``tiny`` (random 2-layer Llama, smoke runs) | a Hugging Face name or folder
    model: str = setting("smollm2", NAME)
    #: ``lora`` (peft; the new token rows trained too) or ``full``
    method: str = setting("lora", one_of("lora", "full"))
    #: keep only the LLM's first N decoder layers (0 = all); a smaller, faster model
    #: (the tuning cost is nearly proportional to the layers kept)
    num_layers: int = setting(0, at_least(0))
    lora_r: int = setting(8, at_least(1))
    lora_alpha: int = setting(16, POSITIVE)
    lora_dropout: float = setting(0.05, FRACTION)
    lora_target_modules: list[str] = setting(factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], allowed=list_of("module names", lambda x: bool(x), non_empty=True))
    epochs: int = setting(3, at_least(1))
    #: stop after this many optimizer steps (0 = run all epochs)
    max_steps: int = setting(0, at_least(0))
    batch_size: int = setting(8, at_least(1))
    grad_accum: int = setting(1, at_least(1))
    lr: float = setting(5e-4, POSITIVE)
    weight_decay: float = setting(0.0, NON_NEGATIVE)
    warmup_ratio: float = setting(0.05, Allowed(lambda v: 0 <= v <= 1, "a number in [0, 1]"))
    max_length: int = setting(256, at_least(16))
    #: put the short system message before every prompt (costs tokens on every example)
    system_prompt: bool = setting(True, ANY)
    #: group examples of similar length into batches (less padding)
    group_by_length: bool = setting(True, ANY)
    #: where the index-language rows (``item2index``, ``index2item``) stand in each epoch:
    #: ``mixed`` (shuffled among the other tasks' rows, as LC-Rec does), ``first`` (a block
    #: of their own before the rest: the model learns what the index says before it learns
    #: to recommend with it) or ``last`` (after the rest)
    index_phase: str = setting("mixed", one_of("mixed", "first", "last"), fingerprint=IF_CHANGED)
    #: logits only at response positions: the vocabulary projection of prompt tokens is skipped
    response_only_logits: bool = setting(True, ANY)
    #: score index-token targets against the index-token rows only (the full vocabulary
    #: for text targets); LC-Rec scores every target against the whole vocabulary
    index_softmax: bool = setting(False, ANY)
    #: first rows of the index tokens: ``mean`` (vocabulary mean + small noise) or
    #: ``semantic`` (residual means of the word embeddings of their items' titles, spread like the words)
    index_init: str = setting("mean", one_of("mean", "semantic"))
    #: learning rate of the index-token rows (0 = tune.lr); with ``method=full`` and a
    #: value here (or a warm-up) the word rows of the embedding stay as pretrained
    index_lr: float = setting(0.0, NON_NEGATIVE)
    #: optimizer steps at the start during which only the index-token rows train
    embed_warmup_steps: int = setting(0, at_least(0))
    gradient_checkpointing: bool = setting(False, ANY)
    eval_samples: int = setting(200, at_least(1))
    eval_steps: int = setting(200, at_least(1))
    save_steps: int = setting(200, at_least(1))
    #: optimizer steps at which the adapter is also kept in ``tune/snapshots/step-N`` (the
    #: compute curve evaluates them: benchmarks/compute_curve.py)
    snapshot_steps: list[int] = setting(factory=list, allowed=list_of("steps, each >= 1", lambda x: x >= 1), fingerprint=False, help='steps whose adapter is kept in tune/snapshots')
    logging_steps: int = setting(10, at_least(1))
    #: a DeepSpeed config file (the paper preset: configs/ds_zero3.json); needs `pip install deepspeed`
    deepspeed: str = setting("", ANY, fingerprint=False, help="DeepSpeed JSON config")
    #: a checkpoint folder to resume from (it must come from the same config)
    resume_from: str = setting("", ANY, fingerprint=False, help="checkpoint-N folder of an earlier tune run")
    #: the training seed: LoRA's initial matrices, the index rows' noise, the order of the
    #: examples and every template drawn for them (none: the run's ``seed``, which also
    #: fixes the data, the index and the task examples). Retraining with other values
    #: measures how much a verdict owes to one training run's luck.
    seed: int | None = setting(None, Allowed(lambda v: v is None or v >= 0, "none or an integer >= 0"))
    #: ``auto`` (bf16 autocast on a GPU that supports it and on a CPU with native bf16
    #: instructions, AVX-512 BF16 or AMX; fp32 otherwise), ``bf16`` or ``fp32`` to force either
    precision: str = setting("auto", one_of("auto", "bf16", "fp32"))
    device: str = setting("auto", CUDA_OR_CPU, fingerprint=False, help="auto | cpu | cuda")

    def check(self) -> None:
        """Rules between fields (each value alone is checked against its declaration)."""
        if self.method == "full" and self.deepspeed and (self.index_lr or self.embed_warmup_steps):
            raise ConfigError(f"tune.index_lr = {self.index_lr!r} / tune.embed_warmup_steps = "
                              f"{self.embed_warmup_steps!r} with tune.method = 'full' and tune.deepspeed: ZeRO "
                              "partitions the embedding rows; expected both 0 under DeepSpeed")
        if self.max_steps and self.embed_warmup_steps >= self.max_steps:
            raise ConfigError(f"tune.embed_warmup_steps = {self.embed_warmup_steps} >= tune.max_steps = "
                              f"{self.max_steps}: the warm-up would be the whole run; expected fewer warm-up "
                              "steps than steps")
