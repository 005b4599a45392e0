"""The baselines stage's config section."""

from __future__ import annotations

from dataclasses import dataclass

from lcrec_mini.core.errors import ConfigError
from lcrec_mini.core.settings import FRACTION, NON_NEGATIVE, POSITIVE, at_least, one_of, setting


@dataclass
class BaselinesConfig:
    """Most-popular and SASRec on the same split (stage ``baselines``)."""

    #: SASRec's longest input sequence (its own setting, separate from the LLM's history cap)
    max_len: int = setting(20, at_least(1))
    #: training windows per epoch: ``all`` (windows tiling every training sequence),
    #: ``random`` (one window of max_len + 1 items per user, ending at a random position,
    #: drawn anew each epoch) or ``last`` (each user's most recent max_len + 1 training
    #: items, as in the SASRec paper)
    sasrec_windows: str = setting("all", one_of("all", "random", "last"))
    #: std of the initial item/position embeddings (0 = PyTorch's N(0, 1)); 0.02 as RecBole:
    #: the logits start near zero instead of at ~8
    sasrec_init_std: float = setting(0.02, NON_NEGATIVE)
    sasrec_hidden: int = setting(64, at_least(1))
    sasrec_layers: int = setting(2, at_least(1))
    sasrec_heads: int = setting(2, at_least(1))
    sasrec_dropout: float = setting(0.2, FRACTION)
    sasrec_lr: float = setting(1e-3, POSITIVE)
    sasrec_batch: int = setting(128, at_least(1))
    sasrec_epochs: int = setting(200, at_least(1))
    #: validate (NDCG@10 on the validation items) every this many epochs
    sasrec_eval_every: int = setting(2, at_least(1))
    #: stop after this many validations without a better validation NDCG@10
    sasrec_patience: int = setting(10, at_least(1))

    def check(self) -> None:
        if self.sasrec_hidden % self.sasrec_heads:
            raise ConfigError(f"baselines.sasrec_hidden = {self.sasrec_hidden} is not a multiple of "
                              f"baselines.sasrec_heads = {self.sasrec_heads}: expected hidden divisible by heads")
